/*
 * The request table of the daemon (daemon/requests.c) as dispatch runs
 * it, for every request type the table has: a malformed payload gets
 * MSG_BAD and the connection stays open, an unknown account NO_ACCOUNT
 * with its name quoted, and a locked agent LOCKED for everything but
 * what may work locked, before the request is even decoded.
 *
 * The tests iterate over the table's entries, so that a request type
 * added later is covered as soon as build_request() can encode it (and
 * fails until it can).  The agent is a loop, a shield, libcurl and an
 * account store with one account; it has no vault (a->vault NULL: never
 * locked), so a locked agent is the same table with a locked hook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "account/account.h"
#include "config/config.h"
#include "core/agent.h"
#include "core/conn.h"
#include "core/dispatch.h"
#include "core/log.h"
#include "core/server.h"
#include "daemon/daemon.h"
#include "loop_client.h"
#include "oauth/http.h"
#include "secret/secret.h"

static const char config_text[] =
    "[account work]\n"
    "provider = generic\n"
    "email = work@example.org\n"
    "client_id = cid-work\n"
    "token_endpoint = http://127.0.0.1:9/token\n"
    "device_authorization_endpoint = http://127.0.0.1:9/device\n"
    "scopes = mail\n"
    "flow = device\n";

#define FRAME_MAX 4096

struct fixture {
	uv_loop_t loop;
	struct agent a;
	struct agent_config *cfg;
	struct request_entry *locked_entries;
	struct dispatch_table locked_table; /* daemon_requests, locked */
	struct agent_server *server;	    /* serves daemon_requests */
	struct agent_server *locked_server; /* serves locked_table */
};

