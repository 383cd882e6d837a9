/*
 * anvil.c - session and AUTH failure counters shared by the smtpd workers
 *
 * Everything lives in one anonymous MAP_SHARED mapping: a header (the
 * robust process-shared lock, the session counts of each worker, the
 * overflow slot) and two tables of client slots, of which one is current.
 * A table is open addressing with linear probing and tombstones; when
 * too few empty slots are left the live ones are copied into the other
 * table and the current index flips, so the table is rebuilt without a
 * moment in which it is half-built where anyone can see it.
 *
 * Counts are kept per worker pid, both in the header (for the total)
 * and in every slot, and every figure is a sum over those pairs. So
 * anvil_forget_pid() only clears the pairs of the dead worker, and a
 * worker killed in the middle of an update (the robust lock then tells
 * the next locker) leaves at worst its own pairs off, which the parent
 * clears when it forgets that pid. Every update is written so that the
 * store that makes it visible comes last (a slot's state, a pair's
 * count, the current table), so a process that dies between two stores
 * never leaves a slot that is half one client and half another.
 *
 * Limits of the per-worker pairs: a slot has ANVIL_SLOT_PIDS of them and
 * the header ANVIL_PIDS; sessions of further workers are counted in an
 * "other" counter that anvil_forget_pid() cannot attribute, so such
 * sessions of a dead worker stay counted until the table is made anew.
 * With the mta's at most 64 workers (twice that across a reload) the
 * header never runs out; a slot does only when one client has sessions
 * in more than ANVIL_SLOT_PIDS workers at once.
 *
 * AUTH failures: each slot keeps the times of its last ANVIL_FAIL_RING
 * failures, which answer exactly while fewer than that many fall in the
 * window. Beyond that the answer comes from two fixed buckets of one
 * window each (the count of the current one plus the previous one's
 * count scaled by how much of it still overlaps the window, or none of
 * it once its last failure has left the window), rounded up, and never
 * below ANVIL_FAIL_RING: an estimate that errs towards refusing, but
 * does not grow without bound for a slow steady client, and lets a
 * limit above the ring size still be reached.
 *
 * A slot is free again when its client has no sessions and its last
 * failure is older than the window given with it. "Older" is judged by
 * the latest now any AUTH call has passed (the table has no clock of
 * its own: now is the caller's), so a slot kept for failures is freed
 * once the callers' time has moved past it.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "anvil.h"
#include "log.h"

#define ANVIL_DEFAULT_SLOTS	4096
#define ANVIL_MAX_SLOTS		(1u << 22)
#define ANVIL_PIDS		256	/* workers told apart in the total */
#define ANVIL_SLOT_PIDS		16	/* ... and in one slot */
#define ANVIL_FAIL_RING		8	/* failures known exactly */
#define ANVIL_KEY_LEN		16

enum anvil_state {
	ANVIL_EMPTY,			/* unused since the last rebuild */
	ANVIL_USED,
	ANVIL_TOMB,			/* was used: probes go past it */
};

/* Sessions of one worker; count 0 = the pair is free, whatever pid. */
struct anvil_pid {
	int32_t pid;
	uint32_t count;
};

/* Failures counted in two buckets of one window each. */
struct anvil_buckets {
	double start;			/* of the current bucket */
	double prev_last;		/* last failure of the previous */
	uint32_t cur;			/* failures in the current */
	uint32_t prev;			/* failures in the previous */
};

struct anvil_slot {
	uint8_t key[ANVIL_KEY_LEN];	/* v4-mapped IPv4 or IPv6 /64 */
	uint32_t state;			/* enum anvil_state */
	uint32_t other;			/* sessions of workers not in pid */
	struct anvil_pid pid[ANVIL_SLOT_PIDS];
	double fail_at[ANVIL_FAIL_RING];	/* the last failures */
	uint32_t fail_next;		/* next index of fail_at */
	uint32_t fail_n;		/* entries of fail_at in use */
	struct anvil_buckets bucket;	/* failures beyond the ring */
	double fail_keep;		/* they matter until then */
};

