/*
 * options.c: pam_xoauth's module arguments (see pam_xoauth(8)) and the
 * socket path they lead to.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

/* Value of "name=value" when arg starts with prefix "name=". */
static const char *value_of(const char *arg, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(arg, prefix, n) == 0 ? arg + n : NULL;
}

static int parse_timeout(const char *s, unsigned *ms)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 ||
	    v > (long)PXO_MAX_TIMEOUT_S)
		return -1;
	*ms = (unsigned)v * 1000u;
	return 0;
}

int pxo_options_parse(struct pxo_options *o, int argc, const char **argv,
		      const char *default_agent, char *err, size_t errlen)
{
	const char *v;
	int i, skipped = 0;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = PXO_DEFAULT_TIMEOUT_MS;
	o->agent = default_agent;
	err[0] = '\0';
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "debug") == 0) {
			o->debug = 1;
		} else if (strcmp(a, "auto_start") == 0) {
			o->auto_start = 1;
		} else if (strcmp(a, "create") == 0) {
			o->create = 1;
		} else if (strcmp(a, "lock_on_close") == 0) {
			o->lock_on_close = 1;
		} else if ((v = value_of(a, "timeout=")) != NULL) {
			if (parse_timeout(v, &o->timeout_ms) != 0) {
				snprintf(err, errlen,
					 "timeout must be 1 to %u seconds, not "
					 "\"%s\"",
					 PXO_MAX_TIMEOUT_S, v);
				skipped++;
			}
		} else if ((v = value_of(a, "socket=")) != NULL) {
			if (v[0] != '/') {
				snprintf(err, errlen,
					 "socket must be an absolute path, not "
					 "\"%s\"",
					 v);
				skipped++;
			} else {
				o->socket = v;
			}
		} else if ((v = value_of(a, "agent=")) != NULL) {
			if (v[0] != '/') {
				snprintf(err, errlen,
					 "agent must be an absolute path, not "
					 "\"%s\"",
					 v);
				skipped++;
			} else {
				o->agent = v;
			}
		} else {
			snprintf(err, errlen, "unknown argument \"%s\"", a);
			skipped++;
		}
	}
	return skipped;
}

/* Appends s to out at *len, keeping room for the NUL. */
static int append(char *out, size_t n, size_t *len, const char *s, size_t slen)
{
	if (slen >= n - *len)
		return -1;
	memcpy(out + *len, s, slen);
	*len += slen;
	out[*len] = '\0';
	return 0;
}

static int expand(const char *tmpl, const char *user, uid_t uid, char *out,
		  size_t n)
{
	char num[32];
	size_t len = 0;
	const char *p;

	for (p = tmpl; *p != '\0'; p++) {
		const char *s = p;
		size_t slen = 1;

		if (*p == '%') {
			switch (p[1]) {
			case 'u':
				s = user;
				slen = strlen(user);
				break;
			case 'U':
				snprintf(num, sizeof(num), "%lu",
					 (unsigned long)uid);
				s = num;
				slen = strlen(num);
				break;
			case '%':
				break;
			default:
				return -1; /* a stray % is a typo, not a path */
			}
			p++;
		}
		if (append(out, n, &len, s, slen) != 0)
			return -1;
	}
	return 0;
}

int pxo_socket_path(const char *tmpl, const char *runtime_dir, const char *user,
		    uid_t uid, char *out, size_t n)
{
	int w;

	if (n == 0)
		return -1;
	out[0] = '\0';
	if (n > PXO_PATH_MAX)
		n = PXO_PATH_MAX;
	if (tmpl != NULL) {
		/* A user name with a slash would climb out of the template's
		   directory; such names are invalid anyway. */
		if (strchr(user, '/') != NULL || strcmp(user, "..") == 0 ||
		    strcmp(user, ".") == 0 ||
		    expand(tmpl, user, uid, out, n) != 0 || out[0] != '/') {
			out[0] = '\0';
			return -1;
		}
		return 0;
	}
	if (runtime_dir != NULL && runtime_dir[0] == '/')
		w = snprintf(out, n, "%s/xoauth-agent/socket", runtime_dir);
	else
		w = snprintf(out, n, "/run/user/%lu/xoauth-agent/socket",
			     (unsigned long)uid);
	if (w < 0 || (size_t)w >= n) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}
