/*
 * txn.c - connection and message state, and the accessors modules use
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "authres.h"
#include "log.h"
#include "matchlist.h"
#include "mem.h"
#include "pipeline.h"
#include "runtime.h"
#include "txn.h"

/* txn_alloc_states - one zeroed state block per module that wants one */
static void **
txn_alloc_states(struct arena *arena, const struct pipeline *p, bool conn)
{
	void **states = arena_alloc(arena, (p->n + 1) * sizeof(void *));

	for (size_t i = 0; i < p->n; i++) {
		size_t size = conn ? p->entries[i].mod->conn_size :
		    p->entries[i].mod->msg_size;
		states[i] = size ? arena_alloc(arena, size) : NULL;
	}
	return states;
}

/* txn_conn_begin - state for a new milter connection */
struct txn *
txn_conn_begin(struct runtime *rt)
{
	struct arena *arena = arena_create();
	struct txn *txn = arena_alloc(arena, sizeof(*txn));

	txn->rt = rt;
	txn->conn_arena = arena;
	txn->client_name = "unknown";
	strcpy(txn->addr_text, "unknown");
	txn->mod_conn = txn_alloc_states(arena, rt->pipeline, true);
	txn->conn_results = arena_alloc(arena,
	    (rt->pipeline->n + 1) * sizeof(struct txn_result));
	txn->conn_ok_from = -1;
	txn->msg_ok_from = -1;
	return txn;
}

/* txn_conn_end - free everything and drop the runtime reference */
void
txn_conn_end(struct txn **txnp)
{
	struct txn *txn = *txnp;
	struct runtime *rt;
	struct arena *arena;

	if (txn == NULL)
		return;
	txn_msg_end(txn);
	rt = txn->rt;
	/* the txn lives in its own arena: destroy through a local pointer */
	arena = txn->conn_arena;
	arena_destroy(&arena);
	runtime_release(&rt);
	*txnp = NULL;
}

/* txn_set_client - remember the client from the connect event */
void
txn_set_client(struct txn *txn, const char *hostname,
    const struct sockaddr *sa)
{
	txn->have_addr = sa != NULL && inet_from_sockaddr(sa, &txn->addr);
	if (txn->have_addr)
		inet_format(&txn->addr, txn->addr_text,
		    sizeof(txn->addr_text));
	/* MTAs pass "[a.b.c.d]" when the reverse lookup failed: that is no
	 * name, and must never match a domain table entry */
	if (hostname != NULL && *hostname != '\0' && *hostname != '[')
		txn->client_name = arena_strdup(txn->conn_arena, hostname);
	else
		txn->client_name = "unknown";
	txn->mynet_known = false;
}

/* txn_set_helo - remember the HELO/EHLO argument */
void
txn_set_helo(struct txn *txn, const char *helo)
{
	txn->helo = arena_strdup(txn->conn_arena, helo ? helo : "");
}

/* txn_msg_begin - a new message starts at MAIL FROM */
void
txn_msg_begin(struct txn *txn)
{
	const struct pipeline *p = txn->rt->pipeline;

	txn_msg_end(txn);
	txn->msg_arena = arena_create();
	txn->in_msg = true;
	txn->mod_msg = txn_alloc_states(txn->msg_arena, p, false);
	txn->msg_results = arena_alloc(txn->msg_arena,
	    (p->n + 1) * sizeof(struct txn_result));
	txn->edits_tail = &txn->edits;
	txn->msg_ok_from = txn->conn_ok_from;
	txn->msg_start = policy_now();
	txn->msg_count++;
	/* a connection-level score (connect, helo) counts for each message */
	txn->score = 0;
	for (size_t i = 0; i < p->n; i++) {
		txn->msg_results[i] = txn->conn_results[i];
		txn->score += txn->conn_results[i].score;
	}
}

/* txn_msg_end - forget the message */
void
txn_msg_end(struct txn *txn)
{
	if (!txn->in_msg)
		return;
	arena_destroy(&txn->msg_arena);
	txn->in_msg = false;
	txn->qid = NULL;
	txn->sender_raw = txn->rcpt_raw = NULL;
	txn->sender_ok = txn->rcpt_ok = false;
	txn->rcpts = NULL;
	txn->nrcpt = txn->rcpt_cap = txn->nrcpt_rejected = 0;
	txn->last_reject = NULL;
	txn->hdr_name = txn->hdr_value = txn->hdr_raw = NULL;
	txn->body = NULL;
	txn->body_len = txn->msg_size = 0;
	txn->score = 0;
	memset(&txn->spf, 0, sizeof(txn->spf));
	txn->dkim = NULL;
	txn->ndkim = txn->dkim_cap = 0;
	txn->mod_msg = NULL;
	memset(&txn->msg_hold, 0, sizeof(txn->msg_hold));
	memset(&txn->data_hold, 0, sizeof(txn->data_hold));
	txn->msg_ok_from = -1;
	txn->msg_results = NULL;
	txn->edits = NULL;
	txn->edits_tail = NULL;
	txn->authres = NULL;
	txn->nauthres = txn->authres_cap = 0;
	txn->ar_seen = 0;
	txn->ar_forged = NULL;
	txn->nar_forged = txn->ar_forged_cap = 0;
	txn->subject = NULL;
	txn->quarantine = txn->discard = false;
	txn->quarantine_reason = NULL;
}

