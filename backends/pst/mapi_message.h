// MAPI item -> mime::Message: the conversion of one PST item (mail, or any
// other item class) into the shared message model, read through libpff.
//
// Not thread-safe: the caller holds the PST backend's libpff mutex.
#pragma once

#include <libpff.h>

#include <string>

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

// Flags from PR_MESSAGE_FLAGS (read: \Seen) and PR_FLAG_STATUS (2: \Flagged).
Flags MessageFlags(libpff_item_t* message);

}  // namespace mailfs::pst
