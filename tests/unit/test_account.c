/*
 * The account store's reload (SIGHUP): a new config replaces the accounts,
 * unchanged accounts keep their tokens, a busy unchanged account stays
 * itself, and a reload that fails, for lack of memory at any allocation,
 * leaves every account exactly as it was.
 *
 * malloc, calloc, realloc and strdup are wrapped (see account.cmake) so
 * that the test can make any one allocation of the agent's code fail.
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
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "account/account_internal.h"
#include "config/config.h"
#include "core/log.h"
#include "oauth/http.h"
#include "secret/secret.h"

/* ---- allocation failures on demand ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t nmemb, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static long fail_at = -1; /* the allocation to fail, from 0; -1: none */
static long allocations;  /* counted while fail_at >= 0 */

static int fail_this_one(void)
{
	return fail_at >= 0 && allocations++ == fail_at;
}

void *__wrap_malloc(size_t n)
{
	return fail_this_one() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
	return fail_this_one() ? NULL : __real_calloc(nmemb, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_this_one() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fail_this_one() ? NULL : __real_strdup(s);
}

/* ---- an agent with accounts, without a listener ---- */

struct fixture {
	uv_loop_t loop;
	struct agent a;
	struct agent_config *cfg; /* a.config */
	char dir[64];
	char path[96];
};

static const char *section(const char *name, const char *scopes)
{
	static char buf[512];

	snprintf(buf, sizeof(buf),
		 "[account %s]\n"
		 "provider = generic\n"
		 "client_id = cid-%s\n"
		 "token_endpoint = http://127.0.0.1:9/token\n"
		 "device_authorization_endpoint = http://127.0.0.1:9/device\n"
		 "scopes = %s\n"
		 "flow = device\n",
		 name, name, scopes);
	return buf;
}

static void write_config(struct fixture *f, const char *const *names,
			 const char *changed)
{
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	for (; *names != NULL; names++) {
		int is_changed =
		    changed != NULL && strcmp(*names, changed) == 0;

		fputs(section(*names, is_changed ? "other" : "mail"), fp);
	}
	assert_int_equal(fclose(fp), 0);
}

static struct account *find(struct fixture *f, const char *name)
{
	return account_find(f->a.store, name, strlen(name));
}

static void give_tokens(struct fixture *f, const char *name)
{
	struct account *acct = find(f, name);

	assert_non_null(acct);
	assert_int_equal(
	    agent_secret_seal(f->a.shield, "access", 6, &acct->access_token),
	    0);
	assert_int_equal(
	    agent_secret_seal(f->a.shield, "refresh", 7, &acct->refresh_token),
	    0);
	acct->state = PROTO_STATE_ACTIVE;
}

/* A reload as the daemon does it (daemon/run.c): the file read again, the
   store given the new config, which then replaces the old one. */
static int reload(struct fixture *f)
{
	struct agent_config *cfg = NULL;
	struct agent_err err;
	int r;

	if ((r = agent_config_load(f->path, 1, &cfg, err.msg,
				   sizeof(err.msg))) != 0)
		return r;
	if ((r = account_store_reload(f->a.store, cfg, &err)) != 0) {
		agent_config_free(cfg);
		return r;
	}
	agent_config_free(f->cfg);
	f->cfg = cfg;
	f->a.config = cfg;
	return 0;
}

static int setup(void **state)
{
	static const char *const names[] = {"busy", "keep", "changed", "gone",
					    NULL};
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL || sodium_init() < 0)
		return -1;
	agent_log_init("test_account", LOG_LEVEL_ERROR, 1);
	snprintf(f->dir, sizeof(f->dir), "/tmp/xo-account-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/config", f->dir);
	write_config(f, names, NULL);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->a.loop = &f->loop;
	assert_int_equal(agent_shield_new(&f->a.shield), 0);
	assert_int_equal(agent_http_new(&f->loop, &f->a.http), 0);
	assert_int_equal(account_store_new(&f->a, &f->a.store), 0);
	assert_int_equal(
	    agent_config_load(f->path, 1, &f->cfg, err, sizeof(err)), 0);
	f->a.config = f->cfg;
	assert_int_equal(account_store_load(f->a.store, f->a.config), 0);
	give_tokens(f, "busy");
	give_tokens(f, "keep");
	give_tokens(f, "changed");
	/* As if a refresh were in flight: its operation points into the
	   account, so the account itself must survive a reload. */
	find(f, "busy")->op = ACCOUNT_OP_REFRESH;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fail_at = -1;
	account_store_stop(f->a.store);
	agent_http_free(f->a.http);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	account_store_free(f->a.store);
	agent_shield_free(f->a.shield);
	agent_config_free(f->cfg);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* What a failed reload must leave untouched. */
struct snapshot {
	const struct agent_config *config;
	struct account *accounts[8];
	struct agent_secret *access[8], *refresh[8];
	int refreshing[8];
	size_t n;
};

static void take(struct fixture *f, struct snapshot *s)
{
	struct account *acct;

	memset(s, 0, sizeof(*s));
	s->config = f->a.config;
	for (acct = f->a.store->accounts; acct != NULL; acct = acct->next) {
		assert_true(s->n < 8);
		s->accounts[s->n] = acct;
		s->access[s->n] = acct->access_token;
		s->refresh[s->n] = acct->refresh_token;
		s->refreshing[s->n] = acct->op == ACCOUNT_OP_REFRESH;
		s->n++;
	}
}

static void assert_unchanged(struct fixture *f, const struct snapshot *s)
{
	struct snapshot now;
	size_t i;

	take(f, &now);
	assert_ptr_equal(now.config, s->config);
	assert_int_equal(now.n, s->n);
	for (i = 0; i < s->n; i++) {
		assert_ptr_equal(now.accounts[i], s->accounts[i]);
		assert_ptr_equal(now.access[i], s->access[i]);
		assert_ptr_equal(now.refresh[i], s->refresh[i]);
		assert_int_equal(now.refreshing[i], s->refreshing[i]);
	}
}

/* The new config: "busy" and "keep" unchanged, "changed" changed, "gone"
   removed, "new" added; busy first, so that a reload that moved it early
   and failed later would lose it. */
static const char *const next_names[] = {"busy", "keep", "changed", "new",
					 NULL};

static void reload_keeps_busy_account_and_tokens_of_unchanged_ones(void **state)
{
	struct fixture *f = *state;
	struct account *busy = find(f, "busy"), *keep = find(f, "keep");
	struct agent_secret *keep_access = keep->access_token;

	write_config(f, next_names, "changed");
	assert_int_equal(reload(f), 0);
	assert_ptr_equal(find(f, "busy"), busy);
	assert_int_equal(busy->op, ACCOUNT_OP_REFRESH);
	assert_non_null(busy->access_token);
	/* An unchanged account is a new one holding the same tokens. */
	assert_non_null(find(f, "keep"));
	assert_ptr_equal(find(f, "keep")->access_token, keep_access);
	assert_null(find(f, "changed")->access_token);
	assert_null(find(f, "gone"));
	assert_non_null(find(f, "new"));
	/* In the config's order. */
	assert_string_equal(f->a.store->accounts->cfg.name, "busy");
	assert_string_equal(f->a.store->accounts->next->next->next->cfg.name,
			    "new");
	assert_null(f->a.store->accounts->next->next->next->next);
	find(f, "busy")->op = ACCOUNT_OP_NONE;
}

static void
reload_failing_at_any_allocation_leaves_accounts_as_they_were(void **state)
{
	struct fixture *f = *state;
	struct snapshot before;
	long k;
	int r;

	write_config(f, next_names, "changed");
	take(f, &before);
	for (k = 0;; k++) {
		allocations = 0;
		fail_at = k;
		r = reload(f);
		fail_at = -1;
		if (allocations <= k) {
			/* Every allocation of the reload failed in turn;
			   this one ran with none failing. */
			assert_int_equal(r, 0);
			break;
		}
		assert_int_not_equal(r, 0);
		assert_unchanged(f, &before);
	}
	/* Reading the config and making four accounts allocate a lot: the
	   loop above really made many different allocations fail. */
	assert_true(k > 20);
	assert_ptr_equal(find(f, "busy"), before.accounts[0]);
	assert_non_null(find(f, "new"));
	find(f, "busy")->op = ACCOUNT_OP_NONE;
}

/* ---- finding accounts among many (index.c) ---- */

#define MANY 5000

static int add_runtime(struct fixture *f, unsigned i, const char *email,
		       struct agent_err *err)
{
	char name[32], addr[64];
	struct agent_setting s[] = {
	    {"provider", "generic"},
	    {"client_id", "cid"},
	    {"token_endpoint", "http://127.0.0.1:9/token"},
	    {"device_authorization_endpoint", "http://127.0.0.1:9/device"},
	    {"scopes", "mail"},
	    {"flow", "device"},
	    {"email", addr},
	};
	struct account *acct;

	snprintf(name, sizeof(name), "user%u", i);
	snprintf(addr, sizeof(addr), "%s", email);
	return account_runtime_create(f->a.store, name, s,
				      sizeof(s) / sizeof(s[0]), &acct, err);
}

static void many_accounts_are_found_by_name_and_address(void **state)
{
	struct fixture *f = *state;
	struct agent_err err;
	char name[32], addr[64];
	struct account *acct;
	unsigned i;

	for (i = 0; i < MANY; i++) {
		snprintf(addr, sizeof(addr), "User%u@Example.COM", i);
		assert_int_equal(add_runtime(f, i, addr, &err), 0);
	}
	for (i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "user%u", i);
		snprintf(addr, sizeof(addr), "user%u@example.com", i);
		acct = find(f, name);
		assert_non_null(acct);
		assert_string_equal(acct->cfg.name, name);
		/* The address, in another case. */
		assert_ptr_equal(find(f, addr), acct);
	}
	/* Every other one goes; the rest are still found, and the list
	   keeps its order. */
	for (i = 0; i < MANY; i += 2) {
		snprintf(name, sizeof(name), "user%u", i);
		assert_int_equal(
		    account_runtime_delete(f->a.store, find(f, name), &err), 0);
	}
	for (i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "user%u", i);
		snprintf(addr, sizeof(addr), "USER%u@example.com", i);
		if (i % 2 == 0) {
			assert_null(find(f, name));
			assert_null(find(f, addr));
		} else {
			assert_non_null(find(f, name));
			assert_ptr_equal(find(f, addr), find(f, name));
		}
	}
	assert_string_equal(f->a.store->last->cfg.name, "user4999");
	assert_ptr_equal(f->a.store->last->prev, find(f, "user4997"));
}

