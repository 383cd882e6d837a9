/*
 * msgspool.c - the message as received, collected across the HEADER, EOH
 * and BODY stages; see msgspool.h for the contract
 *
 * The spool is made at the first call, not at MAIL: a module that
 * exempts a message (skip_authenticated) never calls here and costs
 * nothing. Its cleanup on the message arena frees it when the connection
 * goes away between stages; EOM and ABORT let it go sooner with
 * msgspool_release. The cleanup reads the msgspool itself, so that
 * struct must live as long as the message arena (a module's msg state
 * does).
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "log.h"
#include "msgspool.h"
#include "policy.h"
#include "spool.h"
#include "table.h"

/* msgspool_cleanup - the message arena goes: free what is left */
static void
msgspool_cleanup(void *arg)
{
	struct msgspool *ms = arg;

	spool_free(&ms->spool);
}

/*
 * msgspool_add - len more bytes of the message. Past max_size they are
 * only counted and the spool is let go at once; a spool that fails is let
 * go too, with the reason kept.
 */
static void
msgspool_add(struct msgspool *ms, const struct msgspool_limits *l,
    struct txn *txn, const void *data, size_t len)
{
	if (!ms->started) {
		ms->started = true;
		ms->spool = spool_new(l->dir, (size_t)l->mem_limit);
		arena_cleanup(txn_msg_arena(txn), msgspool_cleanup, ms);
	} else if (ms->spool == NULL && !ms->oversize && ms->broken == NULL)
		log_panic("msgspool: message bytes after msgspool_release");
	ms->size += len;
	if (ms->oversize || ms->broken != NULL)
		return;
	if (l->max_size > 0 && ms->size > l->max_size) {
		ms->oversize = true;
		spool_free(&ms->spool);
		return;
	}
	if (!spool_append(ms->spool, data, len)) {
		ms->broken = arena_strdup(txn_msg_arena(txn),
		    spool_error(ms->spool));
		spool_free(&ms->spool);
	}
}

/* msgspool_header - "Name:" + the value as sent, folds as CR LF */
void
msgspool_header(struct msgspool *ms, const struct msgspool_limits *l,
    struct txn *txn)
{
	const char *name = txn_header_name(txn);
	const char *raw = txn_header_raw(txn);
	struct buf b = { 0 };
	const char *p;

	if (raw == NULL)
		raw = "";
	buf_printf(&b, "%s:", name != NULL ? name : "");
	for (p = raw; *p != '\0'; p++) {
		/* MTAs hand folded values over with bare LFs */
		if (*p == '\n' && (p == raw || p[-1] != '\r'))
			buf_putc(&b, '\r');
		buf_putc(&b, *p);
	}
	buf_append(&b, "\r\n", 2);
	msgspool_add(ms, l, txn, b.data, b.len);
	buf_free(&b);
}

/* msgspool_eoh - the empty line between header and body */
void
msgspool_eoh(struct msgspool *ms, const struct msgspool_limits *l,
    struct txn *txn)
{
	msgspool_add(ms, l, txn, "\r\n", 2);
}

/* msgspool_body - one chunk as the MTA sent it */
void
msgspool_body(struct msgspool *ms, const struct msgspool_limits *l,
    struct txn *txn)
{
	const unsigned char *chunk;
	size_t len = 0;

	chunk = txn_body_chunk(txn, &len);
	if (chunk != NULL && len > 0)
		msgspool_add(ms, l, txn, chunk, len);
}

/* msgspool_exempt - the skip_* setting that exempts the client, or NULL */
const char *
msgspool_exempt(struct txn *txn, bool skip_authenticated,
    bool skip_mynetworks, const char *module, bool *failed_r)
{
	*failed_r = false;
	if (skip_authenticated && txn_auth_user(txn) != NULL)
		return "skip_authenticated";
	if (!skip_mynetworks)
		return NULL;
	switch (txn_in_mynetworks(txn)) {
	case TABLE_FOUND:
		return "skip_mynetworks";
	case TABLE_NOTFOUND:
		return NULL;
	default:
		log_msg(LOG_WARNING, txn_queue_id(txn), "%s: mynetworks "
		    "lookup failed", module);
		*failed_r = true;
		return NULL;
	}
}

/* msgspool_oversize - more than max_size bytes came */
bool
msgspool_oversize(const struct msgspool *ms)
{
	return ms->oversize;
}

/* msgspool_broken - why the spool failed, or NULL */
const char *
msgspool_broken(const struct msgspool *ms)
{
	return ms->broken;
}

/* msgspool_spool - the collected message, or NULL */
struct spool *
msgspool_spool(const struct msgspool *ms)
{
	return ms->spool;
}

/* msgspool_release - free the spool now; harmless twice */
void
msgspool_release(struct msgspool *ms)
{
	spool_free(&ms->spool);
}
