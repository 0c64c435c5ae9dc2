/*
 * add.c: add an account to the running agent, and delete it again.
 *
 * The options are the keys of xoauth.conf(5)'s [account NAME] section; the
 * agent checks them with the code that checks that file, so this only
 * gathers them.  A client secret never comes from the command line, where
 * every user on the machine can read it (ps, /proc/PID/cmdline): it is read
 * from standard input, or named as a command with client_secret_cmd.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The protocol's limit on settings in one ADD (PROTOCOL.md 4.8). */
#define MAX_SETTINGS 64
/* Longest client secret read from standard input. */
#define SECRET_MAX 4096

/* The options that stand for one key each. */
static const struct {
	const char *option, *key;
} key_options[] = {
    {"--provider", "provider"}, {"--client-id", "client_id"},
    {"--email", "email"},	{"--tenant", "tenant"},
    {"--scopes", "scopes"},	{"--flow", "flow"},
    {"--issuer", "issuer"},
};

#define SECRET_HINT                                                            \
	"a client secret on the command line is visible to every user (ps): "  \
	"use --client-secret-stdin, or --set client_secret_cmd=COMMAND"

struct add_args {
	const char *name;
	struct xo_setting s[MAX_SETTINGS];
	size_t n;
	int login;
	int secret_stdin;
};

static int add_setting(struct add_args *a, const char *key, const char *value)
{
	if (a->n == MAX_SETTINGS) {
		fprintf(stderr, "xoauth: add: more than %d settings\n",
			MAX_SETTINGS);
		return -1;
	}
	a->s[a->n].key = key;
	a->s[a->n].value = value;
	a->n++;
	return 0;
}

/* Takes --set KEY=VALUE apart in place; -1 after saying what is wrong. */
static int set_option(struct add_args *a, char *kv)
{
	char *eq = strchr(kv, '=');

	if (eq == NULL || eq == kv) {
		fprintf(stderr,
			"xoauth: add: --set wants KEY=VALUE, e.g. --set "
			"token_endpoint=https://id.example/token\n");
		return -1;
	}
	*eq = '\0';
	if (strcmp(kv, "client_secret") == 0) {
		fprintf(stderr, "xoauth: add: " SECRET_HINT "\n");
		return -1;
	}
	return add_setting(a, kv, eq + 1);
}

static int parse_args(int argc, char *argv[], struct add_args *a)
{
	const char *value;
	size_t k;
	int i, m;

	memset(a, 0, sizeof(*a));
	if (argc < 2 || argv[1][0] == '-')
		return -1;
	a->name = argv[1];
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--login") == 0) {
			a->login = 1;
			continue;
		}
		if (strcmp(argv[i], "--client-secret-stdin") == 0) {
			a->secret_stdin = 1;
			continue;
		}
		if (strncmp(argv[i], "--client-secret", 15) == 0) {
			fprintf(stderr, "xoauth: add: " SECRET_HINT "\n");
			return -1;
		}
		if ((m = option_value(argc, argv, &i, "--set", &value)) != 0) {
			/* value points into argv, which is ours to cut. */
			if (m < 0 || set_option(a, (char *)value) != 0)
				return -1;
			continue;
		}
		for (k = 0; k < sizeof(key_options) / sizeof(key_options[0]);
		     k++) {
			m = option_value(argc, argv, &i, key_options[k].option,
					 &value);
			if (m != 0)
				break;
		}
		if (m == 0) {
			fprintf(stderr, "xoauth: add: unknown option '%s'\n",
				argv[i]);
			return -1;
		}
		if (m < 0 || add_setting(a, key_options[k].key, value) != 0)
			return -1;
	}
	return 0;
}

/* Explains a failed ADD; returns the exit status. */
static int report_add(const struct cli *cli, const struct xo_client *c,
		      const char *name, int err)
{
	switch (err) {
	case XO_ERR_CONFIG:
		/* The agent's "KEY: problem" names the option to fix. */
		fprintf(stderr, "xoauth: add %s: %s\n", name,
			xo_client_message(c));
		return EXIT_AGENT_FAILED;
	case XO_ERR_EXISTS:
		fprintf(stderr, "xoauth: add %s: %s (choose another name)\n",
			name, xo_client_message(c));
		return EXIT_AGENT_FAILED;
	default:
		return report(cli, c, name, err);
	}
}

int cmd_add(const struct cli *cli, int argc, char *argv[])
{
	struct add_args a;
	struct xo_client *c = NULL;
	char *secret = NULL, prompt[200];
	long len;
	int r = EXIT_USAGE, err;

	if (parse_args(argc, argv, &a) != 0)
		return usage(argv[0]);
	if (a.secret_stdin) {
		if ((secret = malloc(SECRET_MAX + 2)) == NULL) {
			fprintf(stderr, "xoauth: out of memory\n");
			goto out;
		}
		snprintf(prompt, sizeof(prompt),
			 "Client secret for %s, then Enter: ", a.name);
		len = read_secret_line(prompt, secret, SECRET_MAX + 2);
		/* A file written on Windows ends its line in CR. */
		if (len > 0 && secret[len - 1] == '\r')
			secret[--len] = '\0';
		if (len <= 0) {
			fprintf(stderr,
				"xoauth: add %s: no client secret on standard "
				"input\n",
				a.name);
			goto out;
		}
		if (add_setting(&a, "client_secret", secret) != 0)
			goto out;
	}
	if ((r = connect_agent(cli, &c)) != 0)
		goto out;
	/* An agent that cannot be asked at all fails xo_add() below with
	   the reason, which says more than "too old". */
	if (!xo_client_has_cap(c, "add") &&
	    xo_client_agent_version(c)[0] != '\0') {
		fprintf(stderr,
			"xoauth: %s cannot add accounts at run time; put "
			"[account %s] in " CONFIG_HINT " instead\n",
			xo_client_agent_version(c), a.name);
		r = EXIT_AGENT_FAILED;
		goto out;
	}
	if ((err = xo_add(c, a.name, a.s, a.n)) != 0) {
		r = report_add(cli, c, a.name, err);
		goto out;
	}
	fprintf(stderr,
		"%s: added; the agent keeps it until it stops ('xoauth "
		"delete %s' removes it)\n",
		a.name, a.name);
	r = a.login ? login_run(cli, c, a.name, NULL, 0) : 0;
out:
	if (secret != NULL) {
		explicit_bzero(secret, SECRET_MAX + 2);
		free(secret);
	}
	xo_client_free(c);
	return r;
}

int cmd_delete(const struct cli *cli, int argc, char *argv[])
{
	struct xo_client *c = NULL;
	int r, err;

	if (argc != 2 || argv[1][0] == '-')
		return usage(argv[0]);
	if ((r = connect_agent(cli, &c)) != 0)
		goto out;
	err = xo_delete(c, argv[1]);
	if (err == XO_ERR_CONFIGURED) {
		fprintf(stderr, "xoauth: delete: %s\n", xo_client_message(c));
		r = EXIT_AGENT_FAILED;
	} else if (err != 0) {
		r = report(cli, c, argv[1], err);
	} else {
		fprintf(stderr, "%s: deleted\n", argv[1]);
		r = 0;
	}
out:
	xo_client_free(c);
	return r;
}
