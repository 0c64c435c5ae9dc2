/*
 * spawn.c: shell commands on the agent's loop (spawn.h).
 *
 * A run owns three handles: the process, the stdout pipe (when stdout is
 * kept) and a timer for its deadline.  It is over when the process has
 * been reaped and the pipe is closed; then the callback runs once, the
 * handles close, and the memory goes in the last close callback (libuv:
 * "handle memory freed only in its close callback").
 *
 * The child calls setsid() (UV_PROCESS_DETACHED), so its pid is also its
 * process group id and kill(-pid, ...) reaches whatever the shell started.
 * Signals go to the group only while the shell has not been reaped, or
 * while something of the group still holds the pipe open: a process group
 * id stays in use (and is not handed out again) while any member lives.
 */
/* close_range() needs _GNU_SOURCE, which the build defines. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xoauth/xo_errors.h>

#include "core/log.h"
#include "account/spawn.h"
#include "secret/buf.h"

extern char **environ;

#define DEFAULT_TIMEOUT_MS 10000
/* Between SIGTERM and SIGKILL. */
#define GRACE_MS 2000
#define SCRATCH 4096

struct agent_spawn {
	struct agent_spawn *next;
	struct agent_spawns *set;
	char *label;
	agent_spawn_cb cb;
	void *arg;
	uint64_t timeout_ms;

	uv_process_t proc;
	uv_pipe_t pipe;
	uv_timer_t timer;
	int handles;   /* initialised and not yet closed */
	int pipe_open; /* stdout is read and the pipe not closing */
	int reaped;    /* the exit callback has run */
	int finished;  /* over: the timer is closing, cb ran if set */
	int killed;    /* SIGKILL was sent */
	int term_sent; /* SIGTERM was sent */

	struct agent_spawn_result res;
	size_t out_cap, out_len;
	/* Stdout beyond the cap, read to be thrown away: it may be more of
	   the secret, and consuming it wipes it. */
	struct agent_buf scratch;
};

void agent_spawns_init(struct agent_spawns *set, uv_loop_t *loop, unsigned max)
{
	memset(set, 0, sizeof(*set));
	set->loop = loop;
	set->max = max;
}

static void spawn_free(struct agent_spawn *s)
{
	struct agent_spawn **pp;

	for (pp = &s->set->head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	s->set->n--;
	agent_plain_free(s->res.out);
	agent_buf_cleanup(&s->scratch);
	free(s->label);
	free(s);
}

static void on_closed(uv_handle_t *h)
{
	struct agent_spawn *s = h->data;

	if (--s->handles == 0)
		spawn_free(s);
}

static void close_pipe(struct agent_spawn *s)
{
	if (!s->pipe_open)
		return;
	s->pipe_open = 0;
	uv_read_stop((uv_stream_t *)&s->pipe);
	uv_close((uv_handle_t *)&s->pipe, on_closed);
}

static void signal_group(struct agent_spawn *s, int sig)
{
	/* See the top of the file for when the group may be signalled. */
	if (s->proc.pid <= 0 || (s->reaped && !s->pipe_open))
		return;
	if (kill(-s->proc.pid, sig) != 0 && errno != ESRCH)
		log_debug("%s: kill(-%d, %d): %s", s->label, s->proc.pid, sig,
			  strerror(errno));
	if (sig == SIGKILL)
		s->killed = 1;
	else
		s->term_sent = 1;
}

/* Delivers the result once the process is reaped and stdout drained. */
static void maybe_finish(struct agent_spawn *s)
{
	struct agent_spawn_result *res = &s->res;

	if (!s->reaped || s->pipe_open || s->finished)
		return;
	s->finished = 1;
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, on_closed);
	if (res->out != NULL) {
		res->out->data[s->out_len] = '\0';
		res->out->len = s->out_len;
	}
	log_debug("%s: ended (%s %d%s)", s->label,
		  res->exited ? "status" : "signal",
		  res->exited ? res->status : res->term_signal,
		  res->timed_out ? ", timed out" : "");
	if (s->cb != NULL) {
		agent_spawn_cb cb = s->cb;

		s->cb = NULL;
		cb(s->arg, res);
	}
}

static void on_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
	struct agent_spawn *s = p->data;

	s->reaped = 1;
	s->res.term_signal = term_signal;
	s->res.exited = term_signal == 0;
	s->res.status = (int)exit_status;
	uv_close((uv_handle_t *)&s->proc, on_closed);
	maybe_finish(s);
}

