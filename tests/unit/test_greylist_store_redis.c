/*
 * test_greylist_store_redis.c - the Redis greylist store backend against
 * real redis-server processes the test starts itself on unix sockets (and
 * one loopback TCP port) in a temp directory
 *
 * redis-server must be installed: a missing server is a failed group
 * setup, not a skipped test. Every server is stopped by the group
 * teardown whatever happened, and dies with the test process
 * (PR_SET_PDEATHSIG) if the test crashes.
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
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "greylist_store.h"
#include "greylist_store_impl.h"
#include "testutil.h"

#define NODES		2
#define THREADS		4	/* per node */
#define INCREMENTS	250	/* per thread */
#define MANY		1203

/* One redis-server of the test's own. */
struct server {
	char dir[300];
	char sock[340];
	pid_t pid;		/* 0: not running */
	int port;		/* 0: unix socket only */
	const char *password;	/* NULL: none */
};

enum { SRV_MAIN, SRV_AUTH, SRV_OUTAGE, SRV_COUNT };

static char topdir[256];
static struct server servers[SRV_COUNT];
static bool have_ipv6;



/* redis_binary - redis-server from PATH, else Debian's; NULL if neither */
static const char *
redis_binary(void)
{
	static char path[512];
	const char *env = getenv("PATH"), *p, *end;
	int n;

	for (p = env; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		n = snprintf(path, sizeof(path), "%.*s/redis-server",
		    (int)(end - p), p);
		if (n > 0 && (size_t)n < sizeof(path) &&
		    access(path, X_OK) == 0)
			return path;
	}
	return access("/usr/bin/redis-server", X_OK) == 0 ?
	    "/usr/bin/redis-server" : NULL;
}


/* ipv6_loopback - whether ::1 can be bound here */
static bool
ipv6_loopback(void)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	int fd;
	bool ok;

	sin6.sin6_addr = in6addr_loopback;
	if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) < 0)
		return false;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	close(fd);
	return ok;
}

/* raw_connect - a plain hiredis connection to srv (AUTH'ed), or NULL */
static redisContext *
raw_connect(const struct server *srv)
{
	redisContext *c = redisConnectUnix(srv->sock);
	redisReply *r;

	if (c == NULL || c->err != 0) {
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	if (srv->password != NULL) {
		r = redisCommand(c, "AUTH %s", srv->password);
		if (r != NULL)
			freeReplyObject(r);
	}
	return c;
}

/* server_stop - SIGTERM (and SIGCONT, in case a test froze it), reap;
 * SIGKILL if it lingers. 0 or -1 */
static int
server_stop(struct server *srv)
{
	double until = testutil_now() + 10;
	int status;

	if (srv->pid <= 0)
		return 0;
	kill(srv->pid, SIGTERM);
	kill(srv->pid, SIGCONT);
	while (waitpid(srv->pid, &status, WNOHANG) == 0) {
		if (testutil_now() > until) {
			kill(srv->pid, SIGKILL);
			waitpid(srv->pid, &status, 0);
			break;
		}
		testutil_sleep(0.01);
	}
	srv->pid = 0;
	return 0;
}

/* server_start - run redis-server on srv->sock (and srv->port) and wait
 * until it answers PING; 0, or -1 with nothing left running */
static int
server_start(struct server *srv)
{
	const char *bin = redis_binary();
	char port[16], log[400], *argv[32];
	redisContext *c;
	redisReply *r;
	double until;
	int argc = 0, fd, status;

	if (bin == NULL) {
		fprintf(stderr, "# redis-server is not installed (apt-get "
		    "install redis-server)\n");
		return -1;
	}
	snprintf(port, sizeof(port), "%d", srv->port);
	snprintf(log, sizeof(log), "%s/redis.log", srv->dir);
	argv[argc++] = (char *)"redis-server";
	argv[argc++] = (char *)"--port";
	argv[argc++] = port;
	argv[argc++] = (char *)"--unixsocket";
	argv[argc++] = srv->sock;
	argv[argc++] = (char *)"--unixsocketperm";
	argv[argc++] = (char *)"700";
	argv[argc++] = (char *)"--dir";
	argv[argc++] = srv->dir;
	argv[argc++] = (char *)"--save";
	argv[argc++] = (char *)"";
	argv[argc++] = (char *)"--appendonly";
	argv[argc++] = (char *)"no";
	argv[argc++] = (char *)"--daemonize";
	argv[argc++] = (char *)"no";
	if (srv->port != 0) {
		argv[argc++] = (char *)"--bind";
		argv[argc++] = (char *)(have_ipv6 ? "127.0.0.1 ::1" :
		    "127.0.0.1");
	}
	if (srv->password != NULL) {
		argv[argc++] = (char *)"--requirepass";
		argv[argc++] = (char *)srv->password;
	}
	argv[argc] = NULL;

	srv->pid = fork();
	if (srv->pid < 0)
		return -1;
	if (srv->pid == 0) {
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
	for (until = testutil_now() + 10; testutil_now() < until; testutil_sleep(0.02)) {
		if (waitpid(srv->pid, &status, WNOHANG) == srv->pid) {
			fprintf(stderr, "# redis-server exited (status %d); "
			    "see %s\n", status, log);
			srv->pid = 0;
			return -1;
		}
		if ((c = raw_connect(srv)) == NULL)
			continue;
		r = redisCommand(c, "PING");
		redisFree(c);
		if (r != NULL && r->type == REDIS_REPLY_STATUS) {
			freeReplyObject(r);
			return 0;
		}
		if (r != NULL)
			freeReplyObject(r);
	}
	fprintf(stderr, "# redis-server did not answer; see %s\n", log);
	server_stop(srv);
	return -1;
}

/* server_init - name srv's directory and socket; 0 or -1 */
static int
server_init(struct server *srv, const char *name)
{
	snprintf(srv->dir, sizeof(srv->dir), "%s/%s", topdir, name);
	snprintf(srv->sock, sizeof(srv->sock), "%s/redis.sock", srv->dir);
	return mkdir(srv->dir, 0700);
}

/* group_setup - the temp directory and the main server (unix + TCP) */
static int
group_setup(void **state)
{
	(void)state;
	if (testutil_tmpdir(topdir, sizeof(topdir), "test_gl_redis") < 0)
		return -1;
	have_ipv6 = ipv6_loopback();
	if (server_init(&servers[SRV_MAIN], "main") < 0 ||
	    server_init(&servers[SRV_AUTH], "auth") < 0 ||
	    server_init(&servers[SRV_OUTAGE], "outage") < 0)
		return -1;
	servers[SRV_AUTH].password = "s3cret pass";
	if ((servers[SRV_MAIN].port = testutil_free_port()) < 0)
		return -1;
	return server_start(&servers[SRV_MAIN]);
}

/* group_teardown - stop every server, remove the directory */
static int
group_teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < SRV_COUNT; i++)
		server_stop(&servers[i]);
	return topdir[0] != '\0' ? testutil_rmtree(topdir) : 0;
}

