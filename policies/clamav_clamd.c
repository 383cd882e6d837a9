/*
 * clamav_clamd.c - the clamd client: INSTREAM over unix or TCP sockets,
 * servers tried in turn; see clamav_clamd.h for the contract
 *
 * What clamd answers (Debian 12's clamd 1.4.6, checked with the database
 * of tests/data/clamav/make-testdb; every reply of a z-command ends in a
 * NUL):
 *
 *	clean			"stream: OK"
 *	infected		"stream: Postern.Test.EICAR.UNOFFICIAL FOUND"
 *	over StreamMaxLength	"INSTREAM size limit exceeded. ERROR", sent
 *				while the client is still writing, and the
 *				connection is closed at once
 *	zVERSION		"ClamAV 1.4.6", with "/DBVERSION/DATE" only
 *				when a daily.cvd or .cld is loaded
 *	an unknown command	"UNKNOWN COMMAND"
 *
 * Signature names come as clamd gives them: those from a database that is
 * not a signed .cvd/.cld end in ".UNOFFICIAL", in clamd as in clamscan,
 * so a site's own signatures are told apart from ClamAV's.
 *
 * One deadline bounds the whole call: connects, writes and reads of every
 * server together. A server that fails (no connect, a broken or timed-out
 * conversation, an answer that is neither OK nor FOUND) is logged and the
 * next one is asked while time is left; a clean or infected answer is
 * final. A reply that comes before the whole message was sent (clamd's
 * size limit) is a failure whatever it says: a verdict about part of a
 * message is no verdict. A spool that cannot be read is the message's
 * fault, not the server's, and ends the scan without asking another.
 *
 * Writes use MSG_NOSIGNAL: clamd closes on us when the message is over
 * its limit, and that must be an error return, not a SIGPIPE. Each chunk
 * goes out with its length prefix in one write (the command and the
 * terminating empty chunk ride along), and TCP_NODELAY is set, so that no
 * small last write waits on Nagle for an acknowledgement.
 *
 * Host names (HOST:PORT) are looked up with getaddrinfo at each scan, so
 * a changed address needs no reload; that lookup cannot be bounded by the
 * deadline (the resolver's own timeouts apply), every step after it is.
 * A deadline of 0 or less means none, as elsewhere in policies/.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clamav_clamd.h"
#include "log.h"
#include "mem.h"

/* longer than any reply of clamd's; a longer one is not clamd talking */
#define CLAMD_REPLY_MAX		1024
#define CLAMD_WHY_MAX		(CLAMD_REPLY_MAX + 512)
#define CLAMD_INSTREAM		"zINSTREAM"	/* sent with its NUL */
#define CLAMD_VERSION		"zVERSION"
/* the command, one chunk with its length, the empty chunk */
#define CLAMD_BUF_SIZE		(sizeof(CLAMD_INSTREAM) + 4 + \
				    CLAMAV_CLAMD_CHUNK + 4)

enum clamd_kind {
	CLAMD_UNIX,		/* addr holds a sockaddr_un */
	CLAMD_ADDR,		/* addr holds a numeric IPv4 or IPv6 address */
	CLAMD_HOST,		/* host and port, looked up at each call */
};

struct clamd_server {
	char *name;			/* as configured: logs and errors */
	enum clamd_kind kind;
	struct sockaddr_storage addr;	/* CLAMD_UNIX, CLAMD_ADDR */
	socklen_t addrlen;
	char *host;			/* CLAMD_HOST */
	char port[8];			/* CLAMD_HOST */
};

struct clamav_clamd {
	size_t n;
	struct clamd_server *servers;
};

/* What became of one server. */
enum clamd_outcome {
	CLAMD_DONE,		/* sent, or the reply is in conv->reply */
	CLAMD_FAILED,		/* the server failed: why says how */
	CLAMD_LOCAL,		/* our side failed (the spool): why says how */
};

/* One conversation with one server. */
struct clamd_conv {
	const struct clamd_server *srv;
	int fd;
	double deadline;
	const char *qid;	/* for the log; NULL = NOQUEUE */
	char reply[CLAMD_REPLY_MAX];
	char why[CLAMD_WHY_MAX];
};

