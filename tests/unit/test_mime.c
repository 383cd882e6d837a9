/*
 * test_mime.c - the decoded text of MIME parts, line by line (lib/mime.c)
 *
 * Each message below is read whole, byte by byte, in chunks of random
 * sizes and (when short) split in two at every byte position, with LF
 * line ends and again with CR LF: every way must give exactly the same
 * events, written one a line as "H<depth> field" or "L line".
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <time.h>
#include <cmocka.h>

#include "buf.h"
#include "mem.h"
#include "mime.h"
#include "testutil.h"

/* one message and what it must give */
struct mime_case {
	const char *ct;		/* top-level Content-Type, or NULL */
	const char *cte;	/* top-level Content-Transfer-Encoding */
	size_t line_max;	/* 0: 80 */
	const char *body;	/* with LF line ends */
	size_t len;		/* 0: strlen(body) */
	bool lf_only;		/* body has CRs of its own: no CR LF run */
	const char *expect;
};

/* what the callbacks saw */
struct rec {
	struct buf out;
	size_t line_max;
	unsigned stop_at;	/* answer false at this event (from 1) */
	unsigned events;
};

/* rec_event - one more event; false at the one to stop at */
static bool
rec_event(struct rec *r)
{
	if (r->stop_at != 0 && r->events >= r->stop_at)
		fail_msg("a callback after one returned false");
	r->events++;
	return r->stop_at == 0 || r->events < r->stop_at;
}

/* rec_header - "H<depth> field" */
static bool
rec_header(void *arg, const char *field, size_t len, unsigned depth)
{
	struct rec *r = arg;

	assert_int_equal(field[len], '\0');
	assert_true(len <= r->line_max);
	buf_printf(&r->out, "H%u ", depth);
	buf_append(&r->out, field, len);
	buf_putc(&r->out, '\n');
	return rec_event(r);
}

/* rec_line - "L line" */
static bool
rec_line(void *arg, const char *line, size_t len)
{
	struct rec *r = arg;

	assert_int_equal(line[len], '\0');
	assert_true(len <= r->line_max);
	buf_puts(&r->out, "L ");
	buf_append(&r->out, line, len);
	buf_putc(&r->out, '\n');
	return rec_event(r);
}

/* xorshift - the next pseudo-random number of a sequence */
static uint32_t
xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* how a body is cut into chunks */
enum {
	FEED_WHOLE,
	FEED_BYTES,
	FEED_SPLIT,		/* two chunks, cut at split */
	FEED_RANDOM,		/* and up: random sizes, this is the seed */
};

/* feed - body into m, cut as how says (random runs include empty
 * chunks) */
static void
feed(struct mime *m, const char *body, size_t len, unsigned how,
    size_t split)
{
	uint32_t seed = how * 2654435761u;
	size_t off = 0, n;

	while (off < len) {
		if (how == FEED_WHOLE)
			n = len - off;
		else if (how == FEED_BYTES)
			n = 1;
		else if (how == FEED_SPLIT)
			n = off < split ? split - off : len - off;
		else
			n = xorshift(&seed) % 24;
		if (n > len - off)
			n = len - off;
		mime_feed(m, body + off, n);
		off += n;
	}
}

/* run - read body as how says, with these callbacks; the events
 * (malloc'ed) */
static char *
run(const char *ct, const char *cte, size_t line_max, const char *body,
    size_t len, unsigned how, size_t split, unsigned stop_at, bool headers,
    bool lines)
{
	struct rec r = { .line_max = line_max, .stop_at = stop_at };
	struct mime *m = mime_new(ct, cte, line_max,
	    headers ? rec_header : NULL, lines ? rec_line : NULL, &r);

	assert_false(mime_stopped(m));
	feed(m, body, len, how, split);
	mime_end(m);
	assert_int_equal(mime_stopped(m), stop_at != 0 &&
	    r.events >= stop_at);
	mime_free(&m);
	assert_null(m);
	mime_free(&m);		/* NULL is fine */
	return buf_steal(&r.out);
}

/* crlf - body with every LF made CR LF (malloc'ed) */
static char *
crlf(const char *body, size_t len, size_t *len_r)
{
	struct buf b = { 0 };

	for (size_t i = 0; i < len; i++) {
		if (body[i] == '\n')
			buf_putc(&b, '\r');
		buf_putc(&b, body[i]);
	}
	*len_r = b.len;
	return buf_steal(&b);
}

/* same - run one way and compare */
static void
same(const struct mime_case *c, const char *body, size_t len,
    unsigned how, size_t split, const char *what)
{
	size_t line_max = c->line_max != 0 ? c->line_max : 80;
	char *got = run(c->ct, c->cte, line_max, body, len, how, split, 0,
	    true, true);

	if (strcmp(got, c->expect) != 0)
		print_error("%s, fed %s (%u, %zu)\n", what,
		    how == FEED_WHOLE ? "whole" : how == FEED_BYTES ?
		    "byte by byte" : how == FEED_SPLIT ? "in two" : "randomly",
		    how, split);
	assert_string_equal(got, c->expect);
	free(got);
}

/* check - every way of feeding c gives its events */
static void
check(const struct mime_case *c)
{
	size_t len = c->len != 0 ? c->len : strlen(c->body);
	size_t len2;
	char *body2 = crlf(c->body, len, &len2);
	struct {
		const char *body;
		size_t len;
		const char *what;
	} ways[] = {
		{ c->body, len, "LF line ends" },
		{ body2, len2, "CR LF line ends" },
	};

	for (size_t w = 0; w < (c->lf_only ? 1 : 2); w++) {
		same(c, ways[w].body, ways[w].len, FEED_WHOLE, 0, ways[w].what);
		same(c, ways[w].body, ways[w].len, FEED_BYTES, 0, ways[w].what);
		for (unsigned seed = FEED_RANDOM; seed < FEED_RANDOM + 8;
		    seed++)
			same(c, ways[w].body, ways[w].len, seed, 0,
			    ways[w].what);
		if (ways[w].len > 4000)
			continue;
		for (size_t split = 1; split < ways[w].len; split++)
			same(c, ways[w].body, ways[w].len, FEED_SPLIT, split,
			    ways[w].what);
	}
	free(body2);
}