/* txn_set_sender - parse MAIL FROM; keep the raw text either way */
void
txn_set_sender(struct txn *txn, const char *raw)
{
	const char *error;

	txn->sender_raw = arena_strdup(txn->msg_arena, raw ? raw : "");
	txn->sender_ok = mailaddr_parse(txn->msg_arena, txn->sender_raw,
	    &txn->sender, &error);
}

/* txn_set_rcpt - parse the recipient being decided */
void
txn_set_rcpt(struct txn *txn, const char *raw)
{
	const char *error;

	txn->rcpt_raw = arena_strdup(txn->msg_arena, raw ? raw : "");
	txn->rcpt_ok = mailaddr_parse(txn->msg_arena, txn->rcpt_raw,
	    &txn->rcpt, &error);
}

/* txn_accept_rcpt - add the current recipient to the accepted list */
void
txn_accept_rcpt(struct txn *txn)
{
	struct mailaddr *copy;

	if (txn->nrcpt == txn->rcpt_cap) {
		size_t cap = txn->rcpt_cap ? txn->rcpt_cap * 2 : 8;
		const struct mailaddr **n = arena_alloc(txn->msg_arena,
		    cap * sizeof(*n));

		if (txn->nrcpt)
			memcpy(n, txn->rcpts, txn->nrcpt * sizeof(*n));
		txn->rcpts = n;
		txn->rcpt_cap = cap;
	}
	copy = arena_alloc(txn->msg_arena, sizeof(*copy));
	if (txn->rcpt_ok) {
		*copy = txn->rcpt;
	} else {
		copy->local = copy->full = txn->rcpt_raw;
		copy->domain = "";
	}
	txn->rcpts[txn->nrcpt++] = copy;
}

/* txn_refresh_qid - the MTA may assign the queue id late (Postfix does
 * after the first accepted RCPT), so look again at every stage */
void
txn_refresh_qid(struct txn *txn)
{
	const char *qid;

	if (txn->qid != NULL || !txn->in_msg)
		return;
	qid = txn_macro(txn, "i");
	if (qid != NULL && *qid != '\0')
		txn->qid = arena_strdup(txn->msg_arena, qid);
}

/* txn_add_authres - keep one Authentication-Results fragment */
void
txn_add_authres(struct txn *txn, const char *fragment)
{
	if (!txn->in_msg)
		return;
	if (txn->nauthres == txn->authres_cap) {
		size_t cap = txn->authres_cap ? txn->authres_cap * 2 : 8;
		const char **n = arena_alloc(txn->msg_arena, cap * sizeof(*n));

		if (txn->nauthres)
			memcpy(n, txn->authres, txn->nauthres * sizeof(*n));
		txn->authres = n;
		txn->authres_cap = cap;
	}
	txn->authres[txn->nauthres++] = arena_strdup(txn->msg_arena, fragment);
}

/* txn_header_seen - count A-R headers and note those claiming our id;
 * keep the first Subject */
void
txn_header_seen(struct txn *txn, const char *name, const char *value)
{
	if (txn->in_msg && txn->subject == NULL &&
	    strcasecmp(name, "Subject") == 0)
		txn->subject = arena_strdup(txn->msg_arena,
		    value + strspn(value, " \t"));
	if (!txn->in_msg || strcasecmp(name, "Authentication-Results") != 0)
		return;
	txn->ar_seen++;
	if (!authres_is_ours(value, txn->rt->globals.authserv_id))
		return;
	if (txn->nar_forged == txn->ar_forged_cap) {
		size_t cap = txn->ar_forged_cap ? txn->ar_forged_cap * 2 : 4;
		unsigned *n = arena_alloc(txn->msg_arena, cap * sizeof(*n));

		if (txn->nar_forged)
			memcpy(n, txn->ar_forged, txn->nar_forged * sizeof(*n));
		txn->ar_forged = n;
		txn->ar_forged_cap = cap;
	}
	txn->ar_forged[txn->nar_forged++] = txn->ar_seen;
}

