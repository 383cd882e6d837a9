/*
 * test_smtp_parse.c - SMTP command grammar: verbs, MAIL and RCPT with
 * every ESMTP parameter and every error reply, xtext, EHLO/HELO, BDAT,
 * AUTH; tables of input and expected result or exact reply
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
#include "log.h"
#include "mailaddr.h"
#include "smtp_parse.h"
#include "testutil.h"

/* parsed address flags, short */
#define NUL_	MAILADDR_NULL
#define RT	MAILADDR_ROUTING
#define LIT	MAILADDR_LITERAL
#define QU	MAILADDR_QUOTED
#define ND	MAILADDR_NO_DOMAIN
#define SR	MAILADDR_SOURCE_ROUTE

/* extensions NOT offered in a row (0: all offered) */
#define NO_SIZE		(1u << 0)
#define NO_8BIT		(1u << 1)
#define NO_UTF8		(1u << 2)
#define NO_DSN		(1u << 3)
#define NO_CHUNK	(1u << 4)
#define NO_AUTH		(1u << 5)
#define NO_BINARY	(1u << 6)

/* the replies */
#define MAIL_SYN	"501 5.5.4 Syntax: MAIL FROM:<address>"
#define RCPT_SYN	"501 5.5.4 Syntax: RCPT TO:<address>"
#define BAD_FROM	"501 5.1.7 Bad sender address syntax"
#define BAD_TO		"501 5.1.3 Bad recipient address syntax"
#define UNICODE		"553 5.6.7 Must declare SMTPUTF8 to send " \
			"unicode address"
#define BAD_SIZE	"501 5.5.4 Bad message size syntax"
#define BAD_RET		"501 5.5.4 Bad RET parameter syntax"
#define BAD_ENVID	"501 5.5.4 Bad ENVID parameter syntax"
#define BAD_AUTH	"501 5.5.4 Bad AUTH parameter syntax"
#define BAD_UTF8P	"501 5.5.4 Bad SMTPUTF8 parameter syntax"
#define BAD_NOTIFY	"501 5.5.4 Bad NOTIFY parameter syntax"
#define BAD_ORCPT	"501 5.5.4 Bad ORCPT parameter syntax"
#define UNSUP		"555 5.5.4 Unsupported option: "
#define DUP(k)		"501 5.5.4 Duplicate " k " parameter"
#define HELO_SYN	"501 5.5.4 Syntax: HELO/EHLO hostname"
#define HELO_BAD	"501 5.5.2 Helo command rejected: Invalid name"
#define BDAT_SYN	"521 5.5.4 Syntax: BDAT count [LAST]"
#define AUTH_SYN	"501 5.5.4 Syntax: AUTH mechanism"
#define AUTH_B64	"501 5.5.2 Invalid base64 data in initial response"

#define A	"a@b.example"
#define FROM	"FROM:<" A ">"
#define TO	"TO:<" A ">"

static struct arena *arena;

/* setup - an arena per test */
static int
setup(void **state)
{
	(void)state;
	arena = arena_create();
	return 0;
}

/* teardown - free it */
static int
teardown(void **state)
{
	(void)state;
	arena_destroy(&arena);
	return 0;
}

/* offer_from - the offer of a row */
static struct smtp_offer
offer_from(unsigned off)
{
	struct smtp_offer o = {
		.size = !(off & NO_SIZE),
		.eightbitmime = !(off & NO_8BIT),
		.smtputf8 = !(off & NO_UTF8),
		.dsn = !(off & NO_DSN),
		.chunking = !(off & NO_CHUNK),
		.auth = !(off & NO_AUTH),
		.binarymime = !(off & NO_BINARY),
	};

	return o;
}

/* same - two strings (either may be NULL) are equal, else fail naming
 * the input and the field */
static void
same(const char *input, const char *field, const char *got,
    const char *want)
{
	if (got == NULL && want == NULL)
		return;
	if (got == NULL || want == NULL || strcmp(got, want) != 0)
		fail_msg("\"%s\": %s is \"%s\", want \"%s\"", input, field,
		    got ? got : "(null)", want ? want : "(null)");
}

/* same_num - two numbers are equal, else fail naming input and field */
static void
same_num(const char *input, const char *field, uint64_t got,
    uint64_t want)
{
	if (got != want)
		fail_msg("\"%s\": %s is %llu, want %llu", input, field,
		    (unsigned long long)got, (unsigned long long)want);
}

/* test_verb - splitting the verb from its arguments */
static void
test_verb(void **state)
{
	static const struct {
		const char *line;
		bool ok;
		const char *verb, *args;
	} rows[] = {
		{ "MAIL FROM:<>", true, "MAIL", "FROM:<>" },
		{ "quit", true, "QUIT", "" },
		{ "QUIT ", true, "QUIT", "" },
		{ "StartTLS", true, "STARTTLS", "" },
		{ "ehlo  x", true, "EHLO", " x" },
		{ "rcpt TO:<a@b> NOTIFY=NEVER", true, "RCPT",
		  "TO:<a@b> NOTIFY=NEVER" },
		{ "ABCDEFGHIJKLMNO x", true, "ABCDEFGHIJKLMNO", "x" },
		{ "ABCDEFGHIJKLMNOP", false, "", "" },
		{ "ABCDEFGHIJKLMNOP x", false, "", "" },
		{ "", false, "", "" },
		{ " MAIL", false, "", "" },
		{ "MA1L x", false, "", "" },
		{ "MAIL\tFROM:<>", false, "", "" },
		{ "MAIL:FROM", false, "", "" },
		{ "\x80" "AIL x", false, "", "" },
		{ "MAIL\r", false, "", "" },
	};
	const char *args;
	char verb[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(verb, 'x', sizeof(verb));
		args = NULL;
		if (smtp_parse_verb(rows[i].line, verb, &args) != rows[i].ok)
			fail_msg("\"%s\": want %s", rows[i].line,
			    rows[i].ok ? "true" : "false");
		same(rows[i].line, "verb", verb, rows[i].verb);
		same(rows[i].line, "args", args, rows[i].args);
	}
}

