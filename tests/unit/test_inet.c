/*
 * test_inet.c - address parsing, formatting, CIDR, reverse names
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "inet.h"
#include "testutil.h"

/* text_of - parse and format back, or "FAIL" */
static const char *
text_of(const char *in, char *buf, size_t len)
{
	struct inet_addr a;

	if (!inet_parse(in, &a))
		return "FAIL";
	return inet_format(&a, buf, len);
}

/* test_parse - address text forms, canonical output, refusals */
static void
test_parse(void **state)
{
	static const struct {
		const char *in, *out;
		int family;
	} cases[] = {
		{ "192.0.2.1", "192.0.2.1", AF_INET },
		{ "[192.0.2.1]", "192.0.2.1", AF_INET },
		{ "2001:db8::1", "2001:db8::1", AF_INET6 },
		{ "2001:DB8:0:0:0:0:0:1", "2001:db8::1", AF_INET6 },
		{ "[IPv6:2001:db8::1]", "2001:db8::1", AF_INET6 },
		{ "[ipv6:2001:db8::1]", "2001:db8::1", AF_INET6 },
		{ "IPv6:2001:db8::1", "2001:db8::1", AF_INET6 },
		{ "[2001:db8::1]", "2001:db8::1", AF_INET6 },
		{ "::1", "::1", AF_INET6 },
		{ "::", "::", AF_INET6 },
		/* v4-mapped becomes v4, whatever the wrapping */
		{ "::ffff:192.0.2.1", "192.0.2.1", AF_INET },
		{ "[IPv6:::ffff:192.0.2.1]", "192.0.2.1", AF_INET },
		{ "::FFFF:c000:0201", "192.0.2.1", AF_INET },
		/* v4-compatible (deprecated) is not mapped: stays v6 */
		{ "::192.0.2.1", "::192.0.2.1", AF_INET6 },
		/* RFC 5952: one zero field is not compressed */
		{ "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1", AF_INET6 },
		{ "2001:0:0:1:0:0:0:1", "2001:0:0:1::1", AF_INET6 },
		{ NULL, NULL, 0 },
	};
	static const char *const bad[] = {
		"", "[]", "[", "]", "[192.0.2.1", "192.0.2.1]", "1.2.3",
		"01.2.3.4", "256.1.1.1", "1.2.3.4.5", "0x1.1.1.1",
		" 192.0.2.1", "192.0.2.1 ", "IPv6:192.0.2.1", "[IPv6:]",
		"IPv6:", "fe80::1%eth0", "2001:db8::1::2", "2001:db8:::1",
		"example.com", "[[192.0.2.1]]", "IPv4:192.0.2.1",
		"1:2:3:4:5:6:7:8:9",
		"0000000000000000000000000000000000000000000000000000000000001",
		NULL,
	};
	char buf[INET_TEXT_MAX];
	struct inet_addr a;
	size_t i;

	(void)state;
	for (i = 0; cases[i].in != NULL; i++) {
		assert_true(inet_parse(cases[i].in, &a));
		assert_int_equal(a.family, cases[i].family);
		assert_string_equal(text_of(cases[i].in, buf, sizeof(buf)),
		    cases[i].out);
	}
	for (i = 0; bad[i] != NULL; i++) {
		memset(&a, 0xaa, sizeof(a));
		if (inet_parse(bad[i], &a))
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(a.family, (int)0xaaaaaaaa); /* untouched */
	}
	assert_false(inet_parse(NULL, &a));
	/* bytes of v4 are in network order and the rest is zero */
	assert_true(inet_parse("::ffff:1.2.3.4", &a));
	assert_memory_equal(a.bytes,
	    "\x01\x02\x03\x04\0\0\0\0\0\0\0\0\0\0\0\0", 16);
}

