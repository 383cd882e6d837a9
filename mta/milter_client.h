/*
 * milter_client.h - the MTA side of the milter protocol with one filter
 *
 * Contract: a milter_conn is one connection to one filter for one SMTP
 * session (the protocol's own lifetime). Every call blocks until the
 * filter answered or a deadline passed; the mta runs these calls on its
 * job threads, never on the event loop. One connection is used by one
 * thread at a time (the caller serialises); different connections are
 * independent.
 *
 * Wire format and duties: ../shared/docs/library-notes.md "The milter
 * wire protocol". In short: negotiation offers version 6, every action
 * and every step flag this client implements, and accepts what the filter
 * answers down to version 2 (never sending what its version lacks);
 * each event is preceded by its macro packet ('D') and followed by a
 * reply unless a NO* / NR_* flag says otherwise; the 'D' packet and the
 * event go out in one write; inet sockets have TCP_NODELAY.
 *
 * Macros: for each stage the client sends the names the filter asked for
 * in its negotiation answer, or else Postfix's default lists
 * (milter_connect_macros etc., see MILTER_MACROS_* below); values come
 * from the caller's lookup function at the time of the event; a name the
 * lookup does not know (NULL) is left out.
 *
 * Validation: every packet from the filter is checked before it is
 * believed: length (1 byte to MILTER_MAX_PACKET), known reply for the
 * event, edits only after end of message and only those negotiated, text
 * replies ("y") with a 4xx/5xx code matching the verdict's class, lines
 * joined by CR LF with the same code on each, no bare CR or LF and no
 * NUL; header names (printable ASCII but ':' and space, 1 to 997 bytes);
 * header values (no NUL, no CR; LF only before a space or tab; no line
 * over 998 bytes); addresses (mailaddr_parse, with or without <>). A
 * violation, a timeout, a closed socket or a version/action outside the
 * offer makes the reply MILTER_FAILED with why set, and the connection
 * is closed: the caller applies the filter's default_action.
 *
 * Ownership: all strings and edits in a reply are in the arena passed to
 * the call; the connection itself is malloc'ed and owns its socket.
 */
#ifndef POSTERN_MILTER_CLIENT_H
#define POSTERN_MILTER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

#define MILTER_MAX_PACKET	(1024 * 1024)

/* Postfix 3.7's default macro lists per stage */
#define MILTER_MACROS_CONNECT	"j {daemon_name} {daemon_addr} v _"
#define MILTER_MACROS_HELO	"{tls_version} {cipher} {cipher_bits} " \
				"{cert_subject} {cert_issuer}"
#define MILTER_MACROS_MAIL	"i {auth_type} {auth_authen} {auth_ssf} " \
				"{auth_author} {mail_mailer} {mail_host} " \
				"{mail_addr}"
#define MILTER_MACROS_RCPT	"{rcpt_mailer} {rcpt_host} {rcpt_addr}"
#define MILTER_MACROS_DATA	"i"
#define MILTER_MACROS_EOH	"i"
#define MILTER_MACROS_EOM	"i"

/* what a filter does when it cannot be used, and what "failed" becomes */
enum milter_default {
	MILTER_DEFAULT_TEMPFAIL,	/* the default */
	MILTER_DEFAULT_ACCEPT,
	MILTER_DEFAULT_REJECT,
	MILTER_DEFAULT_QUARANTINE,
	MILTER_DEFAULT_SHUTDOWN,	/* 421 and close the SMTP session */
};

/* one configured filter */
struct milter_spec {
	const char *name;		/* as configured, for the log */
	const char *socket;		/* "inet:HOST:PORT", "inet6:..." or
					   "unix:/path" (Postfix syntax) */
	double connect_timeout;		/* connect + negotiation (30 s) */
	double command_timeout;		/* connect..data, unknown (30 s) */
	double content_timeout;		/* header..eom (300 s) */
	enum milter_default default_action;
};

/*
 * milter_spec_parse - one item of mta.conf's milters list: either
 * "SOCKET" or "{ SOCKET, name = value, ... }" with connect_timeout,
 * command_timeout, content_timeout, default_action (Postfix 3's per-milter
 * syntax). Defaults from def. false with *why_r (in arena) for a bad
 * socket, name or value.
 */
bool milter_spec_parse(const char *item, const struct milter_spec *def,
    struct arena *arena, struct milter_spec *r, const char **why_r);

enum milter_action {
	MILTER_CONTINUE,	/* 'c', or an event the filter skipped */
	MILTER_ACCEPT,		/* 'a' */
	MILTER_REJECT,		/* 'r' */
	MILTER_TEMPFAIL,	/* 't' */
	MILTER_DISCARD,		/* 'd' (message stages only) */
	MILTER_REPLY,		/* 'y': text is the reply */
	MILTER_SHUTDOWN,	/* '4': 421 and close */
	MILTER_CONNFAIL,	/* 'f' */
	MILTER_SKIP,		/* 's' after a body chunk: send no more */
	MILTER_FAILED,		/* unusable: why says why; now closed */
};

