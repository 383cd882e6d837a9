/*
 * milter.c - libmilter callbacks feeding the pipeline
 *
 * Each callback: find the connection's txn, run the pipeline stage, and
 * turn the verdict into libmilter's answer. Rejections before RCPT are held
 * until RCPT when delay_reject is on, so the MTA logs name the recipients
 * (and so does our reject line). End of message applies the queued header
 * edits, removes forged Authentication-Results and adds ours.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "authres.h"
#include "log.h"
#include "mem.h"
#include "milter.h"
#include "pipeline.h"
#include "runtime.h"
#include "txn.h"

/* per-connection protocol facts kept beside the txn */
struct milter_conn {
	struct txn *txn;
	bool nr_hdr;		/* header replies negotiated away */
	bool nr_eoh, nr_body;	/* and those to EOH and body chunks */
	bool leadspc;		/* header values keep their leading space,
				   ours must bring one (SMFIP_HDR_LEADSPC) */
	bool nr_early;		/* connect/helo/mail replies negotiated away */
	bool msg_logged;	/* summary line written for this message */
};

/* Macros asked for per stage (Postfix sends at most 50 per stage). */
static const struct {
	int stage;
	const char *names;
} milter_macros[] = {
	{ SMFIM_CONNECT, "j {daemon_name} {daemon_addr} {client_addr} "
	  "{client_name} {client_ptr} _" },
	{ SMFIM_HELO, "{tls_version} {cipher} {cipher_bits} {cert_subject} "
	  "{cert_issuer}" },
	{ SMFIM_ENVFROM, "i {auth_type} {auth_authen} {auth_author} "
	  "{mail_addr} {mail_host} {mail_mailer}" },
	{ SMFIM_ENVRCPT, "i {rcpt_addr} {rcpt_host} {rcpt_mailer}" },
	{ SMFIM_DATA, "i" },
	{ SMFIM_EOH, "i" },
	{ SMFIM_EOM, "i" },
};

/* Event names in refusal log lines, as Postfix writes them. */
static const char *const milter_event_names[POLICY_STAGES] = {
	[POLICY_CONNECT] = "CONNECT",
	[POLICY_HELO] = "HELO",
	[POLICY_MAIL] = "MAIL",
	[POLICY_RCPT] = "RCPT",
	[POLICY_DATA] = "DATA",
	[POLICY_HEADER] = "HEADER",
	[POLICY_EOH] = "END-OF-HEADERS",
	[POLICY_BODY] = "BODY",
	[POLICY_EOM] = "END-OF-MESSAGE",
	[POLICY_ABORT] = "ABORT",
	[POLICY_CLOSE] = "CLOSE",
};

/* milter_macro - txn's view of smfi_getsymval */
static const char *
milter_macro(void *ctx, const char *name)
{
	return smfi_getsymval(ctx, (char *)name);
}

/* milter_conn_get - the connection's state, bound to this callback */
static struct milter_conn *
milter_conn_get(SMFICTX *ctx)
{
	struct milter_conn *mc = smfi_getpriv(ctx);

	if (mc == NULL) {
		/* no negotiate callback happened (old protocol) */
		mc = xcalloc(1, sizeof(*mc));
		mc->txn = txn_conn_begin(runtime_acquire());
		smfi_setpriv(ctx, mc);
	}
	mc->txn->macro_fn = milter_macro;
	mc->txn->macro_ctx = ctx;
	return mc;
}

/* milter_reply_text - a reply text libmilter accepts: no CR/LF, % doubled,
 * at most 980 bytes */
static char *
milter_reply_text(struct arena *arena, const char *text)
{
	char *out = arena_alloc(arena, strlen(text) * 2 + 1);
	char *o = out;

	for (const char *p = text; *p && o - out < 978; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '%')
			*o++ = '%';
		*o++ = c < ' ' || c == 0x7f ? ' ' : (char)c;
	}
	*o = '\0';
	return out;
}