struct anvil {
	pthread_mutex_t lock;		/* first: see the _Static_assert */
	size_t map_size;		/* the rest is read-only after new */
	uint64_t seed[2];
	uint32_t cap;			/* clients with a slot of their own */
	uint32_t mask;			/* table size - 1 */
	uint32_t cur;			/* current table: 0 or 1 */
	uint32_t n_used;		/* ANVIL_USED slots in the current */
	uint32_t n_tomb;		/* ANVIL_TOMB slots in the current */
	double clock;			/* latest now of any AUTH call */
	double swept;			/* clock at the last sweep */
	uint32_t total_other;		/* sessions of workers not in total */
	struct anvil_pid total[ANVIL_PIDS];
	struct anvil_slot overflow;	/* for clients the table lacks room */
	struct anvil_slot slot[];	/* two tables of mask + 1 slots */
};

/*
 * The unit test plays a worker that dies holding the lock by locking it
 * through the handle itself: the public interface never leaves it held.
 */
_Static_assert(offsetof(struct anvil, lock) == 0,
    "tests/unit/test_anvil.c takes the lock at the start of struct anvil");

/* anvil_publish - a store that makes earlier ones count: the compiler
 * must not move it before them, or a worker killed in between could
 * leave it pointing at stale data */
static void
anvil_publish(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* anvil_table - the current table */
static struct anvil_slot *
anvil_table(struct anvil *a)
{
	return a->slot + (size_t)a->cur * (a->mask + 1);
}

/* anvil_mix - the splitmix64 finalizer: every input bit moves every
 * output bit */
static uint64_t
anvil_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* anvil_hash - home position of key; the seed is secret so that a
 * client cannot pick addresses that pile up on one probe run */
static uint32_t
anvil_hash(const struct anvil *a, const uint8_t *key)
{
	uint64_t k0, k1;

	memcpy(&k0, key, 8);
	memcpy(&k1, key + 8, 8);
	return (uint32_t)anvil_mix(anvil_mix(k0 ^ a->seed[0]) ^ k1 ^
	    a->seed[1]) & a->mask;
}

/* anvil_key - the key of client into key; false for no address (unix
 * socket, or family 0), which counts only in the total */
static bool
anvil_key(const struct inet_addr *client, uint8_t *key)
{
	memset(key, 0, ANVIL_KEY_LEN);
	if (client == NULL)
		return false;
	switch (client->family) {
	case AF_INET:
		/* the v4-mapped form keeps IPv4 apart from every /64 key,
		 * whose lower half is always zero */
		key[10] = 0xff;
		key[11] = 0xff;
		memcpy(key + 12, client->bytes, 4);
		return true;
	case AF_INET6:
		memcpy(key, client->bytes, 8);
		return true;
	default:
		return false;
	}
}

/* anvil_count_sum - sessions in pairs p[0..n) and other */
static unsigned
anvil_count_sum(const struct anvil_pid *p, size_t n, uint32_t other)
{
	unsigned sum = other;
	size_t i;

	for (i = 0; i < n; i++)
		sum += p[i].count;
	return sum;
}

/* anvil_count_add - one more session of pid: its pair, a free pair, or
 * other when all are taken by other workers */
static void
anvil_count_add(struct anvil_pid *p, size_t n, uint32_t *other, pid_t pid)
{
	struct anvil_pid *free_pair = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i].count == 0) {
			if (free_pair == NULL)
				free_pair = &p[i];
		} else if (p[i].pid == pid) {
			p[i].count++;
			return;
		}
	}
	if (free_pair == NULL) {
		(*other)++;
		return;
	}
	free_pair->pid = pid;
	anvil_publish(&free_pair->count, 1);
}

/* anvil_count_drop - one session fewer of pid's own pair; false if it
 * has none */
static bool
anvil_count_drop(struct anvil_pid *p, size_t n, pid_t pid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i].count > 0 && p[i].pid == pid) {
			p[i].count--;
			return true;
		}
	return false;
}

/* anvil_count_drop_other - one session fewer of other; false if none */
static bool
anvil_count_drop_other(uint32_t *other)
{
	if (*other == 0)
		return false;
	(*other)--;
	return true;
}

/* anvil_count_forget - clear the pairs of pid */
static void
anvil_count_forget(struct anvil_pid *p, size_t n, pid_t pid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i].pid == pid)
			p[i].count = 0;
}

/* anvil_slot_sessions - sessions of a slot's client */
static unsigned
anvil_slot_sessions(const struct anvil_slot *s)
{
	return anvil_count_sum(s->pid, ANVIL_SLOT_PIDS, s->other);
}

