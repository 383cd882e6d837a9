/*
 * fake_txn.c - the txn_* accessors of policy.h without filterd, and a
 * module loaded and called as filterd would (see fake_txn.h)
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "buf.h"
#include "fake_txn.h"
#include "mem.h"

/* txn_queue_id - the field set up by the test */
const char *
txn_queue_id(const struct txn *txn)
{
	return txn->qid;
}

/* txn_client_addr - the field set up by the test */
const struct inet_addr *
txn_client_addr(const struct txn *txn)
{
	return txn->addr.family != 0 ? &txn->addr : NULL;
}

/* txn_client_addr_text - the field set up by the test */
const char *
txn_client_addr_text(const struct txn *txn)
{
	return txn->addr_text;
}

/* txn_client_name - the field set up by the test */
const char *
txn_client_name(const struct txn *txn)
{
	return txn->name;
}

/* txn_helo - the field set up by the test */
const char *
txn_helo(const struct txn *txn)
{
	return txn->helo;
}

/* txn_auth_user - the field set up by the test */
const char *
txn_auth_user(const struct txn *txn)
{
	return txn->auth;
}

/* txn_sender - the field set up by the test */
const struct mailaddr *
txn_sender(const struct txn *txn)
{
	return txn->sender;
}

/* txn_in_mynetworks - the field set up by the test */
enum table_result
txn_in_mynetworks(struct txn *txn)
{
	return txn->mynetworks;
}

/* txn_conn_arena - the field set up by the test */
struct arena *
txn_conn_arena(struct txn *txn)
{
	return txn->conn_arena;
}

/* txn_msg_arena - the field set up by the test */
struct arena *
txn_msg_arena(struct txn *txn)
{
	return txn->msg_arena;
}

/* txn_header_name - the header being passed */
const char *
txn_header_name(const struct txn *txn)
{
	return txn->hdr_name;
}

/* txn_header_value - the header being passed */
const char *
txn_header_value(const struct txn *txn)
{
	return txn->hdr_value;
}

/* txn_header_raw - hdr_raw, else " " + the value, as filterd/txn.c
 * does without LEADSPC */
const char *
txn_header_raw(const struct txn *txn)
{
	if (txn->hdr_raw != NULL)
		return txn->hdr_raw;
	if (txn->hdr_value == NULL)
		return NULL;
	return arena_printf(txn->msg_arena, " %s", txn->hdr_value);
}

/* txn_body_chunk - the chunk being passed */
const unsigned char *
txn_body_chunk(const struct txn *txn, size_t *len_r)
{
	*len_r = txn->body_len;
	return txn->body;
}

/* txn_insert_header - listed in edits; at index 0 also kept as "Name:
 * value" on top of headers */
void
txn_insert_header(struct txn *txn, unsigned index, const char *name,
    const char *value)
{
	if (txn->nedits < FAKE_TXN_EDITS)
		txn->edits[txn->nedits++] = arena_printf(txn->msg_arena,
		    "insert %u %s: %s", index, name, value);
	if (index != 0)
		return;
	assert_true(txn->nheaders < FAKE_TXN_HEADERS);
	memmove(&txn->headers[1], &txn->headers[0],
	    txn->nheaders * sizeof(txn->headers[0]));
	txn->headers[0] = arena_printf(txn->msg_arena, "%s: %s", name,
	    value);
	txn->nheaders++;
}

/* txn_add_header - keep "Name: value" at the end */
void
txn_add_header(struct txn *txn, const char *name, const char *value)
{
	assert_true(txn->nheaders < FAKE_TXN_HEADERS);
	txn->headers[txn->nheaders++] = arena_printf(txn->msg_arena, "%s: %s",
	    name, value);
}

/* txn_change_header - listed in edits */
void
txn_change_header(struct txn *txn, const char *name, unsigned index,
    const char *value)
{
	if (txn->nedits < FAKE_TXN_EDITS)
		txn->edits[txn->nedits++] = value != NULL ? arena_printf(
		    txn->msg_arena, "change %s %u: %s", name, index, value) :
		    arena_printf(txn->msg_arena, "delete %s %u", name, index);
}

/* txn_rcpt - the field set up by the test */
const struct mailaddr *
txn_rcpt(const struct txn *txn)
{
	return txn->rcpt;
}

/* txn_rcpt_raw - the parsed recipient's text ("" if none) */
const char *
txn_rcpt_raw(const struct txn *txn)
{
	return txn->rcpt != NULL ? txn->rcpt->full : "";
}

/* txn_rcpt_count - the accepted recipients set up by the test */
size_t
txn_rcpt_count(const struct txn *txn)
{
	return txn->nrcpt;
}

