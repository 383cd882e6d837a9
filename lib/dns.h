/*
 * dns.h - the one DNS resolver of a loaded config (libunbound)
 *
 * Contract: dns_create() makes one resolver context per loaded config,
 * shared by all threads (libunbound's blocking ub_resolve is safe from
 * many threads on one context). Queries are forwarded to the configured
 * servers ("127.0.0.1@5353"; with several, libunbound picks by measured
 * round-trip time and falls back to the others, so order is not a
 * priority) or, with none configured, to the servers in
 * /etc/resolv.conf. Answers are cached for their TTL (negative answers
 * too) for the context's lifetime: by libunbound, and the last
 * cache_size of them also in front of it (dns_cache.h), so that a cached
 * answer costs no thread hand-off.
 *
 * Three answers, never confused:
 *	DNS_FOUND	records of the type asked for (rdata in answer)
 *	DNS_NOTFOUND	the name does not exist (NXDOMAIN) or has no record
 *			of that type (NODATA); answer->nxdomain tells which
 *	DNS_ERROR	timeout, SERVFAIL, REFUSED, a malformed reply or a
 *			library failure; answer->why says which
 * A name that is not a valid DNS name (empty label, label over 63 bytes,
 * over 253 bytes) is DNS_NOTFOUND without a query: no server could have
 * it, and callers such as SPF must treat it as "no such name".
 *
 * Timeouts: libunbound has no per-query timeout; dns_query() waits at
 * most the configured timeout (async query + wait on its fd) and cancels
 * the query after that, answering DNS_ERROR "timeout". attempts > 1
 * repeats a timed-out query.
 *
 * Counters per query type and outcome are kept for metrics.
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "conf.h"

enum dns_result {
	DNS_ERROR = -1,
	DNS_NOTFOUND = 0,
	DNS_FOUND = 1,
};

struct dns_settings {
	struct conf_list servers;	/* "IP[@PORT]"; empty = resolv.conf */
	double timeout;			/* seconds per attempt */
	unsigned long attempts;		/* >= 1 */
	const char *trust_anchor_file;	/* optional, for DNSSEC (DANE) */
	unsigned long cache_size;	/* answers kept in front of
					   libunbound; 0: none */
};

struct dns_answer {
	enum dns_result result;
	int rcode;			/* as received; -1 if none */
	bool nxdomain;			/* NOTFOUND because the name does not
					   exist (else: no data) */
	bool secure, bogus;		/* DNSSEC validation, if configured */
	uint32_t ttl;
	size_t n;			/* records (FOUND) */
	const unsigned char **data;	/* rdata of each record, in arena */
	const size_t *len;
	const unsigned char *packet;	/* whole answer packet, in arena */
	size_t packet_len;
	const char *why;		/* static text for DNS_ERROR */
};

/* Query types counted (index into the counters). */
enum dns_qtype_index {
	DNS_QT_A, DNS_QT_AAAA, DNS_QT_TXT, DNS_QT_MX, DNS_QT_PTR,
	DNS_QT_TLSA, DNS_QT_OTHER, DNS_QT_COUNT
};

struct dns_counters {
	unsigned long long found[DNS_QT_COUNT];
	unsigned long long notfound[DNS_QT_COUNT];
	unsigned long long error[DNS_QT_COUNT];
	unsigned long long timeout[DNS_QT_COUNT];
	unsigned long long cached[DNS_QT_COUNT];	/* of found and
					   notfound: answered from the
					   front cache */
};

struct dns;

/* dns_create - false with *error_r (malloc'ed) on a bad server address or
 * library failure */
struct dns *dns_create(const struct dns_settings *settings, char **error_r);
/* dns_destroy - after the last query has returned; sets *dns NULL */
void dns_destroy(struct dns **dns);

/* dns_query - one query (class IN); strings and rdata in arena */
enum dns_result dns_query(struct dns *dns, const char *name, int rrtype,
    struct arena *arena, struct dns_answer *answer_r);

/*
 * dns_query_batch - several queries at once (class IN), for callers such
 * as DNSBL checks that would otherwise wait for each list in turn. Every
 * item's answer is filled exactly as dns_query() would fill it (the same
 * three answers, counters and invalid-name rule); items do not affect
 * each other. All are submitted together and share one deadline per
 * attempt: the whole call takes at most timeout * attempts, and a later
 * attempt repeats only the queries that timed out. Strings and rdata go
 * into arena; n == 0 does nothing. dns_query() is a batch of one.
 */
struct dns_query_item {
	const char *name;		/* in */
	int rrtype;			/* in */
	struct dns_answer answer;	/* out */
};
void dns_query_batch(struct dns *dns, struct dns_query_item *items,
    size_t n, struct arena *arena);

/* Decoders for rdata; false on malformed data (caller: DNS_ERROR). */
/* dns_txt_join - a TXT record's strings joined, NUL-terminated */
bool dns_txt_join(struct arena *arena, const unsigned char *rdata,
    size_t len, const char **text_r);
/* dns_mx_decode - preference and exchange name (no trailing dot) */
bool dns_mx_decode(struct arena *arena, const unsigned char *rdata,
    size_t len, unsigned *pref_r, const char **name_r);
/* dns_name_decode - an uncompressed wire name (PTR, CNAME targets) */
bool dns_name_decode(struct arena *arena, const unsigned char *rdata,
    size_t len, const char **name_r);

/* dns_name_valid - syntax only: labels 1..63 bytes, total <= 253 */
bool dns_name_valid(const char *name);

/* dns_counters_get - a snapshot of the counters */
void dns_counters_get(struct dns *dns, struct dns_counters *c_r);

#endif
