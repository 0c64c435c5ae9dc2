#!/bin/sh
# cmake --install puts both binaries, libxoauth (shared and static), its
# header, xoauth.pc, the CMake package, the man pages, the systemd units,
# the shell completion, the PAM module and the SASL plugin in place, all
# under the prefix it is given; moved elsewhere, the tree still serves a
# program built against the installed library through pkg-config and
# through find_package(xoauth).
set -eu
build=$1
extra_cflags=${2:-}
top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
cmake --install "$build" --prefix "$top/installed" >/dev/null
mv "$top/installed" "$top/moved"
dest=$top/moved
for f in bin/xoauth-agent bin/xoauth include/xoauth/xo.h \
	include/xoauth/xo_errors.h share/man/man1/xoauth-agent.1.gz \
	share/man/man1/xoauth.1.gz share/man/man5/xoauth.conf.5.gz \
	lib/systemd/user/xoauth-agent.socket \
	lib/systemd/user/xoauth-agent.service \
	lib/systemd/system/xoauth-agent@.socket \
	lib/systemd/system/xoauth-agent@.service \
	lib/environment.d/60-xoauth-agent.conf \
	share/bash-completion/completions/xoauth \
	share/bash-completion/completions/xoauth-agent \
	share/zsh/vendor-completions/_xoauth; do
	test -f "$dest/$f" || { echo "missing $f"; exit 1; }
done
# The PAM module and its page, where libpam's headers let it be built.
if [ -n "$(find "$build" -name pam_xoauth.so)" ]; then
	find "$dest" -path '*/security/pam_xoauth.so' | grep -q . ||
		{ echo "missing security/pam_xoauth.so"; exit 1; }
	test -f "$dest/share/man/man8/pam_xoauth.8.gz" ||
		{ echo "missing share/man/man8/pam_xoauth.8.gz"; exit 1; }
fi
# The SASL plugin and its page, where libsasl2's headers let it be built:
# in the library directory's sasl2/ (lib/<multiarch>/sasl2 under /usr, as
# Debian's libsasl2 looks).
if [ -n "$(find "$build" -name libxoauthagent.so)" ]; then
	find "$dest" -path '*/sasl2/libxoauthagent.so' | grep -q . ||
		{ echo "missing sasl2/libxoauthagent.so"; exit 1; }
	test -f "$dest/share/man/man7/xoauth-sasl.7.gz" ||
		{ echo "missing share/man/man7/xoauth-sasl.7.gz"; exit 1; }
fi
# The user unit runs the agent by its configured absolute path.
grep -q "^ExecStart=/.*/bin/xoauth-agent -D" \
	"$dest/lib/systemd/user/xoauth-agent.service" ||
	{ echo "xoauth-agent.service names no xoauth-agent"; exit 1; }
pc=$(dirname "$(find "$dest" -name xoauth.pc)")
ls "$pc"/../libxoauth.a "$pc"/../libxoauth.so >/dev/null
use=$(cd "$(dirname "$0")/use_xoauth" && pwd)
# Run with no agent, each program must say so: exit 2.
no_agent() {
	if XOAUTH_AUTH_SOCK=/nonexistent/socket "$@" 2>/dev/null; then
		echo "$*: found an agent"
		exit 1
	else
		test $? -eq 2 || { echo "$*: failed otherwise"; exit 1; }
	fi
}
export PKG_CONFIG_PATH="$pc"
# shellcheck disable=SC2046
cc $extra_cflags -o "$top/use" "$use/use.c" $(pkg-config --cflags --libs xoauth) \
	-Wl,-rpath,"$pc/.."
no_agent "$top/use"
# Debian's changelog and copyright are the packages' alone.
if [ -n "$(find "$dest" -name changelog.Debian.gz -o -name copyright)" ]; then
	echo "a Debian package's changelog or copyright installed"
	exit 1
fi

# find_package(xoauth) from the moved tree: both libraries.
cmake -S "$use" -B "$top/fp" -DCMAKE_PREFIX_PATH="$dest" \
	-DCMAKE_C_FLAGS="$extra_cflags" -DCMAKE_EXE_LINKER_FLAGS="$extra_cflags" \
	>/dev/null
cmake --build "$top/fp" >/dev/null
no_agent "$top/fp/use_shared"
no_agent "$top/fp/use_static"
# The version file refuses a version the library does not answer.
mkdir "$top/v1"
cat >"$top/v1/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(use_xoauth C)
find_package(xoauth 1.0 CONFIG REQUIRED)
CMAKE
if cmake -S "$top/v1" -B "$top/v1/build" -DCMAKE_PREFIX_PATH="$dest" \
	>/dev/null 2>&1; then
	echo "find_package(xoauth 1.0) accepted a 0.x libxoauth"
	exit 1
fi
echo "1 passed, 0 failed"
