/*
 * report.c: connecting to the agent, and turning a failure into a message
 * that says what happened and what to do next, and into the exit status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *socket_path(const struct cli *cli)
{
	const char *p = cli->socket;

	if (p == NULL)
		p = getenv(XO_AUTH_SOCK_ENV);
	return p != NULL && p[0] != '\0' ? p : NULL;
}

/* Failures that mean there is no agent we can talk to: exit status 2. */
static int no_usable_agent(int err)
{
	switch (err) {
	case XO_ERR_NO_AGENT:
	case XO_ERR_IO:
	case XO_ERR_VERSION:
	case XO_ERR_MSG_TRUNCATED:
	case XO_ERR_MSG_TOO_LARGE:
	case XO_ERR_MSG_BAD:
		return 1;
	default:
		return 0;
	}
}

static int report_no_agent(const struct cli *cli)
{
	const char *path = socket_path(cli);

	if (path != NULL)
		fprintf(stderr, "xoauth: no agent reachable at %s (%s)\n", path,
			START_HINT);
	else
		fprintf(stderr,
			"xoauth: no agent reachable: %s is not set (%s)\n",
			XO_AUTH_SOCK_ENV, START_HINT);
	return EXIT_NO_AGENT;
}

/*
 * Explains a failed call: what happened, then what to do.  account may be
 * NULL.  Returns the exit status.
 */
int report(const struct cli *cli, const struct xo_client *c,
	   const char *account, int err)
{
	const char *msg = xo_client_message(c);
	const char *a = account != NULL ? account : "";
	const char *sep = account != NULL ? ": " : "";
	/* The agent's own words, when they say more than the code does. */
	int detail = msg[0] != '\0' && strcmp(msg, xo_strerror(err)) != 0;

	if (msg[0] == '\0')
		msg = xo_strerror(err);
	switch (err) {
	case XO_ERR_NO_AGENT:
		return report_no_agent(cli);
	case XO_ERR_IO:
		fprintf(stderr, "xoauth: %s (is xoauth-agent still running?)\n",
			msg);
		return EXIT_NO_AGENT;
	case XO_ERR_VERSION:
	case XO_ERR_MSG_TRUNCATED:
	case XO_ERR_MSG_TOO_LARGE:
	case XO_ERR_MSG_BAD:
		fprintf(stderr,
			"xoauth: %s (are xoauth and xoauth-agent from the "
			"same release? restart the agent: xoauth-agent -k; "
			"eval $(xoauth-agent))\n",
			msg);
		return EXIT_NO_AGENT;
	case XO_ERR_NO_ACCOUNT:
		fprintf(stderr,
			"xoauth: no account '%s' (see 'xoauth list' "
			"and " CONFIG_HINT ")\n",
			a);
		break;
	case XO_ERR_LOGIN_NEEDED:
		if (detail)
			fprintf(stderr, "xoauth: %s%s%s\n", a, sep, msg);
		fprintf(stderr,
			"xoauth: %s%slogin needed: run 'xoauth login %s'\n", a,
			sep, a);
		break;
	case XO_ERR_TIMEOUT:
		fprintf(stderr,
			"xoauth: %s%s%s (try again, or allow longer with "
			"--wait SECONDS)\n",
			a, sep, msg);
		break;
	case XO_ERR_BUSY:
		fprintf(stderr, "xoauth: %s%s%s (try again in a moment)\n", a,
			sep, msg);
		break;
	case XO_ERR_PROVIDER_CONFIG:
	case XO_ERR_CONFIG:
	case XO_ERR_UNSUPPORTED_FLOW:
		fprintf(stderr,
			"xoauth: %s%s%s (check [account %s] in " CONFIG_HINT
			", then reload the agent: kill -HUP "
			"$XOAUTH_AGENT_PID)\n",
			a, sep, msg, account != NULL ? account : "NAME");
		break;
	default:
		fprintf(stderr, "xoauth: %s%s%s\n", a, sep, msg);
		break;
	}
	return EXIT_AGENT_FAILED;
}

int connect_agent(const struct cli *cli, struct xo_client **out)
{
	struct xo_client *c = NULL;
	int r;

	if ((r = xo_client_open(cli->socket, &c)) == 0) {
		*out = c;
		return 0;
	}
	*out = NULL;
	switch (r) {
	case XO_ERR_NO_AGENT:
		r = report_no_agent(cli);
		break;
	default:
		/* libxoauth's own words name the socket and the cause. */
		fprintf(stderr, "xoauth: %s (%s)\n",
			c != NULL ? xo_client_message(c) : xo_strerror(r),
			START_HINT);
		r = r == XO_ERR_NOMEM || !no_usable_agent(r) ? EXIT_AGENT_FAILED
							     : EXIT_NO_AGENT;
		break;
	}
	xo_client_free(c);
	return r;
}

int finish_stdout(void)
{
	if (fflush(stdout) == 0)
		return 0;
	fprintf(stderr, "xoauth: cannot write to standard output: %s\n",
		strerror(errno));
	return EXIT_AGENT_FAILED;
}
