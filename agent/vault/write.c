/*
 * write.c: the write queue.
 *
 * A change is numbered at once (vault_persist()) and sealed later, with
 * every other change made meanwhile: at the end of the turn of the loop
 * in which it was made (an idle handle) when no write runs, else when the
 * write that runs has ended.  A snapshot holds every account, so with
 * many accounts it is large (some 250 MiB for 100,000 accounts with
 * 2 KiB refresh tokens): one per change would be one per refresh, twice
 * (the "presented" mark, then the rotated token), and a storm of
 * refreshes would do nothing else.  Sealing happens on the loop (it needs
 * the key and the accounts, which live there); the write itself (a
 * temporary file, fsync, rename, fsync of the directory: vault/io.c) runs
 * in libuv's thread pool, since fsync can take long.  One write runs at a
 * time: the disk sees every state that was asked for or a newer one, in
 * order.  When a write has ended, the account store is told
 * (account_store_written()): what waited for it goes on.
 *
 * A failed write is logged, shown in LIST, retried with a growing delay,
 * and does not stop the agent: it keeps serving from memory (what waited
 * for the write goes on, DESIGN.md "If a write fails, keep serving").
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

struct write_job {
	uv_work_t work;
	struct agent *agent;
	char *path;
	unsigned char *img; /* sealed; NULL until do_write() seals plain */
	size_t len;
	struct vault_snapshot *snap; /* for do_write() to join and seal */
	struct vault_key *key;	     /* its key: the job's own copy */
	uint64_t seq;
	uint64_t t_start, t_sealed; /* uv_hrtime(): for the debug log */
	struct agent_err err;
};

static void start_job(struct agent *a);
static void on_flush(uv_idle_t *h);
static void on_retry(uv_timer_t *t);
static void start_snapshot_job(struct agent *a);

int vault_seal_now(struct agent *a, unsigned char **img, size_t *len)
{
	struct agent_plain *plain = NULL, *key_bytes = NULL;
	struct vault_key k;
	int r;

	*img = NULL;
	*len = 0;
	if ((r = vault_store_snapshot(a, &plain)) != 0)
		return r;
	if ((r = vault_key_borrow(a, &k, &key_bytes)) == 0)
		r = vault_seal(&k, plain->data, plain->len, img, len);
	agent_plain_free(key_bytes);
	agent_plain_free(plain);
	return r;
}

/* The changes could not be sealed: reported, and whoever would wait goes
   on at once, as there is no write to wait for.  The next change tries
   again. */
static void seal_failed(struct agent *a, int r)
{
	struct agent_vault *v = a->vault;

	vault_set_problem(v, "vault not written: cannot seal it: %s",
			  proto_strerror(r));
	log_error("%s", v->problem);
	v->sealed_seq = v->written_seq = v->seq;
	vault_writes_ended(a);
}

/* Seals the changes made since the last image into the next one; a
   newer image replaces one that has not started. */
static void seal_changes(struct agent *a)
{
	struct agent_vault *v = a->vault;
	unsigned char *img = NULL;
	size_t len = 0;
	int r;

	if (v->sealed_seq >= v->seq || v->state != VAULT_OPEN)
		return;
	if ((r = vault_seal_now(a, &img, &len)) != 0) {
		seal_failed(a, r);
		return;
	}
	free(v->next_img);
	v->next_img = img;
	v->next_len = len;
	v->next_seq = v->sealed_seq = v->seq;
}

void vault_flush(struct agent *a)
{
	struct agent_vault *v = a->vault;

	if (v == NULL)
		return;
	uv_idle_stop(&v->flush);
	/* A write sealing in the pool has no image the loop could open
	   meanwhile (vault_newest_image()): seal everything here. */
	if (v->in_flight && v->flight_img == NULL && v->next_img == NULL)
		v->sealed_seq = 0;
	seal_changes(a);
	if (v->failures == 0)
		start_job(a);
}

static void on_flush(uv_idle_t *h)
{
	struct agent *a = h->data;

	uv_idle_stop(h);
	/* A write that runs takes the changes when it ends. */
	if (!a->vault->in_flight && a->vault->failures == 0)
		start_snapshot_job(a);
}

