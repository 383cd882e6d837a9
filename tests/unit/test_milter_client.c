/*
 * test_milter_client.c - the milter client against tests/smtp/testmilter.py
 * (a scripted filter that logs every packet it receives, started by each
 * test on a free loopback port or a unix socket), against the real
 * postern-filterd (when it is built) and against the real opendkim
 *
 * Scripts and expected log lines are written with ' for " (dq()), which
 * none of them needs otherwise. Each expected log line is compared whole,
 * in order, from where the last check stopped, so a test also shows that
 * nothing else was sent in between.
 *
 * opendkim must be installed (scripts/deps does it): a missing opendkim
 * is a failed test. The test filters die with the test
 * (PR_SET_PDEATHSIG) if it crashes.
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
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "milter_client.h"
#include "testutil.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif
#ifndef TOP_BUILDDIR
#define TOP_BUILDDIR "."
#endif

#define PYTHON		"/usr/bin/python3"
#define OPENDKIM	"/usr/sbin/opendkim"
#define OPENDKIM_GENKEY	"/usr/sbin/opendkim-genkey"

/* the offer every negotiation starts with: version 6, all of it */
#define OPENED \
	"{'event':'open'}", \
	"{'cmd':'O','version':6,'actions':511,'flags':2097151}"

/* what the events of test_events send, with test_macro's values */
#define D_C "{'cmd':'D','for':'C','macros':[['j','mx.example.com']," \
	"['{daemon_name}','postern'],['v','Postern 1.0']]}"
#define E_C "{'cmd':'C','hostname':'client.example.com','family':'4'," \
	"'port':4321,'address':'192.0.2.1'}"
#define D_H "{'cmd':'D','for':'H','macros':[['{tls_version}','TLSv1.3']]}"
#define E_H "{'cmd':'H','helo':'helo.example.com'}"
#define D_M "{'cmd':'D','for':'M','macros':[['i','QID1']," \
	"['{mail_addr}','alice@example.com']]}"
#define E_M "{'cmd':'M','args':['<alice@example.com>','SIZE=100']}"
#define D_R "{'cmd':'D','for':'R','macros':[['{rcpt_mailer}','smtp']," \
	"['{rcpt_addr}','bob@example.net']]}"
#define E_R "{'cmd':'R','args':['<bob@example.net>']}"
#define D_T "{'cmd':'D','for':'T','macros':[['i','QID1']]}"
#define E_T "{'cmd':'T'}"
#define E_U "{'cmd':'U','command':'XYZZY now'}"
#define E_L "{'cmd':'L','name':'Subject','value':'hello'}"
#define D_N "{'cmd':'D','for':'N','macros':[['i','QID1']]}"
#define E_N "{'cmd':'N'}"
#define E_B "{'cmd':'B','len':6,'data':'body\\r\\n'}"
#define D_E "{'cmd':'D','for':'E','macros':[['i','QID1']]}"
#define E_E "{'cmd':'E','len':0}"
#define EOF_LINE "{'event':'eof'}"

/* One test's world: its directory, arena, test filter and connection. */
struct fx {
	char dir[256];
	struct arena *arena;
	pid_t pid;			/* the test filter, or 0 */
	pid_t real;			/* filterd or opendkim, or 0 */
	int starts;			/* test filters started so far */
	char name[320];			/* its socket, mta syntax */
	char log[320];
	size_t seen;			/* log lines checked */
	struct buf logbuf;
	char **lines;			/* into logbuf */
	size_t lines_cap;
	struct milter_spec spec;
	struct milter_conn *conn;
};

/* The macros the "MTA" knows; the rest are NULL. */
static const struct {
	const char *name, *value;
} test_macros[] = {
	{ "j", "mx.example.com" },
	{ "{daemon_name}", "postern" },
	{ "v", "Postern 1.0" },
	{ "i", "QID1" },
	{ "{client_addr}", "192.0.2.1" },
	{ "{mail_addr}", "alice@example.com" },
	{ "{rcpt_mailer}", "smtp" },
	{ "{rcpt_addr}", "bob@example.net" },
	{ "{tls_version}", "TLSv1.3" },
	{ NULL, NULL },
};

static const char *const mail_argv[] = { "<alice@example.com>", "SIZE=100",
	NULL };
static const char *const rcpt_argv[] = { "<bob@example.net>", NULL };

/* test_macro - the milter_macro_fn of the tests */
static const char *
test_macro(void *ctx, const char *name)
{
	int i;

	(void)ctx;
	for (i = 0; test_macros[i].name != NULL; i++)
		if (strcmp(test_macros[i].name, name) == 0)
			return test_macros[i].value;
	return NULL;
}



/* dq - s with every ' turned into " */
static char *
dq(struct arena *arena, const char *s)
{
	char *t = arena_strdup(arena, s), *p;

	for (p = t; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return t;
}


/* port_open - something accepts connections on the loopback port */
static bool
port_open(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok;
}

/* spawn - run argv in the background, output to out; its pid */
static pid_t
spawn(char *const argv[], const char *out)
{
	pid_t pid = fork();
	int fd;

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* stop_with - send sig, wait up to 5 s for the exit, then SIGKILL */
static void
stop_with(pid_t pid, int sig)
{
	double until = testutil_now() + 5;
	int status;

	if (pid <= 0)
		return;
	kill(pid, sig);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (testutil_now() > until) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return;
		}
		testutil_sleep(0.01);
	}
}

/* stop - SIGTERM (the test filter removes its unix socket) */
static void
stop(pid_t pid)
{
	stop_with(pid, SIGTERM);
}

/* default_spec - the spec tests start from (socket set later) */
static struct milter_spec
default_spec(void)
{
	struct milter_spec s = {
		.connect_timeout = 5,
		.command_timeout = 5,
		.content_timeout = 5,
		.default_action = MILTER_DEFAULT_TEMPFAIL,
	};

	return s;
}

/* tm_stop - stop the test filter, forget its log */
static void
tm_stop(struct fx *f)
{
	stop(f->pid);
	f->pid = 0;
	f->seen = 0;
}

/*
 * tm_start_on - a test filter running script (with ' for "), on a unix
 * socket in the test directory or a free loopback port; f->spec points
 * at it with 5 s timeouts. An earlier one is stopped.
 */
static void
tm_start_on(struct fx *f, const char *script, bool unix_socket)
{
	char prog[512], ready[300], sock[300], out[300], *spath;
	char *argv[12];
	double until = testutil_now() + 10;
	FILE *fp;
	int n = 0, status;

	milter_close(&f->conn);
	tm_stop(f);
	f->starts++;
	spath = testutil_put(f->arena, f->dir, arena_printf(f->arena,
	    "script-%d.json", f->starts), dq(f->arena, script));
	snprintf(f->log, sizeof(f->log), "%s/milter-%d.log", f->dir,
	    f->starts);
	snprintf(ready, sizeof(ready), "%s/ready-%d", f->dir, f->starts);
	snprintf(out, sizeof(out), "%s/testmilter.out", f->dir);
	snprintf(sock, sizeof(sock), "%s/m.sock", f->dir);
	snprintf(prog, sizeof(prog), "%s/tests/smtp/testmilter.py",
	    getenv("TOP") ? getenv("TOP") : TOP_SRCDIR);
	argv[n++] = PYTHON;
	argv[n++] = prog;
	argv[n++] = "--script";
	argv[n++] = spath;
	argv[n++] = "--log";
	argv[n++] = f->log;
	argv[n++] = unix_socket ? "--unix" : "--inet";
	argv[n++] = unix_socket ? sock : "127.0.0.1:0";
	argv[n++] = "--ready";
	argv[n++] = ready;
	argv[n] = NULL;
	f->pid = spawn(argv, out);
	while ((fp = fopen(ready, "r")) == NULL) {
		if (waitpid(f->pid, &status, WNOHANG) == f->pid) {
			f->pid = 0;
			fail_msg("testmilter.py exited; see %s", out);
		}
		if (testutil_now() > until)
			fail_msg("testmilter.py not ready in 10 s; see %s",
			    out);
		testutil_sleep(0.01);
	}
	assert_non_null(fgets(f->name, sizeof(f->name), fp));
	fclose(fp);
	f->name[strcspn(f->name, "\n")] = '\0';
	f->spec = default_spec();
	f->spec.socket = f->name;
	f->seen = 0;
}

/* tm_start - a test filter on a loopback port */
static void
tm_start(struct fx *f, const char *script)
{
	tm_start_on(f, script, false);
}

/* tm_lines - the log's complete lines, waiting up to 5 s until there
 * are at least want; pointers into f->logbuf */
static size_t
tm_lines(struct fx *f, size_t want, char ***lines_r)
{
	size_t n = testutil_lines(f->log, want, 5, &f->logbuf, &f->lines,
	    &f->lines_cap);

	*lines_r = f->lines;
	return n;
}

/* tm_expect_v - the next n log lines are exp (with ' for "; the conn
 * number of each line is not compared) */
