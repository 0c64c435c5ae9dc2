/*
 * durable.c: what waits for the vault to hold a change (DESIGN.md,
 * "Rotation": the new refresh token is written before the new access token
 * is served; and a change a client asked for is answered once it is on
 * disk).
 *
 * The vault numbers its writes (hooks.persist) and tells the store when
 * one has ended (account_store_written()); a failed write is reported by
 * the vault and retried, and what waited goes on: the agent keeps serving
 * from memory.  Without a vault nothing is written and nothing waits.
 */
#include <stdlib.h>

#include "account/account_internal.h"
#include "core/conn.h"

/* Accounts that go on per turn of the loop once their write has ended.
   One write can hold the "sent" marks of a thousand refreshes at once (a
   storm), and each goes on to send its request: all in one turn, the
   clients waiting for a token would wait tens of milliseconds; the rest
   go on in the next turns, after what the clients asked meanwhile.  The
   count is per turn, not per write that ended (several can end in one
   turn), and small: sending a refresh's request (its form, the refresh
   token escaped, a transfer handed to libcurl) takes some 100 to 300 us
   of the loop in a storm, and 32 of them made turns of up to 9 ms, the
   tail of TOKEN's latency (tests/bench/README.md, the refresh storm). */
#define DURABLE_PER_TURN 4

struct durable_reply {
	struct durable_reply *next;
	struct account_store *store;
	struct conn *conn; /* NULL once the connection went away */
	uint64_t seq;
	bool strict; /* a failed write is answered as a failure */
};

/* The number of the vault's write that will hold the change of the
   account named name (NULL: every account), or of its "presented" mark
   alone; 0 when nothing is written. */
static uint64_t persist(struct account_store *s, const char *name,
			bool mark_only)
{
	if (s->hooks.persist == NULL)
		return 0;
	return s->hooks.persist(s->hooks.arg, name, mark_only);
}

uint64_t account_store_persist(struct account_store *s, const char *name)
{
	return persist(s, name, false);
}

/* Waits for write seq, then calls done; false when there is nothing to
   wait for. */
static bool wait_for_write(struct account *acct, uint64_t seq, account_cb done)
{
	struct account_store *s = acct->store;

	if (seq <= s->written_seq)
		return false;
	/* One wait per account: a newer one supersedes it, since the newer
	   write holds this change too.  Numbers only grow, so the list
	   stays in their order when the account goes to its end. */
	account_durable_cancel(acct);
	acct->durable_seq = seq;
	acct->on_durable = done;
	TAILQ_INSERT_TAIL(&s->durable, acct, durable_link);
	return true;
}

bool account_persist_then(struct account *acct, account_cb done)
{
	return wait_for_write(
	    acct, account_store_persist(acct->store, acct->cfg.name), done);
}

bool account_mark_then(struct account *acct, account_cb done)
{
	return wait_for_write(acct, persist(acct->store, acct->cfg.name, true),
			      done);
}

void account_durable_cancel(struct account *acct)
{
	if (acct->on_durable == NULL)
		return;
	TAILQ_REMOVE(&acct->store->durable, acct, durable_link);
	acct->on_durable = NULL;
	acct->durable_seq = 0;
}

static void cancel_reply(void *arg)
{
	struct durable_reply *w = arg;

	w->conn = NULL;
}

/* The answer for a write that has ended. */
static void answer(struct conn *c, bool strict, const char *failure)
{
	if (strict && failure != NULL)
		agent_conn_reply_failure(c, XO_ERR_IO, failure);
	else
		agent_conn_reply_success(c);
}

void account_reply_when_durable(struct account_store *s, struct conn *c,
				uint64_t seq, bool strict)
{
	struct durable_reply *w;

	if (seq <= s->written_seq) {
		answer(c, strict, seq == 0 ? NULL : s->write_failure);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		agent_conn_reply_failure(c, XO_ERR_NOMEM, NULL);
		return;
	}
	w->store = s;
	w->conn = c;
	w->seq = seq;
	w->strict = strict;
	w->next = s->replies;
	s->replies = w;
	agent_conn_hold(c, cancel_reply, w);
}

static void run_durable(struct account_store *s);

static void run_durable_next(uv_idle_t *h)
{
	struct account_store *s = h->data;

	s->durable_spent = 0; /* a new turn */
	run_durable(s);
}

/* The accounts whose write has ended go on, DURABLE_PER_TURN a turn:
   the count starts again when durable_more runs, in the next turn (when
   it has not run for a while, the next write's accounts may wait for it
   one turn, which an idle loop takes at once). */
static void run_durable(struct account_store *s)
{
	struct account *acct;
	account_cb cb;

	/* The list is in the order of the writes waited for, so those done
	   are at its head.  A callback may wait again (at the tail, for a
	   newer write) or cancel other waits: the head is looked at anew
	   each time. */
	while ((acct = TAILQ_FIRST(&s->durable)) != NULL &&
	       acct->durable_seq <= s->written_seq) {
		if (s->durable_spent++ >= DURABLE_PER_TURN) {
			if (!s->stopped)
				uv_idle_start(&s->durable_more,
					      run_durable_next);
			return;
		}
		cb = acct->on_durable;
		account_durable_cancel(acct);
		cb(acct);
	}
	if (!s->stopped)
		uv_idle_stop(&s->durable_more);
}

void account_store_written(struct account_store *s, uint64_t seq,
			   const char *failure)
{
	struct durable_reply **pp, *w;

	if (seq > s->written_seq)
		s->written_seq = seq;
	s->write_failure = failure;
	run_durable(s);
	for (pp = &s->replies; (w = *pp) != NULL;) {
		if (w->seq > seq) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		if (w->conn != NULL)
			answer(w->conn, w->strict, failure);
		free(w);
	}
}
