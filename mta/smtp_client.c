/*
 * smtp_client.c - delivering one message to one next hop by SMTP or LMTP
 *
 * One call is one delivery attempt: find the servers (MX, then each
 * host's addresses), then try them in turn until one of them takes the
 * transaction. Everything before MAIL (connect, greeting, EHLO, STARTTLS)
 * that fails moves on to the next address; from MAIL on the session owns
 * the outcome and every recipient gets a result from it.
 *
 * A connection that finished a transaction cleanly may be kept in the
 * cache (smtp_client_cache_*) for the next message to the same next
 * hop; such a connection is tried before any lookup, and dropped
 * without harm when it turns out stale.
 *
 * I/O is blocking on a delivery thread; every read and write first waits
 * with poll() for the time left before the step's deadline, and the socket
 * timeouts are set to the same remainder so that a TLS record that
 * arrives in pieces cannot hold a read past it either.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "inet.h"
#include "log.h"
#include "mem.h"
#include "smtp_client.h"
#include "smtp_reply.h"

#define SMTP_CLIENT_T_A		1
#define SMTP_CLIENT_T_MX	15
#define SMTP_CLIENT_T_AAAA	28
#define SMTP_CLIENT_T_TLSA	52

#define SMTP_CLIENT_LINE_MAX	998	/* smtp_line_length_limit */
#define SMTP_CLIENT_CHUNK	65536
#define SMTP_CLIENT_MAX_ADDRS	32	/* per host */

/* EHLO keywords we act on */
enum {
	SMTP_CLIENT_F_PIPELINING = 1 << 0,
	SMTP_CLIENT_F_SIZE = 1 << 1,
	SMTP_CLIENT_F_8BITMIME = 1 << 2,
	SMTP_CLIENT_F_SMTPUTF8 = 1 << 3,
	SMTP_CLIENT_F_DSN = 1 << 4,
	SMTP_CLIENT_F_STARTTLS = 1 << 5,
};

static const struct smtp_client_feature {
	const char *name;
	unsigned flag;
} smtp_client_features[] = {
	{ .name = "PIPELINING", .flag = SMTP_CLIENT_F_PIPELINING },
	{ .name = "SIZE", .flag = SMTP_CLIENT_F_SIZE },
	{ .name = "8BITMIME", .flag = SMTP_CLIENT_F_8BITMIME },
	{ .name = "SMTPUTF8", .flag = SMTP_CLIENT_F_SMTPUTF8 },
	{ .name = "DSN", .flag = SMTP_CLIENT_F_DSN },
	{ .name = "STARTTLS", .flag = SMTP_CLIENT_F_STARTTLS },
	{ 0 },
};

/* one address to connect to */
struct smtp_client_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[INET_TEXT_MAX + 2];
};

/* the outcome kept for "every address failed" */
struct smtp_client_error {
	const char *dsn, *text, *diagnostic, *remote_mta;
};

/* one connection */
struct smtp_client_sess {
	const struct smtp_client_settings *set;
	struct arena *arena;
	int fd;
	struct tls_conn *tls;
	struct smtp_reply_reader *reader;
	struct buf out;
	bool lmtp;
	const char *host;	/* remote_mta */
	const char *where;	/* "host[addr]" for texts */
	unsigned features;
	unsigned long long size_limit;
	const char *why;	/* the last I/O failure */
	bool timed_out;
	double opened;		/* when connected (the reuse limit) */
};

/* smtp_client_now - CLOCK_MONOTONIC seconds */
static double
smtp_client_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* smtp_client_timeout - a setting, or its default when unset */
static double
smtp_client_timeout(double value, double fallback)
{
	return value > 0 ? value : fallback;
}

/* smtp_client_wait - poll fd for events until deadline, also setting
 * the socket timeouts to what is left (for reads inside TLS records);
 * false with sess->why on a timeout */
static bool
smtp_client_wait(struct smtp_client_sess *s, short events, double deadline)
{
	struct pollfd p = { .fd = s->fd, .events = events };
	struct timeval tv;
	double left;
	int rc, ms;

	for (;;) {
		left = deadline - smtp_client_now();
		if (left <= 0) {
			s->why = "timed out";
			s->timed_out = true;
			return false;
		}
		tv.tv_sec = (time_t)left;
		tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
		if (tv.tv_sec == 0 && tv.tv_usec == 0)
			tv.tv_usec = 1;
		(void)setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv));
		(void)setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		    sizeof(tv));
		ms = (int)(left * 1000) + 1;
		rc = poll(&p, 1, ms);
		if (rc > 0)
			return true;
		if (rc < 0 && errno != EINTR) {
			s->why = arena_printf(s->arena, "poll: %s",
			    strerror(errno));
			return false;
		}
	}
}

/* smtp_client_flush - write everything buffered before deadline */
static bool
smtp_client_flush(struct smtp_client_sess *s, double deadline)
{
	size_t off = 0;
	ssize_t n;

	while (off < s->out.len) {
		if (!smtp_client_wait(s, POLLOUT, deadline))
			return false;
		if (s->tls != NULL) {
			n = tls_write(s->tls, s->out.data + off,
			    s->out.len - off);
			if (n <= 0) {
				s->why = arena_printf(s->arena, "TLS write: %s",
				    tls_error(s->tls));
				return false;
			}
		} else {
			n = send(s->fd, s->out.data + off, s->out.len - off,
			    MSG_NOSIGNAL);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0) {
				s->why = arena_printf(s->arena, "write: %s",
				    strerror(errno));
				return false;
			}
		}
		off += (size_t)n;
	}
	buf_reset(&s->out);
	return true;
}

/* smtp_client_fill - read what the server sent into the reply reader */
static bool
smtp_client_fill(struct smtp_client_sess *s, double deadline)
{
	char data[4096];
	const char *why;
	ssize_t n;

	for (;;) {
		if (s->tls == NULL || tls_pending(s->tls) == 0)
			if (!smtp_client_wait(s, POLLIN, deadline))
				return false;
		if (s->tls != NULL) {
			n = tls_read(s->tls, data, sizeof(data));
			if (n == TLS_CLOSED)
				n = 0;
			else if (n < 0) {
				s->why = arena_printf(s->arena, "TLS read: %s",
				    tls_error(s->tls));
				return false;
			}
		} else {
			n = recv(s->fd, data, sizeof(data), 0);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0) {
				s->why = arena_printf(s->arena, "read: %s",
				    strerror(errno));
				return false;
			}
		}
		if (n == 0) {
			s->why = "lost connection";
			return false;
		}
		if (!smtp_reply_feed(s->reader, data, (size_t)n, &why)) {
			s->why = arena_printf(s->arena, "malformed reply: %s",
			    why);
			return false;
		}
		return true;
	}
}

/* smtp_client_reply - the next reply within timeout seconds; false with
 * s->why when the connection broke or the reply is malformed */
static bool
smtp_client_reply(struct smtp_client_sess *s, double timeout,
    struct smtp_reply *r)
{
	double deadline = smtp_client_now() + timeout;

	while (smtp_reply_next(s->reader, s->arena, r) == 0)
		if (!smtp_client_fill(s, deadline))
			return false;
	return true;
}

