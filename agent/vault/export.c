/*
 * export.c: EXPORT and RESTORE (PROTOCOL.md 4.10).
 *
 * An export is a vault image like the vault's own (pure/image.h), sealed
 * with a key Argon2id derives from the export's passphrase and a fresh
 * salt, holding the same JSON as the vault (records.c); it travels as
 * base64 in up to PROTO_MAX_CHUNKS pieces.  RESTORE opens one and adds
 * what this agent lacks: runtime accounts it does not have, refresh
 * tokens for accounts that hold none.  Records for accounts it does not
 * know stay in its vault, as the vault keeps them (records.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "account/account.h"
#include "core/conn.h"
#include "core/log.h"
#include "secret/secret.h"
#include "vault/vault_internal.h"

#define B64 sodium_base64_VARIANT_ORIGINAL

/* Sends the image as base64 pieces. */
static int send_export(struct conn *c, const unsigned char *img, size_t len)
{
	struct proto_export rep;
	struct agent_reply reply = {0};
	size_t b64_len = sodium_base64_encoded_len(len, B64), n, off;
	char *b64;
	int r;

	if ((b64 = malloc(b64_len)) == NULL)
		return XO_ERR_NOMEM;
	sodium_bin2base64(b64, b64_len, img, len, B64);
	n = strlen(b64);
	memset(&rep, 0, sizeof(rep));
	for (off = 0; off < n && rep.count < PROTO_MAX_CHUNKS; rep.count++) {
		size_t piece =
		    n - off > PROTO_MAX_STR ? PROTO_MAX_STR : n - off;

		rep.chunks[rep.count].ptr = b64 + off;
		rep.chunks[rep.count].len = (uint32_t)piece;
		off += piece;
	}
	r = XO_ERR_MSG_TOO_LARGE;
	if (off == n && (r = agent_reply_init(&reply, n + 64)) == 0 &&
	    (r = proto_enc_export_rep(&reply.w, &rep)) == 0)
		agent_conn_send(c, &reply);
	agent_reply_cleanup(&reply);
	free(b64);
	return r;
}

static void exported(struct vault_kdf_job *job)
{
	struct agent *a = job->agent;
	struct agent_plain *plain = NULL;
	unsigned char *img = NULL;
	size_t len = 0;
	int r;

	if (a->stopping || job->conn == NULL) {
		vault_kdf_reply(job, XO_ERR_BUSY, "the agent is stopping");
		return;
	}
	if ((r = job->err) != 0 ||
	    (vault_locked(a) && (r = XO_ERR_LOCKED) != 0) ||
	    (r = vault_store_snapshot(a, &plain)) != 0 ||
	    (r = vault_seal(job->key, plain->data, plain->len, &img, &len)) !=
		0) {
		agent_plain_free(plain);
		vault_kdf_reply(job, r, NULL);
		return;
	}
	agent_plain_free(plain);
	if ((r = send_export(job->conn, img, len)) != 0) {
		free(img);
		vault_kdf_reply(job, r,
				r == XO_ERR_MSG_TOO_LARGE
				    ? "the export does not fit in one reply: "
				      "too many accounts"
				    : NULL);
		return;
	}
	free(img);
	log_info("accounts exported");
	job->conn = NULL;
	vault_kdf_free(job);
}

void vault_handle_export(struct agent_request *req)
{
	const struct proto_passphrase_req *q = &req->m.passphrase;
	struct conn *c = req->conn;
	struct agent *a = req->agent;
	struct vault_kdf_job *job = NULL;
	struct vault_params p;
	int r;

	if (q->passphrase.len == 0) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD, "empty passphrase");
		return;
	}
	/* A salt of its own: the export's key is not the vault's. */
	vault_params_new(VAULT_KDF_ARGON2ID, &p);
	if ((r = vault_kdf_start(a, c, q->passphrase, &p, exported, &job)) != 0)
		agent_conn_reply_failure(c, r, NULL);
}

