/*
 * fuzz_doctor_reply.c: libFuzzer target for what an SMTP or IMAP server
 * says to the doctor's login (agent/doctor/pure/reply.c): its lines as
 * libcurl hands them over (doctor_heard_feed), and the cause and remedy
 * the doctor gives for the refusal or error challenge among them, as
 * doctor/probe.c does.  The input also goes, as a C string, to the parser
 * of the --smtp/--imap HOST[:PORT] a client names.
 *
 * Input: one byte picks SMTP or IMAP and how the rest is cut into the
 * chunks libcurl would deliver (at each newline, or as one block).
 * Whatever the server says, every line kept is NUL-terminated within its
 * array and holds no control byte, and so does every cause and remedy.
 */
#include <sodium.h>

#include "doctor/pure/doctor.h"
#include "fuzz_common.h"

static void check_heard(const struct doctor_heard *h)
{
	fuzz_check_text(h->greeting, sizeof(h->greeting));
	fuzz_check_text(h->offer, sizeof(h->offer));
	fuzz_check_text(h->refusal, sizeof(h->refusal));
	fuzz_check_text(h->success, sizeof(h->success));
	fuzz_check_text(h->challenge, sizeof(h->challenge));
	if ((h->greeting[0] != '\0') != (h->greeted != 0))
		abort();
	if (h->auth_ok && strncmp(h->success, "235", 3) != 0)
		abort();
}

static void check_cause(const struct doctor_cause *c)
{
	if (c->level < PROTO_LEVEL_OK || c->level > PROTO_LEVEL_PROBLEM)
		abort();
	fuzz_check_text(c->text, sizeof(c->text));
	fuzz_check_text(c->fix, sizeof(c->fix));
	if (c->text[0] == '\0' || c->fix[0] == '\0')
		abort();
}

/* What probe.c's doctor_probe_report() reads of what was heard. */
static void explain(const struct doctor_heard *h, int imap)
{
	struct doctor_cause c;

	if (h->refusal[0] != '\0') {
		if (imap)
			doctor_imap_reply_cause(h->refusal, "alice@example.com",
						&c);
		else
			doctor_smtp_reply_cause(h->refusal, "alice@example.com",
						&c);
		check_cause(&c);
		/* No address known: a placeholder stands for it. */
		doctor_smtp_reply_cause(h->refusal, NULL, &c);
		check_cause(&c);
	}
	if (imap && h->challenge[0] != '\0') {
		doctor_imap_reply_cause(h->challenge, "", &c);
		check_cause(&c);
	}
}

static void check_target(const uint8_t *data, size_t size)
{
	static char spec[512];
	struct agent_mailhost t;
	char why[128];
	size_t i;

	if (size >= sizeof(spec))
		return;
	memcpy(spec, data, size);
	spec[size] = '\0';
	if (agent_mailhost_parse(spec, size % 2, &t, why, sizeof(why)) != 0) {
		fuzz_check_str(why);
		return;
	}
	fuzz_check_text(t.host, sizeof(t.host));
	if (t.host[0] == '\0' || t.port == 0 || t.port > 65535)
		abort();
	/* What goes into the probe's URL: no user, path or query. */
	for (i = 0; t.host[i] != '\0'; i++)
		if (strchr("@/?#% ", t.host[i]) != NULL)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct doctor_heard h;
	size_t mode, n;
	int imap;

	if (sodium_init() < 0)
		abort();
	check_target(data, size);
	mode = fuzz_take_byte(&data, &size, 4);
	imap = (int)(mode & 1);
	memset(&h, 0, sizeof(h));
	if (mode & 2) {
		doctor_heard_feed(&h, imap, (const char *)data, size);
	} else {
		/* Line by line, as libcurl's debug callback gets them. */
		while (size > 0) {
			for (n = 0; n < size && data[n] != '\n'; n++)
				;
			if (n < size)
				n++;
			doctor_heard_feed(&h, imap, (const char *)data, n);
			data += n;
			size -= n;
		}
	}
	check_heard(&h);
	explain(&h, imap);
	return 0;
}
