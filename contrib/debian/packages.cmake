# Debian packages: `cpack -G DEB` in a build tree configured with
# -DCMAKE_INSTALL_PREFIX=/usr (scripts/package does both).  Each install
# component is a package of its own:
#
#   component  package                  what
#   agent      xoauth-agent             the daemon and the CLI, their man
#                                       pages, the systemd units, completion
#   lib        libxoauth0               libxoauth.so.0, for programs linked
#                                       with the library
#   dev        libxoauth-dev            the header, libxoauth.so and .a,
#                                       xoauth.pc, the CMake package
#   pam        libpam-xoauth            pam_xoauth.so and pam_xoauth(8)
#   sasl       libsasl2-modules-xoauth  the Cyrus SASL client plugin
#   python     python3-xoauth           the Python package
#
# Split because each part is installed for its own reason: a program built
# on libxoauth needs libxoauth0 and no daemon on the same machine (the agent
# may be at the other end of a forwarded socket); a SASL plugin in libsasl2's
# directory changes what every SASL client on the machine offers, and a PAM
# module what a login may do, so each is installed on purpose; the Python
# package is the same on every architecture.  An install() rule that names
# no component lands in xoauth-agent (CMAKE_INSTALL_DEFAULT_COMPONENT_NAME);
# a component missing from the table becomes the package xoauth-COMPONENT.
# Depends come from dpkg-shlibdeps for what is linked, and from the table
# for the rest.

set(XO_PACKAGE_MAINTAINER "xoauth-agent maintainers <xoauth-agent@packages.invalid>"
	CACHE STRING "The Maintainer field of the Debian packages")

# The binaries carry the paths they were configured with (the PAM module
# starts ${CMAKE_INSTALL_FULL_BINDIR}/xoauth-agent, the units run it, the
# library directory is Debian's multiarch one only under /usr), so a package
# is made of the install tree as configured, and cpack checks that it is
# /usr (cpack_options.cmake).
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_XO_CONFIGURED_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_CURRENT_LIST_DIR}/cpack_options.cmake)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME xoauth)
set(CPACK_PACKAGE_VENDOR "xoauth-agent")
set(CPACK_PACKAGE_CONTACT ${XO_PACKAGE_MAINTAINER})
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# CPackDeb puts the project's summary above every package's own unless it
# is CPack's default, which it takes for none: each package has its own.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libxoauth0's shlibs file: a program linked with it depends on this
# version or later (the soname stays libxoauth.so.0 through 0.x).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# A component's DEPENDS becomes a Depends on that package at exactly this
# version.
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
# Debian has dpkg's ldconfig trigger run ldconfig once for all the packages
# installed together.  CPack 3.25 also calls ldconfig from the postinst and
# postrm it writes, and has no way to leave them out: harmless, and the one
# warning lintian gives (tests/package/test_deb.py).
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_LIST_DIR}/triggers)

