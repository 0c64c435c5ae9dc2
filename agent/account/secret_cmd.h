/*
 * secret_cmd.h: the client secret from `client_secret_cmd`
 * (xoauth.conf(5)).
 *
 * The command runs (spawn.h) only when a grant needs the secret and none
 * is held: the first refresh, login or client_credentials grant, again
 * after the provider refused the client (the secret may have been
 * rotated), and after a reload.  The first line of its output is sealed
 * like every other secret (secret.h); the rest is wiped unread.  A command
 * that fails, runs past [agent] secret_cmd_timeout or prints nothing
 * leaves no secret and a message that names the failure (exit status,
 * signal, timeout), never the output.
 */
#ifndef XO_ACCOUNT_SECRET_CMD_H
#define XO_ACCOUNT_SECRET_CMD_H

#include <stdbool.h>
#include <stddef.h>

struct account;

/* Told when client_secret_cmd has run; err 0 means the account holds
   the secret now. */
typedef void (*agent_secret_ready_cb)(struct account *acct, int err);

/* Most bytes of output read; the secret is the first line of them. */
#define AGENT_SECRET_CMD_MAX_OUTPUT 8192

/*
 * Makes sure the account holds its client secret.  0 with *running false:
 * it does (or the account has no client_secret_cmd): go on now.  0 with
 * *running true: the command runs, and cb(acct, err) follows from the
 * loop, with err 0 (the secret is held) or XO_ERR_CONFIG with the reason
 * in the account's last error (its state untouched).  Else XO_ERR_BUSY
 * (someone else already waits for it), XO_ERR_NOMEM, or XO_ERR_CONFIG when
 * it could not be started (the reason in the last error), and cb is not
 * called.
 */
int agent_secret_cmd_fetch(struct account *acct, agent_secret_ready_cb cb,
			   bool *running);
/* 1 when cb is the one waiting for the running command. */
int agent_secret_cmd_waits(const struct account *acct,
			   agent_secret_ready_cb cb);

/* 1 when the account's secret comes from client_secret_cmd. */
int agent_secret_cmd_used(const struct account *acct);

/* Drops a secret that came from the command, so that the next fetch runs
   it again.  A secret written in the config stays. */
void agent_secret_cmd_forget(struct account *acct);

/* Stops a running command without calling back (account removal). */
void agent_secret_cmd_cancel(struct account *acct);

/*
 * Pure: the secret in out, the command's output (len bytes, in place):
 * its first line without the line end and surrounding blanks.  Returns
 * the secret's length, 0 when the first line is empty.  Writes nothing;
 * the caller seals out[start, start + len).
 */
size_t agent_secret_cmd_first_line(const char *out, size_t len, size_t *start);

#endif
