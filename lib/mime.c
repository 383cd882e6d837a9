/*
 * mime.c - the text of a message, part by part, decoded, line by line
 *
 * Three layers, each fed by the one above it:
 *
 *	raw lines	the body cut at LF (a CR just before it belongs to
 *			the line end); a line that starts with "--" is held
 *			back while it may still be the boundary line of an
 *			open multipart, so a held line never exceeds the
 *			longest boundary plus a little padding
 *	entities	the header fields (unfolded) or the body bytes of
 *			the part being read, routed by what its header said
 *	text		a body decoded (base64, quoted-printable or as it
 *			is) and cut at LF into lines of at most line_max
 *
 * The line end before a boundary line belongs to the boundary (RFC 2046
 * section 5.1.1), so the end of a body line is passed on only once the
 * next line is known not to be a boundary. Boundary lines are matched
 * as RFC 2046 writes them: "--" boundary ["--"] white space, nothing
 * else; a line that only starts like one is text.
 *
 * Every buffer is allocated in mime_new() and sized by line_max: header
 * fields longer than line_max are cut there, which also bounds the
 * boundaries kept per open multipart.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mem.h"
#include "mime.h"

/* room for the "--" and "--", the CR and trailing white space of a
 * boundary line beyond the boundary itself */
#define MIME_HOLD_EXTRA	80
/* white space at the end of a quoted-printable line kept back to be
 * dropped; a longer run is text (no transport pads that much) */
#define MIME_QP_PAD	64

/* what a Content-Type makes of a body */
enum mime_kind {
	MIME_KIND_TEXT,		/* decoded and given line by line */
	MIME_KIND_OTHER,	/* skipped */
	MIME_KIND_MULTIPART,	/* parts between boundaries */
	MIME_KIND_DIGEST,	/* the same; parts default to message/rfc822 */
	MIME_KIND_MESSAGE,	/* a header, then a body of its own */
};

/* how the text of a body is encoded */
enum mime_enc {
	MIME_ENC_IDENTITY,
	MIME_ENC_QP,
	MIME_ENC_BASE64,
};

/* where the bytes of the entity being read go */
enum mime_mode {
	MIME_MODE_HEADER,	/* header fields */
	MIME_MODE_TEXT,		/* the decoder */
	MIME_MODE_SKIP,		/* nowhere */
};

/* how far the line being read is into a header field */
enum mime_hdr {
	MIME_HDR_START,		/* nothing of the line yet */
	MIME_HDR_NAME,		/* a field name, no colon yet */
	MIME_HDR_NAME_WS,	/* white space after the name */
	MIME_HDR_VALUE,		/* past the colon, or a continuation */
};

/* the states of the quoted-printable decoder */
enum mime_qp {
	MIME_QP_TEXT,
	MIME_QP_EQ,		/* after '=' */
	MIME_QP_HEX,		/* after '=' and one hex digit */
};

/* an open multipart */
struct mime_level {
	char *mark;		/* "--" boundary */
	size_t len;		/* of mark */
	unsigned depth;		/* of its parts */
	bool digest;		/* its parts default to message/rfc822 */
};

struct mime {
	size_t line_max;
	mime_header_fn on_header;
	mime_line_fn on_line;
	void *arg;
	bool stopped;
	bool ended;

	struct mime_level level[MIME_DEPTH_MAX];
	unsigned nlevel;

	/* raw lines */
	bool bol;		/* at the start of a line */
	bool eol_pending;	/* a body line's end not passed on yet */
	bool cr;		/* a CR ended the last chunk */
	bool holding;		/* the line so far is in hold */
	char *hold;
	size_t hold_len;
	size_t hold_cap;
	size_t tail_from;	/* past the last byte no boundary may have
				   after it */
	uint32_t cand;		/* levels whose boundary line it may be */

	/* the entity being read */
	enum mime_mode mode;
	unsigned depth;
	bool digest_part;	/* its default type is message/rfc822 */
	enum mime_hdr hdr;
	char *field;		/* line_max + 1 */
	size_t field_len;
	bool field_open;	/* field holds a header field */
	bool field_cut;		/* ... longer than line_max */
	bool type_seen;
	enum mime_kind kind;
	char *bound;		/* its boundary parameter (line_max + 1) */
	size_t bound_len;
	bool enc_seen;
	enum mime_enc enc;

	/* the decoder */
	enum mime_qp qp;
	unsigned char qp_hex;
	char qp_pad[MIME_QP_PAD];
	size_t qp_npad;
	bool qp_soft;		/* the pad follows a '=' */
	uint32_t b64;
	unsigned b64_n;

