/*
 * write.c: the vault's writes: a journal of changes appended to the file,
 * and new bases that fold it in (pure/image.h, pure/journal.h).
 *
 * A change is numbered at once (vault_persist()) and the name of the
 * account it concerns noted; at the end of the turn of the loop in which
 * it was made (an idle handle), or when the append that runs has ended,
 * the accounts named since the last record are taken into the next one.
 * The loop only copies their names and takes references to their sealed
 * secrets (records.c); a thread of libuv's pool builds the record, seals
 * it, appends it where the file's whole records end and fsync()s.  So the
 * cost of a change is that of the accounts it concerns, not of every
 * account: a refresh writes its "presented" mark (the account's name)
 * and its rotated token as two records, of some KiB together, where the
 * whole vault of 100,000 accounts is some 230 MiB.  Appends run one at a
 * time, in the order of their numbers: the lane.
 *
 * Appends start at most every APPEND_GAP_MS.  A lone change, after a
 * quiet spell, is taken at once; in a storm of refreshes (500 a second,
 * each changing its account twice: its "presented" mark, then its
 * rotated token) an append holds the changes of the last 10 ms, not one
 * or two, and the pool seals, writes and fsync()s 100 records a second,
 * not 1,000 (tests/bench/README.md, "Appends 10 ms apart").
 *
 * Once the journal is larger than half the base (and at least a MiB),
 * the journal is folded into a new base: a snapshot of every account is
 * taken on the loop, a piece per turn (walk.c), and built, sealed and
 * written to PATH.tmp in the pool while appends go on into the file.
 * Its commit is the lane's next job once the appends taken before the
 * snapshot have ended: the records appended since the snapshot are
 * copied from the file to the end of PATH.tmp, which is fsync()ed and
 * renamed over the file (the file kept as PATH.bak), and the directory
 * fsync()ed (vault/io.c).  The records keep
 * their numbers: a base says which it folded in (base_seq), and the vault
 * keeps its id, so the records carried over still open after it.
 *
 * A vault file of format 1 (written before the journal), or none yet,
 * has no journal to append to: its first write is a new base, with a new
 * id, and the records taken meanwhile wait for it; its snapshot is taken
 * in one turn, as it must hold every change made so far.
 *
 * A failed write is logged, shown in LIST, retried with a growing delay,
 * and does not stop the agent: it keeps serving from memory (what waited
 * for the write goes on, DESIGN.md "If a write fails, keep serving").  A
 * record keeps its number and its bytes until it is on disk, so that the
 * journal never has a gap.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "account/account.h"
#include "core/log.h"
#include "core/test_hooks.h"
#include "secret/secret.h"
#include "vault/io.h"
#include "vault/vault_internal.h"

#define RETRY_FIRST_MS 2000
#define RETRY_MAX_MS 300000
/* The journal is folded into a new base once it passes half the base,
   and at least this much: a small vault is cheap to load either way. */
#define JOURNAL_MIN (1024u * 1024)

enum job_kind {
	JOB_APPEND, /* a record: built, sealed, appended (the lane) */
	JOB_BASE,   /* a new base: built, sealed, written to PATH.tmp */
	JOB_COMMIT, /* the new base takes the file's place (the lane) */
};

struct vault_job {
	uv_work_t work;
	struct vault_job *next; /* in the lane */
	struct agent *agent;
	enum job_kind kind;
	char *path;
	struct vault_snapshot *snap; /* to build and seal; dropped once
					sealed */
	struct agent_secret *key;    /* the vault's key, sealed: a
					reference, opened where sealed */
	struct vault_params params;  /* the key's, for the header */
	struct vault_base base;	     /* the id; for a base, its base_seq */
	uint64_t rec;		     /* JOB_APPEND: the record's number */
	uint64_t seq;		     /* the newest change it holds */
	uint64_t off, to;	     /* where it goes; a commit's carry */
	unsigned char *bytes;	     /* sealed; NULL until built */
	size_t len;
	bool upgrade; /* a new base for a file of format 1 */
	bool temp_ok; /* a new base: PATH.tmp holds it (pool only) */
	uint64_t t_start, t_sealed; /* uv_hrtime(): for the debug log */
	struct agent_err err;
};

