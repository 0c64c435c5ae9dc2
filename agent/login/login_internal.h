/*
 * login_internal.h: what the files of login/ share.  Nothing outside
 * login/ includes it.
 *
 *   login.c     starting, joining, cancelling and ending a login
 *   device.c    the device flow (RFC 8628)
 *   code.c      the browser and paste flows (RFC 6749 4.1 with PKCE)
 *   requests.c  LOGIN_START, LOGIN_WAIT and LOGIN_CODE
 *   redirect.c  the browser flow's loopback listener
 */
#ifndef XO_LOGIN_LOGIN_INTERNAL_H
#define XO_LOGIN_LOGIN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config/pure/presets.h"
#include "core/err.h"
#include "oauth/oauth.h"

struct account;
struct conn;
struct redirect_server;

/* How long a browser or paste login waits for the user. */
#define LOGIN_CODE_TTL_S 900
/* How many codes one login remembers, to refuse a replayed one. */
#define LOGIN_MAX_CODES 8

/* A login in progress: the account's login slot holds it
   (account_login()). */
struct login {
	struct account *acct; /* NULL once the account let go of it */
	enum agent_flow flow;
	int64_t expires_boot; /* CLOCK_BOOTTIME ms when the login dies */
	uv_timer_t timer;     /* device: next poll; others: expiry; the
				 login is freed in its close callback */
	bool ready;	      /* the LOGIN reply can be sent */

	/* device flow */
	struct oauth_device dev;
	long interval_s;

	/* browser and paste flows: authorization code with PKCE */
	char *auth_url;			  /* what the user opens */
	char *redirect_uri;		  /* sent again with the code */
	char *state;			  /* LOGIN_STATE_LEN characters */
	struct agent_secret *verifier;	  /* PKCE code_verifier, sealed */
	struct redirect_server *redirect; /* browser flow's listener */
	bool exchanging;		  /* a code is at the token endpoint */
	/* The last failed exchange that did not end the login (code 0:
	   none): what a LOGIN_CODE waiting for it is told. */
	struct agent_err exchange;
	/* SHA-256 of every code tried, so a replay is refused here. */
	unsigned char tried[LOGIN_MAX_CODES][32];
	unsigned n_tried;
};

/* ---- login.c ---- */
/*
 * Ends l, the account's login, with outcome (code 0: logged in): closes
 * what it holds and wakes whoever waits.  The struct login is freed later,
 * from the loop.
 */
void login_finish(struct login *l, const struct agent_err *outcome);
/* The same with a printf-style message. */
void login_fail(struct login *l, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Starts a login with the named flow ("device", "browser", "paste"; NULL:
 * the account's own), or joins the one in progress; c gets the LOGIN
 * reply when the flow is ready.  0, or the reason in err
 * (XO_ERR_UNSUPPORTED_FLOW names the flows that work).
 */
int login_start(struct account *acct, struct conn *c, const char *flow,
		struct agent_err *err);
/* Sends the LOGIN reply for l; 0 or XO_ERR_*. */
int login_reply(const struct login *l, struct conn *c);
/* Parks c until the login's outcome (LOGIN_WAIT), its code is known
   (LOGIN_START) or its code exchange has ended (LOGIN_CODE). */
enum login_wait_kind {
	WAIT_LOGIN,
	WAIT_LOGIN_START,
	WAIT_LOGIN_CODE,
};
int login_wait(struct account *acct, struct conn *c, enum login_wait_kind kind,
	       uint32_t wait_ms);

/* ---- device.c ---- */
/* Starts the device flow for l (already the account's login); the reason
   of a failure in err. */
int login_device_start(struct login *l, struct agent_err *err);
/* The device flow's LOGIN reply fields. */
void login_device_reply(const struct login *l, struct proto_login_rep *rep);

/* ---- code.c ---- */
/* Starts the browser or paste flow for l; the reason of a failure in
   err. */
int login_code_start(struct login *l, struct agent_err *err);
/* Stops the browser flow's listener (an answer being written still goes
   out). */
void login_code_close_listener(struct login *l);
/* Frees what the browser and paste flows hold in l. */
void login_code_cleanup(struct login *l);
/*
 * LOGIN_CODE: takes what the paste flow brought back (len bytes, a secret
 * the caller wipes).  0 when the exchange has started, else the reason in
 * err.
 */
int login_take_pasted(struct login *l, const char *response, size_t len,
		      struct agent_err *err);
/* For a parked LOGIN_CODE: true while the exchange runs; else false and
   its outcome in err (code 0: done). */
bool login_code_pending(const struct account *acct, struct agent_err *err);

#endif
