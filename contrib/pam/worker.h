/*
 * worker.h: talking to the user's agent from a PAM module, as the user,
 * without holding up the login.
 */
#ifndef PXO_WORKER_H
#define PXO_WORKER_H

#include "options.h"
#include "user.h"

enum pxo_op {
	PXO_OP_UNLOCK,
	PXO_OP_LOCK,
};

struct pxo_job {
	enum pxo_op op;
	const struct pxo_options *opts;
	const struct pxo_user *user;
	const char *socket;	 /* the agent's socket */
	const char *runtime_dir; /* for a started agent; may be NULL */
	char *password;		 /* PXO_OP_UNLOCK: the login password */
};

/* What the worker reports back.  No secret is ever put in it. */
struct pxo_result {
	int err;     /* 0 or an XO_ERR_* code */
	int started; /* 1: the worker started the agent */
	char msg[256];
};

/*
 * Runs the job in a child process that has become the user for good
 * (pxo_become_user()) and is detached from the caller (its own session,
 * reparented to init or the nearest subreaper), so that nothing of the
 * login application is left waiting for it.  Waits for its report at most
 * opts->timeout_ms.  Returns 0 with the worker's report in *res, or -1 when
 * no report came in time (the worker goes on and logs its own outcome) or
 * no worker could be started; res->msg says why.
 */
int pxo_run_job(const struct pxo_job *job, struct pxo_result *res);

/*
 * Starts the user's agent on job->socket (from inside the worker, already
 * the user): makes the socket's directory if needed (mode 0700), removes a
 * stale socket, runs `xoauth-agent -a SOCKET` with a clean environment and
 * waits until it has bound its socket or deadline_ms (CLOCK_MONOTONIC)
 * passes.  Returns 0, or -1 with a reason in err.
 */
int pxo_start_agent(const struct pxo_job *job, unsigned long long deadline_ms,
		    char *err, size_t errlen);

unsigned long long pxo_now_ms(void);

#endif
