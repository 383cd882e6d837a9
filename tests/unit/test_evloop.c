/*
 * test_evloop.c - the event loop: readiness on pipes and socket pairs,
 * watches removed mid-round, timer order and precision, stopping from
 * threads and signal handlers, and the job pool
 *
 * Every run of the loop has a guard timer (or a thread) that stops it,
 * so a broken loop fails a test instead of hanging the suite.
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
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"
#include "testutil.h"

#define NREC	16

/* --- helpers ------------------------------------------------------------- */

/* now_ms - CLOCK_MONOTONIC in ms, as the loop counts it */
static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* cpu_ms - CPU time (user and system) of the calling thread, in ms */
static uint64_t
cpu_ms(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_THREAD, &ru), 0);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
	    1000 + ((uint64_t)ru.ru_utime.tv_usec +
	    (uint64_t)ru.ru_stime.tv_usec) / 1000;
}

/* sleep_ms - sleep ms milliseconds */
static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
	    .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* a timer that stops the loop */
struct guard {
	struct evloop *loop;
	struct evloop_timer *t;
	int fired;
};

/* guard_fire - count and stop */
static void
guard_fire(struct evloop_timer *t, void *arg)
{
	struct guard *g = arg;

	(void)t;
	g->fired++;
	evloop_stop(g->loop);
}

/* guard_start - stop loop after ms unless something else does first */
static void
guard_start(struct guard *g, struct evloop *loop, uint64_t ms)
{
	g->loop = loop;
	g->fired = 0;
	g->t = evloop_timer_new(loop, guard_fire, g);
	evloop_timer_arm(g->t, ms);
}

/* make_pipe - a non-blocking pipe, with text in it unless NULL */
static void
make_pipe(int p[2], const char *text)
{
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	if (text != NULL)
		assert_int_equal(write(p[1], text, strlen(text)),
		    (ssize_t)strlen(text));
}

/* what an I/O callback saw */
struct rec {
	struct evloop *loop;
	int calls;
	unsigned events[NREC];
	int fd[NREC];
	int stop_at;		/* stop the loop on this call (1-based) */
	size_t read_each;	/* bytes read per READ call (0: none) */
	char data[64];
	size_t len;
	ssize_t last_read;
};

/* rec_io - record the call, read if asked, stop if asked */
static void
rec_io(struct evloop_watch *w, int fd, unsigned events, void *arg)
{
	struct rec *r = arg;

	(void)w;
	if (r->calls < NREC) {
		r->events[r->calls] = events;
		r->fd[r->calls] = fd;
	}
	r->calls++;
	if ((events & EVLOOP_READ) && r->read_each > 0) {
		r->last_read = read(fd, r->data + r->len, r->read_each);
		if (r->last_read > 0)
			r->len += (size_t)r->last_read;
	}
	if (r->calls == r->stop_at)
		evloop_stop(r->loop);
}

/* --- I/O ----------------------------------------------------------------- */

/* test_pipe_read - a readable pipe calls back with READ and its fd; a
 * drained one is quiet */
static void
test_pipe_read(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct rec r = { .loop = loop, .stop_at = 1, .read_each = 8 };
	struct evloop_watch *w;
	struct guard g;
	int p[2];

	(void)state;
	make_pipe(p, "abc");
	assert_non_null(w = evloop_watch(loop, p[0], EVLOOP_READ, rec_io, &r));
	guard_start(&g, loop, 2000);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.events[0], EVLOOP_READ);
	assert_int_equal(r.fd[0], p[0]);
	assert_int_equal(r.len, 3);
	assert_memory_equal(r.data, "abc", 3);

	/* drained: nothing more until the guard */
	evloop_timer_arm(g.t, 30);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 1);
	assert_int_equal(r.calls, 1);

	evloop_unwatch(&w);
	assert_null(w);
	evloop_timer_free(&g.t);
	assert_null(g.t);
	evloop_free(&loop);
	assert_null(loop);
	close(p[0]);
	close(p[1]);
}

/* test_pipe_write - a writable pipe end calls back with WRITE; the empty
 * read end of the same pipe stays quiet */
static void
test_pipe_write(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct rec wr = { .loop = loop, .stop_at = 1 };
	struct rec rd = { .loop = loop };
	struct evloop_watch *ww, *rw;
	struct guard g;
	int p[2];

	(void)state;
	make_pipe(p, NULL);
	assert_non_null(rw = evloop_watch(loop, p[0], EVLOOP_READ, rec_io,
	    &rd));
	assert_non_null(ww = evloop_watch(loop, p[1], EVLOOP_WRITE, rec_io,
	    &wr));
	guard_start(&g, loop, 2000);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 0);
	assert_int_equal(wr.calls, 1);
	assert_int_equal(wr.events[0], EVLOOP_WRITE);
	assert_int_equal(wr.fd[0], p[1]);
	assert_int_equal(rd.calls, 0);

	evloop_unwatch(&ww);
	evloop_unwatch(&rw);
	evloop_free(&loop);
	close(p[0]);
	close(p[1]);
}

/* a socket pair whose first end is watched for both directions */
struct duplex {
	struct evloop *loop;
	int sv[2];
	int calls;
	unsigned events[NREC];
	char got[8];
};

/* duplex_io - first call: only writable, so make it readable; second:
 * both, read what came and stop */
static void
duplex_io(struct evloop_watch *w, int fd, unsigned events, void *arg)
{
	struct duplex *d = arg;

	(void)w;
	assert_int_equal(fd, d->sv[0]);
	if (d->calls < NREC)
		d->events[d->calls] = events;
	if (++d->calls == 1) {
		assert_int_equal(write(d->sv[1], "hi", 2), 2);
	} else {
		assert_int_equal(read(fd, d->got, sizeof(d->got)), 2);
		evloop_stop(d->loop);
	}
}