/* smtp_client_put - one command line into the output buffer */
static void __attribute__((format(printf, 2, 3)))
smtp_client_put(struct smtp_client_sess *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	buf_puts(&s->out, "\r\n");
}

/* smtp_client_xtext - s as RFC 3461 xtext (for ENVID and ORCPT: the
 * values come from clients and must not break the command line) */
static void
smtp_client_xtext(struct buf *b, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 33 || *p > 126 || *p == '+' || *p == '=')
			buf_printf(b, "+%02X", *p);
		else
			buf_putc(b, (char)*p);
}

/* smtp_client_ehlo_parse - the keywords of an EHLO/LHLO reply (lines
 * after the first) */
static void
smtp_client_ehlo_parse(struct smtp_client_sess *s, const struct smtp_reply *r)
{
	const struct smtp_client_feature *f;
	const char *line, *next, *arg;
	size_t len, n;

	s->features = 0;
	s->size_limit = 0;
	line = strchr(r->text, '\n');
	while (line != NULL) {
		line++;
		next = strchr(line, '\n');
		len = next != NULL ? (size_t)(next - line) : strlen(line);
		for (f = smtp_client_features; f->name != NULL; f++) {
			n = strlen(f->name);
			if (len < n || strncasecmp(line, f->name, n) != 0 ||
			    (len > n && line[n] != ' '))
				continue;
			s->features |= f->flag;
			arg = line + n;
			if (f->flag == SMTP_CLIENT_F_SIZE && *arg == ' ')
				s->size_limit = strtoull(arg + 1, NULL, 10);
		}
		line = next;
	}
}

/* smtp_client_text - "host[addr] said: REPLY (in reply to CMD)" */
static const char *
smtp_client_text(struct smtp_client_sess *s, const struct smtp_reply *r,
    const char *cmd)
{
	return arena_printf(s->arena, "host %s said: %s (in reply to %s)",
	    s->where, smtp_reply_format(r, s->arena), cmd);
}

/* smtp_client_dsn - the reply's enhanced status, or its class's default */
static const char *
smtp_client_dsn(const struct smtp_reply *r)
{
	if (r->status != NULL)
		return r->status;
	return r->code >= 500 ? "5.0.0" : r->code >= 400 ? "4.0.0" : "2.0.0";
}

/* smtp_client_set - one recipient's outcome */
static void
smtp_client_set(struct smtp_rcpt *rc, enum deliver_status status,
    const char *dsn, const char *text, const char *diagnostic,
    const char *remote_mta)
{
	rc->result.status = status;
	rc->result.dsn = dsn;
	rc->result.text = text;
	rc->diagnostic = diagnostic;
	rc->remote_mta = remote_mta;
}

/* smtp_client_set_reply - an outcome from a server reply */
static void
smtp_client_set_reply(struct smtp_client_sess *s, struct smtp_rcpt *rc,
    const struct smtp_reply *r, const char *cmd)
{
	enum deliver_status st = r->code < 400 ? DELIVER_OK :
	    r->code < 500 ? DELIVER_TEMPFAIL : DELIVER_PERMFAIL;

	smtp_client_set(rc, st, smtp_client_dsn(r), smtp_client_text(s, r, cmd),
	    smtp_reply_format(r, s->arena), s->host);
}

/* smtp_client_lost - the connection broke in a transaction: defer */
static void
smtp_client_lost(struct smtp_client_sess *s, struct smtp_rcpt *rc,
    const char *stage)
{
	smtp_client_set(rc, DELIVER_TEMPFAIL, "4.4.2",
	    arena_printf(s->arena, "%s with host %s while %s",
	    s->why != NULL ? s->why : "lost connection", s->where, stage),
	    NULL, s->host);
}

/* smtp_client_emit - one chunk of content, line ends made CR LF,
 * dot-stuffed, lines over SMTP_CLIENT_LINE_MAX broken with CR LF SPACE;
 * *col and *cr carry the state between chunks */
static void
smtp_client_emit(struct buf *b, const unsigned char *p, size_t len,
    size_t *col, bool *cr)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n') {
			buf_append(b, "\r\n", 2);
			*col = 0;
			*cr = false;
			continue;
		}
		if (*cr) {	/* a bare CR ends a line too */
			buf_append(b, "\r\n", 2);
			*col = 0;
			*cr = false;
		}
		if (p[i] == '\r') {
			*cr = true;
			continue;
		}
		if (*col >= SMTP_CLIENT_LINE_MAX) {
			buf_append(b, "\r\n ", 3);
			*col = 1;
		}
		if (*col == 0 && p[i] == '.') {
			buf_putc(b, '.');
			(*col)++;
		}
		buf_putc(b, (char)p[i]);
		(*col)++;
	}
}

/* smtp_client_content - headers, empty line, body, final dot; false
 * with s->why on a write or spool failure (*spool_r set for the latter) */
