/*
 * test_netconn.c - service addresses and connections with deadlines
 *
 * Peers are sockets of the test itself on loopback and in a temp
 * directory: a connect completes into the listen backlog, and the test
 * then accepts (or does not) and reads, writes or closes as each case
 * needs. A TCP connect that never completes comes from a listener whose
 * backlog is full (Linux drops the SYN). Names are looked up only as
 * "localhost" (/etc/hosts) or as a name no resolver is asked about (a
 * label over 63 bytes), so nothing leaves the machine.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "arena.h"
#include "netconn.h"
#include "testutil.h"

/* more than loopback socket buffers hold, so that a writer must wait */
#define BIG	(8 * 1024 * 1024)

static char dir[256];
static unsigned char *big;

/* setup - a temp directory for unix sockets, a large message */
static int
setup(void **state)
{
	(void)state;
	if (testutil_tmpdir(dir, sizeof(dir), "test_netconn") < 0)
		return -1;
	if ((big = malloc(BIG)) == NULL)
		return -1;
	memset(big, 'x', BIG);
	return 0;
}

/* teardown - remove it all */
static int
teardown(void **state)
{
	(void)state;
	free(big);
	return testutil_rmtree(dir);
}

/* listen_tcp - a listener on 127.0.0.1 with backlog; its port in *port_r */
static int
listen_tcp(int backlog, int *port_r)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port_r = ntohs(sin.sin_port);
	return fd;
}

/* listen_unix - a listener on dir/name with backlog; "unix:PATH" in
 * name_r */
