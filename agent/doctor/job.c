/*
 * job.c: one DOCTOR request (PROTOCOL.md 4.9) from start to reply.
 *
 *   1. the settings are checked (client type, scopes against the hosts);
 *   2. when the account has a refresh token but no valid access token, a
 *      refresh is started (or joined) and awaited, within the request's
 *      wait, so that the diagnosis sees a fresh token or a fresh error;
 *      then the same for the token of the scope its transport needs
 *      (send = graph: Microsoft Graph's Mail.Send), whose refusal
 *      (AADSTS65001) is why an API send fails while SMTP works;
 *   3. the state and the last error are explained, the token's claims
 *      shown where it is a JWT;
 *   4. with --smtp / --imap, real logins run on the loop;
 *   5. the findings go back as one DOCTOR reply.
 *
 * The job never keeps a pointer to the account across the loop: a reload
 * or a DELETE may free it.  While it waits for the refresh it looks the
 * account up by name on each tick of a short timer; the logins get copies
 * of what they need.  The connection holds the job (agent_conn_hold), so
 * a client that hangs up cancels it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account/account.h"
#include "config/config.h"
#include "core/agent.h"
#include "core/clock.h"
#include "core/conn.h"
#include "core/err.h"
#include "core/log.h"
#include "doctor/job.h"
#include "doctor/probe.h"
#include "doctor/pure/doctor.h"
#include "secret/secret.h"

/* How often the job looks whether the refresh it waits for has ended. */
#define REFRESH_POLL_MS 50
/* The reply must reach the client before the client's own wait ends. */
#define REPLY_MARGIN_MS 1500
#define MIN_LOGIN_MS 1000
/* A token closer to its end than this is refreshed first. */
#define MIN_VALID_MS 5000

struct doctor_job {
	struct agent *agent;
	struct conn *conn;
	char *name;
	struct doctor_report *report;
	int want_smtp, want_imap; /* asked for, and parsed */
	struct agent_mailhost smtp, imap;
	const char *smtp_host, *imap_host; /* into smtp/imap, or NULL */
	int64_t deadline;		   /* CLOCK_BOOTTIME ms */
	uv_timer_t timer;		   /* closed when the job ends */
	struct doctor_probe *probe_smtp, *probe_imap;
	int pending; /* logins still running */
	int held;    /* the connection holds the job */
	/* The transport's scope (step 2): looked at, and what came. */
	int scope_done;
	int scope_err;
	char scope_msg[AGENT_ERR_MSG_MAX];
};

static void on_job_closed(uv_handle_t *h)
{
	struct doctor_job *job = h->data;

	free(job->report);
	free(job->name);
	free(job);
}

static void job_free(struct doctor_job *job)
{
	doctor_probe_free(job->probe_smtp);
	doctor_probe_free(job->probe_imap);
	job->probe_smtp = job->probe_imap = NULL;
	uv_timer_stop(&job->timer);
	uv_close((uv_handle_t *)&job->timer, on_job_closed);
}

/* The connection closed before the reply: drop everything. */
static void job_cancel(void *arg)
{
	struct doctor_job *job = arg;

	log_debug("doctor: %s: the client went away", job->name);
	job->conn = NULL;
	job_free(job);
}

static void job_finish(struct doctor_job *job)
{
	struct agent_reply reply;
	int r;

	if ((r = agent_reply_init(&reply, PROTO_MAX_MSG + PROTO_HEADER_LEN)) !=
		0 ||
	    (r = doctor_report_encode(job->report, &reply.w)) != 0)
		agent_conn_reply_failure(job->conn, r, NULL);
	else
		agent_conn_send(job->conn, &reply);
	agent_reply_cleanup(&reply);
	job->conn = NULL;
	job_free(job);
}

static void hold(struct doctor_job *job)
{
	if (!job->held) {
		agent_conn_hold(job->conn, job_cancel, job);
		job->held = 1;
	}
}

/* What the pure checks look at; strings point into acct. */
static void snapshot(const struct account *acct, struct doctor_account *a)
{
	const struct agent_account_cfg *cfg = account_cfg(acct);
	struct account_status st;

	account_status(acct, &st);
	memset(a, 0, sizeof(*a));
	a->name = cfg->name;
	a->provider = cfg->provider != NULL ? cfg->provider : "";
	a->email = account_email(acct);
	a->client_id = cfg->client_id;
	a->tenant = cfg->tenant;
	a->scopes = cfg->scopes;
	a->flow = cfg->flow;
	a->token_endpoint = cfg->token_endpoint;
	a->has_client_secret = st.has_client_secret;
	a->state = st.health;
	a->has_refresh_token = st.has_refresh_token;
	a->has_access_token = st.has_access_token;
	a->valid_s = (long)(st.valid_ms / 1000);
	a->last_err = st.last->code;
	a->last_error = st.last->msg;
	if (st.last->msg[0] == '\0' && st.login->code != 0) {
		a->last_err = st.login->code;
		a->last_error = st.login->msg;
	}
	a->last_aadsts = st.last_aadsts;
	a->last_oauth_error =
	    st.last_oauth_error[0] != '\0' ? st.last_oauth_error : NULL;
	a->last_fault = st.last_fault;
	a->lifetime_note = st.lifetime_note;
}