	/* the text line */
	char *line;		/* line_max + 1 */
	size_t line_len;
	bool line_cr;
};

/* the Content-Types that are not skipped; subtype NULL matches any */
static const struct mime_type {
	const char *type;
	const char *subtype;
	enum mime_kind kind;
} mime_types[] = {
	{ .type = "text", .kind = MIME_KIND_TEXT },
	{ .type = "multipart", .subtype = "digest", .kind = MIME_KIND_DIGEST },
	{ .type = "multipart", .kind = MIME_KIND_MULTIPART },
	{ .type = "message", .subtype = "rfc822", .kind = MIME_KIND_MESSAGE },
	/* RFC 6532: the same with UTF-8 allowed in its header */
	{ .type = "message", .subtype = "global", .kind = MIME_KIND_MESSAGE },
	{ 0 },
};

/* the Content-Transfer-Encodings; any other is read as it is */
static const struct mime_encoding {
	const char *name;
	enum mime_enc enc;
} mime_encodings[] = {
	{ .name = "7bit", .enc = MIME_ENC_IDENTITY },
	{ .name = "8bit", .enc = MIME_ENC_IDENTITY },
	{ .name = "binary", .enc = MIME_ENC_IDENTITY },
	{ .name = "quoted-printable", .enc = MIME_ENC_QP },
	{ .name = "base64", .enc = MIME_ENC_BASE64 },
	{ 0 },
};

static void mime_data(struct mime *, const char *, size_t);
static void mime_eol(struct mime *);

/* mime_ws - SP or HT */
static bool
mime_ws(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* mime_tchar - an RFC 2045 token byte */
static bool
mime_tchar(unsigned char c)
{
	return c > ' ' && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* mime_cfws - past white space (folds included) and comments */
static const char *
mime_cfws(const char *p, const char *end)
{
	int nest = 0;

	for (; p < end; p++) {
		if (nest > 0 && *p == '\\' && p + 1 < end)
			p++;
		else if (*p == '(')
			nest++;
		else if (nest > 0 && *p == ')')
			nest--;
		else if (nest == 0 && !mime_ws(*p) && *p != '\r' && *p != '\n')
			break;
	}
	return p;
}

/* mime_token - past a token; its length in *len_r */
static const char *
mime_token(const char *p, const char *end, size_t *len_r)
{
	const char *s = p;

	while (p < end && mime_tchar(*p))
		p++;
	*len_r = (size_t)(p - s);
	return p;
}

/* mime_is - s[0..len) is name, ignoring case */
static bool
mime_is(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(s, name, len) == 0;
}

/*
 * mime_value - past a parameter value (a quoted-string, or whatever
 * runs up to a ';', white space or a comment: unquoted boundaries with
 * '=' in them are common); its text, unquoted, into out (up to cap
 * bytes when out is not NULL); its whole length in *len_r
 */
static const char *
mime_value(const char *p, const char *end, char *out, size_t cap,
    size_t *len_r)
{
	size_t len = 0;

	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			if (*p == '\r' || *p == '\n')
				continue;
			if (out != NULL && len < cap)
				out[len] = *p;
			len++;
		}
		if (p < end)
			p++;
	} else {
		for (; p < end && (unsigned char)*p > ' ' && *p != 0x7f &&
		    *p != ';' && *p != '"' && *p != '('; p++) {
			if (out != NULL && len < cap)
				out[len] = *p;
			len++;
		}
	}
	*len_r = len;
	return p;
}

/*
 * mime_parse_type - the kind of body a Content-Type value announces;
 * for a multipart its boundary goes into bound (up to cap bytes).
 * Invalid syntax means text/plain (RFC 2045 section 5.2), and so does a
 * multipart without a usable boundary: its lines are then checked as
 * they are rather than not at all.
 */