static void kick(struct agent *a);
static void run_job(struct agent *a, struct vault_job *job);
static void write_failed(struct agent *a, struct vault_job *job);

/* The retry after a failed write, and the next append after the gap. */
static void on_timer(uv_timer_t *t)
{
	kick(t->data);
}

static void job_free(struct vault_job *job)
{
	if (job == NULL)
		return;
	vault_snapshot_free(job->snap);
	agent_secret_free(job->key);
	free(job->bytes);
	free(job->path);
	free(job);
}

static struct vault_job *job_new(struct agent *a, enum job_kind kind)
{
	struct vault_job *job;

	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (job->path = strdup(a->vault->path)) == NULL) {
		free(job);
		return NULL;
	}
	job->agent = a;
	job->kind = kind;
	job->work.data = job;
	memcpy(job->base.id, a->vault->id, VAULT_ID_LEN);
	return job;
}

/* Builds and seals the job's record or base (in the pool, or on the loop
   for an UNLOCK); the snapshot stays, to be dropped on the loop. */
static int job_seal(struct vault_job *job)
{
	struct agent_plain *plain = NULL, *key_bytes = NULL;
	struct vault_key key;
	int r;

	if (job->bytes != NULL)
		return 0;
	if (job->snap == NULL || job->key == NULL)
		return XO_ERR_INTERNAL;
	/* The key is opened here, into this thread's reused small buffers,
	   not copied for each job on the loop: a copy of its own was a
	   sodium_malloc() (mmap, mprotect, madvise) on the loop for every
	   journal record, and its sodium_free() an munmap() whose TLB flush
	   interrupts every CPU (tests/bench/README.md, "What the loop still
	   maps and unmaps in a storm"). */
	if ((r = vault_snapshot_open(job->snap, job->key, &key_bytes)) != 0)
		return r;
	key.params = job->params;
	key.key = (unsigned char *)key_bytes->data;
	if ((r = vault_snapshot_text(job->snap, &plain)) == 0)
		r = job->kind == JOB_APPEND
			? vault_record_seal(&key, job->base.id, job->rec,
					    plain->data, plain->len,
					    &job->bytes, &job->len)
			: vault_seal_base(&key, &job->base, plain->data,
					  plain->len, &job->bytes, &job->len);
	agent_plain_free(plain);
	agent_plain_free(key_bytes);
	job->t_sealed = uv_hrtime();
	return r;
}

/* The job's work, in the pool (or at exit). */
static void do_job(uv_work_t *req)
{
	struct vault_job *job = req->data;
	int r;

	agent_err_clear(&job->err);
	if ((r = job_seal(job)) != 0) {
		agent_err_set(&job->err, r, "cannot seal it: %s",
			      proto_strerror(r));
		return;
	}
	switch (job->kind) {
	case JOB_APPEND:
		if (job->off + job->len > VAULT_MAX_FILE) {
			agent_err_set(&job->err, XO_ERR_IO,
				      "its journal has grown past %u MiB, "
				      "and no new base has taken it in",
				      VAULT_MAX_FILE >> 20);
			return;
		}
		vault_append_file(job->path, job->off, job->bytes, job->len,
				  &job->err);
		break;
	case JOB_BASE:
		if (vault_write_temp(job->path, job->bytes, job->len,
				     &job->err) == 0) {
			job->temp_ok = true;
			agent_test_crash("during_compaction");
		}
		break;
	case JOB_COMMIT:
		/* After a failed commit PATH.tmp is written again: part of
		   the carried records may be in it. */
		if (!job->temp_ok && vault_write_temp(job->path, job->bytes,
						      job->len, &job->err) != 0)
			break;
		job->temp_ok = false;
		vault_commit_temp(job->path, job->off, job->to, &job->err);
		break;
	}
}

