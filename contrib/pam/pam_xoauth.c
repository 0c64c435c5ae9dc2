/*
 * pam_xoauth.c: unlock the user's xoauth-agent with the login password, in
 * the manner of pam_gnome_keyring (see pam_xoauth(8)).
 *
 *   auth     optional  pam_xoauth.so          keeps the password typed
 *   session  optional  pam_xoauth.so [args]   unlocks the agent with it
 *
 * The password is needed in the session phase, but Linux-PAM hands
 * PAM_AUTHTOK only to auth and password modules; so the auth phase keeps a
 * copy in the PAM handle (pam_set_data), wiped by its cleanup when the
 * session has used it or the handle ends.
 *
 * Nothing here may cost the user the login: every failure is logged
 * (LOG_AUTHPRIV, never with a secret).  The auth functions answer
 * PAM_IGNORE: the module decides nothing about who may log in, and must
 * not let anyone in should it be listed as "sufficient".  The session
 * functions answer PAM_SUCCESS whatever the agent did: Linux-PAM fails a
 * stack in which every module answered PAM_IGNORE (PAM_PERM_DENIED), so
 * PAM_IGNORE there would cost the login in a service file whose only
 * session module is this one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include <xoauth/xo.h>

#include "options.h"
#include "user.h"
#include "worker.h"

/* -fvisibility=hidden hides everything else, libxoauth included. */
#define PXO_EXPORT __attribute__((visibility("default")))

#ifndef XO_AGENT_PATH
#define XO_AGENT_PATH "/usr/bin/xoauth-agent"
#endif

/* The key of the kept password in the PAM handle. */
#define AUTHTOK_DATA "pam_xoauth_authtok"

static void wipe_authtok(pam_handle_t *pamh, void *data, int error_status)
{
	size_t n;

	(void)pamh;
	(void)error_status;
	if (data == NULL)
		return;
	n = strlen(data) + 1;
	explicit_bzero(data, n);
	munlock(data, n);
	free(data);
}

/* Parses the module line, logging what was skipped. */
static void get_options(pam_handle_t *pamh, int argc, const char **argv,
			struct pxo_options *o)
{
	char err[256];

	if (pxo_options_parse(o, argc, argv, XO_AGENT_PATH, err, sizeof(err)) !=
	    0)
		pam_syslog(pamh, LOG_ERR, "ignoring an argument: %s", err);
}

PXO_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
				   const char **argv)
{
	struct pxo_options o;
	const void *item = NULL;
	char *copy;
	size_t n;

	(void)flags;
	get_options(pamh, argc, argv, &o);
	/* pam_get_item, not pam_get_authtok: an optional module must not
	   prompt for a password nobody else asked for (a login by key or
	   fingerprint has none).  It belongs after the module that asks. */
	if (pam_get_item(pamh, PAM_AUTHTOK, &item) != PAM_SUCCESS ||
	    item == NULL || ((const char *)item)[0] == '\0') {
		if (o.debug)
			pam_syslog(pamh, LOG_DEBUG,
				   "no password to keep (pam_xoauth must come "
				   "after the module that asks for it)");
		return PAM_IGNORE;
	}
	n = strlen(item) + 1;
	if ((copy = malloc(n)) == NULL) {
		pam_syslog(pamh, LOG_CRIT, "out of memory");
		return PAM_IGNORE;
	}
	/* Kept out of swap when the limit allows; fine without. */
	(void)mlock(copy, n);
	memcpy(copy, item, n);
	if (pam_set_data(pamh, AUTHTOK_DATA, copy, wipe_authtok) !=
	    PAM_SUCCESS) {
		wipe_authtok(pamh, copy, 0);
		pam_syslog(pamh, LOG_ERR, "cannot keep the password");
		return PAM_IGNORE;
	}
	if (o.debug)
		pam_syslog(pamh, LOG_DEBUG, "password kept for the session");
	/* This module decides nothing about the authentication. */
	return PAM_IGNORE;
}

PXO_EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc,
			      const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}

/* The runtime directory: pam_systemd's XDG_RUNTIME_DIR when an earlier
 * session module set it, else logind's /run/user/UID if it exists. */
static const char *runtime_dir(pam_handle_t *pamh, uid_t uid, char *buf,
			       size_t n)
{
	const char *env = pam_getenv(pamh, "XDG_RUNTIME_DIR");
	struct stat st;

	if (env != NULL && env[0] == '/')
		return env;
	snprintf(buf, n, "/run/user/%lu", (unsigned long)uid);
	return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? buf : NULL;
}

