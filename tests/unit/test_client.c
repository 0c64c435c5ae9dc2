/*
 * libxoauth against a fake agent.
 *
 * The fake agent is a forked child that listens on a Unix socket in a
 * temporary directory, accepts one connection and plays a script: it reads
 * the requests it expects (checking their fields) and writes canned reply
 * frames, some of them hostile.  A script that sees something it did not
 * expect exits with a non-zero status, which the test then asserts on, so
 * the requests libxoauth sends are checked as well as its handling of the
 * replies.
 */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"

#include <xoauth/xo.h>

#include "proto.h"

#define SECRET_TOKEN "secret-access-token-4f1d9c"
#define SECRET_REFRESH "secret-refresh-token-a83b27"
#define AGENT_NAME "fake-agent 9.9"

/* Exit statuses of a fake agent's script. */
#define FAKE_OK 0
#define FAKE_IO 10
#define FAKE_WRONG_TYPE 11
#define FAKE_WRONG_FIELD 12

typedef void (*fake_script_cb)(int fd);

struct fake {
	char dir[64];
	char path[108];
	pid_t pid;
};

/* ---- free() watch -------------------------------------------------------
 *
 * The test binary links with --wrap=free, so every free() in libxoauth comes
 * here first.  While a watch is on, each buffer about to be released is
 * searched for the secret: finding it means a copy of a token went back to
 * the allocator unwiped.
 */
struct free_watch {
	int active;
	const char *secret;
	int leaks;
	const void *expect; /* a pointer we expect to see freed */
	int expect_seen;
};

static struct free_watch watch;

void __real_free(void *p);
void __wrap_free(void *p);

void __wrap_free(void *p)
{
	if (watch.active && p != NULL) {
		size_t n = malloc_usable_size(p);

		if (memmem(p, n, watch.secret, strlen(watch.secret)) != NULL)
			watch.leaks++;
		if (p == watch.expect)
			watch.expect_seen = 1;
	}
	__real_free(p);
}

static void watch_start(const char *secret)
{
	memset(&watch, 0, sizeof(watch));
	watch.secret = secret;
	watch.active = 1;
}

static void watch_stop(void)
{
	watch.active = 0;
}

/* ---- The fake agent's side ---------------------------------------------- */

static void fake_send(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(FAKE_IO);
		b += w;
		n -= (size_t)w;
	}
}

static void fake_recv_all(int fd, unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(FAKE_IO);
		p += r;
		n -= (size_t)r;
	}
}

/* Reads one request into buf and checks its type; r reads its payload. */
static void fake_expect(int fd, uint8_t want, unsigned char *buf, size_t cap,
			struct proto_reader *r)
{
	struct proto_reader hr;
	size_t len;
	uint8_t type;

	fake_recv_all(fd, buf, 4);
	proto_reader_init(&hr, buf, 4);
	len = proto_get_u32(&hr);
	/* Our requests are small; anything else is a bug in the client. */
	if (len == 0 || len > cap - 4)
		_exit(FAKE_WRONG_FIELD);
	fake_recv_all(fd, buf + 4, len);
	len += 4;
	if (proto_frame_open(buf, len, &type, r) != 0)
		_exit(FAKE_WRONG_FIELD);
	if (type != want)
		_exit(FAKE_WRONG_TYPE);
}

/* Waits for the client to hang up, so the test ends in a known order. */
static void fake_drain(int fd)
{
	unsigned char b[256];

	while (recv(fd, b, sizeof(b), 0) > 0)
		;
}

/* What the fake agent says it does; a script may say more. */
static const char *fake_caps = "token list login";

static void fake_reply_version(int fd, uint32_t version)
{
	struct proto_version v = {.version = version,
				  .agent = proto_str_c(AGENT_NAME),
				  .caps = proto_str_c(fake_caps)};
	unsigned char out[256];
	struct proto_writer w;

	proto_writer_init(&w, out, sizeof(out));
	if (proto_enc_version(&w, &v) != 0)
		_exit(FAKE_IO);
	fake_send(fd, out, w.len);
}

/* Answers the QUERY every client sends first. */
static void fake_hello(int fd, uint32_t version)
{
	unsigned char in[256];
	struct proto_reader r;
	struct proto_query q;

	fake_expect(fd, PROTO_REQ_QUERY, in, sizeof(in), &r);
	if (proto_dec_query(&r, &q) != 0 || q.version != PROTO_VERSION)
		_exit(FAKE_WRONG_FIELD);
	fake_reply_version(fd, version);
}

static void fake_reply_failure(int fd, int err, const char *msg)
{
	struct proto_failure f = {.status = proto_status_from_err(err),
				  .message = proto_str_c(msg)};
	unsigned char out[512];
	struct proto_writer w;

	proto_writer_init(&w, out, sizeof(out));
	if (proto_enc_failure(&w, &f) != 0)
		_exit(FAKE_IO);
	fake_send(fd, out, w.len);
}

static void fake_reply_success(int fd)
{
	unsigned char out[16];
	struct proto_writer w;

	proto_writer_init(&w, out, sizeof(out));
	if (proto_enc_success(&w) != 0)
		_exit(FAKE_IO);
	fake_send(fd, out, w.len);
}

/* A fresh directory with the fake agent's listening socket in it; returns
   the listening fd. */