/* CASE_TEST - test_NAME: check(&NAME) */
#define CASE_TEST(name)							\
	static void							\
	test_##name(void **state)					\
	{								\
		(void)state;						\
		check(&name);						\
	}

/* no Content-Type: every line as it is; "--" lines are nothing special
 * outside a multipart; the last line needs no line end */
static const struct mime_case plain = {
	.body =
	    "Hello\n"
	    "\n"
	    "-- not a signature\n"
	    "--B\n"
	    "  indented\n"
	    "last line, no end",
	.expect =
	    "L Hello\n"
	    "L \n"
	    "L -- not a signature\n"
	    "L --B\n"
	    "L   indented\n"
	    "L last line, no end\n",
};
CASE_TEST(plain)

/* a CR that ends no line is text, also at the very end */
static const struct mime_case plain_cr = {
	.body = "lone\rCR\nends with CR\r",
	.expect = "L lone\rCR\nL ends with CR\r\n",
};
CASE_TEST(plain_cr)

/* an empty body, and one empty line */
static const struct mime_case empty = { .body = "", .expect = "" };
CASE_TEST(empty)
static const struct mime_case one_empty_line = {
	.body = "\n",
	.expect = "L \n",
};
CASE_TEST(one_empty_line)

/* a top-level text/html, bytes as they are */
static const struct mime_case html_8bit = {
	.ct = " text/html; charset=utf-8",
	.cte = "8bit",
	.body = "<p>caf\xc3\xa9</p>\n",
	.expect = "L <p>caf\xc3\xa9</p>\n",
};
CASE_TEST(html_8bit)

/* a top-level attachment gives nothing */
static const struct mime_case top_octets = {
	.ct = "application/octet-stream",
	.cte = "base64",
	.body = "SGVsbG8=\nSGVsbG8=\n",
	.expect = "",
};
CASE_TEST(top_octets)

/* quoted-printable: soft breaks (padded too), =XX in both cases,
 * transport padding dropped, encoded CR LF and LF split lines, invalid
 * sequences given as they are, a '=' at the very end */
static const struct mime_case qp = {
	.ct = "text/plain; charset=utf-8",
	.cte = "Quoted-Printable",
	.body =
	    "soft =\n"
	    "break\n"
	    "a=3Db =3d\n"
	    "trailing   \t\n"
	    "padded soft=  \t\n"
	    "next\n"
	    "hex =C3=A9!\n"
	    "in=0D=0Aline\n"
	    "lf=0Aonly\n"
	    "bad =G1 =4x =\t x =\n"
	    "end=4\n"
	    "\n"
	    "=\n"
	    "=3D\n"
	    "final=",
	.expect =
	    "L soft break\n"
	    "L a=b =\n"
	    "L trailing\n"
	    "L padded softnext\n"
	    "L hex \xc3\xa9!\n"
	    "L in\n"
	    "L line\n"
	    "L lf\n"
	    "L only\n"
	    "L bad =G1 =4x =\t x end=4\n"
	    "L \n"
	    "L =\n"
	    "L final\n",
};
CASE_TEST(qp)

/* multipart/alternative: text/plain and text/html, both base64; the
 * boundary quoted, with '=' and a space; preamble and epilogue are not
 * text */
static const struct mime_case alternative = {
	.ct = "multipart/alternative; boundary=\"=_alt 1\"",
	.body =
	    "This is a preamble, not text.\n"
	    "--=_alt 1\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "UGxhaW4gdGV4dA0Kc2Vjb25kIGxpbmUNCg==\n"
	    "\n"
	    "--=_alt 1\n"
	    "Content-Type: text/html\n"
	    "Content-Transfer-Encoding: BASE64\n"
	    "\n"
	    "PGh0bWw+PGJvZHk+DQo8cD5CdXkgbm93PC9wPg0K\n"
	    "PC9ib2R5PjwvaHRtbD4NCg==\n"
	    "--=_alt 1--\n"
	    "epilogue, not text\n",
	.expect =
	    "H1 Content-Type: text/plain; charset=us-ascii\n"
	    "H1 Content-Transfer-Encoding: base64\n"
	    "L Plain text\n"
	    "L second line\n"
	    "H1 Content-Type: text/html\n"
	    "H1 Content-Transfer-Encoding: BASE64\n"
	    "L <html><body>\n"
	    "L <p>Buy now</p>\n"
	    "L </body></html>\n",
};
CASE_TEST(alternative)

/* an application/pdf attachment: its header is given, its bytes
 * (base64 of text) never */
static const struct mime_case pdf = {
	.ct = "multipart/mixed; boundary=XYZ",
	.body =
	    "--XYZ\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "See attached.\n"
	    "--XYZ\n"
	    "Content-Type: application/pdf; name=\"a.pdf\"\n"
	    "Content-Disposition: attachment;\n"
	    " filename=\"a.pdf\"\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "JVBERi0xLjQgc2VjcmV0IHdvcmRzCmJ1eSB2aWFncmEK\n"
	    "--XYZ\n"
	    "Content-Type: image/png\n"
	    "\n"
	    "buy viagra\n"
	    "--XYZ--\n",
	.expect =
	    "H1 Content-Type: text/plain\n"
	    "L See attached.\n"
	    "H1 Content-Type: application/pdf; name=\"a.pdf\"\n"
	    "H1 Content-Disposition: attachment; filename=\"a.pdf\"\n"
	    "H1 Content-Transfer-Encoding: base64\n"
	    "H1 Content-Type: image/png\n",
};
CASE_TEST(pdf)

/* multipart/mixed inside multipart/alternative: depth 2; a part with no
 * header at all is text/plain */
