// Writing header fields: RFC 2047 encoded words, folding at 78 columns,
// mailboxes and RFC 2045/2231 parameters. Used by the renderer (renderer.h);
// every function here is pure and deterministic, safe to call from any thread.
//
// Folding never changes a value: a line break is only ever inserted in front
// of whitespace that is already there, or between two encoded words (where a
// decoder drops the whitespace anyway), so unfolding + DecodeWords gives back
// the original UTF-8 value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "backends/mime/message.h"

namespace mailfs::mime {

// Preferred maximum length of a header line, CRLF excluded (RFC 5322 §2.1.1).
inline constexpr std::size_t kFoldColumn = 78;
// Maximum length of one encoded word (RFC 2047 §2).
inline constexpr std::size_t kMaxEncodedWord = 75;

// Builds one header field "Name: ..." word by word, breaking the line in front
// of a word's leading whitespace when the word would pass column 78. A word
// that is alone on its line may be longer; it is never cut.
class FieldFolder {
 public:
  explicit FieldFolder(std::string_view name);

  // Appends |word| preceded by the whitespace |ws|. A fold may be inserted
  // before |ws| only when |ws| is not empty.
  void Add(std::string_view ws, std::string_view word);

  // Columns still free on the current line before column 78 (0 if none).
  std::size_t Remaining() const;
  // True if the current line holds a word after the field name.
  bool LineHasWord() const { return line_has_word_; }

  // The finished field, ending in CRLF.
  std::string Finish() const;

 private:
  std::string out_;
  std::size_t column_ = 0;
  bool line_has_word_ = false;
};

// Splits UTF-8 |text| into RFC 2047 "=?UTF-8?B?...?=" or "=?UTF-8?Q?...?="
// words, whichever encoding gives the shorter total; ties go to Q. The first
// word is at most |first_limit| characters (clamped to 24..75), the others at
// most 75. A UTF-8 sequence is never split across two words. The Q form only
// leaves letters, digits and "!*+-/" literal, so it is valid in phrases too.
std::vector<std::string> EncodeWords(std::string_view text, std::size_t first_limit);

// Appends an unstructured value (Subject, Content-Description, extra fields)
// to |folder|. Words that are ASCII stay literal; runs of words that need it
// (non-ASCII, control characters, something that looks like an encoded word,
// leading or trailing whitespace of the value) become encoded words.
void AddUnstructured(FieldFolder& folder, std::string_view value);

// "Name: value\r\n" for an unstructured value, folded.
std::string RenderUnstructuredField(std::string_view name, std::string_view value);

// "Name: a, b, ...\r\n" for an address list; mailboxes with neither name nor
// address are skipped. Returns "" if nothing is left.
std::string RenderAddressField(std::string_view name, const std::vector<Mailbox>& mailboxes);

// One mailbox on one line (no folding): `"Name" <addr>`, `<addr>` when there
// is no name, or encoded words in place of a name that is not plain ASCII.
// "<", ">" and control characters are dropped from the address.
std::string RenderMailbox(const Mailbox& mailbox);

// "Name: token token ...\r\n" for a value of ASCII tokens (References,
// In-Reply-To), folded at its whitespace. Returns "" for an empty value.
std::string RenderTokenField(std::string_view name, std::string_view value);

// Appends parameters "; name=value" to |folder|: a token or quoted-string when
// the value is ASCII and fits a line, else the RFC 2231 extended form
// name*=UTF-8''%XX.., split into name*0*=, name*1*=, ... when too long.
// |always_quote| forces quoting of plain values (used for file names).
void AddParam(FieldFolder& folder, const Param& param, bool always_quote, bool last);

// True if |value| is a non-empty RFC 2045 token.
bool IsMimeToken(std::string_view value);

}  // namespace mailfs::mime