/* test_sockaddr - sockaddr conversion, mapped addresses, other families */
static void
test_sockaddr(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_un_like {
		sa_family_t family;
		char path[32];
	} sun = { .family = AF_UNIX };
	char buf[INET_TEXT_MAX];
	struct inet_addr a;

	(void)state;
	inet_pton(AF_INET, "198.51.100.7", &sin.sin_addr);
	assert_true(inet_from_sockaddr((struct sockaddr *)&sin, &a));
	assert_int_equal(a.family, AF_INET);
	assert_string_equal(inet_format(&a, buf, sizeof(buf)),
	    "198.51.100.7");
	inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr);
	assert_true(inet_from_sockaddr((struct sockaddr *)&sin6, &a));
	assert_int_equal(a.family, AF_INET6);
	assert_string_equal(inet_format(&a, buf, sizeof(buf)),
	    "2001:db8::7");
	inet_pton(AF_INET6, "::ffff:198.51.100.8", &sin6.sin6_addr);
	assert_true(inet_from_sockaddr((struct sockaddr *)&sin6, &a));
	assert_int_equal(a.family, AF_INET);
	assert_string_equal(inet_format(&a, buf, sizeof(buf)),
	    "198.51.100.8");
	assert_false(inet_from_sockaddr((struct sockaddr *)&sun, &a));
	assert_false(inet_from_sockaddr(NULL, &a));
}

/* test_format - format of the empty address and the longest text */
static void
test_format(void **state)
{
	struct inet_addr none = { 0 };
	char buf[INET_TEXT_MAX];
	struct inet_addr a;

	(void)state;
	assert_string_equal(inet_format(&none, buf, sizeof(buf)), "unknown");
	/* the longest IPv6 text fits INET_TEXT_MAX */
	assert_true(inet_parse("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
	    &a));
	assert_string_equal(inet_format(&a, buf, sizeof(buf)),
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

/* cidr - parse text; "ERR:reason" or "net/prefix" formatted back */
static const char *
cidr(const char *text, char *buf, size_t len)
{
	struct inet_cidr n;
	const char *why = "unset";
	char addr[INET_TEXT_MAX];

	if (!inet_cidr_parse(text, &n, &why)) {
		snprintf(buf, len, "ERR:%s", why);
		return buf;
	}
	snprintf(buf, len, "%s/%u", inet_format(&n.net, addr, sizeof(addr)),
	    n.prefix);
	return buf;
}

/* test_cidr_parse - networks, prefixes and the three error texts */
static void
test_cidr_parse(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "192.0.2.0/24", "192.0.2.0/24" },
		{ "192.0.2.1", "192.0.2.1/32" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "192.0.2.128/25", "192.0.2.128/25" },
		{ "192.0.2.1/32", "192.0.2.1/32" },
		{ "[192.0.2.0]/24", "192.0.2.0/24" },
		{ "2001:db8::/32", "2001:db8::/32" },
		{ "[2001:db8::]/32", "2001:db8::/32" },
		{ "[2001:db8::1]", "2001:db8::1/128" },
		{ "2001:db8::1", "2001:db8::1/128" },
		{ "::/0", "::/0" },
		{ "2001:db8::1/128", "2001:db8::1/128" },
		{ "2001:db8:8000::/33", "2001:db8:8000::/33" },
		/* mapped networks become the IPv4 network inside */
		{ "::ffff:192.0.2.0/120", "192.0.2.0/24" },
		{ "::ffff:192.0.2.1", "192.0.2.1/32" },
		{ "::ffff:0:0/96", "0.0.0.0/0" },
		{ "::/64", "::/64" },
		/* bad prefixes */
		{ "192.0.2.0/33", "ERR:bad prefix length" },
		{ "2001:db8::/129", "ERR:bad prefix length" },
		{ "192.0.2.0/", "ERR:bad prefix length" },
		{ "192.0.2.0/-1", "ERR:bad prefix length" },
		{ "192.0.2.0/+24", "ERR:bad prefix length" },
		{ "192.0.2.0/24x", "ERR:bad prefix length" },
		{ "192.0.2.0/2 4", "ERR:bad prefix length" },
		{ "192.0.2.0/0024", "ERR:bad prefix length" },
		{ "192.0.2.0/4294967320", "ERR:bad prefix length" },
		{ "192.0.2.0/24/24", "ERR:bad address" },
		/* host bits */
		{ "192.0.2.1/24", "ERR:non-null host address bits" },
		{ "192.0.3.0/23", "ERR:non-null host address bits" },
		{ "192.0.2.0/23", "192.0.2.0/23" },
		{ "2001:db8::1/64", "ERR:non-null host address bits" },
		{ "2001:db9::/31", "ERR:non-null host address bits" },
		{ "2001:db8::/29", "2001:db8::/29" },
		{ "1.0.0.0/0", "ERR:non-null host address bits" },
		/* bad addresses */
		{ "", "ERR:bad address" },
		{ "/24", "ERR:bad address" },
		{ "192.0.2/24", "ERR:bad address" },
		{ "example.com/24", "ERR:bad address" },
		{ "[192.0.2.0/24]", "ERR:bad address" },
		{ "[2001:db8::/32", "ERR:bad address" },
		{ NULL, NULL },
	};
	char buf[128];
	struct inet_cidr n;
	size_t i;

	(void)state;
	for (i = 0; cases[i].in != NULL; i++)
		assert_string_equal(cidr(cases[i].in, buf, sizeof(buf)),
		    cases[i].out);
	assert_false(inet_cidr_parse(NULL, &n, NULL));
	assert_false(inet_cidr_parse("1.2.3.4/40", &n, NULL));
	assert_true(inet_cidr_parse("1.2.3.4/32", &n, NULL));
}

