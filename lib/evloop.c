/*
 * evloop.c - an event loop for one thread: epoll, a timer heap and a
 * pool of threads for blocking work
 *
 * Level-triggered epoll plus one eventfd that other threads and signal
 * handlers write to: evloop_stop() and finished jobs both wake the loop
 * through it, so the loop never sleeps on a lock.
 *
 * A round waits until the first timer is due, reads the clock once, then
 * runs the I/O callbacks, the done() calls of finished jobs and the
 * timers that were due when the round began. A watch removed during a
 * round is only marked dead and freed when the round ends: epoll may have
 * reported it in the same batch, and that event still points at it.
 *
 * Timers live in a binary min-heap ordered by (deadline, arm sequence);
 * each timer knows its slot, so cancel and re-arm are O(log n).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "mem.h"

#define EVLOOP_EVENTS	128		/* epoll events taken per round */
#define EVLOOP_UNARMED	SIZE_MAX	/* heap slot of a timer not armed */
#define EVLOOP_ALL	(EVLOOP_READ | EVLOOP_WRITE)

/* evloop_stop() runs in signal handlers: only lock-free atomics are safe */
#if ATOMIC_BOOL_LOCK_FREE != 2
#error "evloop needs a lock-free atomic_bool"
#endif

struct evloop_watch {
	struct evloop *loop;
	struct evloop_watch *prev, *next;	/* live list, or dead list */
	int fd;
	unsigned events;		/* wanted */
	bool registered;		/* in the epoll set (events != 0) */
	bool dead;			/* unwatched, freed at round end */
	evloop_io_fn *fn;
	void *arg;
};

struct evloop_timer {
	struct evloop *loop;
	struct evloop_timer *prev, *next;	/* every timer of the loop */
	uint64_t deadline;		/* monotonic ms */
	uint64_t seq;			/* arm order: breaks deadline ties */
	size_t slot;			/* heap index, or EVLOOP_UNARMED */
	evloop_timer_fn *fn;
	void *arg;
};

struct evloop_job {
	struct evloop_job *next;
	evloop_work_fn *work;
	evloop_done_fn *done;
	void *arg;
};

/* a FIFO of jobs */
struct evloop_jobq {
	struct evloop_job *head, **tail;
};

struct evloop {
	int epfd, wakefd;
	atomic_bool stop;
	atomic_uint pending;		/* submitted, done() not yet run */
	bool running;			/* inside evloop_run() */
	bool dispatching;		/* inside a round's callbacks */
	uint64_t now;			/* the round's clock */
	struct epoll_event ev[EVLOOP_EVENTS];
	struct evloop_watch *watches, *dead;
	struct evloop_timer *timers;
	struct evloop_timer **heap;
	size_t nheap, heap_size;
	uint64_t seq;			/* next arm sequence */
	struct evloop_jobq finished;	/* taken from done; loop thread only */

	/* the pool: what follows is shared with its threads, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* a job is queued, or quit */
	struct evloop_jobq queue;	/* submitted, work() not started */
	struct evloop_jobq done;	/* work() finished */
	unsigned queued;		/* jobs in queue */
	unsigned idle;			/* threads waiting on cond */
	unsigned nthreads, max_threads;
	bool quit;			/* evloop_free(): drain, then exit */
	pthread_t *threads;
};

/* epoll_ctl operations by number, for panic messages */
static const char *const evloop_ctl_names[] = {
	[EPOLL_CTL_ADD] = "add",
	[EPOLL_CTL_DEL] = "del",
	[EPOLL_CTL_MOD] = "mod",
};

/* signals a pool thread still takes: faults must reach the handler of
 * the sanitizers (a blocked fault signal kills without it) */
static const int evloop_fault_signals[] = {
	SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, 0
};

/* --- clock and wake-ups ------------------------------------------------ */

