/*
 * arena.c - bump allocator with cleanup callbacks
 *
 * Small blocks come from chunks that grow geometrically; a request larger
 * than a quarter chunk gets a chunk of its own so big buffers do not waste
 * the rest of a shared chunk.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "log.h"
#include "mem.h"

#define ARENA_ALIGN 16
#define ARENA_FIRST 2048

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena_cleanup_rec {
	struct arena_cleanup_rec *next;
	void (*fn)(void *);
	void *arg;
};

struct arena {
	struct arena_chunk *chunks;
	struct arena_cleanup_rec *cleanups;
	size_t next_size, used;
};

/* arena_create - an empty arena */
struct arena *
arena_create(void)
{
	struct arena *a = xcalloc(1, sizeof(*a));

	a->next_size = ARENA_FIRST;
	return a;
}

/* arena_destroy - run cleanups, release all memory, clear the pointer */
void
arena_destroy(struct arena **ap)
{
	struct arena *a = *ap;
	struct arena_cleanup_rec *c;
	struct arena_chunk *ch;

	if (a == NULL)
		return;
	while ((c = a->cleanups) != NULL) {
		a->cleanups = c->next;
		c->fn(c->arg);
	}
	while ((ch = a->chunks) != NULL) {
		a->chunks = ch->next;
		free(ch);
	}
	free(a);
	*ap = NULL;
}

/* arena_new_chunk - add a chunk of at least size bytes */
static struct arena_chunk *
arena_new_chunk(struct arena *a, size_t size, int own)
{
	struct arena_chunk *ch;
	size_t want = own ? size : (size > a->next_size ? size : a->next_size);

	ch = xmalloc(sizeof(*ch) + want);
	ch->size = want;
	ch->used = 0;
	if (own && a->chunks != NULL) {
		/* keep the current chunk first so its free space is used */
		ch->next = a->chunks->next;
		a->chunks->next = ch;
	} else {
		ch->next = a->chunks;
		a->chunks = ch;
		if (a->next_size < 64 * 1024)
			a->next_size *= 2;
	}
	return ch;
}

/* arena_alloc - zeroed, aligned memory living as long as the arena */
void *
arena_alloc(struct arena *a, size_t size)
{
	struct arena_chunk *ch = a->chunks;
	size_t rounded;
	void *p;

	/* room for rounding and the chunk header, or the sum wraps */
	if (size > SIZE_MAX - ARENA_ALIGN - sizeof(struct arena_chunk))
		log_panic("arena_alloc: size overflow");
	rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (rounded == 0)
		rounded = ARENA_ALIGN;
	if (ch == NULL || ch->size - ch->used < rounded) {
		if (rounded > a->next_size / 4)
			ch = arena_new_chunk(a, rounded, 1);
		else
			ch = arena_new_chunk(a, rounded, 0);
	}
	p = ch->data + ch->used;
	ch->used += rounded;
	a->used += rounded;
	memset(p, 0, size);
	return p;
}

/* arena_memdup - copy n bytes and add a terminating NUL */
char *
arena_memdup(struct arena *a, const void *src, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, src, n);
	p[n] = '\0';
	return p;
}

/* arena_strdup - copy a string */
char *
arena_strdup(struct arena *a, const char *s)
{
	return s ? arena_memdup(a, s, strlen(s)) : NULL;
}

/* arena_strndup - copy at most n bytes of a string */
char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	return arena_memdup(a, s, strnlen(s, n));
}

/* arena_vprintf - formatted string in the arena */
char *
arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		log_panic("arena_vprintf: bad format");
	p = arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

/* arena_printf - formatted string in the arena */
char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

/* arena_cleanup - register fn(arg) to run at destruction */
void
arena_cleanup(struct arena *a, void (*fn)(void *), void *arg)
{
	struct arena_cleanup_rec *c = arena_alloc(a, sizeof(*c));

	c->fn = fn;
	c->arg = arg;
	c->next = a->cleanups;
	a->cleanups = c;
}

/* arena_used - bytes allocated so far */
size_t
arena_used(const struct arena *a)
{
	return a->used;
}
