#include "stores/file_names.hpp"

#include "pki/encoding.hpp"

namespace certherd::stores {

std::string file_name_for(std::string_view name, std::string_view suffix) {
  if (name.size() + suffix.size() <= kPlainFileNameMax) {
    return std::string(name) + std::string(suffix);
  }
  return std::string(name.substr(0, 100)) + "~" + pki::hex_encode(pki::sha256(name)).substr(0, 32) +
         std::string(suffix);
}

bool is_hashed_file_name(std::string_view file_name) {
  return file_name.find('~') != std::string_view::npos;
}

}  // namespace certherd::stores
