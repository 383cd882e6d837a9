/*
 * test_bounce.c - delivery status notifications: the RFC 3461 NOTIFY
 * truth table, and DSNs for failures, delays and successes with one and
 * several recipients, ORCPT, ENVID, RET=FULL / HDRS / over the size
 * limit, double bounces, 8-bit originals, originals in a file spool and
 * hostile server replies.
 *
 * Every composed DSN is written out as it would be queued (header fields,
 * the empty line, the body) and read back by Python's email module in a
 * child process, which prints a summary: structure, per-recipient
 * delivery-status fields (unfolded), the original part, and any line of
 * the DSN's own header blocks (top level, parts, delivery-status) that is
 * over 78 columns or not 7-bit. The summaries are compared exactly; dates
 * are fixed times printed in UTC (TZ is set to UTC0 in main).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "bounce.h"
#include "buf.h"
#include "message.h"
#include "spool.h"
#include "testutil.h"

#define KIB 1024

/* fixed times: 2023-11-14 22:13:20 UTC and later */
#define T_ARRIVAL	((time_t)1700000000)
#define T_ATTEMPT	((time_t)1700003600)
#define T_UNTIL		((time_t)1700432000)

/*
 * The checker: argv[1] is the DSN file. Prints "defects N" for the parse,
 * then the structure and fields; "LONG"/"BYTE" lines for any header-ish
 * line of the DSN itself that breaks the 78-column or 7-bit promise.
 */
static const char checker[] =
"import sys, re, email, email.utils\n"
"from email import policy\n"
"raw = open(sys.argv[1], 'rb').read()\n"
"m = email.message_from_bytes(raw, policy=policy.compat32)\n"
"out = []\n"
"def p(*a): out.append(' '.join(str(x) for x in a))\n"
"def check(block):\n"
"    for line in block.split(b'\\r\\n'):\n"
"        if len(line) > 78: p('LONG', line)\n"
"        if any(c >= 128 or (c < 32 and c != 9) for c in line):\n"
"            p('BYTE', line)\n"
"def unfold(v): return ' '.join(v.split())\n"
"head, body = raw.split(b'\\r\\n\\r\\n', 1)\n"
"check(head)\n"
"b = m.get_param('boundary').encode()\n"
"segs = body.split(b'\\r\\n--' + b)\n"
"p('segments', len(segs))\n"
"for s in segs[1:3]: check(s)\n"
"if len(segs) > 3: check(segs[3].split(b'\\r\\n\\r\\n', 1)[0])\n"
"p('tail', repr(segs[-1].decode('ascii')))\n"
"p('defects', len(m.defects))\n"
"p('type', m.get_content_type(), m.get_param('report-type'))\n"
"for h in ('From', 'To', 'Subject', 'Auto-Submitted', 'MIME-Version',\n"
"        'Content-Transfer-Encoding'):\n"
"    if m[h] is not None: p(h + ':', unfold(m[h]))\n"
"p('date', email.utils.parsedate_to_datetime(m['Date']).timestamp() > 0)\n"
"p('msgid', re.fullmatch(r'<[!-=?-~]+@mx\\.example\\.com>',\n"
"    m['Message-ID']) is not None)\n"
"parts = m.get_payload()\n"
"p('parts', len(parts), *[x.get_content_type() for x in parts])\n"
"for x in parts: p('defects', len(x.defects))\n"
"p('text', repr(parts[0].get_payload()))\n"
"for blk in parts[1].get_payload():\n"
"    p('--')\n"
"    for k, v in blk.items(): p(k + ':', unfold(v))\n"
"o = parts[2]\n"
"if o.get_content_type() == 'message/rfc822':\n"
"    inner = o.get_payload(0)\n"
"    p('orig subject', inner['Subject'])\n"
"    p('orig body', repr(inner.get_payload()))\n"
"else:\n"
"    p('orig', repr(o.get_payload()))\n"
"print('\\n'.join(out))\n";

