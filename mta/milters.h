/*
 * milters.h - the configured milters in order, for one SMTP session
 *
 * Contract: milters_open() connects to every configured filter at the
 * start of a session; each event then goes to each filter in order and
 * the first verdict other than "continue" decides (later filters do not
 * see that event). Blocking: run on a job thread, never on the loop.
 *
 * Verdicts per stage (Postfix's behaviour):
 * - connect, helo: reject / tempfail / reply / 421 from a filter is
 *   remembered by the caller (smtpd) and every later command of the
 *   session fails with it; "accept" stops talking to that filter for the
 *   rest of the session.
 * - mail, rcpt, data: reject refuses that command (rcpt: that recipient
 *   only); "accept" skips that filter for the rest of the message.
 * - message (the content phase at the end of DATA; the DATA event itself
 *   went out when the client sent DATA): each filter in turn gets the
 *   visible header fields, end of headers, the body and end of message,
 *   and its edits are applied to the struct message before the next
 *   filter sees it. quarantine sets m->quarantine; discard
 *   ends the loop with MILTERS_DISCARD; reject / tempfail / reply end it
 *   with that reply. An added recipient passes the relay guard check the
 *   caller supplies (a filter cannot open a relay either).
 * - A filter that cannot be used (connect failure, timeout, protocol
 *   violation: milter_client.h) gets its default_action: tempfail
 *   ("451 4.3.5 Server configuration problem - try again later"),
 *   accept (go on without it), reject ("550 5.5.0 Service unavailable"),
 *   quarantine (message stages: hold the message; before that: go on
 *   and hold the message at the end), or shutdown ("421 4.3.5 Server
 *   configuration problem - closing connection"). Each is logged once
 *   with the filter's name and why.
 *
 * Default texts for a filter's bare reject / tempfail (Postfix's, the
 * same at every stage): "550 5.7.1 Command rejected" and "451 4.7.1
 * Service unavailable - try again later".
 *
 * Macros come from the caller's function (milter_client.h), asked per
 * event; the queue id macro "i" is the caller's business too.
 */
#ifndef POSTERN_MILTERS_H
#define POSTERN_MILTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "message.h"
#include "milter_client.h"

enum milters_verdict {
	MILTERS_CONTINUE,
	MILTERS_ACCEPT,		/* every filter is done with this message or
				   session: no more events needed */
	MILTERS_REJECT,		/* reply: 5xx */
	MILTERS_TEMPFAIL,	/* reply: 4xx */
	MILTERS_DISCARD,	/* message stages: accept and drop */
	MILTERS_SHUTDOWN,	/* reply: 421; close the session */
};

struct milters_result {
	enum milters_verdict verdict;
	const char *reply;	/* REJECT, TEMPFAIL, SHUTDOWN: the full SMTP
				   reply ("550 5.7.1 text", CR LF between
				   lines) */
	const char *by;		/* the filter that decided, or NULL */
};

/* a recipient a filter adds: may the session have it? (relay guard) */
typedef bool milters_rcpt_ok_fn(void *ctx, const char *addr);

struct milters;

/*
 * milters_open - connect to each of n specs (order kept). A filter that
 * cannot be reached gets its default action at once: the result says
 * what the session must do (CONTINUE when every unreachable filter's
 * action is accept or quarantine). Never NULL. All allocation in the
 * session arena.
 */
struct milters *milters_open(const struct milter_spec *specs, size_t n,
    struct arena *session_arena, struct milters_result *r);
/* milters_close - quit and close every filter; sets *ms NULL; NULL ok */
void milters_close(struct milters **ms);

/* milters_active - some filter still wants events of this session */
bool milters_active(const struct milters *ms);

void milters_connect(struct milters *ms, milter_macro_fn *macro, void *ctx,
    const char *hostname, char family, uint16_t port, const char *addr,
    struct arena *arena, struct milters_result *r);
void milters_helo(struct milters *ms, milter_macro_fn *macro, void *ctx,
    const char *helo, struct arena *arena, struct milters_result *r);
void milters_mail(struct milters *ms, milter_macro_fn *macro, void *ctx,
    const char *const *argv, struct arena *arena,
    struct milters_result *r);
void milters_rcpt(struct milters *ms, milter_macro_fn *macro, void *ctx,
    const char *const *argv, bool rejected, struct arena *arena,
    struct milters_result *r);
void milters_data(struct milters *ms, milter_macro_fn *macro, void *ctx,
    struct arena *arena, struct milters_result *r);
void milters_unknown(struct milters *ms, milter_macro_fn *macro, void *ctx,
    const char *command, struct arena *arena, struct milters_result *r);
/*
 * milters_message - the content phase (see the contract) on m, which
 * the filters' edits change in place; a failure to apply an edit (the
 * body spool: disk) is TEMPFAIL "451 4.3.0 Error: queue file write
 * error". rcpt_ok vets recipients that filters add (NULL: all ok).
 */
void milters_message(struct milters *ms, milter_macro_fn *macro, void *ctx,
    struct message *m, milters_rcpt_ok_fn *rcpt_ok, void *rcpt_ctx,
    struct arena *arena, struct milters_result *r);
/* milters_abort - the current message ends without end of data (RSET,
 * a refusal, MAIL again); filters that fail here get dropped */
void milters_abort(struct milters *ms);

#endif
