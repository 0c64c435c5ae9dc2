/*
 * vault.h: the agent's vault at run time (DESIGN.md, "Vault";
 * PROTOCOL.md 4.10).  The file image is pure/image.h's, the files on disk
 * io.h's; this is what the rest of the agent sees:
 *
 * - whether the agent is locked (no secret in memory; requests that need
 *   one fail with XO_ERR_LOCKED and nothing is refreshed);
 * - vault_persist(): "write what this account holds now" (or every
 *   account); the changes of a turn of the loop are appended to the
 *   vault file as one record of its journal, off the loop, one write at a
 *   time, and the account store is told when each has ended (so that a
 *   rotated refresh token is on disk before the new access token is
 *   served: account/durable.c); the journal is folded into a new base
 *   once it has grown past half the base;
 * - the LOCK, UNLOCK, EXPORT and RESTORE requests.
 *
 * state.c owns the state and the start-up, write.c the writes (appends
 * and new bases), records.c the plain text (JSON) of the accounts and the
 * replay of the journal, unlock.c LOCK and
 * UNLOCK, export.c EXPORT and RESTORE, kdf.c the key derivations they
 * wait for.  The vault reads and changes accounts only through
 * account/account.h.
 */
#ifndef XO_VAULT_H
#define XO_VAULT_H

#include <stdint.h>

#include "core/dispatch.h"

struct agent;
struct agent_err;

/*
 * Before the fork, with the config read: finds the vault's path ([agent]
 * vault, else $XDG_DATA_HOME/xoauth/vault) and its key file
 * (vault_key_file, or $CREDENTIALS_DIRECTORY/vault-key), takes its lock
 * and checks the file.  0, or the reason in err: the agent must not start
 * (a vault in use by another agent, damaged, foreign or newer, a key file
 * others can read or that does not open it).
 */
int vault_prepare(struct agent *a, struct agent_err *err);
/*
 * In the agent, after the accounts are loaded: with a key, opens and loads
 * the vault (or waits for the first change to make it); a passphrase vault
 * leaves the agent locked.  0 or the reason in err.
 */
int vault_start(struct agent *a, struct agent_err *err);
/* At stop, with the accounts still there: what has not reached the disk
   yet is sealed now, to be written by vault_free(). */
void vault_stop(struct agent *a);
/* After the loop has ended: writes what vault_stop() sealed,
   releases the lock, frees everything. */
void vault_free(struct agent *a);

/* 1 while the agent is locked. */
int vault_locked(const struct agent *a);
/* What LIST shows on every account: "locked: ...", a failed write; NULL
   when all is well. */
const char *vault_problem(const struct agent *a);

/*
 * Asks for the account named name as it is now to be written (name NULL:
 * anything may have changed, every account is written).  Returns 0 when
 * nothing is written (no vault open): the caller goes on at once; else
 * the number of the change, which account_store_written() reports once
 * it is on disk.
 */
uint64_t vault_persist(struct agent *a, const char *name);
/* The same for the "presented" mark of the account named name alone: a
   record of its name, not of its refresh token (vault/records.c). */
uint64_t vault_persist_mark(struct agent *a, const char *name);
/* After a reload: gives the tokens the vault kept for accounts it did not
   know to those the new config has, and writes. */
void vault_reloaded(struct agent *a);

/* The requests (the table in daemon/requests.c). */
void vault_handle_lock(struct agent_request *q);
void vault_handle_unlock(struct agent_request *q);
void vault_handle_export(struct agent_request *q);
void vault_handle_restore(struct agent_request *q);

#endif