static const struct mime_case nested = {
	.ct = "multipart/alternative; boundary=outer",
	.body =
	    "--outer\n"
	    "Content-Type: multipart/mixed; boundary=inner\n"
	    "\n"
	    "inner preamble\n"
	    "--inner\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "inner one\n"
	    "--inner\n"
	    "\n"
	    "inner two\n"
	    "--inner--\n"
	    "inner epilogue\n"
	    "--outer\n"
	    "Content-Type: text/html\n"
	    "\n"
	    "<b>outer two</b>\n"
	    "--outer--\n",
	.expect =
	    "H1 Content-Type: multipart/mixed; boundary=inner\n"
	    "H2 Content-Type: text/plain\n"
	    "L inner one\n"
	    "L inner two\n"
	    "H1 Content-Type: text/html\n"
	    "L <b>outer two</b>\n",
};
CASE_TEST(nested)

/* message/rfc822 parts: the message's header at depth 2, its body (a
 * multipart: depth 3; or text) */
static const struct mime_case rfc822 = {
	.ct = "multipart/mixed; boundary=m",
	.body =
	    "--m\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "cover\n"
	    "--m\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "From: a@example.com\n"
	    "Subject: inner\n"
	    "Content-Type: multipart/alternative; boundary=m2\n"
	    "\n"
	    "--m2\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "\n"
	    "inner caf=C3=A9\n"
	    "--m2--\n"
	    "--m\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "Subject: plain inner\n"
	    "\n"
	    "inner body\n"
	    "--m--\n",
	.expect =
	    "H1 Content-Type: text/plain\n"
	    "L cover\n"
	    "H1 Content-Type: message/rfc822\n"
	    "H2 From: a@example.com\n"
	    "H2 Subject: inner\n"
	    "H2 Content-Type: multipart/alternative; boundary=m2\n"
	    "H3 Content-Type: text/plain; charset=utf-8\n"
	    "H3 Content-Transfer-Encoding: quoted-printable\n"
	    "L inner caf\xc3\xa9\n"
	    "H1 Content-Type: message/rfc822\n"
	    "H2 Subject: plain inner\n"
	    "L inner body\n",
};
CASE_TEST(rfc822)

/* a top-level message/rfc822 (and message/global): the attached
 * message's header is depth 1 */
static const struct mime_case top_rfc822 = {
	.ct = "message/rfc822",
	.body = "Subject: x\n\nbody\n",
	.expect = "H1 Subject: x\nL body\n",
};
CASE_TEST(top_rfc822)
static const struct mime_case top_global = {
	.ct = "message/global",
	.body = "Subject: caf\xc3\xa9\n\nbody\n",
	.expect = "H1 Subject: caf\xc3\xa9\nL body\n",
};
CASE_TEST(top_global)

/* multipart/digest: a part without Content-Type is a message */
static const struct mime_case digest = {
	.ct = "multipart/digest; boundary=d",
	.body =
	    "--d\n"
	    "\n"
	    "Subject: first\n"
	    "\n"
	    "first body\n"
	    "--d\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "not a message\n"
	    "--d--\n",
	.expect =
	    "H2 Subject: first\n"
	    "L first body\n"
	    "H1 Content-Type: text/plain\n"
	    "L not a message\n",
};
CASE_TEST(digest)

/* folded header fields unfolded (the line ends removed, the white space
 * kept), the boundary on a continuation line; the top-level value as
 * an MTA hands it over (LF folds) */
static const struct mime_case folded = {
	.ct = "multipart/mixed;\n boundary=\"fold\"",
	.body =
	    "--fold\n"
	    "Content-Type: multipart/alternative;\n"
	    "\tboundary=\"fold2\"\n"
	    "X-Long: one\n"
	    "  two\n"
	    "\tthree\n"
	    "\n"
	    "--fold2\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "folded ok\n"
	    "--fold2--\n"
	    "--fold--\n",
	.expect =
	    "H1 Content-Type: multipart/alternative;\tboundary=\"fold2\"\n"
	    "H1 X-Long: one  two\tthree\n"
	    "H2 Content-Type: text/plain\n"
	    "L folded ok\n",
};
CASE_TEST(folded)

/* no closing boundary: the last part ends with the message, and so does
 * its unpadded base64 */
static const struct mime_case unclosed = {
	.ct = "multipart/mixed; boundary=b",
	.body =
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "first\n"
	    "--b\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "SGVsbG8",
	.expect =
	    "H1 Content-Type: text/plain\n"
	    "L first\n"
	    "H1 Content-Type: text/plain; charset=us-ascii\n"
	    "H1 Content-Transfer-Encoding: base64\n"
	    "L Hello\n",
};
CASE_TEST(unclosed)

/* a header that the message ends in the middle of */
static const struct mime_case unclosed_header = {
	.ct = "multipart/mixed; boundary=b",
	.body = "--b\nContent-Type: text/plain\nX-Folded: a\n b",
	.expect =
	    "H1 Content-Type: text/plain\n"
	    "H1 X-Folded: a b\n",
};
CASE_TEST(unclosed_header)

/* a last boundary line without its line end still counts */
static const struct mime_case close_at_end = {
	.ct = "multipart/mixed; boundary=e",
	.body = "--e\n\ntext\n--e--",
	.expect = "L text\n",
};
CASE_TEST(close_at_end)
static const struct mime_case open_at_end = {
	.ct = "multipart/mixed; boundary=e",
	.body = "--e\n\ntext\n\n--e",
	.expect = "L text\n",
};
CASE_TEST(open_at_end)

/* base64 garbage: what is not in the alphabet is skipped, '=' ends a
 * group and decoding goes on, a lone sextet is dropped */
