/*
 * message.h: the message `xoauth sendmail` hands over, as the send
 * transports need it (PROTOCOL.md 4.11, xoauth(1) SENDMAIL): the
 * recipients its header names, the copy that goes out (CRLF line ends;
 * Bcc taken out for SMTP, or the envelope's blind recipients written in
 * for the APIs, which send to the header's recipients), and what the
 * servers' answers mean.  Pure: no I/O, no globals; the fuzzer links it.
 */
#ifndef XO_SEND_PURE_MESSAGE_H
#define XO_SEND_PURE_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

/* The longest address taken (RFC 5321 4.5.3.1: 64 + 1 + 255). */
#define SEND_ADDR_MAX 320
/* The most recipients one message may have, from every source. */
#define SEND_RCPTS_MAX 1000
#define SEND_WHY_MAX 256

/* A set of addresses (compared without case), in the order added. */
struct send_addrs {
	char **v;
	size_t n, cap;
};

/* Adds the len bytes at s unless the set has them already: 0,
   XO_ERR_NOMEM, or XO_ERR_MESSAGE_BAD past SEND_RCPTS_MAX. */
int send_addrs_add(struct send_addrs *a, const char *s, size_t len);
bool send_addrs_has(const struct send_addrs *a, const char *s);
void send_addrs_free(struct send_addrs *a);

/*
 * The addr-specs of an RFC 5322 address-list (the value of To, Cc, Bcc or
 * From, unfolded): display names, comments and groups are dropped, an
 * angle address wins over the text around it.  A local user's name (no
 * '@', as cron writes "To: root") is kept as it is (send_addr_local()).
 * Appends to out; 0, XO_ERR_NOMEM, or XO_ERR_MESSAGE_BAD with why
 * ("cannot read ...").
 */
int send_parse_addresses(const char *value, size_t len, struct send_addrs *out,
			 char *why, size_t whylen);
/* 1 when s (len bytes) looks like an address: one '@' with text either
   side, no blank, control character or angle bracket. */
int send_addr_ok(const char *s, size_t len);
/* 1 when s (len bytes) is a local user's name, as sendmail's callers
   write one ("root", "www-data"): a dot-atom of RFC 5322 (letters, digits
   and !#$%&'*+-/=?^_`{|}~, single dots between) of at most 64 bytes. */
int send_local_ok(const char *s, size_t len);
/* Whether an address of a set is a local user's name (it has no '@'). */
bool send_addr_local(const char *addr);

/*
 * Adds the addresses of in to out with every local user's name replaced
 * by the addresses of to (xoauth.conf(5), local_recipient).  0,
 * XO_ERR_NOMEM, or XO_ERR_MESSAGE_BAD past SEND_RCPTS_MAX; with to NULL
 * or empty, a local name is kept as it is.
 */
int send_addrs_map_local(const struct send_addrs *in,
			 const struct send_addrs *to, struct send_addrs *out);

/* What the header block of a message says. */
struct send_headers {
	struct send_addrs to_cc;      /* the addresses of To and Cc */
	struct send_addrs bcc;	      /* of Bcc */
	char from[SEND_ADDR_MAX + 1]; /* the first of From, "" (a local
					 user's name when it has no '@') */
	bool has_from, has_date, has_message_id;
};

/* Reads the header block of the len bytes at msg (LF or CRLF line ends).
   0, XO_ERR_NOMEM or XO_ERR_MESSAGE_BAD with why.  Free with
   send_headers_free() either way. */
int send_headers_parse(const char *msg, size_t len, struct send_headers *out,
		       char *why, size_t whylen);
void send_headers_free(struct send_headers *h);

/* How the copy that goes out differs from the message. */
struct send_copy_opts {
	bool drop_bcc;		      /* Bcc fields are left out */
	const struct send_addrs *bcc; /* a Bcc field of these is added (the
					 APIs' blind recipients); NULL or
					 empty: none */
	const char *add[4];	      /* whole fields to add at the top, such
					 as "Date: ...", NULL-ended */
	const struct send_addrs *local_to; /* a To, Cc or Bcc field that names
					      a local user is written anew,
					      with these addresses for the
					      local names; NULL: as it is */
	const char *from_field; /* the whole field ("From: ...") written
				   instead of a From that names a local
				   user; NULL: as it is */
};

/*
 * The message with every line ended by CRLF (a bare LF becomes CRLF, a
 * missing last line end is added) and opts applied, in a new buffer
 * (*out, *outlen; free() it).  8-bit bytes pass as they are.  A field
 * written anew lists its addresses without their display names.  0 or
 * XO_ERR_NOMEM.
 */
int send_copy(const char *msg, size_t len, const struct send_copy_opts *opts,
	      char **out, size_t *outlen);

/* ---- 8-bit bytes and servers without 8BITMIME (RFC 6152) ---- */

/* Whether the len bytes at msg hold a byte above 0x7f. */
bool send_has_8bit(const char *msg, size_t len);

/*
 * The copy for an SMTP server that does not announce 8BITMIME, to which
 * RFC 6152 forbids sending 8-bit bytes: msg (a copy send_copy() made,
 * CRLF lines) with its body quoted-printable (RFC 2045 6.7), where that
 * changes nothing a reader sees: a message whose 8-bit bytes are all in
 * its body, whose Content-Type is no multipart or message type, and whose
 * Content-Transfer-Encoding is none, 7bit or 8bit.  The header gets
 * Content-Transfer-Encoding: quoted-printable instead of its own, and
 * MIME-Version and a Content-Type (text/plain, charset utf-8 when the
 * body is UTF-8, else unknown-8bit, RFC 1428) when it has none.  0 with
 * *out (free() it), XO_ERR_NOMEM, or XO_ERR_MESSAGE_BAD with why saying
 * what cannot be converted.
 */
int send_to_7bit(const char *msg, size_t len, char **out, size_t *outlen,
		 char *why, size_t whylen);

/* ---- what the servers say ---- */

/*
 * 1 when an SMTP server's refusal of AUTH is Exchange Online's "SMTP
 * AUTH is off" (5.7.139), or its plain 5.7.3 (which a mailbox without
 * SMTP AUTH gets too): `send = auto` then sends through Graph.
 */
int send_smtp_auth_off(const char *reply);

/*
 * The error of a Graph or Gmail API reply body: Graph's
 * {"error":{"code":"ErrorAccessDenied","message":...}}, Google's
 * {"error":{"code":403,"message":...,"status":...,"errors":[{"reason":
 * ...}]}}.  code gets the most specific name (Graph's code, Google's
 * first reason, else its status), message the text; both "" when the
 * body says neither.  Control characters are replaced.
 */
void send_api_error(const char *body, size_t len, char *code, size_t codelen,
		    char *message, size_t msglen);

#endif
