// SPDX-License-Identifier: Apache-2.0
// The generated system call tables (include/ward/detail/syscall_tables.hpp).
#include <linux/audit.h>
#include <sys/syscall.h>

#include <set>
#include <string>

#include <ward/detail/syscall_tables.hpp>

#include <catch2/catch.hpp>

using namespace ward::detail;

namespace {
constexpr Arch kAll[] = {Arch::x86_64,  Arch::i386, Arch::x32,
                         Arch::aarch64, Arch::arm,  Arch::riscv64};
}

// Usable at compile time: the seccomp compiler may build constant filters.
static_assert(syscall_nr(Arch::x86_64, "read") == 0u);
static_assert(syscall_nr(Arch::aarch64, "open") == std::nullopt);
static_assert(syscall_name(Arch::x86_64, 435) == "clone3");
static_assert(arch_from_string("SCMP_ARCH_X86_64") == Arch::x86_64);
static_assert(audit_arch(Arch::x86_64) == AUDIT_ARCH_X86_64);

TEST_CASE("syscall tables: known numbers on every arch") {
  CHECK(syscall_nr(Arch::x86_64, "read") == 0u);
  CHECK(syscall_nr(Arch::x86_64, "getppid") == 110u);
  CHECK(syscall_nr(Arch::x86_64, "clone3") == 435u);
  CHECK(syscall_nr(Arch::i386, "socketcall") == 102u);
  CHECK(syscall_nr(Arch::i386, "read") == 3u);
  CHECK(syscall_nr(Arch::x32, "read") == 0x40000000u);
  CHECK(syscall_nr(Arch::x32, "getppid") == (0x40000000u | 110u));
  CHECK(syscall_nr(Arch::aarch64, "openat") == 56u);
  CHECK(syscall_nr(Arch::aarch64, "open") == std::nullopt);
  CHECK(syscall_nr(Arch::aarch64, "getppid") == 173u);
  CHECK(syscall_nr(Arch::arm, "getppid") == 64u);
  CHECK(syscall_nr(Arch::arm, "cacheflush") == 0x0f0002u);  // __ARM_NR_cacheflush
  CHECK(syscall_nr(Arch::arm, "sync_file_range2") == syscall_nr(Arch::arm, "arm_sync_file_range"));
  CHECK(syscall_name(Arch::arm, 341) == "arm_sync_file_range");  // not the alias
  CHECK(syscall_nr(Arch::riscv64, "openat") == 56u);
  CHECK(syscall_nr(Arch::riscv64, "riscv_flush_icache") == 259u);
  CHECK(syscall_nr(Arch::riscv64, "open") == std::nullopt);
  // asm-generic's 64-bit names, not the __NR3264_ or 32-bit ones.
  CHECK(syscall_nr(Arch::aarch64, "fstat") == 80u);
  CHECK(syscall_nr(Arch::aarch64, "fstat64") == std::nullopt);
  CHECK(syscall_nr(Arch::aarch64, "syscalls") == std::nullopt);
  CHECK(syscall_name(Arch::x86_64, 0x7fffffff).empty());
}

TEST_CASE("syscall tables: the native table matches <sys/syscall.h>") {
#if defined(__x86_64__) && !defined(__ILP32__)
  CHECK(native_arch() == Arch::x86_64);
  CHECK(syscall_nr(native_arch(), "getppid") == static_cast<std::uint32_t>(SYS_getppid));
  CHECK(syscall_nr(native_arch(), "openat") == static_cast<std::uint32_t>(SYS_openat));
  CHECK(syscall_nr(native_arch(), "pidfd_open") == static_cast<std::uint32_t>(SYS_pidfd_open));
#elif defined(WARD_NATIVE_ARCH_KNOWN)
  CHECK(syscall_nr(native_arch(), "getppid") == static_cast<std::uint32_t>(SYS_getppid));
#endif
}

TEST_CASE("syscall tables: AUDIT_ARCH values come from <linux/audit.h>") {
  CHECK(audit_arch(Arch::x86_64) == AUDIT_ARCH_X86_64);
  CHECK(audit_arch(Arch::i386) == AUDIT_ARCH_I386);
  CHECK(audit_arch(Arch::x32) == AUDIT_ARCH_X86_64);  // x32 is told apart by __X32_SYSCALL_BIT
  CHECK(audit_arch(Arch::aarch64) == AUDIT_ARCH_AARCH64);
  CHECK(audit_arch(Arch::arm) == AUDIT_ARCH_ARM);
  CHECK(audit_arch(Arch::riscv64) == AUDIT_ARCH_RISCV64);
}

TEST_CASE("syscall tables: every entry round-trips name <-> number") {
  for (Arch arch : kAll) {
    INFO("arch " << to_string(arch));
    const auto table = syscalls(arch);
    CHECK(table.size() > 250);
    std::set<std::string> names;
    for (std::size_t i = 0; i < table.size(); ++i) {
      const auto& e = table[i];
      INFO("syscall " << e.name << " = " << e.nr);
      if (i > 0) CHECK(table[i - 1].name < e.name);  // sorted, unique
      CHECK(!e.name.empty());
      CHECK(syscall_nr(arch, e.name) == e.nr);
      const std::string_view back = syscall_name(arch, e.nr);
      REQUIRE(!back.empty());
      // Aliases (ARM's sync_file_range2) map back to the name they alias.
      CHECK(syscall_nr(arch, back) == e.nr);
      names.insert(std::string(e.name));
      if (arch == Arch::x32) {
        CHECK((e.nr & 0x40000000u) != 0);
      } else {
        CHECK(e.nr < 0x40000000u);
      }
    }
    CHECK(names.size() == table.size());
  }
}

TEST_CASE("syscall tables: arch names, plain and SCMP_ARCH_*") {
  for (Arch arch : kAll) {
    CHECK(arch_from_string(to_string(arch)) == arch);
    CHECK(arch_from_string(arch_info(arch).scmp_name) == arch);
  }
  CHECK(arch_from_string("x86_64") == Arch::x86_64);
  CHECK(arch_from_string("SCMP_ARCH_X86_64") == Arch::x86_64);
  CHECK(arch_from_string("i386") == Arch::i386);
  CHECK(arch_from_string("x86") == Arch::i386);
  CHECK(arch_from_string("SCMP_ARCH_X86") == Arch::i386);
  CHECK(arch_from_string("SCMP_ARCH_X32") == Arch::x32);
  CHECK(arch_from_string("SCMP_ARCH_AARCH64") == Arch::aarch64);
  CHECK(arch_from_string("SCMP_ARCH_ARM") == Arch::arm);
  CHECK(arch_from_string("SCMP_ARCH_RISCV64") == Arch::riscv64);
  CHECK(arch_from_string("arm") == Arch::arm);
  CHECK(arch_from_string("riscv64") == Arch::riscv64);
  CHECK(arch_from_string("SCMP_ARCH_PPC64LE") == std::nullopt);
  CHECK(arch_from_string("") == std::nullopt);
  CHECK(arch_from_string("X86_64") == std::nullopt);  // names are case-sensitive, as in OCI
}
