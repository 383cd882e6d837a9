/*
 * qmgr.h - the queue manager: delivers what is in the queue
 *
 * Contract: one qmgr runs in its own process (forked by postern-mta's
 * parent, unprivileged) on an event loop (lib/evloop.h). It owns active/
 * and deferred/:
 *
 * - Intake: a message that appears in incoming/ (inotify, and a scan at
 *   start) is moved to active/ and read. At start every file left in
 *   active/ by a crash goes back through incoming/ first.
 * - Routing: each pending recipient ('P' in the queue file) gets its
 *   transport (transport.h); recipients of one message with the same
 *   next hop are delivered together in one job.
 * - Scheduling: at most dest_concurrency jobs per next hop and
 *   delivery_threads in all run at once, on the loop's job threads.
 * - After each job the recipients' new states ('D' delivered, 'B'
 *   bounced) are written into the queue file in place and synced before
 *   anything else happens, so a crash never delivers a finished
 *   recipient again, and one in flight at most once more (at-least-once).
 * - When every job of a message is done: failed recipients get a DSN
 *   (bounce.h, RFC 3461 NOTIFY rules; never for the null sender, whose
 *   failures go to postmaster as a double bounce, and never for a
 *   bounce of a bounce), and the file is deleted when nothing is
 *   pending. Pending recipients move the file to deferred/ with its
 *   modification time set to the next attempt: now + the time since
 *   arrival, kept between minimal_backoff_time and maximal_backoff_time
 *   (so the waits grow exponentially); past maximal_queue_lifetime they
 *   fail with 4.4.7 "delivery time expired" and are bounced.
 * - deferred/ is scanned every queue_run_delay; files whose time has
 *   come go back through incoming/. "posternctl queue flush" moves every
 *   deferred message to incoming/ (and so to the qmgr at once).
 * - A message that vanishes from active/ meanwhile (posternctl hold or
 *   delete) is dropped from memory without error.
 */
#ifndef POSTERN_QMGR_H
#define POSTERN_QMGR_H

#include "evloop.h"
#include "mta_conf.h"
#include "queue.h"

struct qmgr;

/* qmgr_new - set up on loop (inotify on incoming/, timers); NULL with
 * *why_r (malloc'ed) when incoming/ cannot be watched */
struct qmgr *qmgr_new(struct evloop *loop, const struct mta_conf *conf,
    struct queue *queue, char **why_r);
/* qmgr_stop - take nothing new; when the jobs running now are done,
 * stop the loop */
void qmgr_stop(struct qmgr *qm);
/* qmgr_free - after the loop stopped; sets *qm NULL; NULL ok */
void qmgr_free(struct qmgr **qm);

#endif