/* Logs how the worker did, at a level that fits; never a secret (the
 * report holds none). */
static void log_result(pam_handle_t *pamh, const struct pxo_job *job,
		       const struct pxo_result *res)
{
	const char *user = job->user->name, *sock = job->socket;
	const char *what = job->op == PXO_OP_UNLOCK ? "unlock" : "lock";

	switch (res->err) {
	case 0:
		pam_syslog(pamh, LOG_INFO,
			   "%sed the xoauth-agent of %s at %s%s", what, user,
			   sock, res->started ? " (started it)" : "");
		break;
	case XO_ERR_NO_AGENT:
		/* Most users run no agent: not worth a line unless asked. */
		if (job->opts->debug || job->opts->auto_start)
			pam_syslog(
			    pamh,
			    job->opts->auto_start ? LOG_NOTICE : LOG_DEBUG,
			    "no xoauth-agent for %s: %s", user, res->msg);
		break;
	case XO_ERR_WRONG_PASSPHRASE:
		pam_syslog(pamh, LOG_NOTICE,
			   "the login password of %s does not open their "
			   "xoauth vault (its passphrase must be the login "
			   "password)",
			   user);
		break;
	case XO_ERR_NO_VAULT:
		pam_syslog(pamh, LOG_INFO,
			   "the xoauth-agent of %s has no vault yet (the "
			   "'create' argument makes it at login)",
			   user);
		break;
	case XO_ERR_MSG_UNKNOWN:
		pam_syslog(pamh, LOG_NOTICE,
			   "the xoauth-agent of %s at %s cannot %s (an agent "
			   "without a vault?): %s",
			   user, sock, what, res->msg);
		break;
	default:
		pam_syslog(pamh, LOG_NOTICE,
			   "cannot %s the xoauth-agent of %s: %s", what, user,
			   res->msg);
		break;
	}
}

/* Runs op for the PAM user and logs the outcome. */
static void agent_job(pam_handle_t *pamh, const struct pxo_options *o,
		      enum pxo_op op, char *password)
{
	struct pxo_user u;
	struct pxo_job job;
	struct pxo_result res;
	const char *name = NULL;
	char err[256], sock[PXO_PATH_MAX], rbuf[64];

	if (pam_get_user(pamh, &name, NULL) != PAM_SUCCESS || name == NULL) {
		pam_syslog(pamh, LOG_ERR, "no user name");
		return;
	}
	if (pxo_user_lookup(name, &u, err, sizeof(err)) != 0) {
		pam_syslog(pamh, LOG_ERR, "%s: %s", name, err);
		return;
	}
	memset(&job, 0, sizeof(job));
	job.op = op;
	job.opts = o;
	job.user = &u;
	job.password = password;
	job.runtime_dir = runtime_dir(pamh, u.uid, rbuf, sizeof(rbuf));
	if (pxo_socket_path(o->socket, job.runtime_dir, u.name, u.uid, sock,
			    sizeof(sock)) != 0) {
		pam_syslog(pamh, LOG_ERR,
			   "no usable socket path for %s (socket=%s)", u.name,
			   o->socket != NULL ? o->socket : "default");
		goto out;
	}
	job.socket = sock;
	if (pxo_run_job(&job, &res) != 0 && res.err != XO_ERR_TIMEOUT)
		pam_syslog(pamh, LOG_ERR, "%s: %s", u.name, res.msg);
	else
		log_result(pamh, &job, &res);
out:
	pxo_user_cleanup(&u);
}

PXO_EXPORT int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
				   const char **argv)
{
	struct pxo_options o;
	const void *data = NULL;

	(void)flags;
	get_options(pamh, argc, argv, &o);
	if (pam_get_data(pamh, AUTHTOK_DATA, &data) != PAM_SUCCESS ||
	    data == NULL) {
		if (o.debug)
			pam_syslog(pamh, LOG_DEBUG,
				   "no password kept by the auth phase; "
				   "nothing to unlock with");
		return PAM_SUCCESS;
	}
	agent_job(pamh, &o, PXO_OP_UNLOCK, (char *)data);
	/* Used: replacing the data runs its cleanup, which wipes it. */
	pam_set_data(pamh, AUTHTOK_DATA, NULL, NULL);
	return PAM_SUCCESS;
}

PXO_EXPORT int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
				    const char **argv)
{
	struct pxo_options o;

	(void)flags;
	get_options(pamh, argc, argv, &o);
	if (o.lock_on_close)
		agent_job(pamh, &o, PXO_OP_LOCK, NULL);
	return PAM_SUCCESS;
}