/* test_socketpair - READ|WRITE reports exactly what is ready */
static void
test_socketpair(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct duplex d = { .loop = loop };
	struct evloop_watch *w;
	struct guard g;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, d.sv), 0);
	assert_non_null(w = evloop_watch(loop, d.sv[0],
	    EVLOOP_READ | EVLOOP_WRITE, duplex_io, &d));
	guard_start(&g, loop, 2000);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 0);
	assert_int_equal(d.calls, 2);
	assert_int_equal(d.events[0], EVLOOP_WRITE);
	assert_int_equal(d.events[1], EVLOOP_READ | EVLOOP_WRITE);
	assert_memory_equal(d.got, "hi", 2);

	evloop_unwatch(&w);
	evloop_free(&loop);
	close(d.sv[0]);
	close(d.sv[1]);
}

/* test_hangup_error - a hang-up reaches a reader as READ (read() then
 * says 0) and is limited to the events wanted; an error (a pipe with no
 * reader) is READ|WRITE */
static void
test_hangup_error(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct rec hup = { .loop = loop, .stop_at = 1, .read_each = 8,
	    .last_read = -2 };
	struct rec wonly = { .loop = loop, .stop_at = 1 };
	struct rec err = { .loop = loop, .stop_at = 1 };
	struct evloop_watch *w;
	struct guard g;
	int p[2], sv[2];

	(void)state;
	guard_start(&g, loop, 2000);

	/* the writer of a pipe goes away */
	make_pipe(p, NULL);
	close(p[1]);
	assert_non_null(w = evloop_watch(loop, p[0], EVLOOP_READ, rec_io,
	    &hup));
	assert_true(evloop_run(loop));
	assert_int_equal(hup.calls, 1);
	assert_int_equal(hup.events[0], EVLOOP_READ);
	assert_int_equal(hup.last_read, 0);
	evloop_unwatch(&w);
	close(p[0]);

	/* the peer of a socket goes away: a writer only hears WRITE */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	assert_non_null(w = evloop_watch(loop, sv[0], EVLOOP_WRITE, rec_io,
	    &wonly));
	assert_true(evloop_run(loop));
	assert_int_equal(wonly.calls, 1);
	assert_int_equal(wonly.events[0], EVLOOP_WRITE);
	evloop_unwatch(&w);
	close(sv[0]);

	/* a pipe nobody reads: writable and in error, so both */
	make_pipe(p, NULL);
	close(p[0]);
	assert_non_null(w = evloop_watch(loop, p[1],
	    EVLOOP_READ | EVLOOP_WRITE, rec_io, &err));
	assert_true(evloop_run(loop));
	assert_int_equal(err.calls, 1);
	assert_int_equal(err.events[0], EVLOOP_READ | EVLOOP_WRITE);
	evloop_unwatch(&w);
	close(p[1]);

	assert_int_equal(g.fired, 0);
	evloop_free(&loop);
}

/* test_level_triggered - a callback that leaves data is called again,
 * until the fd is drained */
static void
test_level_triggered(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct rec r = { .loop = loop, .stop_at = 3, .read_each = 1 };
	struct evloop_watch *w;
	struct guard g;
	int p[2];

	(void)state;
	make_pipe(p, "xyz");
	assert_non_null(w = evloop_watch(loop, p[0], EVLOOP_READ, rec_io, &r));
	guard_start(&g, loop, 2000);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 0);
	assert_int_equal(r.calls, 3);
	assert_int_equal(r.events[0], EVLOOP_READ);
	assert_int_equal(r.events[1], EVLOOP_READ);
	assert_int_equal(r.events[2], EVLOOP_READ);
	assert_int_equal(r.len, 3);
	assert_memory_equal(r.data, "xyz", 3);

	evloop_timer_arm(g.t, 30);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 1);
	assert_int_equal(r.calls, 3);

	evloop_unwatch(&w);
	evloop_free(&loop);
	close(p[0]);
	close(p[1]);
}

/* a watch that silences itself on its first call */
struct quiet {
	struct rec r;
	struct evloop_watch *w;
};

/* quiet_io - record, then want nothing (the data stays) */
static void
quiet_io(struct evloop_watch *w, int fd, unsigned events, void *arg)
{
	struct quiet *q = arg;

	rec_io(w, fd, events, &q->r);
	if (q->r.calls == 1)
		evloop_watch_set(q->w, 0);
}

/* test_watch_set_zero - wanting nothing silences an fd that stays
 * readable, and hung up; wanting again brings it back; a watch made
 * with nothing wanted is quiet until asked */
static void
test_watch_set_zero(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct quiet q = { .r = { .loop = loop } };
	struct rec late = { .loop = loop, .stop_at = 1 };
	struct evloop_watch *lw;
	struct guard g;
	uint64_t cpu;
	int p[2], p2[2];

	(void)state;
	make_pipe(p, "a");
	make_pipe(p2, "b");
	assert_non_null(q.w = evloop_watch(loop, p[0], EVLOOP_READ, quiet_io,
	    &q));
	assert_non_null(lw = evloop_watch(loop, p2[0], 0, rec_io, &late));
	guard_start(&g, loop, 40);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 1);
	assert_int_equal(q.r.calls, 1);
	assert_int_equal(late.calls, 0);

	/* a hang-up is not reported to a watch wanting nothing, not even
	 * behind the callback's back: the loop sleeps instead of spinning
	 * (100 ms of waiting costs well under 50 ms of CPU) */
	close(p[1]);
	evloop_timer_arm(g.t, 100);
	cpu = cpu_ms();
	assert_true(evloop_run(loop));
	assert_true(cpu_ms() - cpu < 50);
	assert_int_equal(g.fired, 2);
	assert_int_equal(q.r.calls, 1);

	/* wanted again: called again (and the other one too) */
	q.r.stop_at = 2;
	evloop_watch_set(q.w, EVLOOP_READ);
	evloop_timer_arm(g.t, 2000);
	assert_true(evloop_run(loop));
	assert_int_equal(q.r.calls, 2);
	assert_int_equal(q.r.events[1], EVLOOP_READ);
	evloop_watch_set(lw, EVLOOP_READ);
	assert_true(evloop_run(loop));
	assert_int_equal(late.calls, 1);
	assert_int_equal(late.events[0], EVLOOP_READ);
	assert_int_equal(g.fired, 2);

	evloop_unwatch(&q.w);
	evloop_unwatch(&lw);
	evloop_free(&loop);
	close(p[0]);
	close(p2[0]);
	close(p2[1]);
}

