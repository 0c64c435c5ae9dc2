/*
 * outbox.c: SEND, SEND_DATA and SEND_END (PROTOCOL.md 4.11), and one send
 * from its envelope to its reply.
 *
 * A message arrives in pieces on one connection: SEND opens it (the
 * envelope and the size, checked at once so that a refusal comes before
 * the bytes), the pieces are kept with the connection
 * (agent_conn_attach()) and SEND_END starts the job, which the
 * connection then holds (agent_conn_hold()).  The agent keeps at most
 * OUTBOX_MAX bytes of messages at once; past that, SEND is told busy.
 *
 * The job: (1) read the header block and settle the account, the
 * envelope and the copy that goes out; (2) get the transport's token,
 * looking every TOKEN_POLL_MS while a refresh runs, as the doctor does;
 * (3) send; (4) answer SENT, or the failure.  `auto` is SMTP first; when
 * the SMTP server refuses the login before any MAIL FROM with Exchange
 * Online's 5.7.139 (SMTP AUTH off) or 5.7.3, nothing was offered for
 * delivery, so Graph is tried, once, and the reply and the log say so.
 * A 401 from an API means the token was refused before anything was
 * accepted: a fresh token is tried once.  A 429 or 503 with a
 * Retry-After that ends within the request's wait is waited out and
 * tried again (at most API_TRIES times).  Nothing is tried again once
 * the message may have been accepted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "account/account.h"
#include "config/config.h"
#include "core/agent.h"
#include "core/clock.h"
#include "core/conn.h"
#include "core/dispatch.h"
#include "core/err.h"
#include "core/log.h"
#include "secret/secret.h"
#include "send/api.h"
#include "send/pure/message.h"
#include "send/send.h"
#include "send/smtp.h"

/* What the agent holds of messages at once, received or being sent. */
#define OUTBOX_MAX ((size_t)128 * 1024 * 1024)
/* A send's wait when SEND_END names none: a large message to a slow
   server takes longer than a token. */
#define SEND_WAIT_DEFAULT_MS 120000u
#define TOKEN_POLL_MS 50
/* How long the token must stay valid: 0, the agent's own margin (what
   TOKEN gives), which keeps clear of "expires soon" refusals. */
#define TOKEN_MIN_MS 0
/* The reply must reach the client before its own wait ends. */
#define REPLY_MARGIN_MS 1000
#define API_TRIES 3
#define SESSION_MAGIC 0x53454e44u /* "SEND" */

struct send_outbox {
	size_t bytes; /* of every session and job */
};

/* A message arriving: what SEND said, and the bytes so far. */
struct session {
	unsigned magic;
	struct agent *agent;
	char *account; /* "" : the agent chooses */
	char *from;
	char *fullname;
	uint8_t flags;
	struct send_addrs rcpts;
	char *msg;
	size_t size, len;
};

enum transport {
	T_SMTP,
	T_GRAPH,
	T_GMAIL,
};

struct job {
	struct agent *agent;
	struct conn *conn;
	struct session *s;
	char *account; /* the account's name, found again at each step */
	char from[SEND_ADDR_MAX + 1];
	struct send_headers hdr;
	struct send_addrs local_to; /* the account's local_recipient */
	char *copy;		    /* what goes out by the current transport */
	size_t copy_len;
	char *copy7; /* SMTP: the copy for a server without 8BITMIME */
	size_t copy7_len;
	char why7[300]; /* why there is none, for an 8-bit message */
	enum transport t;
	bool fallback_ok; /* auto: Graph after SMTP AUTH is refused */
	bool fresh_token; /* a 401 has been answered with a new token */
	int api_tries;
	int64_t deadline; /* CLOCK_BOOTTIME ms */
	uv_timer_t timer;
	struct send_smtp *smtp;
	struct send_api *api;
	char notice[700];
	char smtp_why[600]; /* why SMTP refused, once auto has fallen back */
	int held;
};

/* ---- the outbox ---- */

int send_outbox_new(struct agent *a)
{
	if ((a->outbox = calloc(1, sizeof(*a->outbox))) == NULL)
		return XO_ERR_NOMEM;
	return 0;
}

void send_outbox_free(struct agent *a)
{
	free(a->outbox);
	a->outbox = NULL;
}

