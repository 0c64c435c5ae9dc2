/*
 * proto.h: the xoauth-agent wire codec.  Pure functions: no I/O, no
 * allocation except where stated, no globals, libc only, so that the agent,
 * libxoauth and the fuzzers link it directly.  proto/PROTOCOL.md is the
 * specification; this header follows it.
 *
 * A frame is  uint32 length (big-endian) | uint8 type | payload,  where
 * length counts the type byte and the payload.  Strings are
 * uint32 length | bytes, never NUL-terminated on the wire.
 *
 * Decoded strings are views (struct proto_str) into the caller's frame
 * buffer: they stay valid only as long as that buffer.  Text fields are
 * rejected if they contain a NUL byte, so proto_str_dup() yields a proper C
 * string.
 */
#ifndef XO_PROTO_H
#define XO_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <xoauth/xo_errors.h>

#define PROTO_VERSION 1
/* Largest frame (length field value) either side accepts: ssh-agent's cap. */
#define PROTO_MAX_MSG (256 * 1024)
/* Largest single string field. */
#define PROTO_MAX_STR (64 * 1024)
/* Largest number of accounts in one LIST reply. */
#define PROTO_MAX_ACCOUNTS 4096
/* Largest number of settings in one ADD request. */
#define PROTO_MAX_SETTINGS 64
/* Largest number of findings in one DOCTOR reply. */
#define PROTO_MAX_FINDINGS 256
/* Largest number of pieces of an exported vault (EXPORT, RESTORE). */
#define PROTO_MAX_CHUNKS 4
/* Bytes of the frame header: length and type. */
#define PROTO_HEADER_LEN 5
/* Largest message SEND takes (PROTOCOL.md 4.11): more than Exchange
   Online's default 35 MB, which is also what Gmail takes. */
#define PROTO_MAX_MAIL (40 * 1024 * 1024)
/* Largest piece of a message in one SEND_DATA. */
#define PROTO_MAX_DATA (192 * 1024)
/* Largest number of envelope recipients in one SEND. */
#define PROTO_MAX_RCPTS 512
/* Largest number of other scopes' tokens in one LIST reply. */
#define PROTO_MAX_SCOPE_TOKENS 16384

/* Message numbers.  They never change; see PROTOCOL.md. */
enum proto_type {
	PROTO_REQ_QUERY = 1,
	PROTO_REQ_TOKEN = 2,
	PROTO_REQ_LIST = 3,
	PROTO_REQ_REFRESH = 4,
	PROTO_REQ_REMOVE = 5,
	PROTO_REQ_IMPORT = 6,
	PROTO_REQ_LOGIN_START = 7,
	PROTO_REQ_LOGIN_WAIT = 8,
	PROTO_REQ_LOGIN_CODE = 9,
	PROTO_REQ_ADD = 10,
	PROTO_REQ_DELETE = 11,
	PROTO_REQ_DOCTOR = 12,
	PROTO_REQ_LOCK = 13,
	PROTO_REQ_UNLOCK = 14,
	PROTO_REQ_EXPORT = 15,
	PROTO_REQ_RESTORE = 16,
	PROTO_REQ_SEND = 17,
	PROTO_REQ_SEND_DATA = 18,
	PROTO_REQ_SEND_END = 19,

	PROTO_REP_SUCCESS = 128,
	PROTO_REP_FAILURE = 129,
	PROTO_REP_VERSION = 130,
	PROTO_REP_TOKEN = 131,
	PROTO_REP_LIST = 132,
	PROTO_REP_LOGIN = 133,
	PROTO_REP_DOCTOR = 134,
	PROTO_REP_EXPORT = 135,
	PROTO_REP_SENT = 136,
};

/* SEND's flags. */
enum proto_send_flag {
	/* -t: the recipients of the To, Cc and Bcc headers too. */
	PROTO_SEND_RCPTS_FROM_HEADERS = 1,
};
#define PROTO_SEND_FLAGS_ALL PROTO_SEND_RCPTS_FROM_HEADERS

/* LIST's flags (its optional field; PROTOCOL.md 4.4). */
enum proto_list_flag {
	/* The tokens of other scopes than the accounts' own too. */
	PROTO_LIST_SCOPES = 1,
};
#define PROTO_LIST_FLAGS_ALL PROTO_LIST_SCOPES

