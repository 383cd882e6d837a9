/*
 * greylist_store_redis.c - the Redis greylist store backend (hiredis);
 * see greylist_store.h and greylist_store_impl.h for the contract
 *
 * Every key is opt->key_prefix followed by the caller's key; every value
 * gets a TTL equal to its expiry, so Redis drops dead records by itself.
 * Writes are compare-and-set on the server (SET NX for a new key, one Lua
 * script for a replacement): Redis runs a command or a script alone, so
 * nothing any other client does can fall between the comparison and the
 * write. That is what makes greylist_store_update atomic across any
 * number of filterd nodes sharing one server.
 *
 * Connections: a pool of opt->connections slots, each one hiredis context
 * behind a mutex. A context that sees an I/O or protocol error is freed
 * and made again by a later call on its slot. After a failed connect the
 * store counts as down and every call that needs a connection fails at
 * once until a second has passed; then one caller tries again. A dead
 * server so costs a call at most one failed connect, and gets at most
 * one attempt a second from this store.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "greylist_store_impl.h"
#include "log.h"
#include "mem.h"

#define REDIS_STORE_PORT	6379
#define REDIS_STORE_SCAN_COUNT	"500"
/* TTLs are capped so that Redis never sees an overflowing expiry time */
#define REDIS_STORE_TTL_MAX	((int64_t)100 * 366 * 86400)
#define REDIS_STORE_RETRY_NS	1000000000LL
#define REDIS_STORE_TIMEOUT_MAX	86400.0
#define REDIS_STORE_ARGS	8

/*
 * The replacing compare-and-set: write ARGV[2] with a TTL of ARGV[3] ms
 * only if the key still holds ARGV[1]. A missing key reads as false in
 * Lua, which never equals a string, so a key that expired or was deleted
 * meanwhile is not brought back here (the front end retries it as new).
 */
static const char redis_store_cas_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) "
    "return 1 end return 0";

struct redis_store_slot {
	pthread_mutex_t lock;
	redisContext *ctx;	/* NULL: connect at the next use */
	unsigned gen;		/* store->gen when ctx was made */
};

struct redis_store {
	char *name;		/* the server as configured, for messages */
	char *path;		/* unix socket, or NULL for TCP */
	char *host;
	int port;
	char *prefix;
	size_t prefix_len;
	char *password;		/* NULL: no AUTH */
	unsigned long database;
	struct timeval timeout;
	double timeout_s;
	unsigned nslots;
	struct redis_store_slot *slot;
	atomic_uint next;	/* the slot the next caller tries first */
	atomic_uint gen;	/* bumped by every broken connection */
	pthread_mutex_t down_lock;
	bool down;		/* the last connect failed ... */
	int64_t retry_ns;	/* ... and no one tries before this */
	char down_why[GREYLIST_STORE_WHY_MAX];
};

/* One command, as hiredis's argv interface takes it. */
struct redis_store_cmd {
	int argc;
	const char *argv[REDIS_STORE_ARGS];
	size_t len[REDIS_STORE_ARGS];
};

/* redis_store_now_ns - the monotonic clock in nanoseconds */
static int64_t
redis_store_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* redis_store_arg - append one argument to cmd */
static void
redis_store_arg(struct redis_store_cmd *cmd, const char *s)
{
	if (cmd->argc >= REDIS_STORE_ARGS)
		log_panic("redis_store_arg: more than %d arguments",
		    REDIS_STORE_ARGS);
	cmd->argv[cmd->argc] = s;
	cmd->len[cmd->argc] = strlen(s);
	cmd->argc++;
}

/*
 * redis_store_send - run one command on ctx. hiredis writes with write(2),
 * which raises SIGPIPE when the server has gone away (at once on a unix
 * socket); a store is a library and must not kill its process for that,
 * so SIGPIPE is held back in this thread and a signal raised by this call
 * is swallowed. *errno_r is errno just after the command, to tell a
 * timeout from other I/O errors.
 */
