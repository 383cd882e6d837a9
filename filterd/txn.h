/*
 * txn.h - connection and message state of filterd (the core's side)
 *
 * Contract: one struct txn per milter connection, created by the milter
 * glue and handed to the pipeline. Modules read it only through the
 * accessors in policy.h; this header is for filterd's own files. The txn
 * holds a reference to the runtime (loaded config) it started with, so a
 * reload never changes the rules in the middle of a connection.
 *
 * Arenas: conn_arena lives from txn_conn_begin to txn_conn_end; msg_arena
 * from txn_msg_begin to txn_msg_end. Everything about a message (envelope,
 * edits, fragments) lives in msg_arena.
 */
#ifndef POSTERN_TXN_H
#define POSTERN_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "policy.h"

struct runtime;

enum txn_edit_kind {
	TXN_EDIT_ADD,
	TXN_EDIT_INSERT,
	TXN_EDIT_CHANGE,
};

struct txn_edit {
	struct txn_edit *next;
	enum txn_edit_kind kind;
	unsigned index;
	const char *name;
	const char *value;	/* NULL = delete (CHANGE) */
};

/* a verdict held back until RCPT (delay_reject), with its origin */
struct txn_hold {
	bool set;
	struct verdict v;
	const char *module;
	enum policy_stage stage;
};

/* per-module result for the summary log line */
struct txn_result {
	enum verdict_action action;
	bool failed;
	bool ran;
	double score;
	const char *reason;
};

typedef const char *(*txn_macro_fn)(void *ctx, const char *name);

struct txn {
	struct runtime *rt;
	struct arena *conn_arena;
	struct arena *msg_arena;

	txn_macro_fn macro_fn;
	void *macro_ctx;

	/* connection */
	bool have_addr;
	struct inet_addr addr;
	char addr_text[INET_TEXT_MAX + 8];
	const char *client_name;
	const char *helo;
	int mynet;			/* enum table_result, valid if known */
	bool mynet_known;
	void **mod_conn;		/* per module, NULL if conn_size 0 */
	struct txn_hold conn_hold;
	int conn_ok_from;		/* -1, or index of a module that said
					   OK for the connection */
	struct txn_result *conn_results;
	unsigned long msg_count;
	long dnsbl_weight;		/* txn_set_dnsbl_weight */

	/* message */
	bool in_msg;
	const char *qid;
	const char *sender_raw;
	struct mailaddr sender;
	bool sender_ok;
	const char *rcpt_raw;
	struct mailaddr rcpt;
	bool rcpt_ok;
	const struct mailaddr **rcpts;
	size_t nrcpt, rcpt_cap;
	size_t nrcpt_rejected;
	const char *last_reject;	/* reply text of the last rejection */
	const char *hdr_name;
	const char *hdr_value;
	const char *hdr_raw;		/* exact, if the MTA gave it so */
	const unsigned char *body;
	size_t body_len;
	size_t msg_size;
	double score;
	struct txn_spf spf;		/* for DMARC; result NULL: none */
	struct txn_dkim *dkim;		/* for DMARC, in msg arena */
	size_t ndkim, dkim_cap;
	void **mod_msg;
	struct txn_hold msg_hold;
	struct txn_hold data_hold;	/* refusal at HEADER/EOH/BODY, given
					   at EOM */
	int msg_ok_from;
	struct txn_result *msg_results;
	struct txn_edit *edits, **edits_tail;
	const char **authres;		/* fragments in pipeline order */
	size_t nauthres, authres_cap;
	unsigned ar_seen;		/* Authentication-Results seen so far */
	unsigned *ar_forged;		/* 1-based indices claiming our id */
	size_t nar_forged, ar_forged_cap;
	const char *subject;		/* the first Subject value (msg arena),
					   for [scoring] subject_tag; NULL:
					   none */
	bool quarantine;
	const char *quarantine_reason;
	bool discard;
	double msg_start;
};

/* txn_conn_begin - new connection state holding a reference to rt */
struct txn *txn_conn_begin(struct runtime *rt);
/* txn_conn_end - end message and connection; releases the runtime ref */
void txn_conn_end(struct txn **txn);
/* txn_set_client - from the connect event; sa may be NULL (unknown) */
void txn_set_client(struct txn *txn, const char *hostname,
    const struct sockaddr *sa);
void txn_set_helo(struct txn *txn, const char *helo);
/* txn_msg_begin - start a message (at MAIL); ends a previous one */
void txn_msg_begin(struct txn *txn);
void txn_msg_end(struct txn *txn);
void txn_set_sender(struct txn *txn, const char *raw);
void txn_set_rcpt(struct txn *txn, const char *raw);
/* txn_accept_rcpt - the current recipient was not refused */
void txn_accept_rcpt(struct txn *txn);
/* txn_refresh_qid - pick up macro i once the MTA has assigned it */
void txn_refresh_qid(struct txn *txn);
void txn_add_authres(struct txn *txn, const char *fragment);
/* txn_header_seen - note one header (forged A-R removal, the Subject) */
void txn_header_seen(struct txn *txn, const char *name, const char *value);
const char *txn_log_id(const struct txn *txn);

#endif