struct fix {
	char dir[256];
	char *spool;		/* DIR/spool: body spools */
	struct arena *a;
};

/* setup - temp directory, arena, spool directory */
static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (f == NULL || testutil_setup(f->dir, sizeof(f->dir), "bounce",
	    &f->a) < 0) {
		free(f);
		return -1;
	}
	f->spool = arena_printf(f->a, "%s/spool", f->dir);
	if (mkdir(f->spool, 0700) < 0) {
		testutil_teardown(f->dir, &f->a);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* teardown - remove everything */
static int
teardown(void **state)
{
	struct fix *f = *state;
	int rc = testutil_teardown(f->dir, &f->a);

	free(f);
	return rc;
}

/* original - a message from sender with a small header and body */
static struct message *
original(struct fix *f, const char *body, uint64_t mem)
{
	static const char header[] =
	    "From: Sender <sender@example.org>\r\n"
	    "To: rcpt@example.net\r\n"
	    "Subject: hello\r\n"
	    "Message-ID: <orig@example.org>\r\n";
	struct message *m = message_new(f->a, f->spool, mem);
	struct message_rcpt r = { .addr = "rcpt@example.net" };
	const char *why = NULL;

	m->sender = "sender@example.org";
	message_add_rcpt(m, &r);
	assert_true(message_parse_header(m, header, sizeof(header) - 1,
	    &why));
	assert_true(spool_append(m->body, body, strlen(body)));
	return m;
}

/* request - the usual request for orig about rcpts */
static struct bounce_request
request(struct fix *f, const struct message *orig,
    const struct bounce_rcpt *rcpts, size_t n)
{
	struct bounce_request rq = {
		.orig = orig,
		.qid = "4ABCDEF012",
		.arrival = T_ARRIVAL,
		.reporting_mta = "mx.example.com",
		.postmaster = "postmaster@example.com",
		.rcpts = rcpts,
		.n_rcpts = n,
		.return_limit = 100 * KIB,
		.temp_dir = f->spool,
		.spool_memory = 64 * KIB,
	};

	return rq;
}

/* dsn_bytes - the DSN as it would be queued: fields, empty line, body */
static void
dsn_bytes(const struct message *m, struct buf *out)
{
	char chunk[4096];
	uint64_t off = 0;
	ssize_t n;
	size_t i;

	for (i = 0; i < m->n_headers; i++) {
		buf_puts(out, m->headers[i].name);
		buf_putc(out, ':');
		buf_puts(out, m->headers[i].value);
		buf_puts(out, "\r\n");
	}
	buf_puts(out, "\r\n");
	while ((n = spool_read(m->body, off, chunk, sizeof(chunk))) > 0) {
		buf_append(out, chunk, (size_t)n);
		off += (uint64_t)n;
	}
	assert_int_equal(n, 0);
}

/* summarise - the checker's output about m (in the arena) */
static char *
summarise(struct fix *f, const struct message *m)
{
	struct buf raw = { 0 }, out = { 0 };
	char *path = arena_printf(f->a, "%s/dsn.eml", f->dir), *res;
	char chunk[4096];
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	dsn_bytes(m, &raw);
	testutil_put_bytes(f->a, f->dir, "dsn.eml", raw.data, raw.len);
	buf_free(&raw);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl("/usr/bin/python3", "python3", "-c", checker, path,
		    (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], chunk, sizeof(chunk))) > 0)
		buf_append(&out, chunk, (size_t)n);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	res = arena_strdup(f->a, buf_cstr(&out));
	buf_free(&out);
	return res;
}

/* expect - m's summary is want (printed in full when it is not) */
static void
expect(struct fix *f, const struct message *m, const char *want)
{
	char *got = summarise(f, m);

	if (strcmp(got, want) != 0) {
		fprintf(stderr, "# got:\n%s# want:\n%s", got, want);
		fail_msg("summary differs");
	}
}

