/*
 * anvil.h - counters shared by all smtpd workers: sessions in total,
 * sessions per client address, and AUTH failures per client address
 *
 * Contract: the parent creates the table before it forks the workers
 * (anonymous MAP_SHARED memory, a process-shared robust mutex), so every
 * worker sees the same counts. A worker that dies holding the lock does
 * not wedge the others (robust mutex: the next locker repairs it), and
 * the parent calls anvil_forget_pid() for a dead worker so that its
 * sessions stop counting. The table has a fixed number of client slots;
 * when it is full a new client is counted in an overflow slot shared by
 * all such clients (limits then apply to them together, never lifted).
 *
 * Clients are keyed by address (IPv4, or IPv6 as its /64 network, so one
 * host cannot dodge the limit by hopping inside its own /64).
 */
#ifndef POSTERN_ANVIL_H
#define POSTERN_ANVIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "inet.h"

struct anvil;

/* anvil_new - shared table with room for slots clients (0 = 4096) */
struct anvil *anvil_new(unsigned slots);
/* anvil_free - unmap (in each process that is done with it) */
void anvil_free(struct anvil **a);

enum anvil_verdict {
	ANVIL_OK,
	ANVIL_TOO_MANY_TOTAL,	/* 421 4.3.2 */
	ANVIL_TOO_MANY_CLIENT,	/* 421 4.7.0 */
};

/*
 * anvil_connect - count a new session of client (NULL: unix socket,
 * counted only in the total) for worker pid, unless that passes
 * max_total or max_per_client (0 = no limit); a refused session is not
 * counted. mynetworks clients are the caller's business (it passes 0 as
 * max_per_client for them).
 */
enum anvil_verdict anvil_connect(struct anvil *a, pid_t pid,
    const struct inet_addr *client, unsigned max_total,
    unsigned max_per_client);
/* anvil_disconnect - the end of a session counted by anvil_connect */
void anvil_disconnect(struct anvil *a, pid_t pid,
    const struct inet_addr *client);

/* anvil_auth_failed - count an AUTH failure of client at now (seconds);
 * returns the failures within the last window seconds, this one
 * included */
unsigned anvil_auth_failed(struct anvil *a, const struct inet_addr *client,
    double now, double window);
/* anvil_auth_failures - failures within the last window seconds */
unsigned anvil_auth_failures(struct anvil *a,
    const struct inet_addr *client, double now, double window);

/* anvil_sessions - sessions now: in total, and of client when not NULL */
unsigned anvil_sessions(struct anvil *a, const struct inet_addr *client);
/* anvil_forget_pid - drop every session counted for a dead worker */
void anvil_forget_pid(struct anvil *a, pid_t pid);

#endif
