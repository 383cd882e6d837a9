/*
 * test_anvil.c - the session and AUTH failure counters shared by the
 * smtpd workers: limits, client keys, failure windows, the overflow
 * slot, forgetting a dead worker, and real processes sharing the table
 * (concurrently, and killed while they hold its lock or work on it)
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "anvil.h"
#include "inet.h"
#include "log.h"
#include "testutil.h"

/* Worker pids: anvil never asks the kernel. Tests that fork use their
 * own pid and their parent's instead, which no child can have. */
#define W1	1001
#define W2	1002

#define DEAD_LOCK_WARNING "anvil: a process died holding the session " \
	"table lock; its counts are off until it is forgotten"

/* ip - text to address; the text is always valid here */
static struct inet_addr
ip(const char *text)
{
	struct inet_addr a;

	assert_true(inet_parse(text, &a));
	return a;
}

/* ipn - the address 10.A.B.C for n, one per n */
static struct inet_addr
ipn(unsigned n)
{
	struct inet_addr a = { .family = AF_INET, .bytes = { 10,
	    (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n } };

	return a;
}

/* connect_n - n sessions of client for pid, all of which must pass */
static void
connect_n(struct anvil *a, pid_t pid, const struct inet_addr *client,
    unsigned n)
{
	while (n-- > 0)
		assert_int_equal(anvil_connect(a, pid, client, 0, 0),
		    ANVIL_OK);
}

/* disconnect_n - end n sessions of client for pid */
static void
disconnect_n(struct anvil *a, pid_t pid, const struct inet_addr *client,
    unsigned n)
{
	while (n-- > 0)
		anvil_disconnect(a, pid, client);
}

/* stderr_capture - send stderr (the log) to dir/name; the old fd */
static int
stderr_capture(const char *dir, const char *name)
{
	char path[512];
	int fd, saved;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
	return saved;
}

/* stderr_restore - put stderr back; what was logged into buf */
static void
stderr_restore(int saved, const char *dir, const char *name, char *buf,
    size_t len)
{
	char path[512];
	ssize_t n;
	int fd;

	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/* count_lines_with - lines of text that contain needle */
static unsigned
count_lines_with(const char *text, const char *needle)
{
	unsigned n = 0;

	for (; (text = strstr(text, needle)) != NULL; text += strlen(needle))
		n++;
	return n;
}

/* test_limits - exact verdicts per client and in total; a refused
 * session is not counted; the total is checked first; 0 = no limit */
static void
test_limits(void **state)
{
	struct anvil *a = anvil_new(16);
	struct inet_addr c1 = ip("192.0.2.1"), c2 = ip("192.0.2.2"),
	    c3 = ip("192.0.2.3");

	(void)state;
	assert_int_equal(anvil_connect(a, W1, &c1, 4, 2), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W2, &c1, 4, 2), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W1, &c1, 4, 2),
	    ANVIL_TOO_MANY_CLIENT);
	assert_int_equal(anvil_sessions(a, &c1), 2);
	assert_int_equal(anvil_sessions(a, NULL), 2);
	/* another client has its own count */
	assert_int_equal(anvil_connect(a, W1, &c2, 4, 2), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W1, &c2, 4, 2), ANVIL_OK);
	assert_int_equal(anvil_sessions(a, &c2), 2);
	assert_int_equal(anvil_sessions(a, NULL), 4);
	/* total reached: refused whatever the client, the total first */
	assert_int_equal(anvil_connect(a, W1, &c3, 4, 2),
	    ANVIL_TOO_MANY_TOTAL);
	assert_int_equal(anvil_connect(a, W1, &c1, 4, 2),
	    ANVIL_TOO_MANY_TOTAL);
	assert_int_equal(anvil_connect(a, W1, NULL, 4, 2),
	    ANVIL_TOO_MANY_TOTAL);
	assert_int_equal(anvil_sessions(a, &c3), 0);
	assert_int_equal(anvil_sessions(a, NULL), 4);
	/* a bigger total lets c3 in, and c1 stays at its limit */
	assert_int_equal(anvil_connect(a, W2, &c3, 5, 2), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W2, &c1, 10, 2),
	    ANVIL_TOO_MANY_CLIENT);
	/* 0: no limit (mynetworks clients get 0 per client) */
	connect_n(a, W2, &c1, 5);
	assert_int_equal(anvil_sessions(a, &c1), 7);
	assert_int_equal(anvil_connect(a, W2, &c1, 0, 7),
	    ANVIL_TOO_MANY_CLIENT);
	assert_int_equal(anvil_connect(a, W2, &c1, 0, 8), ANVIL_OK);
	assert_int_equal(anvil_sessions(a, &c1), 8);
	assert_int_equal(anvil_sessions(a, NULL), 11);
	/* the limit is "at most": exactly max_total sessions may run */
	assert_int_equal(anvil_connect(a, W1, &c3, 12, 0), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W1, &c3, 12, 0),
	    ANVIL_TOO_MANY_TOTAL);
	assert_int_equal(anvil_sessions(a, NULL), 12);
	anvil_free(&a);
	assert_null(a);
	anvil_free(&a);
}

