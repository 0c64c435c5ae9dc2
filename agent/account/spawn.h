/*
 * spawn.h: running a shell command from the agent without blocking its
 * loop (client_secret_cmd, notify_cmd).
 *
 * The command runs as `/bin/sh -c COMMAND` through uv_spawn() in a session
 * and process group of its own, with stdin from /dev/null and stderr
 * discarded (it may echo secrets; what went wrong is told by the exit
 * status).  Its stdout is either discarded or read up to a cap, always
 * into sodium_malloc memory that is wiped when freed: the one command
 * whose output we keep prints a secret.  A deadline ends it: SIGTERM to
 * the whole process group, then SIGKILL after a grace period.
 *
 * Every run belongs to a struct agent_spawns set (one per agent), so that
 * agent_spawns_kill_all() can end the children when the agent stops and
 * the loop is not held open by a hanging command.  As in libuv, a call
 * that fails never fires its callback, and the callback never runs inside
 * the call that started the run.
 */
#ifndef XO_ACCOUNT_SPAWN_H
#define XO_ACCOUNT_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "secret/secret.h"

struct agent_spawn;

/* The runs of one agent. */
struct agent_spawns {
	uv_loop_t *loop;
	struct agent_spawn *head;
	unsigned n;   /* runs not yet reaped, cancelled ones included */
	unsigned max; /* agent_spawn() refuses more than this many */
};

struct agent_spawn_opts {
	const char *cmd;   /* run with /bin/sh -c; copied */
	const char *label; /* for log lines, e.g. "work: notify_cmd"; copied */
	/* Extra "NAME=value" strings added to the agent's environment
	   (replacing a variable of the same name); NULL-terminated, may be
	   NULL.  Copied. */
	const char *const *env;
	size_t out_cap;	     /* bytes of stdout kept; 0: stdout discarded */
	uint64_t timeout_ms; /* then SIGTERM to the group; 0: 10 s */
};

struct agent_spawn_result {
	const char *label;   /* opts->label, for log lines */
	uint64_t timeout_ms; /* the deadline it had */
	int started;	     /* 0 when the command could not be started */
	int exited;	     /* 1: exited on its own; status holds its code */
	int status;	     /* exit status, when exited */
	int term_signal;     /* the signal that ended it, 0 if none */
	int timed_out;	     /* it ran into its deadline and was killed */
	int truncated;	     /* it printed more than out_cap bytes */
	/* What it printed on stdout, up to out_cap bytes (NUL-terminated),
	   or NULL when out_cap is 0.  Owned by the result: take it by
	   setting the pointer to NULL, else it is wiped after the
	   callback. */
	struct agent_plain *out;
};

/* Called once when the run has ended and its stdout is drained. */
typedef void (*agent_spawn_cb)(void *arg, struct agent_spawn_result *res);

void agent_spawns_init(struct agent_spawns *set, uv_loop_t *loop, unsigned max);

/*
 * Starts opts->cmd.  0, XO_ERR_BUSY (set->max runs already), XO_ERR_NOMEM,
 * XO_ERR_INVALID, or XO_ERR_IO when uv_spawn() fails (errno-like text in
 * the log).  *out, if out is not NULL, names the run for
 * agent_spawn_cancel() until the callback has run.
 */
int agent_spawn(struct agent_spawns *set, const struct agent_spawn_opts *opts,
		agent_spawn_cb cb, void *arg, struct agent_spawn **out);

/*
 * Forgets the callback (it will not run) and ends the command: SIGTERM to
 * its process group at once, SIGKILL after the grace period.  The memory
 * goes when the child is reaped.  NULL is a no-op.
 */
void agent_spawn_cancel(struct agent_spawn *s);

/*
 * Agent shutdown: cancels every run and sends SIGKILL to every process
 * group still running, so that the loop can end.  Callbacks do not run.
 */
void agent_spawns_kill_all(struct agent_spawns *set);

/*
 * Describes how a run ended, for people: "exited with status 3",
 * "timed out after 10 s and was killed", "was killed by signal 9",
 * "could not be started".  Never includes the output.
 */
void agent_spawn_describe(const struct agent_spawn_result *res, char *buf,
			  size_t len);

#endif