static enum mime_kind
mime_parse_type(const char *p, const char *end, char *bound, size_t cap,
    size_t *bound_len_r)
{
	const struct mime_type *t;
	const char *type, *sub, *name;
	size_t type_len, sub_len, name_len, len;
	bool found = false;

	*bound_len_r = 0;
	p = mime_token(mime_cfws(p, end), end, &type_len);
	type = p - type_len;
	p = mime_cfws(p, end);
	if (type_len == 0 || p == end || *p != '/')
		return MIME_KIND_TEXT;
	p = mime_token(mime_cfws(p + 1, end), end, &sub_len);
	sub = p - sub_len;
	if (sub_len == 0)
		return MIME_KIND_TEXT;
	for (t = mime_types; t->type != NULL; t++)
		if (mime_is(type, type_len, t->type) && (t->subtype == NULL ||
		    mime_is(sub, sub_len, t->subtype)))
			break;
	if (t->type == NULL)
		return MIME_KIND_OTHER;
	if (t->kind != MIME_KIND_MULTIPART && t->kind != MIME_KIND_DIGEST)
		return t->kind;

	/* parameters, leniently: name=value items, ';' or not between */
	while ((p = mime_cfws(p, end)) < end) {
		if (*p == ';') {
			p++;
			continue;
		}
		p = mime_token(p, end, &name_len);
		name = p - name_len;
		p = mime_cfws(p, end);
		if (p == end || *p != '=') {
			if (name_len == 0)	/* junk: a quoted one whole */
				p = *p == '"' ? mime_value(p, end, NULL, 0,
				    &len) : p + 1;
			continue;
		}
		p = mime_cfws(p + 1, end);
		if (!found && mime_is(name, name_len, "boundary")) {
			p = mime_value(p, end, bound, cap, bound_len_r);
			found = true;
		} else
			p = mime_value(p, end, NULL, 0, &len);
	}
	if (*bound_len_r == 0 || *bound_len_r > cap)
		return MIME_KIND_TEXT;
	return t->kind;
}

/* mime_parse_encoding - a Content-Transfer-Encoding value */
static enum mime_enc
mime_parse_encoding(const char *p, const char *end)
{
	const struct mime_encoding *e;
	size_t len;

	p = mime_token(mime_cfws(p, end), end, &len);
	for (e = mime_encodings; e->name != NULL; e++)
		if (mime_is(p - len, len, e->name))
			return e->enc;
	return MIME_ENC_IDENTITY;
}

/* mime_field_type - Content-Type: the first one counts; one cut short
 * may have lost its boundary, so it counts as invalid */
static void
mime_field_type(struct mime *m, const char *value, const char *end)
{
	if (m->type_seen)
		return;
	m->type_seen = true;
	m->kind = m->field_cut ? MIME_KIND_TEXT : mime_parse_type(value, end,
	    m->bound, m->line_max, &m->bound_len);
}

/* mime_field_encoding - Content-Transfer-Encoding: the first counts */
static void
mime_field_encoding(struct mime *m, const char *value, const char *end)
{
	if (m->enc_seen)
		return;
	m->enc_seen = true;
	m->enc = mime_parse_encoding(value, end);
}

/* the header fields that decide how a body is read */
static const struct mime_field {
	const char *name;
	void (*parse)(struct mime *, const char *, const char *);
} mime_fields[] = {
	{ .name = "Content-Type", .parse = mime_field_type },
	{ .name = "Content-Transfer-Encoding", .parse = mime_field_encoding },
	{ 0 },
};

/* mime_line_emit - give the text line (or a line_max piece of it) */
static void
mime_line_emit(struct mime *m)
{
	if (m->stopped)
		return;
	m->line[m->line_len] = '\0';
	if (!m->on_line(m->arg, m->line, m->line_len))
		m->stopped = true;
	m->line_len = 0;
}

/* mime_line_putc - one byte of the text line; a full line goes out as a
 * piece only when more comes, so a line of exactly line_max bytes is
 * one line */
static void
mime_line_putc(struct mime *m, char c)
{
	if (m->line_len == m->line_max)
		mime_line_emit(m);
	m->line[m->line_len++] = c;
}

/* mime_line_put - decoded text: lines end at LF, a CR before it is part
 * of the line end */
static void
mime_line_put(struct mime *m, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !m->stopped; i++) {
		if (p[i] == '\n') {
			m->line_cr = false;
			mime_line_emit(m);
			continue;
		}
		if (m->line_cr) {
			m->line_cr = false;
			mime_line_putc(m, '\r');
		}
		if (p[i] == '\r')
			m->line_cr = true;
		else
			mime_line_putc(m, p[i]);
	}
}

/* mime_line_end - the text ends: its last line has no line end */
static void
mime_line_end(struct mime *m)
{
	if (m->line_cr) {
		m->line_cr = false;
		mime_line_putc(m, '\r');
	}
	if (m->line_len > 0)
		mime_line_emit(m);
}

/* mime_hex - the value of a hex digit, or -1 */
static int
mime_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')	/* lower case is wrong, but seen */
		return c - 'a' + 10;
	return -1;
}

/* mime_qp_pad_flush - held white space turned out not to end a line */
static void
mime_qp_pad_flush(struct mime *m)
{
	if (m->qp_soft)
		mime_line_put(m, "=", 1);
	mime_line_put(m, m->qp_pad, m->qp_npad);
	m->qp_soft = false;
	m->qp_npad = 0;
}

