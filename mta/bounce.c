/*
 * bounce.c - delivery status notifications (see bounce.h)
 *
 * Everything that reaches a header line or a delivery-status field from
 * outside (server replies, addresses, ENVID, ORCPT) goes through one
 * sanitiser first: control bytes become spaces, runs of white space one
 * space, bytes outside ASCII "?". Folding then happens only at those
 * spaces, so an unfolded line reads as the sanitised text; a word too
 * long for one line is cut, which costs a space but keeps the 78-column
 * promise (a hostile server can send a 500-byte word).
 *
 * The body is built in a buffer and handed to the spool in chunks, the
 * original message streamed from its spool; the only failure is the
 * spool's (disk), reported with its text.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "arena.h"
#include "bounce.h"
#include "buf.h"
#include "log.h"
#include "message.h"
#include "spool.h"

/* header lines stay under this many columns (RFC 5322 §2.1.1) */
#define BOUNCE_COLUMNS		78
/* lines of the human-readable part */
#define BOUNCE_TEXT_COLUMNS	72
/* bytes copied from the original's spool at a time */
#define BOUNCE_CHUNK		65536
/* longest queue id kept in a boundary (RFC 2046: 70 in all) */
#define BOUNCE_QID_MAX		32

/* per action: words for the DSN and the reader */
static const struct bounce_kind {
	const char *action;		/* Action: field */
	const char *status;		/* when the caller gave none */
	const char *subject;
	const char *intro;		/* first paragraph */
	const char *outcome;		/* a recipient without diagnostic */
} bounce_kinds[] = {
	[BOUNCE_FAILED] = {
		.action = "failed",
		.status = "5.0.0",
		.subject = "Undelivered Mail Returned to Sender",
		.intro = "Your message could not be delivered to one or more "
		    "of its recipients. This is a permanent error; the "
		    "details are below, and the message (or its header) "
		    "is attached.",
		.outcome = "delivery failed",
	},
	[BOUNCE_DELAYED] = {
		.action = "delayed",
		.status = "4.0.0",
		.subject = "Delayed Mail (still being retried)",
		.intro = "Your message has not been delivered yet to the "
		    "recipients below. The mail system keeps trying until "
		    "the time given in the report; there is no need to send "
		    "it again.",
		.outcome = "delivery delayed",
	},
	[BOUNCE_DELIVERED] = {
		.action = "delivered",
		.status = "2.0.0",
		.subject = "Successful Mail Delivery Report",
		.intro = "Your message was delivered to the recipients below, "
		    "as you asked to be told.",
		.outcome = "delivered",
	},
	[BOUNCE_RELAYED] = {
		.action = "relayed",
		.status = "2.0.0",
		.subject = "Successful Mail Delivery Report",
		.intro = "Your message was passed on to the recipients' mail "
		    "servers below. They do not report delivery, so no "
		    "further notice will come from them.",
		.outcome = "relayed to a server that does not report delivery",
	},
	[BOUNCE_EXPANDED] = {
		.action = "expanded",
		.status = "2.0.0",
		.subject = "Successful Mail Delivery Report",
		.intro = "Your message was delivered to the recipients below, "
		    "which are lists or aliases; it was passed on to their "
		    "members.",
		.outcome = "expanded to its members",
	},
};

/* English day and month names whatever the locale (RFC 5322 §3.3) */
static const char *const bounce_days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char *const bounce_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* bounce_wanted - RFC 3461 §4.1 NOTIFY for one recipient */
bool
bounce_wanted(unsigned notify, enum bounce_action action)
{
	if (notify & MESSAGE_NOTIFY_NEVER)
		return false;
	switch (action) {
	case BOUNCE_FAILED:
		return notify == 0 || (notify & MESSAGE_NOTIFY_FAILURE);
	case BOUNCE_DELAYED:
		return notify == 0 || (notify & MESSAGE_NOTIFY_DELAY);
	case BOUNCE_DELIVERED:
	case BOUNCE_RELAYED:
	case BOUNCE_EXPANDED:
		return (notify & MESSAGE_NOTIFY_SUCCESS) != 0;
	}
	return false;
}

