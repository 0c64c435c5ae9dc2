/*
 * main.c: xoauth-agent's command line, after ssh-agent(1):
 *
 *   xoauth-agent [-c | -s] [-Dd] [-a SOCKET] [-f CONFIG] [-t LIFE]
 *   xoauth-agent [-a SOCKET] [-f CONFIG] [-t LIFE] COMMAND [ARG ...]
 *   xoauth-agent [-c | -s] -k
 *   xoauth-agent -V
 *
 * The config is read and the socket bound before forking, so that every
 * error reaches the terminal; the detached agent then talks only to its
 * log.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/agent.h"
#include "core/log.h"

#include "core/systemd.h"
#include "vault/vault.h"
#include "secret/wipe_alloc.h"


#define SOCK_ENV "XOAUTH_AUTH_SOCK"
#define PID_ENV "XOAUTH_AGENT_PID"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xoauth-agent [-c | -s] [-Dd] [-a SOCKET] [-f CONFIG] "
		"[-t LIFE]\n"
		"       xoauth-agent [-a SOCKET] [-f CONFIG] [-t LIFE] COMMAND "
		"[ARG ...]\n"
		"       xoauth-agent [-c | -s] -k\n"
		"       xoauth-agent -V\n");
}

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

static void print_env(int csh, const char *name, const char *value)
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

static void agent_stop(struct agent *a)
{
	if (a->stopping)
		return;
	a->stopping = 1;
	log_info("stopping");
	agent_systemd_notify("STOPPING=1");
	uv_close((uv_handle_t *)&a->listener, NULL);
	uv_close((uv_handle_t *)&a->sig_term, NULL);
	uv_close((uv_handle_t *)&a->sig_int, NULL);
	uv_close((uv_handle_t *)&a->sig_hup, NULL);
	uv_close((uv_handle_t *)&a->scheduler, NULL);
	uv_close((uv_handle_t *)&a->parent_check, NULL);
	agent_conns_close_all(a);
	/* What the vault has not written yet is sealed while the accounts
	   are still there. */
	agent_vault_stop(a);
	agent_accounts_free(a);
	/* A hanging secret or notify command must not keep the loop (and
	   so the agent) alive. */
	agent_spawns_kill_all(&a->spawns);
	agent_http_free(a->http);
	a->http = NULL;
	/* A socket systemd made stays for the next activation. */
	if (a->socket_path != NULL && !a->socket_from_systemd)
		unlink(a->socket_path);
	if (a->socket_dir != NULL)
		rmdir(a->socket_dir);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct agent *a = s->data;

	if (signum == SIGHUP) {
		log_info("SIGHUP: reloading %s",
			 a->config_path ? a->config_path : "(no file)");
		agent_systemd_notify("RELOADING=1");
		agent_reload(a);
		agent_systemd_notify("READY=1");
		return;
	}
	agent_stop(a);
}

static void on_parent_check(uv_timer_t *t)
{
	struct agent *a = t->data;

	/* Command mode: the command is our parent; when it has gone, so
	   do we. */
	if (getppid() != a->parent_pid)
		agent_stop(a);
}

static int run_agent(struct agent *a, int listen_fd, int command_mode)
{
	char err[1024] = "";
	int r;

	a->loop = uv_default_loop();
	/* Commands at once, all accounts together: enough for every
	   account's hook to fire, few enough that a storm cannot fork-bomb
	   the user. */
	agent_spawns_init(&a->spawns, a->loop, 32);
	/* Before anything uses OpenSSL or libcurl: from here on both wipe
	   what they free (their buffers hold the tokens). */
	if (agent_wipe_alloc_install() != 0) {
		log_error("cannot initialise libcurl and OpenSSL with a wiping "
			  "allocator");
		return 1;
	}
	if ((r = agent_shield_new(&a->shield)) != 0 ||
	    (r = agent_http_new(a->loop, &a->http)) != 0 ||
	    (r = agent_accounts_load(a, a->config)) != 0 ||
	    (r = agent_vault_start(a, err, sizeof(err))) != 0 ||
	    (r = agent_listen_fd(a, listen_fd)) != 0) {
		log_error("cannot start: %s",
			  err[0] != '\0' ? err : proto_strerror(r));
		return 1;
	}
	uv_signal_init(a->loop, &a->sig_term);
	uv_signal_init(a->loop, &a->sig_int);
	uv_signal_init(a->loop, &a->sig_hup);
	a->sig_term.data = a->sig_int.data = a->sig_hup.data = a;
	uv_signal_start(&a->sig_term, on_signal, SIGTERM);
	uv_signal_start(&a->sig_hup, on_signal, SIGHUP);
	if (a->opts.foreground)
		uv_signal_start(&a->sig_int, on_signal, SIGINT);
	uv_timer_init(a->loop, &a->scheduler);
	a->scheduler.data = a;
	uv_timer_init(a->loop, &a->parent_check);
	a->parent_check.data = a;
	if (command_mode)
		uv_timer_start(&a->parent_check, on_parent_check, 1000, 1000);
	agent_schedule(a);
	log_info("listening on %s with %zu accounts%s", a->socket_path,
		 a->config->n_accounts,
		 a->socket_from_systemd ? " (socket from systemd)" : "");
	agent_systemd_notify("READY=1");

	uv_run(a->loop, UV_RUN_DEFAULT);
	/* Flush the close callbacks of everything stopped above. */
	uv_run(a->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(a->loop) != 0)
		log_debug("loop closed with handles still open");
	agent_vault_free(a);
	agent_shield_free(a->shield);
	agent_config_free(a->config);
	curl_global_cleanup();
	return 0;
}

