/*
 * waiter.h: requests that cannot be answered yet (waiter.c).
 *
 * A request whose answer depends on something under way (a refresh, a
 * login, a write to the vault) parks its connection on a waiter in its
 * owner's list, bounded by its wait (DESIGN.md: "a token request never
 * returns an expired token ... it waits for [the refresh] (bounded)").
 * The owner (an account) wakes its list whenever something changed; each
 * waiter's ops decide whether it can be answered now.  A waiter ends in
 * exactly one of: its wake answers, its wait runs out (expired answers),
 * its owner fails the whole list, or its connection closes (no answer).
 *
 * What the waiters wait for is the owners' business: this file knows no
 * account or login, only lists, deadlines and connections.
 */
#ifndef XO_CORE_WAITER_H
#define XO_CORE_WAITER_H

#include <stddef.h>
#include <stdint.h>

struct agent;
struct conn;
struct waiter;

/* The waiters of one owner; zeroed is empty. */
struct waiter_list {
	struct waiter *head;
};

struct waiter_ops {
	/*
	 * Looks again after a change (event: the owner's number for what
	 * changed).  Either answers the connection (or hands it on with
	 * agent_conn_hold()) and returns 0, or returns 1 to go on waiting.
	 */
	int (*wake)(struct waiter *w, int event);
	/* The wait's time is up: answer the connection. */
	void (*expired)(struct waiter *w);
};

/*
 * Parks c's current request on list until it is answered or wait_ms
 * passes (0: the agent's default wait).  owner is for the ops
 * (waiter_owner()); extra bytes of zeroed memory come with the waiter for
 * them (waiter_extra()) and go with it.  0 or XO_ERR_NOMEM (then nothing
 * is parked and the caller answers).
 */
int agent_waiter_add(struct agent *a, struct waiter_list *list, struct conn *c,
		     const struct waiter_ops *ops, void *owner,
		     uint32_t wait_ms, size_t extra, struct waiter **out);
void *waiter_owner(const struct waiter *w);
struct conn *waiter_conn(const struct waiter *w);
void *waiter_extra(struct waiter *w);

/* Offers event to every waiter of the list (see waiter_ops.wake). */
void agent_waiters_wake(struct waiter_list *list, int event);
/* Answers every waiter of the list with a failure and drops them. */
void agent_waiters_fail(struct waiter_list *list, int err, const char *msg);
/* 1 when a request waits on the list. */
int agent_waiters_any(const struct waiter_list *list);
/* Drops w without an answer (its connection is gone). */
void agent_waiter_cancel(struct waiter *w);

#endif
