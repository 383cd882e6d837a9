/*
 * test_clamav_clamd.c - the clamd client against a real clamd the test
 * starts itself (unix socket and a loopback TCP port, the signature
 * database of tests/data/clamav/make-testdb, StreamMaxLength 1M) and
 * against small fake servers run by threads of the test: one that never
 * accepts, one that hangs up at once, one with a canned reply
 *
 * clamd must be installed (clamav-daemon): a missing clamd is a failed
 * group setup, not a skipped test. clamd is stopped by the group teardown
 * whatever happened, and dies with the test (PR_SET_PDEATHSIG) if the
 * test crashes. It answers in about 0.1 s with this database.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "clamav_clamd.h"
#include "conf.h"
#include "log.h"
#include "spool.h"
#include "testutil.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define EICAR_NAME	"Postern.Test.EICAR.UNOFFICIAL"
#define PATTERN_NAME	"Postern.Test.Pattern.UNOFFICIAL"
#define STREAM_MAX	(1024 * 1024)	/* clamd's StreamMaxLength */
#define THREADS		4
#define ROUNDS		6

static const char clean_msg[] =
    "From: <alice@example.com>\r\n"
    "To: <bob@example.net>\r\n"
    "Subject: lunch\r\n"
    "\r\n"
    "Noon at the usual place?\r\n";

/* The test's clamd and everything the tests share. */
static struct {
	char top[256];
	char dir[256];		/* mkdtemp: config, database, sockets */
	char sock[300];		/* clamd's unix socket */
	char unix_name[320];	/* "unix:" sock */
	char tcp_name[32];	/* "127.0.0.1:PORT" */
	char host_name[32];	/* "localhost:PORT" */
	pid_t pid;		/* clamd; 0 = not running */
	unsigned char eicar[128];
	size_t eicar_len;
	char pattern[64];
	char version[128];	/* clamd --version */
} t;

/* A fake server: a listener on a unix socket, served by a thread. */
enum fake_mode {
	FAKE_SILENT,		/* never accepts: connects, then nothing */
	FAKE_HANGUP,		/* accepts and closes at once */
	FAKE_REPLY,		/* reads the command and message, replies */
	FAKE_EARLY,		/* reads a little, replies, reads no more */
	FAKE_SHUTRD,		/* takes no more (shutdown SHUT_RD) */
};

struct fake {
	char path[300];
	char name[320];		/* "unix:" path */
	int fd;
	enum fake_mode mode;
	const char *reply;
	size_t reply_len;
	pthread_t thread;
	bool running;
	atomic_int accepted;
};



/* find_program - name in PATH, else in /usr/sbin; NULL if neither */
static const char *
find_program(const char *name, char *buf, size_t len)
{
	const char *p = getenv("PATH"), *end;
	int n;

	for (; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		n = snprintf(buf, len, "%.*s/%s", (int)(end - p), p, name);
		if (n > 0 && (size_t)n < len && access(buf, X_OK) == 0)
			return buf;
	}
	snprintf(buf, len, "/usr/sbin/%s", name);
	return access(buf, X_OK) == 0 ? buf : NULL;
}

/*
 * run_capture - run argv, its stdout into out (at most len bytes);
 * the byte count, or -1 when it cannot run or does not exit 0
 */
static ssize_t
run_capture(char *const argv[], void *out, size_t len)
{
	char buf[4096];
	int pfd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(pfd) < 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	/* read to the end, keeping what fits: a writer never blocks */
	while ((n = read(pfd[0], buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (got < len) {
			memcpy((char *)out + got, buf, (size_t)n > len - got ?
			    len - got : (size_t)n);
			got += (size_t)n > len - got ? len - got : (size_t)n;
		}
	}
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "# %s failed (status %d)\n", argv[0], status);
		return -1;
	}
	return (ssize_t)got;
}

/* unix_connect - a blocking connection to a unix socket, or -1 */
static int
unix_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* clamd_ping - clamd on path answers zPING with "PONG" within 1 s */
static bool
clamd_ping(const char *path)
{
	struct timeval tv = { .tv_sec = 1 };
	char reply[16];
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = unix_connect(path)) < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, "zPING", 6, MSG_NOSIGNAL) != 6) {
		close(fd);
		return false;
	}
	while (got < sizeof(reply) && (n = recv(fd, reply + got,
	    sizeof(reply) - got, 0)) > 0) {
		got += (size_t)n;
		if (memchr(reply, '\0', got) != NULL)
			break;
	}
	close(fd);
	return got == 5 && memcmp(reply, "PONG", 5) == 0;
}


/* clamd_stop - SIGTERM, reap; SIGKILL if it lingers */
static void
clamd_stop(void)
{
	double until = testutil_now() + 10;
	int status;

	if (t.pid <= 0)
		return;
	kill(t.pid, SIGTERM);
	while (waitpid(t.pid, &status, WNOHANG) == 0) {
		if (testutil_now() > until) {
			kill(t.pid, SIGKILL);
			waitpid(t.pid, &status, 0);
			break;
		}
		testutil_sleep(0.01);
	}
	t.pid = 0;
}

/*
 * clamd_start - write the config, run clamd in the foreground and wait
 * until it answers PING; 0, or -1 with nothing left running
 */
