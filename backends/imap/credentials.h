// Where an IMAP password comes from (design.md §9): never the command line.
// Every function throws Error(kAuth) with a message naming the source; none
// logs the secret.
#pragma once

#include <string>

namespace mailfs::imap {

// The first line of |path|; refused unless the file is private (no group or
// other permission bits) and a regular file.
std::string ReadPassFile(const std::string& path);

// The first line of what `sh -c |command|` prints; refused when it fails or
// prints nothing.
std::string RunCredentialCommand(const std::string& option, const std::string& command);

// Reads a line from the controlling terminal with echo off. Throws kAuth
// when there is no terminal.
std::string PromptPassword(const std::string& prompt);

}  // namespace mailfs::imap