/* bounce_kind - the words for action (a bad enum value is a bug) */
static const struct bounce_kind *
bounce_kind(enum bounce_action action)
{
	if ((size_t)action >= sizeof(bounce_kinds) / sizeof(bounce_kinds[0]))
		log_panic("bounce: action %d out of range", (int)action);
	return &bounce_kinds[action];
}

/* bounce_clean - s as one line of printable ASCII (see the top) */
static char *
bounce_clean(struct arena *arena, const char *s)
{
	struct buf b = { 0 };
	unsigned char c;
	char *out;

	for (; s != NULL && *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == ' ') {
			if (b.len > 0 && b.data[b.len - 1] != ' ')
				buf_putc(&b, ' ');
		} else
			buf_putc(&b, c >= 0x80 ? '?' : (char)c);
	}
	if (b.len > 0 && b.data[b.len - 1] == ' ')
		b.len--;
	out = arena_strndup(arena, buf_cstr(&b), b.len);
	buf_free(&b);
	return out;
}

/*
 * bounce_fold - "prefix" then the clean text, broken at its spaces into
 * lines of at most width columns ending in CR LF; continuation lines
 * start with indent. A word longer than a line is cut.
 */
static void
bounce_fold(struct buf *out, const char *prefix, const char *text,
    size_t width, const char *indent)
{
	size_t col = strlen(prefix), ind = strlen(indent), len, room;
	const char *p = text, *sp;
	bool first = true;

	buf_puts(out, prefix);
	while (*p != '\0') {
		sp = strchr(p, ' ');
		len = sp != NULL ? (size_t)(sp - p) : strlen(p);
		if (!first && col + 1 + len > width) {
			buf_puts(out, "\r\n");
			buf_puts(out, indent);
			col = ind;
		} else if (!first) {
			buf_putc(out, ' ');
			col++;
		}
		/* a word that fits on no line: as much as fits, then on */
		while (col + len > width) {
			room = width > col ? width - col : 1;
			buf_append(out, p, room);
			p += room;
			len -= room;
			buf_puts(out, "\r\n");
			buf_puts(out, indent);
			col = ind;
		}
		buf_append(out, p, len);
		col += len;
		p += len;
		if (*p == ' ')
			p++;
		first = false;
	}
	buf_puts(out, "\r\n");
}

/* bounce_field - one header or delivery-status field, folded */
static void
bounce_field(struct buf *out, const char *name, const char *value)
{
	char prefix[64];

	(void)snprintf(prefix, sizeof(prefix), "%s: ", name);
	bounce_fold(out, prefix, value, BOUNCE_COLUMNS, "\t");
}

/* bounce_date - t as an RFC 5322 date-time in local time */
static const char *
bounce_date(struct arena *arena, time_t t)
{
	struct tm tm;
	long off;

	if (localtime_r(&t, &tm) == NULL)
		return "Thu, 1 Jan 1970 00:00:00 +0000";
	off = tm.tm_gmtoff / 60;
	return arena_printf(arena, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
	    bounce_days[tm.tm_wday % 7], tm.tm_mday,
	    bounce_months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
	    (off < 0 ? -off : off) / 60, (off < 0 ? -off : off) % 60);
}

/* bounce_random - 64 random bits as hex (time and address as a fallback
 * when the kernel has no entropy yet: uniqueness, not secrecy) */
static const char *
bounce_random(struct arena *arena)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&r ^
		    (uint64_t)clock();
	return arena_printf(arena, "%016llx", (unsigned long long)r);
}

/* bounce_token - s reduced to letters, digits, "." and "-" (queue ids
 * in boundaries and Message-IDs); at most max bytes */
static const char *
bounce_token(struct arena *arena, const char *s, size_t max)
{
	char *out = arena_alloc(arena, max + 1);
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n < max; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '-')
			out[n++] = *s;
	if (n == 0)
		out[n++] = 'x';
	out[n] = '\0';
	return out;
}