/* raw - one command on a raw connection; fails the test on I/O errors */
static redisReply *
raw(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	assert_non_null(r);
	return r;
}

/* raw_int - an integer reply's value */
static long long
raw_int(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	long long v;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	v = r->integer;
	freeReplyObject(r);
	return v;
}

/* raw_ok - a command that must answer with a status */
static void
raw_ok(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
}

/* raw_get_is - GET key is value (NULL: nil) */
static void
raw_get_is(redisContext *c, const char *key, const char *value)
{
	redisReply *r = raw(c, "GET %s", key);

	if (value == NULL)
		assert_int_equal(r->type, REDIS_REPLY_NIL);
	else {
		assert_int_equal(r->type, REDIS_REPLY_STRING);
		assert_string_equal(r->str, value);
	}
	freeReplyObject(r);
}

/* raw_info - a numeric field of INFO */
static long long
raw_info(redisContext *c, const char *field)
{
	redisReply *r = raw(c, "INFO");
	char *p;
	long long v;

	assert_int_equal(r->type, REDIS_REPLY_STRING);
	p = strstr(r->str, field);
	assert_non_null(p);
	assert_int_equal(p[strlen(field)], ':');
	v = strtoll(p + strlen(field) + 1, NULL, 10);
	freeReplyObject(r);
	return v;
}

/* spec_of - "redis:unix:SOCK" of srv */
static const char *
spec_of(const struct server *srv)
{
	static char spec[400];

	snprintf(spec, sizeof(spec), "redis:unix:%s", srv->sock);
	return spec;
}

/* open_store - greylist_store_open that must succeed */
static struct greylist_store *
open_store(const char *spec, const struct greylist_store_options *opt)
{
	struct greylist_store *store = NULL;
	char *error = NULL;

	if (!greylist_store_open(spec, opt, &store, &error))
		fail_msg("open %s: %s", spec, error);
	assert_non_null(store);
	return store;
}

/* open_error_is - greylist_store_open must fail with exactly want */
static void
open_error_is(const char *spec, const struct greylist_store_options *opt,
    const char *want)
{
	struct greylist_store *store = (void *)1;
	char *error = NULL;

	assert_false(greylist_store_open(spec, opt, &store, &error));
	assert_null(store);
	assert_non_null(error);
	assert_string_equal(error, want);
	free(error);
}

/* backend_error_is - the backend's open must fail with exactly want */
static void
backend_error_is(const char *name, const char *want)
{
	static const struct greylist_store_options opt = { 0 };
	void *state = NULL;
	char *error = NULL;

	assert_false(greylist_store_redis.open(name, &opt, &state, &error));
	assert_non_null(error);
	assert_string_equal(error, want);
	free(error);
}

/* encoded - a record as greylist_store.c encodes it */
static const char *
encoded(char *buf, size_t len, int64_t expires, int64_t first,
    int64_t last, int64_t count)
{
	snprintf(buf, len, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64,
	    expires, first, last, count);
	return buf;
}

/* record - an encoded record first seen at 10, last at 20 */
static const char *
record(char *buf, size_t len, int64_t expires, int64_t count)
{
	return encoded(buf, len, expires, 10, 20, count);
}