/* milter_scope_arena - the message arena if there is one */
static struct arena *
milter_arena(struct txn *txn)
{
	return txn->in_msg ? txn->msg_arena : txn->conn_arena;
}

/* milter_log_rcpt - to=<> of a refusal: the recipient at RCPT, the first
 * accepted one after it (as Postfix logs refusals of the data) */
static const char *
milter_log_rcpt(const struct txn *txn, enum policy_stage stage)
{
	if (stage == POLICY_RCPT)
		return txn->rcpt_raw == NULL ? "" :
		    txn->rcpt_ok ? txn->rcpt.full : txn->rcpt_raw;
	if (stage > POLICY_RCPT && txn->nrcpt > 0)
		return txn->rcpts[0]->full;
	return "";
}

/* milter_log_reject - one Postfix-style line for a refusal */
static void
milter_log_reject(struct txn *txn, enum policy_stage stage,
    const struct verdict *v, const char *module)
{
	log_msg(LOG_INFO, txn_log_id(txn),
	    "%s: %s from %s[%s]: %s %s %s; from=<%s> to=<%s> helo=<%s> "
	    "module=%s%s%s",
	    v->action == VERDICT_REJECT ? "reject" : "defer",
	    milter_event_names[stage], txn->client_name, txn->addr_text,
	    v->code, v->xcode, v->text,
	    txn->sender_ok ? txn->sender.full :
	    (txn->sender_raw ? txn->sender_raw : ""),
	    milter_log_rcpt(txn, stage),
	    txn->helo ? txn->helo : "", module ? module : "core",
	    v->reason ? " reason=" : "", v->reason ? v->reason : "");
}

/* milter_summary - the one line per message */
static void
milter_summary(struct milter_conn *mc, const char *action)
{
	struct txn *txn = mc->txn;
	struct buf modules = { 0 };

	if (mc->msg_logged || !txn->in_msg)
		return;
	mc->msg_logged = true;
	pipeline_summary(txn->rt->pipeline, txn, &modules);
	log_msg(LOG_INFO, txn_log_id(txn),
	    "filterd: action=%s client=%s[%s] helo=<%s> from=<%s> nrcpt=%zu "
	    "size=%zu score=%.2f modules=%s time=%.1fms", action,
	    txn->client_name, txn->addr_text, txn->helo ? txn->helo : "",
	    txn->sender_ok ? txn->sender.full :
	    (txn->sender_raw ? txn->sender_raw : ""),
	    txn->nrcpt, txn->msg_size, txn->score, buf_cstr(&modules),
	    (policy_now() - txn->msg_start) * 1000.0);
	buf_free(&modules);
}

/* milter_refuse - give libmilter a reply and the matching status */
static sfsistat
milter_refuse(SMFICTX *ctx, struct txn *txn, enum policy_stage stage,
    struct verdict *v, const char *module)
{
	struct arena *arena = milter_arena(txn);

