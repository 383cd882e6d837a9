/*
 * authres.c - Authentication-Results header values (RFC 8601)
 *
 * RFC 8601 §2.2:
 *	authres-header-field = "Authentication-Results:" authres-payload
 *	authres-payload = [CFWS] authserv-id
 *	         [ CFWS authres-version ]
 *	         ( no-result / 1*resinfo ) [CFWS] CRLF
 *	authserv-id = value
 *	no-result = [CFWS] ";" [CFWS] "none"
 *	resinfo = [CFWS] ";" methodspec [ CFWS reasonspec ]
 *	          [ CFWS 1*propspec ]
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "buf.h"

/* authres_build - the header value for our results */
const char *
authres_build(struct arena *arena, const char *authserv_id,
    const char *const *fragments, size_t n)
{
	struct buf b = { 0 };
	const char *out;

	buf_puts(&b, authserv_id);
	if (n == 0)
		buf_puts(&b, "; none");
	for (size_t i = 0; i < n; i++) {
		buf_puts(&b, ";\n\t");
		buf_puts(&b, fragments[i]);
	}
	out = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return out;
}

/* authres_skip_cfws - skip white space and (nested) comments */
static const char *
authres_skip_cfws(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		int depth = 0;
		for (; *p; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

/* authres_is_ours - does the header's authserv-id equal ours? A quoted
 * authserv-id is compared after unquoting, so quoting cannot hide it. */
bool
authres_is_ours(const char *value, const char *authserv_id)
{
	struct buf id = { 0 };
	const char *p = authres_skip_cfws(value);
	bool ours;

	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			buf_putc(&id, *p);
		}
	} else {
		for (; *p && *p != ';' && *p != '(' &&
		    !isspace((unsigned char)*p); p++)
			buf_putc(&id, *p);
	}
	/* domain names compare without case; a trailing dot changes nothing */
	if (id.len > 1 && id.data[id.len - 1] == '.')
		id.data[--id.len] = '\0';
	ours = id.len > 0 && strcasecmp(buf_cstr(&id), authserv_id) == 0;
	buf_free(&id);
	return ours;
}

/* authres_token_ok - RFC 2045 token: no specials, spaces or controls */
bool
authres_token_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c))
			return false;
	}
	return true;
}

/* authres_quote - value as token or quoted-string, never with controls */
const char *
authres_quote(struct arena *arena, const char *s)
{
	struct buf b = { 0 };
	const char *out;

	if (authres_token_ok(s))
		return arena_strdup(arena, s);
	buf_putc(&b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < ' ' || c == 0x7f)
			continue;
		if (c == '"' || c == '\\')
			buf_putc(&b, '\\');
		buf_putc(&b, (char)c);
	}
	buf_putc(&b, '"');
	out = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return out;
}
