/*
 * data_scan.c - DATA and BDAT bytes into a message
 *
 * The scanner is a byte-level state machine. Runs of ordinary bytes are
 * passed on whole; CR, LF and a dot at the start of a line are the only
 * bytes that need a decision. What comes out ("emitted") is the message
 * as stored: header bytes collect in a buffer until the header ends,
 * body bytes go to the message's spool.
 */
#include "config.h"

#include <string.h>

#include "data_scan.h"
#include "log.h"

/* how far past max_header the line being read may go before it is
 * judged (a first body line is not header) */
#define DS_LINE_SLACK	65536

enum {
	DS_TEXT,	/* inside a line */
	DS_CR,		/* a CR, maybe the start of CR LF */
	DS_LINE_START,	/* after a line end */
	DS_DOT,		/* DATA: "." at the start of a line */
	DS_DOT_CR,	/* DATA: "." CR at the start of a CR LF line */
	DS_END,		/* DATA: the end marker was seen */
};

/* data_scan_init - everything starts at the start of a line after CR LF
 * (the DATA command's own line end) */
void
data_scan_init(struct data_scan *ds, struct message *msg, bool dot,
    bool normalize, uint64_t max_size, uint64_t max_header)
{
	memset(ds, 0, sizeof(*ds));
	ds->msg = msg;
	ds->dot = dot;
	ds->normalize = normalize;
	ds->max_size = max_size;
	ds->max_header = max_header;
	ds->state = DS_LINE_START;
	ds->line_start = true;	/* the last line end was a real CR LF */
	ds->in_header = true;
}

/* ds_storing - whether emitted bytes are still kept */
static bool
ds_storing(const struct data_scan *ds)
{
	return (ds->flags & (DATA_SCAN_TOO_BIG | DATA_SCAN_HEADER_TOO_BIG |
	    DATA_SCAN_SPOOL_ERROR)) == 0;
}

/* ds_body - bytes for the body spool */
static void
ds_body(struct data_scan *ds, const char *p, size_t n)
{
	if (n == 0 || !ds_storing(ds))
		return;
	if (!spool_append(ds->msg->body, p, n))
		ds->flags |= DATA_SCAN_SPOOL_ERROR;
}

/* ds_field_line - a header line (without its end) is a field ("name:")
 * or, after a field, a continuation (starts with SP or HT) */
static bool
ds_field_line(const char *p, size_t n, bool first)
{
	size_t i;

	if (n > 0 && (p[0] == ' ' || p[0] == '\t'))
		return !first;
	for (i = 0; i < n && p[i] != ':'; i++)
		if ((unsigned char)p[i] < 33 || (unsigned char)p[i] > 126)
			return false;
	return i > 0 && i < n;
}

/* ds_header_end - the header block ends before the line at line_off,
 * which starts the body unless it is the empty line */
static void
ds_header_end(struct data_scan *ds, size_t line_off, bool empty_line)
{
	const char *why;

	ds->in_header = false;
	if (line_off > ds->max_header && ds_storing(ds))
		ds->flags |= DATA_SCAN_HEADER_TOO_BIG;
	if (!ds_storing(ds) ||
	    ((ds->flags & (DATA_SCAN_BARE_LF | DATA_SCAN_BARE_CR)) != 0 &&
	    !ds->normalize))
		return;	/* refused at the end anyway */
	if (!message_parse_header(ds->msg, ds->header.data, line_off, &why))
		log_panic("data_scan: header lines checked one by one did "
		    "not parse: %s", why);
	if (!empty_line)
		ds_body(ds, ds->header.data + line_off,
		    ds->header.len - line_off);
}

/* ds_emit - message bytes: a run without line ends, or (eol) one line
 * end, after which the header phase judges the completed line */
