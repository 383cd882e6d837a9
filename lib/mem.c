/*
 * mem.c - allocation wrappers that abort on exhaustion
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

/* mem_check - a NULL from the allocator is fatal: we cannot run without it */
static void *
mem_check(void *p, size_t size)
{
	if (p == NULL && size != 0)
		log_panic("out of memory allocating %zu bytes", size);
	return p;
}

/* xmalloc - malloc or die */
void *
xmalloc(size_t size)
{
	return mem_check(malloc(size ? size : 1), size ? size : 1);
}

/* xcalloc - zeroed allocation or die; overflow of n*size is a bug */
void *
xcalloc(size_t n, size_t size)
{
	if (size != 0 && n > (size_t)-1 / size)
		log_panic("xcalloc overflow: %zu * %zu", n, size);
	return mem_check(calloc(n ? n : 1, size ? size : 1), 1);
}

/* xrealloc - realloc or die */
void *
xrealloc(void *p, size_t size)
{
	return mem_check(realloc(p, size ? size : 1), size ? size : 1);
}

/* xstrdup - strdup or die */
char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* xstrndup - copy at most n bytes and terminate */
char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* xasprintf - formatted allocation or die */
char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		log_panic("out of memory in xasprintf");
	return p;
}
