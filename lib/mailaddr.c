/*
 * mailaddr.c - envelope addresses (RFC 5321 paths)
 *
 * The parser follows the grammar quoted in mailaddr.h and above each
 * function below, with these deliberate differences, each chosen so that
 * mail a real MTA already accepted is not refused here while every form
 * that could route elsewhere is flagged:
 *
 * - Empty text is the null address, like "<>": milter macros such as
 *   {mail_addr} carry the null sender as an empty string.
 * - Several unquoted '@': the domain is the part after the LAST '@' and the
 *   rest is the local part, flagged MAILADDR_ROUTING. That is how Postfix
 *   and Sendmail split such an address: the MTA for the last domain gets
 *   it and may forward it to the host named inside the local part, so the
 *   last domain is the one a relay decision must look at, and the flag
 *   tells the caller that the address may go further.
 * - The unquoted local part may have empty atoms ("a..b", "a.", ".a"):
 *   real senders use them and MTAs pass them on. `full` then quotes the
 *   local part, so it is always a valid RFC 5321 Mailbox.
 * - Bytes of 0x80 and above are taken as RFC 6531 (SMTPUTF8) text in the
 *   local part and the domain when they are valid UTF-8.
 * - Domain labels may hold '_' and begin or end with '-' (real names do);
 *   mailaddr_hostname_valid and mailaddr_domain_is_fqdn are the strict
 *   checks for the policies that want them.
 * - The local part has no 64-octet limit (SRS and BATV senders exceed it);
 *   the 256-octet limit on the whole path, brackets included
 *   (RFC 5321 4.5.3.1.3), is enforced, and 255 octets on a domain.
 * - General-address-literals ("[tag:...]") are refused: no tag but IPv6
 *   is registered. Literals are rewritten in canonical form
 *   ("[IPv6:2001:db8::1]", "[192.0.2.1]") so table lookups see one text.
 * - IPv4 literals with leading zeros ("[001.2.3.4]") are refused, as some
 *   software reads them as octal.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mailaddr.h"

#define MAILADDR_PATH_MAX	256	/* RFC 5321 4.5.3.1.3 */
#define MAILADDR_DOMAIN_MAX	255	/* RFC 5321 4.5.3.1.2 */
#define MAILADDR_LABEL_MAX	63	/* RFC 1035 2.3.4 */
#define MAILADDR_HOST_MAX	253	/* 255 on the wire, less length bytes */
#define MAILADDR_LITERAL_MAX	64	/* more than any address needs */

/* mailaddr_is_atext - RFC 5322 atext, extended by RFC 6531 */
static bool
mailaddr_is_atext(unsigned char c)
{
	/*
	 * atext = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" /
	 *         "+" / "-" / "/" / "=" / "?" / "^" / "_" / "`" / "{" /
	 *         "|" / "}" / "~" / UTF8-non-ascii
	 */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80)
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* mailaddr_utf8_ok - every byte of 0x80 and above is in a valid sequence */
static bool
mailaddr_utf8_ok(const unsigned char *s)
{
	unsigned char lo, hi;
	int more;

	while (*s != '\0') {
		if (*s < 0x80) {
			s++;
			continue;
		}
		/* RFC 3629: no overlongs, surrogates, or above U+10FFFF */
		lo = 0x80;
		hi = 0xbf;
		if (*s >= 0xc2 && *s <= 0xdf)
			more = 1;
		else if (*s >= 0xe0 && *s <= 0xef) {
			more = 2;
			if (*s == 0xe0)
				lo = 0xa0;
			else if (*s == 0xed)
				hi = 0x9f;
		} else if (*s >= 0xf0 && *s <= 0xf4) {
			more = 3;
			if (*s == 0xf0)
				lo = 0x90;
			else if (*s == 0xf4)
				hi = 0x8f;
		} else
			return false;
		s++;
		if (*s < lo || *s > hi)
			return false;
		for (s++, more--; more > 0; s++, more--)
			if (*s < 0x80 || *s > 0xbf)
				return false;
	}
	return true;
}

