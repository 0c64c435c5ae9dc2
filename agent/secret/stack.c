/*
 * stack.c: see stack.h.
 */
#include <sodium.h>

#include "secret/stack.h"

/* noinline, so that this frame is really made below the caller's, where
   the library's frames were; the empty asm keeps the compiler from
   dropping a buffer that nothing reads afterwards. */
__attribute__((noinline)) void agent_wipe_dead_stack(void)
{
	unsigned char frames[AGENT_DEAD_STACK_BYTES];

	sodium_memzero(frames, sizeof(frames));
	__asm__ __volatile__("" : : "r"(frames) : "memory");
}
