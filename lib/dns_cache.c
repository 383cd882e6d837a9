/*
 * dns_cache.c - answers kept in the process, in front of libunbound
 *
 * A chained hash under one mutex. Each entry is one allocation holding
 * the key, the answer packet and the records, so dropping it is one
 * free(). Lookups copy into the caller's arena: callers keep answers
 * longer than the lock, and an entry may expire and go meanwhile.
 */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns_cache.h"
#include "mem.h"

#define DNS_CACHE_BUCKETS	4096	/* power of two */

struct dns_cache_entry {
	struct dns_cache_entry *next;
	uint32_t hash;
	int rrtype;
	time_t expires;			/* monotonic seconds */
	enum dns_result result;
	bool nxdomain, secure;
	int rcode;
	size_t n;
	size_t *len;
	unsigned char **data;
	unsigned char *packet;
	size_t packet_len;
	char name[];			/* lower case, no trailing dot */
};

struct dns_cache {
	pthread_mutex_t lock;
	size_t max, count;
	time_t next_sweep;		/* a full cache is swept once a second */
	struct dns_cache_entry *bucket[DNS_CACHE_BUCKETS];
};

/* dns_cache_now - monotonic seconds; coarse is enough for TTLs */
static time_t
dns_cache_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

/* dns_cache_key - the name as kept (lower case, no trailing dot) into
 * key (DNS names are at most 253 bytes; longer ones are never asked);
 * false if it does not fit */
static bool
dns_cache_key(const char *name, char *key, size_t size, uint32_t *hash_r,
    int rrtype)
{
	size_t len = strlen(name), i;
	uint32_t h = 2166136261u ^ (uint32_t)rrtype;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len >= size)
		return false;
	for (i = 0; i < len; i++) {
		key[i] = (char)tolower((unsigned char)name[i]);
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	}
	key[len] = '\0';
	*hash_r = h;
	return true;
}

/* dns_cache_create - an empty cache of at most max answers (0: none) */
struct dns_cache *
dns_cache_create(size_t max)
{
	struct dns_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	c->max = max;
	return c;
}

