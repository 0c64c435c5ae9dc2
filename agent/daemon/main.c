/*
 * main.c: xoauth-agent's command line, after ssh-agent(1):
 *
 *   xoauth-agent [-c | -s] [-Dd] [-a SOCKET] [-f CONFIG] [-t LIFE]
 *   xoauth-agent [-a SOCKET] [-f CONFIG] [-t LIFE] COMMAND [ARG ...]
 *   xoauth-agent [-c | -s] -k
 *   xoauth-agent -V
 *
 * The config is read, the socket bound and the vault prepared before
 * forking, so that every error reaches the terminal; the detached agent
 * then talks only to its log.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "core/err.h"
#include "core/harden.h"
#include "core/log.h"
#include "core/sockdir.h"
#include "core/systemd.h"
#include "daemon/daemon.h"
#include "oauth/oauth.h"
#include "vault/vault.h"

#define SOCK_ENV DAEMON_SOCK_ENV
#define PID_ENV DAEMON_PID_ENV

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xoauth-agent [-c | -s] [-Dd] [-a SOCKET] [-r SOCKET] "
		"[-f CONFIG] [-t LIFE]\n"
		"       xoauth-agent [-a SOCKET] [-r SOCKET] [-f CONFIG] "
		"[-t LIFE] COMMAND [ARG ...]\n"
		"       xoauth-agent [-c | -s] -k\n"
		"       xoauth-agent -V\n");
}

static int want_csh(int c_flag, int s_flag)
{
	const char *shell = getenv("SHELL");
	size_t n;

	if (c_flag)
		return 1;
	if (s_flag || shell == NULL)
		return 0;
	n = strlen(shell);
	return n > 2 && strcmp(shell + n - 3, "csh") == 0;
}

/*
 * -k: stop the agent named by XOAUTH_AGENT_PID, after checking that the
 * process really is an xoauth-agent of ours (ssh-agent does not, and kills
 * whatever a stale variable names).
 */
static int kill_agent(int csh)
{
	const char *s = getenv(PID_ENV);
	char path[64], comm[32] = "";
	struct stat st;
	FILE *f;
	char *end;
	long pid;

	if (s == NULL || *s == '\0') {
		fprintf(stderr, "xoauth-agent: %s not set, cannot kill agent\n",
			PID_ENV);
		return 1;
	}
	errno = 0;
	pid = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || pid < 2 || pid > 0x7fffffff) {
		fprintf(stderr, "xoauth-agent: invalid %s '%s'\n", PID_ENV, s);
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(comm, sizeof(comm), f) == NULL)
			comm[0] = '\0';
		fclose(f);
	}
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(path, sizeof(path), "/proc/%ld", pid);
	if (strcmp(comm, "xoauth-agent") != 0 || stat(path, &st) != 0 ||
	    st.st_uid != getuid()) {
		fprintf(stderr,
			"xoauth-agent: process %ld is not an xoauth-agent of "
			"yours; not killing it\n",
			pid);
		return 1;
	}
	if (kill((pid_t)pid, SIGTERM) != 0) {
		fprintf(stderr, "xoauth-agent: kill %ld: %s\n", pid,
			strerror(errno));
		return 1;
	}
	printf(csh ? "unsetenv %s;\n" : "unset %s;\n", SOCK_ENV);
	printf(csh ? "unsetenv %s;\n" : "unset %s;\n", PID_ENV);
	printf("echo Agent pid %ld killed;\n", pid);
	return 0;
}

/* What the command line asks for. */
struct args {
	const char *bind_path;	     /* -a */
	const char *restricted_path; /* -r */
	int c_flag, s_flag, k_flag;
	char **command; /* what follows the options; command[0] NULL: none */
};

/*
 * Parses the options into a and d->a.opts.  Returns -1 to go on, else
 * the exit status (-V and -h have been answered, or the line is wrong).
 */
