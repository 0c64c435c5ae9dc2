/*
 * jwt.c: the claims of an access token that happens to be a
 * readable JWT, and what they say about SMTP and IMAP.
 *
 * Microsoft says its access tokens "must be treated as opaque strings"
 * and those of personal accounts are not JWTs at all (providers.md 2.7);
 * the agent never relies on them.  The doctor only shows them, because a
 * wrong `aud` or a missing `scp` is the usual reason behind 535 5.7.3.
 * The signature is not checked: nothing is trusted, only explained.
 * Pure: no I/O, no globals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "doctor/pure/doctor.h"
#include "secret/buf.h"

/* Larger than any provider's access token (Google: 2048 bytes,
   providers.md 3; Microsoft's with many groups run to a few KiB). */
#define MAX_TOKEN (32 * 1024)
/* Within long long, far beyond any date (the year 292 billion). */
#define MAX_EXP 9e18

/* Decodes one base64url part of n > 0 bytes onto out (at least n bytes
   under its max); 0, or -1 when it is no such part or memory is short. */
static int b64url(const char *p, size_t n, struct agent_buf *out)
{
	unsigned char *t;
	const char *end = NULL;
	size_t room, len = 0;

	/* Decoded, the part is no longer than its text. */
	if (agent_buf_reserve(out, n) != 0)
		return -1;
	t = agent_buf_tail(out, &room);
	if (sodium_base642bin(t, room, p, n, NULL, &len, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != p + n)
		return -1;
	agent_buf_advance(out, len);
	return 0;
}

/* Copies s into dst, control characters replaced, cut to fit. */
static void copy_clean(char *dst, size_t cap, const char *s)
{
	size_t i;

	snprintf(dst, cap, "%s", s);
	for (i = 0; dst[i] != '\0'; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = '?';
}

/* A string claim, or each string of an array claim joined by spaces. */
static void claim(const json_t *root, const char *name, char *dst, size_t cap)
{
	const json_t *v = json_object_get(root, name), *e;
	char buf[1024] = "";
	size_t i, len = 0;

	dst[0] = '\0';
	if (json_is_string(v)) {
		copy_clean(dst, cap, json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld",
			 (long long)json_integer_value(v));
		copy_clean(dst, cap, buf);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e) || len + 1 >= sizeof(buf))
				continue;
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
						"%s%s", len > 0 ? " " : "",
						json_string_value(e));
			if (len >= sizeof(buf))
				len = sizeof(buf) - 1;
		}
		copy_clean(dst, cap, buf);
	}
}

int doctor_jwt_claims(const char *token, size_t len, struct doctor_claims *out)
{
	const char *dot1, *dot2;
	/* The decoded parts: the token is a secret, and they are most of
	   it. */
	struct agent_buf hdr, body;
	json_t *root = NULL, *exp;
	int r = DOCTOR_JWT_NOT_JWT;

	memset(out, 0, sizeof(*out));
	agent_buf_init(&hdr, MAX_TOKEN);
	agent_buf_init(&body, MAX_TOKEN);
	if (token == NULL || len == 0 || len > MAX_TOKEN ||
	    memchr(token, '\0', len) != NULL)
		goto out;
	/* Exactly three parts: a JWE has five, an opaque token one. */
	if ((dot1 = memchr(token, '.', len)) == NULL ||
	    (dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token))) ==
		NULL ||
	    memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL ||
	    dot1 == token || dot2 == dot1 + 1)
		goto out;
	r = DOCTOR_JWT_BAD_BASE64;
	if (b64url(token, (size_t)(dot1 - token), &hdr) != 0 ||
	    b64url(dot1 + 1, (size_t)(dot2 - dot1 - 1), &body) != 0)
		goto out;
	r = DOCTOR_JWT_BAD_JSON;
	if ((root = json_loadb((const char *)body.data, body.len, 0, NULL)) ==
		NULL ||
	    !json_is_object(root))
		goto out;
	claim(root, "aud", out->aud, sizeof(out->aud));
	claim(root, "scp", out->scp, sizeof(out->scp));
	claim(root, "roles", out->roles, sizeof(out->roles));
	claim(root, "appidacr", out->appidacr, sizeof(out->appidacr));
	claim(root, "azpacr", out->azpacr, sizeof(out->azpacr));
	claim(root, "tid", out->tid, sizeof(out->tid));
	claim(root, "ver", out->ver, sizeof(out->ver));
	claim(root, "upn", out->upn, sizeof(out->upn));
	if (out->upn[0] == '\0')
		claim(root, "email", out->upn, sizeof(out->upn));
	if (out->upn[0] == '\0')
		claim(root, "preferred_username", out->upn, sizeof(out->upn));
	if (out->upn[0] == '\0')
		claim(root, "unique_name", out->upn, sizeof(out->upn));
	/* A NumericDate may be a real; one no long long holds (1e300) is
	   as good as none. */
	exp = json_object_get(root, "exp");
	if (json_is_integer(exp))
		out->exp = (long long)json_integer_value(exp);
	else if (json_is_real(exp) && json_real_value(exp) > -MAX_EXP &&
		 json_real_value(exp) < MAX_EXP)
		out->exp = (long long)json_real_value(exp);
	r = DOCTOR_JWT_OK;
out:
	json_decref(root);
	agent_buf_cleanup(&hdr);
	agent_buf_cleanup(&body);
	if (r != DOCTOR_JWT_OK)
		memset(out, 0, sizeof(*out));
	return r;
}

