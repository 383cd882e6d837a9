/*
 * greyload.c - greylisting decisions as load: SMTP through an MTA, the
 * Postfix policy protocol to a policy server, or the milter protocol to
 * a milter, all asking about the same triplets
 *
 * Usage:
 *	greyload -P smtp|policy|milter [-s sessions] [-m messages]
 *	    [-r messages-per-session] [-u tag] [-d domain] [-t recipient]
 *	    [-H helo] [-e defer|pass] [-g text] SERVER
 *
 * SERVER is HOST:PORT (IPv4), or unix:PATH for policy and milter.
 *
 * Message n (counted from 0) is the triplet of client 198.18.(n/250).
 * (n%250+1) (RFC 2544's benchmarking range; the address only travels
 * inside the protocol, every connection is to SERVER), sender
 * bench@mN.TAG.DOMAIN and the recipient -t: the sequence smtpload -u
 * makes. The sender's domain carries n because greylisters rewrite the
 * digits of local parts (VERP tags) to one key. The same -u and -m thus
 * ask the same questions of any server, and a new tag asks new ones.
 *
 * Each of -s threads asks until -m decisions were made, one per message:
 *	smtp	one SMTP session per -r messages (default 1), as a client of
 *		Postfix would: greeting, EHLO, XCLIENT ADDR=, EHLO, then for
 *		each message MAIL, RCPT (and RSET when another follows), then
 *		QUIT (smtpd_authorized_xclient_hosts must name the client);
 *		each RCPT reply is a decision
 *	policy	one persistent connection per thread, as each Postfix smtpd
 *		keeps one: a smtpd_access_policy request at RCPT per message
 *		with the attributes Postfix sends; the action is the decision
 *		(-r changes nothing: every request is on the same connection)
 *	milter	one milter session per -r messages, as Postfix opens one per
 *		SMTP session: negotiate (version 6), connect, helo, then for
 *		each message mail, rcpt with Postfix's default macros and
 *		abort (Postfix sends it at RSET, and at QUIT within a
 *		transaction), then quit; each reply to rcpt is a decision
 * A session takes the next -r message numbers (the last session what is
 * left of -m) and presents the client address of the first of them
 * throughout. When -r divides 250 that address is in the /24 of each of
 * its messages, so greylisters keying on /24 networks see the same
 * triplets as -P policy asks about.
 *
 * -e says what every decision must be: defer (the default; a 4xx reply,
 * a DEFER action or a milter 4xx reply, whose text must contain -g,
 * "greylist" unless told, in any case, so that a failing server's
 * temporary error never counts as a decision) or pass (250, an action
 * that is no refusal, milter continue or accept). Anything else ends the
 * run with the message number, the step and what came back on stderr
 * and exit status 1. Output: "name: value" lines (messages, seconds,
 * rate).
 *
 * A bench tool, not part of the product: libc and pthreads only.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define GL_IN_SIZE		8192
#define GL_OUT_SIZE		8192
#define GL_ERR_SIZE		512

/* Milter protocol: commands, version, what the MTA offers. */
#define GL_MILTER_VERSION	6
#define GL_MILTER_ACTIONS	0x1ffU
#define GL_MILTER_STEPS		0x1fffffU
#define GL_NOCONNECT		0x000001U
#define GL_NOHELO		0x000002U
#define GL_NOMAIL		0x000004U
#define GL_NORCPT		0x000008U
#define GL_NR_CONN		0x001000U
#define GL_NR_HELO		0x002000U
#define GL_NR_MAIL		0x004000U
#define GL_NR_RCPT		0x008000U

enum gl_proto {
	GL_SMTP,
	GL_POLICY,
	GL_MILTER,
};

static const char *const gl_proto_names[] = {
	[GL_SMTP] = "smtp",
	[GL_POLICY] = "policy",
	[GL_MILTER] = "milter",
};

struct gl_load {
	enum gl_proto proto;
	struct sockaddr_storage server;
	socklen_t server_len;
	unsigned long messages;
	unsigned long per_session;	/* -r: messages per session */
	const char *tag;
	const char *domain;
	const char *recipient;
	const char *helo;
	const char *defer_text;
	bool want_pass;
	atomic_ulong next;
	atomic_bool failed;
};

