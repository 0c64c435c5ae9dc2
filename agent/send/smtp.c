/*
 * smtp.c: SMTP submission with XOAUTH2 through libcurl (smtp.h).
 *
 * libcurl speaks SMTP, escapes leading dots and ends the DATA; we read
 * the server's side of the dialogue (CURLINFO_HEADER_IN) to quote its
 * refusal and to know which command it refused.  Of the client's side
 * (CURLINFO_HEADER_OUT), which holds the token in its AUTH line, only
 * the command word at the start of each line is compared, never copied:
 * that is how "refused before MAIL FROM" (nothing was offered for
 * delivery: another transport may be tried) is told from a refusal of
 * the message.  CURLOPT_XOAUTH2_BEARER has libcurl copy the token for
 * the length of the login, as the doctor's probe does.
 *
 * 8BITMIME: the EHLO reply says whether the server takes 8-bit data; the
 * pre-request callback (CURLOPT_PREREQFUNCTION), which libcurl calls
 * once the connection and the login are done and before MAIL FROM,
 * chooses what goes: the message, its 7-bit copy, or nothing (smtp.h).
 * SIZE= is declared for the larger of the two, an upper bound as RFC 1870
 * allows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include <xoauth/xo_errors.h>

#include "core/log.h"
#include "send/smtp.h"

#define CONNECT_TIMEOUT_MS 15000L

/* Where the dialogue is: what the client sent last. */
enum phase {
	PH_LOGIN = 0, /* greeting, EHLO, STARTTLS, AUTH */
	PH_MAIL,
	PH_RCPT,
	PH_DATA, /* DATA sent, 354 not yet seen */
	PH_BODY, /* the message is going, or its end was sent */
};

struct send_smtp {
	struct agent_http *http;
	struct agent_http_xfer *xfer;
	CURL *easy;
	struct curl_slist *rcpts;
	const char *data;
	size_t len, off;
	const char *data7; /* for a server without 8BITMIME */
	size_t len7;
	bool eightbit;	   /* data has 8-bit bytes */
	bool has_8bitmime; /* the last EHLO reply announced it */
	bool converted;	   /* data7 is going */
	bool refused_8bit; /* stopped before MAIL FROM: see why7 */
	char why7[300];
	char where[300];
	send_smtp_cb cb;
	void *arg;
	CURLcode rc;
	char errbuf[CURL_ERROR_SIZE];

	enum phase phase;
	enum phase refused_in;
	char refusal[400];  /* the first 4xx or 5xx */
	char last[400];	    /* the last reply line */
	char accepted[400]; /* the 250 to the end of the message */
	char offer[400];    /* EHLO's AUTH line */
};

static int starts(const char *s, size_t n, const char *word)
{
	size_t w = strlen(word);

	return n >= w && strncasecmp(s, word, w) == 0;
}

static void server_line(void *arg, const char *line)
{
	struct send_smtp *s = arg;

	snprintf(s->last, sizeof(s->last), "%s", line);
	if (s->phase == PH_BODY && strncmp(line, "250", 3) == 0)
		snprintf(s->accepted, sizeof(s->accepted), "%s", line);
	if ((strncmp(line, "250-", 4) == 0 || strncmp(line, "250 ", 4) == 0) &&
	    strncmp(line + 4, "AUTH", 4) == 0)
		snprintf(s->offer, sizeof(s->offer), "%s", line + 4);
	if ((strncmp(line, "250-", 4) == 0 || strncmp(line, "250 ", 4) == 0) &&
	    strcasecmp(line + 4, "8BITMIME") == 0)
		s->has_8bitmime = true;
	if (strncmp(line, "354", 3) == 0 && s->phase == PH_DATA)
		s->phase = PH_BODY;
	if ((line[0] == '4' || line[0] == '5') && s->refusal[0] == '\0') {
		snprintf(s->refusal, sizeof(s->refusal), "%s", line);
		s->refused_in = s->phase;
	}
}

static int on_debug(CURL *easy, curl_infotype type, char *data, size_t size,
		    void *userp)
{
	struct send_smtp *s = userp;

	(void)easy;
	if (type == CURLINFO_HEADER_IN) {
		agent_http_lines(data, size, server_line, s);
	} else if (type == CURLINFO_HEADER_OUT) {
		/* The command word only: see the top.  Each EHLO (again
   after STARTTLS) gets a reply of its own to read. */
		if (starts(data, size, "EHLO"))
			s->has_8bitmime = false;
		else if (starts(data, size, "MAIL FROM"))
			s->phase = PH_MAIL;
		else if (starts(data, size, "RCPT TO"))
			s->phase = PH_RCPT;
		else if (starts(data, size, "DATA"))
			s->phase = PH_DATA;
	}
	return 0;
}