static void
add_clashing_with_an_address_in_another_case_is_refused(void **state)
{
	struct fixture *f = *state;
	struct agent_err err;

	assert_int_equal(add_runtime(f, 1, "one@example.com", &err), 0);
	/* Its address, in capitals, as another account's address. */
	assert_int_equal(add_runtime(f, 2, "ONE@example.com", &err),
			 XO_ERR_EXISTS);
	assert_non_null(strstr(err.msg, "user1"));
	/* The same name again. */
	assert_int_equal(add_runtime(f, 1, "other@example.com", &err),
			 XO_ERR_EXISTS);
	assert_int_equal(add_runtime(f, 4, "four@example.com", &err), 0);
}

/* A walk over several turns (a new base's snapshot) whose next account
   is taken out of the list goes on from the one after it, and reaches an
   account appended once it had reached the end. */
static void walk_moves_past_an_account_taken_out(void **state)
{
	struct fixture *f = *state;
	struct account_store *s = f->a.store;
	struct account *keep = find(f, "keep"), *acct;
	struct agent_err err;

	account_walk_start(s);
	assert_ptr_equal(account_walk_next(s), find(f, "busy"));
	/* "keep" is the walk's next: it goes (a DELETE frees it). */
	account_unlink(s, keep);
	account_free(keep, NULL);
	assert_ptr_equal(account_walk_next(s), find(f, "changed"));
	/* An account not next, taken out, changes nothing. */
	acct = find(f, "busy");
	account_unlink(s, acct);
	account_free(acct, NULL);
	assert_ptr_equal(account_walk_next(s), find(f, "gone"));
	assert_null(account_walk_next(s));
	/* Appended at the tail once the walk is at the end: reached. */
	assert_int_equal(add_runtime(f, 1, "one@example.com", &err), 0);
	assert_ptr_equal(account_walk_next(s), find(f, "user1"));
	/* The last one next, taken out: the walk is at the end. */
	assert_int_equal(add_runtime(f, 2, "two@example.com", &err), 0);
	acct = find(f, "user2");
	account_unlink(s, acct);
	account_free(acct, NULL);
	assert_null(account_walk_next(s));
	assert_int_equal(account_walk_restarts(s), 0);
	account_walk_end(s);
}