/* mime_qp_data - quoted-printable text of one encoded line; an invalid
 * '=' sequence is given as it is */
static void
mime_qp_data(struct mime *m, const char *p, size_t n)
{
	size_t k;

	for (size_t i = 0; i < n && !m->stopped; i++) {
		unsigned char c = (unsigned char)p[i];
		char lit[2];

		if (m->qp == MIME_QP_HEX) {
			m->qp = MIME_QP_TEXT;
			if (mime_hex(c) >= 0) {
				lit[0] = (char)(mime_hex(m->qp_hex) << 4 |
				    mime_hex(c));
				mime_line_put(m, lit, 1);
				continue;
			}
			lit[0] = '=';
			lit[1] = (char)m->qp_hex;
			mime_line_put(m, lit, 2);
		} else if (m->qp == MIME_QP_EQ) {
			m->qp = MIME_QP_TEXT;
			if (mime_hex(c) >= 0) {
				m->qp = MIME_QP_HEX;
				m->qp_hex = c;
				continue;
			}
			if (mime_ws(c)) {	/* a soft break, padded? */
				m->qp_soft = true;
				m->qp_pad[m->qp_npad++] = (char)c;
				continue;
			}
			mime_line_put(m, "=", 1);
		}
		if (mime_ws(c)) {
			if (m->qp_npad == sizeof(m->qp_pad))
				mime_qp_pad_flush(m);
			m->qp_pad[m->qp_npad++] = (char)c;
			continue;
		}
		if (m->qp_npad > 0)
			mime_qp_pad_flush(m);
		if (c == '=') {
			m->qp = MIME_QP_EQ;
			continue;
		}
		for (k = i + 1; k < n && p[k] != '=' && !mime_ws(p[k]); k++)
			;
		mime_line_put(m, p + i, k - i);
		i = k - 1;
	}
}

/* mime_qp_eol - the end of an encoded line: a hard line break unless
 * '=' (and padding) made it soft; trailing white space was added in
 * transit and goes (RFC 2045 section 6.7) */
static void
mime_qp_eol(struct mime *m)
{
	bool soft = m->qp == MIME_QP_EQ || m->qp_soft;
	char lit[2] = { '=', (char)m->qp_hex };

	if (m->qp == MIME_QP_HEX)
		mime_line_put(m, lit, 2);
	m->qp = MIME_QP_TEXT;
	m->qp_soft = false;
	m->qp_npad = 0;
	if (!soft)
		mime_line_put(m, "\n", 1);
}

/* mime_b64_data - base64: what is not in the alphabet is ignored, '='
 * ends a group (and decoding goes on after it, as readers do) */
static void
mime_b64_data(struct mime *m, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !m->stopped; i++) {
		unsigned char c = (unsigned char)p[i];
		unsigned v;
		char out[3];

		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else {
			if (c != '=' || m->b64_n < 2) {
				if (c == '=')
					m->b64_n = 0;
				continue;
			}
			/* 2 or 3 sextets hold 1 or 2 bytes */
			out[0] = (char)(m->b64 >> (m->b64_n == 2 ? 4 : 10));
			out[1] = (char)(m->b64 >> 2);
			mime_line_put(m, out, m->b64_n - 1);
			m->b64_n = 0;
			continue;
		}
		m->b64 = m->b64 << 6 | v;
		if (++m->b64_n == 4) {
			out[0] = (char)(m->b64 >> 16);
			out[1] = (char)(m->b64 >> 8);
			out[2] = (char)m->b64;
			mime_line_put(m, out, 3);
			m->b64_n = 0;
		}
	}
}

/* mime_text_data - bytes of an encoded line */
static void
mime_text_data(struct mime *m, const char *p, size_t n)
{
	switch (m->enc) {
	case MIME_ENC_IDENTITY:
		mime_line_put(m, p, n);
		break;
	case MIME_ENC_QP:
		mime_qp_data(m, p, n);
		break;
	case MIME_ENC_BASE64:
		mime_b64_data(m, p, n);
		break;
	}
}

/* mime_text_eol - the end of an encoded line */
static void
mime_text_eol(struct mime *m)
{
	switch (m->enc) {
	case MIME_ENC_IDENTITY:
		mime_line_put(m, "\n", 1);
		break;
	case MIME_ENC_QP:
		mime_qp_eol(m);
		break;
	case MIME_ENC_BASE64:
		break;		/* line ends are not in the alphabet */
	}
}

/* mime_text_end - the text is complete: what is pending is given; a
 * '=' at the very end is a soft break, unpadded base64 still counts */