/* bounce_status_ok - s is an RFC 3463 status code d.ddd.ddd, class 2/4/5 */
static bool
bounce_status_ok(const char *s)
{
	int part, digits;

	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    s[1] != '.')
		return false;
	s += 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; *s >= '0' && *s <= '9'; s++)
			digits++;
		if (digits < 1 || digits > 3)
			return false;
		if (part == 0 && *s++ != '.')
			return false;
	}
	return *s == '\0';
}

/* bounce_is_reply - text starts as an SMTP reply does ("550 ", "451-") */
static bool
bounce_is_reply(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' &&
	    s[2] >= '0' && s[2] <= '9' &&
	    (s[3] == ' ' || s[3] == '-' || s[3] == '\0');
}

/* bounce_headers_text - the original's header block, CR LF lines */
static void
bounce_headers_text(struct buf *out, const struct message *m)
{
	size_t i;

	for (i = 0; i < m->n_headers; i++) {
		buf_puts(out, m->headers[i].name);
		buf_putc(out, ':');
		buf_puts(out, m->headers[i].value);
		buf_puts(out, "\r\n");
	}
}

/* bounce_8bit - whether s[0..len) has a byte outside ASCII */
static bool
bounce_8bit(const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] >= 0x80)
			return true;
	return false;
}

/* the state of one composition */
struct bounce_out {
	struct arena *arena;
	struct message *m;
	struct buf b;		/* body bytes not yet in the spool */
	const char *why;	/* the first failure */
};

/* bounce_flush - the buffered body into the spool; false on a failure */
static bool
bounce_flush(struct bounce_out *o)
{
	if (o->why != NULL)
		return false;
	if (o->b.len > 0 && !spool_append(o->m->body, o->b.data, o->b.len)) {
		o->why = arena_printf(o->arena, "write the bounce: %s",
		    spool_error(o->m->body));
		return false;
	}
	buf_reset(&o->b);
	return true;
}

/*
 * bounce_copy_body - the original's body after o->b; its last line gets a
 * CR LF if it lacks one, so that the next boundary starts a line. Sets
 * *eight_r when asked to look for 8-bit bytes only (out NULL).
 */
