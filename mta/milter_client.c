/*
 * milter_client.c - the MTA side of the milter protocol (versions 2 to 6)
 * with one filter
 *
 * Each call is one request and its answer, done with blocking semantics
 * on a non-blocking socket: every send and receive waits in poll() for
 * what is left of the call's deadline, so a filter that stops reading or
 * answering costs at most its timeout, and a 'p' (progress) answer gives
 * it a fresh one. The macro packet and the event are built in one buffer
 * and leave in one send(): with Nagle off (TCP_NODELAY) two small writes
 * would be two segments, and with Nagle on the second one would wait for
 * an ACK.
 *
 * libmilter writes each end-of-message answer (edits, then the verdict)
 * with its own write(), and a filter that keeps Nagle on holds each of
 * them until the previous one is acknowledged; our delayed ACK then
 * stalls the message about 40 ms (library-notes "A latency trap"). So on
 * TCP the client asks for an immediate ACK (TCP_QUICKACK, which Linux
 * forgets after a while) before every receive.
 *
 * Nothing from the filter is believed before it is checked (the header's
 * list); the first violation closes the connection and the call returns
 * MILTER_FAILED with a why that names the filter, the event and the
 * fault. Texts taken from the filter are shown in a why only in short,
 * printable form.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "mailaddr.h"
#include "mem.h"
#include "milter_client.h"

#define MILTER_VERSION		6	/* what we offer */
#define MILTER_VERSION_MIN	2	/* the oldest we speak */
#define MILTER_CHUNK		65535	/* body bytes per packet */
#define MILTER_HDR_NAME_MAX	997	/* a 1000-byte line minus ": " */
#define MILTER_HDR_LINE_MAX	998
#define MILTER_MACRO_NAME_MAX	255
#define MILTER_SHOW_MAX		64	/* filter text in a why */

/* Actions (SMFIF_*): what the filter may do at end of message. */
#define MILTER_F_ADDHDRS	0x001
#define MILTER_F_CHGBODY	0x002
#define MILTER_F_ADDRCPT	0x004
#define MILTER_F_DELRCPT	0x008
#define MILTER_F_CHGHDRS	0x010
#define MILTER_F_QUARANTINE	0x020
#define MILTER_F_CHGFROM	0x040
#define MILTER_F_ADDRCPT_PAR	0x080
#define MILTER_F_SETSYMLIST	0x100
#define MILTER_F_ALL		0x1ff

/* Protocol steps (SMFIP_*): events and replies the filter does not want. */
#define MILTER_P_NOCONNECT	0x000001
#define MILTER_P_NOHELO		0x000002
#define MILTER_P_NOMAIL		0x000004
#define MILTER_P_NORCPT		0x000008
#define MILTER_P_NOBODY		0x000010
#define MILTER_P_NOHDRS		0x000020
#define MILTER_P_NOEOH		0x000040
#define MILTER_P_NR_HDR		0x000080
#define MILTER_P_NOUNKNOWN	0x000100
#define MILTER_P_NODATA		0x000200
#define MILTER_P_SKIP		0x000400
#define MILTER_P_RCPT_REJ	0x000800
#define MILTER_P_NR_CONN	0x001000
#define MILTER_P_NR_HELO	0x002000
#define MILTER_P_NR_MAIL	0x004000
#define MILTER_P_NR_RCPT	0x008000
#define MILTER_P_NR_DATA	0x010000
#define MILTER_P_NR_UNKN	0x020000
#define MILTER_P_NR_EOH		0x040000
#define MILTER_P_NR_BODY	0x080000
#define MILTER_P_HDR_LEADSPC	0x100000
#define MILTER_P_ALL		0x1fffff

/* The steps each protocol version defines (as Postfix's milter8 has them;
 * 5 was never released and gets 4's). */
#define MILTER_P_V2	(MILTER_P_NOCONNECT | MILTER_P_NOHELO | \
			 MILTER_P_NOMAIL | MILTER_P_NORCPT | MILTER_P_NOBODY | \
			 MILTER_P_NOHDRS | MILTER_P_NOEOH)
#define MILTER_P_V3	(MILTER_P_V2 | MILTER_P_NOUNKNOWN)
#define MILTER_P_V4	(MILTER_P_V3 | MILTER_P_NODATA)

static const uint32_t milter_version_steps[MILTER_VERSION + 1] = {
	[2] = MILTER_P_V2,
	[3] = MILTER_P_V3,
	[4] = MILTER_P_V4,
	[5] = MILTER_P_V4,
	[6] = MILTER_P_ALL,
};

/* Macro stages of the negotiation answer (SMFIM_*). */
enum milter_stage {
	MILTER_STAGE_CONNECT,
	MILTER_STAGE_HELO,
	MILTER_STAGE_MAIL,
	MILTER_STAGE_RCPT,
	MILTER_STAGE_DATA,
	MILTER_STAGE_EOM,
	MILTER_STAGE_EOH,
	MILTER_STAGES,
	MILTER_STAGE_NONE = -1,
};

enum milter_timeout {
	MILTER_TIMEOUT_COMMAND,
	MILTER_TIMEOUT_CONTENT,
};

/* The events, in libmilter's order. */
enum milter_event_id {
	MILTER_EV_CONNECT,
	MILTER_EV_HELO,
	MILTER_EV_MAIL,
	MILTER_EV_RCPT,
	MILTER_EV_DATA,
	MILTER_EV_UNKNOWN,
	MILTER_EV_HEADER,
	MILTER_EV_EOH,
	MILTER_EV_BODY,
	MILTER_EV_EOM,
	MILTER_EVENTS,
};

/*
 * What the protocol says about each event: its command byte, which macro
 * list goes before it (header and body have none: libmilter has no
 * stage for them and ignores such a 'D'), the step flags that drop the
 * event or its reply, the version that brought it, and the final answers
 * it may get ('p' and the end-of-message extras are handled apart).
 */
static const struct milter_event {
	const char *name;		/* in why texts */
	char cmd;
	enum milter_stage stage;
	const char *macros;		/* Postfix's default list */
	uint32_t no;			/* not sent at all */
	uint32_t nr;			/* sent, not answered */
	unsigned version;
	enum milter_timeout timeout;
	const char *finals;
} milter_events[MILTER_EVENTS] = {
	[MILTER_EV_CONNECT] = {
		.name = "CONNECT", .cmd = 'C', .stage = MILTER_STAGE_CONNECT,
		.macros = MILTER_MACROS_CONNECT, .no = MILTER_P_NOCONNECT,
		.nr = MILTER_P_NR_CONN, .version = 2,
		.timeout = MILTER_TIMEOUT_COMMAND, .finals = "cartyf4",
	},
	[MILTER_EV_HELO] = {
		.name = "HELO", .cmd = 'H', .stage = MILTER_STAGE_HELO,
		.macros = MILTER_MACROS_HELO, .no = MILTER_P_NOHELO,
		.nr = MILTER_P_NR_HELO, .version = 2,
		.timeout = MILTER_TIMEOUT_COMMAND, .finals = "cartyf4",
	},
	[MILTER_EV_MAIL] = {
		.name = "MAIL", .cmd = 'M', .stage = MILTER_STAGE_MAIL,
		.macros = MILTER_MACROS_MAIL, .no = MILTER_P_NOMAIL,
		.nr = MILTER_P_NR_MAIL, .version = 2,
		.timeout = MILTER_TIMEOUT_COMMAND, .finals = "cartdyf4",
	},
	[MILTER_EV_RCPT] = {
		.name = "RCPT", .cmd = 'R', .stage = MILTER_STAGE_RCPT,
		.macros = MILTER_MACROS_RCPT, .no = MILTER_P_NORCPT,
		.nr = MILTER_P_NR_RCPT, .version = 2,
		.timeout = MILTER_TIMEOUT_COMMAND, .finals = "cartdyf4",
	},
	[MILTER_EV_DATA] = {
		.name = "DATA", .cmd = 'T', .stage = MILTER_STAGE_DATA,
		.macros = MILTER_MACROS_DATA, .no = MILTER_P_NODATA,
		.nr = MILTER_P_NR_DATA, .version = 4,
		.timeout = MILTER_TIMEOUT_COMMAND, .finals = "cartdyf4",
	},
	[MILTER_EV_UNKNOWN] = {
		.name = "UNKNOWN", .cmd = 'U', .stage = MILTER_STAGE_NONE,
		.macros = "", .no = MILTER_P_NOUNKNOWN,
		.nr = MILTER_P_NR_UNKN, .version = 3,
		.timeout = MILTER_TIMEOUT_COMMAND, .finals = "cartdyf4",
	},
	[MILTER_EV_HEADER] = {
		.name = "HEADER", .cmd = 'L', .stage = MILTER_STAGE_NONE,
		.macros = "", .no = MILTER_P_NOHDRS,
		.nr = MILTER_P_NR_HDR, .version = 2,
		.timeout = MILTER_TIMEOUT_CONTENT, .finals = "cartdyf4",
	},
	[MILTER_EV_EOH] = {
		.name = "EOH", .cmd = 'N', .stage = MILTER_STAGE_EOH,
		.macros = MILTER_MACROS_EOH, .no = MILTER_P_NOEOH,
		.nr = MILTER_P_NR_EOH, .version = 2,
		.timeout = MILTER_TIMEOUT_CONTENT, .finals = "cartdyf4",
	},
	[MILTER_EV_BODY] = {
		.name = "BODY", .cmd = 'B', .stage = MILTER_STAGE_NONE,
		.macros = "", .no = MILTER_P_NOBODY,
		.nr = MILTER_P_NR_BODY, .version = 2,
		.timeout = MILTER_TIMEOUT_CONTENT, .finals = "cartdyf4",
	},
	[MILTER_EV_EOM] = {
		.name = "EOM", .cmd = 'E', .stage = MILTER_STAGE_EOM,
		.macros = MILTER_MACROS_EOM, .no = 0, .nr = 0, .version = 2,
		.timeout = MILTER_TIMEOUT_CONTENT, .finals = "cartdyf4",
	},
};