	pipeline_default_reply(v);
	milter_log_reject(txn, stage, v, module);
	if (stage == POLICY_RCPT) {
		txn->nrcpt_rejected++;
		txn->last_reject = arena_printf(arena, "%s %s %s", v->code,
		    v->xcode, v->text);
	}
	if (v->disconnect && v->action == VERDICT_DEFER)
		v->code = "421";
	if (smfi_setreply(ctx, (char *)v->code, (char *)v->xcode,
	    milter_reply_text(arena, v->text)) != MI_SUCCESS)
		log_warn("smfi_setreply refused %s %s", v->code, v->xcode);
	return v->action == VERDICT_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

/* milter_hold - keep a verdict for later (delay_reject, discard, hold) */
static void
milter_hold(struct txn_hold *hold, const struct verdict *v,
    const char *module, enum policy_stage stage, struct arena *arena)
{
	if (hold->set)
		return;
	hold->set = true;
	hold->v = *v;
	hold->module = module;
	hold->stage = stage;
	/* the verdict's strings may live in the message arena; a connection
	 * hold must outlive the message */
	hold->v.code = arena_strdup(arena, v->code);
	hold->v.xcode = arena_strdup(arena, v->xcode);
	hold->v.text = arena_strdup(arena, v->text);
	hold->v.reason = arena_strdup(arena, v->reason);
	hold->v.authres = NULL;
}

/* milter_mark - apply a DISCARD or QUARANTINE to the message */
static void
milter_mark(struct txn *txn, const struct verdict *v, const char *module)
{
	if (v->action == VERDICT_DISCARD) {
		txn->discard = true;
	} else if (v->action == VERDICT_QUARANTINE && !txn->quarantine) {
		txn->quarantine = true;
		txn->quarantine_reason = arena_printf(txn->msg_arena, "%s: %s",
		    module ? module : "filterd",
		    v->text ? v->text : (v->reason ? v->reason : "held"));
	}
}

/* milter_verdict - turn a stage's verdict into libmilter's answer */
static sfsistat
milter_verdict(SMFICTX *ctx, struct milter_conn *mc, enum policy_stage stage,
    struct verdict *v, const char *module)
{
	struct txn *txn = mc->txn;
	bool before_rcpt = stage == POLICY_CONNECT || stage == POLICY_HELO ||
	    stage == POLICY_MAIL;
	bool conn_scope = stage == POLICY_CONNECT || stage == POLICY_HELO;
	bool in_data = stage == POLICY_HEADER || stage == POLICY_EOH ||
	    stage == POLICY_BODY;

	switch (v->action) {
	case VERDICT_DUNNO:
	case VERDICT_OK:
		return SMFIS_CONTINUE;
	case VERDICT_REJECT:
	case VERDICT_DEFER:
		if (before_rcpt && txn->rt->set.delay_reject) {
			pipeline_default_reply(v);
			milter_hold(conn_scope ? &txn->conn_hold :
			    &txn->msg_hold, v, module, stage,
			    conn_scope ? txn->conn_arena : txn->msg_arena);
			return SMFIS_CONTINUE;
		}
		if (in_data) {
			/* the client hears it after the final dot anyway;
			 * held, the MTA need not wait for these replies */
			pipeline_default_reply(v);
			if (!txn->data_hold.set)
				milter_hold(&txn->data_hold, v, module, stage,
				    txn->msg_arena);
			return SMFIS_CONTINUE;
		}
		return milter_refuse(ctx, txn, stage, v, module);
	case VERDICT_DISCARD:
	case VERDICT_QUARANTINE:
		if (conn_scope) {
			/* applies to every message of the connection */
			milter_hold(&txn->conn_hold, v, module, stage,
			    txn->conn_arena);
			return SMFIS_CONTINUE;
		}
		milter_mark(txn, v, module);
		return SMFIS_CONTINUE;
	}
	log_panic("milter_verdict: action %d", (int)v->action);
}

/* milter_stage - run a stage and answer */
static sfsistat
milter_stage(SMFICTX *ctx, struct milter_conn *mc, enum policy_stage stage)
{
	struct verdict v;
	const char *module;

	if (!mc->txn->rt->pipeline->stage_used[stage])
		return SMFIS_CONTINUE;
	pipeline_run(mc->txn->rt->pipeline, mc->txn, stage, &v, &module);
	return milter_verdict(ctx, mc, stage, &v, module);
}

/* milter_early - the answer at connect, helo or mail; NOREPLY when the
 * MTA was told not to wait (only "continue" is possible then) */
static sfsistat
milter_early(const struct milter_conn *mc, sfsistat st)
{
	if (!mc->nr_early)
		return st;
	if (st != SMFIS_CONTINUE)
		log_panic("verdict %d before RCPT with delay_reject", (int)st);
	return SMFIS_NOREPLY;
}

/* milter_negotiate - ask only for what the enabled modules need */
static sfsistat
milter_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct milter_conn *mc = smfi_getpriv(ctx);
	const struct pipeline *p;
	unsigned long actions, steps = 0;

