/*
 * codec_internal.h: the sticky-error primitives shared by the codec's
 * source files (codec.c and the msg_*.c files).  Not installed.
 */
#ifndef XO_CODEC_INTERNAL_H
#define XO_CODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* No frame is open: frame_end() without frame_begin() is a caller bug. */
#define NO_FRAME SIZE_MAX

/* Keeps the first error; later calls change nothing. */
void proto_writer_fail(struct proto_writer *w, int err);
void proto_reader_fail(struct proto_reader *r, int err);
/* Ends a decoder: the payload must be used up exactly, else the message
 * (size bytes at m) is cleared so no view into a bad frame leaks. */
int proto_dec_done(struct proto_reader *r, void *m, size_t size);

#endif
