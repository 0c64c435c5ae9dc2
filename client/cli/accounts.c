/*
 * accounts.c: list, status, refresh and remove.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* Account states from a LIST reply: stable wire numbers (PROTOCOL.md). */
#define STATE_NEED_LOGIN 0
#define STATE_REAUTH 5
#define STATE_CONFIG_ERROR 6
#define STATE_IDLE 7

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

/*
 * What list and status start with: no arguments, a connection, the
 * accounts and their other scopes' tokens.  Returns 0, or the exit status
 * after explaining the failure.
 */
static int fetch_accounts(const struct cli *cli, int argc, char *argv[],
			  struct xo_client **c, struct xo_account **list,
			  size_t *count, struct xo_scope_token **tokens,
			  size_t *n_tokens)
{
	int r, err;

	if (argc != 1)
		return usage(argv[0]);
	if ((r = connect_agent(cli, c)) != 0)
		return r;
	if ((err = xo_list_scopes(*c, list, count, tokens, n_tokens)) != 0)
		return report(cli, *c, NULL, err);
	return 0;
}

/* A scope's token that needs someone: the provider refused the scope. */
static int scope_needs_attention(const struct xo_scope_token *t)
{
	return t->state == STATE_REAUTH || t->state == STATE_CONFIG_ERROR;
}

int cmd_list(const struct cli *cli, int argc, char *argv[])
{
	struct xo_account *list = NULL;
	struct xo_scope_token *tokens = NULL;
	struct xo_client *c = NULL;
	size_t count = 0, n_tokens = 0, i, k;
	int wn = 4, we = 5, ws = 5, r;
	char when[32];

	if ((r = fetch_accounts(cli, argc, argv, &c, &list, &count, &tokens,
				&n_tokens)) != 0)
		goto out;
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
		/* The tokens of other resources (Graph for send = graph):
		   why an API send fails shows here. */
		for (k = 0; k < n_tokens; k++) {
			const struct xo_scope_token *t = &tokens[k];

			if (strcmp(t->account, list[i].name) != 0)
				continue;
			sanitize(t->scope);
			sanitize(t->last_error);
			format_time(t->expires_at, when, sizeof(when));
			printf("%-*s  scope %s: %s", wn, "", t->scope,
			       t->state_name);
			if (t->expires_at != 0)
				printf(", expires %s", when);
			else if (t->state == STATE_IDLE)
				printf(" (no token yet: the first send gets "
				       "one)");
			printf("\n");
			if (t->last_error[0] != '\0')
				printf("%-*s    last error: %s\n", wn, "",
				       t->last_error);
		}
	}
	r = finish_stdout();
out:
	xo_scope_tokens_free(tokens, n_tokens);
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
		return usage(argv[0]);
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

int cmd_refresh(const struct cli *cli, int argc, char *argv[])
{
	return account_command(cli, argc, argv, 1);
}

int cmd_remove(const struct cli *cli, int argc, char *argv[])
{
	return account_command(cli, argc, argv, 0);
}

int cmd_status(const struct cli *cli, int argc, char *argv[])
{
	struct xo_account *list = NULL;
	struct xo_scope_token *tokens = NULL;
	struct xo_client *c = NULL;
	size_t count = 0, n_tokens = 0, i, k, attention = 0;
	int r, scope_bad;

	if ((r = fetch_accounts(cli, argc, argv, &c, &list, &count, &tokens,
				&n_tokens)) != 0)
		goto out;
	for (i = 0; i < count; i++) {
		for (k = 0, scope_bad = 0; k < n_tokens; k++)
			scope_bad |=
			    strcmp(tokens[k].account, list[i].name) == 0 &&
			    scope_needs_attention(&tokens[k]);
		if (list[i].state == STATE_NEED_LOGIN ||
		    list[i].state == STATE_REAUTH ||
		    list[i].state == STATE_CONFIG_ERROR || scope_bad)
			attention++;
	}
	printf("agent:    %s\n", xo_client_agent_version(c));
	printf("socket:   %s\n",
	       socket_path(cli) != NULL ? socket_path(cli) : "?");
	printf("accounts: %zu", count);
	if (attention > 0)
		printf(" (%zu need%s attention: see 'xoauth list')", attention,
		       attention == 1 ? "s" : "");
	printf("\n");
	/* What is wrong, account by account: the agent's own words, which
	   start with the account's name. */
	for (i = 0; i < count; i++) {
		sanitize(list[i].last_error);
		if (list[i].last_error == NULL || list[i].last_error[0] == '\0')
			continue;
		printf("  %s: %s\n", list[i].state_name, list[i].last_error);
	}
	/* And what the tokens of other scopes have to say, in the
	   agent's words too (they name the account and the scope). */
	for (k = 0; k < n_tokens; k++) {
		sanitize(tokens[k].last_error);
		if (tokens[k].last_error[0] != '\0')
			printf("  %s: %s\n", tokens[k].state_name,
			       tokens[k].last_error);
	}
	r = finish_stdout();
out:
	xo_scope_tokens_free(tokens, n_tokens);
	xo_accounts_free(list, count);
	xo_client_free(c);
	return r;
}