static int
clamd_start(void)
{
	char bin[512], conf[300], log[300], db[300];
	char *argv[] = { bin, (char *)"-c", conf, NULL };
	double start = testutil_now(), until = start + 20;
	int port, fd, status;
	FILE *f;

	if (find_program("clamd", bin, sizeof(bin)) == NULL) {
		fprintf(stderr, "# clamd is not installed (apt-get install "
		    "clamav-daemon)\n");
		return -1;
	}
	if ((port = testutil_free_port()) < 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/clamd.conf", t.dir);
	snprintf(log, sizeof(log), "%s/clamd.stderr", t.dir);
	snprintf(db, sizeof(db), "%s/db", t.dir);
	snprintf(t.tcp_name, sizeof(t.tcp_name), "127.0.0.1:%d", port);
	snprintf(t.host_name, sizeof(t.host_name), "localhost:%d", port);
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(f, "LocalSocket %s\nLocalSocketMode 600\n"
	    "TCPSocket %d\nTCPAddr 127.0.0.1\n"
	    "DatabaseDirectory %s\nForeground yes\n"
	    "LogFile %s/clamd.log\nLogFileMaxSize 0\nLogTime yes\n"
	    "PidFile %s/clamd.pid\nTemporaryDirectory %s\n"
	    "StreamMaxLength %d\nMaxThreads %d\n"
	    "SelfCheck 3600\nConcurrentDatabaseReload no\n",
	    t.sock, port, db, t.dir, t.dir, t.dir, STREAM_MAX, THREADS * 2);
	/* dropping privileges is for root only */
	if (geteuid() == 0)
		fprintf(f, "User root\n");
	if (fclose(f) != 0)
		return -1;

	if ((t.pid = fork()) < 0)
		return -1;
	if (t.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(bin, argv);
		_exit(127);
	}
	for (; testutil_now() < until; testutil_sleep(0.01)) {
		if (waitpid(t.pid, &status, WNOHANG) == t.pid) {
			fprintf(stderr, "# clamd exited (status %d); see %s "
			    "and %s/clamd.log\n", status, log, t.dir);
			t.pid = 0;
			return -1;
		}
		if (clamd_ping(t.sock)) {
			fprintf(stderr, "# clamd answered after %.3f s\n",
			    testutil_now() - start);
			return 0;
		}
	}
	fprintf(stderr, "# clamd did not answer; see %s\n", log);
	clamd_stop();
	return -1;
}

/* group_setup - database, EICAR and pattern texts, clamd */
static int
group_setup(void **state)
{
	const char *top = getenv("TOP");
	char tool[512], db[300], bin[512], conf[300];
	char *mk[] = { tool, db, NULL };
	char *eicar[] = { tool, (char *)"--eicar", NULL };
	char *pattern[] = { tool, (char *)"--pattern", NULL };
	char *version[] = { bin, (char *)"-c", conf, (char *)"--version",
	    NULL };
	ssize_t n;
	char *nl;

	(void)state;
	snprintf(t.top, sizeof(t.top), "%s", top != NULL && *top != '\0' ?
	    top : TOP_SRCDIR);
	if (testutil_tmpdir(t.dir, sizeof(t.dir), "test_clamav_clamd") < 0)
		return -1;
	snprintf(tool, sizeof(tool), "%s/tests/data/clamav/make-testdb",
	    t.top);
	snprintf(db, sizeof(db), "%s/db", t.dir);
	snprintf(t.sock, sizeof(t.sock), "%s/clamd.sock", t.dir);
	snprintf(t.unix_name, sizeof(t.unix_name), "unix:%s", t.sock);
	if (run_capture(mk, NULL, 0) < 0)
		goto fail;
	n = run_capture(eicar, t.eicar, sizeof(t.eicar));
	if (n != 68) {
		fprintf(stderr, "# make-testdb --eicar gave %zd bytes\n", n);
		goto fail;
	}
	t.eicar_len = (size_t)n;
	n = run_capture(pattern, t.pattern, sizeof(t.pattern) - 1);
	if (n <= 0)
		goto fail;
	t.pattern[n] = '\0';
	if ((nl = strchr(t.pattern, '\n')) != NULL)
		*nl = '\0';
	if (clamd_start() < 0)
		goto fail;
	/* with the test's config: the database decides what follows the
	 * version ("/DBVERSION/DATE" with a daily database) */
	find_program("clamd", bin, sizeof(bin));
	snprintf(conf, sizeof(conf), "%s/clamd.conf", t.dir);
	n = run_capture(version, t.version, sizeof(t.version) - 1);
	if (n <= 0) {
		clamd_stop();
		goto fail;
	}
	t.version[n] = '\0';
	if ((nl = strchr(t.version, '\n')) != NULL)
		*nl = '\0';
	return 0;
fail:
	testutil_rmtree(t.dir);
	t.dir[0] = '\0';
	return -1;
}

/* group_teardown - stop clamd, remove everything (cmocka calls it after
 * a failed setup too, which has cleaned up already) */
static int
group_teardown(void **state)
{
	(void)state;
	clamd_stop();
	return t.dir[0] == '\0' ? 0 : testutil_rmtree(t.dir);
}

/* fake_main - the fake server's thread: serve until the listener dies */
static void *
fake_main(void *arg)
{
	struct fake *fk = arg;
	struct timeval tv = { .tv_sec = 2 };
	unsigned char buf[4096], tail[4] = { 1, 1, 1, 1 }, head[16];
	size_t total;
	ssize_t n;
	int c;

	while ((c = accept(fk->fd, NULL, NULL)) >= 0) {
		atomic_fetch_add(&fk->accepted, 1);
		if (fk->mode == FAKE_REPLY) {
			/* read up to the empty chunk (or all of zVERSION),
			 * so that closing with unread bytes does not reset
			 * the connection */
			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv,
			    sizeof(tv));
			total = 0;
			while ((n = recv(c, buf, sizeof(buf), 0)) > 0) {
				if (total < sizeof(head))
					memcpy(head + total, buf,
					    (size_t)n < sizeof(head) - total ?
					    (size_t)n : sizeof(head) - total);
				total += (size_t)n;
				if (total >= 9 && memcmp(head, "zVERSION",
				    9) == 0)
					break;
				if (n >= 4)
					memcpy(tail, buf + n - 4, 4);
				else {
					memmove(tail, tail + n, 4 - (size_t)n);
					memcpy(tail + 4 - n, buf, (size_t)n);
				}
				if (total > 14 && memcmp(tail, "\0\0\0\0",
				    4) == 0)
					break;
			}
			send(c, fk->reply, fk->reply_len, MSG_NOSIGNAL);
		} else if (fk->mode == FAKE_EARLY) {
			recv(c, buf, 100, 0);
			send(c, fk->reply, fk->reply_len, MSG_NOSIGNAL);
		} else if (fk->mode == FAKE_SHUTRD) {
			/* writes after this fail with EPIPE; draining what
			 * came before lets the client's blocked write go
			 * on to fail */
			shutdown(c, SHUT_RD);
			while (recv(c, buf, sizeof(buf), 0) > 0)
				continue;
		}
		if (fk->mode == FAKE_EARLY || fk->mode == FAKE_SHUTRD) {
			/* closing first would race the client's write;
			 * wait for it to hang up (POLLHUP needs no event) */
			struct pollfd pfd = { .fd = c };

			poll(&pfd, 1, 5000);
		}
		close(c);
	}
	return NULL;
}

