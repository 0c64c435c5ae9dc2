/*
 * file.c: finding and reading the config file: its default path,
 * the checks on who may write it (the agent runs the commands it names),
 * a bounded read, and warnings about settings that are allowed but weak.
 * The parsing itself is a pure function of the bytes (pure/parse.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xoauth/xo_errors.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "core/log.h"
#include "config/pure/presets.h"
#include "secret/buf.h"

/*
 * Reads all of fd onto b (its bytes may hold a client_secret, and b wipes
 * them).  b's max is one byte over CONFIG_MAX_SIZE, so that a file larger
 * than the limit is seen as such without reading any more of it: 0,
 * XO_ERR_CONFIG (larger; errno is EFBIG), XO_ERR_NOMEM or XO_ERR_IO (errno
 * says why).
 */
static int read_all(int fd, struct agent_buf *b)
{
	unsigned char *tail;
	size_t room;
	ssize_t n;
	int r;

	for (;;) {
		if ((r = agent_buf_reserve(b, b->len + 1)) != 0) {
			if (r == XO_ERR_MSG_TOO_LARGE) {
				r = XO_ERR_CONFIG;
				errno = EFBIG;
			}
			return r;
		}
		tail = agent_buf_tail(b, &room);
		n = read(fd, tail, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return XO_ERR_IO;
		if (n == 0)
			return 0;
		agent_buf_advance(b, (size_t)n);
	}
}

/* Warnings that do not stop the agent; see xoauth.conf(5), SECURITY. */
static void warn_weak_settings(const struct agent_config *c,
			       const struct stat *st)
{
	size_t i;

	if (st->st_mode & S_IWGRP)
		log_info("warning: %s is writable by its group; anyone in it "
			 "can make the agent run commands as you "
			 "(chmod g-w)",
			 c->path);
	for (i = 0; i < c->n_accounts; i++) {
		const struct agent_account_cfg *a = &c->accounts[i];

		if (a->client_secret != NULL && (st->st_mode & S_IROTH))
			log_info("warning: [account %s] has a client_secret "
				 "in %s, which others can read (chmod 600, or "
				 "use client_secret_cmd)",
				 a->name, c->path);
		if ((a->client_secret != NULL ||
		     a->client_secret_cmd != NULL) &&
		    agent_preset_is_microsoft(agent_preset_find(a->provider)) &&
		    strcmp(a->flow, "client_credentials") != 0)
			log_info("warning: [account %s] sends a client secret "
				 "with a delegated flow: Microsoft public "
				 "clients must send none (AADSTS700025), and "
				 "Outlook.com refuses SMTP tokens from "
				 "confidential clients",
				 a->name);
	}
}

int agent_config_load(const char *path, int must_exist,
		      struct agent_config **out, char *err, size_t errlen)
{
	char def[4096], file[256];
	struct agent_buf data;
	struct stat st;
	int fd = -1, r = XO_ERR_INTERNAL;

	if (out == NULL)
		return XO_ERR_INVALID;
	*out = NULL;
	agent_buf_init(&data, CONFIG_MAX_SIZE + 1);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL) {
		if ((r = agent_config_default_path(def, sizeof(def))) != 0) {
			config_set_err(err, errlen,
				       "cannot find the configuration: "
				       "neither XDG_CONFIG_HOME nor HOME "
				       "names a directory");
			goto out;
		}
		path = def;
	}
	config_escape(file, sizeof(file), path, 200);
	/* O_NONBLOCK so that a FIFO cannot hang the agent at open(). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT && !must_exist) {
			if ((*out = config_new()) == NULL) {
				r = XO_ERR_NOMEM;
				goto out;
			}
			r = 0;
			goto out;
		}
		config_set_err(err, errlen, "%s: %s", file, strerror(errno));
		r = XO_ERR_CONFIG;
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		config_set_err(err, errlen, "%s: %s", file, strerror(errno));
		r = XO_ERR_CONFIG;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		config_set_err(err, errlen, "%s: not a regular file", file);
		r = XO_ERR_CONFIG;
		goto out;
	}
	/* The agent runs client_secret_cmd from this file, so whoever can
	   write it can run commands as us: the same rule as ssh's config. */
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		config_set_err(
		    err, errlen,
		    "%s: owned by uid %u, not by you (uid %u) or root; the "
		    "agent runs commands from it",
		    file, (unsigned)st.st_uid, (unsigned)geteuid());
		r = XO_ERR_CONFIG;
		goto out;
	}
	if (st.st_mode & S_IWOTH) {
		config_set_err(
		    err, errlen,
		    "%s: writable by everyone, and the agent runs commands "
		    "from it (chmod o-w %s)",
		    file, file);
		r = XO_ERR_CONFIG;
		goto out;
	}
	if ((r = read_all(fd, &data)) != 0) {
		if (r == XO_ERR_NOMEM)
			config_set_err(err, errlen, "out of memory reading %s",
				       file);
		else if (r == XO_ERR_CONFIG)
			config_set_err(err, errlen, "%s: larger than %d bytes",
				       file, CONFIG_MAX_SIZE);
		else
			config_set_err(err, errlen, "%s: %s", file,
				       strerror(errno));
		r = r == XO_ERR_NOMEM ? r : XO_ERR_CONFIG;
		goto out;
	}
	if ((r = agent_config_parse(path, (const char *)data.data, data.len,
				    out, err, errlen)) != 0)
		goto out;
	warn_weak_settings(*out, &st);
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	agent_buf_cleanup(&data);
	return r;
}

int agent_config_default_path(char *buf, size_t len)
{
	const char *base, *suffix;
	struct passwd pw, *res = NULL;
	char pwbuf[4096];
	int n;

	/* The XDG spec says to ignore a relative XDG_CONFIG_HOME. */
	base = getenv("XDG_CONFIG_HOME");
	suffix = "/xoauth/config";
	if (base == NULL || base[0] != '/') {
		base = getenv("HOME");
		suffix = "/.config/xoauth/config";
		if ((base == NULL || base[0] != '/') &&
		    getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) ==
			0 &&
		    res != NULL)
			base = res->pw_dir;
		if (base == NULL || base[0] != '/')
			return XO_ERR_CONFIG;
	}
	n = snprintf(buf, len, "%s%s", base, suffix);
	if (n < 0 || (size_t)n >= len)
		return XO_ERR_CONFIG;
	return 0;
}