static redisReply *
redis_store_send(redisContext *ctx, int argc, const char *const *argv,
    const size_t *len, int *errno_r)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old, pending;
	redisReply *reply;
	bool was_pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	was_pending = sigpending(&pending) == 0 &&
	    sigismember(&pending, SIGPIPE) == 1;
	errno = 0;
	/* hiredis only reads argv, whatever its prototype says */
	reply = redisCommandArgv(ctx, argc, (const char **)argv, len);
	*errno_r = errno;
	if (!was_pending && sigpending(&pending) == 0 &&
	    sigismember(&pending, SIGPIPE) == 1)
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 &&
		    errno == EINTR)
			continue;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return reply;
}

/* redis_store_io_error - ctx's error as text, a timeout said plainly */
static void
redis_store_io_error(const struct redis_store *store,
    const redisContext *ctx, int err, char *buf, size_t len)
{
	if (ctx->err == REDIS_ERR_IO && (err == EAGAIN || err == EWOULDBLOCK))
		snprintf(buf, len, "timed out after %gs", store->timeout_s);
	else if (ctx->errstr[0] != '\0')
		snprintf(buf, len, "%s", ctx->errstr);
	else
		snprintf(buf, len, "connection error %d", ctx->err);
}

/*
 * redis_store_setup_cmd - one command of connection setup; true if the
 * reply is the status "OK" (or, for PING, any status). Otherwise the
 * reason (without the server's name) goes into buf.
 */
static bool
redis_store_setup_cmd(const struct redis_store *store, redisContext *ctx,
    const struct redis_store_cmd *cmd, const char *what, char *buf,
    size_t len)
{
	char io[160];	/* hiredis errors are shorter */
	redisReply *reply;
	bool ok;
	int err;

	reply = redis_store_send(ctx, cmd->argc, cmd->argv, cmd->len, &err);
	if (reply == NULL) {
		redis_store_io_error(store, ctx, err, io, sizeof(io));
		snprintf(buf, len, "%s failed: %s", what, io);
		return false;
	}
	ok = reply->type == REDIS_REPLY_STATUS &&
	    (strcmp(cmd->argv[0], "PING") == 0 ||
	    strcmp(reply->str, "OK") == 0);
	if (!ok && (reply->type == REDIS_REPLY_ERROR ||
	    reply->type == REDIS_REPLY_STATUS))
		snprintf(buf, len, "%s failed: %s", what, reply->str);
	else if (!ok)
		snprintf(buf, len, "%s failed: unexpected reply type %d", what,
		    reply->type);
	freeReplyObject(reply);
	return ok;
}

/*
 * redis_store_connect - a new context, authenticated and on the right
 * database (and answering PING when ping is set), or NULL with the reason
 * in buf. named: word a failed connect "cannot connect to SERVER", as
 * open reports it; the other callers put the server in front themselves.
 */
static redisContext *
redis_store_connect(const struct redis_store *store, bool ping, bool named,
    char *buf, size_t len)
{
	char db[24], what[32];
	struct redis_store_cmd auth = { 0 }, select = { 0 }, png = { 0 };
	redisContext *ctx;

	if (store->path != NULL)
		ctx = redisConnectUnixWithTimeout(store->path, store->timeout);
	else
		ctx = redisConnectWithTimeout(store->host, store->port,
		    store->timeout);
	if (ctx == NULL) {
		snprintf(buf, len, "cannot connect%s%s: out of memory",
		    named ? " to " : "", named ? store->name : "");
		return NULL;
	}
	if (ctx->err != 0) {
		snprintf(buf, len, "cannot connect%s%s: %s",
		    named ? " to " : "", named ? store->name : "",
		    ctx->errstr);
		redisFree(ctx);
		return NULL;
	}
	if (redisSetTimeout(ctx, store->timeout) != REDIS_OK) {
		snprintf(buf, len, "cannot set the timeout: %s", ctx->errstr);
		redisFree(ctx);
		return NULL;
	}
	if (store->password != NULL) {
		redis_store_arg(&auth, "AUTH");
		redis_store_arg(&auth, store->password);
		if (!redis_store_setup_cmd(store, ctx, &auth, "AUTH", buf,
		    len)) {
			redisFree(ctx);
			return NULL;
		}
	}
	if (store->database != 0) {
		snprintf(db, sizeof(db), "%lu", store->database);
		snprintf(what, sizeof(what), "SELECT %lu", store->database);
		redis_store_arg(&select, "SELECT");
		redis_store_arg(&select, db);
		if (!redis_store_setup_cmd(store, ctx, &select, what, buf,
		    len)) {
			redisFree(ctx);
			return NULL;
		}
	}
	if (ping) {
		redis_store_arg(&png, "PING");
		if (!redis_store_setup_cmd(store, ctx, &png, "PING", buf,
		    len)) {
			redisFree(ctx);
			return NULL;
		}
	}
	return ctx;
}

