/*
 * netconn.c - stream connections to local services with deadlines; see
 * netconn.h for the contract
 *
 * Sockets are non-blocking from the start (SOCK_NONBLOCK), so that no
 * connect, write or read can outlive its deadline: each waits in poll()
 * for what is left of it, rounded up to whole milliseconds (a poll that
 * wakes early only loops). A signal that interrupts a wait is not a
 * failure.
 *
 * Writes use MSG_NOSIGNAL: a peer that closed on us must give an error
 * return, not a SIGPIPE that kills the daemon. TCP_NODELAY is set, so that
 * a small last write does not wait on Nagle for an acknowledgement.
 *
 * Host names (HOST:PORT) are looked up with getaddrinfo at each connect,
 * so a changed address needs no reload; that lookup cannot be bounded by
 * the deadline (the resolver's own timeouts apply), every step after it
 * is.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "netconn.h"

enum netconn_kind {
	NETCONN_UNIX,		/* addr holds a sockaddr_un */
	NETCONN_ADDR,		/* addr holds a numeric IPv4 or IPv6 address */
	NETCONN_HOST,		/* host and port, looked up at each connect */
};

struct netconn_addr {
	char *name;			/* as written: logs and errors */
	enum netconn_kind kind;
	struct sockaddr_storage addr;	/* NETCONN_UNIX, NETCONN_ADDR */
	socklen_t addrlen;
	char *host;			/* NETCONN_HOST */
	char port[8];			/* NETCONN_HOST */
};

/* One way to write an address: its prefix, and the parser of the rest
 * (NULL, or what is wrong, malloc'ed). */
struct netconn_form {
	const char *prefix;
	char *(*parse)(struct netconn_addr *a, const char *rest);
};

static char *netconn_parse_unix(struct netconn_addr *, const char *);
static char *netconn_parse_bracket(struct netconn_addr *, const char *);
static char *netconn_parse_hostport(struct netconn_addr *, const char *);

/* What a host name may hold (RFC 1123, and '_' as found in the wild). */
static const char netconn_host_chars[] = "abcdefghijklmnopqrstuvwxyz"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";

/* Tried in order; the empty prefix takes anything left. */
static const struct netconn_form netconn_forms[] = {
	{ .prefix = "unix:", .parse = netconn_parse_unix },
	{ .prefix = "[", .parse = netconn_parse_bracket },
	{ .prefix = "", .parse = netconn_parse_hostport },
	{ 0 },
};

/* netconn_now - the monotonic clock in seconds (policy_now's clock) */
static double
netconn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* netconn_why - "what: strerror(err)" in buf; buf (what when there is no
 * room at all) */
static const char *
netconn_why(char *buf, size_t len, const char *what, int err)
{
	if (buf == NULL || len == 0)
		return what;
	snprintf(buf, len, "%s: %s", what, strerror(err));
	return buf;
}

/* netconn_timeout - a timeout's text, with errno saying it was one */
static const char *
netconn_timeout(const char *text)
{
	errno = ETIMEDOUT;
	return text;
}

/*
 * netconn_wait - poll fd for events until the deadline: the revents, 0
 * at the deadline, -1 on a poll error (errno)
 */
static int
netconn_wait(int fd, short events, double deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	double left;
	int ms, n;

	for (;;) {
		ms = -1;
		if (deadline > 0) {
			left = deadline - netconn_now();
			if (left <= 0)
				return 0;
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

/* --- addresses ------------------------------------------------------------ */

/* netconn_port - "1".."65535" into port_r; false for anything else */
static bool
netconn_port(const char *s, char *port_r, size_t len)
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

/* netconn_numeric - a numeric address of family and port into a */
static bool
netconn_numeric(struct netconn_addr *a, int family, const char *host,
    const char *port)
{
	struct addrinfo hints = {
		.ai_family = family,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	}, *res;

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return false;
	memcpy(&a->addr, res->ai_addr, res->ai_addrlen);
	a->addrlen = res->ai_addrlen;
	a->kind = NETCONN_ADDR;
	freeaddrinfo(res);
	return true;
}

/* netconn_parse_unix - "unix:/path": rest is the path */
static char *
netconn_parse_unix(struct netconn_addr *a, const char *rest)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->addr;
	size_t len = strlen(rest);

	if (len == 0)
		return xstrdup("no socket path after \"unix:\"");
	/* daemons change directories; a relative path would move */
	if (rest[0] != '/')
		return xstrdup("the socket path is not absolute");
	if (len >= sizeof(sun->sun_path))
		return xasprintf("the socket path is longer than %zu bytes",
		    sizeof(sun->sun_path) - 1);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, rest, len + 1);
	a->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    len + 1);
	a->kind = NETCONN_UNIX;
	return NULL;
}

