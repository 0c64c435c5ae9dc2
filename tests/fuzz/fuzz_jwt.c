/*
 * fuzz_jwt.c: libFuzzer target for the claims the doctor reads from an
 * access token (agent/doctor/pure/jwt.c) and the findings it draws from
 * them (doctor_check_claims).
 *
 * The input is read twice: as a whole token, and as the JSON payload of a
 * token made around it (base64url between a fixed header and signature),
 * so that the claims are reached without the fuzzer having to discover
 * base64 first.  The second way has an oracle: the payload makes claims
 * exactly when jansson reads it as a JSON object.  Claims read either way
 * are NUL-terminated within their arrays and hold no control byte; a token
 * that is refused leaves every claim empty; the findings fit their report.
 */
#include <jansson.h>
#include <sodium.h>

#include "doctor/pure/doctor.h"
#include "fuzz_common.h"

/* {"alg":"RS256","typ":"JWT"}, as Microsoft's tokens begin. */
#define HEADER "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"
#define SIGNATURE "c2lnbmF0dXJl"
/* jwt.c's limit on a whole token. */
#define MAX_TOKEN (32 * 1024)

static void check_claims(const struct doctor_claims *c)
{
	fuzz_check_text(c->aud, sizeof(c->aud));
	fuzz_check_text(c->scp, sizeof(c->scp));
	fuzz_check_text(c->roles, sizeof(c->roles));
	fuzz_check_text(c->appidacr, sizeof(c->appidacr));
	fuzz_check_text(c->azpacr, sizeof(c->azpacr));
	fuzz_check_text(c->tid, sizeof(c->tid));
	fuzz_check_text(c->upn, sizeof(c->upn));
	fuzz_check_text(c->ver, sizeof(c->ver));
}

static void check_empty(const struct doctor_claims *c)
{
	static const struct doctor_claims zero;

	if (memcmp(c, &zero, sizeof(zero)) != 0)
		abort();
}

/* The findings for claims, for an Exchange account probed on both
   protocols, so that every check of doctor_check_claims() runs. */
static void check_findings(const struct doctor_claims *c)
{
	static const struct doctor_account a = {
	    .name = "work",
	    .provider = "microsoft",
	    .email = "alice@example.com",
	    .flow = "device",
	    .state = PROTO_STATE_ACTIVE,
	    .has_refresh_token = 1,
	    .has_access_token = 1,
	};
	static struct doctor_report r;
	size_t i;

	memset(&r, 0, sizeof(r));
	doctor_check_claims(c, &a, "smtp.office365.com",
			    "outlook.office365.com", 1700000000, &r);
	if (r.n == 0 || r.n > DOCTOR_MAX_FINDINGS)
		abort();
	for (i = 0; i < r.n; i++) {
		fuzz_check_text(r.items[i].text, sizeof(r.items[i].text));
		fuzz_check_text(r.items[i].fix, sizeof(r.items[i].fix));
	}
}

/* Reads token; returns the DOCTOR_JWT_* result after the checks. */
static int read_token(const char *token, size_t len)
{
	struct doctor_claims c;
	int r;

	r = doctor_jwt_claims(token, len, &c);
	if (r != DOCTOR_JWT_OK && r != DOCTOR_JWT_NOT_JWT &&
	    r != DOCTOR_JWT_BAD_BASE64 && r != DOCTOR_JWT_BAD_JSON)
		abort();
	if (r != DOCTOR_JWT_OK) {
		check_empty(&c);
		return r;
	}
	check_claims(&c);
	check_findings(&c);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char token[MAX_TOKEN + 1];
	size_t hl = sizeof(HEADER) - 1, room, b64len;
	json_t *j;
	int r, object;

	if (sodium_init() < 0)
		abort();
	read_token((const char *)data, size);

	/* As a payload.  Only a payload the token's limit allows. */
	b64len = sodium_base64_ENCODED_LEN(
	    size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	room = sizeof(token) - hl - 2 - (sizeof(SIGNATURE) - 1);
	if (size == 0 || b64len > room)
		return 0;
	memcpy(token, HEADER ".", hl + 1);
	sodium_bin2base64(token + hl + 1, b64len, data, size,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	/* b64len counts the NUL that the signature's dot replaces. */
	memcpy(token + hl + b64len, "." SIGNATURE, sizeof(SIGNATURE) + 1);
	r = read_token(token, hl + b64len + sizeof(SIGNATURE));
	j = json_loadb((const char *)data, size, 0, NULL);
	object = json_is_object(j);
	json_decref(j);
	if (object != (r == DOCTOR_JWT_OK))
		abort();
	if (!object && r != DOCTOR_JWT_BAD_JSON)
		abort();
	return 0;
}