/* evloop_clock - CLOCK_MONOTONIC in milliseconds */
static uint64_t
evloop_clock(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		log_panic("evloop: clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* evloop_wake - make epoll_wait() return; async-signal-safe, keeps
 * errno since it may interrupt any code */
static void
evloop_wake(struct evloop *loop)
{
	uint64_t one = 1;
	int saved = errno;
	ssize_t n;

	/* the only failure, EAGAIN, means the counter is already huge:
	 * the loop is awake anyway */
	n = write(loop->wakefd, &one, sizeof(one));
	(void)n;
	errno = saved;
}

/* --- job queues ---------------------------------------------------------- */

/* evloop_jobq_init - empty q */
static void
evloop_jobq_init(struct evloop_jobq *q)
{
	q->head = NULL;
	q->tail = &q->head;
}

/* evloop_jobq_put - append job */
static void
evloop_jobq_put(struct evloop_jobq *q, struct evloop_job *job)
{
	job->next = NULL;
	*q->tail = job;
	q->tail = &job->next;
}

/* evloop_jobq_take - the first job, removed; NULL if empty */
static struct evloop_job *
evloop_jobq_take(struct evloop_jobq *q)
{
	struct evloop_job *job = q->head;

	if (job != NULL && (q->head = job->next) == NULL)
		q->tail = &q->head;
	return job;
}

/* evloop_jobq_move - append all of from to to, leaving from empty */
static void
evloop_jobq_move(struct evloop_jobq *to, struct evloop_jobq *from)
{
	if (from->head == NULL)
		return;
	*to->tail = from->head;
	to->tail = from->tail;
	evloop_jobq_init(from);
}

/* evloop_jobq_drop - free every job without running anything */
static void
evloop_jobq_drop(struct evloop_jobq *q)
{
	struct evloop_job *job;

	while ((job = evloop_jobq_take(q)) != NULL)
		free(job);
}

/* --- the pool ------------------------------------------------------------ */

/* evloop_worker - a pool thread: jobs in queue order until evloop_free()
 * says quit and the queue is empty */
static void *
evloop_worker(void *arg)
{
	struct evloop *loop = arg;
	struct evloop_job *job;
	bool wake;

	pthread_mutex_lock(&loop->lock);
	for (;;) {
		while (loop->queue.head == NULL && !loop->quit) {
			loop->idle++;
			pthread_cond_wait(&loop->cond, &loop->lock);
			loop->idle--;
		}
		if ((job = evloop_jobq_take(&loop->queue)) == NULL)
			break;
		loop->queued--;
		pthread_mutex_unlock(&loop->lock);
		job->work(job->arg);
		pthread_mutex_lock(&loop->lock);
		/* one wake-up per batch is enough: the loop drains the
		 * eventfd before it takes the list, so a job added to a
		 * list not yet taken goes with the others */
		wake = loop->done.head == NULL;
		evloop_jobq_put(&loop->done, job);
		if (wake)
			evloop_wake(loop);
	}
	pthread_mutex_unlock(&loop->lock);
	return NULL;
}

/* evloop_spawn - one more pool thread; the caller holds the lock */
static void
evloop_spawn(struct evloop *loop)
{
	sigset_t set, old;
	const int *sig;
	int err;

	/* signals go to the threads that expect them, and work() is never
	 * interrupted by one; the mask is inherited, so set it around
	 * the creation */
	sigfillset(&set);
	for (sig = evloop_fault_signals; *sig != 0; sig++)
		sigdelset(&set, *sig);
	pthread_sigmask(SIG_SETMASK, &set, &old);
	err = pthread_create(&loop->threads[loop->nthreads], NULL,
	    evloop_worker, loop);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err == 0) {
		loop->nthreads++;
		return;
	}
	/* like memory: with no thread at all, jobs would never run */
	if (loop->nthreads == 0)
		log_panic("evloop: pthread_create: %s", strerror(err));
	log_warn("evloop: pthread_create: %s (pool stays at %u threads)",
	    strerror(err), loop->nthreads);
}

/* evloop_job_submit - run work(arg) on the pool, then done(arg) on the
 * loop thread */
void
evloop_job_submit(struct evloop *loop, evloop_work_fn *work,
    evloop_done_fn *done, void *arg)
{
	struct evloop_job *job;

	if (work == NULL || done == NULL)
		log_panic("evloop_job_submit: work or done is NULL");
	job = xmalloc(sizeof(*job));
	job->work = work;
	job->done = done;
	job->arg = arg;
	atomic_fetch_add(&loop->pending, 1);
	pthread_mutex_lock(&loop->lock);
	evloop_jobq_put(&loop->queue, job);
	loop->queued++;
	/* every waiting thread takes one job, but a signalled one may not
	 * have woken yet: so start a thread for each queued job beyond
	 * the waiting ones (not while quitting: the threads still there
	 * drain the queue, and evloop_free() has counted them) */
	if (loop->queued > loop->idle && loop->nthreads < loop->max_threads &&
	    !loop->quit)
		evloop_spawn(loop);
	pthread_cond_signal(&loop->cond);
	pthread_mutex_unlock(&loop->lock);
}

/* evloop_jobs_pending - jobs submitted whose done() has not run yet */
unsigned
evloop_jobs_pending(const struct evloop *loop)
{
	return atomic_load(&loop->pending);
}

/* --- timers -------------------------------------------------------------- */

/* evloop_before - whether a fires before b */
static bool
evloop_before(const struct evloop_timer *a, const struct evloop_timer *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

/* evloop_heap_set - put t in slot i */
static void
evloop_heap_set(struct evloop *loop, size_t i, struct evloop_timer *t)
{
	loop->heap[i] = t;
	t->slot = i;
}

/* evloop_heap_up - move the timer in slot i up to its place */
static void
evloop_heap_up(struct evloop *loop, size_t i)
{
	struct evloop_timer *t = loop->heap[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!evloop_before(t, loop->heap[parent]))
			break;
		evloop_heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	evloop_heap_set(loop, i, t);
}

/* evloop_heap_down - move the timer in slot i down to its place */
static void
evloop_heap_down(struct evloop *loop, size_t i)
{
	struct evloop_timer *t = loop->heap[i];
	size_t child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= loop->nheap)
			break;
		if (child + 1 < loop->nheap &&
		    evloop_before(loop->heap[child + 1], loop->heap[child]))
			child++;
		if (!evloop_before(loop->heap[child], t))
			break;
		evloop_heap_set(loop, i, loop->heap[child]);
		i = child;
	}
	evloop_heap_set(loop, i, t);
}

