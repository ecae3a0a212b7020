// Compiled with -I single_include ONLY (not include/): checks that the
// generated single header is self-sufficient.
#include <iostream>

#include "ward/ward.hpp"

int main() {
  ward::UniqueFd fd;
  if (fd) {
    std::cerr << "a default-constructed ward::UniqueFd holds a descriptor\n";
    return 1;
  }
  std::cout << "ward " << ward::version << " (single header)\n";
  return 0;
}