/* dns_cache_destroy - free every entry; sets *cache NULL */
void
dns_cache_destroy(struct dns_cache **cachep)
{
	struct dns_cache *c = *cachep;
	struct dns_cache_entry *e, *next;
	size_t i;

	if (c == NULL)
		return;
	*cachep = NULL;
	for (i = 0; i < DNS_CACHE_BUCKETS; i++)
		for (e = c->bucket[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* dns_cache_unlink - take *link's entry out and free it (lock held) */
static void
dns_cache_unlink(struct dns_cache *c, struct dns_cache_entry **link)
{
	struct dns_cache_entry *e = *link;

	*link = e->next;
	free(e);
	c->count--;
}

/* dns_cache_copy - an entry's answer into arena */
static void
dns_cache_copy(const struct dns_cache_entry *e, time_t now,
    struct arena *arena, struct dns_answer *a)
{
	const unsigned char **data;
	size_t *len, i;

	memset(a, 0, sizeof(*a));
	a->result = e->result;
	a->rcode = e->rcode;
	a->nxdomain = e->nxdomain;
	a->secure = e->secure;
	a->ttl = (uint32_t)(e->expires - now);
	if (e->packet_len > 0) {
		a->packet = (const unsigned char *)arena_memdup(arena,
		    e->packet, e->packet_len);
		a->packet_len = e->packet_len;
	}
	if (e->result != DNS_FOUND)
		return;
	data = arena_alloc(arena, (e->n + 1) * sizeof(*data));
	len = arena_alloc(arena, (e->n + 1) * sizeof(*len));
	for (i = 0; i < e->n; i++) {
		len[i] = e->len[i];
		data[i] = (const unsigned char *)arena_memdup(arena,
		    e->data[i], e->len[i]);
	}
	a->n = e->n;
	a->data = data;
	a->len = len;
}

/* dns_cache_get - true and *answer_r (data in arena, ttl = what is left)
 * when a live answer for name and rrtype is kept */
bool
dns_cache_get(struct dns_cache *c, const char *name, int rrtype,
    struct arena *arena, struct dns_answer *answer_r)
{
	struct dns_cache_entry **link, *e;
	char key[256];
	uint32_t hash;
	time_t now;
	bool hit = false;

	if (c->max == 0 || !dns_cache_key(name, key, sizeof(key), &hash,
	    rrtype))
		return false;
	now = dns_cache_now();
	pthread_mutex_lock(&c->lock);
	for (link = &c->bucket[hash & (DNS_CACHE_BUCKETS - 1)];
	    (e = *link) != NULL; link = &e->next) {
		if (e->hash != hash || e->rrtype != rrtype ||
		    strcmp(e->name, key) != 0)
			continue;
		if (e->expires <= now)
			dns_cache_unlink(c, link);
		else {
			dns_cache_copy(e, now, arena, answer_r);
			hit = true;
		}
		break;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

/* dns_cache_sweep - drop every expired entry (lock held) */
static void
dns_cache_sweep(struct dns_cache *c, time_t now)
{
	struct dns_cache_entry **link;
	size_t i;

	for (i = 0; i < DNS_CACHE_BUCKETS; i++)
		for (link = &c->bucket[i]; *link != NULL;) {
			if ((*link)->expires <= now)
				dns_cache_unlink(c, link);
			else
				link = &(*link)->next;
		}
	c->next_sweep = now + 1;
}

/* dns_cache_entry_new - one allocation holding key, packet and records */
static struct dns_cache_entry *
dns_cache_entry_new(const char *key, const struct dns_answer *a)
{
	size_t keylen = strlen(key) + 1, size, i, n;
	struct dns_cache_entry *e;
	unsigned char *p;

	n = a->result == DNS_FOUND ? a->n : 0;
	size = sizeof(*e) + keylen;
	size = (size + 7) & ~(size_t)7;	/* align the arrays that follow */
	size += n * (sizeof(*e->len) + sizeof(*e->data)) + a->packet_len;
	for (i = 0; i < n; i++)
		size += a->len[i];
	e = xmalloc(size);
	memset(e, 0, sizeof(*e));
	memcpy(e->name, key, keylen);
	p = (unsigned char *)e + ((sizeof(*e) + keylen + 7) & ~(size_t)7);
	e->len = (size_t *)(void *)p;
	p += n * sizeof(*e->len);
	e->data = (unsigned char **)(void *)p;
	p += n * sizeof(*e->data);
	for (i = 0; i < n; i++) {
		e->len[i] = a->len[i];
		e->data[i] = p;
		memcpy(p, a->data[i], a->len[i]);
		p += a->len[i];
	}
	e->n = n;
	if (a->packet_len > 0) {
		e->packet = p;
		e->packet_len = a->packet_len;
		memcpy(p, a->packet, a->packet_len);
	}
	e->result = a->result;
	e->nxdomain = a->nxdomain;
	e->secure = a->secure;
	e->rcode = a->rcode;
	return e;
}

/* dns_cache_put - keep a copy of answer if it may be kept */
void
dns_cache_put(struct dns_cache *c, const char *name, int rrtype,
    const struct dns_answer *a)
{
	struct dns_cache_entry **link, *e;
	char key[256];
	uint32_t hash;
	time_t now;

	if (c->max == 0 || a->ttl == 0 || a->bogus ||
	    (a->result != DNS_FOUND && a->result != DNS_NOTFOUND) ||
	    !dns_cache_key(name, key, sizeof(key), &hash, rrtype))
		return;
	e = dns_cache_entry_new(key, a);
	e->hash = hash;
	e->rrtype = rrtype;
	now = dns_cache_now();
	e->expires = now + (time_t)a->ttl;
	pthread_mutex_lock(&c->lock);
	/* a newer answer replaces the one kept (two threads asked at once,
	 * or the kept one expired) */
	for (link = &c->bucket[hash & (DNS_CACHE_BUCKETS - 1)];
	    *link != NULL; link = &(*link)->next)
		if ((*link)->hash == hash && (*link)->rrtype == rrtype &&
		    strcmp((*link)->name, key) == 0) {
			dns_cache_unlink(c, link);
			break;
		}
	if (c->count >= c->max && now >= c->next_sweep)
		dns_cache_sweep(c, now);
	if (c->count >= c->max) {
		pthread_mutex_unlock(&c->lock);
		free(e);
		return;
	}
	link = &c->bucket[hash & (DNS_CACHE_BUCKETS - 1)];
	e->next = *link;
	*link = e;
	c->count++;
	pthread_mutex_unlock(&c->lock);
}

/* dns_cache_count - entries kept now (for tests and metrics) */
size_t
dns_cache_count(struct dns_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->count;
	pthread_mutex_unlock(&c->lock);
	return n;
}
