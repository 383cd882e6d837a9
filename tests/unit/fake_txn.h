/*
 * fake_txn.h - the txn_* accessors of policy.h without filterd, and a
 * module loaded and called as filterd would
 *
 * Contract: for unit tests of one policy module. A test fills the fields
 * of struct txn (zeroed = no client address, no sender, no header, no
 * SPF or DKIM outcome) and calls the module's handlers; the accessors
 * return those fields. What a module writes is kept here: inserted
 * headers as "Name: value" strings, top first (index 0 only), added
 * headers likewise at the end, the SPF outcome, the DKIM outcomes and
 * the DNSBL weight; every edit (insert at any index, change, delete) is
 * also listed in edits, in order. policy_now() is the monotonic clock.
 * txn_header_raw and txn_body_chunk answer from hdr_raw, body and
 * body_len. fake_txn_clear() destroys the conn and msg arenas the test gave a txn
 * and zeroes it.
 *
 * fake_module_load() loads one module as filterd does: the text is
 * parsed as a file called file (the name in every "FILE:LINE:" error),
 * [mod->name] is applied through mod->settings into a zeroed config, and
 * init is called with the parsed file, that section and globals (which
 * must outlive the module). The text must be free of syntax errors (the
 * test fails otherwise: syntax is test_conf's business, a module's test
 * is about its settings). True: *m_r holds the config and zeroed conn and
 * msg states (NULL where the module wants none) until
 * fake_module_unload(). False: the config was refused, nothing is left
 * loaded (*m_r is zeroed) and *error_r holds the malloc'ed errors, one
 * "FILE:LINE: ..." line each (the settings' errors, else init's).
 * fake_module_run() calls one stage's handler, which must exist, with
 * the config, the conn state, the msg state from POLICY_MAIL on (NULL
 * before) and a deadline 10 s away; the verdict is zeroed first.
 * fake_module_header() runs the HEADER handler with name: value as the
 * header being passed (txn's header fields are NULL again after it).
 * fake_module_unload() deinits what init accepted and frees it all; it
 * zeroes *m, so it may be called again, and on a zeroed struct.
 */
#ifndef POSTERN_FAKE_TXN_H
#define POSTERN_FAKE_TXN_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "conf.h"
#include "inet.h"
#include "mailaddr.h"
#include "policy.h"
#include "table.h"

#define FAKE_TXN_HEADERS	8
#define FAKE_TXN_DKIM		4
#define FAKE_TXN_RCPTS		8
#define FAKE_TXN_EDITS		32

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
	const char *hdr_raw;			/* HEADER stage: the value as
						   after the colon (LEADSPC);
						   NULL: " " + hdr_value */
	const unsigned char *body;		/* BODY stage: the chunk */
	size_t body_len;
	const char *headers[FAKE_TXN_HEADERS];	/* inserted, top first */
	size_t nheaders;
	/* every header edit in order (the first FAKE_TXN_EDITS): "insert
	 * INDEX Name: value", "change Name INDEX: value", "delete Name
	 * INDEX" */
	const char *edits[FAKE_TXN_EDITS];
	size_t nedits;
	struct txn_spf spf;
	struct txn_dkim dkim[FAKE_TXN_DKIM];
	size_t ndkim;
};

/* A loaded module (zeroed: none). */
struct fake_module {
	const struct policy_module *mod;	/* NULL: nothing loaded */
	struct arena *arena;			/* the config's lifetime */
	struct conf_file *cf;
	void *config;				/* mod->config_size bytes */
	void *conn, *msg;			/* mod->conn_size, msg_size */
};

void fake_txn_clear(struct txn *txn);

bool fake_module_load(const struct policy_module *mod, const char *file,
    const char *text, const struct policy_globals *globals,
    struct fake_module *m_r, char **error_r);
enum policy_status fake_module_run(struct fake_module *m, struct txn *txn,
    enum policy_stage stage, struct verdict *v);
enum policy_status fake_module_header(struct fake_module *m,
    struct txn *txn, const char *name, const char *value, struct verdict *v);
void fake_module_unload(struct fake_module *m);

#endif
