/*
 * test_dns.c - the resolver against a private nsd on loopback, and the
 * rdata decoders
 *
 * The group setup starts nsd (which must be installed: a missing nsd is
 * a failed group, not a skipped one) on a free loopback port with every
 * zone in tests/data/zones/, in its own process group so that the cache
 * test can freeze it. A UDP socket that is bound but never read stands in
 * for a server that does not answer.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "dns.h"
#include "testutil.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define T_A	1
#define T_MX	15
#define T_TXT	16
#define T_AAAA	28
#define T_PTR	12
#define T_SOA	6
#define T_TLSA	52

#define THREADS	8
#define ROUNDS	25

static struct testutil_nsd g;

/* now - monotonic seconds */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* group_teardown - stop nsd, remove its directory */
static int
group_teardown(void **state)
{
	(void)state;
	return testutil_nsd_stop(&g);
}

/* group_setup - start nsd, or clean up and fail */
static int
group_setup(void **state)
{
	(void)state;
	return testutil_nsd_start(&g, "test_dns", TOP_SRCDIR);
}

/* make_dns - a fresh resolver (empty cache) for up to 3 servers */
static struct dns *
make_dns(double timeout, unsigned long attempts, const char *s1,
    const char *s2)
{
	char *items[3] = { (char *)s1, (char *)s2, NULL };
	struct dns_settings s = {
		.servers = { .n = s2 != NULL ? 2 : 1, .items = items },
		.timeout = timeout,
		.attempts = attempts,
	};
	char *error = NULL;
	struct dns *dns = dns_create(&s, &error);

	if (dns == NULL)
		fail_msg("dns_create: %s", error);
	return dns;
}

/* has_rdata - whether the answer holds exactly this rdata once */
static bool
has_rdata(const struct dns_answer *a, const void *data, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < a->n; i++)
		if (a->len[i] == len && memcmp(a->data[i], data, len) == 0)
			n++;
	return n == 1;
}

/* test_a - A records: rdata bytes, several records, packet copied */
static void
test_a(void **state)
{
	struct arena *arena = arena_create();
	struct dns *dns = make_dns(3, 1, g.server, NULL);
	struct dns_answer a;

	(void)state;
	assert_int_equal(dns_query(dns, "www.example.com", T_A, arena, &a),
	    DNS_FOUND);
	assert_int_equal(a.result, DNS_FOUND);
	assert_int_equal(a.rcode, 0);
	assert_false(a.nxdomain);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.len[0], 4);
	assert_memory_equal(a.data[0], "\xc0\x00\x02\x0a", 4);
	assert_int_equal(a.ttl, 300);
	assert_false(a.secure);
	assert_non_null(a.packet);
	assert_true(a.packet_len > 12);
	assert_null(a.why);

	/* a trailing dot is the same name */
	assert_int_equal(dns_query(dns, "two.example.com.", T_A, arena, &a),
	    DNS_FOUND);
	assert_int_equal(a.n, 2);
	assert_true(has_rdata(&a, "\xc0\x00\x02\x01", 4));
	assert_true(has_rdata(&a, "\xc0\x00\x02\x02", 4));
	dns_destroy(&dns);
	assert_null(dns);
	arena_destroy(&arena);
}

/* test_aaaa - an AAAA record's 16 bytes */
static void
test_aaaa(void **state)
{
	static const unsigned char want[16] = {
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
	};
	struct arena *arena = arena_create();
	struct dns *dns = make_dns(3, 1, g.server, NULL);
	struct dns_answer a;

	(void)state;
	assert_int_equal(dns_query(dns, "www.example.com", T_AAAA, arena,
	    &a), DNS_FOUND);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.len[0], 16);
	assert_memory_equal(a.data[0], want, 16);
	dns_destroy(&dns);
	arena_destroy(&arena);
}

