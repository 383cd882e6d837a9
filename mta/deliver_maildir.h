/*
 * deliver_maildir.h - delivery into a Maildir (the maildir: transport)
 *
 * Contract: deliver_maildir() writes one message for one recipient into
 * the Maildir named by a path template, the way the Maildir format wants
 * it to be crash-safe: the file is written into tmp/ under a unique name
 * (time, pid, a counter, the host name), fsynced, linked into new/, the
 * tmp/ name unlinked, and new/ fsynced. Only then is the delivery done;
 * any failure removes what was written and says whether it is worth
 * retrying (disk full, I/O errors: temporary) or not (a path the
 * template cannot make safely: permanent).
 *
 * Templates: "%d" is the recipient's domain and "%u" its local part, both
 * lower-cased; "%%" is "%". Nothing from an address reaches the path
 * unless it is a safe name: non-empty, no "/", not "." or "..", no NUL or
 * control character, at most 255 bytes; else the delivery fails
 * permanently ("unsafe local part"). Missing directories along the path
 * (and the Maildir's cur/ new/ tmp/) are created, mode 0700.
 *
 * The message is written as the delivery agent receives it (headers then
 * body, CR LF turned into LF as Maildir readers expect), after the
 * Return-Path: and Delivered-To: fields this function prepends.
 * Blocking: for a delivery thread.
 */
#ifndef POSTERN_DELIVER_MAILDIR_H
#define POSTERN_DELIVER_MAILDIR_H

#include <stdbool.h>

#include "arena.h"
#include "message.h"

enum deliver_status {
	DELIVER_OK,
	DELIVER_TEMPFAIL,
	DELIVER_PERMFAIL,
};

/* the outcome, with an RFC 3463 status and a text for the DSN and log */
struct deliver_result {
	enum deliver_status status;
	const char *dsn;	/* "2.0.0", "4.3.0", "5.1.1"... */
	const char *text;	/* "delivered to maildir", "write: ..." */
};

/*
 * deliver_maildir_path - the Maildir for rcpt from template (strings in
 * arena); NULL with *why_r when the address cannot make a safe path
 */
const char *deliver_maildir_path(const char *template, const char *rcpt,
    struct arena *arena, const char **why_r);

/* deliver_maildir - one message (m's headers and body) for rcpt */
void deliver_maildir(const char *template, const struct message *m,
    const char *rcpt, const char *myhostname, struct arena *arena,
    struct deliver_result *r);

#endif