static void
tm_expect_v(struct fx *f, const char *const *exp, size_t n, int line)
{
	char **lines, *want;
	const char *got;
	size_t have, i;

	have = tm_lines(f, f->seen + n, &lines);
	for (i = 0; i < n; i++) {
		want = dq(f->arena, exp[i]);
		if (f->seen + i >= have)
			fail_msg("line %d: log line %zu missing: want %s",
			    line, f->seen + i + 1, want);
		got = lines[f->seen + i];
		if (strncmp(got, "{\"conn\":", 8) == 0 &&
		    (got = strchr(got, ',')) != NULL)
			got++;
		else
			got = lines[f->seen + i] + 1;
		if (strcmp(got, want + 1) != 0)
			fail_msg("line %d: log line %zu\n#  got: %s\n"
			    "# want: %s", line, f->seen + i + 1,
			    lines[f->seen + i], want);
	}
	f->seen += n;
}

#define EXPECT(f, ...) do { \
	const char *const exp_[] = { __VA_ARGS__ }; \
	tm_expect_v((f), exp_, sizeof(exp_) / sizeof(exp_[0]), __LINE__); \
} while (0)

/* tm_expect_end - no more log lines arrive within a short while */
static void
tm_expect_end(struct fx *f)
{
	char **lines;
	size_t have;

	testutil_sleep(0.2);
	have = tm_lines(f, 0, &lines);
	if (have > f->seen)
		fail_msg("unexpected log line %zu: %s", f->seen + 1,
		    lines[f->seen]);
}

/* open_ok - connect to the test filter; it must work */
static struct milter_conn *
open_ok(struct fx *f)
{
	const char *why = NULL;

	f->conn = milter_open(&f->spec, f->arena, &why);
	if (f->conn == NULL)
		fail_msg("milter_open: %s", why);
	assert_true(milter_usable(f->conn));
	return f->conn;
}

/* open_fails - connecting must fail with why (prefix added here) */
static void
open_fails(struct fx *f, const char *why)
{
	const char *got = NULL;

	f->conn = milter_open(&f->spec, f->arena, &got);
	assert_null(f->conn);
	assert_non_null(got);
	assert_string_equal(got, arena_printf(f->arena, "filter %s: %s",
	    f->spec.socket, why));
}

/* assert_failed - r is FAILED with "filter NAME: why", conn closed */
static void
assert_failed(struct fx *f, const struct milter_reply *r, const char *why)
{
	assert_int_equal(r->action, MILTER_FAILED);
	assert_non_null(r->why);
	assert_string_equal(r->why, arena_printf(f->arena, "filter %s: %s",
	    f->spec.socket, why));
	assert_false(milter_usable(f->conn));
}

/* ---- the events, for table-driven tests ----------------------------- */

/* ev_connect - a client 192.0.2.1 port 4321 */
static void
ev_connect(struct fx *f, struct milter_reply *r)
{
	milter_connect_event(f->conn, test_macro, NULL, "client.example.com",
	    '4', 4321, "192.0.2.1", f->arena, r);
}

/* ev_helo - HELO helo.example.com */
static void
ev_helo(struct fx *f, struct milter_reply *r)
{
	milter_helo(f->conn, test_macro, NULL, "helo.example.com", f->arena,
	    r);
}

/* ev_mail - MAIL FROM:<alice@example.com> SIZE=100 */
static void
ev_mail(struct fx *f, struct milter_reply *r)
{
	milter_mail(f->conn, test_macro, NULL, mail_argv, f->arena, r);
}

/* ev_rcpt - RCPT TO:<bob@example.net> */
static void
ev_rcpt(struct fx *f, struct milter_reply *r)
{
	milter_rcpt(f->conn, test_macro, NULL, rcpt_argv, false, f->arena, r);
}

/* ev_data - DATA */
static void
ev_data(struct fx *f, struct milter_reply *r)
{
	milter_data(f->conn, test_macro, NULL, f->arena, r);
}

/* ev_unknown - an unknown command */
static void
ev_unknown(struct fx *f, struct milter_reply *r)
{
	milter_unknown(f->conn, test_macro, NULL, "XYZZY now", f->arena, r);
}

/* ev_header - "Subject: hello" as struct message keeps it */
static void
ev_header(struct fx *f, struct milter_reply *r)
{
	milter_header(f->conn, test_macro, NULL, "Subject", " hello",
	    f->arena, r);
}

/* ev_eoh - end of headers */
static void
ev_eoh(struct fx *f, struct milter_reply *r)
{
	milter_eoh(f->conn, test_macro, NULL, f->arena, r);
}

/* ev_body - one line of body */
static void
ev_body(struct fx *f, struct milter_reply *r)
{
	milter_body(f->conn, test_macro, NULL, "body\r\n", 6, f->arena, r);
}

/* ev_eom - end of message */
static void
ev_eom(struct fx *f, struct milter_reply *r)
{
	milter_eom(f->conn, test_macro, NULL, f->arena, r);
}

enum test_ev {
	EV_CONNECT, EV_HELO, EV_MAIL, EV_RCPT, EV_DATA, EV_UNKNOWN,
	EV_HEADER, EV_EOH, EV_BODY, EV_EOM, EV_N,
};

static const struct test_event {
	const char *stage;		/* the script's key */
	const char *name;		/* in whys */
	const char *dline, *eline;	/* what it sends (D may be NULL) */
	void (*call)(struct fx *, struct milter_reply *);
	bool connection;		/* connect, helo: no discard */
} test_events[EV_N] = {
	[EV_CONNECT] = { "connect", "CONNECT", D_C, E_C, ev_connect, true },
	[EV_HELO] = { "helo", "HELO", D_H, E_H, ev_helo, true },
	[EV_MAIL] = { "mail", "MAIL", D_M, E_M, ev_mail, false },
	[EV_RCPT] = { "rcpt", "RCPT", D_R, E_R, ev_rcpt, false },
	[EV_DATA] = { "data", "DATA", D_T, E_T, ev_data, false },
	[EV_UNKNOWN] = { "unknown", "UNKNOWN", NULL, E_U, ev_unknown, false },
	[EV_HEADER] = { "header", "HEADER", NULL, E_L, ev_header, false },
	[EV_EOH] = { "eoh", "EOH", D_N, E_N, ev_eoh, false },
	[EV_BODY] = { "body", "BODY", NULL, E_B, ev_body, false },
	[EV_EOM] = { "eom", "EOM", D_E, E_E, ev_eom, false },
};

/* expect_sent - the log shows event ev going out */
static void
expect_sent(struct fx *f, enum test_ev ev)
{
	if (test_events[ev].dline != NULL)
		EXPECT(f, test_events[ev].dline, test_events[ev].eline);
	else
		EXPECT(f, test_events[ev].eline);
}

/* ---- fixtures -------------------------------------------------------- */

/* setup - a directory and an arena; no filter yet */
static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || testutil_setup(f->dir, sizeof(f->dir), "mclient",
	    &f->arena) != 0)
		return -1;
	*state = f;
	return 0;
}

/* teardown - close, stop the filter, remove everything */
static int
teardown(void **state)
{
	struct fx *f = *state;
	int rc;

	milter_close(&f->conn);
	tm_stop(f);
	stop_with(f->real, SIGKILL);
	buf_free(&f->logbuf);
	free(f->lines);
	rc = testutil_teardown(f->dir, &f->arena);
	free(f);
	return rc;
}

/* ---- negotiation ----------------------------------------------------- */

/* test_negotiate_offer - we offer version 6, all actions, all steps; a
 * plain answer gives version 6 and no leading space */
static void
test_negotiate_offer(void **state)
{
	struct fx *f = *state;

	tm_start(f, "{}");
	open_ok(f);
	EXPECT(f, OPENED);
	assert_int_equal(milter_version(f->conn), 6);
	assert_false(milter_lead_space(f->conn));
	milter_close(&f->conn);
	assert_null(f->conn);
	EXPECT(f, "{'cmd':'Q'}");
	tm_expect_end(f);
	milter_close(&f->conn);		/* NULL is fine */
}

/* test_negotiate_leadspc - HDR_LEADSPC shows in milter_lead_space */
static void
test_negotiate_leadspc(void **state)
{
	struct fx *f = *state;

	tm_start(f, "{'negotiate':{'flags':1048576}}");
	open_ok(f);
	assert_true(milter_lead_space(f->conn));
}

