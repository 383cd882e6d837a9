/*
 * queue.h - the mta's queue: directories, queue ids, queue files
 *
 * Layout: queue_directory holds incoming/, active/, deferred/, hold/ and
 * corrupt/, one file per message named by its queue id. A message that
 * got 250 is in exactly one of them (rename moves it), so nothing is ever
 * in two places and nothing is lost between two.
 *
 * Queue ids: 16 characters from [0-9A-Z] minus I, L, O, U (Crockford's
 * base 32): 11 for the arrival time in microseconds since the epoch, then
 * 5 for a per-process counter mixed with the process id. Ids sort by
 * arrival time as strings. queue_id_new() makes them; the file is
 * created with O_EXCL and renamed without replacing anything, so an id
 * is never reused: a collision (the counter and the pid make it
 * impossible in practice) fails the store with EEXIST.
 *
 * Queue file: records, each a type byte, a 4-byte big-endian length and
 * that many bytes; the last record is END (type 'E', length 0), so a file
 * without it is incomplete. Types (each at most once unless said):
 *
 *	'V'	format version, "1" (first record)
 *	'I'	queue id
 *	'T'	arrival time, decimal microseconds since the epoch
 *	'A'	an attribute, "name\0value" (any number): client_name,
 *		client_addr, client_port, helo, protocol (SMTP, ESMTP,
 *		ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP...), auth_user, tls, ret (FULL, HDRS),
 *		envid, body (7BIT, 8BITMIME, BINARYMIME), smtputf8 (yes)
 *	'S'	the sender ("" for <>)
 *	'R'	a recipient (any number, in order): 1 byte state ('P'
 *		pending, 'W' pending with its delay DSN sent, 'D'
 *		delivered, 'B' bounced, 'X' expanded), 1 byte
 *		NOTIFY bits, then "addr\0orcpt\0params" (empty strings for
 *		none). The state byte is first in the record so that the
 *		delivery side can rewrite it in place (issue 8).
 *	'Q'	quarantine reason (the message is in hold/)
 *	'H'	a header field, "name\0value" as in struct message
 *	'B'	body bytes (any number of records, in order; CR LF lines)
 *	'E'	end
 *
 * Durability: queue_store() writes the file as incoming/.ID.tmp (a
 * dot name: never a queue file), fsyncs it, renames it to its queue's
 * directory as ID, and fsyncs that directory, all before it returns
 * true. On any error it unlinks what it wrote and returns false with
 * errno: the caller answers 452 4.3.1 for ENOSPC/EDQUOT and 451 4.3.0
 * otherwise. These calls block (run them on a job thread).
 */
#ifndef POSTERN_QUEUE_H
#define POSTERN_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>

#include "arena.h"
#include "message.h"

#define QUEUE_ID_LEN	16

enum queue_name {
	QUEUE_INCOMING,
	QUEUE_ACTIVE,
	QUEUE_DEFERRED,
	QUEUE_HOLD,
	QUEUE_CORRUPT,
	QUEUE_COUNT,
};

/* session facts written as 'A' records */
struct queue_attrs {
	const char *client_name, *client_addr, *helo, *protocol;
	unsigned client_port;
	const char *auth_user;	/* NULL: not authenticated */
	const char *tls;	/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384
				   (256 bits)", or
				   NULL */
};

/* a queue file read back (queue_read): strings in the arena */
struct queue_entry {
	char id[QUEUE_ID_LEN + 1];
	enum queue_name queue;
	uint64_t arrival_us;
	uint64_t size;			/* the file's size in bytes */
	struct queue_attrs attrs;
	struct message *msg;		/* envelope, headers, quarantine;
					   body only with want_body */
	char *rcpt_states;		/* n_rcpts state bytes */
	uint64_t *rcpt_offsets;		/* where each state byte is in the
					   file (queue_set_rcpt_states) */
};

struct queue;

/* queue_name_of - "incoming", ... (the directory names) */
const char *queue_name_of(enum queue_name q);
/* queue_name_parse - the other way; false if unknown */
bool queue_name_parse(const char *text, enum queue_name *r);

