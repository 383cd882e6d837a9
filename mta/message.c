/*
 * message.c - one message in the mta between DATA and the queue file
 * (see message.h)
 *
 * Arrays (recipients, header fields) grow by doubling inside the
 * message's arena: the old array stays there until the arena goes, which
 * costs at most as much again as the final array and spares every caller
 * a free. The body spool is the one thing the arena cannot own directly,
 * so a single cleanup frees whatever spool m->body points to at the end
 * (message_body_replace swaps spools under it).
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "buf.h"
#include "message.h"
#include "spool.h"

/* bytes converted per spool_append in message_body_replace */
#define MESSAGE_BODY_CHUNK	8192

/* the DSN NOTIFY keywords (RFC 3461 §4.1) */
static const struct {
	const char *name;
	unsigned bit;
} message_notify_words[] = {
	{ .name = "NEVER", .bit = MESSAGE_NOTIFY_NEVER },
	{ .name = "SUCCESS", .bit = MESSAGE_NOTIFY_SUCCESS },
	{ .name = "FAILURE", .bit = MESSAGE_NOTIFY_FAILURE },
	{ .name = "DELAY", .bit = MESSAGE_NOTIFY_DELAY },
	{ 0 },
};

/* message_free_body - arena cleanup: the spool the message has now */
static void
message_free_body(void *arg)
{
	struct message *m = arg;

	spool_free(&m->body);
}

/* message_new_spool - an empty spool with the message's settings */
static struct spool *
message_new_spool(const struct message *m)
{
	size_t limit = m->spool_memory > SIZE_MAX ? SIZE_MAX :
	    (size_t)m->spool_memory;

	return spool_new(m->temp_dir, limit);
}

/* message_new - an empty message in arena */
struct message *
message_new(struct arena *arena, const char *temp_dir, uint64_t spool_memory)
{
	struct message *m = arena_alloc(arena, sizeof(*m));

	m->arena = arena;
	m->sender = "";
	m->temp_dir = arena_strdup(arena, temp_dir);
	m->spool_memory = spool_memory;
	m->body = message_new_spool(m);
	arena_cleanup(arena, message_free_body, m);
	return m;
}

/* message_grow - room for one more element in an arena array */
static void *
message_grow(struct arena *arena, void *array, size_t n, size_t *cap,
    size_t size)
{
	void *bigger;

	if (n < *cap)
		return array;
	*cap = *cap == 0 ? 8 : 2 * *cap;
	bigger = arena_alloc(arena, *cap * size);
	if (n > 0)
		memcpy(bigger, array, n * size);
	return bigger;
}

/* message_strip - addr without one pair of enclosing angle brackets:
 * start and length within addr */
static const char *
message_strip(const char *addr, size_t *len_r)
{
	size_t len = strlen(addr);

	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
		*len_r = len - 2;
		return addr + 1;
	}
	*len_r = len;
	return addr;
}

/* message_addr_copy - addr without its brackets, in the arena */
static const char *
message_addr_copy(struct message *m, const char *addr)
{
	const char *p;
	size_t len;

	p = message_strip(addr != NULL ? addr : "", &len);
	return arena_memdup(m->arena, p, len);
}

/* message_add_rcpt - append a recipient (strings copied) */
void
message_add_rcpt(struct message *m, const struct message_rcpt *r)
{
	struct message_rcpt *n;

	m->rcpts = message_grow(m->arena, m->rcpts, m->n_rcpts, &m->cap_rcpts,
	    sizeof(*m->rcpts));
	n = &m->rcpts[m->n_rcpts++];
	n->addr = arena_strdup(m->arena, r->addr != NULL ? r->addr : "");
	n->orcpt = arena_strdup(m->arena, r->orcpt);
	n->notify = r->notify;
	n->params = arena_strdup(m->arena, r->params);
}

/* message_insert_at - a field at array position pos (strings kept as
 * given: the callers copy) */
static void
message_insert_at(struct message *m, size_t pos, const char *name,
    const char *value, bool hidden)
{
	struct message_header *h;

	m->headers = message_grow(m->arena, m->headers, m->n_headers,
	    &m->cap_headers, sizeof(*m->headers));
	if (pos > m->n_headers)
		pos = m->n_headers;
	memmove(&m->headers[pos + 1], &m->headers[pos],
	    (m->n_headers - pos) * sizeof(*m->headers));
	m->n_headers++;
	h = &m->headers[pos];
	h->name = name;
	h->value = value;
	h->hidden = hidden;
}

