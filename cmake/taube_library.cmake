# One CMake library per src/ folder (docs/architecture.md). taube_pure_library() is for the
# folders that must build with the standard library and tl::expected alone: no Asio, OpenSSL,
# files, clocks or threads. Its link line may name only other pure libraries, which is what
# keeps the dependency arrows pointing down.
set_property(GLOBAL PROPERTY TAUBE_PURE_LIBRARIES "")

function(taube_pure_library name)
  cmake_parse_arguments(P "" "" "SOURCES;DEPENDS" ${ARGN})
  get_property(pure GLOBAL PROPERTY TAUBE_PURE_LIBRARIES)
  foreach(dep IN LISTS P_DEPENDS)
    if(NOT dep IN_LIST pure)
      message(FATAL_ERROR "${name} is pure and may only depend on pure libraries, not ${dep}")
    endif()
  endforeach()
  add_library(${name} STATIC ${P_SOURCES})
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
                                            $<INSTALL_INTERFACE:include/taube>)
  target_link_libraries(${name} PUBLIC tl::expected ${P_DEPENDS})
  taube_warnings(${name})
  set_property(GLOBAL APPEND PROPERTY TAUBE_PURE_LIBRARIES ${name})
endfunction()