/* One way to write a server: its prefix, and the parser of the rest
 * (NULL, or what is wrong, malloc'ed). */
struct clamd_form {
	const char *prefix;
	char *(*parse)(struct clamd_server *srv, const char *rest);
};

static char *clamd_parse_unix(struct clamd_server *, const char *);
static char *clamd_parse_bracket(struct clamd_server *, const char *);
static char *clamd_parse_hostport(struct clamd_server *, const char *);

/* What a host name may hold (RFC 1123, and '_' as found in the wild). */
static const char clamd_host_chars[] = "abcdefghijklmnopqrstuvwxyz"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";

/* Tried in order; the empty prefix takes anything left. */
static const struct clamd_form clamd_forms[] = {
	{ .prefix = "unix:", .parse = clamd_parse_unix },
	{ .prefix = "[", .parse = clamd_parse_bracket },
	{ .prefix = "", .parse = clamd_parse_hostport },
	{ 0 },
};

/* clamd_now - the monotonic clock in seconds (policy_now's clock) */
static double
clamd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* clamd_fail - set conv->why to "clamd SERVER: text"; CLAMD_FAILED */
static enum clamd_outcome __attribute__((format(printf, 2, 3)))
clamd_fail(struct clamd_conv *conv, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(conv->why, sizeof(conv->why), "clamd %s: ",
	    conv->srv->name);
	if (n < 0 || (size_t)n >= sizeof(conv->why))
		return CLAMD_FAILED;
	va_start(ap, fmt);
	vsnprintf(conv->why + n, sizeof(conv->why) - (size_t)n, fmt, ap);
	va_end(ap);
	return CLAMD_FAILED;
}

/*
 * clamd_wait - poll fd for events until the deadline: the revents, 0 at
 * the deadline, -1 on a poll error (errno)
 */
static int
clamd_wait(int fd, short events, double deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	double left;
	int ms, n;

	for (;;) {
		ms = -1;
		if (deadline > 0) {
			left = deadline - clamd_now();
			if (left <= 0)
				return 0;
			/* round up: a poll that wakes early only loops */
			ms = left * 1000 >= INT_MAX ? INT_MAX :
			    (int)ceil(left * 1000);
		}
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return pfd.revents;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* clamd_port - "1".."65535" into *port_r; false for anything else */
static bool
clamd_port(const char *s, char *port_r, size_t len)
{
	long v = 0;
	const char *p;

	if (*s == '\0')
		return false;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
		if (v > 65535)
			return false;
	}
	if (v == 0)
		return false;
	snprintf(port_r, len, "%ld", v);
	return true;
}

/* clamd_numeric - a numeric address of family and port into srv */
static bool
clamd_numeric(struct clamd_server *srv, int family, const char *host,
    const char *port)
{
	struct addrinfo hints = {
		.ai_family = family,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	}, *res;

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return false;
	memcpy(&srv->addr, res->ai_addr, res->ai_addrlen);
	srv->addrlen = res->ai_addrlen;
	srv->kind = CLAMD_ADDR;
	freeaddrinfo(res);
	return true;
}

/* clamd_parse_unix - "unix:/path": rest is the path */
static char *
clamd_parse_unix(struct clamd_server *srv, const char *rest)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&srv->addr;
	size_t len = strlen(rest);

	if (len == 0)
		return xstrdup("no socket path after \"unix:\"");
	/* filterd changes directories; a relative path would move */
	if (rest[0] != '/')
		return xstrdup("the socket path is not absolute");
	if (len >= sizeof(sun->sun_path))
		return xasprintf("the socket path is longer than %zu bytes",
		    sizeof(sun->sun_path) - 1);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, rest, len + 1);
	srv->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    len + 1);
	srv->kind = CLAMD_UNIX;
	return NULL;
}

/* clamd_parse_bracket - "[IPv6]:PORT": rest follows the "[" */
static char *
clamd_parse_bracket(struct clamd_server *srv, const char *rest)
{
	const char *end = strchr(rest, ']');
	char *host, *bad = NULL;

	if (end == NULL)
		return xstrdup("no \"]\" after the IPv6 address");
	if (end[1] != ':')
		return xstrdup("no \":PORT\" after \"]\"");
	if (!clamd_port(end + 2, srv->port, sizeof(srv->port)))
		return xasprintf("bad port \"%s\" (1-65535)", end + 2);
	host = xstrndup(rest, (size_t)(end - rest));
	if (!clamd_numeric(srv, AF_INET6, host, srv->port))
		bad = xasprintf("\"%s\" is not an IPv6 address", host);
	free(host);
	return bad;
}

