/*
 * proto_any.h: decodes a payload as a message of any type and encodes it
 * again, for the tests that go through every message type (test_proto.c,
 * the fuzz target, and proto_echo for the Python codec's tests).
 */
#ifndef XO_TESTS_PROTO_ANY_H
#define XO_TESTS_PROTO_ANY_H

#include <stdint.h>

#include "proto.h"

/* A decoded message; its strings point into the frame it came from. */
struct proto_any {
	uint8_t type;
	union {
		struct proto_query query;	  /* QUERY */
		struct proto_version version;	  /* VERSION */
		struct proto_token_req token_req; /* TOKEN request */
		struct proto_token_rep token_rep; /* TOKEN reply */
		/* REFRESH, REMOVE, LOGIN_WAIT, DELETE */
		struct proto_account_req account_req;
		struct proto_import_req import;		  /* IMPORT */
		struct proto_login_rep login;		  /* LOGIN reply */
		struct proto_failure failure;		  /* FAILURE */
		struct proto_login_start_req login_start; /* LOGIN_START */
		struct proto_login_code_req login_code;	  /* LOGIN_CODE */
		struct proto_add_req add;		  /* ADD */
		struct proto_doctor_req doctor_req;	  /* DOCTOR request */
		struct proto_passphrase_req passphrase;	  /* UNLOCK, EXPORT */
		struct proto_export export_rep;		  /* EXPORT reply */
		struct proto_restore_req restore;	  /* RESTORE */
		struct proto_send_req send;		  /* SEND */
		struct proto_send_data send_data;	  /* SEND_DATA */
		struct proto_send_end send_end;		  /* SEND_END */
		struct proto_sent sent;			  /* SENT reply */
		struct proto_list_req list_req;		  /* LIST request */
	} u;
	/* LIST reply: the entries, malloc'd; freed by proto_any_cleanup(). */
	struct proto_account_info *entries;
	uint32_t n_entries;
	/* ... and its other scopes' tokens, malloc'd likewise. */
	struct proto_scope_info *scopes;
	uint32_t n_scopes;
	/* DOCTOR reply: the findings, malloc'd likewise. */
	struct proto_finding *findings;
	uint32_t n_findings;
};

/*
 * Decodes r's payload as a message of type into m with the codec's
 * decoder for that type (LOCK requests and SUCCESS have no body: the
 * payload must be empty).  Returns the decoder's result (0,
 * XO_ERR_MSG_BAD, XO_ERR_MSG_TRUNCATED), XO_ERR_NOMEM, or 1 for a type
 * that has no decoder.  Call proto_any_cleanup() whatever it returns.
 */
int proto_any_decode(uint8_t type, struct proto_reader *r, struct proto_any *m);
void proto_any_cleanup(struct proto_any *m);

/* Called with each text field of a message as proto_any_encode() writes
 * it. */
typedef void (*proto_any_str_cb)(struct proto_str s, void *arg);

/*
 * Encodes m, as proto_any_decode() filled it, into w with the codec's
 * encoder for its type, calling cb (when not NULL) with every text
 * field on the way.  Returns the encoder's result (0 or the writer's
 * error), or 1 for a type that has no encoder.  The encoding is
 * canonical: a frame that decoded comes out byte for byte the same.
 */
int proto_any_encode(const struct proto_any *m, struct proto_writer *w,
		     proto_any_str_cb cb, void *arg);

#endif
