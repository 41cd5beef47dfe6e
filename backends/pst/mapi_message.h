// MAPI item -> mime::Message: the conversion of one PST item (mail, or any
// other item class) into the shared message model, read through libpff.
//
// Not thread-safe: the caller holds the PST backend's libpff mutex.
#pragma once

#include <libpff.h>

#include <optional>
#include <string>
#include <string_view>

#include "backends/backend.h"
#include "backends/mime/message.h"

namespace mailfs::pst {

// Builds the model of |message| (a libpff message item). Transport headers,
// when stored, give the header fields; else they are built from the MAPI
// properties and the recipient table. Throws Error(kCorrupt) when libpff
// cannot read a part of the item.
mime::Message BuildMessage(libpff_item_t* message);

// The internal date: delivery time, else creation time (Unix seconds; 0 if
// neither is stored).
std::int64_t DeliveryTime(libpff_item_t* message);

// The flags of |message| as user.mail.flags shows them (mapping in
// mapi_message.cc, above the definition).
Flags MessageFlags(libpff_item_t* message);

// The exact MIME bytes the message was stored with, when it carries the
// mailfs-original-mime named property (mailfs_props.h) with a non-empty
// value; nullopt otherwise.
std::optional<std::string> OriginalMime(libpff_item_t* message);

// The mailbox of a one-off entry ID (MS-OXCDATA 2.2.5.1), as distribution
// lists keep their members: display name, and the address when its type is
// SMTP. nullopt when |entry_id| is not a well-formed one-off entry ID.
std::optional<mime::Mailbox> ParseOneOffEntryId(std::string_view entry_id);

}  // namespace mailfs::pst
