/*
 * clamav_clamd.h - asking clamd, the ClamAV daemon, about a message
 *
 * Contract: a client knows a list of servers, each "unix:/path",
 * "IPv4:PORT", "[IPv6]:PORT" or "HOST:PORT", tried in the order given:
 * a server that cannot be reached or breaks off the conversation is
 * logged and the next one is asked; only when every server failed is the
 * answer CLAMAV_CLAMD_ERROR. A scan is one connection: "zINSTREAM\0",
 * the message in chunks (4-byte big-endian length, then the bytes, at
 * most CLAMAV_CLAMD_CHUNK each), a zero-length chunk, then one reply:
 * "stream: OK" (clean), "stream: NAME FOUND" (NAME is the signature),
 * anything else ("INSTREAM size limit exceeded. ERROR", ...) an error,
 * never clean. Every connect, write and read gives up at the deadline.
 *
 * Three answers, never two: CLEAN, VIRUS, ERROR.
 *
 * Threads: a client is read-only after clamav_clamd_new; any number of
 * scans may run at once (each has its own connection).
 */
#ifndef POSTERN_CLAMAV_CLAMD_H
#define POSTERN_CLAMAV_CLAMD_H

#include <stdbool.h>

#include "arena.h"
#include "conf.h"
#include "spool.h"

#define CLAMAV_CLAMD_CHUNK	65536

enum clamav_clamd_result {
	CLAMAV_CLAMD_CLEAN,
	CLAMAV_CLAMD_VIRUS,
	CLAMAV_CLAMD_ERROR,
};

struct clamav_clamd;

/*
 * clamav_clamd_new - a client for servers (parsed now, nothing is
 * connected). false with *error_r (malloc'ed, naming the bad item) for a
 * malformed server or an empty list.
 */
bool clamav_clamd_new(const struct conf_list *servers,
    struct clamav_clamd **client_r, char **error_r);
/* clamav_clamd_free - sets *client NULL; NULL ok */
void clamav_clamd_free(struct clamav_clamd **client);

/*
 * clamav_clamd_scan - send the spool's bytes. VIRUS: *virus_r is the
 * signature name; ERROR: *why_r says what failed with every server (the
 * last failure, naming its server). Strings in arena. deadline is
 * monotonic seconds (policy_now() clock, CLOCK_MONOTONIC). Each failed
 * server is logged as a warning under qid (NULL: NOQUEUE).
 */
enum clamav_clamd_result clamav_clamd_scan(struct clamav_clamd *client,
    struct spool *sp, double deadline, const char *qid,
    struct arena *arena, const char **virus_r, const char **why_r);

/*
 * clamav_clamd_version - "zVERSION" of the first server that answers:
 * its reply ("ClamAV 1.4.3/27000/...") in arena, or NULL with *why_r
 */
const char *clamav_clamd_version(struct clamav_clamd *client,
    double deadline, struct arena *arena, const char **why_r);

#endif
