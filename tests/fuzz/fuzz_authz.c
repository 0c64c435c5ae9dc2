/*
 * fuzz_authz.c: libFuzzer target for what a browser or a user hands the
 * agent in the browser and paste flows: the redirect's query and the
 * pasted line.  Whatever parses must hold only what the parser promises:
 * a code within AUTHZ_MAX_CODE and no control byte in any value.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "login/pure/authz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

static void check(const struct authz_response *r)
{
	if (r->code != NULL && strlen(r->code) > AUTHZ_MAX_CODE)
		abort();
	if (r->code == NULL && r->error == NULL)
		abort();
	check_value(r->code);
	check_value(r->state);
	check_value(r->error);
	check_value(r->error_description);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct authz_response r;
	char why[300];

	if (!ready) {
		if (sodium_init() < 0 ||
		    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			abort();
		ready = 1;
	}
	if (authz_parse_pasted((const char *)data, size, &r, why,
			       sizeof(why)) == 0)
		check(&r);
	authz_response_cleanup(&r);
	if (authz_parse_query((const char *)data, size, &r, why, sizeof(why)) ==
	    0)
		check(&r);
	authz_response_cleanup(&r);
	return 0;
}