/* One thread's connection and buffers. */
struct gl_conn {
	struct gl_load *L;
	int fd;
	unsigned index;
	char in[GL_IN_SIZE];
	size_t have;
	unsigned char out[GL_OUT_SIZE];
	size_t olen;
	uint32_t steps;			/* milter: what the filter negotiated */
	char err[GL_ERR_SIZE];
};

/* One message's triplet. */
struct gl_triplet {
	unsigned long n;
	char ip[32];
	char sender[256];
	char qid[32];
};

/* gl_die - report a setup error and exit */
static void
gl_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("greyload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* gl_fail - record the first reason of a failed message; always false */
static bool
gl_fail(struct gl_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(c->err, sizeof(c->err), fmt, ap);
		va_end(ap);
	}
	return false;
}

/* gl_triplet - the triplet of message n */
static void
gl_triplet(const struct gl_load *L, unsigned long n, struct gl_triplet *t)
{
	t->n = n;
	snprintf(t->ip, sizeof(t->ip), "198.18.%lu.%lu", n / 250 % 256,
	    n % 250 + 1);
	snprintf(t->sender, sizeof(t->sender), "bench@m%lu.%s.%s", n, L->tag,
	    L->domain);
	snprintf(t->qid, sizeof(t->qid), "GL%lX", n);
}

/* gl_next - the triplet of a session's next message: the next number,
 * from the session's client */
static void
gl_next(const struct gl_load *L, struct gl_triplet *t)
{
	char ip[sizeof(t->ip)];

	memcpy(ip, t->ip, sizeof(ip));
	gl_triplet(L, t->n + 1, t);
	memcpy(t->ip, ip, sizeof(ip));
}

/* gl_contains - whether text contains word, in any case */
static bool
gl_contains(const char *text, const char *word)
{
	size_t len = strlen(word);

	for (; *text != '\0'; text++)
		if (strncasecmp(text, word, len) == 0)
			return true;
	return len == 0;
}

/* gl_connect - a new connection to the server; false on error */
static bool
gl_connect(struct gl_conn *c)
{
	const struct gl_load *L = c->L;
	int one = 1;

	c->have = c->olen = 0;
	c->fd = socket(L->server.ss_family, SOCK_STREAM, 0);
	if (c->fd < 0)
		return gl_fail(c, "socket: %s", strerror(errno));
	if (L->server.ss_family == AF_INET)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)&L->server,
	    L->server_len) != 0) {
		gl_fail(c, "connect: %s", strerror(errno));
		close(c->fd);
		c->fd = -1;
		return false;
	}
	return true;
}

