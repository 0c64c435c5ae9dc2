/*
 * daemonize.c: going into the background the way ssh-agent does
 * (ssh-agent.c, after its "fork, and let the parent exit" comment): the
 * parent hands the socket's address to the shell, or to the command it
 * runs, and the child becomes a session leader detached from the
 * terminal, logging to syslog.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/harden.h"
#include "core/log.h"
#include "daemon/daemon.h"

/* Quotes s for both sh and csh when it holds anything unusual. */
static void print_word(const char *s)
{
	const char *p;

	if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789/._-+@:,") == strlen(s)) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (p = s; *p != '\0'; p++) {
		if (*p == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*p);
	}
	putchar('\'');
}

void daemon_print_env(int csh, const char *name, const char *value)
{
	if (csh) {
		printf("setenv %s ", name);
		print_word(value);
		printf(";\n");
	} else {
		printf("%s=", name);
		print_word(value);
		printf("; export %s;\n", name);
	}
}

void daemon_print_sockets(const struct daemon *d, int csh)
{
	daemon_print_env(csh, DAEMON_SOCK_ENV, d->socket_path);
	if (d->restricted_path != NULL)
		daemon_print_env(csh, DAEMON_FORWARD_ENV, d->restricted_path);
}

/* The parent's part: the agent runs as pid. */
static void parent(struct daemon *d, char **argv, int csh, pid_t pid)
{
	char pidbuf[32];

	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)pid);
	if (argv[0] == NULL) {
		daemon_print_sockets(d, csh);
		daemon_print_env(csh, DAEMON_PID_ENV, pidbuf);
		printf("echo Agent pid %s;\n", pidbuf);
		return;
	}
	setenv(DAEMON_SOCK_ENV, d->socket_path, 1);
	if (d->restricted_path != NULL)
		setenv(DAEMON_FORWARD_ENV, d->restricted_path, 1);
	setenv(DAEMON_PID_ENV, pidbuf, 1);
	agent_config_free(d->config);
	d->config = NULL;
	/* The command is not the agent: it may dump core as it likes. */
	setrlimit(RLIMIT_CORE, &d->saved_core);
	execvp(argv[0], argv);
	fprintf(stderr, "xoauth-agent: %s: %s\n", argv[0], strerror(errno));
	kill(pid, SIGTERM);
	exit(127);
}

enum detach_side daemon_detach(struct daemon *d, char **argv, int csh,
			       int listen_fd)
{
	pid_t pid;

	d->parent_pid = getpid();
	fflush(stdout);
	if ((pid = fork()) < 0) {
		fprintf(stderr, "xoauth-agent: fork: %s\n", strerror(errno));
		return DETACH_FAILED;
	}
	if (pid != 0) {
		/* The agent holds the sockets and the vault's lock now. */
		close(listen_fd);
		if (d->restricted_fd >= 0)
			close(d->restricted_fd);
		parent(d, argv, csh, pid);
		return DETACH_PARENT;
	}
	setsid();
	if (chdir("/") != 0)
		return DETACH_FAILED;
	agent_detach_stdio();
	agent_log_init("xoauth-agent", LOG_LEVEL_INFO, 0);
	return DETACH_CHILD;
}