/* A reload relinks the list and frees the accounts it changed or
   removed: a walk under way starts again from the new first account,
   and says so, rather than go on from a freed one. */
static void walk_starts_again_after_a_reload(void **state)
{
	static const char *const names[] = {"busy", "keep", "changed", "new",
					    NULL};
	struct fixture *f = *state;
	struct account_store *s = f->a.store;
	struct account *acct;
	size_t n = 0;

	account_walk_start(s);
	assert_ptr_equal(account_walk_next(s), find(f, "busy"));
	assert_ptr_equal(account_walk_next(s), find(f, "keep"));
	/* Its next is "changed", which the reload frees. */
	write_config(f, names, "changed");
	assert_int_equal(reload(f), 0);
	assert_int_equal(account_walk_restarts(s), 1);
	while ((acct = account_walk_next(s)) != NULL) {
		assert_ptr_equal(acct, find(f, account_name(acct)));
		n++;
	}
	assert_int_equal(n, 4);
	account_walk_end(s);
	/* Without a walk, a reload counts nothing. */
	assert_int_equal(reload(f), 0);
	assert_int_equal(account_walk_restarts(s), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		many_accounts_are_found_by_name_and_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		add_clashing_with_an_address_in_another_case_is_refused, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		reload_keeps_busy_account_and_tokens_of_unchanged_ones, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		walk_moves_past_an_account_taken_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(walk_starts_again_after_a_reload,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		reload_failing_at_any_allocation_leaves_accounts_as_they_were,
		setup, teardown),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("account", tests, NULL, NULL),
	};
	int status;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	status = unit_run(argc, argv, groups, 1);
	curl_global_cleanup();
	return status;
}