static const struct mime_case b64_garbage = {
	.ct = "text/plain",
	.cte = "base64",
	.body =
	    "SGVs!!bG8=\n"
	    "####\n"
	    "SGk=SGk=\n"
	    "Q===\n"
	    "Cg==\n"
	    "YW\tJj ~\n",
	.expect = "L HelloHiHi\nL abc\n",
};
CASE_TEST(b64_garbage)

/* lines that look like boundaries but are not, in a text part; white
 * space after a boundary (and after the closing one) is allowed; after
 * the close the boundary means nothing */
static const struct mime_case lookalike = {
	.ct = "multipart/mixed; boundary=outer",
	.body =
	    "--outer\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "--other\n"
	    "--outerx\n"
	    "--outer-\n"
	    "--outer--x\n"
	    "--outer---\n"
	    "--outer -\n"
	    "-- outer\n"
	    "---outer\n"
	    "--oute\n"
	    "-\n"
	    "--\n"
	    "--outer \t\n"
	    "Content-Type: application/octet-stream\n"
	    "\n"
	    "--inner-looking\n"
	    "--outer--  \n"
	    "--outer\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "epilogue text\n",
	.expect =
	    "H1 Content-Type: text/plain\n"
	    "L --other\n"
	    "L --outerx\n"
	    "L --outer-\n"
	    "L --outer--x\n"
	    "L --outer---\n"
	    "L --outer -\n"
	    "L -- outer\n"
	    "L ---outer\n"
	    "L --oute\n"
	    "L -\n"
	    "L --\n"
	    "H1 Content-Type: application/octet-stream\n",
};
CASE_TEST(lookalike)

/* an outer boundary ends an inner multipart that never closed; its
 * boundary is then text */
static const struct mime_case outer_ends_inner = {
	.ct = "multipart/mixed; boundary=A",
	.body =
	    "--A\n"
	    "Content-Type: multipart/alternative; boundary=B\n"
	    "\n"
	    "--B\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "inside B\n"
	    "--A\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "--B\n"
	    "after\n"
	    "--A--\n",
	.expect =
	    "H1 Content-Type: multipart/alternative; boundary=B\n"
	    "H2 Content-Type: text/plain\n"
	    "L inside B\n"
	    "H1 Content-Type: text/plain\n"
	    "L --B\n"
	    "L after\n",
};
CASE_TEST(outer_ends_inner)

/* a multipart inside one with the same boundary (which RFC 2046 does
 * not allow): a boundary line is taken for the innermost */
static const struct mime_case same_boundary = {
	.ct = "multipart/mixed; boundary=A",
	.body =
	    "--A\n"
	    "Content-Type: multipart/alternative; boundary=A\n"
	    "\n"
	    "--A\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "one\n"
	    "--A\n"
	    "\n"
	    "two\n"
	    "--A--\n"
	    "--A\n"
	    "\n"
	    "three\n"
	    "--A--\n",
	.expect =
	    "H1 Content-Type: multipart/alternative; boundary=A\n"
	    "H2 Content-Type: text/plain\n"
	    "L one\n"
	    "L two\n"
	    "L three\n",
};
CASE_TEST(same_boundary)

/* a boundary of 70 characters, the most RFC 2046 allows */
#define B70 "0123456789012345678901234567890123456789" \
	"012345678901234567890123456789"

/* a Content-Type longer than line_max may have lost its boundary: the
 * part is read as text rather than skipped as a preamble */
static const struct mime_case cut_type = {
	.ct = "multipart/mixed; boundary=m",
	.body =
	    "--m\n"
	    "Content-Type: multipart/mixed; boundary=\"" B70 "\"\n"
	    "\n"
	    "--" B70 "\n"
	    "\n"
	    "hidden\n"
	    "--" B70 "--\n"
	    "--m--\n",
	.expect =
	    "H1 Content-Type: multipart/mixed; boundary=\""
	    "012345678901234567890123456789012345678\n"
	    "L --" B70 "\n"
	    "L \n"
	    "L hidden\n"
	    "L --" B70 "--\n",
};
CASE_TEST(cut_type)

/* the line end before a boundary belongs to the boundary: one empty
 * line before it is none, two are one */
static const struct mime_case eol_before_boundary = {
	.ct = "multipart/mixed; boundary=c",
	.body =
	    "--c\n"
	    "\n"
	    "one\n"
	    "\n"
	    "--c\n"
	    "\n"
	    "two\n"
	    "\n"
	    "\n"
	    "--c--\n",
	.expect = "L one\nL two\nL \n",
};
CASE_TEST(eol_before_boundary)

/* a line that is no header field ends a part's header and is the first
 * line of its body (also of an attached message, whose header is then
 * empty); white space before the colon is allowed */
static const struct mime_case not_header = {
	.ct = "multipart/mixed; boundary=h",
	.body =
	    "--h\n"
	    "Content-Type: text/plain\n"
	    "This is no header\n"
	    "more\n"
	    "--h\n"
	    "Subject : spaced name\n"
	    "\n"
	    "body\n"
	    "--h\n"
	    "Content-Type: message/rfc822\n"
	    "not a header either\n"
	    "--h\n"
	    " indented first\n"
	    "--h\n"
	    ": no name\n"
	    "--h\n"
	    "Content-Type: text/plain\n"
	    "no colon",
	.expect =
	    "H1 Content-Type: text/plain\n"
	    "L This is no header\n"
	    "L more\n"
	    "H1 Subject : spaced name\n"
	    "L body\n"
	    "H1 Content-Type: message/rfc822\n"
	    "L not a header either\n"
	    "L  indented first\n"
	    "L : no name\n"
	    "H1 Content-Type: text/plain\n"
	    "L no colon\n",
};
CASE_TEST(not_header)

/* an unknown encoding is read as it is, an invalid Content-Type and a
 * multipart without boundary are text, image/... is not; the first
 * Content-Type counts; comments anywhere */
