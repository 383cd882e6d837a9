/*
 * test_transport.c - transport specs (every form, good and bad, with the
 * canonical nexthop) and transport_resolve (key order, "*", relayhost,
 * the MX default, table errors, bad values)
 *
 * A parsed transport is compared as one line naming every field that is
 * set, so a field set by mistake shows up too.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "log.h"
#include "table.h"
#include "testutil.h"
#include "transport.h"

static char tmpdir[64];
static struct arena *arena;

/* setup - a fresh directory and arena per test */
static int
setup(void **state)
{
	(void)state;
	return testutil_setup(tmpdir, sizeof(tmpdir), "test_transport",
	    &arena);
}

/* teardown - remove the directory */
static int
teardown(void **state)
{
	(void)state;
	return testutil_teardown(tmpdir, &arena);
}

/* describe - every field that is set, in one line */
static const char *
describe(const struct transport *t)
{
	static const char *const kinds[] = {
		[TRANSPORT_SMTP] = "smtp",
		[TRANSPORT_LMTP] = "lmtp",
		[TRANSPORT_MAILDIR] = "maildir",
		[TRANSPORT_ERROR] = "error",
		[TRANSPORT_DISCARD] = "discard",
	};
	struct buf b = { 0 };
	const char *s;

	buf_puts(&b, kinds[t->kind]);
	if (t->host != NULL)
		buf_printf(&b, " host=%s port=%u %s", t->host, t->port,
		    t->mx ? "mx" : "nomx");
	else if (t->port != 0 || t->mx)
		buf_printf(&b, " STRAY port=%u mx=%d", t->port, t->mx);
	if (t->unix_path != NULL)
		buf_printf(&b, " unix=%s", t->unix_path);
	if (t->maildir != NULL)
		buf_printf(&b, " maildir=%s", t->maildir);
	if (t->status != NULL)
		buf_printf(&b, " status=%s", t->status);
	if (t->text != NULL)
		buf_printf(&b, " text=\"%s\"", t->text);
	buf_printf(&b, " nexthop=%s", t->nexthop != NULL ? t->nexthop :
	    "NULL");
	s = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return s;
}

struct parse_case {
	const char *spec;
	const char *domain;	/* the recipient domain */
	const char *want;	/* describe(), or "ERR why" */
};

#define D	"example.org"

