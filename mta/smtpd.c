/*
 * smtpd.c - SMTP sessions: the RFC 5321 dialogue on an event loop
 *
 * A session is a state machine fed by its socket. Commands are read
 * from an input buffer, looked up in smtpd_commands (the verb table
 * below), checked, then filtered (milters), then carried out. Work that
 * blocks (milters, AUTH password checks, the queue file) runs as a job
 * on the loop's threads; the session is "busy" meanwhile and reads no
 * input, and the job's done() resumes it. Replies collect in an output
 * buffer that is flushed when no complete command is left to read
 * (RFC 2920: replies to a pipelined group go out together).
 *
 * Input rules that stop abuse before it costs anything: a command line
 * longer than line_length_limit is refused and skipped; a client that
 * sends ahead where it must wait (before the greeting, without
 * PIPELINING, or after a command that ends a group) gets "554 5.5.0"
 * and is disconnected; errors and junk commands are counted.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "arena.h"
#include "auth.h"
#include "buf.h"
#include "cleanup.h"
#include "data_scan.h"
#include "log.h"
#include "mem.h"
#include "message.h"
#include "milters.h"
#include "relay_guard.h"
#include "smtp_parse.h"
#include "smtpd.h"
#include "tls.h"

#define SMTPD_READ_SIZE		16384
#define SMTPD_KEEP_BUF		1024	/* buffers above this are freed when
					   empty */
#define SMTPD_VERSION		"Postern " PACKAGE_VERSION

enum session_state {
	SS_GREET_PAUSE,		/* "220-" sent, waiting before "220 " */
	SS_COMMAND,		/* reading commands */
	SS_DATA,		/* reading DATA content */
	SS_BDAT,		/* reading a BDAT chunk */
	SS_AUTH,		/* reading an AUTH response line */
	SS_TLS,			/* TLS handshake */
	SS_CLOSING,		/* flushing the last reply, then close */
};

struct smtpd_listener {
	struct smtpd *sd;
	int fd;
	const struct mta_listener *ml;
	struct evloop_watch *watch;
};

struct session;

struct smtpd {
	struct evloop *loop;
	const struct mta_conf *conf;
	struct queue *queue;
	struct anvil *anvil;
	struct smtpd_listener *listeners;
	size_t n_listeners;
	struct session *sessions;	/* list */
	size_t n_sessions;
	bool stopping;
	struct evloop_timer *stop_timer;
	char rbuf[SMTPD_READ_SIZE];	/* every read lands here first */
};

typedef void session_job_fn(struct session *s);

struct session {
	struct smtpd *sd;
	struct session *next, *prev;
	int fd;
	struct evloop_watch *watch;
	struct evloop_timer *timer;
	enum mta_service service;
	enum session_state state;
	struct arena *conn_arena, *msg_arena;
	/* the client */
	struct inet_addr addr;
	bool have_addr;
	char addr_text[INET_TEXT_MAX];
	unsigned port;
	char family;			/* milter: '4', '6', 'U' */
	const char *name;		/* no reverse lookup: "unknown" */
	bool trusted;			/* in mynetworks */
	/* buffers */
	struct buf in;
	size_t in_off;
	struct buf out;
	size_t out_off;
	bool eof;			/* the client closed its side */
	/* TLS */
	struct tls_conn *tls;
	bool tls_read_wants_write, tls_write_wants_read;
	/* session */
	bool ehlo;
	const char *helo;
	const char *auth_user;
	struct auth_exchange authx;
	unsigned errors, junk;
	const char *session_reply;	/* a milter refused the session */
	struct milters *milters;
	/* transaction */
	bool in_mail;
	struct smtp_mail mail;
	struct message *msg;
	char qid[QUEUE_ID_LEN + 1];
	const char *rcpt_addr;		/* for the rcpt macros */
	bool rcpt_rejected;
	const char *rcpt_reply;
	struct data_scan scan;
	bool scanning;
	bool bdat_mode, bdat_last, bdat_failed;
	const char *bdat_refusal;
	const char *discard;		/* a milter discarded the message
					   before its end: by whom */
	uint64_t bdat_left;
	uint64_t data_start_ms, data_bytes;
	/* a command waiting for its job */
	bool busy;
	bool dead;			/* the socket broke during a job */
	session_job_fn *job_work, *job_done;
	const char **argv;
	const char *job_arg;
	struct milters_result mres;
	struct cleanup_result cres;
	bool auth_ok;
	bool anvil_counted;
	bool implicit_tls;		/* submissions: greet after TLS */
	bool greet_paused;
	bool skip_line;			/* dropping the rest of a long line */
};

/* --- small helpers --------------------------------------------------- */

/* session_now - the loop's clock in ms */
static uint64_t
session_now(const struct session *s)
{
	return evloop_now(s->sd->loop);
}

/* session_reply - append one reply line (or lines with CR LF between)
 * and count it as an error when it is 4xx or 5xx */
static void __attribute__((format(printf, 2, 3)))
session_reply(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	buf_puts(&s->out, "\r\n");
}

/* session_error - a 4xx/5xx reply that counts toward hard_error_limit */
static void __attribute__((format(printf, 2, 3)))
session_error(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	buf_puts(&s->out, "\r\n");
	s->errors++;
}

/* session_qid - the queue id for log lines, or NULL (NOQUEUE) */
static const char *
session_qid(const struct session *s)
{
	return s->qid[0] ? s->qid : NULL;
}

/* session_client - "name[addr]" for the log */
static const char *
session_client(const struct session *s)
{
	return arena_printf(s->conn_arena, "%s[%s]", s->name, s->addr_text);
}

static void session_update_watch(struct session *s);
static void session_process(struct session *s);
static void session_close(struct session *s);
static void session_flush(struct session *s);
static void session_tls_begin(struct session *s);
static void smtpd_greet(struct session *s);
static void session_destroy(struct session *s);

/* session_reap - at the end of every event: free a dead session unless
 * a job still uses it */
static void
session_reap(struct session *s)
{
	if (s->dead && !s->busy)
		session_destroy(s);
}

/* session_closing - send what is buffered, then close */
static void
session_closing(struct session *s)
{
	s->state = SS_CLOSING;
	session_flush(s);
}

/* --- I/O ----------------------------------------------------------- */

/* session_write_some - write from out; false when the socket broke */
static bool
session_write_some(struct session *s)
{
	while (s->out_off < s->out.len) {
		ssize_t n;

		if (s->tls != NULL) {
			n = tls_write(s->tls, s->out.data + s->out_off,
			    s->out.len - s->out_off);
			s->tls_write_wants_read = n == TLS_WANT_READ;
			if (n == TLS_WANT_READ || n == TLS_WANT_WRITE)
				return true;
			if (n < 0)
				return false;
		} else {
			n = write(s->fd, s->out.data + s->out_off,
			    s->out.len - s->out_off);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return true;
			if (n < 0)
				return false;
		}
		s->out_off += (size_t)n;
	}
	buf_reset(&s->out);
	s->out_off = 0;
	return true;
}

/* session_flush - write what can be written now; the rest on EPOLLOUT */
static void
session_flush(struct session *s)
{
	if (!session_write_some(s)) {
		s->dead = true;
		if (!s->busy)
			session_close(s);
		return;
	}
	if (s->state == SS_CLOSING && s->out.len == 0 && !s->busy) {
		session_close(s);
		return;
	}
	session_update_watch(s);
}

/* session_read_some - read what is there into in; 1 got bytes, 0 none
 * now, -1 EOF or error. Reads go through the worker's one buffer, so an
 * idle session holds only what it has not consumed yet. */
static int
session_read_some(struct session *s)
{
	char *rbuf = s->sd->rbuf;
	ssize_t n;

	if (s->in_off > 0 && s->in_off == s->in.len) {
		buf_reset(&s->in);
		s->in_off = 0;
	} else if (s->in_off > 65536) {
		memmove(s->in.data, s->in.data + s->in_off,
		    s->in.len - s->in_off);
		s->in.len -= s->in_off;
		s->in_off = 0;
	}
	if (s->tls != NULL) {
		n = tls_read(s->tls, rbuf, SMTPD_READ_SIZE);
		s->tls_read_wants_write = n == TLS_WANT_WRITE;
		if (n == TLS_WANT_READ || n == TLS_WANT_WRITE)
			return 0;
		if (n < 0)
			return -1;
	} else {
		n = read(s->fd, rbuf, SMTPD_READ_SIZE);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
	}
	buf_append(&s->in, rbuf, (size_t)n);
	return 1;
}

/* session_trim - give back buffer memory an idle session does not need
 * (1,000 idle sessions must stay small) */
static void
session_trim(struct session *s)
{
	if (s->in_off == s->in.len && s->in.cap > SMTPD_KEEP_BUF) {
		buf_free(&s->in);
		s->in_off = 0;
	}
	if (s->out.len == 0 && s->out.cap > SMTPD_KEEP_BUF)
		buf_free(&s->out);
}

