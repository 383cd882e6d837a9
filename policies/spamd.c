/*
 * spamd.c - content scoring by SpamAssassin's spamd (see spamd.h and
 * filterd.conf(5))
 *
 * What spamd answers (Debian 12's spamd 4.0.1; facts from the protocol
 * description in SpamAssassin's spamd/PROTOCOL and its replies):
 *
 *	SYMBOLS		"SPAMD/1.1 0 EX_OK\r\n", "Content-length: N\r\n",
 *			"Spam: True ; 11.6 / 5.0\r\n", "\r\n", then the rule
 *			names sorted and comma-separated, no line end
 *	REPORT		the same, then the report template's text with
 *			bare LF line ends; its summary lines are
 *			"SCORE RULE DESCRIPTION" (" 3.5 POSTERN_SUBJ ..."),
 *			in an order that changes from one scan to the next
 *	an error	"SPAMD/1.0 76 Bad header line: ...\r\n", and the
 *			connection is closed (at once for a bad request
 *			head, while the client may still be writing)
 * Older servers say "Yes"/"No" in the Spam header; unknown headers are to
 * be ignored; the client shuts its writing side when the request is
 * sent.
 *
 * A reply is untrusted input: it is read into a buffer of SPAMD_REPLY_MAX
 * bytes (more is a failure, never a cut), parsed strictly (a status line,
 * "Name: value" lines, exactly one Spam header, at most one
 * Content-length that the body must match to the byte, rule names of
 * letters, digits and '_'), and every byte of it that goes into a header
 * or a log is printable ASCII. A reply that does not parse fails that
 * server, which is logged with its name, and the next is asked; so does
 * an answer that comes before the whole message was sent (a verdict
 * about part of a message is no verdict).
 *
 * One deadline bounds the conversation with every server together (the
 * core's timeout of the module); each connect is bounded by
 * connect_timeout as well, so that a server that does not answer SYNs
 * leaves time for the next one.
 *
 * The message is collected by msgspool.h (byte for byte, with
 * POLICY_NEEDS_LEADSPC). The first Subject and the X-Spam-* fields of our
 * own that the message brings are noted on the way: a scanned message
 * gets ours only, so that a sender cannot pass "X-Spam-Flag: NO" or a
 * status of its own to the mailbox's filters.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "mem.h"
#include "msgspool.h"
#include "netconn.h"
#include "policy.h"
#include "spamd.h"
#include "spool.h"

/* the whole reply, header and body; a report is a few KB */
#define SPAMD_REPLY_MAX		(64 * 1024)
/* the status line and one header line; spamd's are short */
#define SPAMD_LINE_MAX		1024
/* a score as spamd writes it ("-12.3"): 6 digits, a point, 3 decimals */
#define SPAMD_NUM_MAX		11
/* a rule name (SpamAssassin's are far shorter) */
#define SPAMD_RULE_MAX		128
/* a report line in X-Spam-Report */
#define SPAMD_REPORT_LINE	200
/* a header line is folded before this column */
#define SPAMD_FOLD		78
/* one write: the request's head and a piece of the message */
#define SPAMD_CHUNK		65536
#define SPAMD_WHY_MAX		512
/* what of a bad reply a log line shows */
#define SPAMD_QUOTE_MAX		80
/* the User header's value */
#define SPAMD_USER_MAX		256

/* Fields of ours; one that the message brings is removed when it is
 * scanned. */
enum spamd_field {
	SPAMD_FIELD_STATUS,
	SPAMD_FIELD_FLAG,
	SPAMD_FIELD_REPORT,
	SPAMD_FIELDS
};

static const char *const spamd_field_names[] = {
	[SPAMD_FIELD_STATUS] = "X-Spam-Status",
	[SPAMD_FIELD_FLAG] = "X-Spam-Flag",
	[SPAMD_FIELD_REPORT] = "X-Spam-Report",
	NULL,
};

/* What a User may hold: the protocol's user names ([-A-Za-z0-9_]+) and
 * what virtual users add. */
static const char spamd_user_chars[] = "abcdefghijklmnopqrstuvwxyz"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@+";

/* The words of the Spam header, as spamd wrote them in each version. */
static const struct {
	const char *word;
	bool spam;
} spamd_verdict_words[] = {
	{ .word = "True", .spam = true },
	{ .word = "False", .spam = false },
	{ .word = "Yes", .spam = true },
	{ .word = "No", .spam = false },
	{ 0 },
};

struct spamd_config {
	struct conf_list servers;
	const char *user;
	bool report;
	uint64_t max_size;
	double connect_timeout;
	double score_scale;
	const char *flag_score;
	double reject_score;
	double quarantine_score;
	const char *subject_tag;
	bool skip_authenticated;
	bool skip_mynetworks;
	const char *temp_dir;
	uint64_t spool_memory;

	/* made by init */
	struct netconn_addr **addrs;
	size_t naddrs;
	double flag;			/* NAN: spamd's own verdict */
	struct msgspool_limits limits;
};

/* per message */
struct spamd_msg {
	bool started;			/* exemption decided */
	const char *skip;		/* not scanned: why (static) */
	struct msgspool ms;
	const char *subject;		/* the first Subject (message arena) */
	unsigned fields[SPAMD_FIELDS];	/* ours the message brought */
};