/* MAIL rows: reply NULL = accepted with these fields */
struct mail_row {
	const char *args;
	unsigned off;
	const char *reply;
	const char *addr, *full;
	unsigned flags;
	uint64_t size;
	enum message_body_type body;
	enum message_ret ret;
	const char *envid, *auth;
	bool utf8;
};

static const struct mail_row mail_rows[] = {
	/* paths */
	{ .args = "FROM:<>", .addr = "", .full = "", .flags = NUL_ },
	{ .args = "from:<>", .addr = "", .full = "", .flags = NUL_ },
	{ .args = FROM, .addr = A, .full = A },
	{ .args = "From:<User@Example.COM>", .addr = "User@Example.COM",
	  .full = "User@example.com" },
	{ .args = "FROM:<a@Example.COM.>", .addr = "a@Example.COM.",
	  .full = "a@example.com" },
	/* Postfix's leniency: one space after the colon */
	{ .args = "FROM: <" A ">", .addr = A, .full = A },
	{ .args = "FROM: <>", .addr = "", .full = "", .flags = NUL_ },
	/* a source route is dropped from addr too */
	{ .args = "FROM:<@r1.example,@r2.example:u@c.example>",
	  .addr = "u@c.example", .full = "u@c.example", .flags = RT | SR },
	{ .args = "FROM:<\"john doe\"@example.com> SIZE=100",
	  .addr = "\"john doe\"@example.com",
	  .full = "\"john doe\"@example.com", .flags = QU, .size = 100 },
	{ .args = "FROM:<\"a>b\"@example.com>", .addr = "\"a>b\"@example.com",
	  .full = "\"a>b\"@example.com", .flags = QU },
	{ .args = "FROM:<\"a\\\">b\"@example.com>",
	  .addr = "\"a\\\">b\"@example.com",
	  .full = "\"a\\\">b\"@example.com", .flags = QU },
	{ .args = "FROM:<a@[192.0.2.1]>", .addr = "a@[192.0.2.1]",
	  .full = "a@[192.0.2.1]", .flags = LIT },
	{ .args = "FROM:<a@[IPv6:2001:DB8::1]>", .addr = "a@[IPv6:2001:DB8::1]",
	  .full = "a@[IPv6:2001:db8::1]", .flags = LIT },
	{ .args = "FROM:<a%b@c.example>", .addr = "a%b@c.example",
	  .full = "a%b@c.example", .flags = RT },
	{ .args = "FROM:<" A ">", .off = NO_SIZE | NO_8BIT | NO_UTF8 |
	  NO_DSN | NO_CHUNK | NO_AUTH, .addr = A, .full = A },
	{ .args = "FROM:", .reply = MAIL_SYN },
	{ .args = "FROM: ", .reply = MAIL_SYN },
	{ .args = "", .reply = MAIL_SYN },
	{ .args = "FROM", .reply = MAIL_SYN },
	{ .args = "FROM<" A ">", .reply = MAIL_SYN },
	{ .args = "FROM :<" A ">", .reply = MAIL_SYN },
	{ .args = " FROM:<" A ">", .reply = MAIL_SYN },
	{ .args = "TO:<" A ">", .reply = MAIL_SYN },
	{ .args = "FROM:  <" A ">", .reply = BAD_FROM },
	{ .args = "FROM:" A, .reply = BAD_FROM },
	{ .args = "FROM:<" A, .reply = BAD_FROM },
	{ .args = "FROM:<" A ">x", .reply = BAD_FROM },
	{ .args = "FROM:<" A ">>", .reply = BAD_FROM },
	{ .args = "FROM:<<" A ">>", .reply = BAD_FROM },
	{ .args = "FROM:<user>", .reply = BAD_FROM },
	{ .args = "FROM:<postmaster>", .reply = BAD_FROM },
	{ .args = "FROM:<a@b..example>", .reply = BAD_FROM },
	{ .args = "FROM:<a b@example.com>", .reply = BAD_FROM },
	{ .args = "FROM:<\"a@example.com>", .reply = BAD_FROM },
	{ .args = "FROM:<a@[192.0.2.256]>", .reply = BAD_FROM },
	{ .args = "FROM:<@:a@b.example>", .reply = BAD_FROM },
	/* an address error is reported before a parameter error */
	{ .args = "FROM:<user> SIZE=x", .reply = BAD_FROM },
	/* control bytes anywhere */
	{ .args = "FROM:<a\x01@b.example>", .reply = MAIL_SYN },
	{ .args = FROM "\t", .reply = MAIL_SYN },
	{ .args = FROM " SIZE=1\r", .reply = MAIL_SYN },
	{ .args = FROM " ENVID=a\x7f", .reply = MAIL_SYN },
	{ .args = "FROM:<a@b.example\n>", .reply = MAIL_SYN },
	/* the esmtp-param grammar */
	{ .args = FROM " ", .reply = MAIL_SYN },
	{ .args = FROM "  SIZE=1", .reply = MAIL_SYN },
	{ .args = FROM " SIZE=1 ", .reply = MAIL_SYN },
	{ .args = FROM " SIZE=1  BODY=7BIT", .reply = MAIL_SYN },
	{ .args = FROM " =1", .reply = MAIL_SYN },
	{ .args = FROM " -X=1", .reply = MAIL_SYN },
	{ .args = FROM " X_Y=1", .reply = MAIL_SYN },
	{ .args = FROM " SIZE=", .reply = MAIL_SYN },
	{ .args = FROM " SIZE==1", .reply = MAIL_SYN },
	{ .args = FROM " ENVID=a=b", .reply = MAIL_SYN },
	{ .args = FROM " ENVID=\xc3\xa9", .reply = MAIL_SYN },
	/* unknown parameters, and those of extensions not offered */
	{ .args = FROM " X-FOO=bar", .reply = UNSUP "X-FOO=bar" },
	{ .args = FROM " XFOO", .reply = UNSUP "XFOO" },
	{ .args = FROM " 8BITMIME", .reply = UNSUP "8BITMIME" },
	{ .args = FROM " NOTIFY=NEVER", .reply = UNSUP "NOTIFY=NEVER" },
	{ .args = FROM " SIZEX=1", .reply = UNSUP "SIZEX=1" },
	{ .args = FROM " SIZE=10", .off = NO_SIZE, .reply = UNSUP "SIZE=10" },
	{ .args = FROM " BODY=8BITMIME", .off = NO_8BIT,
	  .reply = UNSUP "BODY=8BITMIME" },
	{ .args = FROM " BODY=7BIT", .off = NO_8BIT,
	  .reply = UNSUP "BODY=7BIT" },
	{ .args = FROM " SMTPUTF8", .off = NO_UTF8, .reply = UNSUP "SMTPUTF8" },
	{ .args = FROM " RET=FULL", .off = NO_DSN, .reply = UNSUP "RET=FULL" },
	{ .args = FROM " ENVID=x", .off = NO_DSN, .reply = UNSUP "ENVID=x" },
	{ .args = FROM " AUTH=<>", .off = NO_AUTH, .reply = UNSUP "AUTH=<>" },
	/* SIZE (RFC 1870) */
	{ .args = FROM " SIZE=0", .addr = A, .full = A, .size = 0 },
	{ .args = FROM " size=1048576", .addr = A, .full = A,
	  .size = 1048576 },
	{ .args = FROM " SIZE=00000000000000000012", .addr = A, .full = A,
	  .size = 12 },
	{ .args = FROM " SIZE=18446744073709551615", .addr = A, .full = A,
	  .size = UINT64_MAX },
	/* 20 digits beyond 64 bits: kept as the largest size */
	{ .args = FROM " SIZE=18446744073709551616", .addr = A, .full = A,
	  .size = UINT64_MAX },
	{ .args = FROM " SIZE=99999999999999999999", .addr = A, .full = A,
	  .size = UINT64_MAX },
	{ .args = FROM " SIZE=000000000000000000001", .reply = BAD_SIZE },
	{ .args = FROM " SIZE=12x", .reply = BAD_SIZE },
	{ .args = FROM " SIZE=-1", .reply = BAD_SIZE },
	{ .args = FROM " SIZE=+1", .reply = BAD_SIZE },
	{ .args = FROM " SIZE=0x10", .reply = BAD_SIZE },
	{ .args = FROM " SIZE", .reply = BAD_SIZE },
	{ .args = FROM " SIZE=1 SIZE=2", .reply = DUP("SIZE") },
	{ .args = FROM " size=1 SIZE=1", .reply = DUP("SIZE") },
	/* BODY (RFC 6152, RFC 3030) */
	{ .args = FROM " BODY=7BIT", .addr = A, .full = A,
	  .body = MESSAGE_BODY_7BIT },
	{ .args = FROM " BODY=8BITMIME", .addr = A, .full = A,
	  .body = MESSAGE_BODY_8BITMIME },
	{ .args = FROM " bOdY=8bitmime", .addr = A, .full = A,
	  .body = MESSAGE_BODY_8BITMIME },
	{ .args = FROM " BODY=BINARYMIME", .addr = A, .full = A,
	  .body = MESSAGE_BODY_BINARYMIME },
	{ .args = FROM " BODY=BINARYMIME", .off = NO_CHUNK,
	  .reply = UNSUP "BODY=BINARYMIME" },
	{ .args = FROM " BODY=BINARYMIME", .off = NO_BINARY,
	  .reply = UNSUP "BODY=BINARYMIME" },
	{ .args = FROM " BODY=9BIT", .reply = UNSUP "BODY=9BIT" },
	{ .args = FROM " BODY", .reply = UNSUP "BODY" },
	{ .args = FROM " BODY=7BIT BODY=8BITMIME", .reply = DUP("BODY") },
	/* SMTPUTF8 (RFC 6531) */
	{ .args = FROM " SMTPUTF8", .addr = A, .full = A, .utf8 = true },
	{ .args = FROM " smtputf8", .addr = A, .full = A, .utf8 = true },
	{ .args = "FROM:<j\xc3\xb6rg@ex\xc3\xa4mple.de> SMTPUTF8",
	  .addr = "j\xc3\xb6rg@ex\xc3\xa4mple.de",
	  .full = "j\xc3\xb6rg@ex\xc3\xa4mple.de", .utf8 = true },
	{ .args = "FROM:<\xe2\x82\xac@b.example> SIZE=5 SMTPUTF8",
	  .addr = "\xe2\x82\xac@b.example", .full = "\xe2\x82\xac@b.example",
	  .utf8 = true, .size = 5 },
	{ .args = "FROM:<j\xc3\xb6rg@example.de>", .reply = UNICODE },
	{ .args = "FROM:<jorg@ex\xc3\xa4mple.de> SIZE=1", .reply = UNICODE },
	{ .args = "FROM:<j\xc3\xb6rg@example.de> SMTPUTF8", .off = NO_UTF8,
	  .reply = UNSUP "SMTPUTF8" },
	/* malformed UTF-8 is bad syntax, declared or not */
	{ .args = "FROM:<j\xc3@example.de> SMTPUTF8", .reply = BAD_FROM },
	{ .args = "FROM:<j\xc0\xaf@example.de> SMTPUTF8", .reply = BAD_FROM },
	{ .args = "FROM:<j\xed\xa0\x80@example.de> SMTPUTF8",
	  .reply = BAD_FROM },
	{ .args = "FROM:<j\xf4\x90\x80\x80@example.de> SMTPUTF8",
	  .reply = BAD_FROM },
	{ .args = "FROM:<j\xff@example.de>", .reply = BAD_FROM },
	{ .args = FROM " SMTPUTF8=YES", .reply = BAD_UTF8P },
	{ .args = FROM " SMTPUTF8 SMTPUTF8", .reply = DUP("SMTPUTF8") },
	/* RET, ENVID (RFC 3461) */
	{ .args = FROM " RET=FULL", .addr = A, .full = A,
	  .ret = MESSAGE_RET_FULL },
	{ .args = FROM " ret=hdrs", .addr = A, .full = A,
	  .ret = MESSAGE_RET_HDRS },
	{ .args = FROM " RET=NONE", .reply = BAD_RET },
	{ .args = FROM " RET=FULLY", .reply = BAD_RET },
	{ .args = FROM " RET", .reply = BAD_RET },
	{ .args = FROM " RET=FULL RET=HDRS", .reply = DUP("RET") },
	{ .args = FROM " ENVID=QQ314159", .addr = A, .full = A,
	  .envid = "QQ314159" },
	{ .args = FROM " ENVID=a+2Bb+3Dc+20d", .addr = A, .full = A,
	  .envid = "a+b=c d" },
	{ .args = FROM " ENVID=a+2", .reply = BAD_ENVID },
	{ .args = FROM " ENVID=+", .reply = BAD_ENVID },
	{ .args = FROM " ENVID=+ZZ", .reply = BAD_ENVID },
	{ .args = FROM " ENVID=+2b", .reply = BAD_ENVID },
	{ .args = FROM " ENVID=a+0D+0Ab", .reply = BAD_ENVID },
	{ .args = FROM " ENVID=+00", .reply = BAD_ENVID },
	{ .args = FROM " ENVID", .reply = BAD_ENVID },
	{ .args = FROM " ENVID=a ENVID=b", .reply = DUP("ENVID") },
	/* AUTH= (RFC 4954 §5) */
	{ .args = FROM " AUTH=<>", .addr = A, .full = A, .auth = "<>" },
	{ .args = FROM " auth=u+2Bx@example.com", .addr = A, .full = A,
	  .auth = "u+x@example.com" },
	{ .args = FROM " AUTH=+ZZ", .reply = BAD_AUTH },
	{ .args = FROM " AUTH=a+2", .reply = BAD_AUTH },
	{ .args = FROM " AUTH", .reply = BAD_AUTH },
	{ .args = FROM " AUTH=<> AUTH=<>", .reply = DUP("AUTH") },
	/* everything at once, in any order */
	{ .args = "FROM:<> AUTH=<> SMTPUTF8 RET=HDRS ENVID=x+2By "
	  "BODY=8BITMIME SIZE=1000", .addr = "", .full = "", .flags = NUL_,
	  .size = 1000, .body = MESSAGE_BODY_8BITMIME,
	  .ret = MESSAGE_RET_HDRS, .envid = "x+y", .utf8 = true,
	  .auth = "<>" },
	/* the first bad parameter answers */
	{ .args = FROM " SIZE=x RET=y", .reply = BAD_SIZE },
	{ .args = FROM " RET=y SIZE=x", .reply = BAD_RET },
	{ .args = FROM " X=1 SIZE=x", .reply = UNSUP "X=1" },
};

