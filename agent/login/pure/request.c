/*
 * request.c: the loopback listener's request, read (request.h).
 */
#include <string.h>

#include <curl/curl.h>

#include "login/pure/request.h"
#include "secret/buf.h"

static void refuse(struct redirect_request *out, int status, const char *title,
		   const char *text)
{
	out->verdict = REDIRECT_REFUSE;
	out->status = status;
	out->title = title;
	out->text = text;
}

/* Splits the request line; 0 with method and target NUL-terminated in
   place, or -1 when it is no HTTP/1.x request line. */
static int request_line(char *line, char **method, char **target)
{
	char *sp1 = strchr(line, ' '), *sp2;

	if (sp1 == NULL || (sp2 = strchr(sp1 + 1, ' ')) == NULL)
		return -1;
	*sp1 = '\0';
	*sp2 = '\0';
	if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return -1;
	*method = line;
	*target = sp1 + 1;
	return 0;
}

/*
 * Path and query of an origin-form target ("/path?query"), curl-allocated:
 * libcurl allocates with the agent's wiping allocator (secret/wipe_alloc.h),
 * so curl_free() wipes the query and the code in it.
 */
static int split_target(const char *target, char **path, char **query)
{
	struct agent_buf url;
	const char *s;
	CURLU *u = NULL;
	CURLUcode uc;
	int r = -1;

	*path = NULL;
	*query = NULL;
	/* The target is at most REDIRECT_MAX_REQUEST bytes: it fits. */
	agent_buf_init(&url, REDIRECT_MAX_REQUEST + 32);
	if (target[0] != '/' || target[1] == '/')
		goto out;
	if (agent_buf_append_str(&url, "http://127.0.0.1") != 0 ||
	    agent_buf_append_str(&url, target) != 0 ||
	    (s = agent_buf_cstr(&url)) == NULL || (u = curl_url()) == NULL)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PATH, path, 0) == CURLUE_OK) {
		uc = curl_url_get(u, CURLUPART_QUERY, query, 0);
		r = uc == CURLUE_OK || uc == CURLUE_NO_QUERY ? 0 : -1;
	}
out:
	curl_url_cleanup(u);
	agent_buf_cleanup(&url);
	return r;
}

/* The blank line that ends a request's headers: 1 when data has one. */
static int has_end(const char *data, size_t len)
{
	return memmem(data, len, "\r\n\r\n", 4) != NULL ||
	       memmem(data, len, "\n\n", 2) != NULL;
}

/* A whole request (data holds no NUL): its request line decides. */
static void complete(const char *data, size_t len, const char *path,
		     struct redirect_request *out)
{
	/* The line holds the code: a copy of it lives in wiped memory. */
	struct agent_buf copy;
	char *line, *method, *target, *got = NULL;
	size_t n = 0;

	while (n < len && data[n] != '\r' && data[n] != '\n')
		n++;
	agent_buf_init(&copy, len + 1);
	if (agent_buf_append(&copy, data, n) != 0 ||
	    (line = agent_buf_cstr(&copy)) == NULL) {
		refuse(out, 500, "Internal error",
		       "xoauth-agent could not handle the request.");
		goto out;
	}
	if (request_line(line, &method, &target) != 0) {
		refuse(out, 400, "Bad request", "This is not an HTTP request.");
		goto out;
	}
	if (strcmp(method, "GET") != 0) {
		refuse(out, 405, "Method not allowed",
		       "Only GET is served here.");
		goto out;
	}
	if (split_target(target, &got, &out->query) != 0) {
		curl_free(out->query);
		out->query = NULL;
		refuse(out, 400, "Bad request",
		       "The address is not understood.");
		goto out;
	}
	if (strcmp(got, path) != 0) {
		curl_free(out->query);
		out->query = NULL;
		refuse(out, 404, "Not found",
		       "xoauth-agent serves only its sign-in address here.");
		goto out;
	}
	out->verdict = REDIRECT_GET;
out:
	curl_free(got);
	agent_buf_cleanup(&copy);
}

void redirect_parse_request(const char *data, size_t len, const char *path,
			    struct redirect_request *out)
{
	memset(out, 0, sizeof(*out));
	out->verdict = REDIRECT_MORE;
	if (data == NULL || len == 0)
		return;
	if (memchr(data, '\0', len) != NULL)
		refuse(out, 400, "Bad request",
		       "The request holds a NUL byte.");
	else if (has_end(data, len))
		complete(data, len, path, out);
	else if (len >= REDIRECT_MAX_REQUEST)
		refuse(out, 431, "Request too large",
		       "The request is larger than xoauth-agent accepts.");
}

void redirect_request_cleanup(struct redirect_request *r)
{
	if (r == NULL)
		return;
	curl_free(r->query);
	memset(r, 0, sizeof(*r));
}
