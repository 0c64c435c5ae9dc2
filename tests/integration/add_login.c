/*
 * add_login: adds an account at run time and signs it in, through
 * libxoauth only, as an application embedding the library would.
 *
 *   add_login NAME KEY=VALUE ...
 *
 * Talks to $XOAUTH_AUTH_SOCK.  Calls xo_add(), then xo_login_start(),
 * prints one line "LOGIN <verification_uri> <user_code>" on stdout for
 * whoever plays the user, then calls xo_login_wait() until the login ends.
 * Prints "ADDED" after xo_add() and "LOGGED-IN" at the end.  On a failure
 * it prints "FAIL <step> <status> <agent's message>" on stdout and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xoauth/xo.h>

#define MAX_SETTINGS 64

static int fail(struct xo_client *c, const char *step, int err)
{
	printf("FAIL %s %s %s\n", step, xo_err_name(err), xo_client_message(c));
	fflush(stdout);
	return 1;
}

int main(int argc, char *argv[])
{
	struct xo_setting settings[MAX_SETTINGS];
	struct xo_client *c = NULL;
	struct xo_login l = {0};
	size_t n = 0;
	int i, err, r = 1;

	if (argc < 2 || argc - 2 > MAX_SETTINGS) {
		fprintf(stderr, "usage: add_login NAME KEY=VALUE ...\n");
		return 2;
	}
	for (i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL) {
			fprintf(stderr, "add_login: '%s' is not KEY=VALUE\n",
				argv[i]);
			return 2;
		}
		*eq = '\0';
		settings[n].key = argv[i];
		settings[n].value = eq + 1;
		n++;
	}
	if ((err = xo_client_connect(NULL, &c)) != 0) {
		fprintf(stderr, "add_login: no agent: %s\n", xo_err_name(err));
		return 2;
	}
	if ((err = xo_add(c, argv[1], settings, n)) != 0) {
		r = fail(c, "add", err);
		goto out;
	}
	printf("ADDED\n");
	fflush(stdout);
	if ((err = xo_login_start(c, argv[1], &l)) != 0) {
		r = fail(c, "login_start", err);
		goto out;
	}
	printf("LOGIN %s %s\n", l.verification_uri, l.user_code);
	fflush(stdout);
	while ((err = xo_login_wait(c, argv[1], 5000)) == XO_ERR_LOGIN_PENDING)
		;
	if (err != 0) {
		r = fail(c, "login_wait", err);
		goto out;
	}
	printf("LOGGED-IN\n");
	r = 0;
out:
	xo_login_free(&l);
	xo_client_free(c);
	return r;
}