/*
 * redis_store_take - a slot, locked: a free one if any (trying each once,
 * starting where the last caller left off), else wait for one
 */
static struct redis_store_slot *
redis_store_take(struct redis_store *store)
{
	unsigned start, i;
	struct redis_store_slot *s;

	start = atomic_fetch_add(&store->next, 1) % store->nslots;
	for (i = 0; i < store->nslots; i++) {
		s = &store->slot[(start + i) % store->nslots];
		if (pthread_mutex_trylock(&s->lock) == 0)
			return s;
	}
	s = &store->slot[start];
	pthread_mutex_lock(&s->lock);
	return s;
}

/* redis_store_give - hand a slot back */
static void
redis_store_give(struct redis_store_slot *s)
{
	pthread_mutex_unlock(&s->lock);
}

/*
 * redis_store_ready - make sure slot s (locked) has a connection. While
 * the store is down, fail at once except for the one caller per second
 * that may try again.
 */
static bool
redis_store_ready(struct redis_store *store, struct redis_store_slot *s,
    struct greylist_store_why *why)
{
	char reason[GREYLIST_STORE_WHY_MAX];
	redisContext *ctx;

	if (s->ctx != NULL && s->gen == atomic_load(&store->gen))
		return true;
	if (s->ctx != NULL) {
		/* another connection broke since this one was made: the
		 * server probably restarted, and this one is as dead */
		redisFree(s->ctx);
		s->ctx = NULL;
	}
	pthread_mutex_lock(&store->down_lock);
	if (store->down) {
		if (redis_store_now_ns() < store->retry_ns) {
			greylist_store_why_set(why, "redis %s is down: %s; "
			    "next try in <1s", store->name, store->down_why);
			pthread_mutex_unlock(&store->down_lock);
			return false;
		}
		/* this caller's turn; the others keep failing at once */
		store->retry_ns = redis_store_now_ns() + REDIS_STORE_RETRY_NS;
	}
	pthread_mutex_unlock(&store->down_lock);

	ctx = redis_store_connect(store, false, false, reason,
	    sizeof(reason));
	pthread_mutex_lock(&store->down_lock);
	if (ctx == NULL) {
		store->down = true;
		store->retry_ns = redis_store_now_ns() + REDIS_STORE_RETRY_NS;
		snprintf(store->down_why, sizeof(store->down_why), "%s",
		    reason);
	} else
		store->down = false;
	pthread_mutex_unlock(&store->down_lock);
	if (ctx == NULL) {
		greylist_store_why_set(why, "redis %s: %s", store->name,
		    reason);
		return false;
	}
	s->ctx = ctx;
	s->gen = atomic_load(&store->gen);
	return true;
}

/* redis_store_rereadable - commands that only read, so that running one
 * again after a broken connection cannot apply anything twice */
static bool
redis_store_rereadable(const char *command)
{
	static const char *const reads[] = { "GET", "MGET", "SCAN", NULL };

	for (size_t i = 0; reads[i] != NULL; i++)
		if (strcmp(command, reads[i]) == 0)
			return true;
	return false;
}

/*
 * redis_store_run - run one command on slot s (locked), connecting first
 * if need be. NULL on an error (why filled): a broken connection is freed
 * for a later call to remake, and every other connection of the store is
 * remade before its next use (after a server restart all of them are
 * dead, and each would otherwise fail one call to find out); an error
 * reply leaves it as it is. A read that broke on a connection made before
 * this call is run once more on a new one, so a restarted server costs no
 * failed call at all (every update starts with a GET). Writes are never
 * run twice: one that broke may have been applied.
 */
static redisReply *
redis_store_run(struct redis_store *store, struct redis_store_slot *s,
    int argc, const char *const *argv, const size_t *len,
    struct greylist_store_why *why)
{
	char io[160];	/* hiredis errors are shorter */
	redisReply *reply;
	bool reused;
	int err, round;

