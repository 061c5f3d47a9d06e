# Warnings are errors; the sanitizer configuration instruments everything we build.
add_library(certherd_options INTERFACE)
target_compile_options(certherd_options INTERFACE -Wall -Wextra -Werror -Wnon-virtual-dtor
  -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
  # GCC 12 reports Asio's coroutine frame allocator as mismatched new/delete (a false positive).
  -Wno-mismatched-new-delete)
target_include_directories(certherd_options INTERFACE ${PROJECT_SOURCE_DIR})
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  # RapidJSON's iterators predate C++20's reversed comparison operators; clang warns on every use.
  target_compile_options(certherd_options INTERFACE -Wno-ambiguous-reversed-operator)
endif()
if(CERTHERD_SANITIZE)
  set(certherd_sanitizers -fsanitize=address,undefined)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # Clang 14 cannot emit coroutines under -fsanitize=function ("Cannot represent a difference
    # across sections"); the other UndefinedBehaviorSanitizer checks stay on.
    list(APPEND certherd_sanitizers -fno-sanitize=function
      -fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/cmake/sanitizer-ignorelist.txt)
  endif()
  target_compile_options(certherd_options INTERFACE ${certherd_sanitizers}
    -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(certherd_options INTERFACE ${certherd_sanitizers})
endif()
if(CERTHERD_FUZZ)
  # libFuzzer (clang only): everything is built with coverage instrumentation; the fuzz targets
  # in tests/fuzz link libFuzzer's driver.
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "CERTHERD_FUZZ needs clang (CXX=clang++)")
  endif()
  target_compile_options(certherd_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
# Hardening, as Debian builds its packages (lintian checks the packaged binary for it): stack
# protector and clash protection, fortified libc calls where optimizing, full RELRO and
# immediate binding. The sanitizer build has its own instrumentation.
if(NOT CERTHERD_SANITIZE)
  target_compile_options(certherd_options INTERFACE -fstack-protector-strong
    -fstack-clash-protection $<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2>)
  target_link_options(certherd_options INTERFACE -Wl,-z,relro -Wl,-z,now)
endif()