static const struct parse_case parse_cases[] = {
	/* smtp, no MX */
	{ "smtp:[192.0.2.1]:25", D,
	    "smtp host=192.0.2.1 port=25 nomx nexthop=smtp:[192.0.2.1]:25" },
	{ "smtp:[192.0.2.1]", D,
	    "smtp host=192.0.2.1 port=25 nomx nexthop=smtp:[192.0.2.1]:25" },
	{ "smtp:[192.0.2.1]:2525", D, "smtp host=192.0.2.1 port=2525 nomx "
	    "nexthop=smtp:[192.0.2.1]:2525" },
	{ "smtp:[192.0.2.1]:1", D,
	    "smtp host=192.0.2.1 port=1 nomx nexthop=smtp:[192.0.2.1]:1" },
	{ "smtp:[192.0.2.1]:065535", D, "smtp host=192.0.2.1 port=65535 "
	    "nomx nexthop=smtp:[192.0.2.1]:65535" },
	{ "smtp:[IPv6:2001:DB8:0::1]", D, "smtp host=2001:db8::1 port=25 "
	    "nomx nexthop=smtp:[IPv6:2001:db8::1]:25" },
	{ "smtp:[ipv6:2001:db8::1]:587", D, "smtp host=2001:db8::1 "
	    "port=587 nomx nexthop=smtp:[IPv6:2001:db8::1]:587" },
	{ "smtp:[2001:db8::1]", D, "smtp host=2001:db8::1 port=25 nomx "
	    "nexthop=smtp:[IPv6:2001:db8::1]:25" },
	{ "smtp:[::ffff:192.0.2.1]", D, "smtp host=192.0.2.1 port=25 nomx "
	    "nexthop=smtp:[192.0.2.1]:25" },
	{ "smtp:[Relay.Example.COM]", D, "smtp host=relay.example.com "
	    "port=25 nomx nexthop=smtp:[relay.example.com]:25" },
	{ "smtp:[relay.example.com.]:26", D, "smtp host=relay.example.com "
	    "port=26 nomx nexthop=smtp:[relay.example.com]:26" },
	/* smtp, MX */
	{ "smtp:Mail.Example.com", D, "smtp host=mail.example.com port=25 "
	    "mx nexthop=smtp:mail.example.com" },
	{ "smtp:mail.example.com:25", D, "smtp host=mail.example.com "
	    "port=25 mx nexthop=smtp:mail.example.com" },
	{ "smtp:mail.example.com:2525", D, "smtp host=mail.example.com "
	    "port=2525 mx nexthop=smtp:mail.example.com:2525" },
	{ "smtp:mail.example.com.", D, "smtp host=mail.example.com port=25 "
	    "mx nexthop=smtp:mail.example.com" },
	{ "smtp:mx_1.example", D,
	    "smtp host=mx_1.example port=25 mx nexthop=smtp:mx_1.example" },
	/* smtp with no destination: the recipient domain */
	{ "smtp:", D, "smtp host=example.org port=25 mx "
	    "nexthop=smtp:example.org" },
	{ "smtp", "Example.ORG", "smtp host=example.org port=25 mx "
	    "nexthop=smtp:example.org" },
	{ "smtp:", "[192.0.2.7]", "smtp host=192.0.2.7 port=25 nomx "
	    "nexthop=smtp:[192.0.2.7]:25" },
	{ "smtp:", "[IPv6:2001:db8::7]", "smtp host=2001:db8::7 port=25 "
	    "nomx nexthop=smtp:[IPv6:2001:db8::7]:25" },
	/* lmtp */
	{ "lmtp:unix:/run/dovecot/lmtp", D, "lmtp unix=/run/dovecot/lmtp "
	    "nexthop=lmtp:unix:/run/dovecot/lmtp" },
	{ "lmtp:[192.0.2.2]", D,
	    "lmtp host=192.0.2.2 port=24 nomx nexthop=lmtp:[192.0.2.2]:24" },
	{ "lmtp:[192.0.2.2]:2424", D, "lmtp host=192.0.2.2 port=2424 nomx "
	    "nexthop=lmtp:[192.0.2.2]:2424" },
	{ "lmtp:LMTP.example.com:24", D, "lmtp host=lmtp.example.com "
	    "port=24 nomx nexthop=lmtp:[lmtp.example.com]:24" },
	{ "lmtp:lmtp.example.com", NULL, "lmtp host=lmtp.example.com "
	    "port=24 nomx nexthop=lmtp:[lmtp.example.com]:24" },
	{ "lmtp:[IPv6:::1]:24", D,
	    "lmtp host=::1 port=24 nomx nexthop=lmtp:[IPv6:::1]:24" },
	/* maildir */
	{ "maildir:/var/mail/%d/%u", D, "maildir maildir=/var/mail/%d/%u "
	    "nexthop=maildir:/var/mail/%d/%u" },
	{ "maildir:/srv/100%%/%u/", NULL, "maildir maildir=/srv/100%%/%u/ "
	    "nexthop=maildir:/srv/100%%/%u/" },
	/* error */
	{ "error:no such user", D,
	    "error status=5.0.0 text=\"no such user\" nexthop=error" },
	{ "error:5.1.1 no such user", D,
	    "error status=5.1.1 text=\"no such user\" nexthop=error" },
	{ "error:5.7.1", D, "error status=5.7.1 text=\"\" nexthop=error" },
	{ "error:5.7.1  two", D,
	    "error status=5.7.1 text=\"two\" nexthop=error" },
	{ "error", D, "error status=5.0.0 text=\"\" nexthop=error" },
	{ "error:", D, "error status=5.0.0 text=\"\" nexthop=error" },
	{ "error:5.1 x", D, "error status=5.0.0 text=\"5.1 x\" nexthop=error" },
	{ "error:5.1.1x", D,
	    "error status=5.0.0 text=\"5.1.1x\" nexthop=error" },
	/* discard */
	{ "discard", D, "discard status=2.0.0 text=\"\" nexthop=discard" },
	{ "discard:", D, "discard status=2.0.0 text=\"\" nexthop=discard" },
	{ "discard:silently dropped", D,
	    "discard status=2.0.0 text=\"silently dropped\" nexthop=discard" },

	/* bad specs */
	{ "", D, "ERR bad transport \"\": empty" },
	{ "relay:[x]", D,
	    "ERR bad transport \"relay:[x]\": unknown transport \"relay\"" },
	{ "SMTP:[192.0.2.1]", D, "ERR bad transport \"SMTP:[192.0.2.1]\": "
	    "unknown transport \"SMTP\"" },
	{ ":x", D, "ERR bad transport \":x\": unknown transport \"\"" },
	{ "smtpx", D, "ERR bad transport \"smtpx\": unknown transport "
	    "\"smtpx\"" },
	{ "smtp:\001x", D,
	    "ERR bad transport \"smtp:\001x\": control character" },
	{ "error:bye\r\n", D,
	    "ERR bad transport \"error:bye\r\n\": control character" },
	{ "smtp:", NULL, "ERR bad transport \"smtp:\": no destination and "
	    "no recipient domain" },
	{ "smtp", "", "ERR bad transport \"smtp\": no destination and no "
	    "recipient domain" },
	{ "smtp:", "bad..domain", "ERR bad transport \"smtp:\": bad host "
	    "name \"bad..domain\"" },
	{ "smtp:[192.0.2.1", D,
	    "ERR bad transport \"smtp:[192.0.2.1\": missing \"]\"" },
	{ "smtp:[192.0.2.1]x", D, "ERR bad transport \"smtp:[192.0.2.1]x\": "
	    "text after \"]\": \"x\"" },
	{ "smtp:[192.0.2.1]:", D, "ERR bad transport \"smtp:[192.0.2.1]:\": "
	    "bad port \"\" (1-65535)" },
	{ "smtp:[192.0.2.1]:0", D, "ERR bad transport "
	    "\"smtp:[192.0.2.1]:0\": bad port \"0\" (1-65535)" },
	{ "smtp:[192.0.2.1]:65536", D, "ERR bad transport "
	    "\"smtp:[192.0.2.1]:65536\": bad port \"65536\" (1-65535)" },
	{ "smtp:[192.0.2.1]:99999999999999999999", D, "ERR bad transport "
	    "\"smtp:[192.0.2.1]:99999999999999999999\": bad port "
	    "\"99999999999999999999\" (1-65535)" },
	{ "smtp:[192.0.2.1]:+25", D, "ERR bad transport "
	    "\"smtp:[192.0.2.1]:+25\": bad port \"+25\" (1-65535)" },
	{ "smtp:[192.0.2.1]:smtp", D, "ERR bad transport "
	    "\"smtp:[192.0.2.1]:smtp\": bad port \"smtp\" (1-65535)" },
	{ "smtp:host.example:25:26", D, "ERR bad transport "
	    "\"smtp:host.example:25:26\": bad port \"25:26\" (1-65535)" },
	{ "smtp:[192.0.2.256]", D, "ERR bad transport \"smtp:[192.0.2.256]\": "
	    "bad address literal \"[192.0.2.256]\"" },
	{ "smtp:[IPv6:192.0.2.1]", D, "ERR bad transport "
	    "\"smtp:[IPv6:192.0.2.1]\": bad address literal "
	    "\"[IPv6:192.0.2.1]\"" },
	{ "smtp:[IPv6:zz::1]", D, "ERR bad transport \"smtp:[IPv6:zz::1]\": "
	    "bad address literal \"[IPv6:zz::1]\"" },
	{ "smtp:[]", D, "ERR bad transport \"smtp:[]\": no host" },
	{ "smtp:[]:25", D, "ERR bad transport \"smtp:[]:25\": no host" },
	{ "smtp::25", D, "ERR bad transport \"smtp::25\": no host" },
	{ "smtp:192.0.2.1", D, "ERR bad transport \"smtp:192.0.2.1\": "
	    "address \"192.0.2.1\" must be in brackets" },
	{ "smtp:192.0.2.1:25", D, "ERR bad transport \"smtp:192.0.2.1:25\": "
	    "address \"192.0.2.1\" must be in brackets" },
	{ "smtp:999.0.2.1", D, "ERR bad transport \"smtp:999.0.2.1\": "
	    "bad host name \"999.0.2.1\"" },
	{ "smtp:exa mple.com", D, "ERR bad transport \"smtp:exa mple.com\": "
	    "bad host name \"exa mple.com\"" },
	{ "smtp:-bad.example", D, "ERR bad transport \"smtp:-bad.example\": "
	    "bad host name \"-bad.example\"" },
	{ "smtp:[a..b]", D,
	    "ERR bad transport \"smtp:[a..b]\": bad host name \"a..b\"" },
	{ "lmtp", D, "ERR bad transport \"lmtp\": no destination" },
	{ "lmtp:", D, "ERR bad transport \"lmtp:\": no destination" },
	{ "lmtp:unix:run/lmtp", D, "ERR bad transport \"lmtp:unix:run/lmtp\": "
	    "unix socket path must be absolute" },
	{ "lmtp:unix:", D, "ERR bad transport \"lmtp:unix:\": unix socket "
	    "path must be absolute" },
	{ "lmtp:[192.0.2.2]:0", D, "ERR bad transport "
	    "\"lmtp:[192.0.2.2]:0\": bad port \"0\" (1-65535)" },
	{ "lmtp:inet:host:24", D, "ERR bad transport \"lmtp:inet:host:24\": "
	    "bad port \"host:24\" (1-65535)" },
	{ "maildir", D, "ERR bad transport \"maildir\": no path template" },
	{ "maildir:", D, "ERR bad transport \"maildir:\": no path template" },
	{ "maildir:var/mail", D, "ERR bad transport \"maildir:var/mail\": "
	    "path template must be absolute" },
	{ "maildir:/var/%x", D, "ERR bad transport \"maildir:/var/%x\": "
	    "\"%\" must be followed by \"u\", \"d\" or \"%\"" },
	{ "maildir:/var/mail/%", D, "ERR bad transport "
	    "\"maildir:/var/mail/%\": \"%\" must be followed by \"u\", "
	    "\"d\" or \"%\"" },
	{ "error:4.2.0 try later", D, "ERR bad transport "
	    "\"error:4.2.0 try later\": status must be 5.X.Y" },
	{ "error:2.0.0", D,
	    "ERR bad transport \"error:2.0.0\": status must be 5.X.Y" },
	{ 0 },
};

