/*
 * vault.h: the agent's vault at run time (DESIGN.md, "Vault";
 * PROTOCOL.md 4.10).  The file image is vault_file.h's, the files on disk
 * vault_io.h's; this is what the rest of the agent sees:
 *
 * - whether the agent is locked (no secret in memory; requests that need
 *   one fail with XO_ERR_LOCKED and nothing is refreshed);
 * - agent_vault_persist(): "write what the accounts hold now"; writes run
 *   one at a time off the loop, a newer state supersedes one not yet
 *   begun, and an account or a connection can wait for the write that
 *   holds its change (a rotated refresh token is on disk before the new
 *   access token is served);
 * - the LOCK, UNLOCK, EXPORT and RESTORE requests.
 *
 * vault_agent.c owns the state and the start-up, vault_write.c the write
 * queue, vault_store.c the plain text (JSON) of the accounts,
 * vault_unlock.c LOCK and UNLOCK, vault_export.c EXPORT and RESTORE.
 */
#ifndef XO_AGENT_VAULT_H
#define XO_AGENT_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "core/agent.h"

/*
 * Before the fork, with the config read: finds the vault's path ([agent]
 * vault, else $XDG_DATA_HOME/xoauth/vault) and its key file
 * (vault_key_file, or $CREDENTIALS_DIRECTORY/vault-key), takes its lock
 * and checks the file.  0, or an XO_ERR_* with msg for the user: the agent
 * must not start (a vault in use by another agent, damaged, foreign or
 * newer, a key file others can read or that does not open it).
 */
int agent_vault_prepare(struct agent *a, char *msg, size_t msglen);
/*
 * In the agent, after the accounts are loaded: with a key, opens and
 * loads the vault (or waits for the first change to make it); a
 * passphrase vault leaves the agent locked.  0 or XO_ERR_* with msg.
 */
int agent_vault_start(struct agent *a, char *msg, size_t msglen);
/* At stop, with the accounts still there: what has not reached the disk
   yet is sealed now, to be written by agent_vault_free(). */
void agent_vault_stop(struct agent *a);
/* After the loop has ended: writes what agent_vault_stop() sealed,
   releases the lock, frees everything. */
void agent_vault_free(struct agent *a);

/* 1 while the agent is locked. */
int agent_vault_locked(const struct agent *a);
/* 1 when changes are written to a vault (it is open). */
int agent_vault_open(const struct agent *a);
/* What LIST shows on every account: "locked: ...", a failed write; NULL
   when all is well. */
const char *agent_vault_problem(const struct agent *a);

/*
 * Asks for the accounts as they are now to be written.  Returns 0 when
 * nothing is written (no vault open): the caller goes on at once; else the
 * number of the write that will hold the change, to wait for with
 * agent_vault_wait() or agent_vault_reply_when_written().
 */
uint64_t agent_vault_persist(struct agent *a);
/* Calls done(acct) when write seq has ended (done or failed: a failure
   is reported and retried, and the agent keeps serving).  One wait per
   account; agent_account_unstage() cancels it. */
void agent_vault_wait(struct account *acct, uint64_t seq,
		      agent_durable_cb done);
/* Answers SUCCESS on c when write seq has ended (seq 0: now). */
void agent_vault_reply_when_written(struct conn *c, uint64_t seq);
/* After SIGHUP: gives the tokens the vault kept for accounts it did not
   know to those the new config has, and writes. */
void agent_vault_reloaded(struct agent *a);

/* The requests (dispatch.c). */
void agent_vault_lock_req(struct conn *c);
void agent_vault_unlock_req(struct conn *c,
			    const struct proto_passphrase_req *q);
void agent_vault_export_req(struct conn *c,
			    const struct proto_passphrase_req *q);
void agent_vault_restore_req(struct conn *c, const struct proto_restore_req *q);

#endif