/* What spamd said about a message. */
struct spamd_answer {
	bool spam;
	double score, required;
	char score_text[SPAMD_NUM_MAX + 1];	/* as spamd wrote them */
	char required_text[SPAMD_NUM_MAX + 1];
	struct buf tests;		/* "A,B,C"; empty: none */
	struct buf report;		/* lines joined by LF; report = yes */
};

/* What became of one server. */
enum spamd_outcome {
	SPAMD_DONE,		/* the answer is in conv->answer */
	SPAMD_FAILED,		/* the server failed: why says how */
	SPAMD_LOCAL,		/* our side failed (the spool): why says how */
};

/* What the parser makes of the bytes so far. */
enum spamd_parse {
	SPAMD_PARSE_MORE,	/* incomplete: read on */
	SPAMD_PARSE_OK,
	SPAMD_PARSE_BAD,	/* conv->why says why */
};

/* One conversation with one server. */
struct spamd_conv {
	const struct spamd_config *cfg;
	const struct netconn_addr *srv;
	int fd;
	double deadline;
	char *reply;			/* SPAMD_REPLY_MAX + 1 bytes */
	size_t len;
	struct spamd_answer answer;
	char why[SPAMD_WHY_MAX];
	char nwhy[256];			/* netconn's text */
};

/* spamd_fail - set conv->why to "spamd SERVER: text"; SPAMD_FAILED */
static enum spamd_outcome __attribute__((format(printf, 2, 3)))
spamd_fail(struct spamd_conv *conv, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(conv->why, sizeof(conv->why), "spamd %s: ",
	    netconn_name(conv->srv));
	if (n < 0 || (size_t)n >= sizeof(conv->why))
		return SPAMD_FAILED;
	va_start(ap, fmt);
	vsnprintf(conv->why + n, sizeof(conv->why) - (size_t)n, fmt, ap);
	va_end(ap);
	return SPAMD_FAILED;
}

/* spamd_quote - up to SPAMD_QUOTE_MAX bytes of p as printable ASCII in
 * out (control and 8-bit bytes made '?', "..." when cut) */
static const char *
spamd_quote(char out[SPAMD_QUOTE_MAX + 4], const char *p, size_t len)
{
	size_t i, n = len > SPAMD_QUOTE_MAX ? SPAMD_QUOTE_MAX : len;

	for (i = 0; i < n; i++)
		out[i] = (unsigned char)p[i] < 0x20 ||
		    (unsigned char)p[i] >= 0x7f ? '?' : p[i];
	if (n < len)
		memcpy(out + n, "...", 4);
	else
		out[n] = '\0';
	return out;
}

/* --- the reply ------------------------------------------------------------ */

/*
 * spamd_number - a score "-12.5" at *pp (at most 6 digits, a point and
 * 3 decimals) into *v and text; advances *pp. false for anything else.
 */
static bool
spamd_number(const char **pp, const char *end, double *v, char *text)
{
	const char *p = *pp, *start = p;
	size_t digits = 0, decimals = 0;

	if (p < end && *p == '-')
		p++;
	while (p < end && isdigit((unsigned char)*p) && digits <= 6) {
		p++;
		digits++;
	}
	if (digits == 0 || digits > 6)
		return false;
	if (p < end && *p == '.') {
		p++;
		while (p < end && isdigit((unsigned char)*p) &&
		    decimals <= 3) {
			p++;
			decimals++;
		}
		if (decimals == 0 || decimals > 3)
			return false;
	}
	memcpy(text, start, (size_t)(p - start));
	text[p - start] = '\0';
	*v = strtod(text, NULL);
	*pp = p;
	return true;
}

/* spamd_blanks - skip spaces and tabs */
static const char *
spamd_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* spamd_spam_header - "True ; 15.0 / 5.0" into the answer; false when
 * it is anything else */
static bool
spamd_spam_header(struct spamd_answer *a, const char *p, const char *end)
{
	size_t i, n;

	for (i = 0; spamd_verdict_words[i].word != NULL; i++) {
		n = strlen(spamd_verdict_words[i].word);
		if ((size_t)(end - p) >= n &&
		    memcmp(p, spamd_verdict_words[i].word, n) == 0 &&
		    (p + n == end || p[n] == ' ' || p[n] == ';'))
			break;
	}
	if (spamd_verdict_words[i].word == NULL)
		return false;
	a->spam = spamd_verdict_words[i].spam;
	p = spamd_blanks(p + n, end);
	if (p == end || *p++ != ';')
		return false;
	p = spamd_blanks(p, end);
	if (!spamd_number(&p, end, &a->score, a->score_text))
		return false;
	p = spamd_blanks(p, end);
	if (p == end || *p++ != '/')
		return false;
	p = spamd_blanks(p, end);
	if (!spamd_number(&p, end, &a->required, a->required_text))
		return false;
	return spamd_blanks(p, end) == end;
}

/* spamd_rule_len - the length of a rule name at p (letters, digits,
 * '_'), 0 if none */
static size_t
spamd_rule_len(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && (isalnum((unsigned char)*q) || *q == '_'))
		q++;
	return (size_t)(q - p);
}

/* spamd_symbols - SYMBOLS' body: "A,B,C", line ends after it allowed;
 * SPAMD_PARSE_OK or BAD */