/* session_update_watch - the events this session waits for now */
static void
session_update_watch(struct session *s)
{
	unsigned ev = 0;

	if (s->watch == NULL)
		return;
	if (s->out.len > s->out_off)
		ev |= s->tls_write_wants_read ? EVLOOP_READ : EVLOOP_WRITE;
	if (!s->busy && s->state != SS_CLOSING && !s->eof)
		ev |= s->tls_read_wants_write ? EVLOOP_WRITE : EVLOOP_READ;
	evloop_watch_set(s->watch, ev);
}

/* session_arm_timer - the idle timeout (smtpd_timeout), or during
 * DATA/BDAT the later of that and the min_data_rate allowance */
static void
session_arm_timer(struct session *s)
{
	const struct mta_settings *set = &s->sd->conf->set;
	uint64_t ms = (uint64_t)(set->smtpd_timeout * 1000);

	if ((s->state == SS_DATA || s->state == SS_BDAT) &&
	    set->min_data_rate > 0) {
		/* the whole transfer may take smtpd_timeout plus the time
		 * the data rate allows for what came so far (Postfix's
		 * smtpd_min_data_rate); each read may still wait
		 * smtpd_timeout at most */
		uint64_t deadline = s->data_start_ms + ms +
		    s->data_bytes * 1000 / set->min_data_rate;
		uint64_t now = session_now(s);
		uint64_t left = deadline > now ? deadline - now : 0;

		if (left < ms)
			ms = left;
	}
	evloop_timer_arm(s->timer, ms);
}

/* session_timeout - the client took too long */
static void
session_timeout(struct evloop_timer *t, void *arg)
{
	struct session *s = arg;

	(void)t;
	if (s->busy)
		return;
	if (s->state == SS_TLS) {
		log_info("timeout in the TLS handshake with %s",
		    session_client(s));
		session_close(s);
		return;
	}
	log_msg(LOG_INFO, session_qid(s), "timeout after %s from %s",
	    s->state == SS_DATA || s->state == SS_BDAT ? "DATA" : "command",
	    session_client(s));
	session_reply(s, "421 4.4.2 %s Error: timeout exceeded",
	    s->sd->conf->set.myhostname);
	session_closing(s);
}

/* --- jobs ------------------------------------------------------------- */

/* session_job_work - pool thread */
static void
session_job_work(void *arg)
{
	struct session *s = arg;

	s->job_work(s);
}

/* session_job_done - loop thread: resume the session */
static void
session_job_done(void *arg)
{
	struct session *s = arg;

	s->busy = false;
	if (!s->dead)
		s->job_done(s);
	if (!s->dead)
		session_process(s);
	session_reap(s);
}

/* session_job - run work on a job thread, then done here; the session
 * reads nothing meanwhile */
static void
session_job(struct session *s, session_job_fn *work, session_job_fn *done)
{
	s->busy = true;
	s->job_work = work;
	s->job_done = done;
	evloop_timer_cancel(s->timer);
	session_flush(s);
	if (s->dead && !s->busy)
		return;
	evloop_job_submit(s->sd->loop, session_job_work, session_job_done, s);
}

/* --- milter macros --------------------------------------------------- */

typedef const char *session_macro_fn(struct session *s);

/* the macro functions: each returns NULL when it has no value */
static const char *
macro_j(struct session *s)
{
	return s->sd->conf->set.myhostname;
}

static const char *
macro_daemon_name(struct session *s)
{
	return mta_service_name(s->service);
}

static const char *
macro_v(struct session *s)
{
	(void)s;
	return SMTPD_VERSION;
}

static const char *
macro_underscore(struct session *s)
{
	return arena_printf(s->conn_arena, "%s [%s]", s->name, s->addr_text);
}

static const char *
macro_client_addr(struct session *s)
{
	return s->addr_text;
}

static const char *
macro_client_name(struct session *s)
{
	return s->name;
}

static const char *
macro_client_port(struct session *s)
{
	return arena_printf(s->conn_arena, "%u", s->port);
}

static const char *
macro_tls_version(struct session *s)
{
	return s->tls ? tls_version(s->tls) : NULL;
}

static const char *
macro_cipher(struct session *s)
{
	return s->tls ? tls_cipher(s->tls) : NULL;
}

static const char *
macro_cipher_bits(struct session *s)
{
	return s->tls ? arena_printf(s->conn_arena, "%d",
	    tls_cipher_bits(s->tls)) : NULL;
}

static const char *
macro_i(struct session *s)
{
	return s->qid[0] ? s->qid : NULL;
}

static const char *
macro_auth_type(struct session *s)
{
	return s->auth_user ? auth_mech_name(s->authx.mech) : NULL;
}

static const char *
macro_auth_authen(struct session *s)
{
	return s->auth_user;
}

static const char *
macro_mail_addr(struct session *s)
{
	return s->in_mail ? s->mail.addr : NULL;
}

static const char *
macro_mail_mailer(struct session *s)
{
	return s->in_mail ? "smtp" : NULL;
}

static const char *
macro_mail_host(struct session *s)
{
	return s->in_mail && *s->mail.parsed.domain ? s->mail.parsed.domain :
	    NULL;
}

static const char *
macro_rcpt_addr(struct session *s)
{
	return s->rcpt_rejected ? s->rcpt_reply : s->rcpt_addr;
}

static const char *
macro_rcpt_mailer(struct session *s)
{
	return s->rcpt_addr == NULL ? NULL : s->rcpt_rejected ? "error" :
	    "smtp";
}

static const char *
macro_rcpt_host(struct session *s)
{
	const char *at;

	if (s->rcpt_addr == NULL)
		return NULL;
	if (s->rcpt_rejected)
		/* the enhanced status code, as Postfix sends it */
		return s->rcpt_reply && strlen(s->rcpt_reply) > 10 ?
		    arena_strndup(s->msg_arena, s->rcpt_reply + 4, 5) : NULL;
	at = strrchr(s->rcpt_addr, '@');
	return at ? at + 1 : NULL;
}

static const struct {
	const char *name;
	session_macro_fn *fn;
} session_macros[] = {
	{ "j", macro_j },
	{ "{daemon_name}", macro_daemon_name },
	{ "v", macro_v },
	{ "_", macro_underscore },
	{ "{client_addr}", macro_client_addr },
	{ "{client_name}", macro_client_name },
	{ "{client_port}", macro_client_port },
	{ "{tls_version}", macro_tls_version },
	{ "{cipher}", macro_cipher },
	{ "{cipher_bits}", macro_cipher_bits },
	{ "i", macro_i },
	{ "{auth_type}", macro_auth_type },
	{ "{auth_authen}", macro_auth_authen },
	{ "{mail_addr}", macro_mail_addr },
	{ "{mail_mailer}", macro_mail_mailer },
	{ "{mail_host}", macro_mail_host },
	{ "{rcpt_addr}", macro_rcpt_addr },
	{ "{rcpt_mailer}", macro_rcpt_mailer },
	{ "{rcpt_host}", macro_rcpt_host },
	{ NULL, NULL },
};

/* session_macro - milter_macro_fn over the table (job thread: the
 * session is busy, so nothing else touches it) */
static const char *
session_macro(void *ctx, const char *name)
{
	size_t i;

	for (i = 0; session_macros[i].name != NULL; i++)
		if (strcmp(session_macros[i].name, name) == 0)
			return session_macros[i].fn(ctx);
	return NULL;
}

/* --- transaction state ---------------------------------------------- */

/* session_reset_msg - forget the transaction (RSET, end of message) */
static void
session_reset_msg(struct session *s)
{
	if (s->scanning) {
		data_scan_free(&s->scan);
		s->scanning = false;
	}
	s->in_mail = false;
	s->discard = NULL;
	s->msg = NULL;
	s->qid[0] = '\0';
	s->rcpt_addr = NULL;
	s->rcpt_rejected = false;
	s->bdat_mode = s->bdat_last = s->bdat_failed = false;
	memset(&s->mail, 0, sizeof(s->mail));
	arena_destroy(&s->msg_arena);
	s->msg_arena = arena_create();
}

/* session_milters_on - there are filters still listening */
static bool
session_milters_on(const struct session *s)
{
	return s->milters != NULL && milters_active(s->milters);
}

/* session_abort_milters - the filters forget the message (job-free:
 * abort is one packet without a reply) */
static void
session_abort_milters(struct session *s)
{
	if (s->in_mail && session_milters_on(s))
		milters_abort(s->milters);
}

