/*
 * sasl.h: the SASL initial responses the agent hands out ready-made
 * (XOAUTH2 and OAUTHBEARER, sasl.c), built in wiped memory.
 */
#ifndef XO_SECRET_SASL_H
#define XO_SECRET_SASL_H

#include <stdint.h>

#include "secret/secret.h"

/*
 * Builds the base64 initial response of form (PROTO_FORM_XOAUTH2 or
 * PROTO_FORM_OAUTHBEARER) for the user email and the access token into a
 * new plain buffer *out, carved like the string it is made from out of
 * s's scratch arena (secret.h; s NULL: buffers of their own); host (""
 * for none) and port (0 for none) go into OAUTHBEARER only.  0, XO_ERR_INVALID
 * (another form, or no room), XO_ERR_MSG_BAD (a control byte, \x01 above all,
 * in email or host) or XO_ERR_NOMEM.
 */
int agent_sasl_build(struct agent_shield *s, uint8_t form, const char *email,
		     const char *host, uint32_t port,
		     const struct agent_plain *token, struct agent_plain **out);

#endif