/* check_mail - one MAIL row */
static void
check_mail(const struct mail_row *row)
{
	struct smtp_offer offer = offer_from(row->off);
	struct smtp_mail m;
	const char *reply = NULL;
	bool ok;

	memset(&m, 0x5a, sizeof(m));
	ok = smtp_parse_mail(row->args, &offer, arena, &m, &reply);
	if (row->reply != NULL) {
		if (ok)
			fail_msg("\"%s\": accepted, want \"%s\"", row->args,
			    row->reply);
		same(row->args, "reply", reply, row->reply);
		return;
	}
	if (!ok)
		fail_msg("\"%s\": refused with \"%s\"", row->args, reply);
	same(row->args, "addr", m.addr, row->addr);
	same(row->args, "parsed.full", m.parsed.full, row->full);
	same_num(row->args, "flags", m.parsed.flags, row->flags);
	same_num(row->args, "size", m.size, row->size);
	same_num(row->args, "body", m.body, row->body);
	same_num(row->args, "ret", m.ret, row->ret);
	same(row->args, "envid", m.envid, row->envid);
	same(row->args, "auth", m.auth, row->auth);
	same_num(row->args, "smtputf8", m.smtputf8, row->utf8);
}

/* test_mail - the MAIL table */
static void
test_mail(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(mail_rows) / sizeof(mail_rows[0]); i++)
		check_mail(&mail_rows[i]);
}