/* fake_start - listen on t.dir/name.sock in mode; reply has len bytes */
static void
fake_start(struct fake *fk, const char *name, enum fake_mode mode,
    const char *reply, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(fk, 0, sizeof(*fk));
	snprintf(fk->path, sizeof(fk->path), "%s/%s.sock", t.dir, name);
	snprintf(fk->name, sizeof(fk->name), "unix:%s", fk->path);
	assert_true(strlen(fk->path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, fk->path, strlen(fk->path) + 1);
	fk->mode = mode;
	fk->reply = reply;
	fk->reply_len = len;
	unlink(fk->path);
	fk->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fk->fd >= 0);
	assert_int_equal(bind(fk->fd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	assert_int_equal(listen(fk->fd, 16), 0);
	if (mode != FAKE_SILENT) {
		assert_int_equal(pthread_create(&fk->thread, NULL, fake_main,
		    fk), 0);
		fk->running = true;
	}
}

/* fake_stop - wake the thread (shutdown ends accept), join, clean up */
static void
fake_stop(struct fake *fk)
{
	shutdown(fk->fd, SHUT_RDWR);
	if (fk->running)
		pthread_join(fk->thread, NULL);
	close(fk->fd);
	unlink(fk->path);
	fk->running = false;
}

/* client_of - a client for the NULL-terminated server items */
static struct clamav_clamd *
client_of(const char *first, ...)
{
	const char *items[8];
	struct conf_list list = { .items = (char **)items };
	struct clamav_clamd *client = NULL;
	char *error = NULL;
	va_list ap;

	va_start(ap, first);
	for (items[0] = first; items[list.n] != NULL;
	    items[list.n] = va_arg(ap, const char *))
		assert_true(++list.n < 8);
	va_end(ap);
	if (!clamav_clamd_new(&list, &client, &error))
		fail_msg("clamav_clamd_new: %s", error);
	assert_non_null(client);
	return client;
}

/* spool_of - a spool holding len bytes of data (mem_limit as given) */
static struct spool *
spool_of(const void *data, size_t len, size_t mem_limit)
{
	struct spool *sp = spool_new(t.dir, mem_limit);

	assert_non_null(sp);
	assert_true(spool_append(sp, data, len));
	assert_int_equal(spool_size(sp), len);
	return sp;
}

/* scan - one scan of len bytes with deadline seconds from now */
static enum clamav_clamd_result
scan(struct clamav_clamd *client, const void *data, size_t len,
    double seconds, struct arena *arena, const char **virus_r,
    const char **why_r)
{
	struct spool *sp = spool_of(data, len, 1024 * 1024);
	enum clamav_clamd_result r;

	r = clamav_clamd_scan(client, sp, testutil_now() + seconds, "QID1", arena,
	    virus_r, why_r);
	spool_free(&sp);
	return r;
}

/* mime_with_eicar - a multipart message with EICAR as a base64
 * attachment, in arena */
static char *
mime_with_eicar(struct arena *arena)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char enc[128], *p = enc;
	const unsigned char *s = t.eicar;
	size_t i;
	unsigned v;

	/* 68 bytes: 22 full groups and one of two bytes */
	for (i = 0; i + 3 <= t.eicar_len; i += 3) {
		v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		*p++ = b64[v >> 18 & 63];
		*p++ = b64[v >> 12 & 63];
		*p++ = b64[v >> 6 & 63];
		*p++ = b64[v & 63];
	}
	if (t.eicar_len - i == 2) {
		v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
		*p++ = b64[v >> 18 & 63];
		*p++ = b64[v >> 12 & 63];
		*p++ = b64[v >> 6 & 63];
		*p++ = '=';
	}
	*p = '\0';
	return arena_printf(arena,
	    "From: <alice@example.com>\r\n"
	    "To: <bob@example.net>\r\n"
	    "Subject: the report\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	    "\r\n"
	    "--b1\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "See the attachment.\r\n"
	    "--b1\r\n"
	    "Content-Type: application/octet-stream; name=\"report.com\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment; filename=\"report.com\"\r\n"
	    "\r\n"
	    "%s\r\n"
	    "--b1--\r\n", enc);
}

/* test_new_errors - malformed items and lists, exact texts */
static void
test_new_errors(void **state)
{
	static const struct {
		const char *item, *error;
	} cases[] = {
		{ "unix:", "clamd server \"unix:\": no socket path after "
		    "\"unix:\"" },
		{ "unix:clamd.sock", "clamd server \"unix:clamd.sock\": the "
		    "socket path is not absolute" },
		{ "localhost", "clamd server \"localhost\": no port "
		    "(HOST:PORT, IPv4:PORT, [IPv6]:PORT or unix:/path)" },
		{ "::1:3310", "clamd server \"::1:3310\": an IPv6 address "
		    "needs brackets: [ADDRESS]:PORT" },
		{ ":3310", "clamd server \":3310\": no host before the "
		    "port" },
		{ "127.0.0.1:0", "clamd server \"127.0.0.1:0\": bad port "
		    "\"0\" (1-65535)" },
		{ "127.0.0.1:65536", "clamd server \"127.0.0.1:65536\": bad "
		    "port \"65536\" (1-65535)" },
		{ "127.0.0.1:", "clamd server \"127.0.0.1:\": bad port \"\" "
		    "(1-65535)" },
		{ "127.0.0.1:33x", "clamd server \"127.0.0.1:33x\": bad port "
		    "\"33x\" (1-65535)" },
		{ "127.0.0.256:3310", "clamd server \"127.0.0.256:3310\": "
		    "\"127.0.0.256\" is not an IPv4 address" },
		{ "clamd host:3310", "clamd server \"clamd host:3310\": bad "
		    "host name \"clamd host\"" },
		{ "[::1]", "clamd server \"[::1]\": no \":PORT\" after "
		    "\"]\"" },
		{ "[::1:3310", "clamd server \"[::1:3310\": no \"]\" after "
		    "the IPv6 address" },
		{ "[::1]:", "clamd server \"[::1]:\": bad port \"\" "
		    "(1-65535)" },
		{ "[127.0.0.1]:3310", "clamd server \"[127.0.0.1]:3310\": "
		    "\"127.0.0.1\" is not an IPv6 address" },
		{ "[]:3310", "clamd server \"[]:3310\": \"\" is not an IPv6 "
		    "address" },
	};
	char longpath[200], longitem[220];
	const char *items[2];
	struct conf_list list = { .n = 1, .items = (char **)items };
	struct arena *arena = arena_create();
	struct clamav_clamd *client;
	char *error, *want;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		items[0] = cases[i].item;
		items[1] = NULL;
		client = (struct clamav_clamd *)1;
		error = NULL;
		assert_false(clamav_clamd_new(&list, &client, &error));
		assert_null(client);
		assert_non_null(error);
		assert_string_equal(error, cases[i].error);
		free(error);
	}

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[108] = '\0';	/* 108 bytes: no room for the NUL */
	snprintf(longitem, sizeof(longitem), "unix:%s", longpath);
	items[0] = longitem;
	assert_false(clamav_clamd_new(&list, &client, &error));
	want = arena_printf(arena, "clamd server \"%s\": the socket path "
	    "is longer than 107 bytes", longitem);
	assert_string_equal(error, want);
	free(error);
	longpath[107] = '\0';	/* 107 bytes fit */
	snprintf(longitem, sizeof(longitem), "unix:%s", longpath);
	assert_true(clamav_clamd_new(&list, &client, &error));
	clamav_clamd_free(&client);

	/* the second item is the bad one: the first is freed again */
	items[0] = "unix:/run/clamav/clamd.ctl";
	items[1] = "127.0.0.1:99999";
	list.n = 2;
	assert_false(clamav_clamd_new(&list, &client, &error));
	assert_string_equal(error, "clamd server \"127.0.0.1:99999\": bad "
	    "port \"99999\" (1-65535)");
	free(error);

	list.n = 0;
	assert_false(clamav_clamd_new(&list, &client, &error));
	assert_string_equal(error, "no clamd servers given");
	free(error);
	assert_false(clamav_clamd_new(NULL, &client, &error));
	assert_string_equal(error, "no clamd servers given");
	free(error);
	arena_destroy(&arena);
}