static bool
smtp_client_content(struct smtp_client_sess *s, const struct message *m,
    double deadline, bool *spool_r)
{
	unsigned char chunk[SMTP_CLIENT_CHUNK];
	uint64_t off = 0;
	size_t i, col = 0;
	bool cr = false;
	ssize_t n;

	*spool_r = false;
	for (i = 0; i < m->n_headers; i++) {
		smtp_client_emit(&s->out,
		    (const unsigned char *)m->headers[i].name,
		    strlen(m->headers[i].name), &col, &cr);
		smtp_client_emit(&s->out, (const unsigned char *)":", 1,
		    &col, &cr);
		smtp_client_emit(&s->out,
		    (const unsigned char *)m->headers[i].value,
		    strlen(m->headers[i].value), &col, &cr);
		smtp_client_emit(&s->out, (const unsigned char *)"\r\n", 2,
		    &col, &cr);
		if (s->out.len >= SMTP_CLIENT_CHUNK &&
		    !smtp_client_flush(s, deadline))
			return false;
	}
	smtp_client_emit(&s->out, (const unsigned char *)"\r\n", 2, &col, &cr);
	while (m->body != NULL &&
	    (n = spool_read(m->body, off, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			s->why = arena_printf(s->arena, "spool: %s",
			    spool_error(m->body));
			*spool_r = true;
			return false;
		}
		off += (uint64_t)n;
		smtp_client_emit(&s->out, chunk, (size_t)n, &col, &cr);
		if (s->out.len >= SMTP_CLIENT_CHUNK &&
		    !smtp_client_flush(s, deadline))
			return false;
	}
	if (col > 0 || cr)
		buf_append(&s->out, "\r\n", 2);
	buf_append(&s->out, ".\r\n", 3);
	return smtp_client_flush(s, deadline);
}

/* smtp_client_8bit - whether the header or body has a byte over 127
 * (decides whether a server without 8BITMIME can take it); -1 on a
 * spool error */
static int
smtp_client_8bit(const struct message *m)
{
	unsigned char chunk[SMTP_CLIENT_CHUNK];
	const unsigned char *p;
	uint64_t off = 0;
	ssize_t n, j;
	size_t i;

	for (i = 0; i < m->n_headers; i++) {
		for (p = (const unsigned char *)m->headers[i].name; *p; p++)
			if (*p > 127)
				return 1;
		for (p = (const unsigned char *)m->headers[i].value; *p; p++)
			if (*p > 127)
				return 1;
	}
	while (m->body != NULL &&
	    (n = spool_read(m->body, off, chunk, sizeof(chunk))) != 0) {
		if (n < 0)
			return -1;
		for (j = 0; j < n; j++)
			if (chunk[j] > 127)
				return 1;
		off += (uint64_t)n;
	}
	return 0;
}

/* everything one smtp_deliver() call works with */
struct smtp_client_job {
	const struct smtp_client_settings *set;
	const struct transport *t;
	const struct smtp_tls *tls;
	const struct message *m;
	struct smtp_rcpt *rcpts;
	size_t n;
	struct arena *arena;
	struct smtp_client_error err;	/* the last failure */
	const char *key;		/* in the cache: nexthop and TLS */
	unsigned conn_use;		/* for the results */
};

/* what a connection is good for after a transaction */
enum smtp_client_tx {
	SMTP_CLIENT_TX_IDLE,	/* clean: may be kept for the next message */
	SMTP_CLIENT_TX_QUIT,	/* usable, but the state is not clean */
	SMTP_CLIENT_TX_BROKEN,	/* close without a word */
	SMTP_CLIENT_TX_STALE,	/* broke or 421 before MAIL was answered:
				   on a kept connection, try a new one */
};

/* what one address gave */
enum smtp_client_outcome {
	SMTP_CLIENT_NEXT,	/* try the next address (job->err) */
	SMTP_CLIENT_DONE,	/* every recipient has its result */
	SMTP_CLIENT_PLAIN,	/* TLS failed at level may: again without */
};

/* smtp_client_fail_all - the same outcome for every recipient */
static void
smtp_client_fail_all(struct smtp_client_job *job, enum deliver_status st,
    const char *dsn, const char *text, const char *diagnostic,
    const char *remote_mta)
{
	size_t i;

	for (i = 0; i < job->n; i++)
		smtp_client_set(&job->rcpts[i], st, dsn, text, diagnostic,
		    remote_mta);
}

/* smtp_client_error - remember why this address did not work out */
static void
smtp_client_error(struct smtp_client_job *job, const char *dsn,
    const char *text, const char *diagnostic, const char *remote_mta)
{
	job->err.dsn = dsn;
	job->err.text = text;
	job->err.diagnostic = diagnostic;
	job->err.remote_mta = remote_mta;
}

/* smtp_client_error_reply - remember a refusing reply */
static void
smtp_client_error_reply(struct smtp_client_job *job,
    struct smtp_client_sess *s, const struct smtp_reply *r, const char *cmd)
{
	smtp_client_error(job, smtp_client_dsn(r), smtp_client_text(s, r, cmd),
	    smtp_reply_format(r, s->arena), s->host);
}

/* smtp_client_error_lost - remember a broken connection */
static void
smtp_client_error_lost(struct smtp_client_job *job,
    struct smtp_client_sess *s, const char *stage)
{
	smtp_client_error(job, "4.4.2", arena_printf(s->arena,
	    "%s with host %s while %s", s->why != NULL ? s->why :
	    "lost connection", s->where, stage), NULL, s->host);
}

/* smtp_client_connect - a connected blocking socket, or -1 with *why_r */
static int
smtp_client_connect(const struct smtp_client_settings *set,
    const struct smtp_client_addr *a, double deadline, struct arena *arena,
    const char **why_r)
{
	struct inet_addr src;
	struct sockaddr_storage bss;
	struct pollfd p;
	socklen_t blen, elen = sizeof(int);
	int fd, flags, e = 0, one = 1, rc;
	double left;

	if ((fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		*why_r = arena_printf(arena, "socket: %s", strerror(errno));
		return -1;
	}
	if (a->ss.ss_family != AF_UNIX) {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (set->bind_address != NULL && *set->bind_address != '\0' &&
		    inet_parse(set->bind_address, &src) &&
		    src.family == a->ss.ss_family) {
			memset(&bss, 0, sizeof(bss));
			if (src.family == AF_INET) {
				struct sockaddr_in *sin = (void *)&bss;

				sin->sin_family = AF_INET;
				memcpy(&sin->sin_addr, src.bytes, 4);
				blen = sizeof(*sin);
			} else {
				struct sockaddr_in6 *sin6 = (void *)&bss;

				sin6->sin6_family = AF_INET6;
				memcpy(&sin6->sin6_addr, src.bytes, 16);
				blen = sizeof(*sin6);
			}
			if (bind(fd, (struct sockaddr *)&bss, blen) < 0) {
				*why_r = arena_printf(arena, "bind %s: %s",
				    set->bind_address, strerror(errno));
				close(fd);
				return -1;
			}
		}
	}
	flags = fcntl(fd, F_GETFL);
	(void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			e = errno;
			goto fail;
		}
		p.fd = fd;
		p.events = POLLOUT;
		for (;;) {
			left = deadline - smtp_client_now();
			if (left <= 0) {
				*why_r = "connection timed out";
				close(fd);
				return -1;
			}
			rc = poll(&p, 1, (int)(left * 1000) + 1);
			if (rc > 0)
				break;
			if (rc < 0 && errno != EINTR) {
				e = errno;
				goto fail;
			}
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
			e = errno;
		if (e != 0)
			goto fail;
	}
	(void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
fail:
	*why_r = arena_strdup(arena, strerror(e));
	close(fd);
	return -1;
}

/* smtp_client_quit - QUIT, and its reply briefly awaited (a courtesy) */
static void
smtp_client_quit(struct smtp_client_sess *s)
{
	struct smtp_reply r;

	buf_reset(&s->out);
	smtp_client_put(s, "QUIT");
	if (smtp_client_flush(s, smtp_client_now() + 5))
		(void)smtp_client_reply(s, 5, &r);
}

/* smtp_client_close - the connection's resources; s->fd < 0 after */
static void
smtp_client_close(struct smtp_client_sess *s)
{
	if (s->tls != NULL)
		tls_conn_free(&s->tls);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	smtp_reply_reader_free(&s->reader);
	buf_free(&s->out);
}

/* smtp_client_end - how a connection ends after its transaction: QUIT
 * unless it broke */
static void
smtp_client_end(struct smtp_client_sess *s, enum smtp_client_tx tx)
{
	if (tx == SMTP_CLIENT_TX_IDLE || tx == SMTP_CLIENT_TX_QUIT)
		smtp_client_quit(s);
	smtp_client_close(s);
}

/* --- the connection cache ---------------------------------------------- */

/* one idle connection */
struct smtp_client_idle {
	struct smtp_client_sess s;	/* set and arena NULL while idle */
	char *key, *host, *where;
	double since;
	unsigned uses;
	struct smtp_client_idle *next;
};

struct smtp_client_cache {
	pthread_mutex_t lock;
	double idle_limit, reuse_limit;
	struct smtp_client_idle *idle;	/* newest first */
	size_t n;
};

/* smtp_client_cache_new - see smtp_client.h */
struct smtp_client_cache *
smtp_client_cache_new(double idle_limit, double reuse_limit)
{
	struct smtp_client_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	c->idle_limit = idle_limit;
	c->reuse_limit = reuse_limit;
	return c;
}

/* smtp_client_cache_idle - see smtp_client.h */
size_t
smtp_client_cache_idle(struct smtp_client_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* smtp_client_idle_release - free the record only (its connection has
 * gone back into a session) */
static void
smtp_client_idle_release(struct smtp_client_idle *e)
{
	free(e->key);
	free(e->host);
	free(e->where);
	free(e);
}

/* smtp_client_idle_free - QUIT (when quit) and close one, and free it */
static void
smtp_client_idle_free(struct smtp_client_idle *e, bool quit)
{
	struct arena *arena = arena_create();

	e->s.arena = arena;
	if (quit)
		smtp_client_quit(&e->s);
	smtp_client_close(&e->s);
	arena_destroy(&arena);
	smtp_client_idle_release(e);
}

/* smtp_client_idle_usable - within both time limits at now */
static bool
smtp_client_idle_usable(const struct smtp_client_cache *c,
    const struct smtp_client_idle *e, double now)
{
	return now - e->since < c->idle_limit &&
	    now - e->s.opened < c->reuse_limit;
}

/* smtp_client_cache_take - the newest usable idle connection for key,
 * out of the cache; NULL when there is none */
static struct smtp_client_idle *
smtp_client_cache_take(struct smtp_client_cache *c, const char *key)
{
	struct smtp_client_idle **pp, *e = NULL;
	double now = smtp_client_now();

	pthread_mutex_lock(&c->lock);
	for (pp = &c->idle; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0 &&
		    smtp_client_idle_usable(c, *pp, now)) {
			e = *pp;
			*pp = e->next;
			c->n--;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	return e;
}

/*
 * smtp_client_cache_put - keep s (after a clean transaction) idle for
 * key; false when it is too old to be kept (the caller ends it). e is
 * the record it was taken from (consumed either way), or NULL for a new
 * connection; after true s's resources belong to the cache.
 */
static bool
smtp_client_cache_put(struct smtp_client_cache *c, const char *key,
    struct smtp_client_sess *s, struct smtp_client_idle *e)
{
	double now = smtp_client_now();

	if (now - s->opened >= c->reuse_limit || c->idle_limit <= 0) {
		if (e != NULL)
			smtp_client_idle_release(e);
		return false;
	}
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		e->key = xstrdup(key);
		e->host = xstrdup(s->host);
		e->where = xstrdup(s->where);
	}
	e->s = *s;
	e->s.set = NULL;
	e->s.arena = NULL;
	e->s.host = e->host;
	e->s.where = e->where;
	e->s.why = NULL;
	e->s.timed_out = false;
	e->since = now;
	e->uses++;
	pthread_mutex_lock(&c->lock);
	e->next = c->idle;
	c->idle = e;
	c->n++;
	pthread_mutex_unlock(&c->lock);
	return true;
}

/* smtp_client_cache_expire - see smtp_client.h */
void
smtp_client_cache_expire(struct smtp_client_cache *c, bool all)
{
	struct smtp_client_idle **pp, *e, *gone = NULL;
	double now = smtp_client_now();

	pthread_mutex_lock(&c->lock);
	for (pp = &c->idle; *pp != NULL;) {
		e = *pp;
		if (all || !smtp_client_idle_usable(c, e, now)) {
			*pp = e->next;
			e->next = gone;
			gone = e;
			c->n--;
		} else {
			pp = &e->next;
		}
	}
	pthread_mutex_unlock(&c->lock);
	while ((e = gone) != NULL) {
		gone = e->next;
		smtp_client_idle_free(e, true);
	}
}

/* smtp_client_cache_free - see smtp_client.h */
void
smtp_client_cache_free(struct smtp_client_cache **cp)
{
	struct smtp_client_cache *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	smtp_client_cache_expire(c, true);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* smtp_client_alive - an idle connection the server has neither closed
 * nor spoken on (a 421 on timeout, say) */
static bool
smtp_client_alive(const struct smtp_client_sess *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN };

	if (s->tls != NULL && tls_pending(s->tls) > 0)
		return false;
	return poll(&p, 1, 0) == 0 && smtp_reply_pending(s->reader) == 0;
}

/* smtp_client_defer_rest - a broken connection in a transaction: every
 * recipient not settled yet (done[i] false) is deferred */
static void
smtp_client_defer_rest(struct smtp_client_sess *s, struct smtp_client_job *j,
    const bool *done, const char *stage)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		if (!done[i])
			smtp_client_lost(s, &j->rcpts[i], stage);
}

/* smtp_client_rcpt_line - RCPT TO with the DSN parameters */
static void
smtp_client_rcpt_line(struct smtp_client_sess *s,
    const struct message_rcpt *rc, bool dsn)
{
	static const struct {
		unsigned flag;
		const char *name;
	} notify[] = {
		{ .flag = MESSAGE_NOTIFY_NEVER, .name = "NEVER" },
		{ .flag = MESSAGE_NOTIFY_SUCCESS, .name = "SUCCESS" },
		{ .flag = MESSAGE_NOTIFY_FAILURE, .name = "FAILURE" },
		{ .flag = MESSAGE_NOTIFY_DELAY, .name = "DELAY" },
		{ 0 },
	};
	const char *semi;
	size_t k;
	char sep = '=';

	buf_printf(&s->out, "RCPT TO:<%s>", rc->addr);
	if (dsn && rc->notify != 0) {
		buf_puts(&s->out, " NOTIFY");
		for (k = 0; notify[k].name != NULL; k++)
			if (rc->notify & notify[k].flag) {
				buf_printf(&s->out, "%c%s", sep,
				    notify[k].name);
				sep = ',';
			}
	}
	if (dsn && rc->orcpt != NULL &&
	    (semi = strchr(rc->orcpt, ';')) != NULL) {
		buf_printf(&s->out, " ORCPT=%.*s;", (int)(semi - rc->orcpt),
		    rc->orcpt);
		smtp_client_xtext(&s->out, semi + 1);
	}
	buf_puts(&s->out, "\r\n");
}

/* smtp_client_transaction - MAIL, RCPT, DATA and the content on a
 * ready session; always settles every recipient, and says what the
 * connection is good for now */
static enum smtp_client_tx
smtp_client_transaction(struct smtp_client_sess *s, struct smtp_client_job *j)
{
	const struct message *m = j->m;
	double cmd_t = smtp_client_timeout(j->set->command_timeout, 300);
	double data_t = smtp_client_timeout(j->set->data_timeout, 600);
	bool pipe = (s->features & SMTP_CLIENT_F_PIPELINING) != 0;
	bool dsn = (s->features & SMTP_CLIENT_F_DSN) != 0;
	bool *done, spool;
	uint64_t size = message_size(m);
	struct smtp_reply r;
	size_t i, accepted = 0;
	int eight;

	done = arena_alloc(s->arena, j->n * sizeof(bool) + 1);

	/* what the server cannot take fails before anything is sent */
	if ((s->features & SMTP_CLIENT_F_SIZE) && s->size_limit > 0 &&
	    size > s->size_limit) {
		smtp_client_fail_all(j, DELIVER_PERMFAIL, "5.3.4",
		    arena_printf(s->arena, "message size %llu exceeds size "
		    "limit %llu of server %s", (unsigned long long)size,
		    s->size_limit, s->where), NULL, s->host);
		return SMTP_CLIENT_TX_IDLE;
	}
	if (m->smtputf8 && !(s->features & SMTP_CLIENT_F_SMTPUTF8)) {
		smtp_client_fail_all(j, DELIVER_PERMFAIL, "5.6.7",
		    arena_printf(s->arena, "SMTPUTF8 is required, but was "
		    "not offered by host %s", s->where), NULL, s->host);
		return SMTP_CLIENT_TX_IDLE;
	}
	eight = 0;
	if (m->body_type == MESSAGE_BODY_8BITMIME &&
	    !(s->features & SMTP_CLIENT_F_8BITMIME) &&
	    (eight = smtp_client_8bit(m)) != 0) {
		if (eight < 0)
			smtp_client_fail_all(j, DELIVER_TEMPFAIL, "4.3.0",
			    arena_printf(s->arena, "spool: %s",
			    spool_error(m->body)), NULL, NULL);
		else
			smtp_client_fail_all(j, DELIVER_PERMFAIL, "5.6.3",
			    arena_printf(s->arena, "8-bit content, but host "
			    "%s does not offer 8BITMIME", s->where), NULL,
			    s->host);
		return SMTP_CLIENT_TX_IDLE;
	}

	buf_printf(&s->out, "MAIL FROM:<%s>", m->sender);
	if (s->features & SMTP_CLIENT_F_SIZE)
		buf_printf(&s->out, " SIZE=%llu", (unsigned long long)size);
	if (m->body_type == MESSAGE_BODY_8BITMIME &&
	    (s->features & SMTP_CLIENT_F_8BITMIME))
		buf_puts(&s->out, " BODY=8BITMIME");
	if (m->smtputf8)
		buf_puts(&s->out, " SMTPUTF8");
	if (dsn && m->ret != MESSAGE_RET_UNSET)
		buf_puts(&s->out, m->ret == MESSAGE_RET_FULL ? " RET=FULL" :
		    " RET=HDRS");
	if (dsn && m->envid != NULL) {
		buf_puts(&s->out, " ENVID=");
		smtp_client_xtext(&s->out, m->envid);
	}
	buf_puts(&s->out, "\r\n");
	for (i = 0; i < j->n; i++) {
		j->rcpts[i].dsn_passed = dsn;
		j->rcpts[i].final = s->lmtp;
		j->rcpts[i].conn_use = j->conn_use;
	}
	if (pipe) {
		for (i = 0; i < j->n; i++)
			smtp_client_rcpt_line(s, j->rcpts[i].rcpt, dsn);
		smtp_client_put(s, "DATA");
	}
	if (!smtp_client_flush(s, smtp_client_now() + cmd_t) ||
	    !smtp_client_reply(s, cmd_t, &r)) {
		smtp_client_defer_rest(s, j, done, "sending MAIL FROM");
		return SMTP_CLIENT_TX_STALE;
	}
	if (r.code / 100 != 2) {
		for (i = 0; i < j->n; i++)
			smtp_client_set_reply(s, &j->rcpts[i], &r, "MAIL FROM");
		if (r.code == 421)
			return SMTP_CLIENT_TX_STALE;
		/* the pipelined RCPT and DATA replies are owed still */
		for (i = 0; pipe && i <= j->n; i++)
			if (!smtp_client_reply(s, cmd_t, &r))
				return SMTP_CLIENT_TX_BROKEN;
		return SMTP_CLIENT_TX_QUIT;
	}
	for (i = 0; i < j->n; i++) {
		if (!pipe) {
			smtp_client_rcpt_line(s, j->rcpts[i].rcpt, dsn);
			if (!smtp_client_flush(s, smtp_client_now() + cmd_t)) {
				smtp_client_defer_rest(s, j, done,
				    "sending RCPT TO");
				return SMTP_CLIENT_TX_BROKEN;
			}
		}
		if (!smtp_client_reply(s, cmd_t, &r)) {
			smtp_client_defer_rest(s, j, done, "sending RCPT TO");
			return SMTP_CLIENT_TX_BROKEN;
		}
		if (r.code / 100 == 2) {
			accepted++;
		} else {
			smtp_client_set_reply(s, &j->rcpts[i], &r, "RCPT TO");
			done[i] = true;
		}
	}
	if (!pipe) {
		if (accepted == 0)
			return SMTP_CLIENT_TX_QUIT;
		smtp_client_put(s, "DATA");
		if (!smtp_client_flush(s, smtp_client_now() + cmd_t)) {
			smtp_client_defer_rest(s, j, done, "sending DATA");
			return SMTP_CLIENT_TX_BROKEN;
		}
	}
	if (!smtp_client_reply(s, cmd_t, &r)) {
		smtp_client_defer_rest(s, j, done, "sending DATA");
		return SMTP_CLIENT_TX_BROKEN;
	}
	if (r.code != 354) {
		for (i = 0; i < j->n; i++)
			if (!done[i]) {
				smtp_client_set_reply(s, &j->rcpts[i], &r,
				    "DATA");
				if (r.code / 100 == 2) {
					/* neither a go-ahead nor a refusal */
					j->rcpts[i].result.status =
					    DELIVER_TEMPFAIL;
					j->rcpts[i].result.dsn = "4.5.0";
				}
				done[i] = true;
			}
		return SMTP_CLIENT_TX_QUIT;
	}
	if (accepted == 0) {
		/* pipelined, every RCPT refused, and still a go-ahead: an
		 * empty message ends it (RFC 2920 §3.1) */
		buf_puts(&s->out, ".\r\n");
		return smtp_client_flush(s, smtp_client_now() + data_t) &&
		    smtp_client_reply(s, data_t, &r) ? SMTP_CLIENT_TX_QUIT :
		    SMTP_CLIENT_TX_BROKEN;
	}
	if (!smtp_client_content(s, m, smtp_client_now() + data_t, &spool)) {
		if (spool) {
			for (i = 0; i < j->n; i++)
				if (!done[i])
					smtp_client_set(&j->rcpts[i],
					    DELIVER_TEMPFAIL, "4.3.0", s->why,
					    NULL, NULL);
			return SMTP_CLIENT_TX_BROKEN;
		}
		smtp_client_defer_rest(s, j, done, "sending message body");
		return SMTP_CLIENT_TX_BROKEN;
	}
	for (i = 0; i < j->n; i++) {
		if (done[i])
			continue;
		if (!smtp_client_reply(s, data_t, &r)) {
			smtp_client_defer_rest(s, j, done,
			    "waiting for end of data");
			return SMTP_CLIENT_TX_BROKEN;
		}
		if (s->lmtp) {
			smtp_client_set_reply(s, &j->rcpts[i], &r,
			    "end of DATA");
			done[i] = true;
			continue;
		}
		for (; i < j->n; i++)
			if (!done[i]) {
				smtp_client_set_reply(s, &j->rcpts[i], &r,
				    "end of DATA");
				done[i] = true;
			}
	}
	return SMTP_CLIENT_TX_IDLE;
}

/* the TLS that one host gets */
struct smtp_client_tlsplan {
	enum smtp_tls_level level;	/* NONE, MAY or one that requires */
	enum tls_verify verify;
	const struct tls_tlsa *tlsa;
	size_t n_tlsa;
};

/* smtp_client_hello - EHLO (LHLO), HELO after a 5xx to EHLO; false with
 * job->err */
static bool
smtp_client_hello(struct smtp_client_sess *s, struct smtp_client_job *j)
{
	double t = smtp_client_timeout(j->set->helo_timeout, 300);
	const char *cmd = s->lmtp ? "LHLO" : "EHLO";
	struct smtp_reply r;

	smtp_client_put(s, "%s %s", cmd, j->set->helo_name);
	if (!smtp_client_flush(s, smtp_client_now() + t) ||
	    !smtp_client_reply(s, t, &r)) {
		smtp_client_error_lost(j, s, s->lmtp ? "sending LHLO" :
		    "sending EHLO");
		return false;
	}
	if (r.code / 100 == 5 && !s->lmtp) {
		cmd = "HELO";
		smtp_client_put(s, "HELO %s", j->set->helo_name);
		if (!smtp_client_flush(s, smtp_client_now() + t) ||
		    !smtp_client_reply(s, t, &r)) {
			smtp_client_error_lost(j, s, "sending HELO");
			return false;
		}
		s->features = 0;
		s->size_limit = 0;
		if (r.code / 100 == 2)
			return true;
	}
	if (r.code / 100 != 2) {
		smtp_client_error_reply(j, s, &r, cmd);
		return false;
	}
	smtp_client_ehlo_parse(s, &r);
	return true;
}

/* smtp_client_starttls - TLS as planned; NEXT, PLAIN, or DONE meaning
 * "go on" */
static enum smtp_client_outcome
smtp_client_starttls(struct smtp_client_sess *s, struct smtp_client_job *j,
    const struct smtp_client_tlsplan *plan)
{
	double t = smtp_client_timeout(j->set->helo_timeout, 300);
	bool may = plan->level == SMTP_TLS_MAY;
	const char *names[1] = { s->host };
	struct smtp_reply r;
	struct inet_addr lit;
	char *why = NULL;

	if (plan->level == SMTP_TLS_NONE || j->tls->client == NULL)
		return SMTP_CLIENT_DONE;
	if (!(s->features & SMTP_CLIENT_F_STARTTLS)) {
		if (may)
			return SMTP_CLIENT_DONE;
		smtp_client_error(j, "4.7.4", arena_printf(s->arena,
		    "TLS is required, but was not offered by host %s",
		    s->where), NULL, s->host);
		return SMTP_CLIENT_NEXT;
	}
	smtp_client_put(s, "STARTTLS");
	if (!smtp_client_flush(s, smtp_client_now() + t) ||
	    !smtp_client_reply(s, t, &r)) {
		smtp_client_error_lost(j, s, "sending STARTTLS");
		return SMTP_CLIENT_NEXT;
	}
	if (r.code / 100 != 2) {
		if (may)
			return SMTP_CLIENT_DONE;
		smtp_client_error_reply(j, s, &r, "STARTTLS");
		return SMTP_CLIENT_NEXT;
	}
	if (smtp_reply_pending(s->reader) > 0) {
		/* plaintext after the go-ahead would be read as if it came
		 * through TLS (command injection, CVE-2011-0411 style) */
		smtp_client_error(j, "4.7.0", arena_printf(s->arena,
		    "host %s sent data after its STARTTLS reply", s->where),
		    NULL, s->host);
		return SMTP_CLIENT_NEXT;
	}
	/* no SNI for a unix socket or an address literal (RFC 6066 §3:
	 * only host names) */
	s->tls = tls_client_conn(j->tls->client, s->fd,
	    (s->lmtp && j->t->unix_path != NULL) || inet_parse(s->host, &lit) ?
	    NULL : s->host,
	    plan->verify, names, 1, plan->tlsa, plan->n_tlsa,
	    smtp_client_now() + t, &why);
	if (s->tls == NULL) {
		smtp_client_error(j, "4.7.5", arena_printf(s->arena,
		    "TLS with host %s failed: %s", s->where,
		    why != NULL ? why : "unknown error"), NULL, s->host);
		free(why);
		return may ? SMTP_CLIENT_PLAIN : SMTP_CLIENT_NEXT;
	}
	smtp_reply_reader_free(&s->reader);
	s->reader = smtp_reply_reader_new();
	return smtp_client_hello(s, j) ? SMTP_CLIENT_DONE : SMTP_CLIENT_NEXT;
}

/* smtp_client_session - one address from connect to QUIT */
static enum smtp_client_outcome
smtp_client_session(struct smtp_client_job *j, const char *host,
    const struct smtp_client_addr *a, const struct smtp_client_tlsplan *plan)
{
	struct smtp_client_sess s = {
		.set = j->set,
		.arena = j->arena,
		.lmtp = j->t->kind == TRANSPORT_LMTP,
		.host = host,
	};
	double t = smtp_client_timeout(j->set->helo_timeout, 300);
	enum smtp_client_outcome out = SMTP_CLIENT_NEXT;
	enum smtp_client_tx tx;
	struct smtp_reply r;
	const char *why;

	s.where = a->ss.ss_family == AF_UNIX ? host :
	    arena_printf(j->arena, "%s[%s]", host, a->text);
	s.opened = smtp_client_now();
	s.fd = smtp_client_connect(j->set, a, s.opened +
	    smtp_client_timeout(j->set->connect_timeout, 30), j->arena, &why);
	if (s.fd < 0) {
		smtp_client_error(j, "4.4.1", arena_printf(j->arena,
		    "connect to %s: %s", s.where, why), NULL, NULL);
		return SMTP_CLIENT_NEXT;
	}
	s.reader = smtp_reply_reader_new();
	if (!smtp_client_reply(&s, t, &r)) {
		smtp_client_error_lost(j, &s,
		    "receiving the initial server greeting");
		goto done;
	}
	if (r.code / 100 != 2) {
		smtp_client_error_reply(j, &s, &r, "the initial greeting");
		smtp_client_quit(&s);
		goto done;
	}
	if (!smtp_client_hello(&s, j))
		goto quit;
	out = smtp_client_starttls(&s, j, plan);
	if (out == SMTP_CLIENT_NEXT)
		goto quit;
	if (out == SMTP_CLIENT_PLAIN)
		goto done;
	j->conn_use = 1;
	tx = smtp_client_transaction(&s, j);
	if (tx != SMTP_CLIENT_TX_IDLE || j->set->cache == NULL ||
	    !smtp_client_cache_put(j->set->cache, j->key, &s, NULL))
		smtp_client_end(&s, tx);
	return SMTP_CLIENT_DONE;
quit:
	if (s.why == NULL)
		smtp_client_quit(&s);
done:
	smtp_client_close(&s);
	return out;
}

/*
 * smtp_client_reuse - the delivery on a kept connection to this next
 * hop, if there is a usable one; false (no recipient settled) when
 * there is none or each one taken turned out stale
 */
static bool
smtp_client_reuse(struct smtp_client_job *j)
{
	struct smtp_client_idle *e;
	struct smtp_client_sess s;
	enum smtp_client_tx tx;

	while ((e = smtp_client_cache_take(j->set->cache, j->key)) != NULL) {
		if (!smtp_client_alive(&e->s)) {
			smtp_client_idle_free(e, false);
			continue;
		}
		s = e->s;
		s.set = j->set;
		s.arena = j->arena;
		/* the results outlive the cache entry */
		s.host = arena_strdup(j->arena, e->host);
		s.where = arena_strdup(j->arena, e->where);
		j->conn_use = e->uses + 1;
		tx = smtp_client_transaction(&s, j);
		if (tx == SMTP_CLIENT_TX_STALE) {
			smtp_client_end(&s, tx);
			smtp_client_idle_release(e);
			continue;
		}
		if (tx != SMTP_CLIENT_TX_IDLE) {
			smtp_client_idle_release(e);
			smtp_client_end(&s, tx);
		} else if (!smtp_client_cache_put(j->set->cache, j->key, &s,
		    e)) {
			smtp_client_end(&s, tx);
		}
		return true;
	}
	return false;
}

/* smtp_client_try - one address, again in plaintext when TLS failed at
 * level may */
static bool
smtp_client_try(struct smtp_client_job *j, const char *host,
    const struct smtp_client_addr *a, const struct smtp_client_tlsplan *plan)
{
	struct smtp_client_tlsplan plain = { .level = SMTP_TLS_NONE };
	enum smtp_client_outcome out = smtp_client_session(j, host, a, plan);

	if (out == SMTP_CLIENT_PLAIN)
		out = smtp_client_session(j, host, a, &plain);
	return out == SMTP_CLIENT_DONE;
}

/* smtp_client_addr_set - an address and port into a */
static void
smtp_client_addr_set(struct smtp_client_addr *a, int family,
    const void *bytes, unsigned port)
{
	struct inet_addr ia = { .family = family };

	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)&a->ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, bytes, 4);
		memcpy(ia.bytes, bytes, 4);
		a->len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (void *)&a->ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, bytes, 16);
		memcpy(ia.bytes, bytes, 16);
		a->len = sizeof(*sin6);
	}
	inet_format(&ia, a->text, sizeof(a->text));
}

