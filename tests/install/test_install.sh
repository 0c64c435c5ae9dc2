#!/bin/sh
# cmake --install puts both binaries, libxoauth (shared and static), its
# header, xoauth.pc, the man pages, the systemd units, the PAM module and
# the SASL plugin in place, all under the prefix it is given, and a program
# builds and links against the installed library through pkg-config alone.
set -eu
build=$1
extra_cflags=${2:-}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
cmake --install "$build" --prefix "$dest" >/dev/null
for f in bin/xoauth-agent bin/xoauth include/xoauth/xo.h \
	include/xoauth/xo_errors.h share/man/man1/xoauth-agent.1 \
	share/man/man1/xoauth.1 share/man/man5/xoauth.conf.5 \
	lib/systemd/user/xoauth-agent.socket \
	lib/systemd/user/xoauth-agent.service \
	lib/systemd/system/xoauth-agent@.socket \
	lib/systemd/system/xoauth-agent@.service \
	lib/environment.d/60-xoauth-agent.conf; do
	test -f "$dest/$f" || { echo "missing $f"; exit 1; }
done
# The PAM module and its page, where libpam's headers let it be built.
if [ -n "$(find "$build" -name pam_xoauth.so)" ]; then
	find "$dest" -path '*/security/pam_xoauth.so' | grep -q . ||
		{ echo "missing security/pam_xoauth.so"; exit 1; }
	test -f "$dest/share/man/man8/pam_xoauth.8" ||
		{ echo "missing share/man/man8/pam_xoauth.8"; exit 1; }
fi
# The SASL plugin and its page, where libsasl2's headers let it be built:
# in the library directory's sasl2/ (lib/<multiarch>/sasl2 under /usr, as
# Debian's libsasl2 looks).
if [ -n "$(find "$build" -name libxoauthagent.so)" ]; then
	find "$dest" -path '*/sasl2/libxoauthagent.so' | grep -q . ||
		{ echo "missing sasl2/libxoauthagent.so"; exit 1; }
	test -f "$dest/share/man/man7/xoauth-sasl.7" ||
		{ echo "missing share/man/man7/xoauth-sasl.7"; exit 1; }
fi
# The user unit runs the agent by its configured absolute path.
grep -q "^ExecStart=/.*/bin/xoauth-agent -D" \
	"$dest/lib/systemd/user/xoauth-agent.service" ||
	{ echo "xoauth-agent.service names no xoauth-agent"; exit 1; }
pc=$(dirname "$(find "$dest" -name xoauth.pc)")
ls "$pc"/../libxoauth.a "$pc"/../libxoauth.so >/dev/null
cat >"$dest/use.c" <<'C'
#include <stdio.h>
#include <xoauth/xo.h>
int main(void)
{
	struct xo_client *c;
	int r = xo_client_connect("/nonexistent/socket", &c);
	printf("%s\n", xo_err_name(r));
	return r == XO_ERR_NO_AGENT ? 0 : 1;
}
C
export PKG_CONFIG_PATH="$pc"
# shellcheck disable=SC2046
cc $extra_cflags -o "$dest/use" "$dest/use.c" $(pkg-config --cflags --libs xoauth) \
	-Wl,-rpath,"$pc/.."
"$dest/use"
echo "1 passed, 0 failed"