struct milter_conn {
	char *name;			/* for why texts */
	double connect_timeout, command_timeout, content_timeout;
	int fd;				/* -1 once closed */
	bool inet;			/* TCP: quick ACKs before reads */
	bool usable;
	bool skip_body;			/* 's' came: no more body */
	unsigned version;
	uint32_t actions, steps;
	char *macros[MILTER_STAGES];	/* the filter's lists, or NULL */
	struct buf out;			/* what the call sends */
	struct buf in;			/* received; unread from in_pos */
	size_t in_pos;
	double timeout, deadline;	/* of the call in progress */
	const char *where;		/* its event, for why texts */
	struct buf err;			/* what went wrong, for why */
};

/* A packet's data being parsed. */
struct milter_data {
	const char *p;
	size_t left;
};

/* What an answer from the filter is. */
enum milter_kind {
	MILTER_KIND_FINAL,	/* ends the event */
	MILTER_KIND_PROGRESS,	/* keep waiting */
	MILTER_KIND_SKIP,	/* body only, ends the event */
	MILTER_KIND_QUARANTINE,	/* end of message, then more */
	MILTER_KIND_EDIT,	/* end of message, then more */
};

typedef bool milter_edit_fn(struct milter_conn *c, struct milter_data *d,
    struct arena *arena, struct milter_edit *e);

static milter_edit_fn milter_edit_add_header, milter_edit_insert_header,
    milter_edit_change_header, milter_edit_sender, milter_edit_add_rcpt,
    milter_edit_add_rcpt_par, milter_edit_del_rcpt, milter_edit_body;

/* The answers a filter can give. */
static const struct milter_answer {
	char code;
	enum milter_kind kind;
	enum milter_action action;	/* FINAL */
	uint32_t need;			/* the action flag it needs */
	enum milter_edit_type edit;	/* EDIT */
	milter_edit_fn *parse;		/* EDIT */
} milter_answers[] = {
	{ .code = 'c', .kind = MILTER_KIND_FINAL, .action = MILTER_CONTINUE },
	{ .code = 'a', .kind = MILTER_KIND_FINAL, .action = MILTER_ACCEPT },
	{ .code = 'r', .kind = MILTER_KIND_FINAL, .action = MILTER_REJECT },
	{ .code = 't', .kind = MILTER_KIND_FINAL, .action = MILTER_TEMPFAIL },
	{ .code = 'd', .kind = MILTER_KIND_FINAL, .action = MILTER_DISCARD },
	{ .code = 'y', .kind = MILTER_KIND_FINAL, .action = MILTER_REPLY },
	{ .code = '4', .kind = MILTER_KIND_FINAL, .action = MILTER_SHUTDOWN },
	{ .code = 'f', .kind = MILTER_KIND_FINAL, .action = MILTER_CONNFAIL },
	{ .code = 'p', .kind = MILTER_KIND_PROGRESS },
	{ .code = 's', .kind = MILTER_KIND_SKIP, .action = MILTER_SKIP },
	{ .code = 'q', .kind = MILTER_KIND_QUARANTINE,
	    .need = MILTER_F_QUARANTINE },
	{ .code = 'h', .kind = MILTER_KIND_EDIT, .need = MILTER_F_ADDHDRS,
	    .edit = MILTER_EDIT_ADD_HEADER, .parse = milter_edit_add_header },
	{ .code = 'i', .kind = MILTER_KIND_EDIT, .need = MILTER_F_ADDHDRS,
	    .edit = MILTER_EDIT_INSERT_HEADER,
	    .parse = milter_edit_insert_header },
	{ .code = 'm', .kind = MILTER_KIND_EDIT, .need = MILTER_F_CHGHDRS,
	    .edit = MILTER_EDIT_CHANGE_HEADER,
	    .parse = milter_edit_change_header },
	{ .code = 'e', .kind = MILTER_KIND_EDIT, .need = MILTER_F_CHGFROM,
	    .edit = MILTER_EDIT_CHANGE_SENDER, .parse = milter_edit_sender },
	{ .code = '+', .kind = MILTER_KIND_EDIT, .need = MILTER_F_ADDRCPT,
	    .edit = MILTER_EDIT_ADD_RCPT, .parse = milter_edit_add_rcpt },
	{ .code = '2', .kind = MILTER_KIND_EDIT, .need = MILTER_F_ADDRCPT_PAR,
	    .edit = MILTER_EDIT_ADD_RCPT, .parse = milter_edit_add_rcpt_par },
	{ .code = '-', .kind = MILTER_KIND_EDIT, .need = MILTER_F_DELRCPT,
	    .edit = MILTER_EDIT_DEL_RCPT, .parse = milter_edit_del_rcpt },
	{ .code = 'b', .kind = MILTER_KIND_EDIT, .need = MILTER_F_CHGBODY,
	    .edit = MILTER_EDIT_BODY, .parse = milter_edit_body },
	{ 0 },
};

/* default_action values, by enum milter_default */
static const char *const milter_default_names[] = {
	[MILTER_DEFAULT_TEMPFAIL] = "tempfail",
	[MILTER_DEFAULT_ACCEPT] = "accept",
	[MILTER_DEFAULT_REJECT] = "reject",
	[MILTER_DEFAULT_QUARANTINE] = "quarantine",
	[MILTER_DEFAULT_SHUTDOWN] = "shutdown",
	NULL,
};

typedef bool milter_setting_fn(const char *value, void *field);

static milter_setting_fn milter_set_timeout, milter_set_default;

/* The per-filter settings of Postfix 3's { socket, name = value } form. */
static const struct milter_setting {
	const char *name;
	size_t offset;
	milter_setting_fn *parse;
	const char *expected;		/* for the error text */
} milter_settings[] = {
	{ .name = "connect_timeout",
	    .offset = offsetof(struct milter_spec, connect_timeout),
	    .parse = milter_set_timeout,
	    .expected = "a duration above 0 such as 30s or 5m" },
	{ .name = "command_timeout",
	    .offset = offsetof(struct milter_spec, command_timeout),
	    .parse = milter_set_timeout,
	    .expected = "a duration above 0 such as 30s or 5m" },
	{ .name = "content_timeout",
	    .offset = offsetof(struct milter_spec, content_timeout),
	    .parse = milter_set_timeout,
	    .expected = "a duration above 0 such as 30s or 5m" },
	{ .name = "default_action",
	    .offset = offsetof(struct milter_spec, default_action),
	    .parse = milter_set_default,
	    .expected = "tempfail, accept, reject, quarantine or shutdown" },
	{ 0 },
};

