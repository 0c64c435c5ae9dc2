/*
 * write.c: the write queue.
 *
 * A change is sealed into an image at once, on the loop (a snapshot of a
 * few accounts seals in microseconds, and sealing needs the key and the
 * accounts, which live on the loop); the write itself (a temporary file,
 * fsync, rename, fsync of the directory: vault/io.c) runs in libuv's
 * thread pool, since fsync can take long.  One write runs at a time; a
 * change made meanwhile is sealed into the next image, and a newer one
 * replaces it before it starts: the disk sees every state that was asked
 * for or a newer one, in order.  When a write has ended, the account store
 * is told (account_store_written()): what waited for it goes on.
 *
 * A failed write is logged, shown in LIST, retried with a growing delay,
 * and does not stop the agent: it keeps serving from memory (what waited
 * for the write goes on, DESIGN.md "If a write fails, keep serving").
 */
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
	unsigned char *img;
	size_t len;
	uint64_t seq;
	struct agent_err err;
};

static void start_job(struct agent *a);

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

static void on_retry(uv_timer_t *t)
{
	start_job(t->data);
}

void vault_write_init(struct agent *a)
{
	uv_timer_init(a->loop, &a->vault->retry);
	a->vault->retry.data = a;
}

static void do_write(uv_work_t *req)
{
	struct write_job *job = req->data;

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
		   waits. */
		if (v->next_img == NULL) {
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
	free(job->img);
	free(job->path);
	free(job);
	agent_test_crash("after_write");
	vault_writes_ended(a);
	if (v->failures == 0)
		start_job(a);
}

static void start_job(struct agent *a)
{
	struct agent_vault *v = a->vault;
	struct write_job *job;

	if (v == NULL || v->in_flight || v->next_img == NULL || a->stopping)
		return;
	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (job->path = strdup(v->path)) == NULL) {
		free(job);
		uv_timer_start(&v->retry, on_retry, RETRY_FIRST_MS, 0);
		return;
	}
	job->agent = a;
	job->img = v->next_img;
	job->len = v->next_len;
	job->seq = v->next_seq;
	v->next_img = NULL; /* transferred */
	job->work.data = job;
	v->in_flight = 1;
	v->flight_img = job->img;
	v->flight_len = job->len;
	uv_timer_stop(&v->retry);
	if (uv_queue_work(a->loop, &job->work, do_write, after_write) != 0) {
		v->in_flight = 0;
		v->next_img = job->img;
		free(job->path);
		free(job);
		uv_timer_start(&v->retry, on_retry, RETRY_FIRST_MS, 0);
	}
}

uint64_t vault_persist(struct agent *a)
{
	struct agent_vault *v = a->vault;
	unsigned char *img = NULL;
	size_t len = 0;
	int r;

	if (v == NULL || v->state != VAULT_OPEN)
		return 0;
	v->seq++;
	if ((r = vault_seal_now(a, &img, &len)) != 0) {
		/* Reported, and whoever would wait goes on at once: there
		   is no write to wait for.  The next change tries again. */
		vault_set_problem(v, "vault not written: cannot seal it: %s",
				  proto_strerror(r));
		log_error("%s", v->problem);
		v->written_seq = v->seq;
		return 0;
	}
	/* A newer image replaces one that has not started. */
	free(v->next_img);
	v->next_img = img;
	v->next_len = len;
	v->next_seq = v->seq;
	if (v->failures == 0)
		start_job(a);
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