/* test_mail_limits - lengths that need building: ENVID 100, path 256,
 * the echo of an unknown parameter cut at 100 bytes */
static void
test_mail_limits(void **state)
{
	struct mail_row row = { .addr = A, .full = A };
	char value[160], local[300];

	(void)state;
	memset(value, 'e', 100);
	value[100] = '\0';
	row.envid = value;
	row.args = arena_printf(arena, FROM " ENVID=%s", value);
	check_mail(&row);

	memset(value, 'e', 101);
	value[101] = '\0';
	row = (struct mail_row){ .reply = BAD_ENVID };
	row.args = arena_printf(arena, FROM " ENVID=%s", value);
	check_mail(&row);

	/* 254 bytes of path with the brackets fit, 257 do not */
	memset(local, 'l', 240);
	local[240] = '\0';
	row = (struct mail_row){ .full = NULL };
	row.addr = row.full = arena_printf(arena, "%s@example.com", local);
	row.args = arena_printf(arena, "FROM:<%s>", row.addr);
	check_mail(&row);
	memset(local, 'l', 243);
	local[243] = '\0';
	row = (struct mail_row){ .reply = BAD_FROM };
	row.args = arena_printf(arena, "FROM:<%s@example.com>", local);
	check_mail(&row);

	memset(value, 'X', 150);
	value[150] = '\0';
	row = (struct mail_row){ .reply = NULL };
	row.args = arena_printf(arena, FROM " %s=1", value);
	row.reply = arena_printf(arena, UNSUP "%.100s", value);
	check_mail(&row);
}