/* anvil_idle - whether a used slot holds nothing worth keeping */
static bool
anvil_idle(const struct anvil *a, const struct anvil_slot *s)
{
	return anvil_slot_sessions(s) == 0 && s->fail_keep <= a->clock;
}

/* anvil_drop - free a used slot of the current table. It becomes empty
 * rather than a tombstone when the next slot is empty (no probe run
 * goes through it then), and so do the tombstones just before it. */
static void
anvil_drop(struct anvil *a, struct anvil_slot *s)
{
	struct anvil_slot *t = anvil_table(a);
	uint32_t i = (uint32_t)(s - t);

	a->n_used--;
	if (t[(i + 1) & a->mask].state != ANVIL_EMPTY) {
		anvil_publish(&s->state, ANVIL_TOMB);
		a->n_tomb++;
		return;
	}
	anvil_publish(&s->state, ANVIL_EMPTY);
	for (i = (i - 1) & a->mask; t[i].state == ANVIL_TOMB;
	    i = (i - 1) & a->mask) {
		anvil_publish(&t[i].state, ANVIL_EMPTY);
		a->n_tomb--;
	}
}

/* anvil_find - the slot of key in the current table, or NULL; idle
 * slots met on the way are freed, and *free_r is the first free slot
 * of key's probe run (NULL only in a table without any) */
static struct anvil_slot *
anvil_find(struct anvil *a, const uint8_t *key, struct anvil_slot **free_r)
{
	struct anvil_slot *t = anvil_table(a), *s;
	uint32_t i = anvil_hash(a, key), n;

	*free_r = NULL;
	for (n = 0; n <= a->mask; n++, i = (i + 1) & a->mask) {
		s = &t[i];
		if (s->state == ANVIL_USED) {
			if (memcmp(s->key, key, ANVIL_KEY_LEN) == 0)
				return s;
			if (!anvil_idle(a, s))
				continue;
			anvil_drop(a, s);
		}
		if (*free_r == NULL)
			*free_r = s;
		if (s->state == ANVIL_EMPTY)
			return NULL;
	}
	return NULL;
}

/* anvil_sweep - free every idle slot, when time has moved since the
 * last sweep (nothing else makes a slot idle behind our back); whether
 * the table has room now */
static bool
anvil_sweep(struct anvil *a)
{
	struct anvil_slot *t = anvil_table(a);
	uint32_t i;

	if (a->clock > a->swept) {
		a->swept = a->clock;
		for (i = 0; i <= a->mask; i++)
			if (t[i].state == ANVIL_USED && anvil_idle(a, &t[i]))
				anvil_drop(a, &t[i]);
	}
	return a->n_used < a->cap;
}

/* anvil_rebuild - copy the busy slots into the other table and make it
 * current; the flip is one store, so a worker killed on the way leaves
 * the current table as it was */
static void
anvil_rebuild(struct anvil *a)
{
	struct anvil_slot *from = anvil_table(a);
	uint32_t next = a->cur ^ 1, size = a->mask + 1, used = 0, i, j;
	struct anvil_slot *to = a->slot + (size_t)next * size;

	memset(to, 0, size * sizeof(*to));
	for (i = 0; i < size; i++) {
		if (from[i].state != ANVIL_USED || anvil_idle(a, &from[i]))
			continue;
		for (j = anvil_hash(a, from[i].key); to[j].state != ANVIL_EMPTY;
		    j = (j + 1) & a->mask)
			;
		to[j] = from[i];
		used++;
	}
	anvil_publish(&a->cur, next);
	a->n_used = used;
	a->n_tomb = 0;
}

/* anvil_place - the slot that counts key: its own, or the overflow
 * slot while the table has no room for it; a new slot when create,
 * else NULL if it has none */
