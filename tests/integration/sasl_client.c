/*
 * sasl_client: one SASL client exchange through Cyrus SASL's client API,
 * as a mail program drives it, with the server's side given on the
 * command line.  test_sasl_plugin.py runs it to see exactly what the
 * plugin (contrib/sasl, found through $SASL_PATH) answers at each step.
 *
 *   sasl_client [-i] [-n] [-p PASS] [-r ADDR;PORT] SERVICE HOST MECHS USER
 *               [STEP...]
 *
 *   -i     give USER through an interaction prompt (as mbsync does), not a
 *          callback (as Postfix does)
 *   -p     offer a password too (as both do), so that libsasl2 may pick a
 *          password mechanism
 *   -n     no initial response: start as a client whose server takes none
 *   -r     the server's address (sasl_client_new()'s ipremoteport)
 *   STEP   a server message in base64 ("" for an empty one), or "ok":
 *          the server's success, after which a client steps with no data
 *
 * Prints one line per call on stdout:
 *   start rc=RC mech=NAME out=BASE64|none
 *   step rc=RC out=BASE64|none
 * and, after a call that failed, "error DETAIL" (sasl_errdetail()).  What
 * the plugin logs goes to stderr as "log LEVEL MESSAGE".  Exits 0 when
 * every call returned SASL_OK or SASL_CONTINUE, 1 otherwise, 2 on bad use.
 * The base64 it prints holds the access token: it is for the tests' own
 * provider only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

/* libsasl2 takes every callback as int (*)(void); void (*)(void) is the
   type GCC lets any function pointer pass through. */
#define CB(f) ((int (*)(void))(void (*)(void))(f))

static const char *user, *password;

static int log_cb(void *ctx, int level, const char *message)
{
	(void)ctx;
	fprintf(stderr, "log %d %s\n", level, message);
	return SASL_OK;
}

static int user_cb(void *ctx, int id, const char **result, unsigned *len)
{
	(void)ctx;
	(void)id;
	*result = user;
	if (len != NULL)
		*len = (unsigned)strlen(user);
	return SASL_OK;
}

static int pass_cb(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **secret)
{
	static sasl_secret_t *s;
	size_t n = strlen(password);

	(void)conn;
	(void)ctx;
	(void)id;
	free(s);
	if ((s = malloc(sizeof(*s) + n)) == NULL)
		return SASL_NOMEM;
	s->len = (unsigned long)n;
	memcpy(s->data, password, n + 1);
	*secret = s;
	return SASL_OK;
}

/* Fills in every prompt with the user name or the password, as mbsync
   does. */
static void answer(sasl_interact_t *p)
{
	for (; p->id != SASL_CB_LIST_END; p++) {
		p->result = p->id == SASL_CB_PASS ? password : user;
		p->len = (unsigned)strlen(p->result);
	}
}

/* Prints one call's line, and the error detail after a failure; returns
   1 when the call failed. */
static int report(sasl_conn_t *conn, const char *what, int rc, const char *mech,
		  const char *out, unsigned len)
{
	char enc[8192];
	unsigned n = 0;

	printf("%s rc=%d", what, rc);
	if (mech != NULL)
		printf(" mech=%s", mech);
	if (out == NULL)
		printf(" out=none\n");
	else if (sasl_encode64(out, len, enc, sizeof(enc), &n) == SASL_OK)
		printf(" out=%.*s\n", (int)n, enc);
	else
		printf(" out=(too long)\n");
	if (rc == SASL_OK || rc == SASL_CONTINUE)
		return 0;
	printf("error %s\n", sasl_errdetail(conn));
	return 1;
}

int main(int argc, char *argv[])
{
	static sasl_callback_t global[] = {
	    {SASL_CB_LOG, CB(log_cb), NULL},
	    {SASL_CB_LIST_END, NULL, NULL},
	};
	sasl_callback_t by_callback[] = {
	    {SASL_CB_AUTHNAME, CB(user_cb), NULL},
	    {SASL_CB_PASS, CB(pass_cb), NULL},
	    {SASL_CB_LIST_END, NULL, NULL},
	};
	/* A callback without a function: libsasl2 asks for it with a
	   prompt (SASL_INTERACT). */
	sasl_callback_t by_prompt[] = {
	    {SASL_CB_AUTHNAME, NULL, NULL},
	    {SASL_CB_PASS, NULL, NULL},
	    {SASL_CB_LIST_END, NULL, NULL},
	};
	sasl_interact_t *prompts = NULL;
	sasl_conn_t *conn = NULL;
	const char *remote = NULL, *out = NULL, *mech = NULL;
	int opt, interact = 0, no_ir = 0, rc, failed = 0, i;
	unsigned len = 0;
	char in[8192];

	while ((opt = getopt(argc, argv, "inp:r:")) != -1) {
		if (opt == 'i')
			interact = 1;
		else if (opt == 'n')
			no_ir = 1;
		else if (opt == 'p')
			password = optarg;
		else if (opt == 'r')
			remote = optarg;
		else
			return 2;
	}
	if (argc - optind < 4) {
		fprintf(stderr, "usage: sasl_client [-i] [-n] [-p PASS] "
				"[-r ADDR;PORT] SERVICE HOST MECHS USER "
				"[STEP...]\n");
		return 2;
	}
	user = argv[optind + 3];
	if (password == NULL) {
		/* No password offered: the lists end before it. */
		by_callback[1].id = SASL_CB_LIST_END;
		by_prompt[1].id = SASL_CB_LIST_END;
	}
	if ((rc = sasl_client_init(global)) != SASL_OK) {
		printf("init rc=%d\nerror %s\n", rc,
		       sasl_errstring(rc, NULL, NULL));
		return 1;
	}
	if ((rc = sasl_client_new(argv[optind], argv[optind + 1], NULL, remote,
				  interact ? by_prompt : by_callback, 0,
				  &conn)) != SASL_OK) {
		printf("new rc=%d\nerror %s\n", rc,
		       sasl_errstring(rc, NULL, NULL));
		return 1;
	}
	do {
		rc = sasl_client_start(conn, argv[optind + 2], &prompts,
				       no_ir ? NULL : &out, no_ir ? NULL : &len,
				       &mech);
		if (rc == SASL_INTERACT)
			answer(prompts);
	} while (rc == SASL_INTERACT);
	failed = report(conn, "start", rc, mech, out, len);
	for (i = optind + 4; i < argc && !failed; i++) {
		unsigned in_len = 0;
		const char *serverin = in;

		if (strcmp(argv[i], "ok") == 0) {
			serverin = NULL;
		} else if (sasl_decode64(argv[i], (unsigned)strlen(argv[i]), in,
					 sizeof(in), &in_len) != SASL_OK) {
			fprintf(stderr, "sasl_client: '%s' is not base64\n",
				argv[i]);
			return 2;
		}
		out = NULL;
		len = 0;
		do {
			rc = sasl_client_step(conn, serverin, in_len, &prompts,
					      &out, &len);
			if (rc == SASL_INTERACT)
				answer(prompts);
		} while (rc == SASL_INTERACT);
		failed = report(conn, "step", rc, NULL, out, len);
	}
	sasl_dispose(&conn);
	sasl_client_done();
	return failed;
}