/* ---- the changes ---- */

/* Appends start at most this often: in a storm of refreshes, each append
   (a record sealed, written and fsync()ed in the pool, then its end on
   the loop) holds the changes of all the turns since the one before. */
#define APPEND_GAP_MS 10

/* True when the next append may start now; else the gap's timer kicks
   once it may. */
static bool append_may_start(struct agent *a)
{
	struct agent_vault *v = a->vault;
	uint64_t now = uv_now(a->loop);
	uint64_t due = v->append_started + APPEND_GAP_MS;

	if (now >= due)
		return true;
	if (!uv_is_active((uv_handle_t *)&v->gap))
		uv_timer_start(&v->gap, on_timer, due - now, 0);
	return false;
}

/* True when changes were noted that no record holds yet. */
static bool changes_noted(const struct agent_vault *v)
{
	return v->dirty_all || v->dirty.n > 0 || v->marked.n > 0;
}

static void clear_dirty(struct agent_vault *v)
{
	vault_names_clear(&v->dirty);
	vault_names_clear(&v->marked);
	v->dirty_all = false;
}

/* The vault's key for a job: a reference to its sealed copy, opened in
   the pool (job_seal()). */
static int job_key(struct agent *a, struct vault_job *job)
{
	struct agent_vault *v = a->vault;

	if (v->key == NULL)
		return XO_ERR_LOCKED;
	job->key = agent_secret_ref(v->key);
	job->params = v->params;
	return 0;
}

/* The changes could not be taken: reported, and whoever would wait goes
   on at once, as there is no write to wait for.  The next change tries
   again. */
static void take_failed(struct agent *a, int r)
{
	struct agent_vault *v = a->vault;

	vault_set_problem(v, "vault not written: cannot seal it: %s",
			  proto_strerror(r));
	log_error("%s", v->problem);
	v->written_seq = v->seq;
	vault_writes_ended(a);
}

static void enqueue(struct agent_vault *v, struct vault_job *job)
{
	job->next = NULL;
	*v->queue_tail = job;
	v->queue_tail = &job->next;
}

/* Takes the changes noted since the last record into the next one,
   queued in the lane. */
static void take_record(struct agent *a)
{
	struct agent_vault *v = a->vault;
	struct vault_job *job;
	int r = XO_ERR_NOMEM;

	if (v->state != VAULT_OPEN || !changes_noted(v))
		return;
	if ((job = job_new(a, JOB_APPEND)) == NULL)
		goto fail;
	if (v->dirty_all) {
		r = vault_snapshot_take(a, &job->snap);
	} else {
		vault_names_sort(&v->dirty);
		vault_names_sort(&v->marked);
		r = vault_snapshot_take_names(a, &v->dirty, &v->marked,
					      &job->snap);
	}
	if (r != 0 || (r = job_key(a, job)) != 0)
		goto fail;
	job->rec = ++v->last_rec;
	job->seq = v->seq;
	clear_dirty(v);
	enqueue(v, job);
	return;
fail:
	job_free(job);
	clear_dirty(v);
	take_failed(a, r);
}

/* A new base's snapshot taken over several turns (walk.c) has ended:
   it is sealed and written in the pool, as one taken in one turn. */
static void base_taken(struct agent *a, struct vault_snapshot *snap, int r)
{
	struct agent_vault *v = a->vault;
	struct vault_job *job = v->compaction;

	if (r == 0) {
		job->snap = snap;
		snap = NULL; /* transferred */
		r = job_key(a, job);
	}
	vault_snapshot_free(snap);
	if (r != 0) {
		/* As a failed start_base(): the journal holds every change;
		   the base is made again after the delay of a failed write. */
		agent_err_code(&job->err, r);
		write_failed(a, job);
		return;
	}
	/* After a failed append its retry's kick() runs the base. */
	if (!uv_is_active((uv_handle_t *)&v->retry))
		run_job(a, job);
}

