# cpack -G DEB (scripts/package.sh): mrope_<version>_<arch>.deb installing
# into /usr: the tools, libMRope.so, mrope-plugin.so, the headers and the
# CMake package. Installed binaries find libMLIR.so through their RUNPATH
# (MRopeInstallRpath.cmake), so the package needs nothing on ld.so's path.
#
# Depends: the Debian packages that own what the binaries link (ldd, then
# dpkg -S on each NEEDED library); mrope-compile runs the system C compiler
# to link kernels. Building a consumer against the installed CMake package
# needs the -dev packages: Recommends.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mrope)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "mrope maintainers <mrope@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Find, check and fix M-RoPE in ONNX models; MLIR 22 dialects, passes and kernels")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "libmlir-22, libllvm22, libonnx1, libprotobuf32, libstdc++6, libgcc-s1, libc6, gcc | c-compiler")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS
  "libmlir-22-dev, llvm-22-dev, libonnx-dev, libprotobuf-dev, cmake, mlir-22-tools")
include(CPack)
