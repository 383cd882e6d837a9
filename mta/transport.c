/*
 * transport.c - where a recipient's mail goes: transport_maps, relayhost
 *
 * Specs are "name[:destination]"; the names are declared in one table
 * with the parser of their destination. Every spec parses to one
 * canonical nexthop so that "smtp:[Host.Example]" and
 * "smtp:[host.example]:25" are one destination for concurrency and
 * connection reuse:
 *
 *	smtp, MX		smtp:host		smtp:host:port
 *	smtp, no MX		smtp:[host]:port	smtp:[IPv6:addr]:port
 *	lmtp			lmtp:[host]:port	lmtp:unix:/path
 *	others			maildir:TEMPLATE, error, discard
 *
 * Host names are lower-cased and lose one trailing dot; addresses are
 * rewritten in their canonical text (RFC 5952 for IPv6). An address
 * outside brackets is refused: "smtp:192.0.2.1" would ask DNS for the MX
 * of a number. Inside brackets the "IPv6:" tag of RFC 5321 address
 * literals is accepted and optional. A spec with a control character is
 * refused whole: its text ends up in logs and DSNs.
 *
 * Lookups: transport(5)'s key order is not access(5)'s (lookup.h), so it
 * is done here with table_lookup: user+ext@domain, user@domain (only when
 * the local part has a '+' after its first byte), domain, .parent
 * domains, "*". Pattern tables are asked once with the whole address, as
 * Postfix does (their patterns can match any part of it).
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "inet.h"
#include "log.h"
#include "mailaddr.h"
#include "transport.h"

#define TRANSPORT_SMTP_PORT	25
#define TRANSPORT_LMTP_PORT	24
#define TRANSPORT_EXT_DELIM	'+'	/* recipient_delimiter */

/* One transport name: what it delivers with and how its destination
 * (NULL when the spec has no ':') is read. */
struct transport_type {
	const char *name;
	enum transport_kind kind;
	const char *(*parse)(const char *dest, const char *rcpt_domain,
	    struct arena *arena, struct transport *r);
};

static const char *transport_smtp(const char *, const char *,
    struct arena *, struct transport *);
static const char *transport_lmtp(const char *, const char *,
    struct arena *, struct transport *);
static const char *transport_maildir(const char *, const char *,
    struct arena *, struct transport *);
static const char *transport_error(const char *, const char *,
    struct arena *, struct transport *);
static const char *transport_discard(const char *, const char *,
    struct arena *, struct transport *);

static const struct transport_type transport_types[] = {
	{ .name = "smtp", .kind = TRANSPORT_SMTP, .parse = transport_smtp },
	{ .name = "lmtp", .kind = TRANSPORT_LMTP, .parse = transport_lmtp },
	{ .name = "maildir", .kind = TRANSPORT_MAILDIR,
	    .parse = transport_maildir },
	{ .name = "error", .kind = TRANSPORT_ERROR,
	    .parse = transport_error },
	{ .name = "discard", .kind = TRANSPORT_DISCARD,
	    .parse = transport_discard },
	{ 0 },
};

