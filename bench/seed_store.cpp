// Seeds a state directory and an output directory with N certificates that need nothing done:
// a throw-away root and its intermediate (as Let's Encrypt's ISRG Root X1 and R11) sign N leaf
// certificates valid for 90 days, each stored as certherd's store would (leaf and intermediate)
// and written to the files target as certherd would. Prints the DOMAINS list to use; the root
// goes to CA_OUT_PEM (ACME_ROOTS).
// For bench/scale/run, which measures certherd run over them.
#include "seed.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <iostream>

using namespace certherd;

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: seed_store STATE_DIR OUTPUT_DIR N DIRECTORY_URL CA_OUT_PEM\n";
    return 2;
  }
  int n = std::atoi(argv[3]);
  std::vector<testing::seed_item> items;
  std::string domains;
  for (int i = 0; i < n; ++i) {
    items.push_back({fmt::format("h{:05}.b.io", i)});
    domains += (i ? "," : "") + items.back().host;
  }
  try {
    testing::seed_certificates(argv[1], argv[2], items, argv[4], argv[5]);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  std::cout << domains;
  return 0;
}
