/*
 * smtp_reply.h - reading a server's SMTP (or LMTP) replies, with bounds
 *
 * Contract: the delivery client feeds the bytes a server sends, in any
 * pieces, and takes complete replies out. A reply is one or more lines
 * "CODE-text" ending with a line "CODE text" (RFC 5321 §4.2): every line
 * must have the same three-digit code (2xx..5xx; first digit 2-5,
 * second 0-5), then '-' or ' ' (or the end of the line for a bare
 * "250"), and end in CR LF. Anything else is a protocol error, never a
 * guess: a line without a valid code, codes that differ between lines, a
 * bare LF or NUL, a line over SMTP_REPLY_LINE_MAX bytes, more than
 * SMTP_REPLY_LINES_MAX lines or SMTP_REPLY_MAX bytes in one reply. These
 * bounds keep a hostile server from making the client allocate without
 * end or read a later line as part of an earlier reply (CVE-2020-8794 is
 * what happens otherwise).
 *
 * The enhanced status code (RFC 3463 "x.y.z" after the code on the first
 * line, when its class digit matches the code's) is split off when
 * present.
 */
#ifndef POSTERN_SMTP_REPLY_H
#define POSTERN_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

#define SMTP_REPLY_LINE_MAX	2048
#define SMTP_REPLY_LINES_MAX	100
#define SMTP_REPLY_MAX		65536

struct smtp_reply {
	int code;		/* 200..599 */
	const char *status;	/* "5.1.1" or NULL */
	const char *text;	/* the lines' texts joined by "\n", without
				   codes (and without the status on the
				   first line) */
	size_t lines;
};

struct smtp_reply_reader;

/* smtp_reply_reader_new - an empty reader */
struct smtp_reply_reader *smtp_reply_reader_new(void);
/* smtp_reply_reader_free - sets *r NULL; NULL ok */
void smtp_reply_reader_free(struct smtp_reply_reader **r);

/* smtp_reply_feed - append received bytes; false (with *why_r) when they
 * break the grammar or a bound: the connection must then be dropped */
bool smtp_reply_feed(struct smtp_reply_reader *r, const char *data,
    size_t len, const char **why_r);

/* smtp_reply_next - the next complete reply into *out (strings in
 * arena): 1 got one, 0 need more bytes */
int smtp_reply_next(struct smtp_reply_reader *r, struct arena *arena,
    struct smtp_reply *out);

/* smtp_reply_pending - bytes received but not yet part of a returned
 * reply (a server that talks before it is asked) */
size_t smtp_reply_pending(const struct smtp_reply_reader *r);

/* smtp_reply_format - "CODE STATUS text" on one line for logs and DSNs
 * (lines joined with a space, control characters replaced) */
const char *smtp_reply_format(const struct smtp_reply *reply,
    struct arena *arena);

#endif