/* test_txt - multi-string TXT joined, empty TXT is "" */
static void
test_txt(void **state)
{
	struct arena *arena = arena_create();
	struct dns *dns = make_dns(3, 1, g.server, NULL);
	struct dns_answer a;
	const char *text;

	(void)state;
	assert_int_equal(dns_query(dns, "txt.example.com", T_TXT, arena, &a),
	    DNS_FOUND);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.len[0], 13);
	assert_true(dns_txt_join(arena, a.data[0], a.len[0], &text));
	assert_string_equal(text, "v=spf1 -all");

	assert_int_equal(dns_query(dns, "empty.example.com", T_TXT, arena,
	    &a), DNS_FOUND);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.len[0], 1);
	assert_true(dns_txt_join(arena, a.data[0], a.len[0], &text));
	assert_string_equal(text, "");
	dns_destroy(&dns);
	arena_destroy(&arena);
}

/* test_mx_ptr - MX preference and exchange, PTR in the documentation
 * network's reverse zone (needs the lan-zone options) */
static void
test_mx_ptr(void **state)
{
	struct arena *arena = arena_create();
	struct dns *dns = make_dns(3, 1, g.server, NULL);
	struct dns_answer a;
	const char *name;
	unsigned pref;

	(void)state;
	assert_int_equal(dns_query(dns, "example.com", T_MX, arena, &a),
	    DNS_FOUND);
	assert_int_equal(a.n, 1);
	assert_true(dns_mx_decode(arena, a.data[0], a.len[0], &pref, &name));
	assert_int_equal(pref, 10);
	assert_string_equal(name, "mail.example.com");

	assert_int_equal(dns_query(dns, "10.2.0.192.in-addr.arpa", T_PTR,
	    arena, &a), DNS_FOUND);
	assert_int_equal(a.n, 1);
	assert_true(dns_name_decode(arena, a.data[0], a.len[0], &name));
	assert_string_equal(name, "www.example.com");
	dns_destroy(&dns);
	arena_destroy(&arena);
}

/* test_notfound - NXDOMAIN and NODATA are both NOTFOUND, told apart */
static void
test_notfound(void **state)
{
	struct arena *arena = arena_create();
	struct dns *dns = make_dns(3, 1, g.server, NULL);
	struct dns_answer a;

	(void)state;
	assert_int_equal(dns_query(dns, "nope.example.com", T_A, arena, &a),
	    DNS_NOTFOUND);
	assert_true(a.nxdomain);
	assert_int_equal(a.rcode, 3);
	assert_int_equal(a.n, 0);
	assert_null(a.why);

	assert_int_equal(dns_query(dns, "aonly.example.com", T_TXT, arena,
	    &a), DNS_NOTFOUND);
	assert_false(a.nxdomain);
	assert_int_equal(a.rcode, 0);
	assert_int_equal(a.n, 0);
	assert_null(a.data);
	dns_destroy(&dns);
	arena_destroy(&arena);
}

