/*
 * milterload.c - load generator speaking the MTA side of the milter protocol
 *
 * Usage:
 *	milterload -s inet:PORT@HOST|inet6:PORT@HOST|unix:PATH
 *	    [-c connections] [-n transactions] [-t seconds] [-r recipients]
 *	    [-b body-bytes] [-H headers] [-m messages-per-session]
 *	    [-a client-address] [-f sender] [-d recipient-domain]
 *	    [-T reply-timeout] [-p filter-pid] [-v]
 *
 * Each connection is one thread holding one milter session: negotiate
 * (version 6, every action and step offered), connect, helo, then whole
 * transactions (mail, rcpt..., data, headers, eoh, body chunks, eom) until
 * the run is over.  What the filter negotiated is honoured: an event
 * covered by a NO* step bit is not sent, a reply covered by an NR_* bit is
 * not awaited.  A transaction the filter ends early (reject, tempfail,
 * discard, accept) is followed by an abort, as an MTA would; a verdict
 * for the whole connection closes the session and the thread opens a new
 * one.  With -m N every session is closed after N transactions, which is
 * what an MTA does (one milter session per SMTP session).
 *
 * Every reply packet is checked: length, command byte, the fields of its
 * kind, whether that reply may appear after that event, and whether an
 * edit was covered by an action the filter asked for.  Anything wrong, or
 * a filter that does not answer within the reply timeout, ends the run
 * with a description and exit status 1.
 *
 * Output is "name: value" lines, meant to be read by the bench scripts.
 * With -p the filter's CPU time (utime + stime from /proc/PID/stat,
 * every thread of the process) is sampled before and after the run.
 *
 * A bench tool, not part of the product: it needs nothing but libc and
 * pthreads, and carries its own protocol constants so that it does not
 * depend on libmilter's headers.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ML_PROTO_VERSION	6
#define ML_OFFER_ACTIONS	0x1ffU
#define ML_OFFER_STEPS		0x1fffffU
#define ML_MAX_PACKET		(1U << 20)	/* largest reply */
#define ML_BODY_CHUNK		65535U		/* largest B chunk */
#define ML_ERR_SIZE		1024
#define ML_HIST_BUCKETS		320
#define ML_LINE_MAX		1024		/* one 'y' line */

/* Action bits (SMFIF_*). */
#define MLF_ADDHDRS		0x001U
#define MLF_CHGBODY		0x002U
#define MLF_ADDRCPT		0x004U
#define MLF_DELRCPT		0x008U
#define MLF_CHGHDRS		0x010U
#define MLF_QUARANTINE		0x020U
#define MLF_CHGFROM		0x040U
#define MLF_ADDRCPT_PAR		0x080U
#define MLF_SETSYMLIST		0x100U

/* Step bits (SMFIP_*). */
#define MLP_NOCONNECT		0x000001U
#define MLP_NOHELO		0x000002U
#define MLP_NOMAIL		0x000004U
#define MLP_NORCPT		0x000008U
#define MLP_NOBODY		0x000010U
#define MLP_NOHDRS		0x000020U
#define MLP_NOEOH		0x000040U
#define MLP_NR_HDR		0x000080U
#define MLP_NOUNKNOWN		0x000100U
#define MLP_NODATA		0x000200U
#define MLP_SKIP		0x000400U
#define MLP_RCPT_REJ		0x000800U
#define MLP_NR_CONN		0x001000U
#define MLP_NR_HELO		0x002000U
#define MLP_NR_MAIL		0x004000U
#define MLP_NR_RCPT		0x008000U
#define MLP_NR_DATA		0x010000U
#define MLP_NR_UNKN		0x020000U
#define MLP_NR_EOH		0x040000U
#define MLP_NR_BODY		0x080000U
#define MLP_HDR_LEADSPC		0x100000U

/* Names of flag bits, for -v and for error messages. */
struct ml_flagname {
	uint32_t bit;
	const char *name;
};

static const struct ml_flagname ml_action_names[] = {
	{ .bit = MLF_ADDHDRS, .name = "ADDHDRS" },
	{ .bit = MLF_CHGBODY, .name = "CHGBODY" },
	{ .bit = MLF_ADDRCPT, .name = "ADDRCPT" },
	{ .bit = MLF_DELRCPT, .name = "DELRCPT" },
	{ .bit = MLF_CHGHDRS, .name = "CHGHDRS" },
	{ .bit = MLF_QUARANTINE, .name = "QUARANTINE" },
	{ .bit = MLF_CHGFROM, .name = "CHGFROM" },
	{ .bit = MLF_ADDRCPT_PAR, .name = "ADDRCPT_PAR" },
	{ .bit = MLF_SETSYMLIST, .name = "SETSYMLIST" },
	{ 0 },
};

static const struct ml_flagname ml_step_names[] = {
	{ .bit = MLP_NOCONNECT, .name = "NOCONNECT" },
	{ .bit = MLP_NOHELO, .name = "NOHELO" },
	{ .bit = MLP_NOMAIL, .name = "NOMAIL" },
	{ .bit = MLP_NORCPT, .name = "NORCPT" },
	{ .bit = MLP_NOBODY, .name = "NOBODY" },
	{ .bit = MLP_NOHDRS, .name = "NOHDRS" },
	{ .bit = MLP_NOEOH, .name = "NOEOH" },
	{ .bit = MLP_NR_HDR, .name = "NR_HDR" },
	{ .bit = MLP_NOUNKNOWN, .name = "NOUNKNOWN" },
	{ .bit = MLP_NODATA, .name = "NODATA" },
	{ .bit = MLP_SKIP, .name = "SKIP" },
	{ .bit = MLP_RCPT_REJ, .name = "RCPT_REJ" },
	{ .bit = MLP_NR_CONN, .name = "NR_CONN" },
	{ .bit = MLP_NR_HELO, .name = "NR_HELO" },
	{ .bit = MLP_NR_MAIL, .name = "NR_MAIL" },
	{ .bit = MLP_NR_RCPT, .name = "NR_RCPT" },
	{ .bit = MLP_NR_DATA, .name = "NR_DATA" },
	{ .bit = MLP_NR_UNKN, .name = "NR_UNKN" },
	{ .bit = MLP_NR_EOH, .name = "NR_EOH" },
	{ .bit = MLP_NR_BODY, .name = "NR_BODY" },
	{ .bit = MLP_HDR_LEADSPC, .name = "HDR_LEADSPC" },
	{ 0 },
};

/* Events of a session, in the order libmilter insists on. */
enum ml_event {
	EV_CONNECT,
	EV_HELO,
	EV_MAIL,
	EV_RCPT,
	EV_DATA,
	EV_HEADER,
	EV_EOH,
	EV_BODY,
	EV_EOM,
	EV_COUNT
};

/* Where the value of a macro comes from. */
enum ml_mval {
	MV_LITERAL,
	MV_QID,
	MV_CLIENT_ADDR,
	MV_CLIENT_NAME,
	MV_SENDER,
	MV_RCPT,
};

struct ml_macro {
	const char *name;
	enum ml_mval source;
	const char *literal;
};

/* Roughly what Postfix sends with its default milter_*_macros. */
static const struct ml_macro ml_connect_macros[] = {
	{ .name = "j", .source = MV_LITERAL,
	    .literal = "mx.milterload.example" },
	{ .name = "{daemon_name}", .source = MV_LITERAL,
	    .literal = "milterload" },
	{ .name = "v", .source = MV_LITERAL, .literal = "milterload 1" },
	{ .name = "_", .source = MV_CLIENT_NAME },
	{ .name = "{client_addr}", .source = MV_CLIENT_ADDR },
	{ 0 },
};

