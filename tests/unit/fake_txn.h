/*
 * fake_txn.h - the txn_* accessors of policy.h without filterd
 *
 * Contract: for unit tests of one policy module. A test fills the fields
 * of struct txn (zeroed = no client address, no sender, no header, no
 * SPF or DKIM outcome) and calls the module's handlers; the accessors
 * return those fields. What a module writes is kept here: inserted
 * headers as "Name: value" strings, top first (index 0 only), added
 * headers likewise at the end, the SPF outcome, the DKIM outcomes and
 * the DNSBL weight. policy_now() is the monotonic clock.
 */
#ifndef POSTERN_FAKE_TXN_H
#define POSTERN_FAKE_TXN_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "inet.h"
#include "mailaddr.h"
#include "policy.h"
#include "table.h"

#define FAKE_TXN_HEADERS	8
#define FAKE_TXN_DKIM		4
#define FAKE_TXN_RCPTS		8

struct txn {
	struct arena *conn_arena, *msg_arena;
	const char *qid;			/* NULL: none yet */
	struct inet_addr addr;			/* family 0: no address */
	const char *addr_text, *name, *helo, *auth;
	const struct mailaddr *sender;		/* NULL: none */
	const struct mailaddr *rcpt;		/* RCPT stage; NULL: none */
	const struct mailaddr *rcpts[FAKE_TXN_RCPTS];	/* accepted */
	size_t nrcpt;
	double score;
	long dnsbl_weight;
	const struct policy_globals *globals;	/* NULL: none */
	enum table_result mynetworks;
	const char *hdr_name, *hdr_value;	/* HEADER stage */
	const char *headers[FAKE_TXN_HEADERS];	/* inserted, top first */
	size_t nheaders;
	struct txn_spf spf;
	struct txn_dkim dkim[FAKE_TXN_DKIM];
	size_t ndkim;
};

#endif