/* has - got contains needle (got printed in full when it does not) */
static void
has(const char *got, const char *needle)
{
	if (strstr(got, needle) == NULL) {
		fprintf(stderr, "# got:\n%s# missing:\n%s\n", got, needle);
		fail_msg("summary lacks a line");
	}
}

/* envelope - the DSN's envelope: from <>, to rcpt, nothing else */
static void
envelope(const struct message *m, const char *rcpt)
{
	assert_string_equal(m->sender, "");
	assert_int_equal(m->n_rcpts, 1);
	assert_string_equal(m->rcpts[0].addr, rcpt);
}

/* test_wanted - RFC 3461 NOTIFY for every action */
static void
test_wanted(void **state)
{
	enum {
		N = MESSAGE_NOTIFY_NEVER,
		S = MESSAGE_NOTIFY_SUCCESS,
		F = MESSAGE_NOTIFY_FAILURE,
		D = MESSAGE_NOTIFY_DELAY,
	};
	/* failed delayed delivered relayed expanded */
	static const struct {
		unsigned notify;
		bool want[5];
	} rows[] = {
		{ 0, { true, true, false, false, false } },
		{ N, { false, false, false, false, false } },
		{ N | S | F | D, { false, false, false, false, false } },
		{ S, { false, false, true, true, true } },
		{ F, { true, false, false, false, false } },
		{ D, { false, true, false, false, false } },
		{ F | D, { true, true, false, false, false } },
		{ S | F, { true, false, true, true, true } },
		{ S | D, { false, true, true, true, true } },
		{ S | F | D, { true, true, true, true, true } },
	};
	size_t i;
	int a;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (a = BOUNCE_FAILED; a <= BOUNCE_EXPANDED; a++)
			if (bounce_wanted(rows[i].notify,
			    (enum bounce_action)a) != rows[i].want[a])
				fail_msg("notify %#x action %d: want %d",
				    rows[i].notify, a, rows[i].want[a]);
}

/* test_failed_one - one failed recipient: the whole message goes back */
static void
test_failed_one(void **state)
{
	struct fix *f = *state;
	struct message *orig = original(f, "Hi there.\r\n", 64 * KIB);
	struct bounce_rcpt r = {
		.addr = "rcpt@example.net",
		.orcpt = "rfc822;Rcpt@Example.NET",
		.action = BOUNCE_FAILED,
		.status = "5.1.1",
		.diagnostic = "550 5.1.1 <rcpt@example.net>: no such user",
		.remote_mta = "mx.example.net",
		.last_attempt = T_ATTEMPT,
	};
	struct bounce_request rq = request(f, orig, &r, 1);
	const char *why = NULL;
	struct message *m;

	orig->envid = "ENV-42";
	m = bounce_compose(&rq, f->a, &why);
	assert_non_null(m);
	envelope(m, "sender@example.org");
	assert_int_equal(m->body_type, MESSAGE_BODY_UNSET);
	expect(f, m,
	    "segments 5\n"
	    "tail '--\\r\\n'\n"
	    "defects 0\n"
	    "type multipart/report delivery-status\n"
	    "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\n"
	    "To: <sender@example.org>\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "Auto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\n"
	    "date True\n"
	    "msgid True\n"
	    "parts 3 text/plain message/delivery-status message/rfc822\n"
	    "defects 0\n"
	    "defects 0\n"
	    "defects 0\n"
	    "text 'This is the mail system at host mx.example.com.\\r\\n"
	    "\\r\\nYour message could not be delivered to one or more of "
	    "its recipients.\\r\\nThis is a permanent error; the details "
	    "are below, and the message (or\\r\\nits header) is attached."
	    "\\r\\n\\r\\n<rcpt@example.net>: host mx.example.net said: 550 "
	    "5.1.1\\r\\n    <rcpt@example.net>: no such user\\r\\n'\n"
	    "--\n"
	    "Reporting-MTA: dns; mx.example.com\n"
	    "X-Postern-Queue-ID: 4ABCDEF012\n"
	    "Original-Envelope-Id: ENV-42\n"
	    "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\n"
	    "--\n"
	    "Original-Recipient: rfc822; Rcpt@Example.NET\n"
	    "Final-Recipient: rfc822; rcpt@example.net\n"
	    "Action: failed\n"
	    "Status: 5.1.1\n"
	    "Remote-MTA: dns; mx.example.net\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <rcpt@example.net>: no such "
	    "user\n"
	    "Last-Attempt-Date: Tue, 14 Nov 2023 23:13:20 +0000\n"
	    "orig subject hello\n"
	    "orig body 'Hi there.\\r\\n'\n");
}

