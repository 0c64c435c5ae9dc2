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

#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "core/err.h"
#include "core/test_hooks.h"
#include "vault/pure/image.h"
#include "vault/io.h"

/* The largest file we read: a base and its journal. */
#define IMAGE_MAX VAULT_MAX_FILE

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

static int pwrite_all(int fd, const unsigned char *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		off += (uint64_t)n;
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

/* PATH.tmp and PATH.bak; 0, or the reason in err. */
static int side_paths(const char *path, char tmp[4096], char bak[4096],
		      struct agent_err *err)
{
	if ((size_t)snprintf(tmp, 4096, "%s.tmp", path) >= 4096 ||
	    (size_t)snprintf(bak, 4096, "%s.bak", path) >= 4096)
		return agent_err_set(err, XO_ERR_INVALID, "%s: path too long",
				     path);
	return 0;
}

int vault_write_temp(const char *path, const unsigned char *img, size_t len,
		     struct agent_err *err)
{
	char tmp[4096], bak[4096];
	int fd, r;

	if ((r = side_paths(path, tmp, bak, err)) != 0)
		return r;
	/* A temporary file left by a crash is only a half-written copy. */
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return fail_errno(err, "cannot create", tmp);
	if (write_all(fd, img, len) != 0 || fsync(fd) != 0) {
		r = fail_errno(err, "cannot write", tmp);
		close(fd);
		(void)unlink(tmp);
		return r;
	}
	if (close(fd) != 0) {
		r = fail_errno(err, "cannot write", tmp);
		(void)unlink(tmp);
		return r;
	}
	return 0;
}

/* Appends the bytes [from, to) of the file src to the file dst, and
   fsync()s dst. */
static int carry(const char *src, const char *dst, uint64_t from, uint64_t to,
		 struct agent_err *err)
{
	unsigned char buf[65536];
	int in = -1, out = -1, r = 0;

	if ((in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return fail_errno(err, "cannot open", src);
	if ((out = open(dst, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)) <
	    0) {
		r = fail_errno(err, "cannot open", dst);
		goto out;
	}
	while (from < to) {
		size_t want =
		    to - from < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
		ssize_t n = pread(in, buf, want, (off_t)from);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* shorter than we wrote it */
			r = fail_errno(err, "cannot read", src);
			goto out;
		}
		if (write_all(out, buf, (size_t)n) != 0) {
			r = fail_errno(err, "cannot write", dst);
			goto out;
		}
		from += (uint64_t)n;
	}
	if (fsync(out) != 0)
		r = fail_errno(err, "cannot write", dst);
out:
	/* The records are sealed, but wiped all the same. */
	sodium_memzero(buf, sizeof(buf));
	if (out >= 0 && close(out) != 0 && r == 0)
		r = fail_errno(err, "cannot write", dst);
	if (in >= 0)
		close(in);
	return r;
}

int vault_commit_temp(const char *path, uint64_t from, uint64_t to,
		      struct agent_err *err)
{
	char tmp[4096], bak[4096];
	int r;

	if ((r = side_paths(path, tmp, bak, err)) != 0)
		return r;
	if (from < to && (r = carry(path, tmp, from, to, err)) != 0)
		goto fail;
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
	(void)unlink(tmp);
	return r;
}

int vault_write_file(const char *path, const unsigned char *img, size_t len,
		     struct agent_err *err)
{
	int r;

	if ((r = vault_write_temp(path, img, len, err)) != 0)
		return r;
	return vault_commit_temp(path, 0, 0, err);
}

int vault_append_file(const char *path, uint64_t off, const unsigned char *rec,
		      size_t len, struct agent_err *err)
{
	struct stat st;
	int fd, r = 0;

	if ((fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return fail_errno(err, "cannot open", path);
	if (fstat(fd, &st) != 0) {
		r = fail_errno(err, "cannot stat", path);
		goto out;
	}
	if ((uint64_t)st.st_size < off) {
		r = agent_err_set(err, XO_ERR_IO,
				  "%s is shorter than the agent wrote it: "
				  "changed by something else",
				  path);
		goto out;
	}
	/* A torn record from a crash, or a failed append's part. */
	if ((uint64_t)st.st_size > off && ftruncate(fd, (off_t)off) != 0) {
		r = fail_errno(err, "cannot cut the torn record off", path);
		goto out;
	}
	if (agent_test_crash_due("during_append")) {
		/* The test of a torn record: half of it, on disk. */
		if (pwrite_all(fd, rec, len / 2, off) == 0 && fsync(fd) == 0)
			agent_test_die("during_append");
	}
	if (pwrite_all(fd, rec, len, off) != 0 || fsync(fd) != 0)
		r = fail_errno(err, "cannot append to", path);
out:
	if (close(fd) != 0 && r == 0)
		r = fail_errno(err, "cannot append to", path);
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
