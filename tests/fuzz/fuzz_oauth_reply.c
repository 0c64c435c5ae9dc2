/*
 * fuzz_oauth_reply.c: libFuzzer target for what a provider's token and
 * device authorization endpoints answer (agent/oauth/pure/reply.c), and
 * for what the doctor then makes of a refusal (agent/doctor/pure/checks.c).
 *
 * Input: one byte picks the HTTP status, one the Retry-After header, the
 * rest is the body.  The body goes to both parsers.  Whatever it is:
 *   - a token reply is classified, with an error code that matches the
 *     class, a message for people that is printable, NUL-terminated and
 *     never carries a token-sized run from the body, and tokens only when
 *     it succeeded (an access token, a lifetime within bounds);
 *   - parsing the same reply twice gives the same answer;
 *   - a device reply either has every field it promises, within bounds,
 *     or none and a reason;
 *   - the doctor's reading of the account the refusal leaves behind
 *     (state, last error, AADSTS number, error name) stays within its
 *     report.
 */
#include <stdio.h>

#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "doctor/pure/doctor.h"
#include "fuzz_common.h"
#include "oauth/pure/reply.h"

/* Statuses with a meaning of their own in reply.c, and some without. */
static const long statuses[] = {
    200, 201, 204, 299, 300, 302, 400, 401, 403, 404, 405, 408,
    410, 418, 429, 499, 500, 502, 503, 599, 600, 0,   -1,  100,
};
static const long retry_afters[] = {-1, 0, 1, 30, 86400, 1L << 40};

/* A run of token-like characters this long in a message means a secret
   may have been quoted (reply.c redacts runs of REDACT_RUN = 40). */
#define TOKEN_RUN 40

static int tokenish(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~' || c == '+' || c == '=';
}

/* The "..." that ends a quote cut to fit is ours, not the body's. */
static void check_no_token_run(const char *s)
{
	size_t run = 0, i;

	for (i = 0;; i++) {
		if (s[i] != '\0' && tokenish((unsigned char)s[i])) {
			run++;
			continue;
		}
		if (run >= 3 && strncmp(s + i - 3, "...", 3) == 0)
			run -= 3;
		if (run >= TOKEN_RUN)
			abort();
		if (s[i] == '\0')
			return;
		run = 0;
	}
}

static int class_matches(const struct oauth_result *r)
{
	switch (r->cls) {
	case OAUTH_OK:
		return r->err == 0;
	case OAUTH_TRANSIENT:
		return r->err == XO_ERR_HTTP ||
		       r->err == XO_ERR_PROVIDER_REPLY ||
		       r->err == XO_ERR_NOMEM;
	case OAUTH_REAUTH:
		return r->err == XO_ERR_LOGIN_NEEDED;
	case OAUTH_CONFIG:
		return r->err == XO_ERR_PROVIDER_CONFIG;
	case OAUTH_PENDING:
	case OAUTH_SLOW_DOWN:
		return r->err == XO_ERR_LOGIN_PENDING;
	case OAUTH_DENIED:
		return r->err == XO_ERR_LOGIN_DENIED;
	case OAUTH_EXPIRED:
		return r->err == XO_ERR_LOGIN_EXPIRED;
	}
	return 0;
}

static void check_token_reply(const struct oauth_result *r, long retry_after)
{
	if (!class_matches(r) ||
	    strcmp(oauth_class_name(r->cls), "unknown") == 0)
		abort();
	if (r->retry_after != retry_after)
		abort();
	if (r->client_rejected != 0 && r->client_rejected != 1)
		abort();
	fuzz_check_text(r->message, sizeof(r->message));
	fuzz_check_text(r->error, sizeof(r->error));
	if (r->message[0] == '\0')
		abort();
	check_no_token_run(r->message);
	check_no_token_run(r->error);
	if (r->cls != OAUTH_OK) {
		if (r->access_token != NULL || r->refresh_token != NULL ||
		    r->scope != NULL || r->email != NULL)
			abort();
		return;
	}
	if (r->access_token == NULL || r->access_token->len == 0 ||
	    r->access_token->data[r->access_token->len] != '\0')
		abort();
	if (r->refresh_token != NULL &&
	    (r->refresh_token->len == 0 ||
	     r->refresh_token->data[r->refresh_token->len] != '\0'))
		abort();
	/* Whatever expires_in said, the life planned is a sane one, and
	   what the reply said is told without a token in it. */
	if (r->expires_in <= 0 || r->expires_in > OAUTH_MAX_LIFETIME)
		abort();
	fuzz_check_text(r->expires_in_said, sizeof(r->expires_in_said));
	check_no_token_run(r->expires_in_said);
	if ((r->lifetime == OAUTH_LIFETIME_GIVEN) !=
	    (r->expires_in_said[0] == '\0'))
		abort();
	fuzz_check_str(r->scope);
	fuzz_check_str(r->email);
	if (r->email != NULL &&
	    (strlen(r->email) == 0 || strlen(r->email) > 320 ||
	     strchr(r->email, ' ') != NULL))
		abort();
}