/* test_failed_several - three recipients, with and without server,
 * diagnostic, status; no ENVID, no ORCPT */
static void
test_failed_several(void **state)
{
	struct fix *f = *state;
	struct message *orig = original(f, "Body.\r\n", 64 * KIB);
	const struct bounce_rcpt r[] = {
		{ .addr = "a@example.net", .action = BOUNCE_FAILED,
		    .status = "5.7.1", .diagnostic = "554 5.7.1 rejected",
		    .remote_mta = "mx1.example.net" },
		{ .addr = "b@example.net", .action = BOUNCE_FAILED,
		    .status = "5.4.4", .diagnostic = "Host or domain name "
		    "not found" },
		{ .addr = "c@example.net", .action = BOUNCE_FAILED,
		    .status = "not-a-status" },
	};
	struct bounce_request rq = request(f, orig, r, 3);
	const char *why = NULL;
	struct message *m = bounce_compose(&rq, f->a, &why);

	assert_non_null(m);
	envelope(m, "sender@example.org");
	expect(f, m,
	    "segments 5\n"
	    "tail '--\\r\\n'\n"
	    "defects 0\n"
	    "type multipart/report delivery-status\n"
	    "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\n"
	    "To: <sender@example.org>\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "Auto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\n"
	    "date True\n"
	    "msgid True\n"
	    "parts 3 text/plain message/delivery-status message/rfc822\n"
	    "defects 0\n"
	    "defects 0\n"
	    "defects 0\n"
	    "text 'This is the mail system at host mx.example.com.\\r\\n"
	    "\\r\\nYour message could not be delivered to one or more of "
	    "its recipients.\\r\\nThis is a permanent error; the details "
	    "are below, and the message (or\\r\\nits header) is attached."
	    "\\r\\n\\r\\n<a@example.net>: host mx1.example.net said: 554 "
	    "5.7.1 rejected\\r\\n\\r\\n<b@example.net>: Host or domain name "
	    "not found\\r\\n\\r\\n<c@example.net>: delivery failed\\r\\n'\n"
	    "--\n"
	    "Reporting-MTA: dns; mx.example.com\n"
	    "X-Postern-Queue-ID: 4ABCDEF012\n"
	    "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\n"
	    "--\n"
	    "Final-Recipient: rfc822; a@example.net\n"
	    "Action: failed\n"
	    "Status: 5.7.1\n"
	    "Remote-MTA: dns; mx1.example.net\n"
	    "Diagnostic-Code: smtp; 554 5.7.1 rejected\n"
	    "--\n"
	    "Final-Recipient: rfc822; b@example.net\n"
	    "Action: failed\n"
	    "Status: 5.4.4\n"
	    "Diagnostic-Code: X-Postern; Host or domain name not found\n"
	    "--\n"
	    "Final-Recipient: rfc822; c@example.net\n"
	    "Action: failed\n"
	    "Status: 5.0.0\n"
	    "orig subject hello\n"
	    "orig body 'Body.\\r\\n'\n");
}

