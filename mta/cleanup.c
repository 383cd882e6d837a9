/*
 * cleanup.c - Received:, the milters' content phase, the queue file
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "cleanup.h"
#include "virtual.h"
#include "log.h"

/* cleanup_date - RFC 5322 date-time of now, local time with zone */
static const char *
cleanup_date(struct arena *arena)
{
	char text[64];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	/* %z is the numeric zone RFC 5322 wants; the name in parentheses
	 * is the comment Postfix and Sendmail add */
	strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
	return arena_strdup(arena, text);
}

/*
 * cleanup_received - RFC 5321 §4.4:
 *	Received: from HELO (NAME [ADDR])
 *		by HOST (Postern) with PROTOCOL id QID
 *		for <RCPT>; DATE
 * "for" only with exactly one recipient (more would disclose Bcc:).
 * The TLS parameters go in a comment, as Postfix writes them.
 */
const char *
cleanup_received(const struct message *m, const struct queue_attrs *a,
    const char *myhostname, const char *qid, struct arena *arena)
{
	const char *v, *addr = a->client_addr ? a->client_addr : "unknown";
	bool v6 = strchr(addr, ':') != NULL;

	v = arena_printf(arena, " from %s (%s [%s%s])",
	    a->helo && *a->helo ? a->helo : "unknown",
	    a->client_name ? a->client_name : "unknown", v6 ? "IPv6:" : "",
	    addr);
	if (a->tls != NULL)
		v = arena_printf(arena, "%s\r\n\t(using %s)", v, a->tls);
	v = arena_printf(arena, "%s\r\n\tby %s (Postern) with %s id %s", v,
	    myhostname, a->protocol ? a->protocol : "SMTP", qid);
	if (m->n_rcpts == 1)
		v = arena_printf(arena, "%s\r\n\tfor <%s>", v,
		    m->rcpts[0].addr);
	return arena_printf(arena, "%s; %s", v, cleanup_date(arena));
}

/* cleanup_store_reply - the reply for a queue_store failure (errno) */
static const char *
cleanup_store_reply(int err)
{
	if (err == ENOSPC || err == EDQUOT)
		return "452 4.3.1 Insufficient system storage";
	return "451 4.3.0 Error: queue file write error";
}

/*
 * cleanup_virtual - virtual_alias_maps on every recipient (after the
 * milters, so that recipients they add are rewritten too). A rewritten
 * recipient keeps its NOTIFY, and its ORCPT is the address the client
 * gave (RFC 3461 §4.2). false with r set: a lookup error defers.
 */
static bool
cleanup_virtual(const struct cleanup_request *rq, struct cleanup_result *r)
{
	struct message *m = rq->msg;
	struct message_rcpt *old = m->rcpts;
	size_t n_old = m->n_rcpts, i, k;

	m->rcpts = NULL;
	m->n_rcpts = m->cap_rcpts = 0;
	for (i = 0; i < n_old; i++) {
		const char **out, *why;
		size_t n;

		switch (virtual_expand(rq->virtual_maps, old[i].addr, rq->arena,
		    &out, &n, &why)) {
		case VIRTUAL_SAME:
			message_add_rcpt(m, &old[i]);
			break;
		case VIRTUAL_EXPANDED:
			for (k = 0; k < n; k++) {
				struct message_rcpt nr = old[i];

				nr.addr = out[k];
				if (nr.orcpt == NULL)
					nr.orcpt = arena_printf(rq->arena,
					    "rfc822;%s", old[i].addr);
				message_add_rcpt(m, &nr);
			}
			log_msg(LOG_INFO, rq->qid, "to=<%s>: virtual alias "
			    "to %zu address%s", old[i].addr, n,
			    n == 1 ? "" : "es");
			break;
		case VIRTUAL_ERROR:
			log_msg(LOG_WARNING, rq->qid, "virtual_alias_maps: %s",
			    why);
			r->status = CLEANUP_REFUSED;
			r->reply = "451 4.3.0 Error: temporary lookup failure";
			r->why = arena_printf(rq->arena, "virtual_alias_maps: "
			    "%s", why);
			return false;
		}
	}
	return true;
}

/* cleanup_message - see cleanup.h */
void
cleanup_message(const struct cleanup_request *rq, struct cleanup_result *r)
{
	struct message *m = rq->msg;
	enum queue_name where = QUEUE_INCOMING;
	struct milters_result mr = { .verdict = MILTERS_CONTINUE };

	memset(r, 0, sizeof(*r));
	if (rq->discard != NULL) {
		/* Postfix's behaviour: the client is told it was queued */
		r->status = CLEANUP_DISCARDED;
		r->reply = arena_printf(rq->arena, "250 2.0.0 Ok: queued as "
		    "%s", rq->qid);
		log_msg(LOG_INFO, rq->qid, "discard: by milter %s",
		    rq->discard);
		return;
	}
	message_prepend_header(m, "Received", cleanup_received(m, rq->attrs,
	    rq->myhostname, rq->qid, rq->arena), true);
	if (rq->milters != NULL && milters_active(rq->milters))
		milters_message(rq->milters, rq->macro, rq->macro_ctx, m,
		    rq->rcpt_ok, rq->rcpt_ctx, rq->arena, &mr);
	switch (mr.verdict) {
	case MILTERS_CONTINUE:
	case MILTERS_ACCEPT:
		break;
	case MILTERS_DISCARD:
		r->status = CLEANUP_DISCARDED;
		r->reply = arena_printf(rq->arena, "250 2.0.0 Ok: queued as "
		    "%s", rq->qid);
		log_msg(LOG_INFO, rq->qid, "discard: by milter %s",
		    mr.by ? mr.by : "?");
		return;
	case MILTERS_REJECT:
	case MILTERS_TEMPFAIL:
		r->status = CLEANUP_REFUSED;
		r->reply = mr.reply;
		r->why = arena_printf(rq->arena, "milter %s",
		    mr.by ? mr.by : "?");
		return;
	case MILTERS_SHUTDOWN:
		r->status = CLEANUP_SHUTDOWN;
		r->reply = mr.reply;
		r->why = arena_printf(rq->arena, "milter %s",
		    mr.by ? mr.by : "?");
		return;
	}
	if (m->n_rcpts == 0) {
		/* milters deleted every recipient: nothing to deliver, and
		 * the client's mail was accepted by them */
		r->status = CLEANUP_DISCARDED;
		r->reply = arena_printf(rq->arena, "250 2.0.0 Ok: queued as "
		    "%s", rq->qid);
		log_msg(LOG_INFO, rq->qid, "discard: no recipients left "
		    "after the milters");
		return;
	}
	if (rq->virtual_maps != NULL && !cleanup_virtual(rq, r))
		return;
	if (m->quarantine != NULL) {
		where = QUEUE_HOLD;
		r->held = true;
	}
	if (!queue_store(rq->queue, m, rq->attrs, where, rq->qid)) {
		int err = errno;

		r->status = CLEANUP_REFUSED;
		r->reply = cleanup_store_reply(err);
		r->why = arena_printf(rq->arena, "queue file: %s",
		    strerror(err));
		return;
	}
	r->status = CLEANUP_QUEUED;
	r->reply = arena_printf(rq->arena, "250 2.0.0 Ok: queued as %s",
	    rq->qid);
}