/* netconn_parse_bracket - "[IPv6]:PORT": rest follows the "[" */
static char *
netconn_parse_bracket(struct netconn_addr *a, const char *rest)
{
	const char *end = strchr(rest, ']');
	char *host, *bad = NULL;

	if (end == NULL)
		return xstrdup("no \"]\" after the IPv6 address");
	if (end[1] != ':')
		return xstrdup("no \":PORT\" after \"]\"");
	if (!netconn_port(end + 2, a->port, sizeof(a->port)))
		return xasprintf("bad port \"%s\" (1-65535)", end + 2);
	host = xstrndup(rest, (size_t)(end - rest));
	if (!netconn_numeric(a, AF_INET6, host, a->port))
		bad = xasprintf("\"%s\" is not an IPv6 address", host);
	free(host);
	return bad;
}

/* netconn_parse_hostport - "IPv4:PORT" or "HOST:PORT" */
static char *
netconn_parse_hostport(struct netconn_addr *a, const char *rest)
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
	if (!netconn_port(colon + 1, a->port, sizeof(a->port)))
		return xasprintf("bad port \"%s\" (1-65535)", colon + 1);
	host = xstrndup(rest, (size_t)(colon - rest));
	if (netconn_numeric(a, AF_INET, host, a->port)) {
		free(host);
		return NULL;
	}
	/* digits and dots that are no address would go to DNS otherwise */
	if (strspn(host, "0123456789.") == strlen(host))
		bad = xasprintf("\"%s\" is not an IPv4 address", host);
	else if (strspn(host, netconn_host_chars) != strlen(host))
		bad = xasprintf("bad host name \"%s\"", host);
	if (bad != NULL) {
		free(host);
		return bad;
	}
	a->host = host;
	a->kind = NETCONN_HOST;
	return NULL;
}

/* netconn_parse - one address in one of netconn_forms */
struct netconn_addr *
netconn_parse(const char *text, char **error_r)
{
	const struct netconn_form *f;
	struct netconn_addr *a;
	char *why;

	for (f = netconn_forms; f->parse != NULL; f++)
		if (strncmp(text, f->prefix, strlen(f->prefix)) == 0)
			break;
	if (f->parse == NULL)
		log_panic("netconn_parse: no form takes \"%s\"", text);
	a = xcalloc(1, sizeof(*a));
	if ((why = f->parse(a, text + strlen(f->prefix))) != NULL) {
		netconn_addr_free(&a);
		*error_r = why;
		return NULL;
	}
	a->name = xstrdup(text);
	return a;
}

/* netconn_addr_free - release a parsed address */
void
netconn_addr_free(struct netconn_addr **ap)
{
	struct netconn_addr *a;

	if (ap == NULL || (a = *ap) == NULL)
		return;
	free(a->name);
	free(a->host);
	free(a);
	*ap = NULL;
}

/* netconn_name - the address as written */
const char *
netconn_name(const struct netconn_addr *a)
{
	return a->name;
}

/* --- connections ---------------------------------------------------------- */

/*
 * netconn_connect_to - a non-blocking connect to one socket address
 * within the deadline: the socket, or -1 with *why_r
 */