/*
 * mailaddr_literal - check an address literal and write its canonical
 * form into out (at least MAILADDR_LITERAL_MAX bytes)
 *
 *	address-literal  = "[" ( IPv4-address-literal /
 *	                   IPv6-address-literal /
 *	                   General-address-literal ) "]"
 *	IPv4-address-literal  = Snum 3("."  Snum)
 *	IPv6-address-literal  = "IPv6:" IPv6-addr
 */
static bool
mailaddr_literal(const char *p, size_t n, char *out)
{
	char text[MAILADDR_LITERAL_MAX];
	unsigned char bytes[16];
	bool v6;

	if (n < 3 || p[0] != '[' || p[n - 1] != ']' ||
	    n - 2 >= sizeof(text))
		return false;
	p++;
	n -= 2;
	v6 = n > 5 && strncasecmp(p, "IPv6:", 5) == 0;
	if (v6) {
		p += 5;
		n -= 5;
	}
	memcpy(text, p, n);
	text[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, text, bytes) != 1)
		return false;
	strcpy(out, v6 ? "[IPv6:" : "[");
	inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, out + strlen(out),
	    MAILADDR_LITERAL_MAX - 8);
	strcat(out, "]");
	return true;
}

/*
 * mailaddr_domain - check a domain (or, if allowed, a literal) and return
 * it lower-cased without one trailing dot; NULL with *error_r on error
 *
 *	Domain         = sub-domain *("." sub-domain)
 *	sub-domain     = Let-dig [Ldh-str]
 *	Let-dig        = ALPHA / DIGIT
 *	Ldh-str        = *( ALPHA / DIGIT / "-" ) Let-dig
 *
 * Labels are taken more loosely than Ldh-str; see the top of this file.
 */
static char *
mailaddr_domain(struct arena *arena, const char *p, const char *end,
    bool literal_ok, unsigned *flags, const char **error_r)
{
	char lit[MAILADDR_LITERAL_MAX];
	const char *q;
	size_t label = 0, n, i;
	char *out;

	if (p < end && *p == '[') {
		if (!literal_ok || memchr(p, ']', (size_t)(end - p)) == NULL) {
			*error_r = literal_ok ? "unbalanced brackets in domain"
			    : "bad character in domain";
			return NULL;
		}
		if (!mailaddr_literal(p, (size_t)(end - p), lit)) {
			*error_r = "bad address literal";
			return NULL;
		}
		*flags |= MAILADDR_LITERAL;
		return arena_strdup(arena, lit);
	}
	if (end > p && end[-1] == '.')
		end--;
	if (p == end) {
		*error_r = "empty domain";
		return NULL;
	}
	if ((size_t)(end - p) > MAILADDR_DOMAIN_MAX) {
		*error_r = "domain is too long";
		return NULL;
	}
	for (q = p; q <= end; q++) {
		if (q == end || *q == '.') {
			if (label == 0) {
				*error_r = "empty label in domain";
				return NULL;
			}
			label = 0;
			continue;
		}
		if (++label > MAILADDR_LABEL_MAX) {
			*error_r = "domain label is too long";
			return NULL;
		}
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		    (*q >= '0' && *q <= '9') || *q == '-' || *q == '_' ||
		    (unsigned char)*q >= 0x80)) {
			*error_r = "bad character in domain";
			return NULL;
		}
	}
	n = (size_t)(end - p);
	out = arena_memdup(arena, p, n);
	for (i = 0; i < n; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] + ('a' - 'A'));
	return out;
}

/*
 * mailaddr_route - skip a source route; returns the Mailbox after it
 *
 *	A-d-l          = At-domain *( "," At-domain )
 *	At-domain      = "@" Domain
 *
 * The route is checked and dropped (RFC 5321 appendix C).
 */