/* two watches, each removing the other; the loser's fd number is then
 * taken by a new pipe with a new watch */
struct duel {
	struct evloop *loop;
	struct evloop_watch *w[2];
	int p[2][2];
	int calls[2];
	int fresh_wfd;
	struct evloop_watch *nw;
	int new_calls;
};

/* duel_new - the watch on the reused fd number: read, stop */
static void
duel_new(struct evloop_watch *w, int fd, unsigned events, void *arg)
{
	struct duel *d = arg;
	char c;

	(void)w;
	assert_int_equal(events, EVLOOP_READ);
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(c, 'n');
	d->new_calls++;
	evloop_stop(d->loop);
}

/* duel_io - drain; the first one called removes the other, closes its
 * fd and puts a new pipe (with data) under the same number */
static void
duel_io(struct evloop_watch *w, int fd, unsigned events, void *arg)
{
	struct duel *d = arg;
	int i = fd == d->p[0][0] ? 0 : 1, fresh[2];
	char buf[8];

	(void)w;
	assert_int_equal(events, EVLOOP_READ);
	d->calls[i]++;
	assert_true(read(fd, buf, sizeof(buf)) > 0);
	if (d->w[1 - i] == NULL)
		return;
	evloop_unwatch(&d->w[1 - i]);
	make_pipe(fresh, "n");
	assert_int_equal(dup2(fresh[0], d->p[1 - i][0]), d->p[1 - i][0]);
	close(fresh[0]);
	d->fresh_wfd = fresh[1];
	assert_non_null(d->nw = evloop_watch(d->loop, d->p[1 - i][0],
	    EVLOOP_READ, duel_new, d));
}

/* test_unwatch_same_round - both fds are ready in one round; the one
 * removed by the other's callback is not called, even though epoll
 * reported it and its fd number already names a new watch */
static void
test_unwatch_same_round(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct duel d = { .loop = loop };
	struct guard g;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		make_pipe(d.p[i], "x");
		assert_non_null(d.w[i] = evloop_watch(loop, d.p[i][0],
		    EVLOOP_READ, duel_io, &d));
	}
	guard_start(&g, loop, 2000);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 0);
	assert_int_equal(d.calls[0] + d.calls[1], 1);
	assert_int_equal(d.new_calls, 1);
	assert_true(d.w[0] == NULL || d.w[1] == NULL);

	evloop_unwatch(&d.w[0]);
	evloop_unwatch(&d.w[1]);
	evloop_unwatch(&d.nw);
	evloop_free(&loop);
	for (i = 0; i < 2; i++) {
		close(d.p[i][0]);
		close(d.p[i][1]);
	}
	close(d.fresh_wfd);
}

/* a watch removing itself */
struct selfish {
	struct evloop_watch *w;
	int calls;
};

/* selfish_io - count, remove itself, leave the data */
static void
selfish_io(struct evloop_watch *w, int fd, unsigned events, void *arg)
{
	struct selfish *s = arg;

	(void)fd;
	(void)events;
	assert_ptr_equal(w, s->w);
	s->calls++;
	evloop_unwatch(&s->w);
}

/* test_unwatch_self - removed from its own callback, a watch on an fd
 * that stays readable is never called again */
static void
test_unwatch_self(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct selfish s = { 0 };
	struct guard g;
	int p[2];

	(void)state;
	make_pipe(p, "x");
	assert_non_null(s.w = evloop_watch(loop, p[0], EVLOOP_READ,
	    selfish_io, &s));
	guard_start(&g, loop, 30);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 1);
	assert_int_equal(s.calls, 1);
	assert_null(s.w);

	evloop_free(&loop);
	close(p[0]);
	close(p[1]);
}

/* test_watch_refused - what epoll refuses is NULL with its errno, also
 * for a watch wanting nothing yet */
static void
test_watch_refused(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct evloop_watch *w, *w2;
	struct rec r = { .loop = loop };
	char dir[64], path[96];
	int fd, p[2];

	(void)state;
	assert_int_equal(testutil_tmpdir(dir, sizeof(dir), "test_evloop"), 0);
	snprintf(path, sizeof(path), "%s/file", dir);
	assert_true((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) >=
	    0);
	errno = 0;
	assert_null(evloop_watch(loop, fd, EVLOOP_READ, rec_io, &r));
	assert_int_equal(errno, EPERM);
	errno = 0;
	assert_null(evloop_watch(loop, fd, 0, rec_io, &r));
	assert_int_equal(errno, EPERM);
	close(fd);

	make_pipe(p, NULL);
	close(p[0]);
	close(p[1]);
	errno = 0;
	assert_null(evloop_watch(loop, p[0], EVLOOP_READ, rec_io, &r));
	assert_int_equal(errno, EBADF);

	/* one fd, one watch */
	make_pipe(p, NULL);
	assert_non_null(w = evloop_watch(loop, p[0], EVLOOP_READ, rec_io,
	    &r));
	errno = 0;
	assert_null(w2 = evloop_watch(loop, p[0], EVLOOP_WRITE, rec_io, &r));
	assert_int_equal(errno, EEXIST);
	evloop_unwatch(&w);
	evloop_unwatch(&w2);
	evloop_free(&loop);
	close(p[0]);
	close(p[1]);
	assert_int_equal(testutil_rmtree(dir), 0);
}

/* --- timers -------------------------------------------------------------- */