/* RCPT rows: reply NULL = accepted with these fields */
struct rcpt_row {
	const char *args;
	unsigned off;
	bool utf8;		/* SMTPUTF8 given on MAIL */
	const char *reply;
	const char *addr, *full;
	unsigned flags;
	unsigned notify;
	const char *orcpt;
};

#define N_NEVER		MESSAGE_NOTIFY_NEVER
#define N_SUCCESS	MESSAGE_NOTIFY_SUCCESS
#define N_FAILURE	MESSAGE_NOTIFY_FAILURE
#define N_DELAY		MESSAGE_NOTIFY_DELAY

static const struct rcpt_row rcpt_rows[] = {
	{ .args = TO, .addr = A, .full = A },
	{ .args = "to: <User@Example.COM>", .addr = "User@Example.COM",
	  .full = "User@example.com" },
	{ .args = "TO:<postmaster>", .addr = "postmaster",
	  .full = "postmaster", .flags = ND },
	{ .args = "TO:<Postmaster>", .addr = "Postmaster",
	  .full = "Postmaster", .flags = ND },
	{ .args = "TO:<POSTMASTER> NOTIFY=NEVER", .addr = "POSTMASTER",
	  .full = "POSTMASTER", .flags = ND, .notify = N_NEVER },
	{ .args = "TO:<Postmaster@Example.com>",
	  .addr = "Postmaster@Example.com", .full = "Postmaster@example.com" },
	{ .args = "TO:<@a.example:u@b.example>", .addr = "u@b.example",
	  .full = "u@b.example", .flags = RT | SR },
	{ .args = "TO:<user%other.example@ours.example>",
	  .addr = "user%other.example@ours.example",
	  .full = "user%other.example@ours.example", .flags = RT },
	{ .args = "TO:<\"u@other.example\"@ours.example>",
	  .addr = "\"u@other.example\"@ours.example",
	  .full = "\"u@other.example\"@ours.example", .flags = RT | QU },
	{ .args = "TO:<j\xc3\xb6rg@example.de>", .utf8 = true,
	  .addr = "j\xc3\xb6rg@example.de", .full = "j\xc3\xb6rg@example.de" },
	{ .args = "TO:<j\xc3\xb6rg@example.de>", .reply = UNICODE },
	{ .args = "TO:<j\xc3@example.de>", .utf8 = true, .reply = BAD_TO },
	{ .args = "", .reply = RCPT_SYN },
	{ .args = "TO", .reply = RCPT_SYN },
	{ .args = "TO:", .reply = RCPT_SYN },
	{ .args = "FROM:<" A ">", .reply = RCPT_SYN },
	{ .args = TO "\r", .reply = RCPT_SYN },
	{ .args = TO " ", .reply = RCPT_SYN },
	{ .args = TO " NOTIFY=NEVER ", .reply = RCPT_SYN },
	{ .args = TO " =x", .reply = RCPT_SYN },
	{ .args = "TO:<>", .reply = BAD_TO },
	{ .args = "TO:<user>", .reply = BAD_TO },
	{ .args = "TO:<\"postmaster\">", .reply = BAD_TO },
	{ .args = "TO:<@a.example:postmaster>", .reply = BAD_TO },
	{ .args = "TO:<host!user>", .reply = BAD_TO },
	{ .args = "TO:" A, .reply = BAD_TO },
	{ .args = "TO:<" A, .reply = BAD_TO },
	{ .args = "TO:<a@b.example.>.", .reply = BAD_TO },
	/* NOTIFY (RFC 3461 §4.1) */
	{ .args = TO " NOTIFY=NEVER", .addr = A, .full = A, .notify = N_NEVER },
	{ .args = TO " NOTIFY=SUCCESS", .addr = A, .full = A,
	  .notify = N_SUCCESS },
	{ .args = TO " notify=failure,Delay", .addr = A, .full = A,
	  .notify = N_FAILURE | N_DELAY },
	{ .args = TO " NOTIFY=SUCCESS,FAILURE,DELAY", .addr = A, .full = A,
	  .notify = N_SUCCESS | N_FAILURE | N_DELAY },
	{ .args = TO " NOTIFY=DELAY,DELAY", .addr = A, .full = A,
	  .notify = N_DELAY },
	{ .args = TO " NOTIFY=NEVER,SUCCESS", .reply = BAD_NOTIFY },
	{ .args = TO " NOTIFY=FAILURE,NEVER", .reply = BAD_NOTIFY },
	{ .args = TO " NOTIFY=NEVER,NEVER", .addr = A, .full = A,
	  .notify = N_NEVER },
	{ .args = TO " NOTIFY=SUCCESS,,DELAY", .reply = BAD_NOTIFY },
	{ .args = TO " NOTIFY=SUCCESS,", .reply = BAD_NOTIFY },
	{ .args = TO " NOTIFY=,SUCCESS", .reply = BAD_NOTIFY },
	{ .args = TO " NOTIFY=NEVERMORE", .reply = BAD_NOTIFY },
	{ .args = TO " NOTIFY=SUCCESS;DELAY", .reply = BAD_NOTIFY },
	{ .args = TO " NOTIFY", .reply = BAD_NOTIFY },
	{ .args = TO " NOTIFY=NEVER NOTIFY=NEVER", .reply = DUP("NOTIFY") },
	/* ORCPT (RFC 3461 §4.2) */
	{ .args = TO " ORCPT=rfc822;" A, .addr = A, .full = A,
	  .orcpt = "rfc822;" A },
	{ .args = TO " ORCPT=rfc822;u+2Bx+3Dy@example.com", .addr = A,
	  .full = A, .orcpt = "rfc822;u+x=y@example.com" },
	{ .args = TO " ORCPT=RFC822;a+20b", .addr = A, .full = A,
	  .orcpt = "RFC822;a b" },
	{ .args = TO " ORCPT=utf-8;u\\x{E9}@example.com", .addr = A,
	  .full = A, .orcpt = "utf-8;u\\x{E9}@example.com" },
	{ .args = TO " ORCPT=rfc822;", .addr = A, .full = A,
	  .orcpt = "rfc822;" },
	{ .args = TO " ORCPT=rfc822;a;b", .addr = A, .full = A,
	  .orcpt = "rfc822;a;b" },
	{ .args = TO " ORCPT=rfc822", .reply = BAD_ORCPT },
	{ .args = TO " ORCPT=;" A, .reply = BAD_ORCPT },
	{ .args = TO " ORCPT=rfc.822;" A, .reply = BAD_ORCPT },
	{ .args = TO " ORCPT=rfc(822);" A, .reply = BAD_ORCPT },
	{ .args = TO " ORCPT=rfc822;a+2", .reply = BAD_ORCPT },
	{ .args = TO " ORCPT=rfc822;a+ZZ", .reply = BAD_ORCPT },
	{ .args = TO " ORCPT=rfc822;a+2b", .reply = BAD_ORCPT },
	{ .args = TO " ORCPT=rfc822;a+0A", .reply = BAD_ORCPT },
	{ .args = TO " ORCPT", .reply = BAD_ORCPT },
	{ .args = TO " ORCPT=rfc822;a ORCPT=rfc822;b", .reply = DUP("ORCPT") },
	{ .args = TO " NOTIFY=SUCCESS,DELAY ORCPT=rfc822;" A, .addr = A,
	  .full = A, .notify = N_SUCCESS | N_DELAY, .orcpt = "rfc822;" A },
	{ .args = TO " ORCPT=rfc822;" A " NOTIFY=FAILURE", .addr = A,
	  .full = A, .notify = N_FAILURE, .orcpt = "rfc822;" A },
	/* not offered, or not RCPT's */
	{ .args = TO " NOTIFY=NEVER", .off = NO_DSN,
	  .reply = UNSUP "NOTIFY=NEVER" },
	{ .args = TO " ORCPT=rfc822;" A, .off = NO_DSN,
	  .reply = UNSUP "ORCPT=rfc822;" A },
	{ .args = TO " SIZE=1", .reply = UNSUP "SIZE=1" },
	{ .args = TO " SMTPUTF8", .reply = UNSUP "SMTPUTF8" },
	{ .args = TO " X-FOO", .reply = UNSUP "X-FOO" },
};

