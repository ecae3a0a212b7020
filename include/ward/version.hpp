// SPDX-License-Identifier: Apache-2.0
// ward's version. This header is the single source of truth: CMakeLists.txt
// parses the three WARD_VERSION_* numbers from it (and checks that
// WARD_VERSION_STRING agrees), so bump all four lines together.
#pragma once

#include <string_view>

#define WARD_VERSION_MAJOR 0
#define WARD_VERSION_MINOR 1
#define WARD_VERSION_PATCH 0
#define WARD_VERSION_STRING "0.1.0"

namespace ward {

inline constexpr int version_major = WARD_VERSION_MAJOR;
inline constexpr int version_minor = WARD_VERSION_MINOR;
inline constexpr int version_patch = WARD_VERSION_PATCH;
inline constexpr std::string_view version = WARD_VERSION_STRING;

}  // namespace ward
