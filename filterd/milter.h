/*
 * milter.h - filterd's libmilter glue
 *
 * Contract: milter_run() registers filterd with libmilter, serves the
 * already-listening socket fd until libmilter stops (SIGTERM/SIGHUP) and
 * returns 0, or 1 when libmilter could not start. Every connection takes a
 * reference to the runtime current when the MTA connected. This file is
 * the only one that includes libmilter's headers.
 */
#ifndef POSTERN_MILTER_H
#define POSTERN_MILTER_H

int milter_run(int listen_fd, double timeout, int backlog);

#endif