/* check_rcpt - one RCPT row */
static void
check_rcpt(const struct rcpt_row *row)
{
	struct smtp_offer offer = offer_from(row->off);
	struct smtp_rcpt r;
	const char *reply = NULL;
	bool ok;

	memset(&r, 0x5a, sizeof(r));
	ok = smtp_parse_rcpt(row->args, &offer, row->utf8, arena, &r, &reply);
	if (row->reply != NULL) {
		if (ok)
			fail_msg("\"%s\": accepted, want \"%s\"", row->args,
			    row->reply);
		same(row->args, "reply", reply, row->reply);
		return;
	}
	if (!ok)
		fail_msg("\"%s\": refused with \"%s\"", row->args, reply);
	same(row->args, "addr", r.addr, row->addr);
	same(row->args, "parsed.full", r.parsed.full, row->full);
	same_num(row->args, "flags", r.parsed.flags, row->flags);
	same_num(row->args, "notify", r.notify, row->notify);
	same(row->args, "orcpt", r.orcpt, row->orcpt);
}

/* test_rcpt - the RCPT table */
static void
test_rcpt(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rcpt_rows) / sizeof(rcpt_rows[0]); i++)
		check_rcpt(&rcpt_rows[i]);
}

/* test_rcpt_orcpt_limit - 500 characters of ORCPT value, not 501 */
static void
test_rcpt_orcpt_limit(void **state)
{
	struct rcpt_row row = { .addr = A, .full = A };
	char value[520];

	(void)state;
	memcpy(value, "rfc822;", 7);
	memset(value + 7, 'o', 493);
	value[500] = '\0';
	row.orcpt = value;
	row.args = arena_printf(arena, TO " ORCPT=%s", value);
	check_rcpt(&row);
	value[500] = 'o';
	value[501] = '\0';
	row = (struct rcpt_row){ .reply = BAD_ORCPT };
	row.args = arena_printf(arena, TO " ORCPT=%s", value);
	check_rcpt(&row);
}

