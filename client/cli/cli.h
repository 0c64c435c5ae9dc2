/*
 * cli.h: what the files of the xoauth command share.
 *
 * Exit status, after ssh-add: 0 success; 1 the agent answered with a
 * failure (or the command line was wrong); 2 no usable agent.  Messages go
 * to stderr and say what happened and what to do; stdout carries only what
 * a command was asked to print, so `passwordeval "xoauth token work"` reads
 * the token and nothing else.
 */
#ifndef XO_CLI_H
#define XO_CLI_H

#include <stddef.h>

#include <xoauth/xo.h>

#ifndef XO_VERSION
#define XO_VERSION "unknown"
#endif

#define EXIT_AGENT_FAILED 1
#define EXIT_USAGE 1
#define EXIT_NO_AGENT 2

#define DEFAULT_WAIT_S 10
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

/* main.c */
const struct command *find_command(const char *name);
/* Prints the command's usage line; returns EXIT_USAGE. */
int usage(const char *name);

/* report.c: talking to the agent and explaining what went wrong. */
const char *socket_path(const struct cli *cli);
/* Connects; on failure explains it and returns the exit status. */
int connect_agent(const struct cli *cli, struct xo_client **out);
/* Explains a failed call (account may be NULL); returns the exit status. */
int report(const struct cli *cli, const struct xo_client *c,
	   const char *account, int err);
/* Flushes stdout, saying so when it fails; returns the exit status. */
int finish_stdout(void);

/* args.c: small parsers and output helpers. */
/* A decimal number in [0, max]; no sign, no spaces, no suffix. */
int parse_uint(const char *s, unsigned long max, unsigned *out);
/*
 * Matches option name at argv[*i], as "name VALUE" or "name=VALUE", and
 * moves *i past it.  Returns 1 on a match with *value set, 0 when argv[*i]
 * is another option, -1 when the value is missing.
 */
int option_value(int argc, char *argv[], int *i, const char *name,
		 const char **value);
int write_all(int fd, const char *p, size_t len);
/* Replaces control characters, which the agent may have passed on from a
 * provider, before they reach the terminal. */
void sanitize(char *s);
/*
 * Reads one line from stdin into buf (at most cap - 1 bytes), without echo
 * when stdin is a terminal, after showing prompt there.  Returns the
 * length, or -1 with a message printed.
 */
long read_secret_line(const char *prompt, char *buf, size_t cap);

/* browser.c: starts $BROWSER, or xdg-open when there is a display, on
 * url without waiting for it; 1 when one was started. */
int open_browser(const char *url);

/* The commands. */
int cmd_token(const struct cli *cli, int argc, char *argv[]);
int cmd_xoauth2(const struct cli *cli, int argc, char *argv[]);
int cmd_oauthbearer(const struct cli *cli, int argc, char *argv[]);
int cmd_list(const struct cli *cli, int argc, char *argv[]);
int cmd_refresh(const struct cli *cli, int argc, char *argv[]);
int cmd_remove(const struct cli *cli, int argc, char *argv[]);
int cmd_status(const struct cli *cli, int argc, char *argv[]);
int cmd_import(const struct cli *cli, int argc, char *argv[]);
int cmd_login(const struct cli *cli, int argc, char *argv[]);
int cmd_add(const struct cli *cli, int argc, char *argv[]);
int cmd_delete(const struct cli *cli, int argc, char *argv[]);
int cmd_lock(const struct cli *cli, int argc, char *argv[]);
int cmd_unlock(const struct cli *cli, int argc, char *argv[]);
int cmd_export(const struct cli *cli, int argc, char *argv[]);
int cmd_restore(const struct cli *cli, int argc, char *argv[]);
int cmd_doctor(const struct cli *cli, int argc, char *argv[]);
int cmd_sendmail(const struct cli *cli, int argc, char *argv[]);

/* login.c: signs account in over the connection c with flow (NULL: the
 * account's own), showing the user what to do and waiting until the agent
 * says it is done; returns the exit status.  `xoauth login` and `xoauth
 * add --login` share it. */
int login_run(const struct cli *cli, struct xo_client *c, const char *account,
	      const char *flow, int no_browser);

#endif
