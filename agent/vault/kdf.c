/*
 * kdf.c: Argon2id for UNLOCK, EXPORT and RESTORE, in libuv's thread
 * pool: it takes about a second and 64 MiB by design, and the loop must go
 * on serving everyone else meanwhile.  The request's connection is held
 * (core/conn.c); if it closes first, the job finishes without answering.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "secret/secret.h"
#include "vault/vault_internal.h"

static void cancel_job(void *arg)
{
	struct vault_kdf_job *job = arg;

	job->conn = NULL;
}

static void derive(uv_work_t *req)
{
	struct vault_kdf_job *job = req->data;

	job->err = vault_key_from_passphrase(job->pass->data, job->pass->len,
					     &job->params, &job->key);
}

static void derived(uv_work_t *req, int status)
{
	struct vault_kdf_job *job = req->data;

	/* The passphrase is needed no longer. */
	agent_plain_free(job->pass);
	job->pass = NULL;
	if (status != 0 && job->err == 0)
		job->err = XO_ERR_INTERNAL;
	job->done(job);
}

int vault_kdf_start(struct agent *a, struct conn *c, struct proto_str pass,
		    const struct vault_params *params, vault_kdf_cb done,
		    struct vault_kdf_job **out)
{
	struct vault_kdf_job *job;
	int r;

	*out = NULL;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return XO_ERR_NOMEM;
	/* The request's frame is wiped once dispatch returns: copy the
	   passphrase into wiped memory of our own. */
	if ((r = agent_plain_dup(pass.ptr, pass.len, &job->pass)) != 0) {
		free(job);
		return r;
	}
	job->agent = a;
	job->conn = c;
	job->params = *params;
	job->done = done;
	job->work.data = job;
	uv_timer_init(a->loop, &job->delay);
	job->delay.data = job;
	if (uv_queue_work(a->loop, &job->work, derive, derived) != 0) {
		vault_kdf_free(job);
		return XO_ERR_INTERNAL;
	}
	agent_conn_hold(c, cancel_job, job);
	*out = job;
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	struct vault_kdf_job *job = h->data;

	agent_plain_free(job->pass);
	vault_key_free(job->key);
	free(job->img);
	free(job);
}

void vault_kdf_free(struct vault_kdf_job *job)
{
	uv_close((uv_handle_t *)&job->delay, on_closed);
}

void vault_kdf_reply(struct vault_kdf_job *job, int err, const char *msg)
{
	if (job->conn != NULL) {
		if (err == 0)
			agent_conn_reply_success(job->conn);
		else
			agent_conn_reply_failure(job->conn, err, msg);
	}
	job->conn = NULL;
	vault_kdf_free(job);
}

static void on_delay(uv_timer_t *t)
{
	struct vault_kdf_job *job = t->data;

	/* Only a failed UNLOCK waits: the next may begin. */
	if (job->agent->vault != NULL)
		job->agent->vault->unlocking = 0;
	vault_kdf_reply(job, job->late.code, job->late.msg);
}

void vault_kdf_fail_later(struct vault_kdf_job *job, int err, const char *msg,
			  uint64_t delay_ms)
{
	agent_err_set(&job->late, err, "%s", msg != NULL ? msg : "");
	uv_timer_start(&job->delay, on_delay, delay_ms, 0);
}
