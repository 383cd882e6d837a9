/*
 * fake_txn.c - the txn_* accessors of policy.h without filterd (see
 * fake_txn.h)
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "fake_txn.h"

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

/* txn_insert_header - keep "Name: value" on top */
void
txn_insert_header(struct txn *txn, unsigned index, const char *name,
    const char *value)
{
	assert_true(txn->nheaders < FAKE_TXN_HEADERS);
	assert_int_equal(index, 0);
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