/* Starts a new base of every account, beside the lane. */
static void start_base(struct agent *a)
{
	struct agent_vault *v = a->vault;
	struct vault_job *job;
	uint64_t t0 = uv_hrtime();
	int r = XO_ERR_NOMEM;

	if ((job = job_new(a, JOB_BASE)) == NULL)
		goto fail;
	job->base.version = VAULT_VERSION;
	/* Fixed now, when the snapshot starts: every change made after it
	   is in a record above base_seq, which the commit carries over
	   (walk.c says why a snapshot over several turns loses nothing). */
	job->base.base_seq = v->last_rec;
	job->seq = v->seq;
	if (v->journal) {
		if ((r = vault_walk_start(a, base_taken)) != 0)
			goto fail;
		v->compaction = job;
		v->carry_from = 0;
		return;
	}
	/* Without a journal nothing is appended before this base is in
	   place: it must hold every change made so far, so it is taken in
	   this turn. */
	log_debug("vault: taking a new base's snapshot, all in one turn");
	if ((r = vault_snapshot_take(a, &job->snap)) != 0 ||
	    (r = job_key(a, job)) != 0)
		goto fail;
	log_debug("vault: snapshot taken in 1 turn, %llu ms",
		  (unsigned long long)((uv_hrtime() - t0) / 1000000));
	job->upgrade = v->known && v->exists;
	clear_dirty(v);
	v->compaction = job;
	v->carry_from = 0;
	run_job(a, job);
	return;
fail:
	if (v->journal) {
		/* The journal holds every change: only the new base waits,
		   made again from a new snapshot after the delay of a failed
		   write (not at every turn of the loop). */
		if (job == NULL) {
			log_error("vault: cannot make a new base: %s",
				  proto_strerror(r));
			return;
		}
		agent_err_code(&job->err, r);
		write_failed(a, job);
		return;
	}
	job_free(job);
	take_failed(a, r);
}

/* A new base is due: the file has no journal yet, or its journal has
   grown past half the base. */
static int base_due(const struct agent_vault *v)
{
	uint64_t journal, limit;

	if (v->state != VAULT_OPEN || v->compaction != NULL || v->flushing)
		return 0;
	if (!v->journal)
		return v->seq > v->base_seq_done;
	journal = v->file_end - v->base.len;
	limit = v->base.len / 2 > JOURNAL_MIN ? v->base.len / 2 : JOURNAL_MIN;
	return journal >
	       agent_test_number("XOAUTH_AGENT_TEST_JOURNAL_MAX", limit);
}

/* Starts what can start: a new base that is due, the lane's next job
   (taking the changes noted into a record when the lane is empty). */
static void kick(struct agent *a)
{
	struct agent_vault *v = a->vault;
	struct vault_job *head;

	if (v == NULL || a->stopping || uv_is_active((uv_handle_t *)&v->retry))
		return;
	/* A base whose snapshot is still being taken is not run: the walk
	   runs it once it has ended. */
	if (v->compaction != NULL && v->compaction->kind == JOB_BASE &&
	    !v->compaction_busy && v->walk == NULL)
		run_job(a, v->compaction); /* a retry */
	else if (base_due(v))
		start_base(a);
	if (v->lane_busy)
		return;
	if (v->queue == NULL && v->journal && changes_noted(v) &&
	    append_may_start(a))
		take_record(a);
	if ((head = v->queue) == NULL)
		return;
	if (head->kind == JOB_APPEND) {
		if (!v->journal)
			return; /* waits for the first base */
		head->off = v->file_end;
	} else if (v->journal) {
		head->off = v->carry_from != 0 ? v->carry_from : v->file_end;
		head->to = v->file_end;
	}
	run_job(a, head);
}

