/*
 * errors.c: names, messages and wire statuses of the XO_ERR_* codes, all
 * generated from the one list in <xoauth/xo_errors.h> so that adding an
 * error is a one-line change.
 */
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct err_entry {
	int code;
	uint32_t status;
	const char *name;
	const char *msg;
};

static const struct err_entry err_table[] = {
#define ERR_ENTRY_(name, code, status, msg) {(code), (status), #name, (msg)},
    XO_ERR_MAP(ERR_ENTRY_)
#undef ERR_ENTRY_
};

#define ERR_COUNT (sizeof(err_table) / sizeof(err_table[0]))

static const struct err_entry *err_find(int err)
{
	const struct err_entry *e = NULL;
	size_t i;

	for (i = 0; i < ERR_COUNT; i++) {
		if (err_table[i].code == err) {
			e = &err_table[i];
			break;
		}
	}
	return e;
}

const char *proto_err_name(int err)
{
	const struct err_entry *e = err_find(err);

	return e != NULL ? e->name : "UNKNOWN";
}

const char *proto_strerror(int err)
{
	const struct err_entry *e = err_find(err);

	return e != NULL ? e->msg : "unknown error";
}

uint32_t proto_status_from_err(int err)
{
	const struct err_entry *e = err_find(err);

	/* An error we do not know is still an error: never report it as 0. */
	return e != NULL ? e->status : proto_status_from_err(XO_ERR_INTERNAL);
}

int proto_status_to_err(uint32_t status)
{
	int err = XO_ERR_INTERNAL;
	size_t i;

	/* Several codes share a status; the table's order makes the first one
	 * the canonical code, so the mapping is stable as entries are added
	 * at the end. */
	for (i = 0; i < ERR_COUNT; i++) {
		if (err_table[i].status == status) {
			err = err_table[i].code;
			break;
		}
	}
	return err;
}

const char *proto_state_name(uint8_t state)
{
	static const char *const names[] = {
	    [PROTO_STATE_NEED_LOGIN] = "need-login",
	    [PROTO_STATE_ACTIVE] = "active",
	    [PROTO_STATE_REFRESHING] = "refreshing",
	    [PROTO_STATE_LOGIN_PENDING] = "login-pending",
	    [PROTO_STATE_RETRYING] = "retrying",
	    [PROTO_STATE_REAUTH] = "reauth",
	    [PROTO_STATE_CONFIG_ERROR] = "config-error",
	    [PROTO_STATE_IDLE] = "idle",
	};

	if (state >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[state];
}