/* 1 when the space-separated list holds word, without case. */
static int has_word(const char *list, const char *word)
{
	size_t wl = strlen(word), n;
	const char *p = list;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == wl && strncasecmp(p, word, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* Exchange Online's audiences: its URLs (with or without the slash, in
   the national clouds too) and its application ID. */
static int aud_is_exchange(const char *aud)
{
	static const char *const ok[] = {
	    "https://outlook.office.com",
	    "https://outlook.office.com/",
	    "https://outlook.office365.com",
	    "https://outlook.office365.com/",
	    "https://outlook.office365.us",
	    "https://outlook.office365.us/",
	    "https://partner.outlook.cn",
	    "https://partner.outlook.cn/",
	    "00000002-0000-0ff1-ce00-000000000000",
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (has_word(aud, ok[i]))
			return 1;
	return 0;
}

static void append(char *buf, size_t cap, const char *name, const char *v)
{
	size_t len = strlen(buf);

	if (v[0] == '\0' || len >= cap)
		return;
	snprintf(buf + len, cap - len, "%s%s=%s", len > 0 ? ", " : "", name, v);
}

void doctor_check_claims(const struct doctor_claims *c,
			 const struct doctor_account *a, const char *smtp,
			 const char *imap, time_t now, struct doctor_report *r)
{
	char shown[DOCTOR_TEXT_MAX - 64] = "", when[64] = "", fix[512];
	int exchange = doctor_is_microsoft(a) ||
		       doctor_host_kind(smtp) == DOCTOR_HOST_MICROSOFT ||
		       doctor_host_kind(imap) == DOCTOR_HOST_MICROSOFT;
	const char *acr = c->appidacr[0] != '\0' ? c->appidacr : c->azpacr;
	struct tm tm;
	time_t exp = (time_t)c->exp;

	append(shown, sizeof(shown), "aud", c->aud);
	append(shown, sizeof(shown), "scp", c->scp);
	append(shown, sizeof(shown), "roles", c->roles);
	append(shown, sizeof(shown), "appidacr", c->appidacr);
	append(shown, sizeof(shown), "azpacr", c->azpacr);
	append(shown, sizeof(shown), "tid", c->tid);
	append(shown, sizeof(shown), "upn", c->upn);
	if (c->exp > 0 && gmtime_r(&exp, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	append(shown, sizeof(shown), "exp", when);
	doctor_addf(r, PROTO_LEVEL_INFO, NULL,
		    "The access token is a JWT with these claims: %s", shown);

	snprintf(fix, sizeof(fix),
		 "Ask for Exchange Online scopes (scopes = "
		 "https://outlook.office.com/SMTP.Send "
		 "https://outlook.office.com/IMAP.AccessAsUser.All "
		 "offline_access; the first scope decides the resource), "
		 "then log in again: xoauth login %s",
		 a->name);
	if (exchange && c->aud[0] != '\0' && !aud_is_exchange(c->aud))
		doctor_addf(r, PROTO_LEVEL_PROBLEM, fix,
			    "The token's audience (aud) is %s, not Exchange "
			    "Online (https://outlook.office.com): Exchange "
			    "refuses it for SMTP and IMAP",
			    c->aud);
	if (exchange && smtp != NULL && smtp[0] != '\0' &&
	    !has_word(c->scp, "SMTP.Send") &&
	    !has_word(c->roles, "SMTP.SendAsApp"))
		doctor_addf(r, PROTO_LEVEL_PROBLEM, fix,
			    "The token's scopes (scp: %s) lack SMTP.Send, "
			    "which SMTP AUTH at Exchange Online needs",
			    c->scp[0] != '\0' ? c->scp : "none");
	if (exchange && imap != NULL && imap[0] != '\0' &&
	    !has_word(c->scp, "IMAP.AccessAsUser.All") &&
	    !has_word(c->roles, "IMAP.AccessAsApp"))
		doctor_addf(r, PROTO_LEVEL_PROBLEM, fix,
			    "The token's scopes (scp: %s) lack "
			    "IMAP.AccessAsUser.All, which IMAP at Exchange "
			    "Online needs",
			    c->scp[0] != '\0' ? c->scp : "none");
	/* providers.md 2.7: "0" public, "1" secret, "2" certificate. */
	if ((strcmp(acr, "1") == 0 || strcmp(acr, "2") == 0) &&
	    (a->flow == NULL || strcmp(a->flow, "client_credentials") != 0))
		doctor_addf(r, PROTO_LEVEL_WARNING,
			    "Use a public client: remove client_secret and "
			    "client_secret_cmd, and set 'Allow public client "
			    "flows' to Yes in the app registration.",
			    "The token was issued to a confidential client "
			    "(%s %s: with a %s); Outlook.com refuses SMTP "
			    "with such tokens",
			    c->appidacr[0] != '\0' ? "appidacr" : "azpacr", acr,
			    acr[0] == '1' ? "client secret" : "certificate");
	snprintf(fix, sizeof(fix),
		 "Check the system clock, then run 'xoauth refresh %s'.",
		 a->name);
	if (c->exp > 0 && exp <= now)
		doctor_addf(r, PROTO_LEVEL_PROBLEM, fix,
			    "The token expired at %s, yet the agent holds it "
			    "as valid: the clocks disagree",
			    when);
	if (c->upn[0] != '\0' && a->email != NULL && a->email[0] != '\0' &&
	    strcasecmp(c->upn, a->email) != 0)
		doctor_addf(r, PROTO_LEVEL_WARNING,
			    "Set email to the token's user, unless this is a "
			    "shared mailbox: then that user needs Full Access "
			    "and Send As on it.",
			    "The token belongs to %s, but the XOAUTH2 user "
			    "name is %s",
			    c->upn, a->email);
}