static int parse_args(int argc, char **argv, struct daemon *d, struct args *a)
{
	struct agent_options *o = &d->a.opts;
	int ch;

	memset(a, 0, sizeof(*a));
	while ((ch = getopt(argc, argv, "+a:cDdf:hkr:st:V")) != -1) {
		switch (ch) {
		case 'a':
			a->bind_path = optarg;
			break;
		case 'c':
			a->c_flag = 1;
			break;
		case 'r':
			a->restricted_path = optarg;
			break;
		case 's':
			a->s_flag = 1;
			break;
		case 'D':
			o->foreground = 1;
			break;
		case 'd':
			o->foreground = o->debug = 1;
			break;
		case 'f':
			o->config_path = optarg;
			break;
		case 'k':
			a->k_flag = 1;
			break;
		case 't':
			if (agent_duration_parse(optarg, &o->lifetime_s) != 0) {
				fprintf(stderr,
					"xoauth-agent: -t: '%s' is not a time "
					"(seconds, or with s, m, h or d: 90m, "
					"12h, 7d)\n",
					optarg);
				return 1;
			}
			break;
		case 'V':
			printf("xoauth-agent %s\n", XO_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	a->command = argv + optind;
	if ((a->c_flag && a->s_flag) ||
	    (a->command[0] != NULL &&
	     (a->c_flag || a->s_flag || a->k_flag || o->foreground))) {
		usage(stderr);
		return 1;
	}
	return -1;
}

/* The config named with -f, or the default one (which may be absent). */
static int load_config(struct daemon *d, struct agent_err *err)
{
	struct agent_config *cfg = NULL;
	char path[1024];

	if (d->a.opts.config_path != NULL) {
		d->config_path = strdup(d->a.opts.config_path);
		d->config_must_exist = 1;
	} else if (agent_config_default_path(path, sizeof(path)) == 0) {
		d->config_path = strdup(path);
	}
	if (agent_config_load(d->config_path, d->config_must_exist, &cfg,
			      err->msg, sizeof(err->msg)) != 0)
		return err->code = XO_ERR_CONFIG;
	daemon_use_config(d, cfg);
	return 0;
}

/* The listening socket: systemd's, or one bound at -a or the default
   place.  *fd is it. */
static int open_socket(struct daemon *d, const char *bind_path, int *fd,
		       struct agent_err *err)
{
	int r;

	if ((r = agent_systemd_listen_fd(fd, &d->socket_path, err)) != 0)
		return r;
	if (*fd >= 0) {
		/* systemd supervises us: stay in the foreground. */
		d->socket_from_systemd = 1;
		d->a.opts.foreground = 1;
		return 0;
	}
	if (bind_path != NULL) {
		if ((d->socket_path = strdup(bind_path)) == NULL)
			return agent_err_code(err, XO_ERR_NOMEM);
	} else if ((r = agent_socket_path(&d->socket_path, &d->socket_dir,
					  err)) != 0) {
		return r;
	}
	if ((r = agent_socket_bind(d->socket_path, fd, err)) != 0 &&
	    d->socket_dir != NULL)
		rmdir(d->socket_dir);
	return r;
}

/* The restricted socket (-r, else [agent] restricted_socket), answering
   token requests only: the one to forward with ssh -R. */
static int open_restricted(struct daemon *d, const char *path,
			   struct agent_err *err)
{
	int r;

	if (path == NULL)
		path = d->config->restricted_socket;
	if (path == NULL)
		return 0;
	if ((d->restricted_path = strdup(path)) == NULL)
		return agent_err_code(err, XO_ERR_NOMEM);
	if ((r = agent_socket_bind(d->restricted_path, &d->restricted_fd,
				   err)) != 0) {
		free(d->restricted_path);
		d->restricted_path = NULL;
	}
	return r;
}

/* The sockets go when the start fails after they were made. */
static void close_sockets(struct daemon *d, int fd)
{
	close(fd);
	if (!d->socket_from_systemd)
		unlink(d->socket_path);
	if (d->socket_dir != NULL)
		rmdir(d->socket_dir);
	if (d->restricted_fd >= 0) {
		close(d->restricted_fd);
		unlink(d->restricted_path);
		d->restricted_fd = -1;
	}
}

/* The vault's lock and a look at the file, before the fork: a vault that
   cannot be used stops the start where the user sees it. */
static int prepare_vault(struct daemon *d, int fd, struct agent_err *err)
{
	int r;

	if ((r = vault_prepare(&d->a, err)) == 0)
		return 0;
	if (err->msg[0] == '\0')
		agent_err_set(err, r, "cannot prepare the vault");
	close_sockets(d, fd);
	return r;
}

/* Everything up to the agent's loop; its exit status. */
static int start(struct daemon *d, const struct args *args, int csh)
{
	struct agent_err err;
	int fd = -1;

	agent_err_clear(&err);
	if (load_config(d, &err) != 0 ||
	    open_socket(d, args->bind_path, &fd, &err) != 0)
		goto fail;
	if (open_restricted(d, args->restricted_path, &err) != 0) {
		close_sockets(d, fd);
		goto fail;
	}
	if (prepare_vault(d, fd, &err) != 0)
		goto fail;
	if (d->a.opts.foreground) {
		daemon_print_sockets(d, csh);
		printf("echo Agent pid %ld;\n", (long)getpid());
		fflush(stdout);
		return daemon_run(d, fd, 0);
	}
	switch (daemon_detach(d, args->command, csh, fd)) {
	case DETACH_PARENT:
		return 0;
	case DETACH_CHILD:
		return daemon_run(d, fd, args->command[0] != NULL);
	case DETACH_FAILED:
		break;
	}
	return 1;
fail:
	fprintf(stderr, "xoauth-agent: %s\n", agent_err_text(&err));
	return 1;
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct args args;
	int r, csh;

	memset(&d, 0, sizeof(d));
	d.restricted_fd = -1;
	d.parent_fd = -1;
	/* -k looks for this name in /proc/PID/comm: the agent carries it
	   whatever started it (valgrind's memcheck names the process after
	   itself). */
	prctl(PR_SET_NAME, "xoauth-agent", 0, 0, 0);
	getrlimit(RLIMIT_CORE, &d.saved_core);
	/* Blocks of 128 KiB and more (a vault's image and its reading, a
	   large reply) are mapped and unmapped, not left in the heap: glibc
	   would otherwise raise this threshold after the first such free, and
	   an agent that writes a vault of 100,000 accounts would keep the
	   hundreds of MiB of each write resident.  Two arenas: the thread
	   pool (vault writes) needs no more. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_ARENA_MAX, 2);
	agent_harden();
	d.fd_limit = agent_raise_fd_limit();
	/* Before anything parses JSON: jansson then wipes what it frees. */
	oauth_json_init();
	signal(SIGPIPE, SIG_IGN);

	if ((r = parse_args(argc, argv, &d, &args)) >= 0)
		return r;
	csh = want_csh(args.c_flag, args.s_flag);
	if (args.k_flag)
		return kill_agent(csh);
	agent_log_init("xoauth-agent",
		       d.a.opts.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, 1);
	r = start(&d, &args, csh);
	/* daemon_run() frees the config of the process that ran the agent;
	   the parent lets go of its copy of the vault's lock, the agent
	   keeps it. */
	agent_config_free(d.config);
	vault_free(&d.a);
	free(d.config_path);
	free(d.socket_path);
	free(d.socket_dir);
	free(d.restricted_path);
	return r;
}
