/*
 * user.h: the login's user, and becoming that user in a forked child.
 */
#ifndef PXO_USER_H
#define PXO_USER_H

#include <stddef.h>
#include <sys/types.h>

struct pxo_user {
	char name[256];
	char home[512];
	char shell[256];
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* supplementary groups, as initgroups(3) would set */
	int ngroups;
};

/*
 * Looks the user up (passwd and group databases).  Done in the PAM
 * process, before any fork: NSS may take locks or talk to a daemon, which a
 * forked child of a threaded application must not risk.  Returns 0, or -1
 * with a reason in err.  Free with pxo_user_cleanup().
 */
int pxo_user_lookup(const char *name, struct pxo_user *u, char *err,
		    size_t errlen);
void pxo_user_cleanup(struct pxo_user *u);

/*
 * Turns the calling process into the user for good: supplementary groups,
 * real, effective and saved group and user ids, then checks that it took
 * and that root cannot be regained.  Only for a forked child: there is no
 * way back.  Returns 0, or -1 (the child must then exit).
 */
int pxo_become_user(const struct pxo_user *u);

/*
 * Fills env (room for n pointers) with the short environment a program
 * started for the user gets, in strings kept in buf (size bufsize): HOME,
 * USER, LOGNAME, SHELL, a fixed PATH and, when known, XDG_RUNTIME_DIR.
 * Nothing of the PAM application's environment is passed on.
 */
void pxo_user_env(const struct pxo_user *u, const char *runtime_dir, char **env,
		  size_t n, char *buf, size_t bufsize);

#endif
