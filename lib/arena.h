/*
 * arena.h - memory that belongs to a lifetime
 *
 * Contract: an arena owns every block allocated from it and runs every
 * registered cleanup (last registered first) when destroyed. Blocks are
 * zeroed and aligned for any type. An arena is used by one thread at a
 * time. arena_destroy() takes the address of the pointer and sets it NULL.
 */
#ifndef POSTERN_ARENA_H
#define POSTERN_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

struct arena *arena_create(void);
void arena_destroy(struct arena **arena);

void *arena_alloc(struct arena *arena, size_t size);
char *arena_strdup(struct arena *arena, const char *s);
char *arena_strndup(struct arena *arena, const char *s, size_t n);
char *arena_memdup(struct arena *arena, const void *p, size_t n);
char *arena_printf(struct arena *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *arena, const char *fmt, va_list ap);

/* arena_cleanup - call fn(arg) when the arena is destroyed */
void arena_cleanup(struct arena *arena, void (*fn)(void *), void *arg);

/* arena_used - bytes handed out so far (for limits and tests) */
size_t arena_used(const struct arena *arena);

#endif