/* test_disconnect - sessions end; the last one frees the slot (a table
 * of one has room for a new client afterwards); a session that was
 * never counted is warned about and changes nothing */
static void
test_disconnect(void **state)
{
	struct anvil *a = anvil_new(1);
	struct inet_addr c1 = ip("192.0.2.1"), c2 = ip("192.0.2.2");
	char dir[256], log[1024];
	int saved;

	(void)state;
	connect_n(a, W1, &c1, 2);
	connect_n(a, W2, &c1, 1);
	assert_int_equal(anvil_sessions(a, &c1), 3);
	anvil_disconnect(a, W2, &c1);
	assert_int_equal(anvil_sessions(a, &c1), 2);
	assert_int_equal(anvil_sessions(a, NULL), 2);
	/* the table is full: c2 is in the overflow slot */
	assert_int_equal(anvil_connect(a, W1, &c2, 0, 1), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W1, &c2, 0, 1),
	    ANVIL_TOO_MANY_CLIENT);
	anvil_disconnect(a, W1, &c2);
	disconnect_n(a, W1, &c1, 2);
	assert_int_equal(anvil_sessions(a, &c1), 0);
	assert_int_equal(anvil_sessions(a, NULL), 0);
	/* c1's slot is free: c2 gets it and its own count */
	connect_n(a, W1, &c2, 3);
	assert_int_equal(anvil_sessions(a, &c2), 3);
	assert_int_equal(anvil_connect(a, W1, &c1, 0, 1), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W1, &c1, 0, 1),
	    ANVIL_TOO_MANY_CLIENT);
	assert_int_equal(anvil_sessions(a, &c1), 1);

	assert_int_equal(testutil_tmpdir(dir, sizeof(dir), "test_anvil"), 0);
	saved = stderr_capture(dir, "log");
	anvil_disconnect(a, W2, &c2);
	anvil_disconnect(a, W2, NULL);
	stderr_restore(saved, dir, "log", log, sizeof(log));
	assert_int_equal(count_lines_with(log, ": warning: anvil: pid 1002 "
	    "ended a session that was not counted\n"), 2);
	assert_int_equal(anvil_sessions(a, &c2), 3);
	assert_int_equal(anvil_sessions(a, NULL), 4);
	assert_int_equal(testutil_rmtree(dir), 0);
	anvil_free(&a);
}

/* test_ipv6_network - addresses of one /64 are one client; another /64
 * is another; IPv4 never meets an IPv6 network */
static void
test_ipv6_network(void **state)
{
	struct anvil *a = anvil_new(0);
	struct inet_addr h1 = ip("2001:db8:1:2::1"),
	    h2 = ip("2001:db8:1:2:ffff:ffff:ffff:fffe"),
	    other = ip("2001:db8:1:3::1"), v4 = ip("192.0.2.1"),
	    mapped = { .family = AF_INET6,
		.bytes = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 } },
	    zero64 = ip("::1");

	(void)state;
	assert_int_equal(anvil_connect(a, W1, &h1, 0, 2), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W2, &h2, 0, 2), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W1, &h2, 0, 2),
	    ANVIL_TOO_MANY_CLIENT);
	assert_int_equal(anvil_connect(a, W1, &h1, 0, 2),
	    ANVIL_TOO_MANY_CLIENT);
	assert_int_equal(anvil_sessions(a, &h1), 2);
	assert_int_equal(anvil_sessions(a, &h2), 2);
	assert_int_equal(anvil_connect(a, W1, &other, 0, 2), ANVIL_OK);
	assert_int_equal(anvil_sessions(a, &other), 1);
	/* a session of h1 may end as h2: it is the same client */
	anvil_disconnect(a, W1, &h2);
	assert_int_equal(anvil_sessions(a, &h1), 1);
	/* ::/64 and 192.0.2.1 (even spelled as v4-mapped IPv6 that
	 * skipped inet_parse) do not share a count */
	connect_n(a, W1, &v4, 3);
	connect_n(a, W1, &zero64, 1);
	assert_int_equal(anvil_sessions(a, &v4), 3);
	assert_int_equal(anvil_sessions(a, &mapped), 1);
	assert_int_equal(anvil_sessions(a, &zero64), 1);
	assert_int_equal(anvil_sessions(a, NULL), 6);
	anvil_free(&a);
}

/* test_unix_client - NULL (a unix socket) counts only in the total, and
 * no per-client limit applies; an address of no family is the same */
