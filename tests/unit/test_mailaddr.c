/*
 * test_mailaddr.c - envelope address parsing and host name checks
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "mailaddr.h"

#define NUL_	MAILADDR_NULL
#define RT	MAILADDR_ROUTING
#define LIT	MAILADDR_LITERAL
#define QU	MAILADDR_QUOTED
#define ND	MAILADDR_NO_DOMAIN
#define SR	MAILADDR_SOURCE_ROUTE

static const struct {
	const char *in;
	const char *local, *domain, *full;
	unsigned flags;
} good[] = {
	{ "<user@example.com>", "user", "example.com", "user@example.com", 0 },
	{ "user@example.com", "user", "example.com", "user@example.com", 0 },
	{ "<User.Name+tag@Example.COM.>", "User.Name+tag", "example.com",
	  "User.Name+tag@example.com", 0 },
	{ "<>", "", "", "", NUL_ },
	{ "", "", "", "", NUL_ },
	/* source routes are dropped but flagged */
	{ "<@a.example,@b.example:user@c.example>", "user", "c.example",
	  "user@c.example", RT | SR },
	{ "<@a.example:user@c.example>", "user", "c.example",
	  "user@c.example", RT | SR },
	{ "@a.example:user@c.example", "user", "c.example", "user@c.example",
	  RT | SR },
	/* quoted local parts */
	{ "\"a@b\"@c.example", "a@b", "c.example", "\"a@b\"@c.example",
	  RT | QU },
	{ "<\"john doe\"@example.com>", "john doe", "example.com",
	  "\"john doe\"@example.com", QU },
	{ "<\"a\\\"b\\\\c\"@example.com>", "a\"b\\c", "example.com",
	  "\"a\\\"b\\\\c\"@example.com", QU },
	{ "<\"\\x\"@example.com>", "x", "example.com", "x@example.com", QU },
	{ "<\"plain\"@example.com>", "plain", "example.com",
	  "plain@example.com", QU },
	{ "<\"\"@example.com>", "", "example.com", "\"\"@example.com", QU },
	{ "<\"a%b\"@example.com>", "a%b", "example.com",
	  "a%b@example.com", QU | RT },
	{ "<\"x y\">", "x y", "", "\"x y\"", QU | ND },
	/* routing inside the local part */
	{ "user%other.example@ours.example", "user%other.example",
	  "ours.example", "user%other.example@ours.example", RT },
	{ "other!user@ours.example", "other!user", "ours.example",
	  "other!user@ours.example", RT },
	{ "host!user", "host!user", "", "host!user", ND | RT },
	{ "user%host", "user%host", "", "user%host", ND | RT },
	{ "a@b@c", "a@b", "c", "\"a@b\"@c", RT },
	{ "<a@b.example@c.example>", "a@b.example", "c.example",
	  "\"a@b.example\"@c.example", RT },
	/* no domain */
	{ "postmaster", "postmaster", "", "postmaster", ND },
	{ "<postmaster>", "postmaster", "", "postmaster", ND },
	/* address literals, canonical */
	{ "<user@[192.0.2.1]>", "user", "[192.0.2.1]", "user@[192.0.2.1]",
	  LIT },
	{ "<user@[IPv6:2001:DB8:0::1]>", "user", "[IPv6:2001:db8::1]",
	  "user@[IPv6:2001:db8::1]", LIT },
	{ "<user@[ipv6:::1]>", "user", "[IPv6:::1]", "user@[IPv6:::1]", LIT },
	/* lenient dot-strings are re-quoted in full */
	{ "<first..last@example.com>", "first..last", "example.com",
	  "\"first..last\"@example.com", 0 },
	{ "<last.@example.com>", "last.", "example.com",
	  "\"last.\"@example.com", 0 },
	{ "<.first@example.com>", ".first", "example.com",
	  "\".first\"@example.com", 0 },
	/* atext specials are fine unquoted */
	{ "<a!#$%&'*+-/=?^_`{|}~z@example.com>", "a!#$%&'*+-/=?^_`{|}~z",
	  "example.com", "a!#$%&'*+-/=?^_`{|}~z@example.com", RT },
	/* SMTPUTF8 */
	{ "<j\xc3\xb6rg@b\xc3\xbc" "cher.example>", "j\xc3\xb6rg",
	  "b\xc3\xbc" "cher.example", "j\xc3\xb6rg@b\xc3\xbc" "cher.example",
	  0 },
	/* loose labels: underscore, hyphens */
	{ "<u@_dmarc.Ex-ample.com>", "u", "_dmarc.ex-ample.com",
	  "u@_dmarc.ex-ample.com", 0 },
	{ "<u@-x-.example>", "u", "-x-.example", "u@-x-.example", 0 },
	{ NULL, NULL, NULL, NULL, 0 },
};