/* test_delayed - headers only, Will-Retry-Until, the delay subject */
static void
test_delayed(void **state)
{
	struct fix *f = *state;
	struct message *orig = original(f, "Body.\r\n", 64 * KIB);
	const struct bounce_rcpt r[] = {
		{ .addr = "a@example.net", .action = BOUNCE_DELAYED,
		    .status = "4.4.1", .diagnostic = "connect to "
		    "mx.example.net[192.0.2.25]:25: Connection timed out",
		    .last_attempt = T_ATTEMPT, .retry_until = T_UNTIL },
		{ .addr = "b@example.net", .action = BOUNCE_DELAYED,
		    .status = "4.2.2", .diagnostic = "452 4.2.2 mailbox full",
		    .remote_mta = "mx.example.net", .retry_until = T_UNTIL },
	};
	struct bounce_request rq = request(f, orig, r, 2);
	const char *why = NULL;
	struct message *m;

	orig->ret = MESSAGE_RET_FULL;	/* delays send headers anyway */
	m = bounce_compose(&rq, f->a, &why);
	assert_non_null(m);
	envelope(m, "sender@example.org");
	expect(f, m,
	    "segments 5\n"
	    "tail '--\\r\\n'\n"
	    "defects 0\n"
	    "type multipart/report delivery-status\n"
	    "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\n"
	    "To: <sender@example.org>\n"
	    "Subject: Delayed Mail (still being retried)\n"
	    "Auto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\n"
	    "date True\n"
	    "msgid True\n"
	    "parts 3 text/plain message/delivery-status "
	    "text/rfc822-headers\n"
	    "defects 0\n"
	    "defects 0\n"
	    "defects 0\n"
	    "text 'This is the mail system at host mx.example.com.\\r\\n"
	    "\\r\\nYour message has not been delivered yet to the recipients "
	    "below. The\\r\\nmail system keeps trying until the time given "
	    "in the report; there is no\\r\\nneed to send it again.\\r\\n"
	    "\\r\\n<a@example.net>: connect to mx.example.net[192.0.2.25]:25: "
	    "Connection\\r\\n    timed out\\r\\n\\r\\n<b@example.net>: host "
	    "mx.example.net said: 452 4.2.2 mailbox full\\r\\n'\n"
	    "--\n"
	    "Reporting-MTA: dns; mx.example.com\n"
	    "X-Postern-Queue-ID: 4ABCDEF012\n"
	    "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\n"
	    "--\n"
	    "Final-Recipient: rfc822; a@example.net\n"
	    "Action: delayed\n"
	    "Status: 4.4.1\n"
	    "Diagnostic-Code: X-Postern; connect to "
	    "mx.example.net[192.0.2.25]:25: Connection timed out\n"
	    "Last-Attempt-Date: Tue, 14 Nov 2023 23:13:20 +0000\n"
	    "Will-Retry-Until: Sun, 19 Nov 2023 22:13:20 +0000\n"
	    "--\n"
	    "Final-Recipient: rfc822; b@example.net\n"
	    "Action: delayed\n"
	    "Status: 4.2.2\n"
	    "Remote-MTA: dns; mx.example.net\n"
	    "Diagnostic-Code: smtp; 452 4.2.2 mailbox full\n"
	    "Will-Retry-Until: Sun, 19 Nov 2023 22:13:20 +0000\n"
	    "orig 'From: Sender <sender@example.org>\\r\\nTo: "
	    "rcpt@example.net\\r\\nSubject: hello\\r\\nMessage-ID: "
	    "<orig@example.org>\\r\\n'\n");
}

