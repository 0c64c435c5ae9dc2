/*
 * stack.h: wiping the stack that a library's calls leave behind.
 *
 * Some libraries copy our secrets into buffers in their own stack frames
 * and return without wiping them: inih reads each configuration line,
 * client_secret included, into a buffer on its stack, and OpenSSL's
 * ciphers keep pieces of the request they encrypt (the form with a refresh
 * token or a client secret) in theirs.  Those frames are dead once the call
 * returns, but their bytes stay readable in the process's stack until
 * deeper calls happen to overwrite them.  wipe_alloc.h does the same for
 * what those libraries free on the heap.
 */
#ifndef XO_SECRET_STACK_H
#define XO_SECRET_STACK_H

/* How deep below its caller's frame agent_wipe_dead_stack() wipes: more
   than the deepest call chain through libcurl and OpenSSL (measured at
   under 32 KiB), and far below the stack's 8 MiB limit. */
#define AGENT_DEAD_STACK_BYTES (64 * 1024)

/* Zeroes the AGENT_DEAD_STACK_BYTES of stack below the caller's frame,
   where the frames of the calls it has just made lay.  Call it right after
   a call into a library that may have handled a secret. */
void agent_wipe_dead_stack(void);

#endif
