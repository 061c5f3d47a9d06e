// File names for certificate names. A host name may be 253 characters long, but a file name only
// 255 bytes, and certherd adds suffixes and temporary-file decorations (".certherd-tmp.<pid>.
// <tag>.<n>.<name>.json"). A name that would not fit keeps a readable prefix and ends in "~" and a
// hash of the whole name: "~" never occurs in a host name, so a hashed file name never equals a
// plain one.
#pragma once

#include <string>
#include <string_view>

namespace certherd::stores {

/// \brief Longest file name (suffix included) used as is; longer ones are hashed.
inline constexpr std::size_t kPlainFileNameMax = 180;

/// \brief `name` + `suffix` when that fits in kPlainFileNameMax bytes, else the first 100
/// characters of `name`, "~", 32 hex digits of SHA-256(name), and `suffix`.
std::string file_name_for(std::string_view name, std::string_view suffix = {});

/// \brief Whether a file name was made by hashing (it holds a "~").
bool is_hashed_file_name(std::string_view file_name);

}  // namespace certherd::stores
