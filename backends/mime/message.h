// The message model shared by every backend and by view=canonical: a parsed or
// synthesised message, with decoded (UTF-8) header values and decoded part
// contents. The renderer (renderer.h) turns it into RFC 5322 bytes; the parser
// (parser.h) builds it from .eml bytes; IFF and PST readers build it from
// their own records.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/blob.h"

namespace mailfs::mime {

struct Mailbox {
  std::string name;     // display name, UTF-8, may be empty
  std::string address;  // addr-spec "local@domain", ASCII (may be empty if unknown)
  bool operator==(const Mailbox&) const = default;
};

struct Header {
  std::string name;   // as spelled, e.g. "X-IFF-Folder"
  std::string value;  // UTF-8, unfolded; the renderer encodes and folds it
  bool operator==(const Header&) const = default;
};

struct Param {
  std::string name;   // lowercase
  std::string value;  // UTF-8, decoded (RFC 2231 / quoting undone)
  bool operator==(const Param&) const = default;
};

// A point in time with the zone it was written in.
struct DateTime {
  std::int64_t utc_seconds = 0;  // seconds since the epoch, UTC
  int zone_minutes = 0;          // offset east of UTC, e.g. +0200 -> 120
  bool zone_unknown = false;     // written as -0000 (RFC 5322 §3.3: local time, zone unknown)
  bool operator==(const DateTime&) const = default;
};

struct Message;

struct Part {
  std::string type = "text";     // lowercase media type
  std::string subtype = "plain"; // lowercase subtype
  // Content-Type parameters other than charset and boundary (the renderer
  // writes those itself), e.g. {"format","flowed"}, {"name","a.pdf"}.
  std::vector<Param> params;
  std::string disposition;       // "", "inline" or "attachment"
  std::string filename;          // UTF-8 attachment name, may be empty
  std::string content_id;        // without angle brackets
  std::string description;       // Content-Description, UTF-8
  std::vector<Header> extra_headers;  // other part headers kept in order (renderer option)
  // Leaf content, transfer encoding undone. For text/* parts: UTF-8 text,
  // unless keep_bytes is set. nullptr means empty.
  BlobPtr body;
  // Set by the parser for a text/* leaf whose bytes the conversion to UTF-8
  // with CRLF line ends changed: the transfer-decoded bytes as they were (a
  // text attachment is stored as its own bytes, not as the converted text).
  BlobPtr original_body;
  // Leaf bytes rendered exactly as they are: base64, no charset parameter
  // added and no transcoding or line-end normalisation, even for text/*
  // types (an attachment that must keep its stored bytes). Ignored for
  // multipart/* and message/rfc822 parts.
  bool keep_bytes = false;
  // Children of a multipart/* part, in order.
  std::vector<Part> parts;
  // The embedded message of a message/rfc822 part.
  std::shared_ptr<const Message> message;

  bool IsMultipart() const { return type == "multipart"; }
  bool IsText() const { return type == "text"; }
};

struct Message {
  std::vector<Mailbox> from, sender, reply_to, to, cc, bcc;
  std::optional<std::string> subject;  // UTF-8, decoded
  std::optional<DateTime> date;
  std::string message_id;   // without angle brackets, e.g. "abc@example.com"
  std::string in_reply_to;  // as written (ASCII), angle brackets kept
  std::string references;   // as written (ASCII), angle brackets kept
  // Other header fields, rendered after the fixed set when the renderer is
  // asked to keep them (IFF rendering); dropped in view=canonical.
  std::vector<Header> extra_headers;
  Part body;  // the root part
};

}  // namespace mailfs::mime