/* smtp_client_addrs - host's addresses (AAAA, then A) into a; the
 * count, with *res_r DNS_FOUND, or 0 with *res_r and job->err */
static size_t
smtp_client_addrs(struct smtp_client_job *j, const char *host,
    unsigned port, struct smtp_client_addr *a, enum dns_result *res_r)
{
	static const struct {
		int type, family;
		size_t len;
	} q[] = {
		{ .type = SMTP_CLIENT_T_AAAA, .family = AF_INET6, .len = 16 },
		{ .type = SMTP_CLIENT_T_A, .family = AF_INET, .len = 4 },
		{ 0 },
	};
	struct dns_answer ans;
	const char *why = NULL;
	struct inet_addr lit;
	size_t n = 0, k, i;
	bool error = false;

	if (inet_parse(host, &lit)) {
		smtp_client_addr_set(&a[0], lit.family, lit.bytes, port);
		*res_r = DNS_FOUND;
		return 1;
	}
	for (k = 0; q[k].type != 0; k++) {
		switch (dns_query(j->set->dns, host, q[k].type, j->arena,
		    &ans)) {
		case DNS_ERROR:
			error = true;
			why = ans.why;
			break;
		case DNS_NOTFOUND:
			break;
		case DNS_FOUND:
			for (i = 0; i < ans.n && n < SMTP_CLIENT_MAX_ADDRS;
			    i++)
				if (ans.len[i] == q[k].len)
					smtp_client_addr_set(&a[n++],
					    q[k].family, ans.data[i], port);
			break;
		}
	}
	if (n > 0) {
		*res_r = DNS_FOUND;
		return n;
	}
	if (error) {
		*res_r = DNS_ERROR;
		smtp_client_error(j, "4.4.3", arena_printf(j->arena,
		    "Host or domain name lookup failure for %s: %s", host,
		    why != NULL ? why : "error"), NULL, NULL);
	} else {
		*res_r = DNS_NOTFOUND;
		smtp_client_error(j, "4.4.4", arena_printf(j->arena,
		    "Host %s has no address record", host), NULL, NULL);
	}
	return 0;
}

