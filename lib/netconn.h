/*
 * netconn.h - stream connections to local services (clamd, spamd) with
 * deadlines
 *
 * Contract: a service address is written "unix:/path", "IPv4:PORT",
 * "[IPv6]:PORT" or "HOST:PORT" (a name made of letters, digits, '-',
 * '.', '_'; looked up with getaddrinfo at each connect, every address
 * tried in turn). netconn_parse() checks the form at config load;
 * netconn_connect() opens a connection (TCP_NODELAY for TCP) within a
 * deadline; netconn_send() writes everything and netconn_recv() reads
 * what is there, both waiting with poll() only until the deadline.
 * Deadlines are CLOCK_MONOTONIC seconds (policy_now's clock); 0 means
 * none; bytes that have arrived are still read after the deadline. The
 * services answer a whole request, so netconn_send() also stops when the
 * peer speaks or hangs up while a write waits (clamd answers early at its
 * size limit): the caller may read what it said. Failures come back as
 * text naming what failed ("connect: Connection refused", "read: timed
 * out"); the caller adds the server's name. After a timeout errno is
 * ETIMEDOUT, for callers that word it their own way.
 *
 * Threads: a parsed address is read-only; connections are the caller's.
 */
#ifndef POSTERN_NETCONN_H
#define POSTERN_NETCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct netconn_addr;

/* netconn_parse - one address; NULL with *error_r (malloc'ed, what is
 * wrong, e.g. "bad port \"x\" (1-65535)": the caller names the item) */
struct netconn_addr *netconn_parse(const char *text, char **error_r);
/* netconn_addr_free - sets *a NULL; NULL ok */
void netconn_addr_free(struct netconn_addr **a);
/* netconn_name - the address as written */
const char *netconn_name(const struct netconn_addr *a);

/* netconn_connect - a connected non-blocking socket, or -1 with *why_r
 * (static or in buf, which has len bytes) */
int netconn_connect(const struct netconn_addr *a, double deadline,
    char *buf, size_t len, const char **why_r);
/* netconn_send - all len bytes; false with *why_r ("write: timed out",
 * "write: Broken pipe", "write: answered early") */
bool netconn_send(int fd, const void *data, size_t len, double deadline,
    char *buf, size_t buflen, const char **why_r);
/* netconn_recv - what has arrived, waiting for something until the
 * deadline: the count (0 at the end of the stream), or -1 with *why_r */
ssize_t netconn_recv(int fd, void *data, size_t len, double deadline,
    char *buf, size_t buflen, const char **why_r);

#endif
