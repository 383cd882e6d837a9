/*
 * milters.c - the configured filters in order, for one SMTP session
 *
 * Each filter has a connection (milter_client.c) and two flags: done for
 * the session (it accepted at connect or helo, or it failed and its
 * default action lets the session go on without it) and done for the
 * message (it accepted the message). A filter that failed with a
 * refusing default action (tempfail, reject, shutdown) stays failed and
 * refuses every later event the same way, as Postfix does.
 */
#include "config.h"

#include <string.h>
#include <syslog.h>

#include "log.h"
#include "milters.h"

#define MILTERS_BODY_CHUNK	65536

/* Postfix's texts */
#define MILTERS_REJECT_TEXT	"550 5.7.1 Command rejected"
#define MILTERS_TEMPFAIL_TEXT	"451 4.7.1 Service unavailable - try again later"
#define MILTERS_SHUTDOWN_TEXT	"421 4.7.0 Server closing connection"

struct milters_filter {
	const struct milter_spec *spec;
	struct milter_conn *conn;
	bool session_done;
	bool message_done;
	bool failed;		/* its default action refuses */
};

struct milters {
	struct milters_filter *f;
	size_t n;
	const char *quarantine;	/* a failed filter's default action */
};

/* the default actions that refuse, with their replies */
static const struct {
	enum milters_verdict verdict;
	const char *reply;
} milters_defaults[] = {
	[MILTER_DEFAULT_TEMPFAIL] = { MILTERS_TEMPFAIL,
	    "451 4.3.5 Server configuration problem - try again later" },
	[MILTER_DEFAULT_ACCEPT] = { MILTERS_CONTINUE, NULL },
	[MILTER_DEFAULT_REJECT] = { MILTERS_REJECT,
	    "550 5.5.0 Service unavailable" },
	[MILTER_DEFAULT_QUARANTINE] = { MILTERS_CONTINUE, NULL },
	[MILTER_DEFAULT_SHUTDOWN] = { MILTERS_SHUTDOWN,
	    "421 4.3.5 Server configuration problem - closing connection" },
};

static const char *const milters_default_names[] = {
	[MILTER_DEFAULT_TEMPFAIL] = "tempfail",
	[MILTER_DEFAULT_ACCEPT] = "accept",
	[MILTER_DEFAULT_REJECT] = "reject",
	[MILTER_DEFAULT_QUARANTINE] = "quarantine",
	[MILTER_DEFAULT_SHUTDOWN] = "shutdown",
};

/* milters_set - fill a result */
static void
milters_set(struct milters_result *r, enum milters_verdict v,
    const char *reply, const struct milters_filter *f)
{
	r->verdict = v;
	r->reply = reply;
	r->by = f ? f->spec->name : NULL;
}

/*
 * milters_failed - filter f cannot be used (why): its default action.
 * true when that ends the event with a refusal in r.
 */
static bool
milters_failed(struct milters *ms, struct milters_filter *f,
    const char *why, struct milters_result *r)
{
	enum milter_default d = f->spec->default_action;

	if (!f->failed && !f->session_done) {
		/* the client's reasons already start "filter NAME: " */
		size_t n = strlen(f->spec->name);

		if (strncmp(why, "filter ", 7) == 0 &&
		    strncmp(why + 7, f->spec->name, n) == 0 &&
		    strncmp(why + 7 + n, ": ", 2) == 0)
			why += 7 + n + 2;
		log_warn("milter %s: %s; default_action %s", f->spec->name,
		    why, milters_default_names[d]);
	}
	milter_close(&f->conn);
	if (milters_defaults[d].verdict == MILTERS_CONTINUE) {
		f->session_done = true;
		if (d == MILTER_DEFAULT_QUARANTINE && ms->quarantine == NULL)
			ms->quarantine = "milter unavailable (default_action "
			    "quarantine)";
		return false;
	}
	f->failed = true;
	milters_set(r, milters_defaults[d].verdict, milters_defaults[d].reply,
	    f);
	return true;
}

/* milters_open - connect to every filter */
struct milters *
milters_open(const struct milter_spec *specs, size_t n,
    struct arena *arena, struct milters_result *r)
{
	struct milters *ms = arena_alloc(arena, sizeof(*ms));
	size_t i;

	ms->f = arena_alloc(arena, (n ? n : 1) * sizeof(*ms->f));
	ms->n = n;
	milters_set(r, MILTERS_CONTINUE, NULL, NULL);
	for (i = 0; i < n; i++) {
		struct milters_filter *f = &ms->f[i];
		struct milters_result later;
		const char *why = NULL;

		f->spec = &specs[i];
		f->conn = milter_open(f->spec, arena, &why);
		/* each failure is logged with its own why and gets its own
		 * default action; the first refusal answers for the session */
		if (f->conn == NULL)
			milters_failed(ms, f, why ? why : "cannot connect",
			    r->verdict == MILTERS_CONTINUE ? r : &later);
	}
	return ms;
}