/* test_new_forms - every documented form parses; free is idempotent */
static void
test_new_forms(void **state)
{
	struct clamav_clamd *client;

	(void)state;
	client = client_of("unix:/run/clamav/clamd.ctl", "127.0.0.1:3310",
	    "[::1]:3310", "[2001:db8::7]:65535", "clamd.example.net:1",
	    "clamd_1:3310", NULL);
	clamav_clamd_free(&client);
	assert_null(client);
	clamav_clamd_free(&client);
	clamav_clamd_free(NULL);
}

/* test_clean_and_infected - the verdicts of the real clamd, by unix
 * socket and by TCP (numeric and by name) */
static void
test_clean_and_infected(void **state)
{
	const char *names[] = { t.unix_name, t.tcp_name, t.host_name };
	struct arena *arena = arena_create();
	struct clamav_clamd *client;
	const char *virus, *why;
	char *msg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		client = client_of(names[i], NULL);

		assert_int_equal(scan(client, clean_msg, strlen(clean_msg), 10,
		    arena, &virus, &why), CLAMAV_CLAMD_CLEAN);
		assert_null(virus);
		assert_null(why);

		/* the bare test file, as a scanner sees an attachment */
		assert_int_equal(scan(client, t.eicar, t.eicar_len, 10, arena,
		    &virus, &why), CLAMAV_CLAMD_VIRUS);
		assert_string_equal(virus, EICAR_NAME);
		assert_null(why);

		msg = mime_with_eicar(arena);
		assert_int_equal(scan(client, msg, strlen(msg), 10, arena,
		    &virus, &why), CLAMAV_CLAMD_VIRUS);
		assert_string_equal(virus, EICAR_NAME);

		msg = arena_printf(arena, "%.*s%s and more\r\n",
		    (int)strlen(clean_msg) - 2, clean_msg, t.pattern);
		assert_int_equal(scan(client, msg, strlen(msg), 10, arena,
		    &virus, &why), CLAMAV_CLAMD_VIRUS);
		assert_string_equal(virus, PATTERN_NAME);

		/* an empty message is one empty chunk */
		assert_int_equal(scan(client, "", 0, 10, arena, &virus,
		    &why), CLAMAV_CLAMD_CLEAN);

		clamav_clamd_free(&client);
	}
	arena_destroy(&arena);
}