	for (round = 0;; round++) {
		reused = s->ctx != NULL &&
		    s->gen == atomic_load(&store->gen);
		if (!redis_store_ready(store, s, why))
			return NULL;
		reply = redis_store_send(s->ctx, argc, argv, len, &err);
		if (reply != NULL && s->ctx->err == 0)
			break;
		redis_store_io_error(store, s->ctx, err, io, sizeof(io));
		greylist_store_why_set(why, "redis %s: %s: %s", store->name,
		    argv[0], io);
		if (reply != NULL)
			freeReplyObject(reply);
		redisFree(s->ctx);
		s->ctx = NULL;
		atomic_fetch_add(&store->gen, 1);
		if (round > 0 || !reused || !redis_store_rereadable(argv[0]))
			return NULL;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		greylist_store_why_set(why, "redis %s: %s: %s", store->name,
		    argv[0], reply->str);
		freeReplyObject(reply);
		return NULL;
	}
	return reply;
}

/* redis_store_call - redis_store_run on a slot of its own */
static redisReply *
redis_store_call(struct redis_store *store, const struct redis_store_cmd *cmd,
    struct greylist_store_why *why)
{
	struct redis_store_slot *s = redis_store_take(store);
	redisReply *reply;

	reply = redis_store_run(store, s, cmd->argc, cmd->argv, cmd->len, why);
	redis_store_give(s);
	return reply;
}

/* redis_store_unexpected - an ERROR for a reply of the wrong type */
static enum greylist_store_result
redis_store_unexpected(const struct redis_store *store, redisReply *reply,
    const char *what, struct greylist_store_why *why)
{
	greylist_store_why_set(why, "redis %s: %s: unexpected reply type %d",
	    store->name, what, reply->type);
	freeReplyObject(reply);
	return GREYLIST_STORE_ERROR;
}

/* redis_store_key - the server's name for key (malloc'ed) */
static char *
redis_store_key(const struct redis_store *store, const char *key)
{
	return xasprintf("%s%s", store->prefix, key);
}

/* redis_store_parse_port - a decimal port 1..65535 */
static bool
redis_store_parse_port(const char *s, int *port_r)
{
	long v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
		if (v > 65535)
			return false;
	}
	*port_r = (int)v;
	return v > 0;
}

/*
 * redis_store_parse - split name into a unix path or host and port; NULL
 * on success, else what is wrong (malloc'ed)
 */
static char *
redis_store_parse(struct redis_store *store, const char *name)
{
	const char *end, *port = NULL;

	store->port = REDIS_STORE_PORT;
	if (strncmp(name, "unix:", 5) == 0) {
		if (name[5] == '\0')
			return xstrdup("no socket path after \"unix:\"");
		store->path = xstrdup(name + 5);
		return NULL;
	}
	if (name[0] == '[') {
		if ((end = strchr(name, ']')) == NULL)
			return xstrdup("no \"]\" after the IPv6 address");
		if (end == name + 1)
			return xstrdup("empty host");
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return xasprintf("\"%s\" after \"]\" is not \":PORT\"",
			    end + 1);
		store->host = xstrndup(name + 1, (size_t)(end - name - 1));
	} else {
		end = strchr(name, ':');
		if (end != NULL && strchr(end + 1, ':') != NULL)
			return xstrdup("an IPv6 address needs brackets: "
			    "[ADDRESS]:PORT");
		if (end == name || name[0] == '\0')
			return xstrdup("empty host");
		if (end != NULL) {
			port = end + 1;
			store->host = xstrndup(name, (size_t)(end - name));
		} else
			store->host = xstrdup(name);
	}
	if (port != NULL && !redis_store_parse_port(port, &store->port))
		return xasprintf("bad port \"%s\" (use 1-65535)", port);
	return NULL;
}

/* redis_store_free - release a store, connected or not */
static void
redis_store_free(struct redis_store *store)
{
	unsigned i;

	for (i = 0; store->slot != NULL && i < store->nslots; i++) {
		if (store->slot[i].ctx != NULL)
			redisFree(store->slot[i].ctx);
		pthread_mutex_destroy(&store->slot[i].lock);
	}
	pthread_mutex_destroy(&store->down_lock);
	free(store->slot);
	free(store->name);
	free(store->path);
	free(store->host);
	free(store->prefix);
	free(store->password);
	free(store);
}

