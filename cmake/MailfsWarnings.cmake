# Warnings (errors with MAILFS_WERROR) and sanitizers for every mailfs target.
set(MAILFS_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wimplicit-fallthrough)
if(MAILFS_WERROR)
  list(APPEND MAILFS_WARNING_FLAGS -Werror)
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
