// SPDX-License-Identifier: Apache-2.0
// Moved: the raw system calls are child code (detail/child/syscall.hpp).
#pragma once

#include <ward/detail/child/syscall.hpp>
