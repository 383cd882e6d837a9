/*
 * msgspool.h - a message collected across the pipeline's stages, for
 * modules that hand the whole message to a scanner (clamav, spamd)
 *
 * Contract: msgspool_header(), msgspool_eoh() and msgspool_body() are
 * called from a module's HEADER, EOH and BODY handlers and rebuild the
 * message as it was received: each header field as "Name:" + its value
 * byte for byte (txn_header_raw; folds made CR LF, since MTAs hand folded
 * values over with bare LFs) + CR LF, the empty line, the body chunks. It
 * is kept in a spool (lib/spool.h: memory up to mem_limit, then a
 * private temporary file in dir), created at the first call with the
 * message arena's cleanup freeing it.
 *
 * Past max_size bytes nothing more is kept: the spool is let go at once,
 * the size is still counted, and msgspool_oversize() says so (the module
 * decides what an unscanned message gets). A spool that fails (a full
 * disk) is let go too, and msgspool_broken() says why: such a message
 * must never be scanned as if it were whole.
 */
#ifndef POSTERN_MSGSPOOL_H
#define POSTERN_MSGSPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "spool.h"

/* one message's collection; zeroed memory (in a module's msg state) is
 * an empty one */
struct msgspool {
	struct spool *spool;	/* NULL before the first byte, when broken
				   or oversize, and after
				   msgspool_release */
	uint64_t size;		/* every byte seen */
	bool oversize;
	const char *broken;	/* why the spool failed (message arena) */
	bool started;
};

/* the limits, from the module's settings */
struct msgspool_limits {
	const char *dir;	/* temp_dir */
	uint64_t mem_limit;	/* spool_memory */
	uint64_t max_size;	/* 0: none */
};

void msgspool_header(struct msgspool *ms, const struct msgspool_limits *l,
    struct txn *txn);
void msgspool_eoh(struct msgspool *ms, const struct msgspool_limits *l,
    struct txn *txn);
void msgspool_body(struct msgspool *ms, const struct msgspool_limits *l,
    struct txn *txn);
/*
 * msgspool_exempt - whether a module leaves a message alone because of
 * its client (the module's skip_authenticated and skip_mynetworks
 * settings): the name of the setting that exempts it, or NULL. A failed
 * mynetworks lookup is never "not in mynetworks": NULL with *failed_r
 * set, and a warning naming module is logged.
 */
const char *msgspool_exempt(struct txn *txn, bool skip_authenticated,
    bool skip_mynetworks, const char *module, bool *failed_r);
/* msgspool_oversize - more than max_size bytes came */
bool msgspool_oversize(const struct msgspool *ms);
/* msgspool_broken - why the spool failed, or NULL */
const char *msgspool_broken(const struct msgspool *ms);
/* msgspool_spool - the collected message (NULL when none: oversize,
 * broken, or nothing came); it stays the msgspool's */
struct spool *msgspool_spool(const struct msgspool *ms);
/* msgspool_release - free the spool now (after the scan); harmless
 * twice */
void msgspool_release(struct msgspool *ms);

#endif
