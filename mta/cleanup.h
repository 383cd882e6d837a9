/*
 * cleanup.h - the end of a message in the mta: our Received: header,
 * the milters' content phase, and the queue file
 *
 * Contract: cleanup_message() runs on a job thread once the client's
 * data is complete and acceptable. It prepends the mta's Received:
 * field (hidden from milters, RFC 5321 §4.4 format), runs the milters'
 * content phase (their edits change the message), rewrites recipients by
 * virtual_alias_maps (virtual.h; a lookup error defers), and stores the result
 * with queue_store(): in hold/ when a milter quarantined it, nowhere
 * when a milter discarded it. The result carries the one reply the
 * client must get; "250 2.0.0 Ok: queued as ID" is only ever given after
 * the queue file and its directory were synced.
 */
#ifndef POSTERN_CLEANUP_H
#define POSTERN_CLEANUP_H

#include <stdbool.h>

#include "message.h"
#include "milters.h"
#include "queue.h"
#include "table.h"

struct cleanup_request {
	struct message *msg;
	const char *qid;		/* from queue_id_new() */
	const char *myhostname;
	const struct queue_attrs *attrs;
	struct queue *queue;
	struct milters *milters;	/* NULL: none */
	milter_macro_fn *macro;
	void *macro_ctx;
	milters_rcpt_ok_fn *rcpt_ok;
	void *rcpt_ctx;
	const char *discard;		/* a milter discarded the message at
					   MAIL, RCPT or DATA: its name */
	struct table *virtual_maps;	/* virtual_alias_maps, or NULL */
	struct arena *arena;
};

enum cleanup_status {
	CLEANUP_QUEUED,		/* in incoming/ (or hold/ when held) */
	CLEANUP_DISCARDED,	/* a milter discarded it: nothing stored */
	CLEANUP_REFUSED,	/* reply is 4xx or 5xx */
	CLEANUP_SHUTDOWN,	/* reply is 421: close the session */
};

struct cleanup_result {
	enum cleanup_status status;
	const char *reply;	/* the complete SMTP reply */
	bool held;		/* quarantined into hold/ */
	const char *why;	/* for the log, when refused */
};

/* cleanup_received - the Received: value (leading space, folds) */
const char *cleanup_received(const struct message *m,
    const struct queue_attrs *attrs, const char *myhostname,
    const char *qid, struct arena *arena);

/* cleanup_message - see the contract */
void cleanup_message(const struct cleanup_request *rq,
    struct cleanup_result *r);

#endif