static const struct ml_macro ml_mail_macros[] = {
	{ .name = "i", .source = MV_QID },
	{ .name = "{mail_addr}", .source = MV_SENDER },
	{ .name = "{mail_mailer}", .source = MV_LITERAL, .literal = "smtp" },
	{ 0 },
};

static const struct ml_macro ml_rcpt_macros[] = {
	{ .name = "i", .source = MV_QID },
	{ .name = "{rcpt_addr}", .source = MV_RCPT },
	{ .name = "{rcpt_mailer}", .source = MV_LITERAL, .literal = "smtp" },
	{ 0 },
};

static const struct ml_macro ml_qid_macros[] = {
	{ .name = "i", .source = MV_QID },
	{ 0 },
};

/*
 * One row per event: its command byte, the step bits that skip it or
 * silence its reply, the first protocol version that has it, the macros
 * sent before it, and the final replies a filter may give to it.
 */
struct ml_event_info {
	const char *name;
	unsigned char cmd;
	uint32_t skip_step;
	uint32_t noreply_step;
	uint32_t min_version;
	const struct ml_macro *macros;
	const char *finals;
};

static const struct ml_event_info ml_events[EV_COUNT] = {
	[EV_CONNECT] = { .name = "CONNECT", .cmd = 'C',
	    .skip_step = MLP_NOCONNECT, .noreply_step = MLP_NR_CONN,
	    .min_version = 2, .macros = ml_connect_macros, .finals = "catyf4" },
	[EV_HELO] = { .name = "HELO", .cmd = 'H',
	    .skip_step = MLP_NOHELO, .noreply_step = MLP_NR_HELO,
	    .min_version = 2, .macros = NULL, .finals = "catyf4" },
	[EV_MAIL] = { .name = "MAIL", .cmd = 'M',
	    .skip_step = MLP_NOMAIL, .noreply_step = MLP_NR_MAIL,
	    .min_version = 2, .macros = ml_mail_macros, .finals = "catdyf4" },
	[EV_RCPT] = { .name = "RCPT", .cmd = 'R',
	    .skip_step = MLP_NORCPT, .noreply_step = MLP_NR_RCPT,
	    .min_version = 2, .macros = ml_rcpt_macros, .finals = "catdyf4" },
	[EV_DATA] = { .name = "DATA", .cmd = 'T',
	    .skip_step = MLP_NODATA, .noreply_step = MLP_NR_DATA,
	    .min_version = 4, .macros = ml_qid_macros, .finals = "catdyf4" },
	[EV_HEADER] = { .name = "HEADER", .cmd = 'L',
	    .skip_step = MLP_NOHDRS, .noreply_step = MLP_NR_HDR,
	    .min_version = 2, .macros = NULL, .finals = "catdyf4" },
	[EV_EOH] = { .name = "EOH", .cmd = 'N',
	    .skip_step = MLP_NOEOH, .noreply_step = MLP_NR_EOH,
	    .min_version = 2, .macros = ml_qid_macros, .finals = "catdyf4" },
	[EV_BODY] = { .name = "BODY", .cmd = 'B',
	    .skip_step = MLP_NOBODY, .noreply_step = MLP_NR_BODY,
	    .min_version = 2, .macros = NULL, .finals = "catdyf4" },
	[EV_EOM] = { .name = "EOM", .cmd = 'E',
	    .skip_step = 0, .noreply_step = 0,
	    .min_version = 2, .macros = ml_qid_macros, .finals = "catdyf4" },
};

/* What a reply does to the conversation. */
enum ml_reply_kind {
	RK_FINAL,		/* answers the event */
	RK_PROGRESS,		/* keep waiting */
	RK_SKIP,		/* answers a body chunk: send no more */
	RK_EDIT,		/* end-of-message modification, more follows */
};

typedef const char *(*ml_check_fn)(const unsigned char *, size_t);

struct ml_reply_info {
	unsigned char cmd;
	const char *name;
	enum ml_reply_kind kind;
	uint32_t action;	/* action bit the filter must have asked for */
	ml_check_fn check;	/* field check; returns why the data is bad */
};

static const char *ml_check_empty(const unsigned char *, size_t);
static const char *ml_check_smtpreply(const unsigned char *, size_t);
static const char *ml_check_addheader(const unsigned char *, size_t);
static const char *ml_check_idxheader(const unsigned char *, size_t);
static const char *ml_check_address(const unsigned char *, size_t);
static const char *ml_check_address_args(const unsigned char *, size_t);
static const char *ml_check_body(const unsigned char *, size_t);
static const char *ml_check_reason(const unsigned char *, size_t);

static const struct ml_reply_info ml_replies[] = {
	{ .cmd = 'c', .name = "continue", .kind = RK_FINAL,
	    .check = ml_check_empty },
	{ .cmd = 'a', .name = "accept", .kind = RK_FINAL,
	    .check = ml_check_empty },
	{ .cmd = 'r', .name = "reject", .kind = RK_FINAL,
	    .check = ml_check_empty },
	{ .cmd = 't', .name = "tempfail", .kind = RK_FINAL,
	    .check = ml_check_empty },
	{ .cmd = 'd', .name = "discard", .kind = RK_FINAL,
	    .check = ml_check_empty },
	{ .cmd = 'y', .name = "replycode", .kind = RK_FINAL,
	    .check = ml_check_smtpreply },
	{ .cmd = '4', .name = "shutdown", .kind = RK_FINAL,
	    .check = ml_check_empty },
	{ .cmd = 'f', .name = "connfail", .kind = RK_FINAL,
	    .check = ml_check_empty },
	{ .cmd = 's', .name = "skip", .kind = RK_SKIP,
	    .check = ml_check_empty },
	{ .cmd = 'p', .name = "progress", .kind = RK_PROGRESS,
	    .check = ml_check_empty },
	{ .cmd = 'h', .name = "addheader", .kind = RK_EDIT,
	    .action = MLF_ADDHDRS, .check = ml_check_addheader },
	{ .cmd = 'i', .name = "insheader", .kind = RK_EDIT,
	    .action = MLF_ADDHDRS, .check = ml_check_idxheader },
	{ .cmd = 'm', .name = "chgheader", .kind = RK_EDIT,
	    .action = MLF_CHGHDRS, .check = ml_check_idxheader },
	{ .cmd = 'e', .name = "chgfrom", .kind = RK_EDIT,
	    .action = MLF_CHGFROM, .check = ml_check_address_args },
	{ .cmd = '+', .name = "addrcpt", .kind = RK_EDIT,
	    .action = MLF_ADDRCPT, .check = ml_check_address },
	{ .cmd = '2', .name = "addrcpt_par", .kind = RK_EDIT,
	    .action = MLF_ADDRCPT_PAR, .check = ml_check_address_args },
	{ .cmd = '-', .name = "delrcpt", .kind = RK_EDIT,
	    .action = MLF_DELRCPT, .check = ml_check_address },
	{ .cmd = 'b', .name = "replbody", .kind = RK_EDIT,
	    .action = MLF_CHGBODY, .check = ml_check_body },
	{ .cmd = 'q', .name = "quarantine", .kind = RK_EDIT,
	    .action = MLF_QUARANTINE, .check = ml_check_reason },
	{ 0 },
};

/* Where to connect. */
struct ml_target {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool tcp;
};

/* Socket spec prefixes, as libmilter and Postfix write them. */
typedef int (*ml_target_fn)(const char *, struct ml_target *, char *,
    size_t);

static int ml_target_inet(const char *, struct ml_target *, char *, size_t);
static int ml_target_inet6(const char *, struct ml_target *, char *, size_t);
static int ml_target_unix(const char *, struct ml_target *, char *, size_t);