static int fake_listen(struct fake *f)
{
	struct sockaddr_un sun;
	int lfd;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/xo-test-client-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/agent.sock", f->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	return lfd;
}

static void fake_start(struct fake *f, fake_script_cb script)
{
	int lfd = fake_listen(f);

	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		int fd;

		/* A script that waits for something that never comes must not
		 * outlive the test. */
		alarm(20);
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			_exit(FAKE_IO);
		close(lfd);
		script(fd);
		close(fd);
		_exit(FAKE_OK);
	}
	close(lfd);
}

/* Reaps the fake agent and returns its script's exit status. */
static int fake_finish(struct fake *f)
{
	int status = 0;

	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	unlink(f->path);
	rmdir(f->dir);
	if (!WIFEXITED(status))
		return 100 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return WEXITSTATUS(status);
}

/* ---- Scripts --------------------------------------------------------------
 */

static void script_hello(int fd)
{
	fake_hello(fd, PROTO_VERSION);
	fake_drain(fd);
}

/* Nothing may come at all: the client hangs up without a byte. */
static void script_nothing(int fd)
{
	unsigned char b;

	if (recv(fd, &b, 1, 0) != 0)
		_exit(FAKE_WRONG_FIELD);
}

/* Answers one TOKEN request for "work" with SECRET_TOKEN. */
static void fake_answer_token(int fd)
{
	unsigned char in[512], out[512];
	struct proto_token_rep t = {.token = proto_str_c(SECRET_TOKEN),
				    .expires_at = 1,
				    .email = proto_str_c("a@example.com")};
	struct proto_token_req q;
	struct proto_writer w;
	struct proto_reader r;

	fake_expect(fd, PROTO_REQ_TOKEN, in, sizeof(in), &r);
	if (proto_dec_token_req(&r, &q) != 0 ||
	    !proto_str_eq(q.account, "work"))
		_exit(FAKE_WRONG_FIELD);
	proto_writer_init(&w, out, sizeof(out));
	if (proto_enc_token_rep(&w, &t) != 0)
		_exit(FAKE_IO);
	fake_send(fd, out, w.len);
}

static void script_hello_token(int fd)
{
	fake_hello(fd, PROTO_VERSION);
	fake_answer_token(fd);
	fake_drain(fd);
}

/* The QUERY and the first request come in one write: one recv() holds
   both frames whole, and nothing more. */
static void script_one_write(int fd)
{
	unsigned char in[1024];
	struct proto_reader r;
	struct proto_query q;
	size_t first = 0, second = 0;
	uint8_t type;
	ssize_t n;

	n = recv(fd, in, sizeof(in), 0);
	if (n <= 0)
		_exit(FAKE_IO);
	if (proto_frame_peek(in, (size_t)n, PROTO_MAX_MSG, &first) != 0 ||
	    proto_frame_open(in, first, &type, &r) != 0 ||
	    type != PROTO_REQ_QUERY || proto_dec_query(&r, &q) != 0 ||
	    q.version != PROTO_VERSION)
		_exit(FAKE_WRONG_TYPE);
	if (proto_frame_peek(in + first, (size_t)n - first, PROTO_MAX_MSG,
			     &second) != 0 ||
	    first + second != (size_t)n ||
	    proto_frame_open(in + first, second, &type, &r) != 0 ||
	    type != PROTO_REQ_TOKEN)
		_exit(FAKE_WRONG_FIELD);
	fake_reply_version(fd, PROTO_VERSION);
	{
		unsigned char out[512];
		struct proto_token_rep t = {.token = proto_str_c(SECRET_TOKEN),
					    .expires_at = 1,
					    .email = proto_str_c("a@b.c")};
		struct proto_writer w;

		proto_writer_init(&w, out, sizeof(out));
		if (proto_enc_token_rep(&w, &t) != 0)
			_exit(FAKE_IO);
		fake_send(fd, out, w.len);
	}
	fake_drain(fd);
}

static void script_other_major(int fd)
{
	fake_hello(fd, PROTO_VERSION + 1);
	fake_drain(fd);
}

static void script_login_needed_then_token(int fd)
{
	unsigned char in[512], out[512];
	struct proto_token_rep t = {.token = proto_str_c(SECRET_TOKEN),
				    .expires_at = 1,
				    .email = proto_str_c("a@example.com")};
	struct proto_writer w;
	struct proto_reader r;

	fake_hello(fd, PROTO_VERSION);
	fake_expect(fd, PROTO_REQ_TOKEN, in, sizeof(in), &r);
	fake_reply_failure(fd, XO_ERR_LOGIN_NEEDED,
			   "refresh token revoked (invalid_grant): sign in "
			   "again\x1b[2J");
	/* A failure reply leaves the connection usable. */
	fake_expect(fd, PROTO_REQ_TOKEN, in, sizeof(in), &r);
	proto_writer_init(&w, out, sizeof(out));
	if (proto_enc_token_rep(&w, &t) != 0)
		_exit(FAKE_IO);
	fake_send(fd, out, w.len);
	fake_drain(fd);
}