/* session_protocol - RFC 3848 with-protocol name */
static const char *
session_protocol(const struct session *s)
{
	static const char *const names[2][2][2] = {
		/* [utf8][tls][auth] */
		{ { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
		{ { "UTF8SMTP", "UTF8SMTPA" }, { "UTF8SMTPS", "UTF8SMTPSA" } },
	};

	if (!s->ehlo)
		return "SMTP";
	return names[s->mail.smtputf8][s->tls != NULL][s->auth_user != NULL];
}

/* --- commands ---------------------------------------------------------- */

enum {
	CMD_SYNC = 1 << 0,	/* must be the last of a pipelined group */
	CMD_JUNK = 1 << 1,	/* counts toward junk_command_limit */
	CMD_ANY_STATE = 1 << 2,	/* allowed after a milter refused the
				   session */
};

typedef void smtpd_cmd_fn(struct session *s, const char *args);

struct smtpd_command {
	const char *verb;
	smtpd_cmd_fn *fn;
	unsigned flags;
};

/* smtpd_ehlo_reply - the EHLO keywords we offer now */
static void
smtpd_ehlo_reply(struct session *s)
{
	const struct mta_conf *conf = s->sd->conf;
	bool auth = conf->auth != NULL && s->auth_user == NULL &&
	    (s->tls != NULL || !conf->set.auth_require_tls);

	session_reply(s, "250-%s", conf->set.myhostname);
	session_reply(s, "250-PIPELINING");
	session_reply(s, "250-SIZE %llu",
	    (unsigned long long)conf->set.message_size_limit);
	if (conf->tls != NULL && s->tls == NULL)
		session_reply(s, "250-STARTTLS");
	if (auth)
		session_reply(s, "250-AUTH PLAIN LOGIN");
	session_reply(s, "250-ENHANCEDSTATUSCODES");
	session_reply(s, "250-8BITMIME");
	session_reply(s, "250-DSN");
	session_reply(s, "250-SMTPUTF8");
	session_reply(s, "250 CHUNKING");
}

/* smtpd_offer - what EHLO offered (parameters of others are refused) */
static struct smtp_offer
smtpd_offer(const struct session *s)
{
	struct smtp_offer o = { 0 };

	if (s->ehlo) {
		o.size = o.eightbitmime = o.smtputf8 = o.dsn = true;
		o.chunking = true;
		o.auth = s->sd->conf->auth != NULL;
	}
	return o;
}

/* smtpd_helo_job - the helo event to the filters */
static void
smtpd_helo_job(struct session *s)
{
	milters_helo(s->milters, session_macro, s, s->helo, s->conn_arena,
	    &s->mres);
}

/* smtpd_session_verdict - a connect/helo verdict: remembered for the
 * rest of the session (Postfix: every later command gets it) */
static bool
smtpd_session_verdict(struct session *s)
{
	switch (s->mres.verdict) {
	case MILTERS_CONTINUE:
	case MILTERS_ACCEPT:
	case MILTERS_DISCARD:
		return true;
	case MILTERS_REJECT:
	case MILTERS_TEMPFAIL:
		s->session_reply = arena_strdup(s->conn_arena, s->mres.reply);
		return true;
	case MILTERS_SHUTDOWN:
		session_reply(s, "%s", s->mres.reply);
		session_closing(s);
		return false;
	}
	return true;
}

/* smtpd_helo_done - reply to HELO/EHLO after the filters */
static void
smtpd_helo_done(struct session *s)
{
	if (!smtpd_session_verdict(s))
		return;
	if (s->session_reply != NULL) {
		session_error(s, "%s", s->session_reply);
		return;
	}
	if (s->ehlo)
		smtpd_ehlo_reply(s);
	else
		session_reply(s, "250 %s", s->sd->conf->set.myhostname);
}

/* smtpd_hello - EHLO and HELO (RFC 5321 §4.1.1.1): a new hello resets
 * the transaction */
static void
smtpd_hello(struct session *s, const char *args, bool ehlo)
{
	const char *name, *reply;

	if (!smtp_parse_helo(args, s->conn_arena, &name, &reply)) {
		session_error(s, "%s", reply);
		return;
	}
	session_abort_milters(s);
	session_reset_msg(s);
	s->helo = name;
	s->ehlo = ehlo;
	if (session_milters_on(s)) {
		session_job(s, smtpd_helo_job, smtpd_helo_done);
		return;
	}
	s->mres.verdict = MILTERS_CONTINUE;
	smtpd_helo_done(s);
}

/* smtpd_ehlo - EHLO */
static void
smtpd_ehlo(struct session *s, const char *args)
{
	smtpd_hello(s, args, true);
}

/* smtpd_helo - HELO */
static void
smtpd_helo(struct session *s, const char *args)
{
	smtpd_hello(s, args, false);
}

/* smtpd_queue_space - the queue file system has room for size more */
static bool
smtpd_queue_space(struct session *s, uint64_t size)
{
	const struct mta_settings *set = &s->sd->conf->set;
	struct statvfs vfs;

	if (statvfs(set->queue_directory, &vfs) != 0)
		return false;
	return (uint64_t)vfs.f_bavail * vfs.f_frsize >=
	    set->queue_minfree + size;
}

/* smtpd_argv - "<addr>" and the ESMTP parameters, for the milters */
static const char **
smtpd_argv(struct session *s, const char *addr, const char *args)
{
	const char **argv;
	const char *p = strchr(args, '>');
	size_t n = 2, i = 1;
	char *rest, *tok, *save;

	rest = arena_strdup(s->msg_arena, p ? p + 1 : "");
	for (const char *q = rest; *q; q++)
		if (*q == ' ')
			n++;
	argv = arena_alloc(s->msg_arena, (n + 1) * sizeof(*argv));
	argv[0] = arena_printf(s->msg_arena, "<%s>", addr);
	for (tok = strtok_r(rest, " ", &save); tok != NULL && i < n;
	    tok = strtok_r(NULL, " ", &save))
		argv[i++] = tok;
	argv[i] = NULL;
	return argv;
}

/* smtpd_mail_job - the mail event */
static void
smtpd_mail_job(struct session *s)
{
	milters_mail(s->milters, session_macro, s, s->argv, s->msg_arena,
	    &s->mres);
}

/* smtpd_mail_done - reply to MAIL */
static void
smtpd_mail_done(struct session *s)
{
	if (s->mres.verdict == MILTERS_SHUTDOWN) {
		session_reply(s, "%s", s->mres.reply);
		session_closing(s);
		return;
	}
	if (s->mres.verdict == MILTERS_DISCARD)
		s->discard = s->mres.by ? s->mres.by : "?";
	if (s->mres.verdict == MILTERS_REJECT ||
	    s->mres.verdict == MILTERS_TEMPFAIL) {
		log_msg(LOG_INFO, NULL, "milter-reject: MAIL from %s: %s",
		    session_client(s), s->mres.reply);
		session_error(s, "%s", s->mres.reply);
		session_abort_milters(s);
		session_reset_msg(s);
		return;
	}
	session_reply(s, "250 2.1.0 Ok");
}

/* smtpd_mail - MAIL FROM:<path> [params] */
static void
smtpd_mail(struct session *s, const char *args)
{
	const struct mta_settings *set = &s->sd->conf->set;
	struct smtp_offer offer = smtpd_offer(s);
	const char *reply;

	if (s->helo == NULL) {
		session_error(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->in_mail) {
		session_error(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (s->service != MTA_SERVICE_SMTP && s->auth_user == NULL) {
		session_error(s, "530 5.7.0 Authentication required");
		return;
	}
	if (!smtp_parse_mail(args, &offer, s->msg_arena, &s->mail, &reply)) {
		session_error(s, "%s", reply);
		return;
	}
	if (s->mail.size > set->message_size_limit) {
		session_error(s, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	if (!smtpd_queue_space(s, s->mail.size)) {
		log_warn("not enough space in %s for a new message "
		    "(queue_minfree %llu)", set->queue_directory,
		    (unsigned long long)set->queue_minfree);
		session_error(s, "452 4.3.1 Insufficient system storage");
		return;
	}
	s->in_mail = true;
	s->msg = message_new(s->msg_arena, set->temp_dir, set->spool_memory);
	s->msg->sender = s->mail.addr;
	s->msg->ret = s->mail.ret;
	s->msg->envid = s->mail.envid;
	s->msg->body_type = s->mail.body;
	s->msg->smtputf8 = s->mail.smtputf8;
	if (session_milters_on(s)) {
		s->argv = smtpd_argv(s, s->mail.addr, args);
		session_job(s, smtpd_mail_job, smtpd_mail_done);
		return;
	}
	smtpd_mail_done(s);
}

/* smtpd_rcpt_job - the rcpt event (also for refused recipients when a
 * filter wants those) */
static void
smtpd_rcpt_job(struct session *s)
{
	milters_rcpt(s->milters, session_macro, s, s->argv, s->rcpt_rejected,
	    s->msg_arena, &s->mres);
}

/* smtpd_rcpt_accept - the recipient passed everything: keep it */
static void
smtpd_rcpt_accept(struct session *s, const struct smtp_rcpt *r)
{
	struct message_rcpt mr = {
		.addr = r->addr,
		.orcpt = r->orcpt,
		.notify = r->notify,
	};

	if (s->qid[0] == '\0') {
		/* the id exists from the first accepted recipient on, as
		 * in Postfix (the milter macro "i") */
		queue_id_new(s->sd->queue, s->qid);
		log_msg(LOG_INFO, s->qid, "client=%s%s%s", session_client(s),
		    s->auth_user ? ", sasl_username=" : "",
		    s->auth_user ? s->auth_user : "");
	}
	message_add_rcpt(s->msg, &mr);
	session_reply(s, "250 2.1.5 Ok");
}

/* smtpd_rcpt_done - reply to RCPT after the filters */
static void
smtpd_rcpt_done(struct session *s)
{
	struct smtp_rcpt *r = (struct smtp_rcpt *)s->job_arg;

	if (s->rcpt_rejected) {
		/* the filters were only told: the reply is ours */
		session_error(s, "%s", s->rcpt_reply);
		return;
	}
	switch (s->mres.verdict) {
	case MILTERS_SHUTDOWN:
		session_reply(s, "%s", s->mres.reply);
		session_closing(s);
		return;
	case MILTERS_REJECT:
	case MILTERS_TEMPFAIL:
		log_msg(LOG_INFO, session_qid(s), "milter-reject: RCPT from "
		    "%s: %s; to=<%s>", session_client(s), s->mres.reply,
		    r->addr);
		session_error(s, "%s", s->mres.reply);
		return;
	case MILTERS_DISCARD:
		s->discard = s->mres.by ? s->mres.by : "?";
		smtpd_rcpt_accept(s, r);
		return;
	default:
		smtpd_rcpt_accept(s, r);
	}
}

/* smtpd_rcpt_refuse - our own refusal; filters that asked to hear about
 * refused recipients are told (SMFIP_RCPT_REJ) */
static void
smtpd_rcpt_refuse(struct session *s, struct smtp_rcpt *r, const char *args,
    const char *reply)
{
	log_msg(LOG_INFO, session_qid(s), "reject: RCPT from %s: %s; "
	    "from=<%s> to=<%s>", session_client(s), reply, s->mail.addr,
	    r->addr);
	s->rcpt_addr = r->addr;
	s->rcpt_rejected = true;
	s->rcpt_reply = reply;
	if (session_milters_on(s)) {
		s->argv = smtpd_argv(s, r->addr, args);
		s->job_arg = (const char *)r;
		session_job(s, smtpd_rcpt_job, smtpd_rcpt_done);
		return;
	}
	session_error(s, "%s", reply);
}

/*
 * smtpd_rcpt_known - local_recipient_maps: a recipient in relay_domains
 * must be listed (as user@domain, or @domain for a whole domain); others
 * (relayed for mynetworks or AUTH) are not checked. 1 known, 0 unknown,
 * -1 table error.
 */
static int
smtpd_rcpt_known(struct session *s, const struct smtp_rcpt *r)
{
	const struct mta_conf *conf = s->sd->conf;
	const char *value;
	enum table_result tr;

	if (conf->local_recipient_maps == NULL ||
	    (r->parsed.flags & MAILADDR_NO_DOMAIN) ||
	    matchlist_domain(conf->guard.relay_domains, r->parsed.domain) !=
	    TABLE_FOUND)
		return 1;
	tr = table_lookup(conf->local_recipient_maps, r->parsed.full,
	    s->msg_arena, &value);
	if (tr == TABLE_NOTFOUND)
		tr = table_lookup(conf->local_recipient_maps,
		    arena_printf(s->msg_arena, "@%s", r->parsed.domain),
		    s->msg_arena, &value);
	return tr == TABLE_FOUND ? 1 : tr == TABLE_NOTFOUND ? 0 : -1;
}

/* smtpd_rcpt - RCPT TO:<path> [params] */
static void
smtpd_rcpt(struct session *s, const char *args)
{
	struct smtp_offer offer = smtpd_offer(s);
	struct smtp_rcpt *r;
	const char *reply;

	if (!s->in_mail) {
		session_error(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->msg->n_rcpts >= s->sd->conf->set.recipient_limit) {
		session_error(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	r = arena_alloc(s->msg_arena, sizeof(*r));
	if (!smtp_parse_rcpt(args, &offer, s->mail.smtputf8, s->msg_arena, r,
	    &reply)) {
		session_error(s, "%s", reply);
		return;
	}
	s->rcpt_rejected = false;
	switch (relay_guard_check(&s->sd->conf->guard,
	    s->have_addr ? &s->addr : NULL, s->auth_user != NULL, &r->parsed,
	    s->msg_arena)) {
	case RELAY_GUARD_OK:
		break;
	case RELAY_GUARD_DENIED:
		smtpd_rcpt_refuse(s, r, args, arena_printf(s->msg_arena,
		    "554 5.7.1 <%s>: Relay access denied", r->addr));
		return;
	case RELAY_GUARD_ERROR:
		smtpd_rcpt_refuse(s, r, args, arena_printf(s->msg_arena,
		    "451 4.3.0 <%s>: Temporary lookup failure", r->addr));
		return;
	}
	switch (smtpd_rcpt_known(s, r)) {
	case 1:
		break;
	case 0:
		smtpd_rcpt_refuse(s, r, args, arena_printf(s->msg_arena,
		    "550 5.1.1 <%s>: Recipient address rejected: User unknown "
		    "in local recipient table", r->addr));
		return;
	default:
		smtpd_rcpt_refuse(s, r, args, arena_printf(s->msg_arena,
		    "451 4.3.0 <%s>: Temporary lookup failure", r->addr));
		return;
	}
	s->rcpt_addr = r->addr;
	if (session_milters_on(s)) {
		s->argv = smtpd_argv(s, r->addr, args);
		s->job_arg = (const char *)r;
		session_job(s, smtpd_rcpt_job, smtpd_rcpt_done);
		return;
	}
	smtpd_rcpt_accept(s, r);
}

/* smtpd_data_start - the transaction may get content: set up the scan */
static void
smtpd_data_start(struct session *s, bool dot)
{
	const struct mta_settings *set = &s->sd->conf->set;

	data_scan_init(&s->scan, s->msg, dot,
	    set->bare_newline == MTA_BARE_NEWLINE_NORMALIZE,
	    set->message_size_limit, set->header_size_limit);
	s->scanning = true;
	s->data_start_ms = session_now(s);
	s->data_bytes = 0;
}

/* smtpd_data_job - the data event */
static void
smtpd_data_job(struct session *s)
{
	milters_data(s->milters, session_macro, s, s->msg_arena, &s->mres);
}

/* smtpd_data_done - 354, or the filters' refusal */
static void
smtpd_data_done(struct session *s)
{
	switch (s->mres.verdict) {
	case MILTERS_SHUTDOWN:
		session_reply(s, "%s", s->mres.reply);
		session_closing(s);
		return;
	case MILTERS_REJECT:
	case MILTERS_TEMPFAIL:
		log_msg(LOG_INFO, session_qid(s), "milter-reject: DATA from "
		    "%s: %s", session_client(s), s->mres.reply);
		session_error(s, "%s", s->mres.reply);
		session_abort_milters(s);
		session_reset_msg(s);
		return;
	case MILTERS_DISCARD:
		s->discard = s->mres.by ? s->mres.by : "?";
		break;
	default:
		break;
	}
	smtpd_data_start(s, true);
	s->state = SS_DATA;
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* smtpd_data_refusal - why DATA or BDAT may not begin, or NULL */
static const char *
smtpd_data_refusal(const struct session *s)
{
	if (!s->in_mail)
		return "503 5.5.1 Error: need MAIL command";
	if (s->msg->n_rcpts == 0)
		return "554 5.5.1 Error: no valid recipients";
	return NULL;
}

/* smtpd_data - DATA */
static void
smtpd_data(struct session *s, const char *args)
{
	const char *refusal;

	if (*args != '\0') {
		session_error(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->bdat_mode) {
		session_error(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	if ((refusal = smtpd_data_refusal(s)) != NULL) {
		session_error(s, "%s", refusal);
		return;
	}
	if (session_milters_on(s)) {
		session_job(s, smtpd_data_job, smtpd_data_done);
		return;
	}
	s->mres.verdict = MILTERS_CONTINUE;
	smtpd_data_done(s);
}

/* smtpd_bdat_done - the filters' answer to the data event of BDAT: a
 * refusal answers every chunk of the transaction */
static void
smtpd_bdat_done(struct session *s)
{
	switch (s->mres.verdict) {
	case MILTERS_SHUTDOWN:
		session_reply(s, "%s", s->mres.reply);
		session_closing(s);
		return;
	case MILTERS_REJECT:
	case MILTERS_TEMPFAIL:
		log_msg(LOG_INFO, session_qid(s), "milter-reject: BDAT from "
		    "%s: %s", session_client(s), s->mres.reply);
		s->bdat_failed = true;
		s->bdat_refusal = arena_strdup(s->msg_arena, s->mres.reply);
		return;
	case MILTERS_DISCARD:
		s->discard = s->mres.by ? s->mres.by : "?";
		smtpd_data_start(s, false);
		return;
	default:
		smtpd_data_start(s, false);
	}
}

/* smtpd_bdat - BDAT size [LAST] (RFC 3030): the chunk follows at once */
static void
smtpd_bdat(struct session *s, const char *args)
{
	uint64_t size;
	bool last;
	const char *reply;

	if (!smtp_parse_bdat(args, &size, &last, &reply)) {
		/* the chunk size is unknown, so its bytes cannot be
		 * skipped: nothing after this is trustworthy */
		session_error(s, "%s", reply);
		session_closing(s);
		return;
	}
	s->bdat_left = size;
	s->bdat_last = last;
	s->state = SS_BDAT;
	if (s->bdat_mode)
		return;
	s->bdat_mode = true;
	s->bdat_refusal = smtpd_data_refusal(s);
	s->bdat_failed = s->bdat_refusal != NULL;
	if (s->bdat_failed)
		return;
	/* the filters see BDAT as one DATA: the data event comes before
	 * the first chunk is read (it waits in the input buffer) */
	if (session_milters_on(s)) {
		session_job(s, smtpd_data_job, smtpd_bdat_done);
		return;
	}
	smtpd_data_start(s, false);
}

/* smtpd_rset - RSET */
static void
smtpd_rset(struct session *s, const char *args)
{
	(void)args;
	session_abort_milters(s);
	session_reset_msg(s);
	session_reply(s, "250 2.0.0 Ok");
}

/* smtpd_noop - NOOP */
static void
smtpd_noop(struct session *s, const char *args)
{
	(void)args;
	session_reply(s, "250 2.0.0 Ok");
}

/* smtpd_quit - QUIT */
static void
smtpd_quit(struct session *s, const char *args)
{
	(void)args;
	session_reply(s, "221 2.0.0 Bye");
	session_closing(s);
}

/* smtpd_vrfy - VRFY: never tells (RFC 5321 §3.5.3 allows 252) */
static void
smtpd_vrfy(struct session *s, const char *args)
{
	(void)args;
	session_reply(s, "252 2.0.0 Cannot VRFY user; try RCPT to attempt "
	    "delivery");
}

/* smtpd_help - HELP */
static void
smtpd_help(struct session *s, const char *args)
{
	(void)args;
	session_reply(s, "214 2.0.0 See RFC 5321 (Postern)");
}

/* smtpd_starttls - STARTTLS (RFC 3207) */
static void
smtpd_starttls(struct session *s, const char *args)
{
	if (*args != '\0') {
		session_error(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (s->sd->conf->tls == NULL || s->tls != NULL) {
		session_error(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	session_reply(s, "220 2.0.0 Ready to start TLS");
	/* Whatever the client sent after STARTTLS in plaintext must never
	 * be taken as sent under TLS (CVE-2011-0411 and kin) */
	buf_reset(&s->in);
	s->in_off = 0;
	/* the handshake starts once the 220 is out (session_process) */
	s->state = SS_TLS;
}

/* smtpd_auth_job - the password check (slow on purpose) */
static void
smtpd_auth_job(struct session *s)
{
	s->auth_ok = auth_verify(s->sd->conf->auth, s->authx.user,
	    s->authx.pass);
}

/* smtpd_auth_done - 235 or 535 */
static void
smtpd_auth_done(struct session *s)
{
	const struct mta_settings *set = &s->sd->conf->set;

	s->state = SS_COMMAND;
	if (s->auth_ok) {
		s->auth_user = arena_strdup(s->conn_arena, s->authx.user);
		log_info("%s: sasl_method=%s, sasl_username=%s",
		    session_client(s), auth_mech_name(s->authx.mech),
		    s->auth_user);
		session_reply(s, "235 2.7.0 Authentication successful");
		return;
	}
	if (s->have_addr)
		anvil_auth_failed(s->sd->anvil, &s->addr,
		    (double)session_now(s) / 1000.0, set->auth_failure_window);
	log_warn("%s: SASL %s authentication failed", session_client(s),
	    auth_mech_name(s->authx.mech));
	session_error(s, "535 5.7.8 Error: authentication failed");
}

/* smtpd_auth_step - feed one line to the exchange */
static void
smtpd_auth_step(struct session *s, const char *line)
{
	const char *challenge;

	switch (auth_step(&s->authx, line, s->conn_arena, &challenge)) {
	case AUTH_CONTINUE:
		s->state = SS_AUTH;
		session_reply(s, "334 %s", challenge);
		return;
	case AUTH_CHECK:
		session_job(s, smtpd_auth_job, smtpd_auth_done);
		return;
	case AUTH_CANCEL:
		s->state = SS_COMMAND;
		session_error(s, "501 5.7.0 Authentication aborted");
		return;
	case AUTH_BAD:
		s->state = SS_COMMAND;
		session_error(s, "501 5.5.2 Cannot decode response");
		return;
	}
}

/* smtpd_auth - AUTH mechanism [initial-response] (RFC 4954) */
static void
smtpd_auth(struct session *s, const char *args)
{
	const struct mta_conf *conf = s->sd->conf;
	const char *mech, *resp, *reply;
	enum auth_mech m;

	if (conf->auth == NULL || !s->ehlo ||
	    (conf->set.auth_require_tls && s->tls == NULL)) {
		session_error(s, "503 5.5.1 Error: authentication not "
		    "enabled");
		return;
	}
	if (s->auth_user != NULL) {
		session_error(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (s->in_mail) {
		session_error(s, "503 5.5.1 Error: MAIL transaction in "
		    "progress");
		return;
	}
	if (s->have_addr && anvil_auth_failures(s->sd->anvil, &s->addr,
	    (double)session_now(s) / 1000.0, conf->set.auth_failure_window) >=
	    conf->set.auth_failure_limit) {
		session_error(s, "454 4.7.0 Too many authentication "
		    "failures; try again later");
		return;
	}
	if (!smtp_parse_auth(args, s->conn_arena, &mech, &resp, &reply)) {
		session_error(s, "%s", reply);
		return;
	}
	if (!auth_mech_parse(mech, &m)) {
		session_error(s, "504 5.5.4 Unsupported authentication "
		    "mechanism");
		return;
	}
	memset(&s->authx, 0, sizeof(s->authx));
	s->authx.mech = m;
	smtpd_auth_step(s, resp);
}

/* smtpd_unsupported - EXPN, ETRN, TURN and the like */
static void
smtpd_unsupported(struct session *s, const char *args)
{
	(void)args;
	session_error(s, "502 5.5.1 Error: command not implemented");
}

static const struct smtpd_command smtpd_commands[] = {
	{ .verb = "EHLO", .fn = smtpd_ehlo, .flags = CMD_SYNC },
	{ .verb = "HELO", .fn = smtpd_helo, .flags = CMD_SYNC },
	{ .verb = "MAIL", .fn = smtpd_mail },
	{ .verb = "RCPT", .fn = smtpd_rcpt },
	{ .verb = "DATA", .fn = smtpd_data, .flags = CMD_SYNC },
	{ .verb = "BDAT", .fn = smtpd_bdat },
	{ .verb = "RSET", .fn = smtpd_rset,
	  .flags = CMD_JUNK | CMD_ANY_STATE },
	{ .verb = "NOOP", .fn = smtpd_noop,
	  .flags = CMD_SYNC | CMD_JUNK | CMD_ANY_STATE },
	{ .verb = "QUIT", .fn = smtpd_quit, .flags = CMD_ANY_STATE },
	{ .verb = "VRFY", .fn = smtpd_vrfy, .flags = CMD_SYNC | CMD_JUNK },
	{ .verb = "HELP", .fn = smtpd_help, .flags = CMD_SYNC | CMD_JUNK },
	/* not a sync point: what follows it in plaintext is thrown away */
	{ .verb = "STARTTLS", .fn = smtpd_starttls },
	{ .verb = "AUTH", .fn = smtpd_auth, .flags = CMD_SYNC },
	{ .verb = "EXPN", .fn = smtpd_unsupported,
	  .flags = CMD_SYNC | CMD_JUNK },
	{ .verb = "ETRN", .fn = smtpd_unsupported,
	  .flags = CMD_SYNC | CMD_JUNK },
	{ .verb = "TURN", .fn = smtpd_unsupported,
	  .flags = CMD_SYNC | CMD_JUNK },
	{ 0 },
};

/* --- unknown commands ------------------------------------------------ */

/* smtpd_unknown_job - the unknown event */
static void
smtpd_unknown_job(struct session *s)
{
	milters_unknown(s->milters, session_macro, s, s->job_arg,
	    s->msg_arena, &s->mres);
}

/* smtpd_unknown_done - our refusal, or the filter's own text */
static void
smtpd_unknown_done(struct session *s)
{
	if (s->mres.verdict == MILTERS_SHUTDOWN) {
		session_reply(s, "%s", s->mres.reply);
		session_closing(s);
		return;
	}
	if (s->mres.verdict == MILTERS_REJECT ||
	    s->mres.verdict == MILTERS_TEMPFAIL) {
		session_error(s, "%s", s->mres.reply);
		return;
	}
	session_error(s, "502 5.5.2 Error: command not recognized");
}

/* --- end of message ---------------------------------------------------- */

/* session_rcpt_ok - a recipient a milter adds passes the relay guard
 * like one the client gives (job thread; the session is busy) */
static bool
session_rcpt_ok(void *ctx, const char *addr)
{
	struct session *s = ctx;
	struct mailaddr parsed;
	const char *why;

	if (!mailaddr_parse(s->msg_arena, addr, &parsed, &why))
		return false;
	return relay_guard_check(&s->sd->conf->guard,
	    s->have_addr ? &s->addr : NULL, s->auth_user != NULL, &parsed,
	    s->msg_arena) == RELAY_GUARD_OK;
}

/* smtpd_eom_job - cleanup: Received:, the filters, the queue file */
static void
smtpd_eom_job(struct session *s)
{
	struct queue_attrs attrs = {
		.client_name = s->name,
		.client_addr = s->addr_text,
		.client_port = s->port,
		.helo = s->helo,
		.protocol = session_protocol(s),
		.auth_user = s->auth_user,
		.tls = s->tls ? arena_printf(s->msg_arena, "%s with cipher "
		    "%s (%d bits)", tls_version(s->tls), tls_cipher(s->tls),
		    tls_cipher_bits(s->tls)) : NULL,
	};
	struct cleanup_request rq = {
		.msg = s->msg,
		.qid = s->qid,
		.myhostname = s->sd->conf->set.myhostname,
		.attrs = &attrs,
		.queue = s->sd->queue,
		.milters = session_milters_on(s) ? s->milters : NULL,
		.macro = session_macro,
		.macro_ctx = s,
		.rcpt_ok = session_rcpt_ok,
		.rcpt_ctx = s,
		.discard = s->discard,
		.virtual_maps = s->sd->conf->virtual_alias_maps,
		.arena = s->msg_arena,
	};

	cleanup_message(&rq, &s->cres);
}

/* smtpd_log_message_id - Postfix's "ID: message-id=<...>" line */
static void
smtpd_log_message_id(struct session *s)
{
	const struct message_header *h;
	size_t i;

	for (i = 0; (h = message_visible(s->msg, i)) != NULL; i++) {
		if (strcasecmp(h->name, "Message-ID") == 0) {
			const char *v = h->value;
			size_t n;

			while (*v == ' ' || *v == '\t')
				v++;
			n = strcspn(v, "\r\n");
			log_msg(LOG_INFO, s->qid, "message-id=%.*s",
			    n > 200 ? 200 : (int)n, v);
			return;
		}
	}
}

/* smtpd_eom_done - the one reply to the message */
static void
smtpd_eom_done(struct session *s)
{
	const struct cleanup_result *r = &s->cres;

	switch (r->status) {
	case CLEANUP_QUEUED:
		smtpd_log_message_id(s);
		log_msg(LOG_INFO, s->qid, "from=<%s>, size=%llu, nrcpt=%zu "
		    "(queue %s)", s->msg->sender,
		    (unsigned long long)message_size(s->msg), s->msg->n_rcpts,
		    r->held ? "hold" : "incoming");
		if (r->held)
			log_msg(LOG_INFO, s->qid, "hold: %s",
			    s->msg->quarantine);
		session_reply(s, "%s", r->reply);
		break;
	case CLEANUP_DISCARDED:
		session_reply(s, "%s", r->reply);
		break;
	case CLEANUP_REFUSED:
		log_msg(LOG_INFO, s->qid, "reject: %s from %s: %s (%s)",
		    s->bdat_mode ? "BDAT" : "DATA", session_client(s),
		    r->reply, r->why ? r->why : "");
		session_error(s, "%s", r->reply);
		break;
	case CLEANUP_SHUTDOWN:
		log_msg(LOG_INFO, s->qid, "reject: %s from %s: %s (%s)",
		    s->bdat_mode ? "BDAT" : "DATA", session_client(s),
		    r->reply, r->why ? r->why : "");
		session_reply(s, "%s", r->reply);
		session_reset_msg(s);
		session_closing(s);
		return;
	}
	session_reset_msg(s);
}

/* smtpd_eom - the content is complete: refuse it, or queue it */
static void
smtpd_eom(struct session *s)
{
	unsigned flags = data_scan_finish(&s->scan);
	const char *reply = NULL;

	s->state = SS_COMMAND;
	if (flags & DATA_SCAN_SPOOL_ERROR)
		reply = "451 4.3.0 Error: queue file write error";
	else if (flags & DATA_SCAN_TOO_BIG)
		reply = "552 5.3.4 Error: message file too big";
	else if (flags & DATA_SCAN_HEADER_TOO_BIG)
		reply = "552 5.3.4 Error: message header too big";
	else if ((flags & DATA_SCAN_BARE_LF) && !s->scan.normalize)
		reply = "550 5.5.2 Error: bare <LF> received";
	else if ((flags & DATA_SCAN_BARE_CR) && !s->scan.normalize)
		reply = "550 5.5.2 Error: bare <CR> received";
	if (reply != NULL) {
		log_msg(LOG_INFO, session_qid(s), "reject: %s from %s: %s",
		    s->bdat_mode ? "BDAT" : "DATA", session_client(s), reply);
		session_error(s, "%s", reply);
		session_abort_milters(s);
		session_reset_msg(s);
		return;
	}
	session_job(s, smtpd_eom_job, smtpd_eom_done);
}

/* --- reading -------------------------------------------------------------- */

/* session_take_data - DATA content from the input buffer */
static void
session_take_data(struct session *s)
{
	size_t avail = s->in.len - s->in_off;
	size_t used = data_scan_feed(&s->scan, s->in.data + s->in_off, avail);

	s->in_off += used;
	s->data_bytes += used;
	if (s->scan.done)
		smtpd_eom(s);
}

/* session_take_bdat - one BDAT chunk's bytes from the input buffer */
static void
session_take_bdat(struct session *s)
{
	size_t avail = s->in.len - s->in_off;
	size_t n = avail < s->bdat_left ? avail : (size_t)s->bdat_left;

	if (!s->bdat_failed)
		data_scan_feed(&s->scan, s->in.data + s->in_off, n);
	s->in_off += n;
	s->bdat_left -= n;
	s->data_bytes += n;
	if (s->bdat_left > 0)
		return;
	s->state = SS_COMMAND;
	if (s->bdat_failed) {
		/* every chunk of a transaction that cannot be accepted gets
		 * the same refusal; it ends with LAST */
		session_error(s, "%s", s->bdat_refusal);
		if (s->bdat_last) {
			session_abort_milters(s);
			session_reset_msg(s);
		}
		return;
	}
	if (s->bdat_last) {
		smtpd_eom(s);
		return;
	}
	session_reply(s, "250 2.0.0 Ok: %llu bytes",
	    (unsigned long long)s->scan.size);
}

/* session_line - the next complete line (without CR LF) or NULL; a
 * line over line_length_limit is cut off and flagged *too_long_r; a
 * line with a NUL byte (which C strings would hide) sets *nul_r */
static char *
session_line(struct session *s, bool *too_long_r, bool *nul_r)
{
	size_t limit = s->sd->conf->set.line_length_limit;
	char *start = s->in.data + s->in_off;
	size_t avail = s->in.len - s->in_off;
	char *lf = memchr(start, '\n', avail);

	*too_long_r = false;
	*nul_r = false;
	if (lf == NULL) {
		if (avail >= limit) {
			/* drop what we have; the rest of the line is
			 * dropped when its end comes */
			*too_long_r = true;
			s->in_off = s->in.len;
			s->skip_line = true;
		}
		return NULL;
	}
	s->in_off += (size_t)(lf - start) + 1;
	if (s->skip_line) {
		s->skip_line = false;
		*too_long_r = true;
		return NULL;
	}
	if ((size_t)(lf - start) + 1 > limit) {
		*too_long_r = true;
		return NULL;
	}
	*nul_r = memchr(start, '\0', (size_t)(lf - start)) != NULL;
	if (lf > start && lf[-1] == '\r')
		lf--;
	*lf = '\0';
	return start;
}

/* session_find_command - the verb's row, or NULL */
static const struct smtpd_command *
session_find_command(const char *verb)
{
	const struct smtpd_command *c;

	for (c = smtpd_commands; c->verb != NULL; c++)
		if (strcmp(c->verb, verb) == 0)
			return c;
	return NULL;
}

/* session_sync_error - the client sent ahead where it must wait */
static void
session_sync_error(struct session *s, const char *when)
{
	log_info("improper command pipelining after %s from %s", when,
	    session_client(s));
	session_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
	session_closing(s);
}

/* session_command - one command line */
static void
session_command(struct session *s, char *line)
{
	const struct mta_settings *set = &s->sd->conf->set;
	const struct smtpd_command *c;
	char verb[16];
	const char *args;

	if (!smtp_parse_verb(line, verb, &args)) {
		session_error(s, "502 5.5.2 Error: command not recognized");
		return;
	}
	c = session_find_command(verb);
	/* RFC 2920: after a command that ends a group, and anywhere
	 * without PIPELINING, the client must wait for the reply */
	if (s->in.len > s->in_off && (!s->ehlo || (c != NULL &&
	    (c->flags & CMD_SYNC))) && (c == NULL ||
	    strcmp(c->verb, "QUIT") != 0)) {
		session_sync_error(s, verb);
		return;
	}
	if (c != NULL && (c->flags & CMD_JUNK) &&
	    ++s->junk > set->junk_command_limit) {
		session_reply(s, "421 4.7.0 %s Error: too many junk commands",
		    set->myhostname);
		session_closing(s);
		return;
	}
	if (s->session_reply != NULL &&
	    (c == NULL || !(c->flags & CMD_ANY_STATE))) {
		session_error(s, "%s", s->session_reply);
		return;
	}
	if (c == NULL) {
		if (session_milters_on(s)) {
			s->job_arg = arena_strdup(s->msg_arena, line);
			session_job(s, smtpd_unknown_job, smtpd_unknown_done);
			return;
		}
		session_error(s, "502 5.5.2 Error: command not recognized");
		return;
	}
	c->fn(s, args);
}

/* session_process - consume the input buffer as far as the state
 * allows, then flush the replies */
static void
session_process(struct session *s)
{
	const struct mta_settings *set = &s->sd->conf->set;

	while (!s->busy && !s->dead && s->in.len > s->in_off) {
		if (s->state == SS_DATA) {
			session_take_data(s);
			continue;
		}
		if (s->state == SS_BDAT) {
			session_take_bdat(s);
			continue;
		}
		if (s->state == SS_COMMAND || s->state == SS_AUTH) {
			bool too_long, nul;
			char *line = session_line(s, &too_long, &nul);

			if (too_long) {
				session_error(s, "500 5.5.2 Error: line too "
				    "long");
			} else if (line == NULL) {
				break;
			} else if (nul) {
				session_error(s, "500 5.5.2 Error: NUL "
				    "character in command");
				if (s->state == SS_AUTH)
					s->state = SS_COMMAND;
			} else if (line == NULL) {
				break;
			} else if (s->state == SS_AUTH) {
				smtpd_auth_step(s, line);
			} else {
				session_command(s, line);
			}
			if (s->errors >= set->hard_error_limit &&
			    s->state != SS_CLOSING) {
				session_reply(s, "421 4.7.0 %s Error: too many "
				    "errors", set->myhostname);
				session_closing(s);
			}
			continue;
		}
		break;
	}
	if (s->dead)
		return;
	if (s->state == SS_BDAT && s->bdat_left == 0 && !s->busy)
		session_take_bdat(s);
	if (s->eof && !s->busy && s->state != SS_CLOSING) {
		/* the client went away: nothing more to say */
		if (s->in_mail)
			log_msg(LOG_INFO, session_qid(s), "lost connection "
			    "after %s from %s", s->state == SS_DATA ? "DATA" :
			    "command", session_client(s));
		session_close(s);
		return;
	}
	if (s->sd->stopping && !s->busy && s->state == SS_COMMAND &&
	    !s->in_mail && s->in_off == s->in.len) {
		/* stopping: a session that has become idle goes now */
		session_reply(s, "421 4.3.2 %s Service shutting down",
		    s->sd->conf->set.myhostname);
		session_closing(s);
		return;
	}
	if (!s->busy && s->state != SS_CLOSING)
		session_arm_timer(s);
	session_flush(s);
	if (!s->dead && s->state == SS_TLS && s->tls == NULL &&
	    s->out.len == 0)
		session_tls_begin(s);
	if (!s->dead)
		session_trim(s);
}

/* --- TLS ---------------------------------------------------------------- */

/* session_tls_step - drive the handshake; done resets the session */
static void
session_tls_step(struct session *s)
{
	int r = tls_handshake(s->tls);

	if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
		evloop_watch_set(s->watch, r == TLS_WANT_READ ? EVLOOP_READ :
		    EVLOOP_WRITE);
		return;
	}
	if (r != 1) {
		log_info("TLS handshake failed with %s: %s",
		    session_client(s), tls_error(s->tls));
		session_close(s);
		return;
	}
	log_info("TLS connection established from %s: %s with cipher %s "
	    "(%d bits)", session_client(s), tls_version(s->tls),
	    tls_cipher(s->tls), tls_cipher_bits(s->tls));
	/* RFC 3207 §4.2: forget everything learned before TLS */
	session_abort_milters(s);
	session_reset_msg(s);
	s->helo = NULL;
	s->ehlo = false;
	s->auth_user = NULL;
	s->state = SS_COMMAND;
	if (s->implicit_tls) {
		s->implicit_tls = false;
		smtpd_greet(s);
		return;
	}
	session_arm_timer(s);
	session_update_watch(s);
}

/* session_tls_begin - the handshake starts on a clean socket: nothing
 * read in plaintext is kept, nothing is left to write in plaintext */
static void
session_tls_begin(struct session *s)
{
	s->tls = tls_conn_new(s->sd->conf->tls, s->fd);
	/* a client that never completes the handshake is timed out */
	session_arm_timer(s);
	session_tls_step(s);
}

/* --- events --------------------------------------------------------------- */

/* session_io_event - the socket is ready */
static void
session_io_event(struct evloop_watch *w, int fd, unsigned events, void *arg)
{
	struct session *s = arg;
	int r;

	(void)w;
	(void)fd;
	if (s->state == SS_TLS) {
		if (s->tls != NULL) {
			session_tls_step(s);
			return;
		}
		/* the "220 Ready to start TLS" goes out first */
		session_flush(s);
		if (!s->dead && s->out.len == 0)
			session_tls_begin(s);
		return;
	}
	if ((events & EVLOOP_WRITE) ||
	    ((events & EVLOOP_READ) && s->tls_write_wants_read)) {
		session_flush(s);
		if (s->dead)
			return;
	}
	if (s->busy || s->state == SS_CLOSING)
		return;
	if (!(events & EVLOOP_READ) && !s->tls_read_wants_write)
		return;
	do {
		r = session_read_some(s);
	} while (r > 0 && s->tls != NULL && tls_pending(s->tls) > 0);
	if (r < 0)
		s->eof = true;
	if (s->state == SS_GREET_PAUSE) {
		if (s->in.len > s->in_off || r < 0) {
			log_info("pregreet: %s talked before the greeting",
			    session_client(s));
			session_reply(s, "554 5.5.0 Error: SMTP protocol "
			    "synchronization");
			session_closing(s);
		}
		return;
	}
	session_process(s);
}

/* --- greeting ---------------------------------------------------------- */

/* smtpd_banner - the real greeting: 220, or the filters' 421 */
static void
smtpd_banner(struct session *s)
{
	const struct mta_settings *set = &s->sd->conf->set;

	s->state = SS_COMMAND;
	session_reply(s, "220 %s %s", set->myhostname, set->smtpd_banner);
	session_arm_timer(s);
	session_flush(s);
}

/* smtpd_connect_job - connect to the filters and tell them */
static void
smtpd_connect_job(struct session *s)
{
	struct milters_result open = { .verdict = MILTERS_CONTINUE };

	s->milters = milters_open(s->sd->conf->milters,
	    s->sd->conf->n_milters, s->conn_arena, &open);
	if (open.verdict != MILTERS_CONTINUE) {
		s->mres = open;
		return;
	}
	milters_connect(s->milters, session_macro, s, s->name, s->family,
	    (uint16_t)s->port, s->addr_text, s->conn_arena, &s->mres);
}

/* smtpd_connect_done - greet, or say goodbye */
static void
smtpd_connect_done(struct session *s)
{
	if (!smtpd_session_verdict(s))
		return;
	smtpd_banner(s);
}

/* smtpd_greet - the filters first (they may refuse the session), then
 * the greeting; with greet_pause "220-" goes first and the real greeting
 * after the pause */
static void
smtpd_greet(struct session *s)
{
	const struct mta_conf *conf = s->sd->conf;

	if (conf->set.greet_pause > 0 && !s->greet_paused) {
		s->greet_paused = true;
		s->state = SS_GREET_PAUSE;
		session_reply(s, "220-%s %s", conf->set.myhostname,
		    conf->set.smtpd_banner);
		evloop_timer_arm(s->timer,
		    (uint64_t)(conf->set.greet_pause * 1000));
		session_flush(s);
		return;
	}
	if (conf->n_milters > 0) {
		s->state = SS_COMMAND;
		session_job(s, smtpd_connect_job, smtpd_connect_done);
		return;
	}
	smtpd_banner(s);
}

/* session_timer - the greet pause ended, or the client is too slow */
static void
session_timer(struct evloop_timer *t, void *arg)
{
	struct session *s = arg;

	if (s->state == SS_GREET_PAUSE)
		smtpd_greet(s);
	else
		session_timeout(t, arg);
	session_reap(s);
}

/* session_io - an I/O event, then the reaping */
static void
session_io(struct evloop_watch *w, int fd, unsigned events, void *arg)
{
	session_io_event(w, fd, events, arg);
	session_reap(arg);
}

/* --- sessions ----------------------------------------------------------- */

/* session_close - the session ends; it is freed when the event that
 * ended it returns (session_reap), since callers up the stack still
 * hold it */
static void
session_close(struct session *s)
{
	s->dead = true;
}

/* session_destroy - the end: filters, counters, socket, memory */
static void
session_destroy(struct session *s)
{
	struct smtpd *sd = s->sd;

	log_info("disconnect from %s", session_client(s));
	if (s->scanning)
		data_scan_free(&s->scan);
	milters_close(&s->milters);
	if (s->anvil_counted)
		anvil_disconnect(sd->anvil, getpid(),
		    s->have_addr ? &s->addr : NULL);
	evloop_unwatch(&s->watch);
	evloop_timer_free(&s->timer);
	if (s->tls != NULL) {
		tls_shutdown(s->tls);
		tls_conn_free(&s->tls);
	}
	close(s->fd);
	buf_free(&s->in);
	buf_free(&s->out);
	arena_destroy(&s->msg_arena);
	arena_destroy(&s->conn_arena);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		sd->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	sd->n_sessions--;
	free(s);
	if (sd->stopping && sd->n_sessions == 0)
		evloop_stop(sd->loop);
}

/* session_peer - the client's address, port and milter family */
static void
session_peer(struct session *s, const struct sockaddr_storage *ss)
{
	s->name = "unknown";
	s->family = 'U';
	snprintf(s->addr_text, sizeof(s->addr_text), "unknown");
	if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6) {
		if (inet_from_sockaddr((const struct sockaddr *)ss, &s->addr)) {
			s->have_addr = true;
			inet_format(&s->addr, s->addr_text,
			    sizeof(s->addr_text));
			s->family = s->addr.family == AF_INET ? '4' : '6';
			s->port = ntohs(ss->ss_family == AF_INET ?
			    ((const struct sockaddr_in *)ss)->sin_port :
			    ((const struct sockaddr_in6 *)ss)->sin6_port);
		}
	}
}

/* smtpd_refuse - a session over a limit: one line, best effort */
static void
smtpd_refuse(int fd, const char *text)
{
	ssize_t n = write(fd, text, strlen(text));

	(void)n;
	close(fd);
}

/* smtpd_accept - a new client on a listener */
static void
smtpd_accept(struct evloop_watch *w, int lfd, unsigned events, void *arg)
{
	struct smtpd_listener *l = arg;
	struct smtpd *sd = l->sd;
	const struct mta_settings *set = &sd->conf->set;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct session *s;
	enum anvil_verdict v;
	int fd, trusted;

	(void)w;
	(void)events;
	fd = accept4(lfd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept on %s: %s", l->ml->spec,
			    strerror(errno));
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->sd = sd;
	s->fd = fd;
	s->service = l->ml->service;
	s->conn_arena = arena_create();
	s->msg_arena = arena_create();
	session_peer(s, &ss);
	trusted = s->have_addr ? relay_guard_client_trusted(&sd->conf->guard,
	    &s->addr, s->conn_arena) : 0;
	s->trusted = trusted == 1;
	v = anvil_connect(sd->anvil, getpid(), s->have_addr ? &s->addr : NULL,
	    (unsigned)set->max_sessions,
	    s->trusted ? 0 : (unsigned)set->client_connection_limit);
	if (v != ANVIL_OK) {
		log_warn("%s from %s: %s", v == ANVIL_TOO_MANY_TOTAL ?
		    "too many sessions" : "too many connections",
		    session_client(s), v == ANVIL_TOO_MANY_TOTAL ?
		    "refused with 421" : "client_connection_limit");
		smtpd_refuse(fd, v == ANVIL_TOO_MANY_TOTAL ?
		    "421 4.3.2 Service overloaded, try again later\r\n" :
		    "421 4.7.0 Error: too many connections from you\r\n");
		arena_destroy(&s->msg_arena);
		arena_destroy(&s->conn_arena);
		free(s);
		return;
	}
	s->anvil_counted = true;
	s->next = sd->sessions;
	if (s->next != NULL)
		s->next->prev = s;
	sd->sessions = s;
	sd->n_sessions++;
	s->timer = evloop_timer_new(sd->loop, session_timer, s);
	s->watch = evloop_watch(sd->loop, fd, 0, session_io, s);
	if (s->watch == NULL) {
		log_warn("cannot watch a session: %s", strerror(errno));
		session_destroy(s);
		return;
	}
	log_info("connect from %s", session_client(s));
	if (s->service == MTA_SERVICE_SUBMISSIONS) {
		s->implicit_tls = true;
		s->state = SS_TLS;
		session_tls_begin(s);
	} else {
		smtpd_greet(s);
	}
	session_reap(s);
}

/* --- the worker's server -------------------------------------------------- */

/* smtpd_new - watch every listener */
struct smtpd *
smtpd_new(struct evloop *loop, const struct mta_conf *conf,
    struct queue *queue, struct anvil *anvil, const int *fds, size_t n)
{
	struct smtpd *sd = xcalloc(1, sizeof(*sd));
	size_t i;

	sd->loop = loop;
	sd->conf = conf;
	sd->queue = queue;
	sd->anvil = anvil;
	sd->listeners = xcalloc(n ? n : 1, sizeof(*sd->listeners));
	sd->n_listeners = n;
	for (i = 0; i < n; i++) {
		struct smtpd_listener *l = &sd->listeners[i];

		l->sd = sd;
		l->fd = fds[i];
		l->ml = &conf->listeners[i];
		l->watch = evloop_watch(loop, l->fd, EVLOOP_READ,
		    smtpd_accept, l);
		if (l->watch == NULL)
			log_fatal("cannot watch listener %s: %s", l->ml->spec,
			    strerror(errno));
	}
	return sd;
}

/* smtpd_stop_timer - stop_timeout passed: close what is left */
static void
smtpd_stop_timer(struct evloop_timer *t, void *arg)
{
	struct smtpd *sd = arg;

	(void)t;
	log_info("stop: %zu session(s) still open after stop_timeout",
	    sd->n_sessions);
	evloop_stop(sd->loop);
}

/* smtpd_stop - no new sessions; idle ones get 421 */
void
smtpd_stop(struct smtpd *sd)
{
	struct session *s, *next;
	size_t i;

	if (sd->stopping)
		return;
	sd->stopping = true;
	for (i = 0; i < sd->n_listeners; i++) {
		evloop_unwatch(&sd->listeners[i].watch);
		close(sd->listeners[i].fd);
	}
	for (s = sd->sessions; s != NULL; s = next) {
		next = s->next;
		if (!s->busy && !s->in_mail && s->state == SS_COMMAND) {
			session_reply(s, "421 4.3.2 %s Service shutting down",
			    sd->conf->set.myhostname);
			session_closing(s);
			session_reap(s);
		}
	}
	if (sd->n_sessions == 0) {
		evloop_stop(sd->loop);
		return;
	}
	sd->stop_timer = evloop_timer_new(sd->loop, smtpd_stop_timer, sd);
	evloop_timer_arm(sd->stop_timer,
	    (uint64_t)(sd->conf->set.stop_timeout * 1000));
}

/* smtpd_free - every session goes now */
void
smtpd_free(struct smtpd **sdp)
{
	struct smtpd *sd = *sdp;
	size_t i;

	if (sd == NULL)
		return;
	*sdp = NULL;
	while (sd->sessions != NULL) {
		sd->sessions->busy = false;
		session_destroy(sd->sessions);
	}
	if (!sd->stopping)
		for (i = 0; i < sd->n_listeners; i++) {
			evloop_unwatch(&sd->listeners[i].watch);
			close(sd->listeners[i].fd);
		}
	evloop_timer_free(&sd->stop_timer);
	free(sd->listeners);
	free(sd);
}

/* smtpd_sessions - how many */
size_t
smtpd_sessions(const struct smtpd *sd)
{
	return sd->n_sessions;
}