/* ---- the end of a write ---- */

/* Puts the commit of a new base in the lane: after the records it holds,
   before those taken since its snapshot. */
static void queue_commit(struct agent_vault *v, struct vault_job *job)
{
	struct vault_job **pp = &v->queue;

	job->kind = JOB_COMMIT;
	if (v->lane_busy && *pp != NULL)
		pp = &(*pp)->next;
	while (*pp != NULL && (*pp)->kind == JOB_APPEND &&
	       (*pp)->rec <= job->base.base_seq)
		pp = &(*pp)->next;
	job->next = *pp;
	*pp = job;
	if (job->next == NULL)
		v->queue_tail = &job->next;
}

static void dequeue_head(struct agent_vault *v)
{
	struct vault_job *job = v->queue;

	v->queue = job->next;
	if (v->queue == NULL)
		v->queue_tail = &v->queue;
}

/* What a job that has ended well changes of the file: returns 1 when it
   is done with (and freed). */
static int file_written(struct agent *a, struct vault_job *job)
{
	struct agent_vault *v = a->vault;

	switch (job->kind) {
	case JOB_APPEND:
		if (v->compaction != NULL &&
		    job->rec == v->compaction->base.base_seq + 1)
			v->carry_from = job->off;
		v->file_end = job->off + job->len;
		break;
	case JOB_BASE:
		queue_commit(v, job);
		return 0;
	case JOB_COMMIT:
		if (job->upgrade)
			log_info("vault %s: now of format 2, a base and a "
				 "journal of changes (it was one image)",
				 v->path);
		log_debug("vault: the new base carries %llu bytes of records "
			  "appended while it was written",
			  (unsigned long long)(job->to - job->off));
		v->journal = 1;
		v->base = job->base;
		v->base.len = job->len;
		v->file_end = job->len + (job->to - job->off);
		v->base_seq_done = job->seq;
		v->compaction = NULL;
		break;
	}
	v->exists = 1;
	if (job->kind != JOB_BASE && v->queue == job)
		dequeue_head(v);
	job_free(job);
	return 1;
}

static void write_failed(struct agent *a, struct vault_job *job)
{
	struct agent_vault *v = a->vault;
	uint64_t delay;

	v->failures++;
	delay = (uint64_t)RETRY_FIRST_MS
		<< (v->failures < 8 ? v->failures - 1 : 7);
	if (delay > RETRY_MAX_MS)
		delay = RETRY_MAX_MS;
	vault_set_problem(v,
			  "vault not written: %s; the tokens are held in "
			  "memory only, next try in %llu s",
			  agent_err_text(&job->err),
			  (unsigned long long)(delay / 1000));
	log_error("%s", v->problem);
	/* A base that could not even be sealed is made again from a new
	   snapshot, while the accounts are there to take it from. */
	if (job->kind == JOB_BASE && job->bytes == NULL &&
	    v->state == VAULT_OPEN) {
		v->compaction = NULL;
		job_free(job);
	}
	if (!a->stopping)
		uv_timer_start(&v->retry, on_timer, delay, 0);
}

/* The accounts of a new base's snapshot dropped per turn of the loop.
   Once a new base is sealed, its snapshot's references go: with 10,000
   accounts that took 5 to 9 ms of the loop in one turn (more so in a
   refresh storm, when most of the references are the last ones to tokens
   rotated since: each is wiped and freed), and a client's TOKEN waited
   for it (tests/bench/README.md, the refresh storm).  A piece a turn
   takes well under a millisecond. */
#define DROP_PER_TURN 1000

static void on_drop(uv_idle_t *h)
{
	struct agent_vault *v = ((struct agent *)h->data)->vault;

	if (vault_snapshot_free_some(v->dropping, DROP_PER_TURN)) {
		v->dropping = NULL;
		uv_idle_stop(h);
	}
}