static void
test_unix_client(void **state)
{
	struct anvil *a = anvil_new(4);
	struct inet_addr none = { .family = 0 }, c1 = ip("192.0.2.1");

	(void)state;
	assert_int_equal(anvil_connect(a, W1, NULL, 3, 1), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W1, NULL, 3, 1), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W1, &none, 3, 1), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W1, NULL, 3, 1),
	    ANVIL_TOO_MANY_TOTAL);
	assert_int_equal(anvil_sessions(a, NULL), 3);
	assert_int_equal(anvil_sessions(a, &none), 0);
	assert_int_equal(anvil_sessions(a, &c1), 0);
	assert_int_equal(anvil_connect(a, W1, &c1, 0, 1), ANVIL_OK);
	assert_int_equal(anvil_sessions(a, &c1), 1);
	anvil_disconnect(a, W1, NULL);
	anvil_disconnect(a, W1, &none);
	assert_int_equal(anvil_sessions(a, NULL), 2);
	assert_int_equal(anvil_sessions(a, &c1), 1);
	/* AUTH failures of no address are not kept */
	assert_int_equal(anvil_auth_failed(a, NULL, 100, 60), 0);
	assert_int_equal(anvil_auth_failures(a, NULL, 100, 60), 0);
	anvil_free(&a);
}

/* test_auth_window - failures within the window, exact for the ring
 * and beyond it while they come in a burst; per client and /64 */
static void
test_auth_window(void **state)
{
	struct anvil *a = anvil_new(16);
	struct inet_addr c1 = ip("192.0.2.1"), c2 = ip("192.0.2.2"),
	    h1 = ip("2001:db8::1"), h2 = ip("2001:db8::2");
	unsigned i;

	(void)state;
	assert_int_equal(anvil_auth_failed(a, &c1, 100, 60), 1);
	assert_int_equal(anvil_auth_failed(a, &c1, 110, 60), 2);
	assert_int_equal(anvil_auth_failed(a, &c1, 130, 60), 3);
	assert_int_equal(anvil_auth_failures(a, &c1, 130, 60), 3);
	assert_int_equal(anvil_auth_failures(a, &c2, 130, 60), 0);
	/* the window is (now - window, now]: 100 leaves it at 160 */
	assert_int_equal(anvil_auth_failures(a, &c1, 159.5, 60), 3);
	assert_int_equal(anvil_auth_failures(a, &c1, 160, 60), 2);
	assert_int_equal(anvil_auth_failures(a, &c1, 175, 60), 1);
	assert_int_equal(anvil_auth_failures(a, &c1, 175, 100), 3);
	assert_int_equal(anvil_auth_failures(a, &c1, 190, 60), 0);
	assert_int_equal(anvil_auth_failed(a, &c1, 200, 60), 1);

	/* one /64, one count */
	assert_int_equal(anvil_auth_failed(a, &h1, 300, 60), 1);
	assert_int_equal(anvil_auth_failed(a, &h2, 301, 60), 2);
	assert_int_equal(anvil_auth_failures(a, &h1, 302, 60), 2);

	/* a burst past the ring: a limit above 8 is still reached */
	for (i = 1; i <= 12; i++)
		assert_int_equal(anvil_auth_failed(a, &c2, 999 + i, 600), i);
	assert_int_equal(anvil_auth_failures(a, &c2, 1300, 600), 12);
	/* once some fall out of the window the ring is exact again */
	assert_int_equal(anvil_auth_failures(a, &c2, 1605, 600), 6);
	assert_int_equal(anvil_auth_failures(a, &c2, 1611, 600), 0);
	anvil_free(&a);
}

/* test_auth_estimate - past the ring, in bursts: a previous burst that
 * has left the window counts for nothing; one still partly in it counts
 * in proportion to the overlap, rounded up (more than it really had) */
static void
test_auth_estimate(void **state)
{
	struct anvil *a = anvil_new(16);
	struct inet_addr c1 = ip("192.0.2.1"), c2 = ip("192.0.2.2");
	unsigned i;

	(void)state;
	for (i = 0; i < 10; i++)
		assert_int_equal(anvil_auth_failed(a, &c1, 1000 + i, 600),
		    i + 1);
	for (i = 0; i < 10; i++)
		assert_int_equal(anvil_auth_failed(a, &c1, 1700 + i, 600),
		    i + 1);

	for (i = 0; i < 10; i++)
		assert_int_equal(anvil_auth_failed(a, &c2, 1000 + i, 600),
		    i + 1);
	for (i = 0; i < 10; i++)
		assert_int_equal(anvil_auth_failed(a, &c2, 1590 + i, 600),
		    i + 11);
	/* 11 within the window; 1 + 20 * 550 / 600 = 19.33 */
	assert_int_equal(anvil_auth_failed(a, &c2, 1650, 600), 20);
	/* 1 + 20 * 500 / 600 = 17.67 */
	assert_int_equal(anvil_auth_failures(a, &c2, 1700, 600), 18);
	/* the previous bucket's last failure (1599) has left it */
	assert_int_equal(anvil_auth_failures(a, &c2, 2199, 600), 1);
	anvil_free(&a);
}