/* test_invalid_names - NOTFOUND (nxdomain) without a query */
static void
test_invalid_names(void **state)
{
	static const char *const bad[] = {
		"", ".", "a..example.com", ".example.com", "example.com..",
		"a\\.b.example.com", NULL, NULL, NULL,
	};
	char label64[80], long254[300];
	struct arena *arena = arena_create();
	struct dns *dns = make_dns(3, 1, g.quiet, NULL);
	struct dns_counters before, after;
	const char *names[10];
	struct dns_answer a;
	double t0 = now();
	size_t i;

	(void)state;
	memset(label64, 'a', 64);
	strcpy(label64 + 64, ".example.com");
	memset(long254, 'b', 254);
	for (i = 63; i < 254; i += 64)
		long254[i] = '.';
	long254[254] = '\0';
	assert_false(dns_name_valid(label64));
	assert_false(dns_name_valid(long254));
	memcpy(names, bad, sizeof(bad));
	names[6] = label64;
	names[7] = long254;
	dns_counters_get(dns, &before);
	/* the server is silent: any query would take the full timeout */
	for (i = 0; names[i] != NULL; i++) {
		memset(&a, 0xff, sizeof(a));
		assert_int_equal(dns_query(dns, names[i], T_A, arena, &a),
		    DNS_NOTFOUND);
		assert_int_equal(a.result, DNS_NOTFOUND);
		assert_true(a.nxdomain);
		assert_int_equal(a.rcode, -1);
		assert_int_equal(a.n, 0);
		assert_null(a.packet);
		assert_null(a.why);
	}
	assert_true(now() - t0 < 1.0 * testutil_slack());
	dns_counters_get(dns, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	dns_destroy(&dns);
	arena_destroy(&arena);
}

/* test_name_valid - the length limits exactly */
static void
test_name_valid(void **state)
{
	char name[300];

	(void)state;
	memset(name, 'a', 63);
	name[63] = '\0';
	assert_true(dns_name_valid(name));
	name[63] = 'a';
	name[64] = '\0';
	assert_false(dns_name_valid(name));
	/* 63.63.63.61 = 253 bytes: the longest name */
	memset(name, 'c', 253);
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	assert_true(dns_name_valid(name));
	name[253] = '.';
	name[254] = '\0';
	assert_true(dns_name_valid(name));
	name[253] = 'c';
	assert_false(dns_name_valid(name));
	assert_true(dns_name_valid("com"));
	assert_true(dns_name_valid("_dmarc.example.com"));
	assert_false(dns_name_valid(""));
	assert_false(dns_name_valid("."));
	assert_false(dns_name_valid("a..b"));
}

/* test_timeout - a silent server: DNS_ERROR "timeout" after
 * timeout * attempts, counted once as a timeout */
static void
test_timeout(void **state)
{
	struct arena *arena = arena_create();
	struct dns *dns = make_dns(0.5, 2, g.quiet, NULL);
	struct dns_counters c;
	struct dns_answer a;
	double t0 = now(), t;

	(void)state;
	assert_int_equal(dns_query(dns, "www.example.com", T_TXT, arena, &a),
	    DNS_ERROR);
	t = now() - t0;
	assert_string_equal(a.why, "timeout");
	assert_int_equal(a.rcode, -1);
	assert_true(t >= 0.99);
	assert_true(t < 1.8);
	dns_counters_get(dns, &c);
	assert_int_equal(c.timeout[DNS_QT_TXT], 1);
	assert_int_equal(c.error[DNS_QT_TXT], 0);
	dns_destroy(&dns);
	arena_destroy(&arena);
}

/* test_refused - a name outside nsd's zones: REFUSED from the only
 * server, which libunbound reports as SERVFAIL */
static void
test_refused(void **state)
{
	struct arena *arena = arena_create();
	struct dns *dns = make_dns(5, 1, g.server, NULL);
	struct dns_counters c;
	struct dns_answer a;

	(void)state;
	assert_int_equal(dns_query(dns, "www.example.org", T_A, arena, &a),
	    DNS_ERROR);
	assert_int_equal(a.rcode, 2);
	assert_string_equal(a.why, "SERVFAIL");
	assert_false(a.nxdomain);
	assert_int_equal(a.n, 0);
	dns_counters_get(dns, &c);
	assert_int_equal(c.error[DNS_QT_A], 1);
	assert_int_equal(c.timeout[DNS_QT_A], 0);
	dns_destroy(&dns);
	arena_destroy(&arena);
}

/* test_fallback - the silent server first, nsd second: answered. Each
 * fresh context picks its first server at random, so several rounds
 * make it near certain that the silent one was tried first */
static void
test_fallback(void **state)
{
	struct arena *arena = arena_create();
	struct dns_answer a;
	struct dns *dns;
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		dns = make_dns(4, 1, g.quiet, g.server);
		assert_int_equal(dns_query(dns, "www.example.com", T_A, arena,
		    &a), DNS_FOUND);
		assert_memory_equal(a.data[0], "\xc0\x00\x02\x0a", 4);
		dns_destroy(&dns);
	}
	arena_destroy(&arena);
}

/* test_cache - with nsd frozen, a cached answer (positive and negative)
 * still comes back; an uncached name times out, proving the freeze */