/* one MX host */
struct smtp_client_mx {
	unsigned pref;
	const char *name;
};

/* smtp_client_plan - the TLS for host: DANE looks up TLSA records
 * (only behind a DNSSEC-secure MX answer); false with job->err when
 * that lookup fails (the host is skipped, never downgraded) */
static bool
smtp_client_plan(struct smtp_client_job *j, const char *host,
    unsigned port, bool secure, struct smtp_client_tlsplan *p)
{
	struct dns_answer ans;
	struct tls_tlsa *tlsa;
	const char *name;
	size_t i, n = 0;

	memset(p, 0, sizeof(*p));
	p->level = j->tls != NULL ? j->tls->level : SMTP_TLS_NONE;
	p->verify = TLS_VERIFY_NONE;
	if (p->level == SMTP_TLS_VERIFY)
		p->verify = TLS_VERIFY_NAME;
	if (p->level != SMTP_TLS_DANE)
		return true;
	p->level = SMTP_TLS_MAY;
	if (!secure)
		return true;
	name = arena_printf(j->arena, "_%u._tcp.%s", port, host);
	switch (dns_query(j->set->dns, name, SMTP_CLIENT_T_TLSA, j->arena,
	    &ans)) {
	case DNS_ERROR:
		smtp_client_error(j, "4.7.5", arena_printf(j->arena,
		    "TLSA lookup error for %s: %s", name, ans.why), NULL,
		    NULL);
		return false;
	case DNS_NOTFOUND:
		return true;
	case DNS_FOUND:
		break;
	}
	if (!ans.secure)
		return true;
	tlsa = arena_alloc(j->arena, (ans.n + 1) * sizeof(*tlsa));
	for (i = 0; i < ans.n; i++) {
		if (ans.len[i] < 3)
			continue;
		tlsa[n].usage = ans.data[i][0];
		tlsa[n].selector = ans.data[i][1];
		tlsa[n].mtype = ans.data[i][2];
		tlsa[n].data = ans.data[i] + 3;
		tlsa[n].len = ans.len[i] - 3;
		n++;
	}
	p->level = SMTP_TLS_DANE;
	p->verify = TLS_VERIFY_DANE;
	p->tlsa = tlsa;
	p->n_tlsa = n;
	return true;
}

