# ward_target_options(<target>): flags for ward's OWN targets (tests, benches,
# examples, the single-header check). Never applied to the ward INTERFACE
# target, so consumers never inherit them.
#   - warnings: -Wall -Wextra -Wshadow always, -Werror with WARD_WERROR=ON
#   - sanitizers: WARD_SANITIZE (e.g. "address,undefined") on compile and link
include_guard(GLOBAL)

function(ward_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow)
  if(WARD_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(WARD_SANITIZE)
    set(_flags -fsanitize=${WARD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_compile_options(${target} PRIVATE ${_flags})
    get_target_property(_type ${target} TYPE)
    if(NOT _type STREQUAL "OBJECT_LIBRARY" AND NOT _type STREQUAL "STATIC_LIBRARY")
      target_link_options(${target} PRIVATE ${_flags})
    endif()
  endif()
endfunction()
