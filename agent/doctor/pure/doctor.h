/*
 * doctor.h: `xoauth doctor` (PROTOCOL.md 4.9), the agent's diagnosis of
 * one account.
 *
 * The pure parts (no libuv, no curl, no globals; the unit tests link them
 * directly) are the findings list and its encoding (doctor/pure/report.c), the
 * checks of an account's settings, state and last error
 * (doctor/pure/checks.c), the JWT claims of its access token
 * (doctor/pure/jwt.c) and the meaning of SMTP/IMAP server replies
 * (doctor/pure/reply.c).  The real SMTP/IMAP login runs on the agent's loop
 * (doctor/probe.c), and doctor/job.c drives one DOCTOR request from start to
 * reply.
 *
 * No finding ever holds a secret: claims are shown, never the token.
 */
#ifndef XO_DOCTOR_H
#define XO_DOCTOR_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "proto.h"

/* Fewer than PROTO_MAX_FINDINGS: a diagnosis says a few things. */
#define DOCTOR_MAX_FINDINGS 48
#define DOCTOR_TEXT_MAX 640
#define DOCTOR_FIX_MAX 1024

struct doctor_finding {
	int level; /* PROTO_LEVEL_* */
	char text[DOCTOR_TEXT_MAX];
	char fix[DOCTOR_FIX_MAX];
};

struct doctor_report {
	struct doctor_finding items[DOCTOR_MAX_FINDINGS];
	size_t n;
	size_t dropped; /* findings past DOCTOR_MAX_FINDINGS */
};

/* ---- doctor/pure/report.c ---- */
/* Adds a finding; fix may be NULL.  Text is cut to fit. */
void doctor_add(struct doctor_report *r, int level, const char *text,
		const char *fix);