/* test_auth_steady - a client failing once a minute has 10 failures in
 * a 10 minute window: exact up to 8, then the estimate errs by at most
 * one, upwards, and does not grow however long it goes on */
static void
test_auth_steady(void **state)
{
	struct anvil *a = anvil_new(16);
	struct inet_addr c1 = ip("198.51.100.7");
	unsigned k;

	(void)state;
	for (k = 0; k < 10; k++)
		assert_int_equal(anvil_auth_failed(a, &c1, 1000 + 60.0 * k,
		    600), k + 1);
	/* exact again when the previous bucket's last failure just left */
	for (; k < 200; k++)
		assert_int_equal(anvil_auth_failed(a, &c1, 1000 + 60.0 * k,
		    600), k % 10 == 9 ? 10 : 11);
	/* a pause: only the ring's exact count is left */
	assert_int_equal(anvil_auth_failures(a, &c1, 1000 + 60.0 * 199 + 300,
	    600), 5);
	anvil_free(&a);
}

/* test_auth_keeps_slot - a client with recent failures keeps its slot
 * with no session; the slot is free once the failures are out of their
 * window by the callers' latest now */
static void
test_auth_keeps_slot(void **state)
{
	struct anvil *a = anvil_new(1);
	struct inet_addr c1 = ip("192.0.2.1"), c2 = ip("192.0.2.2"),
	    c3 = ip("192.0.2.3"), c4 = ip("192.0.2.4");

	(void)state;
	assert_int_equal(anvil_auth_failed(a, &c1, 100, 60), 1);
	/* full: c2 and c3 share the overflow slot */
	connect_n(a, W1, &c2, 1);
	connect_n(a, W1, &c3, 1);
	assert_int_equal(anvil_sessions(a, &c2), 2);
	assert_int_equal(anvil_sessions(a, &c3), 2);
	/* failures of overflow clients are shared too */
	assert_int_equal(anvil_auth_failed(a, &c2, 120, 60), 1);
	assert_int_equal(anvil_auth_failures(a, &c3, 120, 60), 1);
	assert_int_equal(anvil_auth_failures(a, &c1, 120, 60), 1);
	/* a call at 160, of any client, puts c1's failure out of the
	 * window: c1's slot is free, so c4 reads nothing of the overflow
	 * slot's failure, and gets that slot */
	assert_int_equal(anvil_auth_failures(a, &c4, 160, 60), 0);
	assert_int_equal(anvil_connect(a, W1, &c4, 0, 2), ANVIL_OK);
	assert_int_equal(anvil_sessions(a, &c4), 1);
	assert_int_equal(anvil_sessions(a, &c2), 2);
	assert_int_equal(anvil_sessions(a, NULL), 3);
	/* c1, without a slot in a full table again, reads the overflow
	 * slot's failures (c2's, at 120) */
	assert_int_equal(anvil_auth_failures(a, &c1, 130, 60), 1);
	assert_int_equal(anvil_auth_failures(a, &c1, 180, 60), 0);
	anvil_free(&a);
}

/* bad_window - a window of 0 is a bug */
static void
bad_window(void)
{
	struct anvil *a = anvil_new(4);
	struct inet_addr c1 = { .family = AF_INET, .bytes = { 192, 0, 2 } };

	anvil_auth_failed(a, &c1, 100, 0);
}

/* bad_pid - a session of pid 0 is a bug */
static void
bad_pid(void)
{
	struct anvil *a = anvil_new(4);

	anvil_connect(a, 0, NULL, 0, 0);
}

/* test_bugs_panic - the caller's bugs abort */
static void
test_bugs_panic(void **state)
{
	(void)state;
	testutil_expect_abort(bad_window);
	testutil_expect_abort(bad_pid);
}

/* test_forget_pid - a dead worker's sessions stop counting, per client
 * and in total; the others' stay */