static int always_locked(struct agent *a)
{
	(void)a;
	return 1;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	size_t i;

	if (f == NULL || sodium_init() < 0)
		return -1;
	agent_log_init("test_dispatch", LOG_LEVEL_ERROR, 1);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->a.loop = &f->loop;
	f->a.limits.max_connections = 8;
	f->a.limits.idle_timeout_ms = 60000;
	f->a.limits.first_request_ms = 60000;
	f->a.limits.frame_ms = 60000;
	f->a.limits.wait_default_ms = 10000;
	assert_int_equal(agent_shield_new(&f->a.shield), 0);
	assert_int_equal(agent_http_new(&f->loop, &f->a.http), 0);
	assert_int_equal(account_store_new(&f->a, &f->a.store), 0);
	assert_int_equal(agent_config_parse("test", config_text,
					    strlen(config_text), &f->cfg, err,
					    sizeof(err)),
			 0);
	f->a.config = f->cfg;
	assert_int_equal(account_store_load(f->a.store, f->a.config), 0);
	assert_int_equal(agent_server_new(&f->a, &daemon_requests, &f->server),
			 0);
	/* The same entries, looked up as dispatch does, with a hook that
	   says the agent is locked. */
	f->locked_entries =
	    calloc(daemon_requests.n, sizeof(struct request_entry));
	assert_non_null(f->locked_entries);
	for (i = 0; i < daemon_requests.n; i++)
		f->locked_entries[i] = *agent_request_entry(
		    &daemon_requests, daemon_requests.entries[i].type);
	f->locked_table.entries = f->locked_entries;
	f->locked_table.n = daemon_requests.n;
	f->locked_table.hooks.locked = always_locked;
	f->locked_table.hooks.find = daemon_requests.hooks.find;
	assert_int_equal(
	    agent_server_new(&f->a, &f->locked_table, &f->locked_server), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	agent_server_close(f->server);
	agent_server_close(f->locked_server);
	account_store_stop(f->a.store);
	agent_http_free(f->a.http);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	agent_server_free(f->server);
	agent_server_free(f->locked_server);
	account_store_free(f->a.store);
	agent_shield_free(f->a.shield);
	agent_config_free(f->cfg);
	free(f->locked_entries);
	free(f);
	return 0;
}

/* ---- well-formed requests of every type ---- */

/*
 * Encodes a well-formed request of type into buf, naming account where
 * the message names one; the frame's length, or 0 for a type this test
 * cannot encode yet (a new type: add it here).
 */
static size_t build_request(uint8_t type, const char *account,
			    unsigned char *buf, size_t cap)
{
	struct proto_str name = proto_str_c(account);
	struct proto_writer w;
	int r = -1;

	proto_writer_init(&w, buf, cap);
	switch (type) {
	case PROTO_REQ_QUERY: {
		struct proto_query m = {.version = PROTO_VERSION};

		r = proto_enc_query(&w, &m);
		break;
	}
	case PROTO_REQ_TOKEN: {
		struct proto_token_req m = {.account = name};

		r = proto_enc_token_req(&w, &m);
		break;
	}
	case PROTO_REQ_LIST:
	case PROTO_REQ_LOCK:
		r = proto_enc_account_req(&w, type, NULL);
		break;
	case PROTO_REQ_REFRESH:
	case PROTO_REQ_REMOVE:
	case PROTO_REQ_LOGIN_WAIT:
	case PROTO_REQ_DELETE: {
		struct proto_account_req m = {.account = name, .wait_ms = 10};

		r = proto_enc_account_req(&w, type, &m);
		break;
	}
	case PROTO_REQ_IMPORT: {
		struct proto_import_req m = {
		    .account = name, .refresh_token = proto_str_c("1//rt")};

		r = proto_enc_import_req(&w, &m);
		break;
	}
	case PROTO_REQ_LOGIN_START: {
		struct proto_login_start_req m = {.account = name,
						  .wait_ms = 10};

		r = proto_enc_login_start_req(&w, &m);
		break;
	}
	case PROTO_REQ_LOGIN_CODE: {
		struct proto_login_code_req m = {
		    .account = name, .response = proto_str_c("code")};

		r = proto_enc_login_code_req(&w, &m);
		break;
	}
	case PROTO_REQ_ADD: {
		struct proto_add_req m = {.name = proto_str_c("added"),
					  .count = 1};

		m.settings[0].key = proto_str_c("provider");
		m.settings[0].value = proto_str_c("generic");
		r = proto_enc_add_req(&w, &m);
		break;
	}
	case PROTO_REQ_DOCTOR: {
		struct proto_doctor_req m = {.account = name, .wait_ms = 10};

		r = proto_enc_doctor_req(&w, &m);
		break;
	}
	case PROTO_REQ_UNLOCK:
	case PROTO_REQ_EXPORT: {
		struct proto_passphrase_req m = {.passphrase =
						     proto_str_c("passphrase")};

		r = proto_enc_passphrase_req(&w, type, &m);
		break;
	}
	case PROTO_REQ_RESTORE: {
		struct proto_restore_req m = {
		    .data = {.count = 1, .chunks = {proto_str_c("AAAA")}},
		    .passphrase = proto_str_c("passphrase")};

		r = proto_enc_restore_req(&w, &m);
		break;
	}
	case PROTO_REQ_SEND: {
		struct proto_send_req m = {.account = name, .size = 10};

		r = proto_enc_send_req(&w, &m);
		break;
	}
	case PROTO_REQ_SEND_DATA: {
		struct proto_send_data m = {(const unsigned char *)"To: x\r\n",
					    7};

		r = proto_enc_send_data(&w, &m);
		break;
	}
	case PROTO_REQ_SEND_END: {
		struct proto_send_end m = {.wait_ms = 10};

		r = proto_enc_send_end(&w, &m);
		break;
	}
	default:
		return 0;
	}
	assert_int_equal(r, 0);
	assert_int_equal(buf[4], type);
	return w.len;
}

/* The well-formed request, or a failed test naming the type. */
static size_t must_build(uint8_t type, const char *account, unsigned char *buf)
{
	size_t len = build_request(type, account, buf, FRAME_MAX);

	if (len == 0)
		fail_msg("build_request() cannot encode request type %u: "
			 "add it",
			 type);
	return len;
}

static void set_length(unsigned char *frame, size_t frame_len)
{
	uint32_t n = (uint32_t)(frame_len - 4);

	frame[0] = (unsigned char)(n >> 24);
	frame[1] = (unsigned char)(n >> 16);
	frame[2] = (unsigned char)(n >> 8);
	frame[3] = (unsigned char)n;
}

/* The connection still serves: QUERY gets VERSION. */
static void expect_served(struct loop_client *c)
{
	unsigned char buf[FRAME_MAX];
	struct loop_frame fr;

	loop_client_write(c, buf, must_build(PROTO_REQ_QUERY, NULL, buf));
	assert_int_equal(loop_client_read(c, &fr, 5000), 1);
	assert_int_equal(fr.type, PROTO_REP_VERSION);
	loop_frame_cleanup(&fr);
}

static void expect_failure(struct loop_client *c, int err)
{
	free(loop_client_expect_failure(c, err));
}

/* The next reply is anything but a FAILURE with err's status: a request
   of type that should pass the gate err stands for did pass it. */
static void expect_not_refused(struct loop_client *c, uint8_t type, int err)
{
	struct loop_frame fr;
	struct proto_reader r;
	struct proto_failure fail;

	assert_int_equal(loop_client_read(c, &fr, 5000), 1);
	if (fr.type == PROTO_REP_FAILURE) {
		proto_reader_init(&r, fr.payload, fr.len);
		assert_int_equal(proto_dec_failure(&r, &fail), 0);
		if (fail.status == proto_status_from_err(err))
			fail_msg("request type %u should pass, yet got %s",
				 type, proto_err_name(err));
	}
	loop_frame_cleanup(&fr);
}

static bool works_locked_by_design(uint8_t type)
{
	return type == PROTO_REQ_QUERY || type == PROTO_REQ_LIST ||
	       type == PROTO_REQ_LOCK || type == PROTO_REQ_UNLOCK;
}

/* ---- the tests ---- */

static void table_has_an_entry_for_every_request_type(void **state)
{
	uint8_t t;
	size_t i, j;

	(void)state;
	for (t = PROTO_REQ_QUERY; t <= PROTO_REQ_SEND_END; t++)
		if (agent_request_entry(&daemon_requests, t) == NULL)
			fail_msg("no entry for request type %u", t);
	assert_int_equal(daemon_requests.n, 19);
	for (i = 0; i < daemon_requests.n; i++) {
		const struct request_entry *e = &daemon_requests.entries[i];

		assert_non_null(e->decode);
		assert_non_null(e->handle);
		/* One entry per type, and only requests. */
		assert_true(e->type >= 1 && e->type <= 127);
		for (j = 0; j < i; j++)
			assert_int_not_equal(daemon_requests.entries[j].type,
					     e->type);
	}
	assert_null(agent_request_entry(&daemon_requests, 0));
	assert_null(agent_request_entry(&daemon_requests, PROTO_REP_SUCCESS));
	assert_non_null(daemon_requests.hooks.locked);
	assert_non_null(daemon_requests.hooks.find);
}

static void
every_request_with_malformed_payload_gets_msg_bad_and_stays_open(void **state)
{
	struct fixture *f = *state;
	unsigned char buf[FRAME_MAX + 1];
	struct loop_client c;
	size_t i, len;

	loop_client_open(&c, f->server, &f->loop);
	for (i = 0; i < daemon_requests.n; i++) {
		uint8_t t = daemon_requests.entries[i].type;

		/* One byte of payload: every field is longer, and a request
		   without a payload has none. */
		buf[0] = 0;
		buf[1] = 0;
		buf[2] = 0;
		buf[3] = 2;
		buf[4] = t;
		buf[5] = 0xff;
		loop_client_write(&c, buf, 6);
		expect_failure(&c, XO_ERR_MSG_BAD);
		expect_served(&c);
		/* A byte left over after the last field. */
		len = must_build(t, "work", buf);
		buf[len] = 0;
		set_length(buf, len + 1);
		loop_client_write(&c, buf, len + 1);
		expect_failure(&c, XO_ERR_MSG_BAD);
		expect_served(&c);
		/* The last field cut short by a byte. */
		if (len > 5) {
			set_length(buf, len - 1);
			loop_client_write(&c, buf, len - 1);
			expect_failure(&c, XO_ERR_MSG_BAD);
			expect_served(&c);
		}
	}
	loop_client_close(&c);
}

static void
every_named_request_for_unknown_account_gets_no_account(void **state)
{
	struct fixture *f = *state;
	unsigned char buf[FRAME_MAX];
	struct loop_client c;
	unsigned named = 0;
	size_t i;
	char *msg;

	loop_client_open(&c, f->server, &f->loop);
	for (i = 0; i < daemon_requests.n; i++) {
		const struct request_entry *e = &daemon_requests.entries[i];

		if (!e->needs_account)
			continue;
		named++;
		loop_client_write(
		    &c, buf, must_build(e->type, "nosuch@example.org", buf));
		msg = loop_client_expect_failure(&c, XO_ERR_NO_ACCOUNT);
		if (strstr(msg, "'nosuch@example.org'") == NULL)
			fail_msg("type %u: \"%s\" does not quote the name",
				 e->type, msg);
		free(msg);
		expect_served(&c);
	}
	/* TOKEN, REFRESH, REMOVE, IMPORT, LOGIN_START, LOGIN_WAIT,
	   LOGIN_CODE, DELETE, DOCTOR. */
	assert_int_equal(named, 9);
	loop_client_close(&c);
}

static void unknown_account_name_is_quoted_cut_short(void **state)
{
	struct fixture *f = *state;
	unsigned char buf[FRAME_MAX];
	struct loop_client c;
	char name[1001], *msg;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	loop_client_open(&c, f->server, &f->loop);
	loop_client_write(&c, buf, must_build(PROTO_REQ_TOKEN, name, buf));
	msg = loop_client_expect_failure(&c, XO_ERR_NO_ACCOUNT);
	assert_true(strlen(msg) < 200);
	assert_non_null(strstr(msg, "'nnnn"));
	free(msg);
	expect_served(&c);
	loop_client_close(&c);
}

/* PROTOCOL.md 3.1: a client may send QUERY and its first request in one
   write; the replies come in order. */
static void query_and_request_in_one_write_are_answered_in_order(void **state)
{
	struct fixture *f = *state;
	unsigned char buf[2 * FRAME_MAX];
	struct loop_client c;
	struct loop_frame fr;
	size_t n;

	loop_client_open(&c, f->server, &f->loop);
	n = must_build(PROTO_REQ_QUERY, NULL, buf);
	n += must_build(PROTO_REQ_TOKEN, "nosuch@example.org", buf + n);
	loop_client_write(&c, buf, n);
	assert_int_equal(loop_client_read(&c, &fr, 5000), 1);
	assert_int_equal(fr.type, PROTO_REP_VERSION);
	loop_frame_cleanup(&fr);
	expect_failure(&c, XO_ERR_NO_ACCOUNT);
	expect_served(&c);
	loop_client_close(&c);
}

/* A QUERY whose version the agent cannot speak ends the connection with
   its answer: what came behind it, in a layout the agent does not know,
   is not carried out. */
static void query_of_unknown_version_ends_the_connection(void **state)
{
	struct fixture *f = *state;
	struct proto_query q = {.version = 0};
	unsigned char buf[2 * FRAME_MAX];
	struct proto_writer w;
	struct loop_client c;
	struct loop_frame fr;
	size_t n;

	loop_client_open(&c, f->server, &f->loop);
	proto_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(proto_enc_query(&w, &q), 0);
	n = w.len;
	n += must_build(PROTO_REQ_REMOVE, "nosuch@example.org", buf + n);
	loop_client_write(&c, buf, n);
	expect_failure(&c, XO_ERR_VERSION);
	/* No answer to REMOVE: the close. */
	assert_int_equal(loop_client_read(&c, &fr, 5000), 0);
	loop_client_close(&c);
}

static void locked_agent_refuses_all_but_what_works_locked(void **state)
{
	struct fixture *f = *state;
	unsigned char buf[FRAME_MAX];
	struct loop_client c;
	unsigned answered = 0;
	size_t i;
	char *msg;

	loop_client_open(&c, f->locked_server, &f->loop);
	for (i = 0; i < daemon_requests.n; i++) {
		const struct request_entry *e = &daemon_requests.entries[i];

		if (e->works_locked != works_locked_by_design(e->type))
			fail_msg("request type %u: works_locked is %d", e->type,
				 e->works_locked);
		loop_client_write(&c, buf, must_build(e->type, "work", buf));
		if (!e->works_locked) {
			msg = loop_client_expect_failure(&c, XO_ERR_LOCKED);
			assert_non_null(strstr(msg, "locked"));
			free(msg);
			continue;
		}
		expect_not_refused(&c, e->type, XO_ERR_LOCKED);
		answered++;
	}
	assert_int_equal(answered, 4);
	expect_served(&c);
	loop_client_close(&c);
}

static bool forwardable_by_design(uint8_t type)
{
	return type == PROTO_REQ_QUERY || type == PROTO_REQ_TOKEN ||
	       type == PROTO_REQ_LIST;
}

/* A restricted socket (xoauth-agent -r, for ssh -R) reads tokens and
   changes nothing: every other request is refused before it is decoded,
   so a new request type is refused there unless its entry says so. */
static void restricted_socket_answers_token_requests_only(void **state)
{
	struct fixture *f = *state;
	unsigned char buf[FRAME_MAX];
	struct agent_server *restricted;
	struct loop_client c;
	unsigned answered = 0;
	size_t i, n;
	char *msg;

	assert_int_equal(agent_server_new(&f->a, &daemon_requests, &restricted),
			 0);
	agent_server_restrict(restricted);
	loop_client_open(&c, restricted, &f->loop);
	for (i = 0; i < daemon_requests.n; i++) {
		const struct request_entry *e = &daemon_requests.entries[i];

		if (e->forwardable != forwardable_by_design(e->type))
			fail_msg("request type %u: forwardable is %d", e->type,
				 e->forwardable);
		n = must_build(e->type, "work", buf);
		/* Refused before decoding: one byte of payload will do. */
		if (!e->forwardable)
			set_length(buf, n = 6);
		loop_client_write(&c, buf, n);
		if (!e->forwardable) {
			msg = loop_client_expect_failure(&c, XO_ERR_RESTRICTED);
			assert_non_null(strstr(msg, "token requests only"));
			free(msg);
			continue;
		}
		expect_not_refused(&c, e->type, XO_ERR_RESTRICTED);
		answered++;
	}
	assert_int_equal(answered, 3);
	loop_client_close(&c);
	agent_server_close(restricted);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	agent_server_free(restricted);
}

static void locked_agent_says_locked_before_decoding(void **state)
{
	struct fixture *f = *state;
	unsigned char buf[FRAME_MAX];
	struct loop_client c;
	size_t i, len;

	loop_client_open(&c, f->locked_server, &f->loop);
	for (i = 0; i < daemon_requests.n; i++) {
		const struct request_entry *e = &daemon_requests.entries[i];

		/* Malformed, and naming no account there is. */
		len = must_build(e->type, "nosuch", buf);
		buf[len] = 0;
		set_length(buf, len + 1);
		loop_client_write(&c, buf, len + 1);
		/* What works locked is decoded, and found malformed. */
		expect_failure(&c, e->works_locked ? XO_ERR_MSG_BAD
						   : XO_ERR_LOCKED);
		if (e->needs_account) {
			/* Well-formed, for an unknown account. */
			set_length(buf, len);
			loop_client_write(&c, buf, len);
			expect_failure(&c, XO_ERR_LOCKED);
		}
	}
	/* The case of the documentation: a malformed TOKEN. */
	buf[0] = 0;
	buf[1] = 0;
	buf[2] = 0;
	buf[3] = 2;
	buf[4] = PROTO_REQ_TOKEN;
	buf[5] = 0xff;
	loop_client_write(&c, buf, 6);
	expect_failure(&c, XO_ERR_LOCKED);
	expect_served(&c);
	loop_client_close(&c);
}

static void agent_without_vault_is_not_locked(void **state)
{
	struct fixture *f = *state;
	unsigned char buf[FRAME_MAX];
	struct loop_client c;
	struct loop_frame fr;

	assert_null(f->a.vault);
	assert_int_equal(daemon_requests.hooks.locked(&f->a), 0);
	loop_client_open(&c, f->server, &f->loop);
	/* LIST needs no vault and shows the account. */
	loop_client_write(&c, buf, must_build(PROTO_REQ_LIST, NULL, buf));
	assert_int_equal(loop_client_read(&c, &fr, 5000), 1);
	assert_int_equal(fr.type, PROTO_REP_LIST);
	assert_non_null(memmem(fr.payload, fr.len, "work", 4));
	loop_frame_cleanup(&fr);
	/* The account is found by its address too (the table's find). */
	assert_non_null(
	    daemon_requests.hooks.find(&f->a, proto_str_c("WORK@example.org")));
	assert_null(daemon_requests.hooks.find(&f->a, proto_str_c("nosuch")));
	loop_client_close(&c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(table_has_an_entry_for_every_request_type),
	    cmocka_unit_test_setup_teardown(
		every_request_with_malformed_payload_gets_msg_bad_and_stays_open,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(
		every_named_request_for_unknown_account_gets_no_account, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		unknown_account_name_is_quoted_cut_short, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		restricted_socket_answers_token_requests_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		locked_agent_refuses_all_but_what_works_locked, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		locked_agent_says_locked_before_decoding, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		query_and_request_in_one_write_are_answered_in_order, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		query_of_unknown_version_ends_the_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(agent_without_vault_is_not_locked,
					    setup, teardown),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("dispatch", tests, NULL, NULL),
	};
	int status;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	status = unit_run(argc, argv, groups, 1);
	curl_global_cleanup();
	return status;
}
