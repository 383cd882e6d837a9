/*
 * test_deliver_maildir.c - Maildir delivery: the file lands in new/ with
 * nothing left in tmp/, its bytes exact (our two fields, LF line ends,
 * also across the body spool's read chunks), templates with %d %u %% and
 * lower-casing, addresses that cannot make a safe path refused for good
 * with nothing created, a full disk (a tiny tmpfs in a private mount
 * namespace: needs root, skipped otherwise) as a temporary failure that
 * leaves no file behind, and distinct names for every delivery.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "deliver_maildir.h"
#include "message.h"
#include "spool.h"
#include "testutil.h"

#define KIB 1024

struct fix {
	char dir[256];
	char *spool;		/* DIR/spool: body spools */
	struct arena *a;
	char *mounted;		/* a tmpfs to unmount, if a test failed */
};

/* only_entry - the one name in dir (the test fails otherwise) */
static char *
only_entry(struct fix *f, const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	char *name = NULL;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		assert_null(name);
		name = arena_strdup(f->a, de->d_name);
	}
	closedir(d);
	assert_non_null(name);
	return name;
}

/* slurp - a whole file into the arena, *len_r its size */
static char *
slurp(struct fix *f, const char *path, size_t *len_r)
{
	struct stat st;
	char *data;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	data = arena_alloc(f->a, (size_t)st.st_size + 1);
	assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
	close(fd);
	*len_r = (size_t)st.st_size;
	return data;
}

