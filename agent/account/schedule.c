/*
 * schedule.c: when each account's refresh starts, and when its lifetime
 * ends (DESIGN.md, "Refresh policy").
 *
 * Every account that has a deadline the scheduler acts on (its next
 * refresh, unless the agent is locked; the end of its tokens' lifetime)
 * sits in one binary heap keyed by the earliest of them, and one timer
 * wakes at the top's deadline.  A wake-up takes every account whose
 * deadline has come, whatever their number, and costs O(log n) each; an
 * account whose deadlines change is moved in the heap
 * (account_schedule()), and a change to every account at once (start-up,
 * reload, LOCK, UNLOCK, RESTORE) builds the heap again in O(n)
 * (account_store_schedule()).  An account busy with a refresh or a login
 * is out of the heap: the end of the operation plans it again.  An entry
 * whose deadline went away (tokens forgotten) is dropped when it comes up.
 * An account in the ready queue is in the heap only for the time it
 * becomes urgent (or its lifetime ends), below.
 *
 * At most MAX_REFRESHING refreshes run at once.  An account due while all
 * of them are taken waits, in the order it came due, in the ready queue,
 * and starts when one ends; a request that needs a token now does not
 * wait there (token.c starts its refresh at once).  So a storm of
 * refreshes (100,000 accounts due in the same minute, or at once after a
 * vault is loaded) is a steady stream that the provider, the vault and
 * the requests of clients all keep up with.
 *
 * Pacing.  A refresh ahead of expiry is not urgent, so the scheduler
 * starts at most PACE_PER_S of them a second (a token bucket of
 * PACE_BURST), the rest waiting in the ready queue.  Each ended refresh
 * costs the loop 0.3 to 0.7 ms (the reply parsed, two tokens sealed, the
 * state written), and unpaced, a storm of 10,000 ran some 3,300 a second,
 * a TOKEN waiting behind them (tests/bench/README.md, "The storm's
 * tail").  Never held back: a refresh a request needs now (token.c), and
 * one whose token has expired or is in the last quarter of its margin.
 * Such an urgent one that must wait for a slot waits in the urgent
 * queue, which is started before the ready queue.  One that reaches that
 * quarter while it waits in the ready queue is also in the heap, keyed
 * by when the quarter begins: the tick that takes it from the heap moves
 * it to the urgent queue, ahead of the paced ones that came due before
 * it (O(log n) per account, no search of the queue at each start).
 * Nor is an account without an access token urgent: a request that needs
 * one starts its refresh at once.  Why 500: the margin is at least 600 s
 * for a token of an hour or more (DESIGN.md, "Refresh policy") and 300 s
 * for one of 10 minutes; 100,000 accounts due at once all start within
 * 200 s, before the last quarter of either.  Shorter tokens, or more
 * accounts, reach their last quarter and are not held back at all.
 *
 * Deadlines are kept on CLOCK_BOOTTIME, and so is the timer (a boot
 * timer, core/clock.h): it wakes at the earliest deadline and at no other
 * time, however far away that is, and a deadline that passed while the
 * machine slept wakes it as soon as the machine resumes.  An agent whose
 * accounts have nothing due has the timer disarmed and sleeps until a
 * client or a signal comes.  (Besides, a TOKEN request judges the held
 * token on the same clock, so a request that comes in right after a
 * resume, before the timer's refresh has ended, waits for it rather than
 * get a dead token: token.c.)
 */
#include <stdlib.h>

#include "account/account_internal.h"
#include "core/clock.h"
#include "core/log.h"

static bool locked(const struct account_store *s)
{
	return s->hooks.locked != NULL && s->hooks.locked(s->hooks.arg);
}

void account_set_op(struct account *acct, enum account_op op)
{
	struct account_store *s = acct->store;

	if (acct->op == ACCOUNT_OP_REFRESH)
		s->refreshing--;
	if (op == ACCOUNT_OP_REFRESH)
		s->refreshing++;
	acct->op = op;
}