static void
mime_text_end(struct mime *m)
{
	if (m->enc == MIME_ENC_QP && m->qp == MIME_QP_HEX) {
		char lit[2] = { '=', (char)m->qp_hex };

		mime_line_put(m, lit, 2);
	}
	if (m->enc == MIME_ENC_BASE64 && m->b64_n >= 2)
		mime_b64_data(m, "=", 1);
	mime_line_end(m);
}

/* mime_entity - a new entity, at its header */
static void
mime_entity(struct mime *m, unsigned depth, bool digest_part)
{
	m->mode = MIME_MODE_HEADER;
	m->depth = depth;
	m->digest_part = digest_part;
	m->hdr = MIME_HDR_START;
	m->field_len = 0;
	m->field_open = false;
	m->field_cut = false;
	m->type_seen = false;
	m->kind = MIME_KIND_TEXT;
	m->bound_len = 0;
	m->enc_seen = false;
	m->enc = MIME_ENC_IDENTITY;
}

/* mime_pop - the innermost multipart is over */
static void
mime_pop(struct mime *m)
{
	if (m->nlevel == 0)
		log_panic("mime_pop: no multipart open");
	m->nlevel--;
	free(m->level[m->nlevel].mark);
	m->level[m->nlevel].mark = NULL;
}

/*
 * mime_body - the header of the entity is complete: its body goes where
 * its type says. The Content-Transfer-Encoding of a multipart or
 * message (which may only be 7bit, 8bit or binary) is not looked at.
 */
static void
mime_body(struct mime *m)
{
	enum mime_kind kind = m->kind;
	struct mime_level *l;

	if (!m->type_seen)
		kind = m->digest_part ? MIME_KIND_MESSAGE : MIME_KIND_TEXT;
	m->mode = MIME_MODE_SKIP;
	switch (kind) {
	case MIME_KIND_MULTIPART:
	case MIME_KIND_DIGEST:
		if (m->depth >= MIME_DEPTH_MAX)
			break;
		if (m->nlevel >= MIME_DEPTH_MAX)
			log_panic("mime_body: %u multiparts open", m->nlevel);
		l = &m->level[m->nlevel++];
		l->len = m->bound_len + 2;
		l->mark = xmalloc(l->len);
		memcpy(l->mark, "--", 2);
		memcpy(l->mark + 2, m->bound, m->bound_len);
		l->depth = m->depth + 1;
		l->digest = kind == MIME_KIND_DIGEST;
		break;		/* the preamble is skipped */
	case MIME_KIND_MESSAGE:
		if (m->depth < MIME_DEPTH_MAX)
			mime_entity(m, m->depth + 1, false);
		break;
	case MIME_KIND_TEXT:
		if (m->on_line == NULL)
			break;
		m->mode = MIME_MODE_TEXT;
		m->qp = MIME_QP_TEXT;
		m->qp_npad = 0;
		m->qp_soft = false;
		m->b64_n = 0;
		m->line_len = 0;
		m->line_cr = false;
		break;
	case MIME_KIND_OTHER:
		break;
	}
}

/* mime_field_end - a header field is complete: give it, and note what
 * it says about the body */
static void
mime_field_end(struct mime *m)
{
	const struct mime_field *f;
	const char *colon;
	size_t name_len;

	if (!m->field_open || m->stopped) {
		m->field_len = 0;
		return;
	}
	m->field[m->field_len] = '\0';
	if (m->on_header != NULL && !m->on_header(m->arg, m->field,
	    m->field_len, m->depth))
		m->stopped = true;
	colon = memchr(m->field, ':', m->field_len);
	for (name_len = (size_t)(colon - m->field);
	    name_len > 0 && mime_ws(m->field[name_len - 1]); name_len--)
		;
	for (f = mime_fields; f->name != NULL; f++)
		if (mime_is(m->field, name_len, f->name))
			f->parse(m, colon + 1, m->field + m->field_len);
	m->field_open = false;
	m->field_cut = false;
	m->field_len = 0;
}

/*
 * mime_hdr_body - the line being read is not a header field, so the
 * header is over and this line is the first of the body. It is given
 * to the body from what was kept of it (an attached message whose first
 * line this is has an empty header).
 */
static void
mime_hdr_body(struct mime *m)
{
	size_t len = m->field_len;

	m->field_len = 0;
	m->hdr = MIME_HDR_START;
	mime_body(m);
	while (m->mode == MIME_MODE_HEADER)
		mime_body(m);
	mime_data(m, m->field, len);
}

