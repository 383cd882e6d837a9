/*
 * testutil.c - plumbing shared by the unit tests (see testutil.h)
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "testutil.h"

/* testutil_tmpdir - mkdtemp "/tmp/NAME.XXXXXX" into buf; 0 or -1 */
int
testutil_tmpdir(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "/tmp/%s.XXXXXX", name);

	if (n < 0 || (size_t)n >= len)
		return -1;
	return mkdtemp(buf) != NULL ? 0 : -1;
}

/* rm_entry - nftw callback: children come first (FTW_DEPTH) */
static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* testutil_rmtree - remove dir and everything below it; 0 or -1 */
int
testutil_rmtree(const char *dir)
{
	return nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* testutil_setup - a fresh temp directory and arena for one test */
int
testutil_setup(char *dir, size_t len, const char *name,
    struct arena **arena_r)
{
	if (testutil_tmpdir(dir, len, name) != 0)
		return -1;
	*arena_r = arena_create();
	return 0;
}

/* testutil_teardown - destroy the arena, remove the directory */
int
testutil_teardown(const char *dir, struct arena **arena)
{
	arena_destroy(arena);
	return testutil_rmtree(dir);
}

/* write_bytes - create or truncate path with exactly len bytes */
static void
write_bytes(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		fail_msg("cannot create %s", path);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* testutil_put - write text to dir/name in place; returns the path */
char *
testutil_put(struct arena *arena, const char *dir, const char *name,
    const char *text)
{
	return testutil_put_bytes(arena, dir, name, text, strlen(text));
}

/* testutil_put_bytes - write len bytes to dir/name in place */
char *
testutil_put_bytes(struct arena *arena, const char *dir, const char *name,
    const void *data, size_t len)
{
	char *path = arena_printf(arena, "%s/%s", dir, name);

	write_bytes(path, data, len);
	return path;
}

/* testutil_replace - a new inode for dir/name, renamed over the old one
 * so that reload code sees the file change the way it does in real use */
char *
testutil_replace(struct arena *arena, const char *dir, const char *name,
    const char *text)
{
	char *path = arena_printf(arena, "%s/%s", dir, name);
	char *tmp = arena_printf(arena, "%s.new", path);

	write_bytes(tmp, text, strlen(text));
	assert_int_equal(rename(tmp, path), 0);
	return path;
}

/* testutil_expect_abort - fn in a child process must abort (log_panic) */
void
testutil_expect_abort(void (*fn)(void))
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}