static enum spamd_parse
spamd_symbols(struct spamd_conv *conv, const char *p, const char *end)
{
	char q[SPAMD_QUOTE_MAX + 4];
	size_t n;

	while (end > p && (end[-1] == '\r' || end[-1] == '\n'))
		end--;
	while (p < end) {
		n = spamd_rule_len(p, end);
		if (n == 0 || n > SPAMD_RULE_MAX ||
		    (p + n < end && p[n] != ',') || p + n + 1 == end) {
			spamd_fail(conv, "bad rule list \"%s\"",
			    spamd_quote(q, p, (size_t)(end - p)));
			return SPAMD_PARSE_BAD;
		}
		if (conv->answer.tests.len > 0)
			buf_putc(&conv->answer.tests, ',');
		buf_append(&conv->answer.tests, p, n);
		p += n + (p + n < end);
	}
	return SPAMD_PARSE_OK;
}

/*
 * spamd_report_line - one line of REPORT's body: kept for X-Spam-Report
 * (printable, trailing blanks cut, at most SPAMD_REPORT_LINE bytes), and
 * its rule named in tests when it is a summary line ("SCORE RULE ...",
 * indented by at most 4 spaces, as the _SUMMARY_ template writes it)
 */
static void
spamd_report_line(struct spamd_answer *a, const char *p, const char *end)
{
	const char *q = p;
	char num[SPAMD_NUM_MAX + 1];
	double v;
	size_t n, i;

	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r'))
		end--;
	if (end == p)
		return;
	if (a->report.len > 0)
		buf_putc(&a->report, '\n');
	n = (size_t)(end - p) > SPAMD_REPORT_LINE ? SPAMD_REPORT_LINE :
	    (size_t)(end - p);
	for (i = 0; i < n; i++)
		buf_putc(&a->report, p[i] == '\t' ? ' ' :
		    (unsigned char)p[i] < 0x20 ||
		    (unsigned char)p[i] >= 0x7f ? '?' : p[i]);

	while (q < end && q - p < 4 && *q == ' ')
		q++;
	if (!spamd_number(&q, end, &v, num) || q == end || *q != ' ')
		return;
	q = spamd_blanks(q, end);
	n = spamd_rule_len(q, end);
	if (n == 0 || n > SPAMD_RULE_MAX || (q + n < end && q[n] != ' ' &&
	    q[n] != '\t'))
		return;
	if (a->tests.len > 0)
		buf_putc(&a->tests, ',');
	buf_append(&a->tests, q, n);
}

/* spamd_cmp - qsort order of rule names */
static int
spamd_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * spamd_report - REPORT's body, line by line; the rules sorted by name,
 * as SYMBOLS gives them (the report lists them in an order of its own,
 * which changes from one scan to the next)
 */
static void
spamd_report(struct spamd_answer *a, const char *p, const char *end)
{
	char *copy, *s, **names;
	size_t n = 1, i;
	const char *nl;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		spamd_report_line(a, p, nl != NULL ? nl : end);
		p = nl != NULL ? nl + 1 : end;
	}
	if (a->tests.len == 0)
		return;
	copy = xstrdup(buf_cstr(&a->tests));
	for (s = copy; *s != '\0'; s++)
		n += *s == ',';
	names = xcalloc(n, sizeof(*names));
	for (i = 0, s = copy; i < n; i++) {
		names[i] = s;
		s += strcspn(s, ",");
		if (*s == ',')
			*s++ = '\0';
	}
	qsort(names, n, sizeof(*names), spamd_cmp);
	buf_reset(&a->tests);
	for (i = 0; i < n; i++)
		buf_printf(&a->tests, "%s%s", i > 0 ? "," : "", names[i]);
	free(names);
	free(copy);
}

/*
 * spamd_status - the status line [p, end): "SPAMD/1.1 0 EX_OK";
 * SPAMD_PARSE_OK, or BAD with conv->why (an error code is spamd's own
 * refusal, anything else is not spamd)
 */
static enum spamd_parse
spamd_status(struct spamd_conv *conv, const char *p, const char *end)
{
	static const char proto[] = "SPAMD/", ok[] = "0 EX_OK";
	const char *s = p + sizeof(proto) - 1;
	char q[SPAMD_QUOTE_MAX + 4];
	size_t n;

	if ((size_t)(end - p) < sizeof(proto) - 1 ||
	    memcmp(p, proto, sizeof(proto) - 1) != 0)
		goto bad;
	for (n = 0; s < end && isdigit((unsigned char)*s); s++, n++)
		;
	if (n == 0 || s == end || *s++ != '.')
		goto bad;
	for (n = 0; s < end && isdigit((unsigned char)*s); s++, n++)
		;
	if (n == 0 || s == end || *s++ != ' ')
		goto bad;
	if ((size_t)(end - s) == sizeof(ok) - 1 &&
	    memcmp(s, ok, sizeof(ok) - 1) == 0)
		return SPAMD_PARSE_OK;
	for (n = 0; s + n < end && isdigit((unsigned char)s[n]); n++)
		;
	if (n == 0 || n > 3 || s + n == end || s[n] != ' ')
		goto bad;
	spamd_fail(conv, "error: %s", spamd_quote(q, s, (size_t)(end - s)));
	return SPAMD_PARSE_BAD;
bad:
	spamd_fail(conv, "unexpected reply \"%s\"", spamd_quote(q, p,
	    (size_t)(end - p)));
	return SPAMD_PARSE_BAD;
}

/* spamd_line - the next CR LF line from *pp: its end, or NULL when it
 * has not all arrived */
static const char *
spamd_line(const char *p, const char *end)
{
	const char *cr;

	for (cr = p; (cr = memchr(cr, '\r', (size_t)(end - cr))) != NULL;
	    cr++)
		if (cr + 1 < end && cr[1] == '\n')
			return cr;
	return NULL;
}