static const char *
mailaddr_route(struct arena *arena, const char *p, const char *end,
    const char **error_r)
{
	const char *colon = memchr(p, ':', (size_t)(end - p));
	const char *comma, *dummy;
	unsigned flags = 0;

	if (colon == NULL) {
		*error_r = "empty local part";	/* "<@example.com>" */
		return NULL;
	}
	while (p < colon) {
		if (*p != '@') {
			*error_r = "bad source route";
			return NULL;
		}
		comma = memchr(p, ',', (size_t)(colon - p));
		if (comma == NULL)
			comma = colon;
		if (mailaddr_domain(arena, p + 1, comma, false, &flags,
		    &dummy) == NULL) {
			*error_r = "bad source route";
			return NULL;
		}
		p = comma == colon ? colon : comma + 1;
		if (comma != colon && p == colon) {
			*error_r = "bad source route";	/* "@a,:" */
			return NULL;
		}
	}
	return colon + 1;
}

/*
 * mailaddr_quoted - the content of a quoted local part starting at p;
 * returns the byte after the closing quote
 *
 *	Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
 *	QcontentSMTP   = qtextSMTP / quoted-pairSMTP
 *	quoted-pairSMTP  = %d92 %d32-126
 *	qtextSMTP      = %d32-33 / %d35-91 / %d93-126
 *
 * Control bytes were refused before; bytes of 0x80 and above are
 * UTF8-non-ascii (RFC 6531).
 */
static const char *
mailaddr_quoted(const char *p, const char *end, struct buf *local,
    const char **error_r)
{
	for (p++; p < end && *p != '"'; p++) {
		if (*p == '\\' && ++p == end)
			break;
		buf_putc(local, *p);
	}
	if (p >= end) {
		*error_r = "unbalanced quotes in local part";
		return NULL;
	}
	return p + 1;
}

/*
 * mailaddr_dot_string - check an unquoted local part
 *
 *	Dot-string     = Atom *("."  Atom)
 *	Atom           = 1*atext
 *
 * Empty atoms are allowed and '@' is allowed (see the top of this file).
 */
static bool
mailaddr_dot_string(const char *p, const char *end, const char **error_r)
{
	if (p == end) {
		*error_r = "empty local part";
		return false;
	}
	for (; p < end; p++)
		if (!mailaddr_is_atext((unsigned char)*p) && *p != '.' &&
		    *p != '@') {
			*error_r = "bad character in local part";
			return false;
		}
	return true;
}

/* mailaddr_needs_quotes - whether local is not a valid Dot-string */
static bool
mailaddr_needs_quotes(const char *local)
{
	const char *p;

	if (local[0] == '\0' || local[0] == '.')
		return true;
	for (p = local; *p != '\0'; p++) {
		if (*p == '.' && (p[1] == '.' || p[1] == '\0'))
			return true;
		if (*p != '.' && !mailaddr_is_atext((unsigned char)*p))
			return true;
	}
	return false;
}

/* mailaddr_full - local@domain with the local part quoted if needed */
static const char *
mailaddr_full(struct arena *arena, const char *local, const char *domain,
    unsigned flags)
{
	struct buf b = { 0 };
	const char *p, *full;

	if (mailaddr_needs_quotes(local)) {
		buf_putc(&b, '"');
		for (p = local; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *p);
		}
		buf_putc(&b, '"');
	} else
		buf_puts(&b, local);
	if (!(flags & MAILADDR_NO_DOMAIN))
		buf_printf(&b, "@%s", domain);
	full = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return full;
}

/*
 * mailaddr_parse - an envelope address, with or without angle brackets
 *
 *	Reverse-path   = Path / "<>"
 *	Forward-path   = Path
 *	Path           = "<" [ A-d-l ":" ] Mailbox ">"
 *	Mailbox        = Local-part "@" ( Domain / address-literal )
 *	Local-part     = Dot-string / Quoted-string
 */
