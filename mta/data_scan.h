/*
 * data_scan.h - the bytes of DATA or BDAT into a message: end of data,
 * dot-unstuffing, bare CR and LF, the header/body split, size limits
 *
 * Contract: a scanner is fed the client's bytes as they arrive, in any
 * pieces, and writes the message into a struct message (header block
 * parsed with message_parse_header at its end, body appended to the
 * message's spool). Memory is bounded whatever the input: a line is
 * never held whole (only the header block, up to header_size_limit).
 *
 * End of DATA (RFC 5321 §4.1.1.4) is exactly CR LF "." CR LF, where the
 * first CR LF is the end of the previous line or of the DATA command.
 * Nothing else ends it: "<LF>.<LF>", "<LF>.<CR><LF>", "<CR><LF>.<LF>",
 * "<CR>.<CR>", "<CR><LF>.<CR>" and NUL variants are data. So a message
 * can never be split in two here (SMTP smuggling).
 *
 * Bare line ends: a LF not preceded by CR, or a CR not followed by LF,
 * is counted (DATA_SCAN_BARE_LF, DATA_SCAN_BARE_CR). With normalize each
 * becomes CR LF in the stored message; otherwise the message is stored
 * as is and the caller refuses it (the flags say why). A CR LF split
 * across two feeds is one line end.
 *
 * Dot-unstuffing (DATA only): a line that starts with "." loses that
 * dot. BDAT data is taken as is (RFC 3030).
 *
 * Header/body: header fields until the first empty line; a line that is
 * neither a field nor a continuation also ends the header and is the
 * first body line (Postfix does the same), so no byte is lost.
 *
 * Limits: over max_size bytes (after unstuffing) or a header block over
 * max_header, storing stops (the rest is read and dropped) and the flag
 * is set; the caller answers 552 at the end. A spool error (disk) sets
 * DATA_SCAN_SPOOL_ERROR; the caller answers 451.
 */
#ifndef POSTERN_DATA_SCAN_H
#define POSTERN_DATA_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "message.h"

enum {
	DATA_SCAN_BARE_LF = 1 << 0,
	DATA_SCAN_BARE_CR = 1 << 1,
	DATA_SCAN_TOO_BIG = 1 << 2,
	DATA_SCAN_HEADER_TOO_BIG = 1 << 3,
	DATA_SCAN_SPOOL_ERROR = 1 << 4,
};

struct data_scan {
	struct message *msg;
	bool dot;		/* DATA (unstuffing, end marker) or BDAT */
	bool normalize;		/* bare CR / LF become CR LF */
	uint64_t max_size, max_header;
	/* results */
	unsigned flags;
	uint64_t size;		/* message bytes seen (after unstuffing) */
	bool done;		/* DATA: the end marker was seen */
	/* private */
	int state;
	bool in_header;
	bool line_start;
	size_t hdr_line;	/* header: where the current line starts */
	uint64_t line_len;	/* header: bytes of it before its end */
	struct buf header;
	const char *spool_why;
};

/* data_scan_init - a scanner writing into msg */
void data_scan_init(struct data_scan *ds, struct message *msg, bool dot,
    bool normalize, uint64_t max_size, uint64_t max_header);

/*
 * data_scan_feed - consume bytes; returns how many were used: all of
 * them, or (DATA) fewer when the end marker came first (the rest belongs
 * to the next command: pipelining after the end of data is allowed).
 */
size_t data_scan_feed(struct data_scan *ds, const char *p, size_t len);

/*
 * data_scan_finish - the end of the message (DATA: after the marker;
 * BDAT: after LAST): flush what is pending (a header without body; a
 * final CR), parse the header block into the message. Returns the flags.
 */
unsigned data_scan_finish(struct data_scan *ds);

/* data_scan_free - the header buffer */
void data_scan_free(struct data_scan *ds);

#endif