static const struct ml_sockkind {
	const char *prefix;
	ml_target_fn parse;
} ml_sockkinds[] = {
	{ .prefix = "inet:", .parse = ml_target_inet },
	{ .prefix = "inet6:", .parse = ml_target_inet6 },
	{ .prefix = "unix:", .parse = ml_target_unix },
	{ .prefix = "local:", .parse = ml_target_unix },
	{ 0 },
};

/* Run settings, fixed before the threads start. */
struct ml_opts {
	const char *spec;
	struct ml_target target;
	unsigned connections;
	uint64_t transactions;
	double seconds;
	unsigned recipients;
	size_t body_bytes;
	unsigned headers;
	unsigned per_session;
	const char *client_addr;
	char client_name[INET6_ADDRSTRLEN + 2];
	char client_family;
	const char *sender;
	const char *rcpt_domain;
	int timeout_ms;
	long filter_pid;
	bool verbose;
};

/* Counters of one connection; summed at the end. */
struct ml_stats {
	uint64_t transactions;
	uint64_t sessions;
	uint64_t replies[256];
	uint64_t outcomes[256];
	uint64_t latency[ML_HIST_BUCKETS];
	uint64_t latency_max_us;
};

/* The per-message values that macros and packets refer to. */
struct ml_txn {
	char qid[32];
	char rcpt[256];
};

/* One connection (thread) and its milter session. */
struct ml_conn {
	unsigned index;
	pthread_t thread;
	int fd;
	bool open;
	unsigned session_msgs;
	uint64_t serial;
	uint32_t version;
	uint32_t actions;
	uint32_t steps;
	unsigned char *out;
	size_t out_len;
	size_t out_size;
	unsigned char *scratch;
	size_t scratch_len;
	size_t scratch_size;
	unsigned char in[16384];
	size_t in_pos;
	size_t in_len;
	unsigned char *pkt;
	size_t pkt_size;
	struct ml_stats stats;
	char error[ML_ERR_SIZE];
};

/* Outcome of a transaction or session step. */
enum ml_result {
	ML_ERROR = -1,
	ML_NEXT = 0,		/* go on with the next transaction */
	ML_RECONNECT = 1,	/* the session is over; open a new one */
};

static struct ml_opts opts;
static unsigned char *body_text;
static atomic_uint_fast64_t issued;
static atomic_bool stopping;
static struct timespec run_deadline;

/* ml_die - report a setup error and exit */
static void
ml_die(const char *fmt, ...)
{
	va_list ap;

	fputs("milterload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ml_alloc - grow memory (or allocate, old NULL); abort when there is none */
static void *
ml_alloc(void *old, size_t size)
{
	void *p = old ? realloc(old, size ? size : 1) : malloc(size ? size : 1);

	if (p == NULL) {
		fputs("milterload: out of memory\n", stderr);
		abort();
	}
	return p;
}

/* ml_fail - record why this connection stops and stop the others */
static int
ml_fail(struct ml_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->error[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(c->error, sizeof(c->error), fmt, ap);
		va_end(ap);
	}
	atomic_store(&stopping, true);
	return ML_ERROR;
}

/* ml_now - monotonic clock */
static struct timespec
ml_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

/* ml_elapsed_us - microseconds from a to b */
static uint64_t
ml_elapsed_us(struct timespec a, struct timespec b)
{
	int64_t us = (int64_t)(b.tv_sec - a.tv_sec) * 1000000 +
	    (b.tv_nsec - a.tv_nsec) / 1000;

	return us < 0 ? 0 : (uint64_t)us;
}

/* ml_hist_bucket - log-linear bucket (8 per power of two) of a latency */
static unsigned
ml_hist_bucket(uint64_t us)
{
	unsigned e, idx;

	if (us < 8)
		return (unsigned)us;
	e = 63 - (unsigned)__builtin_clzll(us);
	idx = 8 + (e - 3) * 8 + (unsigned)((us >> (e - 3)) & 7);
	return idx < ML_HIST_BUCKETS ? idx : ML_HIST_BUCKETS - 1;
}

/* ml_hist_value - lower bound of a bucket, in microseconds */
static uint64_t
ml_hist_value(unsigned idx)
{
	unsigned e;

	if (idx < 8)
		return idx;
	e = (idx - 8) / 8 + 3;
	return (uint64_t)(8 + (idx - 8) % 8) << (e - 3);
}

/* ml_hex - printable dump of the start of a packet, for error messages */
static const char *
ml_hex(const unsigned char *p, size_t len, char *out, size_t size)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < len && i < 48 && o + 4 < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%02x",
		    i ? " " : "", p[i]);
	if (i < len && o + 4 < size)
		snprintf(out + o, size - o, " ...");
	return out;
}

/* ml_strfield - length of the NUL-terminated string at p, or -1 */
static long
ml_strfield(const unsigned char *p, size_t len)
{
	const unsigned char *nul = memchr(p, '\0', len);

	return nul ? (long)(nul - p) : -1;
}

/* ml_check_empty - replies that carry no data */
static const char *
ml_check_empty(const unsigned char *p, size_t len)
{
	(void)p;
	return len == 0 ? NULL : "unexpected data in a reply that has none";
}

