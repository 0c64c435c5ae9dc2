/*
 * config_internal.h: what the files of the config parser share
 * (file.c, pure/parse.c, pure/values.c).  Not for the rest of the
 * agent, which uses config.h.
 */
#ifndef XO_CONFIG_CONFIG_INTERNAL_H
#define XO_CONFIG_CONFIG_INTERNAL_H

#include <stddef.h>

#include "config/config.h"

/* The largest config file read. */
#define CONFIG_MAX_SIZE (1024 * 1024)
/* The longest e-mail address (RFC 5321's path limit). */
#define EMAIL_MAX 254

/* An empty config with the [agent] defaults. */
struct agent_config *config_new(void);

/*
 * Copies len bytes of s (at most max of them, then "...") to dst, with
 * anything but printable ASCII written as \xNN, so that a message never
 * carries a terminal escape or a byte that breaks a log line.
 */
void config_escape_n(char *dst, size_t dstlen, const char *s, size_t len,
		     size_t max);
void config_escape(char *dst, size_t dstlen, const char *s, size_t max);
/* snprintf into err, when there is one. */
void config_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int config_is_blank(char c);
/* The known key closest to name (or the key another tool's name for it
   means), if close enough to be a typo; or NULL. */
const char *config_suggest(const char *name, const char *const *known,
			   size_t n);
/* The first control byte of s (tab included), or NULL. */
const char *config_find_control(const char *s);
/* NULL when u is an acceptable endpoint (https, or http to a loopback
   address), else what is wrong. */
const char *config_check_url(const char *u);
int config_is_guid(const char *s);
int config_is_tenant(const char *s);
/* common, organizations, consumers: tenants shared by many. */
int config_is_shared_tenant(const char *t);
int config_is_email(const char *s);
/* Checks the scope tokens (RFC 6749 3.3) and joins them by single spaces
   in *out (malloc); on a bad token *out is NULL and *bad points at it. */
int config_normalise_scopes(const char *v, char **out, const char **bad);

#endif