/* A parsed socket name. */
struct milter_addr {
	int family;			/* AF_UNIX, AF_INET6, AF_UNSPEC */
	char host[256];
	char port[8];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* milter_now - the monotonic clock in seconds */
static double
milter_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* milter_strerror - errno as text; thread-safe (job threads) */
static const char *
milter_strerror(int err, char *buf, size_t len)
{
	return strerror_r(err, buf, len);
}

/* milter_show - filter text for a why: printable, short, NUL-safe */
static const char *
milter_show(char *buf, size_t size, const char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 4 < size && i < MILTER_SHOW_MAX; i++)
		buf[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (i < n && o + 3 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* milter_code - an answer's code for a why: 'c' or 0x01 */
static const char *
milter_code(char code, char buf[8])
{
	if (code > 0x20 && code < 0x7f)
		snprintf(buf, 8, "'%c'", code);
	else
		snprintf(buf, 8, "0x%02x", (unsigned char)code);
	return buf;
}

/* milter_error - note what went wrong (the why, without the filter's
 * name); false so that checks can return it */
static bool __attribute__((format(printf, 2, 3)))
milter_error(struct milter_conn *c, const char *fmt, ...)
{
	va_list ap;

	buf_reset(&c->err);
	va_start(ap, fmt);
	buf_vprintf(&c->err, fmt, ap);
	va_end(ap);
	return false;
}

/* milter_shut - close the socket; the connection is unusable */
static void
milter_shut(struct milter_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->usable = false;
}

/* milter_failed - r becomes FAILED with the noted error; closes c */
static void
milter_failed(struct milter_conn *c, struct arena *arena,
    struct milter_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->action = MILTER_FAILED;
	r->why = arena_printf(arena, "filter %s: %s", c->name,
	    buf_cstr(&c->err));
	milter_shut(c);
}

/* ---- socket names ---------------------------------------------------- */

/* milter_port_ok - a decimal port 1..65535 */
static bool
milter_port_ok(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno == 0 && *end == '\0' && v >= 1 && v <= 65535;
}

/*
 * milter_host_port - "HOST:PORT", "[HOST]:PORT", or for inet6 also
 * "ADDR:PORT" with the port after the last colon
 */
static bool
milter_host_port(const char *s, struct milter_addr *a, const char **why_r)
{
	const char *colon, *host = s;
	size_t hlen;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':') {
			*why_r = "expected [ADDRESS]:PORT";
			return false;
		}
		host = s + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			*why_r = "no :PORT";
			return false;
		}
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen) != NULL && a->family != AF_INET6) {
			*why_r = "an IPv6 address needs brackets";
			return false;
		}
	}
	if (hlen == 0 || hlen >= sizeof(a->host)) {
		*why_r = hlen == 0 ? "no host" : "host name too long";
		return false;
	}
	if (!milter_port_ok(colon + 1)) {
		*why_r = "port is not a number from 1 to 65535";
		return false;
	}
	memcpy(a->host, host, hlen);
	a->host[hlen] = '\0';
	snprintf(a->port, sizeof(a->port), "%s", colon + 1);
	return true;
}

/* milter_socket_parse - Postfix's unix:PATH, inet:HOST:PORT, inet6:... */
static bool
milter_socket_parse(const char *s, struct milter_addr *a, const char **why_r)
{
	const char *p;

	memset(a, 0, sizeof(*a));
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == ',' ||
		    *p == '{' || *p == '}') {
			*why_r = "white space, comma, brace or control "
			    "character in the socket name";
			return false;
		}
	if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0) {
		p = strchr(s, ':') + 1;
		if (*p == '\0' || strlen(p) >= sizeof(a->path)) {
			*why_r = *p == '\0' ? "no path" : "path too long";
			return false;
		}
		a->family = AF_UNIX;
		snprintf(a->path, sizeof(a->path), "%s", p);
		return true;
	}
	if (strncmp(s, "inet:", 5) == 0) {
		a->family = AF_UNSPEC;
		return milter_host_port(s + 5, a, why_r);
	}
	if (strncmp(s, "inet6:", 6) == 0) {
		a->family = AF_INET6;
		return milter_host_port(s + 6, a, why_r);
	}
	*why_r = "expected unix:PATH, inet:HOST:PORT or inet6:[ADDRESS]:PORT";
	return false;
}

/* ---- the spec -------------------------------------------------------- */

/* milter_set_timeout - a duration above zero */
static bool
milter_set_timeout(const char *value, void *field)
{
	double v;

	if (!conf_parse_duration(value, &v) || !(v > 0))
		return false;
	*(double *)field = v;
	return true;
}

/* milter_set_default - one of milter_default_names */
static bool
milter_set_default(const char *value, void *field)
{
	int i;

	for (i = 0; milter_default_names[i] != NULL; i++)
		if (strcasecmp(value, milter_default_names[i]) == 0) {
			*(enum milter_default *)field = (enum milter_default)i;
			return true;
		}
	return false;
}

/* milter_trim - s[0..*len) without white space around it */
static const char *
milter_trim(const char *s, size_t *len)
{
	size_t n = *len;

	while (n > 0 && strchr(" \t\r\n", *s) != NULL) {
		s++;
		n--;
	}
	while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
		n--;
	*len = n;
	return s;
}

/* milter_spec_setting - apply "name = value" (text[0..len)) to r */
static bool
milter_spec_setting(const char *text, size_t len, struct arena *arena,
    struct milter_spec *r, bool *seen, const char **why_r)
{
	const struct milter_setting *s;
	const char *eq, *name, *value;
	size_t nlen, vlen;

	if ((eq = memchr(text, '=', len)) == NULL) {
		*why_r = arena_printf(arena, "\"%.*s\" is not name = value",
		    (int)len, text);
		return false;
	}
	nlen = (size_t)(eq - text);
	name = milter_trim(text, &nlen);
	vlen = len - (size_t)(eq + 1 - text);
	value = milter_trim(eq + 1, &vlen);
	for (s = milter_settings; s->name != NULL; s++)
		if (strlen(s->name) == nlen && memcmp(s->name, name, nlen) == 0)
			break;
	if (s->name == NULL) {
		*why_r = arena_printf(arena, "unknown setting \"%.*s\" "
		    "(expected connect_timeout, command_timeout, "
		    "content_timeout or default_action)", (int)nlen, name);
		return false;
	}
	if (seen[s - milter_settings]) {
		*why_r = arena_printf(arena, "%s is set twice", s->name);
		return false;
	}
	seen[s - milter_settings] = true;
	if (!s->parse(arena_strndup(arena, value, vlen),
	    (char *)r + s->offset)) {
		*why_r = arena_printf(arena, "%s: \"%.*s\" is not %s",
		    s->name, (int)vlen, value, s->expected);
		return false;
	}
	return true;
}

/* milter_spec_parse - see milter_client.h */
bool
milter_spec_parse(const char *item, const struct milter_spec *def,
    struct arena *arena, struct milter_spec *r, const char **why_r)
{
	bool seen[sizeof(milter_settings) / sizeof(milter_settings[0])] = {
		false };
	const char *text, *part, *end, *socket = NULL, *why;
	struct milter_addr addr;
	size_t len, plen;