/* redis_store_open - parse name, connect the first slot and PING */
static bool
redis_store_open(const char *name, const struct greylist_store_options *opt,
    void **state_r, char **error_r)
{
	char reason[GREYLIST_STORE_WHY_MAX];
	struct redis_store *store;
	char *bad;
	unsigned i;

	store = xcalloc(1, sizeof(*store));
	pthread_mutex_init(&store->down_lock, NULL);
	store->name = xstrdup(name);
	if ((bad = redis_store_parse(store, name)) != NULL) {
		*error_r = bad;
		redis_store_free(store);
		return false;
	}
	store->prefix = xstrdup(opt->key_prefix != NULL ? opt->key_prefix : "");
	store->prefix_len = strlen(store->prefix);
	if (opt->password != NULL && opt->password[0] != '\0')
		store->password = xstrdup(opt->password);
	store->database = opt->database;
	/* also catches NaN and negative values; the cap keeps the
	 * timeval sane whatever the caller passed */
	store->timeout_s = opt->timeout > 0 ? opt->timeout : 1.0;
	if (store->timeout_s > REDIS_STORE_TIMEOUT_MAX)
		store->timeout_s = REDIS_STORE_TIMEOUT_MAX;
	store->timeout.tv_sec = (time_t)store->timeout_s;
	store->timeout.tv_usec = (suseconds_t)((store->timeout_s -
	    (double)store->timeout.tv_sec) * 1e6);
	store->nslots = opt->connections > 0 ? opt->connections : 1;
	store->slot = xcalloc(store->nslots, sizeof(*store->slot));
	for (i = 0; i < store->nslots; i++)
		pthread_mutex_init(&store->slot[i].lock, NULL);
	atomic_init(&store->next, 0);

	store->slot[0].ctx = redis_store_connect(store, true, true, reason,
	    sizeof(reason));
	if (store->slot[0].ctx == NULL) {
		*error_r = xstrdup(reason);
		redis_store_free(store);
		return false;
	}
	*state_r = store;
	return true;
}

/* redis_store_close - drop every connection */
static void
redis_store_close(void *state)
{
	if (state != NULL)
		redis_store_free(state);
}

/* redis_store_get - GET; nil is NOTFOUND */
static enum greylist_store_result
redis_store_get(void *state, const char *key, char *value, size_t len,
    struct greylist_store_why *why)
{
	struct redis_store *store = state;
	struct redis_store_cmd cmd = { 0 };
	enum greylist_store_result r;
	redisReply *reply;
	char *k = redis_store_key(store, key);

	redis_store_arg(&cmd, "GET");
	redis_store_arg(&cmd, k);
	reply = redis_store_call(store, &cmd, why);
	free(k);
	if (reply == NULL)
		return GREYLIST_STORE_ERROR;
	switch (reply->type) {
	case REDIS_REPLY_NIL:
		r = GREYLIST_STORE_NOTFOUND;
		break;
	case REDIS_REPLY_STRING:
		if (reply->len >= len) {
			r = greylist_store_why_set(why, "redis %s: value of "
			    "%s is too long (%zu bytes)", store->name, key,
			    reply->len);
			break;
		}
		memcpy(value, reply->str, reply->len);
		value[reply->len] = '\0';
		r = GREYLIST_STORE_FOUND;
		break;
	default:
		return redis_store_unexpected(store, reply, "GET", why);
	}
	freeReplyObject(reply);
	return r;
}

/* redis_store_ttl - the TTL in ms for a record expiring at expires */
static void
redis_store_ttl(int64_t now, int64_t expires, char *buf, size_t len)
{
	int64_t s;

	if (__builtin_sub_overflow(expires, now, &s) ||
	    s > REDIS_STORE_TTL_MAX)
		s = REDIS_STORE_TTL_MAX;
	if (s < 1)
		s = 1;
	snprintf(buf, len, "%" PRId64, s * 1000);
}

/*
 * redis_store_cas - a new key with SET NX, a replacement with the Lua
 * compare-and-set; either runs alone on the server, which is what makes
 * the front end's updates atomic across nodes
 */
