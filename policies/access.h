/*
 * access.h - Postfix-style access restriction lists (module "access")
 *
 * The module evaluates five restriction lists with Postfix's words and
 * semantics, each at its own stage:
 *
 *	client_restrictions	POLICY_CONNECT
 *	helo_restrictions	POLICY_HELO
 *	sender_restrictions	POLICY_MAIL
 *	relay_restrictions	POLICY_RCPT, first
 *	recipient_restrictions	POLICY_RCPT, second; a recipient must
 *				pass both lists
 *
 * A permit ends one list with no opinion (VERDICT_DUNNO and a reason), so
 * later lists and later modules still run; a reject, defer, discard or
 * hold is the verdict. Lookup errors never read as "not listed": they
 * tempfail (451 4.3.0).
 *
 * The decision itself (access_eval) needs no transaction: the stage
 * handlers copy what they need from the txn_* accessors into a struct
 * access_input, call access_eval, and queue the PREPEND headers it
 * returns. Unit tests call access_eval directly.
 */
#ifndef POSTERN_ACCESS_H
#define POSTERN_ACCESS_H

#include "policy.h"

extern const struct policy_module access_module;

/* The module's config (settings plus compiled lists); opaque outside
 * access.c, allocated by the core with access_module.config_size. */
struct access_config;

/*
 * What one evaluation looks at. Strings belong to the caller and must live
 * as long as the arena given to access_eval.
 */
struct access_input {
	const char *queue_id;		/* NULL: not known yet (logs) */
	const struct inet_addr *client_addr;	/* NULL: not an IP client */
	const char *client_addr_text;	/* "192.0.2.1" or "unknown" */
	const char *client_name;	/* verified name or "unknown" */
	const char *helo;		/* NULL: no HELO/EHLO given */
	const struct mailaddr *sender;	/* NULL: none or unparseable */
	const char *sender_raw;		/* MAIL FROM text; NULL before */
	const struct mailaddr *rcpt;	/* NULL: unparseable */
	const char *rcpt_raw;		/* RCPT TO text */
	const char *auth_user;		/* NULL: not authenticated */
	enum table_result mynetworks;	/* client in mynetworks */
};

/* A header queued by a PREPEND action, in the order the tables gave them
 * (the first one belongs on top). */
struct access_header {
	const char *name;
	const char *value;
	const struct access_header *next;
};

/*
 * access_eval - run the restriction lists of stage (POLICY_CONNECT,
 * POLICY_HELO, POLICY_MAIL or POLICY_RCPT; other stages: no opinion) on in.
 * v must be zeroed; it gets the verdict (texts in arena). *headers_r gets
 * the PREPEND headers to queue (NULL when none), also in arena.
 */
void access_eval(const struct access_config *cfg, enum policy_stage stage,
    const struct access_input *in, struct arena *arena, struct verdict *v,
    const struct access_header **headers_r);

#endif