/* mime_field_putc - one byte of the field, if it fits */
static void
mime_field_putc(struct mime *m, char c)
{
	if (m->field_len < m->line_max)
		m->field[m->field_len++] = c;
	else
		m->field_cut = true;
}

/*
 * mime_hdr_data - bytes of a header line; how many were taken (fewer
 * than n when the line is not a header field: the rest is body). A
 * field name is printable ASCII up to a colon, possibly with white
 * space before the colon.
 */
static size_t
mime_hdr_data(struct mime *m, const char *p, size_t n)
{
	size_t i, k;

	for (i = 0; i < n && !m->stopped; i++) {
		unsigned char c = (unsigned char)p[i];
		bool room = m->field_len < m->line_max;

		switch (m->hdr) {
		case MIME_HDR_START:
			if (mime_ws(c) && m->field_open) {
				m->hdr = MIME_HDR_VALUE;	/* unfold */
				mime_field_putc(m, (char)c);
				break;
			}
			mime_field_end(m);
			if (m->stopped || mime_ws(c)) {
				if (!m->stopped)
					mime_hdr_body(m);
				return i;
			}
			m->hdr = MIME_HDR_NAME;
			room = true;	/* the field was given */
			/* FALLTHROUGH */
		case MIME_HDR_NAME:
			if (c > ' ' && c < 0x7f && room &&
			    (c != ':' || m->field_len > 0)) {
				m->field[m->field_len++] = (char)c;
				if (c == ':') {
					m->hdr = MIME_HDR_VALUE;
					m->field_open = true;
				}
				break;
			}
			if (mime_ws(c) && room && m->field_len > 0) {
				m->field[m->field_len++] = (char)c;
				m->hdr = MIME_HDR_NAME_WS;
				break;
			}
			mime_hdr_body(m);
			return i;
		case MIME_HDR_NAME_WS:
			if ((c == ':' || mime_ws(c)) && room) {
				m->field[m->field_len++] = (char)c;
				if (c == ':') {
					m->hdr = MIME_HDR_VALUE;
					m->field_open = true;
				}
				break;
			}
			mime_hdr_body(m);
			return i;
		case MIME_HDR_VALUE:
			k = n - i;
			if (k > m->line_max - m->field_len) {
				k = m->line_max - m->field_len;
				m->field_cut = true;
			}
			memcpy(m->field + m->field_len, p + i, k);
			m->field_len += k;
			return n;
		}
	}
	return i;
}

/* mime_hdr_eol - the end of a header line */
static void
mime_hdr_eol(struct mime *m)
{
	switch (m->hdr) {
	case MIME_HDR_START:	/* the empty line: the header is complete */
		mime_field_end(m);
		if (!m->stopped)
			mime_body(m);
		break;
	case MIME_HDR_NAME:
	case MIME_HDR_NAME_WS:	/* no colon: body */
		mime_hdr_body(m);
		mime_eol(m);
		break;
	case MIME_HDR_VALUE:
		m->hdr = MIME_HDR_START;
		break;
	}
}

/* mime_data - bytes of the line being read (no line end), for the
 * entity; a header that turns out to be over hands the rest on */
static void
mime_data(struct mime *m, const char *p, size_t n)
{
	size_t k;

	while (n > 0 && !m->stopped) {
		switch (m->mode) {
		case MIME_MODE_HEADER:
			k = mime_hdr_data(m, p, n);
			p += k;
			n -= k;
			break;
		case MIME_MODE_TEXT:
			mime_text_data(m, p, n);
			return;
		case MIME_MODE_SKIP:
			return;
		}
	}
}

/* mime_eol - the end of the line being read, for the entity */
static void
mime_eol(struct mime *m)
{
	if (m->stopped)
		return;
	switch (m->mode) {
	case MIME_MODE_HEADER:
		mime_hdr_eol(m);
		break;
	case MIME_MODE_TEXT:
		mime_text_eol(m);
		break;
	case MIME_MODE_SKIP:
		break;
	}
}

/* mime_entity_end - the entity is over (a boundary, or the end) */
static void
mime_entity_end(struct mime *m)
{
	if (m->mode == MIME_MODE_HEADER) {
		if (m->hdr == MIME_HDR_NAME || m->hdr == MIME_HDR_NAME_WS)
			mime_hdr_body(m);
		else
			mime_field_end(m);
	}
	if (m->mode == MIME_MODE_TEXT && !m->stopped)
		mime_text_end(m);
	m->mode = MIME_MODE_SKIP;
}

/* mime_line_done - a raw line ended: a body line's end waits for the
 * next line (it belongs to a boundary line that may follow); a header
 * line's end does not (the header may open a multipart whose boundary
 * the next line is) */