static bool
bounce_copy_body(struct bounce_out *o, const struct message *orig,
    bool *eight_r)
{
	char *chunk = arena_alloc(o->arena, BOUNCE_CHUNK);
	char last[2] = { '\r', '\n' };
	uint64_t off = 0;
	ssize_t n;

	for (;;) {
		n = spool_read(orig->body, off, chunk, BOUNCE_CHUNK);
		if (n < 0) {
			o->why = arena_printf(o->arena, "read the original: %s",
			    spool_error(orig->body));
			return false;
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
		if (eight_r != NULL) {
			if (bounce_8bit(chunk, (size_t)n)) {
				*eight_r = true;
				return true;
			}
			continue;
		}
		if (!bounce_flush(o) ||
		    !spool_append(o->m->body, chunk, (size_t)n)) {
			if (o->why == NULL)
				o->why = arena_printf(o->arena,
				    "write the bounce: %s",
				    spool_error(o->m->body));
			return false;
		}
		last[0] = n >= 2 ? chunk[n - 2] : last[1];
		last[1] = chunk[n - 1];
	}
	if (eight_r == NULL && (last[0] != '\r' || last[1] != '\n'))
		buf_puts(&o->b, "\r\n");
	return true;
}

/* bounce_paragraph - the reader's lines about one recipient */
static void
bounce_paragraph(struct bounce_out *o, const struct bounce_rcpt *r)
{
	const struct bounce_kind *k = bounce_kind(r->action);
	const char *text, *addr = bounce_clean(o->arena, r->addr);

	if (r->diagnostic != NULL && r->remote_mta != NULL)
		text = arena_printf(o->arena, "<%s>: host %s said: %s", addr,
		    bounce_clean(o->arena, r->remote_mta),
		    bounce_clean(o->arena, r->diagnostic));
	else if (r->diagnostic != NULL)
		text = arena_printf(o->arena, "<%s>: %s", addr,
		    bounce_clean(o->arena, r->diagnostic));
	else
		text = arena_printf(o->arena, "<%s>: %s", addr, k->outcome);
	buf_puts(&o->b, "\r\n");
	bounce_fold(&o->b, "", text, BOUNCE_TEXT_COLUMNS, "    ");
}

/* bounce_rcpt_block - one recipient's delivery-status fields */
static void
bounce_rcpt_block(struct bounce_out *o, const struct bounce_rcpt *r)
{
	const struct bounce_kind *k = bounce_kind(r->action);
	const char *orcpt, *semi, *diag;

	buf_puts(&o->b, "\r\n");
	if (r->orcpt != NULL) {
		orcpt = bounce_clean(o->arena, r->orcpt);
		semi = strchr(orcpt, ';');
		if (semi != NULL)
			orcpt = arena_printf(o->arena, "%.*s; %s",
			    (int)(semi - orcpt), orcpt,
			    semi[1] == ' ' ? semi + 2 : semi + 1);
		else
			orcpt = arena_printf(o->arena, "rfc822; %s", orcpt);
		bounce_field(&o->b, "Original-Recipient", orcpt);
	}
	bounce_field(&o->b, "Final-Recipient", arena_printf(o->arena,
	    "rfc822; %s", bounce_clean(o->arena, r->addr)));
	bounce_field(&o->b, "Action", k->action);
	bounce_field(&o->b, "Status", bounce_status_ok(r->status) ?
	    r->status : k->status);
	if (r->remote_mta != NULL)
		bounce_field(&o->b, "Remote-MTA", arena_printf(o->arena,
		    "dns; %s", bounce_clean(o->arena, r->remote_mta)));
	if (r->diagnostic != NULL) {
		diag = bounce_clean(o->arena, r->diagnostic);
		bounce_field(&o->b, "Diagnostic-Code", arena_printf(o->arena,
		    "%s; %s", bounce_is_reply(diag) ? "smtp" : "X-Postern",
		    diag));
	}
	if (r->last_attempt != 0)
		bounce_field(&o->b, "Last-Attempt-Date",
		    bounce_date(o->arena, r->last_attempt));
	if (r->action == BOUNCE_DELAYED && r->retry_until != 0)
		bounce_field(&o->b, "Will-Retry-Until",
		    bounce_date(o->arena, r->retry_until));
}

/* bounce_report_kind - what the DSN is about: failures first, then
 * delays, then successes (one DSN may mix them) */
static enum bounce_action
bounce_report_kind(const struct bounce_request *rq)
{
	enum bounce_action kind = BOUNCE_DELIVERED;
	size_t i;

	for (i = 0; i < rq->n_rcpts; i++) {
		if (rq->rcpts[i].action == BOUNCE_FAILED)
			return BOUNCE_FAILED;
		if (rq->rcpts[i].action == BOUNCE_DELAYED)
			kind = BOUNCE_DELAYED;
	}
	return kind;
}

/* bounce_compose - the DSN for rq as a new message */
struct message *
bounce_compose(const struct bounce_request *rq, struct arena *arena,
    const char **why_r)
{
	const struct message *orig = rq->orig;
	enum bounce_action kind = bounce_report_kind(rq);
	const struct bounce_kind *k = bounce_kind(kind);
	struct bounce_out o = { .arena = arena };
	struct message_rcpt to = { 0 };
	struct buf h = { 0 };
	const char *host = bounce_clean(arena, rq->reporting_mta);
	const char *boundary, *qid, *rnd, *why, *desc;
	bool full, eight = false;
	time_t now = time(NULL);
	size_t i;

	o.m = message_new(arena, rq->temp_dir, rq->spool_memory);
	o.m->sender = "";
	to.addr = rq->double_bounce ? rq->postmaster : orig->sender;
	message_add_rcpt(o.m, &to);

	full = kind == BOUNCE_FAILED && orig->ret != MESSAGE_RET_HDRS &&
	    message_size(orig) <= rq->return_limit;
	qid = bounce_token(arena, rq->qid, BOUNCE_QID_MAX);
	rnd = bounce_random(arena);
	boundary = arena_printf(arena, "%s.%s.%lld", qid, rnd, (long long)now);

	/* the original's bytes decide the transfer encoding, so look first */
	bounce_headers_text(&h, orig);
	eight = bounce_8bit(h.data, h.len);
	buf_free(&h);
	if (!eight && full && !bounce_copy_body(&o, orig, &eight))
		goto fail;

	buf_puts(&o.b, "This is a MIME-encapsulated message.\r\n\r\n");
	buf_printf(&o.b, "--%s\r\n", boundary);
	buf_puts(&o.b, "Content-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
	bounce_fold(&o.b, "", arena_printf(arena, "This is the mail system at "
	    "host %s.", host), BOUNCE_TEXT_COLUMNS, "");
	buf_puts(&o.b, "\r\n");
	if (rq->double_bounce)
		bounce_fold(&o.b, "", "This report is for the postmaster: "
		    "the message had no return address (it was itself a "
		    "notification), so it cannot go back to its sender.",
		    BOUNCE_TEXT_COLUMNS, "");
	else
		bounce_fold(&o.b, "", k->intro, BOUNCE_TEXT_COLUMNS, "");
	for (i = 0; i < rq->n_rcpts; i++)
		bounce_paragraph(&o, &rq->rcpts[i]);
	buf_puts(&o.b, "\r\n");

	buf_printf(&o.b, "--%s\r\n", boundary);
	buf_puts(&o.b, "Content-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n");
	bounce_field(&o.b, "Reporting-MTA", arena_printf(arena, "dns; %s",
	    host));
	bounce_field(&o.b, "X-Postern-Queue-ID", bounce_clean(arena,
	    rq->qid));
	if (orig->envid != NULL)
		bounce_field(&o.b, "Original-Envelope-Id",
		    bounce_clean(arena, orig->envid));
	bounce_field(&o.b, "Arrival-Date", bounce_date(arena, rq->arrival));
	for (i = 0; i < rq->n_rcpts; i++)
		bounce_rcpt_block(&o, &rq->rcpts[i]);
	buf_puts(&o.b, "\r\n");

	desc = full ? "Undelivered Message" : kind == BOUNCE_FAILED ?
	    "Undelivered Message Headers" : "Message Headers";
	buf_printf(&o.b, "--%s\r\n", boundary);
	buf_printf(&o.b, "Content-Description: %s\r\n", desc);
	buf_printf(&o.b, "Content-Type: %s\r\n", full ? "message/rfc822" :
	    "text/rfc822-headers");
	if (eight)
		buf_puts(&o.b, "Content-Transfer-Encoding: 8bit\r\n");
	buf_puts(&o.b, "\r\n");
	bounce_headers_text(&o.b, orig);
	if (full) {
		buf_puts(&o.b, "\r\n");
		if (!bounce_copy_body(&o, orig, NULL))
			goto fail;
	}
	buf_printf(&o.b, "\r\n--%s--\r\n", boundary);
	if (!bounce_flush(&o))
		goto fail;
	buf_free(&o.b);

	bounce_field(&h, "Date", bounce_date(arena, now));
	bounce_field(&h, "From", arena_printf(arena, "Mail Delivery System "
	    "<MAILER-DAEMON@%s>", host));
	bounce_field(&h, "Subject", k->subject);
	bounce_field(&h, "To", arena_printf(arena, "<%s>",
	    bounce_clean(arena, to.addr)));
	bounce_field(&h, "Auto-Submitted", "auto-replied");
	bounce_field(&h, "MIME-Version", "1.0");
	buf_printf(&h, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n",
	    boundary);
	if (eight) {
		buf_puts(&h, "Content-Transfer-Encoding: 8bit\r\n");
		o.m->body_type = MESSAGE_BODY_8BITMIME;
	}
	bounce_field(&h, "Message-ID", arena_printf(arena, "<%s.%s@%s>", qid,
	    rnd, host));
	/* every byte of it is ours: a refusal is a bug here */
	if (!message_parse_header(o.m, h.data, h.len, &why))
		log_panic("bounce: own header refused: %s", why);
	buf_free(&h);
	return o.m;
fail:
	buf_free(&o.b);
	buf_free(&h);
	*why_r = o.why;
	return NULL;
}