/* ml_check_smtpreply - 'y': one or more "DDD[- ]text" lines, CRLF-joined */
static const char *
ml_check_smtpreply(const unsigned char *p, size_t len)
{
	long n = ml_strfield(p, len);
	const char *s = (const char *)p, *line, *end;
	char code[4] = "";

	if (n < 0)
		return "reply text not NUL-terminated";
	if ((size_t)n + 1 != len)
		return "data after the reply text";
	for (line = s; ; line = end + 2) {
		end = strstr(line, "\r\n");
		size_t ll = end ? (size_t)(end - line) : strlen(line);

		if (ll < 3 || line[0] < '4' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9')
			return "reply line does not start with a 4xx/5xx code";
		if (code[0] == '\0')
			memcpy(code, line, 3);
		else if (memcmp(code, line, 3) != 0)
			return "reply lines with different codes";
		if (ll > ML_LINE_MAX)
			return "reply line too long";
		if (memchr(line, '\r', ll) || memchr(line, '\n', ll))
			return "bare CR or LF in reply text";
		if (end == NULL) {
			if (ll > 3 && line[3] != ' ')
				return "last reply line not \"DDD text\"";
			return NULL;
		}
		if (ll < 4 || line[3] != '-')
			return "continued reply line not \"DDD-text\"";
	}
}

/* ml_check_header - a header name and value as an edit carries them */
static const char *
ml_check_header(const unsigned char *p, size_t len, bool delete_ok)
{
	long nl = ml_strfield(p, len), vl;
	long i;

	if (nl < 0)
		return "header name not NUL-terminated";
	if (nl == 0)
		return "empty header name";
	for (i = 0; i < nl; i++)
		if (p[i] <= ' ' || p[i] >= 127 || p[i] == ':')
			return "bad character in header name";
	p += nl + 1;
	len -= (size_t)nl + 1;
	vl = ml_strfield(p, len);
	if (vl < 0)
		return "header value not NUL-terminated";
	if ((size_t)vl + 1 != len)
		return "data after the header value";
	if (vl == 0 && !delete_ok)
		return "empty header value";
	for (i = 0; i < vl; i++) {
		if (p[i] == '\r')
			return "CR in header value";
		if (p[i] == '\n' && (i + 1 >= vl ||
		    (p[i + 1] != ' ' && p[i + 1] != '\t')))
			return "header value line break without folding "
			    "white space";
	}
	return NULL;
}

/* ml_check_addheader - 'h': name, value */
static const char *
ml_check_addheader(const unsigned char *p, size_t len)
{
	return ml_check_header(p, len, false);
}

/* ml_check_idxheader - 'i' and 'm': uint32 index, name, value */
static const char *
ml_check_idxheader(const unsigned char *p, size_t len)
{
	if (len < 4)
		return "header edit shorter than its index";
	/* An empty value is a deletion; only 'm' means that, but
	 * libmilter lets an insert carry one too, so both pass here. */
	return ml_check_header(p + 4, len - 4, true);
}

/* ml_check_address - '+' and '-': one address */
static const char *
ml_check_address(const unsigned char *p, size_t len)
{
	long n = ml_strfield(p, len);

	if (n < 0)
		return "address not NUL-terminated";
	if (n == 0)
		return "empty address";
	if ((size_t)n + 1 != len)
		return "data after the address";
	return NULL;
}

/* ml_check_address_args - 'e' and '2': address, optional ESMTP args */
static const char *
ml_check_address_args(const unsigned char *p, size_t len)
{
	long n = ml_strfield(p, len), a;

	if (n < 0)
		return "address not NUL-terminated";
	if (n == 0)
		return "empty address";
	if ((size_t)n + 1 == len)
		return NULL;
	a = ml_strfield(p + n + 1, len - (size_t)n - 1);
	if (a < 0)
		return "ESMTP arguments not NUL-terminated";
	if ((size_t)(n + 1 + a + 1) != len)
		return "data after the ESMTP arguments";
	return NULL;
}

/* ml_check_body - 'b': a replacement body chunk */
static const char *
ml_check_body(const unsigned char *p, size_t len)
{
	(void)p;
	return len <= ML_BODY_CHUNK ? NULL : "body chunk over 65535 bytes";
}

/* ml_check_reason - 'q': a non-empty quarantine reason */
static const char *
ml_check_reason(const unsigned char *p, size_t len)
{
	long n = ml_strfield(p, len);

	if (n < 0)
		return "reason not NUL-terminated";
	if (n == 0)
		return "empty quarantine reason";
	if ((size_t)n + 1 != len)
		return "data after the reason";
	return NULL;
}

/* ml_reply_lookup - the table row of a reply command byte, or NULL */
static const struct ml_reply_info *
ml_reply_lookup(unsigned char cmd)
{
	const struct ml_reply_info *r;

	for (r = ml_replies; r->name != NULL; r++)
		if (r->cmd == cmd)
			return r;
	return NULL;
}

/* ml_reply_name - name of a reply byte for the report */
static const char *
ml_reply_name(unsigned char cmd)
{
	const struct ml_reply_info *r = ml_reply_lookup(cmd);

	return r ? r->name : "?";
}

/* ml_flags_text - names of the bits set in a flag word */
static const char *
ml_flags_text(uint32_t bits, const struct ml_flagname *names, char *out,
    size_t size)
{
	const struct ml_flagname *f;
	size_t o = 0;

	out[0] = '\0';
	for (f = names; f->name != NULL; f++)
		if ((bits & f->bit) && o < size)
			o += (size_t)snprintf(out + o, size - o, "%s%s",
			    o ? "," : "", f->name);
	return out[0] ? out : "-";
}

/* ml_target_port - parse a TCP port number */
static int
ml_target_port(const char *s, size_t len, uint16_t *port_r)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port_r = (uint16_t)v;
	return 0;
}

/* ml_target_ip - resolve "PORT@HOST" for one address family */
static int
ml_target_ip(const char *rest, int family, struct ml_target *t, char *err,
    size_t errlen)
{
	const char *at = strchr(rest, '@');
	const char *host = at ? at + 1 : (family == AF_INET6 ? "::1" :
	    "127.0.0.1");
	struct addrinfo hints = { .ai_family = family,
	    .ai_socktype = SOCK_STREAM }, *res;
	uint16_t port;
	int rc;

	if (ml_target_port(rest, at ? (size_t)(at - rest) : strlen(rest),
	    &port) < 0) {
		snprintf(err, errlen, "bad port in \"%s\"", rest);
		return -1;
	}
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	if (family == AF_INET6)
		((struct sockaddr_in6 *)&t->addr)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&t->addr)->sin_port = htons(port);
	t->tcp = true;
	return 0;
}

/* ml_target_inet - "inet:PORT@HOST" */
static int
ml_target_inet(const char *rest, struct ml_target *t, char *err,
    size_t errlen)
{
	return ml_target_ip(rest, AF_INET, t, err, errlen);
}

/* ml_target_inet6 - "inet6:PORT@HOST" */
static int
ml_target_inet6(const char *rest, struct ml_target *t, char *err,
    size_t errlen)
{
	return ml_target_ip(rest, AF_INET6, t, err, errlen);
}

/* ml_target_unix - "unix:PATH" */
static int
ml_target_unix(const char *rest, struct ml_target *t, char *err,
    size_t errlen)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&t->addr;

	if (*rest == '\0' || strlen(rest) >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "bad socket path \"%s\"", rest);
		return -1;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, rest, strlen(rest) + 1);
	t->addr_len = sizeof(*sun);
	t->tcp = false;
	return 0;
}

/* ml_target_parse - turn a socket spec into an address */
static int
ml_target_parse(const char *spec, struct ml_target *t, char *err,
    size_t errlen)
{
	const struct ml_sockkind *k;

	for (k = ml_sockkinds; k->prefix != NULL; k++)
		if (strncmp(spec, k->prefix, strlen(k->prefix)) == 0)
			return k->parse(spec + strlen(k->prefix), t, err,
			    errlen);
	snprintf(err, errlen, "unknown socket type in \"%s\" (use inet:, "
	    "inet6: or unix:)", spec);
	return -1;
}

/* ml_put - append bytes to the output buffer */
static void
ml_put(struct ml_conn *c, const void *p, size_t len)
{
	if (c->out_len + len > c->out_size) {
		size_t size = c->out_size ? c->out_size : 4096;

		while (size < c->out_len + len)
			size *= 2;
		c->out = ml_alloc(c->out, size);
		c->out_size = size;
	}
	if (len)
		memcpy(c->out + c->out_len, p, len);
	c->out_len += len;
}

/* ml_put_packet - append one packet: length, command, data */
static void
ml_put_packet(struct ml_conn *c, unsigned char cmd, const void *data,
    size_t len)
{
	uint32_t n = htonl((uint32_t)len + 1);

	ml_put(c, &n, 4);
	ml_put(c, &cmd, 1);
	ml_put(c, data, len);
}

/* ml_scratch_put - append bytes to the packet being built */
static void
ml_scratch_put(struct ml_conn *c, const void *p, size_t len)
{
	if (c->scratch_len + len > c->scratch_size) {
		size_t size = c->scratch_size ? c->scratch_size : 1024;

		while (size < c->scratch_len + len)
			size *= 2;
		c->scratch = ml_alloc(c->scratch, size);
		c->scratch_size = size;
	}
	if (len)
		memcpy(c->scratch + c->scratch_len, p, len);
	c->scratch_len += len;
}

/* ml_scratch_str - append a string with its NUL */
static void
ml_scratch_str(struct ml_conn *c, const char *s)
{
	ml_scratch_put(c, s, strlen(s) + 1);
}

/* ml_wait - poll one descriptor for the reply timeout */
static int
ml_wait(struct ml_conn *c, short events, const char *what)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int rc;

	do
		rc = poll(&pfd, 1, opts.timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return ml_fail(c, "poll: %s", strerror(errno));
	if (rc == 0)
		return ml_fail(c, "timeout: nothing happened for %d ms while "
		    "waiting for %s", opts.timeout_ms, what);
	return 0;
}

/* ml_flush - write the output buffer */
static int
ml_flush(struct ml_conn *c)
{
	size_t off = 0;
	ssize_t n;

	while (off < c->out_len) {
		n = send(c->fd, c->out + off, c->out_len - off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (ml_wait(c, POLLOUT,
			    "the filter to read our packets") < 0)
				return ML_ERROR;
			continue;
		}
		return ml_fail(c, "send: %s", strerror(errno));
	}
	c->out_len = 0;
	return 0;
}

