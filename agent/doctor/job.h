/*
 * job.h: DOCTOR (PROTOCOL.md 4.9), the agent's diagnosis of one account,
 * for the request table (daemon/requests.c).  The checks themselves are
 * pure (pure/doctor.h); job.c drives one request from start to reply, and
 * probe.c tries the real SMTP or IMAP login.
 */
#ifndef XO_DOCTOR_JOB_H
#define XO_DOCTOR_JOB_H

#include "core/dispatch.h"

/* Diagnoses the request's account and replies, now or after a refresh
   and the SMTP/IMAP logins asked for. */
void doctor_handle(struct agent_request *q);

#endif