/* test_names - malformed server names are open errors naming the fault */
static void
test_names(void **state)
{
	(void)state;
	backend_error_is("unix:", "no socket path after \"unix:\"");
	backend_error_is("[::1", "no \"]\" after the IPv6 address");
	backend_error_is("[]:6379", "empty host");
	backend_error_is("[::1]6379", "\"6379\" after \"]\" is not \":PORT\"");
	backend_error_is("[::1]:", "bad port \"\" (use 1-65535)");
	backend_error_is("::1", "an IPv6 address needs brackets: "
	    "[ADDRESS]:PORT");
	backend_error_is("::1:6379", "an IPv6 address needs brackets: "
	    "[ADDRESS]:PORT");
	backend_error_is(":6379", "empty host");
	backend_error_is("", "empty host");
	backend_error_is("localhost:", "bad port \"\" (use 1-65535)");
	backend_error_is("localhost:0", "bad port \"0\" (use 1-65535)");
	backend_error_is("localhost:65536",
	    "bad port \"65536\" (use 1-65535)");
	backend_error_is("localhost:99999999999999999999",
	    "bad port \"99999999999999999999\" (use 1-65535)");
	backend_error_is("localhost:63x", "bad port \"63x\" (use 1-65535)");
	backend_error_is("localhost:-1", "bad port \"-1\" (use 1-65535)");
	/* the front end puts the spec in front */
	open_error_is("redis:localhost:x", NULL,
	    "redis:localhost:x: bad port \"x\" (use 1-65535)");
}

/* test_connect_errors - nobody at the address: an open error, exactly */
static void
test_connect_errors(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	char spec[600], want[1024];
	int fd;

	(void)state;
	snprintf(spec, sizeof(spec), "redis:unix:%s/nobody.sock", topdir);
	snprintf(want, sizeof(want), "%s: cannot connect to unix:%s/"
	    "nobody.sock: No such file or directory", spec, topdir);
	open_error_is(spec, NULL, want);

	/* a bound TCP socket that does not listen refuses connections */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(spec, sizeof(spec), "redis:127.0.0.1:%d",
	    ntohs(sin.sin_port));
	snprintf(want, sizeof(want), "%s: cannot connect to 127.0.0.1:%d: "
	    "Connection refused", spec, ntohs(sin.sin_port));
	open_error_is(spec, NULL, want);
	close(fd);
}

/* test_tcp - host:port, a host name and [::1]:port reach the server */
static void
test_tcp(void **state)
{
	const struct greylist_store_options opt = { .key_prefix = "tcp:" };
	struct greylist_store *store;
	struct greylist_store_why why;
	struct greylist_record rec;
	char spec[64];
	int port = servers[SRV_MAIN].port;
	int64_t now = time(NULL);
	const char *forms[] = {
		"redis:127.0.0.1:%d", "redis:localhost:%d",
		"redis:[127.0.0.1]:%d", "redis:[::1]:%d",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		if (i == 3 && !have_ipv6) {
			print_message("# no ::1 here: [::1]:PORT not tried\n");
			continue;
		}
		snprintf(spec, sizeof(spec), forms[i], port);
		store = open_store(spec, &opt);
		assert_string_equal(greylist_store_spec(store), spec);
		assert_int_equal(greylist_store_delete(store, "k", &why),
		    GREYLIST_STORE_NOTFOUND);
		assert_int_equal(greylist_store_get(store, "k", now, &rec,
		    &why), GREYLIST_STORE_NOTFOUND);
		greylist_store_close(&store);
		assert_null(store);
	}
}