static void script_token(int fd)
{
	unsigned char in[512], out[512];
	struct proto_token_rep t = {.token = proto_str_c(SECRET_TOKEN),
				    .expires_at = 1700000000,
				    .email = proto_str_c("alice@example.com")};
	struct proto_token_req q;
	struct proto_writer w;
	struct proto_reader r;

	fake_hello(fd, PROTO_VERSION);
	fake_expect(fd, PROTO_REQ_TOKEN, in, sizeof(in), &r);
	if (proto_dec_token_req(&r, &q) != 0 ||
	    !proto_str_eq(q.account, "work") ||
	    q.form != PROTO_FORM_OAUTHBEARER ||
	    !proto_str_eq(q.host, "smtp.example.com") || q.port != 587 ||
	    q.min_valid != 300 || q.wait_ms != 2500)
		_exit(FAKE_WRONG_FIELD);
	proto_writer_init(&w, out, sizeof(out));
	if (proto_enc_token_rep(&w, &t) != 0)
		_exit(FAKE_IO);
	fake_send(fd, out, w.len);
	fake_drain(fd);
}

/* Announces a frame one byte over the limit, then sends a little of it. */
static void send_oversized(int fd, uint32_t len)
{
	unsigned char hdr[64];

	memset(hdr, 'A', sizeof(hdr));
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
	hdr[4] = PROTO_REP_LIST;
	fake_send(fd, hdr, sizeof(hdr));
}

static void script_oversized_list(int fd)
{
	unsigned char in[256];
	struct proto_reader r;

	fake_hello(fd, PROTO_VERSION);
	fake_expect(fd, PROTO_REQ_LIST, in, sizeof(in), &r);
	send_oversized(fd, PROTO_MAX_MSG + 1);
	fake_drain(fd);
}

static void script_huge_length(int fd)
{
	unsigned char in[256];
	struct proto_reader r;

	fake_hello(fd, PROTO_VERSION);
	fake_expect(fd, PROTO_REQ_LIST, in, sizeof(in), &r);
	send_oversized(fd, UINT32_MAX);
	fake_drain(fd);
}

static void script_oversized_version(int fd)
{
	unsigned char in[256];
	struct proto_reader r;

	fake_expect(fd, PROTO_REQ_QUERY, in, sizeof(in), &r);
	send_oversized(fd, PROTO_MAX_MSG + 1);
	fake_drain(fd);
}

static void script_truncated(int fd)
{
	unsigned char in[256];
	unsigned char part[14] = {0, 0, 0, 100, PROTO_REP_LIST};
	struct proto_reader r;

	fake_hello(fd, PROTO_VERSION);
	fake_expect(fd, PROTO_REQ_LIST, in, sizeof(in), &r);
	fake_send(fd, part, sizeof(part));
	/* Hang up in the middle of the frame. */
}

static void script_silent(int fd)
{
	unsigned char in[256];
	struct proto_reader r;

	fake_hello(fd, PROTO_VERSION);
	fake_expect(fd, PROTO_REQ_REFRESH, in, sizeof(in), &r);
	fake_drain(fd);
}

static void script_wrong_reply_type(int fd)
{
	unsigned char in[256];
	struct proto_reader r;

	fake_hello(fd, PROTO_VERSION);
	fake_expect(fd, PROTO_REQ_REMOVE, in, sizeof(in), &r);
	fake_reply_version(fd, PROTO_VERSION);
	fake_drain(fd);
}

static void script_list(int fd)
{
	struct proto_account_info e[2] = {
	    {.name = proto_str_c("work"),
	     .email = proto_str_c("alice@example.com"),
	     .provider = proto_str_c("microsoft"),
	     .flow = proto_str_c("device"),
	     .state = PROTO_STATE_ACTIVE,
	     .expires_at = 1700003600,
	     .refreshed_at = 1700000000,
	     .next_refresh_at = 1700002700},
	    {.name = proto_str_c("home"),
	     .email = proto_str_c("bob@example.org"),
	     .provider = proto_str_c("google"),
	     .flow = proto_str_c("browser"),
	     .state = PROTO_STATE_REAUTH,
	     .last_error = proto_str_c("invalid_grant")},
	};
	unsigned char in[256], out[1024];
	struct proto_writer w;
	struct proto_reader r;

	fake_hello(fd, PROTO_VERSION);
	fake_expect(fd, PROTO_REQ_LIST, in, sizeof(in), &r);
	if (proto_reader_finish(&r) != 0)
		_exit(FAKE_WRONG_FIELD);
	proto_writer_init(&w, out, sizeof(out));
	proto_enc_list_begin(&w, 2);
	proto_enc_list_entry(&w, &e[0]);
	proto_enc_list_entry(&w, &e[1]);
	if (proto_enc_list_end(&w) != 0)
		_exit(FAKE_IO);
	fake_send(fd, out, w.len);
	fake_drain(fd);
}