static const struct mime_case odd_types = {
	.ct = "Multipart/Mixed; charset=x; BOUNDARY=----=_Part_0_1.2",
	.body =
	    "------=_Part_0_1.2\n"
	    "Content-Type: text/plain\n"
	    "Content-Transfer-Encoding: x-uuencode\n"
	    "\n"
	    "raw=3D line\n"
	    "------=_Part_0_1.2\n"
	    "Content-Type: garbage\n"
	    "\n"
	    "invalid type is text\n"
	    "------=_Part_0_1.2\n"
	    "Content-Type: multipart/mixed\n"
	    "\n"
	    "--x\n"
	    "no boundary is text\n"
	    "------=_Part_0_1.2\n"
	    "Content-Type: image/png\n"
	    "\n"
	    "not text\n"
	    "------=_Part_0_1.2\n"
	    "Content-Type: text/plain (comment) ; (c) charset=\"us-ascii\"\n"
	    "Content-Type: image/gif\n"
	    "content-transfer-encoding: (c) quoted-printable (c)\n"
	    "\n"
	    "first=\n"
	    "wins\n"
	    "------=_Part_0_1.2\n"
	    "Content-Type: (a) multipart/mixed ; x=\"y;z\" ;\n"
	    "  boundary = (b) \"q\\\"b\" (c)\n"
	    "\n"
	    "--q\"b\n"
	    "\n"
	    "escaped boundary\n"
	    "------=_Part_0_1.2--\n",
	.expect =
	    "H1 Content-Type: text/plain\n"
	    "H1 Content-Transfer-Encoding: x-uuencode\n"
	    "L raw=3D line\n"
	    "H1 Content-Type: garbage\n"
	    "L invalid type is text\n"
	    "H1 Content-Type: multipart/mixed\n"
	    "L --x\n"
	    "L no boundary is text\n"
	    "H1 Content-Type: image/png\n"
	    "H1 Content-Type: text/plain (comment) ; (c) "
	    "charset=\"us-ascii\"\n"
	    "H1 Content-Type: image/gif\n"
	    "H1 content-transfer-encoding: (c) quoted-printable (c)\n"
	    "L firstwins\n"
	    "H1 Content-Type: (a) multipart/mixed ; x=\"y;z\" ;"
	    "  boundary = (b) \"q\\\"b\" (c)\n"
	    "L escaped boundary\n",
};
CASE_TEST(odd_types)

/* CR LF and LF mixed in one message */
static const struct mime_case mixed_ends = {
	.ct = "multipart/mixed; boundary=x",
	.body =
	    "--x\r\n"
	    "Content-Type: text/plain\n"
	    "\r\n"
	    "line one\r\n"
	    "line two\n"
	    "--x--\r\n",
	.lf_only = true,
	.expect =
	    "H1 Content-Type: text/plain\n"
	    "L line one\n"
	    "L line two\n",
};
CASE_TEST(mixed_ends)

/* NUL bytes are bytes */
static const struct mime_case nul = {
	.body = "a\0b\n",
	.len = 4,
	.expect = "L a\0b\n",
};

/* test_nul - the callback gets the length, not a C string */
static void
test_nul(void **state)
{
	char *got = run(nul.ct, nul.cte, 80, nul.body, nul.len, FEED_BYTES,
	    0, 0, true, true);

	(void)state;
	assert_memory_equal(got, "L a\0b\n", 6);
	free(got);
}

/* lines_of - the events of a line of len bytes c: pieces of line_max */
static void
lines_of(struct buf *b, char c, size_t len, size_t line_max)
{
	while (len > 0) {
		size_t n = len < line_max ? len : line_max;

		buf_puts(b, "L ");
		for (size_t i = 0; i < n; i++)
			buf_putc(b, c);
		buf_putc(b, '\n');
		len -= n;
	}
}

/* base64 - text encoded, in lines of 76 */
static void
base64(struct buf *b, const char *text, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)text[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)(unsigned char)text[i + 1] << 8;
		if (i + 2 < len)
			v |= (unsigned char)text[i + 2];
		buf_putc(b, abc[v >> 18 & 63]);
		buf_putc(b, abc[v >> 12 & 63]);
		buf_putc(b, i + 1 < len ? abc[v >> 6 & 63] : '=');
		buf_putc(b, i + 2 < len ? abc[v & 63] : '=');
		if ((col += 4) == 76) {
			buf_putc(b, '\n');
			col = 0;
		}
	}
	buf_putc(b, '\n');
}

/* test_line_max - long decoded lines come in pieces of line_max, a line
 * of exactly line_max is one line (also when its CR LF straddles the
 * piece), header fields are cut at line_max */
static void
test_line_max(void **state)
{
	static const size_t maxes[] = { 1000, 1024, 80 };
	struct buf text = { 0 }, body = { 0 }, expect = { 0 };

	(void)state;
	for (size_t i = 0; i < 5000; i++)
		buf_putc(&text, 'x');
	buf_puts(&text, "\ntail\n");
	for (size_t i = 0; i < 1000; i++)
		buf_putc(&text, 'z');
	buf_puts(&text, "\r\n");
	for (size_t i = 0; i < 1000; i++)
		buf_putc(&text, 'w');
	buf_puts(&text, "\r");

	for (size_t k = 0; k < sizeof(maxes) / sizeof(maxes[0]); k++) {
		size_t max = maxes[k];
		struct mime_case c = {
			.ct = "multipart/mixed; boundary=L",
			.line_max = max,
		};

		buf_reset(&body);
		buf_reset(&expect);
		buf_puts(&body, "--L\nContent-Type: text/plain\n"
		    "Content-Transfer-Encoding: base64\n\n");
		base64(&body, text.data, text.len);
		buf_puts(&body, "--L\nX-Long: ");
		for (size_t i = 0; i < 3000; i++)
			buf_putc(&body, 'h');
		buf_puts(&body, "\n\n");
		for (size_t i = 0; i < 2500; i++)
			buf_putc(&body, 'y');
		buf_puts(&body, "\n--L--\n");

		buf_puts(&expect, "H1 Content-Type: text/plain\n"
		    "H1 Content-Transfer-Encoding: base64\n");
		lines_of(&expect, 'x', 5000, max);
		buf_puts(&expect, "L tail\n");
		lines_of(&expect, 'z', 1000, max);
		lines_of(&expect, 'w', 1000, max);
		if (1000 % max == 0) {	/* the CR alone */
			buf_puts(&expect, "L \r\n");
		} else {		/* the CR ends the last piece */
			expect.data[expect.len - 1] = '\r';
			buf_putc(&expect, '\n');
		}
		buf_puts(&expect, "H1 X-Long: ");
		for (size_t i = 0; i < max - strlen("X-Long: "); i++)
			buf_putc(&expect, 'h');
		buf_putc(&expect, '\n');
		lines_of(&expect, 'y', 2500, max);

		c.body = body.data;
		c.expect = expect.data;
		check(&c);
	}
	buf_free(&text);
	buf_free(&body);
	buf_free(&expect);
}