/* clamd_parse_hostport - "IPv4:PORT" or "HOST:PORT" */
static char *
clamd_parse_hostport(struct clamd_server *srv, const char *rest)
{
	const char *colon = strrchr(rest, ':');
	char *host, *bad = NULL;

	if (colon == NULL)
		return xstrdup("no port (HOST:PORT, IPv4:PORT, [IPv6]:PORT "
		    "or unix:/path)");
	if (memchr(rest, ':', (size_t)(colon - rest)) != NULL)
		return xstrdup("an IPv6 address needs brackets: "
		    "[ADDRESS]:PORT");
	if (colon == rest)
		return xstrdup("no host before the port");
	if (!clamd_port(colon + 1, srv->port, sizeof(srv->port)))
		return xasprintf("bad port \"%s\" (1-65535)", colon + 1);
	host = xstrndup(rest, (size_t)(colon - rest));
	if (clamd_numeric(srv, AF_INET, host, srv->port)) {
		free(host);
		return NULL;
	}
	/* digits and dots that are no address would go to DNS otherwise */
	if (strspn(host, "0123456789.") == strlen(host))
		bad = xasprintf("\"%s\" is not an IPv4 address", host);
	else if (strspn(host, clamd_host_chars) != strlen(host))
		bad = xasprintf("bad host name \"%s\"", host);
	if (bad != NULL) {
		free(host);
		return bad;
	}
	srv->host = host;
	srv->kind = CLAMD_HOST;
	return NULL;
}

/* clamd_parse - one server item; NULL, or what is wrong (malloc'ed) */
static char *
clamd_parse(struct clamd_server *srv, const char *item)
{
	const struct clamd_form *f;
	char *why, *bad;

	for (f = clamd_forms; f->parse != NULL; f++)
		if (strncmp(item, f->prefix, strlen(f->prefix)) == 0)
			break;
	if (f->parse == NULL)
		log_panic("clamd_parse: no form takes \"%s\"", item);
	if ((why = f->parse(srv, item + strlen(f->prefix))) == NULL) {
		srv->name = xstrdup(item);
		return NULL;
	}
	bad = xasprintf("clamd server \"%s\": %s", item, why);
	free(why);
	return bad;
}

/* clamav_clamd_new - parse every server; nothing is connected */
bool
clamav_clamd_new(const struct conf_list *servers,
    struct clamav_clamd **client_r, char **error_r)
{
	struct clamav_clamd *client;
	char *bad;
	size_t i;

	*client_r = NULL;
	if (servers == NULL || servers->n == 0) {
		*error_r = xstrdup("no clamd servers given");
		return false;
	}
	client = xcalloc(1, sizeof(*client));
	client->servers = xcalloc(servers->n, sizeof(*client->servers));
	for (i = 0; i < servers->n; i++) {
		if ((bad = clamd_parse(&client->servers[client->n],
		    servers->items[i])) != NULL) {
			clamav_clamd_free(&client);
			*error_r = bad;
			return false;
		}
		client->n++;
	}
	*client_r = client;
	return true;
}

/* clamav_clamd_free - release a client */
void
clamav_clamd_free(struct clamav_clamd **clientp)
{
	struct clamav_clamd *client;
	size_t i;

	if (clientp == NULL || (client = *clientp) == NULL)
		return;
	for (i = 0; i < client->n; i++) {
		free(client->servers[i].name);
		free(client->servers[i].host);
	}
	free(client->servers);
	free(client);
	*clientp = NULL;
}

/*
 * clamd_connect_to - a non-blocking connect to one address within the
 * deadline: the socket, or -1 with conv->why set
 */
