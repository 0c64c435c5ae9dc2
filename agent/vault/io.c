/*
 * io.c: the vault's files on disk (see io.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xoauth/xo_errors.h>

#include "core/err.h"
#include "core/test_hooks.h"
#include "vault/pure/image.h"
#include "vault/io.h"

/* The largest image we read: the plain-text cap plus the header and tag. */
#define IMAGE_MAX (VAULT_MAX_PLAIN + 1024)

static int fail_errno(struct agent_err *err, const char *what, const char *path)
{
	return agent_err_set(err, XO_ERR_IO, "%s %s: %s", what, path,
			     strerror(errno));
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vault_read_file(const char *path, unsigned char **img, size_t *len,
		    struct agent_err *err)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;
	int fd, r = XO_ERR_INTERNAL;

	*img = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		return fail_errno(err, "cannot open", path);
	}
	if (fstat(fd, &st) != 0) {
		r = fail_errno(err, "cannot stat", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		r = agent_err_set(err, XO_ERR_CONFIG,
				  "%s must be a regular file of yours that no "
				  "one else can read (chmod 600)",
				  path);
		goto out;
	}
	if (st.st_size > IMAGE_MAX) {
		r = agent_err_set(err, XO_ERR_VAULT_FOREIGN,
				  "%s is too large to be a vault", path);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = agent_err_code(err, XO_ERR_NOMEM);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = fail_errno(err, "cannot read", path);
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > (size_t)st.st_size) {
			/* It grew while we read: someone else writes it. */
			r = agent_err_set(err, XO_ERR_VAULT_IN_USE,
					  "%s changed while being read", path);
			goto out;
		}
	}
	*img = buf;
	*len = got;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

/* fsync()s the directory holding path, so a rename in it is durable. */
static int sync_dir(const char *path, struct agent_err *err)
{
	char *copy = strdup(path);
	int fd, r = 0;

	if (copy == NULL)
		return agent_err_code(err, XO_ERR_NOMEM);
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
		0 ||
	    fsync(fd) != 0)
		r = fail_errno(err, "cannot sync the directory of", path);
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

int vault_write_file(const char *path, const unsigned char *img, size_t len,
		     struct agent_err *err)
{
	char tmp[4096], bak[4096];
	int fd = -1, r = XO_ERR_INTERNAL;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp) ||
	    (size_t)snprintf(bak, sizeof(bak), "%s.bak", path) >= sizeof(bak))
		return agent_err_set(err, XO_ERR_INVALID, "%s: path too long",
				     path);
	/* A temporary file left by a crash is only a half-written copy. */
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return fail_errno(err, "cannot create", tmp);
	if (write_all(fd, img, len) != 0 || fsync(fd) != 0) {
		r = fail_errno(err, "cannot write", tmp);
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = fail_errno(err, "cannot write", tmp);
		goto fail;
	}
	fd = -1;
	agent_test_crash("during_write");
	/* The current image becomes the backup: a hard link, so that the
	 * vault's own name never points at nothing. */
	if (unlink(bak) != 0 && errno != ENOENT) {
		r = fail_errno(err, "cannot replace", bak);
		goto fail;
	}
	if (link(path, bak) != 0 && errno != ENOENT) {
		r = fail_errno(err, "cannot keep", bak);
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		r = fail_errno(err, "cannot replace", path);
		goto fail;
	}
	return sync_dir(path, err);
fail:
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	return r;
}

int vault_lock(const char *path, int *fd, struct agent_err *err)
{
	char lock[4096], pid[32] = "";
	ssize_t n;
	int lfd;

	*fd = -1;
	if ((size_t)snprintf(lock, sizeof(lock), "%s.lock", path) >=
	    sizeof(lock))
		return agent_err_set(err, XO_ERR_INVALID, "%s: path too long",
				     path);
	lfd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lfd < 0)
		return fail_errno(err, "cannot open", lock);
	if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		n = read(lfd, pid, sizeof(pid) - 1);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(lfd);
		if (e != EWOULDBLOCK)
			return fail_errno(err, "cannot lock", lock);
		return agent_err_set(err, XO_ERR_VAULT_IN_USE,
				     "another agent (pid %s) is using the "
				     "vault %s; stop it first (xoauth-agent "
				     "-k)",
				     pid[0] != '\0' ? pid : "unknown", path);
	}
	/* Who holds it, for the message another agent will give. */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(lfd, 0) != 0 || pwrite(lfd, pid, (size_t)n, 0) != n) {
		/* Only the message suffers; the lock itself is held. */
	}
	*fd = lfd;
	return 0;
}

int vault_make_dir(const char *path, struct agent_err *err)
{
	char *copy = strdup(path), *p;

	if (copy == NULL)
		return agent_err_code(err, XO_ERR_NOMEM);
	/* Each parent of the file in turn: mkdir -p with mode 0700. */
	for (p = copy + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST) {
			int r = fail_errno(err, "cannot create", copy);

			free(copy);
			return r;
		}
		*p = '/';
	}
	free(copy);
	return 0;
}
