/*
 * vault.c: lock, unlock, export and restore.  Passphrases are read from
 * the terminal without echo, or as one line from standard input when it is
 * not a terminal (for scripts and PAM-less set-ups); a new one is asked
 * twice on a terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define PASS_MAX 1024
/* The largest export restore reads: what the protocol can carry. */
#define EXPORT_MAX (4 * 65536)

struct secret_buf {
	char *p;
	size_t cap;
};

static int secret_alloc(struct secret_buf *b, size_t cap)
{
	b->cap = cap;
	if ((b->p = calloc(1, cap)) == NULL) {
		fprintf(stderr, "xoauth: out of memory\n");
		return -1;
	}
	return 0;
}

static void secret_free(struct secret_buf *b)
{
	if (b->p != NULL) {
		explicit_bzero(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL;
}

/* Reads a passphrase; a new one (confirm set) is asked twice on a
 * terminal.  Returns 0, or the exit status after a message. */
static int read_passphrase(const char *prompt, int confirm,
			   struct secret_buf *out)
{
	struct secret_buf again = {0};
	int r = EXIT_AGENT_FAILED;

	if (secret_alloc(out, PASS_MAX) != 0)
		return r;
	if (read_secret_line(prompt, out->p, out->cap) < 0)
		goto out;
	if (out->p[0] == '\0') {
		fprintf(stderr, "xoauth: empty passphrase\n");
		goto out;
	}
	if (confirm && isatty(STDIN_FILENO)) {
		if (secret_alloc(&again, PASS_MAX) != 0 ||
		    read_secret_line("Repeat the passphrase: ", again.p,
				     again.cap) < 0)
			goto out;
		if (strcmp(out->p, again.p) != 0) {
			fprintf(stderr, "xoauth: the passphrases differ\n");
			goto out;
		}
	}
	r = 0;
out:
	secret_free(&again);
	if (r != 0)
		secret_free(out);
	return r;
}

int cmd_lock(const struct cli *cli, int argc, char *argv[])
{
	struct xo_client *c = NULL;
	int r, err;

	if (argc != 1)
		return usage(argv[0]);
	if ((r = connect_agent(cli, &c)) != 0)
		return r;
	if ((err = xo_lock(c)) != 0) {
		r = report(cli, c, NULL, err);
	} else {
		fprintf(stderr, "agent locked: 'xoauth unlock' to use it "
				"again\n");
		r = 0;
	}
	xo_client_free(c);
	return r;
}

int cmd_unlock(const struct cli *cli, int argc, char *argv[])
{
	struct secret_buf pass = {0};
	struct xo_client *c = NULL;
	int tty = isatty(STDIN_FILENO), r, err;

	if (argc != 1)
		return usage(argv[0]);
	if ((r = connect_agent(cli, &c)) != 0)
		return r;
	if ((r = read_passphrase("Vault passphrase: ", 0, &pass)) != 0)
		goto out;
	/* From a script, one line both opens a vault and makes the first. */
	err = xo_unlock(c, pass.p, !tty);
	if (err == XO_ERR_NO_VAULT) {
		fprintf(stderr, "There is no vault yet: it will be made with "
				"this passphrase.\n");
		secret_free(&pass);
		if ((r = read_passphrase("New vault passphrase: ", 1,
					 &pass)) != 0)
			goto out;
		err = xo_unlock(c, pass.p, 1);
	}
	if (err == XO_ERR_WRONG_PASSPHRASE) {
		fprintf(stderr, "xoauth: wrong passphrase\n");
		r = EXIT_AGENT_FAILED;
	} else if (err != 0) {
		r = report(cli, c, NULL, err);
	} else {
		fprintf(stderr, "agent unlocked\n");
		r = 0;
	}
out:
	secret_free(&pass);
	xo_client_free(c);
	return r;
}

int cmd_export(const struct cli *cli, int argc, char *argv[])
{
	struct secret_buf pass = {0};
	struct xo_client *c = NULL;
	char *data = NULL;
	int fd = STDOUT_FILENO, r, err;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return usage(argv[0]);
	if ((r = connect_agent(cli, &c)) != 0)
		return r;
	if ((r = read_passphrase("Passphrase for the export: ", 1, &pass)) !=
	    0)
		goto out;
	if ((err = xo_export(c, pass.p, &data)) != 0) {
		r = report(cli, c, NULL, err);
		goto out;
	}
	r = EXIT_AGENT_FAILED;
	if (argc == 2 &&
	    (fd = open(argv[1], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		       0600)) < 0) {
		fprintf(stderr, "xoauth: cannot create %s: %s\n", argv[1],
			strerror(errno));
		goto out;
	}
	if (write_all(fd, data, strlen(data)) != 0 ||
	    write_all(fd, "\n", 1) != 0 ||
	    (fd != STDOUT_FILENO && close(fd) != 0)) {
		fprintf(stderr, "xoauth: cannot write the export: %s\n",
			strerror(errno));
		goto out;
	}
	fprintf(stderr, "exported; keep the passphrase: the export is "
			"useless without it\n");
	r = 0;
out:
	if (data != NULL) {
		explicit_bzero(data, strlen(data));
		free(data);
	}
	secret_free(&pass);
	xo_client_free(c);
	return r;
}

/* Reads an export file into a C string without its line ends. */
static char *read_export(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0;

	if (f == NULL) {
		fprintf(stderr, "xoauth: cannot open %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	if ((buf = malloc(EXPORT_MAX + 2)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, EXPORT_MAX + 1, f);
	fclose(f);
	if (n > EXPORT_MAX) {
		fprintf(stderr, "xoauth: %s is too large to be an export\n",
			path);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

int cmd_restore(const struct cli *cli, int argc, char *argv[])
{
	struct secret_buf pass = {0};
	struct xo_client *c = NULL;
	char *data = NULL;
	int r, err;

	if (argc != 2 || argv[1][0] == '-')
		return usage(argv[0]);
	if ((data = read_export(argv[1])) == NULL)
		return EXIT_AGENT_FAILED;
	if ((r = connect_agent(cli, &c)) != 0)
		goto out;
	if ((r = read_passphrase("Passphrase of the export: ", 0, &pass)) !=
	    0)
		goto out;
	err = xo_restore(c, data, pass.p);
	if (err == XO_ERR_WRONG_PASSPHRASE) {
		fprintf(stderr, "xoauth: wrong passphrase for %s\n", argv[1]);
		r = EXIT_AGENT_FAILED;
	} else if (err != 0) {
		r = report(cli, c, NULL, err);
	} else {
		fprintf(stderr, "restored: see 'xoauth list'\n");
		r = 0;
	}
out:
	free(data);
	secret_free(&pass);
	xo_client_free(c);
	return r;
}