/* evloop_heap_fix - restore the order around slot i after its key moved
 * either way */
static void
evloop_heap_fix(struct evloop *loop, size_t i)
{
	if (i > 0 && evloop_before(loop->heap[i], loop->heap[(i - 1) / 2]))
		evloop_heap_up(loop, i);
	else
		evloop_heap_down(loop, i);
}

/* evloop_heap_remove - take the armed timer t out of the heap */
static void
evloop_heap_remove(struct evloop *loop, struct evloop_timer *t)
{
	size_t i = t->slot;
	struct evloop_timer *last = loop->heap[--loop->nheap];

	t->slot = EVLOOP_UNARMED;
	if (last == t)
		return;
	evloop_heap_set(loop, i, last);
	evloop_heap_fix(loop, i);
}

/* evloop_timer_new - a timer, not armed */
struct evloop_timer *
evloop_timer_new(struct evloop *loop, evloop_timer_fn *fn, void *arg)
{
	struct evloop_timer *t = xcalloc(1, sizeof(*t));

	t->loop = loop;
	t->fn = fn;
	t->arg = arg;
	t->slot = EVLOOP_UNARMED;
	if ((t->next = loop->timers) != NULL)
		t->next->prev = t;
	loop->timers = t;
	return t;
}

/* evloop_timer_arm - fire once after ms milliseconds */
void
evloop_timer_arm(struct evloop_timer *t, uint64_t ms)
{
	struct evloop *loop = t->loop;
	uint64_t now = evloop_clock();

	/* the clock now, not the round's: time may have passed since the
	 * round began (or since the last round), and a timer must not
	 * fire before ms have passed */
	t->deadline = ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
	t->seq = loop->seq++;
	if (t->slot != EVLOOP_UNARMED) {
		evloop_heap_fix(loop, t->slot);
		return;
	}
	if (loop->nheap == loop->heap_size) {
		loop->heap_size = loop->heap_size ? 2 * loop->heap_size : 16;
		loop->heap = xrealloc(loop->heap,
		    loop->heap_size * sizeof(*loop->heap));
	}
	evloop_heap_set(loop, loop->nheap++, t);
	evloop_heap_up(loop, t->slot);
}