/* test_delivered - successes: the success subject, headers only */
static void
test_delivered(void **state)
{
	struct fix *f = *state;
	struct message *orig = original(f, "Body.\r\n", 64 * KIB);
	const struct bounce_rcpt r[] = {
		{ .addr = "a@example.net", .action = BOUNCE_DELIVERED,
		    .status = "2.0.0", .diagnostic = "250 2.0.0 Ok: queued",
		    .remote_mta = "mx.example.net" },
		{ .addr = "b@example.net", .action = BOUNCE_RELAYED },
	};
	struct bounce_request rq = request(f, orig, r, 2);
	const char *why = NULL;
	struct message *m = bounce_compose(&rq, f->a, &why);
	char *got;

	assert_non_null(m);
	got = summarise(f, m);
	has(got, "\nSubject: Successful Mail Delivery "
	    "Report\n");
	has(got, "\nparts 3 text/plain "
	    "message/delivery-status text/rfc822-headers\n");
	has(got, "\n--\nFinal-Recipient: rfc822; "
	    "a@example.net\nAction: delivered\nStatus: 2.0.0\n"
	    "Remote-MTA: dns; mx.example.net\nDiagnostic-Code: smtp; 250 "
	    "2.0.0 Ok: queued\n--\nFinal-Recipient: rfc822; b@example.net\n"
	    "Action: relayed\nStatus: 2.0.0\norig '");
	has(got, "<b@example.net>: relayed to a server that does not "
	    "report delivery\\r\\n'\n");
	assert_null(strstr(got, "LONG"));
	assert_null(strstr(got, "BYTE"));
	has(got, "\ndefects 0\ntype ");
}

/* third_part - the type of the original's part for orig under limit */
static const char *
third_part(struct fix *f, struct message *orig, enum message_ret ret,
    uint64_t limit)
{
	struct bounce_rcpt r = { .addr = "a@example.net",
	    .action = BOUNCE_FAILED, .status = "5.1.1" };
	struct bounce_request rq = request(f, orig, &r, 1);
	const char *why = NULL, *line;
	struct message *m;
	char *got;

	orig->ret = ret;
	rq.return_limit = limit;
	m = bounce_compose(&rq, f->a, &why);
	assert_non_null(m);
	got = summarise(f, m);
	line = strstr(got, "\nparts 3 text/plain message/delivery-status ");
	assert_non_null(line);
	has(got, "\ndefects 0\ntype ");
	assert_null(strstr(got, "LONG"));
	return arena_strndup(f->a, line + 44, strcspn(line + 44, "\n"));
}

/* test_ret - RET=FULL, HDRS, unset, and the size limit */
static void
test_ret(void **state)
{
	struct fix *f = *state;
	struct message *orig = original(f, "Body.\r\n", 64 * KIB);
	uint64_t size = message_size(orig);

	assert_string_equal(third_part(f, orig, MESSAGE_RET_UNSET, size),
	    "message/rfc822");
	assert_string_equal(third_part(f, orig, MESSAGE_RET_FULL, size),
	    "message/rfc822");
	assert_string_equal(third_part(f, orig, MESSAGE_RET_HDRS, size),
	    "text/rfc822-headers");
	assert_string_equal(third_part(f, orig, MESSAGE_RET_FULL, size - 1),
	    "text/rfc822-headers");
	assert_string_equal(third_part(f, orig, MESSAGE_RET_UNSET, size - 1),
	    "text/rfc822-headers");
}

/* test_double_bounce - the sender was <>: the postmaster gets it */
static void
test_double_bounce(void **state)
{
	struct fix *f = *state;
	struct message *orig = original(f, "Body.\r\n", 64 * KIB);
	struct bounce_rcpt r = { .addr = "a@example.net",
	    .action = BOUNCE_FAILED, .status = "5.1.1",
	    .diagnostic = "550 5.1.1 unknown" };
	struct bounce_request rq = request(f, orig, &r, 1);
	const char *why = NULL;
	struct message *m;
	char *got;

	orig->sender = "";
	rq.double_bounce = true;
	m = bounce_compose(&rq, f->a, &why);
	assert_non_null(m);
	envelope(m, "postmaster@example.com");
	got = summarise(f, m);
	has(got, "\nTo: <postmaster@example.com>\n");
	has(got, "\\r\\n\\r\\nThis report is for the "
	    "postmaster: the message had no return address (it\\r\\nwas ");
	has(got, "\nparts 3 text/plain "
	    "message/delivery-status message/rfc822\n");
	assert_null(strstr(got, "LONG"));
}

