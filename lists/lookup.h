/*
 * lookup.h - access(5) lookup order over a table
 *
 * Contract (Postfix access(5)): for non-pattern tables several keys are
 * tried in order and the first one found wins; for pattern tables
 * (table_is_pattern) the whole key is asked once. An error on any key
 * ends the search with TABLE_ERROR (never "not found").
 *
 *	lookup_mail:   user@domain, domain, parent domains as .domain
 *	               (.sub.example.com then .example.com then .com),
 *	               user@. The null sender is the key "<>".
 *	lookup_domain: name, then parent domains as .domain (HELO and client
 *	               host names).
 *	lookup_addr:   the address, then (IPv4) 1.2.3, 1.2, 1; (IPv6) the
 *	               address with trailing ":"-separated parts removed one
 *	               at a time, as Postfix does.
 *	lookup_client: lookup_domain on the client name (unless it is
 *	               "unknown" or an address literal), then lookup_addr.
 */
#ifndef POSTERN_LOOKUP_H
#define POSTERN_LOOKUP_H

#include "inet.h"
#include "mailaddr.h"
#include "table.h"

enum table_result lookup_mail(struct table *t, const struct mailaddr *addr,
    struct arena *arena, const char **value_r);
enum table_result lookup_domain(struct table *t, const char *name,
    struct arena *arena, const char **value_r);
enum table_result lookup_addr(struct table *t, const struct inet_addr *addr,
    struct arena *arena, const char **value_r);
enum table_result lookup_client(struct table *t, const char *name,
    const struct inet_addr *addr, struct arena *arena, const char **value_r);

#endif