/* test_spooled - a message in a file, over three chunks, the pattern
 * across the boundary of the second and third chunk; and the same size
 * clean */
static void
test_spooled(void **state)
{
	size_t len = 3 * CLAMAV_CLAMD_CHUNK + 4321, at, plen;
	struct arena *arena = arena_create();
	struct clamav_clamd *client = client_of(t.unix_name, NULL);
	const char *virus, *why;
	struct spool *sp;
	char *msg = malloc(len);
	size_t i;

	(void)state;
	assert_non_null(msg);
	for (i = 0; i < len; i++)
		msg[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
	memcpy(msg, "Subject: big\n\n", 14);

	sp = spool_of(msg, len, 4096);
	assert_false(spool_in_memory(sp));
	assert_int_equal(clamav_clamd_scan(client, sp, testutil_now() + 10, "QID1",
	    arena, &virus, &why), CLAMAV_CLAMD_CLEAN);
	spool_free(&sp);

	plen = strlen(t.pattern);
	at = 2 * CLAMAV_CLAMD_CHUNK - plen / 2;
	memcpy(msg + at, t.pattern, plen);
	sp = spool_of(msg, len, 4096);
	assert_false(spool_in_memory(sp));
	assert_int_equal(clamav_clamd_scan(client, sp, testutil_now() + 10, "QID1",
	    arena, &virus, &why), CLAMAV_CLAMD_VIRUS);
	assert_string_equal(virus, PATTERN_NAME);
	spool_free(&sp);

	free(msg);
	clamav_clamd_free(&client);
	arena_destroy(&arena);
}

/* test_size_limit - over clamd's StreamMaxLength is an error, never
 * clean, and the reason is clamd's own; also with a second server */
static void
test_size_limit(void **state)
{
	size_t len = STREAM_MAX + STREAM_MAX / 2;
	struct arena *arena = arena_create();
	struct clamav_clamd *client = client_of(t.unix_name, NULL);
	const char *virus, *why;
	char *msg = malloc(len), *want;
	struct spool *sp;

	(void)state;
	assert_non_null(msg);
	memset(msg, 'x', len);
	memcpy(msg, "Subject: huge\r\n\r\n", 17);
	want = arena_printf(arena, "clamd %s: INSTREAM size limit exceeded. "
	    "ERROR", t.unix_name);

	sp = spool_of(msg, len, 64 * 1024);
	assert_int_equal(clamav_clamd_scan(client, sp, testutil_now() + 10, "QID1",
	    arena, &virus, &why), CLAMAV_CLAMD_ERROR);
	assert_null(virus);
	assert_string_equal(why, want);
	spool_free(&sp);
	clamav_clamd_free(&client);

	/* the same limit on the second: the error names the last */
	client = client_of(t.unix_name, t.tcp_name, NULL);
	assert_int_equal(scan(client, msg, len, 10, arena, &virus, &why),
	    CLAMAV_CLAMD_ERROR);
	assert_null(virus);
	assert_non_null(why);
	assert_true(strncmp(why, "clamd 127.0.0.1:", 16) == 0);
	clamav_clamd_free(&client);

	free(msg);
	arena_destroy(&arena);
}

/* capture_start - stderr into a file in t.dir; the saved descriptor */
static int
capture_start(void)
{
	char path[300];
	int saved, fd;

	snprintf(path, sizeof(path), "%s/stderr.log", t.dir);
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
	return saved;
}

/* capture_end - stderr back; what was written meanwhile, in arena */
static char *
capture_end(int saved, struct arena *arena)
{
	char path[300], buf[8192];
	size_t n;
	FILE *f;

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	snprintf(path, sizeof(path), "%s/stderr.log", t.dir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return arena_strdup(arena, buf);
}

/* test_failover - a missing socket, a refused port and a server that
 * hangs up are logged and skipped; the answer comes from the next */
static void
test_failover(void **state)
{
	struct arena *arena = arena_create();
	struct clamav_clamd *client;
	const char *virus, *why;
	char missing[320], refused[32], *log, *want;
	enum clamav_clamd_result r;
	struct fake hang;
	int saved;

	(void)state;
	snprintf(missing, sizeof(missing), "unix:%s/missing.sock", t.dir);
	snprintf(refused, sizeof(refused), "127.0.0.1:%d", testutil_free_port());
	fake_start(&hang, "hangup", FAKE_HANGUP, NULL, 0);

	client = client_of(missing, refused, hang.name, t.unix_name, NULL);
	saved = capture_start();
	r = scan(client, t.eicar, t.eicar_len, 10, arena, &virus, &why);
	log = capture_end(saved, arena);
	assert_int_equal(r, CLAMAV_CLAMD_VIRUS);
	assert_string_equal(virus, EICAR_NAME);
	assert_null(why);
	assert_int_equal(atomic_load(&hang.accepted), 1);

	/* one warning per failed server, under the message's queue id,
	 * naming the one asked next */
	want = arena_printf(arena, "warning: QID1: clamd %s: connect: No "
	    "such file or directory; asking %s\n", missing, refused);
	assert_non_null(strstr(log, want));
	want = arena_printf(arena, "warning: QID1: clamd %s: connect: "
	    "Connection refused; asking %s\n", refused, hang.name);
	assert_non_null(strstr(log, want));
	want = arena_printf(arena, "warning: QID1: clamd %s: ", hang.name);
	assert_non_null(strstr(log, want));
	want = arena_printf(arena, "; asking %s\n", t.unix_name);
	assert_non_null(strstr(log, want));
	want = arena_printf(arena, "clamd %s: ", t.unix_name);
	assert_null(strstr(log, want));
	clamav_clamd_free(&client);

	/* a clean answer is final too: the second server is not asked */
	client = client_of(t.unix_name, hang.name, NULL);
	assert_int_equal(scan(client, clean_msg, strlen(clean_msg), 10,
	    arena, &virus, &why), CLAMAV_CLAMD_CLEAN);
	assert_int_equal(atomic_load(&hang.accepted), 1);
	clamav_clamd_free(&client);

	fake_stop(&hang);
	arena_destroy(&arena);
}

/* test_all_down - every server failed: ERROR naming the last one */
static void
test_all_down(void **state)
{
	struct arena *arena = arena_create();
	struct clamav_clamd *client;
	const char *virus, *why;
	char missing[320], refused[32];
	struct fake hang;

	(void)state;
	snprintf(missing, sizeof(missing), "unix:%s/missing.sock", t.dir);
	snprintf(refused, sizeof(refused), "127.0.0.1:%d", testutil_free_port());

	client = client_of(refused, missing, NULL);
	assert_int_equal(scan(client, clean_msg, strlen(clean_msg), 10,
	    arena, &virus, &why), CLAMAV_CLAMD_ERROR);
	assert_null(virus);
	assert_string_equal(why, arena_printf(arena, "clamd %s: connect: No "
	    "such file or directory", missing));
	clamav_clamd_free(&client);

	client = client_of(missing, refused, NULL);
	assert_int_equal(scan(client, clean_msg, strlen(clean_msg), 10,
	    arena, &virus, &why), CLAMAV_CLAMD_ERROR);
	assert_string_equal(why, arena_printf(arena, "clamd %s: connect: "
	    "Connection refused", refused));
	clamav_clamd_free(&client);

	/* hanging up is never an answer, whichever way the race goes */
	fake_start(&hang, "hangup", FAKE_HANGUP, NULL, 0);
	client = client_of(hang.name, NULL);
	assert_int_equal(scan(client, clean_msg, strlen(clean_msg), 10,
	    arena, &virus, &why), CLAMAV_CLAMD_ERROR);
	assert_null(virus);
	assert_true(strncmp(why, arena_printf(arena, "clamd %s: ",
	    hang.name), strlen(hang.name) + 8) == 0);
	clamav_clamd_free(&client);
	fake_stop(&hang);

	arena_destroy(&arena);
}

/* test_replies - what the client makes of replies clamd never sends */
static void
test_replies(void **state)
{
	static const char found[] = "stream: Evil\tN\xc3\xa4me FOUND";
	static const char odd[] = "HELLO\x01";
	static const char error[] = "stream: Can't allocate memory ERROR";
	static const char found_empty[] = "stream:  FOUND";
	static const char ok_then[] = "stream: OK\0stream: X FOUND";
	struct arena *arena = arena_create();
	struct clamav_clamd *client;
	const char *virus, *why;
	char *big = malloc(4000);
	struct fake fk;

	(void)state;
	assert_non_null(big);
	memset(big, 'A', 4000);

	/* control bytes and 8-bit bytes in a name are made harmless */
	fake_start(&fk, "fake", FAKE_REPLY, found, sizeof(found));
	client = client_of(fk.name, NULL);
	assert_int_equal(scan(client, clean_msg, strlen(clean_msg), 10,
	    arena, &virus, &why), CLAMAV_CLAMD_VIRUS);
	assert_string_equal(virus, "Evil?N??me");
	clamav_clamd_free(&client);
	fake_stop(&fk);

	/* a reply that ends with the connection, without a NUL */
	fake_start(&fk, "fake", FAKE_REPLY, odd, sizeof(odd) - 1);
	client = client_of(fk.name, NULL);
	assert_int_equal(scan(client, clean_msg, strlen(clean_msg), 10,
	    arena, &virus, &why), CLAMAV_CLAMD_ERROR);
	assert_null(virus);
	assert_string_equal(why, arena_printf(arena, "clamd %s: unexpected "
	    "reply \"HELLO?\"", fk.name));
	clamav_clamd_free(&client);

	/* an error answer fails over to the next server */
	fake_stop(&fk);
	fake_start(&fk, "fake", FAKE_REPLY, error, sizeof(error));
	client = client_of(fk.name, NULL);
	assert_int_equal(scan(client, clean_msg, strlen(clean_msg), 10,
	    arena, &virus, &why), CLAMAV_CLAMD_ERROR);
	assert_string_equal(why, arena_printf(arena, "clamd %s: %s",
	    fk.name, error));
	clamav_clamd_free(&client);
	client = client_of(fk.name, t.unix_name, NULL);
	assert_int_equal(scan(client, t.eicar, t.eicar_len, 10, arena,
	    &virus, &why), CLAMAV_CLAMD_VIRUS);
	assert_string_equal(virus, EICAR_NAME);
	assert_int_equal(atomic_load(&fk.accepted), 2);
	clamav_clamd_free(&client);
	fake_stop(&fk);

	/* FOUND without a name */
	fake_start(&fk, "fake", FAKE_REPLY, found_empty,
	    sizeof(found_empty));
	client = client_of(fk.name, NULL);
	assert_int_equal(scan(client, clean_msg, strlen(clean_msg), 10,
	    arena, &virus, &why), CLAMAV_CLAMD_ERROR);
	assert_string_equal(why, arena_printf(arena, "clamd %s: unexpected "
	    "reply \"%s\"", fk.name, found_empty));
	clamav_clamd_free(&client);
	fake_stop(&fk);

	/* the reply ends at the first NUL */
	fake_start(&fk, "fake", FAKE_REPLY, ok_then, sizeof(ok_then));
	client = client_of(fk.name, NULL);
	assert_int_equal(scan(client, clean_msg, strlen(clean_msg), 10,
	    arena, &virus, &why), CLAMAV_CLAMD_CLEAN);
	clamav_clamd_free(&client);
	fake_stop(&fk);

	/* no NUL in 1023 bytes is not clamd */
	fake_start(&fk, "fake", FAKE_REPLY, big, 4000);
	client = client_of(fk.name, NULL);
	assert_int_equal(scan(client, clean_msg, strlen(clean_msg), 10,
	    arena, &virus, &why), CLAMAV_CLAMD_ERROR);
	assert_string_equal(why, arena_printf(arena, "clamd %s: reply longer "
	    "than 1023 bytes", fk.name));
	clamav_clamd_free(&client);
	fake_stop(&fk);

	/* and zVERSION wants "ClamAV ..." */
	fake_start(&fk, "fake", FAKE_REPLY, odd, sizeof(odd) - 1);
	client = client_of(fk.name, NULL);
	assert_null(clamav_clamd_version(client, testutil_now() + 10, arena, &why));
	assert_string_equal(why, arena_printf(arena, "clamd %s: unexpected "
	    "reply \"HELLO?\"", fk.name));
	clamav_clamd_free(&client);
	fake_stop(&fk);

	free(big);
	arena_destroy(&arena);
}

/*
 * test_broken_off - a server that stops taking the message: one that
 * answers first (as clamd does at its size limit) is read at once, not
 * waited on until the deadline; one that shut its reading side makes the
 * write fail (EPIPE, without a SIGPIPE that would kill the test)
 */
static void
test_broken_off(void **state)
{
	static const char limit[] = "INSTREAM size limit exceeded. ERROR";
	size_t len = 4 * 1024 * 1024;
	struct arena *arena = arena_create();
	struct clamav_clamd *client;
	const char *virus, *why;
	char *msg = malloc(len);
	struct fake fk;
	double start;

	(void)state;
	assert_non_null(msg);
	memset(msg, 'z', len);

	fake_start(&fk, "early", FAKE_EARLY, limit, sizeof(limit));
	client = client_of(fk.name, NULL);
	start = testutil_now();
	assert_int_equal(scan(client, msg, len, 5, arena, &virus, &why),
	    CLAMAV_CLAMD_ERROR);
	assert_true(testutil_now() - start < 2 * testutil_slack());
	assert_string_equal(why, arena_printf(arena, "clamd %s: %s",
	    fk.name, limit));
	clamav_clamd_free(&client);
	fake_stop(&fk);

	fake_start(&fk, "shutrd", FAKE_SHUTRD, NULL, 0);
	client = client_of(fk.name, NULL);
	start = testutil_now();
	assert_int_equal(scan(client, msg, len, 5, arena, &virus, &why),
	    CLAMAV_CLAMD_ERROR);
	assert_true(testutil_now() - start < 2 * testutil_slack());
	assert_string_equal(why, arena_printf(arena, "clamd %s: write: "
	    "Broken pipe", fk.name));
	clamav_clamd_free(&client);
	fake_stop(&fk);

	free(msg);
	arena_destroy(&arena);
}

/* test_deadline - a server that takes the connection and never answers
 * costs the deadline, reading and writing; no server is asked after it */
static void
test_deadline(void **state)
{
	size_t len = 2 * 1024 * 1024;
	struct arena *arena = arena_create();
	struct clamav_clamd *client;
	const char *virus, *why;
	struct fake silent;
	double start, took;
	char *msg = malloc(len);

	(void)state;
	assert_non_null(msg);
	memset(msg, 'y', len);
	fake_start(&silent, "silent", FAKE_SILENT, NULL, 0);
	client = client_of(silent.name, t.unix_name, NULL);

	start = testutil_now();
	assert_int_equal(scan(client, clean_msg, strlen(clean_msg), 0.25,
	    arena, &virus, &why), CLAMAV_CLAMD_ERROR);
	took = testutil_now() - start;
	assert_null(virus);
	assert_string_equal(why, arena_printf(arena, "clamd %s: timed out "
	    "waiting for the reply", silent.name));
	assert_true(took >= 0.25 && took < 1.5 * testutil_slack());

	/* more than the socket buffers hold: the write waits */
	start = testutil_now();
	assert_int_equal(scan(client, msg, len, 0.25, arena, &virus, &why),
	    CLAMAV_CLAMD_ERROR);
	took = testutil_now() - start;
	assert_string_equal(why, arena_printf(arena, "clamd %s: timed out "
	    "sending the message", silent.name));
	assert_true(took >= 0.25 && took < 1.5 * testutil_slack());

	/* a deadline already past asks the first server only, briefly */
	start = testutil_now();
	assert_int_equal(scan(client, clean_msg, strlen(clean_msg), -1,
	    arena, &virus, &why), CLAMAV_CLAMD_ERROR);
	assert_true(testutil_now() - start < 0.2 * testutil_slack());
	assert_true(strncmp(why, arena_printf(arena, "clamd %s: ",
	    silent.name), strlen(silent.name) + 8) == 0);

	clamav_clamd_free(&client);
	fake_stop(&silent);
	free(msg);
	arena_destroy(&arena);
}

/* test_broken_spool - a spool that failed is never sent */
static void
test_broken_spool(void **state)
{
	struct arena *arena = arena_create();
	struct clamav_clamd *client = client_of(t.unix_name, NULL);
	const char *virus, *why;
	char nodir[300];
	struct spool *sp;

	(void)state;
	snprintf(nodir, sizeof(nodir), "%s/no/such/dir", t.dir);
	sp = spool_new(nodir, 0);
	assert_non_null(sp);
	assert_false(spool_append(sp, clean_msg, strlen(clean_msg)));
	assert_true(spool_error(sp)[0] != '\0');
	assert_int_equal(clamav_clamd_scan(client, sp, testutil_now() + 10, "QID1",
	    arena, &virus, &why), CLAMAV_CLAMD_ERROR);
	assert_null(virus);
	assert_string_equal(why, arena_printf(arena, "clamd: spool: %s",
	    spool_error(sp)));
	spool_free(&sp);
	clamav_clamd_free(&client);
	arena_destroy(&arena);
}

/* test_version - zVERSION is clamd --version; failover; all down */
static void
test_version(void **state)
{
	struct arena *arena = arena_create();
	struct clamav_clamd *client;
	const char *version, *why;
	char missing[320];

	(void)state;
	snprintf(missing, sizeof(missing), "unix:%s/missing.sock", t.dir);
	client = client_of(missing, t.unix_name, NULL);
	version = clamav_clamd_version(client, testutil_now() + 10, arena, &why);
	assert_non_null(version);
	assert_null(why);
	assert_true(strncmp(version, "ClamAV ", 7) == 0);
	assert_string_equal(version, t.version);
	clamav_clamd_free(&client);

	client = client_of(missing, NULL);
	assert_null(clamav_clamd_version(client, testutil_now() + 10, arena, &why));
	assert_string_equal(why, arena_printf(arena, "clamd %s: connect: No "
	    "such file or directory", missing));
	clamav_clamd_free(&client);
	arena_destroy(&arena);
}

/* One scanning thread of test_threads. */
struct worker {
	struct clamav_clamd *client;
	int id;
	int wrong;
};

/* worker_main - ROUNDS scans on the shared client, alternating */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct arena *arena = arena_create();
	const char *virus, *why;
	struct spool *sp;
	bool bad;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		bad = (i + w->id) % 2 == 0;
		sp = spool_new(t.dir, 1024);
		if (!spool_append(sp, bad ? (const void *)t.eicar :
		    (const void *)clean_msg, bad ? t.eicar_len :
		    strlen(clean_msg))) {
			w->wrong++;
		} else if (bad) {
			if (clamav_clamd_scan(w->client, sp, testutil_now() + 10,
			    "QID1", arena, &virus, &why) !=
			    CLAMAV_CLAMD_VIRUS || strcmp(virus, EICAR_NAME) != 0)
				w->wrong++;
		} else if (clamav_clamd_scan(w->client, sp, testutil_now() + 10,
		    "QID1", arena, &virus, &why) != CLAMAV_CLAMD_CLEAN)
			w->wrong++;
		spool_free(&sp);
	}
	arena_destroy(&arena);
	return NULL;
}

/* test_threads - one client, scans at once from several threads */
static void
test_threads(void **state)
{
	struct clamav_clamd *client = client_of(t.unix_name, NULL);
	struct worker w[THREADS];
	pthread_t th[THREADS];
	int i;

	(void)state;
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .client = client, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, worker_main,
		    &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].wrong, 0);
	}
	clamav_clamd_free(&client);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test(test_new_forms),
		cmocka_unit_test(test_clean_and_infected),
		cmocka_unit_test(test_spooled),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_failover),
		cmocka_unit_test(test_all_down),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_broken_off),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_broken_spool),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_threads),
	};

	/* SIGPIPE keeps its default: a write without MSG_NOSIGNAL to a
	 * server that hung up kills the test */
	log_init("test_clamav_clamd", true);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
