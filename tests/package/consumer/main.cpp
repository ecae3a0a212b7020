// Consumer of an installed ward (through CMake or pkg-config).
#include <iostream>

#include <ward/ward.hpp>

int main() {
  std::cout << "ward " << ward::version << '\n';
  return 0;
}
