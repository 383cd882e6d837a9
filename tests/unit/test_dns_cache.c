/*
 * test_dns_cache.c - the answer cache in front of libunbound, alone
 * (tests/unit/test_dns.c covers it inside the resolver, against nsd)
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "arena.h"
#include "dns_cache.h"

#define T_A	1
#define T_TXT	16

static const unsigned char rd1[] = { 192, 0, 2, 1 };
static const unsigned char rd2[] = { 192, 0, 2, 2 };
static const unsigned char pkt[] = { 0xab, 0xcd, 0x81, 0x80 };

/* found - a FOUND answer with two records and a packet */
static struct dns_answer
found(uint32_t ttl)
{
	static const unsigned char *data[] = { rd1, rd2 };
	static const size_t len[] = { sizeof(rd1), sizeof(rd2) };
	struct dns_answer a = {
		.result = DNS_FOUND, .rcode = 0, .secure = true, .ttl = ttl,
		.n = 2, .data = data, .len = len,
		.packet = pkt, .packet_len = sizeof(pkt),
	};
	return a;
}

/* test_roundtrip - what is put comes back, copied, under any case and
 * with or without the trailing dot; the type is part of the key */
static void
test_roundtrip(void **state)
{
	struct dns_cache *c = dns_cache_create(10);
	struct arena *arena = arena_create();
	struct dns_answer a = found(300), b;

	(void)state;
	dns_cache_put(c, "Www.Example.COM.", T_A, &a);
	assert_int_equal(dns_cache_count(c), 1);
	assert_true(dns_cache_get(c, "www.example.com", T_A, arena, &b));
	assert_int_equal(b.result, DNS_FOUND);
	assert_true(b.secure);
	assert_false(b.nxdomain);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.len[0], 4);
	assert_memory_equal(b.data[0], rd1, 4);
	assert_memory_equal(b.data[1], rd2, 4);
	assert_ptr_not_equal(b.data[0], rd1);
	assert_int_equal(b.packet_len, sizeof(pkt));
	assert_memory_equal(b.packet, pkt, sizeof(pkt));
	assert_true(b.ttl <= 300 && b.ttl >= 299);
	assert_true(dns_cache_get(c, "WWW.EXAMPLE.COM.", T_A, arena, &b));
	assert_false(dns_cache_get(c, "www.example.com", T_TXT, arena, &b));
	assert_false(dns_cache_get(c, "ww.example.com", T_A, arena, &b));

	/* NOTFOUND is kept with its nxdomain flag, without records */
	struct dns_answer nx = { .result = DNS_NOTFOUND, .nxdomain = true,
	    .rcode = 3, .ttl = 60 };
	dns_cache_put(c, "nope.example.com", T_A, &nx);
	assert_true(dns_cache_get(c, "nope.example.com", T_A, arena, &b));
	assert_int_equal(b.result, DNS_NOTFOUND);
	assert_true(b.nxdomain);
	assert_int_equal(b.rcode, 3);
	assert_int_equal(b.n, 0);

	/* a newer answer replaces the kept one */
	a.n = 1;
	dns_cache_put(c, "www.example.com", T_A, &a);
	assert_int_equal(dns_cache_count(c), 2);
	assert_true(dns_cache_get(c, "www.example.com", T_A, arena, &b));
	assert_int_equal(b.n, 1);
	dns_cache_destroy(&c);
	assert_null(c);
	arena_destroy(&arena);
}

/* test_not_kept - errors, TTL 0, bogus answers and over-long names are
 * never kept; a size of 0 keeps nothing */
static void
test_not_kept(void **state)
{
	struct dns_cache *c = dns_cache_create(10);
	struct arena *arena = arena_create();
	struct dns_answer a = found(0), b;
	struct dns_answer err = { .result = DNS_ERROR, .why = "timeout",
	    .ttl = 300 };
	char longname[300];

	(void)state;
	dns_cache_put(c, "zero.example.com", T_A, &a);
	dns_cache_put(c, "err.example.com", T_A, &err);
	a = found(300);
	a.bogus = true;
	dns_cache_put(c, "bogus.example.com", T_A, &a);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	a.bogus = false;
	dns_cache_put(c, longname, T_A, &a);
	assert_int_equal(dns_cache_count(c), 0);
	assert_false(dns_cache_get(c, "err.example.com", T_A, arena, &b));
	assert_false(dns_cache_get(c, longname, T_A, arena, &b));
	dns_cache_destroy(&c);

	c = dns_cache_create(0);
	dns_cache_put(c, "www.example.com", T_A, &a);
	assert_int_equal(dns_cache_count(c), 0);
	assert_false(dns_cache_get(c, "www.example.com", T_A, arena, &b));
	dns_cache_destroy(&c);
	arena_destroy(&arena);
}

/* test_full_and_expiry - a full cache keeps what it has until entries
 * expire; an expired entry is not answered and makes room */
static void
test_full_and_expiry(void **state)
{
	struct dns_cache *c = dns_cache_create(2);
	struct arena *arena = arena_create();
	struct dns_answer a = found(300), shortl = found(1), b;

	(void)state;
	dns_cache_put(c, "one.example.com", T_A, &shortl);
	dns_cache_put(c, "two.example.com", T_A, &a);
	dns_cache_put(c, "three.example.com", T_A, &a);
	assert_int_equal(dns_cache_count(c), 2);
	assert_false(dns_cache_get(c, "three.example.com", T_A, arena, &b));
	assert_true(dns_cache_get(c, "one.example.com", T_A, arena, &b));
	/* CLOCK_MONOTONIC_COARSE seconds: after 2.1 s the TTL 1 is over */
	usleep(2100000);
	assert_false(dns_cache_get(c, "one.example.com", T_A, arena, &b));
	assert_int_equal(dns_cache_count(c), 1);
	dns_cache_put(c, "three.example.com", T_A, &a);
	assert_true(dns_cache_get(c, "three.example.com", T_A, arena, &b));
	assert_true(dns_cache_get(c, "two.example.com", T_A, arena, &b));
	dns_cache_destroy(&c);
	arena_destroy(&arena);
}

/* test_sweep - when full, expired entries are swept to make room */
static void
test_sweep(void **state)
{
	struct dns_cache *c = dns_cache_create(2);
	struct arena *arena = arena_create();
	struct dns_answer a = found(300), shortl = found(1), b;

	(void)state;
	dns_cache_put(c, "one.example.com", T_A, &shortl);
	dns_cache_put(c, "two.example.com", T_A, &shortl);
	usleep(2100000);
	dns_cache_put(c, "three.example.com", T_A, &a);
	assert_int_equal(dns_cache_count(c), 1);
	assert_true(dns_cache_get(c, "three.example.com", T_A, arena, &b));
	dns_cache_destroy(&c);
	arena_destroy(&arena);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_not_kept),
		cmocka_unit_test(test_full_and_expiry),
		cmocka_unit_test(test_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
