# Read by cpack before it makes a package (CPACK_PROJECT_CONFIG_FILE).
# A Debian package holds paths configured into its binaries and units, so
# the tree must have been configured for /usr: contrib/debian/packages.cmake.
# (SEND_ERROR, which cpack prints; it shows a FATAL_ERROR only with
# --verbose.  Either stops it.)
if(CPACK_GENERATOR STREQUAL "DEB" AND
		NOT CPACK_XO_CONFIGURED_PREFIX STREQUAL "/usr")
	message(SEND_ERROR "cpack -G DEB: this build tree is configured for "
		"${CPACK_XO_CONFIGURED_PREFIX}; a Debian package installs to /usr. "
		"Configure a tree with -DCMAKE_INSTALL_PREFIX=/usr (scripts/package).")
endif()
# pam_xoauth.so is a module, with no soname: CPackDeb warns that it leaves
# it out of the shlibs file, as it should.
set(CMAKE_SUPPRESS_DEVELOPER_WARNINGS ON)
