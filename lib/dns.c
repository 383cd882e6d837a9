/*
 * dns.c - the one DNS resolver of a loaded config (libunbound)
 *
 * Design of the waiting (see dns.h for the contract):
 *
 * libunbound runs the queries in its own worker thread (ub_ctx_async 1)
 * and hands answers back through a pipe, ub_fd(); ub_process() reads that
 * pipe and calls the callback of EVERY finished query, whichever thread
 * asked it. So one thread per context, the dispatcher, does nothing but
 * poll ub_fd() (plus a wakeup pipe for shutdown) and call ub_process().
 *
 * dns_query_batch() (dns_query() is a batch of one) makes one waiter per
 * query (a flag and the result, freed when the call returns) plus one
 * condition variable and a pending count shared by the attempt, submits
 * every query with ub_resolve_async() with its waiter as the callback's
 * data and sleeps on the condition variable until the count reaches zero
 * or the one deadline of the attempt passes (CLOCK_MONOTONIC, so clock
 * steps do not matter). The callback only stores the result, decrements the count
 * and signals when it reaches zero.
 *
 * One mutex, dns->lock, is held around ub_resolve_async(), ub_process()
 * (so around every callback) and ub_cancel(), and the waiter sleeps on it.
 * That makes the two endings exclusive: a waiter that times out calls
 * ub_cancel() for each unanswered query with the lock held, so no
 * callback is running; libunbound marks the query cancelled under its own
 * lock and ub_process() never calls a cancelled query's callback. After
 * the cancels the waiters can go away safely. If a callback came first,
 * its flag is already set when the waiter looks (it checks the flags and
 * the count, not the return of the timed wait), so no answer is lost.
 * Each attempt has its own condition variable, signalled once when its
 * count reaches zero, so no wakeup is lost either. A later attempt
 * submits only the queries the earlier ones cancelled.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <unbound.h>

#include "dns.h"
#include "dns_cache.h"
#include "inet.h"
#include "log.h"
#include "mem.h"

#define DNS_NAME_MAX	253	/* text form, without the trailing dot */
#define DNS_LABEL_MAX	63
#define DNS_WIRE_MAX	255	/* wire form, with the root label */

struct dns {
	struct ub_ctx *ctx;
	struct dns_cache *cache;	/* answers kept in front of ctx */
	pthread_mutex_t lock;		/* see the design note above */
	pthread_condattr_t condattr;	/* CLOCK_MONOTONIC */
	pthread_t dispatcher;
	int wake[2];			/* written to: dispatcher stops */
	double timeout;
	unsigned long attempts;
	struct dns_counters counters;	/* __atomic updates */
};

/* One query of a dns_query_batch() call; the queries of one attempt share
 * a condition variable and a count of those still pending. */
struct dns_waiter {
	pthread_cond_t *cond;		/* set while submitted */
	size_t *pending;
	bool ask;			/* a valid name: really asked */
	bool done;
	int id;				/* libunbound's query id */
	int err;			/* libunbound error code */
	struct ub_result *result;	/* freed by the waiter */
};

/* Query types counted separately; everything else is DNS_QT_OTHER. */
static const struct {
	int rrtype;
	enum dns_qtype_index index;
} dns_qtypes[] = {
	{ .rrtype = 1, .index = DNS_QT_A },
	{ .rrtype = 28, .index = DNS_QT_AAAA },
	{ .rrtype = 16, .index = DNS_QT_TXT },
	{ .rrtype = 15, .index = DNS_QT_MX },
	{ .rrtype = 12, .index = DNS_QT_PTR },
	{ .rrtype = 52, .index = DNS_QT_TLSA },
	{ .rrtype = 0 },
};

/* Response codes that are errors, by name (RFC 1035, 2136). */
static const char *const dns_rcode_names[] = {
	[1] = "FORMERR",
	[2] = "SERVFAIL",
	[4] = "NOTIMP",
	[5] = "REFUSED",
	[6] = "YXDOMAIN",
	[7] = "YXRRSET",
	[8] = "NXRRSET",
	[9] = "NOTAUTH",
	[10] = "NOTZONE",
};