static enum greylist_store_result
redis_store_cas(void *state, const char *key, const char *old,
    const char *value, int64_t now, int64_t expires,
    struct greylist_store_why *why)
{
	struct redis_store *store = state;
	struct redis_store_cmd cmd = { 0 };
	enum greylist_store_result r;
	redisReply *reply;
	char ttl[32], *k = redis_store_key(store, key);

	redis_store_ttl(now, expires, ttl, sizeof(ttl));
	if (old == NULL) {
		redis_store_arg(&cmd, "SET");
		redis_store_arg(&cmd, k);
		redis_store_arg(&cmd, value);
		redis_store_arg(&cmd, "NX");
		redis_store_arg(&cmd, "PX");
		redis_store_arg(&cmd, ttl);
	} else {
		redis_store_arg(&cmd, "EVAL");
		redis_store_arg(&cmd, redis_store_cas_script);
		redis_store_arg(&cmd, "1");
		redis_store_arg(&cmd, k);
		redis_store_arg(&cmd, old);
		redis_store_arg(&cmd, value);
		redis_store_arg(&cmd, ttl);
	}
	reply = redis_store_call(store, &cmd, why);
	free(k);
	if (reply == NULL)
		return GREYLIST_STORE_ERROR;
	if (old == NULL && reply->type == REDIS_REPLY_STATUS &&
	    strcmp(reply->str, "OK") == 0)
		r = GREYLIST_STORE_FOUND;
	else if (old == NULL && reply->type == REDIS_REPLY_NIL)
		r = GREYLIST_STORE_NOTFOUND;
	else if (old != NULL && reply->type == REDIS_REPLY_INTEGER &&
	    (reply->integer == 0 || reply->integer == 1))
		r = reply->integer == 1 ? GREYLIST_STORE_FOUND :
		    GREYLIST_STORE_NOTFOUND;
	else
		return redis_store_unexpected(store, reply, cmd.argv[0], why);
	freeReplyObject(reply);
	return r;
}

/* redis_store_del - DEL; the count says whether it was there */
static enum greylist_store_result
redis_store_del(void *state, const char *key, struct greylist_store_why *why)
{
	struct redis_store *store = state;
	struct redis_store_cmd cmd = { 0 };
	enum greylist_store_result r;
	redisReply *reply;
	char *k = redis_store_key(store, key);

	redis_store_arg(&cmd, "DEL");
	redis_store_arg(&cmd, k);
	reply = redis_store_call(store, &cmd, why);
	free(k);
	if (reply == NULL)
		return GREYLIST_STORE_ERROR;
	if (reply->type != REDIS_REPLY_INTEGER)
		return redis_store_unexpected(store, reply, "DEL", why);
	r = reply->integer > 0 ? GREYLIST_STORE_FOUND : GREYLIST_STORE_NOTFOUND;
	freeReplyObject(reply);
	return r;
}

/* redis_store_glob - a SCAN pattern for keys starting with a then b:
 * both with Redis's glob characters escaped, then "*" */
static char *
redis_store_glob(const char *a, const char *b)
{
	const char *parts[2] = { a, b }, *p;
	char *out = xmalloc(2 * (strlen(a) + strlen(b)) + 2), *o = out;
	int i;

	for (i = 0; i < 2; i++)
		for (p = parts[i]; *p != '\0'; p++) {
			if (strchr("*?[]\\", *p) != NULL)
				*o++ = '\\';
			*o++ = *p;
		}
	*o++ = '*';
	*o = '\0';
	return out;
}

/* redis_store_mget - MGET the keys of a SCAN batch on slot s (locked) */
static redisReply *
redis_store_mget(struct redis_store *store, struct redis_store_slot *s,
    const redisReply *list, struct greylist_store_why *why)
{
	const char **argv;
	redisReply *values;
	size_t *len, i;

	argv = xmalloc((list->elements + 1) * sizeof(*argv));
	len = xmalloc((list->elements + 1) * sizeof(*len));
	argv[0] = "MGET";
	len[0] = 4;
	for (i = 0; i < list->elements; i++) {
		argv[i + 1] = list->element[i]->str;
		len[i + 1] = list->element[i]->len;
	}
	values = redis_store_run(store, s, (int)list->elements + 1, argv,
	    len, why);
	free(argv);
	free(len);
	if (values != NULL && (values->type != REDIS_REPLY_ARRAY ||
	    values->elements != list->elements)) {
		redis_store_unexpected(store, values, "MGET", why);
		return NULL;
	}
	return values;
}

