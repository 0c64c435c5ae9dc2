/*
 * token.c: token, xoauth2 and oauthbearer: print a credential for a mail
 * client.  This is the command msmtp runs for every message.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* token, xoauth2 and oauthbearer. */
static int get_token(const struct cli *cli, int argc, char *argv[],
		     enum xo_form form)
{
		struct xo_token_opts opts;
	struct xo_token tok = {0};
	struct xo_client *c = NULL;
	const char *account = NULL, *value = NULL;
	int i, m, r = EXIT_AGENT_FAILED, err;

	memset(&opts, 0, sizeof(opts));
	opts.form = form;
	opts.min_valid = cli->min_valid;
	opts.wait_ms = cli->wait_ms;
	for (i = 1; i < argc; i++) {
		if ((m = option_value(argc, argv, &i, "--scope", &value)) !=
		    0) {
			if (m < 0 || value[0] == '\0')
				return usage(argv[0]);
			opts.scope = value;
		} else if (form == XO_FORM_OAUTHBEARER &&
			   (m = option_value(argc, argv, &i, "--host",
					     &value)) != 0) {
			if (m < 0 || value[0] == '\0')
				return usage(argv[0]);
			opts.host = value;
		} else if (form == XO_FORM_OAUTHBEARER &&
			   (m = option_value(argc, argv, &i, "--port",
					     &value)) != 0) {
			if (m < 0 ||
			    parse_uint(value, 65535, &opts.port) != 0 ||
			    opts.port == 0) {
				fprintf(stderr,
					"xoauth: --port wants a number from 1 "
					"to 65535\n");
				return usage(argv[0]);
			}
		} else if (argv[i][0] == '-' || account != NULL) {
			return usage(argv[0]);
		} else {
			account = argv[i];
		}
	}
	if (account == NULL)
		return usage(argv[0]);

	if ((r = connect_agent(cli, &c)) != 0)
		goto out;
	if ((err = xo_token(c, account, &opts, &tok)) != 0) {
		r = report(cli, c, account, err);
		goto out;
	}
	/* write(2), not stdio: no copy of the token is left in a stdio
	 * buffer we cannot wipe. */
	if (write_all(STDOUT_FILENO, tok.token, strlen(tok.token)) != 0 ||
	    write_all(STDOUT_FILENO, "\n", 1) != 0) {
		fprintf(stderr, "xoauth: cannot write to standard output: %s\n",
			strerror(errno));
		r = EXIT_AGENT_FAILED;
		goto out;
	}
	r = 0;
out:
	xo_token_free(&tok);
	xo_client_free(c);
	return r;
}

int cmd_token(const struct cli *cli, int argc, char *argv[])
{
	return get_token(cli, argc, argv, XO_FORM_ACCESS);
}

int cmd_xoauth2(const struct cli *cli, int argc, char *argv[])
{
	return get_token(cli, argc, argv, XO_FORM_XOAUTH2);
}

int cmd_oauthbearer(const struct cli *cli, int argc, char *argv[])
{
	return get_token(cli, argc, argv, XO_FORM_OAUTHBEARER);
}