/* test_hostile - control bytes, CR LF, 8-bit and a 300-byte word in a
 * server's reply: one folded field, nothing injected, 78 columns */
static void
test_hostile(void **state)
{
	struct fix *f = *state;
	struct message *orig = original(f, "Body.\r\n", 64 * KIB);
	char word[301], *diag, *got, *want;
	struct bounce_rcpt r = { .addr = "a\r\nBcc: x@evil@example.net",
	    .orcpt = "rfc822;a\x01\xff@example.net",
	    .action = BOUNCE_FAILED, .status = "5.1.1\r\nX-Evil: 1",
	    .remote_mta = "mx\r\nX-Injected: yes" };
	struct bounce_request rq = request(f, orig, &r, 1);
	const char *why = NULL;
	struct message *m;

	memset(word, 'w', 300);
	word[300] = '\0';
	diag = arena_printf(f->a, "550-5.1.1 first\r\n550 5.1.1 second\r\n"
	    "X-Injected: yes\x01\x1b[31m\tred \xc3\xa9t\xc3\xa9 %s end",
	    word);
	r.diagnostic = diag;
	orig->envid = "env\r\nX-Injected: 1";
	m = bounce_compose(&rq, f->a, &why);
	assert_non_null(m);
	got = summarise(f, m);
	assert_null(strstr(got, "LONG"));
	assert_null(strstr(got, "BYTE"));
	assert_null(strstr(got, "\nX-Injected"));
	assert_null(strstr(got, "\nX-Evil"));
	assert_null(strstr(got, "\nBcc"));
	has(got, "\nOriginal-Envelope-Id: env "
	    "X-Injected: 1\n");
	has(got, "\nOriginal-Recipient: rfc822; "
	    "a ?@example.net\nFinal-Recipient: rfc822; a Bcc: "
	    "x@evil@example.net\nAction: failed\nStatus: 5.0.0\n"
	    "Remote-MTA: dns; mx X-Injected: yes\n");
	/* the long word is cut at the folds, which unfold to spaces */
	want = arena_printf(f->a, "\nDiagnostic-Code: smtp; 550-5.1.1 first "
	    "550 5.1.1 second X-Injected: yes [31m red ??t?? ");
	has(got, want);
	has(got, " end\n");
	has(got, arena_strndup(f->a, word, 60));
	has(got, "\ndefects 0\ntype ");
}

/* test_8bit_original - an 8-bit body goes back whole, declared 8bit */
static void
test_8bit_original(void **state)
{
	struct fix *f = *state;
	struct message *orig = original(f, "Gr\xc3\xbc\xc3\x9f""e\r\n",
	    64 * KIB);
	struct bounce_rcpt r = { .addr = "a@example.net",
	    .action = BOUNCE_FAILED, .status = "5.1.1" };
	struct bounce_request rq = request(f, orig, &r, 1);
	const char *why = NULL;
	struct message *m = bounce_compose(&rq, f->a, &why);
	char *got;

	assert_non_null(m);
	assert_int_equal(m->body_type, MESSAGE_BODY_8BITMIME);
	got = summarise(f, m);
	has(got, "\nContent-Transfer-Encoding: 8bit\n");
	has(got, "\nparts 3 text/plain "
	    "message/delivery-status message/rfc822\n");
	assert_null(strstr(got, "LONG"));
	assert_null(strstr(got, "BYTE"));
	has(got, "\ndefects 0\ntype ");
}

/* test_spooled_original - an original in a file spool without a final
 * line end: copied whole, the closing boundary still on its own line */