/* Drops a new base's snapshot a piece a turn (above). */
static void drop_later(struct agent *a, struct vault_snapshot *snap)
{
	struct agent_vault *v = a->vault;

	if (a->stopping) {
		vault_snapshot_free(snap);
		return;
	}
	/* One at a time: what is left of an older one goes at once (a new
	   base is seconds of work in the pool, its drop a few turns). */
	vault_snapshot_free(v->dropping);
	v->dropping = snap;
	uv_idle_start(&v->drop, on_drop);
}

static void after_job(uv_work_t *req, int status)
{
	struct vault_job *job = req->data;
	struct agent *a = job->agent;
	struct agent_vault *v = a->vault;
	enum job_kind kind = job->kind;
	uint64_t seq = job->seq;
	bool failed;

	if (kind == JOB_BASE)
		v->compaction_busy = 0;
	else
		v->lane_busy = 0;
	/* The references to the records, dropped on the loop's thread. */
	if (job->bytes != NULL) {
		if (kind == JOB_BASE)
			drop_later(a, job->snap);
		else
			vault_snapshot_free(job->snap);
		job->snap = NULL;
	}
	log_debug(
	    "vault: %s of %zu bytes in %llu ms (sealed in %llu ms)",
	    kind == JOB_APPEND ? "record"
	    : kind == JOB_BASE ? "new base"
			       : "new base put in place",
	    job->len,
	    (unsigned long long)((uv_hrtime() - job->t_start) / 1000000),
	    (unsigned long long)(job->t_sealed > job->t_start
				     ? (job->t_sealed - job->t_start) / 1000000
				     : 0));
	if (status != 0 && job->err.code == 0)
		agent_err_code(&job->err, XO_ERR_INTERNAL);
	failed = job->err.code != 0;
	if (failed) {
		write_failed(a, job);
	} else {
		if (v->failures > 0)
			log_info("vault %s written again", v->path);
		v->failures = 0;
		vault_set_problem(v, NULL);
		file_written(a, job); /* job may be gone */
	}
	/* A base is durable at its commit; what waited for a file of
	   format 2 to exist waits for it.  A failed write lets what waited
	   go on (the agent keeps serving from memory). */
	if ((kind != JOB_BASE || (failed && !v->journal)) &&
	    seq > v->written_seq)
		v->written_seq = seq;
	if (kind != JOB_BASE)
		agent_test_crash("after_write");
	vault_writes_ended(a);
	if (v->parked != NULL && vault_writes_idle(a)) {
		struct vault_kdf_job *parked = v->parked;

		v->parked = NULL;
		v->parked_cb(parked);
	}
	kick(a);
	/* The writes have gone quiet (the end of a storm of refreshes, or a
	   single change): the heap pages that the tokens and records freed
	   meanwhile go back to the system, rather than stay resident. */
	if (!v->lane_busy && !v->compaction_busy && v->queue == NULL &&
	    !changes_noted(v))
		malloc_trim(0);
}

static void run_job(struct agent *a, struct vault_job *job)
{
	struct agent_vault *v = a->vault;

	job->t_start = uv_hrtime();
	if (job->kind == JOB_APPEND)
		v->append_started = uv_now(a->loop);
	if (job->kind == JOB_BASE)
		v->compaction_busy = 1;
	else
		v->lane_busy = 1;
	if (uv_queue_work(a->loop, &job->work, do_job, after_job) != 0) {
		agent_err_set(&job->err, XO_ERR_INTERNAL,
			      "cannot start a write");
		if (job->kind == JOB_BASE)
			v->compaction_busy = 0;
		else
			v->lane_busy = 0;
		write_failed(a, job);
	}
}

/* ---- what the rest of the vault calls ---- */

static void on_flush(uv_idle_t *h)
{
	uv_idle_stop(h);
	kick(h->data);
}