static void on_timer(uv_timer_t *t)
{
	struct agent_spawn *s = t->data;

	if (s->reaped || s->killed) {
		/* The shell is gone but something it started still holds
		   stdout: end the rest of the group and stop waiting. */
		signal_group(s, SIGKILL);
		close_pipe(s);
		maybe_finish(s);
		return;
	}
	if (!s->term_sent) {
		s->res.timed_out = 1;
		if (s->cb != NULL)
			log_info("%s: still running after %llu s: stopping it",
				 s->label,
				 (unsigned long long)(s->timeout_ms / 1000));
		signal_group(s, SIGTERM);
		uv_timer_start(&s->timer, on_timer, GRACE_MS, 0);
		return;
	}
	signal_group(s, SIGKILL);
	/* A child that ignores even this holds nothing we wait for. */
	close_pipe(s);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct agent_spawn *s = h->data;

	(void)hint;
	if (s->out_len < s->out_cap) {
		buf->base = s->res.out->data + s->out_len;
		buf->len = s->out_cap - s->out_len;
	} else {
		buf->base = (char *)agent_buf_tail(&s->scratch, &buf->len);
	}
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct agent_spawn *s = st->data;

	if (nread > 0) {
		if (buf->base == (char *)s->scratch.data) {
			s->res.truncated = 1;
			agent_buf_advance(&s->scratch, (size_t)nread);
			agent_buf_consume(&s->scratch, s->scratch.len);
		} else {
			s->out_len += (size_t)nread;
		}
		return;
	}
	if (nread == 0) /* EAGAIN */
		return;
	if (nread != UV_EOF)
		log_debug("%s: reading its output: %s", s->label,
			  uv_strerror((int)nread));
	close_pipe(s);
	maybe_finish(s);
}

/*
 * Marks every descriptor from 3 up close-on-exec, so that a command
 * inherits none of the agent's: libuv opens its own with O_CLOEXEC, but
 * libcurl's sockets to the providers (kept alive in its connection cache)
 * and its wake-up socketpair are left inheritable.  Harmless for the agent,
 * which execs nothing else.
 */
static void cloexec_all(void)
{
	DIR *d;
	struct dirent *e;
	long fd;
	char *end;
	int flags;

#ifdef CLOSE_RANGE_CLOEXEC
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
#endif
	/* Kernels before 5.11. */
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		fd = strtol(e->d_name, &end, 10);
		if (*end != '\0' || end == e->d_name || fd < 3 ||
		    fd == dirfd(d))
			continue;
		if ((flags = fcntl((int)fd, F_GETFD)) >= 0 &&
		    !(flags & FD_CLOEXEC))
			fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
	}
	closedir(d);
}

/* environ without the names in extra, then extra; NULL-terminated.  The
   strings are not copied: they only need to live through uv_spawn(). */
