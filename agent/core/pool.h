/*
 * pool.h: the rule for work in libuv's thread pool (the vault's writes,
 * Argon2id): it runs below the loop's CPU priority.
 *
 * The pool's work is never what a client waits for at that moment while
 * others wait too: a vault record, a new base, a key derived for one
 * UNLOCK.  The loop answers everyone.  On a machine whose CPUs are busy
 * (a refresh storm's records, a second of Argon2id), a pool thread at the
 * loop's priority takes the CPU the loop needs to answer the next TOKEN;
 * niced, it is the one that waits, and it still has every idle CPU.
 */
#ifndef XO_CORE_POOL_H
#define XO_CORE_POOL_H

/* How far below the loop the pool's threads run (nice). */
#define AGENT_POOL_NICE 10

/*
 * Called first by every work callback given to uv_queue_work(): lowers
 * the calling thread's priority by AGENT_POOL_NICE the first time (a
 * thread's own nice value, Linux's per-thread setpriority()).  A failure
 * leaves the thread as it was: it only costs latency.
 */
void agent_pool_thread_enter(void);

#endif
