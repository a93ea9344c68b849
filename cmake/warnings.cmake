# Warnings for Taube's own targets; third-party headers are included as SYSTEM.
function(taube_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                                           -Wformat=2 -Wimplicit-fallthrough
                                           # GCC 12 false positive on std::string concatenation
                                           # (GCC bug 105329), seen only with -O2.
                                           -Wno-restrict)
endfunction()