static void
test_forget_pid(void **state)
{
	struct anvil *a = anvil_new(16);
	struct inet_addr c1 = ip("192.0.2.1"), c2 = ip("192.0.2.2"),
	    h1 = ip("2001:db8::1");

	(void)state;
	connect_n(a, W1, &c1, 2);
	connect_n(a, W1, NULL, 1);
	connect_n(a, W1, &h1, 1);
	connect_n(a, W2, &c1, 1);
	connect_n(a, W2, &c2, 1);
	assert_int_equal(anvil_sessions(a, NULL), 6);
	assert_int_equal(anvil_connect(a, W2, &c1, 0, 3),
	    ANVIL_TOO_MANY_CLIENT);
	anvil_forget_pid(a, W1);
	assert_int_equal(anvil_sessions(a, NULL), 2);
	assert_int_equal(anvil_sessions(a, &c1), 1);
	assert_int_equal(anvil_sessions(a, &c2), 1);
	assert_int_equal(anvil_sessions(a, &h1), 0);
	assert_int_equal(anvil_connect(a, W2, &c1, 0, 3), ANVIL_OK);
	/* forgetting twice, or a pid with nothing, changes nothing */
	anvil_forget_pid(a, W1);
	anvil_forget_pid(a, 4242);
	assert_int_equal(anvil_sessions(a, NULL), 3);
	anvil_forget_pid(a, W2);
	assert_int_equal(anvil_sessions(a, NULL), 0);
	assert_int_equal(anvil_sessions(a, &c1), 0);
	assert_int_equal(anvil_sessions(a, &c2), 0);
	anvil_free(&a);

	/* its sessions in the overflow slot go too */
	a = anvil_new(1);
	connect_n(a, W2, &c1, 1);
	connect_n(a, W1, &c2, 2);
	connect_n(a, W2, &h1, 1);
	assert_int_equal(anvil_sessions(a, &c2), 3);
	anvil_forget_pid(a, W1);
	assert_int_equal(anvil_sessions(a, &c2), 1);
	assert_int_equal(anvil_sessions(a, NULL), 2);
	anvil_free(&a);
}

/* test_slots_reused - slots come free when a worker is forgotten, or
 * when the callers' time leaves their clients' failures behind: all of
 * them, not only those that a new client's probe happens to meet */
static void
test_slots_reused(void **state)
{
	enum { CAP = 64 };
	struct anvil *a = anvil_new(CAP);
	struct inet_addr c;
	unsigned i, round;

	(void)state;
	for (i = 0; i < CAP; i++) {
		c = ipn(i);
		connect_n(a, W1, &c, 1);
	}
	c = ipn(CAP);
	assert_int_equal(anvil_connect(a, W2, &c, 0, 1), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W2, &c, 0, 1),
	    ANVIL_TOO_MANY_CLIENT);
	anvil_disconnect(a, W2, &c);
	anvil_forget_pid(a, W1);
	for (round = 1; round <= 2; round++) {
		for (i = 0; i < CAP; i++) {
			c = ipn(round * 1000 + i);
			if (round == 1)
				assert_int_equal(anvil_connect(a, W2, &c, 0, 1),
				    ANVIL_OK);
			else
				assert_int_equal(anvil_auth_failed(a, &c,
				    200, 60), 1);
		}
		for (i = 0; i < CAP; i++) {
			c = ipn(round * 1000 + i);
			if (round == 1)
				assert_int_equal(anvil_sessions(a, &c), 1);
			else
				assert_int_equal(anvil_auth_failures(a, &c,
				    200, 60), 1);
		}
		c = ipn(round * 1000 + CAP);
		assert_int_equal(anvil_connect(a, W2, &c, 0, 1), ANVIL_OK);
		assert_int_equal(anvil_connect(a, W2, &c, 0, 1),
		    ANVIL_TOO_MANY_CLIENT);
		anvil_disconnect(a, W2, &c);
		if (round == 1)
			anvil_forget_pid(a, W2);
	}
	/* the failures at 200 leave the 60 second window at 260; a
	 * client without failures moves the clock */
	c = ipn(5000);
	assert_int_equal(anvil_auth_failures(a, &c, 260, 60), 0);
	for (i = 0; i < CAP; i++) {
		c = ipn(3000 + i);
		assert_int_equal(anvil_connect(a, W1, &c, 0, 1), ANVIL_OK);
		assert_int_equal(anvil_sessions(a, &c), 1);
	}
	anvil_free(&a);
}

/* test_forget_many_workers - one client with sessions in more workers
 * than a slot tells apart: the extra ones end normally, but those of a
 * forgotten extra worker stay counted (the documented limit) */
static void
test_forget_many_workers(void **state)
{
	struct anvil *a = anvil_new(16);
	struct inet_addr c1 = ip("192.0.2.1");
	pid_t pid;

	(void)state;
	for (pid = 2000; pid < 2018; pid++)
		connect_n(a, pid, &c1, 1);
	assert_int_equal(anvil_sessions(a, &c1), 18);
	assert_int_equal(anvil_sessions(a, NULL), 18);
	anvil_disconnect(a, 2016, &c1);
	assert_int_equal(anvil_sessions(a, &c1), 17);
	/* 2000 ended: 2018 takes its pair and can be forgotten */
	anvil_disconnect(a, 2000, &c1);
	connect_n(a, 2018, &c1, 1);
	anvil_forget_pid(a, 2018);
	assert_int_equal(anvil_sessions(a, &c1), 16);
	for (pid = 2001; pid < 2016; pid++)
		anvil_forget_pid(a, pid);
	assert_int_equal(anvil_sessions(a, &c1), 1);
	anvil_forget_pid(a, 2017);
	assert_int_equal(anvil_sessions(a, NULL), 0);
	assert_int_equal(anvil_sessions(a, &c1), 1);
	anvil_free(&a);
}