static const struct {
	const char *in;
	const char *error;
} bad[] = {
	{ "<user@example.com", "unbalanced angle brackets" },
	{ "user@example.com>", "unbalanced angle brackets" },
	{ "<", "unbalanced angle brackets" },
	{ ">", "unbalanced angle brackets" },
	{ " <user@example.com>", "unbalanced angle brackets" },
	{ "<@example.com>", "empty local part" },
	{ "@example.com", "empty local part" },
	{ "<@>", "empty local part" },
	{ "<@a.example:>", "empty local part" },
	{ "<@a.example:@b.example>", "empty local part" },
	{ "<@example.com", "unbalanced angle brackets" },
	{ "<@a..b:user@c>", "bad source route" },
	{ "<@a,b:user@c>", "bad source route" },
	{ "<@a,:user@c>", "bad source route" },
	{ "<@:user@c>", "bad source route" },
	{ "<@[192.0.2.1]:user@c>", "bad source route" },
	{ "<@a@b:user@c>", "bad source route" },
	{ "<\"abc@example.com>", "unbalanced quotes in local part" },
	{ "<\"abc\\\"@example.com>", "unbalanced quotes in local part" },
	{ "<\"abc\\>", "unbalanced quotes in local part" },
	{ "<\"a\"b@example.com>", "bad character after quoted local part" },
	{ "<\"a\".b@example.com>", "bad character after quoted local part" },
	{ "<a\"b\"@example.com>", "bad character in local part" },
	{ "<a b@example.com>", "bad character in local part" },
	{ "<a\\b@example.com>", "bad character in local part" },
	{ "<a(b)@example.com>", "bad character in local part" },
	{ "<a,b@example.com>", "bad character in local part" },
	{ "<a:b@example.com>", "bad character in local part" },
	{ "<a<b@example.com>", "bad character in local part" },
	{ "<a[b@example.com>", "bad character in local part" },
	{ "<user@>", "empty domain" },
	{ "<user@.>", "empty domain" },
	{ "<user@a..b>", "empty label in domain" },
	{ "<user@.a>", "empty label in domain" },
	{ "<user@a.b..>", "empty label in domain" },
	{ "<user@a b>", "bad character in domain" },
	{ "<user@a_b#c>", "bad character in domain" },
	{ "<user@exa\"mple.com>", "bad character in domain" },
	{ "<user@ex:ample.com>", "bad character in domain" },
	{ "<\"a\"@b@c>", "bad character in domain" },
	{ "<user@[192.0.2.1>", "unbalanced brackets in domain" },
	{ "<user@[192.0.2.1]x>", "bad address literal" },
	{ "<user@[192.0.2]>", "bad address literal" },
	{ "<user@[001.2.3.4]>", "bad address literal" },
	{ "<user@[IPv6:192.0.2.1]>", "bad address literal" },
	{ "<user@[IPv6:]>", "bad address literal" },
	{ "<user@[2001:db8::1]>", "bad address literal" },
	{ "<user@[tag:whatever]>", "bad address literal" },
	{ "<user@[]>", "bad address literal" },
	{ "<user@[IPv6:fe80::1%eth0]>", "bad address literal" },
	{ "<user@ex\x01mple.com>", "control character in address" },
	{ "<user@example.com>\r", "control character in address" },
	{ "<user\n@example.com>", "control character in address" },
	{ "<\"a\tb\"@example.com>", "control character in address" },
	{ "<\"a\x7f\"@example.com>", "control character in address" },
	{ "<user@exampl\xc3>", "bad UTF-8 in address" },
	{ "<\xc0\xaf@example.com>", "bad UTF-8 in address" },
	{ "<\xed\xa0\x80@example.com>", "bad UTF-8 in address" },
	{ "<\xf4\x90\x80\x80@example.com>", "bad UTF-8 in address" },
	{ "<\xe0\x80\xaf@example.com>", "bad UTF-8 in address" },
	{ "<\xff@example.com>", "bad UTF-8 in address" },
	{ "<<user@example.com>>", "bad character in local part" },
	{ NULL, NULL },
};