static int
netconn_connect_to(const struct sockaddr *sa, socklen_t salen,
    double deadline, char *buf, size_t len, const char **why_r)
{
	int fd, err, one = 1, ev;
	socklen_t errlen = sizeof(err);

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		*why_r = netconn_why(buf, len, "socket", errno);
		return -1;
	}
	if (sa->sa_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (connect(fd, sa, salen) == 0)
		return fd;
	/* EINTR: the connect goes on in the background, as EINPROGRESS */
	if (errno != EINPROGRESS && errno != EINTR) {
		*why_r = netconn_why(buf, len, "connect", errno);
		close(fd);
		return -1;
	}
	ev = netconn_wait(fd, POLLOUT, deadline);
	if (ev == 0) {
		close(fd);
		*why_r = netconn_timeout("connect: timed out");
		return -1;
	}
	if (ev < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
	    &errlen) < 0)
		err = errno;
	if (err != 0) {
		*why_r = netconn_why(buf, len, "connect", err);
		close(fd);
		return -1;
	}
	return fd;
}

/* netconn_connect - the address, or every address of its name in turn */
int
netconn_connect(const struct netconn_addr *a, double deadline, char *buf,
    size_t len, const char **why_r)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV,
	}, *res, *ai;
	int fd = -1, gai, err;

	if (a->kind != NETCONN_HOST)
		return netconn_connect_to((const struct sockaddr *)&a->addr,
		    a->addrlen, deadline, buf, len, why_r);
	if ((gai = getaddrinfo(a->host, a->port, &hints, &res)) != 0) {
		if (gai == EAI_SYSTEM)
			*why_r = netconn_why(buf, len, "host lookup", errno);
		else {
			if (buf != NULL && len > 0)
				snprintf(buf, len, "host lookup: %s",
				    gai_strerror(gai));
			*why_r = buf != NULL && len > 0 ? buf : "host lookup";
		}
		return -1;
	}
	/* until one answers: *why_r keeps the last failure */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = netconn_connect_to(ai->ai_addr, ai->ai_addrlen, deadline,
		    buf, len, why_r);
		if (fd >= 0 || (deadline > 0 && netconn_now() >= deadline))
			break;
	}
	err = errno;
	freeaddrinfo(res);
	errno = err;
	return fd;
}

/* netconn_send - write everything, waiting only until the deadline */
bool
netconn_send(int fd, const void *data, size_t len, double deadline,
    char *buf, size_t buflen, const char **why_r)
{
	const unsigned char *p = data;
	bool hangup = false;
	ssize_t n;
	char peek;
	int ev;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			*why_r = netconn_why(buf, buflen, "write",
			    n == 0 ? EPIPE : errno);
			return false;
		}
		/* a hangup that send does not report is still one */
		if (hangup) {
			*why_r = "write: connection closed";
			errno = EPIPE;
			return false;
		}
		ev = netconn_wait(fd, POLLOUT | POLLIN, deadline);
		if (ev == 0) {
			*why_r = netconn_timeout("write: timed out");
			return false;
		}
		if (ev < 0) {
			*why_r = netconn_why(buf, buflen, "poll", errno);
			return false;
		}
		/* a peer that stopped reading to answer would leave the
		 * write blocked until the deadline; one that is gone reads
		 * as the end of the stream */
		if (ev & POLLIN) {
			n = recv(fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT);
			if (n > 0) {
				*why_r = "write: answered early";
				errno = EPROTO;
				return false;
			}
			if (n == 0) {
				*why_r = "write: connection closed";
				errno = EPIPE;
				return false;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				*why_r = netconn_why(buf, buflen, "write",
				    errno);
				return false;
			}
		}
		/* the next send says what the error or hangup was */
		hangup = (ev & (POLLHUP | POLLERR)) != 0;
	}
	return true;
}

/* netconn_recv - what has arrived, waiting for something until the
 * deadline */
ssize_t
netconn_recv(int fd, void *data, size_t len, double deadline, char *buf,
    size_t buflen, const char **why_r)
{
	ssize_t n;
	int ev;

	for (;;) {
		n = recv(fd, data, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			*why_r = netconn_why(buf, buflen, "read", errno);
			return -1;
		}
		ev = netconn_wait(fd, POLLIN, deadline);
		if (ev == 0) {
			*why_r = netconn_timeout("read: timed out");
			return -1;
		}
		if (ev < 0) {
			*why_r = netconn_why(buf, buflen, "poll", errno);
			return -1;
		}
	}
}
