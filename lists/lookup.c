/*
 * lookup.c - access(5) lookup order over one table
 *
 * Postfix's order, so that access maps move over unchanged:
 *
 *	mail address	user@domain, domain, .parent ..., user@ ("<>" for
 *			the null sender, the only key tried then)
 *	host name	name, .parent ... (sub.example.com, .example.com, .com)
 *	address		1.2.3.4, 1.2.3, 1.2, 1
 *			2001:db8:1::1, 2001:db8:1:, 2001:db8:1, 2001:db8, 2001
 *
 * IPv6: Postfix takes the compressed text of the address (RFC 5952, as
 * inet_ntop prints it) and cuts it at the last ':' again and again, so
 * "2001:db8::1" is tried as "2001:db8::1", "2001:db8:", "2001:db8" and
 * "2001". We do exactly that on inet_format()'s text; note that such
 * partial keys only ever line up with written table keys on ':'
 * boundaries of the compressed form, which is why access(5) tells admins
 * to prefer cidr: tables for IPv6 networks.
 *
 * Pattern tables (cidr, regexp, pcre, static) are asked once with the
 * whole key, never with the partial keys. Case: table_lookup folds keys
 * for the tables that fold (hash, lmdb, inline); regexp tables see the
 * key as it came, and are case-insensitive by default anyway.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "log.h"
#include "lookup.h"

/* lookup_parents - name, then .parent domains (non-pattern tables only
 * for the parents) */
static enum table_result
lookup_parents(struct table *t, const char *name, struct arena *arena,
    const char **value_r)
{
	enum table_result r;
	const char *p;

	if (*name == '\0')
		return TABLE_NOTFOUND;
	if ((r = table_lookup(t, name, arena, value_r)) != TABLE_NOTFOUND ||
	    table_is_pattern(t))
		return r;
	/* an address literal has no parent domains */
	if (*name == '[')
		return TABLE_NOTFOUND;
	for (p = strchr(name + 1, '.'); p != NULL; p = strchr(p + 1, '.')) {
		if (p[1] == '\0')
			break;
		if ((r = table_lookup(t, p, arena, value_r)) != TABLE_NOTFOUND)
			return r;
	}
	return TABLE_NOTFOUND;
}

/* lookup_mail - user@domain, domain, .parents, user@ */
enum table_result
lookup_mail(struct table *t, const struct mailaddr *addr,
    struct arena *arena, const char **value_r)
{
	enum table_result r;
	const char *full;

	if (addr->flags & MAILADDR_NULL)
		return table_lookup(t, "<>", arena, value_r);
	full = addr->full;
	if (*full == '\0')
		return TABLE_NOTFOUND;
	if ((r = table_lookup(t, full, arena, value_r)) != TABLE_NOTFOUND ||
	    table_is_pattern(t))
		return r;
	if (*addr->domain != '\0' && (r = lookup_parents(t, addr->domain,
	    arena, value_r)) != TABLE_NOTFOUND)
		return r;
	if (*addr->local == '\0')
		return TABLE_NOTFOUND;
	/* the local part as it appears in full, i.e. quoted if it must be */
	{
		const char *at = strrchr(full, '@');
		size_t len = at != NULL && !(addr->flags & MAILADDR_NO_DOMAIN)
		    ? (size_t)(at - full) : strlen(full);
		char *key = arena_printf(arena, "%.*s@", (int)len, full);

		return table_lookup(t, key, arena, value_r);
	}
}

/* lookup_domain - name, then .parent domains */
enum table_result
lookup_domain(struct table *t, const char *name, struct arena *arena,
    const char **value_r)
{
	return lookup_parents(t, name, arena, value_r);
}

/* lookup_addr - the address, then shorter prefixes cut at '.' or ':' */
enum table_result
lookup_addr(struct table *t, const struct inet_addr *addr,
    struct arena *arena, const char **value_r)
{
	char text[INET_TEXT_MAX], *cut;
	enum table_result r;
	char delim;

	if (addr->family != AF_INET && addr->family != AF_INET6)
		return TABLE_NOTFOUND;
	if (inet_format(addr, text, sizeof(text)) == NULL)
		log_panic("lookup_addr: cannot format an address");
	if ((r = table_lookup(t, text, arena, value_r)) != TABLE_NOTFOUND ||
	    table_is_pattern(t))
		return r;
	delim = addr->family == AF_INET ? '.' : ':';
	while ((cut = strrchr(text, delim)) != NULL) {
		*cut = '\0';
		/* "::1" cut down to "" or ":" is no key anyone wrote */
		if (text[0] == '\0' || strcmp(text, ":") == 0)
			break;
		if ((r = table_lookup(t, text, arena, value_r)) !=
		    TABLE_NOTFOUND)
			return r;
	}
	return TABLE_NOTFOUND;
}

/* lookup_client - host name order, then address order */
enum table_result
lookup_client(struct table *t, const char *name,
    const struct inet_addr *addr, struct arena *arena, const char **value_r)
{
	enum table_result r;

	if (name != NULL && *name != '\0' && *name != '[' &&
	    strcasecmp(name, "unknown") != 0 &&
	    (r = lookup_domain(t, name, arena, value_r)) != TABLE_NOTFOUND)
		return r;
	if (addr == NULL)
		return TABLE_NOTFOUND;
	return lookup_addr(t, addr, arena, value_r);
}