/* test_backend - every vtable operation, with the raw server as witness */
static void
test_backend(void **state)
{
	const struct greylist_store_options opt = { .key_prefix = "ops:" };
	const struct server *srv = &servers[SRV_MAIN];
	struct greylist_store_why why;
	redisContext *c = raw_connect(srv);
	char value[GREYLIST_STORE_VALUE_MAX], want[600], *error = NULL;
	const char *name = spec_of(srv) + strlen("redis:");
	int64_t now = time(NULL);
	long long ttl, conns;
	void *st = NULL;

	(void)state;
	assert_non_null(c);
	raw_int(c, "DEL ops:k ops:h ops:big k");
	assert_true(greylist_store_redis.open(name, &opt, &st, &error));
	assert_int_equal(greylist_store_redis.get(st, "k", value,
	    sizeof(value), &why), GREYLIST_STORE_NOTFOUND);

	/* a new key: SET NX, with the TTL of its expiry */
	assert_int_equal(greylist_store_redis.cas(st, "k", NULL, "v1", now,
	    now + 100, &why), GREYLIST_STORE_FOUND);
	raw_get_is(c, "ops:k", "v1");
	raw_get_is(c, "k", NULL);
	ttl = raw_int(c, "PTTL ops:k");
	assert_true(ttl > 95000 && ttl <= 100000);
	assert_int_equal(greylist_store_redis.cas(st, "k", NULL, "v2", now,
	    now + 100, &why), GREYLIST_STORE_NOTFOUND);
	raw_get_is(c, "ops:k", "v1");

	/* a replacement: only over the value read */
	assert_int_equal(greylist_store_redis.cas(st, "k", "v0", "v2", now,
	    now + 200, &why), GREYLIST_STORE_NOTFOUND);
	raw_get_is(c, "ops:k", "v1");
	assert_int_equal(greylist_store_redis.cas(st, "k", "v1", "v2", now,
	    now + 200, &why), GREYLIST_STORE_FOUND);
	raw_get_is(c, "ops:k", "v2");
	ttl = raw_int(c, "PTTL ops:k");
	assert_true(ttl > 195000 && ttl <= 200000);
	/* ... and never brings back a key that went away */
	assert_int_equal(greylist_store_redis.cas(st, "gone", "v1", "v2", now,
	    now + 200, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(raw_int(c, "EXISTS ops:gone"), 0);

	/* TTLs: at least a second, capped far in the future */
	assert_int_equal(greylist_store_redis.cas(st, "big", NULL, "v", 0,
	    INT64_MAX, &why), GREYLIST_STORE_FOUND);
	ttl = raw_int(c, "PTTL ops:big");
	assert_true(ttl > 3000000000000LL && ttl <= 3162240000000LL);
	assert_int_equal(greylist_store_redis.cas(st, "big", "v", "w",
	    INT64_MIN, INT64_MAX, &why), GREYLIST_STORE_FOUND);
	ttl = raw_int(c, "PTTL ops:big");
	assert_true(ttl > 3000000000000LL && ttl <= 3162240000000LL);
	assert_int_equal(greylist_store_redis.cas(st, "big", "w", "x", now,
	    now, &why), GREYLIST_STORE_FOUND);
	ttl = raw_int(c, "PTTL ops:big");
	assert_true(ttl > 0 && ttl <= 1000);

	/* get copies exactly; a value that does not fit is an error */
	assert_int_equal(greylist_store_redis.get(st, "k", value, 3, &why),
	    GREYLIST_STORE_FOUND);
	assert_string_equal(value, "v2");
	assert_int_equal(greylist_store_redis.get(st, "k", value, 2, &why),
	    GREYLIST_STORE_ERROR);
	snprintf(want, sizeof(want), "redis %s: value of k is too long "
	    "(2 bytes)", name);
	assert_string_equal(why.text, want);

	/* del */
	assert_int_equal(greylist_store_redis.del(st, "k", &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(greylist_store_redis.del(st, "k", &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(raw_int(c, "EXISTS ops:k"), 0);

	/* a server error is an ERROR naming the server, and the
	 * connection stays */
	assert_int_equal(raw_int(c, "HSET ops:h f v"), 1);
	conns = raw_info(c, "total_connections_received");
	assert_int_equal(greylist_store_redis.get(st, "h", value,
	    sizeof(value), &why), GREYLIST_STORE_ERROR);
	snprintf(want, sizeof(want), "redis %s: GET: WRONGTYPE Operation "
	    "against a key holding the wrong kind of value", name);
	assert_string_equal(why.text, want);
	assert_int_equal(greylist_store_redis.cas(st, "h", NULL, "v", now,
	    now + 10, NULL), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_redis.cas(st, "h", "v", "w", now,
	    now + 10, &why), GREYLIST_STORE_ERROR);
	snprintf(want, sizeof(want), "redis %s: EVAL: ", name);
	assert_memory_equal(why.text, want, strlen(want));
	assert_non_null(strstr(why.text, "WRONGTYPE"));
	assert_int_equal(greylist_store_redis.get(st, "h", value,
	    sizeof(value), NULL), GREYLIST_STORE_ERROR);
	assert_int_equal(greylist_store_redis.get(st, "k", value,
	    sizeof(value), &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(raw_info(c, "total_connections_received"), conns);

	raw_int(c, "DEL ops:h ops:big");
	greylist_store_redis.close(st);
	redisFree(c);
}

struct seen {
	char keys[16][64];
	int64_t counts[16];
	size_t n;
	size_t stop_after;	/* 0: never */
};

/* collect - a walk callback remembering keys and counts */
static bool
collect(void *ctx, const char *key, const struct greylist_record *rec)
{
	struct seen *s = ctx;

	assert_true(s->n < 16);
	snprintf(s->keys[s->n], sizeof(s->keys[s->n]), "%s", key);
	s->counts[s->n] = rec->count;
	s->n++;
	return s->stop_after == 0 || s->n < s->stop_after;
}

/* seen_has - key was visited exactly once, with count */
static void
seen_has(const struct seen *s, const char *key, int64_t count)
{
	size_t i, hits = 0;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->keys[i], key) == 0) {
			assert_int_equal(s->counts[i], count);
			hits++;
		}
	if (hits != 1)
		fail_msg("%s seen %zu times", key, hits);
}

struct incr {
	int64_t now;
	int calls;
};

/* incr - an update adding one to count */
static bool
incr(void *ctx, const struct greylist_record *old,
    struct greylist_record *new_r)
{
	struct incr *c = ctx;

	c->calls++;
	if (old != NULL)
		*new_r = *old;
	else
		new_r->first = new_r->last = c->now;
	new_r->count++;
	new_r->expires = c->now + 3600;
	return true;
}

/* test_front_end - the public API over "redis:unix:SOCK" */
static void
test_front_end(void **state)
{
	const struct greylist_store_options opt = { .key_prefix = "fe:" };
	const struct server *srv = &servers[SRV_MAIN];
	redisContext *c = raw_connect(srv);
	struct greylist_store *store;
	struct greylist_store_why why;
	struct greylist_record rec;
	struct incr ic = { .now = time(NULL) };
	struct seen seen = { .n = 0 };
	char buf[96];
	size_t count;
	long long ttl;

	(void)state;
	assert_non_null(c);
	store = open_store(spec_of(srv), &opt);
	assert_string_equal(greylist_store_spec(store), spec_of(srv));

	assert_int_equal(greylist_store_update(store, "a", ic.now, incr, &ic,
	    &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_update(store, "a", ic.now, incr, &ic,
	    &why), GREYLIST_STORE_FOUND);
	assert_int_equal(greylist_store_get(store, "a", ic.now, &rec, &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(rec.count, 2);
	assert_int_equal(rec.first, ic.now);
	assert_int_equal(rec.expires, ic.now + 3600);
	raw_get_is(c, "fe:a", encoded(buf, sizeof(buf), ic.now + 3600, ic.now,
	    ic.now, 2));
	raw_get_is(c, "a", NULL);
	ttl = raw_int(c, "PTTL fe:a");
	assert_true(ttl > 3595000 && ttl <= 3600000);

	/* an expired value the server still holds is no record, and an
	 * update replaces exactly it */
	raw_ok(c, "SET fe:old %s", record(buf, sizeof(buf), ic.now - 1, 7));
	assert_int_equal(greylist_store_get(store, "old", ic.now, &rec, &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_update(store, "old", ic.now, incr,
	    &ic, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_get(store, "old", ic.now, &rec, &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(rec.count, 1);

	/* walk sees live records without the prefix */
	raw_ok(c, "SET fe:dead %s", record(buf, sizeof(buf), ic.now - 1, 7));
	assert_int_equal(greylist_store_walk(store, "", ic.now, collect,
	    &seen, &why), GREYLIST_STORE_FOUND);
	assert_int_equal(seen.n, 2);
	seen_has(&seen, "a", 2);
	seen_has(&seen, "old", 1);

	assert_int_equal(greylist_store_delete(store, "a", &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(greylist_store_delete(store, "a", &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_get(store, "a", ic.now, &rec, &why),
	    GREYLIST_STORE_NOTFOUND);

	/* flush takes the dead too, and nothing outside the prefix */
	raw_ok(c, "SET other:x %s", record(buf, sizeof(buf), ic.now + 60, 1));
	assert_int_equal(greylist_store_flush(store, "", &count, &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(count, 2);
	assert_int_equal(raw_int(c, "EXISTS fe:old fe:dead other:x"), 1);
	assert_int_equal(greylist_store_flush(store, "", &count, &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(count, 0);
	assert_int_equal(greylist_store_walk(store, "", ic.now, collect,
	    &seen, &why), GREYLIST_STORE_NOTFOUND);
	raw_int(c, "DEL other:x");

	greylist_store_close(&store);
	assert_null(store);
	greylist_store_close(&store);
	redisFree(c);
}

/* test_prefix - the key prefix is on the server, globs in it and in
 * walk prefixes are taken literally, and walk hands keys back bare */
static void
test_prefix(void **state)
{
	const struct greylist_store_options opt = {
		.key_prefix = "p[1]*\\?:",
	};
	const struct server *srv = &servers[SRV_MAIN];
	static const char *const keys[] = {
		"a", "a*b", "a?c", "a[x]", "a\\y", "ab", "b",
	};
	static const struct {
		const char *prefix;
		const char *only;	/* NULL: every key */
	} walks[] = {
		{ "", NULL }, { "a*", "a*b" }, { "a?", "a?c" },
		{ "a[", "a[x]" }, { "a\\", "a\\y" }, { "b", "b" },
	};
	redisContext *c = raw_connect(srv);
	struct greylist_store *store;
	struct greylist_store_why why;
	struct incr ic = { .now = time(NULL) };
	struct seen seen;
	char buf[96];
	size_t i, j;

	(void)state;
	assert_non_null(c);
	store = open_store(spec_of(srv), &opt);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		assert_int_equal(greylist_store_update(store, keys[i], ic.now,
		    incr, &ic, &why), GREYLIST_STORE_NOTFOUND);
		raw_get_is(c, keys[i], NULL);
	}
	raw_get_is(c, "p[1]*\\?:a\\y", encoded(buf, sizeof(buf),
	    ic.now + 3600, ic.now, ic.now, 1));
	/* keys that an unescaped pattern would take for ours */
	raw_ok(c, "SET p1zz?:a %s", buf);
	raw_ok(c, "SET p[1]*\\?:-aq %s", buf);
	raw_ok(c, "SET p[1]*\\?: %s", buf);

	for (i = 0; i < sizeof(walks) / sizeof(walks[0]); i++) {
		memset(&seen, 0, sizeof(seen));
		assert_int_equal(greylist_store_walk(store, walks[i].prefix,
		    ic.now, collect, &seen, &why), GREYLIST_STORE_FOUND);
		if (walks[i].only != NULL) {
			assert_int_equal(seen.n, 1);
			seen_has(&seen, walks[i].only, 1);
			continue;
		}
		assert_int_equal(seen.n, sizeof(keys) / sizeof(keys[0]) + 1);
		for (j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
			seen_has(&seen, keys[j], 1);
		seen_has(&seen, "-aq", 1);
	}
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(greylist_store_walk(store, "zz", ic.now, collect,
	    &seen, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(seen.n, 0);

	raw_int(c, "DEL p1zz?:a");
	assert_int_equal(greylist_store_flush(store, "", NULL, &why),
	    GREYLIST_STORE_FOUND);
	/* the empty key under the prefix was never ours to touch */
	assert_int_equal(raw_int(c, "DEL p[1]*\\?:"), 1);
	greylist_store_close(&store);
	redisFree(c);
}

struct worker {
	struct greylist_store *store;
	int64_t now;
	int created;		/* updates that found no record */
	int lost;		/* updates that lost every CAS round */
	char error[GREYLIST_STORE_WHY_MAX];
};

/* worker_run - INCREMENTS updates of one key, retrying only updates
 * that lost to the others every time (nothing was written then) */
static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct greylist_store_why why;
	struct incr ic = { .now = w->now };
	int i;

	for (i = 0; i < INCREMENTS; i++) {
		switch (greylist_store_update(w->store, "hot", w->now, incr,
		    &ic, &why)) {
		case GREYLIST_STORE_NOTFOUND:
			w->created++;
			break;
		case GREYLIST_STORE_FOUND:
			break;
		case GREYLIST_STORE_ERROR:
			if (strstr(why.text, "changed by others") == NULL) {
				snprintf(w->error, sizeof(w->error), "%s",
				    why.text);
				return NULL;
			}
			w->lost++;
			i--;
			break;
		}
	}
	return NULL;
}

/* test_two_nodes - two stores (nodes), four threads each, one key: every
 * increment counts once, and the pools keep their connection counts */
static void
test_two_nodes(void **state)
{
	const struct greylist_store_options opt = {
		.key_prefix = "node:",
		.connections = 2,
	};
	const struct server *srv = &servers[SRV_MAIN];
	struct worker workers[NODES * THREADS];
	struct greylist_store *stores[NODES];
	pthread_t tids[NODES * THREADS];
	struct greylist_store_why why;
	struct greylist_record rec;
	redisContext *c = raw_connect(srv);
	int64_t now = time(NULL);
	long long clients;
	int i, created = 0, lost = 0;

	(void)state;
	assert_non_null(c);
	raw_int(c, "DEL node:hot");
	clients = raw_info(c, "connected_clients");
	for (i = 0; i < NODES; i++)
		stores[i] = open_store(spec_of(srv), &opt);
	for (i = 0; i < NODES * THREADS; i++) {
		memset(&workers[i], 0, sizeof(workers[i]));
		workers[i].store = stores[i % NODES];
		workers[i].now = now;
		assert_int_equal(pthread_create(&tids[i], NULL, worker_run,
		    &workers[i]), 0);
	}
	for (i = 0; i < NODES * THREADS; i++)
		pthread_join(tids[i], NULL);
	for (i = 0; i < NODES * THREADS; i++) {
		if (workers[i].error[0] != '\0')
			fail_msg("worker %d: %s", i, workers[i].error);
		created += workers[i].created;
		lost += workers[i].lost;
	}
	if (lost > 0)
		print_message("# %d updates lost every CAS round and were "
		    "retried\n", lost);
	assert_int_equal(created, 1);
	assert_int_equal(greylist_store_get(stores[0], "hot", now, &rec,
	    &why), GREYLIST_STORE_FOUND);
	assert_int_equal(rec.count, NODES * THREADS * INCREMENTS);
	assert_int_equal(greylist_store_get(stores[1], "hot", now, &rec,
	    &why), GREYLIST_STORE_FOUND);
	assert_int_equal(rec.count, NODES * THREADS * INCREMENTS);
	/* every slot of both pools in use, and no more */
	assert_int_equal(raw_info(c, "connected_clients"), clients + NODES * 2);
	for (i = 0; i < NODES; i++)
		greylist_store_close(&stores[i]);
	raw_int(c, "DEL node:hot");
	redisFree(c);
}

struct tally {
	int hits[MANY];
	int stray;
	size_t visits;
	size_t stop_after;	/* 0: never */
};

/* tally - a walk callback counting visits per key "w:NNNN" */
static bool
tally(void *ctx, const char *key, const struct greylist_record *rec)
{
	struct tally *t = ctx;
	unsigned n;
	char end;

	t->visits++;
	if (sscanf(key, "%4u%c", &n, &end) == 1 && n < MANY &&
	    rec->count == n)
		t->hits[n]++;
	else
		t->stray++;
	return t->stop_after == 0 || t->visits < t->stop_after;
}

/* test_walk_many - more keys than one SCAN batch: each exactly once */
static void
test_walk_many(void **state)
{
	const struct greylist_store_options opt = { .key_prefix = "many:" };
	const struct server *srv = &servers[SRV_MAIN];
	struct greylist_store *store;
	struct greylist_store_why why;
	struct tally *t = calloc(1, sizeof(*t));
	redisContext *c = raw_connect(srv);
	redisReply *r;
	int64_t now = time(NULL);
	char buf[96];
	size_t count;
	int i;

	(void)state;
	assert_non_null(t);
	assert_non_null(c);
	/* pipelined: a thousand round trips are slow under valgrind */
	for (i = 0; i < MANY; i++)
		redisAppendCommand(c, "SET many:%04d %s", i,
		    record(buf, sizeof(buf), now + 3600, i));
	for (i = 0; i < MANY; i++) {
		assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
		freeReplyObject(r);
	}
	store = open_store(spec_of(srv), &opt);
	assert_int_equal(greylist_store_walk(store, "", now, tally, t, &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(t->stray, 0);
	assert_int_equal(t->visits, MANY);
	for (i = 0; i < MANY; i++)
		if (t->hits[i] != 1)
			fail_msg("many:%04d seen %d times", i, t->hits[i]);

	/* a prefix narrows it */
	memset(t, 0, sizeof(*t));
	assert_int_equal(greylist_store_walk(store, "01", now, tally, t,
	    &why), GREYLIST_STORE_FOUND);
	assert_int_equal(t->visits, 100);
	for (i = 100; i < 200; i++)
		assert_int_equal(t->hits[i], 1);

	/* the callback stops it */
	memset(t, 0, sizeof(*t));
	t->stop_after = 10;
	assert_int_equal(greylist_store_walk(store, "", now, tally, t, &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(t->visits, 10);

	assert_int_equal(greylist_store_flush(store, "", &count, &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(count, MANY);
	greylist_store_close(&store);
	redisFree(c);
	free(t);
}

/* test_auth - AUTH with the password, and an open error without it */
static void
test_auth(void **state)
{
	struct server *srv = &servers[SRV_AUTH];
	struct greylist_store_options opt = { .key_prefix = "auth:" };
	struct greylist_store *store;
	struct greylist_store_why why;
	struct greylist_record rec;
	struct incr ic = { .now = time(NULL) };
	char want[600];

	(void)state;
	assert_int_equal(server_start(srv), 0);
	snprintf(want, sizeof(want), "%s: PING failed: NOAUTH Authentication "
	    "required.", spec_of(srv));
	open_error_is(spec_of(srv), &opt, want);
	opt.password = "";
	open_error_is(spec_of(srv), &opt, want);
	opt.password = "wrong";
	snprintf(want, sizeof(want), "%s: AUTH failed: WRONGPASS invalid "
	    "username-password pair or user is disabled.", spec_of(srv));
	open_error_is(spec_of(srv), &opt, want);

	opt.password = srv->password;
	opt.connections = 3;
	store = open_store(spec_of(srv), &opt);
	/* lazily made connections authenticate too */
	assert_int_equal(greylist_store_update(store, "k", ic.now, incr, &ic,
	    &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_update(store, "k", ic.now, incr, &ic,
	    &why), GREYLIST_STORE_FOUND);
	assert_int_equal(greylist_store_get(store, "k", ic.now, &rec, &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(rec.count, 2);
	greylist_store_close(&store);
	assert_int_equal(server_stop(srv), 0);
}

/* test_select - database N keeps its keys apart from database 0 */
static void
test_select(void **state)
{
	struct greylist_store_options opt = {
		.key_prefix = "sel:",
		.database = 3,
		.connections = 2,
	};
	const struct server *srv = &servers[SRV_MAIN];
	struct greylist_store *db3, *db0;
	struct greylist_store_why why;
	struct greylist_record rec;
	struct incr ic = { .now = time(NULL) };
	redisContext *c = raw_connect(srv);
	char want[600];

	(void)state;
	assert_non_null(c);
	db3 = open_store(spec_of(srv), &opt);
	/* three calls: both slots, the lazy one selecting too */
	assert_int_equal(greylist_store_update(db3, "k", ic.now, incr, &ic,
	    &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_update(db3, "k", ic.now, incr, &ic,
	    &why), GREYLIST_STORE_FOUND);
	assert_int_equal(greylist_store_get(db3, "k", ic.now, &rec, &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(rec.count, 2);
	assert_int_equal(raw_int(c, "EXISTS sel:k"), 0);
	raw_ok(c, "SELECT 3");
	assert_int_equal(raw_int(c, "EXISTS sel:k"), 1);
	raw_ok(c, "SELECT 0");

	opt.database = 0;
	db0 = open_store(spec_of(srv), &opt);
	assert_int_equal(greylist_store_get(db0, "k", ic.now, &rec, &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_walk(db0, "", ic.now, collect,
	    &(struct seen){ .n = 0 }, &why), GREYLIST_STORE_NOTFOUND);
	greylist_store_close(&db0);
	assert_int_equal(greylist_store_delete(db3, "k", &why),
	    GREYLIST_STORE_FOUND);
	greylist_store_close(&db3);

	opt.database = 99;
	snprintf(want, sizeof(want), "%s: SELECT 99 failed: ERR DB index is "
	    "out of range", spec_of(srv));
	open_error_is(spec_of(srv), &opt, want);
	redisFree(c);
}

/* timed_get - greylist_store_get, its result and how long it took */
static enum greylist_store_result
timed_get(struct greylist_store *store, const char *key, double *took,
    struct greylist_store_why *why)
{
	struct greylist_record rec;
	enum greylist_store_result r;
	double t0 = testutil_now();

	r = greylist_store_get(store, key, time(NULL), &rec, why);
	*took = testutil_now() - t0;
	return r;
}

/* test_outage - a server that goes away: prompt errors (no SIGPIPE
 * death), one connect a second, and recovery once it is back */
static void
test_outage(void **state)
{
	const struct greylist_store_options opt = {
		.key_prefix = "out:",
		.timeout = 5,
		.connections = 2,
	};
	struct server *srv = &servers[SRV_OUTAGE];
	struct greylist_store *store;
	struct greylist_store_why why;
	struct incr ic = { .now = time(NULL) };
	const char *name = spec_of(srv) + strlen("redis:");
	char down[600], want[600];
	double took, failed_at;
	int i;

	(void)state;
	assert_int_equal(server_start(srv), 0);
	store = open_store(spec_of(srv), &opt);
	assert_int_equal(greylist_store_update(store, "k", ic.now, incr, &ic,
	    &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(timed_get(store, "k", &took, &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(server_stop(srv), 0);

	/* the read breaks on the old connection (a write to the closed
	 * socket raises SIGPIPE, which would kill this test), is run once
	 * more on a new connection, and that cannot be made */
	assert_int_equal(timed_get(store, "k", &took, &why),
	    GREYLIST_STORE_ERROR);
	failed_at = testutil_now();
	assert_true(took < 0.5 * testutil_slack());
	snprintf(want, sizeof(want), "redis %s: cannot connect: No such file "
	    "or directory", name);
	assert_string_equal(why.text, want);
	/* then every call fails at once, without trying */
	snprintf(down, sizeof(down), "redis %s is down: cannot connect: No "
	    "such file or directory; next try in <1s", name);
	for (i = 0; i < 20; i++) {
		assert_int_equal(greylist_store_delete(store, "k", &why),
		    GREYLIST_STORE_ERROR);
		assert_string_equal(why.text, down);
		assert_int_equal(greylist_store_update(store, "k", ic.now,
		    incr, &ic, &why), GREYLIST_STORE_ERROR);
		assert_string_equal(why.text, down);
	}

	/* back on the same socket: no try until the second is over */
	assert_int_equal(server_start(srv), 0);
	if (testutil_now() - failed_at < 0.8) {
		assert_int_equal(timed_get(store, "k", &took, &why),
		    GREYLIST_STORE_ERROR);
		assert_string_equal(why.text, down);
	} else
		print_message("# restart too slow to see the retry gate\n");
	testutil_sleep(1.1);
	/* the server lost everything; NOTFOUND is an answer */
	for (i = 0; i < 4; i++)
		assert_int_equal(timed_get(store, "k", &took, &why),
		    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_update(store, "k", ic.now, incr, &ic,
	    &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(timed_get(store, "k", &took, &why),
	    GREYLIST_STORE_FOUND);

	/* a restart between two calls costs no failed call: the broken
	 * read is run again on a new connection, and the other slot's
	 * connection is remade before its next use */
	assert_int_equal(server_stop(srv), 0);
	assert_int_equal(server_start(srv), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(timed_get(store, "k", &took, &why),
		    GREYLIST_STORE_NOTFOUND);
		assert_int_equal(greylist_store_update(store, "k", ic.now,
		    incr, &ic, &why), GREYLIST_STORE_NOTFOUND);
		assert_int_equal(greylist_store_delete(store, "k", &why),
		    GREYLIST_STORE_FOUND);
	}
	greylist_store_close(&store);
}

/* test_timeout - a server that does not answer costs the timeout, at
 * open and per call, and the store recovers when it answers again */
static void
test_timeout(void **state)
{
	const struct greylist_store_options opt = {
		.key_prefix = "out:",
		.timeout = 0.3,
	};
	struct server *srv = &servers[SRV_OUTAGE];
	struct greylist_store *store;
	struct greylist_store_why why;
	const char *name = spec_of(srv) + strlen("redis:");
	char want[600];
	double took;

	(void)state;
	if (srv->pid == 0)
		assert_int_equal(server_start(srv), 0);
	store = open_store(spec_of(srv), &opt);
	assert_int_equal(timed_get(store, "t", &took, &why),
	    GREYLIST_STORE_NOTFOUND);

	kill(srv->pid, SIGSTOP);
	assert_int_equal(timed_get(store, "t", &took, &why),
	    GREYLIST_STORE_ERROR);
	snprintf(want, sizeof(want), "redis %s: GET: timed out after 0.3s",
	    name);
	assert_string_equal(why.text, want);
	assert_true(took >= 0.25 && took < 2 * testutil_slack());
	snprintf(want, sizeof(want), "%s: PING failed: timed out after 0.3s",
	    spec_of(srv));
	open_error_is(spec_of(srv), &opt, want);
	kill(srv->pid, SIGCONT);

	/* connecting works, so no down time: the next call reconnects */
	assert_int_equal(timed_get(store, "t", &took, &why),
	    GREYLIST_STORE_NOTFOUND);
	greylist_store_close(&store);
	assert_int_equal(server_stop(srv), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_connect_errors),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_backend),
		cmocka_unit_test(test_front_end),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_two_nodes),
		cmocka_unit_test(test_walk_many),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_outage),
		cmocka_unit_test(test_timeout),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
