/*
 * hdrval.c - untrusted text as values of the header fields we write
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "hdrval.h"

/* hdrval_atext - an RFC 5322 atext byte (ASCII only) */
static bool
hdrval_atext(unsigned char c)
{
	return c < 0x80 && (isalnum(c) ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL));
}

/* hdrval_dot_atom - s[0..len) is a non-empty RFC 5322 dot-atom */
bool
hdrval_dot_atom(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!hdrval_atext((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* hdrval_quote - s as a quoted-string, always */
void
hdrval_quote(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		buf_putc(b, (unsigned char)*s < 0x20 ||
		    (unsigned char)*s >= 0x7f ? '?' : *s);
	}
	buf_putc(b, '"');
}

/* hdrval_value - a dot-atom as it is, anything else quoted */
void
hdrval_value(struct buf *b, const char *s)
{
	if (hdrval_dot_atom(s, strlen(s)))
		buf_puts(b, s);
	else
		hdrval_quote(b, s);
}

/* hdrval_address - [local]@domain as it is when both parts are
 * dot-atoms, anything else quoted */
void
hdrval_address(struct buf *b, const char *addr)
{
	const char *at = strrchr(addr, '@');

	if (at != NULL && (at == addr ||
	    hdrval_dot_atom(addr, (size_t)(at - addr))) &&
	    hdrval_dot_atom(at + 1, strlen(at + 1)))
		buf_puts(b, addr);
	else
		hdrval_quote(b, addr);
}
