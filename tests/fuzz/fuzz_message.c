/*
 * fuzz_message.c: libFuzzer target for the message a client hands the
 * agent to send (agent/send/pure/message.c): its header block, the
 * addresses of To, Cc, Bcc and From, the copy that goes out, and the
 * reading of a service's error body.  Whatever is taken must hold only
 * what the parser promises: addresses send_addr_ok() accepts, or local
 * users' names send_local_ok() accepts; a copy whose every line ends in
 * CRLF and, when local names were to be mapped to addresses, whose To, Cc
 * and Bcc name no local user any more; and a 7-bit copy of it that has no
 * byte above 0x7f and CRLF lines too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "send/pure/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_addrs(const struct send_addrs *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (!send_addr_ok(a->v[i], strlen(a->v[i])) &&
		    !send_local_ok(a->v[i], strlen(a->v[i])))
			abort();
}

static void check_no_local(const struct send_addrs *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (send_addr_local(a->v[i]))
			abort();
}

static void check_copy(const char *p, size_t n)
{
	size_t i;

	if (n > 0 && (n < 2 || p[n - 2] != '\r' || p[n - 1] != '\n'))
		abort();
	for (i = 0; i < n; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			abort();
}

static void check_7bit(const char *copy, size_t len)
{
	char *seven = NULL, why[SEND_WHY_MAX];
	size_t n = 0, i;

	if (send_to_7bit(copy, len, &seven, &n, why, sizeof(why)) != 0)
		return;
	check_copy(seven, n);
	for (i = 0; i < n; i++)
		if ((unsigned char)seven[i] > 0x7f)
			abort();
	free(seven);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct send_copy_opts o = {.add = {"Date: x", NULL}};
	struct send_headers h, again;
	struct send_addrs ops = {0};
	char why[SEND_WHY_MAX], code[64], text[128], *copy = NULL;
	size_t len = 0;
	int parsed;

	if ((parsed = send_headers_parse(msg, size, &h, why, sizeof(why))) ==
	    0) {
		check_addrs(&h.to_cc);
		check_addrs(&h.bcc);
		if (h.from[0] != '\0' &&
		    !send_addr_ok(h.from, strlen(h.from)) &&
		    !send_local_ok(h.from, strlen(h.from)))
			abort();
	}
	o.drop_bcc = size > 0 && (data[0] & 1);
	o.bcc = size > 0 && (data[0] & 2) ? &h.to_cc : NULL;
	if (size > 0 && (data[0] & 4) &&
	    send_addrs_add(&ops, "ops@x.y", 7) == 0)
		o.local_to = &ops;
	o.from_field = size > 0 && (data[0] & 8) ? "From: a@x.y" : NULL;
	if (send_copy(msg, size, &o, &copy, &len) == 0) {
		check_copy(copy, len);
		check_7bit(copy, len);
		/* A message that could be read is read again the same way,
		   now with no local user in its recipients' fields. */
		if (parsed == 0 && o.local_to != NULL && o.bcc == NULL) {
			if (send_headers_parse(copy, len, &again, why,
					       sizeof(why)) == 0) {
				check_no_local(&again.to_cc);
				check_no_local(&again.bcc);
			}
			/* Whatever was read before a failure is freed too. */
			send_headers_free(&again);
		}
	}
	free(copy);
	send_addrs_free(&ops);
	send_headers_free(&h);
	send_api_error(msg, size, code, sizeof(code), text, sizeof(text));
	return 0;
}
