// Compiled with -I single_include ONLY (not include/): checks that the
// generated single headers are self-sufficient: ward.hpp alone, and oci.hpp
// (the OCI component) on top of it.
#include <iostream>

#include "ward/oci.hpp"
#include "ward/ward.hpp"

int main() {
  ward::UniqueFd fd;
  if (fd) {
    std::cerr << "a default-constructed ward::UniqueFd holds a descriptor\n";
    return 1;
  }
  const ward::json::Value v = ward::json::parse(R"({"ociVersion": "1.0.2"})");
  if (ward::json::dump(v) != R"({"ociVersion":"1.0.2"})") {
    std::cerr << "ward::json from single_include/ward/oci.hpp: " << ward::json::dump(v) << '\n';
    return 1;
  }
  std::cout << "ward " << ward::version << " (single header)\n";
  return 0;
}