/*
 * spamd_parse - what the bytes so far make: MORE while the reply is not
 * whole and more may come (eof: none will), OK with conv->answer filled,
 * or BAD with conv->why. Parsed again from the start after each read: a
 * reply is small, and a parser without state cannot be led astray.
 */
static enum spamd_parse
spamd_parse(struct spamd_conv *conv, bool eof)
{
	struct spamd_answer *a = &conv->answer;
	const char *p = conv->reply, *end = conv->reply + conv->len;
	const char *eol, *colon, *v;
	char q[SPAMD_QUOTE_MAX + 4];
	bool have_spam = false, have_length = false;
	size_t length = 0, body;

	buf_reset(&a->tests);
	buf_reset(&a->report);
	if ((eol = spamd_line(p, end)) == NULL) {
		if (conv->len > SPAMD_LINE_MAX || (eof && conv->len > 0)) {
			spamd_fail(conv, "unexpected reply \"%s\"",
			    spamd_quote(q, p, conv->len));
			return SPAMD_PARSE_BAD;
		}
		if (eof) {
			spamd_fail(conv, "connection closed without a reply");
			return SPAMD_PARSE_BAD;
		}
		return SPAMD_PARSE_MORE;
	}
	if (spamd_status(conv, p, eol) != SPAMD_PARSE_OK)
		return SPAMD_PARSE_BAD;
	for (p = eol + 2;; p = eol + 2) {
		if ((eol = spamd_line(p, end)) == NULL) {
			if (!eof && end - p <= SPAMD_LINE_MAX)
				return SPAMD_PARSE_MORE;
			spamd_fail(conv, eof ? "reply truncated in the header" :
			    "header line longer than %d bytes",
			    SPAMD_LINE_MAX);
			return SPAMD_PARSE_BAD;
		}
		if (eol == p)
			break;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p || strspn(p, "ABCDEFGHIJKLMN"
		    "OPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") <
		    (size_t)(colon - p)) {
			spamd_fail(conv, "bad header line \"%s\"",
			    spamd_quote(q, p, (size_t)(eol - p)));
			return SPAMD_PARSE_BAD;
		}
		v = spamd_blanks(colon + 1, eol);
		if ((size_t)(colon - p) == 4 && strncasecmp(p, "Spam", 4) ==
		    0) {
			if (have_spam || !spamd_spam_header(a, v, eol)) {
				spamd_fail(conv, have_spam ? "two Spam "
				    "headers" : "bad Spam header \"%s\"",
				    spamd_quote(q, v, (size_t)(eol - v)));
				return SPAMD_PARSE_BAD;
			}
			have_spam = true;
		} else if ((size_t)(colon - p) == 14 &&
		    strncasecmp(p, "Content-length", 14) == 0) {
			length = 0;
			if (have_length || v == eol || (size_t)(eol - v) > 9 ||
			    strspn(v, "0123456789") < (size_t)(eol - v)) {
				spamd_fail(conv, have_length ? "two "
				    "Content-length headers" : "bad "
				    "Content-length \"%s\"", spamd_quote(q, v,
				    (size_t)(eol - v)));
				return SPAMD_PARSE_BAD;
			}
			for (; v < eol; v++)
				length = length * 10 + (size_t)(*v - '0');
			have_length = true;
		}
		/* other headers are to be ignored (the protocol's rule) */
	}
	p = eol + 2;
	body = (size_t)(end - p);
	if (!have_spam) {
		spamd_fail(conv, "no Spam header in the reply");
		return SPAMD_PARSE_BAD;
	}
	if (have_length && body > length) {
		spamd_fail(conv, "%zu bytes more than Content-length %zu",
		    body - length, length);
		return SPAMD_PARSE_BAD;
	}
	if (have_length ? body < length : !eof) {
		if (!eof)
			return SPAMD_PARSE_MORE;
		spamd_fail(conv, "reply truncated: %zu of %zu bytes", body,
		    length);
		return SPAMD_PARSE_BAD;
	}
	if (!conv->cfg->report)
		return spamd_symbols(conv, p, end);
	spamd_report(a, p, end);
	return SPAMD_PARSE_OK;
}

/* --- the conversation ----------------------------------------------------- */

/*
 * spamd_send - the request: the head, then the spool's bytes; the
 * writing side is shut after it. SPAMD_DONE, FAILED with conv->why, or
 * LOCAL when the spool cannot give its bytes.
 */
static enum spamd_outcome
spamd_send(struct spamd_conv *conv, const struct buf *head,
    struct spool *sp, unsigned char *buf)
{
	uint64_t size = spool_size(sp), off = 0;
	size_t len = head->len, want;
	char failed[sizeof(conv->nwhy)];
	const char *why;
	ssize_t n;
	int err;

