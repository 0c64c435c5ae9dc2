/*
 * walk.c: a new base's snapshot taken a piece per turn of the loop.
 *
 * Taking a snapshot of every account in one turn (records.c: copies of
 * names and addresses, references to sealed secrets, a cache miss or two
 * an account) cost the loop 4 to 9 ms at 10,000 accounts and 64 ms at
 * 100,000, in a refresh storm, and every client's TOKEN waited for that
 * turn (issue 11).  When the file has a journal, write.c takes it here
 * instead, PIECE accounts a turn, and seals and writes it in the pool
 * once the walk has ended, as before.
 *
 * Why a walk over several turns loses nothing: the new base's base_seq is
 * fixed when the walk starts (write.c, v->last_rec then).  Every change
 * made after that is numbered in a record above base_seq, which the
 * commit carries over after the base and a load replays after it; a
 * record holds the whole state of the accounts it names, and the names of
 * those gone (records.c, vault_replay_record()), so replaying a change the
 * walk has already seen is harmless.  So the base may hold any state of
 * an account between the walk's start and its end, provided it never
 * skips an account that was there throughout (a record names it only if
 * it changed), and never reads a freed one.  The store's walk
 * (account/index.c) gives both: an account taken out of the list moves
 * the walk past it, an account appended is reached at the tail, and a
 * reload, which reorders the list and frees accounts, starts the walk
 * again from the first account (what was taken is dropped).  After
 * RESTARTS_MAX restarts the rest is taken in one turn, so that a busy
 * reloader cannot starve the base.  The kept records (accounts not in the
 * config) are taken in the last piece, against the accounts there then.
 *
 * A LOCK, a stop, or a piece that fails abandon the walk: what it took is
 * dropped, and the journal, which holds every change, stays the file's
 * until a later base.
 */
#include <stdint.h>
#include <stdlib.h>

#include "account/account.h"
#include "core/log.h"
#include "core/test_hooks.h"
#include "vault/vault_internal.h"

/* Accounts taken per turn of the loop.  The whole of 100,000 accounts
   took 64 ms in one turn; taken 2,000 a turn, a piece cost 0.7 to 0.9 ms
   at 10,000 accounts but 2.8 to 4.9 ms at 100,000, where every account
   is a cache miss or two (1.5 to 2.5 us each).  500 keeps a piece near a
   millisecond at 100,000, in 200 turns.  A test hook
   (XOAUTH_AGENT_TEST_SNAPSHOT_PIECE) makes it smaller, and
   XOAUTH_AGENT_TEST_SNAPSHOT_PIECE_MS puts a pause between pieces, so
   that a test can change accounts while a walk runs. */
#define PIECE 500
/* Restarts (reloads during a walk) after which the rest is taken in one
   turn. */
#define RESTARTS_MAX 3

struct vault_walk {
	struct vault_snapshot *snap; /* what has been taken so far */
	vault_walk_cb done;
	size_t piece;	     /* accounts a turn */
	uint64_t pause_ms;   /* test hook: between pieces; 0: next turn */
	unsigned restarts;   /* the store's count, as last seen */
	unsigned turns;	     /* pieces taken */
	uint64_t spent_ns;   /* loop time in them */
	uint64_t longest_ns; /* the longest */
};

static void on_turn(uv_idle_t *h);
static void on_pause(uv_timer_t *t);

static void walk_free(struct agent *a)
{
	struct agent_vault *v = a->vault;

	if (v->walk == NULL)
		return;
	uv_idle_stop(&v->walk_turn);
	uv_timer_stop(&v->walk_pause);
	account_walk_end(a->store);
	vault_snapshot_free(v->walk->snap);
	free(v->walk);
	v->walk = NULL;
}

static void next_piece(struct agent *a)
{
	struct agent_vault *v = a->vault;

	if (v->walk->pause_ms > 0)
		uv_timer_start(&v->walk_pause, on_pause, v->walk->pause_ms, 0);
	else
		uv_idle_start(&v->walk_turn, on_turn);
}