/* message_name_len - a field name: printable ASCII but ':' (RFC 5322
 * §2.2), at least one byte; its length, 0 if the line has none */
static size_t
message_name_len(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == ':')
			return i;
		if (c < 33 || c > 126)
			return 0;
	}
	return 0;
}

/* message_end_field - store the field collected so far. A NUL byte
 * (RFC 5322 has none, a client may send one) cannot live in a C string:
 * it becomes a space, so that nothing after it is lost, neither for the
 * filters nor in the queue file. */
static void
message_end_field(struct message *m, const char *name, struct buf *value)
{
	size_t i;

	for (i = 0; i < value->len; i++)
		if (value->data[i] == '\0')
			value->data[i] = ' ';
	message_insert_at(m, m->n_headers, name,
	    arena_memdup(m->arena, buf_cstr(value), value->len), false);
	buf_reset(value);
}

/*
 * message_parse_header - the header block into fields. All or nothing:
 * on a bad line no field of the block is kept, so that the caller can
 * take the whole block for body text if it wants to. A line end is LF
 * with the CR before it; a fold is stored as CR LF whatever it was, which
 * is byte-exact for the CR LF text the contract promises. Only a line
 * that is neither a field nor a continuation is refused (the contract:
 * data_scan.c checks lines with the same rule and counts on it).
 */
bool
message_parse_header(struct message *m, const char *data, size_t len,
    const char **why_r)
{
	const char *p = data, *end = data + len, *nl, *name = NULL;
	size_t before = m->n_headers, line_len, name_len;
	struct buf value = { 0 };

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		line_len = (size_t)((nl != NULL ? nl : end) - p);
		if (nl != NULL && line_len > 0 && p[line_len - 1] == '\r')
			line_len--;
		if (line_len > 0 && (p[0] == ' ' || p[0] == '\t')) {
			if (name == NULL) {
				*why_r = "continuation line before the first "
				    "header field";
				goto bad;
			}
			buf_append(&value, "\r\n", 2);
			buf_append(&value, p, line_len);
		} else if ((name_len = message_name_len(p, line_len)) > 0) {
			if (name != NULL)
				message_end_field(m, name, &value);
			name = arena_memdup(m->arena, p, name_len);
			buf_append(&value, p + name_len + 1,
			    line_len - name_len - 1);
		} else {
			*why_r = line_len == 0 ? "empty line in the header" :
			    "header line without a field name";
			goto bad;
		}
		p = nl != NULL ? nl + 1 : end;
	}
	if (name != NULL)
		message_end_field(m, name, &value);
	buf_free(&value);
	return true;
bad:
	m->n_headers = before;
	buf_free(&value);
	return false;
}

/* message_prepend_header - a field of our own at the top */
void
message_prepend_header(struct message *m, const char *name,
    const char *value, bool hidden)
{
	message_insert_at(m, 0, arena_strdup(m->arena, name),
	    arena_strdup(m->arena, value), hidden);
}

/* message_visible_count - how many fields milters see */
size_t
message_visible_count(const struct message *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->n_headers; i++)
		if (!m->headers[i].hidden)
			n++;
	return n;
}

/* message_visible_pos - array position of the i-th visible field, or
 * n_headers past the end */
static size_t
message_visible_pos(const struct message *m, size_t i)
{
	size_t pos;

	for (pos = 0; pos < m->n_headers; pos++)
		if (!m->headers[pos].hidden && i-- == 0)
			return pos;
	return m->n_headers;
}

/* message_visible - the i-th (0-based) visible field, NULL past the end */
const struct message_header *
message_visible(const struct message *m, size_t i)
{
	size_t pos = message_visible_pos(m, i);

	return pos < m->n_headers ? &m->headers[pos] : NULL;
}

/*
 * message_milter_value - a value from a milter as stored: each LF not
 * already after a CR gets one (milters fold with LF alone), and the space
 * after the colon that Sendmail writes unless the milter sends its own
 * (SMFIP_HDR_LEADSPC)
 */
