/*
 * use: a program on the installed libxoauth, as an application has it.
 * Prints the names of the accounts of the agent at $XOAUTH_AUTH_SOCK, one
 * a line.  Exits 0, 1 when the agent refused, 2 when no agent answers
 * (the error's name on stderr), as xoauth does.
 */
#include <stdio.h>
#include <xoauth/xo.h>

int main(void)
{
	struct xo_client *c = NULL;
	struct xo_account *a = NULL;
	size_t n = 0, i;
	int r;

	if ((r = xo_client_connect(NULL, &c)) != 0 ||
	    (r = xo_list(c, &a, &n)) != 0) {
		fprintf(stderr, "%s\n", xo_err_name(r));
		xo_client_free(c);
		return r == XO_ERR_NO_AGENT ? 2 : 1;
	}
	for (i = 0; i < n; i++)
		printf("%s\n", a[i].name);
	xo_accounts_free(a, n);
	xo_client_free(c);
	return 0;
}
