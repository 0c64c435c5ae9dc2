/*
 * xoauth: the command-line client of xoauth-agent.
 *
 * A table of subcommands, as wireguard-tools' wg(8), each in a file of its
 * own.  It links libxoauth and libc only: msmtp starts it for every
 * message, so it must start fast.  See cli.h for the exit statuses.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define MAX_WAIT_S 3600
#define MAX_MIN_VALID_S 86400

int usage(const char *name)
{
	const struct command *cmd = find_command(name);

	if (cmd != NULL)
		fprintf(stderr, "usage: xoauth %s%s%s\n", cmd->name,
			cmd->args[0] != '\0' ? " " : "", cmd->args);
	return EXIT_USAGE;
}

static int cmd_help(const struct cli *cli, int argc, char *argv[]);

static const struct command commands[] = {
    {"token", cmd_token, "ACCOUNT [--scope SCOPE]",
     "print an access token (for msmtp passwordeval, mutt); with --scope, "
     "one of another scope the account keeps (graph_scope)"},
    {"xoauth2", cmd_xoauth2, "ACCOUNT [--scope SCOPE]",
     "print a base64 SASL XOAUTH2 initial response"},
    {"oauthbearer", cmd_oauthbearer,
     "ACCOUNT [--host HOST] [--port PORT] [--scope SCOPE]",
     "print a base64 SASL OAUTHBEARER initial response"},
    {"list", cmd_list, "", "list accounts, their state and token expiry"},
    {"refresh", cmd_refresh, "ACCOUNT", "refresh the access token now"},
    {"remove", cmd_remove, "ACCOUNT", "forget an account's tokens"},
    {"import", cmd_import, "ACCOUNT",
     "hand the agent a refresh token read from stdin"},
    {"login", cmd_login, "ACCOUNT [--flow device|browser|paste] [--no-browser]",
     "sign in (the account's flow, or the one named) and wait"},
    {"add", cmd_add,
     "NAME --provider P --client-id ID [--email ADDR] [--tenant T] "
     "[--scopes S] [--flow F] [--issuer URL] [--set KEY=VALUE ...] "
     "[--client-secret-stdin] [--login]",
     "add an account to the running agent (kept in its vault, if any)"},
    {"delete", cmd_delete, "NAME",
     "delete an account added with 'add', tokens and all"},
    {"lock", cmd_lock, "",
     "wipe the agent's secrets from memory until unlocked"},
    {"unlock", cmd_unlock, "",
     "unlock the agent's vault (the first unlock creates it)"},
    {"export", cmd_export, "[FILE]",
     "write the accounts and tokens, sealed with a new passphrase"},
    {"restore", cmd_restore, "FILE", "add the accounts of an export"},
    {"status", cmd_status, "", "show the agent's version and socket"},
    {"doctor", cmd_doctor, "ACCOUNT [--smtp HOST[:PORT]] [--imap HOST[:PORT]]",
     "explain what is wrong with an account, with the fix; with --smtp or "
     "--imap, try a real login there"},
    {"sendmail", cmd_sendmail,
     "[-t] [-i] [-f ADDR] [-F NAME] [-a ACCOUNT] [-v] [--] [RECIPIENT ...]",
     "send the message on stdin through the account's transport, as "
     "sendmail(8) does (exit status from sysexits.h)"},
    {"help", cmd_help, "[COMMAND]", "show this help"},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

const struct command *find_command(const char *name)
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
		return usage(argv[0]);
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
	const char *base;
	unsigned v;
	int i, m;

	/* Installed as "sendmail" (a link to xoauth), it is sendmail, and
	   every argument is sendmail's. */
	base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	base = base != NULL ? base + 1 : argc > 0 ? argv[0] : "";
	if (strcmp(base, "sendmail") == 0)
		return cmd_sendmail(&cli, argc, argv);

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