/* test_long_name - a "field name" longer than line_max is no field: the
 * line is body, whole */
static void
test_long_name(void **state)
{
	struct buf body = { 0 }, expect = { 0 };
	struct mime_case c = { .ct = "multipart/mixed; boundary=n" };

	(void)state;
	buf_puts(&body, "--n\n");
	for (size_t i = 0; i < 100; i++)
		buf_putc(&body, 'N');
	buf_puts(&body, ": v\n--n--\n");
	lines_of(&expect, 'N', 100, 80);
	expect.len -= strlen("NNNNNNNNNNNNNNNNNNNN\n");
	buf_puts(&expect, "NNNNNNNNNNNNNNNNNNNN: v\n");
	c.body = body.data;
	c.expect = expect.data;
	check(&c);
	buf_free(&body);
	buf_free(&expect);
}

/* nest - a message of levels nested multiparts around a text part,
 * then a text part at depth 1 */
static void
nest(struct buf *body, unsigned levels)
{
	for (unsigned i = 1; i < levels; i++)
		buf_printf(body, "--b%u\nContent-Type: multipart/mixed; "
		    "boundary=b%u\n\n", i - 1, i);
	buf_printf(body, "--b%u\nContent-Type: text/plain\n\ndeep\n"
	    "--b0\nContent-Type: text/plain\n\nafter\n--b0--\n", levels - 1);
}

/* test_depth - MIME_DEPTH_MAX nested multiparts are followed, deeper
 * parts are skipped, and the parts after them are read again */
static void
test_depth(void **state)
{
	struct buf body = { 0 }, expect = { 0 };
	struct mime_case c = { .ct = "multipart/mixed; boundary=b0" };

	(void)state;
	/* the top level is the first multipart, its parts depth 1 */
	nest(&body, MIME_DEPTH_MAX);
	for (unsigned i = 1; i < MIME_DEPTH_MAX; i++)
		buf_printf(&expect, "H%u Content-Type: multipart/mixed; "
		    "boundary=b%u\n", i, i);
	buf_printf(&expect, "H%u Content-Type: text/plain\nL deep\n"
	    "H1 Content-Type: text/plain\nL after\n", MIME_DEPTH_MAX);
	c.body = body.data;
	c.expect = expect.data;
	check(&c);

	/* one more: the innermost multipart is not followed */
	buf_reset(&body);
	buf_reset(&expect);
	nest(&body, MIME_DEPTH_MAX + 1);
	for (unsigned i = 1; i <= MIME_DEPTH_MAX; i++)
		buf_printf(&expect, "H%u Content-Type: multipart/mixed; "
		    "boundary=b%u\n", i, i);
	buf_puts(&expect, "H1 Content-Type: text/plain\nL after\n");
	c.body = body.data;
	c.expect = expect.data;
	check(&c);

	/* attached messages count as levels too */
	buf_reset(&body);
	buf_reset(&expect);
	for (unsigned i = 1; i <= MIME_DEPTH_MAX + 2; i++) {
		buf_puts(&body, "Content-Type: message/rfc822\n\n");
		if (i <= MIME_DEPTH_MAX)
			buf_printf(&expect,
			    "H%u Content-Type: message/rfc822\n", i);
	}
	buf_puts(&body, "deep\n");
	c.ct = "message/rfc822";
	c.body = body.data;
	c.expect = expect.data;
	check(&c);
	buf_free(&body);
	buf_free(&expect);
}

/* test_stop - a callback that answers false stops everything at once:
 * at every event, however the message is fed */
static void
test_stop(void **state)
{
	size_t len = strlen(rfc822.body);
	unsigned events = 0;

	(void)state;
	for (const char *p = rfc822.expect; *p != '\0'; p++)
		events += *p == '\n';
	for (unsigned k = 1; k <= events + 1; k++) {
		const char *p = rfc822.expect;
		size_t want;

		for (unsigned i = 0; i < k && *p != '\0'; i++)
			p = strchr(p, '\n') + 1;
		want = (size_t)(p - rfc822.expect);
		for (unsigned how = FEED_WHOLE; how < FEED_RANDOM + 3; how++) {
			char *got = run(rfc822.ct, NULL, 80, rfc822.body, len,
			    how, len / 2, k, true, true);

			assert_int_equal(strlen(got), want);
			assert_memory_equal(got, rfc822.expect, want);
			free(got);
		}
	}
}

/* test_stop_ignores - after a stop, feeding and the end do nothing */
static void
test_stop_ignores(void **state)
{
	struct rec r = { .line_max = 80, .stop_at = 1 };
	struct mime *m = mime_new(NULL, NULL, 80, rec_header, rec_line, &r);

	(void)state;
	mime_feed(m, "one\ntwo\n", 8);
	assert_true(mime_stopped(m));
	mime_feed(m, "three\n", 6);
	mime_end(m);
	mime_end(m);		/* no panic: stopped */
	assert_true(mime_stopped(m));
	assert_string_equal(buf_cstr(&r.out), "L one\n");
	assert_int_equal(r.events, 1);
	mime_free(&m);
	buf_free(&r.out);
}

