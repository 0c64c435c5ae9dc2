/*
 * run.c: the agent's life from start to stop, and the wiring of its rooms
 * (agent/README.md): the account store asks the vault to write through
 * struct account_hooks, the server finds accounts and asks whether the
 * agent is locked through the request table's hooks.  Only this file sets
 * the fields of struct agent.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <curl/curl.h>

#include "account/account.h"
#include "config/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/server.h"
#include "core/systemd.h"
#include "core/test_hooks.h"
#include "daemon/daemon.h"
#include "oauth/http.h"
#include "secret/secret.h"
#include "secret/wipe_alloc.h"
#include "send/send.h"
#include "vault/vault.h"

/* Commands at once, all accounts together: enough for every account's
   hook to fire, few enough that a storm cannot fork-bomb the user. */
#define MAX_COMMANDS 32

/* Files kept for what is not a client: libcurl's sockets, the vault,
   commands' pipes, the listener, the log. */
#define FD_RESERVE 256
/* The most connections the agent takes by itself ([agent] max_connections
   unset): some 2 KiB each, so at most a few hundred MiB. */
#define AUTO_MAX_CONNECTIONS 65536
/* A new connection's first request, and any frame once begun, must be
   whole this soon (PROTOCOL.md 6). */
#define FIRST_REQUEST_MS 10000
#define FRAME_MS 10000
/* The longest the shield's key stays readable after its first use. */
#define SHIELD_HOLD_MS 50

/* How many connections there is room for: the configured number, else
   as many as the open-file limit leaves after FD_RESERVE. */
static unsigned max_connections(const struct daemon *d,
				const struct agent_config *cfg)
{
	unsigned long room = d->fd_limit > 2 * FD_RESERVE
				 ? d->fd_limit - FD_RESERVE
				 : d->fd_limit / 2;

	if (cfg->max_connections == 0)
		return room < AUTO_MAX_CONNECTIONS ? (unsigned)room
						   : AUTO_MAX_CONNECTIONS;
	if (cfg->max_connections > room) {
		log_error("max_connections = %u is more than the open-file "
			  "limit leaves room for: %lu",
			  cfg->max_connections, room);
		return (unsigned)room;
	}
	return cfg->max_connections;
}

void daemon_use_config(struct daemon *d, struct agent_config *cfg)
{
	d->config = cfg;
	d->a.config = cfg;
	d->a.limits.max_connections = max_connections(d, cfg);
	d->a.limits.idle_timeout_ms = cfg->idle_timeout_ms;
	d->a.limits.first_request_ms = FIRST_REQUEST_MS;
	d->a.limits.frame_ms = FRAME_MS;
	d->a.limits.wait_default_ms = cfg->wait_default_ms;
}

/* ---- the account store's hooks: the vault ---- */

static uint64_t hook_persist(void *arg, const char *name, bool mark_only)
{
	return mark_only ? vault_persist_mark(arg, name)
			 : vault_persist(arg, name);
}

static int hook_locked(void *arg)
{
	return vault_locked(arg);
}

static const char *hook_problem(void *arg)
{
	return vault_problem(arg);
}

static void daemon_stop(struct daemon *d)
{
	struct agent *a = &d->a;

	if (a->stopping)
		return;
	a->stopping = 1;
	log_info("stopping");
	agent_systemd_notify("STOPPING=1");
	agent_server_close(a->server);
	agent_server_close(d->restricted);
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_hup, NULL);
	uv_close((uv_handle_t *)&d->parent_check, NULL);
	if (d->parent_fd >= 0) {
		uv_poll_stop(&d->parent_watch);
		close(d->parent_fd);
		d->parent_fd = -1;
		uv_close((uv_handle_t *)&d->parent_watch, NULL);
	}
#ifdef XO_TEST_HOOKS
	uv_close((uv_handle_t *)&d->sig_suspend, NULL);
#endif
	uv_close((uv_handle_t *)&d->shield_watch, NULL);
	uv_close((uv_handle_t *)&d->shield_close, NULL);
	/* What the vault has not written yet is sealed while the accounts
	   are still there. */
	vault_stop(a);
	account_store_stop(a->store);
	/* A hanging secret or notify command must not keep the loop (and
	   so the agent) alive. */
	agent_spawns_kill_all(&d->spawns);
	agent_http_free(a->http);
	a->http = NULL;
	/* A socket systemd made stays for the next activation. */
	if (d->socket_path != NULL && !d->socket_from_systemd)
		unlink(d->socket_path);
	if (d->socket_dir != NULL)
		rmdir(d->socket_dir);
	if (d->restricted_path != NULL)
		unlink(d->restricted_path);
}