/* timers recording the order they fire in */
struct order {
	struct evloop *loop;
	int seen[64];
	int n;
	int stop_n;
};

struct tag {
	struct order *o;
	int id;
};

/* order_fire - record the id, stop after stop_n */
static void
order_fire(struct evloop_timer *t, void *arg)
{
	struct tag *tag = arg;
	struct order *o = tag->o;

	(void)t;
	if (o->n < 64)
		o->seen[o->n] = tag->id;
	if (++o->n == o->stop_n)
		evloop_stop(o->loop);
}

/* test_timer_order - by deadline, and in arm order for the same
 * deadline; re-arming moves a timer behind those armed before */
static void
test_timer_order(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct order o = { .loop = loop, .stop_n = 51 };
	struct evloop_timer *t[51];
	struct tag tags[51];
	struct guard g;
	int i, k;

	(void)state;
	for (i = 0; i < 51; i++) {
		tags[i].o = &o;
		tags[i].id = i;
		t[i] = evloop_timer_new(loop, order_fire, &tags[i]);
	}
	for (i = 0; i < 50; i++)
		evloop_timer_arm(t[i], 20);
	evloop_timer_arm(t[50], 1);
	evloop_timer_arm(t[10], 20);
	guard_start(&g, loop, 2000);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 0);
	assert_int_equal(o.n, 51);
	assert_int_equal(o.seen[0], 50);
	k = 1;
	for (i = 0; i < 50; i++)
		if (i != 10)
			assert_int_equal(o.seen[k++], i);
	assert_int_equal(o.seen[50], 10);

	/* all fired: nothing more */
	evloop_timer_arm(g.t, 30);
	assert_true(evloop_run(loop));
	assert_int_equal(o.n, 51);
	for (i = 0; i < 51; i++)
		evloop_timer_free(&t[i]);
	evloop_free(&loop);
}

/* a timer re-arming itself */
struct again {
	struct evloop *loop;
	uint64_t at[8];
	int n;
	uint64_t ms;
};

/* again_fire - note the round's time, re-arm up to 4 fires */
static void
again_fire(struct evloop_timer *t, void *arg)
{
	struct again *a = arg;

	a->at[a->n++] = evloop_now(a->loop);
	if (a->n < 4)
		evloop_timer_arm(t, a->ms);
	else
		evloop_stop(a->loop);
}

/* test_timer_rearm_self - a timer re-armed from its own callback fires
 * again, no earlier than asked */
static void
test_timer_rearm_self(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct again a = { .loop = loop, .ms = 5 };
	struct evloop_timer *t = evloop_timer_new(loop, again_fire, &a);
	struct guard g;
	uint64_t start = now_ms();
	int i;

	(void)state;
	evloop_timer_arm(t, 5);
	guard_start(&g, loop, 2000);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 0);
	assert_int_equal(a.n, 4);
	assert_true(a.at[0] >= start + 5);
	for (i = 1; i < 4; i++)
		assert_true(a.at[i] >= a.at[i - 1] + 5);
	evloop_timer_free(&t);
	evloop_free(&loop);
}

/* a 0 ms timer re-arming itself beside an fd that is always ready */
struct spin {
	struct evloop *loop;
	int io, fires;
};

/* spin_io - count only (the data stays) */
static void
spin_io(struct evloop_watch *w, int fd, unsigned events, void *arg)
{
	struct spin *s = arg;

	(void)w;
	(void)fd;
	(void)events;
	s->io++;
}

/* spin_fire - count, re-arm for now; stop when I/O ran 3 times (or the
 * loop is starving it) */
static void
spin_fire(struct evloop_timer *t, void *arg)
{
	struct spin *s = arg;

	if (++s->fires >= 1000 || s->io >= 3)
		evloop_stop(s->loop);
	else
		evloop_timer_arm(t, 0);
}

/* test_timer_zero_no_starve - a timer re-armed for 0 ms from its own
 * callback runs once per round, so I/O keeps its turn */
static void
test_timer_zero_no_starve(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct spin s = { .loop = loop };
	struct evloop_timer *t = evloop_timer_new(loop, spin_fire, &s);
	struct evloop_watch *w;
	struct guard g;
	int p[2];

	(void)state;
	make_pipe(p, "x");
	assert_non_null(w = evloop_watch(loop, p[0], EVLOOP_READ, spin_io,
	    &s));
	evloop_timer_arm(t, 0);
	guard_start(&g, loop, 2000);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 0);
	assert_int_equal(s.io, 3);
	assert_int_equal(s.fires, 3);
	evloop_unwatch(&w);
	evloop_timer_free(&t);
	evloop_free(&loop);
	close(p[0]);
	close(p[1]);
}

/* timers that cancel and free others due in the same pass */
struct killer {
	struct evloop_timer *victim, *doomed;
	int fires;
};

/* killer_fire - cancel one timer, free another */
static void
killer_fire(struct evloop_timer *t, void *arg)
{
	struct killer *k = arg;

	(void)t;
	k->fires++;
	evloop_timer_cancel(k->victim);
	evloop_timer_free(&k->doomed);
}

/* suicide_fire - free the timer from its own callback */
static void
suicide_fire(struct evloop_timer *t, void *arg)
{
	struct evloop_timer **self = arg;

	assert_ptr_equal(t, *self);
	evloop_timer_free(self);
}

/* count_fire - count */
static void
count_fire(struct evloop_timer *t, void *arg)
{
	(void)t;
	(*(int *)arg)++;
}

/* test_timer_cancel - a cancelled timer never fires, also when it was
 * due in the same pass as the timer cancelling it; cancelling an idle
 * timer is harmless; freeing from callbacks is safe */
