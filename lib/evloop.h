/*
 * evloop.h - an event loop for one thread, with timers and a pool of
 * threads for blocking work
 *
 * Contract: a loop belongs to the thread that runs evloop_run(); every
 * function here except evloop_job_submit() and evloop_stop() must be
 * called on that thread (a panic otherwise is not promised; it is a bug).
 * Callbacks run on the loop thread, one at a time, so state reached only
 * from callbacks needs no locks.
 *
 * I/O: evloop_watch() registers an fd with the events wanted (EVLOOP_READ,
 * EVLOOP_WRITE, both, or none); the callback gets the events that are
 * ready (an error or hang-up is reported as READ|WRITE, limited to the
 * events wanted, so a reader finds it in read()). Level-triggered: a
 * callback that does not drain its fd is called again.
 * evloop_watch_set() changes the events;
 * evloop_unwatch() removes the fd before the caller closes it (and no
 * callback for it runs after the call returns, even one already ready in
 * the same round).
 *
 * Timers: one-shot, monotonic clock, millisecond resolution; a timer can
 * be re-armed or cancelled at any time, also from its own callback.
 * Timers due at the same time run in the order they were armed.
 *
 * Jobs: evloop_job_submit() hands work to the loop's pool (size given to
 * evloop_new, threads started lazily up to that size); work() runs on a
 * pool thread and must not touch loop state; done() then runs on the loop
 * thread. Jobs start in submission order; with n threads, up to n run at
 * once. A job cannot be cancelled: its owner must stay alive until done()
 * (owners that die early mark themselves and let done() free them).
 *
 * Stopping: evloop_stop() makes evloop_run() return after the current
 * callback. evloop_free() waits until every submitted job has finished
 * work(), then drops the done() calls not yet made (their owners are
 * being torn down too) and joins the threads.
 */
#ifndef POSTERN_EVLOOP_H
#define POSTERN_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

enum {
	EVLOOP_READ = 1 << 0,
	EVLOOP_WRITE = 1 << 1,
};

struct evloop;
struct evloop_watch;
struct evloop_timer;

typedef void evloop_io_fn(struct evloop_watch *w, int fd, unsigned events,
    void *arg);
typedef void evloop_timer_fn(struct evloop_timer *t, void *arg);
typedef void evloop_work_fn(void *arg);
typedef void evloop_done_fn(void *arg);

/* evloop_new - a loop whose pool has up to threads threads (>= 1) */
struct evloop *evloop_new(unsigned threads);
/* evloop_free - see the contract; sets *loop NULL; NULL ok. Watches and
 * timers still registered are freed too (fds are not closed). */
void evloop_free(struct evloop **loop);

/* evloop_run - dispatch until evloop_stop(); false if epoll failed */
bool evloop_run(struct evloop *loop);
/* evloop_stop - return from evloop_run soon; any thread, also a signal
 * handler (it only writes to an eventfd) */
void evloop_stop(struct evloop *loop);
/* evloop_now - monotonic milliseconds, cached per loop round */
uint64_t evloop_now(struct evloop *loop);

/* evloop_watch - watch fd; NULL (errno set) if epoll refuses it */
struct evloop_watch *evloop_watch(struct evloop *loop, int fd,
    unsigned events, evloop_io_fn *fn, void *arg);
/* evloop_watch_set - change the events wanted (0: none for now) */
void evloop_watch_set(struct evloop_watch *w, unsigned events);
/* evloop_unwatch - stop watching (fd stays open); sets *w NULL; NULL ok */
void evloop_unwatch(struct evloop_watch **w);

/* evloop_timer_new - a timer, not armed */
struct evloop_timer *evloop_timer_new(struct evloop *loop,
    evloop_timer_fn *fn, void *arg);
/* evloop_timer_arm - fire once after ms milliseconds (re-arming moves it) */
void evloop_timer_arm(struct evloop_timer *t, uint64_t ms);
/* evloop_timer_cancel - disarm; harmless if not armed */
void evloop_timer_cancel(struct evloop_timer *t);
/* evloop_timer_free - cancel and free; sets *t NULL; NULL ok */
void evloop_timer_free(struct evloop_timer **t);

/* evloop_job_submit - run work(arg) on the pool, then done(arg) on the
 * loop thread; any thread; never fails (aborts on OOM) */
void evloop_job_submit(struct evloop *loop, evloop_work_fn *work,
    evloop_done_fn *done, void *arg);
/* evloop_jobs_pending - jobs submitted whose done() has not run yet */
unsigned evloop_jobs_pending(const struct evloop *loop);

#endif