static void check_same(const struct oauth_result *a,
		       const struct oauth_result *b)
{
	if (a->cls != b->cls || a->err != b->err ||
	    strcmp(a->message, b->message) != 0 || a->aadsts != b->aadsts ||
	    strcmp(a->error, b->error) != 0 ||
	    a->client_rejected != b->client_rejected ||
	    a->expires_in != b->expires_in || a->lifetime != b->lifetime ||
	    a->fault != b->fault)
		abort();
}

/* What the doctor says of an account this reply left refused. */
static void check_doctor(const struct oauth_result *r)
{
	struct doctor_account a = {
	    .name = "work",
	    .provider = "microsoft",
	    .email = "alice@example.com",
	    .client_id = "00000000-0000-0000-0000-000000000000",
	    .tenant = "organizations",
	    .has_refresh_token = 1,
	};
	static struct doctor_report rep;
	size_t i;

	switch (r->cls) {
	case OAUTH_REAUTH:
		a.state = PROTO_STATE_REAUTH;
		break;
	case OAUTH_CONFIG:
		a.state = PROTO_STATE_CONFIG_ERROR;
		break;
	default:
		a.state = PROTO_STATE_RETRYING;
	}
	a.last_err = r->err;
	a.last_error = r->message;
	a.last_aadsts = r->aadsts;
	a.last_oauth_error = r->error[0] != '\0' ? r->error : NULL;
	a.last_fault = r->fault;
	memset(&rep, 0, sizeof(rep));
	doctor_check_state(&a, &rep);
	if (rep.n > DOCTOR_MAX_FINDINGS)
		abort();
	for (i = 0; i < rep.n; i++) {
		fuzz_check_text(rep.items[i].text, sizeof(rep.items[i].text));
		fuzz_check_text(rep.items[i].fix, sizeof(rep.items[i].fix));
	}
}

static void check_device(int rc, const struct oauth_device *d, const char *why)
{
	fuzz_check_str(why);
	if (rc != 0) {
		if ((rc != XO_ERR_PROVIDER_REPLY && rc != XO_ERR_NOMEM) ||
		    why[0] == '\0' || d->device_code != NULL ||
		    d->user_code != NULL || d->verification_uri != NULL ||
		    d->verification_uri_complete != NULL)
			abort();
		return;
	}
	if (d->device_code == NULL || d->device_code->len == 0 ||
	    d->user_code == NULL || d->verification_uri == NULL)
		abort();
	fuzz_check_str(d->user_code);
	fuzz_check_str(d->verification_uri);
	fuzz_check_str(d->verification_uri_complete);
	if (strlen(d->user_code) == 0 || strlen(d->user_code) > 64 ||
	    strchr(d->user_code, ' ') != NULL ||
	    strlen(d->verification_uri) > 2048 ||
	    strchr(d->verification_uri, ' ') != NULL)
		abort();
	/* An interval the reply gives is used only within the code's life;
	   RFC 8628's default of 5 s stands even when that is longer. */
	if (d->expires_in <= 0 || d->interval < 1 ||
	    (d->interval > d->expires_in && d->interval != 5))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static struct oauth_result r1, r2;
	struct oauth_device d;
	long status, retry_after;
	char why[256];
	int rc;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		/* As the agent does at start-up. */
		oauth_json_init();
		ready = 1;
	}
	status = statuses[fuzz_take_byte(
	    &data, &size, sizeof(statuses) / sizeof(statuses[0]))];
	retry_after = retry_afters[fuzz_take_byte(
	    &data, &size, sizeof(retry_afters) / sizeof(retry_afters[0]))];

	oauth_parse_token_reply(status, (const char *)data, size, retry_after,
				&r1);
	check_token_reply(&r1, retry_after);
	oauth_parse_token_reply(status, (const char *)data, size, retry_after,
				&r2);
	check_same(&r1, &r2);
	if (r1.cls != OAUTH_OK)
		check_doctor(&r1);
	oauth_result_cleanup(&r1);
	oauth_result_cleanup(&r2);

	rc = oauth_parse_device_reply(status, (const char *)data, size, &d, why,
				      sizeof(why));
	check_device(rc, &d, why);
	oauth_device_cleanup(&d);
	return 0;
}