/* Options every context gets. Without the lan-zone ones libunbound
 * answers reverse lookups of private and documentation networks itself
 * (NXDOMAIN) instead of asking the configured servers. */
static const struct {
	const char *name, *value;
} dns_options[] = {
	{ .name = "unblock-lan-zones:", .value = "yes" },
	{ .name = "insecure-lan-zones:", .value = "yes" },
	{ .name = NULL },
};

/* dns_qtype_index - counter slot of a query type */
static enum dns_qtype_index
dns_qtype_index(int rrtype)
{
	size_t i;

	for (i = 0; dns_qtypes[i].rrtype != 0; i++)
		if (dns_qtypes[i].rrtype == rrtype)
			return dns_qtypes[i].index;
	return DNS_QT_OTHER;
}

/* dns_count - one outcome; callers run in many threads */
static void
dns_count(unsigned long long *slot)
{
	__atomic_fetch_add(slot, 1, __ATOMIC_RELAXED);
}

/* dns_dispatch - the dispatcher thread: deliver every answer */
static void *
dns_dispatch(void *arg)
{
	struct dns *dns = arg;
	struct pollfd fds[2];
	int err;

	fds[0].fd = ub_fd(dns->ctx);
	fds[0].events = POLLIN;
	fds[1].fd = dns->wake[0];
	fds[1].events = POLLIN;
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_panic("dns: poll: %s", strerror(errno));
		}
		if (fds[1].revents != 0)
			break;
		if (fds[0].revents == 0)
			continue;
		pthread_mutex_lock(&dns->lock);
		err = ub_process(dns->ctx);
		pthread_mutex_unlock(&dns->lock);
		/* Only a broken internal pipe fails here; waiters would
		 * hang or time out forever, so stop loudly. */
		if (err != 0)
			log_panic("dns: ub_process: %s", ub_strerror(err));
	}
	return NULL;
}

/* dns_callback - libunbound's answer for one waiter (dispatcher thread,
 * dns->lock held by it) */
static void
dns_callback(void *arg, int err, struct ub_result *result)
{
	struct dns_waiter *w = arg;

	w->err = err;
	w->result = result;
	w->done = true;
	/* the last answer of the attempt wakes the waiting thread */
	if (--*w->pending == 0)
		pthread_cond_signal(w->cond);
}

/* dns_server_text - "IP[@PORT]" checked and in libunbound's form; NULL
 * with a static message */
static char *
dns_server_text(const char *item, const char **error_r)
{
	char buf[INET_TEXT_MAX];
	struct inet_addr addr;
	const char *at = strchr(item, '@');
	char *ip, *end;
	unsigned long port = 53;
	bool ok;

	ip = at != NULL ? xstrndup(item, (size_t)(at - item)) : xstrdup(item);
	ok = inet_parse(ip, &addr);
	free(ip);
	if (!ok) {
		*error_r = "not an IP address";
		return NULL;
	}
	if (at != NULL) {
		errno = 0;
		if (at[1] < '0' || at[1] > '9' ||
		    (port = strtoul(at + 1, &end, 10), *end != '\0') ||
		    errno != 0 || port == 0 || port > 65535) {
			*error_r = "bad port";
			return NULL;
		}
	}
	return xasprintf("%s@%lu", inet_format(&addr, buf, sizeof(buf)),
	    port);
}

/* dns_configure - everything that must happen before the first query;
 * NULL or a malloc'ed error */