static void
test_cache(void **state)
{
	struct arena *arena = arena_create();
	struct dns *dns = make_dns(0.5, 1, g.server, NULL);
	struct dns_answer a;

	(void)state;
	assert_int_equal(dns_query(dns, "www.example.com", T_A, arena, &a),
	    DNS_FOUND);
	assert_int_equal(dns_query(dns, "nope.example.com", T_A, arena, &a),
	    DNS_NOTFOUND);
	assert_int_equal(kill(-g.pid, SIGSTOP), 0);
	assert_int_equal(dns_query(dns, "www.example.com", T_A, arena, &a),
	    DNS_FOUND);
	assert_memory_equal(a.data[0], "\xc0\x00\x02\x0a", 4);
	assert_int_equal(dns_query(dns, "nope.example.com", T_A, arena, &a),
	    DNS_NOTFOUND);
	assert_true(a.nxdomain);
	assert_int_equal(dns_query(dns, "aonly.example.com", T_A, arena, &a),
	    DNS_ERROR);
	assert_int_equal(kill(-g.pid, SIGCONT), 0);
	assert_string_equal(a.why, "timeout");
	dns_destroy(&dns);
	arena_destroy(&arena);
}

/* test_front_cache - with dns_cache_size, a repeated question (any case,
 * trailing dot or not) is answered in the process: counted as cached,
 * and still answered with nsd frozen; a timeout is not kept */
static void
test_front_cache(void **state)
{
	struct arena *arena = arena_create();
	char *items[2] = { g.server, NULL };
	struct dns_settings s = {
		.servers = { .n = 1, .items = items },
		.timeout = 0.5, .attempts = 1, .cache_size = 100,
	};
	char *error = NULL;
	struct dns *dns = dns_create(&s, &error);
	struct dns_counters c;
	struct dns_answer a;

	(void)state;
	assert_non_null(dns);
	assert_int_equal(dns_query(dns, "www.example.com", T_A, arena, &a),
	    DNS_FOUND);
	assert_int_equal(dns_query(dns, "nope.example.com", T_A, arena, &a),
	    DNS_NOTFOUND);
	dns_counters_get(dns, &c);
	assert_int_equal(c.cached[DNS_QT_A], 0);
	assert_int_equal(kill(-g.pid, SIGSTOP), 0);
	assert_int_equal(dns_query(dns, "WWW.example.com.", T_A, arena, &a),
	    DNS_FOUND);
	assert_int_equal(a.n, 1);
	assert_memory_equal(a.data[0], "\xc0\x00\x02\x0a", 4);
	assert_true(a.ttl > 0 && a.ttl <= 300);
	assert_int_equal(dns_query(dns, "nope.example.com", T_A, arena, &a),
	    DNS_NOTFOUND);
	assert_true(a.nxdomain);
	assert_int_equal(dns_query(dns, "aonly.example.com", T_A, arena, &a),
	    DNS_ERROR);
	assert_int_equal(dns_query(dns, "aonly.example.com", T_A, arena, &a),
	    DNS_ERROR);
	assert_int_equal(kill(-g.pid, SIGCONT), 0);
	dns_counters_get(dns, &c);
	assert_int_equal(c.cached[DNS_QT_A], 2);
	assert_int_equal(c.found[DNS_QT_A], 2);
	assert_int_equal(c.notfound[DNS_QT_A], 2);
	assert_int_equal(c.timeout[DNS_QT_A], 2);
	dns_destroy(&dns);
	arena_destroy(&arena);
}

