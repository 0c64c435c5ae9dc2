/*
 * login.c: sign an account in.  The agent runs the flow; this shows the
 * user what to do (a code to enter, an address to open, or an address to
 * paste back) and waits for the agent to say it is done.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* How long each LOGIN_WAIT asks the agent to hold the request. */
#define LOGIN_POLL_MS 5000
/* A pasted redirect address; the agent takes at most 8 KiB of it. */
#define PASTE_MAX 8192
/* Pastes that did not belong to the login before we give up. */
#define PASTE_TRIES 3

struct login_args {
	const char *account;
	const char *flow; /* NULL: the account's own */
	int no_browser;
};

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

static int parse_args(int argc, char *argv[], struct login_args *a)
{
	const char *v;
	int i, m;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-browser") == 0) {
			a->no_browser = 1;
			continue;
		}
		if ((m = option_value(argc, argv, &i, "--flow", &v)) < 0)
			return -1;
		if (m == 1) {
			if (strcmp(v, "device") != 0 &&
			    strcmp(v, "browser") != 0 &&
			    strcmp(v, "paste") != 0) {
				fprintf(stderr,
					"xoauth: unknown flow '%s' (expected "
					"device, browser or paste)\n",
					v);
				return -1;
			}
			a->flow = v;
			continue;
		}
		if (argv[i][0] == '-' || a->account != NULL)
			return -1;
		a->account = argv[i];
	}
	return a->account != NULL ? 0 : -1;
}

static void show_device(const char *account, const struct xo_login *l)
{
	fprintf(stderr, "To sign in to %s, open %s and enter the code %s\n",
		account, l->verification_uri, l->user_code);
	if (l->verification_uri_complete[0] != '\0')
		fprintf(stderr, "(or open %s, which has the code filled in)\n",
			l->verification_uri_complete);
	if (l->expires_in > 0)
		fprintf(stderr,
			"Waiting for you to sign in; the code expires in %u "
			"minutes.\n",
			(l->expires_in + 59) / 60);
}

/* Browser and paste: the address to open, opened for the user if we can. */
static void show_address(const char *account, const struct xo_login *l,
			 int no_browser)
{
	fprintf(stderr,
		"To sign in to %s, open this address in a browser:\n\n"
		"  %s\n\n",
		account, l->verification_uri);
	if (!no_browser && open_browser(l->verification_uri))
		fprintf(stderr, "(a browser is being opened with it)\n");
}

/*
 * The paste flow: reads what the user copied from the browser and hands
 * it to the agent, again after a paste that did not belong to the login.
 * Returns 0 when the agent holds the tokens or the outcome is still to be
 * waited for (LOGIN_WAIT tells which), or an exit status.
 */
static int paste_code(const struct cli *cli, struct xo_client *c,
		      const char *account)
{
	char buf[PASTE_MAX + 2];
	long n;
	int tries, err, r = EXIT_AGENT_FAILED;

	fprintf(stderr,
		"After you sign in, the browser lands on an address that may "
		"show an error or an empty page. Copy that whole address (or "
		"just the code in it) and paste it here.\n");
	for (tries = 0; tries < PASTE_TRIES; tries++) {
		n = read_secret_line("Address or code (not shown): ", buf,
				     sizeof(buf));
		if (n < 0)
			goto out;
		if (n == 0) {
			fprintf(stderr,
				"xoauth: %s: nothing was pasted; the "
				"sign-in was not finished\n",
				account);
			goto out;
		}
		err = xo_login_code(c, account, buf, cli->wait_ms);
		explicit_bzero(buf, sizeof(buf));
		if (err == 0) {
			r = 0;
			goto out;
		}
		if (err == XO_ERR_TIMEOUT) {
			r = 0;
			goto out;
		}
		fprintf(stderr, "xoauth: %s\n", xo_client_message(c));
		if (err != XO_ERR_LOGIN_MISMATCH && err != XO_ERR_INVALID &&
		    err != XO_ERR_MSG_BAD) {
			if (err != XO_ERR_LOGIN_DENIED)
				r = report(cli, c, account, err);
			goto out;
		}
		if (tries + 1 < PASTE_TRIES)
			fprintf(stderr, "Try again: paste the address the "
					"browser shows after this sign-in.\n");
	}
out:
	explicit_bzero(buf, sizeof(buf));
	return r;
}

/* LOGIN_WAIT until the login ends; 0 or an exit status. */
static int wait_login(const struct cli *cli, struct xo_client *c,
		      const char *account, const struct xo_login *l)
{
	uint64_t deadline;
	int err;

	/* The agent ends the login when it expires; this bound only guards
	 * against an agent that never says so. */
	deadline = now_s() + (l->expires_in > 0 ? l->expires_in : 900) + 60;
	for (;;) {
		uint64_t started = now_ms(), took;

		err = xo_login_wait(c, account, LOGIN_POLL_MS);
		if (err == 0)
			return 0;
		if (err == XO_ERR_LOGIN_DENIED || err == XO_ERR_LOGIN_EXPIRED) {
			fprintf(stderr,
				"xoauth: %s (run 'xoauth login %s' to "
				"try again)\n",
				xo_client_message(c), account);
			return EXIT_AGENT_FAILED;
		}
		if (err == XO_ERR_LOGIN_PENDING && now_s() >= deadline) {
			fprintf(stderr,
				"xoauth: %s: the sign-in was not finished in "
				"time (run 'xoauth login %s' again)\n",
				account, account);
			return EXIT_AGENT_FAILED;
		}
		if (err != XO_ERR_LOGIN_PENDING)
			return report(cli, c, account, err);
		/* An agent that answers at once must not make us spin. */
		took = now_ms() - started;
		if (took < LOGIN_POLL_MS)
			sleep_ms(LOGIN_POLL_MS - took);
	}
}

int login_run(const struct cli *cli, struct xo_client *c, const char *account,
	      const char *flow, int no_browser)
{
	struct xo_login l = {0};
	int r = EXIT_AGENT_FAILED, err;

	if ((err = xo_login_start_flow(c, account, flow, &l)) != 0) {
		r = report(cli, c, account, err);
		goto out;
	}
	sanitize(l.verification_uri);
	sanitize(l.verification_uri_complete);
	sanitize(l.user_code);
	if (strcmp(l.flow, "browser") == 0 || strcmp(l.flow, "paste") == 0) {
		show_address(account, &l, no_browser);
		if (strcmp(l.flow, "paste") == 0) {
			if ((r = paste_code(cli, c, account)) != 0)
				goto out;
		} else {
			fprintf(stderr,
				"Waiting for the browser to come back to "
				"xoauth-agent; the sign-in expires in %u "
				"minutes.\n",
				(l.expires_in + 59) / 60);
		}
	} else if (l.verification_uri[0] != '\0') {
		show_device(account, &l);
	}
	/* With no address (an app account, whose token came with the
	   client's own credentials) there is nothing to show: LOGIN_WAIT
	   confirms at once. */
	if ((r = wait_login(cli, c, account, &l)) != 0)
		goto out;
	fprintf(stderr, "%s: logged in\n", account);
	r = 0;
out:
	xo_login_free(&l);
	return r;
}

int cmd_login(const struct cli *cli, int argc, char *argv[])
{
	struct login_args a;
	struct xo_client *c = NULL;
	int r;

	if (parse_args(argc, argv, &a) != 0)
		return usage(argv[0]);
	if ((r = connect_agent(cli, &c)) == 0)
		r = login_run(cli, c, a.account, a.flow, a.no_browser);
	xo_client_free(c);
	return r;
}