static char *
dns_configure(struct ub_ctx *ctx, const struct dns_settings *s)
{
	const char *why = NULL;
	char *text;
	size_t i;
	int err;

	if ((err = ub_ctx_async(ctx, 1)) != 0)
		return xasprintf("dns: threads: %s", ub_strerror(err));
	for (i = 0; dns_options[i].name != NULL; i++)
		if ((err = ub_ctx_set_option(ctx, dns_options[i].name,
		    dns_options[i].value)) != 0)
			return xasprintf("dns: option %s %s: %s",
			    dns_options[i].name, dns_options[i].value,
			    ub_strerror(err));
	for (i = 0; i < s->servers.n; i++) {
		if ((text = dns_server_text(s->servers.items[i], &why)) ==
		    NULL)
			return xasprintf("dns server \"%s\": %s",
			    s->servers.items[i], why);
		err = ub_ctx_set_fwd(ctx, text);
		free(text);
		if (err != 0)
			return xasprintf("dns server \"%s\": %s",
			    s->servers.items[i], ub_strerror(err));
	}
	/* without a usable resolv.conf libunbound resolves from the root
	 * servers itself, as a full resolver would: not a reason to refuse
	 * to start a filter that may not need DNS at all */
	if (s->servers.n == 0 && (err = ub_ctx_resolvconf(ctx, NULL)) != 0)
		log_warn("dns: /etc/resolv.conf: %s; resolving from the root "
		    "servers", ub_strerror(err));
	if (s->trust_anchor_file == NULL || *s->trust_anchor_file == '\0')
		return NULL;
	/* libunbound reads the file only at the first query; an unreadable
	 * one is a config error now, not a failure of every query later */
	if (access(s->trust_anchor_file, R_OK) < 0)
		return xasprintf("dns: trust anchor file %s: %s",
		    s->trust_anchor_file, strerror(errno));
	if ((err = ub_ctx_add_ta_file(ctx, s->trust_anchor_file)) != 0)
		return xasprintf("dns: trust anchor file %s: %s",
		    s->trust_anchor_file, ub_strerror(err));
	return NULL;
}

/* dns_create - false with *error_r (malloc'ed) on a bad server address or
 * library failure */
struct dns *
dns_create(const struct dns_settings *settings, char **error_r)
{
	struct dns *dns;
	struct ub_ctx *ctx;
	char *error;
	int err;

	if ((ctx = ub_ctx_create()) == NULL) {
		*error_r = xstrdup("dns: cannot create a libunbound context");
		return NULL;
	}
	if ((error = dns_configure(ctx, settings)) != NULL) {
		ub_ctx_delete(ctx);
		*error_r = error;
		return NULL;
	}
	dns = xcalloc(1, sizeof(*dns));
	dns->ctx = ctx;
	dns->timeout = settings->timeout;
	dns->attempts = settings->attempts > 0 ? settings->attempts : 1;
	dns->cache = dns_cache_create(settings->cache_size);
	if (pipe2(dns->wake, O_CLOEXEC) < 0)
		log_panic("dns: pipe: %s", strerror(errno));
	pthread_mutex_init(&dns->lock, NULL);
	pthread_condattr_init(&dns->condattr);
	pthread_condattr_setclock(&dns->condattr, CLOCK_MONOTONIC);
	if ((err = pthread_create(&dns->dispatcher, NULL, dns_dispatch,
	    dns)) != 0)
		log_panic("dns: pthread_create: %s", strerror(err));
	return dns;
}

/* dns_destroy - after the last query has returned; sets *dns NULL */
void
dns_destroy(struct dns **dnsp)
{
	struct dns *dns = *dnsp;
	char c = 0;

	if (dns == NULL)
		return;
	*dnsp = NULL;
	while (write(dns->wake[1], &c, 1) < 0)
		if (errno != EINTR)
			log_panic("dns: wake: %s", strerror(errno));
	pthread_join(dns->dispatcher, NULL);
	ub_ctx_delete(dns->ctx);
	dns_cache_destroy(&dns->cache);
	close(dns->wake[0]);
	close(dns->wake[1]);
	pthread_condattr_destroy(&dns->condattr);
	pthread_mutex_destroy(&dns->lock);
	free(dns);
}