static const char *
message_milter_value(struct message *m, const char *value, bool lead_space)
{
	size_t i, n, len;
	bool space;
	char *out;

	if (value == NULL)
		value = "";
	space = !lead_space && value[0] != ' ' && value[0] != '\t';
	len = strlen(value);
	n = len + (space ? 1 : 0);
	for (i = 0; i < len; i++)
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
			n++;
	out = arena_alloc(m->arena, n + 1);
	n = 0;
	if (space)
		out[n++] = ' ';
	for (i = 0; i < len; i++) {
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = value[i];
	}
	out[n] = '\0';
	return out;
}

/* message_add_header - append a field at the end */
void
message_add_header(struct message *m, const char *name, const char *value,
    bool lead_space)
{
	message_insert_at(m, m->n_headers, arena_strdup(m->arena, name),
	    message_milter_value(m, value, lead_space), false);
}

/* message_insert_header - before the index-th visible field, so that a
 * hidden field above it (our Received:) stays above */
void
message_insert_header(struct message *m, size_t index, const char *name,
    const char *value, bool lead_space)
{
	message_insert_at(m, message_visible_pos(m, index),
	    arena_strdup(m->arena, name),
	    message_milter_value(m, value, lead_space), false);
}

/* message_change_header - change, delete or (Sendmail) add; index counts
 * from 1 among the visible fields named name */
void
message_change_header(struct message *m, size_t index, const char *name,
    const char *value, bool lead_space)
{
	bool empty = value == NULL || value[0] == '\0';
	size_t pos;

	if (index == 0)
		index = 1;
	for (pos = 0; pos < m->n_headers; pos++)
		if (!m->headers[pos].hidden &&
		    strcasecmp(m->headers[pos].name, name) == 0 &&
		    --index == 0)
			break;
	if (pos == m->n_headers) {
		if (!empty)
			message_add_header(m, name, value, lead_space);
		return;
	}
	if (empty) {
		memmove(&m->headers[pos], &m->headers[pos + 1],
		    (m->n_headers - pos - 1) * sizeof(*m->headers));
		m->n_headers--;
		return;
	}
	m->headers[pos].value = message_milter_value(m, value, lead_space);
}

/* message_change_sender - the new envelope sender; ESMTP parameters are
 * ignored, as Postfix does: the DSN settings of the original MAIL stay */
void
message_change_sender(struct message *m, const char *addr,
    const char *params)
{
	(void)params;
	m->sender = message_addr_copy(m, addr);
}

/* message_parse_notify - a NOTIFY= value into bits; false if malformed
 * (NEVER must stand alone, RFC 3461 §4.1) */
static bool
message_parse_notify(const char *text, size_t len, unsigned *bits_r)
{
	unsigned bits = 0;
	size_t i, word;

	while (len > 0) {
		word = 0;
		while (word < len && text[word] != ',')
			word++;
		for (i = 0; message_notify_words[i].name != NULL; i++)
			if (strlen(message_notify_words[i].name) == word &&
			    strncasecmp(text, message_notify_words[i].name,
			    word) == 0)
				break;
		if (message_notify_words[i].name == NULL ||
		    (bits & message_notify_words[i].bit) != 0)
			return false;
		bits |= message_notify_words[i].bit;
		if (word == len)
			break;
		text += word + 1;
		len -= word + 1;
		if (len == 0)
			return false;
	}
	if (bits == 0 || ((bits & MESSAGE_NOTIFY_NEVER) != 0 &&
	    bits != MESSAGE_NOTIFY_NEVER))
		return false;
	*bits_r = bits;
	return true;
}

/* message_hex - a hex digit's value, -1 if none; xtext wants upper case
 * (RFC 3461 §4) */
static int
message_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* message_parse_orcpt - "addr-type;xtext" into "addr-type;decoded" in
 * the arena; NULL if malformed */
