// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the D-Bus wire format (include/ward/detail/dbus_wire.hpp):
// bytes from a hostile bus -> frame_size + decode. Every input must either be
// a WireError or decode to a message that encodes again and decodes to the
// same message; never a crash, a sanitizer report, or a huge allocation.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <ward/detail/dbus_wire.hpp>

namespace w = ward::detail::dbus_wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  try {
    auto frame = w::frame_size(in, std::size_t{1} << 24);
    if (!frame || *frame > in.size()) return 0;
    w::Message m = w::decode(in.substr(0, *frame));
    // What we accept we can write back, and read again as the same message.
    w::Message again = w::decode(w::encode(m, m.serial));
    if (again.body != m.body || again.signature != m.signature || again.member != m.member ||
        again.path != m.path || again.reply_serial != m.reply_serial)
      std::abort();
  } catch (const w::WireError&) {
  }
  return 0;
}