/* After the login, before MAIL FROM: what may go to this server. */
static int on_prereq(void *userp, char *primary_ip, char *local_ip,
		     int primary_port, int local_port)
{
	struct send_smtp *s = userp;

	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	if (!s->eightbit || s->has_8bitmime)
		return CURL_PREREQFUNC_OK;
	if (s->data7 == NULL) {
		s->refused_8bit = true;
		return CURL_PREREQFUNC_ABORT;
	}
	s->data = s->data7;
	s->len = s->len7;
	s->converted = true;
	log_info("send: the SMTP server at %s does not announce 8BITMIME: "
		 "the body goes quoted-printable",
		 s->where);
	return CURL_PREREQFUNC_OK;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *userp)
{
	struct send_smtp *s = userp;
	size_t n = size * nitems;

	if (n > s->len - s->off)
		n = s->len - s->off;
	memcpy(buf, s->data + s->off, n);
	s->off += n;
	return n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	(void)data;
	(void)userp;
	return size * nmemb;
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
	struct send_smtp *s = arg;

	(void)easy;
	s->xfer = NULL;
	s->rc = rc;
	log_debug("send: SMTP at %s ended: %s", s->where,
		  curl_easy_strerror(rc));
	s->cb(s->arg, s);
}

/* "<addr>" into buf; 0, or -1 when it does not fit. */
static int angle(char *buf, size_t len, const char *addr)
{
	int n = snprintf(buf, len, "<%s>", addr);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int send_smtp_start(struct agent_http *h, const struct send_smtp_req *q,
		    send_smtp_cb cb, void *arg, struct send_smtp **out)
{
	const struct agent_mailhost *t = q->host;
	struct send_smtp *s = NULL;
	struct agent_mail_login m;
	struct curl_slist *l;
	char url[320], from[SEND_ADDR_MAX + 3], rcpt[SEND_ADDR_MAX + 3];
	CURL *e;
	size_t i;
	int r = XO_ERR_INTERNAL;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return XO_ERR_NOMEM;
	s->http = h;
	s->data = q->data;
	s->len = q->len;
	s->eightbit = q->eightbit;
	s->data7 = q->data7;
	s->len7 = q->len7;
	snprintf(s->why7, sizeof(s->why7), "%s",
		 q->why7 != NULL ? q->why7 : "");
	s->cb = cb;
	s->arg = arg;
	if (strchr(t->host, ':') != NULL)
		snprintf(s->where, sizeof(s->where), "[%s]:%u", t->host,
			 t->port);
	else
		snprintf(s->where, sizeof(s->where), "%s:%u", t->host, t->port);
	snprintf(url, sizeof(url), "%s://%s/",
		 t->implicit_tls ? "smtps" : "smtp", s->where);
	if (angle(from, sizeof(from), q->from) != 0) {
		r = XO_ERR_MESSAGE_BAD;
		goto out;
	}
	for (i = 0; i < q->rcpts->n; i++) {
		if (angle(rcpt, sizeof(rcpt), q->rcpts->v[i]) != 0) {
			r = XO_ERR_MESSAGE_BAD;
			goto out;
		}
		if ((l = curl_slist_append(s->rcpts, rcpt)) == NULL) {
			r = XO_ERR_NOMEM;
			goto out;
		}
		s->rcpts = l;
	}
	if ((s->easy = e = curl_easy_init()) == NULL)
		goto out;
	memset(&m, 0, sizeof(m));
	m.url = url;
	m.protocols = "smtp,smtps";
	m.user = q->user;
	m.token = q->token->data;
	m.loopback = t->loopback;
	m.ca_file = q->ca_file;
	m.timeout_ms = q->timeout_ms;
	m.connect_timeout_ms = CONNECT_TIMEOUT_MS;
	m.errbuf = s->errbuf;
	m.debug = on_debug;
	m.debug_arg = s;
	if (agent_http_mail_setup(e, &m) != 0 ||
	    curl_easy_setopt(e, CURLOPT_MAIL_FROM, from) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, s->rcpts) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_READDATA, s) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
			     (curl_off_t)(s->data7 != NULL && s->len7 > s->len
					      ? s->len7
					      : s->len)) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq) !=
		CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PREREQDATA, s) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK)
		goto out;
	if ((r = agent_http_start_easy(h, e, on_done, s, &s->xfer)) != 0)
		goto out;
	log_debug("send: SMTP at %s as %s, %zu bytes for %zu recipient(s)",
		  s->where, q->user, s->len, q->rcpts->n);
	*out = s;
	s = NULL; /* transferred */
	r = 0;