/* dns_deadline - now + seconds on the monotonic clock */
static struct timespec
dns_deadline(double seconds)
{
	struct timespec ts;
	double whole = floor(seconds);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)whole;
	ts.tv_nsec += (long)((seconds - whole) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* dns_attempt - one round of a batch: submit every query not yet
 * answered, wait for all of them until one shared deadline, cancel the
 * rest; w[i].done tells which were answered */
static void
dns_attempt(struct dns *dns, const struct dns_query_item *items,
    struct dns_waiter *w, size_t n)
{
	struct timespec deadline;
	bool bounded = isfinite(dns->timeout) && dns->timeout > 0;
	size_t i, pending = 0;
	pthread_cond_t cond;

	pthread_cond_init(&cond, &dns->condattr);
	pthread_mutex_lock(&dns->lock);
	for (i = 0; i < n; i++) {
		if (w[i].done || !w[i].ask)
			continue;
		w[i].cond = &cond;
		w[i].pending = &pending;
		w[i].err = ub_resolve_async(dns->ctx, items[i].name,
		    items[i].rrtype, 1, &w[i], dns_callback, &w[i].id);
		if (w[i].err != 0) {
			/* a submit failure is an answer: no retry */
			w[i].done = true;
			continue;
		}
		pending++;
	}
	if (bounded)
		deadline = dns_deadline(dns->timeout);
	while (pending > 0) {
		if (!bounded)
			pthread_cond_wait(&cond, &dns->lock);
		else if (pthread_cond_timedwait(&cond, &dns->lock,
		    &deadline) == ETIMEDOUT)
			break;
	}
	/* With the lock held no callback runs: a successful cancel means
	 * the callback never will; a failed one means it has run. */
	for (i = 0; i < n && pending > 0; i++) {
		if (w[i].done || !w[i].ask || w[i].cond != &cond)
			continue;
		if (ub_cancel(dns->ctx, w[i].id) != 0 && !w[i].done)
			log_panic("dns: query %d neither answered nor "
			    "cancellable", w[i].id);
	}
	for (i = 0; i < n; i++)
		w[i].cond = NULL;
	pthread_mutex_unlock(&dns->lock);
	pthread_cond_destroy(&cond);
}

/* dns_error - fill in a DNS_ERROR answer */
static enum dns_result
dns_error(struct dns_answer *a, const char *why)
{
	a->result = DNS_ERROR;
	a->why = why;
	return DNS_ERROR;
}

/* dns_convert - libunbound's result into the answer, data into arena */
static enum dns_result
dns_convert(struct arena *arena, const struct ub_result *r,
    struct dns_answer *a)
{
	const unsigned char **data;
	size_t *len, i, n;

	a->rcode = r->rcode;
	a->secure = r->secure != 0;
	a->bogus = r->bogus != 0;
	a->ttl = r->ttl > 0 ? (uint32_t)r->ttl : 0;
	if (r->answer_packet != NULL && r->answer_len > 0) {
		a->packet = (const unsigned char *)arena_memdup(arena,
		    r->answer_packet, (size_t)r->answer_len);
		a->packet_len = (size_t)r->answer_len;
	}
	if (r->bogus)
		return dns_error(a, "DNSSEC validation failed");
	if (r->rcode == 3 || r->nxdomain) {
		a->nxdomain = true;
		return a->result = DNS_NOTFOUND;
	}
	if (r->rcode != 0) {
		if ((size_t)r->rcode < sizeof(dns_rcode_names) /
		    sizeof(dns_rcode_names[0]) &&
		    dns_rcode_names[r->rcode] != NULL)
			return dns_error(a, dns_rcode_names[r->rcode]);
		return dns_error(a, "unexpected response code");
	}
	if (!r->havedata)
		return a->result = DNS_NOTFOUND;
	for (n = 0; r->data[n] != NULL; n++)
		continue;
	data = arena_alloc(arena, (n + 1) * sizeof(*data));
	len = arena_alloc(arena, (n + 1) * sizeof(*len));
	for (i = 0; i < n; i++) {
		len[i] = (size_t)r->len[i];
		data[i] = (const unsigned char *)arena_memdup(arena,
		    r->data[i], len[i]);
	}
	a->n = n;
	a->data = data;
	a->len = len;
	return a->result = DNS_FOUND;
}

/* dns_finish - one waiter's outcome into its answer, counted once (a
 * timed-out query in timeout[] only, not also in error[]) */
static void
dns_finish(struct dns *dns, struct arena *arena, struct dns_waiter *w,
    struct dns_query_item *item)
{
	enum dns_qtype_index qi = dns_qtype_index(item->rrtype);
	struct dns_answer *a = &item->answer;

	if (!w->ask)
		return;
	if (!w->done) {
		dns_count(&dns->counters.timeout[qi]);
		dns_error(a, "timeout");
		return;
	}
	if (w->err != 0 || w->result == NULL) {
		ub_resolve_free(w->result);
		dns_count(&dns->counters.error[qi]);
		dns_error(a, w->err != 0 ? ub_strerror(w->err) :
		    "no result from libunbound");
		return;
	}
	dns_convert(arena, w->result, a);
	ub_resolve_free(w->result);
	dns_count(a->result == DNS_FOUND ? &dns->counters.found[qi] :
	    a->result == DNS_NOTFOUND ? &dns->counters.notfound[qi] :
	    &dns->counters.error[qi]);
}

/* dns_query_batch - several queries in parallel, one shared deadline */
void
dns_query_batch(struct dns *dns, struct dns_query_item *items, size_t n,
    struct arena *arena)
{
	struct dns_waiter *w;
	unsigned long attempt;
	size_t i, open = 0;

	if (n == 0)
		return;
	w = xcalloc(n, sizeof(*w));
	for (i = 0; i < n; i++) {
		memset(&items[i].answer, 0, sizeof(items[i].answer));
		items[i].answer.rcode = -1;
		if (!dns_name_valid(items[i].name)) {
			items[i].answer.nxdomain = true;
			items[i].answer.result = DNS_NOTFOUND;
			continue;
		}
		if (dns_cache_get(dns->cache, items[i].name,
		    items[i].rrtype, arena, &items[i].answer)) {
			enum dns_qtype_index qi =
			    dns_qtype_index(items[i].rrtype);

			dns_count(&dns->counters.cached[qi]);
			dns_count(items[i].answer.result == DNS_FOUND ?
			    &dns->counters.found[qi] :
			    &dns->counters.notfound[qi]);
			continue;
		}
		w[i].ask = true;
		open++;
	}
	for (attempt = 0; attempt < dns->attempts && open > 0; attempt++) {
		dns_attempt(dns, items, w, n);
		for (open = 0, i = 0; i < n; i++)
			if (w[i].ask && !w[i].done)
				open++;
	}
	for (i = 0; i < n; i++) {
		dns_finish(dns, arena, &w[i], &items[i]);
		if (w[i].ask && w[i].done)
			dns_cache_put(dns->cache, items[i].name,
			    items[i].rrtype, &items[i].answer);
	}
	free(w);
}

/* dns_query - one query (class IN); strings and rdata in arena */
enum dns_result
dns_query(struct dns *dns, const char *name, int rrtype,
    struct arena *arena, struct dns_answer *answer_r)
{
	struct dns_query_item item = { .name = name, .rrtype = rrtype };

	dns_query_batch(dns, &item, 1, arena);
	*answer_r = item.answer;
	return answer_r->result;
}

/* dns_counters_get - a snapshot of the counters */
void
dns_counters_get(struct dns *dns, struct dns_counters *c_r)
{
	size_t i;

	for (i = 0; i < DNS_QT_COUNT; i++) {
		c_r->found[i] = __atomic_load_n(&dns->counters.found[i],
		    __ATOMIC_RELAXED);
		c_r->notfound[i] = __atomic_load_n(&dns->counters.notfound[i],
		    __ATOMIC_RELAXED);
		c_r->error[i] = __atomic_load_n(&dns->counters.error[i],
		    __ATOMIC_RELAXED);
		c_r->timeout[i] = __atomic_load_n(&dns->counters.timeout[i],
		    __ATOMIC_RELAXED);
		c_r->cached[i] = __atomic_load_n(&dns->counters.cached[i],
		    __ATOMIC_RELAXED);
	}
}

/*
 * dns_name_valid - syntax only: labels 1..63 bytes, total <= 253
 *
 * One trailing dot (the root) is allowed. A backslash is refused: it
 * starts an escape in libunbound's name parser, so the bytes counted here
 * would not be the bytes asked for.
 */
bool
dns_name_valid(const char *name)
{
	size_t total = strlen(name), label = 0, i;

	if (total > 0 && name[total - 1] == '.')
		total--;
	if (total == 0 || total > DNS_NAME_MAX)
		return false;
	for (i = 0; i < total; i++) {
		if (name[i] == '\\')
			return false;
		if (name[i] != '.') {
			if (++label > DNS_LABEL_MAX)
				return false;
			continue;
		}
		if (label == 0)
			return false;
		label = 0;
	}
	return label > 0;
}

/* dns_txt_join - a TXT record's strings joined, NUL-terminated; a NUL
 * inside a string is malformed (the text would read short) */
bool
dns_txt_join(struct arena *arena, const unsigned char *rdata, size_t len,
    const char **text_r)
{
	size_t i, n, out = 0;
	char *text;

	if (len == 0)
		return false;
	for (i = 0; i < len; i += 1 + n) {
		n = rdata[i];
		if (n > len - i - 1 || memchr(rdata + i + 1, '\0', n) != NULL)
			return false;
	}
	text = arena_alloc(arena, len + 1);
	for (i = 0; i < len; i += 1 + n) {
		n = rdata[i];
		memcpy(text + out, rdata + i + 1, n);
		out += n;
	}
	text[out] = '\0';
	*text_r = text;
	return true;
}

/*
 * dns_name_decode - an uncompressed wire name (PTR, CNAME targets)
 *
 * The name must fill the rdata exactly. Text has no trailing dot, except
 * the root itself, which is "."; bytes that would read differently in
 * text (dot, backslash, space, control and non-ASCII bytes) become \DDD.
 */
bool
dns_name_decode(struct arena *arena, const unsigned char *rdata,
    size_t len, const char **name_r)
{
	char *text, *p;
	size_t i = 0, n, k;
	unsigned char c;

	/* worst case: every byte as \DDD plus the NUL */
	p = text = arena_alloc(arena, DNS_WIRE_MAX * 4 + 2);
	for (;;) {
		if (i >= len || i >= DNS_WIRE_MAX)
			return false;
		n = rdata[i++];
		if (n == 0)
			break;
		if (n > DNS_LABEL_MAX || n > len - i ||
		    i + n >= DNS_WIRE_MAX)
			return false;
		if (p != text)
			*p++ = '.';
		for (k = 0; k < n; k++) {
			c = rdata[i + k];
			if (c <= ' ' || c >= 0x7f || c == '.' || c == '\\')
				p += sprintf(p, "\\%03u", c);
			else
				*p++ = (char)c;
		}
		i += n;
	}
	if (i != len)
		return false;
	if (p == text)
		*p++ = '.';
	*p = '\0';
	*name_r = text;
	return true;
}

/* dns_mx_decode - preference and exchange name (no trailing dot) */
bool
dns_mx_decode(struct arena *arena, const unsigned char *rdata, size_t len,
    unsigned *pref_r, const char **name_r)
{
	if (len < 3 || !dns_name_decode(arena, rdata + 2, len - 2, name_r))
		return false;
	*pref_r = (unsigned)rdata[0] << 8 | rdata[1];
	return true;
}