/* An agent that keeps tokens of other scopes (PROTOCOL.md 4.4). */
static void script_list_scopes(int fd)
{
	struct proto_account_info e = {.name = proto_str_c("work"),
				       .email =
					   proto_str_c("alice@example.com"),
				       .provider = proto_str_c("microsoft"),
				       .flow = proto_str_c("device"),
				       .state = PROTO_STATE_ACTIVE};
	struct proto_scope_info s[2] = {
	    {.account = proto_str_c("work"),
	     .scope = proto_str_c("https://graph.microsoft.com/Mail.Send"),
	     .state = PROTO_STATE_REAUTH,
	     .last_error = proto_str_c("work: AADSTS65001: no consent")},
	    {.account = proto_str_c("work"),
	     .scope = proto_str_c("https://mail.google.com/"),
	     .state = PROTO_STATE_ACTIVE,
	     .expires_at = 1700003600,
	     .refreshed_at = 1700000000,
	     .next_refresh_at = 1700002700},
	};
	unsigned char in[256], out[1024];
	struct proto_list_req q;
	struct proto_writer w;
	struct proto_reader r;

	fake_caps = "token list login list-scopes";
	fake_hello(fd, PROTO_VERSION);
	fake_expect(fd, PROTO_REQ_LIST, in, sizeof(in), &r);
	if (proto_dec_list_req(&r, &q) != 0 || q.flags != PROTO_LIST_SCOPES)
		_exit(FAKE_WRONG_FIELD);
	proto_writer_init(&w, out, sizeof(out));
	proto_enc_list_begin(&w, 1);
	proto_enc_list_entry(&w, &e);
	proto_enc_list_scopes_begin(&w, 2);
	proto_enc_list_scope(&w, &s[0]);
	proto_enc_list_scope(&w, &s[1]);
	if (proto_enc_list_end(&w) != 0)
		_exit(FAKE_IO);
	fake_send(fd, out, w.len);
	fake_drain(fd);
}

static void script_login(int fd)
{
	struct proto_login_rep l = {
	    .verification_uri = proto_str_c("https://example.com/device"),
	    .verification_uri_complete =
		proto_str_c("https://example.com/device?code=ABCD-EFGH"),
	    .user_code = proto_str_c("ABCD-EFGH"),
	    .expires_in = 900,
	    .interval = 5,
	    .flow = proto_str_c("device")};
	unsigned char in[256], out[512];
	struct proto_login_start_req ls;
	struct proto_account_req q;
	struct proto_writer w;
	struct proto_reader r;

	fake_hello(fd, PROTO_VERSION);
	fake_expect(fd, PROTO_REQ_LOGIN_START, in, sizeof(in), &r);
	if (proto_dec_login_start_req(&r, &ls) != 0 ||
	    !proto_str_eq(ls.account, "work") || ls.flow.len != 0)
		_exit(FAKE_WRONG_FIELD);
	proto_writer_init(&w, out, sizeof(out));
	if (proto_enc_login_rep(&w, &l) != 0)
		_exit(FAKE_IO);
	fake_send(fd, out, w.len);

	fake_expect(fd, PROTO_REQ_LOGIN_WAIT, in, sizeof(in), &r);
	if (proto_dec_account_req(&r, &q) != 0 ||
	    !proto_str_eq(q.account, "work") || q.wait_ms != 50)
		_exit(FAKE_WRONG_FIELD);
	fake_reply_failure(fd, XO_ERR_LOGIN_PENDING, "waiting for the user");
	fake_expect(fd, PROTO_REQ_LOGIN_WAIT, in, sizeof(in), &r);
	fake_reply_success(fd);
	fake_drain(fd);
}

static void script_import(int fd)
{
	unsigned char in[512];
	struct proto_import_req q;
	struct proto_reader r;

	fake_hello(fd, PROTO_VERSION);
	fake_expect(fd, PROTO_REQ_IMPORT, in, sizeof(in), &r);
	if (proto_dec_import_req(&r, &q) != 0 ||
	    !proto_str_eq(q.account, "work") ||
	    !proto_str_eq(q.refresh_token, SECRET_REFRESH))
		_exit(FAKE_WRONG_FIELD);
	fake_reply_success(fd);
	fake_drain(fd);
}

/* add, delete, login_code and doctor, in that order. */
static void script_manage(int fd)
{
	static const struct proto_finding found[] = {
	    {PROTO_LEVEL_OK, {"the token is accepted", 21}, {"", 0}},
	    {PROTO_LEVEL_PROBLEM, {"SMTP AUTH is off", 16}, {"turn it on", 10}},
	};
	unsigned char in[1024], out[512];
	struct proto_add_req a;
	struct proto_account_req d;
	struct proto_login_code_req lc;
	struct proto_doctor_req dq;
	struct proto_writer w;
	struct proto_reader r;
	size_t i;

	fake_hello(fd, PROTO_VERSION);
	fake_expect(fd, PROTO_REQ_ADD, in, sizeof(in), &r);
	if (proto_dec_add_req(&r, &a) != 0 || !proto_str_eq(a.name, "shop") ||
	    a.count != 2 || !proto_str_eq(a.settings[0].key, "provider") ||
	    !proto_str_eq(a.settings[0].value, "microsoft") ||
	    !proto_str_eq(a.settings[1].key, "client_id") ||
	    !proto_str_eq(a.settings[1].value, "abc"))
		_exit(FAKE_WRONG_FIELD);
	fake_reply_success(fd);
	fake_expect(fd, PROTO_REQ_DELETE, in, sizeof(in), &r);
	if (proto_dec_account_req(&r, &d) != 0 ||
	    !proto_str_eq(d.account, "work"))
		_exit(FAKE_WRONG_FIELD);
	fake_reply_failure(fd, XO_ERR_CONFIGURED, "work is in the config");
	fake_expect(fd, PROTO_REQ_LOGIN_CODE, in, sizeof(in), &r);
	if (proto_dec_login_code_req(&r, &lc) != 0 ||
	    !proto_str_eq(lc.account, "shop") ||
	    !proto_str_eq(lc.response,
			  "http://localhost/?code=" SECRET_TOKEN "&state=s") ||
	    lc.wait_ms != 70)
		_exit(FAKE_WRONG_FIELD);
	fake_reply_failure(fd, XO_ERR_LOGIN_MISMATCH, "state differs");
	fake_expect(fd, PROTO_REQ_DOCTOR, in, sizeof(in), &r);
	if (proto_dec_doctor_req(&r, &dq) != 0 ||
	    !proto_str_eq(dq.account, "shop") ||
	    !proto_str_eq(dq.smtp, "smtp.example.com:587") || dq.imap.len != 0)
		_exit(FAKE_WRONG_FIELD);
	proto_writer_init(&w, out, sizeof(out));
	proto_enc_doctor_begin(&w, 2);
	for (i = 0; i < 2; i++)
		proto_enc_doctor_entry(&w, &found[i]);
	if (proto_enc_doctor_end(&w) != 0)
		_exit(FAKE_IO);
	fake_send(fd, out, w.len);
	fake_drain(fd);
}

