#!/bin/sh
# cmake --install puts both binaries, libxoauth (shared and static), its
# header, xoauth.pc and the man pages in place, and a program builds and
# links against the installed library through pkg-config alone.
set -eu
build=$1
extra_cflags=${2:-}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
cmake --install "$build" --prefix "$dest" >/dev/null
for f in bin/xoauth-agent bin/xoauth include/xoauth/xo.h \
	include/xoauth/xo_errors.h share/man/man1/xoauth-agent.1 \
	share/man/man1/xoauth.1 share/man/man5/xoauth.conf.5; do
	test -f "$dest/$f" || { echo "missing $f"; exit 1; }
done
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