bool
mailaddr_parse(struct arena *arena, const char *text, struct mailaddr *r,
    const char **error_r)
{
	const char *p, *end, *at, *dummy;
	struct buf local = { 0 };
	unsigned flags = 0;
	const char *err = NULL;
	char *domain = NULL;
	size_t n, i;

	if (error_r == NULL)
		error_r = &dummy;
	if (text == NULL) {
		*error_r = "no address";
		return false;
	}
	n = strlen(text);
	for (i = 0; i < n; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) {
			*error_r = "control character in address";
			return false;
		}
	if (!mailaddr_utf8_ok((const unsigned char *)text)) {
		*error_r = "bad UTF-8 in address";
		return false;
	}
	p = text;
	end = text + n;
	if (n > 0 && text[0] == '<') {
		if (n < 2 || end[-1] != '>') {
			*error_r = "unbalanced angle brackets";
			return false;
		}
		p++;
		end--;
	} else if (n > 0 && end[-1] == '>') {
		*error_r = "unbalanced angle brackets";
		return false;
	}
	if ((size_t)(end - p) + 2 > MAILADDR_PATH_MAX) {
		*error_r = "address is too long";
		return false;
	}
	if (p == end) {
		r->local = r->domain = r->full = "";
		r->flags = MAILADDR_NULL;
		return true;
	}
	if (*p == '@') {
		if ((p = mailaddr_route(arena, p, end, &err)) == NULL)
			goto bad;
		flags |= MAILADDR_ROUTING | MAILADDR_SOURCE_ROUTE;
	}
	if (p < end && *p == '"') {
		flags |= MAILADDR_QUOTED;
		if ((at = mailaddr_quoted(p, end, &local, &err)) == NULL)
			goto bad;
		if (at < end && *at != '@') {
			err = "bad character after quoted local part";
			goto bad;
		}
	} else {
		/* the last '@' splits: see the top of this file */
		for (at = end; at > p && at[-1] != '@'; at--)
			;
		at = at > p ? at - 1 : end;
		if (!mailaddr_dot_string(p, at, &err))
			goto bad;
		buf_append(&local, p, (size_t)(at - p));
	}
	if (at == end)
		flags |= MAILADDR_NO_DOMAIN;
	else if ((domain = mailaddr_domain(arena, at + 1, end, true, &flags,
	    &err)) == NULL)
		goto bad;
	if (strpbrk(buf_cstr(&local), "%!@") != NULL)
		flags |= MAILADDR_ROUTING;
	r->local = arena_strdup(arena, buf_cstr(&local));
	r->domain = domain ? domain : "";
	r->flags = flags;
	r->full = mailaddr_full(arena, r->local, r->domain, flags);
	buf_free(&local);
	return true;
bad:
	buf_free(&local);
	*error_r = err;
	return false;
}

/*
 * mailaddr_hostname_valid - RFC 1123 host name, or an address literal
 *
 * Labels of 1-63 letters, digits and hyphens, not starting or ending with
 * a hyphen, at most 253 bytes, no trailing dot. As in Postfix's
 * valid_hostname(), '_' is accepted (HELO names with it are common and
 * harmless) and a name made only of digits and dots is refused (it is an
 * IPv4 address without its brackets).
 */
bool
mailaddr_hostname_valid(const char *name)
{
	char lit[MAILADDR_LITERAL_MAX];
	bool numeric = true;
	size_t label = 0, n;
	const char *p;

	if (name == NULL || (n = strlen(name)) == 0)
		return false;
	if (name[0] == '[')
		return mailaddr_literal(name, n, lit);
	if (n > MAILADDR_HOST_MAX)
		return false;
	for (p = name;; p++) {
		if (*p == '\0' || *p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			if (*p == '\0')
				break;
			label = 0;
			continue;
		}
		if (++label > MAILADDR_LABEL_MAX)
			return false;
		if (*p == '-') {
			if (label == 1)
				return false;
		} else if (*p >= '0' && *p <= '9') {
			continue;
		} else if (!((*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || *p == '_')) {
			return false;
		}
		numeric = false;
	}
	return !numeric;
}

/* mailaddr_domain_is_fqdn - a valid host name with a dot, or a literal */
bool
mailaddr_domain_is_fqdn(const char *domain)
{
	if (!mailaddr_hostname_valid(domain))
		return false;
	return domain[0] == '[' || strchr(domain, '.') != NULL;
}