/* smtp_client_host - every address of one host in turn; true once one
 * of them settled the recipients */
static bool
smtp_client_host(struct smtp_client_job *j, const char *host, unsigned port,
    bool secure, enum dns_result *res_r)
{
	struct smtp_client_addr *a;
	struct smtp_client_tlsplan plan;
	size_t n, i;

	a = arena_alloc(j->arena, SMTP_CLIENT_MAX_ADDRS * sizeof(*a));
	if ((n = smtp_client_addrs(j, host, port, a, res_r)) == 0)
		return false;
	if (!smtp_client_plan(j, host, port, secure, &plan))
		return false;
	for (i = 0; i < n; i++)
		if (smtp_client_try(j, host, &a[i], &plan))
			return true;
	return false;
}

/* smtp_client_mx_list - the MX hosts of domain, sorted, equal
 * preferences shuffled; returns the count, 0 when there are none (then
 * *res_r says why; a null MX gives *null_r) */
static size_t
smtp_client_mx_list(struct smtp_client_job *j, const char *domain,
    struct smtp_client_mx **mx_r, bool *null_r, bool *secure_r,
    struct dns_answer *ans)
{
	struct smtp_client_mx *mx, tmp;
	unsigned seed, pref;
	const char *name;
	size_t i, k, n = 0, run;