/* ml_read - read exactly len bytes of the filter's output */
static int
ml_read(struct ml_conn *c, void *dst, size_t len, const char *what)
{
	unsigned char *d = dst;
	ssize_t n;

	while (len > 0) {
		if (c->in_pos < c->in_len) {
			size_t take = c->in_len - c->in_pos;

			if (take > len)
				take = len;
			memcpy(d, c->in + c->in_pos, take);
			c->in_pos += take;
			d += take;
			len -= take;
			continue;
		}
		n = recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT);
		if (n > 0) {
			c->in_pos = 0;
			c->in_len = (size_t)n;
			continue;
		}
		if (n == 0)
			return ml_fail(c, "the filter closed the connection "
			    "while we waited for %s", what);
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (ml_wait(c, POLLIN, what) < 0)
				return ML_ERROR;
			continue;
		}
		return ml_fail(c, "recv: %s", strerror(errno));
	}
	return 0;
}

/* ml_read_packet - read one reply packet into c->pkt */
static int
ml_read_packet(struct ml_conn *c, const char *what, unsigned char *cmd_r,
    size_t *len_r)
{
	uint32_t n;

	if (ml_read(c, &n, 4, what) < 0)
		return ML_ERROR;
	n = ntohl(n);
	if (n == 0)
		return ml_fail(c, "protocol error: zero-length packet "
		    "(no command byte) while waiting for %s", what);
	if (n > ML_MAX_PACKET)
		return ml_fail(c, "protocol error: packet length %" PRIu32
		    " over %u while waiting for %s", n, ML_MAX_PACKET, what);
	if (ml_read(c, cmd_r, 1, what) < 0)
		return ML_ERROR;
	if (c->pkt == NULL || n - 1 > c->pkt_size) {
		c->pkt_size = n - 1 > 256 ? n - 1 : 256;
		c->pkt = ml_alloc(c->pkt, c->pkt_size);
	}
	if (ml_read(c, c->pkt, n - 1, what) < 0)
		return ML_ERROR;
	*len_r = n - 1;
	return 0;
}

/* ml_reply_error - report a bad reply packet with its bytes */
static int
ml_reply_error(struct ml_conn *c, const char *after, unsigned char cmd,
    size_t len, const char *why)
{
	char hex[200];

	return ml_fail(c, "protocol error after %s: reply '%c' (0x%02x, %s) "
	    "with %zu data bytes: %s; data: %s", after,
	    cmd >= ' ' && cmd < 127 ? cmd : '?', cmd, ml_reply_name(cmd), len,
	    why, ml_hex(c->pkt, len, hex, sizeof(hex)));
}

/* ml_await - read replies to an event until the one that answers it */
static int
ml_await(struct ml_conn *c, enum ml_event ev, unsigned char *final_r)
{
	const struct ml_reply_info *r;
	const char *after = ml_events[ev].name, *why;
	unsigned char cmd;
	size_t len;
	char what[64];

	snprintf(what, sizeof(what), "the reply to %s", ml_events[ev].name);
	for (;;) {
		if (ml_read_packet(c, what, &cmd, &len) < 0)
			return ML_ERROR;
		if ((r = ml_reply_lookup(cmd)) == NULL)
			return ml_reply_error(c, after, cmd, len,
			    "unknown reply command");
		c->stats.replies[cmd]++;
		if ((why = r->check(c->pkt, len)) != NULL)
			return ml_reply_error(c, after, cmd, len, why);
		switch (r->kind) {
		case RK_PROGRESS:
			continue;
		case RK_EDIT:
			if (ev != EV_EOM)
				return ml_reply_error(c, after, cmd, len,
				    "modification before end of message");
			if ((c->actions & r->action) == 0)
				return ml_reply_error(c, after, cmd, len,
				    "modification without its negotiated "
				    "action flag");
			continue;
		case RK_SKIP:
			if (ev != EV_BODY || (c->steps & MLP_SKIP) == 0)
				return ml_reply_error(c, after, cmd, len,
				    "skip outside a body chunk or without "
				    "SMFIP_SKIP");
			*final_r = cmd;
			return 0;
		case RK_FINAL:
			if (strchr(ml_events[ev].finals, cmd) == NULL)
				return ml_reply_error(c, after, cmd, len,
				    "reply not allowed after this event");
			*final_r = cmd;
			return 0;
		}
	}
}

/* ml_macro_value - the value a macro has in this transaction */
static const char *
ml_macro_value(const struct ml_macro *m, const struct ml_txn *t)
{
	switch (m->source) {
	case MV_LITERAL:
		return m->literal;
	case MV_QID:
		return t ? t->qid : "";
	case MV_CLIENT_ADDR:
		return opts.client_addr;
	case MV_CLIENT_NAME:
		return opts.client_name;
	case MV_SENDER:
		return opts.sender;
	case MV_RCPT:
		return t ? t->rcpt : "";
	}
	return "";
}

/* ml_put_macros - append the D packet that precedes an event */
static void
ml_put_macros(struct ml_conn *c, const struct ml_event_info *info,
    const struct ml_txn *t)
{
	const struct ml_macro *m;
	size_t start = c->scratch_len;
	unsigned char cmd = info->cmd;

	/* The event's own packet may already sit in scratch: build the
	 * macro packet after it and drop it again afterwards. */
	ml_scratch_put(c, &cmd, 1);
	for (m = info->macros; m->name != NULL; m++) {
		ml_scratch_str(c, m->name);
		ml_scratch_str(c, ml_macro_value(m, t));
	}
	ml_put_packet(c, 'D', c->scratch + start, c->scratch_len - start);
	c->scratch_len = start;
}

/*
 * ml_event - send one event (its macros first) and collect the answer
 *
 * The event's data is c->scratch, or data/len when data is not NULL
 * (body chunks).  *final_r is the answering reply byte, or 0 when the
 * filter negotiated the event or its reply away.  Packets that need no
 * answer stay buffered and go out with the next one that does.
 */
static int
ml_event(struct ml_conn *c, enum ml_event ev, const struct ml_txn *t,
    const void *data, size_t len, unsigned char *final_r)
{
	const struct ml_event_info *info = &ml_events[ev];

	*final_r = 0;
	if (c->version < info->min_version)
		return 0;
	if (info->macros != NULL)
		ml_put_macros(c, info, t);
	if (c->steps & info->skip_step)
		return 0;
	/* Only now: building the macros may have moved the scratch. */
	if (data == NULL) {
		data = c->scratch;
		len = c->scratch_len;
	}
	ml_put_packet(c, info->cmd, data, len);
	if (c->steps & info->noreply_step)
		return c->out_len > 65536 ? ml_flush(c) : 0;
	if (ml_flush(c) < 0)
		return ML_ERROR;
	return ml_await(c, ev, final_r);
}

