/*
 * xoauth: the command-line client of xoauth-agent.
 *
 * A table of subcommands, as wireguard-tools' wg(8).  It links libxoauth and
 * libc only: msmtp starts it for every message, so it must start fast.
 *
 * Exit status, after ssh-add: 0 success; 1 the agent answered with a
 * failure (or the command line was wrong); 2 no usable agent.  Messages go
 * to stderr and say what happened and what to do; stdout carries only what
 * a command was asked to print, so `passwordeval "xoauth token work"` reads
 * the token and nothing else.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <xoauth/xo.h>

#ifndef XO_VERSION
#define XO_VERSION "unknown"
#endif

#define EXIT_AGENT_FAILED 1
#define EXIT_USAGE 1
#define EXIT_NO_AGENT 2

#define DEFAULT_WAIT_S 10
#define MAX_WAIT_S 3600
#define MAX_MIN_VALID_S 86400
/* How long each LOGIN_WAIT asks the agent to hold the request. */
#define LOGIN_POLL_MS 5000
/* Longest refresh token `import` accepts: the protocol's string limit. */
#define IMPORT_MAX (64 * 1024)
/* Account states from a LIST reply: stable wire numbers (PROTOCOL.md). */
#define STATE_NEED_LOGIN 0
#define STATE_REAUTH 5
#define STATE_CONFIG_ERROR 6
#define CONFIG_HINT "~/.config/xoauth/config"
#define START_HINT                                                             \
	"is xoauth-agent running? start it with: eval $(xoauth-agent)"

struct cli {
	const char *socket; /* -s, or NULL for $XOAUTH_AUTH_SOCK */
	unsigned wait_ms;
	unsigned min_valid;
};

struct command {
	const char *name;
	int (*run)(const struct cli *cli, int argc, char *argv[]);
	const char *args;
	const char *help;
};

/* Set by SIGINT/SIGTERM while `import` has the terminal's echo off, so the
 * terminal can be restored before exiting. */
static volatile sig_atomic_t interrupted;

static const struct command *find_command(const char *name);

static const char *socket_path(const struct cli *cli)
{
	const char *p = cli->socket;

	if (p == NULL)
		p = getenv(XO_AUTH_SOCK_ENV);
	return p != NULL && p[0] != '\0' ? p : NULL;
}