static int
listen_unix(const char *name, int backlog, char *name_r, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char path[300];

	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	unlink(sun.sun_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	snprintf(name_r, len, "unix:%s", sun.sun_path);
	return fd;
}

/* parse - an address that must parse */
static struct netconn_addr *
parse(const char *text)
{
	char *error = NULL;
	struct netconn_addr *a = netconn_parse(text, &error);

	if (a == NULL)
		fail_msg("netconn_parse(\"%s\"): %s", text, error);
	assert_null(error);
	return a;
}

/* connect_ok - connect to text within 5 s, which must work */
static int
connect_ok(const char *text)
{
	struct netconn_addr *a = parse(text);
	const char *why = NULL;
	char buf[256];
	int fd;

	fd = netconn_connect(a, testutil_now() + 5, buf, sizeof(buf), &why);
	if (fd < 0)
		fail_msg("connect %s: %s", text, why);
	netconn_addr_free(&a);
	return fd;
}

/* connect_fails - connect to text with a deadline seconds away, which
 * must fail; the reason (static or in buf) */
static const char *
connect_fails(const char *text, double seconds, char *buf, size_t len)
{
	struct netconn_addr *a = parse(text);
	const char *why = NULL;
	int fd;

	fd = netconn_connect(a, testutil_now() + seconds, buf, len, &why);
	netconn_addr_free(&a);
	assert_int_equal(fd, -1);
	assert_non_null(why);
	return why;
}

/* A connection and its peer. */
struct pair {
	char text[300];		/* the address connected to */
	int lfd, fd, peer;	/* listener, ours, the accepted end */
};

/* pair_open - connect to a new listener (TCP on loopback, or dir/name
 * when name is not NULL) and accept */
static void
pair_open(struct pair *p, const char *name)
{
	int port;

	if (name != NULL)
		p->lfd = listen_unix(name, 8, p->text, sizeof(p->text));
	else {
		p->lfd = listen_tcp(8, &port);
		snprintf(p->text, sizeof(p->text), "127.0.0.1:%d", port);
	}
	p->fd = connect_ok(p->text);
	p->peer = accept(p->lfd, NULL, NULL);
	assert_true(p->peer >= 0);
}

/* pair_close - all three closed (the peer may be already) */
static void
pair_close(struct pair *p)
{
	if (p->peer >= 0)
		close(p->peer);
	close(p->fd);
	close(p->lfd);
}

/* test_forms - every way to write an address; the name is the text */
static void
test_forms(void **state)
{
	static const char *const ok[] = {
		"unix:/run/spamd.sock", "127.0.0.1:783", "[::1]:783",
		"[2001:db8::7]:65535", "spamd.example.net:1", "spamd_1:783",
		"localhost:783", "0.0.0.0:1", "[::ffff:127.0.0.1]:783",
		NULL,
	};
	struct netconn_addr *a;
	size_t i;

	(void)state;
	for (i = 0; ok[i] != NULL; i++) {
		a = parse(ok[i]);
		assert_string_equal(netconn_name(a), ok[i]);
		netconn_addr_free(&a);
		assert_null(a);
	}
	netconn_addr_free(&a);
	netconn_addr_free(NULL);
}

/* test_errors - what each malformed address is told */
static void
test_errors(void **state)
{
	static const struct {
		const char *text, *error;
	} bad[] = {
		{ "unix:", "no socket path after \"unix:\"" },
		{ "unix:spamd.sock", "the socket path is not absolute" },
		{ "localhost", "no port (HOST:PORT, IPv4:PORT, [IPv6]:PORT "
		    "or unix:/path)" },
		{ "", "no port (HOST:PORT, IPv4:PORT, [IPv6]:PORT or "
		    "unix:/path)" },
		{ "::1:783", "an IPv6 address needs brackets: "
		    "[ADDRESS]:PORT" },
		{ ":783", "no host before the port" },
		{ "127.0.0.1:0", "bad port \"0\" (1-65535)" },
		{ "127.0.0.1:65536", "bad port \"65536\" (1-65535)" },
		{ "127.0.0.1:", "bad port \"\" (1-65535)" },
		{ "127.0.0.1:x", "bad port \"x\" (1-65535)" },
		{ "127.0.0.1:-1", "bad port \"-1\" (1-65535)" },
		{ "127.0.0.256:783", "\"127.0.0.256\" is not an IPv4 "
		    "address" },
		{ "spamd host:783", "bad host name \"spamd host\"" },
		{ "sp\xc3\xa4md:783", "bad host name \"sp\xc3\xa4md\"" },
		{ "[::1]", "no \":PORT\" after \"]\"" },
		{ "[::1]783", "no \":PORT\" after \"]\"" },
		{ "[::1:783", "no \"]\" after the IPv6 address" },
		{ "[::1]:", "bad port \"\" (1-65535)" },
		{ "[127.0.0.1]:783", "\"127.0.0.1\" is not an IPv6 "
		    "address" },
		{ "[]:783", "\"\" is not an IPv6 address" },
	};
	char longpath[200], text[220], *error, want[100];
	struct netconn_addr *a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		a = netconn_parse(bad[i].text, &error);
		if (a != NULL)
			fail_msg("\"%s\" parsed", bad[i].text);
		assert_non_null(error);
		assert_string_equal(error, bad[i].error);
		free(error);
	}

	/* sun_path holds 107 bytes and the NUL */
	memset(longpath, 'p', sizeof(longpath));
	longpath[0] = '/';
	longpath[108] = '\0';
	snprintf(text, sizeof(text), "unix:%s", longpath);
	error = NULL;
	assert_null(netconn_parse(text, &error));
	snprintf(want, sizeof(want), "the socket path is longer than %zu "
	    "bytes", sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	assert_string_equal(error, want);
	free(error);
	longpath[107] = '\0';
	snprintf(text, sizeof(text), "unix:%s", longpath);
	a = parse(text);
	netconn_addr_free(&a);
}

/* test_tcp - a TCP connection: non-blocking, no Nagle, bytes both ways,
 * the end of the stream */
static void
test_tcp(void **state)
{
	char text[64], got[16], buf[256];
	const char *why = NULL;
	int lfd, port, fd, peer, one = 0, fl;
	socklen_t len = sizeof(one);
	ssize_t n;

	(void)state;
	lfd = listen_tcp(8, &port);
	snprintf(text, sizeof(text), "127.0.0.1:%d", port);
	fd = connect_ok(text);
	assert_true((fl = fcntl(fd, F_GETFL)) >= 0 && (fl & O_NONBLOCK));
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    &len), 0);
	assert_int_equal(one, 1);
	peer = accept(lfd, NULL, NULL);
	assert_true(peer >= 0);

	assert_true(netconn_send(fd, "PING\r\n", 6, testutil_now() + 5, buf,
	    sizeof(buf), &why));
	assert_int_equal(recv(peer, got, 6, MSG_WAITALL), 6);
	assert_memory_equal(got, "PING\r\n", 6);
	assert_int_equal(send(peer, "PONG", 4, 0), 4);
	n = netconn_recv(fd, got, sizeof(got), testutil_now() + 5, buf,
	    sizeof(buf), &why);
	assert_int_equal(n, 4);
	assert_memory_equal(got, "PONG", 4);
	close(peer);
	assert_int_equal(netconn_recv(fd, got, sizeof(got), testutil_now() + 5,
	    buf, sizeof(buf), &why), 0);
	close(fd);

	/* a name is looked up at the connect */
	snprintf(text, sizeof(text), "localhost:%d", port);
	fd = connect_ok(text);
	peer = accept(lfd, NULL, NULL);
	assert_true(peer >= 0);
	close(peer);
	close(fd);
	close(lfd);
}