	*r = *def;
	len = strlen(item);
	text = milter_trim(item, &len);
	if (len > 0 && text[0] == '{') {
		if (len < 2 || text[len - 1] != '}') {
			*why_r = "\"{\" without its \"}\"";
			return false;
		}
		end = text + len - 1;
		for (part = text + 1; part < end; part += plen + 1) {
			const char *comma, *p;

			comma = memchr(part, ',', (size_t)(end - part));
			plen = comma ? (size_t)(comma - part) :
			    (size_t)(end - part);
			len = plen;
			p = milter_trim(part, &len);
			if (len == 0)
				continue;
			if (memchr(p, '{', len) || memchr(p, '}', len)) {
				*why_r = "nested braces";
				return false;
			}
			if (socket == NULL) {
				if (memchr(p, '=', len) != NULL) {
					*why_r = "the socket must come first";
					return false;
				}
				socket = arena_strndup(arena, p, len);
			} else if (!milter_spec_setting(p, len, arena, r, seen,
			    why_r))
				return false;
			if (comma == NULL)
				break;
		}
		if (socket == NULL) {
			*why_r = "no socket inside the braces";
			return false;
		}
	} else if (len == 0) {
		*why_r = "empty milter";
		return false;
	} else {
		socket = arena_strndup(arena, text, len);
	}
	if (!milter_socket_parse(socket, &addr, &why)) {
		*why_r = arena_printf(arena, "bad socket \"%s\": %s", socket,
		    why);
		return false;
	}
	r->socket = socket;
	r->name = socket;
	return true;
}

/* ---- I/O with deadlines ---------------------------------------------- */

/* milter_arm - start the deadline of a call */
static void
milter_arm(struct milter_conn *c, double timeout, const char *where)
{
	c->timeout = timeout;
	c->deadline = milter_now() + timeout;
	c->where = where;
}

/* milter_wait - poll for events until the deadline; false = timeout */
static bool
milter_wait(struct milter_conn *c, short events)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	double left;
	int n, ms;
	char eb[128];

	for (;;) {
		left = c->deadline - milter_now();
		if (left <= 0)
			return milter_error(c, "timed out after %gs at %s",
			    c->timeout, c->where);
		ms = left > INT_MAX / 1000 ? INT_MAX : (int)ceil(left * 1000);
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return true;	/* send/recv tell errors and EOF */
		if (n < 0 && errno != EINTR)
			return milter_error(c, "poll at %s: %s", c->where,
			    milter_strerror(errno, eb, sizeof(eb)));
	}
}

/* milter_send - c->out, all of it, before the deadline */
static bool
milter_send(struct milter_conn *c)
{
	const char *p = c->out.data;
	size_t n = c->out.len;
	ssize_t k;
	char eb[128];

	while (n > 0) {
		k = send(c->fd, p, n, MSG_NOSIGNAL);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
		} else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!milter_wait(c, POLLOUT))
				return false;
		} else if (k < 0 && errno != EINTR) {
			return milter_error(c, "write at %s: %s", c->where,
			    milter_strerror(errno, eb, sizeof(eb)));
		}
	}
	buf_reset(&c->out);
	return true;
}

/* milter_fill - at least need unread bytes in c->in; earlier packets'
 * data pointers die here */
static bool
milter_fill(struct milter_conn *c, size_t need)
{
	size_t have, room;
	ssize_t k;
	int one = 1;
	char eb[128];

	while ((have = c->in.len - c->in_pos) < need) {
		if (c->in_pos > 0) {
			memmove(c->in.data, c->in.data + c->in_pos, have);
			c->in.len = have;
			c->in_pos = 0;
		}
		buf_reserve(&c->in, need > 16384 ? need : 16384);
		room = c->in.cap - c->in.len - 1;
		if (c->inet)
			(void)setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK,
			    &one, sizeof(one));
		k = recv(c->fd, c->in.data + c->in.len, room, 0);
		if (k > 0) {
			c->in.len += (size_t)k;
			c->in.data[c->in.len] = '\0';
		} else if (k == 0 && have > 0) {
			return milter_error(c, "connection closed by the "
			    "filter in the middle of a packet at %s",
			    c->where);
		} else if (k == 0) {
			return milter_error(c, "connection closed by the "
			    "filter at %s", c->where);
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!milter_wait(c, POLLIN))
				return false;
		} else if (errno != EINTR) {
			return milter_error(c, "read at %s: %s", c->where,
			    milter_strerror(errno, eb, sizeof(eb)));
		}
	}
	return true;
}

/*
 * milter_quiet - before an event: the filter must have nothing to say
 * (an answer it promised not to send would be taken as the next one's)
 * and must still be there (after events with no reply, this is the only
 * place that notices a filter gone)
 */
static bool
milter_quiet(struct milter_conn *c)
{
	char byte;
	ssize_t k;

	if (c->in.len > c->in_pos)
		return milter_error(c, "unexpected data from the filter "
		    "before %s", c->where);
	k = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	if (k > 0)
		return milter_error(c, "unexpected data from the filter "
		    "before %s", c->where);
	if (k == 0)
		return milter_error(c, "connection closed by the filter "
		    "before %s", c->where);
	return true;
}

/* milter_read - one packet: *code_r and its data (valid until the next
 * read) */
static bool
milter_read(struct milter_conn *c, char *code_r, struct milter_data *d)
{
	uint32_t len;

	if (!milter_fill(c, 4))
		return false;
	memcpy(&len, c->in.data + c->in_pos, 4);
	len = ntohl(len);
	if (len < 1 || len > MILTER_MAX_PACKET)
		return milter_error(c, "bad packet length %lu at %s",
		    (unsigned long)len, c->where);
	if (!milter_fill(c, 4 + (size_t)len))
		return false;
	*code_r = c->in.data[c->in_pos + 4];
	d->p = c->in.data + c->in_pos + 5;
	d->left = len - 1;
	c->in_pos += 4 + (size_t)len;
	return true;
}

/* milter_connect_unix - a connected, non-blocking unix socket, or -1 */
static int
milter_connect_unix(struct milter_conn *c, const struct milter_addr *a)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char eb[128];
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0) {
		milter_error(c, "socket: %s",
		    milter_strerror(errno, eb, sizeof(eb)));
		return -1;
	}
	/* a unix socket answers a full backlog with EAGAIN, not
	 * EINPROGRESS, and poll() cannot wait for room: retry */
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && milter_now() < c->deadline) {
			usleep(10000);
			continue;
		}
		if (errno == EAGAIN)
			milter_error(c, "timed out after %gs at connect",
			    c->timeout);
		else
			milter_error(c, "connect: %s",
			    milter_strerror(errno, eb, sizeof(eb)));
		close(fd);
		return -1;
	}
	return fd;
}

/* milter_connect_inet - a connected, non-blocking TCP socket, or -1:
 * each address in turn while the deadline allows */
static int
milter_connect_inet(struct milter_conn *c, const struct milter_addr *a)
{
	struct addrinfo hints = { .ai_family = a->family,
		.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	int fd = -1, err, one = 1, gai;
	socklen_t elen;
	char eb[128];

	if ((gai = getaddrinfo(a->host, a->port, &hints, &res)) != 0) {
		milter_error(c, "connect: %s: %s", a->host, gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol)) < 0) {
			milter_error(c, "socket: %s",
			    milter_strerror(errno, eb, sizeof(eb)));
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		c->fd = fd;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		if (err == EINPROGRESS || err == EINTR) {
			if (!milter_wait(c, POLLOUT)) {
				close(fd);
				fd = -1;
				break;	/* no time left for the others */
			}
			elen = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
			    &elen) < 0)
				err = errno;
			if (err == 0)
				break;
		}
		milter_error(c, "connect: %s",
		    milter_strerror(err, eb, sizeof(eb)));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	c->fd = -1;
	return fd;
}

/* ---- packets out ----------------------------------------------------- */

/* milter_begin - start a packet in c->out; its offset for milter_end */
static size_t
milter_begin(struct milter_conn *c, char cmd)
{
	size_t at = c->out.len;

	buf_append(&c->out, "\0\0\0\0", 4);
	buf_putc(&c->out, cmd);
	return at;
}

/* milter_end - fill in the length of the packet started at at */
static void
milter_end(struct milter_conn *c, size_t at)
{
	uint32_t len = htonl((uint32_t)(c->out.len - at - 4));

	memcpy(c->out.data + at, &len, 4);
}

/* milter_put_str - a string with its NUL */
static void
milter_put_str(struct milter_conn *c, const char *s)
{
	buf_append(&c->out, s, strlen(s) + 1);
}