static void
test_timer_cancel(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct killer k = { 0 };
	struct evloop_timer *early, *killer, *idle, *self, *nul = NULL;
	int early_n = 0, victim_n = 0, doomed_n = 0, idle_n = 0;
	struct guard g;

	(void)state;
	early = evloop_timer_new(loop, count_fire, &early_n);
	evloop_timer_arm(early, 5);
	evloop_timer_cancel(early);
	evloop_timer_cancel(early);

	killer = evloop_timer_new(loop, killer_fire, &k);
	k.victim = evloop_timer_new(loop, count_fire, &victim_n);
	k.doomed = evloop_timer_new(loop, count_fire, &doomed_n);
	evloop_timer_arm(killer, 10);
	evloop_timer_arm(k.victim, 10);
	evloop_timer_arm(k.doomed, 10);

	idle = evloop_timer_new(loop, count_fire, &idle_n);
	evloop_timer_cancel(idle);

	self = evloop_timer_new(loop, suicide_fire, &self);
	evloop_timer_arm(self, 15);

	guard_start(&g, loop, 40);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 1);
	assert_int_equal(early_n, 0);
	assert_int_equal(k.fires, 1);
	assert_int_equal(victim_n, 0);
	assert_int_equal(doomed_n, 0);
	assert_null(k.doomed);
	assert_int_equal(idle_n, 0);
	assert_null(self);

	/* a cancelled timer can be armed again */
	evloop_timer_arm(k.victim, 1);
	evloop_timer_arm(g.t, 30);
	assert_true(evloop_run(loop));
	assert_int_equal(victim_n, 1);

	evloop_timer_free(&nul);
	evloop_timer_free(&early);
	evloop_timer_free(&killer);
	/* k.victim, idle and the guard go with the loop */
	evloop_free(&loop);
}

/* a timer noting when it fired */
struct when {
	struct evloop *loop;
	uint64_t real, cached, cached_later;
	int fires;
};

/* when_fire - note the clock and the loop's cached time (twice, some
 * time apart), stop */
static void
when_fire(struct evloop_timer *t, void *arg)
{
	struct when *w = arg;

	(void)t;
	w->fires++;
	w->real = now_ms();
	w->cached = evloop_now(w->loop);
	sleep_ms(5);
	w->cached_later = evloop_now(w->loop);
	evloop_stop(w->loop);
}

/* tick_fire - count and re-arm: a round every 2 ms */
static void
tick_fire(struct evloop_timer *t, void *arg)
{
	(*(int *)arg)++;
	evloop_timer_arm(t, 2);
}

/* test_timer_precision - a timer fires no earlier than asked (also when
 * the loop's cached time is stale at arming, and with rounds running
 * all along) and not much later; evloop_now() holds still during a
 * round */
static void
test_timer_precision(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct when w = { .loop = loop };
	struct evloop_timer *t = evloop_timer_new(loop, when_fire, &w);
	struct evloop_timer *tick;
	struct guard g;
	uint64_t t0, before;
	int ticks = 0;

	(void)state;
	guard_start(&g, loop, 5000);
	tick = evloop_timer_new(loop, tick_fire, &ticks);
	evloop_timer_arm(tick, 2);
	t0 = now_ms();
	evloop_timer_arm(t, 50);
	assert_true(evloop_run(loop));
	assert_true(ticks >= 5);
	evloop_timer_free(&tick);
	assert_int_equal(w.fires, 1);
	assert_true(w.real >= t0 + 50);
	assert_true(w.real < t0 + 50 + 1000);
	assert_true(w.cached >= t0 + 50);
	assert_true(w.cached <= w.real);
	assert_int_equal(w.cached_later, w.cached);

	/* the cached time is now well behind; arming reads the clock */
	before = evloop_now(loop);
	sleep_ms(60);
	assert_int_equal(evloop_now(loop), before);
	t0 = now_ms();
	evloop_timer_arm(t, 30);
	assert_true(evloop_run(loop));
	assert_int_equal(w.fires, 2);
	assert_true(w.real >= t0 + 30);
	assert_true(w.cached >= t0 + 30);
	assert_true(evloop_now(loop) > before);
	assert_int_equal(g.fired, 0);

	evloop_timer_free(&t);
	evloop_free(&loop);
}

/* --- stopping ------------------------------------------------------------ */

/* stopper - another thread: wait, then stop the loop */
static void *
stopper(void *arg)
{
	sleep_ms(50);
	evloop_stop(arg);
	return NULL;
}

/* test_stop_thread - evloop_stop() from another thread wakes a loop
 * with nothing to do */
static void
test_stop_thread(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct guard g;
	pthread_t tid;
	uint64_t t0;

	(void)state;
	guard_start(&g, loop, 10000);
	t0 = now_ms();
	assert_int_equal(pthread_create(&tid, NULL, stopper, loop), 0);
	assert_true(evloop_run(loop));
	assert_true(now_ms() >= t0 + 50);
	assert_int_equal(g.fired, 0);
	assert_int_equal(pthread_join(tid, NULL), 0);
	evloop_free(&loop);
}

static struct evloop *alarm_loop;
static volatile sig_atomic_t alarm_hits;

/* on_alarm - SIGALRM: stop the loop */
static void
on_alarm(int sig)
{
	(void)sig;
	alarm_hits++;
	evloop_stop(alarm_loop);
}

/* test_stop_signal - evloop_stop() from a signal handler */
static void
test_stop_signal(void **state)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	struct itimerval it = { .it_value = { .tv_usec = 50000 } };
	struct itimerval off = { 0 };
	struct evloop *loop = evloop_new(2);
	struct guard g;
	uint64_t t0;

	(void)state;
	alarm_loop = loop;
	alarm_hits = 0;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	guard_start(&g, loop, 10000);
	t0 = now_ms();
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	assert_true(evloop_run(loop));
	assert_int_equal(alarm_hits, 1);
	assert_true(now_ms() >= t0 + 50);
	assert_int_equal(g.fired, 0);
	assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	alarm_loop = NULL;
	evloop_free(&loop);
}

/* test_stop_between_callbacks - the loop returns after the callback
 * that stopped it, even with more ready in the same round */