static struct anvil_slot *
anvil_place(struct anvil *a, const uint8_t *key, bool create)
{
	struct anvil_slot *s, *free_slot;

	if ((s = anvil_find(a, key, &free_slot)) != NULL)
		return s;
	if (a->n_used >= a->cap && !anvil_sweep(a))
		return &a->overflow;
	if (!create)
		return NULL;
	/* keep a quarter of the table empty, so a miss ends soon */
	if (a->n_used + a->n_tomb >= (a->mask + 1) - (a->mask + 1) / 4) {
		anvil_rebuild(a);
		anvil_find(a, key, &free_slot);
	}
	if (free_slot == NULL)
		log_panic("anvil: no free slot with %u of %u used",
		    a->n_used, a->mask + 1);
	if (free_slot->state == ANVIL_TOMB)
		a->n_tomb--;
	/* the state stays free until the slot is whole: a tombstone made
	 * empty here could cut the probe runs through it */
	memset(&free_slot->other, 0,
	    sizeof(*free_slot) - offsetof(struct anvil_slot, other));
	memcpy(free_slot->key, key, ANVIL_KEY_LEN);
	anvil_publish(&free_slot->state, ANVIL_USED);
	a->n_used++;
	return free_slot;
}

/* anvil_repair - after a worker died holding the lock: recount the
 * slots (the counters may have missed its last change; the slots
 * themselves are always whole) */
static void
anvil_repair(struct anvil *a)
{
	struct anvil_slot *t = anvil_table(a);
	uint32_t i;

	a->n_used = a->n_tomb = 0;
	for (i = 0; i <= a->mask; i++) {
		if (t[i].state == ANVIL_USED)
			a->n_used++;
		else if (t[i].state == ANVIL_TOMB)
			a->n_tomb++;
	}
}

/* anvil_lock - take the lock; if its holder died, repair and go on */
static void
anvil_lock(struct anvil *a)
{
	int err = pthread_mutex_lock(&a->lock);

	if (err == EOWNERDEAD) {
		log_warn("anvil: a process died holding the session table "
		    "lock; its counts are off until it is forgotten");
		anvil_repair(a);
		err = pthread_mutex_consistent(&a->lock);
	}
	if (err != 0)
		log_panic("anvil: lock: %s", strerror(err));
}

/* anvil_unlock - release the lock */
static void
anvil_unlock(struct anvil *a)
{
	int err = pthread_mutex_unlock(&a->lock);

	if (err != 0)
		log_panic("anvil: unlock: %s", strerror(err));
}

/* anvil_seed - a secret hash seed: the kernel's, or the clock and pid
 * when it has none to give */
static void
anvil_seed(struct anvil *a)
{
	struct timespec ts;

	if (getrandom(a->seed, sizeof(a->seed), GRND_NONBLOCK) ==
	    (ssize_t)sizeof(a->seed))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	a->seed[0] = anvil_mix((uint64_t)ts.tv_sec ^ (uint64_t)getpid());
	a->seed[1] = anvil_mix((uint64_t)ts.tv_nsec ^ a->seed[0]);
}

/* anvil_new - the mapping, its lock and two empty tables */
struct anvil *
anvil_new(unsigned slots)
{
	pthread_mutexattr_t attr;
	struct anvil *a;
	uint32_t size = 2;
	size_t len;
	int err;

	if (slots == 0)
		slots = ANVIL_DEFAULT_SLOTS;
	if (slots > ANVIL_MAX_SLOTS)
		log_panic("anvil: %u slots (at most %u)", slots,
		    ANVIL_MAX_SLOTS);
	/* at most half the table is in use: probe runs stay short */
	while (size < 2 * slots)
		size *= 2;
	len = sizeof(*a) + 2 * (size_t)size * sizeof(a->slot[0]);
	a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (a == MAP_FAILED)
		log_fatal("anvil: mmap %zu bytes: %s", len, strerror(errno));
	a->map_size = len;
	a->cap = slots;
	a->mask = size - 1;
	anvil_seed(a);
	if ((err = pthread_mutexattr_init(&attr)) != 0 ||
	    (err = pthread_mutexattr_setpshared(&attr,
	    PTHREAD_PROCESS_SHARED)) != 0 ||
	    (err = pthread_mutexattr_setrobust(&attr,
	    PTHREAD_MUTEX_ROBUST)) != 0 ||
	    (err = pthread_mutex_init(&a->lock, &attr)) != 0)
		log_fatal("anvil: shared lock: %s", strerror(err));
	pthread_mutexattr_destroy(&attr);
	return a;
}

/* anvil_free - unmap; the lock stays, other processes still use it */
void
anvil_free(struct anvil **ap)
{
	struct anvil *a = *ap;

	if (a == NULL)
		return;
	*ap = NULL;
	if (munmap(a, a->map_size) != 0)
		log_panic("anvil: munmap: %s", strerror(errno));
}