/* test_counters - one slot per type and outcome, others untouched */
static void
test_counters(void **state)
{
	struct arena *arena = arena_create();
	struct dns *dns = make_dns(3, 1, g.server, NULL);
	struct dns_counters c, want;
	struct dns_answer a;

	(void)state;
	memset(&want, 0, sizeof(want));
	dns_counters_get(dns, &c);
	assert_memory_equal(&c, &want, sizeof(c));
	dns_query(dns, "www.example.com", T_A, arena, &a);
	dns_query(dns, "two.example.com", T_A, arena, &a);
	dns_query(dns, "nope.example.com", T_A, arena, &a);
	dns_query(dns, "www.example.com", T_AAAA, arena, &a);
	dns_query(dns, "txt.example.com", T_TXT, arena, &a);
	dns_query(dns, "aonly.example.com", T_MX, arena, &a);
	dns_query(dns, "10.2.0.192.in-addr.arpa", T_PTR, arena, &a);
	dns_query(dns, "_25._tcp.mail.example.com", T_TLSA, arena, &a);
	dns_query(dns, "example.com", T_SOA, arena, &a);
	dns_query(dns, "www.example.org", T_SOA, arena, &a);
	want.found[DNS_QT_A] = 2;
	want.notfound[DNS_QT_A] = 1;
	want.found[DNS_QT_AAAA] = 1;
	want.found[DNS_QT_TXT] = 1;
	want.notfound[DNS_QT_MX] = 1;
	want.found[DNS_QT_PTR] = 1;
	want.notfound[DNS_QT_TLSA] = 1;
	want.found[DNS_QT_OTHER] = 1;
	want.error[DNS_QT_OTHER] = 1;
	dns_counters_get(dns, &c);
	assert_memory_equal(&c, &want, sizeof(c));
	dns_destroy(&dns);
	arena_destroy(&arena);
}

struct worker {
	struct dns *dns;
	int index;
	int wrong;	/* answers that were not the expected ones */
};

/* worker_run - ROUNDS uncached NXDOMAIN queries and its own A name */
static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct arena *arena = arena_create();
	unsigned char want[4] = { 192, 0, 2, 0 };
	struct dns_answer a;
	char name[64];
	int i;

	want[3] = (unsigned char)(100 + w->index);
	for (i = 0; i < ROUNDS; i++) {
		snprintf(name, sizeof(name), "n%d.example.com", w->index);
		if (dns_query(w->dns, name, T_A, arena, &a) != DNS_FOUND ||
		    a.n != 1 || a.len[0] != 4 || memcmp(a.data[0], want, 4))
			w->wrong++;
		snprintf(name, sizeof(name), "x%d-%d.example.com", w->index,
		    i);
		if (dns_query(w->dns, name, T_A, arena, &a) != DNS_NOTFOUND ||
		    !a.nxdomain)
			w->wrong++;
	}
	arena_destroy(&arena);
	return NULL;
}

