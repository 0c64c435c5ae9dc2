/*
 * vault_internal.h: what the files of vault/ share (see vault.h for the
 * whole).  Nothing else includes it.
 */
#ifndef XO_VAULT_VAULT_INTERNAL_H
#define XO_VAULT_VAULT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <uv.h>

#include "core/agent.h"
#include "core/err.h"
#include "vault/pure/image.h"
#include "vault/pure/journal.h"
#include "vault/pure/names.h"
#include "vault/vault.h"

struct conn;
struct vault_job;
struct vault_walk;
struct vault_snapshot;

/* The versions of the plain text inside (the file format has its own):
   a record with the "presented" names of marks alone is of format 2, as
   an agent that knows only 1 would read nothing of them and send a
   presented refresh token again; every other text is of format 1, which
   agents before the marks read too. */
#define VAULT_STORE_FORMAT 2
#define VAULT_TEXT_FORMAT 1
#define VAULT_MARKS_FORMAT 2

enum vault_state {
	VAULT_NONE,   /* no vault file and no key: tokens live in memory only,
			 until an UNLOCK with create makes one */
	VAULT_LOCKED, /* a passphrase vault, not open (or LOCK): no secret is
			 in memory */
	VAULT_OPEN,   /* the key is held; every change is written */
};

/* Argon2id in libuv's thread pool, for a request (vault/kdf.c). */
struct vault_kdf_job;
typedef void (*vault_kdf_cb)(struct vault_kdf_job *job);
struct vault_kdf_job {
	uv_work_t work;
	uv_timer_t delay; /* a failed UNLOCK's answer waits on it */
	struct agent *agent;
	struct conn *conn; /* NULL once the connection went away */
	struct agent_plain *pass;
	struct vault_params params;
	struct vault_key *key; /* the result, NULL when err */
	int err;
	vault_kdf_cb done;
	/* For the caller. */
	int create;
	unsigned char *img; /* an image to open with the key */
	size_t len;
	struct agent_err late; /* vault_kdf_fail_later()'s answer */
};

/* A journal record's snapshot and a new base's may be in the pool at
   once, and a third one being dropped. */
#define VAULT_SPARE_SHIELDS 3

struct agent_vault {
	struct agent *agent;
	char *path;	/* the vault file; NULL: no place for one */
	char *key_file; /* NULL: the key comes from a passphrase */
	int lock_fd;	/* flock on PATH.lock, -1 when not held */
	enum vault_state state;
	int exists; /* a vault file is on disk */

	/* The key, sealed under the shield like every secret, and the
	   parameters it was made with (for the image header). */
	struct agent_secret *key;
	struct vault_params params;
	/* Records of accounts this agent does not have (a section removed
	   from the config, a runtime account that clashes): a JSON array,
	   sealed.  Written back with every snapshot, so nothing is lost. */
	struct agent_secret *kept;

	/* The file and its writes (vault/write.c). */
	int known;			/* what follows describes the file */
	int journal;			/* the file is of format 2: changes are
					   appended to it */
	struct vault_base base;		/* the file's base (format 2) */
	unsigned char id[VAULT_ID_LEN]; /* the vault's, for the next base */
	uint64_t file_end;		/* where its whole records end */
	uint64_t last_rec;		/* the newest record number given */
	uint64_t seq;			/* changes asked for */
	uint64_t written_seq;		/* the newest change written */
	uint64_t base_seq_done;	   /* the newest change a written base holds */
	struct vault_names dirty;  /* accounts changed since the last record
				      taken */
	struct vault_names marked; /* accounts whose "presented" mark alone
				      was set since then */
	bool dirty_all;		   /* anything may have changed: a whole one */
	struct vault_job *queue;   /* the lane: appends and a new base's
				      commit, one at a time, in order */
	struct vault_job **queue_tail;
	int lane_busy;		      /* the queue's head runs in the pool */
	struct vault_job *compaction; /* a new base on its way */
	int compaction_busy;	      /* its first half runs in the pool */
	uint64_t carry_from;	      /* where its first record after it went */
	uv_idle_t flush;	      /* takes the changes, once a turn */
	uv_timer_t retry;	      /* after a failed write */
	uv_timer_t gap;		      /* the next append, APPEND_GAP_MS after
					 the one before (vault/write.c) */
	uint64_t append_started;      /* uv_now() of the last append */
	struct vault_snapshot *dropping; /* a new base's, dropped a piece
					    a turn (vault/write.c) */
	uv_idle_t drop;			 /* drops the next piece */
	struct vault_walk *walk;	 /* a new base's snapshot being taken a
					    piece a turn (vault/walk.c); NULL */
	uv_idle_t walk_turn;		 /* its next piece, next turn */
	uv_timer_t walk_pause; /* the same after a pause (test hook) */
	int flushing;	       /* vault_flush() runs: no new base */
	/* Copies of the shield that snapshots gave back, for the next ones
	   (vault/records.c); freed with the vault. */
	struct agent_shield *spare_shields[VAULT_SPARE_SHIELDS];
	size_t n_spare_shields;
	unsigned failures;	      /* consecutive failed writes */
	struct vault_kdf_job *parked; /* an UNLOCK waiting for a write */
	vault_kdf_cb parked_cb;
	char problem[600]; /* for LIST; "" when all is well */