static int
clamd_connect_to(struct clamd_conv *conv, const struct sockaddr *sa,
    socklen_t len)
{
	int fd, err, one = 1, ev;
	socklen_t errlen = sizeof(err);

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		clamd_fail(conv, "socket: %s", strerror(errno));
		return -1;
	}
	if (sa->sa_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (connect(fd, sa, len) == 0)
		return fd;
	/* EINTR: the connect goes on in the background, as EINPROGRESS */
	if (errno != EINPROGRESS && errno != EINTR) {
		clamd_fail(conv, "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	ev = clamd_wait(fd, POLLOUT, conv->deadline);
	if (ev == 0) {
		clamd_fail(conv, "connect: timed out");
		close(fd);
		return -1;
	}
	if (ev < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
	    &errlen) < 0)
		err = errno;
	if (err != 0) {
		clamd_fail(conv, "connect: %s", strerror(err));
		close(fd);
		return -1;
	}
	return fd;
}

/* clamd_connect - connect conv to its server; false with conv->why */
static bool
clamd_connect(struct clamd_conv *conv)
{
	const struct clamd_server *srv = conv->srv;
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV,
	}, *res, *ai;
	int gai;

	if (srv->kind != CLAMD_HOST) {
		conv->fd = clamd_connect_to(conv,
		    (const struct sockaddr *)&srv->addr, srv->addrlen);
		return conv->fd >= 0;
	}
	if ((gai = getaddrinfo(srv->host, srv->port, &hints, &res)) != 0) {
		clamd_fail(conv, "host lookup: %s", gai == EAI_SYSTEM ?
		    strerror(errno) : gai_strerror(gai));
		return false;
	}
	/* every address of the name, until one answers: why keeps the
	 * last failure */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		conv->fd = clamd_connect_to(conv, ai->ai_addr, ai->ai_addrlen);
		if (conv->fd >= 0)
			break;
		if (conv->deadline > 0 && clamd_now() >= conv->deadline)
			break;
	}
	freeaddrinfo(res);
	return conv->fd >= 0;
}

/*
 * clamd_read_reply - read until a NUL or the end of the connection into
 * conv->reply (NUL-terminated; every byte that is not printable ASCII
 * made '?', as the text may end up in a log or an SMTP reply);
 * CLAMD_DONE, or CLAMD_FAILED with conv->why. Without wait, only what
 * has arrived already counts.
 */