int main(int argc, char **argv)
{
	struct agent a;
	struct rlimit saved_core;
	char cfgpath[1024], err[1024];
	const char *bind_path = NULL;
	int c_flag = 0, s_flag = 0, k_flag = 0, fd = -1, ch, r, csh;
	pid_t pid;

	memset(&a, 0, sizeof(a));
	getrlimit(RLIMIT_CORE, &saved_core);
	agent_harden();
	/* Before anything parses JSON: jansson then wipes what it frees. */
	oauth_json_init();
	signal(SIGPIPE, SIG_IGN);

	while ((ch = getopt(argc, argv, "+a:cDdf:hkst:V")) != -1) {
		switch (ch) {
		case 'a':
			bind_path = optarg;
			break;
		case 'c':
			c_flag = 1;
			break;
		case 's':
			s_flag = 1;
			break;
		case 'D':
			a.opts.foreground = 1;
			break;
		case 'd':
			a.opts.foreground = a.opts.debug = 1;
			break;
		case 'f':
			a.opts.config_path = optarg;
			break;
		case 'k':
			k_flag = 1;
			break;
		case 't':
			if (agent_duration_parse(optarg,
						 &a.opts.lifetime_s) != 0) {
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
	argc -= optind;
	argv += optind;
	if ((c_flag && s_flag) ||
	    (argc > 0 && (c_flag || s_flag || k_flag || a.opts.foreground))) {
		usage(stderr);
		return 1;
	}
	csh = want_csh(c_flag, s_flag);
	if (k_flag)
		return kill_agent(csh);

	agent_log_init("xoauth-agent",
		       a.opts.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, 1);
	if (a.opts.config_path != NULL) {
		a.config_path = strdup(a.opts.config_path);
		a.config_must_exist = 1;
	} else if (agent_config_default_path(cfgpath, sizeof(cfgpath)) == 0) {
		a.config_path = strdup(cfgpath);
	}
	r = 1;
	if (agent_config_load(a.config_path, a.config_must_exist, &a.config,
			      err, sizeof(err)) != 0) {
		fprintf(stderr, "xoauth-agent: %s\n", err);
		goto out;
	}

	if ((fd = agent_systemd_listen_fd(&a.socket_path, err, sizeof(err))) ==
	    -2) {
		fprintf(stderr, "xoauth-agent: %s\n", err);
		goto out;
	}
	if (fd >= 0) {
		/* systemd supervises us: stay in the foreground. */
		a.socket_from_systemd = 1;
		a.opts.foreground = 1;
	} else if (bind_path != NULL) {
		a.socket_path = strdup(bind_path);
	} else if (agent_socket_path(&a.socket_path, &a.socket_dir, err,
				     sizeof(err)) != 0) {
		fprintf(stderr, "xoauth-agent: %s\n", err);
		goto out;
	}
	if (fd < 0 &&
	    agent_socket_bind(a.socket_path, &fd, err, sizeof(err)) != 0) {
		fprintf(stderr, "xoauth-agent: %s\n", err);
		if (a.socket_dir != NULL)
			rmdir(a.socket_dir);
		goto out;
	}

	/* The vault's lock and a look at the file, before the fork: a
	   vault that cannot be used stops the start where the user sees
	   it. */
	err[0] = '\0';
	if (agent_vault_prepare(&a, err, sizeof(err)) != 0) {
		fprintf(stderr, "xoauth-agent: %s\n",
			err[0] != '\0' ? err : "cannot prepare the vault");
		close(fd);
		if (!a.socket_from_systemd)
			unlink(a.socket_path);
		if (a.socket_dir != NULL)
			rmdir(a.socket_dir);
		goto out;
	}

	if (a.opts.foreground) {
		print_env(csh, SOCK_ENV, a.socket_path);
		printf("echo Agent pid %ld;\n", (long)getpid());
		fflush(stdout);
		r = run_agent(&a, fd, 0);
		goto out;
	}

	a.parent_pid = getpid();
	fflush(stdout);
	if ((pid = fork()) < 0) {
		fprintf(stderr, "xoauth-agent: fork: %s\n", strerror(errno));
		goto out;
	}
	if (pid != 0) {
		/* The parent: hand the variables to the shell or command. */
		char pidbuf[32];

		close(fd);
		snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)pid);
		if (argc > 0) {
			setenv(SOCK_ENV, a.socket_path, 1);
			setenv(PID_ENV, pidbuf, 1);
			agent_config_free(a.config);
			a.config = NULL;
			setrlimit(RLIMIT_CORE, &saved_core);
			execvp(argv[0], argv);
			fprintf(stderr, "xoauth-agent: %s: %s\n", argv[0],
				strerror(errno));
			kill(pid, SIGTERM);
			return 127;
		}
		print_env(csh, SOCK_ENV, a.socket_path);
		print_env(csh, PID_ENV, pidbuf);
		printf("echo Agent pid %s;\n", pidbuf);
		r = 0;
		goto out;
	}

	/* The child: the agent. */
	setsid();
	if (chdir("/") != 0)
		goto out;
	agent_detach_stdio();
	agent_log_init("xoauth-agent", LOG_LEVEL_INFO, 0);
	r = run_agent(&a, fd, argc > 0);
out:
	/* run_agent() frees the config of the process that ran the agent. */
	if (a.loop == NULL)
		agent_config_free(a.config);
	/* The parent lets go of its copy of the lock; the agent keeps it. */
	agent_vault_free(&a);
	free(a.config_path);
	free(a.socket_path);
	free(a.socket_dir);
	return r;
}
