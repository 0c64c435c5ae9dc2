/*
 * sasl.c: the SASL initial responses the agent hands out ready-made.
 *
 * XOAUTH2 (Google's definition, also Microsoft's):
 *   base64("user=" user "\x01auth=Bearer " token "\x01\x01")
 * OAUTHBEARER (RFC 7628 4.1):
 *   base64("n,a=" authzid "," "\x01host=" host "\x01port=" port
 *          "\x01auth=Bearer " token "\x01\x01")
 * with host and port left out when unknown, and '=' and ',' in the
 * authzid escaped as "=3D" and "=2C" (RFC 5801 saslname).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "proto.h"
#include "secret/sasl.h"

/* Appends to a plain buffer, failing when it is full. */
struct builder {
	struct agent_plain *p;
	size_t len;
	int err;
};

static void put(struct builder *b, const char *s, size_t n)
{
	if (b->err || n > b->p->len - b->len) {
		b->err = XO_ERR_INVALID;
		return;
	}
	memcpy(b->p->data + b->len, s, n);
	b->len += n;
}

static void puts_(struct builder *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_saslname(struct builder *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '=')
			puts_(b, "=3D");
		else if (*s == ',')
			puts_(b, "=2C");
		else
			put(b, s, 1);
	}
}

/* 1 when s holds a byte that cannot stand in a SASL field: \x01 separates
   the fields of both mechanisms, and no control byte belongs in a user
   name or a host name. */
static int has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int agent_sasl_build(struct agent_shield *s, uint8_t form, const char *email,
		     const char *host, uint32_t port,
		     const struct agent_plain *token, struct agent_plain **out)
{
	struct agent_plain *raw = NULL, *enc = NULL;
	struct builder b = {0};
	char portbuf[16];
	size_t enc_len;
	int r;

	*out = NULL;
	if (form != PROTO_FORM_XOAUTH2 && form != PROTO_FORM_OAUTHBEARER)
		return XO_ERR_INVALID;
	/* The host comes from the client's request: a \x01 in it would add
	   a field of the client's choosing to the response. */
	if (has_control(email) || has_control(host))
		return XO_ERR_MSG_BAD;
	if ((r = agent_plain_scratch(
		 s, token->len + 3 * strlen(email) + strlen(host) + 64,
		 &raw)) != 0)
		return r;
	b.p = raw;
	if (form == PROTO_FORM_XOAUTH2) {
		puts_(&b, "user=");
		puts_(&b, email);
	} else {
		puts_(&b, "n,a=");
		put_saslname(&b, email);
		puts_(&b, ",");
		if (host[0] != '\0') {
			puts_(&b, "\001host=");
			puts_(&b, host);
		}
		if (port != 0) {
			snprintf(portbuf, sizeof(portbuf), "\001port=%u",
				 (unsigned)port);
			puts_(&b, portbuf);
		}
	}
	puts_(&b, "\001auth=Bearer ");
	put(&b, token->data, token->len);
	puts_(&b, "\001\001");
	if ((r = b.err) != 0)
		goto out;
	enc_len =
	    sodium_base64_ENCODED_LEN(b.len, sodium_base64_VARIANT_ORIGINAL);
	if ((r = agent_plain_scratch(s, enc_len - 1, &enc)) != 0)
		goto out;
	sodium_bin2base64(enc->data, enc_len, (unsigned char *)raw->data, b.len,
			  sodium_base64_VARIANT_ORIGINAL);
	enc->len = strlen(enc->data);
	*out = enc;
	enc = NULL; /* transferred */
	r = 0;
out:
	agent_plain_free(raw);
	agent_plain_free(enc);
	return r;
}