static void
test_stop_between_callbacks(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct rec r = { .loop = loop, .read_each = 8 };
	struct evloop_watch *w[2];
	struct guard g;
	int p[2][2], i;

	(void)state;
	for (i = 0; i < 2; i++) {
		make_pipe(p[i], "x");
		assert_non_null(w[i] = evloop_watch(loop, p[i][0],
		    EVLOOP_READ, rec_io, &r));
	}
	guard_start(&g, loop, 2000);
	r.stop_at = 1;
	assert_true(evloop_run(loop));
	assert_int_equal(r.calls, 1);
	r.stop_at = 2;
	assert_true(evloop_run(loop));
	assert_int_equal(r.calls, 2);
	assert_int_not_equal(r.fd[0], r.fd[1]);
	assert_int_equal(g.fired, 0);
	evloop_timer_arm(g.t, 30);
	assert_true(evloop_run(loop));
	assert_int_equal(r.calls, 2);
	for (i = 0; i < 2; i++) {
		evloop_unwatch(&w[i]);
		close(p[i][0]);
		close(p[i][1]);
	}
	evloop_free(&loop);
}

/* test_stop_before_run - a stop asked before evloop_run() makes it
 * return at once, and only once */
static void
test_stop_before_run(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct guard g;
	uint64_t t0;

	(void)state;
	guard_start(&g, loop, 3000);
	evloop_stop(loop);
	t0 = now_ms();
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 0);
	assert_true(now_ms() < t0 + 1000);

	evloop_timer_arm(g.t, 20);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 1);
	evloop_free(&loop);
}

/* --- jobs ---------------------------------------------------------------- */

struct many {
	struct evloop *loop;
	pthread_t loop_thread;
	atomic_int worked;
	atomic_int work_on_loop;
	int done, done_elsewhere, total;
};

struct many_job {
	struct many *m;
	atomic_bool worked;
	int done_calls;
	bool worked_at_done;
};

/* many_work - count, and note a work() on the loop thread (a bug) */
static void
many_work(void *arg)
{
	struct many_job *j = arg;

	if (pthread_equal(pthread_self(), j->m->loop_thread))
		atomic_fetch_add(&j->m->work_on_loop, 1);
	atomic_store(&j->worked, true);
	atomic_fetch_add(&j->m->worked, 1);
}

/* many_done - count, note the thread; stop after the last */
static void
many_done(void *arg)
{
	struct many_job *j = arg;
	struct many *m = j->m;

	if (!pthread_equal(pthread_self(), m->loop_thread))
		m->done_elsewhere++;
	j->done_calls++;
	j->worked_at_done = atomic_load(&j->worked);
	if (++m->done == m->total)
		evloop_stop(m->loop);
}

/* test_jobs_many - 100 jobs on 4 threads: every work() on the pool,
 * every done() once on the loop thread, after its work() */
static void
test_jobs_many(void **state)
{
	struct evloop *loop = evloop_new(4);
	struct many m = { .loop = loop, .loop_thread = pthread_self(),
	    .total = 100 };
	struct many_job jobs[100];
	struct guard g;
	int i;

	(void)state;
	atomic_init(&m.worked, 0);
	atomic_init(&m.work_on_loop, 0);
	assert_int_equal(evloop_jobs_pending(loop), 0);
	for (i = 0; i < 100; i++) {
		jobs[i].m = &m;
		atomic_init(&jobs[i].worked, false);
		jobs[i].done_calls = 0;
		jobs[i].worked_at_done = false;
		evloop_job_submit(loop, many_work, many_done, &jobs[i]);
	}
	assert_int_equal(evloop_jobs_pending(loop), 100);
	guard_start(&g, loop, 10000);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 0);
	assert_int_equal(m.done, 100);
	assert_int_equal(atomic_load(&m.worked), 100);
	assert_int_equal(atomic_load(&m.work_on_loop), 0);
	assert_int_equal(m.done_elsewhere, 0);
	for (i = 0; i < 100; i++) {
		assert_int_equal(jobs[i].done_calls, 1);
		assert_true(jobs[i].worked_at_done);
	}
	assert_int_equal(evloop_jobs_pending(loop), 0);
	evloop_free(&loop);
}

/* a job whose work() submits another job */
struct chain {
	struct evloop *loop;
	atomic_int worked;
	int done;
};

/* chain_work2 - the follow-up */
static void
chain_work2(void *arg)
{
	struct chain *c = arg;

	atomic_fetch_add(&c->worked, 10);
}

/* chain_done - count, stop after both */
static void
chain_done(void *arg)
{
	struct chain *c = arg;

	if (++c->done == 2)
		evloop_stop(c->loop);
}

/* chain_work1 - submit the follow-up from the pool thread */
static void
chain_work1(void *arg)
{
	struct chain *c = arg;

	atomic_fetch_add(&c->worked, 1);
	evloop_job_submit(c->loop, chain_work2, chain_done, c);
}

/* test_jobs_submit_from_pool - a pool thread may submit */
static void
test_jobs_submit_from_pool(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct chain c = { .loop = loop };
	struct guard g;

	(void)state;
	atomic_init(&c.worked, 0);
	evloop_job_submit(loop, chain_work1, chain_done, &c);
	guard_start(&g, loop, 5000);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 0);
	assert_int_equal(c.done, 2);
	assert_int_equal(atomic_load(&c.worked), 11);
	assert_int_equal(evloop_jobs_pending(loop), 0);
	evloop_free(&loop);
}

/* jobs meeting: how many run at once */
struct meet {
	struct evloop *loop;
	int want;			/* wait until this many run at once */
	atomic_int running, max;
	atomic_int reached;		/* jobs that saw want at once */
	pthread_mutex_t lock;
	pthread_t tids[16];
	int ntids;
	int done, total;
};

/* meet_work - run, note the thread and the peak, wait (up to 3 s)
 * until want jobs run at once */
