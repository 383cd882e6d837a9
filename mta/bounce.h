/*
 * bounce.h - delivery status notifications (RFC 3464, RFC 3461 rules)
 *
 * Contract: bounce_compose() builds the DSN for one queued message as a
 * new struct message, ready for queue_store(): envelope sender "<>"
 * (a DSN is never itself bounced), one recipient (the original sender,
 * or postmaster for a double bounce), and the content:
 *
 *	multipart/report; report-type=delivery-status
 *	  1. text/plain: a human-readable explanation, one paragraph per
 *	     recipient with the remote server's reply
 *	  2. message/delivery-status: the per-message fields
 *	     (Reporting-MTA: dns; HOST, X-Postfix-Queue-ID style
 *	     X-Postern-Queue-ID, Original-Envelope-Id when ENVID was given,
 *	     Arrival-Date) and one block per recipient (Final-Recipient:
 *	     rfc822; ADDR, Original-Recipient when ORCPT was given,
 *	     Action, Status, Remote-MTA: dns; HOST when there was one,
 *	     Diagnostic-Code: smtp; REPLY, Last-Attempt-Date, and for
 *	     delays Will-Retry-Until)
 *	  3. the original: message/rfc822 (RET=FULL, and the default for
 *	     failures when the message is small) or text/rfc822-headers
 *	     (RET=HDRS, delays, and messages over the size limit)
 *
 * All header lines of the DSN are 7-bit and folded under 78 columns;
 * text from remote servers is sanitised (no control characters). Dates
 * are RFC 5322. The result parses with Python's email module.
 *
 * bounce_wanted() applies RFC 3461 NOTIFY: NEVER suppresses everything;
 * without NOTIFY, failures and delays are reported, successes not;
 * otherwise exactly the listed kinds.
 */
#ifndef POSTERN_BOUNCE_H
#define POSTERN_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "arena.h"
#include "message.h"

enum bounce_action {
	BOUNCE_FAILED,
	BOUNCE_DELAYED,
	BOUNCE_DELIVERED,
	BOUNCE_RELAYED,		/* delivered to a server without DSN */
	BOUNCE_EXPANDED,
};

struct bounce_rcpt {
	const char *addr;
	const char *orcpt;		/* "rfc822;addr" or NULL */
	enum bounce_action action;
	const char *status;		/* "5.1.1" */
	const char *diagnostic;		/* the server's reply "550 5.1.1 ..."
					   or our own text; NULL: none */
	const char *remote_mta;		/* host name, or NULL */
	time_t last_attempt;
	time_t retry_until;		/* delays only */
};

struct bounce_request {
	const struct message *orig;	/* headers and body of the message */
	const char *qid;
	time_t arrival;
	const char *reporting_mta;	/* myhostname */
	const char *postmaster;		/* address for double bounces */
	bool double_bounce;		/* the original sender was <> */
	const struct bounce_rcpt *rcpts;
	size_t n_rcpts;
	uint64_t return_limit;		/* above it only headers go back */
	const char *temp_dir;		/* for the new message's body */
	uint64_t spool_memory;
};

/* bounce_wanted - a DSN of this kind for a recipient with these NOTIFY
 * bits (MESSAGE_NOTIFY_*; 0 = not given), the sender not being <> */
bool bounce_wanted(unsigned notify, enum bounce_action action);

/*
 * bounce_compose - the DSN for rq as a new message in arena; NULL with
 * *why_r when the body cannot be written (spool: disk). The envelope
 * sender is "" and the one recipient is the original sender (or
 * postmaster when double_bounce).
 */
struct message *bounce_compose(const struct bounce_request *rq,
    struct arena *arena, const char **why_r);

#endif