static void
test_spooled_original(void **state)
{
	struct fix *f = *state;
	size_t n = 150 * KIB;
	char *body = arena_alloc(f->a, n + 1), *got, *want;
	struct bounce_rcpt r = { .addr = "a@example.net",
	    .action = BOUNCE_FAILED, .status = "5.1.1" };
	struct bounce_request rq;
	const char *why = NULL;
	struct message *orig, *m;
	size_t i;

	for (i = 0; i < n; i++)
		body[i] = i % 100 == 99 ? '\n' : i % 100 == 98 ? '\r' : 'z';
	body[n - 2] = 'z';
	body[n - 1] = 'z';
	body[n] = '\0';
	orig = original(f, body, 1024);
	assert_false(spool_in_memory(orig->body));
	rq = request(f, orig, &r, 1);
	rq.return_limit = 1024 * KIB;
	rq.spool_memory = 4 * KIB;
	m = bounce_compose(&rq, f->a, &why);
	assert_non_null(m);
	assert_false(spool_in_memory(m->body));
	assert_true(spool_size(m->body) > n);
	got = summarise(f, m);
	assert_int_equal(strncmp(got, "segments 5\ntail '--\\r\\n'\n", 23),
	    0);
	has(got, "\nparts 3 text/plain "
	    "message/delivery-status message/rfc822\n");
	/* the body as Python sees it: ours plus the CR LF we added */
	want = arena_printf(f->a, "zz\\r\\n'\n");
	assert_string_equal(got + strlen(got) - strlen(want), want);
	has(got, "\ndefects 0\ntype ");
}

/* test_unique_boundary - two DSNs for one queue id differ in boundary
 * and Message-ID */
static void
test_unique_boundary(void **state)
{
	struct fix *f = *state;
	struct message *orig = original(f, "Body.\r\n", 64 * KIB);
	struct bounce_rcpt r = { .addr = "a@example.net",
	    .action = BOUNCE_FAILED, .status = "5.1.1" };
	struct bounce_request rq = request(f, orig, &r, 1);
	const char *why = NULL, *ct[2] = { NULL, NULL }, *id[2] = { NULL,
	    NULL };
	struct message *m;
	size_t i;
	int k;

	for (k = 0; k < 2; k++) {
		m = bounce_compose(&rq, f->a, &why);
		assert_non_null(m);
		for (i = 0; i < m->n_headers; i++) {
			if (strcmp(m->headers[i].name, "Content-Type") == 0)
				ct[k] = m->headers[i].value;
			if (strcmp(m->headers[i].name, "Message-ID") == 0)
				id[k] = m->headers[i].value;
		}
		assert_non_null(ct[k]);
		assert_non_null(id[k]);
		assert_non_null(strstr(ct[k], "boundary=\"4ABCDEF012."));
		assert_non_null(strstr(id[k], " <4ABCDEF012."));
	}
	assert_string_not_equal(ct[0], ct[1]);
	assert_string_not_equal(id[0], id[1]);
}

/* test_spool_fails - the body cannot be written: NULL and the reason */
static void
test_spool_fails(void **state)
{
	struct fix *f = *state;
	struct message *orig = original(f, "Body.\r\n", 64 * KIB);
	struct bounce_rcpt r = { .addr = "a@example.net",
	    .action = BOUNCE_FAILED, .status = "5.1.1" };
	struct bounce_request rq = request(f, orig, &r, 1);
	const char *why = NULL;

	rq.temp_dir = arena_printf(f->a, "%s/missing", f->dir);
	rq.spool_memory = 16;
	assert_null(bounce_compose(&rq, f->a, &why));
	assert_non_null(why);
	assert_int_equal(strncmp(why, "write the bounce: ", 18), 0);
	assert_non_null(strstr(why, "No such file or directory"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* main - run the tests with dates in UTC */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wanted),
		T(test_failed_one),
		T(test_failed_several),
		T(test_delayed),
		T(test_delivered),
		T(test_ret),
		T(test_double_bounce),
		T(test_hostile),
		T(test_8bit_original),
		T(test_spooled_original),
		T(test_unique_boundary),
		T(test_spool_fails),
	};

	setenv("TZ", "UTC0", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