static void
mime_line_done(struct mime *m)
{
	m->bol = true;
	if (m->nlevel > 0 && m->mode != MIME_MODE_HEADER)
		m->eol_pending = true;
	else
		mime_eol(m);
}

/* mime_pending_eol - the line that follows is no boundary line: the
 * end of the previous one is passed on */
static void
mime_pending_eol(struct mime *m)
{
	if (m->eol_pending) {
		m->eol_pending = false;
		mime_eol(m);
	}
}

/* mime_boundary - a boundary line of level i: everything inside ends,
 * then a part begins or, at the closing one, the epilogue */
static void
mime_boundary(struct mime *m, unsigned i, bool close)
{
	m->eol_pending = false;
	m->bol = true;
	mime_entity_end(m);
	while (m->nlevel > i + 1)
		mime_pop(m);
	if (close) {
		mime_pop(m);
		m->mode = MIME_MODE_SKIP;
	} else
		mime_entity(m, m->level[i].depth, m->level[i].digest);
}

/* mime_held_start - a line starts with '-': every open boundary is a
 * candidate */
static void
mime_held_start(struct mime *m)
{
	m->bol = false;
	m->holding = true;
	m->hold_len = 0;
	m->tail_from = 0;
	m->cand = (uint32_t)((1ULL << m->nlevel) - 1);
}

/* mime_tail - a byte that may follow "--boundary" on its line */
static bool
mime_tail(unsigned char c)
{
	return c == '-' || c == '\r' || mime_ws(c);
}

/*
 * mime_held_add - n more bytes of the held line (no LF among them). A
 * candidate stays while the line is a prefix of its "--boundary", or is
 * "--boundary" followed by nothing but '-', white space and CR (the
 * exact form is checked at the line end). Whole runs are compared at
 * once, so that twenty long boundaries cost little per byte.
 */
static void
mime_held_add(struct mime *m, const char *p, size_t n)
{
	size_t pos = m->hold_len, k;

	memcpy(m->hold + pos, p, n);
	m->hold_len += n;
	for (k = n; k > 0; k--)
		if (!mime_tail((unsigned char)p[k - 1])) {
			m->tail_from = pos + k;
			break;
		}
	for (unsigned i = 0; i < m->nlevel; i++) {
		const struct mime_level *l = &m->level[i];

		if (!(m->cand & (1u << i)))
			continue;
		k = pos < l->len ? l->len - pos : 0;
		if (k > n)
			k = n;
		if ((k > 0 && memcmp(m->hold + pos, l->mark + pos, k) != 0) ||
		    m->tail_from > l->len)
			m->cand &= ~(1u << i);
	}
}

/*
 * mime_held_match - the innermost level whose boundary line the held
 * line is ("--boundary", then "--" if it is the closing one, then white
 * space and a CR), or -1
 */
static int
mime_held_match(const struct mime *m, bool *close_r)
{
	size_t core = m->hold_len;

	if (core > 0 && m->hold[core - 1] == '\r')
		core--;
	while (core > 0 && mime_ws(m->hold[core - 1]))
		core--;
	for (unsigned i = m->nlevel; i-- > 0;) {
		const struct mime_level *l = &m->level[i];
		/* a boundary may end in white space (it should not) */
		size_t c = core > l->len ? core : l->len;

		if (!(m->cand & (1u << i)) || m->hold_len < l->len)
			continue;
		*close_r = c == l->len + 2;
		if (c == l->len || (*close_r && m->hold[l->len] == '-' &&
		    m->hold[l->len + 1] == '-'))
			return (int)i;
	}
	return -1;
}

/* mime_unhold - the held line is no boundary line: it is body (a CR at
 * its end may start the line end) */
static void
mime_unhold(struct mime *m)
{
	size_t n = m->hold_len;

	m->holding = false;
	mime_pending_eol(m);
	if (n > 0 && m->hold[n - 1] == '\r') {
		n--;
		m->cr = true;
	}
	mime_data(m, m->hold, n);
}

/* mime_held - bytes of a held line; past what was taken */
static const char *
mime_held(struct mime *m, const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	size_t n = (size_t)((lf != NULL ? lf : end) - p);
	bool close;
	int i;

	if (n > m->hold_cap - m->hold_len) {	/* too long to be one */
		mime_unhold(m);
		return p;
	}
	mime_held_add(m, p, n);
	if (lf == NULL) {
		if (m->cand == 0)
			mime_unhold(m);
		return end;
	}
	m->holding = false;
	if ((i = mime_held_match(m, &close)) >= 0) {
		mime_boundary(m, (unsigned)i, close);
		return lf + 1;
	}
	mime_unhold(m);
	m->cr = false;		/* it was part of the line end */
	mime_line_done(m);
	return lf + 1;
}