/* test_overflow - a full table counts new clients together in the
 * overflow slot, and their limits apply together */
static void
test_overflow(void **state)
{
	struct anvil *a = anvil_new(4);
	struct inet_addr c[8];
	unsigned i;

	(void)state;
	for (i = 0; i < 8; i++)
		c[i] = ipn(i + 1);
	for (i = 0; i < 4; i++)
		connect_n(a, W1, &c[i], i + 1);
	for (i = 0; i < 4; i++)
		assert_int_equal(anvil_sessions(a, &c[i]), i + 1);
	assert_int_equal(anvil_sessions(a, &c[4]), 0);
	assert_int_equal(anvil_connect(a, W1, &c[4], 0, 2), ANVIL_OK);
	assert_int_equal(anvil_sessions(a, &c[5]), 1);
	assert_int_equal(anvil_connect(a, W2, &c[5], 0, 2), ANVIL_OK);
	assert_int_equal(anvil_connect(a, W1, &c[6], 0, 2),
	    ANVIL_TOO_MANY_CLIENT);
	assert_int_equal(anvil_sessions(a, &c[4]), 2);
	assert_int_equal(anvil_sessions(a, &c[6]), 2);
	/* clients with slots are not touched by it */
	assert_int_equal(anvil_connect(a, W1, &c[0], 0, 2), ANVIL_OK);
	assert_int_equal(anvil_sessions(a, NULL), 13);
	/* c[0]'s slot frees up: c[6] gets it, the overflow keeps two */
	disconnect_n(a, W1, &c[0], 2);
	assert_int_equal(anvil_connect(a, W1, &c[6], 0, 2), ANVIL_OK);
	assert_int_equal(anvil_sessions(a, &c[6]), 1);
	assert_int_equal(anvil_sessions(a, &c[7]), 2);
	/* overflow sessions end, also for a client that has a slot now */
	anvil_disconnect(a, W1, &c[4]);
	anvil_disconnect(a, W2, &c[5]);
	assert_int_equal(anvil_sessions(a, &c[7]), 0);
	assert_int_equal(anvil_sessions(a, NULL), 10);
	anvil_forget_pid(a, W1);
	assert_int_equal(anvil_sessions(a, NULL), 0);
	anvil_free(&a);
}

/* test_overflow_moves - a client counted in the overflow slot that
 * has a slot of its own by the time its sessions end: both counts come
 * back to zero */
static void
test_overflow_moves(void **state)
{
	struct anvil *a = anvil_new(1);
	struct inet_addr c1 = ip("192.0.2.1"), c2 = ip("192.0.2.2"),
	    c3 = ip("192.0.2.3");

	(void)state;
	connect_n(a, W1, &c1, 1);
	connect_n(a, W1, &c2, 2);	/* overflow */
	anvil_disconnect(a, W1, &c1);
	connect_n(a, W1, &c2, 1);	/* its own slot now */
	assert_int_equal(anvil_sessions(a, &c2), 1);
	disconnect_n(a, W1, &c2, 3);
	assert_int_equal(anvil_sessions(a, NULL), 0);
	assert_int_equal(anvil_sessions(a, &c2), 0);
	connect_n(a, W1, &c3, 1);
	connect_n(a, W1, &c1, 1);	/* overflow, back at zero before */
	assert_int_equal(anvil_sessions(a, &c1), 1);
	anvil_free(&a);
}

/* test_churn - many clients come and go through a small table (slots
 * freed, tombstones, rebuilds): the counts stay exact */
static void
test_churn(void **state)
{
	struct anvil *a = anvil_new(8);
	struct inet_addr c;
	unsigned i, k;

	(void)state;
	for (i = 0; i < 20000; i++) {
		c = ipn(i);
		connect_n(a, W1 + (pid_t)(i % 3), &c, 1 + i % 2);
		if (i >= 5) {
			c = ipn(i - 5);
			disconnect_n(a, W1 + (pid_t)((i - 5) % 3), &c,
			    1 + (i - 5) % 2);
			assert_int_equal(anvil_sessions(a, &c), 0);
		}
		if (i % 997 == 0 || i == 19999) {
			for (k = i >= 5 ? i - 4 : 0; k <= i; k++) {
				c = ipn(k);
				assert_int_equal(anvil_sessions(a, &c),
				    1 + k % 2);
			}
		}
	}
	/* five clients live, room for three more, then overflow */
	for (i = 0; i < 3; i++) {
		c = ipn(100000 + i);
		assert_int_equal(anvil_connect(a, W1, &c, 0, 1), ANVIL_OK);
	}
	c = ipn(200000);
	assert_int_equal(anvil_connect(a, W1, &c, 0, 1), ANVIL_OK);
	c = ipn(200001);
	assert_int_equal(anvil_connect(a, W1, &c, 0, 1),
	    ANVIL_TOO_MANY_CLIENT);
	anvil_forget_pid(a, W1);
	anvil_forget_pid(a, W2);
	anvil_forget_pid(a, W2 + 1);
	assert_int_equal(anvil_sessions(a, NULL), 0);
	anvil_free(&a);
}