/* test_threads - 8 threads on one context: every answer is its own */
static void
test_threads(void **state)
{
	struct dns *dns = make_dns(5, 1, g.server, NULL);
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct dns_counters c;
	int i;

	(void)state;
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .dns = dns, .index = i };
		assert_int_equal(pthread_create(&t[i], NULL, worker_run,
		    &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(w[i].wrong, 0);
	dns_counters_get(dns, &c);
	assert_int_equal(c.found[DNS_QT_A], THREADS * ROUNDS);
	assert_int_equal(c.notfound[DNS_QT_A], THREADS * ROUNDS);
	assert_int_equal(c.timeout[DNS_QT_A] + c.error[DNS_QT_A], 0);
	dns_destroy(&dns);
}

/* test_create_errors - bad server addresses, with the offending item */
static void
test_create_errors(void **state)
{
	static const struct {
		const char *server, *error;
	} cases[] = {
		{ "ns.example.com", "dns server \"ns.example.com\": "
		    "not an IP address" },
		{ "192.0.2.1@", "dns server \"192.0.2.1@\": bad port" },
		{ "192.0.2.1@0", "dns server \"192.0.2.1@0\": bad port" },
		{ "192.0.2.1@65536", "dns server \"192.0.2.1@65536\": "
		    "bad port" },
		{ "192.0.2.1@53x", "dns server \"192.0.2.1@53x\": bad port" },
		{ "192.0.2.1@-1", "dns server \"192.0.2.1@-1\": bad port" },
		{ "@53", "dns server \"@53\": not an IP address" },
		{ NULL, NULL },
	};
	char *items[3], *error;
	struct dns_settings s = {
		.servers = { .n = 2, .items = items },
		.timeout = 1,
		.attempts = 1,
	};
	struct dns *dns;
	size_t i;

	(void)state;
	for (i = 0; cases[i].server != NULL; i++) {
		items[0] = (char *)"[2001:db8::1]@5353";
		items[1] = (char *)cases[i].server;
		items[2] = NULL;
		error = NULL;
		assert_null(dns_create(&s, &error));
		assert_non_null(error);
		assert_string_equal(error, cases[i].error);
		free(error);
	}
	/* the good forms are accepted */
	items[1] = (char *)"192.0.2.1";
	dns = dns_create(&s, &error);
	assert_non_null(dns);
	dns_destroy(&dns);
	dns_destroy(&dns);
	/* an unreadable trust anchor file is an error at once */
	s.trust_anchor_file = "/nonexistent/root.key";
	error = NULL;
	assert_null(dns_create(&s, &error));
	assert_string_equal(error, "dns: trust anchor file "
	    "/nonexistent/root.key: No such file or directory");
	free(error);
}

/* test_txt_join - strings joined; truncation and NULs refused */
static void
test_txt_join(void **state)
{
	struct arena *arena = arena_create();
	const char *text = "unset";

	(void)state;
	assert_true(dns_txt_join(arena, (const unsigned char *)
	    "\x03" "abc" "\x00" "\x02" "de", 8, &text));
	assert_string_equal(text, "abcde");
	assert_true(dns_txt_join(arena, (const unsigned char *)"\x00", 1,
	    &text));
	assert_string_equal(text, "");
	text = "unset";
	assert_false(dns_txt_join(arena, (const unsigned char *)"", 0,
	    &text));
	assert_false(dns_txt_join(arena, (const unsigned char *)
	    "\x05" "abc", 4, &text));
	assert_false(dns_txt_join(arena, (const unsigned char *)
	    "\x03" "abc" "\x02" "d", 6, &text));
	assert_false(dns_txt_join(arena, (const unsigned char *)
	    "\x03" "a\0c", 4, &text));
	assert_string_equal(text, "unset");
	arena_destroy(&arena);
}

/* test_mx_decode - preference and name; short or overlong rdata refused */
static void
test_mx_decode(void **state)
{
	static const unsigned char mx[] =
	    "\x01\x02\x04mail\x07" "example\x03" "com";
	struct arena *arena = arena_create();
	const char *name = "unset";
	unsigned pref = 0;

	(void)state;
	assert_true(dns_mx_decode(arena, mx, sizeof(mx), &pref, &name));
	assert_int_equal(pref, 258);
	assert_string_equal(name, "mail.example.com");
	/* null MX (RFC 7505) */
	assert_true(dns_mx_decode(arena, (const unsigned char *)"\0\0\0", 3,
	    &pref, &name));
	assert_int_equal(pref, 0);
	assert_string_equal(name, ".");
	name = "unset";
	pref = 7;
	assert_false(dns_mx_decode(arena, mx, 2, &pref, &name));
	assert_false(dns_mx_decode(arena, mx, 0, &pref, &name));
	assert_false(dns_mx_decode(arena, mx, sizeof(mx) - 1, &pref, &name));
	assert_false(dns_mx_decode(arena, (const unsigned char *)
	    "\0\x0a\0\0", 4, &pref, &name));
	assert_string_equal(name, "unset");
	assert_int_equal(pref, 7);
	arena_destroy(&arena);
}

/* test_name_decode - text form, escapes, and every malformed shape */
static void
test_name_decode(void **state)
{
	unsigned char wire[400];
	struct arena *arena = arena_create();
	const char *name = "unset";
	size_t i, n;

	(void)state;
	assert_true(dns_name_decode(arena, (const unsigned char *)
	    "\x03www\x07" "example\x03" "com", 17, &name));
	assert_string_equal(name, "www.example.com");
	assert_true(dns_name_decode(arena, (const unsigned char *)
	    "\x03" "a.b\x04" "c\\ \x01\0", 10, &name));
	assert_string_equal(name, "a\\046b.c\\092\\032\\001");
	assert_true(dns_name_decode(arena, (const unsigned char *)
	    "\x02\xff" "A", 4, &name));
	assert_string_equal(name, "\\255A");
	/* 3 labels of 63 and one of 61: 255 bytes, the maximum */
	for (n = 0, i = 0; i < 4; i++) {
		wire[n] = i < 3 ? 63 : 61;
		memset(wire + n + 1, 'z', wire[n]);
		n += 1 + wire[n];
	}
	wire[n++] = 0;
	assert_int_equal(n, 255);
	assert_true(dns_name_decode(arena, wire, n, &name));
	assert_int_equal(strlen(name), 253);
	name = "unset";
	/* one byte more is too long */
	wire[n - 2 - 61] = 62;
	memset(wire + n - 1 - 61, 'z', 62);
	wire[n] = 0;
	assert_false(dns_name_decode(arena, wire, n + 1, &name));
	/* label running past the end */
	assert_false(dns_name_decode(arena, (const unsigned char *)
	    "\x05" "ab", 3, &name));
	/* no root label */
	assert_false(dns_name_decode(arena, (const unsigned char *)
	    "\x03" "com", 4, &name));
	/* compression pointer, label over 63 */
	assert_false(dns_name_decode(arena, (const unsigned char *)
	    "\xc0\x0c", 2, &name));
	memset(wire, 'y', sizeof(wire));
	wire[0] = 64;
	wire[65] = 0;
	assert_false(dns_name_decode(arena, wire, 66, &name));
	/* bytes after the name, empty rdata */
	assert_false(dns_name_decode(arena, (const unsigned char *)
	    "\x01" "a\0\0", 4, &name));
	assert_false(dns_name_decode(arena, wire, 0, &name));
	assert_string_equal(name, "unset");
	arena_destroy(&arena);
}

/* test_batch - several names and types at once: each answer is its own,
 * an invalid name is NOTFOUND without disturbing the others */
static void
test_batch(void **state)
{
	struct dns_query_item it[] = {
		{ .name = "n3.example.com", .rrtype = T_A },
		{ .name = "nope.example.com", .rrtype = T_A },
		{ .name = "txt.example.com", .rrtype = T_TXT },
		{ .name = "a..b.example.com", .rrtype = T_A },
		{ .name = "www.example.com", .rrtype = T_AAAA },
		{ .name = "aonly.example.com", .rrtype = T_MX },
		{ .name = "n5.example.com", .rrtype = T_A },
	};
	struct arena *arena = arena_create();
	struct dns *dns = make_dns(3, 1, g.server, NULL);
	struct dns_counters c;
	const char *text;

	(void)state;
	dns_query_batch(dns, it, sizeof(it) / sizeof(it[0]), arena);
	assert_int_equal(it[0].answer.result, DNS_FOUND);
	assert_int_equal(it[0].answer.n, 1);
	assert_memory_equal(it[0].answer.data[0], "\xc0\x00\x02\x67", 4);
	assert_int_equal(it[1].answer.result, DNS_NOTFOUND);
	assert_true(it[1].answer.nxdomain);
	assert_int_equal(it[1].answer.rcode, 3);
	assert_int_equal(it[2].answer.result, DNS_FOUND);
	assert_true(dns_txt_join(arena, it[2].answer.data[0],
	    it[2].answer.len[0], &text));
	assert_string_equal(text, "v=spf1 -all");
	assert_int_equal(it[3].answer.result, DNS_NOTFOUND);
	assert_true(it[3].answer.nxdomain);
	assert_int_equal(it[3].answer.rcode, -1);
	assert_int_equal(it[4].answer.result, DNS_FOUND);
	assert_int_equal(it[4].answer.len[0], 16);
	assert_int_equal(it[5].answer.result, DNS_NOTFOUND);
	assert_false(it[5].answer.nxdomain);
	assert_int_equal(it[6].answer.result, DNS_FOUND);
	assert_memory_equal(it[6].answer.data[0], "\xc0\x00\x02\x69", 4);
	dns_counters_get(dns, &c);
	assert_int_equal(c.found[DNS_QT_A], 2);
	assert_int_equal(c.notfound[DNS_QT_A], 1);
	assert_int_equal(c.found[DNS_QT_TXT], 1);
	assert_int_equal(c.found[DNS_QT_AAAA], 1);
	assert_int_equal(c.notfound[DNS_QT_MX], 1);
	/* an empty batch does nothing */
	dns_query_batch(dns, it, 0, arena);
	dns_destroy(&dns);
	arena_destroy(&arena);
}

/* test_batch_parallel - against the silent server three queries time out
 * together: the call takes timeout * attempts once, not three times */
static void
test_batch_parallel(void **state)
{
	struct dns_query_item it[] = {
		{ .name = "n0.example.com", .rrtype = T_A },
		{ .name = "n1.example.com", .rrtype = T_TXT },
		{ .name = "n2.example.com", .rrtype = T_A },
	};
	struct arena *arena = arena_create();
	struct dns *dns = make_dns(0.4, 2, g.quiet, NULL);
	struct dns_counters c;
	double t0 = now(), t;
	size_t i;

	(void)state;
	dns_query_batch(dns, it, 3, arena);
	t = now() - t0;
	for (i = 0; i < 3; i++) {
		assert_int_equal(it[i].answer.result, DNS_ERROR);
		assert_string_equal(it[i].answer.why, "timeout");
	}
	assert_true(t >= 0.79);
	assert_true(t < 1.5);
	dns_counters_get(dns, &c);
	assert_int_equal(c.timeout[DNS_QT_A], 2);
	assert_int_equal(c.timeout[DNS_QT_TXT], 1);
	assert_int_equal(c.error[DNS_QT_A] + c.error[DNS_QT_TXT], 0);
	dns_destroy(&dns);
	arena_destroy(&arena);
}

/* test_batch_mixed - nsd frozen after caching two names: in one batch the
 * cached ones answer and the uncached one times out, without the answers
 * being mixed up */
static void
test_batch_mixed(void **state)
{
	struct dns_query_item it[] = {
		{ .name = "n6.example.com", .rrtype = T_A },
		{ .name = "n4.example.com", .rrtype = T_A },
		{ .name = "x-batch.example.com", .rrtype = T_A },
	};
	struct arena *arena = arena_create();
	struct dns *dns = make_dns(0.5, 1, g.server, NULL);
	struct dns_answer a;
	double t0, t;

	(void)state;
	assert_int_equal(dns_query(dns, "n4.example.com", T_A, arena, &a),
	    DNS_FOUND);
	assert_int_equal(dns_query(dns, "n6.example.com", T_A, arena, &a),
	    DNS_FOUND);
	assert_int_equal(kill(-g.pid, SIGSTOP), 0);
	t0 = now();
	dns_query_batch(dns, it, 3, arena);
	t = now() - t0;
	assert_int_equal(kill(-g.pid, SIGCONT), 0);
	assert_int_equal(it[0].answer.result, DNS_FOUND);
	assert_memory_equal(it[0].answer.data[0], "\xc0\x00\x02\x6a", 4);
	assert_int_equal(it[1].answer.result, DNS_FOUND);
	assert_memory_equal(it[1].answer.data[0], "\xc0\x00\x02\x68", 4);
	assert_int_equal(it[2].answer.result, DNS_ERROR);
	assert_string_equal(it[2].answer.why, "timeout");
	assert_true(t >= 0.49);
	assert_true(t < 1.2);
	dns_destroy(&dns);
	arena_destroy(&arena);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_txt_join),
		cmocka_unit_test(test_mx_decode),
		cmocka_unit_test(test_name_decode),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_a),
		cmocka_unit_test(test_aaaa),
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_mx_ptr),
		cmocka_unit_test(test_notfound),
		cmocka_unit_test(test_invalid_names),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_front_cache),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_batch_parallel),
		cmocka_unit_test(test_batch_mixed),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