/* evloop_timer_cancel - disarm; harmless if not armed */
void
evloop_timer_cancel(struct evloop_timer *t)
{
	if (t->slot != EVLOOP_UNARMED)
		evloop_heap_remove(t->loop, t);
}

/* evloop_timer_free - cancel and free; sets *tp NULL; NULL ok */
void
evloop_timer_free(struct evloop_timer **tp)
{
	struct evloop_timer *t = *tp;

	if (t == NULL)
		return;
	*tp = NULL;
	evloop_timer_cancel(t);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		t->loop->timers = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	free(t);
}

/* --- watches ------------------------------------------------------------- */

/* evloop_epoll_events - the epoll mask for events */
static uint32_t
evloop_epoll_events(unsigned events)
{
	return (events & EVLOOP_READ ? EPOLLIN : 0) |
	    (events & EVLOOP_WRITE ? EPOLLOUT : 0);
}

/* evloop_ctl - change the epoll set for a watch evloop_watch() accepted:
 * failing means the fd was closed or replaced behind our back (a bug)
 * or the kernel has no memory left, which we treat like xmalloc() */
static void
evloop_ctl(struct evloop_watch *w, int op)
{
	struct epoll_event ev = {
		.events = evloop_epoll_events(w->events),
		.data.ptr = w,
	};

	if (epoll_ctl(w->loop->epfd, op, w->fd, &ev) < 0)
		log_panic("evloop: epoll_ctl %s fd %d: %s",
		    evloop_ctl_names[op], w->fd, strerror(errno));
	w->registered = op != EPOLL_CTL_DEL;
}

/* evloop_watch - watch fd; NULL (errno set) if epoll refuses it */
struct evloop_watch *
evloop_watch(struct evloop *loop, int fd, unsigned events,
    evloop_io_fn *fn, void *arg)
{
	struct evloop_watch *w;
	struct epoll_event ev;
	int saved;

	if (events & ~EVLOOP_ALL)
		log_panic("evloop_watch: events %#x", events);
	w = xcalloc(1, sizeof(*w));
	w->loop = loop;
	w->fd = fd;
	w->events = events;
	w->fn = fn;
	w->arg = arg;
	/* added even when nothing is wanted, so that an fd epoll refuses
	 * (a regular file, a closed fd) is refused here and not in a later
	 * evloop_watch_set() that cannot fail */
	ev.events = evloop_epoll_events(events);
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		saved = errno;
		free(w);
		errno = saved;
		return NULL;
	}
	w->registered = true;
	if (events == 0)
		evloop_ctl(w, EPOLL_CTL_DEL);
	if ((w->next = loop->watches) != NULL)
		w->next->prev = w;
	loop->watches = w;
	return w;
}

/* evloop_watch_set - change the events wanted (0: none for now) */
void
evloop_watch_set(struct evloop_watch *w, unsigned events)
{
	if (events & ~EVLOOP_ALL)
		log_panic("evloop_watch_set: events %#x", events);
	if (events == w->events)
		return;
	w->events = events;
	/* epoll reports errors and hang-ups even for an empty mask, and
	 * level-triggered it would report them every round: wanting
	 * nothing has to leave the set */
	if (events == 0)
		evloop_ctl(w, EPOLL_CTL_DEL);
	else
		evloop_ctl(w, w->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD);
}