/* milter_put_u32 - a number in network order */
static void
milter_put_u32(struct milter_conn *c, uint32_t v)
{
	v = htonl(v);
	buf_append(&c->out, &v, 4);
}

/* milter_next_name - the next name of a macro list at *p, or NULL */
static const char *
milter_next_name(const char **p, char *buf, size_t size)
{
	const char *s = *p + strspn(*p, " \t,");
	size_t n = strcspn(s, " \t,");

	if (n == 0)
		return NULL;
	if (n >= size)	/* longer than negotiation allows: a bug */
		log_panic("milter macro name too long");
	memcpy(buf, s, n);
	buf[n] = '\0';
	*p = s + n;
	return buf;
}

/*
 * milter_macro_value - name's value; a filter may write "{i}" or
 * "client_addr" where the lookup knows "i" and "{client_addr}" (Postfix
 * and libmilter treat both spellings alike), so the other one is tried
 */
static const char *
milter_macro_value(milter_macro_fn *macro, void *ctx, const char *name)
{
	char other[MILTER_MACRO_NAME_MAX + 3];
	const char *value;
	size_t n = strlen(name);

	if (macro == NULL)
		return NULL;
	if ((value = macro(ctx, name)) != NULL)
		return value;
	if (n > 2 && name[0] == '{' && name[n - 1] == '}')
		snprintf(other, sizeof(other), "%.*s", (int)(n - 2), name + 1);
	else if (name[0] != '{')
		snprintf(other, sizeof(other), "{%s}", name);
	else
		return NULL;
	return macro(ctx, other);
}

/* milter_put_macros - the 'D' packet of ev, if its list has names: the
 * filter's list for the stage, else the default */
static void
milter_put_macros(struct milter_conn *c, const struct milter_event *ev,
    milter_macro_fn *macro, void *ctx)
{
	const char *list = ev->macros, *p, *name, *value;
	char buf[MILTER_MACRO_NAME_MAX + 1];
	size_t at;

	if (ev->stage != MILTER_STAGE_NONE && c->macros[ev->stage] != NULL)
		list = c->macros[ev->stage];
	p = list;
	if (milter_next_name(&p, buf, sizeof(buf)) == NULL)
		return;
	at = milter_begin(c, 'D');
	buf_putc(&c->out, ev->cmd);
	for (p = list; (name = milter_next_name(&p, buf, sizeof(buf))) != NULL;)
		if ((value = milter_macro_value(macro, ctx, name)) != NULL) {
			milter_put_str(c, name);
			milter_put_str(c, value);
		}
	milter_end(c, at);
}

/* ---- checks of what the filter sent ---------------------------------- */

/* milter_get_u32 - a number from d */
static bool
milter_get_u32(struct milter_data *d, uint32_t *v_r)
{
	if (d->left < 4)
		return false;
	memcpy(v_r, d->p, 4);
	*v_r = ntohl(*v_r);
	d->p += 4;
	d->left -= 4;
	return true;
}

/* milter_get_str - a NUL-terminated string from d (s_r points into d) */
static bool
milter_get_str(struct milter_data *d, const char **s_r, size_t *len_r)
{
	const char *nul = memchr(d->p, '\0', d->left);

	if (nul == NULL)
		return false;
	*s_r = d->p;
	*len_r = (size_t)(nul - d->p);
	d->left -= *len_r + 1;
	d->p = nul + 1;
	return true;
}

/* milter_str - a string field, noted as missing when absent */
static bool
milter_str(struct milter_conn *c, struct milter_data *d, const char *what,
    const char **s_r, size_t *len_r)
{
	if (!milter_get_str(d, s_r, len_r))
		return milter_error(c, "%s missing or not NUL-terminated",
		    what);
	return true;
}

/* milter_done - nothing may follow the last field */
static bool
milter_done(struct milter_conn *c, const struct milter_data *d)
{
	if (d->left > 0)
		return milter_error(c, "%zu unexpected bytes at the end",
		    d->left);
	return true;
}

/* milter_header_name_ok - printable ASCII but ':' and space, 1..997 */
static bool
milter_header_name_ok(struct milter_conn *c, const char *s, size_t n)
{
	char show[MILTER_SHOW_MAX + 8];
	size_t i;

	if (n == 0 || n > MILTER_HDR_NAME_MAX)
		return milter_error(c, "header name of %zu bytes (1 to %d)",
		    n, MILTER_HDR_NAME_MAX);
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == ':')
			return milter_error(c, "header name \"%s\": byte "
			    "0x%02x not allowed", milter_show(show,
			    sizeof(show), s, n), (unsigned char)s[i]);
	return true;
}

/* milter_header_value_ok - no CR, LF only as part of a fold, no line
 * over 998 bytes (NUL cannot occur: it ended the string) */
static bool
milter_header_value_ok(struct milter_conn *c, const char *s, size_t n)
{
	size_t i, line = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r')
			return milter_error(c, "CR in header value");
		if (s[i] == '\n') {
			if (i + 1 >= n || (s[i + 1] != ' ' && s[i + 1] != '\t'))
				return milter_error(c, "LF not followed by "
				    "space or tab in header value");
			line = 0;
		} else if (++line > MILTER_HDR_LINE_MAX) {
			return milter_error(c, "header value line over %d "
			    "bytes", MILTER_HDR_LINE_MAX);
		}
	}
	return true;
}

/* milter_addr_ok - an envelope address mailaddr_parse takes; the null
 * address only where allowed */
static bool
milter_addr_ok(struct milter_conn *c, struct arena *arena, const char *s,
    size_t n, bool null_ok)
{
	char show[MILTER_SHOW_MAX + 8];
	struct mailaddr ma;
	const char *err;

	if (!mailaddr_parse(arena, s, &ma, &err))
		return milter_error(c, "bad address \"%s\": %s",
		    milter_show(show, sizeof(show), s, n), err);
	if (!null_ok && (ma.flags & MAILADDR_NULL))
		return milter_error(c, "null address");
	return true;
}

/* milter_text_ok - printable text (ESMTP parameters, quarantine reason):
 * no control characters, above all no CR or LF */
static bool
milter_text_ok(struct milter_conn *c, const char *what, const char *s,
    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return milter_error(c, "control character 0x%02x in "
			    "%s", (unsigned char)s[i], what);
	return true;
}

/*
 * milter_reply_text_ok - an SMTP reply: lines joined by CR LF, each
 * "NNN-" but the last "NNN " with one 4xx or 5xx code, and an enhanced
 * status (if any) of the same class (Postfix checks the same)
 */
static bool
milter_reply_text_ok(struct milter_conn *c, const char *s, size_t n)
{
	size_t start = 0, end, len, line;
	const char *p;
	bool last;

	if (n == 0)
		return milter_error(c, "empty reply text");
	for (line = 1;; line++) {
		for (end = start; end < n && s[end] != '\r' && s[end] != '\n';
		    end++)
			;
		last = end == n;
		if (!last && (s[end] != '\r' || end + 1 >= n ||
		    s[end + 1] != '\n'))
			return milter_error(c, "bare CR or LF in line %zu",
			    line);
		p = s + start;
		len = end - start;
		if (len < 3 || p[0] < '0' || p[0] > '9' || p[1] < '0' ||
		    p[1] > '9' || p[2] < '0' || p[2] > '9')
			return milter_error(c, "line %zu does not start with "
			    "a 3-digit code", line);
		if (line == 1 && p[0] != '4' && p[0] != '5')
			return milter_error(c, "code %.3s is not 4xx/5xx", p);
		if (line > 1 && memcmp(p, s, 3) != 0)
			return milter_error(c, "line %zu has code %.3s, not "
			    "%.3s", line, p, s);
		if (len < 4 || p[3] != (last ? ' ' : '-'))
			return milter_error(c, "line %zu: code not followed "
			    "by '%c'", line, last ? ' ' : '-');
		if (len > 4 && p[4] >= '0' && p[4] <= '9' && p[4] != p[0])
			return milter_error(c, "line %zu: enhanced status "
			    "%c.x.x does not match code %.3s", line, p[4], p);
		if (last)
			return true;
		start = end + 2;
	}
}