/* parsed - transport_parse as describe() or "ERR why" */
static const char *
parsed(const char *spec, const char *domain)
{
	struct transport t;
	const char *why = NULL;

	memset(&t, 0xa5, sizeof(t));	/* every field must be set */
	if (transport_parse(spec, domain, arena, &t, &why))
		return describe(&t);
	assert_non_null(why);
	return arena_printf(arena, "ERR %s", why);
}

/* test_parse - the table */
static void
test_parse(void **state)
{
	const struct parse_case *c;

	(void)state;
	for (c = parse_cases; c->spec != NULL; c++)
		assert_string_equal(parsed(c->spec, c->domain), c->want);
}

/* test_unix_path_max - sun_path holds 107 bytes and the NUL */
static void
test_unix_path_max(void **state)
{
	char path[120];

	(void)state;
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	assert_string_equal(parsed(arena_printf(arena, "lmtp:unix:%s", path),
	    NULL), arena_printf(arena, "lmtp unix=%s nexthop=lmtp:unix:%s",
	    path, path));
	path[107] = 'a';
	path[108] = '\0';
	assert_string_equal(parsed(arena_printf(arena, "lmtp:unix:%s", path),
	    NULL), arena_printf(arena, "ERR bad transport \"lmtp:unix:%s\": "
	    "unix socket path too long", path));
}

