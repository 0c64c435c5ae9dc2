/*
 * exchange.c: the steps of an XOAUTH2 or OAUTHBEARER exchange, and the
 * server's port (exchange.h).
 */
#include <string.h>

#include "exchange.h"

enum sxo_action sxo_exchange_next(enum sxo_state *state, unsigned serverinlen)
{
	switch (*state) {
	case SXO_STATE_START:
		/* Whatever a server sends before our first message (an empty
		   "+ " or "334 " when it takes no initial response) asks for
		   it. */
		*state = SXO_STATE_SENT;
		return SXO_SEND_TOKEN;
	case SXO_STATE_SENT:
		/* After the token, a server says success in its protocol
		   (IMAP "OK", SMTP "235") and the application steps with no
		   data; anything it sends is the error challenge. */
		if (serverinlen == 0)
			return SXO_FINISH;
		*state = SXO_STATE_REFUSED;
		return SXO_ANSWER_REFUSAL;
	case SXO_STATE_REFUSED:
		break;
	}
	return SXO_OUT_OF_TURN;
}

void sxo_refusal_answer(enum sxo_mech mech, const char **out, unsigned *len)
{
	/* RFC 7628 3.2.3: "the client MUST then send either an additional
	   client response consisting of a single %x01 (control A) character
	   to the server in order to allow the server to finish the
	   exchange".  Google's XOAUTH2 asks for an empty response. */
	if (mech == SXO_MECH_OAUTHBEARER) {
		*out = "\x01";
		*len = 1;
	} else {
		*out = "";
		*len = 0;
	}
}

unsigned sxo_server_port(const char *ipremoteport)
{
	const char *p;
	unsigned port = 0;

	if (ipremoteport == NULL || (p = strrchr(ipremoteport, ';')) == NULL)
		return 0;
	if (*++p == '\0')
		return 0;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		port = port * 10 + (unsigned)(*p - '0');
		if (port > 65535)
			return 0;
	}
	return port;
}