/* evloop_unwatch - stop watching (fd stays open); sets *wp NULL */
void
evloop_unwatch(struct evloop_watch **wp)
{
	struct evloop_watch *w = *wp;
	struct evloop *loop;

	if (w == NULL)
		return;
	*wp = NULL;
	loop = w->loop;
	if (w->registered)
		evloop_ctl(w, EPOLL_CTL_DEL);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		loop->watches = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	if (!loop->dispatching) {
		free(w);
		return;
	}
	w->dead = true;
	w->prev = NULL;
	w->next = loop->dead;
	loop->dead = w;
}

/* evloop_watch_list_free - free a list of watches */
static void
evloop_watch_list_free(struct evloop_watch **list)
{
	struct evloop_watch *w;

	while ((w = *list) != NULL) {
		*list = w->next;
		free(w);
	}
}

/* --- the loop ------------------------------------------------------------ */

/* evloop_new - a loop whose pool has up to threads threads (>= 1) */
struct evloop *
evloop_new(unsigned threads)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct evloop *loop;

	if (threads == 0)
		log_panic("evloop_new: a pool of 0 threads");
	loop = xcalloc(1, sizeof(*loop));
	if ((loop->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		log_fatal("evloop: epoll_create1: %s", strerror(errno));
	if ((loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		log_fatal("evloop: eventfd: %s", strerror(errno));
	/* the eventfd is the one entry whose data is NULL */
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0)
		log_fatal("evloop: epoll_ctl add eventfd: %s",
		    strerror(errno));
	atomic_init(&loop->stop, false);
	atomic_init(&loop->pending, 0);
	loop->now = evloop_clock();
	evloop_jobq_init(&loop->finished);
	evloop_jobq_init(&loop->queue);
	evloop_jobq_init(&loop->done);
	pthread_mutex_init(&loop->lock, NULL);
	pthread_cond_init(&loop->cond, NULL);
	loop->max_threads = threads;
	loop->threads = xcalloc(threads, sizeof(*loop->threads));
	return loop;
}

/* evloop_free - wait for every work(), drop done() calls not made, join
 * the pool, free what is still registered; sets *lp NULL; NULL ok */
void
evloop_free(struct evloop **lp)
{
	struct evloop *loop = *lp;
	struct evloop_timer *t;
	unsigned i, n;

	if (loop == NULL)
		return;
	*lp = NULL;
	if (loop->running)
		log_panic("evloop_free: the loop is running");
	pthread_mutex_lock(&loop->lock);
	loop->quit = true;
	n = loop->nthreads;
	pthread_cond_broadcast(&loop->cond);
	pthread_mutex_unlock(&loop->lock);
	for (i = 0; i < n; i++)
		pthread_join(loop->threads[i], NULL);
	evloop_jobq_drop(&loop->queue);
	evloop_jobq_drop(&loop->done);
	evloop_jobq_drop(&loop->finished);
	evloop_watch_list_free(&loop->watches);
	evloop_watch_list_free(&loop->dead);
	while ((t = loop->timers) != NULL) {
		loop->timers = t->next;
		free(t);
	}
	free(loop->heap);
	free(loop->threads);
	pthread_cond_destroy(&loop->cond);
	pthread_mutex_destroy(&loop->lock);
	close(loop->wakefd);
	close(loop->epfd);
	free(loop);
}

/* evloop_stop - return from evloop_run soon; any thread, also a signal
 * handler */
void
evloop_stop(struct evloop *loop)
{
	atomic_store(&loop->stop, true);
	evloop_wake(loop);
}

/* evloop_now - monotonic milliseconds, cached per loop round */
uint64_t
evloop_now(struct evloop *loop)
{
	return loop->now;
}

/* evloop_stopping - whether evloop_stop() asked to return; checked
 * before every callback */
static bool
evloop_stopping(struct evloop *loop)
{
	return atomic_load(&loop->stop);
}

/* evloop_take_done - drain the eventfd, then take the finished jobs (in
 * this order: see evloop_worker) */
static void
evloop_take_done(struct evloop *loop)
{
	uint64_t count;
	ssize_t n;

	/* EAGAIN: a wake-up already drained, its jobs already taken */
	n = read(loop->wakefd, &count, sizeof(count));
	(void)n;
	pthread_mutex_lock(&loop->lock);
	evloop_jobq_move(&loop->finished, &loop->done);
	pthread_mutex_unlock(&loop->lock);
}

/* evloop_timeout - how long epoll_wait() may sleep, in ms (-1: forever) */
static int
evloop_timeout(struct evloop *loop)
{
	uint64_t now, deadline;

	if (loop->finished.head != NULL)
		return 0;
	if (loop->nheap == 0)
		return -1;
	now = evloop_clock();
	deadline = loop->heap[0]->deadline;
	if (deadline <= now)
		return 0;
	return deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
}

/* evloop_run_io - the callbacks of the n ready fds */
static void
evloop_run_io(struct evloop *loop, int n)
{
	struct evloop_watch *w;
	uint32_t got;
	unsigned events;
	int i;

	for (i = 0; i < n && !evloop_stopping(loop); i++) {
		got = loop->ev[i].events;
		if ((w = loop->ev[i].data.ptr) == NULL) {
			evloop_take_done(loop);
			continue;
		}
		if (w->dead)
			continue;
		events = 0;
		if (got & EPOLLIN)
			events |= EVLOOP_READ;
		if (got & EPOLLOUT)
			events |= EVLOOP_WRITE;
		if (got & (EPOLLERR | EPOLLHUP))
			events |= EVLOOP_ALL;
		/* an earlier callback of this round may have changed what
		 * this watch wants */
		if ((events &= w->events) != 0)
			w->fn(w, w->fd, events, w->arg);
	}
}

/* evloop_run_done - the done() calls of finished jobs, in the order
 * their work() finished */
static void
evloop_run_done(struct evloop *loop)
{
	struct evloop_job *job;
	evloop_done_fn *done;
	void *arg;

	while (!evloop_stopping(loop) &&
	    (job = evloop_jobq_take(&loop->finished)) != NULL) {
		done = job->done;
		arg = job->arg;
		free(job);
		atomic_fetch_sub(&loop->pending, 1);
		done(arg);
	}
}

/* evloop_run_timers - the timers due when the round began */
static void
evloop_run_timers(struct evloop *loop)
{
	uint64_t until = loop->seq;
	struct evloop_timer *t;

	/* a timer armed from here on (a callback re-arming its own timer
	 * for 0 ms) waits for the next round: otherwise it could keep
	 * this loop, and I/O, waiting forever. It sorts after every timer
	 * due now (its deadline is not earlier, its sequence is higher),
	 * so meeting it at the top means the rest can wait too. */
	while (loop->nheap > 0 && !evloop_stopping(loop)) {
		t = loop->heap[0];
		if (t->deadline > loop->now || t->seq >= until)
			break;
		evloop_heap_remove(loop, t);
		t->fn(t, t->arg);
	}
}

/* evloop_run - dispatch until evloop_stop(); false (errno set) if
 * epoll_wait() failed. A stop asked before the call is not lost: it
 * makes the call return at once. */
bool
evloop_run(struct evloop *loop)
{
	bool ok = true;
	int n;

	if (loop->running)
		log_panic("evloop_run: the loop is already running");
	loop->running = true;
	while (!atomic_exchange(&loop->stop, false)) {
		n = epoll_wait(loop->epfd, loop->ev, EVLOOP_EVENTS,
		    evloop_timeout(loop));
		if (n < 0) {
			if (errno != EINTR) {
				ok = false;
				break;
			}
			n = 0;
		}
		loop->now = evloop_clock();
		loop->dispatching = true;
		evloop_run_io(loop, n);
		evloop_run_done(loop);
		evloop_run_timers(loop);
		loop->dispatching = false;
		evloop_watch_list_free(&loop->dead);
	}
	loop->running = false;
	return ok;
}