	(void)f2;
	(void)f3;
	if (mc == NULL) {
		mc = xcalloc(1, sizeof(*mc));
		mc->txn = txn_conn_begin(runtime_acquire());
		smfi_setpriv(ctx, mc);
	}
	p = mc->txn->rt->pipeline;

	/* Authentication-Results: insert ours, delete forged ones */
	actions = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE;
	if (p->flags & POLICY_CHANGES_BODY)
		actions |= SMFIF_CHGBODY;
	if (p->flags & POLICY_CHANGES_ENVELOPE)
		actions |= SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGFROM;
	if ((actions & f0) != actions)
		log_warn("MTA offers milter actions 0x%lx, filterd wants 0x%lx: "
		    "some header edits will fail", f0, actions);
	actions &= f0;

	if (!(p->flags & POLICY_NEEDS_BODY))
		steps |= SMFIP_NOBODY;
	if (!p->stage_used[POLICY_EOH])
		steps |= SMFIP_NOEOH;
	/* The DATA step is kept even when no module wants it: Postfix sends
	 * the DATA macros and then the first header in separate small writes
	 * without TCP_NODELAY, so unless our reply to DATA carries an ACK,
	 * Nagle holds the header until our delayed ACK fires (~40 ms per
	 * message, measured end to end; see docs/performance.md). */
	steps |= SMFIP_NOUNKNOWN;
	/* A refusal during the data is held until the end of the message
	 * (the client hears it after the final dot in any case), so the MTA
	 * need not wait for a reply to each header, the end of headers or a
	 * body chunk: each reply saved is a round trip through libmilter */
	if (f1 & SMFIP_NR_HDR) {
		steps |= SMFIP_NR_HDR;
		mc->nr_hdr = true;
	}
	if (f1 & SMFIP_NR_EOH) {
		steps |= SMFIP_NR_EOH;
		mc->nr_eoh = true;
	}
	if (f1 & SMFIP_NR_BODY) {
		steps |= SMFIP_NR_BODY;
		mc->nr_body = true;
	}
	/* With delay_reject every verdict before RCPT is held, so the answer
	 * at connect, helo and mail is always "continue": the MTA need not
	 * wait for it. Each reply saved is a round trip through libmilter's
	 * worker pool, which costs more than all our policy work. */
	if (mc->txn->rt->set.delay_reject &&
	    (f1 & (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL)) ==
	    (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL)) {
		steps |= SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL;
		mc->nr_early = true;
	}
	if ((p->flags & POLICY_NEEDS_LEADSPC) && (f1 & SMFIP_HDR_LEADSPC)) {
		steps |= SMFIP_HDR_LEADSPC;
		mc->leadspc = true;
	}
	steps &= f1;

	if (f0 & SMFIF_SETSYMLIST) {
		for (size_t i = 0; i < sizeof(milter_macros) /
		    sizeof(milter_macros[0]); i++)
			if (smfi_setsymlist(ctx, milter_macros[i].stage,
			    (char *)milter_macros[i].names) != MI_SUCCESS)
				log_warn("smfi_setsymlist failed for stage %d",
				    milter_macros[i].stage);
		actions |= SMFIF_SETSYMLIST;
	}
	*pf0 = actions;
	*pf1 = steps;
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

/* milter_connect - client address and name */
static sfsistat
milter_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct milter_conn *mc = milter_conn_get(ctx);

	txn_set_client(mc->txn, hostname, hostaddr);
	return milter_early(mc, milter_stage(ctx, mc, POLICY_CONNECT));
}

/* milter_helo - HELO/EHLO argument */
static sfsistat
milter_helo(SMFICTX *ctx, char *helo)
{
	struct milter_conn *mc = milter_conn_get(ctx);

	txn_set_helo(mc->txn, helo);
	return milter_early(mc, milter_stage(ctx, mc, POLICY_HELO));
}

