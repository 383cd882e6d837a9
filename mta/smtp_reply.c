/*
 * smtp_reply.c - reading a server's SMTP (or LMTP) replies, with bounds
 *
 * The grammar (RFC 5321 §4.2), checked byte by byte as the bytes arrive:
 *
 *	Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
 *	                 Reply-code [ SP textstring ] CRLF
 *	Reply-code     = %x32-35 %x30-35 %x30-39
 *
 * Every check looks only at bytes already received and runs in arrival
 * order, so the outcome (the replies, or the error and its text) does not
 * depend on how the bytes were split into feeds. A line is at most
 * SMTP_REPLY_LINE_MAX bytes counting its CR LF; the length check fires as
 * soon as no CR LF can end the line within the bound, so a server that
 * never sends LF cannot make the buffer grow past it.
 *
 * The received bytes stay in one buffer until smtp_reply_next() hands
 * their reply out; "ends" queues the offsets where complete replies end
 * (pipelined replies can arrive in one read). After an error the reader
 * refuses all further bytes, but replies completed before the offending
 * byte can still be taken (say, a 421 the server sent before its garbage).
 *
 * A line is tied to the reply it is in by position alone: the reply that
 * a line without "-" ends is closed there, and the next line starts a new
 * one. A continuation line whose code differs is an error, never the
 * start of another reply (CVE-2020-8794).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "smtp_reply.h"

struct smtp_reply_reader {
	struct buf data;	/* received, from the first unreturned byte
				   on (after head) */
	size_t head;		/* bytes of data already returned */
	size_t scanned;		/* bytes of data checked */
	size_t line_start;	/* offset of the line being received */
	size_t reply_start;	/* offset of the reply being received */
	size_t reply_lines;	/* its complete lines */
	int reply_code;		/* their code; 0 before the first line */
	size_t *ends;		/* complete replies end here (queue) */
	size_t nends, cap_ends;
	const char *why;	/* the error; the reader is dead */
};

/* smtp_reply_reader_new - an empty reader */
struct smtp_reply_reader *
smtp_reply_reader_new(void)
{
	return xcalloc(1, sizeof(struct smtp_reply_reader));
}

/* smtp_reply_reader_free - sets *r NULL; NULL ok */
void
smtp_reply_reader_free(struct smtp_reply_reader **r)
{
	if (r == NULL || *r == NULL)
		return;
	buf_free(&(*r)->data);
	free((*r)->ends);
	free(*r);
	*r = NULL;
}

