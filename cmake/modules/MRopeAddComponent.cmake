# Each library folder is a component: an object library whose objects all go
# into the one shared libMRope.so that tools and consumers link. One library
# keeps the registration of dialects and passes single, as libMLIR.so does.
function(mrope_add_component name)
  cmake_parse_arguments(ARG "REQUIRES_EH" "" "DEPENDS;LINK_LIBS" ${ARGN})
  add_library(${name} OBJECT ${ARG_UNPARSED_ARGUMENTS})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(ARG_REQUIRES_EH)
    set(LLVM_REQUIRES_EH ON)
  endif()
  llvm_update_compile_flags(${name})
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  # Objects need the usage requirements (include dirs, definitions) of what
  # the shared library will link.
  target_link_libraries(${name} PUBLIC MLIR LLVM ${ARG_LINK_LIBS})
  set_property(GLOBAL APPEND PROPERTY MROPE_COMPONENTS ${name})
  set_property(GLOBAL APPEND PROPERTY MROPE_COMPONENT_LINK_LIBS ${ARG_LINK_LIBS})
endfunction()
