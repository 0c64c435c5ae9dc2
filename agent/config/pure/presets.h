/*
 * presets.h: provider presets, a data table of what each `provider = NAME`
 * fills in (xoauth.conf(5), "PROVIDERS").  Internal to the agent; parse.c
 * applies them, explicit keys win.
 */
#ifndef XO_CONFIG_PURE_PRESETS_H
#define XO_CONFIG_PURE_PRESETS_H

#include <stddef.h>

enum agent_flow {
	AGENT_FLOW_DEVICE = 0,
	AGENT_FLOW_BROWSER,
	AGENT_FLOW_PASTE,
	AGENT_FLOW_CLIENT_CREDENTIALS,
	AGENT_FLOW_COUNT
};

struct agent_preset {
	const char *name;
	/* Endpoints; "{tenant}" stands for the account's tenant.  NULL when
	   the provider has none (or none that works for mail). */
	const char *authorization_endpoint;
	const char *token_endpoint;
	const char *device_authorization_endpoint;
	const char *scopes;	  /* delegated flows (device, browser, paste) */
	const char *app_scopes;	  /* client_credentials */
	const char *redirect_uri; /* for the paste flow; may be NULL */
	const char *default_tenant; /* NULL: the provider takes no tenant */
	/* Extra authorization request parameters ("k=v&k=v", no encoding
	   needed) for the browser and paste flows.  NULL: OpenID Connect's
	   rule, prompt=consent when the scopes ask for offline_access. */
	const char *authz_extra;
	enum agent_flow default_flow;
	/* Sending (xoauth.conf(5), "send"): where SMTP submission is, and
	   the APIs that send without it.  NULL where there is none. */
	const char *smtp;	     /* HOST:PORT */
	const char *graph_endpoint;  /* Microsoft Graph v1.0 */
	const char *graph_scope;     /* delegated Mail.Send */
	const char *app_graph_scope; /* client_credentials: .default */
	const char *gmail_endpoint;  /* Gmail API v1 */
	/* Why the provider refuses a flow, NULL where it does not. */
	const char *refused[AGENT_FLOW_COUNT];
};

/* The preset called name (exact match), or NULL. */
const struct agent_preset *agent_preset_find(const char *name);

/* The i-th preset, for listing; NULL past the end. */
const struct agent_preset *agent_preset_at(size_t i);

/* 1 for the Microsoft identity platform presets (they take a tenant). */
int agent_preset_is_microsoft(const struct agent_preset *p);

/* The config name of a flow ("device", ...), or NULL if out of range. */
const char *agent_flow_name(enum agent_flow f);

/* Parses a flow name; 0, or XO_ERR_INVALID for an unknown one. */
int agent_flow_parse(const char *s, enum agent_flow *out);

/*
 * Copies tmpl with every "{tenant}" replaced by tenant (which may be NULL
 * when tmpl has none) into a new string in *out, which the caller frees.
 * 0, XO_ERR_INVALID (placeholder without a tenant) or XO_ERR_NOMEM.
 */
int agent_preset_expand(const char *tmpl, const char *tenant, char **out);

#endif