out:
	send_smtp_free(s);
	return r;
}

void send_smtp_free(struct send_smtp *s)
{
	if (s == NULL)
		return;
	if (s->xfer != NULL)
		agent_http_cancel(s->http, s->xfer);
	if (s->easy != NULL)
		curl_easy_cleanup(s->easy);
	curl_slist_free_all(s->rcpts);
	free(s);
}

/* The refusal as an error: 4xx try later, 5xx no. */
static int refusal_err(const struct send_smtp *s)
{
	if (s->refusal[0] == '4')
		return XO_ERR_SEND_TEMPFAIL;
	if (s->refused_in == PH_RCPT)
		return XO_ERR_RCPT_REFUSED;
	return XO_ERR_SEND_REFUSED;
}

void send_smtp_result(const struct send_smtp *s, struct send_smtp_result *out)
{
	const char *why =
	    s->errbuf[0] != '\0' ? s->errbuf : curl_easy_strerror(s->rc);

	memset(out, 0, sizeof(*out));
	out->converted = s->converted;
	snprintf(out->reply, sizeof(out->reply), "%s",
		 s->refusal[0] != '\0'	  ? s->refusal
		 : s->accepted[0] != '\0' ? s->accepted
					  : s->last);
	if (s->rc == CURLE_OK && s->refusal[0] == '\0')
		return;
	if (s->refused_8bit && s->refusal[0] == '\0') {
		out->err = XO_ERR_MESSAGE_BAD;
		snprintf(out->why, sizeof(out->why),
			 "the SMTP server at %s does not announce 8BITMIME, "
			 "and RFC 6152 forbids sending it the message's 8-bit "
			 "bytes, which cannot be encoded here (%s); nothing "
			 "was sent: encode the message (quoted-printable or "
			 "base64) before sending it",
			 s->where, s->why7);
		return;
	}
	if (s->refusal[0] != '\0' && s->refused_in == PH_LOGIN &&
	    s->rc == CURLE_LOGIN_DENIED) {
		out->auth_refused = true;
		out->err = s->refusal[0] == '4' ? XO_ERR_SEND_TEMPFAIL
						: XO_ERR_SEND_AUTH;
		snprintf(out->why, sizeof(out->why),
			 "the SMTP server at %s refused the login: %s",
			 s->where, s->refusal);
		return;
	}
	if (s->refusal[0] != '\0') {
		out->err = refusal_err(s);
		snprintf(out->why, sizeof(out->why),
			 "the SMTP server at %s refused %s: %s", s->where,
			 s->refused_in == PH_RCPT    ? "a recipient"
			 : s->refused_in == PH_LOGIN ? "the session"
						     : "the message",
			 s->refusal);
		return;
	}
	if (s->rc == CURLE_LOGIN_DENIED) {
		out->err = XO_ERR_SEND_AUTH;
		snprintf(out->why, sizeof(out->why),
			 "the SMTP server at %s does not offer XOAUTH2 (%s)",
			 s->where, s->offer[0] != '\0' ? s->offer : "no AUTH");
		return;
	}
	if (s->rc == CURLE_USE_SSL_FAILED) {
		out->err = XO_ERR_CONFIG;
		snprintf(
		    out->why, sizeof(out->why),
		    "the SMTP server at %s offers no STARTTLS, so the token "
		    "was not sent: use its TLS port (465) or 587 with "
		    "STARTTLS",
		    s->where);
		return;
	}
	if (s->phase == PH_BODY) {
		/* The message went, and no answer came back: it may have
		   been delivered, so it is not sent again. */
		out->err = XO_ERR_SEND_TEMPFAIL;
		snprintf(out->why, sizeof(out->why),
			 "the SMTP server at %s did not confirm the message "
			 "(%s): it may or may not have been accepted; check "
			 "before sending it again",
			 s->where, why);
		return;
	}
	out->err = agent_http_unreachable(s->rc) ? XO_ERR_SEND_TEMPFAIL
						 : XO_ERR_SEND_REFUSED;
	snprintf(out->why, sizeof(out->why), "SMTP at %s failed: %s", s->where,
		 why);
}