/* The same with printf-style text. */
void doctor_addf(struct doctor_report *r, int level, const char *fix,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* How many findings have exactly this level. */
size_t doctor_count(const struct doctor_report *r, int level);
/* 1 when some finding's text contains needle (for tests and for not
   saying one thing twice). */
int doctor_mentions(const struct doctor_report *r, const char *needle);
/* Encodes the DOCTOR reply (134) into w; 0 or an XO_ERR_*. */
int doctor_report_encode(const struct doctor_report *r, struct proto_writer *w);

/* ---- doctor/pure/checks.c ---- */
/* What the checks look at: a snapshot of the account, no secrets. */
struct doctor_account {
	const char *name;
	const char *provider;	    /* as configured, never NULL */
	const char *email;	    /* known address, may be NULL */
	const char *client_id;	    /* may be NULL */
	const char *tenant;	    /* may be NULL */
	const char *scopes;	    /* space-separated, may be NULL */
	const char *flow;	    /* may be NULL */
	const char *token_endpoint; /* may be NULL */
	int has_client_secret;	    /* client_secret or client_secret_cmd */
	int state;		    /* PROTO_STATE_* */
	int has_refresh_token;
	int has_access_token;
	long valid_s;		/* access token's remaining life */
	int last_err;		/* XO_ERR_* of the last failure, 0: none */
	const char *last_error; /* its text, may be NULL */
	long last_aadsts;	/* the provider's AADSTS number, 0: none */
	const char *last_oauth_error; /* the provider's "error", may be NULL */
	int last_fault;		      /* enum oauth_fault: what the last failure
					 met (TLS, timeout, redirect ...) */
	const char *lifetime_note;    /* what the agent made of the last reply's
					 expires_in, NULL or "" when it was
					 fine */
};

/* Mail servers named with --smtp / --imap, by family. */
enum doctor_host_kind {
	DOCTOR_HOST_NONE = 0, /* none given */
	DOCTOR_HOST_OTHER,
	DOCTOR_HOST_MICROSOFT, /* Exchange Online, Outlook.com */
	DOCTOR_HOST_GOOGLE,    /* Gmail */
};

/* The family of a mail host name (case-insensitive, by domain suffix). */
enum doctor_host_kind doctor_host_kind(const char *host);
/* 1 when the account talks to Microsoft's identity platform (a
   microsoft preset, or a token endpoint there). */
int doctor_is_microsoft(const struct doctor_account *a);
int doctor_is_google(const struct doctor_account *a);

/* Client type (secret or not), flow and e-mail address. */
void doctor_check_client(const struct doctor_account *a,
			 struct doctor_report *r);
/* Scopes against the provider and the mail hosts (NULL when not
   given). */
void doctor_check_scopes(const struct doctor_account *a, const char *smtp,
			 const char *imap, struct doctor_report *r);
/* The account's state and last error, with cause and remedy. */
void doctor_check_state(const struct doctor_account *a,
			struct doctor_report *r);

/*
 * The token of the scope the account's transport needs (send = graph,
 * auto or gmail with a gmail_scope): err 0 when one was had, else the
 * XO_ERR_* and msg the agent's words, which may hold an AADSTS number or
 * invalid_scope.  A problem for a transport that always needs it, a
 * warning for auto (only its fallback to Graph needs it).
 */
void doctor_check_send_scope(const struct doctor_account *a, const char *send,
			     const char *scope, int err, const char *msg,
			     struct doctor_report *r);

/* Cause and remedy of a provider error: an AADSTS number (0: none) or an
   OAuth error name (may be NULL).  0 when known, -1 when not. */
struct doctor_cause {
	int level;
	char text[DOCTOR_TEXT_MAX];
	char fix[DOCTOR_FIX_MAX];
};
int doctor_provider_error_cause(long aadsts, const char *oauth_error,
				const struct doctor_account *a,
				struct doctor_cause *out);
/* The first "AADSTS<digits>" number in text, 0 when there is none. */
long doctor_aadsts_in(const char *text);

/* ---- doctor/pure/jwt.c ---- */
#define DOCTOR_JWT_OK 0
#define DOCTOR_JWT_NOT_JWT 1	/* not three dot-separated parts */
#define DOCTOR_JWT_BAD_BASE64 2 /* a part is not base64url */
#define DOCTOR_JWT_BAD_JSON 3	/* the payload is not a JSON object */

/* Claims worth showing; each string is "" when the claim is absent. */
struct doctor_claims {
	char aud[256]; /* an array is joined with spaces */
	char scp[512];
	char roles[512];  /* joined with spaces */
	char appidacr[8]; /* v1 tokens */
	char azpacr[8];	  /* v2 tokens */
	char tid[64];
	char upn[256]; /* upn, else email, else preferred_username,
			  else unique_name */
	char ver[8];
	long long exp; /* 0 when absent */
};

/*
 * Reads the payload of a JWT (header.payload.signature, base64url
 * without padding); the signature is neither checked nor kept.  The
 * decoded payload is wiped before return.  Returns a DOCTOR_JWT_* value;
 * on failure *out is zeroed.
 */
int doctor_jwt_claims(const char *token, size_t len, struct doctor_claims *out);
/* Findings about the claims: what they are, and what is wrong with them
   for the account and the mail hosts given (NULL when none). */
void doctor_check_claims(const struct doctor_claims *c,
			 const struct doctor_account *a, const char *smtp,
			 const char *imap, time_t now, struct doctor_report *r);

/* ---- doctor/pure/reply.c ---- */
/* The longest server line kept, with its NUL; longer ones are cut. */
#define DOCTOR_LINE_MAX 400

/* What a mail server said during the doctor's login.  Every string is
   NUL-terminated, "" when the server said no such thing, and holds no
   control character. */
struct doctor_heard {
	int greeted;			 /* some line came */
	char greeting[DOCTOR_LINE_MAX];	 /* the server's first line */
	int auth_ok;			 /* SMTP 235 */
	int preauth;			 /* IMAP PREAUTH greeting */
	char offer[DOCTOR_LINE_MAX];	 /* EHLO AUTH line, IMAP CAPABILITY */
	char refusal[DOCTOR_LINE_MAX];	 /* 4xx/5xx, or "NO ..." minus tag */
	char success[DOCTOR_LINE_MAX];	 /* SMTP 235 line */
	char challenge[DOCTOR_LINE_MAX]; /* IMAP error challenge, decoded */
};

/*
 * Reads size bytes of the server's side of the dialogue (what libcurl
 * shows as CURLINFO_HEADER_IN: one or more lines, the last one maybe
 * without its newline) into h, which starts zeroed.  Control characters
 * become spaces, trailing blanks go, a line is cut to DOCTOR_LINE_MAX - 1
 * bytes.  imap: the dialogue is IMAP, else SMTP.
 */
void doctor_heard_feed(struct doctor_heard *h, int imap, const char *data,
		       size_t size);

/*
 * What a refused SMTP AUTH reply ("535 5.7.139 ...") or IMAP tagged
 * reply ("A002 NO AUTHENTICATE failed.") means, and what to do, for the
 * SASL user email (may be NULL).  Always fills out (an unknown reply gets
 * a generic cause).
 */
void doctor_smtp_reply_cause(const char *reply, const char *email,
			     struct doctor_cause *out);
void doctor_imap_reply_cause(const char *reply, const char *email,
			     struct doctor_cause *out);

#endif
