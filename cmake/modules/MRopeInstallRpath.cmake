# Installed binaries must start from any prefix: they find libMRope.so next
# to them ($ORIGIN/../lib) and Debian's libMLIR.so/libLLVM.so in the LLVM
# library directory (/usr/lib/llvm-22/lib), which is on no default search path.
# Applied after every target exists so that it overrides the per-tool
# INSTALL_RPATH set in tools/*/CMakeLists.txt.
function(mrope_set_install_rpath dir)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(type MATCHES "^(EXECUTABLE|SHARED_LIBRARY|MODULE_LIBRARY)$")
      set_target_properties(${target} PROPERTIES
        INSTALL_RPATH "\$ORIGIN/../lib;${LLVM_LIBRARY_DIR}")
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(subdir IN LISTS subdirs)
    mrope_set_install_rpath(${subdir})
  endforeach()
endfunction()