static void
meet_work(void *arg)
{
	struct meet *m = arg;
	int now = atomic_fetch_add(&m->running, 1) + 1, max, i;
	bool known = false;
	uint64_t until = now_ms() + 3000;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->ntids; i++)
		if (pthread_equal(m->tids[i], pthread_self()))
			known = true;
	if (!known && m->ntids < 16)
		m->tids[m->ntids++] = pthread_self();
	pthread_mutex_unlock(&m->lock);
	max = atomic_load(&m->max);
	while (now > max && !atomic_compare_exchange_weak(&m->max, &max, now))
		;
	while (atomic_load(&m->max) < m->want && now_ms() < until)
		sleep_ms(1);
	if (atomic_load(&m->max) >= m->want)
		atomic_fetch_add(&m->reached, 1);
	sleep_ms(5);
	atomic_fetch_sub(&m->running, 1);
}

/* meet_done - stop after the last */
static void
meet_done(void *arg)
{
	struct meet *m = arg;

	if (++m->done == m->total)
		evloop_stop(m->loop);
}

/* meet_run - total jobs on a pool of threads, meeting want at once */
static void
meet_run(struct meet *m, unsigned threads, int total, int want)
{
	struct guard g;
	int i;

	memset(m, 0, sizeof(*m));
	m->loop = evloop_new(threads);
	m->want = want;
	m->total = total;
	atomic_init(&m->running, 0);
	atomic_init(&m->max, 0);
	atomic_init(&m->reached, 0);
	pthread_mutex_init(&m->lock, NULL);
	for (i = 0; i < total; i++)
		evloop_job_submit(m->loop, meet_work, meet_done, m);
	guard_start(&g, m->loop, 20000);
	assert_true(evloop_run(m->loop));
	assert_int_equal(g.fired, 0);
	assert_int_equal(m->done, total);
	evloop_free(&m->loop);
	pthread_mutex_destroy(&m->lock);
}

/* test_jobs_concurrency - with n threads, n jobs run at once, never
 * more, on n threads */
static void
test_jobs_concurrency(void **state)
{
	struct meet m;

	(void)state;
	meet_run(&m, 4, 4, 4);
	assert_int_equal(atomic_load(&m.reached), 4);
	assert_int_equal(atomic_load(&m.max), 4);
	assert_int_equal(m.ntids, 4);

	meet_run(&m, 2, 6, 2);
	assert_int_equal(atomic_load(&m.reached), 6);
	assert_int_equal(atomic_load(&m.max), 2);
	assert_int_equal(m.ntids, 2);
}

/* jobs noting the order they start and finish in */
struct fifo {
	struct evloop *loop;
	pthread_mutex_t lock;
	int started[20], nstarted;
	int finished[20], nfinished;
};

struct fifo_job {
	struct fifo *f;
	int id;
};

/* fifo_work - note the start */
static void
fifo_work(void *arg)
{
	struct fifo_job *j = arg;

	pthread_mutex_lock(&j->f->lock);
	j->f->started[j->f->nstarted++] = j->id;
	pthread_mutex_unlock(&j->f->lock);
	if (j->id == 0)
		sleep_ms(20);	/* let the others queue up behind it */
}

/* fifo_done - note the finish, stop after the last */
static void
fifo_done(void *arg)
{
	struct fifo_job *j = arg;

	j->f->finished[j->f->nfinished++] = j->id;
	if (j->f->nfinished == 20)
		evloop_stop(j->f->loop);
}

/* test_jobs_fifo - one thread runs jobs in submission order */
static void
test_jobs_fifo(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct fifo f = { .loop = loop };
	struct fifo_job jobs[20];
	struct guard g;
	int i;

	(void)state;
	pthread_mutex_init(&f.lock, NULL);
	for (i = 0; i < 20; i++) {
		jobs[i].f = &f;
		jobs[i].id = i;
		evloop_job_submit(loop, fifo_work, fifo_done, &jobs[i]);
	}
	guard_start(&g, loop, 5000);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 0);
	assert_int_equal(f.nstarted, 20);
	assert_int_equal(f.nfinished, 20);
	for (i = 0; i < 20; i++) {
		assert_int_equal(f.started[i], i);
		assert_int_equal(f.finished[i], i);
	}
	evloop_free(&loop);
	pthread_mutex_destroy(&f.lock);
}

/* jobs still running when the loop is freed */
struct flight {
	struct evloop *loop;
	atomic_int finished;
	atomic_bool submitted, follow_up;
	int done_calls;
};

/* flight_follow - the job submitted during evloop_free() */
static void
flight_follow(void *arg)
{
	struct flight *f = arg;

	sleep_ms(10);
	atomic_store(&f->follow_up, true);
}

/* flight_done - must not run */
static void
flight_done(void *arg)
{
	struct flight *f = arg;

	f->done_calls++;
}

/* flight_work - take a while, then count */
static void
flight_work(void *arg)
{
	struct flight *f = arg;

	sleep_ms(30);
	atomic_fetch_add(&f->finished, 1);
}

/* flight_first - like flight_work, and submit a follow-up late */
static void
flight_first(void *arg)
{
	struct flight *f = arg;

	flight_work(arg);
	evloop_job_submit(f->loop, flight_follow, flight_done, f);
	atomic_store(&f->submitted, true);
}

/* test_free_in_flight - evloop_free() waits for the work() of every job
 * (running, queued, or submitted meanwhile by a work()), calls no done(),
 * and frees what is left registered (valgrind checks the leaks) */