/* test_refused - a closed port; a name no resolver knows */
static void
test_refused(void **state)
{
	char text[128], buf[256], label[71];
	const char *why;

	(void)state;
	snprintf(text, sizeof(text), "127.0.0.1:%d", testutil_free_port());
	why = connect_fails(text, 5, buf, sizeof(buf));
	assert_string_equal(why, "connect: Connection refused");
	assert_ptr_equal(why, buf);
	snprintf(text, sizeof(text), "localhost:%d", testutil_free_port());
	assert_string_equal(connect_fails(text, 5, buf, sizeof(buf)),
	    "connect: Connection refused");

	/* a label over 63 bytes is refused before any query is sent */
	memset(label, 'a', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	snprintf(text, sizeof(text), "%s:783", label);
	assert_string_equal(connect_fails(text, 5, buf, sizeof(buf)),
	    "host lookup: Name or service not known");
}

/* test_unix - a unix socket: there, missing, not a socket, full */
static void
test_unix(void **state)
{
	char text[300], buf[256], got[8];
	const char *why = NULL;
	int lfd, fd, peer;

	(void)state;
	lfd = listen_unix("s.sock", 0, text, sizeof(text));
	fd = connect_ok(text);
	peer = accept(lfd, NULL, NULL);
	assert_true(peer >= 0);
	assert_true(netconn_send(fd, "hi", 2, 0, buf, sizeof(buf), &why));
	assert_int_equal(recv(peer, got, sizeof(got), 0), 2);
	close(peer);
	close(fd);

	/* a full backlog (one pending connection): unix sockets say so at
	 * once */
	fd = connect_ok(text);
	assert_string_equal(connect_fails(text, 5, buf, sizeof(buf)),
	    "connect: Resource temporarily unavailable");
	close(fd);
	close(lfd);

	snprintf(text, sizeof(text), "unix:%s/missing.sock", dir);
	assert_string_equal(connect_fails(text, 5, buf, sizeof(buf)),
	    "connect: No such file or directory");
	{
		struct arena *arena = arena_create();

		testutil_put(arena, dir, "plain", "not a socket\n");
		arena_destroy(&arena);
	}
	snprintf(text, sizeof(text), "unix:%s/plain", dir);
	assert_string_equal(connect_fails(text, 5, buf, sizeof(buf)),
	    "connect: Connection refused");
}

/* test_connect_deadline - a connect that never completes costs the
 * deadline and says so */
static void
test_connect_deadline(void **state)
{
	char text[64], buf[256];
	int lfd, port, fd;
	double start, took;
	const char *why;

	(void)state;
	lfd = listen_tcp(0, &port);
	snprintf(text, sizeof(text), "127.0.0.1:%d", port);
	fd = connect_ok(text);	/* fills the backlog */
	start = testutil_now();
	errno = 0;
	why = connect_fails(text, 0.3, buf, sizeof(buf));
	took = testutil_now() - start;
	assert_string_equal(why, "connect: timed out");
	assert_true(took >= 0.3 && took < 1.5 * testutil_slack());

	/* errno as netconn_connect left it */
	{
		struct netconn_addr *a = parse(text);

		assert_int_equal(netconn_connect(a, testutil_now() + 0.1, buf,
		    sizeof(buf), &why), -1);
		assert_int_equal(errno, ETIMEDOUT);
		netconn_addr_free(&a);
	}
	close(fd);
	close(lfd);
}

/* test_send_deadline - a peer that never reads costs the deadline */
static void
test_send_deadline(void **state)
{
	static const char *const where[] = { NULL, "w.sock" };
	const char *why = NULL;
	double start, took;
	struct pair p;
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		pair_open(&p, where[i]);
		start = testutil_now();
		errno = 0;
		assert_false(netconn_send(p.fd, big, BIG, start + 0.3, buf,
		    sizeof(buf), &why));
		took = testutil_now() - start;
		assert_int_equal(errno, ETIMEDOUT);
		assert_string_equal(why, "write: timed out");
		assert_true(took >= 0.3 && took < 1.5 * testutil_slack());
		pair_close(&p);
	}
}

/* test_recv_deadline - a peer that never writes costs the deadline;
 * what has arrived is read even after it */
