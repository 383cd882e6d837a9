/*
 * buf.h - growable byte buffers
 *
 * Contract: data is always NUL-terminated after len bytes (so it can be
 * used as a C string when it holds text). A zeroed struct buf is a valid
 * empty buffer. Growth aborts on out-of-memory (mem.h).
 */
#ifndef POSTERN_BUF_H
#define POSTERN_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len, cap;
};

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* buf_cstr - the contents as a string ("" for an empty buffer) */
const char *buf_cstr(const struct buf *b);
/* buf_steal - hand the malloc'ed string to the caller; the buffer is empty */
char *buf_steal(struct buf *b);

#endif
