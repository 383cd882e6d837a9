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
 * Connections, writes and reads are lib/netconn's (non-blocking, bounded
 * by the deadline, no SIGPIPE when clamd closes on us at its limit). Each
 * chunk goes out with its length prefix in one write (the command and
 * the terminating empty chunk ride along), so that no small last write
 * waits on Nagle.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clamav_clamd.h"
#include "log.h"
#include "mem.h"
#include "netconn.h"

/* longer than any reply of clamd's; a longer one is not clamd talking */
#define CLAMD_REPLY_MAX		1024
#define CLAMD_WHY_MAX		(CLAMD_REPLY_MAX + 512)
#define CLAMD_INSTREAM		"zINSTREAM"	/* sent with its NUL */
#define CLAMD_VERSION		"zVERSION"
/* the command, one chunk with its length, the empty chunk */
#define CLAMD_BUF_SIZE		(sizeof(CLAMD_INSTREAM) + 4 + \
				    CLAMAV_CLAMD_CHUNK + 4)

struct clamav_clamd {
	size_t n;
	struct netconn_addr **servers;
};

/* What became of one server. */
enum clamd_outcome {
	CLAMD_DONE,		/* sent, or the reply is in conv->reply */
	CLAMD_FAILED,		/* the server failed: why says how */
	CLAMD_LOCAL,		/* our side failed (the spool): why says how */
};

/* One conversation with one server. */
struct clamd_conv {
	const struct netconn_addr *srv;
	int fd;
	double deadline;
	const char *qid;	/* for the log; NULL = NOQUEUE */
	char reply[CLAMD_REPLY_MAX];
	char why[CLAMD_WHY_MAX];
	char nwhy[256];		/* netconn's text */
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
	    netconn_name(conv->srv));
	if (n < 0 || (size_t)n >= sizeof(conv->why))
		return CLAMD_FAILED;
	va_start(ap, fmt);
	vsnprintf(conv->why + n, sizeof(conv->why) - (size_t)n, fmt, ap);
	va_end(ap);
	return CLAMD_FAILED;
}

/* clamav_clamd_new - parse every server; nothing is connected */
bool
clamav_clamd_new(const struct conf_list *servers,
    struct clamav_clamd **client_r, char **error_r)
{
	struct clamav_clamd *client;
	char *why = NULL;
	size_t i;

	*client_r = NULL;
	if (servers == NULL || servers->n == 0) {
		*error_r = xstrdup("no clamd servers given");
		return false;
	}
	client = xcalloc(1, sizeof(*client));
	client->servers = xcalloc(servers->n, sizeof(*client->servers));
	for (i = 0; i < servers->n; i++) {
		client->servers[i] = netconn_parse(servers->items[i], &why);
		if (client->servers[i] == NULL) {
			*error_r = xasprintf("clamd server \"%s\": %s",
			    servers->items[i], why);
			free(why);
			clamav_clamd_free(&client);
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
	for (i = 0; i < client->n; i++)
		netconn_addr_free(&client->servers[i]);
	free(client->servers);
	free(client);
	*clientp = NULL;
}

/* clamd_connect - connect conv to its server; false with conv->why */
static bool
clamd_connect(struct clamd_conv *conv)
{
	const char *why;

	conv->fd = netconn_connect(conv->srv, conv->deadline, conv->nwhy,
	    sizeof(conv->nwhy), &why);
	if (conv->fd < 0)
		clamd_fail(conv, "%s", why);
	return conv->fd >= 0;
}

/*
 * clamd_read_reply - read until a NUL or the end of the connection into
 * conv->reply (NUL-terminated; every byte that is not printable ASCII
 * made '?', as the text may end up in a log or an SMTP reply);
 * CLAMD_DONE, or CLAMD_FAILED with conv->why. With a deadline that has
 * passed, only what has arrived already counts.
 */
static enum clamd_outcome
clamd_read_reply(struct clamd_conv *conv, double deadline)
{
	size_t len = 0, i;
	const char *why;
	ssize_t n;
	char *nul;

	for (;;) {
		if (len == sizeof(conv->reply) - 1)
			return clamd_fail(conv, "reply longer than %zu bytes",
			    sizeof(conv->reply) - 1);
		n = netconn_recv(conv->fd, conv->reply + len,
		    sizeof(conv->reply) - 1 - len, deadline, conv->nwhy,
		    sizeof(conv->nwhy), &why);
		if (n == 0)
			break;
		if (n < 0 && errno == ETIMEDOUT)
			return clamd_fail(conv, "%s", deadline ==
			    conv->deadline ? "timed out waiting for the reply" :
			    "no reply");
		if (n < 0)
			return clamd_fail(conv, "%s", why);
		nul = memchr(conv->reply + len, '\0', (size_t)n);
		len += (size_t)n;
		if (nul != NULL) {
			len = (size_t)(nul - conv->reply);
			break;
		}
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
	char failed[sizeof(conv->nwhy)];
	const char *why;

	if (netconn_send(conv->fd, buf, len, conv->deadline, conv->nwhy,
	    sizeof(conv->nwhy), &why))
		return CLAMD_DONE;
	if (errno == ETIMEDOUT)
		return clamd_fail(conv, "timed out sending the message");
	snprintf(failed, sizeof(failed), "%s", why);
	/* it may have said why; a server that stopped reading but is
	 * still there would only make us wait */
	if (clamd_read_reply(conv, clamd_now()) == CLAMD_DONE)
		return clamd_fail(conv, "%s", conv->reply);
	return clamd_fail(conv, "%s", failed);
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
	return clamd_read_reply(conv, conv->deadline);
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
		    netconn_name(client->servers[i + 1]));
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
		conv.srv = client->servers[i];
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
		conv.srv = client->servers[i];
		conv.fd = -1;
		if (!clamd_connect(&conv))
			o = CLAMD_FAILED;
		else if ((o = clamd_send(&conv, (const unsigned char *)cmd,
		    sizeof(cmd))) == CLAMD_DONE)
			o = clamd_read_reply(&conv, conv.deadline);
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