static void
ds_emit(struct data_scan *ds, const char *p, size_t n, bool eol)
{
	size_t line_off;

	ds->size += n;
	if (ds->size > ds->max_size && ds_storing(ds))
		ds->flags |= DATA_SCAN_TOO_BIG;
	if (!ds->in_header) {
		ds_body(ds, p, n);
		return;
	}
	if (ds_storing(ds)) {
		/* the line being read may turn out to be the first body
		 * line (or the empty line), which the limit does not
		 * count: it is judged when the header ends, and memory is
		 * bounded by the limit plus one line's slack */
		if (ds->hdr_line > ds->max_header ||
		    ds->header.len + n > ds->max_header + DS_LINE_SLACK)
			ds->flags |= DATA_SCAN_HEADER_TOO_BIG;
		else
			buf_append(&ds->header, p, n);
	}
	if (!eol) {
		ds->line_len += n;
		return;
	}
	line_off = ds->hdr_line;
	if (!ds_storing(ds)) {
		/* the header is lost anyway; only where it ends matters */
		if (ds->line_len == 0)
			ds->in_header = false;
	} else if (ds->line_len == 0) {
		ds_header_end(ds, line_off, true);
	} else if (!ds_field_line(ds->header.data + line_off,
	    (size_t)ds->line_len, line_off == 0)) {
		ds_header_end(ds, line_off, false);
	}
	ds->hdr_line = ds->header.len;
	ds->line_len = 0;
}

/* ds_eol - a line end is emitted: CR LF, or a bare one as found */
static void
ds_eol(struct data_scan *ds, const char *eol, size_t n, bool real_crlf)
{
	ds_emit(ds, eol, n, true);
	ds->state = DS_LINE_START;
	ds->line_start = real_crlf;
}

/* ds_bare - a bare CR or LF: counted, stored as is or as CR LF */
static void
ds_bare(struct data_scan *ds, char c)
{
	ds->flags |= c == '\n' ? DATA_SCAN_BARE_LF : DATA_SCAN_BARE_CR;
	if (ds->normalize)
		ds_eol(ds, "\r\n", 2, false);
	else if (c == '\n')
		ds_eol(ds, "\n", 1, false);
	else {
		/* a CR that ends nothing: the line goes on */
		ds_emit(ds, "\r", 1, false);
		ds->state = DS_TEXT;
	}
}

/* data_scan_feed - the state machine; see the header for the rules */
size_t
data_scan_feed(struct data_scan *ds, const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && ds->state != DS_END) {
		char c = p[i];

		switch (ds->state) {
		case DS_LINE_START:
			if (ds->dot && c == '.') {
				ds->state = DS_DOT;
				i++;
				continue;
			}
			ds->state = DS_TEXT;
			continue;
		case DS_DOT:
			/* "." CR at the start of a line that followed a
			 * real CR LF may be the end; otherwise the dot was
			 * stuffing and is dropped */
			if (c == '\r' && ds->line_start) {
				ds->state = DS_DOT_CR;
				i++;
				continue;
			}
			ds->state = DS_TEXT;
			continue;
		case DS_DOT_CR:
			if (c == '\n') {
				ds->state = DS_END;
				ds->done = true;
				i++;
				continue;
			}
			/* "." CR and no LF: the CR is bare */
			ds->state = DS_CR;
			continue;
		case DS_CR:
			if (c == '\n') {
				ds_eol(ds, "\r\n", 2, true);
				i++;
				continue;
			}
			ds_bare(ds, '\r');
			continue;
		case DS_TEXT: {
			size_t j = i;

			while (j < len && p[j] != '\r' && p[j] != '\n')
				j++;
			if (j > i)
				ds_emit(ds, p + i, j - i, false);
			i = j;
			if (i == len)
				break;
			if (p[i] == '\r')
				ds->state = DS_CR;
			else
				ds_bare(ds, '\n');
			i++;
			continue;
		}
		default:
			log_panic("data_scan: state %d", ds->state);
		}
	}
	return i;
}

/* data_scan_finish - flush the pending bytes and the header */
unsigned
data_scan_finish(struct data_scan *ds)
{
	if (ds->state == DS_CR)
		ds_bare(ds, '\r');
	if (ds->in_header && ds->line_len > 0) {
		/* BDAT may end without a line end: give the last line one,
		 * as a line it is judged like the others */
		ds_emit(ds, "\r\n", 2, true);
	}
	if (ds->in_header) {
		/* no empty line: the whole message is header */
		ds_header_end(ds, ds->header.len, true);
	}
	if (ds->flags & DATA_SCAN_SPOOL_ERROR)
		ds->spool_why = spool_error(ds->msg->body);
	return ds->flags;
}

/* data_scan_free - the header buffer */
void
data_scan_free(struct data_scan *ds)
{
	buf_free(&ds->header);
}