/* What a TOKEN request asks for. */
enum proto_form {
	PROTO_FORM_ACCESS = 0,      /* the bare access token */
	PROTO_FORM_XOAUTH2 = 1,     /* base64 SASL XOAUTH2 initial response */
	PROTO_FORM_OAUTHBEARER = 2, /* base64 SASL OAUTHBEARER (RFC 7628) */
};

/* Account states in a LIST reply. */
enum proto_state {
	PROTO_STATE_NEED_LOGIN = 0,  /* no refresh token held */
	PROTO_STATE_ACTIVE = 1,      /* a valid access token is held */
	PROTO_STATE_REFRESHING = 2,  /* a refresh is in flight */
	PROTO_STATE_LOGIN_PENDING = 3, /* waiting for the user to log in */
	PROTO_STATE_RETRYING = 4,    /* transient failures; backing off */
	PROTO_STATE_REAUTH = 5,      /* refresh token rejected: log in again */
	PROTO_STATE_CONFIG_ERROR = 6, /* provider rejected the client config */
	PROTO_STATE_IDLE = 7,        /* refresh token held, no access token */
};

/* How much a DOCTOR finding matters. */
enum proto_level {
	PROTO_LEVEL_OK = 0,      /* checked, and fine */
	PROTO_LEVEL_INFO = 1,    /* a fact worth showing */
	PROTO_LEVEL_WARNING = 2, /* may cause trouble */
	PROTO_LEVEL_PROBLEM = 3, /* is wrong; the fix says what to do */
};

/* A borrowed view of bytes inside a frame. */
struct proto_str {
	const char *ptr;
	uint32_t len;
};

/* Builds a view of a C string (NULL gives the empty string). */
struct proto_str proto_str_c(const char *s);
/* 1 if the view equals the C string s, else 0. */
int proto_str_eq(struct proto_str a, const char *s);
/* Copies the view into a new NUL-terminated string; caller frees. */
int proto_str_dup(struct proto_str s, char **out);

/* ---- Bounded writer ------------------------------------------------- */

/*
 * A writer over caller-owned memory.  Every put checks the bound; after the
 * first failure the writer stays failed and proto_frame_end() reports it.
 */
struct proto_writer {
	unsigned char *buf;
	size_t cap;
	size_t len;
	size_t frame_start;
	int err;
};

void proto_writer_init(struct proto_writer *w, void *buf, size_t cap);
/* Starts a frame of the given type at the current position. */
void proto_frame_begin(struct proto_writer *w, uint8_t type);
/* Fills in the frame's length; returns 0 or the first error. */
int proto_frame_end(struct proto_writer *w);
void proto_put_u8(struct proto_writer *w, uint8_t v);
void proto_put_u32(struct proto_writer *w, uint32_t v);
void proto_put_u64(struct proto_writer *w, uint64_t v);
void proto_put_str(struct proto_writer *w, struct proto_str s);
void proto_put_bytes(struct proto_writer *w, const void *p, size_t n);

/* ---- Reader ---------------------------------------------------------- */

struct proto_reader {
	const unsigned char *p;
	size_t len;
	size_t off;
	int err;
};

void proto_reader_init(struct proto_reader *r, const void *p, size_t len);
uint8_t proto_get_u8(struct proto_reader *r);
uint32_t proto_get_u32(struct proto_reader *r);
uint64_t proto_get_u64(struct proto_reader *r);
/* A text field: bounded by PROTO_MAX_STR, no NUL bytes. */
struct proto_str proto_get_str(struct proto_reader *r);
/* 0 if everything was read without error and nothing is left over. */
int proto_reader_finish(struct proto_reader *r);

/*
 * Looks at the start of a byte stream.  Returns 0 and sets *frame_len (the
 * whole frame, header included) when a complete frame is buffered;
 * XO_ERR_MSG_TRUNCATED when more bytes are needed; XO_ERR_MSG_TOO_LARGE
 * when the announced length exceeds max (the connection must be closed);
 * XO_ERR_MSG_BAD for a zero length.
 */
int proto_frame_peek(const void *buf, size_t len, size_t max,
		     size_t *frame_len);

/*
 * Splits a complete frame (as found by proto_frame_peek) into its type and
 * a reader over its payload.
 */
int proto_frame_open(const void *frame, size_t frame_len, uint8_t *type,
		     struct proto_reader *payload);

/* ---- Messages -------------------------------------------------------- */

struct proto_query {
	uint32_t version; /* the client's PROTO_VERSION */
};