/* milter_reply_text - the text as the client must see it: Sendmail
 * treats it as a format, so "%%" is a '%' and a lone '%' goes (as in
 * Postfix) */
static const char *
milter_reply_text(struct arena *arena, const char *s, size_t n)
{
	char *t = arena_alloc(arena, n + 1);
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 1 < n && s[i + 1] == '%')
				t[o++] = s[++i];
			continue;
		}
		t[o++] = s[i];
	}
	t[o] = '\0';
	return t;
}

/* ---- edits ----------------------------------------------------------- */

/* milter_edit_header - [index] name value */
static bool
milter_edit_header(struct milter_conn *c, struct milter_data *d,
    bool indexed, struct arena *arena, struct milter_edit *e)
{
	const char *name, *value;
	size_t nlen, vlen;

	if (indexed && !milter_get_u32(d, &e->index))
		return milter_error(c, "no index");
	if (!milter_str(c, d, "header name", &name, &nlen) ||
	    !milter_str(c, d, "header value", &value, &vlen) ||
	    !milter_done(c, d) || !milter_header_name_ok(c, name, nlen) ||
	    !milter_header_value_ok(c, value, vlen))
		return false;
	e->name = arena_strndup(arena, name, nlen);
	e->value = arena_strndup(arena, value, vlen);
	return true;
}

/* milter_edit_add_header - 'h' */
static bool
milter_edit_add_header(struct milter_conn *c, struct milter_data *d,
    struct arena *arena, struct milter_edit *e)
{
	return milter_edit_header(c, d, false, arena, e);
}

/* milter_edit_insert_header - 'i' (index 0 = the top) */
static bool
milter_edit_insert_header(struct milter_conn *c, struct milter_data *d,
    struct arena *arena, struct milter_edit *e)
{
	return milter_edit_header(c, d, true, arena, e);
}

/* milter_edit_change_header - 'm' (1-based; 0 as 1; "" deletes) */
static bool
milter_edit_change_header(struct milter_conn *c, struct milter_data *d,
    struct arena *arena, struct milter_edit *e)
{
	return milter_edit_header(c, d, true, arena, e);
}

/* milter_edit_address - address, then optional ESMTP parameters */
static bool
milter_edit_address(struct milter_conn *c, struct milter_data *d,
    bool args_ok, bool null_ok, struct arena *arena, struct milter_edit *e)
{
	const char *addr, *args;
	size_t alen, glen;

	if (!milter_str(c, d, "address", &addr, &alen))
		return false;
	if (args_ok && d->left > 0) {
		if (!milter_str(c, d, "parameters", &args, &glen) ||
		    !milter_text_ok(c, "parameters", args, glen))
			return false;
		if (glen > 0)
			e->args = arena_strndup(arena, args, glen);
	}
	if (!milter_done(c, d) ||
	    !milter_addr_ok(c, arena, addr, alen, null_ok))
		return false;
	e->addr = arena_strndup(arena, addr, alen);
	return true;
}

/* milter_edit_sender - 'e': new sender (may be <>), parameters */
static bool
milter_edit_sender(struct milter_conn *c, struct milter_data *d,
    struct arena *arena, struct milter_edit *e)
{
	return milter_edit_address(c, d, true, true, arena, e);
}

/* milter_edit_add_rcpt - '+' */
static bool
milter_edit_add_rcpt(struct milter_conn *c, struct milter_data *d,
    struct arena *arena, struct milter_edit *e)
{
	return milter_edit_address(c, d, false, false, arena, e);
}

/* milter_edit_add_rcpt_par - '2': recipient and parameters */
static bool
milter_edit_add_rcpt_par(struct milter_conn *c, struct milter_data *d,
    struct arena *arena, struct milter_edit *e)
{
	return milter_edit_address(c, d, true, false, arena, e);
}

/* milter_edit_del_rcpt - '-' */
static bool
milter_edit_del_rcpt(struct milter_conn *c, struct milter_data *d,
    struct arena *arena, struct milter_edit *e)
{
	return milter_edit_address(c, d, false, false, arena, e);
}

/* milter_edit_body - 'b': the data is the chunk (CR LF text) */
static bool
milter_edit_body(struct milter_conn *c, struct milter_data *d,
    struct arena *arena, struct milter_edit *e)
{
	(void)c;
	e->data = arena_memdup(arena, d->p, d->left);
	e->len = d->left;
	d->left = 0;
	return true;
}

/* ---- events ---------------------------------------------------------- */

/* milter_answer_find - the table row for code, or NULL */
static const struct milter_answer *
milter_answer_find(char code)
{
	const struct milter_answer *a;

	for (a = milter_answers; a->code != 0; a++)
		if (a->code == code)
			return a;
	return NULL;
}

/* milter_bad - c->err becomes "answer X at EV: <what was noted>" */
static bool
milter_bad(struct milter_conn *c, char code)
{
	char cb[8];
	char *detail = buf_steal(&c->err);

	milter_error(c, "reply %s at %s: %s", milter_code(code, cb), c->where,
	    detail);
	free(detail);
	return false;
}

/* milter_quarantine - 'q': a reason of printable text */
static bool
milter_quarantine(struct milter_conn *c, struct milter_data *d,
    struct arena *arena, struct milter_reply *r)
{
	const char *s;
	size_t n;

	if (!milter_str(c, d, "reason", &s, &n) || !milter_done(c, d) ||
	    !milter_text_ok(c, "reason", s, n))
		return false;
	if (n == 0)
		return milter_error(c, "empty reason");
	r->quarantine = arena_strndup(arena, s, n);
	return true;
}

/* milter_final - the verdict; 'y' text checked */
static bool
milter_final(struct milter_conn *c, const struct milter_event *ev,
    const struct milter_answer *a, struct milter_data *d,
    struct arena *arena, struct milter_reply *r)
{
	const char *s;
	size_t n;

	if (strchr(ev->finals, a->code) == NULL)
		return milter_error(c, "not allowed at %s", ev->name);
	if (a->code == 'y') {
		if (!milter_str(c, d, "text", &s, &n) || !milter_done(c, d) ||
		    !milter_reply_text_ok(c, s, n))
			return false;
		r->text = milter_reply_text(arena, s, n);
	} else if (!milter_done(c, d)) {
		return false;
	}
	r->action = a->action;
	return true;
}

/*
 * milter_await - answers to ev until a final one: progress resets the
 * deadline, end of message collects edits; any fault fails the call
 */
static void
milter_await(struct milter_conn *c, const struct milter_event *ev,
    struct arena *arena, struct milter_reply *r)
{
	const struct milter_answer *a;
	struct milter_edit *edits = NULL;
	size_t n = 0, cap = 0;
	struct milter_data d;
	char code;
	bool ok;

	for (;;) {
		if (!milter_read(c, &code, &d))
			break;
		if ((a = milter_answer_find(code)) == NULL) {
			milter_error(c, "unknown reply");
			milter_bad(c, code);
			break;
		}
		switch (a->kind) {
		case MILTER_KIND_PROGRESS:
			if ((ok = milter_done(c, &d)))
				c->deadline = milter_now() + c->timeout;
			break;
		case MILTER_KIND_SKIP:
			if (ev != &milter_events[MILTER_EV_BODY])
				ok = milter_error(c, "only after a body chunk");
			else if ((c->steps & MILTER_P_SKIP) == 0)
				ok = milter_error(c, "SKIP was not negotiated");
			else if ((ok = milter_done(c, &d))) {
				r->action = MILTER_SKIP;
				return;
			}
			break;
		case MILTER_KIND_QUARANTINE:
		case MILTER_KIND_EDIT:
			if (ev != &milter_events[MILTER_EV_EOM]) {
				ok = milter_error(c, "only after end of "
				    "message");
				break;
			}
			if ((c->actions & a->need) == 0) {
				ok = milter_error(c, "action 0x%03x was not "
				    "negotiated", (unsigned)a->need);
				break;
			}
			if (a->kind == MILTER_KIND_QUARANTINE) {
				ok = milter_quarantine(c, &d, arena, r);
				break;
			}
			if (n == cap) {
				struct milter_edit *more;

				cap = cap ? 2 * cap : 8;
				more = arena_alloc(arena, cap * sizeof(*more));
				if (n > 0)
					memcpy(more, edits, n * sizeof(*more));
				edits = more;
			}
			memset(&edits[n], 0, sizeof(edits[n]));
			edits[n].type = a->edit;
			if ((ok = a->parse(c, &d, arena, &edits[n])))
				n++;
			break;
		case MILTER_KIND_FINAL:
			if (!(ok = milter_final(c, ev, a, &d, arena, r)))
				break;
			r->edits = edits;
			r->n_edits = n;
			return;
		}
		if (!ok) {
			milter_bad(c, code);
			break;
		}
	}
	milter_failed(c, arena, r);
}