static void
test_recv_deadline(void **state)
{
	char buf[256], got[16];
	const char *why = NULL;
	double start, took;
	struct pair p;
	ssize_t n;

	(void)state;
	pair_open(&p, NULL);
	start = testutil_now();
	errno = 0;
	n = netconn_recv(p.fd, got, sizeof(got), start + 0.3, buf,
	    sizeof(buf), &why);
	took = testutil_now() - start;
	assert_int_equal(n, -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_string_equal(why, "read: timed out");
	assert_true(took >= 0.3 && took < 1.5 * testutil_slack());

	assert_int_equal(send(p.peer, "late", 4, 0), 4);
	testutil_sleep(0.05);
	n = netconn_recv(p.fd, got, sizeof(got), testutil_now() - 1, buf,
	    sizeof(buf), &why);
	assert_int_equal(n, 4);
	assert_memory_equal(got, "late", 4);
	/* and nothing more: at once */
	start = testutil_now();
	assert_int_equal(netconn_recv(p.fd, got, sizeof(got), start - 1, buf,
	    sizeof(buf), &why), -1);
	assert_string_equal(why, "read: timed out");
	assert_true(testutil_now() - start < 0.2 * testutil_slack());
	pair_close(&p);
}

/* A peer that writes after a pause, for test_no_deadline. */
static void *
late_writer(void *arg)
{
	int peer = *(int *)arg;

	testutil_sleep(0.2);
	if (send(peer, "hello", 5, MSG_NOSIGNAL) != 5)
		return arg;
	return NULL;
}

/* test_no_deadline - 0 waits as long as it takes */
static void
test_no_deadline(void **state)
{
	char buf[256], got[16];
	const char *why = NULL;
	struct pair p;
	pthread_t th;
	void *r;

	(void)state;
	pair_open(&p, NULL);
	assert_int_equal(pthread_create(&th, NULL, late_writer, &p.peer), 0);
	assert_int_equal(netconn_recv(p.fd, got, sizeof(got), 0, buf,
	    sizeof(buf), &why), 5);
	assert_int_equal(pthread_join(th, &r), 0);
	assert_null(r);
	pair_close(&p);
}

/* test_early - a peer that answers instead of reading stops the write at
 * once, and what it said can be read; one that hangs up breaks it */
static void
test_early(void **state)
{
	char buf[256], got[16];
	const char *why = NULL;
	struct pair p;
	double start;

	(void)state;
	pair_open(&p, NULL);
	assert_int_equal(send(p.peer, "NO\r\n", 4, 0), 4);
	start = testutil_now();
	assert_false(netconn_send(p.fd, big, BIG, start + 5, buf,
	    sizeof(buf), &why));
	assert_true(testutil_now() - start < 1 * testutil_slack());
	assert_string_equal(why, "write: answered early");
	assert_int_equal(netconn_recv(p.fd, got, sizeof(got), start + 5, buf,
	    sizeof(buf), &why), 4);
	assert_memory_equal(got, "NO\r\n", 4);
	pair_close(&p);

	/* a peer that closes without a word */
	pair_open(&p, NULL);
	close(p.peer);
	p.peer = -1;
	start = testutil_now();
	assert_false(netconn_send(p.fd, big, BIG, start + 5, buf,
	    sizeof(buf), &why));
	assert_true(testutil_now() - start < 1 * testutil_slack());
	assert_true(strcmp(why, "write: connection closed") == 0 ||
	    strcmp(why, "write: Connection reset by peer") == 0 ||
	    strcmp(why, "write: Broken pipe") == 0);
	pair_close(&p);

	/* unix: a peer that is gone is a broken pipe (and no SIGPIPE) */
	pair_open(&p, "e.sock");
	close(p.peer);
	p.peer = -1;
	assert_false(netconn_send(p.fd, "x", 1, testutil_now() + 5, buf,
	    sizeof(buf), &why));
	assert_string_equal(why, "write: Broken pipe");
	assert_ptr_equal(why, buf);
	pair_close(&p);

	/* one that stops reading only */
	pair_open(&p, "e.sock");
	assert_int_equal(shutdown(p.peer, SHUT_RD), 0);
	assert_false(netconn_send(p.fd, big, BIG, testutil_now() + 5, buf,
	    sizeof(buf), &why));
	assert_string_equal(why, "write: Broken pipe");
	pair_close(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_connect_deadline),
		cmocka_unit_test(test_send_deadline),
		cmocka_unit_test(test_recv_deadline),
		cmocka_unit_test(test_no_deadline),
		cmocka_unit_test(test_early),
	};

	/* SIGPIPE keeps its default: a write without MSG_NOSIGNAL to a
	 * peer that is gone kills the test */
	return cmocka_run_group_tests(tests, setup, teardown);
}