static int usage_of(const struct command *cmd)
{
	fprintf(stderr, "usage: xoauth %s%s%s\n", cmd->name,
		cmd->args[0] != '\0' ? " " : "", cmd->args);
	return EXIT_USAGE;
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
static int report(const struct cli *cli, const struct xo_client *c,
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

/*
 * Connects to the agent.  On failure, explains it and returns the exit
 * status; *out is then NULL.
 */
static int connect_agent(const struct cli *cli, struct xo_client **out)
{
	const char *path = socket_path(cli);
	int r;

	if ((r = xo_client_connect(cli->socket, out)) == 0)
		return 0;
	switch (r) {
	case XO_ERR_NO_AGENT:
		return report_no_agent(cli);
	case XO_ERR_IO:
		/* libxoauth leaves connect()'s errno behind. */
		fprintf(stderr,
			"xoauth: cannot talk to the agent at %s: %s (%s)\n",
			path != NULL ? path : "?", strerror(errno), START_HINT);
		return EXIT_NO_AGENT;
	case XO_ERR_VERSION:
		fprintf(
		    stderr,
		    "xoauth: the agent at %s speaks another protocol "
		    "version than xoauth %s (restart it from this "
		    "installation: xoauth-agent -k; eval $(xoauth-agent))\n",
		    path != NULL ? path : "?", XO_VERSION);
		return EXIT_NO_AGENT;
	default:
		fprintf(stderr, "xoauth: cannot use the agent at %s: %s\n",
			path != NULL ? path : "?", xo_strerror(r));
		return no_usable_agent(r) ? EXIT_NO_AGENT : EXIT_AGENT_FAILED;
	}
}

/* Parses a decimal number in [0, max]; no sign, no spaces, no suffix. */
static int parse_uint(const char *s, unsigned long max, unsigned *out)
{
	char *end = NULL;
	long v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 ||
	    (unsigned long)v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/*
 * Matches option name at argv[*i], as "name VALUE" or "name=VALUE", and
 * moves *i past it.  Returns 1 on a match with *value set, 0 when argv[*i]
 * is another option, -1 when the value is missing.
 */
static int option_value(int argc, char *argv[], int *i, const char *name,
			const char **value)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '=' && n > 2) {
		*value = arg + n + 1;
		return 1;
	}
	if (arg[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Replaces control characters, which the agent may have passed on from a
 * provider, before they reach the terminal. */
static void sanitize(char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* token, xoauth2 and oauthbearer. */
static int get_token(const struct cli *cli, int argc, char *argv[],
		     enum xo_form form)
{
	const struct command *cmd = find_command(argv[0]);
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
		if (form == XO_FORM_OAUTHBEARER &&
		    (m = option_value(argc, argv, &i, "--host", &value)) != 0) {
			if (m < 0 || value[0] == '\0')
				return usage_of(cmd);
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
				return usage_of(cmd);
			}
		} else if (argv[i][0] == '-' || account != NULL) {
			return usage_of(cmd);
		} else {
			account = argv[i];
		}
	}
	if (account == NULL)
		return usage_of(cmd);

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

static int cmd_token(const struct cli *cli, int argc, char *argv[])
{
	return get_token(cli, argc, argv, XO_FORM_ACCESS);
}

static int cmd_xoauth2(const struct cli *cli, int argc, char *argv[])
{
	return get_token(cli, argc, argv, XO_FORM_XOAUTH2);
}

static int cmd_oauthbearer(const struct cli *cli, int argc, char *argv[])
{
	return get_token(cli, argc, argv, XO_FORM_OAUTHBEARER);
}

static void format_time(uint64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, n, "%H:%M", &tm) == 0)
		snprintf(buf, n, "-");
}

static int width(const char *s, int w)
{
	size_t n = strlen(s);

	return n > (size_t)w ? (n > 200 ? 200 : (int)n) : w;
}

static int cmd_list(const struct cli *cli, int argc, char *argv[])
{
	struct xo_account *list = NULL;
	struct xo_client *c = NULL;
	size_t count = 0, i;
	int wn = 4, we = 5, ws = 5, r = EXIT_AGENT_FAILED, err;
	char when[32];

	if (argc != 1)
		return usage_of(find_command(argv[0]));
	if ((r = connect_agent(cli, &c)) != 0)
		goto out;
	if ((err = xo_list(c, &list, &count)) != 0) {
		r = report(cli, c, NULL, err);
		goto out;
	}
	if (count == 0) {
		fprintf(
		    stderr,
		    "xoauth: the agent has no accounts (add one to " CONFIG_HINT
		    ", then reload the agent: kill -HUP "
		    "$XOAUTH_AGENT_PID)\n");
		r = 0;
		goto out;
	}
	for (i = 0; i < count; i++) {
		sanitize(list[i].name);
		sanitize(list[i].email);
		sanitize(list[i].last_error);
		wn = width(list[i].name, wn);
		we = width(list[i].email, we);
		ws = width(list[i].state_name, ws);
	}
	printf("%-*s  %-*s  %-*s  %s\n", wn, "NAME", we, "EMAIL", ws, "STATE",
	       "EXPIRES");
	for (i = 0; i < count; i++) {
		format_time(list[i].expires_at, when, sizeof(when));
		printf("%-*s  %-*s  %-*s  %s\n", wn, list[i].name, we,
		       list[i].email, ws, list[i].state_name, when);
		if (list[i].last_error != NULL && list[i].last_error[0] != '\0')
			printf("%-*s  last error: %s\n", wn, "",
			       list[i].last_error);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "xoauth: cannot write to standard output: %s\n",
			strerror(errno));
		r = EXIT_AGENT_FAILED;
		goto out;
	}
	r = 0;
out:
	xo_accounts_free(list, count);
	xo_client_free(c);
	return r;
}

/* refresh and remove: one account, a SUCCESS reply. */
static int account_command(const struct cli *cli, int argc, char *argv[],
			   int refresh)
{
	struct xo_client *c = NULL;
	int r = EXIT_AGENT_FAILED, err;

	if (argc != 2 || argv[1][0] == '-')
		return usage_of(find_command(argv[0]));
	if ((r = connect_agent(cli, &c)) != 0)
		goto out;
	err = refresh ? xo_refresh(c, argv[1], cli->wait_ms)
		      : xo_remove(c, argv[1]);
	if (err != 0) {
		r = report(cli, c, argv[1], err);
		goto out;
	}
	fprintf(stderr, "%s: %s\n", argv[1], refresh ? "refreshed" : "removed");
	r = 0;
out:
	xo_client_free(c);
	return r;
}

static int cmd_refresh(const struct cli *cli, int argc, char *argv[])
{
	return account_command(cli, argc, argv, 1);
}

static int cmd_remove(const struct cli *cli, int argc, char *argv[])
{
	return account_command(cli, argc, argv, 0);
}

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/*
 * Reads one line from stdin into buf (at most cap - 1 bytes), without
 * echo when stdin is a terminal: a refresh token should not stay in the
 * scrollback.  Returns the length, or -1 with a message printed.
 */
static long read_secret_line(const char *account, char *buf, size_t cap)
{
	struct termios saved, quiet;
	struct sigaction sa, old_int, old_term;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	size_t len = 0;
	long r = -1;

	if (tty) {
		fprintf(stderr,
			"Paste the refresh token for %s, then press Enter: ",
			account);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_interrupt; /* no SA_RESTART: read() stops */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	for (;;) {
		ssize_t n;

		if (interrupted) {
			fprintf(stderr, "\nxoauth: interrupted\n");
			goto out;
		}
		if (len + 1 >= cap) {
			fprintf(stderr,
				"xoauth: the refresh token is longer than %zu "
				"bytes\n",
				cap - 2);
			goto out;
		}
		n = read(STDIN_FILENO, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr,
				"xoauth: cannot read standard input: %s\n",
				strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (memchr(buf + len - (size_t)n, '\n', (size_t)n) != NULL)
			break;
	}
	buf[len] = '\0';
	/* Only the first line counts. */
	buf[strcspn(buf, "\n")] = '\0';
	r = (long)strlen(buf);
out:
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		if (!interrupted)
			fputc('\n', stderr);
	}
	return r;
}

static int cmd_import(const struct cli *cli, int argc, char *argv[])
{
	struct xo_client *c = NULL;
	char *buf = NULL, *tok;
	const size_t cap = IMPORT_MAX + 2;
	long len;
	size_t i;
	int r = EXIT_AGENT_FAILED, err;

	if (argc != 2 || argv[1][0] == '-')
		return usage_of(find_command(argv[0]));
	if ((buf = malloc(cap)) == NULL) {
		fprintf(stderr, "xoauth: out of memory\n");
		goto out;
	}
	if ((len = read_secret_line(argv[1], buf, cap)) < 0)
		goto out;
	/* Pasting picks up stray blanks and a CR; a token has neither. */
	while (len > 0 && strchr(" \t\r", buf[len - 1]) != NULL)
		buf[--len] = '\0';
	tok = buf + strspn(buf, " \t");
	if (tok[0] == '\0') {
		fprintf(stderr,
			"xoauth: %s: no refresh token on standard "
			"input (give it as one line, e.g. xoauth "
			"import NAME < token-file)\n",
			argv[1]);
		goto out;
	}
	for (i = 0; tok[i] != '\0'; i++) {
		if ((unsigned char)tok[i] <= 0x20 || tok[i] == 0x7f) {
			fprintf(stderr,
				"xoauth: %s: the refresh token contains "
				"blanks or control characters; give only the "
				"token\n",
				argv[1]);
			goto out;
		}
	}
	if ((r = connect_agent(cli, &c)) != 0)
		goto out;
	if ((err = xo_import(c, argv[1], tok)) != 0) {
		r = report(cli, c, argv[1], err);
		goto out;
	}
	fprintf(stderr, "%s: refresh token imported\n", argv[1]);
	r = 0;
out:
	if (buf != NULL) {
		explicit_bzero(buf, cap);
		free(buf);
	}
	xo_client_free(c);
	return r;
}

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

static int cmd_login(const struct cli *cli, int argc, char *argv[])
{
	struct xo_login l = {0};
	struct xo_client *c = NULL;
	const char *account;
	uint64_t deadline;
	int r = EXIT_AGENT_FAILED, err;

	if (argc != 2 || argv[1][0] == '-')
		return usage_of(find_command(argv[0]));
	account = argv[1];
	if ((r = connect_agent(cli, &c)) != 0)
		goto out;
	if ((err = xo_login_start(c, account, &l)) != 0) {
		r = report(cli, c, account, err);
		goto out;
	}
	sanitize(l.verification_uri);
	sanitize(l.verification_uri_complete);
	sanitize(l.user_code);
	/* No URL: nothing for the user to do (an app account got its token
	   with the client's credentials); LOGIN_WAIT confirms at once. */
	if (l.verification_uri[0] == '\0')
		goto wait;
	fprintf(stderr, "To sign in to %s, open %s and enter the code %s\n",
		account, l.verification_uri, l.user_code);
	if (l.verification_uri_complete[0] != '\0')
		fprintf(stderr, "(or open %s, which has the code filled in)\n",
			l.verification_uri_complete);
	if (l.expires_in > 0)
		fprintf(stderr,
			"Waiting for you to sign in; the code expires in %u "
			"minutes.\n",
			(l.expires_in + 59) / 60);
wait:
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
	xo_client_free(c);
	return r;
}

static int cmd_status(const struct cli *cli, int argc, char *argv[])
{
	struct xo_account *list = NULL;
	struct xo_client *c = NULL;
	size_t count = 0, i, attention = 0;
	int r = EXIT_AGENT_FAILED, err;

	if (argc != 1)
		return usage_of(find_command(argv[0]));
	if ((r = connect_agent(cli, &c)) != 0)
		goto out;
	if ((err = xo_list(c, &list, &count)) != 0) {
		r = report(cli, c, NULL, err);
		goto out;
	}
	for (i = 0; i < count; i++)
		if (list[i].state == STATE_NEED_LOGIN ||
		    list[i].state == STATE_REAUTH ||
		    list[i].state == STATE_CONFIG_ERROR)
			attention++;
	printf("agent:    %s\n", xo_client_agent_version(c));
	printf("socket:   %s\n",
	       socket_path(cli) != NULL ? socket_path(cli) : "?");
	printf("accounts: %zu", count);
	if (attention > 0)
		printf(" (%zu need%s attention: see 'xoauth list')", attention,
		       attention == 1 ? "s" : "");
	printf("\n");
	r = fflush(stdout) == 0 ? 0 : EXIT_AGENT_FAILED;
out:
	xo_accounts_free(list, count);
	xo_client_free(c);
	return r;
}

static int cmd_help(const struct cli *cli, int argc, char *argv[]);

static const struct command commands[] = {
    {"token", cmd_token, "ACCOUNT",
     "print an access token (for msmtp passwordeval, mutt)"},
    {"xoauth2", cmd_xoauth2, "ACCOUNT",
     "print a base64 SASL XOAUTH2 initial response"},
    {"oauthbearer", cmd_oauthbearer, "ACCOUNT [--host HOST] [--port PORT]",
     "print a base64 SASL OAUTHBEARER initial response"},
    {"list", cmd_list, "", "list accounts, their state and token expiry"},
    {"refresh", cmd_refresh, "ACCOUNT", "refresh the access token now"},
    {"remove", cmd_remove, "ACCOUNT", "forget an account's tokens"},
    {"import", cmd_import, "ACCOUNT",
     "hand the agent a refresh token read from stdin"},
    {"login", cmd_login, "ACCOUNT", "sign in (device flow) and wait"},
    {"status", cmd_status, "", "show the agent's version and socket"},
    {"help", cmd_help, "[COMMAND]", "show this help"},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < COMMAND_COUNT; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_usage_line(FILE *f)
{
	fprintf(f, "usage: xoauth [-s SOCKET] [--wait SECONDS] "
		   "[--min-valid SECONDS] COMMAND [ARGS]\n");
}

static int cmd_help(const struct cli *cli, int argc, char *argv[])
{
	const struct command *cmd;
	size_t i;

	(void)cli;
	if (argc > 2)
		return usage_of(find_command(argv[0]));
	if (argc == 2) {
		if ((cmd = find_command(argv[1])) == NULL) {
			fprintf(stderr, "xoauth: unknown command '%s'\n",
				argv[1]);
			return EXIT_USAGE;
		}
		printf("usage: xoauth %s%s%s\n  %s\n", cmd->name,
		       cmd->args[0] != '\0' ? " " : "", cmd->args, cmd->help);
		return 0;
	}
	print_usage_line(stdout);
	printf("\nCommands:\n");
	for (i = 0; i < COMMAND_COUNT; i++)
		printf("  %s%s%s\n      %s\n", commands[i].name,
		       commands[i].args[0] != '\0' ? " " : "", commands[i].args,
		       commands[i].help);
	printf("\nOptions:\n"
	       "  -s SOCKET            agent socket (default: "
	       "$" XO_AUTH_SOCK_ENV ")\n"
	       "  --wait SECONDS       longest wait for a refresh "
	       "(default %d)\n"
	       "  --min-valid SECONDS  least remaining token lifetime\n"
	       "  --version            print the version\n"
	       "\nExit status: 0 success, 1 the agent refused, "
	       "2 no agent reachable.  See xoauth(1).\n",
	       DEFAULT_WAIT_S);
	return 0;
}

int main(int argc, char *argv[])
{
	struct cli cli = {.wait_ms = DEFAULT_WAIT_S * 1000u};
	const struct command *cmd;
	const char *value = NULL;
	unsigned v;
	int i, m;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			return cmd_help(&cli, 1, (char *[]){"help", NULL});
		}
		if (strcmp(argv[i], "-V") == 0 ||
		    strcmp(argv[i], "--version") == 0) {
			printf("xoauth %s\n", XO_VERSION);
			return 0;
		}
		if ((m = option_value(argc, argv, &i, "-s", &value)) != 0) {
			if (m < 0 || value[0] == '\0') {
				fprintf(stderr, "xoauth: -s wants a socket "
						"path\n");
				goto usage;
			}
			cli.socket = value;
		} else if ((m = option_value(argc, argv, &i, "--wait",
					     &value)) != 0) {
			if (m < 0 || parse_uint(value, MAX_WAIT_S, &v) != 0) {
				fprintf(stderr,
					"xoauth: --wait wants seconds, 0 to "
					"%d\n",
					MAX_WAIT_S);
				goto usage;
			}
			cli.wait_ms = v * 1000u;
		} else if ((m = option_value(argc, argv, &i, "--min-valid",
					     &value)) != 0) {
			if (m < 0 ||
			    parse_uint(value, MAX_MIN_VALID_S, &v) != 0) {
				fprintf(stderr,
					"xoauth: --min-valid wants seconds, 0 "
					"to %d\n",
					MAX_MIN_VALID_S);
				goto usage;
			}
			cli.min_valid = v;
		} else {
			fprintf(stderr, "xoauth: unknown option '%s'\n",
				argv[i]);
			goto usage;
		}
	}
	if (i >= argc)
		goto usage;
	if ((cmd = find_command(argv[i])) == NULL) {
		fprintf(stderr,
			"xoauth: unknown command '%s' (see 'xoauth help')\n",
			argv[i]);
		goto usage;
	}
	return cmd->run(&cli, argc - i, argv + i);
usage:
	print_usage_line(stderr);
	return EXIT_USAGE;
}
