/*
 * unlock.c: LOCK and UNLOCK (PROTOCOL.md 4.10).
 *
 * LOCK takes every secret out of memory: refresh and access tokens,
 * client secrets, the settings of runtime accounts (which may hold one;
 * those accounts go until the vault brings them back) and the vault's
 * key.  Refreshes and logins in flight are cancelled and whoever waits is
 * told the agent is locked (account/lock.c).  What a write had still to
 * do is already sealed (write.c seals each change at once), so it reaches
 * the disk
 * without the key.  The per-process shield key stays: it protects nothing
 * once the sealed secrets are gone.
 *
 * UNLOCK derives the key in the thread pool and opens the newest state:
 * the file, and after it the records that a LOCK left to be written
 * (write.c; a write that runs ends first).  A wrong
 * passphrase is answered after a delay that doubles with each failure in
 * a row (1 s, 2 s, 4 s ... 30 s), by a timer: other clients go on being
 * served, and one UNLOCK runs at a time (another gets "busy").
 *
 * An agent whose vault opens with a key file refuses LOCK: the key is on
 * disk next to the vault, so locking would protect nothing, and
 * unlocking would need no secret.  Its UNLOCK answers SUCCESS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "account/account.h"
#include "core/conn.h"
#include "core/log.h"
#include "secret/secret.h"
#include "vault/io.h"
#include "vault/vault_internal.h"

#define DELAY_FIRST_MS 1000
#define DELAY_MAX_MS 30000

static const char locked_msg[] = "the agent was locked: run 'xoauth unlock'";

void vault_wipe_secrets(struct agent *a)
{
	struct agent_vault *v = a->vault;

	account_store_wipe(a->store, locked_msg);
	agent_secret_free(v->key);
	agent_secret_free(v->kept);
	v->key = NULL;
	v->kept = NULL;
}

/* After an unlock: the accounts get back what LOCK took that is not in
   the vault. */
static void after_unlock(struct agent *a)
{
	a->vault->failed_unlocks = 0;
	account_store_unlocked(a->store);
}

void vault_handle_lock(struct agent_request *q)
{
	struct conn *c = q->conn;
	struct agent *a = q->agent;
	struct agent_vault *v = a->vault;
	struct agent_err err;

	if (v == NULL || v->path == NULL || v->state == VAULT_NONE) {
		agent_conn_reply_failure(
		    c, XO_ERR_CONFIG,
		    "there is no vault yet, so nothing to unlock from: "
		    "'xoauth unlock' makes one with a passphrase");
		return;
	}
	if (v->key_file != NULL) {
		agent_err_set(&err, XO_ERR_CONFIG,
			      "this agent's vault opens with the key file %s, "
			      "which is on disk: locking would protect "
			      "nothing; stop the agent instead (xoauth-agent "
			      "-k)",
			      v->key_file);
		agent_conn_reply_err(c, &err);
		return;
	}
	if (v->state == VAULT_OPEN) {
		/* Locked first: wiping answers the waiters, and a request a
		   client pipelined behind one runs at once; it must find
		   the agent locked, not half wiped. */
		/* The changes not sealed yet go to the disk first. */
		vault_flush(a);
		v->state = VAULT_LOCKED;
		vault_wipe_secrets(a);
		account_store_schedule(a->store);
		log_info("locked: every token is out of memory until 'xoauth "
			 "unlock'");
	}
	agent_conn_reply_success(c);
}

static uint64_t next_delay(struct agent_vault *v)
{
	unsigned n = v->failed_unlocks++;
	uint64_t d = (uint64_t)DELAY_FIRST_MS << (n < 6 ? n : 6);

	return d > DELAY_MAX_MS ? DELAY_MAX_MS : d;
}

/* Ends an UNLOCK that failed for the key: slowed down, as a guess. */
static void wrong_key(struct vault_kdf_job *job, const char *msg)
{
	struct agent_vault *v = job->agent->vault;
	uint64_t delay = next_delay(v);

	log_error("unlock refused: wrong passphrase (attempt %u in a row; "
		  "answered in %llu ms)",
		  v->failed_unlocks, (unsigned long long)delay);
	/* unlocking stays set until the answer goes: no guessing around
	   the delay. */
	vault_kdf_fail_later(job, XO_ERR_WRONG_PASSPHRASE, msg, delay);
}

/* The start of UNLOCK's callbacks: the next UNLOCK may begin, and a
   derivation that failed, or ended as the agent stops, is answered here.
   Returns 1 when the job is answered and freed. */
static int kdf_ended_badly(struct vault_kdf_job *job)
{
	job->agent->vault->unlocking = 0;
	if (job->agent->stopping) {
		vault_kdf_reply(job, XO_ERR_BUSY, "the agent is stopping");
		return 1;
	}
	if (job->err != 0) {
		vault_kdf_reply(job, job->err, NULL);
		return 1;
	}
	return 0;
}