static void
test_free_in_flight(void **state)
{
	struct evloop *loop = evloop_new(2);
	struct flight f = { .loop = loop };
	struct evloop_watch *w;
	struct evloop_timer *t;
	uint64_t until = now_ms() + 5000;
	int i, p[2], n = 0;

	(void)state;
	atomic_init(&f.finished, 0);
	atomic_init(&f.submitted, false);
	atomic_init(&f.follow_up, false);
	make_pipe(p, "x");
	assert_non_null(w = evloop_watch(loop, p[0], EVLOOP_READ, rec_io,
	    NULL));
	t = evloop_timer_new(loop, count_fire, &n);
	evloop_timer_arm(t, 1000);
	evloop_job_submit(loop, flight_first, flight_done, &f);
	for (i = 0; i < 5; i++)
		evloop_job_submit(loop, flight_work, flight_done, &f);
	/* the first two finish (their done() calls wait in vain), four
	 * wait or run, the follow-up is on its way */
	while (!atomic_load(&f.submitted) && now_ms() < until)
		sleep_ms(1);
	assert_true(atomic_load(&f.submitted));
	assert_int_equal(evloop_jobs_pending(loop), 7);
	evloop_free(&loop);
	assert_null(loop);
	assert_int_equal(atomic_load(&f.finished), 6);
	assert_true(atomic_load(&f.follow_up));
	assert_int_equal(f.done_calls, 0);
	assert_int_equal(n, 0);
	close(p[0]);
	close(p[1]);
}

/* jobs noting what evloop_jobs_pending() says in done() */
struct pend {
	struct evloop *loop;
	atomic_int worked;
	unsigned seen[3];
	int n;
};

/* pend_work - count */
static void
pend_work(void *arg)
{
	struct pend *p = arg;

	atomic_fetch_add(&p->worked, 1);
}

/* pend_done - note the count, stop after the last */
static void
pend_done(void *arg)
{
	struct pend *p = arg;

	p->seen[p->n++] = evloop_jobs_pending(p->loop);
	if (p->n == 3)
		evloop_stop(p->loop);
}

/* test_jobs_pending - a job counts from submission until its done()
 * runs (not until its work() ends) */
static void
test_jobs_pending(void **state)
{
	struct evloop *loop = evloop_new(1);
	struct pend p = { .loop = loop };
	uint64_t until = now_ms() + 5000;
	struct guard g;
	int i;

	(void)state;
	atomic_init(&p.worked, 0);
	assert_int_equal(evloop_jobs_pending(loop), 0);
	for (i = 0; i < 3; i++)
		evloop_job_submit(loop, pend_work, pend_done, &p);
	assert_int_equal(evloop_jobs_pending(loop), 3);
	while (atomic_load(&p.worked) < 3 && now_ms() < until)
		sleep_ms(1);
	assert_int_equal(atomic_load(&p.worked), 3);
	assert_int_equal(evloop_jobs_pending(loop), 3);
	guard_start(&g, loop, 5000);
	assert_true(evloop_run(loop));
	assert_int_equal(g.fired, 0);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.seen[0], 2);
	assert_int_equal(p.seen[1], 1);
	assert_int_equal(p.seen[2], 0);
	assert_int_equal(evloop_jobs_pending(loop), 0);
	evloop_free(&loop);
}

/* --- bugs ---------------------------------------------------------------- */

/* the loop of a child about to panic: kept reachable so that valgrind
 * does not report it lost when the child aborts */
static struct evloop *panic_loop;

/* new_zero - a pool of no threads */
static void
new_zero(void)
{
	evloop_new(0);
}

/* bad_events - events beyond READ|WRITE */
static void
bad_events(void)
{
	int p[2];

	panic_loop = evloop_new(1);
	make_pipe(p, NULL);
	evloop_watch(panic_loop, p[0], 4, rec_io, NULL);
}

/* closed_behind - the fd closed while still watched, then changed */
static void
closed_behind(void)
{
	struct evloop_watch *w;
	int p[2];

	panic_loop = evloop_new(1);
	make_pipe(p, NULL);
	w = evloop_watch(panic_loop, p[0], EVLOOP_READ, rec_io, NULL);
	close(p[0]);
	evloop_watch_set(w, EVLOOP_WRITE);
}

/* null_done - a job without done() */
static void
null_done(void)
{
	panic_loop = evloop_new(1);
	evloop_job_submit(panic_loop, pend_work, NULL, NULL);
}

/* test_bugs - misuse panics; NULL is fine for the destroy functions */
static void
test_bugs(void **state)
{
	struct evloop *loop = NULL;
	struct evloop_watch *w = NULL;
	struct evloop_timer *t = NULL;

	(void)state;
	testutil_expect_abort(new_zero);
	testutil_expect_abort(bad_events);
	testutil_expect_abort(closed_behind);
	testutil_expect_abort(null_done);
	evloop_free(&loop);
	evloop_unwatch(&w);
	evloop_timer_free(&t);
}

int
main(void)
{
	/* the panics first: a child forked after threads ran inherits
	 * their cached stacks, which valgrind reports as possibly lost */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bugs),
		cmocka_unit_test(test_pipe_read),
		cmocka_unit_test(test_pipe_write),
		cmocka_unit_test(test_socketpair),
		cmocka_unit_test(test_hangup_error),
		cmocka_unit_test(test_level_triggered),
		cmocka_unit_test(test_watch_set_zero),
		cmocka_unit_test(test_unwatch_same_round),
		cmocka_unit_test(test_unwatch_self),
		cmocka_unit_test(test_watch_refused),
		cmocka_unit_test(test_timer_order),
		cmocka_unit_test(test_timer_rearm_self),
		cmocka_unit_test(test_timer_zero_no_starve),
		cmocka_unit_test(test_timer_cancel),
		cmocka_unit_test(test_timer_precision),
		cmocka_unit_test(test_stop_thread),
		cmocka_unit_test(test_stop_signal),
		cmocka_unit_test(test_stop_between_callbacks),
		cmocka_unit_test(test_stop_before_run),
		cmocka_unit_test(test_jobs_many),
		cmocka_unit_test(test_jobs_submit_from_pool),
		cmocka_unit_test(test_jobs_concurrency),
		cmocka_unit_test(test_jobs_fifo),
		cmocka_unit_test(test_free_in_flight),
		cmocka_unit_test(test_jobs_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