struct proto_version {
	uint32_t version;           /* the agent's PROTO_VERSION */
	struct proto_str agent;     /* "xoauth-agent 0.1.0" */
	struct proto_str caps;      /* space-separated capability words */
};

struct proto_token_req {
	struct proto_str account; /* config name or e-mail address */
	uint8_t form;             /* enum proto_form */
	struct proto_str host;    /* OAUTHBEARER host, may be empty */
	uint32_t port;            /* OAUTHBEARER port, 0 for none */
	uint32_t min_valid;       /* seconds the token must stay valid */
	uint32_t wait_ms;         /* longest wait for a refresh, 0: default */
	/* Optional trailing field (capability "token-scope"): the scope of
	   the token wanted, "" for the account's own.  Left off the wire
	   when empty, so that such a request reads as before. */
	struct proto_str scope;
};

struct proto_token_rep {
	struct proto_str token;   /* the secret: wipe after use */
	uint64_t expires_at;      /* Unix time, seconds */
	struct proto_str email;
};

/* REFRESH, REMOVE, LOGIN_WAIT and DELETE all name one account. */
struct proto_account_req {
	struct proto_str account;
	uint32_t wait_ms;
};

struct proto_import_req {
	struct proto_str account;
	struct proto_str refresh_token; /* the secret: wipe after use */
};

struct proto_login_start_req {
	struct proto_str account;
	struct proto_str flow; /* "" for the account's own flow */
	uint32_t wait_ms;
};

/* LOGIN_CODE: what the provider's redirect brought back, for the paste
 * flow. */
struct proto_login_code_req {
	struct proto_str account;
	struct proto_str response; /* redirect URL or bare code: a secret */
	uint32_t wait_ms;
};

struct proto_login_rep {
	/* device: where to enter user_code; browser and paste: the
	 * authorization URL to open. */
	struct proto_str verification_uri;
	struct proto_str verification_uri_complete; /* may be empty */
	struct proto_str user_code;                 /* device flow only */
	uint32_t expires_in; /* seconds until the login expires */
	uint32_t interval;   /* seconds between polls (device flow) */
	struct proto_str flow; /* "device", "browser", "paste", ... */
};

/* ADD: a runtime account, as the key = value lines of a config section. */
struct proto_setting {
	struct proto_str key;
	struct proto_str value;
};

struct proto_add_req {
	struct proto_str name;
	uint32_t count; /* at most PROTO_MAX_SETTINGS */
	struct proto_setting settings[PROTO_MAX_SETTINGS];
};

struct proto_doctor_req {
	struct proto_str account;
	struct proto_str smtp; /* "host[:port]" to try a login on, or "" */
	struct proto_str imap; /* the same for IMAP */
	uint32_t wait_ms;
};

/* UNLOCK and EXPORT: a passphrase (a secret); for UNLOCK, whether a vault
 * may be created when there is none. */
struct proto_passphrase_req {
	struct proto_str passphrase;
	uint8_t create; /* UNLOCK only: 0 or 1 */
};

/* An exported vault: base64 text in up to PROTO_MAX_CHUNKS strings, to
 * be joined in order (one string holds at most PROTO_MAX_STR bytes). */
struct proto_export {
	uint32_t count;
	struct proto_str chunks[PROTO_MAX_CHUNKS];
};

struct proto_restore_req {
	struct proto_export data;
	struct proto_str passphrase; /* the export's passphrase */
};

/* SEND: a message follows in SEND_DATA pieces, then SEND_END. */
struct proto_send_req {
	struct proto_str account;  /* "" : the agent chooses (4.11) */
	struct proto_str from;     /* envelope sender, "" : the account's */
	struct proto_str fullname; /* for a From: the agent adds; may be "" */
	uint8_t flags;             /* enum proto_send_flag */
	uint64_t size;             /* bytes of the message, at most
				      PROTO_MAX_MAIL */
	uint32_t count;            /* at most PROTO_MAX_RCPTS */
	struct proto_str rcpts[PROTO_MAX_RCPTS];
};

/* SEND_DATA: a piece of the message, any bytes (not a text field). */
struct proto_send_data {
	const unsigned char *data;
	uint32_t len; /* at most PROTO_MAX_DATA */
};

/* SEND_END: the whole message is there; send it. */
struct proto_send_end {
	uint32_t wait_ms; /* longest wait for the send, 0: the agent's */
};

/* SENT: how the message went out. */
struct proto_sent {
	struct proto_str transport; /* "smtp", "graph" or "gmail" */
	struct proto_str reply;     /* the server's last words, for people */
	struct proto_str notice;    /* a fallback taken, or "" */
};

