/*
 * matchlist.h - lists of domains or networks given in a setting
 *
 * A setting such as mynetworks, relay_domains or local_domains is a list
 * whose items are literals or tables:
 *
 *	mynetworks    = 127.0.0.0/8, [::1]/128, cidr:/etc/postern/nets
 *	relay_domains = example.com, .example.com, hash:/etc/postern/relay
 *
 * Network items are CIDR networks or bare addresses ([...] allowed around
 * IPv6). Domain items match the name exactly; ".example.com" matches every
 * subdomain of example.com (but not example.com itself), as Postfix does
 * with parent_domain_matches_subdomains off. A table item is asked with
 * lookup_addr / lookup_domain order and any value counts as a match.
 * "!item" negates: a match on it ends the search with "not found".
 * Items are tried in order; the first match answers.
 *
 * Three answers: MATCH_FOUND, MATCH_NOTFOUND, MATCH_ERROR (a table error).
 */
#ifndef POSTERN_MATCHLIST_H
#define POSTERN_MATCHLIST_H

#include "conf.h"
#include "inet.h"
#include "table.h"

enum matchlist_kind {
	MATCHLIST_NETWORKS,
	MATCHLIST_DOMAINS,
};

struct matchlist;

/*
 * matchlist_open - build from a parsed list setting. Bad items and tables
 * that cannot be opened are errors: *error_r gets a malloc'ed text (one
 * line per problem) and NULL is returned. The list and its tables are
 * released when arena is destroyed.
 */
struct matchlist *matchlist_open(struct arena *arena,
    const struct conf_list *items, enum matchlist_kind kind, char **error_r);

enum table_result matchlist_addr(struct matchlist *ml,
    const struct inet_addr *addr);
enum table_result matchlist_domain(struct matchlist *ml, const char *domain);

#endif