static void on_probe_done(void *arg, struct doctor_probe *p)
{
	struct doctor_job *job = arg;

	doctor_probe_report(p, job->report);
	if (--job->pending == 0)
		job_finish(job);
}

static long login_budget(const struct doctor_job *job)
{
	int64_t left = job->deadline - agent_now_boot() - REPLY_MARGIN_MS;

	return left > MIN_LOGIN_MS ? (long)left : MIN_LOGIN_MS;
}

static void start_login(struct doctor_job *job, int imap,
			const struct account *acct,
			const struct agent_plain *token)
{
	struct doctor_probe **slot = imap ? &job->probe_imap : &job->probe_smtp;
	const struct agent_mailhost *t = imap ? &job->imap : &job->smtp;
	int r;

	r = doctor_probe_start(job->agent->http, imap, t, account_email(acct),
			       account_cfg(acct)->ca_file, token,
			       login_budget(job), on_probe_done, job, slot);
	if (r != 0)
		doctor_addf(job->report, PROTO_LEVEL_PROBLEM, NULL,
			    "%s login not tried: %s", imap ? "IMAP" : "SMTP",
			    proto_strerror(r));
	else
		job->pending++;
}

static void not_tried(struct doctor_job *job, const char *why)
{
	if (job->want_smtp)
		doctor_addf(job->report, PROTO_LEVEL_INFO, NULL,
			    "SMTP login not tried: %s", why);
	if (job->want_imap)
		doctor_addf(job->report, PROTO_LEVEL_INFO, NULL,
			    "IMAP login not tried: %s", why);
}

/* Steps 3 to 5, with the account as it is now. */
static void diagnose(struct doctor_job *job, struct account *acct)
{
	struct agent_plain *token = NULL;
	struct doctor_account snap;
	struct doctor_claims claims;
	int r;

	snapshot(acct, &snap);
	doctor_check_state(&snap, job->report);
	if (job->scope_done)
		doctor_check_send_scope(
		    &snap, account_cfg(acct)->send,
		    agent_account_send_scope(account_cfg(acct)), job->scope_err,
		    job->scope_msg, job->report);
	if (!snap.has_access_token) {
		not_tried(job, "the agent holds no valid access token");
		goto done;
	}
	if ((r = account_open_access_token(acct, &token)) != 0) {
		doctor_addf(job->report, PROTO_LEVEL_PROBLEM, NULL,
			    "The access token cannot be read: %s",
			    proto_strerror(r));
		goto done;
	}
	switch (doctor_jwt_claims(token->data, token->len, &claims)) {
	case DOCTOR_JWT_OK:
		doctor_check_claims(&claims, &snap, job->smtp_host,
				    job->imap_host, time(NULL), job->report);
		break;
	case DOCTOR_JWT_NOT_JWT:
		doctor_add(job->report, PROTO_LEVEL_INFO,
			   "The access token is not a JWT (it is opaque, as "
			   "Google's and Outlook.com's are), so its claims "
			   "cannot be inspected; only a login (--smtp, "
			   "--imap) tells whether a server accepts it",
			   NULL);
		break;
	default:
		doctor_add(job->report, PROTO_LEVEL_INFO,
			   "The access token looks like a JWT but its payload "
			   "cannot be read, so its claims cannot be inspected",
			   NULL);
		break;
	}
	if ((job->want_smtp || job->want_imap) &&
	    (account_email(acct) == NULL || account_email(acct)[0] == '\0')) {
		not_tried(job, "no e-mail address for the XOAUTH2 user name");
		goto done;
	}
	if (job->want_smtp)
		start_login(job, 0, acct, token);
	if (job->want_imap)
		start_login(job, 1, acct, token);
done:
	agent_plain_free(token);
	if (job->pending > 0)
		hold(job);
	else
		job_finish(job);
}

static void on_tick(uv_timer_t *t);

/*
 * Step 2 for the transport's scope: asks for its token, which starts its
 * refresh when none is held.  1 when the job waits for that refresh (the
 * timer is started), 0 when there is nothing (more) to wait for.
 */
static int scope_step(struct doctor_job *job, struct account *acct)
{
	const char *scope = agent_account_send_scope(account_cfg(acct));
	struct agent_plain *token = NULL;
	struct account_status st;
	struct agent_err err;
	int r;

	account_status(acct, &st);
	if (job->scope_done || scope == NULL || !st.has_access_token)
		return 0;
	agent_err_clear(&err);
	r = account_token_get(acct, scope, 0, &token, &err);
	agent_plain_free(token);
	if (r == XO_ERR_BUSY && agent_now_boot() < job->deadline) {
		hold(job);
		uv_timer_start(&job->timer, on_tick, REFRESH_POLL_MS, 0);
		return 1;
	}
	job->scope_done = 1;
	job->scope_err = r;
	snprintf(job->scope_msg, sizeof(job->scope_msg), "%s",
		 r == XO_ERR_BUSY ? "its refresh did not end within the wait"
		 : err.msg[0] != '\0' ? err.msg
				      : proto_strerror(r));
	return 0;
}