/* anvil_check_pid - a pid that cannot be a worker is a bug */
static void
anvil_check_pid(pid_t pid)
{
	if (pid <= 0)
		log_panic("anvil: session of pid %ld", (long)pid);
}

/* anvil_connect - see anvil.h; the total is checked first, as a full
 * server is the answer that concerns everyone */
enum anvil_verdict
anvil_connect(struct anvil *a, pid_t pid, const struct inet_addr *client,
    unsigned max_total, unsigned max_per_client)
{
	uint8_t key[ANVIL_KEY_LEN];
	bool keyed = anvil_key(client, key);
	enum anvil_verdict v = ANVIL_OK;
	struct anvil_slot *s = NULL;

	anvil_check_pid(pid);
	anvil_lock(a);
	if (max_total != 0 && anvil_count_sum(a->total, ANVIL_PIDS,
	    a->total_other) >= max_total)
		v = ANVIL_TOO_MANY_TOTAL;
	else if (keyed && max_per_client != 0 &&
	    (s = anvil_place(a, key, false)) != NULL &&
	    anvil_slot_sessions(s) >= max_per_client)
		v = ANVIL_TOO_MANY_CLIENT;
	if (v == ANVIL_OK) {
		anvil_count_add(a->total, ANVIL_PIDS, &a->total_other, pid);
		if (keyed) {
			s = anvil_place(a, key, true);
			anvil_count_add(s->pid, ANVIL_SLOT_PIDS, &s->other,
			    pid);
		}
	}
	anvil_unlock(a);
	return v;
}

/*
 * anvil_release - take one session of pid off slot s (NULL: none) or
 * the overflow slot; false if neither has one to take. A session may
 * have been counted in the overflow slot while its client has a slot
 * of its own now (or the other way round), so the worker's own pairs
 * are tried in both before the "other" counters; what each holds for
 * the client evens out by the time its last session ends.
 */
static bool
anvil_release(struct anvil *a, struct anvil_slot *s, pid_t pid)
{
	if (s != NULL && anvil_count_drop(s->pid, ANVIL_SLOT_PIDS, pid))
		return true;
	if (anvil_count_drop(a->overflow.pid, ANVIL_SLOT_PIDS, pid))
		return true;
	if (s != NULL && anvil_count_drop_other(&s->other))
		return true;
	return anvil_count_drop_other(&a->overflow.other);
}

/* anvil_disconnect - see anvil.h */
void
anvil_disconnect(struct anvil *a, pid_t pid, const struct inet_addr *client)
{
	uint8_t key[ANVIL_KEY_LEN];
	bool keyed = anvil_key(client, key);
	struct anvil_slot *s = NULL, *unused;
	bool found = true;

	anvil_check_pid(pid);
	anvil_lock(a);
	if (!anvil_count_drop(a->total, ANVIL_PIDS, pid) &&
	    !anvil_count_drop_other(&a->total_other))
		found = false;
	if (keyed) {
		s = anvil_find(a, key, &unused);
		if (!anvil_release(a, s, pid))
			found = false;
		if (s != NULL && anvil_idle(a, s))
			anvil_drop(a, s);
	}
	anvil_unlock(a);
	/* a caller's bug (a session never counted, or ended after its
	 * worker was forgotten); warned, not a panic, because counts that
	 * stay at zero hurt less than a worker dying with its sessions */
	if (!found)
		log_warn("anvil: pid %ld ended a session that was not "
		    "counted", (long)pid);
}

/* anvil_check_window - a window that is not a positive number is a bug
 * (the config's minimum is one second) */
static void
anvil_check_window(double window)
{
	if (!(window > 0) || isinf(window))
		log_panic("anvil: AUTH failure window %g", window);
}

/* anvil_fail_buckets - the two buckets of s as they stand at now: a
 * bucket one window old becomes the previous one; older ones are gone */
static void
anvil_fail_buckets(const struct anvil_slot *s, double now, double window,
    struct anvil_buckets *r)
{
	struct anvil_buckets b = s->bucket;

