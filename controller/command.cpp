#include "controller/command.hpp"

#include <iostream>
#include <string>

namespace certherd::controller {

int report(const failure& f, std::string_view command) {
  std::cerr << "certherd" << (command.empty() ? "" : " ") << command << ": " << f.message << "\n";
  return exit_code_of(f);
}

}  // namespace certherd::controller