/* matches - whether address text lies in network text */
static bool
matches(const char *net, const char *addr)
{
	struct inet_cidr n;
	struct inet_addr a;

	assert_true(inet_cidr_parse(net, &n, NULL));
	assert_true(inet_parse(addr, &a));
	return inet_cidr_match(&n, &a);
}

/* test_cidr_match - membership, families, mapped clients */
static void
test_cidr_match(void **state)
{
	struct inet_cidr n;
	struct inet_addr none = { 0 };

	(void)state;
	assert_true(matches("192.0.2.0/24", "192.0.2.0"));
	assert_true(matches("192.0.2.0/24", "192.0.2.255"));
	assert_false(matches("192.0.2.0/24", "192.0.3.0"));
	assert_false(matches("192.0.2.0/24", "192.0.1.255"));
	assert_true(matches("192.0.2.128/25", "192.0.2.200"));
	assert_false(matches("192.0.2.128/25", "192.0.2.127"));
	assert_true(matches("0.0.0.0/0", "203.0.113.9"));
	assert_true(matches("192.0.2.1", "192.0.2.1"));
	assert_false(matches("192.0.2.1", "192.0.2.2"));
	assert_true(matches("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(matches("2001:db8::/32", "2001:db9::1"));
	assert_true(matches("2001:db8:8000::/33", "2001:db8:ffff::1"));
	assert_false(matches("2001:db8:8000::/33", "2001:db8:7fff::1"));
	/* families must agree: ::/0 does not hold IPv4 clients */
	assert_false(matches("::/0", "192.0.2.1"));
	assert_false(matches("0.0.0.0/0", "2001:db8::1"));
	/* a mapped client is the IPv4 client */
	assert_true(matches("192.0.2.0/24", "::ffff:192.0.2.9"));
	assert_true(matches("::ffff:192.0.2.0/120", "192.0.2.9"));
	assert_true(inet_cidr_parse("0.0.0.0/0", &n, NULL));
	assert_false(inet_cidr_match(&n, &none));
}

/* test_reverse_name - DNSBL names for IPv4 and IPv6 */
static void
test_reverse_name(void **state)
{
	char buf[64];
	struct inet_addr a;

	(void)state;
	assert_true(inet_parse("192.0.2.1", &a));
	assert_string_equal(inet_reverse_name(&a, buf, sizeof(buf)),
	    "1.2.0.192");
	assert_true(inet_parse("127.0.0.2", &a));
	assert_string_equal(inet_reverse_name(&a, buf, 10), "2.0.0.127");
	assert_true(inet_parse("2001:db8::1", &a));
	assert_string_equal(inet_reverse_name(&a, buf, sizeof(buf)),
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2");
	assert_true(inet_parse("::FFFF:7F00:2", &a));	/* RFC 5782 */
	assert_string_equal(inet_reverse_name(&a, buf, sizeof(buf)),
	    "2.0.0.127");
	assert_true(inet_parse("fedc:ba98:7654:3210:0123:4567:89ab:cdef",
	    &a));
	assert_string_equal(inet_reverse_name(&a, buf, sizeof(buf)),
	    "f.e.d.c.b.a.9.8.7.6.5.4.3.2.1.0.0.1.2.3.4.5.6.7.8.9.a.b.c.d.e.f");
}

/* test_network_key - masked network keys for greylisting */
static void
test_network_key(void **state)
{
	char buf[INET_TEXT_MAX + 4];
	struct inet_addr a;

	(void)state;
	assert_true(inet_parse("192.0.2.77", &a));
	assert_string_equal(inet_network_key(&a, 24, buf, sizeof(buf)),
	    "192.0.2.0/24");
	assert_string_equal(inet_network_key(&a, 32, buf, sizeof(buf)),
	    "192.0.2.77/32");
	assert_string_equal(inet_network_key(&a, 0, buf, sizeof(buf)),
	    "0.0.0.0/0");
	assert_string_equal(inet_network_key(&a, 27, buf, sizeof(buf)),
	    "192.0.2.64/27");
	assert_true(inet_parse("2001:db8:1:2:3:4:5:6", &a));
	assert_string_equal(inet_network_key(&a, 64, buf, sizeof(buf)),
	    "2001:db8:1:2::/64");
	assert_string_equal(inet_network_key(&a, 128, buf, sizeof(buf)),
	    "2001:db8:1:2:3:4:5:6/128");
	assert_string_equal(inet_network_key(&a, 36, buf, sizeof(buf)),
	    "2001:db8::/36");
	/* the address itself is not changed */
	assert_string_equal(text_of("2001:db8:1:2:3:4:5:6", buf, sizeof(buf)),
	    "2001:db8:1:2:3:4:5:6");
}

/* short_reverse_buffer - reverse name into a buffer one byte short */
static void
short_reverse_buffer(void)
{
	struct inet_addr a;
	char buf[63];

	inet_parse("2001:db8::1", &a);
	inet_reverse_name(&a, buf, sizeof(buf));
}

/* short_format_buffer - format IPv6 into a tiny buffer */
static void
short_format_buffer(void)
{
	struct inet_addr a;
	char buf[8];

	inet_parse("2001:db8::1", &a);
	inet_format(&a, buf, sizeof(buf));
}

/* key_prefix_too_long - network key with a prefix past the family */
static void
key_prefix_too_long(void)
{
	struct inet_addr a;
	char buf[64];

	inet_parse("192.0.2.1", &a);
	inet_network_key(&a, 33, buf, sizeof(buf));
}

/* reverse_no_family - reverse name of the empty address */
static void
reverse_no_family(void)
{
	struct inet_addr a = { 0 };
	char buf[64];

	inet_reverse_name(&a, buf, sizeof(buf));
}

/* test_bugs_panic - bugs in settings tables panic */
static void
test_bugs_panic(void **state)
{
	(void)state;
	testutil_expect_abort(short_reverse_buffer);
	testutil_expect_abort(short_format_buffer);
	testutil_expect_abort(key_prefix_too_long);
	testutil_expect_abort(reverse_no_family);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_sockaddr),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_cidr_match),
		cmocka_unit_test(test_reverse_name),
		cmocka_unit_test(test_network_key),
		cmocka_unit_test(test_bugs_panic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
