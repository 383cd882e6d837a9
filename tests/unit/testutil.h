/*
 * testutil.h - plumbing shared by the unit tests: temp directories, files
 * in them, and "this must panic" checks
 *
 * Contract: the file helpers fail the running cmocka test when the file
 * cannot be written, and return the file's path allocated in the caller's
 * arena (valid until that arena is destroyed). The directory helpers only
 * report failure (0 or -1) so that cmocka setup and teardown functions can
 * return their result.
 */
#ifndef POSTERN_TESTUTIL_H
#define POSTERN_TESTUTIL_H

#include <stddef.h>
#include <sys/types.h>

struct arena;

/* testutil_tmpdir - mkdtemp "/tmp/NAME.XXXXXX" into buf; 0 or -1 */
int testutil_tmpdir(char *buf, size_t len, const char *name);

/* testutil_rmtree - remove dir and everything below it; 0 or -1 */
int testutil_rmtree(const char *dir);

/* testutil_count_entries - names in dir but . and ..; -1 if it cannot be
 * read */
int testutil_count_entries(const char *dir);

/* testutil_setup - a fresh temp directory (testutil_tmpdir) and arena
 * for one test; 0 or -1 */
int testutil_setup(char *dir, size_t len, const char *name,
    struct arena **arena_r);

/* testutil_teardown - destroy the arena, remove the directory; 0 or -1 */
int testutil_teardown(const char *dir, struct arena **arena);

/* testutil_put - write text to dir/name in place (same inode if it
 * exists); returns the path */
char *testutil_put(struct arena *arena, const char *dir, const char *name,
    const char *text);

/* testutil_put_bytes - like testutil_put with len bytes (NULs allowed) */
char *testutil_put_bytes(struct arena *arena, const char *dir,
    const char *name, const void *data, size_t len);

/* testutil_replace - write text to dir/name.new and rename it over
 * dir/name: always a new inode, as an editor or deploy tool would leave
 * it; returns the path */
char *testutil_replace(struct arena *arena, const char *dir,
    const char *name, const char *text);

/* testutil_expect_abort - fn run in a child process must die of SIGABRT
 * (log_panic) */
void testutil_expect_abort(void (*fn)(void));

/* testutil_now - the monotonic clock in seconds */
double testutil_now(void);
/* testutil_slack - how much longer than usual things may take here: the
 * number in POSTERN_TEST_SLACK (tests/run sets it under valgrind), else
 * 1; upper time bounds are multiplied by it */
double testutil_slack(void);
/* testutil_sleep - sleep s seconds (EINTR resumed) */
void testutil_sleep(double s);
/* testutil_free_port - a loopback TCP port nobody listens on just now
 * (fails the test when none can be had) */
struct buf;
int testutil_free_port(void);
/* testutil_lines - the complete lines of path (a log being written),
 * waiting up to wait s for at least want; read into b, split in place,
 * *lines (realloc'ed, *cap entries) points into b; the count */
size_t testutil_lines(const char *path, size_t want, double wait,
    struct buf *b, char ***lines, size_t *cap);

/*
 * A private nsd (which must be installed: a missing nsd is a failed
 * start, not a skipped test) on a free loopback port serving every zone
 * file in TOP/tests/data/zones/ (the file name is the zone name; the TOP
 * environment variable overrides top_srcdir), in its own process group
 * (pid) so that a test can freeze it with kill(-pid, SIGSTOP). A UDP
 * socket that is bound but never read stands in for a server that does
 * not answer (quiet).
 */
struct testutil_nsd {
	char dir[256];		/* its config, pid and log files */
	pid_t pid;		/* also its process group */
	int silent;		/* the socket nobody reads */
	char server[32];	/* "127.0.0.1@PORT" of nsd */
	char quiet[32];		/* "127.0.0.1@PORT" of the silent socket */
};

/* testutil_nsd_start - start and wait until it answers; 0, or -1 after
 * cleaning up (testutil_nsd_stop is then harmless) */
int testutil_nsd_start(struct testutil_nsd *nsd, const char *name,
    const char *top_srcdir);
/* testutil_nsd_stop - stop nsd, close the socket, remove dir; 0 or -1 */
int testutil_nsd_stop(struct testutil_nsd *nsd);

struct dns;

/* testutil_dns_start - nsd plus two resolvers: *ok_r asks nsd (3 s
 * timeout), *quiet_r the silent server (0.3 s), one attempt each; 0, or
 * -1 with everything cleaned up */
int testutil_dns_start(struct testutil_nsd *nsd, const char *name,
    const char *top_srcdir, struct dns **ok_r, struct dns **quiet_r);
/* testutil_dns_stop - the resolvers, then nsd; 0 or -1 */
int testutil_dns_stop(struct testutil_nsd *nsd, struct dns **ok,
    struct dns **quiet);

#endif