void vault_write_init(struct agent *a)
{
	uv_timer_init(a->loop, &a->vault->retry);
	a->vault->retry.data = a;
	uv_timer_init(a->loop, &a->vault->gap);
	a->vault->gap.data = a;
	uv_idle_init(a->loop, &a->vault->flush);
	a->vault->flush.data = a;
	uv_idle_init(a->loop, &a->vault->drop);
	a->vault->drop.data = a;
	vault_walk_init(a);
	a->vault->queue_tail = &a->vault->queue;
}

void vault_file_none(struct agent_vault *v)
{
	struct vault_base b;

	vault_base_new(&b);
	memcpy(v->id, b.id, VAULT_ID_LEN);
	memset(&v->base, 0, sizeof(v->base));
	v->known = 1;
	v->journal = 0;
	v->file_end = 0;
	v->last_rec = 0;
}

void vault_writes_ended(struct agent *a)
{
	struct agent_vault *v = a->vault;

	account_store_written(a->store, v->written_seq,
			      v->failures > 0 ? v->problem : NULL);
}

/* Notes a change of the account named name (NULL: every account) in
   list; its number, 0 with no vault open. */
static uint64_t note_change(struct agent *a, struct vault_names *list,
			    const char *name)
{
	struct agent_vault *v = a->vault;

	if (v == NULL || v->state != VAULT_OPEN)
		return 0;
	v->seq++;
	if (name == NULL || v->dirty_all || vault_names_add(list, name) != 0) {
		/* A whole record: the names are in it. */
		clear_dirty(v);
		v->dirty_all = true;
	}
	/* Taken at the end of this turn of the loop with whatever else
	   changes in it, or once the append that runs has ended; after a
	   failed write, at its retry; once the agent stops, by
	   vault_stop(). */
	if (!a->stopping)
		uv_idle_start(&v->flush, on_flush);
	return v->seq;
}

uint64_t vault_persist(struct agent *a, const char *name)
{
	return a->vault == NULL ? 0 : note_change(a, &a->vault->dirty, name);
}

uint64_t vault_persist_mark(struct agent *a, const char *name)
{
	return a->vault == NULL ? 0 : note_change(a, &a->vault->marked, name);
}

/* A new base whose snapshot is still being taken is dropped (LOCK wipes
   the accounts, a stop frees them): the journal holds every change, and
   the base is due again after an UNLOCK or at the next start. */
static void abandon_walk(struct agent *a)
{
	struct agent_vault *v = a->vault;

	if (v->walk == NULL)
		return;
	vault_walk_abandon(a);
	job_free(v->compaction);
	v->compaction = NULL;
}

void vault_flush(struct agent *a)
{
	struct agent_vault *v = a->vault;

	if (v == NULL)
		return;
	abandon_walk(a);
	if (v->state != VAULT_OPEN)
		return;
	uv_idle_stop(&v->flush);
	if (!v->journal && v->compaction == NULL && v->seq > v->base_seq_done)
		start_base(a);
	take_record(a);
	/* No new base starts from here: its walk would go on over the
	   accounts that LOCK wipes (or a stop frees), and the journal holds
	   every change anyway. */
	v->flushing = 1;
	kick(a);
	v->flushing = 0;
}

int vault_writes_idle(const struct agent *a)
{
	const struct agent_vault *v = a->vault;

	return !v->lane_busy && !(v->compaction_busy && !v->journal);
}

/* Appends the bytes of the records queued (sealed now if need be). */
static int add_queued(struct agent_vault *v, unsigned char **img, size_t *len)
{
	struct vault_job *job;
	unsigned char *more;
	int r;

	for (job = v->queue; job != NULL; job = job->next) {
		if (job->kind != JOB_APPEND)
			continue;
		if ((r = job_seal(job)) != 0)
			return r;
		if ((more = realloc(*img, *len + job->len)) == NULL)
			return XO_ERR_NOMEM;
		memcpy(more + *len, job->bytes, job->len);
		*img = more;
		*len += job->len;
	}
	return 0;
}