/* test_null_callbacks - either callback may be NULL */
static void
test_null_callbacks(void **state)
{
	size_t len = strlen(rfc822.body);
	char *headers = run(rfc822.ct, NULL, 80, rfc822.body, len, FEED_BYTES,
	    0, 0, true, false);
	char *lines = run(rfc822.ct, NULL, 80, rfc822.body, len, FEED_BYTES,
	    0, 0, false, true);
	struct buf h = { 0 }, l = { 0 };
	struct mime *m;

	(void)state;
	for (const char *p = rfc822.expect; *p != '\0';) {
		const char *e = strchr(p, '\n') + 1;

		buf_append(*p == 'H' ? &h : &l, p, (size_t)(e - p));
		p = e;
	}
	assert_string_equal(headers, buf_cstr(&h));
	assert_string_equal(lines, buf_cstr(&l));
	m = mime_new(rfc822.ct, NULL, 80, NULL, NULL, NULL);
	mime_feed(m, rfc822.body, len);
	mime_end(m);
	assert_false(mime_stopped(m));
	mime_free(&m);
	free(headers);
	free(lines);
	buf_free(&h);
	buf_free(&l);
}

/* panic_small - line_max under 80 is a bug */
static void
panic_small(void)
{
	mime_new(NULL, NULL, 79, NULL, NULL, NULL);
}

/* panic_feed_after_end - so is feeding a finished reader */
static void
panic_feed_after_end(void)
{
	struct mime *m = mime_new(NULL, NULL, 80, NULL, NULL, NULL);

	mime_end(m);
	mime_feed(m, "x", 1);
}

/* panic_end_twice - and ending it twice */
static void
panic_end_twice(void)
{
	struct mime *m = mime_new(NULL, NULL, 80, NULL, NULL, NULL);

	mime_end(m);
	mime_end(m);
}

/* test_panics - misuse aborts */
static void
test_panics(void **state)
{
	(void)state;
	testutil_expect_abort(panic_small);
	testutil_expect_abort(panic_feed_after_end);
	testutil_expect_abort(panic_end_twice);
}

/* what a big run measures */
struct big {
	size_t line_max;
	size_t lines;
	size_t headers;
	size_t bytes;
	size_t heap_max;	/* bytes in use at most, while reading */
	size_t calls;
};

/* big_heap - note the heap in use now and then (mallinfo2 is slow;
 * where a sanitizer or valgrind keeps its own heap it says nothing) */
static void
big_heap(struct big *b)
{
	size_t used;

	if (b->calls++ % 1024 != 0)
		return;
	used = mallinfo2().uordblks;

	if (used > b->heap_max)
		b->heap_max = used;
}

/* big_header - count */
static bool
big_header(void *arg, const char *field, size_t len, unsigned depth)
{
	struct big *b = arg;

	(void)field;
	assert_true(len <= b->line_max);
	assert_true(depth >= 1 && depth <= MIME_DEPTH_MAX);
	b->headers++;
	big_heap(b);
	return true;
}

/* big_line - count */
static bool
big_line(void *arg, const char *line, size_t len)
{
	struct big *b = arg;

	(void)line;
	assert_true(len <= b->line_max);
	b->lines++;
	b->bytes += len;
	big_heap(b);
	return true;
}

/* cpu - process time so far in seconds */
static double
cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* big_run - read a large body in 64 KiB chunks; the CPU time, also
 * against a plain pass over the same bytes (so that the bound holds
 * under valgrind and sanitizers too) */
static void
big_run(const char *name, const char *ct, const char *cte,
    const struct buf *body, struct big *b)
{
	size_t line_max = b->line_max;
	struct mime *m;
	size_t base, grew;
	double t0, t1, t2;
	volatile uint32_t sink;
	uint32_t h = 0;

	t0 = cpu();
	for (size_t i = 0; i < body->len; i++)
		h = h * 31 + (unsigned char)body->data[i] +
		    (body->data[i] == '\n');
	sink = h;
	(void)sink;
	t1 = cpu();
	m = mime_new(ct, cte, line_max, big_header, big_line, b);
	base = mallinfo2().uordblks;
	b->heap_max = base;
	for (size_t off = 0; off < body->len; off += 65536) {
		size_t n = body->len - off < 65536 ? body->len - off : 65536;

		mime_feed(m, body->data + off, n);
		b->calls = 0;
		big_heap(b);
	}
	mime_end(m);
	t2 = cpu();
	mime_free(&m);
	grew = b->heap_max - base;
	print_message("# %s: %zu bytes in %.3f s (a plain pass %.3f s), "
	    "%zu lines, %zu headers, heap +%zu\n", name, body->len, t2 - t1,
	    t1 - t0, b->lines, b->headers, grew);
	/* the boundaries of 20 levels at most, nothing per input byte */
	assert_true(grew <= MIME_DEPTH_MAX * (line_max + 64) + 4096);
	assert_true(t2 - t1 < 1.0 || t2 - t1 < 60 * (t1 - t0));
}

#define BIG	(10 * 1024 * 1024)

/* test_big_base64 - a 10 MB base64 text part without one line break:
 * lines of line_max, no buffer grows */
static void
test_big_base64(void **state)
{
	struct buf body = { 0 };
	struct big b = { .line_max = 1000 };
	size_t start, payload;

	(void)state;
	buf_puts(&body, "--x\nContent-Type: text/plain\n"
	    "Content-Transfer-Encoding: base64\n\n");
	start = body.len;
	while (body.len < BIG)
		buf_puts(&body, "QUFBQUFB");
	payload = body.len - start;
	buf_puts(&body, "\n--x--\n");
	big_run("base64 without line breaks", "multipart/mixed; boundary=x",
	    NULL, &body, &b);
	assert_int_equal(b.bytes, payload / 4 * 3);
	assert_int_equal(b.lines, (b.bytes + 999) / 1000);
	buf_free(&body);
}