struct proto_finding {
	uint8_t level;        /* enum proto_level */
	struct proto_str text; /* what was found */
	struct proto_str fix;  /* what to do about it, may be empty */
};

struct proto_failure {
	uint32_t status;          /* wire status, see proto_status_to_err */
	struct proto_str message; /* one line, for people */
};

/* LIST request: flags 0 is the request without its optional field. */
struct proto_list_req {
	uint32_t flags; /* enum proto_list_flag */
};

/* The token of another scope than its account's own (graph_scope,
   gmail_scope), in a LIST reply to PROTO_LIST_SCOPES. */
struct proto_scope_info {
	struct proto_str account; /* the name of an entry of the reply */
	struct proto_str scope;
	uint8_t state;		     /* enum proto_state: ACTIVE, REFRESHING,
					RETRYING, REAUTH or IDLE */
	uint64_t expires_at;	     /* Unix s, 0: none held */
	uint64_t refreshed_at;	     /* 0: never */
	uint64_t next_refresh_at;    /* 0: none planned */
	struct proto_str last_error; /* the scope's own failure, "" */
};

struct proto_account_info {
	struct proto_str name;
	struct proto_str email;
	struct proto_str provider;
	struct proto_str flow;
	uint8_t state;            /* enum proto_state */
	uint64_t expires_at;      /* access token expiry, Unix s, 0: none */
	uint64_t refreshed_at;    /* last successful refresh, 0: never */
	uint64_t next_refresh_at; /* next planned refresh, 0: none */
	struct proto_str last_error; /* empty when none */
};

/*
 * Encoders write one whole frame into w and return 0 or the writer's
 * error.  Decoders take the payload reader from proto_frame_open() and
 * return 0 or XO_ERR_MSG_BAD / XO_ERR_MSG_TRUNCATED; string fields point
 * into the frame.
 */
int proto_enc_query(struct proto_writer *w, const struct proto_query *m);
int proto_dec_query(struct proto_reader *r, struct proto_query *m);
int proto_enc_version(struct proto_writer *w, const struct proto_version *m);
int proto_dec_version(struct proto_reader *r, struct proto_version *m);
int proto_enc_token_req(struct proto_writer *w,
			const struct proto_token_req *m);
int proto_dec_token_req(struct proto_reader *r, struct proto_token_req *m);
int proto_enc_token_rep(struct proto_writer *w,
			const struct proto_token_rep *m);
/* Writes a token's bytes in place: dst has room for exactly len of them.
   0, or an error the writer takes as its own. */
typedef int (*proto_fill_cb)(void *arg, unsigned char *dst, size_t len);
/* proto_enc_token_rep() with the token_len bytes of the token written by
   fill(arg, dst, token_len) straight into the frame, so that a secret
   token is never copied on its way in (the agent decrypts it there).  The
   token is held to a string's rules (no NUL): XO_ERR_INVALID otherwise.
   On any error the token's room may hold what fill wrote: the caller's
   buffer must be one that is wiped. */
int proto_enc_token_rep_fill(struct proto_writer *w, uint32_t token_len,
			     uint64_t expires_at, struct proto_str email,
			     proto_fill_cb fill, void *arg);
/* The bytes of the TOKEN reply frame either encoder writes for a token of
   token_len bytes and an address of email_len. */
size_t proto_token_rep_size(size_t token_len, size_t email_len);
int proto_dec_token_rep(struct proto_reader *r, struct proto_token_rep *m);
/* type is one of REFRESH, REMOVE, LOGIN_WAIT, DELETE, LIST or LOCK (no
 * body for LIST and LOCK: pass m == NULL). */
int proto_enc_account_req(struct proto_writer *w, uint8_t type,
			  const struct proto_account_req *m);
int proto_dec_account_req(struct proto_reader *r,
			  struct proto_account_req *m);
int proto_enc_import_req(struct proto_writer *w,
			 const struct proto_import_req *m);
int proto_dec_import_req(struct proto_reader *r, struct proto_import_req *m);
int proto_enc_login_rep(struct proto_writer *w,
			const struct proto_login_rep *m);
int proto_dec_login_rep(struct proto_reader *r, struct proto_login_rep *m);
int proto_enc_login_start_req(struct proto_writer *w,
			      const struct proto_login_start_req *m);
int proto_dec_login_start_req(struct proto_reader *r,
			      struct proto_login_start_req *m);