/* ml_negotiate - offer everything, check and keep what the filter takes */
static int
ml_negotiate(struct ml_conn *c)
{
	uint32_t offer[3] = { htonl(ML_PROTO_VERSION),
	    htonl(ML_OFFER_ACTIONS), htonl(ML_OFFER_STEPS) };
	uint32_t v[3], stage;
	unsigned char cmd;
	size_t len, off;
	long n;

	ml_put_packet(c, 'O', offer, sizeof(offer));
	if (ml_flush(c) < 0 ||
	    ml_read_packet(c, "the negotiation reply", &cmd, &len) < 0)
		return ML_ERROR;
	c->stats.replies[cmd]++;
	if (cmd != 'O' || len < 12)
		return ml_reply_error(c, "OPTNEG", cmd, len,
		    "expected an 'O' negotiation reply of at least 12 bytes");
	memcpy(v, c->pkt, 12);
	c->version = ntohl(v[0]);
	c->actions = ntohl(v[1]);
	c->steps = ntohl(v[2]);
	if (c->version < 2 || c->version > ML_PROTO_VERSION)
		return ml_fail(c, "protocol error: filter answered version "
		    "%" PRIu32 " to an offer of %d", c->version,
		    ML_PROTO_VERSION);
	if (c->actions & ~ML_OFFER_ACTIONS)
		return ml_fail(c, "protocol error: filter asked for actions "
		    "0x%" PRIx32 " beyond the offered 0x%x", c->actions,
		    ML_OFFER_ACTIONS);
	if (c->steps & ~ML_OFFER_STEPS)
		return ml_fail(c, "protocol error: filter asked for steps "
		    "0x%" PRIx32 " beyond the offered 0x%x", c->steps,
		    ML_OFFER_STEPS);
	/* Optional macro lists: (uint32 stage, "names" NUL) repeated. */
	for (off = 12; off < len; off += (size_t)n + 1) {
		if (len - off < 5)
			return ml_reply_error(c, "OPTNEG", cmd, len,
			    "truncated macro list in negotiation reply");
		memcpy(&stage, c->pkt + off, 4);
		stage = ntohl(stage);
		off += 4;
		if (stage > 6)
			return ml_reply_error(c, "OPTNEG", cmd, len,
			    "macro list for an unknown stage");
		if ((n = ml_strfield(c->pkt + off, len - off)) < 0)
			return ml_reply_error(c, "OPTNEG", cmd, len,
			    "macro list not NUL-terminated");
		if (opts.verbose && c->index == 0 && c->stats.sessions == 0)
			fprintf(stderr, "milterload: filter asks for stage %"
			    PRIu32 " macros \"%s\"\n", stage,
			    (const char *)c->pkt + off);
	}
	return 0;
}

/* ml_connect_socket - open the transport to the filter */
static int
ml_connect_socket(struct ml_conn *c)
{
	const struct ml_target *t = &opts.target;
	int one = 1;

	c->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return ml_fail(c, "socket: %s", strerror(errno));
	/* The latency trap: small replies must not wait for an ACK. */
	if (t->tcp && setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) < 0)
		return ml_fail(c, "TCP_NODELAY: %s", strerror(errno));
	if (connect(c->fd, (const struct sockaddr *)&t->addr,
	    t->addr_len) < 0)
		return ml_fail(c, "connect %s: %s", opts.spec,
		    strerror(errno));
	c->in_pos = c->in_len = 0;
	c->out_len = 0;
	return 0;
}

/* ml_quit - end the session politely and close the socket */
static void
ml_quit(struct ml_conn *c)
{
	if (c->fd >= 0) {
		ml_put_packet(c, 'Q', NULL, 0);
		(void)ml_flush(c);
		close(c->fd);
	}
	c->fd = -1;
	c->open = false;
}

/* ml_session_over - does a final reply end the whole session? */
static bool
ml_session_over(const struct ml_conn *c, unsigned char final)
{
	return final == '4' || final == 'f' ||
	    (final == 'y' && strncmp((const char *)c->pkt, "421", 3) == 0);
}

/*
 * ml_open - start a session: transport, negotiate, connect, helo
 *
 * Returns ML_NEXT with *final_r 0 when transactions may follow, or with
 * the verdict that ended the session at connect or helo.
 */
static int
ml_open(struct ml_conn *c, unsigned char *final_r)
{
	uint16_t port = htons((uint16_t)(10000 + c->index % 50000));
	unsigned char family = (unsigned char)opts.client_family;
	unsigned char final;

	*final_r = 0;
	if (ml_connect_socket(c) < 0 || ml_negotiate(c) < 0)
		return ML_ERROR;
	c->open = true;
	c->session_msgs = 0;
	c->stats.sessions++;

	c->scratch_len = 0;
	ml_scratch_str(c, opts.client_name);
	ml_scratch_put(c, &family, 1);
	ml_scratch_put(c, &port, 2);
	ml_scratch_str(c, opts.client_addr);
	if (ml_event(c, EV_CONNECT, NULL, NULL, 0, &final) < 0)
		return ML_ERROR;
	if (final != 0 && final != 'c') {
		*final_r = final;
		return ML_NEXT;
	}
	c->scratch_len = 0;
	ml_scratch_str(c, "client.milterload.example");
	if (ml_event(c, EV_HELO, NULL, NULL, 0, &final) < 0)
		return ML_ERROR;
	if (final != 0 && final != 'c')
		*final_r = final;
	return ML_NEXT;
}

/* ml_put_header - build one header packet (name, value) in scratch */
static void
ml_put_header(struct ml_conn *c, const char *name, const char *value)
{
	c->scratch_len = 0;
	ml_scratch_str(c, name);
	/* With HDR_LEADSPC the filter wants the value byte-exact. */
	if (c->steps & MLP_HDR_LEADSPC)
		ml_scratch_put(c, " ", 1);
	ml_scratch_str(c, value);
}

/* ml_headers - send the configured number of headers */
static int
ml_headers(struct ml_conn *c, const struct ml_txn *t, unsigned char *final_r)
{
	char value[512];
	unsigned i;

	*final_r = 0;
	for (i = 0; i < opts.headers; i++) {
		/* A fixed set first, then numbered filler. */
		switch (i) {
		case 0:
			snprintf(value, sizeof(value), "<%s>", opts.sender);
			ml_put_header(c, "From", value);
			break;
		case 1:
			snprintf(value, sizeof(value), "<%s>", t->rcpt);
			ml_put_header(c, "To", value);
			break;
		case 2:
			snprintf(value, sizeof(value), "milterload %s",
			    t->qid);
			ml_put_header(c, "Subject", value);
			break;
		case 3:
			ml_put_header(c, "Date",
			    "Sun, 22 Nov 2026 05:00:00 +0000");
			break;
		case 4:
			snprintf(value, sizeof(value),
			    "<%s@milterload.example>", t->qid);
			ml_put_header(c, "Message-ID", value);
			break;
		default:
			snprintf(value, sizeof(value), "filler header %u of "
			    "message %s", i, t->qid);
			ml_put_header(c, "X-Milterload", value);
			break;
		}
		if (ml_event(c, EV_HEADER, t, NULL, 0, final_r) < 0)
			return ML_ERROR;
		if (*final_r != 0 && *final_r != 'c')
			return 0;
	}
	return 0;
}

/* ml_body - send the body in chunks until done or skipped */
static int
ml_body(struct ml_conn *c, const struct ml_txn *t, unsigned char *final_r)
{
	size_t off, n;

	*final_r = 0;
	for (off = 0; off < opts.body_bytes; off += n) {
		n = opts.body_bytes - off;
		if (n > ML_BODY_CHUNK)
			n = ML_BODY_CHUNK;
		if (ml_event(c, EV_BODY, t, body_text + off, n, final_r) < 0)
			return ML_ERROR;
		if (*final_r == 's') {
			*final_r = 0;
			return 0;
		}
		if (*final_r != 0 && *final_r != 'c')
			return 0;
	}
	return 0;
}