/* txn_rcpt_at - accepted recipient i */
const struct mailaddr *
txn_rcpt_at(const struct txn *txn, size_t i)
{
	assert_true(i < txn->nrcpt);
	return txn->rcpts[i];
}

/* txn_score - the field set up by the test */
double
txn_score(const struct txn *txn)
{
	return txn->score;
}

/* txn_set_dnsbl_weight - keep it */
void
txn_set_dnsbl_weight(struct txn *txn, long weight)
{
	txn->dnsbl_weight = weight;
}

/* txn_dnsbl_weight - the kept (or set up) weight */
long
txn_dnsbl_weight(const struct txn *txn)
{
	return txn->dnsbl_weight;
}

/* txn_globals - the field set up by the test */
const struct policy_globals *
txn_globals(const struct txn *txn)
{
	return txn->globals;
}

/* txn_set_spf - keep the outcome */
void
txn_set_spf(struct txn *txn, const struct txn_spf *spf)
{
	txn->spf = *spf;
}

/* txn_spf - the kept (or set up) outcome */
const struct txn_spf *
txn_spf(const struct txn *txn)
{
	return &txn->spf;
}

/* txn_dkim_count - the outcomes set up by the test */
size_t
txn_dkim_count(const struct txn *txn)
{
	return txn->ndkim;
}

/* txn_dkim_at - outcome i */
const struct txn_dkim *
txn_dkim_at(const struct txn *txn, size_t i)
{
	assert_true(i < txn->ndkim);
	return &txn->dkim[i];
}

/* policy_now - filterd's clock: the monotonic clock */
double
policy_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* fake_txn_clear - the test's arenas gone, every field zeroed */
void
fake_txn_clear(struct txn *txn)
{
	arena_destroy(&txn->conn_arena);
	arena_destroy(&txn->msg_arena);
	memset(txn, 0, sizeof(*txn));
}

/* fake_module_load - parse, apply and init as filterd does (see
 * fake_txn.h); a refused config leaves nothing loaded */
bool
fake_module_load(const struct policy_module *mod, const char *file,
    const char *text, const struct policy_globals *globals,
    struct fake_module *m_r, char **error_r)
{
	struct conf_errors err = { 0 };
	struct fake_module m = { 0 };	/* .mod stays NULL until init is done */
	struct policy_init pi = { 0 };

	memset(m_r, 0, sizeof(*m_r));
	m.arena = arena_create();
	m.cf = conf_load_string(file, text, &err);
	assert_non_null(m.cf);
	assert_int_equal(err.count, 0);
	m.config = xcalloc(1, mod->config_size);
	conf_apply(m.cf, mod->name, mod->settings, m.config, m.arena, &err);
	if (err.count > 0) {
		*error_r = buf_steal(&err.text);
		fake_module_unload(&m);
		return false;
	}
	conf_errors_free(&err);
	pi.config = m.config;
	pi.arena = m.arena;
	pi.globals = globals;
	pi.cf = m.cf;
	pi.section = mod->name;
	if (!mod->init(&pi, error_r)) {
		fake_module_unload(&m);
		return false;
	}
	m.mod = mod;
	m.conn = mod->conn_size > 0 ? xcalloc(1, mod->conn_size) : NULL;
	m.msg = mod->msg_size > 0 ? xcalloc(1, mod->msg_size) : NULL;
	*m_r = m;
	return true;
}

/* fake_module_run - one stage's handler, with the states as the core
 * passes them */
enum policy_status
fake_module_run(struct fake_module *m, struct txn *txn,
    enum policy_stage stage, struct verdict *v)
{
	struct policy_call call = {
		.txn = txn,
		.config = m->config,
		.conn = m->conn,
		.msg = stage >= POLICY_MAIL ? m->msg : NULL,
		.stage = stage,
		.deadline = policy_now() + 10,
	};

	memset(v, 0, sizeof(*v));
	assert_non_null(m->mod);
	assert_non_null(m->mod->stage[stage]);
	return m->mod->stage[stage](&call, v);
}

/* fake_module_header - the HEADER stage for one header */
enum policy_status
fake_module_header(struct fake_module *m, struct txn *txn, const char *name,
    const char *value, struct verdict *v)
{
	enum policy_status r;

	txn->hdr_name = name;
	txn->hdr_value = value;
	r = fake_module_run(m, txn, POLICY_HEADER, v);
	txn->hdr_name = txn->hdr_value = NULL;
	return r;
}

/* fake_module_unload - deinit (if init accepted the config) and free */
void
fake_module_unload(struct fake_module *m)
{
	if (m->mod != NULL && m->mod->deinit != NULL)
		m->mod->deinit(m->config);
	arena_destroy(&m->arena);
	conf_file_free(&m->cf);
	free(m->config);
	free(m->conn);
	free(m->msg);
	memset(m, 0, sizeof(*m));
}