	*null_r = false;
	*secure_r = ans->secure;
	mx = arena_alloc(j->arena, (ans->n + 1) * sizeof(*mx));
	for (i = 0; i < ans->n; i++) {
		if (!dns_mx_decode(j->arena, ans->data[i], ans->len[i], &pref,
		    &name)) {
			smtp_client_error(j, "4.4.3", arena_printf(j->arena,
			    "malformed MX record for %s", domain), NULL,
			    NULL);
			return 0;
		}
		if (*name == '\0' || strcmp(name, ".") == 0) {
			/* RFC 7505: the only record, or ignored */
			if (ans->n == 1)
				*null_r = true;
			continue;
		}
		mx[n].pref = pref;
		mx[n].name = name;
		n++;
	}
	for (i = 1; i < n; i++)
		for (k = i; k > 0 && mx[k - 1].pref > mx[k].pref; k--) {
			tmp = mx[k];
			mx[k] = mx[k - 1];
			mx[k - 1] = tmp;
		}
	seed = (unsigned)(smtp_client_now() * 1e6) ^ (unsigned)getpid() ^
	    (unsigned)(uintptr_t)&seed;
	for (i = 0; i < n; i += run) {
		for (run = 1; i + run < n && mx[i + run].pref == mx[i].pref;
		    run++)
			;
		for (k = run; k > 1; k--) {
			size_t r = (size_t)rand_r(&seed) % k;

			tmp = mx[i + k - 1];
			mx[i + k - 1] = mx[i + r];
			mx[i + r] = tmp;
		}
	}
	*mx_r = mx;
	return n;
}

