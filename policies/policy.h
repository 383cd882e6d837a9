/*
 * policy.h - the policy module interface (ARCHITECTURE §4)
 *
 * A module is one const struct policy_module filled with designated
 * initializers. The core (filterd/) owns the milter protocol, the
 * transaction, the arenas and the verdict rules; a module only reads the
 * transaction through the txn_* accessors below, fills a verdict and
 * returns POLICY_DONE, or POLICY_FAILED for an internal error (the core
 * then applies the module's on_failure). Modules never call libmilter and
 * never write to sockets.
 *
 * Lifetimes:
 *	config	one per loaded config: the core zeroes config_size bytes,
 *		fills the settings through the module's table, then calls
 *		init(), which may open tables and fill runtime fields of the
 *		same struct; deinit() undoes init() when that config is
 *		retired (after the last transaction using it has ended).
 *	conn	conn_size zeroed bytes per SMTP connection, freed at close.
 *	msg	msg_size zeroed bytes per message, freed at end of message or
 *		abort.
 * Anything allocated with txn_conn_arena()/txn_msg_arena() lives as long
 * as conn/msg.
 *
 * Threads: handlers of one connection never overlap, but may run on
 * different threads; config is shared by all connections and is
 * read-only after init().
 */
#ifndef POSTERN_POLICY_H
#define POSTERN_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "conf.h"
#include "inet.h"
#include "mailaddr.h"
#include "table.h"

struct txn;
struct matchlist;
struct dns;

enum policy_stage {
	POLICY_CONNECT,
	POLICY_HELO,
	POLICY_MAIL,
	POLICY_RCPT,
	POLICY_DATA,
	POLICY_HEADER,
	POLICY_EOH,
	POLICY_BODY,
	POLICY_EOM,
	POLICY_ABORT,
	POLICY_CLOSE,
	POLICY_STAGES
};

enum verdict_action {
	VERDICT_DUNNO,		/* no opinion: next module */
	VERDICT_OK,		/* accept; skip later modules for this message */
	VERDICT_REJECT,		/* 5xx */
	VERDICT_DEFER,		/* 4xx */
	VERDICT_DISCARD,	/* accept and drop */
	VERDICT_QUARANTINE,	/* accept into the MTA's hold queue */
};

/*
 * A verdict. The core zeroes it before each handler call. Strings must
 * live at least as long as the message (use txn_msg_arena, or static
 * text). code/xcode/text NULL mean the core's defaults for the action.
 * authres is one Authentication-Results method fragment ("spf=pass
 * smtp.mailfrom=a@b"), reason a short text for the summary log line.
 * score is added to the message's total whatever the action.
 */
struct verdict {
	enum verdict_action action;
	const char *code;	/* "554" */
	const char *xcode;	/* "5.7.1" */
	const char *text;	/* reply text without code */
	bool disconnect;	/* 421/521: close the SMTP session */
	double score;
	const char *authres;
	const char *reason;
};

enum policy_status {
	POLICY_DONE,
	POLICY_FAILED,
};

/* What a handler is given. */
struct policy_call {
	struct txn *txn;
	void *config;		/* the module's config struct */
	void *conn;		/* conn_size bytes, or NULL */
	void *msg;		/* msg_size bytes, or NULL (before MAIL) */
	enum policy_stage stage;
	double deadline;	/* monotonic seconds; give up network I/O
				   after this (policy_now()) */
};

typedef enum policy_status (*policy_handler)(const struct policy_call *call,
    struct verdict *v);

/* Settings every loaded config has, shared by the core and modules. */
struct policy_globals {
	const char *authserv_id;
	const char *hostname;
	struct matchlist *mynetworks;
	struct dns *dns;		/* the config's resolver (lib/dns.h) */
	const char *user;		/* the user filterd runs as; "" or
					   "root": it stays root */
};

/* What init() is given. */
struct policy_init {
	void *config;			/* settings already parsed */
	struct arena *arena;		/* the loaded config's lifetime */
	const struct policy_globals *globals;
	const struct conf_file *cf;	/* for conf_find() locations; may be
					   NULL when running on defaults */
	const char *section;		/* the module's [section] name */
	double timeout;			/* the effective handler time budget
					   (seconds; 0: unknown, as in tests) */
};

enum policy_flags {
	POLICY_NEEDS_BODY = 1 << 0,	/* ask the MTA for body chunks */
	POLICY_ADDS_HEADERS = 1 << 1,
	POLICY_CHANGES_HEADERS = 1 << 2,
	POLICY_CHANGES_ENVELOPE = 1 << 3,
	POLICY_CHANGES_BODY = 1 << 4,
	POLICY_NEEDS_LEADSPC = 1 << 5,	/* header values byte-exact */
};

enum policy_failure {
	POLICY_FAIL_TEMPFAIL,
	POLICY_FAIL_ACCEPT,	/* treat as DUNNO (no opinion) */
	POLICY_FAIL_REJECT,
};

struct policy_module {
	const char *name;
	const char *summary;
	const struct conf_setting *settings;	/* empty last row */
	size_t config_size;
	/* init - false with *error_r (malloc'ed, may hold several
	 * "FILE:LINE: ..." lines) refuses the config */
	bool (*init)(struct policy_init *pi, char **error_r);
	void (*deinit)(void *config);
	size_t conn_size;
	size_t msg_size;
	policy_handler stage[POLICY_STAGES];	/* NULL: not interested */
	unsigned flags;
	enum policy_failure on_failure;		/* default for on_failure */
	double timeout;		/* default for timeout, seconds; 0: the
				   core's 30s (a scanner whose own time
				   limit is longer needs more) */
};