/* milters_close - quit every filter */
void
milters_close(struct milters **msp)
{
	struct milters *ms = *msp;
	size_t i;

	if (ms == NULL)
		return;
	*msp = NULL;
	for (i = 0; i < ms->n; i++)
		milter_close(&ms->f[i].conn);
}

/* milters_active - some filter still takes events */
bool
milters_active(const struct milters *ms)
{
	size_t i;

	for (i = 0; i < ms->n; i++)
		if (!ms->f[i].session_done)
			return true;
	return ms->quarantine != NULL;
}

/* milters_wants - whether filter f gets this event */
static bool
milters_wants(const struct milters_filter *f, bool message_stage)
{
	return !f->session_done && !(message_stage && f->message_done);
}

/*
 * milters_verdict - one filter's reply to an event; true when it ends
 * the event for every filter (a refusal, a discard, a shutdown)
 */
static bool
milters_verdict(struct milters *ms, struct milters_filter *f,
    const struct milter_reply *mr, bool message_stage,
    struct milters_result *r)
{
	switch (mr->action) {
	case MILTER_CONTINUE:
	case MILTER_SKIP:
		return false;
	case MILTER_ACCEPT:
		if (message_stage)
			f->message_done = true;
		else
			f->session_done = true;
		return false;
	case MILTER_REJECT:
		milters_set(r, MILTERS_REJECT, MILTERS_REJECT_TEXT, f);
		return true;
	case MILTER_TEMPFAIL:
		milters_set(r, MILTERS_TEMPFAIL, MILTERS_TEMPFAIL_TEXT, f);
		return true;
	case MILTER_REPLY:
		milters_set(r, strncmp(mr->text, "421", 3) == 0 ?
		    MILTERS_SHUTDOWN : mr->text[0] == '4' ? MILTERS_TEMPFAIL :
		    MILTERS_REJECT, mr->text, f);
		return true;
	case MILTER_DISCARD:
		if (!message_stage) {
			/* libmilter forbids it there; Postfix ignores it */
			log_warn("milter %s: discard outside a message "
			    "ignored", f->spec->name);
			return false;
		}
		milters_set(r, MILTERS_DISCARD, NULL, f);
		return true;
	case MILTER_SHUTDOWN:
	case MILTER_CONNFAIL:
		milters_set(r, MILTERS_SHUTDOWN, MILTERS_SHUTDOWN_TEXT, f);
		return true;
	case MILTER_FAILED:
		return milters_failed(ms, f, mr->why, r);
	}
	log_panic("milters: reply action %d", (int)mr->action);
}

/* One event for each filter: what to send. */
struct milters_event {
	enum { ME_CONNECT, ME_HELO, ME_MAIL, ME_RCPT, ME_DATA,
	    ME_UNKNOWN } type;
	const char *hostname, *addr, *text;
	char family;
	uint16_t port;
	const char *const *argv;
	bool rejected;
};

/* milters_send - one event to one filter */
static void
milters_send(struct milter_conn *c, const struct milters_event *ev,
    milter_macro_fn *macro, void *ctx, struct arena *arena,
    struct milter_reply *mr)
{
	switch (ev->type) {
	case ME_CONNECT:
		milter_connect_event(c, macro, ctx, ev->hostname, ev->family,
		    ev->port, ev->addr, arena, mr);
		return;
	case ME_HELO:
		milter_helo(c, macro, ctx, ev->text, arena, mr);
		return;
	case ME_MAIL:
		milter_mail(c, macro, ctx, ev->argv, arena, mr);
		return;
	case ME_RCPT:
		milter_rcpt(c, macro, ctx, ev->argv, ev->rejected, arena, mr);
		return;
	case ME_DATA:
		milter_data(c, macro, ctx, arena, mr);
		return;
	case ME_UNKNOWN:
		milter_unknown(c, macro, ctx, ev->text, arena, mr);
		return;
	}
	log_panic("milters_send: event %d", (int)ev->type);
}

/* milters_run - an event through the filters in order */
static void
milters_run(struct milters *ms, const struct milters_event *ev,
    bool message_stage, milter_macro_fn *macro, void *ctx,
    struct arena *arena, struct milters_result *r)
{
	size_t i;