static void on_retry(uv_timer_t *t)
{
	struct agent *a = t->data;

	/* The failed image, or a newer one. */
	start_snapshot_job(a);
}

void vault_write_init(struct agent *a)
{
	uv_timer_init(a->loop, &a->vault->retry);
	a->vault->retry.data = a;
	uv_idle_init(a->loop, &a->vault->flush);
	a->vault->flush.data = a;
}

/* In the thread pool: seals the snapshot (when the loop took one rather
   than an image: sealing some hundreds of MiB takes a while), wipes it,
   and writes the image. */
static void do_write(uv_work_t *req)
{
	struct write_job *job = req->data;
	int r;

	if (job->snap != NULL) {
		struct agent_plain *plain = NULL;

		if ((r = vault_snapshot_text(job->snap, &plain)) == 0)
			r = vault_seal(job->key, plain->data, plain->len,
				       &job->img, &job->len);
		job->t_sealed = uv_hrtime();
		agent_plain_free(plain);
		vault_key_free(job->key);
		job->key = NULL;
		if (r != 0) {
			agent_err_set(&job->err, r, "cannot seal it: %s",
				      proto_strerror(r));
			return;
		}
	}
	vault_write_file(job->path, job->img, job->len, &job->err);
}

void vault_writes_ended(struct agent *a)
{
	struct agent_vault *v = a->vault;

	account_store_written(a->store, v->written_seq,
			      v->failures > 0 ? v->problem : NULL);
}

static void after_write(uv_work_t *req, int status)
{
	struct write_job *job = req->data;
	struct agent *a = job->agent;
	struct agent_vault *v = a->vault;
	uint64_t delay;

	v->in_flight = 0;
	/* The references to the records, dropped on the loop's thread. */
	vault_snapshot_free(job->snap);
	job->snap = NULL;
	log_debug(
	    "vault: %zu bytes written in %llu ms (sealed in %llu ms)", job->len,
	    (unsigned long long)((uv_hrtime() - job->t_start) / 1000000),
	    (unsigned long long)(job->t_sealed > job->t_start
				     ? (job->t_sealed - job->t_start) / 1000000
				     : 0));
	if (status != 0 && job->err.code == 0)
		agent_err_code(&job->err, XO_ERR_INTERNAL);
	if (job->err.code != 0) {
		v->failures++;
		delay = (uint64_t)RETRY_FIRST_MS
			<< (v->failures < 8 ? v->failures - 1 : 7);
		if (delay > RETRY_MAX_MS)
			delay = RETRY_MAX_MS;
		vault_set_problem(v,
				  "vault not written: %s; the tokens are held "
				  "in memory only, next try in %llu s",
				  agent_err_text(&job->err),
				  (unsigned long long)(delay / 1000));
		log_error("%s", v->problem);
		/* The failed image is still the newest unless a newer one
		   waits (or it could not even be sealed: the retry seals
		   again). */
		if (job->img == NULL)
			v->sealed_seq = 0;
		else if (v->next_img == NULL) {
			v->next_img = job->img;
			v->next_len = job->len;
			v->next_seq = job->seq;
			job->img = NULL; /* transferred */
		}
		if (!a->stopping)
			uv_timer_start(&v->retry, on_retry, delay, 0);
	} else {
		if (v->failures > 0)
			log_info("vault %s written again", v->path);
		v->failures = 0;
		vault_set_problem(v, NULL);
		v->exists = 1;
	}
	if (job->seq > v->written_seq)
		v->written_seq = job->seq;
	v->flight_img = NULL;
	free(job->img);
	free(job->path);
	free(job);
	agent_test_crash("after_write");
	vault_writes_ended(a);
	/* What changed while this write ran goes into the next. */
	if (v->failures == 0 && !a->stopping)
		start_snapshot_job(a);
	/* The writes have gone quiet (the end of a storm of refreshes, or a
	   single change): the heap pages that the tokens and records freed
	   meanwhile go back to the system, rather than stay resident. */
	if (!v->in_flight)
		malloc_trim(0);
}