static void session_free(struct session *s)
{
	if (s == NULL)
		return;
	if (s->agent->outbox != NULL)
		s->agent->outbox->bytes -= s->size;
	free(s->account);
	free(s->from);
	free(s->fullname);
	send_addrs_free(&s->rcpts);
	free(s->msg);
	free(s);
}

static void session_drop(void *arg)
{
	session_free(arg);
}

static struct session *session_of(struct conn *c)
{
	struct session *s = agent_conn_attached(c);

	return s != NULL && s->magic == SESSION_MAGIC ? s : NULL;
}

/* ---- SEND and SEND_DATA ---- */

void send_handle_begin(struct agent_request *q)
{
	const struct proto_send_req *m = &q->m.send;
	struct send_outbox *box = q->agent->outbox;
	struct session *s = NULL;
	uint32_t i;
	int r = XO_ERR_NOMEM;

	if (m->size == 0) {
		agent_conn_reply_failure(q->conn, XO_ERR_MESSAGE_BAD,
					 "the message is empty");
		return;
	}
	if (m->account.len > 0 && account_find(q->agent->store, m->account.ptr,
					       m->account.len) == NULL) {
		agent_conn_reply_failure(q->conn, XO_ERR_NO_ACCOUNT, NULL);
		return;
	}
	if (box == NULL || m->size > OUTBOX_MAX - box->bytes) {
		agent_conn_reply_failure(
		    q->conn, XO_ERR_BUSY,
		    "the agent holds as many messages as it takes at once; "
		    "try again in a moment");
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto fail;
	s->magic = SESSION_MAGIC;
	s->agent = q->agent;
	s->size = (size_t)m->size;
	box->bytes += s->size;
	s->flags = m->flags;
	if (proto_str_dup(m->account, &s->account) != 0 ||
	    proto_str_dup(m->from, &s->from) != 0 ||
	    proto_str_dup(m->fullname, &s->fullname) != 0 ||
	    (s->msg = malloc(s->size)) == NULL)
		goto fail;
	/* A local user's name (-f root) is no sender the provider takes:
	   the account's own address stands in, as for "<>". */
	if (m->from.len > 0 && !send_addr_ok(m->from.ptr, m->from.len) &&
	    !send_local_ok(m->from.ptr, m->from.len)) {
		r = XO_ERR_MESSAGE_BAD;
		agent_conn_reply_failure(
		    q->conn, r, "the sender (-f) is no e-mail address");
		session_free(s);
		return;
	}
	if (m->from.len > 0 && send_local_ok(m->from.ptr, m->from.len))
		s->from[0] = '\0';
	/* A local user's name is settled with the account (prepare()). */
	for (i = 0; i < m->count; i++) {
		if (!send_addr_ok(m->rcpts[i].ptr, m->rcpts[i].len) &&
		    !send_local_ok(m->rcpts[i].ptr, m->rcpts[i].len)) {
			char msg[400];

			snprintf(
			    msg, sizeof(msg),
			    "the recipient '%.*s' is no e-mail address",
			    (int)(m->rcpts[i].len > 80 ? 80 : m->rcpts[i].len),
			    m->rcpts[i].ptr);
			agent_conn_reply_failure(q->conn, XO_ERR_MESSAGE_BAD,
						 msg);
			session_free(s);
			return;
		}
		if ((r = send_addrs_add(&s->rcpts, m->rcpts[i].ptr,
					m->rcpts[i].len)) != 0)
			goto fail;
	}
	agent_conn_attach(q->conn, s, session_drop);
	agent_conn_reply_success(q->conn);
	return;
fail:
	session_free(s);
	agent_conn_reply_failure(q->conn, r, NULL);
}

void send_handle_data(struct agent_request *q)
{
	const struct proto_send_data *m = &q->m.send_data;
	struct session *s = session_of(q->conn);

	if (s == NULL) {
		agent_conn_reply_failure(q->conn, XO_ERR_INVALID,
					 "SEND_DATA without a SEND before it");
		return;
	}
	if (m->len > s->size - s->len) {
		session_free(agent_conn_detach(q->conn));
		agent_conn_reply_failure(q->conn, XO_ERR_MESSAGE_BAD,
					 "more bytes than SEND announced");
		return;
	}
	memcpy(s->msg + s->len, m->data, m->len);
	s->len += m->len;
	agent_conn_reply_success(q->conn);
}

/* ---- the job ---- */

static void on_job_closed(uv_handle_t *h)
{
	struct job *job = h->data;

	session_free(job->s);
	send_headers_free(&job->hdr);
	send_addrs_free(&job->local_to);
	free(job->copy);
	free(job->copy7);
	free(job->account);
	free(job);
}

static void job_free(struct job *job)
{
	send_smtp_free(job->smtp);
	send_api_free(job->api);
	job->smtp = NULL;
	job->api = NULL;
	uv_timer_stop(&job->timer);
	uv_close((uv_handle_t *)&job->timer, on_job_closed);
}

/* The connection closed first: nobody to answer. */
static void job_cancel(void *arg)
{
	struct job *job = arg;

	log_info("send: %s: the client left; the send is abandoned",
		 job->account != NULL ? job->account : "?");
	job_free(job);
}

static void job_fail(struct job *job, int err, const char *msg)
{
	char both[AGENT_ERR_MSG_MAX];

	if (msg == NULL)
		msg = proto_strerror(err);
	/* Graph failed after SMTP refused: the administrator needs both. */
	if (job->smtp_why[0] != '\0') {
		snprintf(both, sizeof(both),
			 "%s; Microsoft Graph, tried then: %s", job->smtp_why,
			 msg);
		msg = both;
	}
	log_error("send: %s: %s", job->account != NULL ? job->account : "?",
		  msg);
	agent_conn_reply_failure(job->conn, err, msg);
	job_free(job);
}

static void job_sent(struct job *job, const char *transport, const char *reply)
{
	struct proto_sent sent;
	struct agent_reply rep;

	log_info("send: %s: sent through %s (%zu bytes, %zu recipient(s)): %s",
		 job->account, transport, job->copy_len, job->s->rcpts.n,
		 reply);
	if (job->notice[0] != '\0')
		log_info("send: %s: %s", job->account, job->notice);
	sent.transport = proto_str_c(transport);
	sent.reply = proto_str_c(reply);
	sent.notice = proto_str_c(job->notice);
	if (agent_reply_init(&rep, 2048) != 0 ||
	    proto_enc_sent(&rep.w, &sent) != 0)
		agent_conn_reply_failure(job->conn, XO_ERR_NOMEM, NULL);
	else
		agent_conn_send(job->conn, &rep);
	agent_reply_cleanup(&rep);
	job_free(job);
}

static long budget_ms(const struct job *job)
{
	int64_t left = job->deadline - agent_now_boot() - REPLY_MARGIN_MS;

	return left > 1000 ? (long)left : 1000;
}

static const char *scope_of(const struct job *job,
			    const struct agent_account_cfg *cfg)
{
	switch (job->t) {
	case T_GRAPH:
		return cfg->graph_scope;
	case T_GMAIL:
		return cfg->gmail_scope;
	case T_SMTP:
		break;
	}
	return NULL;
}

/* -F's name as the inside of a quoted string (RFC 5322 3.2.4): '"' and
   '\\' escaped, cut to fit. */
static void quote(const char *s, char *out, size_t len)
{
	size_t n = 0;

	for (; *s != '\0' && n + 3 < len; s++) {
		if (*s == '"' || *s == '\\')
			out[n++] = '\\';
		out[n++] = *s;
	}
	out[n] = '\0';
}

/* The copy for the transport: SMTP sends to the envelope, so Bcc goes;
   the APIs send to the header's recipients, so the envelope's blind
   ones are written into a Bcc field, which the services take out. */
static int make_copy(struct job *job)
{
	struct send_addrs blind = {0};
	struct send_copy_opts o;
	char date[64], from[700], msgid[128], hex[17], name[300];
	unsigned char rnd[8];
	const char *domain;
	size_t i, k = 0;
	int r;
	bool local_from;
	time_t now = time(NULL);
	struct tm tm;

	memset(&o, 0, sizeof(o));
	/* A From that names a local user (cron's "root (Cron Daemon)") is
	   no address outside this machine: the sender's stands in, with -F's
	   name, else the local name, for people. */
	local_from = job->hdr.has_from && job->hdr.from[0] != '\0' &&
		     send_addr_local(job->hdr.from);
	quote(job->s->fullname[0] != '\0' ? job->s->fullname
	      : local_from		  ? job->hdr.from
					  : "",
	      name, sizeof(name));
	if (name[0] != '\0')
		snprintf(from, sizeof(from), "From: \"%s\" <%s>", name,
			 job->from);
	else
		snprintf(from, sizeof(from), "From: %s", job->from);
	if (!job->hdr.has_from)
		o.add[k++] = from;
	else if (local_from)
		o.from_field = from;
	if (job->local_to.n > 0)
		o.local_to = &job->local_to;
	if (!job->hdr.has_date && gmtime_r(&now, &tm) != NULL &&
	    strftime(date, sizeof(date), "Date: %a, %d %b %Y %H:%M:%S +0000",
		     &tm) > 0)
		o.add[k++] = date;
	if (!job->hdr.has_message_id) {
		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
		domain = strchr(job->from, '@');
		snprintf(msgid, sizeof(msgid), "Message-ID: <%s.%lld@%s>", hex,
			 (long long)now,
			 domain != NULL ? domain + 1 : "xoauth");
		o.add[k++] = msgid;
	}
	if (job->t == T_SMTP) {
		o.drop_bcc = true;
	} else {
		for (i = 0; i < job->s->rcpts.n; i++)
			if (!send_addrs_has(&job->hdr.to_cc,
					    job->s->rcpts.v[i]) &&
			    (r = send_addrs_add(&blind, job->s->rcpts.v[i],
						strlen(job->s->rcpts.v[i]))) !=
				0) {
				send_addrs_free(&blind);
				return r;
			}
		/* Blind recipients the Bcc fields name already: the message
		   goes as it is. */
		o.bcc = &blind;
		if (blind.n == job->hdr.bcc.n) {
			for (i = 0; i < blind.n &&
				    send_addrs_has(&job->hdr.bcc, blind.v[i]);
			     i++)
				;
			if (i == blind.n)
				o.bcc = NULL;
		}
	}
	free(job->copy);
	job->copy = NULL;
	r = send_copy(job->s->msg, job->s->len, &o, &job->copy, &job->copy_len);
	send_addrs_free(&blind);
	return r;
}

static void step(struct job *job);

static void on_timer(uv_timer_t *t)
{
	step(t->data);
}

static void on_smtp_done(void *arg, struct send_smtp *smtp)
{
	struct job *job = arg;
	struct send_smtp_result res;

	send_smtp_result(smtp, &res);
	send_smtp_free(smtp);
	job->smtp = NULL;
	if (res.err == 0) {
		job_sent(job, "smtp", res.reply);
		return;
	}
	if (job->fallback_ok && res.auth_refused &&
	    send_smtp_auth_off(res.reply)) {
		/* Nothing was offered for delivery: Graph may send it. */
		snprintf(job->notice, sizeof(job->notice),
			 "%s; sent through Microsoft Graph instead (send = "
			 "auto). An Exchange administrator can enable SMTP "
			 "AUTH: see 'xoauth doctor %s --smtp HOST'",
			 res.why, job->account);
		log_info("send: %s: %s; trying Microsoft Graph (send = auto)",
			 job->account, res.why);
		snprintf(job->smtp_why, sizeof(job->smtp_why), "%s", res.why);
		job->t = T_GRAPH;
		job->fallback_ok = false;
		if (make_copy(job) != 0) {
			job_fail(job, XO_ERR_NOMEM, NULL);
			return;
		}
		step(job);
		return;
	}
	job_fail(job, res.err, res.why);
}

static void on_api_done(void *arg, struct send_api *api)
{
	struct job *job = arg;
	struct send_api_result res;
	struct account *acct;
	int64_t left;

	send_api_result(api, &res);
	send_api_free(api);
	job->api = NULL;
	if (res.err == 0) {
		job_sent(job, job->t == T_GRAPH ? "graph" : "gmail", res.reply);
		return;
	}
	acct =
	    account_find(job->agent->store, job->account, strlen(job->account));
	/* 401: refused before anything was accepted; one fresh token. */
	if (res.token_refused && !job->fresh_token && acct != NULL) {
		job->fresh_token = true;
		log_info("send: %s: %s; trying a fresh token", job->account,
			 res.why);
		account_token_refused(acct, scope_of(job, account_cfg(acct)));
		step(job);
		return;
	}
	/* Busy, and says when to come back: within the wait, do. */
	left = job->deadline - agent_now_boot() - REPLY_MARGIN_MS;
	if (res.err == XO_ERR_SEND_TEMPFAIL && res.status != 0 &&
	    res.retry_after >= 0 && ++job->api_tries < API_TRIES &&
	    res.retry_after * 1000 < left) {
		log_info("send: %s: %s; trying again in %ld s", job->account,
			 res.why, res.retry_after);
		uv_timer_start(&job->timer, on_timer,
			       (uint64_t)res.retry_after * 1000, 0);
		return;
	}
	job_fail(job, res.err, res.why);
}

/* Starts the transport with the token. */
static int start(struct job *job, struct account *acct,
		 const struct agent_plain *token, char *why, size_t whylen)
{
	const struct agent_account_cfg *cfg = account_cfg(acct);
	struct agent_mailhost host;
	struct send_smtp_req sq;
	struct send_api_req aq;
	char hw[128];
	int r;

	if (job->t == T_SMTP) {
		if (cfg->smtp == NULL ||
		    agent_mailhost_parse(cfg->smtp, 0, &host, hw, sizeof(hw)) !=
			0) {
			snprintf(why, whylen,
				 "[account %s] has no SMTP server: set smtp = "
				 "HOST[:PORT] (or send = graph or gmail)",
				 cfg->name);
			return XO_ERR_CONFIG;
		}
		memset(&sq, 0, sizeof(sq));
		sq.host = &host;
		sq.ca_file = cfg->ca_file;
		sq.user = account_email(acct);
		sq.token = token;
		sq.from = job->from;
		sq.rcpts = &job->s->rcpts;
		sq.data = job->copy;
		sq.len = job->copy_len;
		/* RFC 6152: 8-bit bytes only to a server that takes them;
		   the 7-bit copy is ready for one that does not. */
		sq.eightbit = send_has_8bit(job->copy, job->copy_len);
		if (sq.eightbit && job->copy7 == NULL &&
		    (r = send_to_7bit(job->copy, job->copy_len, &job->copy7,
				      &job->copy7_len, job->why7,
				      sizeof(job->why7))) == XO_ERR_NOMEM)
			return r;
		sq.data7 = job->copy7;
		sq.len7 = job->copy7_len;
		sq.why7 = job->why7;
		sq.timeout_ms = budget_ms(job);
		return send_smtp_start(job->agent->http, &sq, on_smtp_done, job,
				       &job->smtp);
	}
	memset(&aq, 0, sizeof(aq));
	aq.kind = job->t == T_GRAPH ? SEND_API_GRAPH : SEND_API_GMAIL;
	aq.endpoint =
	    job->t == T_GRAPH ? cfg->graph_endpoint : cfg->gmail_endpoint;
	if (aq.endpoint == NULL) {
		snprintf(why, whylen, "[account %s] has no %s_endpoint",
			 cfg->name, send_api_word(aq.kind));
		return XO_ERR_CONFIG;
	}
	if ((r = send_api_check_size(aq.kind, job->copy_len, why, whylen)) != 0)
		return r;
	/* An app-only token has no "me": it sends as the account's
	   mailbox. */
	aq.user = account_is_app(acct) ? account_email(acct) : NULL;
	aq.ca_file = cfg->ca_file;
	aq.token = token;
	aq.data = job->copy;
	aq.len = job->copy_len;
	aq.timeout_ms = budget_ms(job);
	return send_api_start(job->agent->http, &aq, on_api_done, job,
			      &job->api);
}

/* Gets the transport's token (waiting for a refresh) and sends. */
static void step(struct job *job)
{
	struct agent_plain *token = NULL;
	struct account *acct;
	struct agent_err err;
	char why[700] = "";
	int r;

	acct =
	    account_find(job->agent->store, job->account, strlen(job->account));
	if (acct == NULL) {
		job_fail(job, XO_ERR_NO_ACCOUNT,
			 "the account was removed during the send");
		return;
	}
	agent_err_clear(&err);
	r = account_token_get(acct, scope_of(job, account_cfg(acct)),
			      TOKEN_MIN_MS, &token, &err);
	if (r == XO_ERR_BUSY) {
		if (agent_now_boot() + TOKEN_POLL_MS > job->deadline) {
			job_fail(job, XO_ERR_TIMEOUT,
				 "timed out waiting for a token refresh; "
				 "nothing was sent");
			return;
		}
		uv_timer_start(&job->timer, on_timer, TOKEN_POLL_MS, 0);
		return;
	}
	if (r != 0) {
		job_fail(job, r, err.msg[0] != '\0' ? err.msg : NULL);
		return;
	}
	if (account_email(acct) == NULL && job->t == T_SMTP) {
		agent_plain_free(token);
		job_fail(job, XO_ERR_CONFIG,
			 "no e-mail address known for the XOAUTH2 user name: "
			 "set 'email' in the account's section");
		return;
	}
	r = start(job, acct, token, why, sizeof(why));
	agent_plain_free(token);
	if (r != 0)
		job_fail(job, r, why[0] != '\0' ? why : NULL);
}

/* The account a message goes out through: the one named, else the one
   whose address is the sender's, else the only one. */
static struct account *choose(struct agent *a, const struct session *s,
			      const struct send_headers *h, char *why,
			      size_t whylen)
{
	struct account *acct, *only = NULL;
	const char *sender = s->from[0] != '\0'		? s->from
			     : send_addr_local(h->from) ? ""
							: h->from;
	size_t n = 0;

	if (s->account[0] != '\0') {
		acct = account_find(a->store, s->account, strlen(s->account));
		if (acct == NULL)
			snprintf(why, whylen, "no account '%s'", s->account);
		return acct;
	}
	if (sender[0] != '\0' &&
	    (acct = account_find(a->store, sender, strlen(sender))) != NULL &&
	    account_email(acct) != NULL)
		return acct;
	for (acct = account_first(a->store); acct != NULL;
	     acct = account_next(acct), n++)
		only = acct;
	if (n == 1)
		return only;
	snprintf(why, whylen,
		 "%s: name the account to send through (xoauth sendmail -a "
		 "ACCOUNT)",
		 n == 0		     ? "the agent has no account"
		 : sender[0] != '\0' ? "no account has the sender's address"
				     : "the message names no sender");
	return NULL;
}

static void local_refused(const struct agent_account_cfg *cfg, const char *name,
			  char *why, size_t whylen)
{
	snprintf(why, whylen,
		 "'%s' is a local user, and nothing is delivered locally: "
		 "set local_recipient = ADDRESS in [account %s] for where "
		 "mail to local users goes (xoauth.conf(5))",
		 name, cfg->name);
}

/*
 * Local users' names (cron's "root"): the envelope's become the account's
 * local_recipient addresses, and so do those of To, Cc and Bcc, which the
 * copy writes anew (as sendmail qualifies such addresses), so that an API
 * sends to the same people.  Without local_recipient, a local recipient
 * is refused; a local name in the header alone is left to SMTP (its
 * envelope decides), and refused by an API.  0, or an XO_ERR_* with why.
 */
static int map_local(struct job *job, struct session *s,
		     const struct agent_account_cfg *cfg, char *why,
		     size_t whylen)
{
	struct send_addrs mapped = {0};
	struct send_addrs *sets[] = {&s->rcpts, &job->hdr.to_cc, &job->hdr.bcc};
	size_t i, k;
	int r = 0;

	if (cfg->local_recipient != NULL &&
	    send_parse_addresses(cfg->local_recipient,
				 strlen(cfg->local_recipient), &job->local_to,
				 why, whylen) != 0)
		return XO_ERR_CONFIG;
	for (i = 0; i < s->rcpts.n; i++) {
		if (send_addr_local(s->rcpts.v[i]) && job->local_to.n == 0) {
			local_refused(cfg, s->rcpts.v[i], why, whylen);
			return XO_ERR_CONFIG;
		}
	}
	for (k = 0; job->local_to.n > 0 && k < sizeof(sets) / sizeof(sets[0]);
	     k++) {
		if ((r = send_addrs_map_local(sets[k], &job->local_to,
					      &mapped)) != 0) {
			send_addrs_free(&mapped);
			snprintf(why, whylen, "more than %d recipients",
				 SEND_RCPTS_MAX);
			return r;
		}
		send_addrs_free(sets[k]);
		*sets[k] = mapped;
		memset(&mapped, 0, sizeof(mapped)); /* transferred */
	}
	return 0;
}

/* Settles account, envelope and copy; 0, or the reply is sent. */
static int prepare(struct job *job, struct session *s)
{
	const struct agent_account_cfg *cfg;
	struct account *acct;
	char why[SEND_WHY_MAX + 128] = "";
	size_t i;
	int r;

	if ((r = send_headers_parse(s->msg, s->len, &job->hdr, why,
				    sizeof(why))) != 0)
		goto fail;
	if ((acct = choose(job->agent, s, &job->hdr, why, sizeof(why))) ==
	    NULL) {
		r = XO_ERR_NO_ACCOUNT;
		goto fail;
	}
	cfg = account_cfg(acct);
	if ((job->account = strdup(account_name(acct))) == NULL) {
		r = XO_ERR_NOMEM;
		goto fail;
	}
	snprintf(job->from, sizeof(job->from), "%s",
		 s->from[0] != '\0'	       ? s->from
		 : account_email(acct) != NULL ? account_email(acct)
					       : "");
	if (job->from[0] == '\0') {
		snprintf(why, sizeof(why),
			 "no sender: give -f ADDRESS, or set 'email' in "
			 "[account %s]",
			 cfg->name);
		r = XO_ERR_CONFIG;
		goto fail;
	}
	/* -t: the header's recipients too (added to the arguments', as
	   Postfix's sendmail does). */
	for (i = 0; (s->flags & PROTO_SEND_RCPTS_FROM_HEADERS) && r == 0 &&
		    i < job->hdr.to_cc.n + job->hdr.bcc.n;
	     i++) {
		const char *v = i < job->hdr.to_cc.n
				    ? job->hdr.to_cc.v[i]
				    : job->hdr.bcc.v[i - job->hdr.to_cc.n];

		r = send_addrs_add(&s->rcpts, v, strlen(v));
	}
	if (r != 0) {
		snprintf(why, sizeof(why), "more than %d recipients",
			 SEND_RCPTS_MAX);
		goto fail;
	}
	if ((r = map_local(job, s, cfg, why, sizeof(why))) != 0)
		goto fail;
	if (s->rcpts.n == 0) {
		snprintf(why, sizeof(why),
			 "no recipients: name them as arguments, or use -t to "
			 "take them from To, Cc and Bcc");
		r = XO_ERR_MESSAGE_BAD;
		goto fail;
	}
	if (strcmp(cfg->send, "graph") == 0)
		job->t = T_GRAPH;
	else if (strcmp(cfg->send, "gmail") == 0)
		job->t = T_GMAIL;
	else
		job->t = T_SMTP;
	job->fallback_ok = strcmp(cfg->send, "auto") == 0;
	/* An API sends to the header's recipients: one the envelope does
	   not name would get a copy sendmail would not have sent. */
	for (i = 0;
	     (job->t != T_SMTP || job->fallback_ok) && i < job->hdr.to_cc.n;
	     i++) {
		if (send_addrs_has(&s->rcpts, job->hdr.to_cc.v[i]))
			continue;
		if (send_addr_local(job->hdr.to_cc.v[i])) {
			local_refused(cfg, job->hdr.to_cc.v[i], why,
				      sizeof(why));
			r = XO_ERR_CONFIG;
			goto fail;
		}
		snprintf(why, sizeof(why),
			 "To or Cc names %s, who is not among the recipients; "
			 "%s sends to the message's own To, Cc and Bcc, so "
			 "name every one of them (or use -t)",
			 job->hdr.to_cc.v[i],
			 job->t == T_GMAIL ? "the Gmail API"
					   : "Microsoft Graph");
		r = XO_ERR_MESSAGE_BAD;
		goto fail;
	}
	if ((r = make_copy(job)) != 0)
		goto fail;
	return 0;
fail:
	job_fail(job, r, why[0] != '\0' ? why : NULL);
	return r;
}

void send_handle_end(struct agent_request *q)
{
	struct session *s = session_of(q->conn);
	uint32_t wait = q->m.send_end.wait_ms ? q->m.send_end.wait_ms
					      : SEND_WAIT_DEFAULT_MS;
	struct job *job;

	if (s == NULL) {
		agent_conn_reply_failure(q->conn, XO_ERR_INVALID,
					 "SEND_END without a SEND before it");
		return;
	}
	if (s->len != s->size) {
		session_free(agent_conn_detach(q->conn));
		agent_conn_reply_failure(q->conn, XO_ERR_MESSAGE_BAD,
					 "fewer bytes than SEND announced");
		return;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		agent_conn_reply_failure(q->conn, XO_ERR_NOMEM, NULL);
		return;
	}
	job->agent = q->agent;
	job->conn = q->conn;
	job->s = agent_conn_detach(q->conn);
	job->deadline = agent_now_boot() + wait;
	uv_timer_init(q->agent->loop, &job->timer);
	job->timer.data = job;
	agent_conn_hold(q->conn, job_cancel, job);
	if (prepare(job, job->s) != 0)
		return;
	step(job);
}