get_cmake_property(XO_COMPONENTS COMPONENTS)
set(XO_DESCRIPTION_TAIL
"xoauth-agent does for OAuth 2.0 mail credentials what ssh-agent does for
keys: one small per-user daemon owns every refresh token, keeps it
encrypted, refreshes access tokens before they expire and hands ready
credentials (a bare token, SASL XOAUTH2 or OAUTHBEARER) over a Unix socket
to msmtp, mutt, mbsync, curl, git send-email or your own application.")

# xo_package(COMPONENT NAME SECTION SUMMARY DESCRIPTION
#            [DEPENDS component...] [DEB_DEPENDS package...]
#            [RECOMMENDS package...] [SUGGESTS package...] [ARCH_ALL])
# Names and describes the package made of COMPONENT.  DEPENDS are other
# components, which become Depends at this exact version where they are
# built; DEB_DEPENDS are Debian's packages.
macro(xo_package component name section summary description)
	cmake_parse_arguments(P "ARCH_ALL" ""
		"DEPENDS;DEB_DEPENDS;RECOMMENDS;SUGGESTS" ${ARGN})
	string(TOUPPER ${component} C)
	set(CPACK_DEBIAN_${C}_PACKAGE_NAME ${name})
	set(CPACK_DEBIAN_${C}_PACKAGE_SECTION ${section})
	set(CPACK_COMPONENT_${C}_DESCRIPTION
		"${summary}\n${description}\n\n${XO_DESCRIPTION_TAIL}")
	set(CPACK_COMPONENT_${C}_DEPENDS "")
	foreach(d ${P_DEPENDS})
		if(d IN_LIST XO_COMPONENTS)
			list(APPEND CPACK_COMPONENT_${C}_DEPENDS ${d})
		endif()
	endforeach()
	list(JOIN P_DEB_DEPENDS ", " CPACK_DEBIAN_${C}_PACKAGE_DEPENDS)
	list(JOIN P_RECOMMENDS ", " CPACK_DEBIAN_${C}_PACKAGE_RECOMMENDS)
	list(JOIN P_SUGGESTS ", " CPACK_DEBIAN_${C}_PACKAGE_SUGGESTS)
	if(P_ARCH_ALL)
		set(CPACK_DEBIAN_${C}_PACKAGE_ARCHITECTURE all)
	endif()
endmacro()

# What the agent's package suggests: the other parts that are built.
set(XO_SUGGESTS "")
foreach(pair pam:libpam-xoauth python:python3-xoauth
		sasl:libsasl2-modules-xoauth)
	string(REPLACE ":" ";" pair ${pair})
	list(GET pair 0 c)
	if(c IN_LIST XO_COMPONENTS)
		list(GET pair 1 p)
		list(APPEND XO_SUGGESTS ${p})
	endif()
endforeach()

xo_package(agent xoauth-agent mail
	"OAuth 2.0 token agent for mail, like ssh-agent"
	"This package has the daemon xoauth-agent and its command-line client
xoauth (xoauth token ACCOUNT prints a token for msmtp's passwordeval or
mutt's oauth_refresh_command), their manual pages, systemd units for a
user's agent and for service accounts, and bash and zsh completion."
	SUGGESTS ${XO_SUGGESTS})
xo_package(lib libxoauth0 libs
	"client library for xoauth-agent"
	"libxoauth asks a running xoauth-agent for access tokens and SASL
strings, adds accounts and drives their login.  It needs libc only.")
xo_package(dev libxoauth-dev libdevel
	"client library for xoauth-agent (development files)"
	"The header <xoauth/xo.h>, the shared and static libraries, xoauth.pc
for pkg-config and the CMake package (find_package(xoauth) gives
xoauth::xoauth and xoauth::xoauth_static)."
	DEPENDS lib)
xo_package(pam libpam-xoauth admin
	"PAM module that unlocks xoauth-agent at login"
	"pam_xoauth.so unlocks the user's xoauth-agent vault (starting the
agent if need be) with the login password, when that is the vault's
passphrase.  See pam_xoauth(8)."
	DEPENDS agent)
xo_package(sasl libsasl2-modules-xoauth libs
	"Cyrus SASL XOAUTH2 and OAUTHBEARER mechanisms fed by xoauth-agent"
	"A client plugin for Cyrus SASL offering XOAUTH2 and OAUTHBEARER with
the access token xoauth-agent holds for the account named by the SASL
user name, so that mbsync or a Postfix relay log in with OAuth 2.0."
	RECOMMENDS xoauth-agent)
# The Python the package asks for (pyproject.toml's requires-python).
set(XO_PYTHON_DEPENDS python3)
if(EXISTS ${PROJECT_SOURCE_DIR}/contrib/python/pyproject.toml)
	file(STRINGS ${PROJECT_SOURCE_DIR}/contrib/python/pyproject.toml line
		REGEX "^requires-python *= *\">= *[0-9.]+\"")
	if(line MATCHES ">= *([0-9.]+)")
		set(XO_PYTHON_DEPENDS "python3 (>= ${CMAKE_MATCH_1})")
	endif()
endif()
xo_package(python python3-xoauth python
	"Python client for xoauth-agent"
	"The Python package xoauth (standard library only): access tokens, SASL
strings, adding accounts and their login, and an smtplib helper."
	DEB_DEPENDS ${XO_PYTHON_DEPENDS} RECOMMENDS xoauth-agent ARCH_ALL)

# Every package has its copyright and Debian changelog in
# /usr/share/doc/PACKAGE.  EXCLUDE_FROM_ALL: they are installed by cpack,
# which installs component by component, and not by `cmake --install`.
# The changelog's date is $SOURCE_DATE_EPOCH's where it is set.
set(XO_DEB_VERSION ${CPACK_PACKAGE_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})
string(TIMESTAMP XO_PACKAGE_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file(${CMAKE_CURRENT_LIST_DIR}/changelog.in
	${PROJECT_BINARY_DIR}/debian/changelog.Debian @ONLY)
include(${PROJECT_SOURCE_DIR}/cmake/gzip.cmake)
xo_gzip(debian_changelog XO_CHANGELOG_GZ
	${PROJECT_BINARY_DIR}/debian/changelog.Debian)
foreach(component ${XO_COMPONENTS})
	string(TOUPPER ${component} C)
	if(DEFINED CPACK_DEBIAN_${C}_PACKAGE_NAME)
		set(name ${CPACK_DEBIAN_${C}_PACKAGE_NAME})
	else()
		string(TOLOWER "${CPACK_PACKAGE_NAME}-${component}" name)
	endif()
	install(FILES ${CMAKE_CURRENT_LIST_DIR}/copyright ${XO_CHANGELOG_GZ}
		DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${name}
		COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()

include(CPack)