/* ml_message - one transaction on an open session */
static int
ml_message(struct ml_conn *c)
{
	struct ml_txn t;
	struct timespec start = ml_now();
	unsigned char final = 0, rfinal, last_reject = 0;
	unsigned i, accepted = 0;
	uint64_t us;
	bool completed = false;

	char arg[300];

	snprintf(t.qid, sizeof(t.qid), "ML%03X%09" PRIX64, c->index,
	    ++c->serial);
	t.rcpt[0] = '\0';

	c->scratch_len = 0;
	snprintf(arg, sizeof(arg), "<%s>", opts.sender);
	ml_scratch_str(c, arg);
	ml_scratch_str(c, "BODY=8BITMIME");
	if (ml_event(c, EV_MAIL, &t, NULL, 0, &final) < 0)
		return ML_ERROR;
	if (final != 0 && final != 'c')
		goto ended;

	for (i = 0; i < opts.recipients; i++) {
		snprintf(t.rcpt, sizeof(t.rcpt), "user%u@%s", i,
		    opts.rcpt_domain);
		snprintf(arg, sizeof(arg), "<%s>", t.rcpt);
		c->scratch_len = 0;
		ml_scratch_str(c, arg);
		if (ml_event(c, EV_RCPT, &t, NULL, 0, &rfinal) < 0)
			return ML_ERROR;
		switch (rfinal) {
		case 0:
		case 'c':
			accepted++;
			break;
		case 'r':
		case 't':
		case 'y':
			/* Rejects this recipient only, unless it ends
			 * the session. */
			if (ml_session_over(c, rfinal)) {
				final = rfinal;
				goto ended;
			}
			last_reject = rfinal;
			break;
		default:
			final = rfinal;
			goto ended;
		}
	}
	if (accepted == 0) {
		final = last_reject;
		goto ended;
	}
	snprintf(t.rcpt, sizeof(t.rcpt), "user0@%s", opts.rcpt_domain);

	c->scratch_len = 0;
	if (ml_event(c, EV_DATA, &t, NULL, 0, &final) < 0)
		return ML_ERROR;
	if (final != 0 && final != 'c')
		goto ended;
	if (ml_headers(c, &t, &final) < 0)
		return ML_ERROR;
	if (final != 0 && final != 'c')
		goto ended;
	c->scratch_len = 0;
	if (ml_event(c, EV_EOH, &t, NULL, 0, &final) < 0)
		return ML_ERROR;
	if (final != 0 && final != 'c')
		goto ended;
	if (ml_body(c, &t, &final) < 0)
		return ML_ERROR;
	if (final != 0 && final != 'c')
		goto ended;
	c->scratch_len = 0;
	if (ml_event(c, EV_EOM, &t, NULL, 0, &final) < 0)
		return ML_ERROR;
	completed = true;

ended:
	us = ml_elapsed_us(start, ml_now());
	c->stats.transactions++;
	c->stats.outcomes[final]++;
	c->stats.latency[ml_hist_bucket(us)]++;
	if (us > c->stats.latency_max_us)
		c->stats.latency_max_us = us;
	c->session_msgs++;
	if (ml_session_over(c, final))
		return ML_RECONNECT;
	/* A message the filter ended early is aborted, as an MTA would
	 * on RSET or after the client gave up. */
	if (!completed)
		ml_put_packet(c, 'A', NULL, 0);
	return ML_NEXT;
}

/* ml_claim - take one transaction from the run's budget */
static bool
ml_claim(void)
{
	struct timespec now;

	if (atomic_load(&stopping))
		return false;
	if (atomic_fetch_add(&issued, 1) >= opts.transactions)
		return false;
	now = ml_now();
	if (now.tv_sec > run_deadline.tv_sec ||
	    (now.tv_sec == run_deadline.tv_sec &&
	    now.tv_nsec >= run_deadline.tv_nsec)) {
		atomic_store(&stopping, true);
		return false;
	}
	return true;
}

/* ml_thread - one connection's loop */
static void *
ml_thread(void *arg)
{
	struct ml_conn *c = arg;
	unsigned char final;
	int rc;

	while (ml_claim()) {
		if (!c->open) {
			if (ml_open(c, &final) < 0)
				break;
			if (final != 0) {
				/* Refused at connect or helo: that is
				 * this transaction's outcome. */
				c->stats.transactions++;
				c->stats.outcomes[final]++;
				ml_quit(c);
				continue;
			}
		}
		if ((rc = ml_message(c)) < 0)
			break;
		if (rc == ML_RECONNECT || (opts.per_session != 0 &&
		    c->session_msgs >= opts.per_session))
			ml_quit(c);
	}
	if (c->error[0] == '\0' && c->open)
		ml_quit(c);
	else if (c->fd >= 0)
		close(c->fd);
	return NULL;
}

/* ml_proc_cpu_us - utime + stime of a process, in microseconds */
static int
ml_proc_cpu_us(long pid, uint64_t *us_r)
{
	char path[64], buf[2048], *p;
	unsigned long long utime, stime;
	long ticks = sysconf(_SC_CLK_TCK);
	size_t n;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* The command name may contain anything: fields start after the
	 * last ')'; utime and stime are fields 14 and 15 of the line. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu", &utime, &stime) != 2 || ticks <= 0)
		return -1;
	*us_r = (uint64_t)(utime + stime) * 1000000 / (uint64_t)ticks;
	return 0;
}

/* ml_parse_uint - parse a bounded unsigned number option */
static uint64_t
ml_parse_uint(const char *s, char opt, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' ||
	    v < min || v > max)
		ml_die("-%c: \"%s\" is not a number from %" PRIu64 " to %"
		    PRIu64, opt, s, min, max);
	return v;
}

/* ml_usage - print usage and exit */
static void
ml_usage(void)
{
	fputs("usage: milterload -s inet:PORT@HOST|inet6:PORT@HOST|unix:PATH\n"
	    "    [-c connections] [-n transactions] [-t seconds]\n"
	    "    [-r recipients] [-b body-bytes] [-H headers]\n"
	    "    [-m messages-per-session] [-a client-address]\n"
	    "    [-f sender] [-d recipient-domain] [-T reply-timeout-seconds]\n"
	    "    [-p filter-pid] [-v]\n", stderr);
	exit(2);
}

/* ml_make_body - CRLF text lines filling the requested size */
static void
ml_make_body(size_t size)
{
	static const char line[] = "The quick brown fox jumps over the lazy "
	    "dog while milterload measures it.\r\n";
	size_t i;

	body_text = ml_alloc(NULL, size);
	for (i = 0; i < size; i++)
		body_text[i] = (unsigned char)line[i % (sizeof(line) - 1)];
	/* End on a line break whatever the size. */
	if (size >= 2) {
		body_text[size - 2] = '\r';
		body_text[size - 1] = '\n';
	}
}

/* ml_parse_args - fill opts from the command line */
static void
ml_parse_args(int argc, char **argv)
{
	bool have_n = false, have_t = false;
	unsigned char ipbuf[sizeof(struct in6_addr)];
	char err[256];
	int ch;

	opts.connections = 4;
	opts.transactions = 1000;
	opts.seconds = 600;
	opts.recipients = 1;
	opts.body_bytes = 1024;
	opts.headers = 5;
	opts.client_addr = "127.0.0.1";
	opts.sender = "sender@milterload.example";
	opts.rcpt_domain = "ours.example";
	opts.timeout_ms = 10000;
	while ((ch = getopt(argc, argv, "a:b:c:d:f:H:m:n:p:r:s:t:T:v")) != -1) {
		switch (ch) {
		case 'a':
			opts.client_addr = optarg;
			break;
		case 'b':
			opts.body_bytes = ml_parse_uint(optarg, 'b', 0,
			    1U << 30);
			break;
		case 'c':
			opts.connections = (unsigned)ml_parse_uint(optarg,
			    'c', 1, 1000);
			break;
		case 'd':
			opts.rcpt_domain = optarg;
			break;
		case 'f':
			opts.sender = optarg;
			break;
		case 'H':
			opts.headers = (unsigned)ml_parse_uint(optarg, 'H', 0,
			    10000);
			break;
		case 'm':
			opts.per_session = (unsigned)ml_parse_uint(optarg,
			    'm', 0, UINT_MAX);
			break;
		case 'n':
			opts.transactions = ml_parse_uint(optarg, 'n', 1,
			    UINT64_MAX / 2);
			have_n = true;
			break;
		case 'p':
			opts.filter_pid = (long)ml_parse_uint(optarg, 'p', 1,
			    INT_MAX);
			break;
		case 'r':
			opts.recipients = (unsigned)ml_parse_uint(optarg, 'r',
			    1, 10000);
			break;
		case 's':
			opts.spec = optarg;
			break;
		case 't':
			opts.seconds = (double)ml_parse_uint(optarg, 't', 1,
			    86400);
			have_t = true;
			break;
		case 'T':
			opts.timeout_ms = (int)ml_parse_uint(optarg, 'T', 1,
			    3600) * 1000;
			break;
		case 'v':
			opts.verbose = true;
			break;
		default:
			ml_usage();
		}
	}
	if (optind != argc || opts.spec == NULL)
		ml_usage();
	/* -t alone means "for that long"; -n alone keeps a safety bound. */
	if (have_t && !have_n)
		opts.transactions = UINT64_MAX / 2;
	if (ml_target_parse(opts.spec, &opts.target, err, sizeof(err)) < 0)
		ml_die("-s: %s", err);
	if (inet_pton(AF_INET, opts.client_addr, ipbuf) == 1)
		opts.client_family = '4';
	else if (inet_pton(AF_INET6, opts.client_addr, ipbuf) == 1)
		opts.client_family = '6';
	else
		ml_die("-a: \"%s\" is not an IP address", opts.client_addr);
	/* What Postfix sends when the client has no reverse name. */
	snprintf(opts.client_name, sizeof(opts.client_name), "[%s]",
	    opts.client_addr);
}

