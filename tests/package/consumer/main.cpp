// Consumer of an installed ward (through CMake or pkg-config).
#include <iostream>

#include <ward/oci.hpp>
#include <ward/ward.hpp>

int main() {
  // The OCI component is installed too (include/ward/oci/).
  if (ward::json::parse("[1]").as_array().size() != 1) return 1;
  std::cout << "ward " << ward::version << '\n';
  return 0;
}