/* mode_of - permission bits of path */
static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* setup - temp directory, arena, spool directory */
static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (f == NULL || testutil_setup(f->dir, sizeof(f->dir), "maildir",
	    &f->a) < 0) {
		free(f);
		return -1;
	}
	f->spool = arena_printf(f->a, "%s/spool", f->dir);
	if (mkdir(f->spool, 0700) < 0) {
		testutil_teardown(f->dir, &f->a);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* teardown - unmount what a failed test left, remove everything; the
 * body spools must have left nothing in their directory */
static int
teardown(void **state)
{
	struct fix *f = *state;
	int rc = 0;

	if (f->mounted != NULL)
		(void)umount2(f->mounted, MNT_DETACH);
	if (testutil_count_entries(f->spool) != 0)
		rc = -1;
	if (testutil_teardown(f->dir, &f->a) < 0)
		rc = -1;
	free(f);
	return rc;
}

/* the header block of the test messages, as received */
static const char test_header[] =
    "Received: from client.example ([192.0.2.1])\r\n"
    "\tby mx.example.com; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    "From: Sender <sender@example.org>\r\n"
    "Subject:  two spaces kept\r\n"
    "X-Empty:\r\n";

/* new_message - sender, the test header, body as given; spool memory
 * limit mem (small limits put the body in a file) */
static struct message *
new_message(struct fix *f, const void *body, size_t len, uint64_t mem)
{
	struct message *m = message_new(f->a, f->spool, mem);
	struct message_rcpt r = { .addr = "User@Example.COM" };
	const char *why = NULL;

	m->sender = "sender@example.org";
	message_add_rcpt(m, &r);
	assert_true(message_parse_header(m, test_header,
	    sizeof(test_header) - 1, &why));
	assert_true(spool_append(m->body, body, len));
	return m;
}

/* test_deliver - one delivery: the directories, the file and its bytes */
static void
test_deliver(void **state)
{
	struct fix *f = *state;
	static const char body[] = "line one\r\n\r\nbare\rCR\r\n.dot\r\nend";
	static const char want[] =
	    "Return-Path: <sender@example.org>\n"
	    "Delivered-To: User@Example.COM\n"
	    "Received: from client.example ([192.0.2.1])\n"
	    "\tby mx.example.com; Mon, 1 Jan 2024 00:00:00 +0000\n"
	    "From: Sender <sender@example.org>\n"
	    "Subject:  two spaces kept\n"
	    "X-Empty:\n"
	    "\n"
	    "line one\n\nbare\rCR\n.dot\nend";
	struct message *m = new_message(f, body, sizeof(body) - 1, 64 * KIB);
	struct deliver_result r = { 0 };
	const char *md = arena_printf(f->a, "%s/mail/example.com/user/Maildir",
	    f->dir);
	char *name, *data;
	size_t len;

	deliver_maildir(arena_printf(f->a, "%s/mail/%%d/%%u/Maildir", f->dir),
	    m, "User@Example.COM", "mx.example.com", f->a, &r);
	assert_int_equal(r.status, DELIVER_OK);
	assert_string_equal(r.dsn, "2.0.0");
	assert_string_equal(r.text, "delivered to maildir");
	assert_int_equal(testutil_count_entries(arena_printf(f->a, "%s/tmp", md)), 0);
	assert_int_equal(testutil_count_entries(arena_printf(f->a, "%s/cur", md)), 0);
	name = only_entry(f, arena_printf(f->a, "%s/new", md));
	/* time.MusecPpidQcount.host */
	assert_non_null(strstr(name, ".M"));
	assert_non_null(strstr(name, arena_printf(f->a, "P%ldQ",
	    (long)getpid())));
	assert_non_null(strstr(name, ".mx.example.com"));
	data = slurp(f, arena_printf(f->a, "%s/new/%s", md, name), &len);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(data, want, len);
	assert_int_equal(mode_of(arena_printf(f->a, "%s/new/%s", md, name)),
	    0600);
	assert_int_equal(mode_of(md), 0700);
	assert_int_equal(mode_of(arena_printf(f->a, "%s/mail/example.com",
	    f->dir)), 0700);
	assert_int_equal(mode_of(arena_printf(f->a, "%s/tmp", md)), 0700);
	assert_int_equal(mode_of(arena_printf(f->a, "%s/new", md)), 0700);
	assert_int_equal(mode_of(arena_printf(f->a, "%s/cur", md)), 0700);
}

/*
 * test_spooled_body - a body in a file, longer than one read chunk, with
 * a CR LF split across the 64 KiB chunk boundary: still one LF
 */
static void
test_spooled_body(void **state)
{
	struct fix *f = *state;
	size_t n = 64 * KIB - 1, len, head;
	char *body = arena_alloc(f->a, n + 16), *want, *data, *name;
	struct deliver_result r = { 0 };
	struct message *m;
	const char *md = arena_printf(f->a, "%s/md", f->dir);

	memset(body, 'x', n);
	memcpy(body + n, "\r\ntail\r\n", 8);
	m = new_message(f, body, n + 8, 1024);
	assert_false(spool_in_memory(m->body));
	deliver_maildir(md, m, "u@example.com", "h", f->a, &r);
	assert_int_equal(r.status, DELIVER_OK);
	name = only_entry(f, arena_printf(f->a, "%s/new", md));
	data = slurp(f, arena_printf(f->a, "%s/new/%s", md, name), &len);
	want = strstr(data, "\n\n");
	assert_non_null(want);
	head = (size_t)(want + 2 - data);
	assert_int_equal(len - head, n + 6);
	assert_int_equal(data[head + n - 1], 'x');
	assert_memory_equal(data + head + n, "\ntail\n", 6);
	assert_null(memchr(data, '\r', len));
}

/* test_templates - %d %u %% and lower-casing; what cannot be a path */
static void
test_templates(void **state)
{
	static const struct {
		const char *template, *rcpt, *want, *why;
	} cases[] = {
		{ "/var/mail/%d/%u", "John.Doe@Example.ORG",
		    "/var/mail/example.org/john.doe", NULL },
		{ "/m/%u/Maildir/", "ab@x", "/m/ab/Maildir/", NULL },
		{ "/m/100%%/%u%%", "a@b", "/m/100%/a%", NULL },
		{ "/m/%%u", "a@b", "/m/%u", NULL },
		{ "/m/%u", "Quoted@local@Example.com",
		    "/m/quoted@local", NULL },
		{ "/m/%u", "nodomain", "/m/nodomain", NULL },
		{ "/m/%d", "nodomain", NULL, "unsafe domain" },
		{ "/m/%d/%u", "a@..", NULL, "unsafe domain" },
		{ "/m/%u", "..@example.com", NULL, "unsafe local part" },
		{ "/m/%u", ".@example.com", NULL, "unsafe local part" },
		{ "/m/%u", "a/b@example.com", NULL, "unsafe local part" },
		{ "/m/%u", "@example.com", NULL, "unsafe local part" },
		{ "/m/%u", "", NULL, "unsafe local part" },
		{ "/m/%u", "a\nb@example.com", NULL, "unsafe local part" },
		{ "/m/%u", "a\x7f@example.com", NULL, "unsafe local part" },
		{ "/m/%x", "a@b", NULL, "bad maildir template: \"%\" must be "
		    "followed by \"u\", \"d\" or \"%\"" },
		{ "/m/%", "a@b", NULL, "bad maildir template: \"%\" must be "
		    "followed by \"u\", \"d\" or \"%\"" },
		{ "", "a@b", NULL, "bad maildir template: empty" },
		{ 0 },
	};
	struct fix *f = *state;
	const char *path, *why;
	char long_rcpt[300];
	int i;

	for (i = 0; cases[i].template != NULL; i++) {
		why = NULL;
		path = deliver_maildir_path(cases[i].template, cases[i].rcpt,
		    f->a, &why);
		if (cases[i].want != NULL) {
			assert_non_null(path);
			assert_string_equal(path, cases[i].want);
		} else {
			assert_null(path);
			assert_string_equal(why, cases[i].why);
		}
	}
	/* 255 bytes are a name, 256 are not */
	memset(long_rcpt, 'a', 255);
	strcpy(long_rcpt + 255, "@example.com");
	path = deliver_maildir_path("/m/%u", long_rcpt, f->a, &why);
	assert_non_null(path);
	assert_int_equal(strlen(path), 3 + 255);
	memset(long_rcpt, 'a', 256);
	strcpy(long_rcpt + 256, "@example.com");
	why = NULL;
	assert_null(deliver_maildir_path("/m/%u", long_rcpt, f->a, &why));
	assert_string_equal(why, "unsafe local part");
}

/* test_unsafe - refused permanently, with nothing created on disk */
static void
test_unsafe(void **state)
{
	struct fix *f = *state;
	char long_rcpt[300];
	const char *const rcpts[] = {
		"..@example.com", "a/b@example.com", "@example.com", "",
		"a\001b@example.com", "a\tb@example.com", "a\rb@example.com",
		long_rcpt, NULL,
	};
	struct message *m = new_message(f, "hi\r\n", 4, 64 * KIB);
	const char *template = arena_printf(f->a, "%s/mail/%%u", f->dir);
	struct deliver_result r;
	int i;

	memset(long_rcpt, 'b', 256);
	strcpy(long_rcpt + 256, "@example.com");
	for (i = 0; rcpts[i] != NULL; i++) {
		memset(&r, 0, sizeof(r));
		deliver_maildir(template, m, rcpts[i], "h", f->a, &r);
		assert_int_equal(r.status, DELIVER_PERMFAIL);
		assert_string_equal(r.dsn, "5.1.3");
		assert_string_equal(r.text, "unsafe local part");
		assert_int_equal(testutil_count_entries(arena_printf(f->a, "%s/mail",
		    f->dir)), -1);
		assert_int_equal(errno, ENOENT);
	}
	/* a template error is ours: temporary, and nothing created either */
	memset(&r, 0, sizeof(r));
	deliver_maildir(arena_printf(f->a, "%s/mail/%%q", f->dir), m, "a@b",
	    "h", f->a, &r);
	assert_int_equal(r.status, DELIVER_TEMPFAIL);
	assert_string_equal(r.dsn, "4.3.5");
	assert_int_equal(testutil_count_entries(arena_printf(f->a, "%s/mail", f->dir)),
	    -1);
}

/* test_distinct - every delivery has its own name, none in tmp/ */
static void
test_distinct(void **state)
{
	struct fix *f = *state;
	struct message *m = new_message(f, "hi\r\n", 4, 64 * KIB);
	const char *md = arena_printf(f->a, "%s/md", f->dir);
	struct deliver_result r1 = { 0 }, r2 = { 0 };
	struct dirent *de;
	char *names[2] = { NULL, NULL };
	int n = 0;
	DIR *d;

	deliver_maildir(md, m, "a@example.com", "h", f->a, &r1);
	deliver_maildir(md, m, "a@example.com", "h", f->a, &r2);
	assert_int_equal(r1.status, DELIVER_OK);
	assert_int_equal(r2.status, DELIVER_OK);
	assert_int_equal(testutil_count_entries(arena_printf(f->a, "%s/tmp", md)), 0);
	d = opendir(arena_printf(f->a, "%s/new", md));
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		assert_true(n < 2);
		names[n++] = arena_strdup(f->a, de->d_name);
	}
	closedir(d);
	assert_int_equal(n, 2);
	assert_string_not_equal(names[0], names[1]);
}