/* milter_envfrom - a message starts */
static sfsistat
milter_envfrom(SMFICTX *ctx, char **argv)
{
	struct milter_conn *mc = milter_conn_get(ctx);
	struct txn *txn = mc->txn;

	if (txn->in_msg)
		milter_summary(mc, "abort");
	txn_msg_begin(txn);
	mc->msg_logged = false;
	txn_set_sender(txn, argv[0]);
	txn_refresh_qid(txn);
	if (txn->conn_hold.set)
		milter_mark(txn, &txn->conn_hold.v, txn->conn_hold.module);
	return milter_early(mc, milter_stage(ctx, mc, POLICY_MAIL));
}

/* milter_envrcpt - one recipient; held rejections are answered here */
static sfsistat
milter_envrcpt(SMFICTX *ctx, char **argv)
{
	struct milter_conn *mc = milter_conn_get(ctx);
	struct txn *txn = mc->txn;
	const struct txn_hold *hold = NULL;
	sfsistat st;

	if (!txn->in_msg)
		txn_msg_begin(txn);
	txn_set_rcpt(txn, argv[0]);
	txn_refresh_qid(txn);
	if (txn->conn_hold.set && (txn->conn_hold.v.action == VERDICT_REJECT ||
	    txn->conn_hold.v.action == VERDICT_DEFER))
		hold = &txn->conn_hold;
	else if (txn->msg_hold.set)
		hold = &txn->msg_hold;
	if (hold != NULL) {
		struct verdict v = hold->v;

		return milter_refuse(ctx, txn, POLICY_RCPT, &v, hold->module);
	}
	st = milter_stage(ctx, mc, POLICY_RCPT);
	if (st == SMFIS_CONTINUE)
		txn_accept_rcpt(txn);
	return st;
}

/* milter_data - DATA command */
static sfsistat
milter_data(SMFICTX *ctx)
{
	struct milter_conn *mc = milter_conn_get(ctx);

	txn_refresh_qid(mc->txn);
	return milter_stage(ctx, mc, POLICY_DATA);
}

/* milter_header - one header; watched for forged Authentication-Results */
static sfsistat
milter_header(SMFICTX *ctx, char *name, char *value)
{
	struct milter_conn *mc = milter_conn_get(ctx);
	struct txn *txn = mc->txn;
	sfsistat st = SMFIS_CONTINUE;

	if (!txn->in_msg)
		return mc->nr_hdr ? SMFIS_NOREPLY : SMFIS_CONTINUE;
	txn_refresh_qid(txn);
	txn->msg_size += strlen(name) + strlen(value) + 4;
	txn_header_seen(txn, name, value);
	txn->hdr_name = name;
	/* modules see the value without its leading space either way;
	 * the exact bytes only when the MTA sends them (LEADSPC) */
	txn->hdr_raw = mc->leadspc ? value : NULL;
	txn->hdr_value = mc->leadspc && value[0] == ' ' ? value + 1 : value;
	if (txn->rt->pipeline->stage_used[POLICY_HEADER])
		st = milter_stage(ctx, mc, POLICY_HEADER);
	txn->hdr_name = txn->hdr_value = txn->hdr_raw = NULL;
	return mc->nr_hdr ? SMFIS_NOREPLY : st;
}

/* milter_eoh - end of headers */
static sfsistat
milter_eoh(SMFICTX *ctx)
{
	struct milter_conn *mc = milter_conn_get(ctx);
	sfsistat st = milter_stage(ctx, mc, POLICY_EOH);

	return mc->nr_eoh ? SMFIS_NOREPLY : st;
}

/* milter_body - one body chunk */
static sfsistat
milter_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct milter_conn *mc = milter_conn_get(ctx);
	struct txn *txn = mc->txn;
	sfsistat st;

	txn->msg_size += len;
	txn->body = chunk;
	txn->body_len = len;
	st = milter_stage(ctx, mc, POLICY_BODY);
	txn->body = NULL;
	txn->body_len = 0;
	if (mc->nr_body)
		st = SMFIS_NOREPLY;
	return st;
}

