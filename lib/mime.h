/*
 * mime.h - the text of a message, part by part, decoded, line by line
 *
 * Contract: a streaming MIME reader (RFC 2045, 2046) for content checks.
 * It is told the message's top-level Content-Type and
 * Content-Transfer-Encoding values (from its header; NULL when absent)
 * and then fed the body in chunks of any size, split anywhere; line ends
 * may be CR LF or LF alone. It calls back, in message order:
 *
 *	header	each header field of a MIME part and of a message/rfc822
 *		part's message (not the top-level header, which the caller
 *		has), unfolded as Postfix does (CR LF before white space
 *		removed), as "Name: value"; the depth (1 = a part of the
 *		message) says where it came from
 *	line	each line of text: the body of a message without a
 *		Content-Type or with text/... (and of each text/... part),
 *		after base64 or quoted-printable decoding, without its line
 *		end. A line longer than line_max bytes is given in pieces of
 *		line_max bytes (a decoded base64 part without line breaks
 *		cannot grow a buffer without bound).
 * A part's header field longer than line_max bytes is cut to line_max.
 *
 * Parts that are not text (application/..., image/..., and so on) are
 * neither decoded nor given: their bytes are skipped (base64 noise never
 * reaches the checks). multipart/... parts are followed through their
 * boundaries up to MIME_DEPTH_MAX nested levels; deeper parts are
 * skipped. message/rfc822 parts count as one level. The preamble and
 * epilogue of a multipart are not text. A part whose boundary never
 * comes ends with the message. Bad base64 or quoted-printable never
 * fails: what decodes is given, the rest is dropped. Bytes are given as
 * they decode (no charset conversion).
 *
 * Bounds: memory is O(line_max + MIME_DEPTH_MAX * boundary length),
 * whatever the input. A callback returning false stops the reader: every
 * later mime_feed() is ignored (a check that has decided needs nothing
 * more).
 *
 * Not thread-safe: one reader belongs to one message.
 */
#ifndef POSTERN_MIME_H
#define POSTERN_MIME_H

#include <stdbool.h>
#include <stddef.h>

#define MIME_DEPTH_MAX	20

/* a header field of a part ("Name: value", unfolded; NUL-terminated at
 * len); false stops the reader */
typedef bool (*mime_header_fn)(void *arg, const char *field, size_t len,
    unsigned depth);
/* a decoded line of text without its line end (NUL-terminated at len);
 * false stops the reader */
typedef bool (*mime_line_fn)(void *arg, const char *line, size_t len);

struct mime;

/*
 * mime_new - a reader for a body whose header had these Content-Type and
 * Content-Transfer-Encoding values (NULL: absent), giving lines of at
 * most line_max bytes (at least 80); either callback may be NULL
 */
struct mime *mime_new(const char *content_type, const char *encoding,
    size_t line_max, mime_header_fn on_header, mime_line_fn on_line,
    void *arg);
/* mime_feed - the next len bytes of the body */
void mime_feed(struct mime *m, const void *data, size_t len);
/* mime_end - the body is complete: the last line (without a line end)
 * is given now */
void mime_end(struct mime *m);
/* mime_stopped - a callback returned false */
bool mime_stopped(const struct mime *m);
/* mime_free - sets *m NULL; NULL ok */
void mime_free(struct mime **m);

#endif