/* smtp_reply_code - the code at the start of a line, or -1 */
static int
smtp_reply_code(const char *p, size_t len)
{
	if (len < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' ||
	    p[1] > '5' || p[2] < '0' || p[2] > '9')
		return -1;
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/* smtp_reply_compact - drop returned bytes so the buffer does not keep
 * a whole conversation */
static void
smtp_reply_compact(struct smtp_reply_reader *r)
{
	size_t i, h = r->head;

	if (h == 0)
		return;
	memmove(r->data.data, r->data.data + h, r->data.len - h);
	r->data.len -= h;
	r->data.data[r->data.len] = '\0';
	r->scanned -= h;
	r->line_start -= h;
	r->reply_start -= h;
	for (i = 0; i < r->nends; i++)
		r->ends[i] -= h;
	r->head = 0;
}

/* smtp_reply_line - one complete line [line_start, end): check it
 * against the reply it belongs to; NULL or the error */
static const char *
smtp_reply_line(struct smtp_reply_reader *r, size_t end)
{
	const char *p = r->data.data + r->line_start;
	size_t len = end - r->line_start - 2;	/* without CR LF */
	int code;

	if ((code = smtp_reply_code(p, len)) < 0 ||
	    (len > 3 && p[3] != '-' && p[3] != ' '))
		return "malformed reply line";
	if (r->reply_code != 0 && code != r->reply_code)
		return "reply code differs between lines";
	if (++r->reply_lines > SMTP_REPLY_LINES_MAX)
		return "too many lines in reply";
	if (end - r->reply_start > SMTP_REPLY_MAX)
		return "reply too long";
	r->reply_code = code;
	r->line_start = end;
	if (len > 3 && p[3] == '-')
		return NULL;
	/* the last line: the reply is complete */
	if (r->nends == r->cap_ends) {
		r->cap_ends = r->cap_ends == 0 ? 8 : r->cap_ends * 2;
		r->ends = xrealloc(r->ends, r->cap_ends * sizeof(*r->ends));
	}
	r->ends[r->nends++] = end;
	r->reply_start = end;
	r->reply_lines = 0;
	r->reply_code = 0;
	return NULL;
}

/* smtp_reply_scan - check the bytes not yet checked; NULL or the error */
static const char *
smtp_reply_scan(struct smtp_reply_reader *r)
{
	const char *d = r->data.data;
	const char *why;
	size_t i;

	for (i = r->scanned; i < r->data.len; i++) {
		bool after_cr = i > r->line_start && d[i - 1] == '\r';

		r->scanned = i + 1;
		if (d[i] == '\0')
			return "NUL byte in reply";
		if (d[i] == '\n') {
			if (!after_cr)
				return "bare LF in reply";
			if ((why = smtp_reply_line(r, i + 1)) != NULL)
				return why;
			continue;
		}
		if (after_cr)
			return "bare CR in reply";
		/* at least one more byte (LF) must follow */
		if (i + 1 - r->line_start + 1 > SMTP_REPLY_LINE_MAX)
			return "reply line too long";
	}
	return NULL;
}

/* smtp_reply_feed - append received bytes and check them */
bool
smtp_reply_feed(struct smtp_reply_reader *r, const char *data, size_t len,
    const char **why_r)
{
	if (r == NULL || (data == NULL && len > 0))
		log_panic("smtp_reply_feed: NULL argument");
	if (r->why == NULL && len > 0) {
		smtp_reply_compact(r);
		buf_append(&r->data, data, len);
		r->why = smtp_reply_scan(r);
	}
	if (r->why != NULL) {
		if (why_r != NULL)
			*why_r = r->why;
		return false;
	}
	return true;
}

/*
 * smtp_reply_status - the RFC 3463 status at the start of text (class
 * "." 1*3digit "." 1*3digit, then a space or the end) when its class is
 * the code's first digit; its length, or 0
 */
static size_t
smtp_reply_status(const char *p, size_t len, int code)
{
	size_t i = 0, part, digits;

	if (len < 5 || p[0] != '0' + code / 100 || p[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; i < len && p[i] >= '0' && p[i] <= '9';
		    i++)
			digits++;
		if (digits < 1 || digits > 3)
			return 0;
		if (part == 0 && (i == len || p[i++] != '.'))
			return 0;
	}
	return i == len || p[i] == ' ' ? i : 0;
}

/* smtp_reply_next - take the oldest complete reply */
int
smtp_reply_next(struct smtp_reply_reader *r, struct arena *arena,
    struct smtp_reply *out)
{
	const char *p, *end, *nl;
	struct buf text = { 0 };
	size_t len, n;

	if (r == NULL || arena == NULL || out == NULL)
		log_panic("smtp_reply_next: NULL argument");
	if (r->nends == 0)
		return 0;
	p = r->data.data + r->head;
	end = r->data.data + r->ends[0];
	memset(out, 0, sizeof(*out));
	/* every line was checked by smtp_reply_scan */
	out->code = smtp_reply_code(p, (size_t)(end - p));
	for (; p < end; p = nl + 2) {
		nl = memchr(p, '\r', (size_t)(end - p));
		len = (size_t)(nl - p);
		if (out->lines++ > 0)
			buf_putc(&text, '\n');
		if (len <= 4)
			continue;
		p += 4;
		len -= 4;
		if (out->lines == 1 &&
		    (n = smtp_reply_status(p, len, out->code)) > 0) {
			out->status = arena_strndup(arena, p, n);
			for (p += n, len -= n; len > 0 && *p == ' '; p++)
				len--;
		}
		buf_append(&text, p, len);
	}
	out->text = arena_memdup(arena, buf_cstr(&text), text.len);
	buf_free(&text);
	r->head = r->ends[0];
	memmove(r->ends, r->ends + 1, --r->nends * sizeof(*r->ends));
	return 1;
}

/* smtp_reply_pending - received bytes no returned reply holds */
size_t
smtp_reply_pending(const struct smtp_reply_reader *r)
{
	if (r == NULL)
		log_panic("smtp_reply_pending: NULL reader");
	return r->data.len - r->head;
}

/* smtp_reply_format - "CODE STATUS text" on one line */
const char *
smtp_reply_format(const struct smtp_reply *reply, struct arena *arena)
{
	const char *text = reply->text != NULL ? reply->text : "";
	char *s, *q;

	s = arena_printf(arena, "%03d%s%s%s%s", reply->code,
	    reply->status != NULL ? " " : "",
	    reply->status != NULL ? reply->status : "",
	    *text != '\0' ? " " : "", text);
	/* the joins become spaces, anything else a log or DSN must not
	 * carry becomes '?' */
	for (q = s; *q != '\0'; q++) {
		if (*q == '\n')
			*q = ' ';
		else if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
	}
	return s;
}