/* open_table - open spec or fail showing why */
static struct table *
open_table(const char *spec)
{
	char *err = NULL;
	struct table *t = table_open(spec, &err);

	if (t == NULL)
		fail_msg("%s: %s", spec, err);
	return t;
}

/* resolved - transport_resolve as describe() or "ERR why" */
static const char *
resolved(struct table *maps, const char *relayhost, const char *rcpt)
{
	struct transport_resolver res = { .maps = maps,
	    .relayhost = relayhost };
	struct transport t;
	const char *why = NULL;
	enum table_result r;

	memset(&t, 0, sizeof(t));
	r = transport_resolve(&res, rcpt, arena, &t, &why);
	if (r == TABLE_FOUND)
		return describe(&t);
	assert_int_equal(r, TABLE_ERROR);
	assert_non_null(why);
	return arena_printf(arena, "ERR %s", why);
}

/* the keys for User+Ext@Sub.Example.COM, in transport(5)'s order */
static const char *const order_keys[] = {
	"user+ext@sub.example.com", "user@sub.example.com",
	"sub.example.com", ".example.com", ".com", "*", NULL,
};

/* keys that look plausible but must never be tried */
static const char *const order_never[] = {
	".sub.example.com", "user+ext@", "user@", "user", "example.com",
	"com", "@sub.example.com", "ext@sub.example.com", NULL,
};