/* milter_hdr_value - a value we add: with SMFIP_HDR_LEADSPC the MTA
 * writes "Name:" and the value as given, so it must bring the space */
static const char *
milter_hdr_value(const struct milter_conn *mc, struct txn *txn,
    const char *value)
{
	if (value == NULL || !mc->leadspc)
		return value;
	return arena_printf(txn->msg_arena, " %s", value);
}

/* milter_apply_edits - forged A-R out, ours in, then modules' edits */
static void
milter_apply_edits(SMFICTX *ctx, struct milter_conn *mc, struct txn *txn)
{
	const char *ar;

	/* delete from the last so the 1-based indices stay valid */
	for (size_t i = txn->nar_forged; i-- > 0;) {
		if (smfi_chgheader(ctx, "Authentication-Results",
		    (int)txn->ar_forged[i], NULL) != MI_SUCCESS)
			log_msg(LOG_WARNING, txn_log_id(txn),
			    "cannot remove forged Authentication-Results");
		else
			log_msg(LOG_INFO, txn_log_id(txn),
			    "removed Authentication-Results claiming "
			    "authserv-id %s (index %u)",
			    txn->rt->globals.authserv_id, txn->ar_forged[i]);
	}
	ar = milter_hdr_value(mc, txn, authres_build(txn->msg_arena,
	    txn->rt->globals.authserv_id, txn->authres, txn->nauthres));
	if (smfi_insheader(ctx, 0, "Authentication-Results", (char *)ar) !=
	    MI_SUCCESS)
		log_msg(LOG_WARNING, txn_log_id(txn),
		    "cannot add Authentication-Results");
	for (const struct txn_edit *e = txn->edits; e != NULL; e = e->next) {
		int rc = MI_FAILURE;

		switch (e->kind) {
		case TXN_EDIT_ADD:
			rc = smfi_addheader(ctx, (char *)e->name,
			    (char *)milter_hdr_value(mc, txn, e->value));
			break;
		case TXN_EDIT_INSERT:
			rc = smfi_insheader(ctx, (int)e->index, (char *)e->name,
			    (char *)milter_hdr_value(mc, txn, e->value));
			break;
		case TXN_EDIT_CHANGE:
			rc = smfi_chgheader(ctx, (char *)e->name, (int)e->index,
			    (char *)milter_hdr_value(mc, txn, e->value));
			break;
		}
		if (rc != MI_SUCCESS)
			log_msg(LOG_WARNING, txn_log_id(txn),
			    "header edit of %s failed", e->name);
	}
}

/* milter_eom - decide the message and apply the edits */
static sfsistat
milter_eom(SMFICTX *ctx)
{
	struct milter_conn *mc = milter_conn_get(ctx);
	struct txn *txn = mc->txn;
	struct pipeline *p = txn->rt->pipeline;
	struct verdict v;
	const char *module = NULL;
	sfsistat st = SMFIS_CONTINUE;
	const char *action = "accept";

	if (!txn->in_msg)
		txn_msg_begin(txn);
	txn_refresh_qid(txn);
	memset(&v, 0, sizeof(v));
	if (txn->data_hold.set) {
		/* refused during the data: the first refusal stands */
		v = txn->data_hold.v;
		module = txn->data_hold.module;
	} else if (p->stage_used[POLICY_EOM])
		pipeline_run(p, txn, POLICY_EOM, &v, &module);
	if (v.action == VERDICT_DUNNO || v.action == VERDICT_OK)
		pipeline_score_verdict(p, txn, &v);
	switch (v.action) {
	case VERDICT_REJECT:
	case VERDICT_DEFER:
		st = milter_refuse(ctx, txn, POLICY_EOM, &v, module);
		action = v.action == VERDICT_REJECT ? "reject" : "defer";
		break;
	case VERDICT_DISCARD:
	case VERDICT_QUARANTINE:
		milter_mark(txn, &v, module);
		break;
	default:
		break;
	}
	if (st == SMFIS_CONTINUE && txn->discard) {
		st = SMFIS_DISCARD;
		action = "discard";
	} else if (st == SMFIS_CONTINUE) {
		milter_apply_edits(ctx, mc, txn);
		if (txn->quarantine) {
			action = "quarantine";
			if (smfi_quarantine(ctx, (char *)milter_reply_text(
			    txn->msg_arena, txn->quarantine_reason)) !=
			    MI_SUCCESS)
				log_msg(LOG_WARNING, txn_log_id(txn),
				    "MTA refused quarantine");
		}
	}
	milter_summary(mc, action);
	txn_msg_end(txn);
	return st;
}