static const char *
message_parse_orcpt(struct message *m, const char *text, size_t len)
{
	const char *semi = memchr(text, ';', len);
	struct buf b = { 0 };
	const char *r = NULL;
	size_t i;
	int hi, lo;

	if (semi == NULL || semi == text)
		return NULL;
	buf_append(&b, text, (size_t)(semi - text) + 1);
	for (i = (size_t)(semi - text) + 1; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '+') {
			if (i + 2 >= len)
				goto out;
			hi = message_hex(text[i + 1]);
			lo = message_hex(text[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto out;
			buf_putc(&b, (char)(hi * 16 + lo));
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			goto out;
		} else {
			buf_putc(&b, (char)c);
		}
	}
	r = arena_memdup(m->arena, b.data, b.len);
out:
	buf_free(&b);
	return r;
}

/*
 * message_add_rcpt_text - a recipient from a milter: "<addr>" and the
 * ESMTP parameters text of add-recipient-with-args. Well-formed NOTIFY=
 * and ORCPT= go into their fields, so that DSNs honour them; every other
 * word stays in params as given.
 */
void
message_add_rcpt_text(struct message *m, const char *addr,
    const char *params)
{
	struct message_rcpt r = { .addr = message_addr_copy(m, addr) };
	const char *p = params != NULL ? params : "", *orcpt;
	struct buf rest = { 0 };
	size_t word;

	while (*p != '\0') {
		if (*p == ' ' || *p == '\t') {
			p++;
			continue;
		}
		word = strcspn(p, " \t");
		if (word > 7 && strncasecmp(p, "NOTIFY=", 7) == 0 &&
		    r.notify == 0 &&
		    message_parse_notify(p + 7, word - 7, &r.notify)) {
			/* taken */
		} else if (word > 6 && strncasecmp(p, "ORCPT=", 6) == 0 &&
		    r.orcpt == NULL &&
		    (orcpt = message_parse_orcpt(m, p + 6, word - 6)) !=
		    NULL) {
			r.orcpt = orcpt;
		} else {
			if (rest.len > 0)
				buf_putc(&rest, ' ');
			buf_append(&rest, p, word);
		}
		p += word;
	}
	r.params = rest.len > 0 ? buf_cstr(&rest) : NULL;
	message_add_rcpt(m, &r);
	buf_free(&rest);
}

/* message_delete_rcpt - every recipient whose whole address matches
 * (case-insensitive, brackets ignored on both sides); how many */
size_t
message_delete_rcpt(struct message *m, const char *addr)
{
	const char *want, *have;
	size_t want_len, have_len, i, kept = 0, deleted;

	want = message_strip(addr != NULL ? addr : "", &want_len);
	for (i = 0; i < m->n_rcpts; i++) {
		have = message_strip(m->rcpts[i].addr, &have_len);
		if (have_len == want_len &&
		    strncasecmp(have, want, want_len) == 0)
			continue;
		m->rcpts[kept++] = m->rcpts[i];
	}
	deleted = m->n_rcpts - kept;
	m->n_rcpts = kept;
	return deleted;
}

/* message_body_flush - n converted bytes into the new body */
static bool
message_body_flush(struct message *m, const char *out, size_t n,
    const char **why_r)
{
	if (n == 0 || spool_append(m->body, out, n))
		return true;
	if (why_r != NULL)
		*why_r = arena_strdup(m->arena, spool_error(m->body));
	return false;
}

/*
 * message_body_replace - one chunk of a new body. Every CR is written as
 * it comes, so nothing waits for a next chunk that may never come;
 * replace_cr remembers whether the last byte written was a CR, so that a
 * LF starting the next chunk completes that line end instead of getting
 * a CR of its own. A CR not followed by LF stays a lone CR: inventing a
 * line end would change the body the milter meant.
 */
bool
message_body_replace(struct message *m, const void *data, size_t len,
    bool first, const char **why_r)
{
	const unsigned char *p = data;
	char out[MESSAGE_BODY_CHUNK + 1];
	bool cr;
	size_t i, n = 0;

	if (first) {
		spool_free(&m->body);
		m->body = message_new_spool(m);
		m->replace_cr = false;
	}
	cr = m->replace_cr;
	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && !cr)
			out[n++] = '\r';
		out[n++] = (char)p[i];
		cr = p[i] == '\r';
		if (n >= MESSAGE_BODY_CHUNK - 1) {
			if (!message_body_flush(m, out, n, why_r))
				return false;
			n = 0;
		}
	}
	m->replace_cr = cr;
	return message_body_flush(m, out, n, why_r);
}

/* message_size - the bytes of the message as the queue file holds it */
uint64_t
message_size(const struct message *m)
{
	uint64_t size = 2;	/* the empty line */
	size_t i;

	for (i = 0; i < m->n_headers; i++)
		size += strlen(m->headers[i].name) + 1 +
		    strlen(m->headers[i].value) + 2;
	if (m->body != NULL)
		size += spool_size(m->body);
	return size;
}