/* transport_lower - a lower-case copy of n bytes */
static char *
transport_lower(struct arena *arena, const char *s, size_t n)
{
	char *r = arena_strndup(arena, s, n), *p;

	for (p = r; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

/* transport_port - "1".."65535"; 0 when anything else */
static unsigned
transport_port(const char *s)
{
	unsigned long v = 0;
	const char *p;

	if (*s == '\0')
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return 0;
	}
	return (unsigned)v;
}

/*
 * transport_host - "[host]", "[host]:port", "host" or "host:port" into
 * r->host, r->port, r->mx (brackets: no MX); NULL or the reason
 */
static const char *
transport_host(const char *dest, unsigned default_port,
    struct arena *arena, struct transport *r)
{
	const char *end, *rest;
	struct inet_addr a;
	char text[INET_TEXT_MAX];
	char *name;
	size_t n;

	if (*dest == '[') {
		if ((end = strchr(dest, ']')) == NULL)
			return "missing \"]\"";
		rest = end + 1;
		if (*rest != '\0' && *rest != ':')
			return arena_printf(arena, "text after \"]\": \"%s\"",
			    rest);
		name = arena_strndup(arena, dest + 1, (size_t)(end - dest - 1));
		r->mx = false;
	} else {
		end = dest + strcspn(dest, ":");
		rest = end;
		name = arena_strndup(arena, dest, (size_t)(end - dest));
		if (inet_parse(name, &a))
			return arena_printf(arena,
			    "address \"%s\" must be in brackets", name);
		r->mx = true;
	}
	r->port = default_port;
	if (*rest == ':' && (r->port = transport_port(rest + 1)) == 0)
		return arena_printf(arena, "bad port \"%s\" (1-65535)",
		    rest + 1);
	if (*name == '\0')
		return "no host";
	/* an address literal: "IPv6:" tag, a ':', or only digits and dots */
	if (!r->mx && (strncasecmp(name, "IPv6:", 5) == 0 ||
	    strchr(name, ':') != NULL ||
	    strspn(name, "0123456789.") == strlen(name))) {
		if (!inet_parse(name, &a) ||
		    inet_format(&a, text, sizeof(text)) == NULL)
			return arena_printf(arena,
			    "bad address literal \"[%s]\"", name);
		r->host = arena_strdup(arena, text);
		return NULL;
	}
	n = strlen(name);
	if (n > 1 && name[n - 1] == '.')
		name[--n] = '\0';
	if (!mailaddr_hostname_valid(name))
		return arena_printf(arena, "bad host name \"%s\"", name);
	r->host = transport_lower(arena, name, n);
	return NULL;
}

/* transport_host_text - r->host as it goes in a nexthop */
static const char *
transport_host_text(const struct transport *r, struct arena *arena)
{
	struct inet_addr a;

	if (!r->mx && inet_parse(r->host, &a))
		return arena_printf(arena, a.family == AF_INET6 ?
		    "[IPv6:%s]" : "[%s]", r->host);
	return r->mx ? r->host : arena_printf(arena, "[%s]", r->host);
}

/* transport_smtp - "[host]:port", "host", ...; none: the rcpt domain */
static const char *
transport_smtp(const char *dest, const char *rcpt_domain,
    struct arena *arena, struct transport *r)
{
	const char *why, *host;

	if (dest == NULL || *dest == '\0') {
		if (rcpt_domain == NULL || *rcpt_domain == '\0')
			return "no destination and no recipient domain";
		dest = rcpt_domain;
	}
	if ((why = transport_host(dest, TRANSPORT_SMTP_PORT, arena, r)) !=
	    NULL)
		return why;
	host = transport_host_text(r, arena);
	if (r->mx && r->port == TRANSPORT_SMTP_PORT)
		r->nexthop = arena_printf(arena, "smtp:%s", host);
	else
		r->nexthop = arena_printf(arena, "smtp:%s:%u", host, r->port);
	return NULL;
}

/* transport_lmtp - "unix:/path", "[host]:port", "host:port" (no MX) */
static const char *
transport_lmtp(const char *dest, const char *rcpt_domain,
    struct arena *arena, struct transport *r)
{
	const char *why;

	(void)rcpt_domain;
	if (dest == NULL || *dest == '\0')
		return "no destination";
	if (strncmp(dest, "unix:", 5) == 0) {
		dest += 5;
		if (*dest != '/')
			return "unix socket path must be absolute";
		if (strlen(dest) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return "unix socket path too long";
		r->unix_path = arena_strdup(arena, dest);
		r->nexthop = arena_printf(arena, "lmtp:unix:%s", dest);
		return NULL;
	}
	if ((why = transport_host(dest, TRANSPORT_LMTP_PORT, arena, r)) !=
	    NULL)
		return why;
	/* LMTP never asks for MX records, with or without brackets */
	r->mx = false;
	r->nexthop = arena_printf(arena, "lmtp:%s:%u",
	    transport_host_text(r, arena), r->port);
	return NULL;
}

/* transport_maildir - an absolute path template with %d, %u, %% */
static const char *
transport_maildir(const char *dest, const char *rcpt_domain,
    struct arena *arena, struct transport *r)
{
	const char *p;

	(void)rcpt_domain;
	if (dest == NULL || *dest == '\0')
		return "no path template";
	if (*dest != '/')
		return "path template must be absolute";
	/* deliver_maildir refuses these too, but only at delivery time */
	for (p = dest; (p = strchr(p, '%')) != NULL; p += 2)
		if (p[1] != 'd' && p[1] != 'u' && p[1] != '%')
			return "\"%\" must be followed by \"u\", \"d\" "
			    "or \"%\"";
	r->maildir = arena_strdup(arena, dest);
	r->nexthop = arena_printf(arena, "maildir:%s", dest);
	return NULL;
}

/* transport_status_len - an RFC 3463 status (digit "." 1*3digit "."
 * 1*3digit) at the start of s, ending at a space or the end; its length
 * or 0 */
static size_t
transport_status_len(const char *s)
{
	size_t i, digits, part;

	if (s[0] < '0' || s[0] > '9' || s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits < 1 || digits > 3)
			return 0;
		if (part == 0 && s[i++] != '.')
			return 0;
	}
	return s[i] == '\0' || s[i] == ' ' ? i : 0;
}

/* transport_error - "[5.x.y] [text]" */
static const char *
transport_error(const char *dest, const char *rcpt_domain,
    struct arena *arena, struct transport *r)
{
	size_t n;

	(void)rcpt_domain;
	if (dest == NULL)
		dest = "";
	r->status = "5.0.0";
	if ((n = transport_status_len(dest)) > 0) {
		if (dest[0] != '5')
			return "status must be 5.X.Y";
		r->status = arena_strndup(arena, dest, n);
		dest += n;
		dest += strspn(dest, " ");
	}
	r->text = arena_strdup(arena, dest);
	r->nexthop = "error";
	return NULL;
}

/* transport_discard - "[text]" */
static const char *
transport_discard(const char *dest, const char *rcpt_domain,
    struct arena *arena, struct transport *r)
{
	(void)rcpt_domain;
	r->status = "2.0.0";
	r->text = arena_strdup(arena, dest != NULL ? dest : "");
	r->nexthop = "discard";
	return NULL;
}

/* transport_spec - parse spec into r; NULL or the reason (without the
 * spec) */
static const char *
transport_spec(const char *spec, const char *rcpt_domain,
    struct arena *arena, struct transport *r)
{
	const struct transport_type *t;
	const char *colon, *p;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (*spec == '\0')
		return "empty";
	for (p = spec; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "control character";
	colon = strchr(spec, ':');
	n = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
	for (t = transport_types; t->name != NULL; t++)
		if (strlen(t->name) == n && strncmp(t->name, spec, n) == 0)
			break;
	if (t->name == NULL)
		return arena_printf(arena, "unknown transport \"%.*s\"",
		    (int)n, spec);
	r->kind = t->kind;
	return t->parse(colon != NULL ? colon + 1 : NULL, rcpt_domain, arena,
	    r);
}

/* transport_parse - one spec */
bool
transport_parse(const char *spec, const char *rcpt_domain,
    struct arena *arena, struct transport *r, const char **why_r)
{
	const char *why;

	if (spec == NULL || arena == NULL || r == NULL || why_r == NULL)
		log_panic("transport_parse: NULL argument");
	if ((why = transport_spec(spec, rcpt_domain, arena, r)) == NULL)
		return true;
	*why_r = arena_printf(arena, "bad transport \"%s\": %s", spec, why);
	return false;
}

/* transport_ask - one key; on a bad found value the error names it */
static enum table_result
transport_ask(struct table *t, const char *key, const char *domain,
    struct arena *arena, struct transport *r, const char **why_r)
{
	enum table_result res;
	const char *value, *why;

	switch ((res = table_lookup(t, key, arena, &value))) {
	case TABLE_NOTFOUND:
		return res;
	case TABLE_ERROR:
		*why_r = arena_printf(arena, "%s: lookup error for \"%s\"",
		    table_spec(t), key);
		return res;
	case TABLE_FOUND:
		break;
	}
	if (transport_parse(value, domain, arena, r, &why))
		return TABLE_FOUND;
	*why_r = arena_printf(arena, "%s: key \"%s\": %s", table_spec(t), key,
	    why);
	log_warn("%s", *why_r);
	return TABLE_ERROR;
}

/* transport_lookup - transport(5)'s keys in order */
static enum table_result
transport_lookup(struct table *t, const char *local,
    size_t local_len, const char *domain, struct arena *arena,
    struct transport *r, const char **why_r)
{
	enum table_result res;
	const char *full, *ext, *p;

	full = arena_printf(arena, "%.*s@%s", (int)local_len, local, domain);
	if ((res = transport_ask(t, full, domain, arena, r, why_r)) !=
	    TABLE_NOTFOUND || table_is_pattern(t))
		return res;
	ext = memchr(local, TRANSPORT_EXT_DELIM, local_len);
	if (ext != NULL && ext > local && (res = transport_ask(t,
	    arena_printf(arena, "%.*s@%s", (int)(ext - local), local, domain),
	    domain, arena, r, why_r)) != TABLE_NOTFOUND)
		return res;
	if ((res = transport_ask(t, domain, domain, arena, r, why_r)) !=
	    TABLE_NOTFOUND)
		return res;
	/* an address literal has no parent domains */
	for (p = *domain == '[' ? NULL : strchr(domain + 1, '.'); p != NULL &&
	    p[1] != '\0'; p = strchr(p + 1, '.'))
		if ((res = transport_ask(t, p, domain, arena, r, why_r)) !=
		    TABLE_NOTFOUND)
			return res;
	return transport_ask(t, "*", domain, arena, r, why_r);
}

/* transport_resolve - table, then relayhost, then MX of the domain */
enum table_result
transport_resolve(const struct transport_resolver *res, const char *rcpt,
    struct arena *arena, struct transport *r, const char **why_r)
{
	enum table_result found;
	const char *at, *domain, *why, *spec;

	if (res == NULL || rcpt == NULL || arena == NULL || r == NULL ||
	    why_r == NULL)
		log_panic("transport_resolve: NULL argument");
	if ((at = strrchr(rcpt, '@')) == NULL || at[1] == '\0') {
		*why_r = arena_printf(arena, "recipient \"%s\" has no domain",
		    rcpt);
		return TABLE_ERROR;
	}
	domain = transport_lower(arena, at + 1, strlen(at + 1));
	if (res->maps != NULL && (found = transport_lookup(res->maps, rcpt,
	    (size_t)(at - rcpt), domain, arena, r, why_r)) !=
	    TABLE_NOTFOUND)
		return found;
	if (res->relayhost != NULL && *res->relayhost != '\0') {
		spec = arena_printf(arena, "smtp:%s", res->relayhost);
		if ((why = transport_spec(spec, NULL, arena, r)) == NULL)
			return TABLE_FOUND;
		*why_r = arena_printf(arena, "bad relayhost \"%s\": %s",
		    res->relayhost, why);
		return TABLE_ERROR;
	}
	if ((why = transport_spec("smtp:", domain, arena, r)) == NULL)
		return TABLE_FOUND;
	*why_r = arena_printf(arena, "recipient \"%s\": %s", rcpt, why);
	return TABLE_ERROR;
}