	if (head->len > SPAMD_CHUNK / 2)
		log_panic("spamd: request head of %zu bytes", head->len);
	memcpy(buf, head->data, head->len);
	for (;;) {
		want = size - off > SPAMD_CHUNK - len ? SPAMD_CHUNK - len :
		    (size_t)(size - off);
		while (want > 0) {
			if ((n = spool_read(sp, off, buf + len, want)) <= 0) {
				snprintf(conv->why, sizeof(conv->why),
				    "spamd: spool: %s", n < 0 ?
				    spool_error(sp) : "the message ended "
				    "early");
				return SPAMD_LOCAL;
			}
			off += (uint64_t)n;
			len += (size_t)n;
			want -= (size_t)n;
		}
		if (len > 0 && !netconn_send(conv->fd, buf, len,
		    conv->deadline, conv->nwhy, sizeof(conv->nwhy), &why))
			break;
		if (off == size) {
			(void)shutdown(conv->fd, SHUT_WR);
			return SPAMD_DONE;
		}
		len = 0;
	}
	/* spamd refuses a bad request at once, saying why: that is the
	 * reason, not the write it broke off */
	err = errno;
	snprintf(failed, sizeof(failed), "%s", why);
	if (err != ETIMEDOUT) {
		n = netconn_recv(conv->fd, conv->reply, SPAMD_REPLY_MAX,
		    policy_now(), conv->nwhy, sizeof(conv->nwhy), &why);
		conv->len = n > 0 ? (size_t)n : 0;
		if (n > 0 && spamd_parse(conv, true) == SPAMD_PARSE_BAD)
			return SPAMD_FAILED;
	}
	return spamd_fail(conv, "%s", failed);
}

/* spamd_receive - the reply into conv->answer; SPAMD_DONE, or FAILED
 * with conv->why */
static enum spamd_outcome
spamd_receive(struct spamd_conv *conv)
{
	enum spamd_parse r;
	const char *why;
	ssize_t n;

	for (;;) {
		/* one byte over the limit tells a long reply from a full
		 * one */
		n = netconn_recv(conv->fd, conv->reply + conv->len,
		    SPAMD_REPLY_MAX + 1 - conv->len, conv->deadline,
		    conv->nwhy, sizeof(conv->nwhy), &why);
		if (n < 0)
			return spamd_fail(conv, "%s", why);
		conv->len += (size_t)n;
		if (conv->len > SPAMD_REPLY_MAX)
			return spamd_fail(conv, "reply longer than %d bytes",
			    SPAMD_REPLY_MAX);
		if ((r = spamd_parse(conv, n == 0)) == SPAMD_PARSE_OK)
			return SPAMD_DONE;
		if (r == SPAMD_PARSE_BAD)
			return SPAMD_FAILED;
	}
}

/*
 * spamd_ask - one server: connect (within connect_timeout too), send,
 * read, parse
 */
static enum spamd_outcome
spamd_ask(struct spamd_conv *conv, const struct buf *head, struct spool *sp,
    unsigned char *buf)
{
	double cdl = policy_now() + conv->cfg->connect_timeout;
	enum spamd_outcome o;
	const char *why;

	if (conv->deadline > 0 && conv->deadline < cdl)
		cdl = conv->deadline;
	conv->len = 0;
	conv->nwhy[0] = '\0';
	conv->fd = netconn_connect(conv->srv, cdl, conv->nwhy,
	    sizeof(conv->nwhy), &why);
	if (conv->fd < 0)
		return spamd_fail(conv, "%s", why);
	if ((o = spamd_send(conv, head, sp, buf)) == SPAMD_DONE)
		o = spamd_receive(conv);
	close(conv->fd);
	conv->fd = -1;
	return o;
}

/*
 * spamd_scan - ask each server in turn until one answers: SPAMD_DONE
 * with conv->answer, or the last failure with conv->why. A failed server
 * is logged, naming the next one, while there is one and time to ask it.
 */
static enum spamd_outcome
spamd_scan(struct spamd_conv *conv, struct spool *sp, double deadline,
    const char *qid)
{
	const struct spamd_config *cfg = conv->cfg;
	unsigned char *buf = xmalloc(SPAMD_CHUNK);
	enum spamd_outcome o = SPAMD_FAILED;
	struct buf head = { 0 };
	size_t i;

	buf_printf(&head, "%s SPAMC/1.5\r\nContent-length: %" PRIu64 "\r\n",
	    cfg->report ? "REPORT" : "SYMBOLS", spool_size(sp));
	if (cfg->user[0] != '\0')
		buf_printf(&head, "User: %s\r\n", cfg->user);
	buf_puts(&head, "\r\n");
	conv->deadline = deadline;
	conv->reply = xmalloc(SPAMD_REPLY_MAX + 1);
	for (i = 0; i < cfg->naddrs; i++) {
		conv->srv = cfg->addrs[i];
		if ((o = spamd_ask(conv, &head, sp, buf)) != SPAMD_FAILED)
			break;
		if (i + 1 == cfg->naddrs || (deadline > 0 &&
		    policy_now() >= deadline))
			break;
		log_msg(LOG_WARNING, qid, "%s; asking %s", conv->why,
		    netconn_name(cfg->addrs[i + 1]));
	}
	free(conv->reply);
	conv->reply = NULL;
	buf_free(&head);
	free(buf);
	return o;
}

/* --- verdicts ------------------------------------------------------------- */

/* spamd_status_value - "Yes, score=S required=R tests=A,B,C", folded
 * before SPAMD_FOLD between rule names */
static const char *
spamd_status_value(struct arena *arena, const struct spamd_answer *a)
{
	const char *p = a->tests.len > 0 ? buf_cstr(&a->tests) : "none";
	struct buf b = { 0 };
	size_t col, n;
	char *r;

	buf_printf(&b, "%s, score=%s required=%s tests=", a->spam ? "Yes" :
	    "No", a->score_text, a->required_text);
	col = strlen("X-Spam-Status: ") + b.len;
	for (;;) {
		n = strcspn(p, ",");
		if (col + n + 1 > SPAMD_FOLD && col > 8) {
			buf_puts(&b, "\n\t");
			col = 8;
		}
		buf_append(&b, p, n);
		col += n;
		if (p[n] == '\0')
			break;
		buf_putc(&b, ',');
		col++;
		p += n + 1;
	}
	r = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return r;
}