	/* UNLOCK (vault/unlock.c) */
	int unlocking; /* an Argon2id job runs */
	unsigned failed_unlocks;
};

/* ---- vault/state.c ---- */
/* Sets or clears (NULL) the problem LIST shows. */
void vault_set_problem(struct agent_vault *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Opens the vault file's image (base and journal) with key k and loads
   it into the agent: the key is kept (sealed), the state becomes
   VAULT_OPEN; with adopt, what the vault knows of the file is taken from
   it (where the records end, the numbers).  0, or the reason in err
   (naming PATH.bak for a damaged file). */
int vault_open_image(struct agent *a, const struct vault_key *k,
		     const unsigned char *img, size_t len, int adopt,
		     struct agent_err *err);
/* Checks that key k opens the whole image (base and journal) without
   loading it; 0 or the XO_ERR_* (err says why). */
int vault_check_image(const struct vault_key *k, const unsigned char *img,
		      size_t len, const char *path, struct agent_err *err);
/* A vault that is not on disk yet: a new id, nothing written. */
void vault_file_none(struct agent_vault *v);
/* Takes the key for the vault: sealed under the shield. */
int vault_keep_key(struct agent *a, const struct vault_key *k);
/* The held key, opened for a moment; free with vault_key_release(). */
int vault_key_borrow(struct agent *a, struct vault_key *k,
		     struct agent_plain **bytes);
/* Says in e why the image at path cannot be used (code: the reason);
   returns code. */
int vault_describe_error(const char *path, int code, struct agent_err *e);

/* ---- vault/write.c ---- */
void vault_write_init(struct agent *a);
/* Takes the changes not taken yet now, into a record (or a new base)
   queued to be written, and starts what can start (LOCK, before the
   accounts are wiped; stop). */
void vault_flush(struct agent *a);
/* Tells the account store that writes up to written_seq have ended. */
void vault_writes_ended(struct agent *a);
/* What the file will be once the writes queued have ended, read now for
   an UNLOCK (the caller frees *img); *adopt says whether it is the file
   itself, whose state the vault may take (vault_open_image()).  1 when a
   write runs that must end first: cb(job) is called again then. */
int vault_newest(struct agent *a, struct vault_kdf_job *job, vault_kdf_cb cb,
		 unsigned char **img, size_t *len, int *adopt,
		 struct agent_err *err);
/* 1 when no write is queued or runs (an UNLOCK may read the file). */
int vault_writes_idle(const struct agent *a);
/* Writes what vault_stop() left, at exit. */
void vault_write_drain(struct agent *a);
/* Frees the queue (vault_free()). */
void vault_write_free(struct agent *a);

/* ---- vault/walk.c ---- */
/* A walk's end: snap, the caller's to free, or NULL and the error r. */
typedef void (*vault_walk_cb)(struct agent *a, struct vault_snapshot *snap,
			      int r);
void vault_walk_init(struct agent *a);
/* Abandons a walk under way and closes the handles (vault_stop()). */
void vault_walk_close(struct agent *a);
/* Begins taking a whole snapshot a piece per turn of the loop (v->walk);
   done is called in a later turn, unless the walk is abandoned.  0, or
   XO_ERR_* and nothing runs. */
int vault_walk_start(struct agent *a, vault_walk_cb done);
/* Drops what a walk under way took; done is not called (LOCK, stop). */
void vault_walk_abandon(struct agent *a);

/* ---- vault/records.c ---- */
enum vault_apply_mode {
	VAULT_APPLY_LOAD,    /* the agent's own vault: tokens go back */
	VAULT_APPLY_RESTORE, /* an export: only to accounts without one */
};
/* The accounts and the kept records as the vault's plain text (in
   wiped memory: it holds every refresh token). */
int vault_store_snapshot(struct agent *a, struct agent_plain **out);
/*
 * The same in two steps, so that the long one runs in the thread pool:
 * vault_snapshot_take() (on the loop) holds a reference to each account's
 * sealed record and a copy of the shield; vault_snapshot_text() (in any
 * one thread) opens and joins them into the plain text; vault_snapshot_free()
 * (on the loop again) drops the references.  vault_snapshot_take_names()
 * takes only the accounts of names (sorted, distinct), for a journal
 * record: each one's record, or its name among those "gone"; and the
 * names of marked (distinct) whose "presented" mark alone is recorded.
 */
struct vault_snapshot;
int vault_snapshot_take(struct agent *a, struct vault_snapshot **out);
/*
 * A whole snapshot taken a piece at a time (vault/walk.c):
 * vault_snapshot_begin() makes an empty one (room for n accounts, grown
 * as needed), vault_snapshot_add() adds an account (none when it has no
 * record), vault_snapshot_add_kept() the kept records that no account
 * shadows now, last.  0 or XO_ERR_*; on error the snapshot is the
 * caller's to free.
 */
int vault_snapshot_begin(struct agent *a, size_t n,
			 struct vault_snapshot **out);
int vault_snapshot_add(struct vault_snapshot *snap, struct account *acct);
int vault_snapshot_add_kept(struct agent *a, struct vault_snapshot *snap);
int vault_snapshot_take_names(struct agent *a, const struct vault_names *names,
			      const struct vault_names *marked,
			      struct vault_snapshot **out);
/* Opens sec (a secret sealed under the agent's shield: the vault's key)
   with snap's copy of the shield, in the thread that will then call
   vault_snapshot_text(), which makes the copy's key unreadable again. */
int vault_snapshot_open(struct vault_snapshot *snap,
			const struct agent_secret *sec,
			struct agent_plain **out);
int vault_snapshot_text(struct vault_snapshot *snap, struct agent_plain **out);
void vault_snapshot_free(struct vault_snapshot *snap);
/* Drops at most n of snap's accounts; 1 once it is all gone (freed, or
   NULL), else 0. */
int vault_snapshot_free_some(struct vault_snapshot *snap, size_t n);
/* Frees the shield copies that snapshots gave back (at the vault's end). */
void vault_spare_shields_free(struct agent_vault *v);
/*
 * Loading a vault file: its base's text, then each record of its journal
 * in order, played into one document, which is then applied as
 * vault_store_apply() applies one.  XO_ERR_VAULT_CORRUPT or _NEWER with
 * why in err for a text that is not ours.
 */
struct vault_replay {
	json_t *root; /* the document so far */
	json_t *at;   /* name -> its place in root's list */
	size_t records, holes;
};
void vault_replay_init(struct vault_replay *rp);
int vault_replay_start(struct vault_replay *rp, const struct agent_plain *base,
		       struct agent_err *err);
int vault_replay_record(struct vault_replay *rp, const struct agent_plain *text,
			struct agent_err *err);
int vault_replay_apply(struct agent *a, struct vault_replay *rp,
		       unsigned *n_applied, struct agent_err *err);
void vault_replay_cleanup(struct vault_replay *rp);
/*
 * Applies a vault's plain text to the agent: runtime accounts are
 * created, refresh tokens given, the rest kept.  XO_ERR_VAULT_CORRUPT or
 * XO_ERR_VAULT_NEWER with why in err when the text is not ours;
 * *n_applied counts the accounts that changed.
 */
int vault_store_apply(struct agent *a, const struct agent_plain *text,
		      enum vault_apply_mode mode, unsigned *n_applied,
		      struct agent_err *err);
/* Gives kept records to accounts that have appeared (reload). */
int vault_store_adopt(struct agent *a, unsigned *n_applied);

/* ---- vault/kdf.c ---- */
/* Derives the key for pass (copied) with params in the thread pool, holds
   c, and calls done on the loop.  0, or an XO_ERR_* and nothing runs. */
int vault_kdf_start(struct agent *a, struct conn *c, struct proto_str pass,
		    const struct vault_params *params, vault_kdf_cb done,
		    struct vault_kdf_job **out);
/* Answers the job's connection (if still there) with a failure after
   delay_ms, then frees the job.  Otherwise the done callback answers the
   connection itself before vault_kdf_free(). */
void vault_kdf_fail_later(struct vault_kdf_job *job, int err, const char *msg,
			  uint64_t delay_ms);
void vault_kdf_free(struct vault_kdf_job *job);
/* Answers the job's connection, if still there (SUCCESS when err is 0),
   and frees the job. */
void vault_kdf_reply(struct vault_kdf_job *job, int err, const char *msg);

/* ---- vault/unlock.c ---- */
/* LOCK's work (and a locked start's): every secret out of memory.  The
   caller re-plans the scheduler. */
void vault_wipe_secrets(struct agent *a);

#endif
