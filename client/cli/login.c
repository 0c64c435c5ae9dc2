/*
 * login.c: sign an account in.  The agent runs the flow; this shows the
 * user what to do and waits for the agent to say it is done.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* How long each LOGIN_WAIT asks the agent to hold the request. */
#define LOGIN_POLL_MS 5000

static uint64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int login_run(const struct cli *cli, struct xo_client *c, const char *account)
{
	struct xo_login l = {0};
	uint64_t deadline;
	int r = EXIT_AGENT_FAILED, err;

	if ((err = xo_login_start(c, account, &l)) != 0) {
		r = report(cli, c, account, err);
		goto out;
	}
	sanitize(l.verification_uri);
	sanitize(l.verification_uri_complete);
	sanitize(l.user_code);
	/* No URL: nothing for the user to do (an app account got its token
	   with the client's credentials); LOGIN_WAIT confirms at once. */
	if (l.verification_uri[0] != '\0')
		fprintf(stderr,
			"To sign in to %s, open %s and enter the code %s\n",
			account, l.verification_uri, l.user_code);
	if (l.verification_uri_complete[0] != '\0')
		fprintf(stderr, "(or open %s, which has the code filled in)\n",
			l.verification_uri_complete);
	if (l.expires_in > 0)
		fprintf(stderr,
			"Waiting for you to sign in; the code expires in %u "
			"minutes.\n",
			(l.expires_in + 59) / 60);
	/* The agent ends the login when the code expires; this bound only
	 * guards against an agent that never says so. */
	deadline = now_s() + (l.expires_in > 0 ? l.expires_in : 900) + 60;
	for (;;) {
		uint64_t started = now_ms(), took;

		err = xo_login_wait(c, account, LOGIN_POLL_MS);
		if (err == 0)
			break;
		if (err == XO_ERR_LOGIN_DENIED) {
			fprintf(stderr,
				"xoauth: %s: %s (run 'xoauth login %s' to try "
				"again)\n",
				account, xo_client_message(c), account);
			r = EXIT_AGENT_FAILED;
			goto out;
		}
		if (err == XO_ERR_LOGIN_EXPIRED ||
		    (err == XO_ERR_LOGIN_PENDING && now_s() >= deadline)) {
			fprintf(stderr,
				"xoauth: %s: the code expired before the "
				"sign-in was done (run 'xoauth login %s' "
				"again)\n",
				account, account);
			r = EXIT_AGENT_FAILED;
			goto out;
		}
		if (err != XO_ERR_LOGIN_PENDING) {
			r = report(cli, c, account, err);
			goto out;
		}
		/* An agent that answers at once must not make us spin. */
		took = now_ms() - started;
		if (took < LOGIN_POLL_MS)
			sleep_ms(LOGIN_POLL_MS - took);
	}
	fprintf(stderr, "%s: logged in\n", account);
	r = 0;
out:
	xo_login_free(&l);
	return r;
}

int cmd_login(const struct cli *cli, int argc, char *argv[])
{
	struct xo_client *c = NULL;
	int r;

	if (argc != 2 || argv[1][0] == '-')
		return usage(argv[0]);
	if ((r = connect_agent(cli, &c)) == 0)
		r = login_run(cli, c, argv[1]);
	xo_client_free(c);
	return r;
}