/* order_table - order_keys from index from on (value: the key), and
 * the decoys */
static struct table *
order_table(size_t from)
{
	struct buf b = { 0 };
	struct table *t;
	size_t i;

	buf_puts(&b, "inline:{ ");
	for (i = from; order_keys[i] != NULL; i++)
		buf_printf(&b, "{%s=error:5.1.1 %s}, ", order_keys[i],
		    order_keys[i]);
	for (i = 0; order_never[i] != NULL; i++)
		buf_printf(&b, "{%s=error:5.9.9 WRONG}, ", order_never[i]);
	buf_puts(&b, "}");
	t = open_table(buf_cstr(&b));
	buf_free(&b);
	return t;
}

/* test_resolve_order - each key wins over the ones after it */
static void
test_resolve_order(void **state)
{
	struct table *t;
	size_t from;

	(void)state;
	for (from = 0; order_keys[from] != NULL; from++) {
		t = order_table(from);
		assert_string_equal(resolved(t, "[relay.example]",
		    "User+Ext@Sub.Example.COM"), arena_printf(arena,
		    "error status=5.1.1 text=\"%s\" nexthop=error",
		    order_keys[from]));
		table_close(&t);
	}
	/* nothing left but the decoys: the relayhost, else the MX */
	t = order_table(from);
	assert_string_equal(resolved(t, "[relay.example]",
	    "User+Ext@Sub.Example.COM"), "smtp host=relay.example port=25 "
	    "nomx nexthop=smtp:[relay.example]:25");
	assert_string_equal(resolved(t, NULL, "User+Ext@Sub.Example.COM"),
	    "smtp host=sub.example.com port=25 mx "
	    "nexthop=smtp:sub.example.com");
	table_close(&t);
}

/* test_resolve_extension - only a '+' after the first byte splits */
static void
test_resolve_extension(void **state)
{
	struct table *t;

	(void)state;
	t = open_table("inline:{ {a@example.org=discard:a}, "
	    "{@example.org=error:WRONG}, {+a@example.org=discard:+a}, "
	    "{b@example.org=discard:b} }");
	assert_string_equal(resolved(t, NULL, "a+x+y@example.org"),
	    "discard status=2.0.0 text=\"a\" nexthop=discard");
	assert_string_equal(resolved(t, NULL, "+a@example.org"),
	    "discard status=2.0.0 text=\"+a\" nexthop=discard");
	assert_string_equal(resolved(t, NULL, "+b@example.org"),
	    "smtp host=example.org port=25 mx nexthop=smtp:example.org");
	assert_string_equal(resolved(t, NULL, "b-x@example.org"),
	    "smtp host=example.org port=25 mx nexthop=smtp:example.org");
	table_close(&t);
}