/* spamd_report_value - the report's lines as one folded value */
static const char *
spamd_report_value(struct arena *arena, const struct spamd_answer *a)
{
	struct buf b = { 0 };
	const char *p;
	char *r;

	for (p = buf_cstr(&a->report); *p != '\0'; p++)
		if (*p == '\n')
			buf_puts(&b, "\n\t");
		else
			buf_putc(&b, *p);
	r = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return r;
}

/* spamd_tag_subject - prefix the Subject with subject_tag, once */
static void
spamd_tag_subject(const struct spamd_config *cfg, struct txn *txn,
    const struct spamd_msg *m)
{
	size_t n = strlen(cfg->subject_tag);

	if (m->subject == NULL)
		txn_add_header(txn, "Subject", cfg->subject_tag);
	else if (m->subject[0] == '\0')
		txn_change_header(txn, "Subject", 1, cfg->subject_tag);
	else if (strncmp(m->subject, cfg->subject_tag, n) != 0)
		txn_change_header(txn, "Subject", 1, arena_printf(
		    txn_msg_arena(txn), "%s %s", cfg->subject_tag,
		    m->subject));
}

/* spamd_headers - ours in place of any the message brought */
static void
spamd_headers(const struct spamd_config *cfg, struct txn *txn,
    const struct spamd_msg *m, const struct spamd_answer *a, bool flagged)
{
	struct arena *arena = txn_msg_arena(txn);
	unsigned f, i;

	for (f = 0; f < SPAMD_FIELDS; f++)
		for (i = m->fields[f]; i > 0; i--)
			txn_change_header(txn, spamd_field_names[f], i, NULL);
	if (flagged)
		txn_add_header(txn, "X-Spam-Flag", "YES");
	txn_add_header(txn, "X-Spam-Status", spamd_status_value(arena, a));
	if (flagged && cfg->report && a->report.len > 0)
		txn_add_header(txn, "X-Spam-Report", spamd_report_value(arena,
		    a));
	if (flagged && cfg->subject_tag[0] != '\0')
		spamd_tag_subject(cfg, txn, m);
}

/* spamd_verdict - the answer as score, action, headers and reason */
static void
spamd_verdict(const struct spamd_config *cfg, struct txn *txn,
    const struct spamd_msg *m, const struct spamd_answer *a,
    struct verdict *v)
{
	bool flagged = isnan(cfg->flag) ? a->spam : a->score >= cfg->flag;

	v->score = a->score * cfg->score_scale;
	v->reason = arena_printf(txn_msg_arena(txn), "score=%s required=%s "
	    "tests=%s", a->score_text, a->required_text, a->tests.len > 0 ?
	    buf_cstr(&a->tests) : "none");
	if (a->score >= cfg->reject_score) {
		v->action = VERDICT_REJECT;
		v->code = "550";
		v->xcode = "5.7.1";
		v->text = "Spam message rejected";
		return;		/* a refused message keeps no header */
	}
	if (a->score >= cfg->quarantine_score)
		v->action = VERDICT_QUARANTINE;
	spamd_headers(cfg, txn, m, a, flagged);
}

/* --- stages --------------------------------------------------------------- */

/*
 * spamd_msg_start - on the first stage of a message that sees it:
 * decide whether it is scanned. false: a lookup failed.
 */
static bool
spamd_msg_start(const struct spamd_config *cfg, struct txn *txn,
    struct spamd_msg *m)
{
	bool failed;

	if (m == NULL)
		log_panic("spamd: message stage without message state");
	if (!m->started) {
		m->skip = msgspool_exempt(txn, cfg->skip_authenticated,
		    cfg->skip_mynetworks, "spamd", &failed);
		m->started = !failed;
	}
	return m->started;
}

/* spamd_note - a header field: the first Subject, and ours counted */
static void
spamd_note(struct txn *txn, struct spamd_msg *m)
{
	const char *name = txn_header_name(txn), *value;
	unsigned f;

	if (name == NULL)
		return;
	if (m->subject == NULL && strcasecmp(name, "Subject") == 0) {
		value = txn_header_value(txn);
		m->subject = arena_strdup(txn_msg_arena(txn), value != NULL ?
		    value : "");
	}
	for (f = 0; f < SPAMD_FIELDS; f++)
		if (strcasecmp(name, spamd_field_names[f]) == 0)
			m->fields[f]++;
}

/* What each collecting stage adds to the message. */
static void (*const spamd_collectors[POLICY_STAGES])(struct msgspool *,
    const struct msgspool_limits *, struct txn *) = {
	[POLICY_HEADER] = msgspool_header,
	[POLICY_EOH] = msgspool_eoh,
	[POLICY_BODY] = msgspool_body,
};

/* spamd_collect - HEADER, EOH, BODY: the message as received */
static enum policy_status
spamd_collect(const struct policy_call *call, struct verdict *v)
{
	const struct spamd_config *cfg = call->config;
	struct spamd_msg *m = call->msg;

	(void)v;
	if (spamd_collectors[call->stage] == NULL)
		log_panic("spamd: no collector for stage %d",
		    (int)call->stage);
	if (!spamd_msg_start(cfg, call->txn, m))
		return POLICY_FAILED;
	if (m->skip != NULL)
		return POLICY_DONE;
	spamd_collectors[call->stage](&m->ms, &cfg->limits, call->txn);
	if (call->stage == POLICY_HEADER)
		spamd_note(call->txn, m);
	return POLICY_DONE;
}