/* txn_log_id - queue id for log lines ("NOQUEUE" until known) */
const char *
txn_log_id(const struct txn *txn)
{
	return txn->qid ? txn->qid : "NOQUEUE";
}

/* Accessors for modules (policy.h). */

/* txn_queue_id - the MTA's queue id, NULL until known */
const char *
txn_queue_id(const struct txn *txn)
{
	return txn->qid;
}

/* txn_macro - a macro of the current stage from the MTA, or NULL */
const char *
txn_macro(const struct txn *txn, const char *name)
{
	return txn->macro_fn ? txn->macro_fn(txn->macro_ctx, name) : NULL;
}

/* txn_client_addr - the client's IP address, NULL if not IP */
const struct inet_addr *
txn_client_addr(const struct txn *txn)
{
	return txn->have_addr ? &txn->addr : NULL;
}

/* txn_client_addr_text - the address as text, "unknown" if none */
const char *
txn_client_addr_text(const struct txn *txn)
{
	return txn->addr_text;
}

/* txn_client_name - the MTA's verified client name or "unknown" */
const char *
txn_client_name(const struct txn *txn)
{
	return txn->client_name;
}

/* txn_helo - HELO argument, NULL before HELO */
const char *
txn_helo(const struct txn *txn)
{
	return txn->helo;
}

/* txn_auth_user - SASL login name, NULL unless authenticated */
const char *
txn_auth_user(const struct txn *txn)
{
	const char *user = txn_macro(txn, "{auth_authen}");

	return user != NULL && *user != '\0' ? user : NULL;
}

/* txn_sender - parsed sender or NULL */
const struct mailaddr *
txn_sender(const struct txn *txn)
{
	return txn->in_msg && txn->sender_ok ? &txn->sender : NULL;
}

/* txn_sender_raw - MAIL FROM text as the MTA gave it */
const char *
txn_sender_raw(const struct txn *txn)
{
	return txn->sender_raw;
}

/* txn_rcpt - parsed current recipient or NULL */
const struct mailaddr *
txn_rcpt(const struct txn *txn)
{
	return txn->in_msg && txn->rcpt_ok && txn->rcpt_raw ? &txn->rcpt :
	    NULL;
}

/* txn_rcpt_raw - RCPT TO text as the MTA gave it */
const char *
txn_rcpt_raw(const struct txn *txn)
{
	return txn->rcpt_raw;
}

/* txn_rcpt_count - recipients accepted so far */
size_t
txn_rcpt_count(const struct txn *txn)
{
	return txn->nrcpt;
}

/* txn_rcpt_at - accepted recipient i */
const struct mailaddr *
txn_rcpt_at(const struct txn *txn, size_t i)
{
	if (i >= txn->nrcpt)
		log_panic("txn_rcpt_at: index %zu of %zu", i, txn->nrcpt);
	return txn->rcpts[i];
}

/* txn_header_name - current header's name (HEADER stage) */
const char *
txn_header_name(const struct txn *txn)
{
	return txn->hdr_name;
}

/* txn_header_value - current header's value (HEADER stage) */
const char *
txn_header_value(const struct txn *txn)
{
	return txn->hdr_value;
}

/* txn_header_raw - current header's value as after the colon */
const char *
txn_header_raw(const struct txn *txn)
{
	if (txn->hdr_raw != NULL)
		return txn->hdr_raw;
	if (txn->hdr_value == NULL)
		return NULL;
	/* the MTA dropped the leading space: "Name: value" is the usual
	 * form, and what relaxed canonicalization makes of it anyway */
	return arena_printf(txn->msg_arena, " %s", txn->hdr_value);
}

/* txn_body_chunk - current body chunk (BODY stage) */
const unsigned char *
txn_body_chunk(const struct txn *txn, size_t *len_r)
{
	*len_r = txn->body_len;
	return txn->body;
}

/* txn_in_mynetworks - whether the client is in mynetworks, cached */
enum table_result
txn_in_mynetworks(struct txn *txn)
{
	if (!txn->have_addr)
		return TABLE_NOTFOUND;
	if (!txn->mynet_known) {
		txn->mynet = matchlist_addr(txn->rt->globals.mynetworks,
		    &txn->addr);
		/* an error is not cached: the next stage may succeed */
		txn->mynet_known = txn->mynet != TABLE_ERROR;
	}
	return (enum table_result)txn->mynet;
}