int vault_newest(struct agent *a, struct vault_kdf_job *kjob, vault_kdf_cb cb,
		 unsigned char **img, size_t *len, int *adopt,
		 struct agent_err *err)
{
	struct agent_vault *v = a->vault;
	int r;

	*img = NULL;
	*len = 0;
	*adopt = 0;
	if (!vault_writes_idle(a)) {
		v->parked = kjob;
		v->parked_cb = cb;
		return 1;
	}
	if (!v->journal && v->compaction == NULL) {
		/* No base to put records after (it could not be sealed):
		   the file as it is. */
		if ((r = vault_read_file(v->path, img, len, err)) != 0)
			return r;
		*adopt = *img != NULL;
		return *img == NULL
			   ? agent_err_set(err, XO_ERR_NO_VAULT,
					   "the vault %s is gone", v->path)
			   : 0;
	}
	if (!v->journal) {
		/* The first base, not written yet (it failed): it is the
		   vault, and what was taken after it follows. */
		if ((r = job_seal(v->compaction)) != 0)
			return agent_err_code(err, r);
		if ((*img = malloc(v->compaction->len)) == NULL)
			return agent_err_code(err, XO_ERR_NOMEM);
		memcpy(*img, v->compaction->bytes, v->compaction->len);
		*len = v->compaction->len;
	} else {
		if ((r = vault_read_file(v->path, img, len, err)) != 0)
			return r;
		if (*img == NULL)
			return agent_err_set(err, XO_ERR_NO_VAULT,
					     "the vault %s is gone", v->path);
		if (!v->known || (v->queue == NULL && v->compaction == NULL)) {
			/* Nothing is on its way to it: the file is the
			   vault, as it is. */
			*adopt = 1;
			return 0;
		}
		if (v->journal && *len > v->file_end)
			*len = (size_t)v->file_end; /* a torn record */
	}
	if ((r = add_queued(v, img, len)) != 0) {
		free(*img);
		*img = NULL;
		return agent_err_code(err, r);
	}
	return 0;
}

/* Runs a job at exit, without the loop: its work and what it changes of
   the file.  0 when it went well. */
static int drain_one(struct agent *a, struct vault_job *job)
{
	struct agent_vault *v = a->vault;

	if (job->kind == JOB_APPEND)
		job->off = v->file_end;
	else if (job->kind == JOB_COMMIT && v->journal) {
		job->off = v->carry_from != 0 ? v->carry_from : v->file_end;
		job->to = v->file_end;
	}
	do_job(&job->work);
	if (job->err.code != 0) {
		log_error("vault: the last changes were not written: %s",
			  agent_err_text(&job->err));
		return -1;
	}
	file_written(a, job);
	return 0;
}

void vault_write_drain(struct agent *a)
{
	struct agent_vault *v = a->vault;

	if (v == NULL)
		return;
	abandon_walk(a);
	/* A base whose first half never ran (taken at stop). */
	if (v->compaction != NULL && v->compaction->kind == JOB_BASE &&
	    drain_one(a, v->compaction) != 0)
		return;
	while (v->queue != NULL) {
		if (v->queue->kind == JOB_APPEND && !v->journal)
			return; /* no base to append to: logged above */
		if (drain_one(a, v->queue) != 0)
			return;
	}
}

void vault_write_free(struct agent *a)
{
	struct agent_vault *v = a->vault;
	struct vault_job *job;

	abandon_walk(a);
	if (v->compaction != NULL && v->compaction->kind == JOB_BASE)
		job_free(v->compaction);
	v->compaction = NULL;
	while ((job = v->queue) != NULL) {
		v->queue = job->next;
		job_free(job);
	}
	vault_names_free(&v->dirty);
	vault_names_free(&v->marked);
	v->dirty_all = false;
	vault_snapshot_free(v->dropping);
	v->dropping = NULL;
}