/* test_good - addresses that parse, with parts, full form and flags */
static void
test_good(void **state)
{
	struct arena *arena = arena_create();
	struct mailaddr r;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; good[i].in != NULL; i++) {
		why = NULL;
		if (!mailaddr_parse(arena, good[i].in, &r, &why))
			fail_msg("'%s' refused: %s", good[i].in, why);
		assert_string_equal(r.local, good[i].local);
		assert_string_equal(r.domain, good[i].domain);
		assert_string_equal(r.full, good[i].full);
		if (r.flags != good[i].flags)
			fail_msg("'%s': flags %#x, want %#x", good[i].in,
			    r.flags, good[i].flags);
	}
	arena_destroy(&arena);
}

/* test_bad - addresses refused, with their error texts */
static void
test_bad(void **state)
{
	struct arena *arena = arena_create();
	struct mailaddr r;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; bad[i].in != NULL; i++) {
		why = NULL;
		if (mailaddr_parse(arena, bad[i].in, &r, &why))
			fail_msg("'%s' accepted as '%s'", bad[i].in, r.full);
		if (why == NULL || strcmp(why, bad[i].error) != 0)
			fail_msg("'%s': error '%s', want '%s'", bad[i].in,
			    why ? why : "(null)", bad[i].error);
	}
	assert_false(mailaddr_parse(arena, NULL, &r, &why));
	assert_string_equal(why, "no address");
	assert_false(mailaddr_parse(arena, "<a@b..c>", &r, NULL));
	arena_destroy(&arena);
}

/* long_addr - "<" + local of n octets + "@example.com>" (or bare) */
static const char *
long_addr(char *buf, size_t n, bool brackets)
{
	char *p = buf;

	if (brackets)
		*p++ = '<';
	memset(p, 'a', n);
	strcpy(p + n, brackets ? "@example.com>" : "@example.com");
	return buf;
}

/* test_lengths - path, label and local part length limits */
static void
test_lengths(void **state)
{
	struct arena *arena = arena_create();
	char text[600], label[70];
	struct mailaddr r;
	const char *why;
	size_t n;

	(void)state;
	/* the path, brackets included, may have 256 octets */
	long_addr(text, 242, true);
	assert_int_equal(strlen(text), 256);
	assert_true(mailaddr_parse(arena, text, &r, &why));
	assert_int_equal(strlen(r.local), 242);
	long_addr(text, 243, true);
	assert_false(mailaddr_parse(arena, text, &r, &why));
	assert_string_equal(why, "address is too long");
	/* without brackets they count all the same */
	long_addr(text, 242, false);
	assert_true(mailaddr_parse(arena, text, &r, &why));
	long_addr(text, 243, false);
	assert_false(mailaddr_parse(arena, text, &r, &why));
	assert_string_equal(why, "address is too long");
	/* source routes count too */
	strcpy(text, "<@r.example:");
	long_addr(text + 12, 231, false);
	strcat(text, ">");
	assert_int_equal(strlen(text), 256);
	assert_true(mailaddr_parse(arena, text, &r, &why));
	assert_int_equal(r.flags, MAILADDR_ROUTING | MAILADDR_SOURCE_ROUTE);
	strcpy(text, "<@r.example:");
	long_addr(text + 12, 232, false);
	strcat(text, ">");
	assert_false(mailaddr_parse(arena, text, &r, &why));
	assert_string_equal(why, "address is too long");

	/* labels of 63 octets are fine, 64 are not */
	memset(label, 'l', 63);
	label[63] = '\0';
	snprintf(text, sizeof(text), "<u@%s.example>", label);
	assert_true(mailaddr_parse(arena, text, &r, &why));
	snprintf(text, sizeof(text), "<u@%sl.example>", label);
	assert_false(mailaddr_parse(arena, text, &r, &why));
	assert_string_equal(why, "domain label is too long");
	/* local parts over 64 octets are accepted (SRS, BATV) */
	n = (size_t)snprintf(text, sizeof(text), "<SRS0=%s@example.com>",
	    label);
	assert_true(n > 64);
	assert_true(mailaddr_parse(arena, text, &r, &why));
	arena_destroy(&arena);
}

