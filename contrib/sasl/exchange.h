/*
 * exchange.h: the client side of XOAUTH2 and OAUTHBEARER (RFC 7628) as a
 * sequence of steps, apart from libsasl2 and the agent.  Pure code (no
 * I/O, no allocation), so that unit tests link it alone.
 *
 * Names in the SASL plugin start with sxo_: they are the plugin's room, as
 * pxo_ is the PAM module's (STYLE.md).
 *
 * Both mechanisms go the same way: the client sends the bearer token in
 * its first message; the server either accepts (the exchange is over) or
 * sends an error challenge, a JSON object, which the client must answer
 * (XOAUTH2: an empty response; OAUTHBEARER: a lone 0x01, RFC 7628 3.2.3)
 * before the server sends its final refusal.
 */
#ifndef SXO_EXCHANGE_H
#define SXO_EXCHANGE_H

enum sxo_mech {
	SXO_MECH_XOAUTH2,
	SXO_MECH_OAUTHBEARER,
};

/* Where one connection's exchange stands. */
enum sxo_state {
	SXO_STATE_START,   /* nothing sent yet */
	SXO_STATE_SENT,	   /* the token went out; no answer yet */
	SXO_STATE_REFUSED, /* the server sent its error challenge */
};

/* What the plugin does with the server's message of this step. */
enum sxo_action {
	/* Send the initial response with the token.  The first step: with
	   no server message (an initial response on the command line), or
	   the empty challenge of a server that takes none. */
	SXO_SEND_TOKEN,
	/* The server refused the token with an error challenge: answer it
	   (sxo_refusal_answer()) so that the server can end the exchange,
	   and have the agent refresh the token for the next attempt. */
	SXO_ANSWER_REFUSAL,
	/* The server accepted (the application steps once more with no
	   data after the server's success): the exchange is over. */
	SXO_FINISH,
	/* The server went on after its error challenge. */
	SXO_OUT_OF_TURN,
};

/*
 * The action for a server message of serverinlen bytes (0 also for none),
 * and the state after it.  The state must be one this function returned.
 */
enum sxo_action sxo_exchange_next(enum sxo_state *state, unsigned serverinlen);

/*
 * The response to the server's error challenge for mech: "" for XOAUTH2,
 * "\x01" for OAUTHBEARER.  *out points to a static string.
 */
void sxo_refusal_answer(enum sxo_mech mech, const char **out, unsigned *len);

/*
 * The server's port from libsasl2's "ADDRESS;PORT" form of the remote
 * address (sasl_client_new()'s ipremoteport), or 0 when ipremoteport is
 * NULL or holds no valid port.
 */
unsigned sxo_server_port(const char *ipremoteport);

#endif
