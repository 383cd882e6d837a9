/*
 * smtpd.h - the SMTP sessions of one mta worker
 *
 * Contract: an smtpd serves every listener it is given on one event loop
 * (lib/evloop.h): it accepts, runs each session's state machine
 * (smtpd.c: the command table and the RFC 5321 dialogue), and hands
 * blocking work (milter conversations, password checks, the queue file
 * with its fsyncs) to the loop's job threads, so a slow filter or disk
 * never stalls other sessions. A message gets "250 ... queued as ID"
 * only after queue_store() returned true (the file and its directory are
 * on disk).
 *
 * Stopping: smtpd_stop() closes the listeners, answers idle sessions
 * "421 4.3.2 HOST Service shutting down" and lets sessions inside a
 * transaction finish (each gets the same 421 when it becomes idle);
 * when the last session is gone (or after stop_timeout) it stops the
 * loop.
 */
#ifndef POSTERN_SMTPD_H
#define POSTERN_SMTPD_H

#include <stddef.h>

#include "anvil.h"
#include "evloop.h"
#include "mta_conf.h"
#include "queue.h"

struct smtpd;

/* smtpd_new - serve fds (one per conf->listeners[i], same order) */
struct smtpd *smtpd_new(struct evloop *loop, const struct mta_conf *conf,
    struct queue *queue, struct anvil *anvil, const int *fds, size_t n);
/* smtpd_stop - see the contract; any number of times */
void smtpd_stop(struct smtpd *sd);
/* smtpd_free - close every session at once; sets *sd NULL; NULL ok */
void smtpd_free(struct smtpd **sd);
/* smtpd_sessions - sessions now open */
size_t smtpd_sessions(const struct smtpd *sd);

#endif