void daemon_reload(struct daemon *d)
{
	struct agent_config *cfg = NULL;
	struct agent_err err;

	agent_err_clear(&err);
	if (agent_config_load(d->config_path, d->config_must_exist, &cfg,
			      err.msg, sizeof(err.msg)) != 0 ||
	    account_store_reload(d->a.store, cfg, &err) != 0) {
		if (err.code == XO_ERR_NOMEM)
			log_error("%s", err.msg);
		else
			log_error("reload refused, keeping the old "
				  "configuration: %s",
				  agent_err_text(&err));
		agent_config_free(cfg);
		return;
	}
	agent_config_forget_secrets(cfg);
	agent_config_free(d->config);
	daemon_use_config(d, cfg);
	/* Tokens the vault kept for an account the file lacked go to it
	   now, and those of accounts gone stay in the vault. */
	vault_reloaded(&d->a);
	account_store_schedule(d->a.store);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	if (signum == SIGHUP) {
		log_info("SIGHUP: reloading %s",
			 d->config_path ? d->config_path : "(no file)");
		agent_systemd_notify("RELOADING=1");
		daemon_reload(d);
		agent_systemd_notify("READY=1");
		return;
	}
	daemon_stop(d);
}

static void on_shield_close(uv_timer_t *t)
{
	struct daemon *d = t->data;

	agent_shield_close(d->a.shield);
}

/*
 * Runs in every turn of the loop just before it waits for events: a key
 * that a seal or an open made readable during this turn is made unreadable
 * again SHIELD_HOLD_MS later (secret.h, docs/SECURITY.md), whatever came
 * in between.  So the key is never readable for longer than that after
 * its first use, an idle agent holds it PROT_NONE, and a stream of
 * requests pays for one pair of mprotect() calls per SHIELD_HOLD_MS
 * rather than per request.
 */
static void on_shield_watch(uv_prepare_t *p)
{
	struct daemon *d = p->data;

	if (agent_shield_is_open(d->a.shield) &&
	    !uv_is_active((uv_handle_t *)&d->shield_close))
		uv_timer_start(&d->shield_close, on_shield_close,
			       SHIELD_HOLD_MS, 0);
}

static void on_parent_check(uv_timer_t *t)
{
	struct daemon *d = t->data;

	/* Command mode: the command is our parent; when it has gone, so
	   do we. */
	if (getppid() != d->parent_pid)
		daemon_stop(d);
}

static void on_parent_exit(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	/* A pidfd becomes readable when its process has ended. */
	daemon_stop(p->data);
}

/*
 * Command mode: the agent ends with the command, its parent.  A pidfd of
 * the parent wakes the loop only when it exits; a kernel without pidfds
 * (before Linux 5.3) gets the check every second instead, which is the
 * one periodic wake-up left then.
 */
static void watch_parent(struct daemon *d)
{
	struct agent *a = &d->a;
	int fd = (int)syscall(SYS_pidfd_open, d->parent_pid, 0);

	if (fd >= 0 && getppid() != d->parent_pid) {
		/* It ended before the pidfd was made, and its pid may be
		   another process's by now. */
		close(fd);
		daemon_stop(d);
		return;
	}
	if (fd >= 0 && uv_poll_init(a->loop, &d->parent_watch, fd) == 0) {
		d->parent_fd = fd;
		d->parent_watch.data = d;
		uv_poll_start(&d->parent_watch, UV_READABLE, on_parent_exit);
		return;
	}
	if (fd >= 0)
		close(fd);
	else if (errno == ESRCH) {
		daemon_stop(d);
		return;
	}
	uv_timer_start(&d->parent_check, on_parent_check, 1000, 1000);
}

#ifdef XO_TEST_HOOKS
/* A simulated suspend has ended (core/test_hooks.h): the deadlines are
   planned again on the clock that moved, as the kernel's CLOCK_BOOTTIME
   timers fire by themselves on a real resume. */
static void on_suspend_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	(void)signum;
	if (agent_test_suspend() == 0)
		account_store_schedule(d->a.store);
}
#endif