/*
 * redis_store_batch - SCAN from cursor, then MGET what it found, on one
 * slot that is given back before the caller's function runs. *scan_r is
 * the SCAN reply (element[1] the keys), *values_r the MGET reply (NULL
 * when SCAN found no keys). false on an error, with nothing to free.
 */
static bool
redis_store_batch(struct redis_store *store, const char *pattern,
    const char *cursor, redisReply **scan_r, redisReply **values_r,
    struct greylist_store_why *why)
{
	struct redis_store_cmd cmd = { 0 };
	struct redis_store_slot *s;
	redisReply *scan, *values = NULL, *list;
	size_t i;
	bool ok;

	redis_store_arg(&cmd, "SCAN");
	redis_store_arg(&cmd, cursor);
	redis_store_arg(&cmd, "MATCH");
	redis_store_arg(&cmd, pattern);
	redis_store_arg(&cmd, "COUNT");
	redis_store_arg(&cmd, REDIS_STORE_SCAN_COUNT);
	s = redis_store_take(store);
	scan = redis_store_run(store, s, cmd.argc, cmd.argv, cmd.len, why);
	ok = scan != NULL && scan->type == REDIS_REPLY_ARRAY &&
	    scan->elements == 2 &&
	    scan->element[0]->type == REDIS_REPLY_STRING &&
	    scan->element[0]->len < 32 &&
	    scan->element[1]->type == REDIS_REPLY_ARRAY;
	for (i = 0; ok && i < scan->element[1]->elements; i++)
		ok = scan->element[1]->element[i]->type == REDIS_REPLY_STRING;
	if (scan != NULL && !ok) {
		redis_store_unexpected(store, scan, "SCAN", why);
		scan = NULL;
	}
	if (ok && (list = scan->element[1])->elements > 0 &&
	    (values = redis_store_mget(store, s, list, why)) == NULL) {
		freeReplyObject(scan);
		scan = NULL;
		ok = false;
	}
	redis_store_give(s);
	*scan_r = scan;
	*values_r = values;
	return ok;
}

/*
 * redis_store_walk - SCAN MATCH the prefixed keys, batch by batch; a key
 * deleted between SCAN and MGET (nil) or holding something other than a
 * string is skipped, as are keys with NULs that cannot be ours
 */
static enum greylist_store_result
redis_store_walk(void *state, const char *prefix,
    greylist_store_walk_raw_fn fn, void *ctx, struct greylist_store_why *why)
{
	struct redis_store *store = state;
	redisReply *scan, *values, *k, *v;
	char cursor[32] = "0", *pattern;
	bool visited = false, more = true;
	size_t i;

	pattern = redis_store_glob(store->prefix, prefix);
	do {
		if (!redis_store_batch(store, pattern, cursor, &scan, &values,
		    why)) {
			free(pattern);
			return GREYLIST_STORE_ERROR;
		}
		memcpy(cursor, scan->element[0]->str, scan->element[0]->len);
		cursor[scan->element[0]->len] = '\0';
		for (i = 0; more && values != NULL && i < values->elements;
		    i++) {
			k = scan->element[1]->element[i];
			v = values->element[i];
			if (v->type != REDIS_REPLY_STRING ||
			    strlen(v->str) != v->len ||
			    strlen(k->str) != k->len ||
			    k->len <= store->prefix_len ||
			    memcmp(k->str, store->prefix,
			    store->prefix_len) != 0)
				continue;
			visited = true;
			more = fn(ctx, k->str + store->prefix_len, v->str);
		}
		freeReplyObject(scan);
		if (values != NULL)
			freeReplyObject(values);
	} while (more && strcmp(cursor, "0") != 0);
	free(pattern);
	return visited ? GREYLIST_STORE_FOUND : GREYLIST_STORE_NOTFOUND;
}

const struct greylist_store_backend greylist_store_redis = {
	.type = "redis",
	.open = redis_store_open,
	.close = redis_store_close,
	.get = redis_store_get,
	.cas = redis_store_cas,
	.del = redis_store_del,
	.walk = redis_store_walk,
};