int proto_enc_login_code_req(struct proto_writer *w,
			     const struct proto_login_code_req *m);
int proto_dec_login_code_req(struct proto_reader *r,
			     struct proto_login_code_req *m);
/* ADD: keys are non-empty; values may be empty. */
int proto_enc_add_req(struct proto_writer *w, const struct proto_add_req *m);
int proto_dec_add_req(struct proto_reader *r, struct proto_add_req *m);
int proto_enc_doctor_req(struct proto_writer *w,
			 const struct proto_doctor_req *m);
int proto_dec_doctor_req(struct proto_reader *r, struct proto_doctor_req *m);
/* type is UNLOCK or EXPORT. */
int proto_enc_passphrase_req(struct proto_writer *w, uint8_t type,
			     const struct proto_passphrase_req *m);
int proto_dec_passphrase_req(struct proto_reader *r, uint8_t type,
			     struct proto_passphrase_req *m);
int proto_enc_export_rep(struct proto_writer *w, const struct proto_export *m);
int proto_dec_export_rep(struct proto_reader *r, struct proto_export *m);
int proto_enc_restore_req(struct proto_writer *w,
			  const struct proto_restore_req *m);
int proto_dec_restore_req(struct proto_reader *r, struct proto_restore_req *m);
int proto_enc_send_req(struct proto_writer *w, const struct proto_send_req *m);
int proto_dec_send_req(struct proto_reader *r, struct proto_send_req *m);
int proto_enc_send_data(struct proto_writer *w,
			const struct proto_send_data *m);
int proto_dec_send_data(struct proto_reader *r, struct proto_send_data *m);
int proto_enc_send_end(struct proto_writer *w, const struct proto_send_end *m);
int proto_dec_send_end(struct proto_reader *r, struct proto_send_end *m);
int proto_enc_sent(struct proto_writer *w, const struct proto_sent *m);
int proto_dec_sent(struct proto_reader *r, struct proto_sent *m);
int proto_enc_failure(struct proto_writer *w, const struct proto_failure *m);
int proto_dec_failure(struct proto_reader *r, struct proto_failure *m);
int proto_enc_success(struct proto_writer *w);

/* LIST request: flags 0 writes the empty payload of the request without
   the field; a decoded empty payload gives flags 0. */
int proto_enc_list_req(struct proto_writer *w, const struct proto_list_req *m);
int proto_dec_list_req(struct proto_reader *r, struct proto_list_req *m);

/* LIST reply: a count, then that many entries; then, only in a reply to
   PROTO_LIST_SCOPES and only when there is one, the scopes' count and
   that many tokens (a count of 0 is left off). */
int proto_enc_list_begin(struct proto_writer *w, uint32_t count);
void proto_enc_list_entry(struct proto_writer *w,
			  const struct proto_account_info *e);
void proto_enc_list_scopes_begin(struct proto_writer *w, uint32_t count);
void proto_enc_list_scope(struct proto_writer *w,
			  const struct proto_scope_info *s);
int proto_enc_list_end(struct proto_writer *w);
int proto_dec_list_count(struct proto_reader *r, uint32_t *count);
int proto_dec_list_entry(struct proto_reader *r,
			 struct proto_account_info *e);
/* After the entries: the scopes' count, 0 when the reply ends there. */
int proto_dec_list_scopes_count(struct proto_reader *r, uint32_t *count);
int proto_dec_list_scope(struct proto_reader *r, struct proto_scope_info *s);

/* DOCTOR reply: a count, then that many findings (as LIST). */
int proto_enc_doctor_begin(struct proto_writer *w, uint32_t count);
void proto_enc_doctor_entry(struct proto_writer *w,
			    const struct proto_finding *f);
int proto_enc_doctor_end(struct proto_writer *w);
int proto_dec_doctor_count(struct proto_reader *r, uint32_t *count);
int proto_dec_doctor_entry(struct proto_reader *r, struct proto_finding *f);

/* ---- Errors ---------------------------------------------------------- */

/* The name ("NO_ACCOUNT") and message of an XO_ERR_* code. */
const char *proto_err_name(int err);
const char *proto_strerror(int err);
/* The wire status for an error code, and the canonical code for a status
 * (unknown statuses map to XO_ERR_INTERNAL). */
uint32_t proto_status_from_err(int err);
int proto_status_to_err(uint32_t status);

/* Names of forms and states, for logs and `xoauth list`. */
const char *proto_state_name(uint8_t state);

#endif