/* test_big_line - one 10 MB line, as it is and quoted-printable padding
 * (white space and '=') */
static void
test_big_line(void **state)
{
	static const char *const fill[] = { "abcdefgh", "        ",
	    "= = = = ", "=\t=\t=\t=\t", "=4=4=4=4", "--x-----" };
	struct buf body = { 0 };

	(void)state;
	for (size_t f = 0; f < sizeof(fill) / sizeof(fill[0]); f++) {
		struct big b = { .line_max = 1000 };
		size_t start, payload;

		buf_reset(&body);
		buf_puts(&body, "--x\nContent-Type: text/plain\n"
		    "Content-Transfer-Encoding: quoted-printable\n\n");
		start = body.len;
		while (body.len < BIG)
			buf_puts(&body, fill[f]);
		payload = body.len - start;
		buf_puts(&body, "\n--x--\n");
		big_run(fill[f], "multipart/mixed; boundary=x", NULL, &body,
		    &b);
		/* all of it as it is (invalid '=' sequences too), but for
		 * the white space at the end */
		assert_true(b.bytes <= payload && b.bytes + 64 >= payload);
		assert_int_equal(b.lines, (b.bytes + 999) / 1000);
	}
	buf_free(&body);
}

/* test_big_nesting - a thousand nested multiparts, then lines that
 * start like each of twenty long boundaries sharing a prefix, then a
 * 10 MB header field and 10 MB of header lines without colon */
static void
test_big_nesting(void **state)
{
	struct buf body = { 0 }, bnd = { 0 };
	struct big b = { .line_max = 1000 };
	size_t start, len, rounds = 0;

	(void)state;
	for (size_t i = 0; i < 900; i++)
		buf_putc(&bnd, 'B');
	nest(&body, 1000);
	body.len -= strlen("--b0--\n");	/* leave it open */
	/* multiparts in multiparts, their parts at depth 1 to 20 */
	buf_puts(&body, "--b0\n");
	for (unsigned i = 1; i < MIME_DEPTH_MAX; i++)
		buf_printf(&body, "Content-Type: multipart/mixed; "
		    "boundary=\"%s%u\"\n\n--%s%u\n", bnd.data, i, bnd.data, i);
	buf_puts(&body, "\n");
	for (; body.len < BIG; rounds++)
		buf_printf(&body, "--%s-\n--%s1-\n-\n", bnd.data, bnd.data);
	big_run("nesting and boundary prefixes",
	    "multipart/mixed; boundary=b0", NULL, &body, &b);
	assert_int_equal(b.headers, MIME_DEPTH_MAX * 2);
	assert_int_equal(b.lines, 1 + rounds * 3);

	b = (struct big){ .line_max = 1000 };
	buf_reset(&body);
	buf_puts(&body, "--b0\nX-Huge: ");
	while (body.len < BIG / 2)
		buf_puts(&body, "hhhhhhhh");
	buf_puts(&body, "\n");
	while (body.len < BIG)
		buf_puts(&body, " folded\n");
	buf_puts(&body, "--b0\n");
	start = body.len;
	while (body.len < BIG * 3 / 2)
		buf_puts(&body, "NoColonNameNoColonName");
	len = body.len - start;
	buf_puts(&body, "\n--b0--\n");
	big_run("huge header fields", "multipart/mixed; boundary=b0", NULL,
	    &body, &b);
	assert_int_equal(b.headers, 1);
	assert_int_equal(b.bytes, len);
	assert_int_equal(b.lines, (len + 999) / 1000);
	buf_free(&body);
	buf_free(&bnd);
}

/* test_big_skipped - 10 MB of attachment and of short lines */
static void
test_big_skipped(void **state)
{
	struct buf body = { 0 };
	struct big b = { .line_max = 1000 };
	size_t lfs = 0;

	(void)state;
	buf_puts(&body, "--x\nContent-Type: application/pdf\n\n");
	while (body.len < BIG)
		buf_puts(&body, "-\n--\n--x-\n--xx\n");
	buf_puts(&body, "--x\n\nlast\n--x--\n");
	big_run("short lines in an attachment",
	    "multipart/mixed; boundary=x", NULL, &body, &b);
	assert_int_equal(b.lines, 1);

	b = (struct big){ .line_max = 1000 };
	big_run("short lines as text", NULL, NULL, &body, &b);
	for (size_t i = 0; i < body.len; i++)
		lfs += body.data[i] == '\n';
	assert_int_equal(b.lines, lfs);
	buf_free(&body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_plain_cr),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_one_empty_line),
		cmocka_unit_test(test_html_8bit),
		cmocka_unit_test(test_top_octets),
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_alternative),
		cmocka_unit_test(test_pdf),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_rfc822),
		cmocka_unit_test(test_top_rfc822),
		cmocka_unit_test(test_top_global),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_folded),
		cmocka_unit_test(test_unclosed),
		cmocka_unit_test(test_unclosed_header),
		cmocka_unit_test(test_close_at_end),
		cmocka_unit_test(test_open_at_end),
		cmocka_unit_test(test_b64_garbage),
		cmocka_unit_test(test_lookalike),
		cmocka_unit_test(test_outer_ends_inner),
		cmocka_unit_test(test_same_boundary),
		cmocka_unit_test(test_cut_type),
		cmocka_unit_test(test_eol_before_boundary),
		cmocka_unit_test(test_not_header),
		cmocka_unit_test(test_odd_types),
		cmocka_unit_test(test_mixed_ends),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_line_max),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_stop_ignores),
		cmocka_unit_test(test_null_callbacks),
		cmocka_unit_test(test_panics),
		cmocka_unit_test(test_big_base64),
		cmocka_unit_test(test_big_line),
		cmocka_unit_test(test_big_nesting),
		cmocka_unit_test(test_big_skipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