/* ---- Tests ----------------------------------------------------------------
 */

static void client_connects_and_learns_agent_version(void **state)
{
	struct xo_client *c = NULL;
	struct fake f;

	(void)state;
	fake_start(&f, script_hello);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_non_null(c);
	assert_string_equal(xo_client_agent_version(c), AGENT_NAME);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_uses_socket_from_environment(void **state)
{
	struct xo_client *c = NULL;
	struct fake f;

	(void)state;
	fake_start(&f, script_hello);
	assert_int_equal(setenv(XO_AUTH_SOCK_ENV, f.path, 1), 0);
	assert_int_equal(xo_client_connect(NULL, &c), 0);
	unsetenv(XO_AUTH_SOCK_ENV);
	assert_string_equal(xo_client_agent_version(c), AGENT_NAME);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

/* The version is checked with the first request, sent behind QUERY: an
   agent of another version fails it (its reply to the request is never
   taken), and every call after it. */
static void client_refuses_agent_with_other_major_version(void **state)
{
	struct xo_account *list = NULL;
	struct xo_token t = {0};
	struct xo_client *c = NULL;
	size_t n = 0;
	struct fake f;

	(void)state;
	fake_start(&f, script_other_major);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_token(c, "work", NULL, &t), XO_ERR_VERSION);
	assert_null(t.token);
	assert_non_null(strstr(xo_client_message(c), "version 2"));
	assert_int_equal(xo_list(c, &list, &n), XO_ERR_VERSION);
	assert_non_null(strstr(xo_client_message(c), "version 2"));
	assert_string_equal(xo_client_agent_version(c), "");
	assert_false(xo_client_has_cap(c, "token"));
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_sends_query_and_first_request_in_one_write(void **state)
{
	struct xo_token t = {0};
	struct xo_client *c = NULL;
	struct fake f;

	(void)state;
	fake_start(&f, script_one_write);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_token(c, "work", NULL, &t), 0);
	assert_string_equal(t.token, SECRET_TOKEN);
	/* Learnt on the way. */
	assert_string_equal(xo_client_agent_version(c), AGENT_NAME);
	assert_true(xo_client_has_cap(c, "list"));
	xo_token_free(&t);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_reports_no_agent_when_socket_is_missing(void **state)
{
	char dir[] = "/tmp/xo-test-client-XXXXXX", path[128];
	struct xo_client *c = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/no-such.sock", dir);
	assert_int_equal(xo_client_connect(path, &c), XO_ERR_NO_AGENT);
	assert_null(c);
	assert_int_equal(errno, ENOENT);
	rmdir(dir);
}

static void client_reports_no_agent_when_nobody_listens(void **state)
{
	char dir[] = "/tmp/xo-test-client-XXXXXX";
	struct sockaddr_un sun;
	struct xo_client *c = NULL;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/stale.sock", dir);
	/* A socket file left behind by a dead agent: bound, not listening. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(xo_client_connect(sun.sun_path, &c), XO_ERR_NO_AGENT);
	assert_null(c);
	close(fd);
	unlink(sun.sun_path);
	rmdir(dir);
}

/* A fake agent that is full for its first `busy` connections: it answers
   each with FAILURE busy at once, without reading, and closes; the next
   one it serves with script.  It exits with FAKE_OK once served. */
static void fake_start_full(struct fake *f, int busy, fake_script_cb script)
{
	int lfd = fake_listen(f), i;

	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		int fd;

		alarm(20);
		for (i = 0;; i++) {
			if ((fd = accept(lfd, NULL, NULL)) < 0)
				_exit(FAKE_IO);
			if (i < busy) {
				fake_reply_failure(fd, XO_ERR_BUSY,
						   "full up: try again");
				close(fd);
				continue;
			}
			script(fd);
			_exit(FAKE_OK);
		}
	}
	close(lfd);
}

/* An agent that says "busy" at connect has room a moment later: the
   client tries again by itself, sending its first request again (a busy
   agent carried out nothing), and gives up with the agent's words. */
static void client_retries_an_agent_that_is_full(void **state)
{
	struct xo_token t = {0};
	struct xo_client *c = NULL;
	struct fake f;

	(void)state;
	fake_start_full(&f, 2, script_hello_token);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_token(c, "work", NULL, &t), 0);
	assert_string_equal(t.token, SECRET_TOKEN);
	xo_token_free(&t);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);

	/* Asked for its version alone, likewise. */
	fake_start_full(&f, 2, script_hello);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_string_equal(xo_client_agent_version(c), AGENT_NAME);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);

	fake_start_full(&f, 1000, script_hello);
	assert_int_equal(xo_client_open(f.path, &c), 0);
	assert_int_equal(xo_token(c, "work", NULL, &t), XO_ERR_BUSY);
	assert_non_null(strstr(xo_client_message(c), "full up"));
	assert_true(xo_client_agent_failed(c));
	/* The connection stays failed for that reason. */
	assert_int_equal(xo_token(c, "work", NULL, &t), XO_ERR_BUSY);
	assert_non_null(strstr(xo_client_message(c), "full up"));
	xo_client_free(c);
	kill(f.pid, SIGKILL);
	fake_finish(&f);
}

