# Warnings (errors with MAILFS_WERROR) and sanitizers for every mailfs target.
set(MAILFS_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wimplicit-fallthrough)
if(MAILFS_WERROR)
  list(APPEND MAILFS_WARNING_FLAGS -Werror)
  # GCC 12 at -O2/-O3 reports impossible overlaps in inlined std::string
  # concatenation (-Wrestrict, GCC bug 105329): kept as a warning there.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    list(APPEND MAILFS_WARNING_FLAGS -Wno-error=restrict)
  endif()
endif()
add_compile_options(${MAILFS_WARNING_FLAGS})
if(MAILFS_SANITIZE)
  string(REPLACE ";" "," _mailfs_san "${MAILFS_SANITIZE}")
  add_compile_options(-fsanitize=${_mailfs_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_mailfs_san})
endif()

# mailfs_library(name DIR) builds every .cc in DIR (tests excluded) into a static library.
function(mailfs_library name)
  file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  list(FILTER _srcs EXCLUDE REGEX "_test\\.cc$")
  if(_srcs)
    add_library(${name} STATIC ${_srcs})
    target_compile_features(${name} PUBLIC cxx_std_20)
  else()
    add_library(${name} INTERFACE)  # not written yet
  endif()
endfunction()
