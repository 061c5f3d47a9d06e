# Warnings are errors; the sanitizer configuration instruments everything we build.
add_library(certherd_options INTERFACE)
target_compile_options(certherd_options INTERFACE -Wall -Wextra -Werror -Wnon-virtual-dtor
  -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
  # GCC 12 reports Asio's coroutine frame allocator as mismatched new/delete (a false positive).
  -Wno-mismatched-new-delete)
target_include_directories(certherd_options INTERFACE ${PROJECT_SOURCE_DIR})
if(CERTHERD_SANITIZE)
  target_compile_options(certherd_options INTERFACE -fsanitize=address,undefined
    -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(certherd_options INTERFACE -fsanitize=address,undefined)
endif()
