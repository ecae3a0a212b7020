// SPDX-License-Identifier: Apache-2.0
// ward's OCI component: include this one header for it. Kept out of
// <ward/ward.hpp> so a program that only builds Sandboxes does not compile a
// JSON parser and a config.json reader (bench/README.md, "Compile time").
//
//   <ward/oci/json.hpp>             ward::json: strict JSON parser/serializer
//   <ward/oci/seccomp_profile.hpp>  OCI / Docker seccomp profiles -> SeccompFilter
//   <ward/oci/config.hpp>           ward::oci::Config: config.json, state, features
//   <ward/oci/cgroups.hpp>          ward::oci::apply_resources onto a Cgroups, per controller
//   <ward/oci/resources.hpp>        ward::oci::apply_resources (linux.resources -> cgroup)
//   <ward/oci/sandbox.hpp>          ward::oci::to_sandbox
#pragma once

#include <ward/oci/cgroups.hpp>
#include <ward/oci/config.hpp>
#include <ward/oci/json.hpp>
#include <ward/oci/resources.hpp>
#include <ward/oci/sandbox.hpp>
#include <ward/oci/seccomp_agent.hpp>
#include <ward/oci/seccomp_profile.hpp>
#include <ward/ward.hpp>
