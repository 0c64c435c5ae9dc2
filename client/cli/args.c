/*
 * args.c: parsing the command line, reading a secret from the terminal,
 * and writing output safely.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

/* Set by SIGINT/SIGTERM while the terminal's echo is off, so the terminal
 * can be restored before exiting. */
static volatile sig_atomic_t interrupted;

int parse_uint(const char *s, unsigned long max, unsigned *out)
{
	char *end = NULL;
	long v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 ||
	    (unsigned long)v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int option_value(int argc, char *argv[], int *i, const char *name,
			const char **value)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '=' && n > 2) {
		*value = arg + n + 1;
		return 1;
	}
	if (arg[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
}

int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void sanitize(char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* No echo: a refresh token or a login code should not stay in the
 * scrollback. */
long read_secret_line(const char *prompt, char *buf, size_t cap)
{
	struct termios saved, quiet;
	struct sigaction sa, old_int, old_term;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	size_t len = 0;
	long r = -1;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_interrupt; /* no SA_RESTART: read() stops */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	for (;;) {
		ssize_t n;

		if (interrupted) {
			fprintf(stderr, "\nxoauth: interrupted\n");
			goto out;
		}
		if (len + 1 >= cap) {
			fprintf(stderr,
				"xoauth: the input is longer than %zu bytes\n",
				cap - 2);
			goto out;
		}
		n = read(STDIN_FILENO, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr,
				"xoauth: cannot read standard input: %s\n",
				strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (memchr(buf + len - (size_t)n, '\n', (size_t)n) != NULL)
			break;
	}
	buf[len] = '\0';
	/* Only the first line counts. */
	buf[strcspn(buf, "\n")] = '\0';
	r = (long)strlen(buf);
out:
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		if (!interrupted)
			fputc('\n', stderr);
	}
	return r;
}