/* test_hostname_valid - RFC 1123 host names as Postfix checks them */
static void
test_hostname_valid(void **state)
{
	static const char *const ok[] = {
		"mail.example.com", "localhost", "a", "A-1.example",
		"x_y.example.com", "123.example", "a.b.c.d.e.f.g",
		"xn--bcher-kva.example", "1a.2b", "[192.0.2.1]",
		"[IPv6:2001:db8::1]",
		"mail.EXAMPLE.com", NULL,
	};
	static const char *const nok[] = {
		"", ".", "mail.example.com.", ".example.com", "a..b",
		"-a.example", "a-.example", "a.-b", "a b", "a@b", "a/b",
		"192.0.2.1", "1.2.3", "123", "[192.0.2.1", "[2001:db8::1]",
		"[IPv6:zz]", "[]", "b\xc3\xbc" "cher.example", "a:b",
		NULL,
	};
	char name[300], label[64];
	size_t i;

	(void)state;
	for (i = 0; ok[i] != NULL; i++)
		if (!mailaddr_hostname_valid(ok[i]))
			fail_msg("'%s' refused", ok[i]);
	for (i = 0; nok[i] != NULL; i++)
		if (mailaddr_hostname_valid(nok[i]))
			fail_msg("'%s' accepted", nok[i]);
	assert_false(mailaddr_hostname_valid(NULL));

	/* 63-octet labels and 253 octets in all */
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(name, sizeof(name), "%s.%s.%s.%.61s", label, label, label,
	    label);
	assert_int_equal(strlen(name), 253);
	assert_true(mailaddr_hostname_valid(name));
	snprintf(name, sizeof(name), "%s.%s.%s.%.62s", label, label, label,
	    label);
	assert_false(mailaddr_hostname_valid(name));
	snprintf(name, sizeof(name), "%sa.example", label);
	assert_false(mailaddr_hostname_valid(name));
}

/* test_is_fqdn - fully qualified domains and literals */
static void
test_is_fqdn(void **state)
{
	(void)state;
	assert_true(mailaddr_domain_is_fqdn("example.com"));
	assert_true(mailaddr_domain_is_fqdn("mail.example.com"));
	assert_true(mailaddr_domain_is_fqdn("[192.0.2.1]"));
	assert_true(mailaddr_domain_is_fqdn("[IPv6:2001:db8::1]"));
	assert_false(mailaddr_domain_is_fqdn("localhost"));
	assert_false(mailaddr_domain_is_fqdn(""));
	assert_false(mailaddr_domain_is_fqdn("example..com"));
	assert_false(mailaddr_domain_is_fqdn("example.com."));
	assert_false(mailaddr_domain_is_fqdn("-x.example.com"));
	assert_false(mailaddr_domain_is_fqdn("192.0.2.1"));
	assert_false(mailaddr_domain_is_fqdn("[192.0.2.300]"));
	assert_false(mailaddr_domain_is_fqdn(NULL));
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_hostname_valid),
		cmocka_unit_test(test_is_fqdn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