/* gl_disconnect - close the connection if there is one */
static void
gl_disconnect(struct gl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* gl_write - write all of len bytes; false on error */
static bool
gl_write(struct gl_conn *c, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(c->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return gl_fail(c, "write: %s", n < 0 ?
			    strerror(errno) : "nothing written");
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* gl_flush - send what gl_put collected */
static bool
gl_flush(struct gl_conn *c)
{
	bool ok = gl_write(c, c->out, c->olen);

	c->olen = 0;
	return ok;
}

/* gl_put - collect bytes to send; what needs no reply goes out with
 * what does, in one write */
static bool
gl_put(struct gl_conn *c, const void *data, size_t len)
{
	if (len == 0)
		return true;
	if (c->olen + len > sizeof(c->out) && !gl_flush(c))
		return false;
	if (len > sizeof(c->out))
		return gl_write(c, data, len);
	memcpy(c->out + c->olen, data, len);
	c->olen += len;
	return true;
}

/* gl_fill - read more input; false on EOF or error */
static bool
gl_fill(struct gl_conn *c, const char *what)
{
	ssize_t n;

	if (c->have == sizeof(c->in))
		return gl_fail(c, "%s: more than %zu bytes", what,
		    sizeof(c->in));
	do
		n = read(c->fd, c->in + c->have, sizeof(c->in) - c->have);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return gl_fail(c, "%s: %s", what, n < 0 ? strerror(errno) :
		    "connection closed");
	c->have += (size_t)n;
	return true;
}

/* gl_take - remove the first len bytes of the input */
static void
gl_take(struct gl_conn *c, size_t len)
{
	c->have -= len;
	memmove(c->in, c->in + len, c->have);
}

/* gl_line - one input line without its line end, as a string in line */
static bool
gl_line(struct gl_conn *c, char *line, size_t size, const char *what)
{
	char *nl;

	while ((nl = memchr(c->in, '\n', c->have)) == NULL)
		if (!gl_fill(c, what))
			return false;
	size_t len = (size_t)(nl - c->in), keep = len;

	if (keep > 0 && c->in[keep - 1] == '\r')
		keep--;
	if (keep >= size)
		keep = size - 1;
	memcpy(line, c->in, keep);
	line[keep] = '\0';
	gl_take(c, len + 1);
	return true;
}

/* --- SMTP ----------------------------------------------------------------- */

/* gl_smtp_reply - read a (multi-line) reply; true when its code starts
 * with one of the digits of want and (unless NULL) its last line has
 * text */
static bool
gl_smtp_reply(struct gl_conn *c, const char *want, const char *text,
    const char *step)
{
	char line[1024];

	do {
		if (!gl_line(c, line, sizeof(line), step))
			return false;
	} while (strlen(line) > 3 && line[3] == '-');
	if (line[0] == '\0' || strchr(want, line[0]) == NULL ||
	    (text != NULL && !gl_contains(line, text)))
		return gl_fail(c, "%s: %s", step, line);
	return true;
}

/* gl_smtp_step - send a command and expect a reply class (and text,
 * unless NULL) */
static bool
gl_smtp_step(struct gl_conn *c, const char *want, const char *text,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static bool
gl_smtp_step(struct gl_conn *c, const char *want, const char *text,
    const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) - 2)
		return gl_fail(c, "command too long");
	cmd[n] = '\0';
	memcpy(cmd + n, "\r\n", 3);
	if (!gl_write(c, cmd, (size_t)n + 2))
		return false;
	cmd[n] = '\0';
	return gl_smtp_reply(c, want, text, cmd);
}

/* gl_smtp - one SMTP session of count messages, from message t on (t
 * ends as the last one asked); each RCPT reply is a decision */
static bool
gl_smtp(struct gl_conn *c, struct gl_triplet *t, unsigned long count)
{
	const struct gl_load *L = c->L;
	bool ok;

	if (!gl_connect(c))
		return false;
	ok = gl_smtp_reply(c, "2", NULL, "greeting") &&
	    gl_smtp_step(c, "2", NULL, "EHLO %s", L->helo) &&
	    gl_smtp_step(c, "2", NULL, "XCLIENT ADDR=%s", t->ip) &&
	    gl_smtp_step(c, "2", NULL, "EHLO %s", L->helo);
	for (unsigned long i = 0; ok && i < count; i++) {
		if (i > 0)
			gl_next(L, t);
		ok = gl_smtp_step(c, "2", NULL, "MAIL FROM:<%s>", t->sender) &&
		    gl_smtp_step(c, L->want_pass ? "2" : "4", L->want_pass ?
		    NULL : L->defer_text, "RCPT TO:<%s>", L->recipient) &&
		    (i + 1 == count || gl_smtp_step(c, "2", NULL, "RSET"));
	}
	ok = ok && gl_smtp_step(c, "2", NULL, "QUIT");
	gl_disconnect(c);
	return ok;
}

/* --- policy --------------------------------------------------------------- */

/* gl_policy_refusal - whether an action refuses (or defers) the mail */
static bool
gl_policy_refusal(const char *action)
{
	static const char *const words[] = {
		"DEFER", "DEFER_IF_PERMIT", "DEFER_IF_REJECT", "REJECT",
		"NEED_", "HOLD", "DISCARD", NULL,
	};

	if ((action[0] == '4' || action[0] == '5') && action[1] >= '0' &&
	    action[1] <= '9')
		return true;
	for (size_t i = 0; words[i] != NULL; i++)
		if (strncasecmp(action, words[i], strlen(words[i])) == 0)
			return true;
	return false;
}

/* gl_policy - one smtpd_access_policy request at RCPT on the thread's
 * connection (opened when there is none) */
static bool
gl_policy(struct gl_conn *c, const struct gl_triplet *t)
{
	const struct gl_load *L = c->L;
	char req[2048], line[1024], action[1024] = "";
	bool defer;
	int n;

	if (c->fd < 0 && !gl_connect(c))
		return false;
	n = snprintf(req, sizeof(req),
	    "request=smtpd_access_policy\nprotocol_state=RCPT\n"
	    "protocol_name=ESMTP\nhelo_name=%s\nqueue_id=\n"
	    "sender=%s\nrecipient=%s\nrecipient_count=0\n"
	    "client_address=%s\nclient_name=unknown\nclient_port=%lu\n"
	    "reverse_client_name=unknown\nserver_address=127.0.0.1\n"
	    "server_port=25\ninstance=%x.%lx.0\nsasl_method=\n"
	    "sasl_username=\nsasl_sender=\nsize=0\nccert_subject=\n"
	    "ccert_issuer=\nccert_fingerprint=\n"
	    "ccert_pubkey_fingerprint=\nencryption_protocol=\n"
	    "encryption_cipher=\nencryption_keysize=0\netrn_domain=\n"
	    "stress=\ncompatibility_level=3.6\nmail_version=3.7.11\n\n",
	    L->helo, t->sender, L->recipient, t->ip, 10000 + t->n % 50000,
	    c->index, t->n);
	if (n < 0 || (size_t)n >= sizeof(req))
		return gl_fail(c, "request too long");
	if (!gl_write(c, req, (size_t)n))
		return false;
	for (;;) {
		if (!gl_line(c, line, sizeof(line), "policy reply"))
			return false;
		if (line[0] == '\0')
			break;
		if (strncmp(line, "action=", 7) == 0)
			snprintf(action, sizeof(action), "%s", line + 7);
	}
	if (action[0] == '\0')
		return gl_fail(c, "policy reply without an action");
	defer = gl_policy_refusal(action);
	if (defer == L->want_pass || (defer && ((strncasecmp(action,
	    "DEFER", 5) != 0 && action[0] != '4') ||
	    !gl_contains(action, L->defer_text))))
		return gl_fail(c, "policy action: %s", action);
	return true;
}

/* --- milter --------------------------------------------------------------- */

/* gl_milter_packet - queue one packet: length, command, data */
static bool
gl_milter_packet(struct gl_conn *c, char cmd, const void *data, size_t len)
{
	uint32_t nlen = htonl((uint32_t)len + 1);

	return gl_put(c, &nlen, 4) && gl_put(c, &cmd, 1) &&
	    gl_put(c, data, len);
}

/* gl_milter_macros - queue a macro packet for event cmd: name, value
 * pairs given as a NULL-ended list */
static bool
gl_milter_macros(struct gl_conn *c, char cmd, ...)
{
	char buf[1024];
	size_t len = 0;
	const char *s;
	va_list ap;

	buf[len++] = cmd;
	va_start(ap, cmd);
	while ((s = va_arg(ap, const char *)) != NULL) {
		size_t l = strlen(s) + 1;

		if (len + l > sizeof(buf)) {
			va_end(ap);
			return gl_fail(c, "macros too long");
		}
		memcpy(buf + len, s, l);
		len += l;
	}
	va_end(ap);
	return gl_milter_packet(c, 'D', buf, len);
}

/* gl_milter_read - read one packet: *cmd_r, data in *data_r (points
 * into the input buffer until the next read), *len_r; the caller takes
 * it with gl_take(c, 5 + *len_r) */
static bool
gl_milter_read(struct gl_conn *c, const char *what, char *cmd_r,
    const char **data_r, size_t *len_r)
{
	uint32_t nlen;

	while (c->have < 5)
		if (!gl_fill(c, what))
			return false;
	memcpy(&nlen, c->in, 4);
	nlen = ntohl(nlen);
	if (nlen == 0 || nlen > sizeof(c->in) - 4)
		return gl_fail(c, "%s: packet length %u", what, nlen);
	while (c->have < 4 + (size_t)nlen)
		if (!gl_fill(c, what))
			return false;
	*cmd_r = c->in[4];
	*data_r = c->in + 5;
	*len_r = nlen - 1;
	return true;
}

/* gl_milter_reply - send what is queued and read the reply to an event,
 * skipping progress packets; the final reply's command in *cmd_r, and
 * for 'y' its text in text (size bytes; else "") */
static bool
gl_milter_reply(struct gl_conn *c, const char *what, char *cmd_r,
    char *text, size_t size)
{
	const char *data;
	size_t len;

	if (!gl_flush(c))
		return false;
	for (;;) {
		if (!gl_milter_read(c, what, cmd_r, &data, &len))
			return false;
		if (*cmd_r == 'y')
			snprintf(text, size, "%.*s", (int)strnlen(data, len),
			    data);
		else
			text[0] = '\0';
		gl_take(c, 5 + len);
		if (*cmd_r != 'p')
			return true;
	}
}

/* gl_milter_event - an event the filter may have negotiated away (skip)
 * or answer without a reply (noreply); anything but continue is an
 * error before RCPT */
static bool
gl_milter_event(struct gl_conn *c, const char *what, char cmd,
    const void *data, size_t len, uint32_t skip, uint32_t noreply)
{
	char r, text[512];

	if ((c->steps & skip) != 0)
		return true;
	if (!gl_milter_packet(c, cmd, data, len))
		return false;
	if ((c->steps & noreply) != 0)
		return true;
	if (!gl_milter_reply(c, what, &r, text, sizeof(text)))
		return false;
	if (r != 'c')
		return gl_fail(c, "%s: reply '%c' %s", what, r, text);
	return true;
}

/* gl_milter_negotiate - offer version 6 with every action and step;
 * keep the steps the filter asked for */
static bool
gl_milter_negotiate(struct gl_conn *c)
{
	uint32_t offer[3] = {
		htonl(GL_MILTER_VERSION), htonl(GL_MILTER_ACTIONS),
		htonl(GL_MILTER_STEPS),
	};
	const char *data;
	size_t len;
	char cmd;

	if (!gl_milter_packet(c, 'O', offer, sizeof(offer)) || !gl_flush(c) ||
	    !gl_milter_read(c, "negotiation", &cmd, &data, &len))
		return false;
	if (cmd != 'O' || len < 12)
		return gl_fail(c, "negotiation: reply '%c' of %zu bytes", cmd,
		    len);
	memcpy(&c->steps, data + 8, 4);
	c->steps = ntohl(c->steps);
	gl_take(c, 5 + len);
	if ((c->steps & (GL_NORCPT | GL_NR_RCPT)) != 0)
		return gl_fail(c, "the filter does not answer RCPT "
		    "(steps 0x%x)", c->steps);
	return true;
}

/* gl_milter_message - one transaction of a milter session: mail, rcpt
 * (whose reply is the decision), abort */
static bool
gl_milter_message(struct gl_conn *c, const struct gl_triplet *t)
{
	const struct gl_load *L = c->L;
	char from[300], rcpt[300], r, text[512];
	bool ok;

	snprintf(from, sizeof(from), "<%s>", t->sender);
	snprintf(rcpt, sizeof(rcpt), "<%s>", L->recipient);
	ok = ((c->steps & GL_NOMAIL) != 0 || gl_milter_macros(c, 'M', "i",
	    t->qid, "{mail_addr}", t->sender, "{mail_mailer}", "smtp",
	    (char *)NULL)) &&
	    gl_milter_event(c, "mail", 'M', from, strlen(from) + 1, GL_NOMAIL,
	    GL_NR_MAIL) &&
	    gl_milter_macros(c, 'R', "i", t->qid, "{rcpt_addr}", L->recipient,
	    "{rcpt_mailer}", "smtp", (char *)NULL) &&
	    gl_milter_packet(c, 'R', rcpt, strlen(rcpt) + 1) &&
	    gl_milter_reply(c, "rcpt", &r, text, sizeof(text));
	if (ok) {
		bool defer = (r == 't' && L->defer_text[0] == '\0') ||
		    (r == 'y' && text[0] == '4' &&
		    gl_contains(text, L->defer_text));
		bool pass = r == 'c' || r == 'a';

		if (L->want_pass ? !pass : !defer)
			ok = gl_fail(c, "rcpt: reply '%c' %s", r, text);
	}
	/* as an MTA ends a transaction after a refused recipient; abort
	 * has no reply, so it travels with what comes next */
	return ok && gl_milter_packet(c, 'A', NULL, 0);
}

/* gl_milter - one milter session of count messages, from message t on
 * (t ends as the last one asked); each reply to rcpt is a decision */
static bool
gl_milter(struct gl_conn *c, struct gl_triplet *t, unsigned long count)
{
	const struct gl_load *L = c->L;
	char buf[512], name[64];
	uint16_t port = htons((uint16_t)(10000 + t->n % 50000));
	size_t len;
	bool ok;

	if (!gl_connect(c))
		return false;
	snprintf(name, sizeof(name), "[%s]", t->ip);
	/* connect: hostname, family, port, address */
	len = strlen(name) + 1;
	memcpy(buf, name, len);
	buf[len++] = '4';
	memcpy(buf + len, &port, 2);
	len += 2;
	memcpy(buf + len, t->ip, strlen(t->ip) + 1);
	len += strlen(t->ip) + 1;
	ok = gl_milter_negotiate(c) &&
	    ((c->steps & GL_NOCONNECT) != 0 || gl_milter_macros(c, 'C',
	    "j", "mx.example.com", "{daemon_name}", "mx", "v", "Postfix",
	    "_", name, "{client_addr}", t->ip, (char *)NULL)) &&
	    gl_milter_event(c, "connect", 'C', buf, len, GL_NOCONNECT,
	    GL_NR_CONN) &&
	    gl_milter_event(c, "helo", 'H', L->helo, strlen(L->helo) + 1,
	    GL_NOHELO, GL_NR_HELO);
	for (unsigned long i = 0; ok && i < count; i++) {
		if (i > 0)
			gl_next(L, t);
		ok = gl_milter_message(c, t);
	}
	ok = ok && gl_milter_packet(c, 'Q', NULL, 0) && gl_flush(c);
	gl_disconnect(c);
	return ok;
}

/* --- the run -------------------------------------------------------------- */

/* gl_thread - sessions until the message count is reached */
static void *
gl_thread(void *arg)
{
	struct gl_conn *c = arg;
	struct gl_load *L = c->L;
	unsigned long step = L->proto == GL_POLICY ? 1 : L->per_session;
	unsigned long count;
	struct gl_triplet t;
	bool ok;

	while (!atomic_load(&L->failed)) {
		unsigned long n = atomic_fetch_add(&L->next, step);

		if (n >= L->messages)
			break;
		count = L->messages - n < step ? L->messages - n : step;
		gl_triplet(L, n, &t);
		switch (L->proto) {
		case GL_SMTP:
			ok = gl_smtp(c, &t, count);
			break;
		case GL_POLICY:
			ok = gl_policy(c, &t);
			break;
		default:
			ok = gl_milter(c, &t, count);
			break;
		}
		/* only the first failure is told: the others are its echo */
		if (!ok && !atomic_exchange(&L->failed, true))
			fprintf(stderr, "greyload: %s message %lu (%s %s): "
			    "%s\n", gl_proto_names[L->proto], t.n, t.ip,
			    t.sender, c->err);
	}
	gl_disconnect(c);
	return NULL;
}

/* gl_server - HOST:PORT or unix:PATH into L->server */
static void
gl_server(struct gl_load *L, const char *spec)
{
	memset(&L->server, 0, sizeof(L->server));
	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&L->server;

		if (strlen(spec + 5) >= sizeof(sun->sun_path))
			gl_die("socket path too long: %s", spec + 5);
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, spec + 5);
		L->server_len = sizeof(*sun);
		return;
	}

	struct sockaddr_in *sin = (struct sockaddr_in *)&L->server;
	const char *colon = strrchr(spec, ':');
	char host[64];

	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
		gl_die("bad server %s (HOST:PORT or unix:PATH)", spec);
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	sin->sin_family = AF_INET;
	sin->sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		gl_die("bad server address %s", host);
	L->server_len = sizeof(*sin);
}

