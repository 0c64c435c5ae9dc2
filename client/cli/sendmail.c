/*
 * sendmail.c: `xoauth sendmail`, a sendmail(8) for programs that hand
 * their mail to one (PHP's mail(), cron, mailx, git send-email --sendmail
 * ...): the message on standard input, recipients as arguments (or from
 * its header with -t), and sendmail's exit statuses (sysexits.h).  The
 * agent sends it through the account's transport (xo_send()).
 *
 * Options as sendmail and Postfix's sendmail have them: -t, -i and -oi,
 * -f ADDR (and -r), -F NAME, -v; -a ACCOUNT names the account.  Options
 * that only tune a real MTA (-oXXX, -BXXX, -NXXX, -RXXX, -VXXX, -em,
 * -odb ...) are accepted and ignored, so that callers that pass them
 * work; modes other than sending (-bs, -bp, -q ...) are refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "proto.h"

#define READ_CHUNK 65536

struct sendmail {
	struct xo_send_opts o;
	const char **rcpts;
	int dot_ends; /* without -i: a line of "." alone ends the message */
	int verbose;
};

/* The exit status for an error of libxoauth or the agent. */
static int exit_status(int err)
{
	switch (err) {
	case XO_ERR_MESSAGE_BAD:
	case XO_ERR_INVALID:
	case XO_ERR_MSG_BAD:
		return EX_DATAERR;
	case XO_ERR_RCPT_REFUSED:
		return EX_NOUSER;
	case XO_ERR_SEND_REFUSED:
	case XO_ERR_MSG_UNKNOWN:
	case XO_ERR_RESTRICTED:
		return EX_UNAVAILABLE;
	case XO_ERR_NO_ACCOUNT:
	case XO_ERR_CONFIG:
	case XO_ERR_PROVIDER_CONFIG:
	case XO_ERR_UNSUPPORTED_FLOW:
		return EX_CONFIG;
	case XO_ERR_LOGIN_NEEDED:
	case XO_ERR_LOCKED:
	case XO_ERR_SEND_AUTH:
		return EX_NOPERM;
	case XO_ERR_NOMEM:
	case XO_ERR_INTERNAL:
		return EX_SOFTWARE;
	default:
		/* No agent, a busy one, a refresh or a server that failed
		   for now: try again later. */
		return EX_TEMPFAIL;
	}
}

