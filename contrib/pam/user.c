/*
 * user.c: the login's user, and dropping root to become that user.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "user.h"

/* getpwnam_r's buffer: sysconf's hint, or this when it gives none. */
#define PW_BUF_DEFAULT 16384

static int copy_field(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	if (len >= n)
		return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

/* The supplementary groups of u, grown until getgrouplist(3) is happy. */
static int lookup_groups(struct pxo_user *u)
{
	int n = 32;

	for (;;) {
		gid_t *g = realloc(u->groups, (size_t)n * sizeof(*g));
		int got = n;

		if (g == NULL)
			return -1;
		u->groups = g;
		if (getgrouplist(u->name, u->gid, u->groups, &got) >= 0) {
			u->ngroups = got;
			return 0;
		}
		/* got now holds the number needed. */
		if (got <= n || got > 65536)
			return -1;
		n = got;
	}
}

int pxo_user_lookup(const char *name, struct pxo_user *u, char *err,
		    size_t errlen)
{
	struct passwd pw, *res = NULL;
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t len = hint > 0 ? (size_t)hint : PW_BUF_DEFAULT;
	char *buf = NULL;
	int r = -1, e;

	memset(u, 0, sizeof(*u));
	for (;;) {
		char *b = realloc(buf, len);

		if (b == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		buf = b;
		e = getpwnam_r(name, &pw, buf, len, &res);
		if (e != ERANGE || len >= (1u << 20))
			break;
		len *= 2;
	}
	if (res == NULL) {
		snprintf(err, errlen, "no passwd entry for the user%s%s",
			 e != 0 ? ": " : "", e != 0 ? strerror(e) : "");
		goto out;
	}
	if (copy_field(u->name, sizeof(u->name), pw.pw_name) != 0 ||
	    copy_field(u->home, sizeof(u->home), pw.pw_dir) != 0 ||
	    copy_field(u->shell, sizeof(u->shell), pw.pw_shell) != 0) {
		snprintf(err, errlen, "the user's passwd entry is too long");
		goto out;
	}
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	if (lookup_groups(u) != 0) {
		snprintf(err, errlen, "cannot list the user's groups");
		goto out;
	}
	r = 0;
out:
	free(buf);
	if (r != 0)
		pxo_user_cleanup(u);
	return r;
}

void pxo_user_cleanup(struct pxo_user *u)
{
	free(u->groups);
	u->groups = NULL;
	u->ngroups = 0;
}

int pxo_become_user(const struct pxo_user *u)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	/* Groups first: once the uid is dropped, setgroups is refused. */
	if (setgroups((size_t)u->ngroups, u->groups) != 0 ||
	    setresgid(u->gid, u->gid, u->gid) != 0 ||
	    setresuid(u->uid, u->uid, u->uid) != 0)
		return -1;
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != u->uid || eu != u->uid || su != u->uid || rg != u->gid ||
	    eg != u->gid || sg != u->gid)
		return -1;
	/* A half-dropped process that could still become root would be
	   worse than none. */
	if (u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return -1;
	return 0;
}

void pxo_user_env(const struct pxo_user *u, const char *runtime_dir, char **env,
		  size_t n, char *buf, size_t bufsize)
{
	const char *names[] = {"HOME",	"USER", "LOGNAME",
			       "SHELL", "PATH", "XDG_RUNTIME_DIR"};
	const char *values[] = {u->home,
				u->name,
				u->name,
				u->shell[0] != '\0' ? u->shell : "/bin/sh",
				"/usr/local/bin:/usr/bin:/bin",
				runtime_dir};
	size_t i, k = 0, off = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]) && k + 1 < n; i++) {
		int w;

		if (values[i] == NULL || values[i][0] == '\0')
			continue;
		w = snprintf(buf + off, bufsize - off, "%s=%s", names[i],
			     values[i]);
		if (w < 0 || (size_t)w >= bufsize - off)
			break;
		env[k++] = buf + off;
		off += (size_t)w + 1;
	}
	env[k] = NULL;
}