/* test_resolve_defaults - "*", relayhost, the MX of the domain */
static void
test_resolve_defaults(void **state)
{
	struct table *t, *wild;

	(void)state;
	t = open_table("inline:{ {example.com=lmtp:unix:/run/lmtp}, "
	    "{local.example=smtp:}, {.example.net=smtp:[192.0.2.5]} }");
	wild = open_table("inline:{ {*=smtp:[192.0.2.9]:2525} }");

	/* the table wins over relayhost */
	assert_string_equal(resolved(t, "[relay.example]", "a@Example.COM"),
	    "lmtp unix=/run/lmtp nexthop=lmtp:unix:/run/lmtp");
	assert_string_equal(resolved(t, "[relay.example]", "a@x.example.net"),
	    "smtp host=192.0.2.5 port=25 nomx nexthop=smtp:[192.0.2.5]:25");
	/* "smtp:" in the table: the recipient domain, not relayhost */
	assert_string_equal(resolved(t, "[relay.example]", "a@local.example"),
	    "smtp host=local.example port=25 mx nexthop=smtp:local.example");
	/* ".example.net" is for subdomains only */
	assert_string_equal(resolved(t, NULL, "a@example.net"),
	    "smtp host=example.net port=25 mx nexthop=smtp:example.net");
	/* "*" before relayhost */
	assert_string_equal(resolved(wild, "[relay.example]", "a@b.example"),
	    "smtp host=192.0.2.9 port=2525 nomx "
	    "nexthop=smtp:[192.0.2.9]:2525");

	/* relayhost forms */
	assert_string_equal(resolved(t, "[relay.example]:587", "a@b.example"),
	    "smtp host=relay.example port=587 nomx "
	    "nexthop=smtp:[relay.example]:587");
	assert_string_equal(resolved(NULL, "[Relay.Example]", "a@b.example"),
	    "smtp host=relay.example port=25 nomx "
	    "nexthop=smtp:[relay.example]:25");
	assert_string_equal(resolved(NULL, "relay.example", "a@b.example"),
	    "smtp host=relay.example port=25 mx nexthop=smtp:relay.example");
	assert_string_equal(resolved(NULL, "relay.example:2525",
	    "a@b.example"), "smtp host=relay.example port=2525 mx "
	    "nexthop=smtp:relay.example:2525");
	assert_string_equal(resolved(NULL, "[192.0.2.3]", "a@b.example"),
	    "smtp host=192.0.2.3 port=25 nomx nexthop=smtp:[192.0.2.3]:25");
	assert_string_equal(resolved(NULL, "[relay.example", "a@b.example"),
	    "ERR bad relayhost \"[relay.example\": missing \"]\"");
	assert_string_equal(resolved(NULL, "relay.example:0", "a@b.example"),
	    "ERR bad relayhost \"relay.example:0\": bad port \"0\" (1-65535)");

	/* no relayhost ("" is none): the recipient domain by MX */
	assert_string_equal(resolved(t, "", "a@B.Example"),
	    "smtp host=b.example port=25 mx nexthop=smtp:b.example");
	assert_string_equal(resolved(NULL, NULL, "a@b.example."),
	    "smtp host=b.example port=25 mx nexthop=smtp:b.example");
	/* an address literal has no parent domains and no MX */
	assert_string_equal(resolved(t, NULL, "a@[192.0.2.8]"),
	    "smtp host=192.0.2.8 port=25 nomx nexthop=smtp:[192.0.2.8]:25");
	assert_string_equal(resolved(NULL, NULL, "a@bad..domain"),
	    "ERR recipient \"a@bad..domain\": bad host name \"bad..domain\"");
	assert_string_equal(resolved(NULL, "[relay.example]", "user"),
	    "ERR recipient \"user\" has no domain");
	assert_string_equal(resolved(NULL, NULL, "user@"),
	    "ERR recipient \"user@\" has no domain");
	table_close(&t);
	table_close(&wild);
}

/* test_resolve_literal_keys - "[addr]" is a key, its pieces are not */
static void
test_resolve_literal_keys(void **state)
{
	struct table *t;

	(void)state;
	t = open_table("inline:{ {.2.8]=error:WRONG}, {.8]=error:WRONG} }");
	assert_string_equal(resolved(t, NULL, "a@[192.0.2.8]"),
	    "smtp host=192.0.2.8 port=25 nomx nexthop=smtp:[192.0.2.8]:25");
	table_close(&t);
	t = open_table("inline:{ {[192.0.2.8]=discard:lit} }");
	assert_string_equal(resolved(t, NULL, "a@[192.0.2.8]"),
	    "discard status=2.0.0 text=\"lit\" nexthop=discard");
	table_close(&t);
}