	milters_set(r, MILTERS_CONTINUE, NULL, NULL);
	for (i = 0; i < ms->n; i++) {
		struct milters_filter *f = &ms->f[i];
		struct milter_reply mr = { .action = MILTER_CONTINUE };

		if (f->failed) {
			/* a broken filter keeps refusing */
			if (milters_failed(ms, f, "unavailable", r))
				return;
			continue;
		}
		if (!milters_wants(f, message_stage) || f->conn == NULL)
			continue;
		milters_send(f->conn, ev, macro, ctx, arena, &mr);
		if (milters_verdict(ms, f, &mr, message_stage, r))
			return;
	}
}

/* milters_connect - the connect event */
void
milters_connect(struct milters *ms, milter_macro_fn *macro, void *ctx,
    const char *hostname, char family, uint16_t port, const char *addr,
    struct arena *arena, struct milters_result *r)
{
	struct milters_event ev = { .type = ME_CONNECT, .hostname = hostname,
	    .family = family, .port = port, .addr = addr };

	milters_run(ms, &ev, false, macro, ctx, arena, r);
}

/* milters_helo - HELO/EHLO */
void
milters_helo(struct milters *ms, milter_macro_fn *macro, void *ctx,
    const char *helo, struct arena *arena, struct milters_result *r)
{
	struct milters_event ev = { .type = ME_HELO, .text = helo };

	milters_run(ms, &ev, false, macro, ctx, arena, r);
}

/* milters_mail - MAIL FROM: a new message for every filter */
void
milters_mail(struct milters *ms, milter_macro_fn *macro, void *ctx,
    const char *const *argv, struct arena *arena, struct milters_result *r)
{
	struct milters_event ev = { .type = ME_MAIL, .argv = argv };
	size_t i;

	for (i = 0; i < ms->n; i++)
		ms->f[i].message_done = false;
	milters_run(ms, &ev, true, macro, ctx, arena, r);
}

/* milters_rcpt - RCPT TO */
void
milters_rcpt(struct milters *ms, milter_macro_fn *macro, void *ctx,
    const char *const *argv, bool rejected, struct arena *arena,
    struct milters_result *r)
{
	struct milters_event ev = { .type = ME_RCPT, .argv = argv,
	    .rejected = rejected };

	milters_run(ms, &ev, true, macro, ctx, arena, r);
}

/* milters_data - DATA */
void
milters_data(struct milters *ms, milter_macro_fn *macro, void *ctx,
    struct arena *arena, struct milters_result *r)
{
	struct milters_event ev = { .type = ME_DATA };

	milters_run(ms, &ev, true, macro, ctx, arena, r);
}

/* milters_unknown - a command the mta does not know */
void
milters_unknown(struct milters *ms, milter_macro_fn *macro, void *ctx,
    const char *command, struct arena *arena, struct milters_result *r)
{
	struct milters_event ev = { .type = ME_UNKNOWN, .text = command };

	milters_run(ms, &ev, false, macro, ctx, arena, r);
}

/* milters_bare - an address from a filter without its angle brackets
 * (filters send both forms; the message keeps addresses bare) */
static const char *
milters_bare(const char *addr, struct arena *arena)
{
	size_t len = strlen(addr);

	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>')
		return arena_strndup(arena, addr + 1, len - 2);
	return addr;
}

/*
 * milters_edits - apply one filter's end-of-message edits; false with
 * r set when the body spool fails
 */
static bool
milters_edits(struct milters_filter *f, const struct milter_reply *mr,
    struct message *m, milters_rcpt_ok_fn *rcpt_ok, void *rcpt_ctx,
    struct arena *arena, struct milters_result *r)
{
	bool lead = milter_lead_space(f->conn);
	bool first_body = true;
	const char *why, *addr;
	size_t i;

	for (i = 0; i < mr->n_edits; i++) {
		const struct milter_edit *e = &mr->edits[i];

		switch (e->type) {
		case MILTER_EDIT_ADD_HEADER:
			message_add_header(m, e->name, e->value, lead);
			break;
		case MILTER_EDIT_INSERT_HEADER:
			message_insert_header(m, e->index, e->name, e->value,
			    lead);
			break;
		case MILTER_EDIT_CHANGE_HEADER:
			message_change_header(m, e->index, e->name, e->value,
			    lead);
			break;
		case MILTER_EDIT_CHANGE_SENDER:
			message_change_sender(m, milters_bare(e->addr, arena),
			    e->args);
			break;
		case MILTER_EDIT_ADD_RCPT:
			/* the relay guard holds for recipients a filter
			 * adds, too */
			addr = milters_bare(e->addr, arena);
			if (rcpt_ok != NULL && !rcpt_ok(rcpt_ctx, addr)) {
				log_warn("milter %s: added recipient <%s> "
				    "refused by the relay rules; dropped",
				    f->spec->name, addr);
				break;
			}
			message_add_rcpt_text(m, addr, e->args);
			break;
		case MILTER_EDIT_DEL_RCPT:
			message_delete_rcpt(m, milters_bare(e->addr, arena));
			break;
		case MILTER_EDIT_BODY:
			if (!message_body_replace(m, e->data, e->len,
			    first_body, &why)) {
				log_warn("milter %s: replacing the body: %s",
				    f->spec->name, why);
				milters_set(r, MILTERS_TEMPFAIL, "451 4.3.0 "
				    "Error: queue file write error", f);
				return false;
			}
			first_body = false;
			break;
		}
	}
	return true;
}