/* ml_report - print the summed results */
static void
ml_report(struct ml_conn *conns, double secs, bool have_cpu,
    uint64_t cpu_us)
{
	struct ml_stats sum;
	const struct ml_reply_info *r;
	struct rusage ru;
	uint64_t seen, want, total_lat = 0;
	double pct[] = { 0.50, 0.90, 0.99 };
	const char *pname[] = { "p50", "p90", "p99" };
	char flags[512];
	unsigned i, b, k;

	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < opts.connections; i++) {
		struct ml_stats *s = &conns[i].stats;

		sum.transactions += s->transactions;
		sum.sessions += s->sessions;
		for (b = 0; b < 256; b++) {
			sum.replies[b] += s->replies[b];
			sum.outcomes[b] += s->outcomes[b];
		}
		for (b = 0; b < ML_HIST_BUCKETS; b++)
			sum.latency[b] += s->latency[b];
		if (s->latency_max_us > sum.latency_max_us)
			sum.latency_max_us = s->latency_max_us;
	}
	printf("socket: %s\n", opts.spec);
	printf("connections: %u\n", opts.connections);
	printf("message: recipients=%u headers=%u body_bytes=%zu "
	    "per_session=%u\n", opts.recipients, opts.headers,
	    opts.body_bytes, opts.per_session);
	printf("negotiated: version=%" PRIu32 " actions=0x%" PRIx32,
	    conns[0].version, conns[0].actions);
	printf(" (%s)", ml_flags_text(conns[0].actions, ml_action_names,
	    flags, sizeof(flags)));
	printf(" steps=0x%" PRIx32, conns[0].steps);
	printf(" (%s)\n", ml_flags_text(conns[0].steps, ml_step_names, flags,
	    sizeof(flags)));
	printf("transactions: %" PRIu64 "\n", sum.transactions);
	printf("sessions: %" PRIu64 "\n", sum.sessions);
	printf("seconds: %.3f\n", secs);
	printf("transactions_per_second: %.1f\n",
	    secs > 0 ? (double)sum.transactions / secs : 0.0);
	printf("latency_ms:");
	for (b = 0; b < ML_HIST_BUCKETS; b++)
		total_lat += sum.latency[b];
	for (k = 0; k < 3; k++) {
		want = (uint64_t)((double)total_lat * pct[k] + 0.5);
		if (want == 0)
			want = 1;
		for (seen = 0, b = 0; b < ML_HIST_BUCKETS; b++)
			if ((seen += sum.latency[b]) >= want)
				break;
		printf(" %s=%.2f", pname[k], total_lat ?
		    (double)ml_hist_value(b < ML_HIST_BUCKETS ? b :
		    ML_HIST_BUCKETS - 1) / 1000.0 : 0.0);
	}
	printf(" max=%.2f\n", (double)sum.latency_max_us / 1000.0);
	printf("replies:");
	for (r = ml_replies; r->name != NULL; r++)
		if (sum.replies[r->cmd])
			printf(" %s=%" PRIu64, r->name, sum.replies[r->cmd]);
	if (sum.replies['O'])
		printf(" negotiate=%" PRIu64, sum.replies['O']);
	printf("\n");
	printf("outcomes:");
	for (r = ml_replies; r->name != NULL; r++)
		if (sum.outcomes[r->cmd])
			printf(" %s=%" PRIu64, r->name, sum.outcomes[r->cmd]);
	if (sum.outcomes[0])
		printf(" noreply=%" PRIu64, sum.outcomes[0]);
	printf("\n");
	if (have_cpu && sum.transactions)
		printf("filter_cpu_us_per_transaction: %.1f\n",
		    (double)cpu_us / (double)sum.transactions);
	if (getrusage(RUSAGE_SELF, &ru) == 0 && sum.transactions) {
		double us = (double)ru.ru_utime.tv_sec * 1e6 +
		    (double)ru.ru_utime.tv_usec +
		    (double)ru.ru_stime.tv_sec * 1e6 +
		    (double)ru.ru_stime.tv_usec;

		printf("client_cpu_us_per_transaction: %.1f\n",
		    us / (double)sum.transactions);
	}
}

/* main - parse options, run the connections, report */
int
main(int argc, char **argv)
{
	struct ml_conn *conns;
	struct timespec start, end;
	uint64_t cpu0 = 0, cpu1 = 0;
	bool have_cpu = false, failed = false;
	unsigned i;
	int rc;

	ml_parse_args(argc, argv);
	ml_make_body(opts.body_bytes);
	if (opts.filter_pid &&
	    ml_proc_cpu_us(opts.filter_pid, &cpu0) < 0)
		ml_die("-p: cannot read /proc/%ld/stat", opts.filter_pid);
	conns = ml_alloc(NULL, sizeof(*conns) * opts.connections);
	memset(conns, 0, sizeof(*conns) * opts.connections);
	start = ml_now();
	run_deadline = start;
	run_deadline.tv_sec += (time_t)opts.seconds;
	for (i = 0; i < opts.connections; i++) {
		conns[i].index = i;
		conns[i].fd = -1;
		if ((rc = pthread_create(&conns[i].thread, NULL, ml_thread,
		    &conns[i])) != 0)
			ml_die("pthread_create: %s", strerror(rc));
	}
	for (i = 0; i < opts.connections; i++)
		pthread_join(conns[i].thread, NULL);
	end = ml_now();
	if (opts.filter_pid) {
		if (ml_proc_cpu_us(opts.filter_pid, &cpu1) < 0)
			fprintf(stderr, "milterload: filter process %ld is "
			    "gone\n", opts.filter_pid);
		else
			have_cpu = true;
	}
	for (i = 0; i < opts.connections; i++) {
		if (conns[i].error[0] != '\0') {
			fprintf(stderr, "milterload: connection %u: %s\n", i,
			    conns[i].error);
			failed = true;
		}
	}
	ml_report(conns, (double)ml_elapsed_us(start, end) / 1e6, have_cpu,
	    cpu1 - cpu0);
	for (i = 0; i < opts.connections; i++) {
		free(conns[i].out);
		free(conns[i].scratch);
		free(conns[i].pkt);
	}
	free(conns);
	free(body_text);
	return failed ? 1 : 0;
}