/* test_processes - workers in separate processes, at the same time:
 * the parent sees the exact sum, and the per-client limit lets exactly
 * its number in across all of them */
static void
test_processes(void **state)
{
	enum { CHILDREN = 4, EACH = 60, LIMIT = 150 };
	struct anvil *a = anvil_new(0);
	struct inet_addr c1 = ip("203.0.113.9");
	int go[2], done[2], stop[2], status;
	pid_t pids[CHILDREN];
	unsigned i, passed = 0;
	char ch;

	(void)state;
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	assert_int_equal(pipe(stop), 0);
	for (i = 0; i < CHILDREN; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			unsigned ok = 0, n;

			close(go[1]);
			close(stop[1]);
			/* all start together when the parent closes go */
			if (read(go[0], &ch, 1) != 0)
				_exit(200);
			for (n = 0; n < EACH; n++) {
				if (anvil_connect(a, getpid(), &c1, 0,
				    LIMIT) == ANVIL_OK)
					ok++;
				if (anvil_connect(a, getpid(), NULL, 0,
				    LIMIT) != ANVIL_OK)
					_exit(201);
			}
			if (write(done[1], "x", 1) != 1)
				_exit(202);
			if (read(stop[0], &ch, 1) != 0)
				_exit(203);
			for (n = 0; n < ok; n++)
				anvil_disconnect(a, getpid(), &c1);
			for (n = 0; n < EACH; n++)
				anvil_disconnect(a, getpid(), NULL);
			_exit((int)ok);
		}
	}
	close(go[0]);
	close(stop[0]);
	close(done[1]);
	close(go[1]);
	for (i = 0; i < CHILDREN; i++)
		assert_int_equal(read(done[0], &ch, 1), 1);
	assert_int_equal(anvil_sessions(a, &c1), LIMIT);
	assert_int_equal(anvil_sessions(a, NULL), LIMIT + CHILDREN * EACH);
	close(stop[1]);
	for (i = 0; i < CHILDREN; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_true(WEXITSTATUS(status) <= EACH);
		passed += WEXITSTATUS(status);
	}
	close(done[0]);
	assert_int_equal(passed, LIMIT);
	assert_int_equal(anvil_sessions(a, &c1), 0);
	assert_int_equal(anvil_sessions(a, NULL), 0);
	anvil_free(&a);
}

/* test_dead_holder - a worker killed while it holds the lock: the next
 * locker repairs the lock (with a warning), and forgetting the worker
 * drops its sessions */
static void
test_dead_holder(void **state)
{
	struct anvil *a = anvil_new(16);
	struct inet_addr c1 = ip("192.0.2.1");
	char dir[256], log[4096], ch;
	int ready[2], saved, status;
	pid_t pid, me = getpid();

	(void)state;
	assert_int_equal(testutil_tmpdir(dir, sizeof(dir), "test_anvil"), 0);
	connect_n(a, me, &c1, 2);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		connect_n(a, getpid(), &c1, 3);
		connect_n(a, getpid(), NULL, 1);
		/* the lock is the first thing in the table (anvil.c
		 * asserts it): hold it, as if killed inside an update */
		if (pthread_mutex_lock((pthread_mutex_t *)(void *)a) != 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &ch, 1), 1);
	close(ready[0]);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));

	saved = stderr_capture(dir, "log");
	assert_int_equal(anvil_sessions(a, &c1), 5);
	assert_int_equal(anvil_sessions(a, NULL), 6);
	stderr_restore(saved, dir, "log", log, sizeof(log));
	assert_int_equal(count_lines_with(log, DEAD_LOCK_WARNING), 1);
	assert_non_null(strstr(log, ": warning: " DEAD_LOCK_WARNING "\n"));

	/* repaired once: no more warnings, and the table works */
	saved = stderr_capture(dir, "log2");
	anvil_forget_pid(a, pid);
	assert_int_equal(anvil_sessions(a, &c1), 2);
	assert_int_equal(anvil_sessions(a, NULL), 2);
	assert_int_equal(anvil_connect(a, me, &c1, 0, 3), ANVIL_OK);
	assert_int_equal(anvil_connect(a, me, &c1, 0, 3),
	    ANVIL_TOO_MANY_CLIENT);
	disconnect_n(a, me, &c1, 3);
	assert_int_equal(anvil_sessions(a, NULL), 0);
	stderr_restore(saved, dir, "log2", log, sizeof(log));
	assert_string_equal(log, "");
	assert_int_equal(testutil_rmtree(dir), 0);
	anvil_free(&a);
}

