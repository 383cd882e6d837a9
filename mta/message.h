/*
 * message.h - one message in the mta between DATA and the queue file:
 * envelope, header fields and body, and the edits milters make to them
 *
 * Contract: a message lives in one arena (the SMTP session's per-message
 * arena); every string it holds or returns is in that arena, and the body
 * is a lib/spool (memory up to a limit, then an unlinked temporary file)
 * freed by an arena cleanup. Nothing here does I/O beyond the spool.
 *
 * Envelope: the sender (address without <>, "" for the null sender) with
 * its ESMTP parameters, and recipients in order, each with its DSN
 * parameters. Addresses are stored as the client or a milter gave them
 * (without angle brackets); parsing and policy are other files' work.
 *
 * Header fields: a list in message order. Each field is kept as name and
 * value exactly as received: the value is everything after the colon
 * (leading white space included, folds kept as "\r\n" + WSP), so that an
 * untouched message is written back byte for byte. A field can be hidden:
 * the mta's own Received: line is in the list (it goes into the queue
 * file) but milters never see it, and every index below counts only
 * visible fields, as Postfix does.
 *
 * Body: the bytes after the empty line, with CR LF line ends, after
 * dot-unstuffing; message_body_replace() swaps in a new one.
 *
 * Edits (the milter actions, same semantics as Sendmail/Postfix):
 * - add: append a field at the end;
 * - insert: before the visible field at 0-based position index (index
 *   past the end appends);
 * - change: the index-th (1-based; 0 counts as 1) visible field named
 *   name (case-insensitive) gets value; an empty value deletes the field;
 *   a missing field is added at the end when the value is not empty
 *   (Sendmail behaviour) and nothing happens otherwise;
 * - sender change, recipient add (with ESMTP parameters text) and
 *   recipient delete (by address, case-insensitive on the whole address,
 *   brackets ignored; every match is deleted; none is not an error).
 * Values given to add/insert/change come from milters: "\n" folds are
 * turned into "\r\n" here, and a value without leading white space gets
 * one space after the colon (what Sendmail writes), unless lead_space is
 * set (the milter negotiated SMFIP_HDR_LEADSPC and gives it itself).
 */
#ifndef POSTERN_MESSAGE_H
#define POSTERN_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "spool.h"

/* DSN NOTIFY (RFC 3461); 0 = not given */
enum {
	MESSAGE_NOTIFY_NEVER = 1 << 0,
	MESSAGE_NOTIFY_SUCCESS = 1 << 1,
	MESSAGE_NOTIFY_FAILURE = 1 << 2,
	MESSAGE_NOTIFY_DELAY = 1 << 3,
};

/* DSN RET */
enum message_ret {
	MESSAGE_RET_UNSET,
	MESSAGE_RET_FULL,
	MESSAGE_RET_HDRS,
};

/* BODY= */
enum message_body_type {
	MESSAGE_BODY_UNSET,
	MESSAGE_BODY_7BIT,
	MESSAGE_BODY_8BITMIME,
	MESSAGE_BODY_BINARYMIME,
};

struct message_rcpt {
	const char *addr;	/* without <> */
	const char *orcpt;	/* ORCPT as "addr-type;xtext-decoded", or NULL */
	unsigned notify;	/* MESSAGE_NOTIFY_* */
	const char *params;	/* other ESMTP parameters as given, or NULL
				   (milter add-recipient-with-args) */
};

struct message_header {
	const char *name;
	const char *value;	/* after the colon, folds as "\r\n" WSP */
	bool hidden;		/* not shown to milters (our Received:) */
};

struct message {
	struct arena *arena;
	/* envelope */
	const char *sender;	/* "" = null sender */
	enum message_ret ret;
	const char *envid;	/* xtext-decoded, or NULL */
	enum message_body_type body_type;
	bool smtputf8;
	struct message_rcpt *rcpts;
	size_t n_rcpts, cap_rcpts;
	/* content */
	struct message_header *headers;
	size_t n_headers, cap_headers;
	struct spool *body;
	/* set by milters: a reason means the message goes to the hold queue */
	const char *quarantine;
	/* private to message.c */
	const char *temp_dir;
	uint64_t spool_memory;
	bool replace_cr;	/* the last replacement chunk ended in CR */
};

/* message_new - an empty message in arena; body spool in temp_dir,
 * memory up to spool_memory bytes */
struct message *message_new(struct arena *arena, const char *temp_dir,
    uint64_t spool_memory);

/* message_add_rcpt - append a recipient (strings copied) */
void message_add_rcpt(struct message *m, const struct message_rcpt *r);

/*
 * message_parse_header - the header block as received (bytes up to and
 * excluding the empty line, CR LF line ends) into fields. false with
 * *why_r for a line that is neither a field nor a continuation (the
 * caller decides; the mta has already refused such data or accepts it
 * as the start of the body, as Postfix does: see smtpd.c).
 */
bool message_parse_header(struct message *m, const char *data, size_t len,
    const char **why_r);

/* message_prepend_header - a field of our own at the top (hidden or not);
 * value given exactly as it is to be written (leading space, CR LF folds) */
void message_prepend_header(struct message *m, const char *name,
    const char *value, bool hidden);

/* message_visible_count - how many fields milters see */
size_t message_visible_count(const struct message *m);

/* message_visible - the i-th (0-based) visible field, NULL past the end */
const struct message_header *message_visible(const struct message *m,
    size_t i);

/* the edits; see the contract */
void message_add_header(struct message *m, const char *name,
    const char *value, bool lead_space);
void message_insert_header(struct message *m, size_t index,
    const char *name, const char *value, bool lead_space);
void message_change_header(struct message *m, size_t index,
    const char *name, const char *value, bool lead_space);
void message_change_sender(struct message *m, const char *addr,
    const char *params);
void message_add_rcpt_text(struct message *m, const char *addr,
    const char *params);
size_t message_delete_rcpt(struct message *m, const char *addr);
/*
 * message_body_replace - one chunk of a new body from a milter ('b'
 * packets, in order): first starts the new body (in a new spool with the
 * old one's settings; the old one is dropped at the next first chunk),
 * later calls append. Lines may end in LF alone and become CR LF; a CR LF
 * split over two chunks stays one line end. false with *why_r if the
 * spool fails (disk); the message is then unusable.
 */
bool message_body_replace(struct message *m, const void *data, size_t len,
    bool first, const char **why_r);

/* message_size - header bytes (name + ":" + value + CR LF each, the empty
 * line) plus body bytes, as the queue file will hold it */
uint64_t message_size(const struct message *m);

#endif