/*
 * queue_open - use dir as queue_directory, creating it and the five
 * directories (mode 0700, owned by uid/gid when they are not -1) when
 * missing. NULL with *why_r (malloc'ed) when that fails.
 */
struct queue *queue_open(const char *dir, int uid, int gid, char **why_r);
/* queue_close - sets *q NULL; NULL ok */
void queue_close(struct queue **q);

/* queue_store - see Durability. id comes from queue_id_new() (the mta
 * names the message from its first recipient on); on success the file
 * is where (QUEUE_INCOMING, or QUEUE_HOLD when quarantined). */
bool queue_store(struct queue *q, const struct message *m,
    const struct queue_attrs *attrs, enum queue_name where,
    const char *id);

/*
 * queue_recover - at start: every file in incoming/ and active/ that does
 * not end in a well-formed END record goes to corrupt/ (logged, with what
 * is wrong); leftover .ID.tmp files too. Returns how many were moved, -1
 * on an I/O error (logged).
 */
int queue_recover(struct queue *q);

/*
 * queue_read - read message id from whichever queue holds it. 1 found
 * (into r), 0 no such message, -1 error (unreadable, malformed, no END:
 * *why_r says, in arena). want_body reads the body into r->msg->body too
 * (a spool in temp_dir as message_new makes it).
 */
int queue_read(struct queue *q, const char *id, bool want_body,
    const char *temp_dir, struct arena *arena, struct queue_entry *r,
    const char **why_r);

/* queue_move - rename id from one queue to another and fsync both
 * directories: 1 moved, 0 not in from, -1 error (errno) */
int queue_move(struct queue *q, const char *id, enum queue_name from,
    enum queue_name to);
/* queue_find - which queue holds id: 1 (into *r), 0 none, -1 error */
int queue_find(struct queue *q, const char *id, enum queue_name *r);
/* queue_delete - remove id wherever it is: 1, 0 none, -1 error */
int queue_delete(struct queue *q, const char *id);

/*
 * queue_list - call fn for every message of every queue in id order
 * (arrival order) with its envelope (no body, no headers); a file that
 * cannot be read is passed with r->msg NULL and why set. Stops early when
 * fn returns false. -1 on a directory error, else the count.
 */
int queue_list(struct queue *q, bool (*fn)(const struct queue_entry *e,
    const char *why, void *ctx), void *ctx);

/* queue_id_new - a fresh id (unique in this process and, with the pid
 * mixed in, across processes) before the file exists: the mta needs it
 * from the first recipient on (milter macro "i", Received:) */
void queue_id_new(struct queue *q, char id_r[QUEUE_ID_LEN + 1]);

/*
 * queue_set_rcpt_states - set the state of recipients idx[0..n) of the
 * message e (as read by queue_read, still in e->queue) to state ('D'
 * delivered, 'B' bounced, 'X' expanded, 'P' pending, 'W' warned), in
 * place, and fsync: a recipient marked done is never delivered again after a crash.
 * 1 done, 0 the file is gone (deleted meanwhile), -1 error (errno).
 */
int queue_set_rcpt_states(struct queue *q, const struct queue_entry *e,
    const size_t *idx, size_t n, char state);

/*
 * queue_due - call fn with each id in queue qn whose file's modification
 * time is not after until (0: every file), in no particular order; stops
 * when fn returns false. The count, or -1 (errno) when the directory
 * cannot be read.
 */
int queue_due(struct queue *q, enum queue_name qn, time_t until,
    bool (*fn)(const char *id, time_t mtime, void *ctx), void *ctx);
/* queue_set_time - set id's modification time (deferred/: the next
 * attempt): 1, 0 gone, -1 error */
int queue_set_time(struct queue *q, const char *id, enum queue_name qn,
    time_t when);
/* queue_dir_path - the directory of queue qn, into buf */
const char *queue_dir_path(struct queue *q, enum queue_name qn,
    char buf[PATH_MAX]);

/* queue_id_valid - text is a well-formed queue id */
bool queue_id_valid(const char *text);

#endif