/* storm_child - connect and disconnect as fast as possible, over many
 * clients of a small table (slots come and go, rebuilds), until killed */
static void
storm_child(struct anvil *a, unsigned seed)
{
	struct inet_addr c, shared = ip("192.0.2.1");
	pid_t me = getpid();
	unsigned i;

	for (i = seed;; i++) {
		c = ipn(i % 40);
		(void)anvil_connect(a, me, &c, 0, 0);
		(void)anvil_connect(a, me, &shared, 0, 0);
		(void)anvil_connect(a, me, NULL, 0, 0);
		(void)anvil_auth_failed(a, &c, 1.0 * i, 0.5);
		anvil_disconnect(a, me, &shared);
		anvil_disconnect(a, me, NULL);
		anvil_disconnect(a, me, &c);
	}
}

/* test_kill_storm - workers SIGKILLed at random points of their work
 * on the table: after forgetting them, the survivor's counts are exact
 * and the table still has its full room */
static void
test_kill_storm(void **state)
{
	enum { ROUNDS = 25, CHILDREN = 4 };
	struct anvil *a = anvil_new(8);
	struct inet_addr c1 = ip("192.0.2.1"), c;
	struct timespec ts;
	pid_t pids[CHILDREN];
	char dir[256], log[65536];
	unsigned r, i, repaired;
	int saved, status;
	pid_t me = getpid(), peer = getppid();

	(void)state;
	assert_int_equal(testutil_tmpdir(dir, sizeof(dir), "test_anvil"), 0);
	connect_n(a, me, &c1, 3);
	connect_n(a, me, NULL, 2);
	srand(12345);
	saved = stderr_capture(dir, "log");
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < CHILDREN; i++) {
			pids[i] = fork();
			assert_true(pids[i] >= 0);
			if (pids[i] == 0)
				storm_child(a, r * 1000 + i * 100);
		}
		ts.tv_sec = 0;
		ts.tv_nsec = 2000000 + (long)(rand() % 8000000);
		nanosleep(&ts, NULL);
		for (i = 0; i < CHILDREN; i++) {
			assert_int_equal(kill(pids[i], SIGKILL), 0);
			assert_int_equal(waitpid(pids[i], &status, 0),
			    pids[i]);
			assert_true(WIFSIGNALED(status));
		}
		for (i = 0; i < CHILDREN; i++)
			anvil_forget_pid(a, pids[i]);
		assert_int_equal(anvil_sessions(a, &c1), 3);
		assert_int_equal(anvil_sessions(a, NULL), 5);
		for (i = 0; i < 40; i++) {
			c = ipn(i);
			assert_int_equal(anvil_sessions(a, &c), 0);
		}
	}
	stderr_restore(saved, dir, "log", log, sizeof(log));
	/* the storm's failures are out of their half second window now */
	c = ipn(0);
	assert_int_equal(anvil_auth_failures(a, &c, 1e9, 0.5), 0);
	/* c1 holds one slot: seven new clients fit, the next overflows */
	for (i = 0; i < 7; i++) {
		c = ipn(1000 + i);
		assert_int_equal(anvil_connect(a, peer, &c, 0, 1), ANVIL_OK);
		assert_int_equal(anvil_sessions(a, &c), 1);
	}
	c = ipn(2000);
	assert_int_equal(anvil_connect(a, peer, &c, 0, 1), ANVIL_OK);
	c = ipn(2001);
	assert_int_equal(anvil_connect(a, peer, &c, 0, 1),
	    ANVIL_TOO_MANY_CLIENT);
	anvil_forget_pid(a, peer);
	assert_int_equal(anvil_sessions(a, NULL), 5);
	/* how often a kill hit the lock varies (test_dead_holder makes
	 * sure of it): only told */
	repaired = count_lines_with(log, DEAD_LOCK_WARNING);
	print_message("# %u of %u kills repaired the lock\n", repaired,
	    ROUNDS * CHILDREN);
	assert_int_equal(testutil_rmtree(dir), 0);
	anvil_free(&a);
}

/* main - run the tests (the log goes to stderr, where tests read it) */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_disconnect),
		cmocka_unit_test(test_ipv6_network),
		cmocka_unit_test(test_unix_client),
		cmocka_unit_test(test_auth_window),
		cmocka_unit_test(test_auth_estimate),
		cmocka_unit_test(test_auth_steady),
		cmocka_unit_test(test_auth_keeps_slot),
		cmocka_unit_test(test_bugs_panic),
		cmocka_unit_test(test_forget_pid),
		cmocka_unit_test(test_forget_many_workers),
		cmocka_unit_test(test_slots_reused),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_overflow_moves),
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_processes),
		cmocka_unit_test(test_dead_holder),
		cmocka_unit_test(test_kill_storm),
	};

	log_init("test_anvil", true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