/* test_negotiate_errors - every bad answer fails the open with why */
static void
test_negotiate_errors(void **state)
{
	static const struct {
		const char *negotiate;	/* the script's "negotiate" */
		const char *why;
	} cases[] = {
		{ "{'version':7}",
		    "negotiation: protocol version 7 is not 2 to 6" },
		{ "{'version':1}",
		    "negotiation: protocol version 1 is not 2 to 6" },
		{ "{'actions':512}",
		    "negotiation: actions 0x200 beyond the offered 0x1ff" },
		{ "{'actions':1023}",
		    "negotiation: actions 0x3ff beyond the offered 0x1ff" },
		{ "{'flags':2097152}",
		    "negotiation: steps 0x200000 beyond the offered "
		    "0x1fffff" },
		{ "{'version':2,'flags':4096}",
		    "negotiation: steps 0x1000 not in protocol version 2" },
		{ "{'version':2,'flags':256}",
		    "negotiation: steps 0x100 not in protocol version 2" },
		{ "{'version':3,'flags':512}",
		    "negotiation: steps 0x200 not in protocol version 3" },
		{ "{'version':4,'flags':1024}",
		    "negotiation: steps 0x400 not in protocol version 4" },
		{ "{'macros':{'7':'j'}}",
		    "negotiation: macro list for unknown stage 7" },
		{ "{'extra':'00000001'}",
		    "negotiation: truncated macro list" },
		{ "{'extra':'000000016a'}",
		    "negotiation: truncated macro list" },
		{ "{'macros':{'connect':'j \\u0001'}}",
		    "negotiation: macro list for stage 0: byte 0x01 in a "
		    "macro name" },
		{ "['c']", "reply 'c' at negotiation: not 'O'" },
		{ "{'packet':['O','\\u0000\\u0000\\u0000\\u0006']}",
		    "negotiation: answer of 4 bytes, not 12 or more" },
		{ "{'raw':'00000000'}", "bad packet length 0 at negotiation" },
		{ "'close'", "connection closed by the filter at negotiation" },
	};
	struct fx *f = *state;
	struct buf script = { 0 };
	size_t i;

	buf_puts(&script, "{'sessions':[");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		buf_printf(&script, "%s{'negotiate':%s}", i ? "," : "",
		    cases[i].negotiate);
	buf_puts(&script, "]}");
	tm_start(f, buf_cstr(&script));
	buf_free(&script);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		open_fails(f, cases[i].why);
}

/* test_negotiate_versions - older filters get only what their version
 * has: 2 no DATA and no UNKNOWN (nor their macros), 3 UNKNOWN, 4 both */
static void
test_negotiate_versions(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;
	unsigned v;

	for (v = 2; v <= 5; v++) {
		tm_start(f, arena_printf(f->arena,
		    "{'negotiate':{'version':%u}}", v));
		open_ok(f);
		EXPECT(f, OPENED);
		assert_int_equal(milter_version(f->conn), v);
		ev_unknown(f, &r);
		assert_int_equal(r.action, MILTER_CONTINUE);
		if (v >= 3)
			EXPECT(f, E_U);
		ev_data(f, &r);
		assert_int_equal(r.action, MILTER_CONTINUE);
		if (v >= 4)
			EXPECT(f, D_T, E_T);
		ev_eoh(f, &r);
		assert_int_equal(r.action, MILTER_CONTINUE);
		EXPECT(f, D_N, E_N);
	}
}

/* ---- connections ----------------------------------------------------- */

/* test_connect_refused - nobody listens */
static void
test_connect_refused(void **state)
{
	struct fx *f = *state;

	f->spec = default_spec();
	f->spec.socket = arena_printf(f->arena, "inet:127.0.0.1:%d",
	    testutil_free_port());
	open_fails(f, "connect: Connection refused");
	f->spec.socket = arena_printf(f->arena, "unix:%s/none.sock", f->dir);
	open_fails(f, "connect: No such file or directory");
	f->spec.socket = "tcp:127.0.0.1:25";
	open_fails(f, "bad socket \"tcp:127.0.0.1:25\": expected unix:PATH, "
	    "inet:HOST:PORT or inet6:[ADDRESS]:PORT");
}

/* test_unix_socket - the same protocol over a unix socket */
static void
test_unix_socket(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;

	tm_start_on(f, "{'helo':[{'y':'421 4.3.2 bye'}]}", true);
	assert_string_equal(f->name, arena_printf(f->arena, "unix:%s/m.sock",
	    f->dir));
	open_ok(f);
	ev_helo(f, &r);
	assert_int_equal(r.action, MILTER_REPLY);
	assert_string_equal(r.text, "421 4.3.2 bye");
	EXPECT(f, OPENED, D_H, E_H);
	assert_true(milter_abort(f->conn));
	milter_close(&f->conn);
	EXPECT(f, "{'cmd':'A'}", "{'cmd':'Q'}");
}

