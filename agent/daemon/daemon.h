/*
 * daemon.h: the program xoauth-agent, which sees every room: its command
 * line (main.c), the fork and the shell lines (daemonize.c), the wiring of
 * the rooms and its life from start to stop (run.c), and the request
 * table (requests.c).
 */
#ifndef XO_DAEMON_H
#define XO_DAEMON_H

#include <sys/resource.h>
#include <sys/types.h>

#include <uv.h>

#include "account/spawn.h"
#include "core/agent.h"
#include "core/dispatch.h"

struct agent_config;

struct daemon {
	struct agent a;
	struct agent_config *config;	 /* owned; a.config is this one */
	char *config_path;		 /* NULL: none (no HOME) */
	int config_must_exist;		 /* named with -f */
	char *socket_path;		 /* unlinked at exit */
	char *socket_dir;		 /* removed at exit when we made it */
	int socket_from_systemd;	 /* systemd owns the socket */
	char *restricted_path;		 /* -r or [agent] restricted_socket:
					    token requests only; unlinked at
					    exit */
	int restricted_fd;		 /* bound there, -1: none */
	struct agent_server *restricted; /* serving it */
	pid_t parent_pid;	  /* command mode: exit when it is gone */
	struct rlimit saved_core; /* the core limit before hardening, for
				     the command of command mode */
	unsigned long fd_limit;	  /* open files the agent may have */
	struct agent_spawns spawns;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_signal_t sig_suspend; /* SIGUSR2, with the test hooks only */
	/* Command mode: the command's exit, watched through a pidfd
	   (parent_fd), or where there is none by a check every second. */
	int parent_fd; /* -1: none */
	uv_poll_t parent_watch;
	uv_timer_t parent_check;
	uv_prepare_t shield_watch; /* notices the key made readable */
	uv_timer_t shield_close;   /* makes it unreadable again */
};

/* ---- run.c ---- */
/* Makes a.config the loaded cfg (owned from now on) and copies the
   limits core/ needs from it. */
void daemon_use_config(struct daemon *d, struct agent_config *cfg);
/*
 * Runs the agent on the bound socket fd until it is stopped (SIGTERM, or
 * in command mode its parent's exit): wires the rooms, serves, and tears
 * down.  Returns the process's exit status.
 */
int daemon_run(struct daemon *d, int listen_fd, int command_mode);
/* SIGHUP: reads the config again; the old one stays on any error. */
void daemon_reload(struct daemon *d);

/* ---- requests.c ---- */
/* The request table: every request type, who answers it, and what it
   needs (PROTOCOL.md 4). */
extern const struct dispatch_table daemon_requests;

/* ---- daemonize.c ---- */
#define DAEMON_SOCK_ENV "XOAUTH_AUTH_SOCK"
#define DAEMON_FORWARD_ENV "XOAUTH_FORWARD_SOCK"
#define DAEMON_PID_ENV "XOAUTH_AGENT_PID"

/* Prints NAME=VALUE in sh or csh syntax, as ssh-agent does. */
void daemon_print_env(int csh, const char *name, const char *value);
/* Prints the sockets' variables (the restricted one's when there is
   one). */
void daemon_print_sockets(const struct daemon *d, int csh);
/* Which process daemon_detach() returns in. */
enum detach_side {
	DETACH_FAILED, /* no fork (reported) */
	DETACH_PARENT, /* the shell lines are printed: exit 0 */
	DETACH_CHILD,  /* the agent: run it */
};
/*
 * Forks the agent off, as ssh-agent does.  The parent prints the variables
 * (csh syntax or sh), or with a command (argv[0] != NULL) execs it with
 * them set and does not return.  The child returns in a session of its
 * own, at /, with stdio on /dev/null and the log on syslog.
 */
enum detach_side daemon_detach(struct daemon *d, char **argv, int csh,
			       int listen_fd);

#endif