/*
 * milter_start - the common start of an event: r is CONTINUE; false
 * when nothing more is to be done (the filter's version lacks the
 * event, or the connection failed: r says so); otherwise c->out holds
 * the macros. An event the filter negotiated away still sends its
 * macros, and then also returns false.
 */
static bool
milter_start(struct milter_conn *c, const struct milter_event *ev,
    milter_macro_fn *macro, void *ctx, struct arena *arena,
    struct milter_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->action = MILTER_CONTINUE;
	if (!c->usable) {
		milter_error(c, "%s after the connection was closed",
		    ev->name);
		milter_failed(c, arena, r);
		return false;
	}
	if (c->version < ev->version)
		return false;
	if (ev != &milter_events[MILTER_EV_BODY])
		c->skip_body = false;
	milter_arm(c, ev->timeout == MILTER_TIMEOUT_CONTENT ?
	    c->content_timeout : c->command_timeout, ev->name);
	buf_reset(&c->out);
	if (!milter_quiet(c)) {
		milter_failed(c, arena, r);
		return false;
	}
	milter_put_macros(c, ev, macro, ctx);
	if ((c->steps & ev->no) == 0)
		return true;
	if (c->out.len > 0 && !milter_send(c))
		milter_failed(c, arena, r);
	return false;
}

/* milter_finish - send what c->out holds, then await the answer unless
 * the filter negotiated it away */
static void
milter_finish(struct milter_conn *c, const struct milter_event *ev,
    struct arena *arena, struct milter_reply *r)
{
	if (!milter_send(c)) {
		milter_failed(c, arena, r);
		return;
	}
	if ((c->steps & ev->nr) == 0)
		milter_await(c, ev, arena, r);
}

/* milter_put_argv - the strings of a NULL-terminated argv */
static void
milter_put_argv(struct milter_conn *c, const char *const *argv)
{
	for (; *argv != NULL; argv++)
		milter_put_str(c, *argv);
}

/* milter_connect_event - see milter_client.h */
void
milter_connect_event(struct milter_conn *conn, milter_macro_fn *macro,
    void *ctx, const char *hostname, char family, uint16_t port,
    const char *addr, struct arena *arena, struct milter_reply *r)
{
	const struct milter_event *ev = &milter_events[MILTER_EV_CONNECT];
	size_t at;

	if (strchr("46LU", family) == NULL || family == '\0')
		log_panic("milter_connect_event: family 0x%02x",
		    (unsigned char)family);
	if (!milter_start(conn, ev, macro, ctx, arena, r))
		return;
	at = milter_begin(conn, ev->cmd);
	milter_put_str(conn, hostname);
	buf_putc(&conn->out, family);
	if (family != 'U') {
		port = htons(port);
		buf_append(&conn->out, &port, 2);
		milter_put_str(conn, addr);
	}
	milter_end(conn, at);
	milter_finish(conn, ev, arena, r);
}

/* milter_helo - see milter_client.h */
void
milter_helo(struct milter_conn *conn, milter_macro_fn *macro, void *ctx,
    const char *helo, struct arena *arena, struct milter_reply *r)
{
	const struct milter_event *ev = &milter_events[MILTER_EV_HELO];
	size_t at;

	if (!milter_start(conn, ev, macro, ctx, arena, r))
		return;
	at = milter_begin(conn, ev->cmd);
	milter_put_str(conn, helo);
	milter_end(conn, at);
	milter_finish(conn, ev, arena, r);
}

/* milter_mail - see milter_client.h */
void
milter_mail(struct milter_conn *conn, milter_macro_fn *macro, void *ctx,
    const char *const *argv, struct arena *arena, struct milter_reply *r)
{
	const struct milter_event *ev = &milter_events[MILTER_EV_MAIL];
	size_t at;

	if (!milter_start(conn, ev, macro, ctx, arena, r))
		return;
	at = milter_begin(conn, ev->cmd);
	milter_put_argv(conn, argv);
	milter_end(conn, at);
	milter_finish(conn, ev, arena, r);
}

/* milter_rcpt - see milter_client.h */
void
milter_rcpt(struct milter_conn *conn, milter_macro_fn *macro, void *ctx,
    const char *const *argv, bool rejected, struct arena *arena,
    struct milter_reply *r)
{
	const struct milter_event *ev = &milter_events[MILTER_EV_RCPT];
	size_t at;

	if (rejected && conn->usable &&
	    (conn->steps & MILTER_P_RCPT_REJ) == 0) {
		memset(r, 0, sizeof(*r));
		r->action = MILTER_CONTINUE;
		return;
	}
	if (!milter_start(conn, ev, macro, ctx, arena, r))
		return;
	at = milter_begin(conn, ev->cmd);
	milter_put_argv(conn, argv);
	milter_end(conn, at);
	milter_finish(conn, ev, arena, r);
}

/* milter_data - see milter_client.h */
void
milter_data(struct milter_conn *conn, milter_macro_fn *macro, void *ctx,
    struct arena *arena, struct milter_reply *r)
{
	const struct milter_event *ev = &milter_events[MILTER_EV_DATA];

	if (!milter_start(conn, ev, macro, ctx, arena, r))
		return;
	milter_end(conn, milter_begin(conn, ev->cmd));
	milter_finish(conn, ev, arena, r);
}

/* milter_unknown - see milter_client.h */
void
milter_unknown(struct milter_conn *conn, milter_macro_fn *macro, void *ctx,
    const char *command, struct arena *arena, struct milter_reply *r)
{
	const struct milter_event *ev = &milter_events[MILTER_EV_UNKNOWN];
	size_t at;

	if (!milter_start(conn, ev, macro, ctx, arena, r))
		return;
	at = milter_begin(conn, ev->cmd);
	milter_put_str(conn, command);
	milter_end(conn, at);
	milter_finish(conn, ev, arena, r);
}

/* milter_header - see milter_client.h; Sendmail eats one space (not a
 * tab) after the colon unless the filter asked for it */
void
milter_header(struct milter_conn *conn, milter_macro_fn *macro, void *ctx,
    const char *name, const char *value, struct arena *arena,
    struct milter_reply *r)
{
	const struct milter_event *ev = &milter_events[MILTER_EV_HEADER];
	const char *p;
	size_t at;

	if (!milter_start(conn, ev, macro, ctx, arena, r))
		return;
	at = milter_begin(conn, ev->cmd);
	milter_put_str(conn, name);
	p = value;
	if ((conn->steps & MILTER_P_HDR_LEADSPC) == 0 && *p == ' ')
		p++;
	for (; *p != '\0'; p++)
		if (p[0] != '\r' || p[1] != '\n')
			buf_putc(&conn->out, *p);
	buf_putc(&conn->out, '\0');
	milter_end(conn, at);
	milter_finish(conn, ev, arena, r);
}

/* milter_eoh - see milter_client.h */
void
milter_eoh(struct milter_conn *conn, milter_macro_fn *macro, void *ctx,
    struct arena *arena, struct milter_reply *r)
{
	const struct milter_event *ev = &milter_events[MILTER_EV_EOH];

	if (!milter_start(conn, ev, macro, ctx, arena, r))
		return;
	milter_end(conn, milter_begin(conn, ev->cmd));
	milter_finish(conn, ev, arena, r);
}