/* test_xtext - encode/decode pairs, round trips, malformed xtext */
static void
test_xtext(void **state)
{
	static const struct {
		const char *plain, *xtext;
	} pairs[] = {
		{ "", "" },
		{ "abc", "abc" },
		{ "a+b", "a+2Bb" },
		{ "a=b", "a+3Db" },
		{ "a b", "a+20b" },
		{ "\t", "+09" },
		{ "user@example.com", "user@example.com" },
		{ "<>", "<>" },
		{ "!~\"\\", "!~\"\\" },
		{ "++==", "+2B+2B+3D+3D" },
	};
	static const char *const malformed[] = {
		"+", "+2", "a+2", "+ZZ", "+2b", "+2g", "+g2", "+-1", "a=b",
		"a b", "+00", "+0D+0A", "+1F", "+7F", "+80", "+FF", "\x80",
		"\x01", "\t", "a\x7f",
	};
	static const struct {
		const char *plain, *xtext;
	} one_way[] = {
		/* escapes that need not be escapes decode all the same */
		{ "A", "+41" },
		{ "a.b", "a+2Eb" },
	};
	char all[100], *p;
	const char *enc;
	size_t i;
	int c;

	(void)state;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		same(pairs[i].plain, "encoded",
		    smtp_xtext_encode(pairs[i].plain, arena), pairs[i].xtext);
		same(pairs[i].xtext, "decoded",
		    smtp_xtext_decode(pairs[i].xtext, arena), pairs[i].plain);
	}
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		same(malformed[i], "decoded",
		    smtp_xtext_decode(malformed[i], arena), NULL);
	for (i = 0; i < sizeof(one_way) / sizeof(one_way[0]); i++)
		same(one_way[i].xtext, "decoded",
		    smtp_xtext_decode(one_way[i].xtext, arena),
		    one_way[i].plain);

	/* every printable byte (and TAB) survives a round trip */
	p = all;
	*p++ = '\t';
	for (c = ' '; c <= '~'; c++)
		*p++ = (char)c;
	*p = '\0';
	enc = smtp_xtext_encode(all, arena);
	for (p = (char *)enc; *p != '\0'; p++)
		assert_true(*p > ' ' && *p <= '~' && *p != '=');
	same("all printable", "round trip", smtp_xtext_decode(enc, arena),
	    all);

	/* control and 8-bit bytes are encoded, but RFC 3461 xtext must
	 * decode to printable ASCII, so they do not come back */
	same("CR LF", "encoded", smtp_xtext_encode("a\r\nb", arena),
	    "a+0D+0Ab");
	same("UTF-8", "encoded", smtp_xtext_encode("\xc3\xa9", arena),
	    "+C3+A9");
	assert_null(smtp_xtext_decode("+C3+A9", arena));
}

/* test_helo - EHLO/HELO arguments */
static void
test_helo(void **state)
{
	static const struct {
		const char *args, *reply;
	} rows[] = {
		{ "mx.example.com", NULL },
		{ "MX.Example.COM.", NULL },
		{ "localhost", NULL },
		{ "my_host.example", NULL },
		{ "a-b.c-d.example", NULL },
		{ "1host.example", NULL },
		/* digits and dots are a Domain by the grammar */
		{ "192.0.2.1", NULL },
		{ "[192.0.2.1]", NULL },
		{ "[IPv6:2001:db8::1]", NULL },
		{ "[ipv6:::1]", NULL },
		{ "[IPv6:::ffff:192.0.2.1]", NULL },
		{ "", HELO_SYN },
		{ " mx.example", HELO_BAD },
		{ "mx.example ", HELO_BAD },
		{ "mx.example extra", HELO_BAD },
		{ "mx..example", HELO_BAD },
		{ ".mx.example", HELO_BAD },
		{ "mx.example..", HELO_BAD },
		{ ".", HELO_BAD },
		{ "-mx.example", HELO_BAD },
		{ "mx-.example", HELO_BAD },
		{ "mx.-example", HELO_BAD },
		{ "mx!.example", HELO_BAD },
		{ "mx\x01.example", HELO_BAD },
		{ "mx.example\r", HELO_BAD },
		{ "ex\xc3\xa4mple.de", HELO_BAD },
		{ "[192.0.2.256]", HELO_BAD },
		{ "[192.0.2.1", HELO_BAD },
		{ "192.0.2.1]", HELO_BAD },
		{ "[192.0.2.1].", HELO_BAD },
		{ "[192.0.2.1]x", HELO_BAD },
		{ "[010.0.2.1]", HELO_BAD },
		{ "[2001:db8::1]", HELO_BAD },
		{ "[IPv6:zz::1]", HELO_BAD },
		{ "[IPv6:192.0.2.1]", HELO_BAD },
		{ "[tag:value]", HELO_BAD },
		{ "[]", HELO_BAD },
	};
	const char *got, *reply;
	char label[80], *name;
	size_t i;
	bool ok;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		got = reply = NULL;
		ok = smtp_parse_helo(rows[i].args, arena, &got, &reply);
		if (ok != (rows[i].reply == NULL))
			fail_msg("\"%s\": %s", rows[i].args,
			    ok ? "accepted" : reply);
		same(rows[i].args, "name", got,
		    rows[i].reply ? NULL : rows[i].args);
		if (!ok)
			same(rows[i].args, "reply", reply, rows[i].reply);
	}

	/* labels up to 63, names up to 255 (and then a trailing dot) */
	memset(label, 'l', 63);
	label[63] = '\0';
	assert_true(smtp_parse_helo(arena_printf(arena, "%s.example", label),
	    arena, &got, &reply));
	assert_false(smtp_parse_helo(arena_printf(arena, "%sl.example",
	    label), arena, &got, &reply));
	assert_string_equal(reply, HELO_BAD);
	name = arena_printf(arena, "%s.%s.%s.%s", label, label, label, label);
	assert_int_equal(strlen(name), 255);
	assert_true(smtp_parse_helo(name, arena, &got, &reply));
	assert_true(smtp_parse_helo(arena_printf(arena, "%s.", name), arena,
	    &got, &reply));
	assert_false(smtp_parse_helo(arena_printf(arena, "x%s", name), arena,
	    &got, &reply));
	assert_false(smtp_parse_helo(arena_printf(arena, "x.%s", name),
	    arena, &got, &reply));
}

