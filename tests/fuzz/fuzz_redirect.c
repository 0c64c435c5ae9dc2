/*
 * fuzz_redirect.c: libFuzzer target for what anything on the machine can
 * send the browser flow's loopback listener (agent/login/pure/request.c),
 * and for the query it hands on, read as the login reads it
 * (authz_parse_query in agent/login/pure/authz.c).
 *
 * The input is what a connection has sent so far.  Every prefix of it is
 * decided too, as the listener decides after each read: a request that is
 * answered stays answered the same way when more bytes come (the listener
 * stops reading then), and only a whole GET of the path hands on a query.
 * A refusal names one of the statuses the header promises, with text.
 */
#include <curl/curl.h>
#include <sodium.h>

#include "fuzz_common.h"
#include "login/pure/authz.h"
#include "login/pure/request.h"

#define PATH "/xoauth/callback"

static void check(const struct redirect_request *r)
{
	switch (r->verdict) {
	case REDIRECT_MORE:
		if (r->status != 0 || r->query != NULL)
			abort();
		return;
	case REDIRECT_GET:
		if (r->status != 0)
			abort();
		fuzz_check_str(r->query);
		return;
	case REDIRECT_REFUSE:
		if ((r->status != 400 && r->status != 404 && r->status != 405 &&
		     r->status != 431 && r->status != 500) ||
		    r->title == NULL || r->text == NULL || r->query != NULL)
			abort();
		fuzz_check_str(r->title);
		fuzz_check_str(r->text);
		return;
	}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct redirect_request r, first;
	struct authz_response a;
	char why[300];
	size_t n, cut;
	int nul, decided;

	if (!ready) {
		if (sodium_init() < 0 ||
		    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			abort();
		ready = 1;
	}
	if (size > REDIRECT_MAX_REQUEST)
		size = REDIRECT_MAX_REQUEST;
	redirect_parse_request((const char *)data, size, PATH, &r);
	check(&r);

	/* The shortest prefix that is decided: the listener would have
	   stopped there, with the same verdict as the whole input's (unless
	   a NUL comes later, which the listener would never have read).  A
	   few prefixes only, at line ends, to keep each run short. */
	nul = memchr(data, '\0', size) != NULL;
	for (n = 1, cut = 0; !nul && n < size && cut < 8; n++) {
		if (data[n - 1] != '\n')
			continue;
		cut++;
		redirect_parse_request((const char *)data, n, PATH, &first);
		check(&first);
		decided = first.verdict != REDIRECT_MORE;
		if (decided &&
		    (first.verdict != r.verdict || first.status != r.status))
			abort();
		redirect_request_cleanup(&first);
		if (decided)
			break;
	}

	if (r.verdict == REDIRECT_GET && r.query != NULL) {
		if (authz_parse_query(r.query, strlen(r.query), &a, why,
				      sizeof(why)) == 0) {
			fuzz_check_str(a.state);
			fuzz_check_str(a.error);
			fuzz_check_str(a.error_description);
		}
		authz_response_cleanup(&a);
	}
	redirect_request_cleanup(&r);
	return 0;
}