/* smtp_client_unix - LMTP on a unix socket */
static bool
smtp_client_unix(struct smtp_client_job *j)
{
	struct smtp_client_tlsplan plan = { .level = SMTP_TLS_NONE };
	struct smtp_client_addr a;
	struct sockaddr_un *sun = (void *)&a.ss;

	memset(&a, 0, sizeof(a));
	if (strlen(j->t->unix_path) >= sizeof(sun->sun_path)) {
		smtp_client_error(j, "4.3.5", arena_printf(j->arena,
		    "socket path too long: %s", j->t->unix_path), NULL, NULL);
		return false;
	}
	sun->sun_family = AF_UNIX;
	strcpy(sun->sun_path, j->t->unix_path);
	a.len = sizeof(*sun);
	return smtp_client_try(j, j->t->unix_path, &a, &plan);
}

/* smtp_deliver - see the contract */
void
smtp_deliver(const struct smtp_client_settings *set,
    const struct transport *t, const struct smtp_tls *tls,
    const struct message *m, struct smtp_rcpt *rcpts, size_t n,
    struct arena *arena)
{
	struct smtp_client_job job = {
		.set = set, .t = t, .tls = tls, .m = m, .rcpts = rcpts,
		.n = n, .arena = arena,
	};
	unsigned port = t->port != 0 ? t->port :
	    t->kind == TRANSPORT_LMTP ? 24 : 25;
	struct smtp_client_mx *mx = NULL;
	struct inet_addr lit;
	enum dns_result res = DNS_ERROR;
	struct dns_answer ans;
	bool null = false, secure = false, done = false;
	size_t nmx, i;
	char *dsn;

	if (t->kind != TRANSPORT_SMTP && t->kind != TRANSPORT_LMTP)
		log_panic("smtp_deliver: transport kind %d", (int)t->kind);
	if (n == 0)
		return;
	if (set->cache != NULL) {
		job.key = arena_printf(arena, "%s tls=%d", t->nexthop,
		    tls != NULL ? (int)tls->level : -1);
		if (smtp_client_reuse(&job))
			return;
	}
	smtp_client_error(&job, "4.3.0", "delivery not attempted", NULL, NULL);
	if (t->kind == TRANSPORT_LMTP && t->unix_path != NULL) {
		done = smtp_client_unix(&job);
	} else if (t->mx && t->kind == TRANSPORT_SMTP) {
		switch (dns_query(set->dns, t->host, SMTP_CLIENT_T_MX, arena,
		    &ans)) {
		case DNS_ERROR:
			smtp_client_fail_all(&job, DELIVER_TEMPFAIL, "4.4.3",
			    arena_printf(arena, "Host or domain name lookup "
			    "failure for %s (MX): %s", t->host, ans.why),
			    NULL, NULL);
			return;
		case DNS_NOTFOUND:
			if (ans.nxdomain) {
				smtp_client_fail_all(&job, DELIVER_PERMFAIL,
				    "5.1.2", arena_printf(arena, "Host or "
				    "domain name not found: %s", t->host),
				    NULL, NULL);
				return;
			}
			/* RFC 5321 §5.1: the domain itself */
			done = smtp_client_host(&job, t->host, port, false,
			    &res);
			if (!done && res == DNS_NOTFOUND) {
				smtp_client_fail_all(&job, DELIVER_PERMFAIL,
				    "5.4.4", arena_printf(arena, "Host or "
				    "domain name not found: %s has no MX "
				    "or address record", t->host), NULL, NULL);
				return;
			}
			break;
		case DNS_FOUND:
			nmx = smtp_client_mx_list(&job, t->host, &mx, &null,
			    &secure, &ans);
			if (null) {
				smtp_client_fail_all(&job, DELIVER_PERMFAIL,
				    "5.1.10", arena_printf(arena, "Domain %s "
				    "does not accept mail (nullMX)", t->host),
				    NULL, NULL);
				return;
			}
			for (i = 0; i < nmx && !done; i++)
				done = smtp_client_host(&job, mx[i].name, port,
				    secure, &res);
			break;
		}
	} else {
		done = smtp_client_host(&job, t->host, port,
		    !inet_parse(t->host, &lit), &res);
	}
	if (done)
		return;
	/* every address failed: defer with the last error */
	dsn = arena_strdup(arena, job.err.dsn);
	dsn[0] = '4';
	smtp_client_fail_all(&job, DELIVER_TEMPFAIL, dsn, job.err.text,
	    job.err.diagnostic, job.err.remote_mta);
}