/* Queues job (its image, or its snapshot to seal) in the thread pool. */
static void run_job(struct agent *a, struct write_job *job)
{
	struct agent_vault *v = a->vault;

	job->agent = a;
	job->work.data = job;
	job->t_start = uv_hrtime();
	v->in_flight = 1;
	v->flight_img = job->img;
	v->flight_len = job->len;
	uv_timer_stop(&v->retry);
	if (uv_queue_work(a->loop, &job->work, do_write, after_write) != 0) {
		v->in_flight = 0;
		v->flight_img = NULL;
		if (job->img != NULL && v->next_img == NULL) {
			v->next_img = job->img;
			v->next_len = job->len;
			v->next_seq = job->seq;
		} else {
			free(job->img);
			v->sealed_seq = 0; /* sealed again at the retry */
		}
		vault_snapshot_free(job->snap);
		vault_key_free(job->key);
		free(job->path);
		free(job);
		uv_timer_start(&v->retry, on_retry, RETRY_FIRST_MS, 0);
	}
}

static struct write_job *job_new(struct agent *a)
{
	struct write_job *job;

	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (job->path = strdup(a->vault->path)) == NULL) {
		free(job);
		uv_timer_start(&a->vault->retry, on_retry, RETRY_FIRST_MS, 0);
		return NULL;
	}
	return job;
}

/* Writes the image that waits (a failed one, or one LOCK sealed). */
static void start_job(struct agent *a)
{
	struct agent_vault *v = a->vault;
	struct write_job *job;

	if (v == NULL || v->in_flight || v->next_img == NULL || a->stopping)
		return;
	if ((job = job_new(a)) == NULL)
		return;
	job->img = v->next_img;
	job->len = v->next_len;
	job->seq = v->next_seq;
	v->next_img = NULL; /* transferred */
	run_job(a, job);
}

/*
 * Writes the changes made since the last image: the snapshot is taken on
 * the loop (it reads the accounts) and sealed in the thread pool with a
 * copy of the key, so the loop spends on a write only the copy of the
 * records.  Falls back to start_job() for an image that waits.
 */
static void start_snapshot_job(struct agent *a)
{
	struct agent_vault *v = a->vault;
	struct agent_plain *key_bytes = NULL;
	struct vault_snapshot *snap = NULL;
	struct write_job *job;
	struct vault_key k;
	uint64_t t0;
	int r;

	if (v == NULL || v->in_flight || a->stopping)
		return;
	if (v->sealed_seq >= v->seq || v->state != VAULT_OPEN) {
		start_job(a);
		return;
	}
	if ((job = job_new(a)) == NULL)
		return;
	t0 = uv_hrtime();
	if ((r = vault_snapshot_take(a, &snap)) != 0 ||
	    (r = vault_key_borrow(a, &k, &key_bytes)) != 0 ||
	    (r = vault_key_from_bytes(k.key, VAULT_KEY_LEN, &job->key)) != 0) {
		vault_snapshot_free(snap);
		agent_plain_free(key_bytes);
		free(job->path);
		free(job);
		seal_failed(a, r);
		return;
	}
	agent_plain_free(key_bytes);
	log_debug("vault: snapshot taken in %llu ms",
		  (unsigned long long)((uv_hrtime() - t0) / 1000000));
	job->key->params = k.params;
	job->snap = snap;
	/* An older image that waited is replaced: this one holds more. */
	free(v->next_img);
	v->next_img = NULL;
	job->seq = v->sealed_seq = v->seq;
	run_job(a, job);
}

uint64_t vault_persist(struct agent *a)
{
	struct agent_vault *v = a->vault;

	if (v == NULL || v->state != VAULT_OPEN)
		return 0;
	v->seq++;
	/* Sealed at the end of this turn of the loop with whatever else
	   changes in it, or once the write that runs has ended; after a
	   failed write, at its retry; once the agent stops, by vault_stop(). */
	if (!v->in_flight && v->failures == 0 && !a->stopping)
		uv_idle_start(&v->flush, on_flush);
	return v->seq;
}

const unsigned char *vault_newest_image(const struct agent *a, size_t *len)
{
	const struct agent_vault *v = a->vault;

	if (v->next_img != NULL) {
		*len = v->next_len;
		return v->next_img;
	}
	*len = v->flight_len;
	return v->in_flight ? v->flight_img : NULL;
}