/* Where a line of "." alone begins in p (len bytes), or -1. */
static long dot_line(const char *p, size_t len, size_t from)
{
	size_t i;

	for (i = from; i < len; i++) {
		if ((i == 0 || p[i - 1] == '\n') && p[i] == '.' &&
		    ((i + 1 < len && p[i + 1] == '\n') ||
		     (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')))
			return (long)i;
	}
	return -1;
}

/* Reads the message from stdin into *out; an exit status on failure. */
static int read_message(int dot_ends, char **out, size_t *outlen)
{
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, scanned = 0;
	long dot;
	ssize_t n;

	for (;;) {
		if (cap - len < READ_CHUNK) {
			if (cap >= PROTO_MAX_MAIL + (size_t)READ_CHUNK) {
				free(buf);
				fprintf(
				    stderr,
				    "xoauth sendmail: the message is larger "
				    "than %d bytes\n",
				    PROTO_MAX_MAIL);
				return EX_DATAERR;
			}
			cap = cap == 0 ? 2 * READ_CHUNK : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				fprintf(stderr, "xoauth sendmail: out of "
						"memory\n");
				return EX_OSERR;
			}
			buf = nb;
		}
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr,
				"xoauth sendmail: cannot read the message: "
				"%s\n",
				strerror(errno));
			free(buf);
			return EX_IOERR;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		/* sendmail's rule without -i: the message ends at a line of
		   "." alone (a line may have come in two reads). */
		if (dot_ends &&
		    (dot = dot_line(buf, len, scanned > 2 ? scanned - 2 : 0)) >=
			0) {
			len = (size_t)dot;
			break;
		}
		scanned = len;
	}
	if (len > PROTO_MAX_MAIL) {
		free(buf);
		fprintf(stderr,
			"xoauth sendmail: the message is larger than %d "
			"bytes\n",
			PROTO_MAX_MAIL);
		return EX_DATAERR;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* The value of -f ADDR / -fADDR style options; NULL when missing. */
static const char *option_arg(int argc, char *argv[], int *i)
{
	if (argv[*i][2] != '\0')
		return argv[*i] + 2;
	if (*i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int bad_usage(const char *what)
{
	fprintf(stderr, "xoauth sendmail: %s\n", what);
	fprintf(stderr, "usage: xoauth sendmail [-t] [-i] [-f ADDR] [-F NAME] "
			"[-a ACCOUNT] [-v] [--] [RECIPIENT ...]\n");
	return EX_USAGE;
}

/* The options; 0, or the exit status of a bad command line. */
static int parse(struct sendmail *sm, int argc, char *argv[])
{
	const char *v;
	int i, n = 0;

	sm->dot_ends = 1;
	if ((sm->rcpts = calloc((size_t)argc, sizeof(*sm->rcpts))) == NULL)
		return EX_OSERR;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++)
				sm->rcpts[n++] = argv[i];
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			sm->rcpts[n++] = a;
			continue;
		}
		switch (a[1]) {
		case 't':
			if (a[2] != '\0')
				return bad_usage("unknown option");
			sm->o.rcpts_from_headers = 1;
			break;
		case 'i':
			sm->dot_ends = 0;
			break;
		case 'v':
			sm->verbose = 1;
			break;
		case 'f':
		case 'r':
			if ((v = option_arg(argc, argv, &i)) == NULL)
				return bad_usage("-f wants an address");
			/* "<>" is the null sender of bounces: the account's
			   own address stands in. */
			sm->o.from = strcmp(v, "<>") == 0 ? NULL : v;
			break;
		case 'F':
			if ((v = option_arg(argc, argv, &i)) == NULL)
				return bad_usage("-F wants a name");
			sm->o.fullname = v;
			break;
		case 'a':
			if ((v = option_arg(argc, argv, &i)) == NULL)
				return bad_usage("-a wants an account");
			sm->o.account = v;
			break;
		case 'o':
			/* -oi is -i; other -oX tune an MTA's queue. */
			if (strcmp(a, "-oi") == 0)
				sm->dot_ends = 0;
			break;
		case 'b':
			/* -bm is sending, the default; other modes are an
			   MTA's (SMTP on stdin, the queue, aliases). */
			if (strcmp(a, "-bm") != 0)
				return bad_usage("only sending (-bm) is "
						 "supported");
			break;
		case 'B':
		case 'N':
		case 'R':
		case 'V':
		case 'X':
		case 'L':
		case 'O':
			/* Value-taking MTA options: accepted, ignored. */
			if (a[2] == '\0' && i + 1 < argc)
				i++;
			break;
		case 'e':
		case 'd':
		case 'm':
		case 'n':
		case 'U':
		case 'G':
		case 'A':
		case 'C':
			break;
		default:
			return bad_usage("unknown option");
		}
	}
	sm->o.rcpts = sm->rcpts;
	sm->o.n_rcpts = (size_t)n;
	return 0;
}

int cmd_sendmail(const struct cli *cli, int argc, char *argv[])
{
	struct sendmail sm;
	struct xo_sent sent = {0};
	struct xo_client *c = NULL;
	char *msg = NULL;
	size_t len = 0;
	int r, err;

	memset(&sm, 0, sizeof(sm));
	if ((r = parse(&sm, argc, argv)) != 0)
		goto out;
	if (sm.o.n_rcpts == 0 && !sm.o.rcpts_from_headers) {
		r = bad_usage("no recipients: name them, or use -t to read "
			      "To, Cc and Bcc");
		goto out;
	}
	if ((r = read_message(sm.dot_ends, &msg, &len)) != 0)
		goto out;
	if (len == 0) {
		fprintf(stderr, "xoauth sendmail: the message is empty\n");
		r = EX_NOINPUT;
		goto out;
	}
	/* Past here every failure is the agent's or libxoauth's, and its
	   words say what happened. */
	if (xo_client_open(cli->socket, &c) != 0) {
		fprintf(stderr, "xoauth sendmail: %s (%s)\n",
			c != NULL ? xo_client_message(c) : "no agent reachable",
			START_HINT);
		r = EX_TEMPFAIL;
		goto out;
	}
	/* --wait bounds the token refresh; the send itself has the
	   agent's own wait, which is longer. */
	sm.o.wait_ms = cli->wait_ms > DEFAULT_WAIT_S * 1000u ? cli->wait_ms : 0;
	if ((err = xo_send(c, &sm.o, msg, len, &sent)) != 0) {
		fprintf(stderr, "xoauth sendmail: %s\n", xo_client_message(c));
		r = exit_status(err);
		goto out;
	}
	if (sent.notice != NULL && sent.notice[0] != '\0') {
		sanitize(sent.notice);
		fprintf(stderr, "xoauth sendmail: %s\n", sent.notice);
	}
	if (sm.verbose) {
		sanitize(sent.reply);
		fprintf(stderr, "xoauth sendmail: sent by %s: %s\n",
			sent.transport, sent.reply);
	}
	r = EX_OK;
out:
	xo_sent_free(&sent);
	xo_client_free(c);
	free(msg);
	free(sm.rcpts);
	return r;
}