/* milter_body - see milter_client.h; after 's' the rest of this message's
 * body is not sent (CONTINUE) */
void
milter_body(struct milter_conn *conn, milter_macro_fn *macro, void *ctx,
    const void *data, size_t len, struct arena *arena,
    struct milter_reply *r)
{
	const struct milter_event *ev = &milter_events[MILTER_EV_BODY];
	const char *p = data;
	size_t off, n, at;

	if (conn->usable && (len == 0 || conn->skip_body)) {
		memset(r, 0, sizeof(*r));
		r->action = MILTER_CONTINUE;
		return;
	}
	if (!milter_start(conn, ev, macro, ctx, arena, r))
		return;
	for (off = 0; off < len; off += n) {
		n = len - off > MILTER_CHUNK ? MILTER_CHUNK : len - off;
		if (off > 0)
			milter_arm(conn, conn->content_timeout, ev->name);
		at = milter_begin(conn, ev->cmd);
		buf_append(&conn->out, p + off, n);
		milter_end(conn, at);
		milter_finish(conn, ev, arena, r);
		if (r->action == MILTER_SKIP)
			conn->skip_body = true;
		if (r->action != MILTER_CONTINUE)
			return;
	}
}

/* milter_eom - see milter_client.h */
void
milter_eom(struct milter_conn *conn, milter_macro_fn *macro, void *ctx,
    struct arena *arena, struct milter_reply *r)
{
	const struct milter_event *ev = &milter_events[MILTER_EV_EOM];

	if (!milter_start(conn, ev, macro, ctx, arena, r))
		return;
	milter_end(conn, milter_begin(conn, ev->cmd));
	milter_finish(conn, ev, arena, r);
}

/* milter_abort - see milter_client.h */
bool
milter_abort(struct milter_conn *conn)
{
	if (!conn->usable)
		return false;
	conn->skip_body = false;
	milter_arm(conn, conn->command_timeout, "ABORT");
	buf_reset(&conn->out);
	milter_end(conn, milter_begin(conn, 'A'));
	if (!milter_quiet(conn) || !milter_send(conn)) {
		milter_shut(conn);
		return false;
	}
	return true;
}

/* ---- the connection -------------------------------------------------- */

/* milter_macro_list_ok - names of printable ASCII, none too long */
static bool
milter_macro_list_ok(struct milter_conn *c, const char *s, size_t n)
{
	size_t i, len = 0;

	for (i = 0; i < n; i++) {
		if (strchr(" \t,", s[i]) != NULL) {
			len = 0;
			continue;
		}
		if (s[i] <= ' ' || s[i] >= 0x7f)
			return milter_error(c, "byte 0x%02x in a macro name",
			    (unsigned char)s[i]);
		if (++len > MILTER_MACRO_NAME_MAX)
			return milter_error(c, "macro name over %d bytes",
			    MILTER_MACRO_NAME_MAX);
	}
	return true;
}

/* milter_negotiate - offer everything, check and keep the answer */
static bool
milter_negotiate(struct milter_conn *c)
{
	struct milter_data d;
	uint32_t version, actions, steps, stage;
	const char *list;
	size_t len, at;
	char code, cb[8];

	at = milter_begin(c, 'O');
	milter_put_u32(c, MILTER_VERSION);
	milter_put_u32(c, MILTER_F_ALL);
	milter_put_u32(c, MILTER_P_ALL);
	milter_end(c, at);
	if (!milter_send(c) || !milter_read(c, &code, &d))
		return false;
	if (code != 'O')
		return milter_error(c, "reply %s at negotiation: not 'O'",
		    milter_code(code, cb));
	if (d.left < 12)
		return milter_error(c, "negotiation: answer of %zu bytes, "
		    "not 12 or more", d.left);
	(void)milter_get_u32(&d, &version);
	(void)milter_get_u32(&d, &actions);
	(void)milter_get_u32(&d, &steps);
	if (version < MILTER_VERSION_MIN || version > MILTER_VERSION)
		return milter_error(c, "negotiation: protocol version %lu "
		    "is not %d to %d", (unsigned long)version,
		    MILTER_VERSION_MIN, MILTER_VERSION);
	if ((actions & ~(uint32_t)MILTER_F_ALL) != 0)
		return milter_error(c, "negotiation: actions 0x%lx beyond "
		    "the offered 0x%x", (unsigned long)actions, MILTER_F_ALL);
	if ((steps & ~(uint32_t)MILTER_P_ALL) != 0)
		return milter_error(c, "negotiation: steps 0x%lx beyond "
		    "the offered 0x%x", (unsigned long)steps, MILTER_P_ALL);
	if ((steps & ~milter_version_steps[version]) != 0)
		return milter_error(c, "negotiation: steps 0x%lx not in "
		    "protocol version %lu", (unsigned long)(steps &
		    ~milter_version_steps[version]), (unsigned long)version);
	while (d.left > 0) {
		if (!milter_get_u32(&d, &stage) ||
		    !milter_get_str(&d, &list, &len))
			return milter_error(c, "negotiation: truncated macro "
			    "list");
		if (stage >= MILTER_STAGES)
			return milter_error(c, "negotiation: macro list for "
			    "unknown stage %lu", (unsigned long)stage);
		if (!milter_macro_list_ok(c, list, len)) {
			char *detail = buf_steal(&c->err);

			milter_error(c, "negotiation: macro list for stage "
			    "%lu: %s", (unsigned long)stage, detail);
			free(detail);
			return false;
		}
		/* an empty list keeps the default (Postfix does the same) */
		free(c->macros[stage]);
		c->macros[stage] = NULL;
		if (strspn(list, " \t,") < len)
			c->macros[stage] = xstrndup(list, len);
	}
	c->version = version;
	c->actions = actions;
	c->steps = steps;
	return true;
}

/* milter_open - see milter_client.h */
struct milter_conn *
milter_open(const struct milter_spec *spec, struct arena *arena,
    const char **why_r)
{
	struct milter_conn *c = xcalloc(1, sizeof(*c));
	struct milter_addr addr;
	const char *why;

	c->name = xstrdup(spec->name != NULL ? spec->name : spec->socket);
	c->connect_timeout = spec->connect_timeout;
	c->command_timeout = spec->command_timeout;
	c->content_timeout = spec->content_timeout;
	c->fd = -1;
	milter_arm(c, c->connect_timeout, "connect");
	if (!milter_socket_parse(spec->socket, &addr, &why)) {
		milter_error(c, "bad socket \"%s\": %s", spec->socket, why);
	} else if ((c->fd = addr.family == AF_UNIX ?
	    milter_connect_unix(c, &addr) :
	    milter_connect_inet(c, &addr)) >= 0) {
		c->inet = addr.family != AF_UNIX;
		c->usable = true;
		c->where = "negotiation";
		if (milter_negotiate(c))
			return c;
	}
	*why_r = arena_printf(arena, "filter %s: %s", c->name,
	    buf_cstr(&c->err));
	milter_shut(c);
	milter_close(&c);
	return NULL;
}

/* milter_close - see milter_client.h; the quit is best effort: it must
 * not wait for a filter that stopped reading */
void
milter_close(struct milter_conn **connp)
{
	struct milter_conn *c = *connp;
	static const char quit[5] = { 0, 0, 0, 1, 'Q' };
	int i;

	if (c == NULL)
		return;
	if (c->usable && c->fd >= 0)
		(void)send(c->fd, quit, sizeof(quit),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	milter_shut(c);
	for (i = 0; i < MILTER_STAGES; i++)
		free(c->macros[i]);
	buf_free(&c->out);
	buf_free(&c->in);
	buf_free(&c->err);
	free(c->name);
	free(c);
	*connp = NULL;
}

/* milter_usable - see milter_client.h */
bool
milter_usable(const struct milter_conn *conn)
{
	return conn->usable;
}

/* milter_lead_space - see milter_client.h */
bool
milter_lead_space(const struct milter_conn *conn)
{
	return (conn->steps & MILTER_P_HDR_LEADSPC) != 0;
}

/* milter_version - see milter_client.h */
unsigned
milter_version(const struct milter_conn *conn)
{
	return conn->version;
}