/* spamd_eom - EOM: ask spamd about what was collected, and decide */
static enum policy_status
spamd_eom(const struct policy_call *call, struct verdict *v)
{
	const struct spamd_config *cfg = call->config;
	struct spamd_msg *m = call->msg;
	struct txn *txn = call->txn;
	struct spamd_conv conv = { .cfg = cfg, .fd = -1 };
	enum spamd_outcome o;
	struct spool *sp;

	if (!spamd_msg_start(cfg, txn, m))
		return POLICY_FAILED;
	if (m->skip != NULL) {
		v->reason = m->skip;
		return POLICY_DONE;
	}
	if (msgspool_broken(&m->ms) != NULL) {
		log_msg(LOG_WARNING, txn_queue_id(txn), "spamd: cannot keep "
		    "the message for scanning: %s", msgspool_broken(&m->ms));
		return POLICY_FAILED;
	}
	if (msgspool_oversize(&m->ms)) {
		/* as spamc passes a message it will not send */
		v->reason = arena_printf(txn_msg_arena(txn), "not scanned: %"
		    PRIu64 " bytes, over max_size", m->ms.size);
		return POLICY_DONE;
	}
	if ((sp = msgspool_spool(&m->ms)) == NULL) {
		if (m->ms.started)
			log_panic("spamd: EOM twice, or after ABORT");
		v->reason = "not scanned: empty message";
		return POLICY_DONE;
	}
	o = spamd_scan(&conv, sp, call->deadline, txn_queue_id(txn));
	msgspool_release(&m->ms);
	if (o == SPAMD_DONE)
		spamd_verdict(cfg, txn, m, &conv.answer, v);
	else
		log_msg(LOG_WARNING, txn_queue_id(txn), "spamd: scan failed: "
		    "%s", conv.why);
	buf_free(&conv.answer.tests);
	buf_free(&conv.answer.report);
	return o == SPAMD_DONE ? POLICY_DONE : POLICY_FAILED;
}

/* spamd_abort - ABORT: the message is gone, and so is its spool */
static enum policy_status
spamd_abort(const struct policy_call *call, struct verdict *v)
{
	struct spamd_msg *m = call->msg;

	(void)v;
	if (m != NULL)
		msgspool_release(&m->ms);
	return POLICY_DONE;
}

/* --- init ----------------------------------------------------------------- */

/* spamd_deinit - let go of the parsed servers */
static void
spamd_deinit(void *config)
{
	struct spamd_config *cfg = config;
	size_t i;

	for (i = 0; i < cfg->naddrs; i++)
		netconn_addr_free(&cfg->addrs[i]);
	free(cfg->addrs);
	cfg->addrs = NULL;
	cfg->naddrs = 0;
}

/* spamd_servers - parse servers into cfg->addrs; false after an error */
static bool
spamd_servers(struct policy_init *pi, struct spamd_config *cfg,
    struct buf *err)
{
	char *why = NULL;
	size_t i;

	if (cfg->servers.n == 0) {
		conf_setting_error(err, pi->cf, pi->section, "servers",
		    "empty (HOST:PORT, [IPv6]:PORT or unix:/path)");
		return false;
	}
	cfg->addrs = xcalloc(cfg->servers.n, sizeof(*cfg->addrs));
	for (i = 0; i < cfg->servers.n; i++) {
		cfg->addrs[i] = netconn_parse(cfg->servers.items[i], &why);
		if (cfg->addrs[i] == NULL) {
			conf_setting_error(err, pi->cf, pi->section,
			    "servers", "spamd server \"%s\": %s",
			    cfg->servers.items[i], why);
			free(why);
			return false;
		}
		cfg->naddrs++;
	}
	return true;
}

/* spamd_flag_score - "required", "off" or a number into cfg->flag;
 * false when it is none of them */
static bool
spamd_flag_score(struct spamd_config *cfg)
{
	const char *p = cfg->flag_score, *end = p + strlen(p);
	char text[SPAMD_NUM_MAX + 1];

	if (strcmp(p, "required") == 0) {
		cfg->flag = NAN;
		return true;
	}
	if (strcasecmp(p, "off") == 0) {
		cfg->flag = INFINITY;
		return true;
	}
	if (*p == '+')
		p++;
	return spamd_number(&p, end, &cfg->flag, text) && p == end;
}