static char **build_env(const char *const *extra)
{
	size_t n = 0, m = 0, i, j, k = 0;
	char **env;

	while (environ != NULL && environ[n] != NULL)
		n++;
	while (extra != NULL && extra[m] != NULL)
		m++;
	if ((env = calloc(n + m + 1, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		size_t nl = strcspn(environ[i], "=");
		int replaced = 0;

		for (j = 0; j < m && !replaced; j++)
			replaced = strncmp(environ[i], extra[j], nl) == 0 &&
				   extra[j][nl] == '=';
		if (!replaced)
			env[k++] = environ[i];
	}
	for (j = 0; j < m; j++)
		env[k++] = (char *)extra[j];
	env[k] = NULL;
	return env;
}

int agent_spawn(struct agent_spawns *set, const struct agent_spawn_opts *opts,
		agent_spawn_cb cb, void *arg, struct agent_spawn **out)
{
	struct agent_spawn *s = NULL;
	uv_process_options_t po;
	uv_stdio_container_t stdio[3];
	char *argv[4], **env = NULL;
	int r, uvr;

	if (out != NULL)
		*out = NULL;
	if (set == NULL || opts == NULL || opts->cmd == NULL || cb == NULL)
		return XO_ERR_INVALID;
	if (set->n >= set->max) {
		log_error("%s: not run: %u commands are already running",
			  opts->label != NULL ? opts->label : "command",
			  set->n);
		return XO_ERR_BUSY;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return XO_ERR_NOMEM;
	s->set = set;
	s->cb = cb;
	s->arg = arg;
	s->timeout_ms =
	    opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	s->out_cap = opts->out_cap;
	s->res.timeout_ms = s->timeout_ms;
	agent_buf_init(&s->scratch, SCRATCH);
	r = XO_ERR_NOMEM;
	if ((s->label =
		 strdup(opts->label != NULL ? opts->label : "command")) == NULL)
		goto fail_early;
	s->res.label = s->label;
	/* The scratch is reserved whole now, so that reading never fails
	   for want of it. */
	if (s->out_cap > 0 && (agent_plain_new(s->out_cap, &s->res.out) != 0 ||
			       agent_buf_reserve(&s->scratch, SCRATCH) != 0))
		goto fail_early;
	if ((env = build_env(opts->env)) == NULL)
		goto fail_early;

	s->next = set->head;
	set->head = s;
	set->n++;
	uv_timer_init(set->loop, &s->timer);
	s->timer.data = s;
	s->handles = 1;
	s->proc.data = s;
	s->pipe.data = s;
	memset(stdio, 0, sizeof(stdio));
	/* UV_IGNORE on 0-2 gives the child /dev/null (libuv, uv_spawn). */
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_IGNORE;
	stdio[2].flags = UV_IGNORE;
	if (s->out_cap > 0) {
		uv_pipe_init(set->loop, &s->pipe, 0);
		s->handles++;
		s->pipe_open = 1;
		stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
		stdio[1].data.stream = (uv_stream_t *)&s->pipe;
	}
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = (char *)opts->cmd;
	argv[3] = NULL;
	memset(&po, 0, sizeof(po));
	po.file = argv[0];
	po.args = argv;
	po.env = env;
	po.exit_cb = on_exit_cb;
	po.flags = UV_PROCESS_DETACHED;
	po.stdio_count = 3;
	po.stdio = stdio;
	cloexec_all();
	uvr = uv_spawn(set->loop, &s->proc, &po);
	free(env);
	/* Since libuv 1.24 the process handle must be closed even when
	   uv_spawn() fails. */
	s->handles++;
	if (uvr != 0) {
		log_error("%s: cannot run /bin/sh: %s", s->label,
			  uv_strerror(uvr));
		s->finished = 1;
		s->reaped = 1;
		close_pipe(s);
		uv_close((uv_handle_t *)&s->proc, on_closed);
		uv_close((uv_handle_t *)&s->timer, on_closed);
		return XO_ERR_IO;
	}
	s->res.started = 1;
	log_debug("%s: started (pid %d)", s->label, s->proc.pid);
	if (s->pipe_open && (uvr = uv_read_start((uv_stream_t *)&s->pipe,
						 on_alloc, on_read)) != 0) {
		log_error("%s: cannot read its output: %s", s->label,
			  uv_strerror(uvr));
		close_pipe(s);
	}
	uv_timer_start(&s->timer, on_timer, s->timeout_ms, 0);
	if (out != NULL)
		*out = s;
	return 0;

fail_early:
	agent_plain_free(s->res.out);
	agent_buf_cleanup(&s->scratch);
	free(s->label);
	free(s);
	return r;
}

void agent_spawn_cancel(struct agent_spawn *s)
{
	if (s == NULL || s->finished)
		return;
	s->cb = NULL;
	/* The run goes on to its end without anyone to tell: the exit
	   callback and maybe_finish() close the handles as usual. */
	if (!s->reaped && !s->term_sent) {
		signal_group(s, SIGTERM);
		uv_timer_stop(&s->timer);
		uv_timer_start(&s->timer, on_timer, GRACE_MS, 0);
	}
}

void agent_spawns_kill_all(struct agent_spawns *set)
{
	struct agent_spawn *s;

	struct agent_spawn *next;

	/* maybe_finish() may free nothing here (the handles close later),
	   but read next first all the same. */
	for (s = set->head; s != NULL; s = next) {
		next = s->next;
		if (s->finished)
			continue;
		s->cb = NULL;
		if (!s->reaped)
			signal_group(s, SIGKILL);
		close_pipe(s);
		maybe_finish(s);
	}
}

void agent_spawn_describe(const struct agent_spawn_result *res, char *buf,
			  size_t len)
{
	uint64_t timeout_ms = res->timeout_ms;

	if (!res->started)
		snprintf(buf, len, "could not be started");
	else if (res->timed_out)
		snprintf(buf, len,
			 "did not finish within %llu s and was killed",
			 (unsigned long long)((timeout_ms + 999) / 1000));
	else if (res->exited)
		snprintf(buf, len, "exited with status %d", res->status);
	else
		snprintf(buf, len, "was killed by signal %d (%s)",
			 res->term_signal, strsignal(res->term_signal));
}