/* Uids that are neither root nor each other; no passwd entry is needed. */
#define FOREIGN_AGENT_UID 64001
#define CLIENT_UID 64002

/* A socket in dir that a process of uid FOREIGN_AGENT_UID listens on; it
   exits 0 when the client closed without sending a byte. */
static pid_t foreign_listener(const char *path, int ready_w)
{
	struct sockaddr_un sun;
	pid_t pid = fork();
	unsigned char b;
	int lfd, fd;

	if (pid != 0)
		return pid;
	alarm(20);
	if (setgid(FOREIGN_AGENT_UID) != 0 || setuid(FOREIGN_AGENT_UID) != 0)
		_exit(2);
	umask(0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(lfd, 4) != 0)
		_exit(3);
	if (write(ready_w, "r", 1) != 1)
		_exit(4);
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		_exit(5);
	_exit(read(fd, &b, 1) == 0 ? 0 : 6);
}

static void client_refuses_a_socket_of_another_user(void **state)
{
	char dir[64], path[96], buf[1];
	int pipefd[2], status = 0;
	pid_t agent, client;

	(void)state;
	if (getuid() != 0)
		skip(); /* needs root to be two other users */
	snprintf(dir, sizeof(dir), "/tmp/xo-test-peer-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0777), 0);
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	assert_int_equal(pipe(pipefd), 0);
	agent = foreign_listener(path, pipefd[1]);
	assert_true(agent > 0);
	assert_int_equal(read(pipefd[0], buf, 1), 1);
	client = fork();
	assert_true(client >= 0);
	if (client == 0) {
		struct xo_client *c = NULL;
		int r;

		alarm(20);
		if (setgid(CLIENT_UID) != 0 || setuid(CLIENT_UID) != 0)
			_exit(2);
		r = xo_client_open(path, &c);
		_exit(r == XO_ERR_NO_AGENT &&
			      strstr(xo_client_message(c),
				     "not to an agent of yours") != NULL
			  ? 0
			  : 3);
	}
	assert_int_equal(waitpid(client, &status, 0), client);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Nothing went to the other user's socket, not even QUERY. */
	assert_int_equal(waitpid(agent, &status, 0), agent);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(pipefd[0]);
	close(pipefd[1]);
	unlink(path);
	rmdir(dir);
}

static void client_reports_no_agent_when_environment_is_unset(void **state)
{
	struct xo_client *c = NULL;

	(void)state;
	unsetenv(XO_AUTH_SOCK_ENV);
	assert_int_equal(xo_client_connect(NULL, &c), XO_ERR_NO_AGENT);
	assert_null(c);
	assert_int_equal(setenv(XO_AUTH_SOCK_ENV, "", 1), 0);
	assert_int_equal(xo_client_connect(NULL, &c), XO_ERR_NO_AGENT);
	unsetenv(XO_AUTH_SOCK_ENV);
}

static void client_passes_on_agent_failure_message(void **state)
{
	struct xo_token t = {0};
	struct xo_client *c = NULL;
	struct fake f;

	(void)state;
	fake_start(&f, script_login_needed_then_token);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_token(c, "work", NULL, &t), XO_ERR_LOGIN_NEEDED);
	assert_null(t.token);
	/* The escape sequence from the agent does not reach the terminal. */
	assert_string_equal(xo_client_message(c),
			    "refresh token revoked (invalid_grant): sign in "
			    "again?[2J");
	/* An answered failure keeps the connection in step. */
	assert_int_equal(xo_token(c, "work", NULL, &t), 0);
	assert_string_equal(t.token, SECRET_TOKEN);
	xo_token_free(&t);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_token_is_returned_and_wiped_when_freed(void **state)
{
	struct xo_token_opts o = {.form = XO_FORM_OAUTHBEARER,
				  .host = "smtp.example.com",
				  .port = 587,
				  .min_valid = 300,
				  .wait_ms = 2500};
	struct xo_token t = {0};
	struct xo_client *c = NULL;
	struct fake f;

	(void)state;
	fake_start(&f, script_token);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	watch_start(SECRET_TOKEN);
	assert_int_equal(xo_token(c, "work", &o, &t), 0);
	assert_string_equal(t.token, SECRET_TOKEN);
	assert_string_equal(t.email, "alice@example.com");
	assert_int_equal(t.expires_at, 1700000000);
	watch.expect = t.token;
	xo_token_free(&t);
	watch_stop();
	/* The reply frame and the token itself were freed, and wiped first. */
	assert_int_equal(watch.leaks, 0);
	assert_true(watch.expect_seen);
	assert_null(t.token);
	assert_null(t.email);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_wipes_imported_refresh_token(void **state)
{
	struct xo_client *c = NULL;
	struct fake f;

	(void)state;
	fake_start(&f, script_import);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	watch_start(SECRET_REFRESH);
	assert_int_equal(xo_import(c, "work", SECRET_REFRESH), 0);
	watch_stop();
	assert_int_equal(watch.leaks, 0);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_rejects_oversized_reply_frame(void **state)
{
	struct xo_account *list = NULL;
	struct xo_client *c = NULL;
	size_t n = 0;
	struct fake f;

	(void)state;
	fake_start(&f, script_oversized_list);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_list(c, &list, &n), XO_ERR_MSG_TOO_LARGE);
	assert_null(list);
	assert_int_equal(n, 0);
	assert_non_null(strstr(xo_client_message(c), "limit"));
	/* Out of step with the agent, the client hung up. */
	assert_int_equal(xo_list(c, &list, &n), XO_ERR_IO);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_rejects_reply_announcing_four_gigabytes(void **state)
{
	struct xo_account *list = NULL;
	struct xo_client *c = NULL;
	size_t n = 0;
	struct fake f;

	(void)state;
	fake_start(&f, script_huge_length);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_list(c, &list, &n), XO_ERR_MSG_TOO_LARGE);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_rejects_oversized_version_reply(void **state)
{
	struct xo_client *c = NULL;
	struct fake f;

	(void)state;
	fake_start(&f, script_oversized_version);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_string_equal(xo_client_agent_version(c), "");
	assert_non_null(strstr(xo_client_message(c), "limit"));
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_reports_io_error_on_truncated_reply(void **state)
{
	struct xo_account *list = NULL;
	struct xo_client *c = NULL;
	size_t n = 0;
	struct fake f;

	(void)state;
	fake_start(&f, script_truncated);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_list(c, &list, &n), XO_ERR_IO);
	assert_non_null(strstr(xo_client_message(c), "closed"));
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_gives_up_on_silent_agent(void **state)
{
	struct timespec a, b;
	struct xo_client *c = NULL;
	struct fake f;
	long ms;

	(void)state;
	fake_start(&f, script_silent);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	xo_client_set_timeout(c, 100);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(xo_refresh(c, "work", 100), XO_ERR_IO);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	/* The timeout plus the wait asked of the agent, not much more. */
	assert_true(ms >= 190);
	assert_true(ms < 5000);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_rejects_reply_of_wrong_type(void **state)
{
	struct xo_client *c = NULL;
	struct fake f;

	(void)state;
	fake_start(&f, script_wrong_reply_type);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_remove(c, "work"), XO_ERR_MSG_BAD);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_lists_accounts(void **state)
{
	struct xo_account *list = NULL;
	struct xo_client *c = NULL;
	size_t n = 0;
	struct fake f;

	(void)state;
	fake_start(&f, script_list);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_list(c, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "work");
	assert_string_equal(list[0].email, "alice@example.com");
	assert_string_equal(list[0].provider, "microsoft");
	assert_string_equal(list[0].state_name, "active");
	assert_int_equal(list[0].expires_at, 1700003600);
	assert_int_equal(list[0].next_refresh_at, 1700002700);
	assert_string_equal(list[0].last_error, "");
	assert_string_equal(list[1].name, "home");
	assert_int_equal(list[1].state, PROTO_STATE_REAUTH);
	assert_string_equal(list[1].last_error, "invalid_grant");
	xo_accounts_free(list, n);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_lists_tokens_of_other_scopes(void **state)
{
	struct xo_scope_token *t = NULL;
	struct xo_account *list = NULL;
	struct xo_client *c = NULL;
	size_t n = 0, nt = 0;
	struct fake f;

	(void)state;
	fake_start(&f, script_list_scopes);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_list_scopes(c, &list, &n, &t, &nt), 0);
	assert_int_equal(n, 1);
	assert_int_equal(nt, 2);
	assert_string_equal(t[0].account, "work");
	assert_string_equal(t[0].scope,
			    "https://graph.microsoft.com/Mail.Send");
	assert_string_equal(t[0].state_name, "reauth");
	assert_string_equal(t[0].last_error, "work: AADSTS65001: no consent");
	assert_int_equal(t[1].state, PROTO_STATE_ACTIVE);
	assert_int_equal(t[1].expires_at, 1700003600);
	assert_int_equal(t[1].refreshed_at, 1700000000);
	assert_int_equal(t[1].next_refresh_at, 1700002700);
	xo_scope_tokens_free(t, nt);
	xo_accounts_free(list, n);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

/* An agent without "list-scopes" gets the LIST it knows (script_list
   checks that it is empty), and the client no scopes. */
static void client_asks_an_older_agent_for_no_scopes(void **state)
{
	struct xo_scope_token *t = (struct xo_scope_token *)1;
	struct xo_account *list = NULL;
	struct xo_client *c = NULL;
	size_t n = 0, nt = 99;
	struct fake f;

	(void)state;
	fake_start(&f, script_list);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_list_scopes(c, &list, &n, &t, &nt), 0);
	assert_int_equal(n, 2);
	assert_null(t);
	assert_int_equal(nt, 0);
	xo_accounts_free(list, n);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_login_waits_until_agent_says_done(void **state)
{
	struct xo_login l = {0};
	struct xo_client *c = NULL;
	struct fake f;

	(void)state;
	fake_start(&f, script_login);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_login_start(c, "work", &l), 0);
	assert_string_equal(l.verification_uri, "https://example.com/device");
	assert_string_equal(l.user_code, "ABCD-EFGH");
	assert_int_equal(l.expires_in, 900);
	assert_int_equal(l.interval, 5);
	assert_string_equal(l.flow, "device");
	assert_int_equal(xo_login_wait(c, "work", 50), XO_ERR_LOGIN_PENDING);
	assert_string_equal(xo_client_message(c), "waiting for the user");
	assert_true(xo_client_agent_failed(c));
	assert_int_equal(xo_login_wait(c, "work", 50), 0);
	xo_login_free(&l);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_manages_runtime_accounts_and_asks_the_doctor(void **state)
{
	const struct xo_setting set[] = {{"provider", "microsoft"},
					 {"client_id", "abc"}};
	struct xo_finding *found = NULL;
	struct xo_client *c = NULL;
	size_t n = 0;
	struct fake f;

	(void)state;
	fake_start(&f, script_manage);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_add(c, "shop", set, 2), 0);
	assert_int_equal(xo_delete(c, "work"), XO_ERR_CONFIGURED);
	assert_string_equal(xo_client_message(c), "work is in the config");
	watch_start(SECRET_TOKEN);
	assert_int_equal(xo_login_code(c, "shop",
				       "http://localhost/?code=" SECRET_TOKEN
				       "&state=s",
				       70),
			 XO_ERR_LOGIN_MISMATCH);
	watch_stop();
	/* The code in the pasted response is a secret too. */
	assert_int_equal(watch.leaks, 0);
	assert_int_equal(
	    xo_doctor(c, "shop", "smtp.example.com:587", NULL, &found, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(found[0].level, XO_LEVEL_OK);
	assert_string_equal(found[1].text, "SMTP AUTH is off");
	assert_string_equal(found[1].fix, "turn it on");
	xo_findings_free(found, n);
	xo_client_free(c);
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

static void client_open_keeps_the_reason_it_failed(void **state)
{
	char dir[] = "/tmp/xo-test-client-XXXXXX", path[128];
	struct xo_client *c = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/no-such.sock", dir);
	assert_int_equal(xo_client_open(path, &c), XO_ERR_NO_AGENT);
	assert_non_null(c);
	assert_non_null(strstr(xo_client_message(c), "no agent socket at"));
	assert_false(xo_client_agent_failed(c));
	xo_client_free(c);
	rmdir(dir);
}

static void client_checks_arguments_before_sending(void **state)
{
	struct xo_token t = {0};
	struct xo_client *c = NULL;
	struct fake f;

	(void)state;
	fake_start(&f, script_nothing);
	assert_int_equal(xo_client_connect(f.path, &c), 0);
	assert_int_equal(xo_token(c, "", NULL, &t), XO_ERR_INVALID);
	assert_int_equal(xo_token(c, NULL, NULL, &t), XO_ERR_INVALID);
	assert_int_equal(xo_import(c, "work", ""), XO_ERR_INVALID);
	assert_int_equal(xo_token(NULL, "work", NULL, &t), XO_ERR_INVALID);
	xo_token_free(NULL);
	xo_client_free(NULL);
	xo_client_free(c);
	/* The fake saw nothing, not even a QUERY: only the hang-up. */
	assert_int_equal(fake_finish(&f), FAKE_OK);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(client_connects_and_learns_agent_version),
	    cmocka_unit_test(client_uses_socket_from_environment),
	    cmocka_unit_test(client_refuses_agent_with_other_major_version),
	    cmocka_unit_test(client_sends_query_and_first_request_in_one_write),
	    cmocka_unit_test(client_reports_no_agent_when_socket_is_missing),
	    cmocka_unit_test(client_reports_no_agent_when_nobody_listens),
	    cmocka_unit_test(client_refuses_a_socket_of_another_user),
	    cmocka_unit_test(client_retries_an_agent_that_is_full),
	    cmocka_unit_test(client_reports_no_agent_when_environment_is_unset),
	    cmocka_unit_test(client_passes_on_agent_failure_message),
	    cmocka_unit_test(client_token_is_returned_and_wiped_when_freed),
	    cmocka_unit_test(client_wipes_imported_refresh_token),
	    cmocka_unit_test(client_rejects_oversized_reply_frame),
	    cmocka_unit_test(client_rejects_reply_announcing_four_gigabytes),
	    cmocka_unit_test(client_rejects_oversized_version_reply),
	    cmocka_unit_test(client_reports_io_error_on_truncated_reply),
	    cmocka_unit_test(client_gives_up_on_silent_agent),
	    cmocka_unit_test(client_rejects_reply_of_wrong_type),
	    cmocka_unit_test(client_lists_accounts),
	    cmocka_unit_test(client_lists_tokens_of_other_scopes),
	    cmocka_unit_test(client_asks_an_older_agent_for_no_scopes),
	    cmocka_unit_test(client_login_waits_until_agent_says_done),
	    cmocka_unit_test(client_checks_arguments_before_sending),
	    cmocka_unit_test(
		client_manages_runtime_accounts_and_asks_the_doctor),
	    cmocka_unit_test(client_open_keeps_the_reason_it_failed),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("client", tests, NULL, NULL),
	};

	return unit_run(argc, argv, groups, 1);
}