/* Makes every room and starts serving; 0, or the reason in err. */
static int start(struct daemon *d, int listen_fd, struct agent_err *err)
{
	struct agent *a = &d->a;
	struct account_hooks hooks = {
	    .arg = a,
	    .persist = hook_persist,
	    .locked = hook_locked,
	    .problem = hook_problem,
	};
	int r;

	agent_spawns_init(&d->spawns, a->loop, MAX_COMMANDS);
	a->spawns = &d->spawns;
	/* Before anything uses OpenSSL or libcurl: from here on both wipe
	   what they free (their buffers hold the tokens). */
	if (agent_wipe_alloc_install() != 0)
		return agent_err_set(err, XO_ERR_INTERNAL,
				     "cannot initialise libcurl and OpenSSL "
				     "with a wiping allocator");
	if ((r = agent_shield_new(&a->shield)) != 0 ||
	    (r = agent_http_new(a->loop, &a->http)) != 0 ||
	    (r = account_store_new(a, &a->store)) != 0 ||
	    (r = send_outbox_new(a)) != 0)
		return agent_err_code(err, r);
	account_store_set_hooks(a->store, &hooks);
	if ((r = account_store_load(a->store, a->config)) != 0)
		return agent_err_code(err, r);
	/* The accounts hold the client secrets sealed now. */
	agent_config_forget_secrets(d->config);
	if ((r = vault_start(a, err)) != 0)
		return r;
	if ((r = agent_server_new(a, &daemon_requests, &a->server)) != 0 ||
	    (r = agent_server_listen(a->server, listen_fd)) != 0)
		return agent_err_code(err, r);
	if (d->restricted_fd >= 0) {
		if ((r = agent_server_new(a, &daemon_requests,
					  &d->restricted)) != 0)
			return agent_err_code(err, r);
		agent_server_restrict(d->restricted);
		r = agent_server_listen(d->restricted, d->restricted_fd);
		d->restricted_fd = -1; /* transferred */
		if (r != 0)
			return agent_err_code(err, r);
	}
	return 0;
}

int daemon_run(struct daemon *d, int listen_fd, int command_mode)
{
	struct agent *a = &d->a;
	struct agent_err err;

	a->loop = uv_default_loop();
	agent_err_clear(&err);
	if (start(d, listen_fd, &err) != 0) {
		log_error("cannot start: %s", agent_err_text(&err));
		return 1;
	}
	uv_signal_init(a->loop, &d->sig_term);
	uv_signal_init(a->loop, &d->sig_int);
	uv_signal_init(a->loop, &d->sig_hup);
	d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
	uv_signal_start(&d->sig_term, on_signal, SIGTERM);
	uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
	if (a->opts.foreground)
		uv_signal_start(&d->sig_int, on_signal, SIGINT);
	uv_timer_init(a->loop, &d->parent_check);
	d->parent_check.data = d;
#ifdef XO_TEST_HOOKS
	uv_signal_init(a->loop, &d->sig_suspend);
	d->sig_suspend.data = d;
	uv_signal_start(&d->sig_suspend, on_suspend_signal, SIGUSR2);
#endif
	uv_prepare_init(a->loop, &d->shield_watch);
	uv_timer_init(a->loop, &d->shield_close);
	d->shield_watch.data = d->shield_close.data = d;
	uv_prepare_start(&d->shield_watch, on_shield_watch);
	/* They keep nothing alive: the loop ends when the rest has. */
	uv_unref((uv_handle_t *)&d->shield_watch);
	uv_unref((uv_handle_t *)&d->shield_close);
	account_store_schedule(a->store);
	if (command_mode)
		watch_parent(d);
	log_info("listening on %s with %zu accounts%s", d->socket_path,
		 account_store_size(a->store),
		 d->socket_from_systemd ? " (socket from systemd)" : "");
	if (d->restricted != NULL)
		log_info("token requests only on %s", d->restricted_path);
	agent_systemd_notify("READY=1");

	uv_run(a->loop, UV_RUN_DEFAULT);
	/* Flush the close callbacks of everything stopped above. */
	uv_run(a->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(a->loop) != 0)
		log_debug("loop closed with handles still open");
	agent_server_free(a->server);
	agent_server_free(d->restricted);
	account_store_free(a->store);
	send_outbox_free(a);
	vault_free(a);
	agent_shield_free(a->shield);
	agent_config_free(d->config);
	d->config = NULL;
	a->config = NULL;
	curl_global_cleanup();
	return 0;
}