/* test_hostname_escaped - "/" and ":" of the host name do not reach the
 * file name as themselves (Maildir escapes \057 and \072) */
static void
test_hostname_escaped(void **state)
{
	struct fix *f = *state;
	struct message *m = new_message(f, "hi\r\n", 4, 64 * KIB);
	const char *md = arena_printf(f->a, "%s/md", f->dir);
	struct deliver_result r = { 0 };
	char *name;

	deliver_maildir(md, m, "a@example.com", "a/b:c", f->a, &r);
	assert_int_equal(r.status, DELIVER_OK);
	name = only_entry(f, arena_printf(f->a, "%s/new", md));
	assert_non_null(strstr(name, ".a\\057b\\072c"));
}

/* test_enospc - a full file system: temporary failure (4.3.1, the write
 * error in the text), nothing left in tmp/ or new/, then a small message
 * fits */
static void
test_enospc(void **state)
{
	struct fix *f = *state;
	char *mnt = arena_printf(f->a, "%s/full", f->dir), *prefix;
	size_t big = 256 * KIB;
	char *body = arena_alloc(f->a, big);
	struct deliver_result r = { 0 };
	struct message *m;
	const char *md = arena_printf(f->a, "%s/u", mnt), *suffix;

	if (geteuid() != 0) {
		fprintf(stderr, "# test_enospc needs root (to mount a tmpfs); "
		    "skipped\n");
		skip();
	}
	/* a private mount namespace: nothing stays mounted if this dies;
	 * "none": valgrind wants strings even where the kernel ignores them */
	if (unshare(CLONE_NEWNS) == 0)
		assert_int_equal(mount("none", "/", "none",
		    MS_REC | MS_PRIVATE, NULL), 0);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k,mode=0700") < 0)
		fail_msg("mount a tmpfs on %s: %s", mnt, strerror(errno));
	f->mounted = mnt;
	memset(body, 'y', big);
	memcpy(body + big - 2, "\r\n", 2);
	m = new_message(f, body, big, 1024);
	deliver_maildir(arena_printf(f->a, "%s/%%u", mnt), m, "u@example.com",
	    "h", f->a, &r);
	assert_int_equal(r.status, DELIVER_TEMPFAIL);
	assert_string_equal(r.dsn, "4.3.1");
	prefix = arena_printf(f->a, "write %s/tmp/", md);
	assert_int_equal(strncmp(r.text, prefix, strlen(prefix)), 0);
	suffix = ": No space left on device";
	assert_true(strlen(r.text) > strlen(suffix));
	assert_string_equal(r.text + strlen(r.text) - strlen(suffix), suffix);
	assert_int_equal(testutil_count_entries(arena_printf(f->a, "%s/tmp", md)), 0);
	assert_int_equal(testutil_count_entries(arena_printf(f->a, "%s/new", md)), 0);

	m = new_message(f, "small\r\n", 7, 1024);
	memset(&r, 0, sizeof(r));
	deliver_maildir(arena_printf(f->a, "%s/%%u", mnt), m, "u@example.com",
	    "h", f->a, &r);
	assert_int_equal(r.status, DELIVER_OK);
	assert_int_equal(testutil_count_entries(arena_printf(f->a, "%s/new", md)), 1);
	assert_int_equal(testutil_count_entries(arena_printf(f->a, "%s/tmp", md)), 0);
	assert_int_equal(umount(mnt), 0);
	f->mounted = NULL;
}

/* test_create_fails - a path that cannot be made (a file where a
 * directory must go) is a temporary failure naming it */
static void
test_create_fails(void **state)
{
	struct fix *f = *state;
	struct message *m = new_message(f, "hi\r\n", 4, 64 * KIB);
	struct deliver_result r = { 0 };

	testutil_put(f->a, f->dir, "file", "not a directory\n");
	deliver_maildir(arena_printf(f->a, "%s/file/%%u", f->dir), m,
	    "a@example.com", "h", f->a, &r);
	assert_int_equal(r.status, DELIVER_TEMPFAIL);
	assert_string_equal(r.dsn, "4.3.0");
	assert_string_equal(r.text, arena_printf(f->a, "create maildir "
	    "%s/file/a/cur: Not a directory", f->dir));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_deliver),
		T(test_spooled_body),
		T(test_templates),
		T(test_unsafe),
		T(test_distinct),
		T(test_hostname_escaped),
		T(test_enospc),
		T(test_create_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