/* test_resolve_hash_error - a table that breaks answers TABLE_ERROR,
 * never "not found" (which would send the mail elsewhere) */
static void
test_resolve_hash_error(void **state)
{
	struct table *t;
	const char *spec;

	(void)state;
	testutil_replace(arena, tmpdir, "transport",
	    "example.org lmtp:[192.0.2.4]\n* smtp:[192.0.2.9]\n");
	spec = arena_printf(arena, "hash:%s/transport", tmpdir);
	t = open_table(spec);
	assert_string_equal(resolved(t, "[relay.example]", "a@Example.ORG"),
	    "lmtp host=192.0.2.4 port=24 nomx nexthop=lmtp:[192.0.2.4]:24");
	assert_string_equal(resolved(t, "[relay.example]", "a@other.example"),
	    "smtp host=192.0.2.9 port=25 nomx nexthop=smtp:[192.0.2.9]:25");

	testutil_replace(arena, tmpdir, "transport", "example.org\n");
	table_refresh_all();
	assert_string_equal(resolved(t, "[relay.example]", "a@example.org"),
	    arena_printf(arena, "ERR %s: lookup error for \"a@example.org\"",
	    spec));
	assert_string_equal(resolved(t, NULL, "a+b@Other.Example"),
	    arena_printf(arena, "ERR %s: lookup error for "
	    "\"a+b@other.example\"", spec));

	testutil_replace(arena, tmpdir, "transport", "example.org discard\n");
	table_refresh_all();
	assert_string_equal(resolved(t, NULL, "a@example.org"),
	    "discard status=2.0.0 text=\"\" nexthop=discard");
	table_close(&t);
}

/* test_resolve_bad_value - a found value that does not parse is an
 * error naming the key; later keys and defaults are not tried */
static void
test_resolve_bad_value(void **state)
{
	struct table *t;

	(void)state;
	t = open_table("inline:{ {example.org=smtp:[192.0.2.1]:0}, "
	    "{.example.org=bogus:x}, {*=discard} }");
	assert_string_equal(resolved(t, "[relay.example]", "a@example.org"),
	    arena_printf(arena, "ERR %s: key \"example.org\": bad transport "
	    "\"smtp:[192.0.2.1]:0\": bad port \"0\" (1-65535)",
	    table_spec(t)));
	assert_string_equal(resolved(t, NULL, "a@b.example.org"),
	    arena_printf(arena, "ERR %s: key \".example.org\": bad transport "
	    "\"bogus:x\": unknown transport \"bogus\"", table_spec(t)));
	assert_string_equal(resolved(t, NULL, "a@b.example"),
	    "discard status=2.0.0 text=\"\" nexthop=discard");
	table_close(&t);
}

/* test_resolve_pattern - a regexp table is asked once, whole address */
static void
test_resolve_pattern(void **state)
{
	struct table *t;

	(void)state;
	testutil_replace(arena, tmpdir, "re",
	    "/^example\\.org$/ error:WRONG domain\n"
	    "/^\\*$/ error:WRONG star\n"
	    "/^\\.org$/ error:WRONG parent\n"
	    "/^a@lmtp\\.example$/ lmtp:unix:/run/lmtp\n");
	t = open_table(arena_printf(arena, "regexp:%s/re", tmpdir));
	assert_string_equal(resolved(t, NULL, "a@example.org"),
	    "smtp host=example.org port=25 mx nexthop=smtp:example.org");
	assert_string_equal(resolved(t, NULL, "A@LMTP.example"),
	    "lmtp unix=/run/lmtp nexthop=lmtp:unix:/run/lmtp");
	table_close(&t);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unix_path_max, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resolve_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resolve_extension, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resolve_defaults, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resolve_literal_keys,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_hash_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resolve_bad_value, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resolve_pattern, setup,
		    teardown),
	};

	log_init("test_transport", true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
