/*
 * smtp.h: one message through SMTP submission with XOAUTH2, by libcurl
 * on the agent's loop (agent_http_start_easy).  TLS always, STARTTLS or
 * from the first byte (465), except to loopback; the server's replies are
 * read to tell where a refusal came (before MAIL FROM or after), which
 * decides whether another transport may still be tried.
 *
 * 8-bit messages (RFC 6152): libcurl cannot declare BODY=8BITMIME (its
 * MAIL FROM carries only AUTH=, SIZE= and SMTPUTF8), so a message with
 * 8-bit bytes goes as it is to a server that announces 8BITMIME (those
 * take 8-bit data), and to one that does not, the 7-bit copy given
 * (send_to_7bit()), or nothing: the transfer stops after the login,
 * before MAIL FROM.
 */
#ifndef XO_SEND_SMTP_H
#define XO_SEND_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "oauth/http.h"
#include "secret/secret.h"
#include "send/pure/message.h"

struct send_smtp;

/* Called once when the dialogue has ended, unless the transfer was
   freed first. */
typedef void (*send_smtp_cb)(void *arg, struct send_smtp *s);

struct send_smtp_req {
	const struct agent_mailhost *host;
	const char *ca_file;		 /* NULL: the system's store */
	const char *user;		 /* the XOAUTH2 user name */
	const struct agent_plain *token; /* copied by libcurl for the login */
	const char *from;		 /* envelope sender */
	const struct send_addrs *rcpts;
	const char *data; /* CRLF text; must outlive the transfer */
	size_t len;
	/* When data has 8-bit bytes: what goes to a server without
	   8BITMIME instead (must outlive the transfer too), or NULL with
	   why7 saying why there is none. */
	bool eightbit;
	const char *data7;
	size_t len7;
	const char *why7;
	long timeout_ms;
};

int send_smtp_start(struct agent_http *h, const struct send_smtp_req *q,
		    send_smtp_cb cb, void *arg, struct send_smtp **out);
void send_smtp_free(struct send_smtp *s);

struct send_smtp_result {
	int err;	   /* 0: sent; else XO_ERR_* */
	bool auth_refused; /* AUTH got 4xx/5xx, before any MAIL FROM */
	char reply[400];   /* the server's last word (250 ..., or the
			      refusal) */
	char why[600];	   /* for people, when err != 0 */
	bool converted;	   /* the 7-bit copy went (no 8BITMIME) */
};
void send_smtp_result(const struct send_smtp *s, struct send_smtp_result *out);

#endif