/* test_connect_families - the connect packet for each address family */
static void
test_connect_families(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;

	tm_start(f, "{}");
	open_ok(f);
	milter_connect_event(f->conn, test_macro, NULL, "v6.example.com",
	    '6', 25, "2001:db8::1", f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	milter_connect_event(f->conn, test_macro, NULL, "localhost", 'L', 0,
	    "/run/postern/smtpd", f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	milter_connect_event(f->conn, test_macro, NULL, "[unknown]", 'U', 99,
	    "ignored", f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	EXPECT(f, OPENED,
	    D_C, "{'cmd':'C','hostname':'v6.example.com','family':'6',"
	    "'port':25,'address':'2001:db8::1'}",
	    D_C, "{'cmd':'C','hostname':'localhost','family':'L','port':0,"
	    "'address':'/run/postern/smtpd'}",
	    D_C, "{'cmd':'C','hostname':'[unknown]','family':'U'}");
}

/* test_abort_close - abort sends 'A' and nothing else; close sends 'Q' */
static void
test_abort_close(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;

	tm_start(f, "{}");
	open_ok(f);
	ev_mail(f, &r);
	assert_true(milter_abort(f->conn));
	ev_mail(f, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	milter_close(&f->conn);
	EXPECT(f, OPENED, D_M, E_M, "{'cmd':'A'}", D_M, E_M, "{'cmd':'Q'}");
	tm_expect_end(f);
}

/* test_after_failure - once failed, calls fail at once and send nothing;
 * close sends no quit */
static void
test_after_failure(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;

	tm_start(f, "{'rcpt':['z']}");
	open_ok(f);
	ev_rcpt(f, &r);
	assert_failed(f, &r, "reply 'z' at RCPT: unknown reply");
	ev_helo(f, &r);
	assert_failed(f, &r, "HELO after the connection was closed");
	milter_rcpt(f->conn, test_macro, NULL, rcpt_argv, true, f->arena, &r);
	assert_failed(f, &r, "RCPT after the connection was closed");
	ev_body(f, &r);
	assert_failed(f, &r, "BODY after the connection was closed");
	assert_false(milter_abort(f->conn));
	milter_close(&f->conn);
	EXPECT(f, OPENED, D_R, E_R, EOF_LINE);
	tm_expect_end(f);
}

/* ---- replies --------------------------------------------------------- */

/* test_every_reply - every final answer (and progress before one) at
 * every event; then, each on a connection of its own, the answers an
 * event must not get */
static void
test_every_reply(void **state)
{
	static const struct {
		const char *script;
		enum milter_action action;
		const char *text;
	} good[] = {
		{ "'c'", MILTER_CONTINUE, NULL },
		{ "'a'", MILTER_ACCEPT, NULL },
		{ "'r'", MILTER_REJECT, NULL },
		{ "'t'", MILTER_TEMPFAIL, NULL },
		{ "{'y':'451 4.7.1 later'}", MILTER_REPLY, "451 4.7.1 later" },
		{ "{'y':'550-5.7.1 no\\r\\n550-5.7.1 really\\r\\n550 end'}",
		    MILTER_REPLY,
		    "550-5.7.1 no\r\n550-5.7.1 really\r\n550 end" },
		{ "{'y':'550 5.7.1 100%% sure, 50% off'}", MILTER_REPLY,
		    "550 5.7.1 100% sure, 50 off" },
		{ "'4'", MILTER_SHUTDOWN, NULL },
		{ "'f'", MILTER_CONNFAIL, NULL },
		{ "['p','p','c']", MILTER_CONTINUE, NULL },
		{ "['p','r']", MILTER_REJECT, NULL },
		{ "'d'", MILTER_DISCARD, NULL },	/* not for connection */
	};
	static const struct {
		const char *script;
		const char *why;	/* %s: the event */
		unsigned not_for;	/* bit per event that takes it */
	} bad[] = {
		{ "'d'", "reply 'd' at %s: not allowed at %s",
		    ~(1u << EV_CONNECT | 1u << EV_HELO) },
		{ "'s'", "reply 's' at %s: only after a body chunk",
		    1u << EV_BODY },
		{ "{'h':['X-A','b']}",
		    "reply 'h' at %s: only after end of message",
		    1u << EV_EOM },
		{ "{'q':'why'}", "reply 'q' at %s: only after end of message",
		    1u << EV_EOM },
		{ "{'b':'x'}", "reply 'b' at %s: only after end of message",
		    1u << EV_EOM },
		{ "'l'", "reply 'l' at %s: unknown reply", 0 },
	};
	struct fx *f = *state;
	struct milter_reply r;
	struct buf script = { 0 };
	size_t i, n, ev;
	const struct test_event *te;

	for (ev = 0; ev < EV_N; ev++) {
		te = &test_events[ev];
		n = sizeof(good) / sizeof(good[0]) - (te->connection ? 1 : 0);
		buf_reset(&script);
		/* session 1: the good answers; SKIP for the body */
		buf_printf(&script, "{'sessions':[{'negotiate':{'flags':1024},"
		    "'%s':[", te->stage);
		for (i = 0; i < n; i++)
			buf_printf(&script, "%s%s", i ? "," : "",
			    good[i].script);
		buf_printf(&script, "%s]}", ev == EV_BODY ? ",'s'" : "");
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if ((bad[i].not_for & (1u << ev)) == 0)
				buf_printf(&script, ",{'%s':[%s]}", te->stage,
				    bad[i].script);
		buf_puts(&script, "]}");
		tm_start(f, buf_cstr(&script));
		open_ok(f);
		EXPECT(f, "{'event':'open'}",
		    "{'cmd':'O','version':6,'actions':511,'flags':2097151}");
		for (i = 0; i < n; i++) {
			te->call(f, &r);
			if (r.action != good[i].action)
				fail_msg("%s: answer %s: action %d, not %d",
				    te->name, good[i].script, r.action,
				    good[i].action);
			if (good[i].text != NULL)
				assert_string_equal(r.text, good[i].text);
			else
				assert_null(r.text);
			assert_null(r.why);
			assert_int_equal(r.n_edits, 0);
			assert_null(r.quarantine);
			expect_sent(f, ev);
		}
		if (ev == EV_BODY) {
			te->call(f, &r);
			assert_int_equal(r.action, MILTER_SKIP);
			expect_sent(f, ev);
		}
		milter_close(&f->conn);
		EXPECT(f, "{'cmd':'Q'}");
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (bad[i].not_for & (1u << ev))
				continue;
			open_ok(f);
			te->call(f, &r);
			assert_failed(f, &r, arena_printf(f->arena,
			    bad[i].why, te->name, te->name));
			milter_close(&f->conn);
		}
	}
	buf_free(&script);
}

/* test_skip_needs_negotiation - 's' without SKIP is a violation */
static void
test_skip_needs_negotiation(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;

	tm_start(f, "{'body':['s']}");
	open_ok(f);
	ev_body(f, &r);
	assert_failed(f, &r, "reply 's' at BODY: SKIP was not negotiated");
}

/* test_bad_replies - each violation fails the call with a precise why
 * and closes the connection */
static void
test_bad_replies(void **state)
{
	static char long_line[1200];
	static const struct {
		enum test_ev ev;
		const char *negotiate;	/* or NULL */
		const char *reply;	/* one RESPONSE */
		const char *why;
	} cases[] = {
		{ EV_RCPT, NULL, "{'y':'250 2.0.0 ok'}",
		    "reply 'y' at RCPT: code 250 is not 4xx/5xx" },
		{ EV_RCPT, NULL, "{'y':'550 5.7.1 a\\nb'}",
		    "reply 'y' at RCPT: bare CR or LF in line 1" },
		{ EV_RCPT, NULL, "{'y':'550 5.7.1 a\\rb'}",
		    "reply 'y' at RCPT: bare CR or LF in line 1" },
		{ EV_RCPT, NULL, "{'y':'550-5.7.1 a\\r\\n550 b\\n'}",
		    "reply 'y' at RCPT: bare CR or LF in line 2" },
		{ EV_RCPT, NULL, "{'y':'550 5.7.1 a\\r\\n'}",
		    "reply 'y' at RCPT: line 1: code not followed by '-'" },
		{ EV_RCPT, NULL, "{'y':'550-5.7.1 a\\r\\n'}",
		    "reply 'y' at RCPT: line 2 does not start with a 3-digit "
		    "code" },
		{ EV_RCPT, NULL, "{'y':'550-5.7.1 a\\r\\n5 b'}",
		    "reply 'y' at RCPT: line 2 does not start with a 3-digit "
		    "code" },
		{ EV_RCPT, NULL, "{'y':'550-5.7.1 a\\r\\n551 5.7.1 b'}",
		    "reply 'y' at RCPT: line 2 has code 551, not 550" },
		{ EV_RCPT, NULL, "{'y':'550 5.7.1 a\\r\\n550 5.7.1 b'}",
		    "reply 'y' at RCPT: line 1: code not followed by '-'" },
		{ EV_RCPT, NULL, "{'y':'550-5.7.1 a'}",
		    "reply 'y' at RCPT: line 1: code not followed by ' '" },
		{ EV_RCPT, NULL, "{'y':'550'}",
		    "reply 'y' at RCPT: line 1: code not followed by ' '" },
		{ EV_RCPT, NULL, "{'y':'550 4.7.1 a'}",
		    "reply 'y' at RCPT: line 1: enhanced status 4.x.x does not "
		    "match code 550" },
		{ EV_RCPT, NULL, "{'y':'5x0 a'}",
		    "reply 'y' at RCPT: line 1 does not start with a 3-digit "
		    "code" },
		{ EV_RCPT, NULL, "{'y':''}",
		    "reply 'y' at RCPT: empty reply text" },
		{ EV_RCPT, NULL, "{'packet':['y','550 5.7.1 no']}",
		    "reply 'y' at RCPT: text missing or not NUL-terminated" },
		{ EV_RCPT, NULL,
		    "{'packet':['y','550 5.7.1 no\\u0000x\\u0000']}",
		    "reply 'y' at RCPT: 2 unexpected bytes at the end" },
		{ EV_RCPT, NULL, "{'raw':'00000000'}",
		    "bad packet length 0 at RCPT" },
		{ EV_RCPT, NULL, "{'raw':'0010000163'}",
		    "bad packet length 1048577 at RCPT" },
		{ EV_RCPT, NULL, "'z'", "reply 'z' at RCPT: unknown reply" },
		{ EV_RCPT, NULL, "{'packet':['\\u0001','']}",
		    "reply 0x01 at RCPT: unknown reply" },
		{ EV_RCPT, NULL, "{'packet':['c','abc']}",
		    "reply 'c' at RCPT: 3 unexpected bytes at the end" },
		{ EV_RCPT, NULL, "{'packet':['p','x']}",
		    "reply 'p' at RCPT: 1 unexpected bytes at the end" },
		{ EV_RCPT, NULL, "'close'",
		    "connection closed by the filter at RCPT" },
		{ EV_RCPT, NULL, "[{'raw':'0000000a79353530'},'close']",
		    "connection closed by the filter in the middle of a packet "
		    "at RCPT" },
		{ EV_RCPT, NULL, "[{'raw':'000000'},'close']",
		    "connection closed by the filter in the middle of a packet "
		    "at RCPT" },
		{ EV_EOM, NULL, "{'h':['X:Y','v']}",
		    "reply 'h' at EOM: header name \"X:Y\": byte 0x3a not "
		    "allowed" },
		{ EV_EOM, NULL, "{'i':[0,'X Y','v']}",
		    "reply 'i' at EOM: header name \"X Y\": byte 0x20 not "
		    "allowed" },
		{ EV_EOM, NULL, "{'h':['X\\u00e9','v']}",
		    "reply 'h' at EOM: header name \"X?\": byte 0xe9 not "
		    "allowed" },
		{ EV_EOM, NULL, "{'h':['','v']}",
		    "reply 'h' at EOM: header name of 0 bytes (1 to 997)" },
		{ EV_EOM, NULL, "{'h':['X','a\\r\\n b']}",
		    "reply 'h' at EOM: CR in header value" },
		{ EV_EOM, NULL, "{'m':[1,'X','a\\nb']}",
		    "reply 'm' at EOM: LF not followed by space or tab in "
		    "header value" },
		{ EV_EOM, NULL, "{'h':['X','a\\n']}",
		    "reply 'h' at EOM: LF not followed by space or tab in "
		    "header value" },
		{ EV_EOM, NULL, long_line,
		    "reply 'h' at EOM: header value line over 998 bytes" },
		{ EV_EOM, NULL, "{'packet':['h','X\\u0000v']}",
		    "reply 'h' at EOM: header value missing or not "
		    "NUL-terminated" },
		{ EV_EOM, NULL, "{'packet':['h','X\\u0000v\\u0000w\\u0000']}",
		    "reply 'h' at EOM: 2 unexpected bytes at the end" },
		{ EV_EOM, NULL, "{'packet':['i','\\u0000']}",
		    "reply 'i' at EOM: no index" },
		{ EV_EOM, NULL, "{'+':'<a@b.example'}",
		    "reply '+' at EOM: bad address \"<a@b.example\": "
		    "unbalanced angle brackets" },
		{ EV_EOM, NULL, "{'+':'<>'}",
		    "reply '+' at EOM: null address" },
		{ EV_EOM, NULL, "{'-':''}", "reply '-' at EOM: null address" },
		{ EV_EOM, NULL, "{'2':['<a@b.example>','X=\\u0001']}",
		    "reply '2' at EOM: control character 0x01 in parameters" },
		{ EV_EOM, NULL, "{'e':['a@b.example>']}",
		    "reply 'e' at EOM: bad address \"a@b.example>\": "
		    "unbalanced angle brackets" },
		{ EV_EOM, NULL, "{'q':''}", "reply 'q' at EOM: empty reason" },
		{ EV_EOM, NULL, "{'q':'a\\nb'}",
		    "reply 'q' at EOM: control character 0x0a in reason" },
		{ EV_EOM, "{'actions':0}", "{'h':['X','v']}",
		    "reply 'h' at EOM: action 0x001 was not negotiated" },
		{ EV_EOM, "{'actions':510}", "{'i':[0,'X','v']}",
		    "reply 'i' at EOM: action 0x001 was not negotiated" },
		{ EV_EOM, "{'actions':0}", "{'b':'x'}",
		    "reply 'b' at EOM: action 0x002 was not negotiated" },
		{ EV_EOM, "{'actions':4}", "{'2':['<a@b.example>','']}",
		    "reply '2' at EOM: action 0x080 was not negotiated" },
		{ EV_EOM, "{'actions':128}", "{'+':'<a@b.example>'}",
		    "reply '+' at EOM: action 0x004 was not negotiated" },
		{ EV_EOM, "{'actions':0}", "{'-':'<a@b.example>'}",
		    "reply '-' at EOM: action 0x008 was not negotiated" },
		{ EV_EOM, "{'actions':1}", "{'m':[1,'X','']}",
		    "reply 'm' at EOM: action 0x010 was not negotiated" },
		{ EV_EOM, "{'actions':0}", "{'q':'x'}",
		    "reply 'q' at EOM: action 0x020 was not negotiated" },
		{ EV_EOM, "{'actions':0}", "{'e':['<>']}",
		    "reply 'e' at EOM: action 0x040 was not negotiated" },
		{ EV_EOM, NULL, "[{'h':['X','v']},'s']",
		    "reply 's' at EOM: only after a body chunk" },
	};
	struct fx *f = *state;
	struct milter_reply r;
	struct buf script = { 0 };
	size_t i;
	int n;

	n = snprintf(long_line, sizeof(long_line), "{'h':['X','");
	memset(long_line + n, 'a', 999);
	snprintf(long_line + n + 999, sizeof(long_line) - (size_t)n - 999,
	    "']}");
	buf_puts(&script, "{'sessions':[");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_printf(&script, "%s{", i ? "," : "");
		if (cases[i].negotiate != NULL)
			buf_printf(&script, "'negotiate':%s,",
			    cases[i].negotiate);
		buf_printf(&script, "'%s':[%s]}",
		    test_events[cases[i].ev].stage, cases[i].reply);
	}
	buf_puts(&script, "]}");
	tm_start(f, buf_cstr(&script));
	buf_free(&script);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		open_ok(f);
		test_events[cases[i].ev].call(f, &r);
		if (r.action != MILTER_FAILED)
			fail_msg("case %zu (%s): action %d", i, cases[i].reply,
			    r.action);
		assert_failed(f, &r, cases[i].why);
		milter_close(&f->conn);
	}
}

/* test_edits - every edit at end of message, in order, with the
 * quarantine reason, then the verdict */
static void
test_edits(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;
	const struct milter_edit *e;

	tm_start(f, "{'eom':[["
	    "{'h':['X-Add','added']},"
	    "{'i':[0,'X-Ins',' inserted\\n\\tfolded']},"
	    "{'m':[2,'Subject','']},"
	    "{'m':[0,'X-Zero','z']},"
	    "{'e':['<new@example.com>']},"
	    "{'e':['<>','RET=HDRS']},"
	    "{'+':'<added@example.net>'},"
	    "{'2':['<par@example.net>','NOTIFY=NEVER']},"
	    "{'2':['extra@example.net']},"
	    "{'-':'<bob@example.net>'},"
	    "'p',"
	    "{'b':'new body\\r\\n'},"
	    "{'b':'\\u0000second\\r\\n'},"
	    "{'q':'held for review'},"
	    "'a']]}");
	open_ok(f);
	ev_eom(f, &r);
	assert_int_equal(r.action, MILTER_ACCEPT);
	assert_string_equal(r.quarantine, "held for review");
	assert_int_equal(r.n_edits, 12);
	e = r.edits;
	assert_int_equal(e[0].type, MILTER_EDIT_ADD_HEADER);
	assert_string_equal(e[0].name, "X-Add");
	assert_string_equal(e[0].value, "added");
	assert_int_equal(e[1].type, MILTER_EDIT_INSERT_HEADER);
	assert_int_equal(e[1].index, 0);
	assert_string_equal(e[1].name, "X-Ins");
	assert_string_equal(e[1].value, " inserted\n\tfolded");
	assert_int_equal(e[2].type, MILTER_EDIT_CHANGE_HEADER);
	assert_int_equal(e[2].index, 2);
	assert_string_equal(e[2].name, "Subject");
	assert_string_equal(e[2].value, "");
	assert_int_equal(e[3].type, MILTER_EDIT_CHANGE_HEADER);
	assert_int_equal(e[3].index, 0);
	assert_string_equal(e[3].value, "z");
	assert_int_equal(e[4].type, MILTER_EDIT_CHANGE_SENDER);
	assert_string_equal(e[4].addr, "<new@example.com>");
	assert_null(e[4].args);
	assert_int_equal(e[5].type, MILTER_EDIT_CHANGE_SENDER);
	assert_string_equal(e[5].addr, "<>");
	assert_string_equal(e[5].args, "RET=HDRS");
	assert_int_equal(e[6].type, MILTER_EDIT_ADD_RCPT);
	assert_string_equal(e[6].addr, "<added@example.net>");
	assert_null(e[6].args);
	assert_int_equal(e[7].type, MILTER_EDIT_ADD_RCPT);
	assert_string_equal(e[7].addr, "<par@example.net>");
	assert_string_equal(e[7].args, "NOTIFY=NEVER");
	assert_int_equal(e[8].type, MILTER_EDIT_ADD_RCPT);
	assert_string_equal(e[8].addr, "extra@example.net");
	assert_null(e[8].args);
	assert_int_equal(e[9].type, MILTER_EDIT_DEL_RCPT);
	assert_string_equal(e[9].addr, "<bob@example.net>");
	assert_int_equal(e[10].type, MILTER_EDIT_BODY);
	assert_int_equal(e[10].len, 10);
	assert_memory_equal(e[10].data, "new body\r\n", 10);
	assert_int_equal(e[11].type, MILTER_EDIT_BODY);
	assert_int_equal(e[11].len, 9);
	assert_memory_equal(e[11].data, "\0second\r\n", 9);
	EXPECT(f, OPENED, D_E, E_E);
	/* the connection goes on: a second message without edits */
	ev_eom(f, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	assert_int_equal(r.n_edits, 0);
	assert_null(r.edits);
	assert_null(r.quarantine);
}

/* test_edits_reject - edits then a refusal: both are reported */
static void
test_edits_reject(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;

	tm_start(f, "{'eom':[[{'h':['X-A','1']},{'y':'554 5.7.1 spam'}]]}");
	open_ok(f);
	ev_eom(f, &r);
	assert_int_equal(r.action, MILTER_REPLY);
	assert_string_equal(r.text, "554 5.7.1 spam");
	assert_int_equal(r.n_edits, 1);
	assert_string_equal(r.edits[0].name, "X-A");
}

/* ---- macros ---------------------------------------------------------- */

/* test_macros_default - Postfix's lists, values from the lookup, names
 * it does not know left out; no 'D' before unknown, header and body */
static void
test_macros_default(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;
	size_t ev;

	tm_start(f, "{}");
	open_ok(f);
	EXPECT(f, OPENED);
	for (ev = 0; ev < EV_N; ev++) {
		test_events[ev].call(f, &r);
		assert_int_equal(r.action, MILTER_CONTINUE);
		expect_sent(f, ev);
	}
	tm_expect_end(f);
}

/* test_macros_requested - the filter's lists replace the defaults of
 * their stages; an empty list keeps the default (as in Postfix); "{v}"
 * and "daemon_name" find what the lookup knows as "v" and
 * "{daemon_name}", and go out as the filter wrote them */
static void
test_macros_requested(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;
	size_t ev;

	tm_start(f, "{'negotiate':{'actions':256,'macros':{"
	    "'connect':'{client_addr} j {nope} {v} daemon_name','helo':'',"
	    "'mail':'{mail_addr}','data':'{rcpt_addr},i','eoh':'i\\tj',"
	    "'eom':'{nope}'}}}");
	open_ok(f);
	EXPECT(f, OPENED);
	for (ev = 0; ev < EV_N; ev++)
		test_events[ev].call(f, &r);
	EXPECT(f,
	    "{'cmd':'D','for':'C','macros':[['{client_addr}','192.0.2.1'],"
	    "['j','mx.example.com'],['{v}','Postern 1.0'],"
	    "['daemon_name','postern']]}", E_C,
	    D_H, E_H,
	    "{'cmd':'D','for':'M','macros':[['{mail_addr}',"
	    "'alice@example.com']]}", E_M,
	    D_R, E_R,
	    "{'cmd':'D','for':'T','macros':[['{rcpt_addr}',"
	    "'bob@example.net'],['i','QID1']]}", E_T,
	    E_U, E_L,
	    "{'cmd':'D','for':'N','macros':[['i','QID1'],"
	    "['j','mx.example.com']]}", E_N,
	    E_B,
	    "{'cmd':'D','for':'E','macros':[]}", E_E);
}

/* ---- step flags ------------------------------------------------------ */

/* test_no_events - NO* flags: the event is not sent (CONTINUE at once),
 * its macros still are */
static void
test_no_events(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;
	size_t ev;

	/* NOCONNECT NOHELO NOMAIL NORCPT NOBODY NOHDRS NOEOH NOUNKNOWN
	 * NODATA */
	tm_start(f, "{'negotiate':{'flags':895}}");
	open_ok(f);
	EXPECT(f, OPENED);
	for (ev = 0; ev < EV_N; ev++) {
		test_events[ev].call(f, &r);
		assert_int_equal(r.action, MILTER_CONTINUE);
		if (ev == EV_EOM)
			EXPECT(f, D_E, E_E);
		else if (test_events[ev].dline != NULL)
			EXPECT(f, test_events[ev].dline);
	}
	tm_expect_end(f);
}

/* test_no_replies - NR_* flags: events and macros are sent, no answer is
 * awaited: the nine calls take far less than the 0.2 s that waiting for
 * the silent filter would cost each */
static void
test_no_replies(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;
	double t0;
	size_t ev;

	/* NR_HDR NR_CONN NR_HELO NR_MAIL NR_RCPT NR_DATA NR_UNKN NR_EOH
	 * NR_BODY */
	tm_start(f, "{'negotiate':{'flags':1044608},"
	    "'eom':[[{'sleep':0.3},'c']]}");
	f->spec.command_timeout = f->spec.content_timeout = 0.2;
	open_ok(f);
	EXPECT(f, OPENED);
	t0 = testutil_now();
	for (ev = 0; ev < EV_EOM; ev++) {
		test_events[ev].call(f, &r);
		assert_int_equal(r.action, MILTER_CONTINUE);
	}
	assert_true(testutil_now() - t0 < 0.5 * testutil_slack());
	for (ev = 0; ev < EV_EOM; ev++)
		expect_sent(f, ev);
	/* end of message is always answered: here too late */
	ev_eom(f, &r);
	assert_failed(f, &r, "timed out after 0.2s at EOM");
	EXPECT(f, D_E, E_E);
}

/* test_no_reply_lie - a filter that answers what it said it would not,
 * or leaves, is caught before the next event */
static void
test_no_reply_lie(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;

	tm_start(f, "{'sessions':[{'negotiate':{'flags':4096},"
	    "'connect':['c']},{'negotiate':{'flags':4096},"
	    "'connect':['close']}]}");
	open_ok(f);
	ev_connect(f, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	testutil_sleep(0.2);
	ev_helo(f, &r);
	assert_failed(f, &r, "unexpected data from the filter before HELO");
	milter_close(&f->conn);
	open_ok(f);
	ev_connect(f, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	testutil_sleep(0.2);
	ev_helo(f, &r);
	assert_failed(f, &r, "connection closed by the filter before HELO");
}

/* test_rcpt_rejected - a refused recipient goes only to a filter that
 * asked for them (RCPT_REJ), with its macros */
static void
test_rcpt_rejected(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;

	tm_start(f, "{'sessions':[{},{'negotiate':{'flags':2048}}]}");
	open_ok(f);
	EXPECT(f, OPENED);
	milter_rcpt(f->conn, test_macro, NULL, rcpt_argv, true, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	ev_rcpt(f, &r);
	EXPECT(f, D_R, E_R);
	milter_close(&f->conn);
	EXPECT(f, "{'cmd':'Q'}");
	open_ok(f);
	EXPECT(f, "{'event':'open'}",
	    "{'cmd':'O','version':6,'actions':511,'flags':2097151}");
	milter_rcpt(f->conn, test_macro, NULL, rcpt_argv, true, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	EXPECT(f, D_R, E_R);
}

/* test_header_value - folds go as LF; the leading space only with
 * HDR_LEADSPC; a leading tab always */
static void
test_header_value(void **state)
{
	static const struct {
		const char *stored, *plain, *leadspc;
	} cases[] = {
		{ " a\r\n\tb\r\n c", "a\\n\\tb\\n c", " a\\n\\tb\\n c" },
		{ "  two", " two", "  two" },
		{ "\tx", "\\tx", "\\tx" },
		{ "nospace", "nospace", "nospace" },
		{ "", "", "" },
		{ " ", "", " " },
		{ " a\rb\r\n\r\n c", "a\\rb\\n\\n c", " a\\rb\\n\\n c" },
	};
	struct fx *f = *state;
	struct milter_reply r;
	size_t i;
	int s;

	tm_start(f, "{'sessions':[{},{'negotiate':{'flags':1048576}}]}");
	for (s = 0; s < 2; s++) {
		open_ok(f);
		EXPECT(f, "{'event':'open'}",
		    "{'cmd':'O','version':6,'actions':511,'flags':2097151}");
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			milter_header(f->conn, test_macro, NULL, "X-Test",
			    cases[i].stored, f->arena, &r);
			assert_int_equal(r.action, MILTER_CONTINUE);
			EXPECT(f, arena_printf(f->arena, "{'cmd':'L','name':"
			    "'X-Test','value':'%s'}", s == 0 ? cases[i].plain :
			    cases[i].leadspc));
		}
		milter_close(&f->conn);
		EXPECT(f, "{'cmd':'Q'}");
	}
}

/* body_line - the log line of a body packet of n bytes of c */
static const char *
body_line(struct fx *f, size_t n, char c)
{
	char *data = arena_alloc(f->arena, n + 1);

	memset(data, c, n);
	return arena_printf(f->arena, "{'cmd':'B','len':%zu,'data':'%s'}", n,
	    data);
}

/* test_body_split - a chunk goes in packets of at most 65535 bytes, each
 * answered; an empty one is not sent */
static void
test_body_split(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;
	size_t len = 2 * 65535 + 8930;
	char *body = arena_alloc(f->arena, len);

	memset(body, 'x', len);
	tm_start(f, "{'body':['c',['p','c'],'c','c','c','r']}");
	open_ok(f);
	EXPECT(f, OPENED);
	milter_body(f->conn, test_macro, NULL, body, len, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	EXPECT(f, body_line(f, 65535, 'x'), body_line(f, 65535, 'x'),
	    body_line(f, 8930, 'x'));
	milter_body(f->conn, test_macro, NULL, body, 0, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	milter_body(f->conn, test_macro, NULL, body, 65536, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	EXPECT(f, body_line(f, 65535, 'x'), body_line(f, 1, 'x'));
	/* a refusal stops the chunk */
	milter_body(f->conn, test_macro, NULL, body, len, f->arena, &r);
	assert_int_equal(r.action, MILTER_REJECT);
	EXPECT(f, body_line(f, 65535, 'x'));
	tm_expect_end(f);
}

/* test_body_skip - after 's' no more body of that message is sent;
 * end of message or an abort ends the skipping */
static void
test_body_skip(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;
	size_t len = 3 * 65535;
	char *body = arena_alloc(f->arena, len);

	memset(body, 'y', len);
	tm_start(f, "{'negotiate':{'flags':1024},'body':['c','s','s']}");
	open_ok(f);
	EXPECT(f, OPENED);
	milter_body(f->conn, test_macro, NULL, body, len, f->arena, &r);
	assert_int_equal(r.action, MILTER_SKIP);
	EXPECT(f, body_line(f, 65535, 'y'), body_line(f, 65535, 'y'));
	milter_body(f->conn, test_macro, NULL, body, 10, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	tm_expect_end(f);
	ev_eom(f, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	EXPECT(f, D_E, E_E);
	milter_body(f->conn, test_macro, NULL, body, 10, f->arena, &r);
	assert_int_equal(r.action, MILTER_SKIP);
	EXPECT(f, body_line(f, 10, 'y'));
	assert_true(milter_abort(f->conn));
	milter_body(f->conn, test_macro, NULL, body, 10, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	EXPECT(f, "{'cmd':'A'}", body_line(f, 10, 'y'));
	tm_expect_end(f);
}

/* ---- deadlines ------------------------------------------------------- */

/* timed - run ev on f, return the seconds it took */
static double
timed(struct fx *f, enum test_ev ev, struct milter_reply *r)
{
	double t0 = testutil_now();

	test_events[ev].call(f, r);
	return testutil_now() - t0;
}

/* test_timeouts - a silent filter fails the call at its deadline:
 * command_timeout before the message, content_timeout inside it,
 * connect_timeout for connect and negotiation */
static void
test_timeouts(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;
	const char *why = NULL;
	double t, t0;

	tm_start(f, "{'sessions':[{'rcpt':['none']},"
	    "{'mail':[[{'sleep':0.5},'c']],'header':['none']},"
	    "{'negotiate':'none'}]}");
	f->spec.command_timeout = 0.4;
	open_ok(f);
	t = timed(f, EV_RCPT, &r);
	assert_failed(f, &r, "timed out after 0.4s at RCPT");
	assert_true(t >= 0.4 && t < 0.7);
	milter_close(&f->conn);

	f->spec.command_timeout = 1;
	f->spec.content_timeout = 0.3;
	open_ok(f);
	t = timed(f, EV_MAIL, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	assert_true(t >= 0.5);
	t = timed(f, EV_HEADER, &r);
	assert_failed(f, &r, "timed out after 0.3s at HEADER");
	assert_true(t >= 0.3 && t < 0.6);
	milter_close(&f->conn);

	f->spec.connect_timeout = 0.25;
	t0 = testutil_now();
	f->conn = milter_open(&f->spec, f->arena, &why);
	t = testutil_now() - t0;
	assert_null(f->conn);
	assert_string_equal(why, arena_printf(f->arena, "filter %s: timed "
	    "out after 0.25s at negotiation", f->name));
	assert_true(t >= 0.25 && t < 0.55);
}

/* test_connect_timeout - a listener that never accepts and whose backlog
 * is full: the connect itself times out */
static void
test_connect_timeout(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int lfd, fds[64], n = 0, i;
	double t0, t;

	/* 10.255.255.1 would be better but must not leave loopback: fill
	 * a tiny backlog instead and count on SYNs being dropped */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	for (i = 0; i < 64; i++) {
		fds[n] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(fds[n], (struct sockaddr *)&sin, sizeof(sin));
		n++;
	}
	testutil_sleep(0.1);
	f->spec = default_spec();
	f->spec.connect_timeout = 0.3;
	f->spec.socket = arena_printf(f->arena, "inet:127.0.0.1:%d",
	    ntohs(sin.sin_port));
	t0 = testutil_now();
	{
		const char *why = NULL;

		f->conn = milter_open(&f->spec, f->arena, &why);
		t = testutil_now() - t0;
		assert_null(f->conn);
		/* either the SYN is dropped (timeout in connect) or the
		 * kernel completes it and nobody negotiates */
		if (strstr(why, "at connect") == NULL)
			assert_string_equal(why, arena_printf(f->arena,
			    "filter %s: timed out after 0.3s at negotiation",
			    f->spec.socket));
		else
			assert_string_equal(why, arena_printf(f->arena,
			    "filter %s: timed out after 0.3s at connect",
			    f->spec.socket));
	}
	assert_true(t >= 0.3 && t < 0.6);
	for (i = 0; i < n; i++)
		close(fds[i]);
	close(lfd);
}

/* test_progress - each 'p' gives the filter a fresh deadline; without
 * more of them the old one holds, and edits do not move it */
static void
test_progress(void **state)
{
	struct fx *f = *state;
	struct milter_reply r;
	double t;

	tm_start(f, "{'sessions':["
	    "{'rcpt':[['p',{'sleep':0.3},'p',{'sleep':0.3},'p',"
	    "{'sleep':0.3},'p',{'sleep':0.3},'c']],"
	    "'eom':[[{'h':['X','1']},{'sleep':0.3},'p',{'sleep':0.3},"
	    "{'h':['X','2']},{'sleep':0.1},'c']]},"
	    "{'rcpt':[['p',{'sleep':0.8},'c']]},"
	    "{'eom':[[{'h':['X','1']},{'sleep':0.3},{'h':['X','2']},"
	    "{'sleep':0.3},'c']]}]}");
	f->spec.command_timeout = 0.5;
	f->spec.content_timeout = 0.5;
	open_ok(f);
	t = timed(f, EV_RCPT, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	assert_true(t >= 1.2);
	ev_eom(f, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	assert_int_equal(r.n_edits, 2);
	milter_close(&f->conn);
	open_ok(f);
	t = timed(f, EV_RCPT, &r);
	assert_failed(f, &r, "timed out after 0.5s at RCPT");
	assert_true(t >= 0.5 && t < 0.8);
	milter_close(&f->conn);
	open_ok(f);
	t = timed(f, EV_EOM, &r);
	assert_failed(f, &r, "timed out after 0.5s at EOM");
	assert_true(t >= 0.5 && t < 0.8);
}

/* ---- milter_spec_parse ----------------------------------------------- */

/* test_spec_parse - Postfix's syntax, alone and in braces */
static void
test_spec_parse(void **state)
{
	struct fx *f = *state;
	struct milter_spec def = {
		.name = "ignored", .socket = "ignored",
		.connect_timeout = 30, .command_timeout = 30,
		.content_timeout = 300,
		.default_action = MILTER_DEFAULT_TEMPFAIL,
	}, s;
	const char *why = NULL;

	assert_true(milter_spec_parse("inet:127.0.0.1:8891", &def, f->arena,
	    &s, &why));
	assert_string_equal(s.socket, "inet:127.0.0.1:8891");
	assert_string_equal(s.name, "inet:127.0.0.1:8891");
	assert_true(s.connect_timeout == 30 && s.command_timeout == 30 &&
	    s.content_timeout == 300);
	assert_int_equal(s.default_action, MILTER_DEFAULT_TEMPFAIL);

	assert_true(milter_spec_parse("{ inet:127.0.0.1:8891, "
	    "default_action = accept, command_timeout = 10s }", &def,
	    f->arena, &s, &why));
	assert_string_equal(s.socket, "inet:127.0.0.1:8891");
	assert_int_equal(s.default_action, MILTER_DEFAULT_ACCEPT);
	assert_true(s.command_timeout == 10 && s.connect_timeout == 30 &&
	    s.content_timeout == 300);

	assert_true(milter_spec_parse(" {inet6:[::1]:8891,connect_timeout="
	    "500ms,\n\tcontent_timeout=5m,default_action=SHUTDOWN,} ", &def,
	    f->arena, &s, &why));
	assert_string_equal(s.socket, "inet6:[::1]:8891");
	assert_true(s.connect_timeout == 0.5 && s.content_timeout == 300 &&
	    s.command_timeout == 30);
	assert_int_equal(s.default_action, MILTER_DEFAULT_SHUTDOWN);

	assert_true(milter_spec_parse("{unix:/run/f.sock,default_action="
	    "reject}", &def, f->arena, &s, &why));
	assert_string_equal(s.socket, "unix:/run/f.sock");
	assert_int_equal(s.default_action, MILTER_DEFAULT_REJECT);
	assert_true(milter_spec_parse("{ local:/run/f.sock, default_action = "
	    "quarantine, content_timeout = 1h }", &def, f->arena, &s, &why));
	assert_int_equal(s.default_action, MILTER_DEFAULT_QUARANTINE);
	assert_true(s.content_timeout == 3600);
	assert_true(milter_spec_parse("inet6:::1:8891", &def, f->arena, &s,
	    &why));
	assert_true(milter_spec_parse("inet:localhost:8891", &def, f->arena,
	    &s, &why));
	assert_true(milter_spec_parse("inet:[::1]:8891", &def, f->arena, &s,
	    &why));
}

/* test_spec_errors - each bad item names its bad part */
static void
test_spec_errors(void **state)
{
	static const struct {
		const char *item, *why;
	} cases[] = {
		{ "", "empty milter" },
		{ "   ", "empty milter" },
		{ "{ inet:127.0.0.1:1", "\"{\" without its \"}\"" },
		{ "{ }", "no socket inside the braces" },
		{ "{ , }", "no socket inside the braces" },
		{ "{ default_action = accept, inet:h:1 }",
		    "the socket must come first" },
		{ "{ inet:h:1, {x} }", "nested braces" },
		{ "{ inet:h:1, protocol = 6 }",
		    "unknown setting \"protocol\" (expected connect_timeout, "
		    "command_timeout, content_timeout or default_action)" },
		{ "{ inet:h:1, timeout }", "\"timeout\" is not name = value" },
		{ "{ inet:h:1, command_timeout = 10x }",
		    "command_timeout: \"10x\" is not a duration above 0 such "
		    "as 30s or 5m" },
		{ "{ inet:h:1, connect_timeout = 0 }",
		    "connect_timeout: \"0\" is not a duration above 0 such as "
		    "30s or 5m" },
		{ "{ inet:h:1, content_timeout = }",
		    "content_timeout: \"\" is not a duration above 0 such as "
		    "30s or 5m" },
		{ "{ inet:h:1, default_action = bounce }",
		    "default_action: \"bounce\" is not tempfail, accept, "
		    "reject, quarantine or shutdown" },
		{ "{ inet:h:1, default_action = accept, default_action = "
		    "reject }", "default_action is set twice" },
		{ "inet:host", "bad socket \"inet:host\": no :PORT" },
		{ "inet::25", "bad socket \"inet::25\": no host" },
		{ "inet:h:0", "bad socket \"inet:h:0\": port is not a number "
		    "from 1 to 65535" },
		{ "inet:h:65536", "bad socket \"inet:h:65536\": port is not a "
		    "number from 1 to 65535" },
		{ "inet:h:smtp", "bad socket \"inet:h:smtp\": port is not a "
		    "number from 1 to 65535" },
		{ "inet:::1:25", "bad socket \"inet:::1:25\": an IPv6 address "
		    "needs brackets" },
		{ "inet6:[::1:25", "bad socket \"inet6:[::1:25\": expected "
		    "[ADDRESS]:PORT" },
		{ "unix:", "bad socket \"unix:\": no path" },
		{ "8891@127.0.0.1", "bad socket \"8891@127.0.0.1\": expected "
		    "unix:PATH, inet:HOST:PORT or inet6:[ADDRESS]:PORT" },
		{ "inet:127.0.0.1:1 inet:127.0.0.1:2",
		    "bad socket \"inet:127.0.0.1:1 inet:127.0.0.1:2\": white "
		    "space, comma, brace or control character in the socket "
		    "name" },
	};
	struct fx *f = *state;
	struct milter_spec def = { .connect_timeout = 30 }, s;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why = NULL;
		if (milter_spec_parse(cases[i].item, &def, f->arena, &s, &why))
			fail_msg("\"%s\" was accepted", cases[i].item);
		assert_non_null(why);
		assert_string_equal(why, cases[i].why);
	}
}

/* ---- real filters ---------------------------------------------------- */

/* start_listening - run argv (output to out) until port accepts */
static pid_t
start_listening(char *const argv[], const char *out, int port)
{
	double until = testutil_now() + 15;
	pid_t pid = spawn(argv, out);
	int status;

	while (!port_open(port)) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			fail_msg("%s exited (status %d); see %s", argv[0],
			    status, out);
		if (testutil_now() > until) {
			stop(pid);
			fail_msg("%s does not listen on port %d; see %s",
			    argv[0], port, out);
		}
		testutil_sleep(0.02);
	}
	return pid;
}

/* message - data .. body of a small message from from_hdr; every
 * answer CONTINUE */
static void
message(struct fx *f, const char *from_hdr)
{
	static const struct {
		const char *name, *value;
	} hdrs[] = {
		{ "From", NULL },
		{ "To", " <bob@example.net>" },
		{ "Subject", " test\r\n\tfolded" },
		{ "Date", " Sun, 22 Nov 2026 08:00:00 +0000" },
		{ "Message-ID", " <t1@example.com>" },
	};
	struct milter_reply r;
	size_t i;

	milter_data(f->conn, test_macro, NULL, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		milter_header(f->conn, test_macro, NULL, hdrs[i].name,
		    hdrs[i].value ? hdrs[i].value : from_hdr, f->arena, &r);
		assert_int_equal(r.action, MILTER_CONTINUE);
	}
	milter_eoh(f->conn, test_macro, NULL, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	milter_body(f->conn, test_macro, NULL, "Hello.\r\n", 8, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
}

/* test_filterd - postern-filterd with the access module: a relay
 * recipient refused at RCPT with its text, a local one accepted and the
 * message gets Authentication-Results */
static void
test_filterd(void **state)
{
	struct fx *f = *state;
	char bin[512], conf[300], out[300];
	char *argv[5];
	const char *const mail[] = { "<a@client.example>", NULL };
	const char *const relay[] = { "<victim@third.example>", NULL };
	const char *const ours[] = { "<user@ours.example>", NULL };
	struct milter_reply r;
	int port;
	size_t i;
	bool found = false;

	snprintf(bin, sizeof(bin), "%s/filterd/postern-filterd",
	    TOP_BUILDDIR);
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "# %s not built\n", bin);
		skip();
	}
	port = testutil_free_port();
	snprintf(conf, sizeof(conf), "%s/filterd.conf", f->dir);
	snprintf(out, sizeof(out), "%s/filterd.log", f->dir);
	testutil_put(f->arena, f->dir, "filterd.conf", arena_printf(f->arena,
	    "socket        = inet:%d@127.0.0.1\n"
	    "pid_file      =\n"
	    "pipeline      = access\n"
	    "authserv_id   = mx.example.com\n"
	    "mynetworks    = 127.0.0.1/32\n"
	    "\n"
	    "[access]\n"
	    "relay_domains = ours.example\n", port));
	argv[0] = bin;
	argv[1] = "-f";
	argv[2] = "-c";
	argv[3] = conf;
	argv[4] = NULL;
	/* teardown kills it: libmilter takes seconds to stop cleanly */
	f->real = start_listening(argv, out, port);
	f->spec = default_spec();
	f->spec.socket = arena_printf(f->arena, "inet:127.0.0.1:%d", port);
	open_ok(f);
	assert_int_equal(milter_version(f->conn), 6);
	milter_connect_event(f->conn, test_macro, NULL, "client.example",
	    '4', 40000, "192.0.2.1", f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	milter_helo(f->conn, test_macro, NULL, "client.example", f->arena,
	    &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	milter_mail(f->conn, test_macro, NULL, mail, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	milter_rcpt(f->conn, test_macro, NULL, relay, false, f->arena, &r);
	assert_int_equal(r.action, MILTER_REPLY);
	assert_string_equal(r.text,
	    "554 5.7.1 <victim@third.example>: Relay access denied");
	milter_rcpt(f->conn, test_macro, NULL, ours, false, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	message(f, " <a@client.example>");
	milter_eom(f->conn, test_macro, NULL, f->arena, &r);
	if (r.action == MILTER_FAILED)
		fail_msg("%s", r.why);
	assert_int_equal(r.action, MILTER_CONTINUE);
	for (i = 0; i < r.n_edits; i++) {
		const struct milter_edit *e = &r.edits[i];

		if ((e->type == MILTER_EDIT_INSERT_HEADER ||
		    e->type == MILTER_EDIT_ADD_HEADER) &&
		    strcmp(e->name, "Authentication-Results") == 0) {
			found = true;
			assert_string_equal(e->value + (milter_lead_space(
			    f->conn) && e->value[0] == ' '),
			    "mx.example.com; none");
		}
	}
	assert_true(found);
}

/* test_opendkim - the real opendkim signs: the DKIM-Signature header
 * edit comes back */
static void
test_opendkim(void **state)
{
	struct fx *f = *state;
	char conf[300], out[300], cmd[1024];
	char *argv[5];
	const char *const mail[] = { "<user@example.com>", NULL };
	const char *const rcpt[] = { "<bob@example.net>", NULL };
	struct milter_reply r;
	int port;
	size_t i;
	const struct milter_edit *sig = NULL;

	if (access(OPENDKIM, X_OK) != 0 || access(OPENDKIM_GENKEY, X_OK) != 0)
		fail_msg("%s or %s is not installed (package opendkim and "
		    "opendkim-tools; scripts/deps installs them)", OPENDKIM,
		    OPENDKIM_GENKEY);
	snprintf(cmd, sizeof(cmd), "%s -b 1024 -D %s -d example.com -s sel",
	    OPENDKIM_GENKEY, f->dir);
	assert_int_equal(system(cmd), 0);
	port = testutil_free_port();
	snprintf(conf, sizeof(conf), "%s/opendkim.conf", f->dir);
	snprintf(out, sizeof(out), "%s/opendkim.log", f->dir);
	testutil_put(f->arena, f->dir, "opendkim.conf", arena_printf(f->arena,
	    "Socket\t\tinet:%d@127.0.0.1\n"
	    "Mode\t\ts\n"
	    "Domain\t\texample.com\n"
	    "Selector\tsel\n"
	    "KeyFile\t\t%s/sel.private\n"
	    "Canonicalization\trelaxed/simple\n"
	    "Syslog\t\tno\n"
	    "RequireSafeKeys\tno\n"
	    "PidFile\t\t%s/opendkim.pid\n", port, f->dir, f->dir));
	argv[0] = OPENDKIM;
	argv[1] = "-f";
	argv[2] = "-x";
	argv[3] = conf;
	argv[4] = NULL;
	/* teardown kills it: libmilter takes seconds to stop cleanly */
	f->real = start_listening(argv, out, port);
	f->spec = default_spec();
	f->spec.socket = arena_printf(f->arena, "inet:127.0.0.1:%d", port);
	open_ok(f);
	milter_connect_event(f->conn, test_macro, NULL, "localhost", '4',
	    40000, "127.0.0.1", f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	milter_helo(f->conn, test_macro, NULL, "localhost", f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	milter_mail(f->conn, test_macro, NULL, mail, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	milter_rcpt(f->conn, test_macro, NULL, rcpt, false, f->arena, &r);
	assert_int_equal(r.action, MILTER_CONTINUE);
	message(f, " User <user@example.com>");
	milter_eom(f->conn, test_macro, NULL, f->arena, &r);
	if (r.action == MILTER_FAILED)
		fail_msg("%s", r.why);
	/* opendkim accepts the message at the end */
	assert_int_equal(r.action, MILTER_ACCEPT);
	for (i = 0; i < r.n_edits; i++)
		if ((r.edits[i].type == MILTER_EDIT_INSERT_HEADER ||
		    r.edits[i].type == MILTER_EDIT_ADD_HEADER) &&
		    strcmp(r.edits[i].name, "DKIM-Signature") == 0)
			sig = &r.edits[i];
	if (sig == NULL)
		fail_msg("no DKIM-Signature edit (%zu edits); see %s",
		    r.n_edits, out);
	assert_non_null(strstr(sig->value, "d=example.com;"));
	assert_non_null(strstr(sig->value, "s=sel;"));
	assert_non_null(strstr(sig->value, "b="));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* main - every test */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_negotiate_offer),
		T(test_negotiate_leadspc),
		T(test_negotiate_errors),
		T(test_negotiate_versions),
		T(test_connect_refused),
		T(test_unix_socket),
		T(test_connect_families),
		T(test_abort_close),
		T(test_after_failure),
		T(test_every_reply),
		T(test_skip_needs_negotiation),
		T(test_bad_replies),
		T(test_edits),
		T(test_edits_reject),
		T(test_macros_default),
		T(test_macros_requested),
		T(test_no_events),
		T(test_no_replies),
		T(test_no_reply_lie),
		T(test_rcpt_rejected),
		T(test_header_value),
		T(test_body_split),
		T(test_body_skip),
		T(test_timeouts),
		T(test_connect_timeout),
		T(test_progress),
		T(test_spec_parse),
		T(test_spec_errors),
		T(test_filterd),
		T(test_opendkim),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