	if (now - b.start >= 2 * window) {
		b.start = now;
		b.cur = b.prev = 0;
	} else if (now - b.start >= window) {
		b.start += window;
		b.prev = b.cur;
		b.cur = 0;
		/* the latest failure, which came before now */
		b.prev_last = s->fail_at[(s->fail_next + ANVIL_FAIL_RING - 1) %
		    ANVIL_FAIL_RING];
	}
	*r = b;
}

/* anvil_fail_count - failures of slot s within window at now (exact
 * while the ring holds them all; the buckets' estimate beyond) */
static unsigned
anvil_fail_count(const struct anvil_slot *s, double now, double window)
{
	struct anvil_buckets b;
	unsigned exact = 0, i;
	double est;

	for (i = 0; i < s->fail_n; i++)
		if (s->fail_at[i] > now - window)
			exact++;
	if (exact < ANVIL_FAIL_RING)
		return exact;
	anvil_fail_buckets(s, now, window, &b);
	est = b.cur;
	if (b.prev_last > now - window)
		est += b.prev * (window - (now - b.start)) / window;
	/* ceil, but not of a rounding error just above a whole number */
	est = ceil(est - 1e-9);
	return est > exact ? (unsigned)est : exact;
}

/* anvil_auth_failed - see anvil.h */
unsigned
anvil_auth_failed(struct anvil *a, const struct inet_addr *client,
    double now, double window)
{
	uint8_t key[ANVIL_KEY_LEN];
	struct anvil_slot *s;
	unsigned n;

	anvil_check_window(window);
	if (!anvil_key(client, key))
		return 0;
	anvil_lock(a);
	if (now > a->clock)
		a->clock = now;
	s = anvil_place(a, key, true);
	if (s->bucket.cur == 0 && s->bucket.prev == 0)
		s->bucket.start = now;
	anvil_fail_buckets(s, now, window, &s->bucket);
	s->bucket.cur++;
	s->fail_at[s->fail_next] = now;
	s->fail_next = (s->fail_next + 1) % ANVIL_FAIL_RING;
	if (s->fail_n < ANVIL_FAIL_RING)
		s->fail_n++;
	if (now + window > s->fail_keep)
		s->fail_keep = now + window;
	n = anvil_fail_count(s, now, window);
	anvil_unlock(a);
	return n;
}

/* anvil_auth_failures - see anvil.h */
unsigned
anvil_auth_failures(struct anvil *a, const struct inet_addr *client,
    double now, double window)
{
	uint8_t key[ANVIL_KEY_LEN];
	struct anvil_slot *s;
	unsigned n = 0;

	anvil_check_window(window);
	if (!anvil_key(client, key))
		return 0;
	anvil_lock(a);
	if (now > a->clock)
		a->clock = now;
	if ((s = anvil_place(a, key, false)) != NULL) {
		n = anvil_fail_count(s, now, window);
		if (s != &a->overflow && anvil_idle(a, s))
			anvil_drop(a, s);
	}
	anvil_unlock(a);
	return n;
}

/* anvil_sessions - see anvil.h; a client without a slot of its own
 * while the table is full reads the overflow slot, as anvil_connect
 * would count it there */
unsigned
anvil_sessions(struct anvil *a, const struct inet_addr *client)
{
	uint8_t key[ANVIL_KEY_LEN];
	struct anvil_slot *s;
	unsigned n = 0;

	anvil_lock(a);
	if (client == NULL)
		n = anvil_count_sum(a->total, ANVIL_PIDS, a->total_other);
	else if (anvil_key(client, key) &&
	    (s = anvil_place(a, key, false)) != NULL)
		n = anvil_slot_sessions(s);
	anvil_unlock(a);
	return n;
}

/* anvil_forget_pid - see anvil.h; slots left idle are freed */
void
anvil_forget_pid(struct anvil *a, pid_t pid)
{
	struct anvil_slot *t;
	uint32_t i;

	anvil_check_pid(pid);
	anvil_lock(a);
	t = anvil_table(a);
	anvil_count_forget(a->total, ANVIL_PIDS, pid);
	anvil_count_forget(a->overflow.pid, ANVIL_SLOT_PIDS, pid);
	for (i = 0; i <= a->mask; i++) {
		if (t[i].state != ANVIL_USED)
			continue;
		anvil_count_forget(t[i].pid, ANVIL_SLOT_PIDS, pid);
		if (anvil_idle(a, &t[i]))
			anvil_drop(a, &t[i]);
	}
	anvil_unlock(a);
}