/* The walk has ended (r == 0) or failed: the snapshot to the caller. */
static void walk_done(struct agent *a, int r)
{
	struct agent_vault *v = a->vault;
	struct vault_walk *w = v->walk;
	struct vault_snapshot *snap = NULL;
	vault_walk_cb done = w->done;

	if (r == 0) {
		log_debug("vault: snapshot taken in %u turns, %.3f ms of the "
			  "loop in all, the longest piece %.3f ms",
			  w->turns, (double)w->spent_ns / 1e6,
			  (double)w->longest_ns / 1e6);
		snap = w->snap;
		w->snap = NULL; /* transferred */
	}
	walk_free(a);
	done(a, snap, r);
}

/* Takes the next piece: at most w->piece accounts, or, once the walk has
   reached the end, the kept records. */
static void take_piece(struct agent *a)
{
	struct agent_vault *v = a->vault;
	struct vault_walk *w = v->walk;
	uint64_t t0 = uv_hrtime(), spent;
	size_t n = 0, piece = w->piece;
	struct account *acct;
	int r = 0;

	if (account_walk_restarts(a->store) != w->restarts) {
		/* The list was made again (a reload): what was taken may
		   name accounts freed since, and the walk is on the new
		   list's first account.  Begin again. */
		w->restarts = account_walk_restarts(a->store);
		vault_snapshot_free(w->snap);
		w->snap = NULL;
		if ((r = vault_snapshot_begin(a, 0, &w->snap)) != 0)
			goto done;
		log_debug("vault: the accounts were reloaded: the new base's "
			  "snapshot starts again (%u)",
			  w->restarts);
		if (w->restarts > RESTARTS_MAX)
			piece = SIZE_MAX;
	}
	while ((acct = account_walk_next(a->store)) != NULL) {
		if ((r = vault_snapshot_add(w->snap, acct)) != 0)
			goto done;
		if (++n == piece)
			break;
	}
	if (acct == NULL)
		r = vault_snapshot_add_kept(a, w->snap);
done:
	spent = uv_hrtime() - t0;
	w->turns++;
	w->spent_ns += spent;
	if (spent > w->longest_ns)
		w->longest_ns = spent;
	if (r != 0 || acct == NULL)
		walk_done(a, r);
	else
		next_piece(a);
}

static void on_turn(uv_idle_t *h)
{
	struct agent *a = h->data;

	uv_idle_stop(h);
	take_piece(a);
}

static void on_pause(uv_timer_t *t)
{
	take_piece(t->data);
}

void vault_walk_init(struct agent *a)
{
	struct agent_vault *v = a->vault;

	uv_idle_init(a->loop, &v->walk_turn);
	v->walk_turn.data = a;
	uv_timer_init(a->loop, &v->walk_pause);
	v->walk_pause.data = a;
}

void vault_walk_close(struct agent *a)
{
	struct agent_vault *v = a->vault;

	walk_free(a);
	uv_close((uv_handle_t *)&v->walk_turn, NULL);
	uv_close((uv_handle_t *)&v->walk_pause, NULL);
}

int vault_walk_start(struct agent *a, vault_walk_cb done)
{
	struct agent_vault *v = a->vault;
	struct vault_walk *w;
	int r;

	if (v->walk != NULL)
		return XO_ERR_INTERNAL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return XO_ERR_NOMEM;
	if ((r = vault_snapshot_begin(a, 0, &w->snap)) != 0) {
		free(w);
		return r;
	}
	w->done = done;
	w->piece = agent_test_number("XOAUTH_AGENT_TEST_SNAPSHOT_PIECE", PIECE);
	if (w->piece == 0)
		w->piece = PIECE;
	w->pause_ms =
	    agent_test_number("XOAUTH_AGENT_TEST_SNAPSHOT_PIECE_MS", 0);
	v->walk = w;
	account_walk_start(a->store);
	log_debug("vault: taking a new base's snapshot, a piece a turn "
		  "(accounts a piece: %zu)",
		  w->piece);
	next_piece(a);
	return 0;
}

void vault_walk_abandon(struct agent *a)
{
	if (a->vault->walk == NULL)
		return;
	log_debug("vault: the new base's snapshot abandoned; the journal "
		  "stays until a later one");
	walk_free(a);
}
