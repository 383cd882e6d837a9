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

struct arena;

/* testutil_tmpdir - mkdtemp "/tmp/NAME.XXXXXX" into buf; 0 or -1 */
int testutil_tmpdir(char *buf, size_t len, const char *name);

/* testutil_rmtree - remove dir and everything below it; 0 or -1 */
int testutil_rmtree(const char *dir);

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

#endif
