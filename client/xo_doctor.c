/*
 * xo_doctor.c: asks the agent to diagnose an account and returns its
 * findings, each a level, what was found, and what to do about it.
 */
#include <stdlib.h>
#include <string.h>

#include "xo_internal.h"

/* The agent's checks may include a real SMTP or IMAP login and a token
 * request; its default wait covers them. */
#define DOCTOR_WAIT_MS 30000u

static int enc_doctor(struct proto_writer *w, const void *m)
{
	return proto_enc_doctor_req(w, m);
}

XO_EXTERN int xo_doctor(struct xo_client *c, const char *account,
			const char *smtp, const char *imap,
			struct xo_finding **findings, size_t *count)
{
	struct xo_finding *list = NULL;
	struct proto_doctor_req q;
	struct proto_finding f;
	struct reply rep;
	uint32_t n = 0, i;
	int r = XO_ERR_INTERNAL;

	memset(&rep, 0, sizeof(rep));
	if (findings != NULL)
		*findings = NULL;
	if (count != NULL)
		*count = 0;
	if (c == NULL || findings == NULL || count == NULL)
		return XO_ERR_INVALID;
	xoc_begin(c);
	if ((r = xoc_check_text(c, account, "account")) != 0)
		goto out;
	if ((smtp != NULL && strlen(smtp) > 1024) ||
	    (imap != NULL && strlen(imap) > 1024)) {
		r = xoc_fail(c, XO_ERR_INVALID, "server name too long");
		goto out;
	}
	q.account = proto_str_c(account);
	q.smtp = proto_str_c(smtp);
	q.imap = proto_str_c(imap);
	q.wait_ms = DOCTOR_WAIT_MS;
	if ((r = xoc_call(c, enc_doctor, &q,
			  q.account.len + q.smtp.len + q.imap.len,
			  DOCTOR_WAIT_MS, PROTO_REP_DOCTOR, &rep)) != 0)
		goto out;
	if (proto_dec_doctor_count(&rep.r, &n) != 0) {
		r = xoc_finish(c, &rep, XO_ERR_MSG_BAD);
		goto out;
	}
	/* n is bounded by PROTO_MAX_FINDINGS. */
	if ((list = calloc(n > 0 ? n : 1, sizeof(*list))) == NULL) {
		r = xoc_fail(c, XO_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (proto_dec_doctor_entry(&rep.r, &f) != 0) {
			r = xoc_finish(c, &rep, XO_ERR_MSG_BAD);
			goto out;
		}
		list[i].level = f.level;
		if ((r = xoc_dup_str(c, f.text, &list[i].text)) != 0 ||
		    (r = xoc_dup_str(c, f.fix, &list[i].fix)) != 0)
			goto out;
	}
	if ((r = xoc_finish(c, &rep, 0)) != 0)
		goto out;
	*findings = list;
	*count = n;
	list = NULL; /* transferred */
	r = 0;
out:
	xo_findings_free(list, n);
	xoc_reply_cleanup(&rep);
	return r;
}

XO_EXTERN void xo_findings_free(struct xo_finding *findings, size_t count)
{
	size_t i;

	if (findings == NULL)
		return;
	for (i = 0; i < count; i++) {
		free(findings[i].text);
		free(findings[i].fix);
	}
	free(findings);
}