/* milter_abort - the MTA dropped the message */
static sfsistat
milter_abort(SMFICTX *ctx)
{
	struct milter_conn *mc = milter_conn_get(ctx);
	struct txn *txn = mc->txn;
	struct verdict v;
	const char *module;

	if (!txn->in_msg)
		return SMFIS_CONTINUE;
	if (txn->rt->pipeline->stage_used[POLICY_ABORT])
		pipeline_run(txn->rt->pipeline, txn, POLICY_ABORT, &v, &module);
	/* every recipient refused: the message was refused, for now (4xx:
	 * greylisting, a DNS failure) or for good */
	if (txn->nrcpt == 0 && txn->nrcpt_rejected > 0)
		milter_summary(mc, txn->last_reject != NULL &&
		    txn->last_reject[0] == '4' ? "defer" : "reject");
	else
		milter_summary(mc, "abort");
	txn_msg_end(txn);
	return SMFIS_CONTINUE;
}

/* milter_close - the connection ends (possibly without a connect) */
static sfsistat
milter_close(SMFICTX *ctx)
{
	struct milter_conn *mc = smfi_getpriv(ctx);
	struct verdict v;
	const char *module;

	if (mc == NULL)
		return SMFIS_CONTINUE;
	mc->txn->macro_fn = milter_macro;
	mc->txn->macro_ctx = ctx;
	if (mc->txn->in_msg)
		milter_summary(mc, "abort");
	if (mc->txn->rt->pipeline->stage_used[POLICY_CLOSE])
		pipeline_run(mc->txn->rt->pipeline, mc->txn, POLICY_CLOSE, &v,
		    &module);
	txn_conn_end(&mc->txn);
	free(mc);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

/* milter_unknown - unknown SMTP commands are the MTA's business */
static sfsistat
milter_unknown(SMFICTX *ctx, const char *cmd)
{
	(void)ctx;
	(void)cmd;
	return SMFIS_CONTINUE;
}

static struct smfiDesc milter_desc = {
	.xxfi_name = "postern-filterd",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE |
	    SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGFROM |
	    SMFIF_SETSYMLIST,
	.xxfi_connect = milter_connect,
	.xxfi_helo = milter_helo,
	.xxfi_envfrom = milter_envfrom,
	.xxfi_envrcpt = milter_envrcpt,
	.xxfi_header = milter_header,
	.xxfi_eoh = milter_eoh,
	.xxfi_body = milter_body,
	.xxfi_eom = milter_eom,
	.xxfi_abort = milter_abort,
	.xxfi_close = milter_close,
	.xxfi_unknown = milter_unknown,
	.xxfi_data = milter_data,
	.xxfi_negotiate = milter_negotiate,
};

/* milter_run - hand the listening socket to libmilter and serve */
int
milter_run(int listen_fd, double timeout, int backlog)
{
	char spec[32];

	snprintf(spec, sizeof(spec), "fd:%d", listen_fd);
	if (smfi_setconn(spec) != MI_SUCCESS) {
		log_warn("smfi_setconn(%s) failed", spec);
		return 1;
	}
	if (smfi_register(milter_desc) != MI_SUCCESS) {
		log_warn("smfi_register failed");
		return 1;
	}
	smfi_settimeout((int)timeout);
	smfi_setbacklog(backlog);
	if (smfi_main() != MI_SUCCESS) {
		log_warn("smfi_main failed");
		return 1;
	}
	return 0;
}
