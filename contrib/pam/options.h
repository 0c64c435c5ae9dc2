/*
 * options.h: pam_xoauth's module arguments and where the user's agent
 * listens.  Pure code (no PAM, no I/O), so that unit tests link it alone.
 *
 * Names in the PAM module start with pxo_: they are the module's room, as
 * agent_ is the daemon's (STYLE.md).
 */
#ifndef PXO_OPTIONS_H
#define PXO_OPTIONS_H

#include <stddef.h>
#include <sys/types.h>

/* The longest socket path: what struct sockaddr_un can hold. */
#define PXO_PATH_MAX 108

/* Default wait for the agent before the login goes on without it. */
#define PXO_DEFAULT_TIMEOUT_MS 10000u
#define PXO_MAX_TIMEOUT_S 120u

struct pxo_options {
	int debug;
	int auto_start;	   /* start the agent when none answers */
	int create;	   /* UNLOCK may create the vault (first login) */
	int lock_on_close; /* LOCK the agent when the session closes */
	unsigned timeout_ms;
	const char *socket; /* socket=TEMPLATE, or NULL for the default */
	const char *agent;  /* agent=PATH of xoauth-agent */
};

/*
 * Parses the arguments of a pam.d line (argv points into PAM's copy, which
 * outlives the call).  An unknown or bad argument is skipped: a module line
 * with a typo must not lock people out.  Returns the number of arguments
 * skipped, and describes the last one in err.
 */
int pxo_options_parse(struct pxo_options *o, int argc, const char **argv,
		      const char *default_agent, char *err, size_t errlen);

/*
 * Writes the socket path of user (uid) to out: the socket= template with
 * %u (user name), %U (uid) and %% expanded; else
 * RUNTIME_DIR/xoauth-agent/socket, where RUNTIME_DIR is runtime_dir when it
 * is an absolute path (pam_systemd's XDG_RUNTIME_DIR) and /run/user/UID
 * otherwise, as the user socket unit (%t) has it.  Returns 0, or -1 when
 * the result is not an absolute path or does not fit.
 */
int pxo_socket_path(const char *tmpl, const char *runtime_dir, const char *user,
		    uid_t uid, char *out, size_t n);

#endif