/* gl_proto - a protocol name */
static enum gl_proto
gl_proto(const char *name)
{
	for (size_t i = 0; i < sizeof(gl_proto_names) /
	    sizeof(gl_proto_names[0]); i++)
		if (strcmp(name, gl_proto_names[i]) == 0)
			return (enum gl_proto)i;
	gl_die("unknown protocol %s (smtp, policy, milter)", name);
	return GL_SMTP;
}

/* main - parse options, run the threads, print the figures */
int
main(int argc, char **argv)
{
	static struct gl_load L = {
		.messages = 1000, .per_session = 1, .tag = "t0",
		.domain = "bench.example.net",
		.recipient = "user@ours.example", .helo = "client.example",
		.defer_text = "greylist",
	};
	unsigned long sessions = 10;
	bool have_proto = false;
	struct timespec t0, t1;
	struct gl_conn *conns;
	pthread_t *tids;
	int opt;

	while ((opt = getopt(argc, argv, "P:s:m:r:u:d:t:H:e:g:")) != -1) {
		switch (opt) {
		case 'P': L.proto = gl_proto(optarg); have_proto = true; break;
		case 's': sessions = strtoul(optarg, NULL, 10); break;
		case 'm': L.messages = strtoul(optarg, NULL, 10); break;
		case 'r': L.per_session = strtoul(optarg, NULL, 10); break;
		case 'u': L.tag = optarg; break;
		case 'd': L.domain = optarg; break;
		case 't': L.recipient = optarg; break;
		case 'H': L.helo = optarg; break;
		case 'g': L.defer_text = optarg; break;
		case 'e':
			if (strcmp(optarg, "pass") != 0 &&
			    strcmp(optarg, "defer") != 0)
				gl_die("-e defer or -e pass");
			L.want_pass = strcmp(optarg, "pass") == 0;
			break;
		default: gl_die("usage: greyload -P smtp|policy|milter "
		    "[-s sessions] [-m messages] [-r messages-per-session] "
		    "[-u tag] [-d domain] [-t recipient] [-H helo] "
		    "[-e defer|pass] [-g text] SERVER");
		}
	}
	if (!have_proto || optind != argc - 1 || sessions == 0 ||
	    sessions > 1000)
		gl_die("-P, one SERVER and 1 to 1000 sessions");
	if (L.per_session == 0 || L.per_session > 100000)
		gl_die("-r: 1 to 100000 messages per session");
	gl_server(&L, argv[optind]);
	if (L.proto == GL_SMTP && L.server.ss_family != AF_INET)
		gl_die("smtp needs HOST:PORT");
	tids = calloc(sessions, sizeof(*tids));
	conns = calloc(sessions, sizeof(*conns));
	if (tids == NULL || conns == NULL)
		gl_die("out of memory");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < sessions; i++) {
		conns[i].L = &L;
		conns[i].fd = -1;
		conns[i].index = (unsigned)i;
		if (pthread_create(&tids[i], NULL, gl_thread, &conns[i]) != 0)
			gl_die("cannot start thread %lu", i);
	}
	for (unsigned long i = 0; i < sessions; i++)
		pthread_join(tids[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("messages: %lu\nseconds: %.3f\nrate: %.1f\n", L.messages, secs,
	    (double)L.messages / secs);
	free(tids);
	free(conns);
	return atomic_load(&L.failed) ? 1 : 0;
}