/* txn_set_spf - record the message's SPF outcome for later modules */
void
txn_set_spf(struct txn *txn, const struct txn_spf *spf)
{
	if (!txn->in_msg)
		log_panic("txn_set_spf outside a message");
	txn->spf = *spf;
}

/* txn_spf - the message's SPF outcome; ->result NULL when none */
const struct txn_spf *
txn_spf(const struct txn *txn)
{
	return &txn->spf;
}

/* txn_add_dkim - record one DKIM outcome for later modules */
void
txn_add_dkim(struct txn *txn, const struct txn_dkim *dkim)
{
	if (!txn->in_msg)
		log_panic("txn_add_dkim outside a message");
	if (txn->ndkim == txn->dkim_cap) {
		size_t cap = txn->dkim_cap ? txn->dkim_cap * 2 : 4;
		struct txn_dkim *n = arena_alloc(txn->msg_arena,
		    cap * sizeof(*n));

		if (txn->ndkim > 0)
			memcpy(n, txn->dkim, txn->ndkim * sizeof(*n));
		txn->dkim = n;
		txn->dkim_cap = cap;
	}
	txn->dkim[txn->ndkim++] = *dkim;
}

/* txn_dkim_count - DKIM outcomes recorded for this message */
size_t
txn_dkim_count(const struct txn *txn)
{
	return txn->ndkim;
}

/* txn_dkim_at - DKIM outcome i */
const struct txn_dkim *
txn_dkim_at(const struct txn *txn, size_t i)
{
	if (i >= txn->ndkim)
		log_panic("txn_dkim_at(%zu) of %zu", i, txn->ndkim);
	return &txn->dkim[i];
}

/* txn_set_dnsbl_weight - kept for the connection; the dnsbl module
 * sets the running total at each of its stages */
void
txn_set_dnsbl_weight(struct txn *txn, long weight)
{
	txn->dnsbl_weight = weight;
}

/* txn_dnsbl_weight - the latest total */
long
txn_dnsbl_weight(const struct txn *txn)
{
	return txn->dnsbl_weight;
}

/* txn_score - the message's total score so far */
double
txn_score(const struct txn *txn)
{
	return txn->score;
}

/* txn_conn_arena - memory for the connection's lifetime */
struct arena *
txn_conn_arena(struct txn *txn)
{
	return txn->conn_arena;
}

/* txn_msg_arena - memory for the message's lifetime */
struct arena *
txn_msg_arena(struct txn *txn)
{
	if (!txn->in_msg)
		log_panic("txn_msg_arena outside a message");
	return txn->msg_arena;
}

/* txn_globals - settings shared by the loaded config */
const struct policy_globals *
txn_globals(const struct txn *txn)
{
	return &txn->rt->globals;
}

/* txn_sanitize_value - no CR, bare LF becomes a fold, no other controls */
static const char *
txn_sanitize_value(struct arena *arena, const char *value)
{
	struct buf b = { 0 };
	const char *out;

	for (const char *p = value; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\r')
			continue;
		if (c == '\n') {
			buf_puts(&b, "\n\t");
			while (p[1] == ' ' || p[1] == '\t')
				p++;
			continue;
		}
		buf_putc(&b, (c < 0x20 && c != '\t') || c == 0x7f ? ' ' :
		    (char)c);
	}
	out = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return out;
}

/* txn_queue_edit - append an edit to the message's list */
static void
txn_queue_edit(struct txn *txn, enum txn_edit_kind kind, unsigned index,
    const char *name, const char *value)
{
	struct txn_edit *e;

	if (!txn->in_msg)
		log_panic("header edit outside a message");
	e = arena_alloc(txn->msg_arena, sizeof(*e));
	e->kind = kind;
	e->index = index;
	e->name = arena_strdup(txn->msg_arena, name);
	e->value = value ? txn_sanitize_value(txn->msg_arena, value) : NULL;
	*txn->edits_tail = e;
	txn->edits_tail = &e->next;
}

/* txn_add_header - append a header at end of message */
void
txn_add_header(struct txn *txn, const char *name, const char *value)
{
	txn_queue_edit(txn, TXN_EDIT_ADD, 0, name, value);
}

/* txn_insert_header - insert a header at index (0 = top) */
void
txn_insert_header(struct txn *txn, unsigned index, const char *name,
    const char *value)
{
	txn_queue_edit(txn, TXN_EDIT_INSERT, index, name, value);
}

/* txn_change_header - replace or (value NULL) delete a header */
void
txn_change_header(struct txn *txn, const char *name, unsigned index,
    const char *value)
{
	txn_queue_edit(txn, TXN_EDIT_CHANGE, index, name, value);
}
