/*
 * waiter.c: parked requests, their deadlines and their lists (waiter.h).
 *
 * A waiter's memory goes with its timer's close callback (STYLE.md: handle
 * memory is freed only there), so a waiter that has ended is marked
 * dropped at once and freed from the loop.
 */
#include <stdlib.h>

#include <xoauth/xo_errors.h>

#include "core/agent.h"
#include "core/conn.h"
#include "core/waiter.h"

struct waiter {
	struct waiter *next;
	struct waiter_list *list;
	struct conn *conn;
	const struct waiter_ops *ops;
	void *owner;
	int dropped; /* ended; the memory goes with the timer */
	uv_timer_t timer;
	/* The owner's extra bytes follow, aligned for any object. */
	max_align_t extra[];
};

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

/* Ends w: out of its list (when still in it) and freed from the loop. */
static void waiter_drop(struct waiter *w)
{
	struct waiter **pp;

	if (w->dropped)
		return;
	w->dropped = 1;
	for (pp = &w->list->head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}

void agent_waiter_cancel(struct waiter *w)
{
	waiter_drop(w);
}

static void on_wait_timeout(uv_timer_t *t)
{
	struct waiter *w = t->data;

	/* Out of the list first: answering may park a new request of the
	   same connection on the same list. */
	waiter_drop(w);
	w->ops->expired(w);
}

int agent_waiter_add(struct agent *a, struct waiter_list *list, struct conn *c,
		     const struct waiter_ops *ops, void *owner,
		     uint32_t wait_ms, size_t extra, struct waiter **out)
{
	struct waiter *w;

	if (out != NULL)
		*out = NULL;
	if ((w = calloc(1, sizeof(*w) + extra)) == NULL)
		return XO_ERR_NOMEM;
	w->list = list;
	w->conn = c;
	w->ops = ops;
	w->owner = owner;
	if (wait_ms == 0)
		wait_ms = a->limits.wait_default_ms;
	uv_timer_init(a->loop, &w->timer);
	w->timer.data = w;
	uv_timer_start(&w->timer, on_wait_timeout, wait_ms, 0);
	w->next = list->head;
	list->head = w;
	agent_conn_park(c, w);
	if (out != NULL)
		*out = w;
	return 0;
}

void *waiter_owner(const struct waiter *w)
{
	return w->owner;
}

struct conn *waiter_conn(const struct waiter *w)
{
	return w->conn;
}

void *waiter_extra(struct waiter *w)
{
	return w->extra;
}

void agent_waiters_wake(struct waiter_list *list, int event)
{
	struct waiter *pending = list->head, *w, *next;

	/* Answering may start new requests on the same connections, which
	   may park new waiters on this list: work on a detached one, and
	   put back those that go on waiting. */
	list->head = NULL;
	for (w = pending; w != NULL; w = next) {
		next = w->next;
		w->next = NULL;
		if (w->dropped)
			continue;
		if (w->ops->wake(w, event)) {
			w->next = list->head;
			list->head = w;
		} else if (!w->dropped) {
			/* Answered: it is in no list now. */
			w->dropped = 1;
			uv_timer_stop(&w->timer);
			uv_close((uv_handle_t *)&w->timer, on_timer_closed);
		}
	}
}

void agent_waiters_fail(struct waiter_list *list, int err, const char *msg)
{
	struct waiter *w;

	while ((w = list->head) != NULL) {
		struct conn *c = w->conn;

		waiter_drop(w);
		agent_conn_reply_failure(c, err, msg);
	}
}

int agent_waiters_any(const struct waiter_list *list)
{
	return list->head != NULL;
}