/* spamd_init - check the settings; parse the servers */
static bool
spamd_init(struct policy_init *pi, char **error_r)
{
	struct spamd_config *cfg = pi->config;
	struct buf err = { 0 };
	struct stat st;
	const char *p;

	cfg->limits = (struct msgspool_limits){
		.dir = cfg->temp_dir,
		.mem_limit = cfg->spool_memory,
		.max_size = cfg->max_size,
	};
	if (stat(cfg->temp_dir, &st) != 0)
		conf_setting_error(&err, pi->cf, pi->section, "temp_dir",
		    "%s: %s", cfg->temp_dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		conf_setting_error(&err, pi->cf, pi->section, "temp_dir",
		    "%s: not a directory", cfg->temp_dir);
	if (strlen(cfg->user) > SPAMD_USER_MAX)
		conf_setting_error(&err, pi->cf, pi->section, "user",
		    "longer than %d characters", SPAMD_USER_MAX);
	else if (strspn(cfg->user, spamd_user_chars) < strlen(cfg->user))
		conf_setting_error(&err, pi->cf, pi->section, "user",
		    "'%s': only letters, digits and - _ . @ +", cfg->user);
	for (p = cfg->subject_tag; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			conf_setting_error(&err, pi->cf, pi->section,
			    "subject_tag", "control characters are not "
			    "allowed");
			break;
		}
	if (!spamd_flag_score(cfg))
		conf_setting_error(&err, pi->cf, pi->section, "flag_score",
		    "'%s': expected required, off or a number",
		    cfg->flag_score);
	/* the next server must have time left when one does not answer */
	if (pi->timeout > 0 && cfg->connect_timeout >= pi->timeout)
		conf_setting_error(&err, pi->cf, pi->section,
		    "connect_timeout", "must be shorter than the module's "
		    "timeout (%gs)", pi->timeout);
	if (spamd_servers(pi, cfg, &err) && err.len == 0) {
		buf_free(&err);
		return true;
	}
	spamd_deinit(cfg);
	*error_r = buf_steal(&err);
	return false;
}

/* --- settings ------------------------------------------------------------- */

#define SPAMD_OFF(f)	offsetof(struct spamd_config, f)

static const struct conf_setting spamd_settings[] = {
	{ .name = "servers", .type = CONF_LIST, .def = "127.0.0.1:783",
	  .offset = SPAMD_OFF(servers),
	  .help = "spamd servers tried in turn: HOST:PORT, [IPv6]:PORT, "
	    "unix:/path" },
	{ .name = "user", .type = CONF_STRING, .def = "",
	  .offset = SPAMD_OFF(user),
	  .help = "the user whose preferences spamd applies (User header); "
	    "empty: none sent" },
	{ .name = "report", .type = CONF_BOOL, .def = "no",
	  .offset = SPAMD_OFF(report),
	  .help = "ask for spamd's report and add it as X-Spam-Report to "
	    "flagged messages" },
	{ .name = "max_size", .type = CONF_SIZE, .def = "500k",
	  .offset = SPAMD_OFF(max_size), .min = "1",
	  .help = "a larger message is not sent to spamd (no score), as "
	    "spamc does" },
	{ .name = "connect_timeout", .type = CONF_DURATION, .def = "5s",
	  .offset = SPAMD_OFF(connect_timeout), .min = "1ms",
	  .help = "longest connect to one server before the next is asked" },
	{ .name = "score_scale", .type = CONF_DOUBLE, .def = "1",
	  .offset = SPAMD_OFF(score_scale),
	  .help = "spamd's score times this is added to the message's "
	    "[scoring] total" },
	{ .name = "flag_score", .type = CONF_STRING, .def = "required",
	  .offset = SPAMD_OFF(flag_score),
	  .help = "X-Spam-Flag and subject_tag from this spamd score on "
	    "(required: spamd's own verdict; off: never)" },
	{ .name = "reject_score", .type = CONF_DOUBLE, .def = "off",
	  .offset = SPAMD_OFF(reject_score),
	  .help = "reject (550 5.7.1) from this spamd score on" },
	{ .name = "quarantine_score", .type = CONF_DOUBLE, .def = "off",
	  .offset = SPAMD_OFF(quarantine_score),
	  .help = "quarantine from this spamd score on" },
	{ .name = "subject_tag", .type = CONF_STRING, .def = "",
	  .offset = SPAMD_OFF(subject_tag),
	  .help = "put before the Subject of flagged messages (empty: "
	    "none)" },
	{ .name = "skip_authenticated", .type = CONF_BOOL, .def = "yes",
	  .offset = SPAMD_OFF(skip_authenticated),
	  .help = "do not score messages from SASL-authenticated clients" },
	{ .name = "skip_mynetworks", .type = CONF_BOOL, .def = "yes",
	  .offset = SPAMD_OFF(skip_mynetworks),
	  .help = "do not score messages from clients in mynetworks" },
	{ .name = "temp_dir", .type = CONF_STRING, .def = "/var/tmp",
	  .offset = SPAMD_OFF(temp_dir),
	  .help = "where messages over spool_memory are kept while they "
	    "are collected" },
	{ .name = "spool_memory", .type = CONF_SIZE, .def = "1M",
	  .offset = SPAMD_OFF(spool_memory),
	  .help = "a message up to this size is kept in memory, a larger "
	    "one in a file in temp_dir" },
	{ .name = NULL },
};

const struct policy_module spamd_module = {
	.name = "spamd",
	.summary = "content scoring by SpamAssassin's spamd",
	.settings = spamd_settings,
	.config_size = sizeof(struct spamd_config),
	.init = spamd_init,
	.deinit = spamd_deinit,
	.msg_size = sizeof(struct spamd_msg),
	.stage = {
		[POLICY_HEADER] = spamd_collect,
		[POLICY_EOH] = spamd_collect,
		[POLICY_BODY] = spamd_collect,
		[POLICY_EOM] = spamd_eom,
		[POLICY_ABORT] = spamd_abort,
	},
	.flags = POLICY_NEEDS_BODY | POLICY_ADDS_HEADERS |
	    POLICY_CHANGES_HEADERS | POLICY_NEEDS_LEADSPC,
	.on_failure = POLICY_FAIL_ACCEPT,
	.timeout = 60,		/* a scan with network tests takes seconds */
};