/* The deadline the scheduler acts on for acct, 0 for none. */
static int64_t due_at(const struct account *acct, bool is_locked)
{
	int64_t at = 0;

	int64_t scope_at;

	if (acct->op != ACCOUNT_OP_NONE)
		return 0;
	if (!is_locked && acct->next_refresh_boot > 0)
		at = acct->next_refresh_boot;
	/* The tokens of other scopes (scopes.c) refresh on their own
	   deadlines, one at a time with the account's own. */
	if (!is_locked && (scope_at = account_scopes_next(acct)) > 0 &&
	    (at == 0 || scope_at < at))
		at = scope_at;
	if (acct->drop_boot > 0 && (at == 0 || acct->drop_boot < at))
		at = acct->drop_boot;
	return at;
}

/* ---- the heap: s->heap[0] has the earliest deadline; acct->heap_at is
   its place plus one, 0 when it is not there ---- */

static void heap_set(struct account_store *s, size_t i, struct account *acct)
{
	s->heap[i] = acct;
	acct->heap_at = i + 1;
}

static void sift_up(struct account_store *s, size_t i)
{
	struct account *acct = s->heap[i];

	while (i > 0 && s->heap[(i - 1) / 2]->heap_key > acct->heap_key) {
		heap_set(s, i, s->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(s, i, acct);
}

static void sift_down(struct account_store *s, size_t i)
{
	struct account *acct = s->heap[i];
	size_t c;

	while ((c = 2 * i + 1) < s->heap_n) {
		if (c + 1 < s->heap_n &&
		    s->heap[c + 1]->heap_key < s->heap[c]->heap_key)
			c++;
		if (s->heap[c]->heap_key >= acct->heap_key)
			break;
		heap_set(s, i, s->heap[c]);
		i = c;
	}
	heap_set(s, i, acct);
}

static void heap_remove(struct account_store *s, struct account *acct)
{
	size_t i = acct->heap_at - 1;
	struct account *last;

	if (acct->heap_at == 0)
		return;
	acct->heap_at = 0;
	last = s->heap[--s->heap_n];
	if (last == acct)
		return;
	heap_set(s, i, last);
	sift_down(s, i);
	sift_up(s, last->heap_at - 1);
}

/* Room for one more; false when out of memory. */
static bool heap_room(struct account_store *s)
{
	struct account **h;
	size_t cap;

	if (s->heap_n < s->heap_cap)
		return true;
	cap = s->heap_cap ? s->heap_cap * 2 : 64;
	if ((h = realloc(s->heap, cap * sizeof(*h))) == NULL)
		return false;
	s->heap = h;
	s->heap_cap = cap;
	return true;
}

/* Puts acct in the heap for at, or moves it there; false when out of
   memory. */
static bool heap_put(struct account_store *s, struct account *acct, int64_t at)
{
	acct->heap_key = at;
	if (acct->heap_at != 0) {
		sift_down(s, acct->heap_at - 1);
		sift_up(s, acct->heap_at - 1);
		return true;
	}
	if (!heap_room(s))
		return false;
	heap_set(s, s->heap_n++, acct);
	sift_up(s, s->heap_n - 1);
	return true;
}

/* ---- the ready queues ---- */

static void ready_remove(struct account_store *s, struct account *acct)
{
	if (!acct->ready)
		return;
	if (acct->urgent)
		TAILQ_REMOVE(&s->urgent_queue, acct, ready_link);
	else
		TAILQ_REMOVE(&s->ready_queue, acct, ready_link);
	acct->ready = false;
	acct->urgent = false;
}

/* Puts acct where its deadlines say: in the heap, or nowhere. */
static void plan(struct account_store *s, struct account *acct, bool is_locked)
{
	int64_t at = due_at(acct, is_locked);

	ready_remove(s, acct);
	if (at == 0) {
		heap_remove(s, acct);
		return;
	}
	if (!heap_put(s, acct, at)) {
		/* Without memory for the heap the account is not forgotten:
		   it is due again in the next full plan (every reload,
		   unlock, and this log line says why it waits). */
		log_error("%s: out of memory planning its refresh",
			  acct->cfg.name);
	}
}

/* ---- pacing: a token bucket of scheduled starts ---- */

/* Refills the bucket up to now. */
static void pace_fill(struct account_store *s, int64_t now)
{
	int64_t cap = (int64_t)s->pace_burst * 1000;

	if (now > s->pace_at) {
		s->pace_credit += (now - s->pace_at) * s->pace_per_s;
		if (s->pace_credit > cap)
			s->pace_credit = cap;
	}
	s->pace_at = now;
}

/* When the bucket holds a start again (now if it does). */
static int64_t pace_next(const struct account_store *s, int64_t now)
{
	if (s->pace_per_s == 0 || s->pace_credit >= 1000)
		return now;
	return s->pace_at +
	       (1000 - s->pace_credit + s->pace_per_s - 1) / s->pace_per_s;
}

/* The refresh of acct that is due at now: true with *sc NULL for the
   account's own token, or *sc the other scope's whose it is; false for
   none.  The account's own token first; another scope's comes when that
   one has ended (single flight). */
static bool due_refresh(struct account *acct, int64_t now,
			struct account_scope **sc)
{
	*sc = NULL;
	if (acct->next_refresh_boot != 0 && acct->next_refresh_boot <= now)
		return true;
	return (*sc = account_scope_due(acct, now)) != NULL;
}

/* When the refresh that is due (due_refresh()) becomes urgent, that is,
   no longer waits for the bucket: when the last quarter of its margin
   begins, planned + 3/4 of the way to expiry; 0 for never, when no token
   is held (a request that needs one refreshes at once). */
static int64_t urgent_at(const struct account *acct,
			 const struct account_scope *sc)
{
	int64_t planned = sc ? sc->next_refresh_boot : acct->next_refresh_boot;
	int64_t expires = sc ? sc->expires_boot : acct->expires_boot;

	if (expires == 0)
		return 0;
	return planned + (expires - planned) * 3 / 4;
}

/* Whether that refresh may wait for the bucket at now. */
static bool pace_may_wait(const struct account *acct,
			  const struct account_scope *sc, int64_t now)
{
	int64_t at = urgent_at(acct, sc);

	return at == 0 || now < at;
}

/* Arms the timer for the earliest deadline, or when an account waits in
   a ready queue and a slot is free: at once (urgent), or when the bucket
   holds its start; disarms it when nothing is planned. */
static void arm(struct account_store *s)
{
	int64_t next = 0;

	if (s->stopped || s->agent->stopping)
		return;
	if (!TAILQ_EMPTY(&s->urgent_queue) && s->refreshing < s->max_refreshing)
		next = agent_now_boot();
	else if (!TAILQ_EMPTY(&s->ready_queue) &&
		 s->refreshing < s->max_refreshing)
		next = pace_next(s, agent_now_boot());
	if (s->heap_n > 0 && (next == 0 || s->heap[0]->heap_key < next))
		next = s->heap[0]->heap_key;
	agent_boot_timer_arm(&s->scheduler, next);
}

void account_schedule(struct account *acct)
{
	struct account_store *s = acct->store;

	plan(s, acct, locked(s));
	arm(s);
}

void account_unschedule(struct account *acct)
{
	struct account_store *s = acct->store;

	if (s == NULL)
		return;
	ready_remove(s, acct);
	heap_remove(s, acct);
}

void account_store_schedule(struct account_store *s)
{
	bool is_locked = locked(s);
	struct account *acct;
	size_t i;

	if (s->stopped)
		return;
	while ((acct = TAILQ_FIRST(&s->urgent_queue)) != NULL)
		ready_remove(s, acct);
	while ((acct = TAILQ_FIRST(&s->ready_queue)) != NULL)
		ready_remove(s, acct);
	for (i = 0; i < s->heap_n; i++)
		s->heap[i]->heap_at = 0;
	s->heap_n = 0;
	for (acct = s->accounts; acct != NULL; acct = acct->next) {
		if ((acct->heap_key = due_at(acct, is_locked)) == 0)
			continue;
		if (!heap_room(s)) {
			log_error("%s: out of memory planning its refresh",
				  acct->cfg.name);
			continue;
		}
		heap_set(s, s->heap_n++, acct);
	}
	for (i = s->heap_n / 2; i-- > 0;)
		sift_down(s, i);
	arm(s);
}

/* xoauth-agent -t, `lifetime`: the account's tokens are forgotten, in
   memory and in the vault, as `xoauth remove` would. */
static void lifetime_over(struct account *acct)
{
	log_info("%s: lifetime over: tokens forgotten", acct->cfg.name);
	account_forget(acct);
	/* "log in again", as after a refused refresh token */
	acct->state = PROTO_STATE_REAUTH;
	agent_err_set(&acct->last, XO_ERR_LOGIN_NEEDED,
		      "%s: the tokens' lifetime is over", acct->cfg.name);
	agent_waiters_fail(&acct->waiters, XO_ERR_LOGIN_NEEDED, acct->last.msg);
	account_store_persist(acct->store, acct->cfg.name);
}

/* Starts acct's refresh if it is still due; false when every slot is
   taken (acct is left where it was). */
static bool start_if_due(struct account_store *s, struct account *acct,
			 int64_t now, bool is_locked)
{
	struct account_scope *sc;

	if (is_locked || acct->op != ACCOUNT_OP_NONE)
		return true;
	if (!due_refresh(acct, now, &sc))
		return true;
	if (s->refreshing >= s->max_refreshing)
		return false;
	if (s->pace_per_s != 0) {
		bool may_wait = pace_may_wait(acct, sc, now);

		if (may_wait && s->pace_credit < 1000)
			return false;
		if (may_wait)
			s->pace_credit -= 1000;
	}
	if (sc == NULL) {
		if (account_refresh_start(acct, NULL) != 0)
			acct->next_refresh_boot = 0;
	} else if (account_refresh_scope(acct, sc, NULL) != 0) {
		sc->next_refresh_boot = 0;
	}
	return true;
}

/* acct, due at now, could not start: it waits in the urgent queue if it
   is urgent, else in the ready queue, and then also in the heap until
   it becomes urgent (or its lifetime ends), when the tick that takes it
   from there moves it to the urgent queue.  So an account does not keep
   its place behind paced ones once the last quarter of its margin
   begins, and nothing searches the queue for such accounts: it costs
   one more O(log n) move in the heap per account that waits. */
static void wait_for_start(struct account_store *s, struct account *acct,
			   int64_t now)
{
	struct account_scope *sc;
	bool paced = s->pace_per_s != 0 && due_refresh(acct, now, &sc);
	int64_t at = 0;

	if (paced && !pace_may_wait(acct, sc, now)) {
		TAILQ_INSERT_TAIL(&s->urgent_queue, acct, ready_link);
		acct->ready = acct->urgent = true;
		return;
	}
	TAILQ_INSERT_TAIL(&s->ready_queue, acct, ready_link);
	acct->ready = true;
	if (paced)
		at = urgent_at(acct, sc);
	if (acct->drop_boot != 0 && (at == 0 || acct->drop_boot < at))
		at = acct->drop_boot;
	if (at != 0 && !heap_put(s, acct, at))
		log_error("%s: out of memory planning its refresh",
			  acct->cfg.name);
}

/* Starts what q holds while slots (and, for the ready queue, the
   bucket) allow; those that came due first go first. */
static void drain(struct account_store *s, struct account_queue *q, int64_t now,
		  bool is_locked)
{
	struct account *acct;

	while (s->refreshing < s->max_refreshing &&
	       (acct = TAILQ_FIRST(q)) != NULL) {
		if (!start_if_due(s, acct, now, is_locked))
			break; /* the bucket is empty */
		ready_remove(s, acct);
		plan(s, acct, is_locked);
	}
}

void account_scheduler_tick(struct agent_boot_timer *t)
{
	struct account_store *s = t->data;
	bool is_locked = locked(s);
	int64_t now = agent_now_boot();
	struct account *acct;

	pace_fill(s, now);
	drain(s, &s->urgent_queue, now, is_locked);
	drain(s, &s->ready_queue, now, is_locked);
	while (s->heap_n > 0 && s->heap[0]->heap_key <= now) {
		acct = s->heap[0];
		heap_remove(s, acct);
		/* One that waited in the ready queue became urgent: it leaves
		   its place there, and starts or waits in the urgent queue. */
		ready_remove(s, acct);
		if (acct->drop_boot != 0 && acct->drop_boot <= now &&
		    acct->op == ACCOUNT_OP_NONE)
			lifetime_over(acct);
		if (!start_if_due(s, acct, now, is_locked)) {
			wait_for_start(s, acct, now);
			continue;
		}
		plan(s, acct, is_locked);
	}
	arm(s);
}