/* policy_stage_name - "connect", "helo", ... */
const char *policy_stage_name(enum policy_stage stage);
/* policy_action_name - "DUNNO", "OK", "REJECT", ... */
const char *policy_action_name(enum verdict_action action);
/* policy_now - monotonic clock in seconds */
double policy_now(void);

/*
 * Transaction accessors (implemented by filterd/txn.c). Strings live as
 * long as the connection (client data) or the message (envelope).
 */
const char *txn_queue_id(const struct txn *txn);	/* NULL if unknown */
const char *txn_macro(const struct txn *txn, const char *name);
const struct inet_addr *txn_client_addr(const struct txn *txn); /* NULL:
						   not an IP connection */
const char *txn_client_addr_text(const struct txn *txn);	/* "unknown" */
const char *txn_client_name(const struct txn *txn);	/* verified name or
							   "unknown" */
const char *txn_helo(const struct txn *txn);		/* NULL before */
const char *txn_auth_user(const struct txn *txn);	/* NULL unless
							   authenticated */
/* txn_sender - parsed MAIL FROM; NULL before MAIL or when it does not
 * parse (txn_sender_raw still has the text) */
const struct mailaddr *txn_sender(const struct txn *txn);
const char *txn_sender_raw(const struct txn *txn);
/* txn_rcpt - the recipient being decided at RCPT; NULL if unparseable */
const struct mailaddr *txn_rcpt(const struct txn *txn);
const char *txn_rcpt_raw(const struct txn *txn);
/* accepted recipients of this message so far */
size_t txn_rcpt_count(const struct txn *txn);
const struct mailaddr *txn_rcpt_at(const struct txn *txn, size_t i);
/* HEADER stage: the current header. txn_header_value has no leading
 * white space; txn_header_raw is the value byte for byte as after the
 * colon when the module set POLICY_NEEDS_LEADSPC and the MTA supports
 * it, else " " + the value (DKIM's simple canonicalization needs it) */
const char *txn_header_name(const struct txn *txn);
const char *txn_header_value(const struct txn *txn);
const char *txn_header_raw(const struct txn *txn);
/* BODY stage: the current chunk */
const unsigned char *txn_body_chunk(const struct txn *txn, size_t *len_r);
/* txn_in_mynetworks - client in the global mynetworks (cached) */
enum table_result txn_in_mynetworks(struct txn *txn);
double txn_score(const struct txn *txn);
struct arena *txn_conn_arena(struct txn *txn);
struct arena *txn_msg_arena(struct txn *txn);
const struct policy_globals *txn_globals(const struct txn *txn);

/*
 * The message's SPF outcome, left by the spf module at MAIL for the
 * modules after it (DMARC, RFC 7489 §4.1). result is a name as in
 * Authentication-Results ("pass", "fail", "softfail", "neutral", "none",
 * "temperror", "permerror"), NULL when SPF was not checked (exempt
 * client, no spf module, unparseable sender). domain is the identity's
 * domain; helo says it was the HELO identity (the null sender).
 */
struct txn_spf {
	const char *result;
	const char *domain;
	bool helo;
};
/* txn_set_spf - record the outcome (copied; strings must live as long as
 * the message); panics outside a message */
void txn_set_spf(struct txn *txn, const struct txn_spf *spf);
/* txn_spf - the outcome; ->result NULL when none was recorded */
const struct txn_spf *txn_spf(const struct txn *txn);

/*
 * The message's DKIM outcomes, one per signature evaluated, left by the
 * dkim module at EOM for the modules after it (DMARC, RFC 7489 §4.2).
 * result is a name as in Authentication-Results ("pass", "fail",
 * "policy", "neutral", "temperror", "permerror"); domain is the d= tag
 * (lower case), selector the s= tag. Strings live as long as the message.
 */
struct txn_dkim {
	const char *result;
	const char *domain;
	const char *selector;
};
/* txn_add_dkim - record one outcome (copied); panics outside a message */
void txn_add_dkim(struct txn *txn, const struct txn_dkim *dkim);
/* txn_dkim_count - outcomes recorded for this message (0 if no dkim
 * module ran, or the message had no signature) */
size_t txn_dkim_count(const struct txn *txn);
/* txn_dkim_at - outcome i, 0 <= i < txn_dkim_count */
const struct txn_dkim *txn_dkim_at(const struct txn *txn, size_t i);

/*
 * The DNSBL weight so far: the sum of the listed weights of the client
 * (CONNECT), the latest HELO and, from MAIL on, the sender domain, left
 * by the dnsbl module for modules that act on suspicion (greylist's
 * only_if). 0 when no dnsbl module ran; negative for allowlisted clients.
 */
void txn_set_dnsbl_weight(struct txn *txn, long weight);
long txn_dnsbl_weight(const struct txn *txn);

/*
 * Header edits, queued and applied by the core at end of message in the
 * order given. Values are sanitized by the core (CR removed, bare LF
 * becomes a fold). index: for insert, 0 = top; for change, 1-based among
 * headers of that name; a NULL value deletes.
 */
void txn_add_header(struct txn *txn, const char *name, const char *value);
void txn_insert_header(struct txn *txn, unsigned index, const char *name,
    const char *value);
void txn_change_header(struct txn *txn, const char *name, unsigned index,
    const char *value);

#endif
