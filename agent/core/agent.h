/*
 * agent.h: the services of one agent process (STYLE.md rule 9: one
 * struct agent owns everything, and callbacks reach it through
 * handle->data).
 *
 * daemon/ makes them at start-up and is the only code that sets these
 * fields; every room reads them.  What a room owns sits behind its own
 * opaque pointer (the accounts behind store, the vault's state behind
 * vault, the connections behind server) and is changed only through that
 * room's functions: agent/README.md has the map of the rooms and of which
 * way their calls go.
 */
#ifndef XO_CORE_AGENT_H
#define XO_CORE_AGENT_H

#include <uv.h>

struct agent_config;  /* config/config.h */
struct agent_shield;  /* secret/secret.h */
struct agent_http;    /* oauth/http.h */
struct agent_spawns;  /* account/spawn.h */
struct account_store; /* account/account.h */
struct agent_vault;   /* vault/vault.h */
struct agent_server;  /* core/server.h */
struct send_outbox;   /* send/send.h */

/* The command line (daemon/main.c). */
struct agent_options {
	const char *config_path;  /* -f, or NULL for the default */
	int foreground;		  /* -D or -d */
	int debug;		  /* -d */
	unsigned long lifetime_s; /* -t: default account lifetime, 0: none */
};

/* What core/ needs of the [agent] section and of the process's limits,
   set by daemon/ at start and after each reload, so that core/ does not
   read the config (PROTOCOL.md 6 says what a client meets). */
struct agent_limits {
	unsigned max_connections;  /* connections at once */
	unsigned idle_timeout_ms;  /* silence between requests */
	unsigned first_request_ms; /* from accept to the first request */
	unsigned frame_ms;	   /* from a frame's first byte to its last */
	unsigned wait_default_ms;  /* a request's wait when it names none */
};

struct agent {
	uv_loop_t *loop;
	struct agent_options opts;
	struct agent_limits limits;
	const struct agent_config *config; /* in force; a reload replaces it */
	struct agent_shield *shield;	   /* the key every secret is sealed
					      under */
	struct agent_http *http;	   /* libcurl on the loop */
	struct agent_spawns *spawns;	   /* commands the agent runs */
	struct account_store *store;	   /* the accounts */
	struct agent_vault *vault;	   /* the vault; NULL before it is
					      prepared */
	struct agent_server *server;	   /* the listener and connections */
	struct send_outbox *outbox;	   /* messages being sent */
	int stopping;			   /* set once, when the agent stops */
};

#endif
