// MIME to MAPI (pst-writing.md §13): a parsed .eml becomes a message node —
// the message property context, the recipient table (subnode 0x692), the
// attachment table (0x671) and one attachment PC per attachment, with
// message/rfc822 parts as embedded messages (attach method 5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/mime/message.h"
#include "backends/pst/writer/ltp/property.h"
#include "backends/pst/writer/node_store.h"

namespace mailfs::pst::writer {

// IMAP-style flags of a message and how they are kept in MAPI:
// read -> MSGFLAG_READ, draft -> MSGFLAG_UNSENT, flagged -> PidTagFlagStatus
// 2, answered -> PidTagLastVerbExecuted 102 (reply), other keywords ->
// PidNameKeywords (mailfs_props.h).
struct MessageFlags {
  bool read = false;
  bool flagged = false;
  bool answered = false;
  bool draft = false;
  std::vector<std::string> keywords;
  bool operator==(const MessageFlags&) const = default;
};

// Property ids and tags used by the messaging layer.
namespace prop {
inline constexpr std::uint16_t kImportance = 0x0017;
inline constexpr std::uint16_t kMessageClass = 0x001A;
inline constexpr std::uint16_t kSensitivity = 0x0036;
inline constexpr std::uint16_t kSubject = 0x0037;
inline constexpr std::uint16_t kClientSubmitTime = 0x0039;
inline constexpr std::uint16_t kSentRepresentingSearchKey = 0x003B;
inline constexpr std::uint16_t kSubjectPrefix = 0x003D;
inline constexpr std::uint16_t kSentRepresentingEntryId = 0x0041;
inline constexpr std::uint16_t kSentRepresentingName = 0x0042;
inline constexpr std::uint16_t kSentRepresentingAddrType = 0x0064;
inline constexpr std::uint16_t kSentRepresentingEmail = 0x0065;
inline constexpr std::uint16_t kConversationTopic = 0x0070;
inline constexpr std::uint16_t kTransportHeaders = 0x007D;
inline constexpr std::uint16_t kRecipientType = 0x0C15;
inline constexpr std::uint16_t kSenderEntryId = 0x0C19;
inline constexpr std::uint16_t kSenderName = 0x0C1A;
inline constexpr std::uint16_t kSenderSearchKey = 0x0C1D;
inline constexpr std::uint16_t kSenderAddrType = 0x0C1E;
inline constexpr std::uint16_t kSenderEmail = 0x0C1F;
inline constexpr std::uint16_t kDisplayBcc = 0x0E02;
inline constexpr std::uint16_t kDisplayCc = 0x0E03;
inline constexpr std::uint16_t kDisplayTo = 0x0E04;
inline constexpr std::uint16_t kMessageDeliveryTime = 0x0E06;
inline constexpr std::uint16_t kMessageFlags = 0x0E07;
inline constexpr std::uint16_t kMessageSize = 0x0E08;
inline constexpr std::uint16_t kMessageStatus = 0x0E17;
inline constexpr std::uint16_t kHasAttachments = 0x0E1B;
inline constexpr std::uint16_t kNormalizedSubject = 0x0E1D;
inline constexpr std::uint16_t kAttachSize = 0x0E20;
inline constexpr std::uint16_t kAttachNumber = 0x0E21;
inline constexpr std::uint16_t kBody = 0x1000;
inline constexpr std::uint16_t kHtml = 0x1013;
inline constexpr std::uint16_t kNativeBody = 0x1016;
inline constexpr std::uint16_t kInternetMessageId = 0x1035;
inline constexpr std::uint16_t kInternetReferences = 0x1039;
inline constexpr std::uint16_t kInReplyToId = 0x1042;
inline constexpr std::uint16_t kIconIndex = 0x1080;
inline constexpr std::uint16_t kLastVerbExecuted = 0x1081;
inline constexpr std::uint16_t kFlagStatus = 0x1090;
inline constexpr std::uint16_t kRowid = 0x3000;
inline constexpr std::uint16_t kDisplayName = 0x3001;
inline constexpr std::uint16_t kAddressType = 0x3002;
inline constexpr std::uint16_t kEmailAddress = 0x3003;
inline constexpr std::uint16_t kComment = 0x3004;
inline constexpr std::uint16_t kCreationTime = 0x3007;
inline constexpr std::uint16_t kLastModificationTime = 0x3008;
inline constexpr std::uint16_t kSearchKey = 0x300B;
inline constexpr std::uint16_t kContentCount = 0x3602;
inline constexpr std::uint16_t kContentUnreadCount = 0x3603;
inline constexpr std::uint16_t kSubfolders = 0x360A;
inline constexpr std::uint16_t kContainerClass = 0x3613;
inline constexpr std::uint16_t kAttachDataBinary = 0x3701;  // also PtypObject for method 5
inline constexpr std::uint16_t kAttachExtension = 0x3703;
inline constexpr std::uint16_t kAttachFilename = 0x3704;
inline constexpr std::uint16_t kAttachMethod = 0x3705;
inline constexpr std::uint16_t kAttachLongFilename = 0x3707;
inline constexpr std::uint16_t kRenderingPosition = 0x370B;
inline constexpr std::uint16_t kAttachMimeTag = 0x370E;
inline constexpr std::uint16_t kAttachContentId = 0x3712;
inline constexpr std::uint16_t kAttachFlags = 0x3714;
inline constexpr std::uint16_t kInternetCodepage = 0x3FDE;
inline constexpr std::uint16_t kMessageLocaleId = 0x3FF1;
inline constexpr std::uint16_t kMessageCodepage = 0x3FFD;
inline constexpr std::uint16_t kSenderSmtpAddress = 0x5D01;
inline constexpr std::uint16_t kSentRepresentingSmtpAddress = 0x5D02;
inline constexpr std::uint16_t kAttachmentHidden = 0x7FFE;
}  // namespace prop

inline constexpr std::uint32_t kRecipientTableNid = 0x692;
inline constexpr std::uint32_t kAttachmentTableNid = 0x671;

// Named property ids of this store (from its name-to-id map).
struct NamedIds {
  std::uint16_t original_mime = 0;
  std::uint16_t keywords = 0;
};

struct BuiltMessage {
  NodeContent node;
  ltp::PropertyMap props;  // the message PC (for the contents-table row)
};

// Builds a top-level message from .eml bytes: the MAPI properties, recipient
// and attachment tables, attachments and embedded messages, and the
// original bytes in the original-MIME named property. |delivery_time| is the
// internal date (seconds since the epoch). Subnode NIDs come from |store|.
BuiltMessage BuildMessage(std::string_view eml, const MessageFlags& flags, std::int64_t delivery_time,
                          const NamedIds& ids, NodeStore& store);

// Applies |flags| to a message's properties (MessageFlags bits, flag
// status, last verb, keywords); leaves other properties alone.
void ApplyFlags(ltp::PropertyMap& props, const MessageFlags& flags, const NamedIds& ids);
// Reads the flags back from a message's properties.
MessageFlags ReadFlags(const ltp::PropertyMap& props, const NamedIds& ids);

// One-off entry id of an SMTP address ([MS-OXCDATA] §2.2.5.1) and its
// search key "SMTP:<UPPER>" + NUL.
std::string OneOffEntryId(std::string_view name, std::string_view address);
std::string SmtpSearchKey(std::string_view address);

}  // namespace mailfs::pst::writer
