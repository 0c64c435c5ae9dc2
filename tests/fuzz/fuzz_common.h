/*
 * fuzz_common.h: checks the fuzz targets share.  Header-only, so that each
 * target stays one source file plus the parsers it links.
 */
#ifndef XO_FUZZ_COMMON_H
#define XO_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* s is a C string within cap bytes (its NUL inside the array), with no
   ASCII control byte: what every text meant for people or for a log must
   be, whatever the input was.  NULL passes. */
static inline void fuzz_check_text(const char *s, size_t cap)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < cap && s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
	if (i == cap)
		abort(); /* no NUL within the array */
}

/* The same for a heap string of any length. */
static inline void fuzz_check_str(const char *s)
{
	fuzz_check_text(s, s == NULL ? 0 : strlen(s) + 1);
}

/* The first byte of the input as a choice among n, and the rest. */
static inline size_t fuzz_take_byte(const uint8_t **data, size_t *size,
				    size_t n)
{
	size_t v = 0;

	if (*size > 0) {
		v = **data % n;
		(*data)++;
		(*size)--;
	}
	return v;
}

#endif