static enum clamd_outcome
clamd_read_reply(struct clamd_conv *conv, bool wait)
{
	size_t len = 0, i;
	ssize_t n;
	char *nul;
	int ev;

	for (;;) {
		if (len == sizeof(conv->reply) - 1)
			return clamd_fail(conv, "reply longer than %zu bytes",
			    sizeof(conv->reply) - 1);
		n = recv(conv->fd, conv->reply + len,
		    sizeof(conv->reply) - 1 - len, 0);
		if (n > 0) {
			nul = memchr(conv->reply + len, '\0', (size_t)n);
			len += (size_t)n;
			if (nul != NULL) {
				len = (size_t)(nul - conv->reply);
				break;
			}
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return clamd_fail(conv, "read: %s", strerror(errno));
		if (!wait)
			return clamd_fail(conv, "no reply");
		ev = clamd_wait(conv->fd, POLLIN, conv->deadline);
		if (ev == 0)
			return clamd_fail(conv,
			    "timed out waiting for the reply");
		if (ev < 0)
			return clamd_fail(conv, "poll: %s", strerror(errno));
	}
	conv->reply[len] = '\0';
	if (len == 0)
		return clamd_fail(conv, "connection closed without a reply");
	for (i = 0; i < len; i++)
		if ((unsigned char)conv->reply[i] < 0x20 ||
		    (unsigned char)conv->reply[i] >= 0x7f)
			conv->reply[i] = '?';
	return CLAMD_DONE;
}

/*
 * clamd_send - write all of buf within the deadline; CLAMD_DONE, or
 * CLAMD_FAILED with conv->why. A server that answers or hangs up before
 * it has taken everything has failed, and its reply (clamd's size limit)
 * becomes the reason.
 */
static enum clamd_outcome
clamd_send(struct clamd_conv *conv, const unsigned char *buf, size_t len)
{
	ssize_t n;
	int ev, err;

	while (len > 0) {
		n = send(conv->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		err = errno;
		if (n < 0 && err == EINTR)
			continue;
		if (n < 0 && (err == EPIPE || err == ECONNRESET)) {
			/* it may have said why before it closed; a server
			 * that stopped reading but is still there would
			 * only make us wait */
			if (clamd_read_reply(conv, false) == CLAMD_DONE)
				return clamd_fail(conv, "%s", conv->reply);
			return clamd_fail(conv, "write: %s", strerror(err));
		}
		if (n < 0 && err != EAGAIN && err != EWOULDBLOCK)
			return clamd_fail(conv, "write: %s", strerror(err));
		ev = clamd_wait(conv->fd, POLLOUT | POLLIN, conv->deadline);
		if (ev == 0)
			return clamd_fail(conv,
			    "timed out sending the message");
		if (ev < 0)
			return clamd_fail(conv, "poll: %s", strerror(errno));
		/* a server that stopped reading to answer would leave this
		 * write blocked until the deadline */
		if (ev & (POLLIN | POLLHUP | POLLERR)) {
			if (clamd_read_reply(conv, true) == CLAMD_DONE)
				return clamd_fail(conv, "%s", conv->reply);
			return CLAMD_FAILED;
		}
	}
	return CLAMD_DONE;
}

/* clamd_put32 - a chunk length, big-endian */
static void
clamd_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/*
 * clamd_fill - exactly len bytes of the spool from offset into p;
 * CLAMD_LOCAL with conv->why when the spool cannot give them
 */
static enum clamd_outcome
clamd_fill(struct clamd_conv *conv, struct spool *sp, uint64_t offset,
    unsigned char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = spool_read(sp, offset, p, len);
		if (n < 0) {
			snprintf(conv->why, sizeof(conv->why),
			    "clamd: spool: %s", spool_error(sp));
			return CLAMD_LOCAL;
		}
		if (n == 0) {
			snprintf(conv->why, sizeof(conv->why),
			    "clamd: spool: the message ends after %" PRIu64
			    " of %" PRIu64 " bytes", offset, spool_size(sp));
			return CLAMD_LOCAL;
		}
		offset += (uint64_t)n;
		p += n;
		len -= (size_t)n;
	}
	return CLAMD_DONE;
}

/*
 * clamd_instream - one INSTREAM conversation on a connected conv; the
 * reply in conv->reply when CLAMD_DONE
 */
static enum clamd_outcome
clamd_instream(struct clamd_conv *conv, struct spool *sp, unsigned char *buf)
{
	uint64_t size = spool_size(sp), off = 0;
	enum clamd_outcome o;
	size_t len, n;

	memcpy(buf, CLAMD_INSTREAM, sizeof(CLAMD_INSTREAM));
	len = sizeof(CLAMD_INSTREAM);
	for (;;) {
		n = size - off > CLAMAV_CLAMD_CHUNK ? CLAMAV_CLAMD_CHUNK :
		    (size_t)(size - off);
		if (n > 0) {
			clamd_put32(buf + len, (uint32_t)n);
			o = clamd_fill(conv, sp, off, buf + len + 4, n);
			if (o != CLAMD_DONE)
				return o;
			len += 4 + n;
			off += n;
		}
		if (off == size) {
			clamd_put32(buf + len, 0);
			len += 4;
		}
		if ((o = clamd_send(conv, buf, len)) != CLAMD_DONE)
			return o;
		if (off == size)
			break;
		len = 0;
	}
	return clamd_read_reply(conv, true);
}

/*
 * clamd_verdict - what a complete INSTREAM reply says: CLEAN, VIRUS with
 * *virus_r in arena, or ERROR (the server failed) with conv->why
 */
static enum clamav_clamd_result
clamd_verdict(struct clamd_conv *conv, struct arena *arena,
    const char **virus_r)
{
	static const char prefix[] = "stream: ", found[] = " FOUND";
	const char *rest = conv->reply, *suffix;
	size_t len;

	if (strncmp(rest, prefix, sizeof(prefix) - 1) == 0) {
		rest += sizeof(prefix) - 1;
		if (strcmp(rest, "OK") == 0)
			return CLAMAV_CLAMD_CLEAN;
		len = strlen(rest);
		/* a name, then " FOUND": not an empty one */
		if (len > sizeof(found) - 1 && rest[0] != ' ') {
			suffix = rest + len - (sizeof(found) - 1);
			if (strcmp(suffix, found) == 0) {
				*virus_r = arena_strndup(arena, rest,
				    (size_t)(suffix - rest));
				return CLAMAV_CLAMD_VIRUS;
			}
		}
	}
	len = strlen(conv->reply);
	if (len >= 6 && strcmp(conv->reply + len - 6, " ERROR") == 0)
		clamd_fail(conv, "%s", conv->reply);
	else
		clamd_fail(conv, "unexpected reply \"%s\"", conv->reply);
	return CLAMAV_CLAMD_ERROR;
}

/*
 * clamd_failed - log a failed server, naming the next one when there is
 * one and time to ask it; whether to go on
 */
static bool
clamd_failed(const struct clamav_clamd *client, size_t i,
    const struct clamd_conv *conv, double deadline)
{
	bool more = i + 1 < client->n &&
	    (deadline <= 0 || clamd_now() < deadline);

	if (more)
		log_msg(LOG_WARNING, conv->qid, "%s; asking %s", conv->why,
		    client->servers[i + 1].name);
	else
		log_msg(LOG_WARNING, conv->qid, "%s", conv->why);
	return more;
}

/* clamav_clamd_scan - INSTREAM to each server in turn until one answers */
enum clamav_clamd_result
clamav_clamd_scan(struct clamav_clamd *client, struct spool *sp,
    double deadline, const char *qid, struct arena *arena,
    const char **virus_r, const char **why_r)
{
	enum clamav_clamd_result r = CLAMAV_CLAMD_ERROR;
	struct clamd_conv conv = { .deadline = deadline, .qid = qid };
	enum clamd_outcome o;
	unsigned char *buf;
	size_t i;

	*virus_r = NULL;
	*why_r = NULL;
	/* a spool that lost bytes must never be scanned as if whole */
	if (spool_error(sp)[0] != '\0') {
		*why_r = arena_printf(arena, "clamd: spool: %s",
		    spool_error(sp));
		return CLAMAV_CLAMD_ERROR;
	}
	buf = xmalloc(CLAMD_BUF_SIZE);
	for (i = 0; i < client->n; i++) {
		conv.srv = &client->servers[i];
		conv.fd = -1;
		if (!clamd_connect(&conv))
			o = CLAMD_FAILED;
		else
			o = clamd_instream(&conv, sp, buf);
		if (conv.fd >= 0)
			close(conv.fd);
		if (o == CLAMD_LOCAL)
			break;
		if (o == CLAMD_DONE) {
			r = clamd_verdict(&conv, arena, virus_r);
			if (r != CLAMAV_CLAMD_ERROR)
				break;
		}
		if (!clamd_failed(client, i, &conv, deadline))
			break;
	}
	free(buf);
	if (r == CLAMAV_CLAMD_ERROR)
		*why_r = arena_strdup(arena, conv.why);
	return r;
}

/* clamav_clamd_version - zVERSION of the first server that answers */
const char *
clamav_clamd_version(struct clamav_clamd *client, double deadline,
    struct arena *arena, const char **why_r)
{
	static const char cmd[] = CLAMD_VERSION;
	struct clamd_conv conv = { .deadline = deadline };
	enum clamd_outcome o;
	size_t i;

	*why_r = NULL;
	for (i = 0; i < client->n; i++) {
		conv.srv = &client->servers[i];
		conv.fd = -1;
		if (!clamd_connect(&conv))
			o = CLAMD_FAILED;
		else if ((o = clamd_send(&conv, (const unsigned char *)cmd,
		    sizeof(cmd))) == CLAMD_DONE)
			o = clamd_read_reply(&conv, true);
		if (conv.fd >= 0)
			close(conv.fd);
		if (o == CLAMD_DONE) {
			if (strncmp(conv.reply, "ClamAV ", 7) == 0)
				return arena_strdup(arena, conv.reply);
			clamd_fail(&conv, "unexpected reply \"%s\"",
			    conv.reply);
		}
		if (!clamd_failed(client, i, &conv, deadline))
			break;
	}
	*why_r = arena_strdup(arena, conv.why);
	return NULL;
}