/*
 * milters_content - headers, end of headers, body and end of message to
 * one filter; true when the filter's verdict ends the phase (r set)
 */
static bool
milters_content(struct milters *ms, struct milters_filter *f,
    milter_macro_fn *macro, void *ctx, struct message *m,
    milters_rcpt_ok_fn *rcpt_ok, void *rcpt_ctx, struct arena *arena,
    struct milters_result *r)
{
	struct milter_reply mr = { .action = MILTER_CONTINUE };
	const struct message_header *h;
	char *chunk = NULL;
	uint64_t off = 0;
	ssize_t got;
	size_t i;

	for (i = 0; (h = message_visible(m, i)) != NULL; i++) {
		milter_header(f->conn, macro, ctx, h->name, h->value, arena,
		    &mr);
		if (milters_verdict(ms, f, &mr, true, r))
			return true;
		if (f->message_done || f->session_done)
			return false;
	}
	milter_eoh(f->conn, macro, ctx, arena, &mr);
	if (milters_verdict(ms, f, &mr, true, r))
		return true;
	if (f->message_done || f->session_done)
		return false;
	chunk = arena_alloc(arena, MILTERS_BODY_CHUNK);
	while ((got = spool_read(m->body, off, chunk, MILTERS_BODY_CHUNK)) >
	    0) {
		off += (uint64_t)got;
		milter_body(f->conn, macro, ctx, chunk, (size_t)got, arena,
		    &mr);
		if (mr.action == MILTER_SKIP)
			break;
		if (milters_verdict(ms, f, &mr, true, r))
			return true;
		if (f->message_done || f->session_done)
			return false;
	}
	if (got < 0) {
		milters_set(r, MILTERS_TEMPFAIL, "451 4.3.0 Error: queue file "
		    "write error", NULL);
		return true;
	}
	milter_eom(f->conn, macro, ctx, arena, &mr);
	if (mr.action == MILTER_FAILED)
		return milters_failed(ms, f, mr.why, r);
	if (!milters_edits(f, &mr, m, rcpt_ok, rcpt_ctx, arena, r))
		return true;
	if (mr.quarantine != NULL && m->quarantine == NULL) {
		m->quarantine = arena_printf(arena, "milter %s: %s",
		    f->spec->name, mr.quarantine);
	}
	return milters_verdict(ms, f, &mr, true, r);
}

/* milters_message - the content phase, one filter after the other */
void
milters_message(struct milters *ms, milter_macro_fn *macro, void *ctx,
    struct message *m, milters_rcpt_ok_fn *rcpt_ok, void *rcpt_ctx,
    struct arena *arena, struct milters_result *r)
{
	size_t i;

	milters_set(r, MILTERS_CONTINUE, NULL, NULL);
	for (i = 0; i < ms->n; i++) {
		struct milters_filter *f = &ms->f[i];

		if (f->failed) {
			if (milters_failed(ms, f, "unavailable", r))
				break;
			continue;
		}
		if (!milters_wants(f, true) || f->conn == NULL)
			continue;
		if (milters_content(ms, f, macro, ctx, m, rcpt_ok, rcpt_ctx,
		    arena, r))
			break;
	}
	if (ms->quarantine != NULL && m->quarantine == NULL &&
	    (r->verdict == MILTERS_CONTINUE || r->verdict == MILTERS_ACCEPT))
		m->quarantine = ms->quarantine;
	for (i = 0; i < ms->n; i++)
		ms->f[i].message_done = false;
}

/* milters_abort - the message ends early */
void
milters_abort(struct milters *ms)
{
	size_t i;

	for (i = 0; i < ms->n; i++) {
		struct milters_filter *f = &ms->f[i];

		f->message_done = false;
		if (f->conn == NULL || f->session_done || f->failed)
			continue;
		if (!milter_abort(f->conn)) {
			struct milters_result ignored;

			milters_failed(ms, f, "abort failed", &ignored);
		}
	}
}