static void restored(struct vault_kdf_job *job)
{
	struct agent *a = job->agent;
	struct agent_plain *plain = NULL;
	struct conn *c = job->conn;
	struct agent_err why;
	char msg[AGENT_ERR_MSG_MAX];
	unsigned n = 0;
	uint64_t seq;
	int r;

	if (a->stopping || c == NULL) {
		vault_kdf_reply(job, XO_ERR_BUSY, "the agent is stopping");
		return;
	}
	if ((r = job->err) != 0 ||
	    (vault_locked(a) && (r = XO_ERR_LOCKED) != 0)) {
		vault_kdf_reply(job, r, NULL);
		return;
	}
	r = vault_unseal(job->key, job->img, job->len, &plain);
	if (r == XO_ERR_WRONG_PASSPHRASE) {
		vault_kdf_reply(job, r, "wrong passphrase for this export");
		return;
	}
	agent_err_clear(&why);
	if (r == 0)
		r = vault_store_apply(a, plain, VAULT_APPLY_RESTORE, &n, &why);
	agent_plain_free(plain);
	if (r != 0) {
		snprintf(msg, sizeof(msg), "not a usable export: %s",
			 why.msg[0] != '\0' ? why.msg : proto_strerror(r));
		vault_kdf_reply(job, r, msg);
		return;
	}
	log_info("restore: %u accounts added or given a refresh token", n);
	account_store_schedule(a->store);
	seq = vault_persist(a, NULL);
	job->conn = NULL;
	vault_kdf_free(job);
	account_reply_when_durable(a->store, c, seq, false);
}

/* Joins and decodes the pieces into *img (malloc). */
static int decode(const struct proto_export *data, unsigned char **img,
		  size_t *len)
{
	size_t total = 0, i, got = 0;
	char *b64, *w;
	int r = 0;

	*img = NULL;
	for (i = 0; i < data->count; i++)
		total += data->chunks[i].len;
	if (total == 0)
		return XO_ERR_VAULT_FOREIGN;
	if ((b64 = malloc(total + 1)) == NULL)
		return XO_ERR_NOMEM;
	for (w = b64, i = 0; i < data->count; i++) {
		memcpy(w, data->chunks[i].ptr, data->chunks[i].len);
		w += data->chunks[i].len;
	}
	*w = '\0';
	if ((*img = malloc(total)) == NULL) {
		free(b64);
		return XO_ERR_NOMEM;
	}
	if (sodium_base642bin(*img, total, b64, total, " \t\r\n", &got, NULL,
			      B64) != 0) {
		free(*img);
		*img = NULL;
		r = XO_ERR_VAULT_FOREIGN;
	}
	*len = got;
	free(b64);
	return r;
}

void vault_handle_restore(struct agent_request *req)
{
	const struct proto_restore_req *q = &req->m.restore;
	struct conn *c = req->conn;
	struct agent *a = req->agent;
	struct vault_kdf_job *job = NULL;
	struct vault_params p;
	unsigned char *img = NULL;
	size_t len = 0;
	int r;

	if (q->passphrase.len == 0) {
		agent_conn_reply_failure(c, XO_ERR_MSG_BAD, "empty passphrase");
		return;
	}
	if ((r = decode(&q->data, &img, &len)) != 0 ||
	    (r = vault_image_params(img, len, &p)) != 0 ||
	    (p.kdf != VAULT_KDF_ARGON2ID && (r = XO_ERR_VAULT_FOREIGN) != 0)) {
		free(img);
		agent_conn_reply_failure(
		    c, r,
		    r == XO_ERR_NOMEM ? NULL
		    : r == XO_ERR_VAULT_NEWER
			? "the export was made by a newer xoauth-agent"
			: "this is not an xoauth export (or it is damaged)");
		return;
	}
	if ((r = vault_kdf_start(a, c, q->passphrase, &p, restored, &job)) !=
	    0) {
		free(img);
		agent_conn_reply_failure(c, r, NULL);
		return;
	}
	job->img = img;
	job->len = len;
}