/* UNLOCK of a locked agent: the key is derived. */
static void opened(struct vault_kdf_job *job)
{
	struct agent *a = job->agent;
	struct agent_vault *v = a->vault;
	unsigned char *img = NULL;
	struct agent_err err;
	size_t len = 0;
	int r, adopt = 0;

	if (kdf_ended_badly(job))
		return;
	if (v->state != VAULT_LOCKED) {
		vault_kdf_reply(job, 0, NULL);
		return;
	}
	/* The newest state: records a LOCK left to be written are newer
	   than the file; a write that runs ends first. */
	agent_err_clear(&err);
	if ((r = vault_newest(a, job, opened, &img, &len, &adopt, &err)) == 1) {
		v->unlocking = 1;
		return;
	}
	if (r == 0)
		r = vault_open_image(a, job->key, img, len, adopt, &err);
	free(img);
	if (r == XO_ERR_WRONG_PASSPHRASE) {
		v->unlocking = 1;
		wrong_key(job, err.msg);
		return;
	}
	if (r != 0) {
		log_error("unlock failed: %s", agent_err_text(&err));
		vault_kdf_reply(job, r, err.msg);
		return;
	}
	after_unlock(a);
	log_info("unlocked");
	vault_kdf_reply(job, 0, NULL);
}

/* UNLOCK of an open agent: the passphrase must still be the vault's. */
static void checked(struct vault_kdf_job *job)
{
	struct agent *a = job->agent;
	struct agent_vault *v = a->vault;
	struct agent_plain *held = NULL;
	struct vault_key k;
	int same;

	v->unlocking = 0;
	if (job->err != 0) {
		vault_kdf_reply(job, job->err, NULL);
		return;
	}
	if (v->state != VAULT_OPEN || vault_key_borrow(a, &k, &held) != 0)
		return vault_kdf_reply(job, XO_ERR_BUSY,
				       "the vault changed state; try again");
	same = sodium_memcmp(k.key, job->key->key, VAULT_KEY_LEN) == 0;
	agent_plain_free(held);
	if (!same) {
		v->unlocking = 1;
		wrong_key(job, "wrong passphrase for the vault");
		return;
	}
	v->failed_unlocks = 0;
	vault_kdf_reply(job, 0, NULL);
}

/* UNLOCK with create: the new vault's key is derived. */
static void created(struct vault_kdf_job *job)
{
	struct agent *a = job->agent;
	struct agent_vault *v = a->vault;
	struct conn *c = job->conn;
	uint64_t seq;

	if (kdf_ended_badly(job))
		return;
	if (v->state != VAULT_NONE)
		return vault_kdf_reply(job, XO_ERR_BUSY,
				       "the vault changed state; try again");
	if (vault_keep_key(a, job->key) != 0) {
		vault_kdf_reply(job, XO_ERR_NOMEM, NULL);
		return;
	}
	v->state = VAULT_OPEN;
	vault_file_none(v);
	log_info("vault %s made with a passphrase", v->path);
	seq = vault_persist(a, NULL);
	job->conn = NULL;
	vault_kdf_free(job);
	/* The vault exists once it is on disk: the answer waits for it. */
	if (c != NULL)
		account_reply_when_durable(a->store, c, seq, true);
}

void vault_handle_unlock(struct agent_request *req)
{
	const struct proto_passphrase_req *q = &req->m.passphrase;
	struct conn *c = req->conn;
	struct agent *a = req->agent;
	struct agent_vault *v = a->vault;
	struct vault_kdf_job *job = NULL;
	struct vault_params p;
	unsigned char *img = NULL;
	struct agent_err err;
	size_t len = 0;
	vault_kdf_cb done;
	int r;

	if (v == NULL || v->path == NULL) {
		agent_conn_reply_failure(
		    c, XO_ERR_CONFIG,
		    "there is no place for a vault: set [agent] vault");
		return;
	}
	if (v->unlocking) {
		agent_conn_reply_failure(c, XO_ERR_BUSY,
					 "an unlock is running; try again in "
					 "a moment");
		return;
	}
	if (q->passphrase.len == 0) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD, "empty passphrase");
		return;
	}
	if (v->state == VAULT_OPEN && v->key_file != NULL) {
		/* Nothing to open: the key file did. */
		agent_conn_reply_success(c);
		return;
	}
	if (v->state == VAULT_LOCKED && vault_writes_idle(a) &&
	    v->queue == NULL && v->compaction == NULL) {
		/* Read again: it is the file's parameters that count, and
		   it may have gone. */
		if (vault_read_file(v->path, &img, &len, &err) != 0) {
			agent_conn_reply_err(c, &err);
			return;
		}
		if (img == NULL) {
			log_error("vault %s: gone while locked", v->path);
			v->state = VAULT_NONE;
			v->exists = 0;
			v->known = 0;
		}
	}
	if (v->state == VAULT_NONE && !q->create) {
		agent_conn_reply_failure(c, XO_ERR_NO_VAULT,
					 "there is no vault yet: unlock with "
					 "create to make one");
		free(img);
		return;
	}
	if (v->state == VAULT_NONE) {
		vault_params_new(VAULT_KDF_ARGON2ID, &p);
		done = created;
	} else if (v->state == VAULT_OPEN || img == NULL) {
		/* Open, or the writes of a LOCK still on their way: the
		   key's parameters are the vault's. */
		p = v->params;
		done = v->state == VAULT_OPEN ? checked : opened;
	} else {
		if ((r = vault_image_params(img, len, &p)) != 0) {
			vault_describe_error(v->path, r, &err);
			agent_conn_reply_err(c, &err);
			free(img);
			return;
		}
		done = opened;
	}
	free(img);
	if ((r = vault_kdf_start(a, c, q->passphrase, &p, done, &job)) != 0) {
		agent_conn_reply_failure(c, r, NULL);
		return;
	}
	v->unlocking = 1;
}