/* mime_content - bytes of a line that is no boundary line, up to and
 * including its LF; past what was taken */
static const char *
mime_content(struct mime *m, const char *p, const char *end)
{
	const char *lf;
	size_t n;

	if (m->bol) {
		m->bol = false;
		mime_pending_eol(m);
	}
	lf = memchr(p, '\n', (size_t)(end - p));
	n = (size_t)((lf != NULL ? lf : end) - p);
	if (m->cr) {
		m->cr = false;
		if (n > 0)	/* else it was CR LF */
			mime_data(m, "\r", 1);
	}
	if (n > 0 && p[n - 1] == '\r') {
		n--;
		if (lf == NULL)
			m->cr = true;
	}
	mime_data(m, p, n);
	if (lf == NULL)
		return end;
	mime_line_done(m);
	return lf + 1;
}

/*
 * mime_new - a reader for a body whose header had these Content-Type and
 * Content-Transfer-Encoding values (NULL: absent), giving lines of at
 * most line_max bytes (at least 80); either callback may be NULL
 */
struct mime *
mime_new(const char *content_type, const char *encoding, size_t line_max,
    mime_header_fn on_header, mime_line_fn on_line, void *arg)
{
	struct mime *m;

	if (line_max < 80)
		log_panic("mime_new: line_max %zu is less than 80", line_max);
	m = xcalloc(1, sizeof(*m));
	m->line_max = line_max;
	m->on_header = on_header;
	m->on_line = on_line;
	m->arg = arg;
	m->bol = true;
	/* zeroed: callers hand these buffers to PCRE2, whose JIT code
	 * reads whole words past the NUL (valgrind would see uninitialised
	 * bytes; the result does not depend on them) */
	m->field = xcalloc(1, line_max + 1);
	m->bound = xcalloc(1, line_max + 1);
	m->line = xcalloc(1, line_max + 1);
	m->hold_cap = line_max + MIME_HOLD_EXTRA;
	m->hold = xcalloc(1, m->hold_cap);

	/* the top level's header has been read by the caller */
	mime_entity(m, 0, false);
	if (content_type != NULL) {
		m->type_seen = true;
		m->kind = mime_parse_type(content_type,
		    content_type + strlen(content_type), m->bound, line_max,
		    &m->bound_len);
	}
	if (encoding != NULL) {
		m->enc_seen = true;
		m->enc = mime_parse_encoding(encoding,
		    encoding + strlen(encoding));
	}
	mime_body(m);
	return m;
}

/* mime_feed - the next len bytes of the body */
void
mime_feed(struct mime *m, const void *data, size_t len)
{
	const char *p = data, *end = p + len;

	if (m->stopped)
		return;
	if (m->ended)
		log_panic("mime_feed: after mime_end");
	while (p < end && !m->stopped) {
		if (m->nlevel == 0 && m->mode == MIME_MODE_SKIP)
			return;		/* nothing more can be text */
		if (m->holding)
			p = mime_held(m, p, end);
		else if (m->bol && m->nlevel > 0 && *p == '-')
			mime_held_start(m);
		else
			p = mime_content(m, p, end);
	}
}

/* mime_end - the body is complete: the last line (without a line end)
 * is given now */
void
mime_end(struct mime *m)
{
	bool close;
	int i;

	if (m->stopped)
		return;
	if (m->ended)
		log_panic("mime_end: called twice");
	m->ended = true;
	if (m->holding) {	/* a last line without its line end */
		m->holding = false;
		if ((i = mime_held_match(m, &close)) >= 0)
			mime_boundary(m, (unsigned)i, close);
		else
			mime_unhold(m);
	}
	mime_pending_eol(m);
	if (m->cr && !m->stopped) {
		m->cr = false;
		mime_data(m, "\r", 1);
	}
	if (!m->stopped)
		mime_entity_end(m);
	while (m->nlevel > 0)
		mime_pop(m);
}

/* mime_stopped - a callback returned false */
bool
mime_stopped(const struct mime *m)
{
	return m->stopped;
}

/* mime_free - sets *m NULL; NULL ok */
void
mime_free(struct mime **mp)
{
	struct mime *m = *mp;

	if (m == NULL)
		return;
	while (m->nlevel > 0)
		mime_pop(m);
	free(m->field);
	free(m->bound);
	free(m->line);
	free(m->hold);
	free(m);
	*mp = NULL;
}