static void on_tick(uv_timer_t *t)
{
	struct doctor_job *job = t->data;
	struct account *acct;

	acct = account_find(job->agent->store, job->name, strlen(job->name));
	if (acct == NULL) {
		doctor_addf(job->report, PROTO_LEVEL_PROBLEM, NULL,
			    "[account %s] was removed during the diagnosis",
			    job->name);
		job_finish(job);
		return;
	}
	if (account_refreshing(acct) && agent_now_boot() < job->deadline) {
		uv_timer_start(&job->timer, on_tick, REFRESH_POLL_MS, 0);
		return;
	}
	if (account_refreshing(acct))
		doctor_addf(job->report, PROTO_LEVEL_WARNING, NULL,
			    "The refresh of [account %s] did not end within "
			    "the wait",
			    job->name);
	else if (scope_step(job, acct))
		return;
	diagnose(job, acct);
}

/* Parses --smtp / --imap; a bad one becomes a finding. */
static void parse_target(struct doctor_job *job, struct proto_str spec,
			 int imap)
{
	struct agent_mailhost *t = imap ? &job->imap : &job->smtp;
	char buf[300], why[160];

	if (spec.len == 0)
		return;
	if (spec.len >= sizeof(buf) || memchr(spec.ptr, '\0', spec.len)) {
		snprintf(why, sizeof(why), "it is too long");
		snprintf(buf, sizeof(buf), "(%u bytes)", (unsigned)spec.len);
	} else {
		memcpy(buf, spec.ptr, spec.len);
		buf[spec.len] = '\0';
		if (agent_mailhost_parse(buf, imap, t, why, sizeof(why)) == 0) {
			if (imap) {
				job->want_imap = 1;
				job->imap_host = t->host;
			} else {
				job->want_smtp = 1;
				job->smtp_host = t->host;
			}
			return;
		}
	}
	doctor_addf(job->report, PROTO_LEVEL_PROBLEM,
		    "Give the server as HOST or HOST:PORT, e.g. "
		    "smtp.office365.com:587 or outlook.office365.com:993.",
		    "--%s '%s' is not HOST[:PORT]: %s", imap ? "imap" : "smtp",
		    buf, why);
}

/* Starts the diagnosis; 0, or an XO_ERR_* for the caller to answer
   with. */
static int doctor_start(struct account *acct, struct conn *c,
			const struct proto_doctor_req *req)
{
	struct agent *a = account_agent(acct);
	const char *name = account_name(acct);
	struct doctor_job *job;
	struct doctor_account snap;
	struct agent_err err;
	uint32_t wait_ms =
	    req->wait_ms ? req->wait_ms : a->config->wait_default_ms;

	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (job->report = calloc(1, sizeof(*job->report))) == NULL ||
	    (job->name = strdup(name)) == NULL) {
		if (job != NULL) {
			free(job->report);
			free(job);
		}
		return XO_ERR_NOMEM;
	}
	job->agent = a;
	job->conn = c;
	job->deadline = agent_now_boot() + wait_ms;
	uv_timer_init(a->loop, &job->timer);
	job->timer.data = job;
	log_info("%s: doctor%s%s", name,
		 req->smtp.len ? " with an SMTP login" : "",
		 req->imap.len ? " with an IMAP login" : "");

	parse_target(job, req->smtp, 0);
	parse_target(job, req->imap, 1);
	snapshot(acct, &snap);
	doctor_check_client(&snap, job->report);
	doctor_check_scopes(&snap, job->smtp_host, job->imap_host, job->report);

	/* Step 2: a fresh token, if one can be had. */
	if (snap.has_refresh_token && snap.state != PROTO_STATE_LOGIN_PENDING &&
	    snap.state != PROTO_STATE_CONFIG_ERROR &&
	    !account_token_ok(acct, MIN_VALID_MS)) {
		if (account_refresh_start(acct, &err) == 0) {
			hold(job);
			uv_timer_start(&job->timer, on_tick, REFRESH_POLL_MS,
				       0);
			return 0;
		}
		doctor_addf(job->report, PROTO_LEVEL_WARNING, NULL,
			    "A refresh of [account %s] could not start: %s",
			    name, proto_strerror(err.code));
	}
	if (scope_step(job, acct))
		return 0;
	diagnose(job, acct);
	return 0;
}

void doctor_handle(struct agent_request *q)
{
	int r;

	if ((r = doctor_start(q->acct, q->conn, &q->m.doctor)) != 0)
		agent_conn_reply_failure(q->conn, r, NULL);
}