/* test_bdat - chunk sizes and LAST */
static void
test_bdat(void **state)
{
	static const struct {
		const char *args;
		bool ok;
		uint64_t size;
		bool last;
	} rows[] = {
		{ "0", true, 0, false },
		{ "0 LAST", true, 0, true },
		{ "1024", true, 1024, false },
		{ "1024 LAST", true, 1024, true },
		{ "1024 last", true, 1024, true },
		{ "1024 LaSt", true, 1024, true },
		{ "000000000000000000000000000000042", true, 42, false },
		/* UINT64_MAX / 2 and one more */
		{ "9223372036854775807", true, UINT64_MAX / 2, false },
		{ "9223372036854775808", false, 0, false },
		{ "18446744073709551615", false, 0, false },
		{ "18446744073709551616", false, 0, false },
		/* ten times the limit must not wrap around */
		{ "92233720368547758070", false, 0, false },
		{ "184467440737095516160", false, 0, false },
		{ "99999999999999999999999999", false, 0, false },
		{ "", false, 0, false },
		{ " 1", false, 0, false },
		{ "1 ", false, 0, false },
		{ "1  LAST", false, 0, false },
		{ "1 LAST ", false, 0, false },
		{ "1 LASTX", false, 0, false },
		{ "1 LAS", false, 0, false },
		{ "1 FIRST", false, 0, false },
		{ "1 LAST LAST", false, 0, false },
		{ "1\tLAST", false, 0, false },
		{ "-1", false, 0, false },
		{ "+1", false, 0, false },
		{ "1x", false, 0, false },
		{ "0x10", false, 0, false },
		{ "1e3", false, 0, false },
		{ "LAST", false, 0, false },
		{ "1\r", false, 0, false },
	};
	const char *reply;
	uint64_t size;
	size_t i;
	bool last, ok;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		reply = NULL;
		size = 7;
		last = true;
		ok = smtp_parse_bdat(rows[i].args, &size, &last, &reply);
		if (ok != rows[i].ok)
			fail_msg("\"%s\": want %s", rows[i].args,
			    rows[i].ok ? "ok" : "error");
		same_num(rows[i].args, "size", size, rows[i].size);
		same_num(rows[i].args, "last", last, rows[i].last);
		if (!ok)
			same(rows[i].args, "reply", reply, BDAT_SYN);
	}
}

/* test_auth - AUTH mechanism and initial response */
static void
test_auth(void **state)
{
	static const struct {
		const char *args, *reply, *mech, *resp;
	} rows[] = {
		{ "PLAIN", NULL, "PLAIN", NULL },
		{ "plain", NULL, "PLAIN", NULL },
		{ "PLAIN =", NULL, "PLAIN", "=" },
		{ "PLAIN AHVzZXIAcGFzcw==", NULL, "PLAIN", "AHVzZXIAcGFzcw==" },
		{ "login dXNlcg==", NULL, "LOGIN", "dXNlcg==" },
		{ "LOGIN dXNlcm4=", NULL, "LOGIN", "dXNlcm4=" },
		{ "LOGIN dXNl", NULL, "LOGIN", "dXNl" },
		{ "X PQ+/", NULL, "X", "PQ+/" },
		{ "CRAM-MD5", NULL, "CRAM-MD5", NULL },
		{ "scram-sha-256-plus", NULL, "SCRAM-SHA-256-PLUS", NULL },
		{ "X_Y-1", NULL, "X_Y-1", NULL },
		{ "ABCDEFGHIJKLMNOPQRST", NULL, "ABCDEFGHIJKLMNOPQRST", NULL },
		{ "ABCDEFGHIJKLMNOPQRSTU", AUTH_SYN, NULL, NULL },
		{ "", AUTH_SYN, NULL, NULL },
		{ " PLAIN", AUTH_SYN, NULL, NULL },
		{ "PLAIN ", AUTH_SYN, NULL, NULL },
		{ "PLAIN  dXNl", AUTH_SYN, NULL, NULL },
		{ "PLAIN dXNl dXNl", AUTH_SYN, NULL, NULL },
		{ "PLAIN dXNl ", AUTH_SYN, NULL, NULL },
		{ "PL.AIN", AUTH_SYN, NULL, NULL },
		{ "PLAIN\tdXNl", AUTH_SYN, NULL, NULL },
		{ "PLAIN dXNl\r", AUTH_SYN, NULL, NULL },
		{ "PL\xc3\xa4IN", AUTH_SYN, NULL, NULL },
		{ "PLAIN abc", AUTH_B64, NULL, NULL },
		{ "PLAIN ab=c", AUTH_B64, NULL, NULL },
		{ "PLAIN a===", AUTH_B64, NULL, NULL },
		{ "PLAIN ====", AUTH_B64, NULL, NULL },
		{ "PLAIN ==", AUTH_B64, NULL, NULL },
		{ "PLAIN =a==", AUTH_B64, NULL, NULL },
		{ "PLAIN a=b=", AUTH_B64, NULL, NULL },
		{ "PLAIN ab*d", AUTH_B64, NULL, NULL },
		{ "PLAIN dXNl-A==", AUTH_B64, NULL, NULL },
		{ "PLAIN *", AUTH_B64, NULL, NULL },
	};
	const char *mech, *resp, *reply;
	size_t i;
	bool ok;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		mech = resp = reply = NULL;
		ok = smtp_parse_auth(rows[i].args, arena, &mech, &resp,
		    &reply);
		if (ok != (rows[i].reply == NULL))
			fail_msg("\"%s\": %s", rows[i].args,
			    ok ? "accepted" : reply);
		same(rows[i].args, "mech", mech, rows[i].mech);
		same(rows[i].args, "resp", resp, rows[i].resp);
		if (!ok)
			same(rows[i].args, "reply", reply, rows[i].reply);
	}
}

/* mail_null - a bug: no offer */
static void
mail_null(void)
{
	struct smtp_mail m;
	struct arena *a = arena_create();
	const char *reply;

	(void)smtp_parse_mail(FROM, NULL, a, &m, &reply);
}

/* test_null - NULL arguments are bugs */
static void
test_null(void **state)
{
	(void)state;
	testutil_expect_abort(mail_null);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verb),
		cmocka_unit_test_setup_teardown(test_mail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mail_limits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rcpt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rcpt_orcpt_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_xtext, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helo, setup, teardown),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test(test_null),
	};

	log_init("test_smtp_parse", true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