enum milter_edit_type {
	MILTER_EDIT_ADD_HEADER,		/* 'h': name, value */
	MILTER_EDIT_INSERT_HEADER,	/* 'i': index, name, value */
	MILTER_EDIT_CHANGE_HEADER,	/* 'm': index, name, value */
	MILTER_EDIT_CHANGE_SENDER,	/* 'e': addr, args (or NULL) */
	MILTER_EDIT_ADD_RCPT,		/* '+' / '2': addr, args (or NULL) */
	MILTER_EDIT_DEL_RCPT,		/* '-': addr */
	MILTER_EDIT_BODY,		/* 'b': one chunk: data, len */
};

struct milter_edit {
	enum milter_edit_type type;
	uint32_t index;
	const char *name;
	const char *value;
	const char *addr;
	const char *args;
	const void *data;
	size_t len;
};

struct milter_reply {
	enum milter_action action;
	const char *text;	/* REPLY: "550 5.7.1 text" (CR LF between
				   lines of a multi-line reply) */
	const char *why;	/* FAILED: for the log */
	/* end of message only: */
	const char *quarantine;	/* 'q' reason, or NULL */
	struct milter_edit *edits;	/* in the order received */
	size_t n_edits;
};

/* the value of macro name for this event, or NULL */
typedef const char *milter_macro_fn(void *ctx, const char *name);

struct milter_conn;

/*
 * milter_open - connect to spec's socket and negotiate, both within
 * connect_timeout. NULL with *why_r (in arena) when that fails; the
 * caller applies the default action.
 */
struct milter_conn *milter_open(const struct milter_spec *spec,
    struct arena *arena, const char **why_r);
/* milter_close - send quit if the connection is usable, close, free;
 * sets *conn NULL; NULL ok */
void milter_close(struct milter_conn **conn);
/* milter_usable - false once a call returned MILTER_FAILED */
bool milter_usable(const struct milter_conn *conn);
/* milter_lead_space - the filter negotiated SMFIP_HDR_LEADSPC */
bool milter_lead_space(const struct milter_conn *conn);
/* milter_version - the protocol version agreed on (2..6) */
unsigned milter_version(const struct milter_conn *conn);

/*
 * The events, in libmilter's order. Each fills *r (strings in arena).
 * family: '4', '6', 'L' (unix) or 'U' (unknown; then port and addr are
 * ignored). argv arrays end with NULL: argv[0] is "<address>" and the
 * rest ESMTP parameters. rejected (rcpt): a recipient the MTA refused,
 * sent only if the filter negotiated SMFIP_RCPT_REJ (macros give the
 * reason); otherwise the call returns CONTINUE without sending. Events
 * the filter negotiated away (NO* flags) return CONTINUE without
 * sending, but their macros are still sent, as the protocol wants.
 */
void milter_connect_event(struct milter_conn *conn, milter_macro_fn *macro,
    void *ctx, const char *hostname, char family, uint16_t port,
    const char *addr, struct arena *arena, struct milter_reply *r);
void milter_helo(struct milter_conn *conn, milter_macro_fn *macro,
    void *ctx, const char *helo, struct arena *arena,
    struct milter_reply *r);
void milter_mail(struct milter_conn *conn, milter_macro_fn *macro,
    void *ctx, const char *const *argv, struct arena *arena,
    struct milter_reply *r);
void milter_rcpt(struct milter_conn *conn, milter_macro_fn *macro,
    void *ctx, const char *const *argv, bool rejected,
    struct arena *arena, struct milter_reply *r);
void milter_data(struct milter_conn *conn, milter_macro_fn *macro,
    void *ctx, struct arena *arena, struct milter_reply *r);
void milter_unknown(struct milter_conn *conn, milter_macro_fn *macro,
    void *ctx, const char *command, struct arena *arena,
    struct milter_reply *r);
/* header value as stored in struct message (leading space and CR LF
 * folds); the client sends it as the protocol wants (folds as LF, the
 * leading space only with SMFIP_HDR_LEADSPC) */
void milter_header(struct milter_conn *conn, milter_macro_fn *macro,
    void *ctx, const char *name, const char *value, struct arena *arena,
    struct milter_reply *r);
void milter_eoh(struct milter_conn *conn, milter_macro_fn *macro,
    void *ctx, struct arena *arena, struct milter_reply *r);
/* one body chunk of any size (split into packets of at most 65535) */
void milter_body(struct milter_conn *conn, milter_macro_fn *macro,
    void *ctx, const void *data, size_t len, struct arena *arena,
    struct milter_reply *r);
/* end of message: the final verdict with the edits and quarantine */
void milter_eom(struct milter_conn *conn, milter_macro_fn *macro,
    void *ctx, struct arena *arena, struct milter_reply *r);
/* milter_abort - end the current message (RSET, a refused message);
 * false if the connection failed (it is then closed) */
bool milter_abort(struct milter_conn *conn);

#endif
