/*
 * probe.h: one real XOAUTH2 login at an SMTP or IMAP server, run by
 * libcurl on the agent's loop (agent_http_start_easy), for `xoauth
 * doctor`.  Nothing blocks the loop; nothing of the token is kept or
 * logged (only the server's reply lines are looked at).
 */
#ifndef XO_DOCTOR_PROBE_H
#define XO_DOCTOR_PROBE_H

#include "doctor/pure/doctor.h"
#include "oauth/http.h"
#include "secret/secret.h"

struct doctor_probe;

/* Called once when the login has ended, unless the probe was freed. */
typedef void (*doctor_probe_cb)(void *arg, struct doctor_probe *p);

/*
 * Logs in at t as email with token (XOAUTH2), sends a harmless NOOP and
 * quits.  TLS is required except on loopback (STARTTLS, or TLS from the
 * start as t says), so the token never crosses a network in clear; the
 * server's certificate is checked against ca_file (the account's; NULL:
 * the system's store), as sending checks it.  timeout_ms bounds the
 * whole dialogue.  0, or an XO_ERR_* (cb is then never called).  The
 * probe is freed with doctor_probe_free().
 */
int doctor_probe_start(struct agent_http *h, int imap,
		       const struct agent_mailhost *t, const char *email,
		       const char *ca_file, const struct agent_plain *token,
		       long timeout_ms, doctor_probe_cb cb, void *arg,
		       struct doctor_probe **out);
/* Adds what the login showed to r: ok, or the refusal with its cause. */
void doctor_probe_report(const struct doctor_probe *p, struct doctor_report *r);
/* Stops a running login (no callback) and frees; NULL is a no-op. */
void doctor_probe_free(struct doctor_probe *p);

#endif
