/*
 * test_milters.c - the milter chain (mta/milters.c) against two or three
 * tests/smtp/testmilter.py filters at once, each started by the test on
 * a free loopback port with a script of its own and a log of every
 * packet it received
 *
 * Scripts and expected log lines are written with ' for " (dq()). Each
 * filter's log is compared whole, line by line, from where the last
 * check stopped, so a test also shows what a filter did NOT get: the
 * filters after the one that decided an event, a filter that accepted,
 * one that failed. Our own warnings (lib/log on stderr) are captured
 * around the calls that must or must not log, and compared exactly.
 *
 * Filters are named m1, m2, m3 in chain order. The test filters die with
 * the test (PR_SET_PDEATHSIG) if it crashes.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "log.h"
#include "message.h"
#include "milter_client.h"
#include "milters.h"
#include "spool.h"
#include "testutil.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define PYTHON		"/usr/bin/python3"
#define MAX_TM		3

/* the texts milters.h promises */
#define REJECT_TEXT	"550 5.7.1 Command rejected"
#define TEMPFAIL_TEXT	"451 4.7.1 Service unavailable - try again later"
#define SHUTDOWN_TEXT	"421 4.7.0 Server closing connection"
#define DEF_TEMPFAIL	"451 4.3.5 Server configuration problem - try " \
			"again later"
#define DEF_REJECT	"550 5.5.0 Service unavailable"
#define DEF_SHUTDOWN	"421 4.3.5 Server configuration problem - " \
			"closing connection"
#define DEF_QUARANTINE	"milter unavailable (default_action quarantine)"
#define WRITE_ERROR	"451 4.3.0 Error: queue file write error"

/* what every filter logs when the chain connects, and at close */
#define OPENED \
	"{'event':'open'}", \
	"{'cmd':'O','version':6,'actions':511,'flags':2097151}"
#define QUIT		"{'cmd':'Q'}"
#define EOF_LINE	"{'event':'eof'}"
#define ABORT		"{'cmd':'A'}"

/* what the events send, with test_macro's values ('D' first) */
#define D_C "{'cmd':'D','for':'C','macros':[['j','mx.example.com']," \
	"['{daemon_name}','postern'],['v','Postern 1.0']," \
	"['_','client.example.com [192.0.2.1]']]}"
#define E_C "{'cmd':'C','hostname':'client.example.com','family':'4'," \
	"'port':4321,'address':'192.0.2.1'}"
#define D_H "{'cmd':'D','for':'H','macros':[['{tls_version}','TLSv1.3']]}"
#define E_H "{'cmd':'H','helo':'helo.example.com'}"
#define D_M "{'cmd':'D','for':'M','macros':[['i','QID1']," \
	"['{auth_type}','PLAIN'],['{mail_addr}','alice@example.com']]}"
#define E_M "{'cmd':'M','args':['<alice@example.com>','SIZE=100']}"
#define D_R "{'cmd':'D','for':'R','macros':[['{rcpt_addr}'," \
	"'bob@example.net']]}"
#define E_R "{'cmd':'R','args':['<bob@example.net>']}"
#define E_R2 "{'cmd':'R','args':['<carol@example.net>','NOTIFY=NEVER']}"
#define D_T "{'cmd':'D','for':'T','macros':[['i','QID1']]}"
#define E_T "{'cmd':'T'}"
#define E_U "{'cmd':'U','command':'XYZZY now'}"
#define D_N "{'cmd':'D','for':'N','macros':[['i','QID1']]}"
#define E_N "{'cmd':'N'}"
#define D_E "{'cmd':'D','for':'E','macros':[['i','QID1']]}"
#define E_E "{'cmd':'E','len':0}"

/* msg_new's message as a filter without HDR_LEADSPC sees it: the hidden
 * Received: field is never among them */
#define L_FROM	"{'cmd':'L','name':'From','value':'alice@example.com'}"
#define L_TO	"{'cmd':'L','name':'To','value':'bob@example.net'}"
#define L_SUBJ	"{'cmd':'L','name':'Subject','value':'hi\\n\\tthere'}"
#define L_DUP1	"{'cmd':'L','name':'X-Dup','value':'one'}"
#define L_DUP2	"{'cmd':'L','name':'X-Dup','value':'two'}"
#define L_OLD	"{'cmd':'L','name':'X-Old','value':'x'}"
#define HEADERS	L_FROM, L_TO, L_SUBJ, L_DUP1, L_DUP2, L_OLD
#define B_BODY	"{'cmd':'B','len':16,'data':'line 1\\r\\nline 2\\r\\n'}"
#define CONTENT	HEADERS, D_N, E_N, B_BODY, D_E, E_E

/* One test filter. */
struct tfilter {
	pid_t pid;			/* 0: not running */
	char name[320];			/* its socket, mta syntax */
	char log[320];
	size_t seen;			/* log lines checked */
};

/* One test's world. */
struct fx {
	char dir[256];
	struct arena *arena;
	int starts;			/* test filters started so far */
	struct tfilter tm[MAX_TM];
	struct milter_spec specs[MAX_TM];
	size_t n;			/* specs in the chain */
	struct milters *ms;
	struct buf logbuf;		/* a log file read back */
	char **lines;			/* into logbuf */
	size_t lines_cap;
	char errlog[320];		/* our stderr while captured */
	int saved_stderr;		/* -1: not capturing */
	unsigned macro_calls;		/* test_macro's, with f as ctx */
};

/* What rcpt_ok was asked, and what it refuses. */
struct rcpt_vet {
	struct buf asked;		/* "a,b,c" */
	const char *refuse;
};

/* The macros the "MTA" knows; the rest are NULL. */
static const struct {
	const char *name, *value;
} test_macros[] = {
	{ "j", "mx.example.com" },
	{ "{daemon_name}", "postern" },
	{ "v", "Postern 1.0" },
	{ "_", "client.example.com [192.0.2.1]" },
	{ "{tls_version}", "TLSv1.3" },
	{ "i", "QID1" },
	{ "{auth_type}", "PLAIN" },
	{ "{mail_addr}", "alice@example.com" },
	{ "{rcpt_addr}", "bob@example.net" },
	{ NULL, NULL },
};

static const char *const mail_argv[] = { "<alice@example.com>", "SIZE=100",
	NULL };
static const char *const rcpt_argv[] = { "<bob@example.net>", NULL };
static const char *const rcpt2_argv[] = { "<carol@example.net>",
	"NOTIFY=NEVER", NULL };

/* test_macro - the milter_macro_fn of the tests; ctx must be the
 * fixture (counted, so a test can see it was asked) */
static const char *
test_macro(void *ctx, const char *name)
{
	struct fx *f = ctx;
	int i;

	f->macro_calls++;
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

/* stop - SIGTERM, wait up to 5 s for the exit, then SIGKILL */
static void
stop(pid_t pid)
{
	double until = testutil_now() + 5;
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (testutil_now() > until) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return;
		}
		testutil_sleep(0.01);
	}
}

/* default_spec - filter i's spec (name m1, m2, ...) with 5 s timeouts
 * and the default action tempfail; socket set by the caller */
static struct milter_spec
default_spec(struct fx *f, size_t i)
{
	struct milter_spec s = {
		.name = arena_printf(f->arena, "m%zu", i + 1),
		.connect_timeout = 5,
		.command_timeout = 5,
		.content_timeout = 5,
		.default_action = MILTER_DEFAULT_TEMPFAIL,
	};

	return s;
}

/*
 * tm_start - test filter i running script (with ' for "), on a free
 * loopback port; f->specs[i] points at it (default_spec) and the chain
 * has at least i + 1 filters
 */
static void
tm_start(struct fx *f, size_t i, const char *script)
{
	struct tfilter *t = &f->tm[i];
	char prog[512], ready[300], out[300], log[sizeof(t->log)], *spath;
	char *argv[12];
	double until = testutil_now() + 10;
	FILE *fp;
	int n = 0, status;

	stop(t->pid);
	t->pid = 0;
	f->starts++;
	spath = testutil_put(f->arena, f->dir, arena_printf(f->arena,
	    "script-%d.json", f->starts), dq(f->arena, script));
	snprintf(log, sizeof(log), "%s/milter-%d.log", f->dir, f->starts);
	memcpy(t->log, log, sizeof(t->log));
	snprintf(ready, sizeof(ready), "%s/ready-%d", f->dir, f->starts);
	snprintf(out, sizeof(out), "%s/testmilter.out", f->dir);
	snprintf(prog, sizeof(prog), "%s/tests/smtp/testmilter.py",
	    getenv("TOP") ? getenv("TOP") : TOP_SRCDIR);
	argv[n++] = PYTHON;
	argv[n++] = prog;
	argv[n++] = "--script";
	argv[n++] = spath;
	argv[n++] = "--log";
	argv[n++] = t->log;
	argv[n++] = "--inet";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--ready";
	argv[n++] = ready;
	argv[n] = NULL;
	t->pid = spawn(argv, out);
	while ((fp = fopen(ready, "r")) == NULL) {
		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			t->pid = 0;
			fail_msg("testmilter.py exited; see %s", out);
		}
		if (testutil_now() > until)
			fail_msg("testmilter.py not ready in 10 s; see %s",
			    out);
		testutil_sleep(0.01);
	}
	assert_non_null(fgets(t->name, sizeof(t->name), fp));
	fclose(fp);
	t->name[strcspn(t->name, "\n")] = '\0';
	t->seen = 0;
	f->specs[i] = default_spec(f, i);
	f->specs[i].socket = t->name;
	if (f->n < i + 1)
		f->n = i + 1;
}

/* spec_dead - filter i is a loopback port nobody listens on, with
 * default action d; the chain has at least i + 1 filters */
static void
spec_dead(struct fx *f, size_t i, enum milter_default d)
{
	f->specs[i] = default_spec(f, i);
	f->specs[i].socket = arena_printf(f->arena, "inet:127.0.0.1:%d",
	    testutil_free_port());
	f->specs[i].default_action = d;
	if (f->n < i + 1)
		f->n = i + 1;
}

/* read_lines - path's complete lines, waiting up to wait s until there
 * are at least want; pointers into f->logbuf */
static size_t
read_lines(struct fx *f, const char *path, size_t want, double wait,
    char ***lines_r)
{
	size_t n = testutil_lines(path, want, wait, &f->logbuf, &f->lines,
	    &f->lines_cap);

	*lines_r = f->lines;
	return n;
}

/* tm_expect_v - filter i's next n log lines are exp (with ' for "; the
 * conn number of each line is not compared) */
static void
tm_expect_v(struct fx *f, size_t i, const char *const *exp, size_t n,
    int line)
{
	struct tfilter *t = &f->tm[i];
	char **lines, *want;
	const char *got;
	size_t have, k;

	have = read_lines(f, t->log, t->seen + n, 5, &lines);
	for (k = 0; k < n; k++) {
		want = dq(f->arena, exp[k]);
		if (t->seen + k >= have)
			fail_msg("line %d: m%zu log line %zu missing: want %s",
			    line, i + 1, t->seen + k + 1, want);
		got = lines[t->seen + k];
		if (strncmp(got, "{\"conn\":", 8) == 0 &&
		    (got = strchr(got, ',')) != NULL)
			got++;
		else
			got = lines[t->seen + k] + 1;
		if (strcmp(got, want + 1) != 0)
			fail_msg("line %d: m%zu log line %zu\n#  got: %s\n"
			    "# want: %s", line, i + 1, t->seen + k + 1,
			    lines[t->seen + k], want);
	}
	t->seen += n;
}

#define EXPECT(f, i, ...) do { \
	const char *const exp_[] = { __VA_ARGS__ }; \
	tm_expect_v((f), (i), exp_, sizeof(exp_) / sizeof(exp_[0]), \
	    __LINE__); \
} while (0)

/* tm_expect_end - no more lines arrive in filter i's log for a while */
static void
tm_expect_end(struct fx *f, size_t i)
{
	char **lines;
	size_t have;

	testutil_sleep(0.15);
	have = read_lines(f, f->tm[i].log, 0, 0, &lines);
	if (have > f->tm[i].seen)
		fail_msg("m%zu: unexpected log line %zu: %s", i + 1,
		    f->tm[i].seen + 1, lines[f->tm[i].seen]);
}

/* capture_restore - stderr back where it was; what was captured is in
 * f->errlog */
static void
capture_restore(struct fx *f)
{
	if (f->saved_stderr < 0)
		return;
	fflush(stderr);
	dup2(f->saved_stderr, STDERR_FILENO);
	close(f->saved_stderr);
	f->saved_stderr = -1;
}

/* log_begin - our stderr (lib/log) into f->errlog, emptied */
static void
log_begin(struct fx *f)
{
	int fd;

	capture_restore(f);
	fflush(stderr);
	f->saved_stderr = dup(STDERR_FILENO);
	assert_true(f->saved_stderr >= 0);
	fd = open(f->errlog, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	assert_true(fd >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/*
 * log_end_v - stop capturing; the lines logged since log_begin are
 * exactly exp (NULL-terminated), each compared after the
 * "time ident[pid]: " prefix ("warning: milter m1: ..."). Anything else
 * on stderr (a sanitizer, valgrind) fails the test and is shown.
 */
static void
log_end_v(struct fx *f, const char *const *exp, int line)
{
	char **lines;
	const char *got;
	size_t have, k;

	capture_restore(f);
	have = read_lines(f, f->errlog, 0, 0, &lines);
	for (k = 0; k < have || exp[k] != NULL; k++) {
		if (k >= have)
			fail_msg("line %d: log line %zu missing: want %s",
			    line, k + 1, exp[k]);
		got = strstr(lines[k], "]: ");
		got = got != NULL ? got + 3 : lines[k];
		if (exp[k] == NULL)
			fail_msg("line %d: unexpected log line %zu: %s", line,
			    k + 1, lines[k]);
		if (strcmp(got, exp[k]) != 0)
			fail_msg("line %d: log line %zu\n#  got: %s\n"
			    "# want: %s", line, k + 1, got, exp[k]);
	}
}

#define LOG_END(f, ...) do { \
	const char *const exp_[] = { __VA_ARGS__, NULL }; \
	log_end_v((f), exp_, __LINE__); \
} while (0)
#define LOG_NONE(f) do { \
	const char *const exp_[] = { NULL }; \
	log_end_v((f), exp_, __LINE__); \
} while (0)

/* assert_result_at - r is verdict v with reply (or NULL) decided by by
 * (or NULL) */
static void
assert_result_at(const struct milters_result *r, enum milters_verdict v,
    const char *reply, const char *by, int line)
{
	if (r->verdict != v)
		fail_msg("line %d: verdict %d, want %d (reply %s, by %s)",
		    line, (int)r->verdict, (int)v,
		    r->reply ? r->reply : "NULL", r->by ? r->by : "NULL");
	if (reply == NULL && r->reply != NULL)
		fail_msg("line %d: reply %s, want none", line, r->reply);
	if (reply != NULL && (r->reply == NULL ||
	    strcmp(r->reply, reply) != 0))
		fail_msg("line %d: reply %s, want %s", line,
		    r->reply ? r->reply : "NULL", reply);
	if (by == NULL && r->by != NULL)
		fail_msg("line %d: by %s, want nobody", line, r->by);
	if (by != NULL && (r->by == NULL || strcmp(r->by, by) != 0))
		fail_msg("line %d: by %s, want %s", line,
		    r->by ? r->by : "NULL", by);
}

#define assert_result(r, v, reply, by) \
	assert_result_at((r), (v), (reply), (by), __LINE__)
#define assert_continue(r) \
	assert_result_at((r), MILTERS_CONTINUE, NULL, NULL, __LINE__)

/* chain_open - milters_open on the specs; its result in *r */
static void
chain_open(struct fx *f, struct milters_result *r)
{
	r->verdict = MILTERS_ACCEPT;	/* must be overwritten */
	r->reply = "junk";
	r->by = "junk";
	f->ms = milters_open(f->specs, f->n, f->arena, r);
	assert_non_null(f->ms);
}

/* chain_open_ok - milters_open must say CONTINUE */
static void
chain_open_ok(struct fx *f)
{
	struct milters_result r;

	chain_open(f, &r);
	assert_continue(&r);
}

/* ---- the events ------------------------------------------------------ */

/* ev_connect - a client 192.0.2.1 port 4321 */
static void
ev_connect(struct fx *f, struct milters_result *r)
{
	milters_connect(f->ms, test_macro, f, "client.example.com", '4', 4321,
	    "192.0.2.1", f->arena, r);
}

/* ev_helo - EHLO helo.example.com */
static void
ev_helo(struct fx *f, struct milters_result *r)
{
	milters_helo(f->ms, test_macro, f, "helo.example.com", f->arena, r);
}

/* ev_mail - MAIL FROM:<alice@example.com> SIZE=100 */
static void
ev_mail(struct fx *f, struct milters_result *r)
{
	milters_mail(f->ms, test_macro, f, mail_argv, f->arena, r);
}

/* ev_rcpt - RCPT TO:<bob@example.net> */
static void
ev_rcpt(struct fx *f, struct milters_result *r)
{
	milters_rcpt(f->ms, test_macro, f, rcpt_argv, false, f->arena, r);
}

/* ev_rcpt2 - RCPT TO:<carol@example.net> NOTIFY=NEVER */
static void
ev_rcpt2(struct fx *f, struct milters_result *r)
{
	milters_rcpt(f->ms, test_macro, f, rcpt2_argv, false, f->arena, r);
}

/* ev_data - DATA */
static void
ev_data(struct fx *f, struct milters_result *r)
{
	milters_data(f->ms, test_macro, f, f->arena, r);
}

/* ev_unknown - a command the mta does not know */
static void
ev_unknown(struct fx *f, struct milters_result *r)
{
	milters_unknown(f->ms, test_macro, f, "XYZZY now", f->arena, r);
}

enum stage {
	ST_CONNECT, ST_HELO, ST_MAIL, ST_RCPT, ST_DATA, ST_UNKNOWN, ST_N,
};

/* the events in session order, with what each sends */
static const struct stage_info {
	const char *key;		/* the script's key */
	const char *dline, *eline;	/* D (or NULL), the event */
	void (*call)(struct fx *, struct milters_result *);
} stages[ST_N] = {
	[ST_CONNECT] = { "connect", D_C, E_C, ev_connect },
	[ST_HELO] = { "helo", D_H, E_H, ev_helo },
	[ST_MAIL] = { "mail", D_M, E_M, ev_mail },
	[ST_RCPT] = { "rcpt", D_R, E_R, ev_rcpt },
	[ST_DATA] = { "data", D_T, E_T, ev_data },
	[ST_UNKNOWN] = { "unknown", NULL, E_U, ev_unknown },
};

/* expect_stage - filter i's log shows event s going out */
static void
expect_stage(struct fx *f, size_t i, enum stage s)
{
	if (stages[s].dline != NULL)
		EXPECT(f, i, stages[s].dline, stages[s].eline);
	else
		EXPECT(f, i, stages[s].eline);
}

/* run_to - events connect .. last - 1, each CONTINUE */
static void
run_to(struct fx *f, enum stage last)
{
	struct milters_result r;
	size_t s;

	for (s = 0; s < last; s++) {
		stages[s].call(f, &r);
		assert_continue(&r);
	}
}

/* expect_to - filter i's log shows events connect .. last - 1 */
static void
expect_to(struct fx *f, size_t i, enum stage last)
{
	size_t s;

	for (s = 0; s < last; s++)
		expect_stage(f, i, s);
}

/* ---- messages -------------------------------------------------------- */

/*
 * msg_new_in - alice@example.com to bob and carol, a hidden Received: on
 * top of six visible fields (one folded, two of a name), two body lines;
 * body in memory up to spool_memory, then in dir
 */
static struct message *
msg_new_in(struct fx *f, const char *dir, uint64_t spool_memory)
{
	static const char hdr[] = "From: alice@example.com\r\n"
	    "To: bob@example.net\r\n"
	    "Subject: hi\r\n\tthere\r\n"
	    "X-Dup: one\r\n"
	    "X-Dup: two\r\n"
	    "X-Old: x\r\n";
	struct message *m = message_new(f->arena, dir, spool_memory);
	struct message_rcpt bob = { .addr = "bob@example.net" };
	struct message_rcpt carol = { .addr = "carol@example.net",
		.notify = MESSAGE_NOTIFY_NEVER };
	const char *why = NULL;

	m->sender = "alice@example.com";
	message_add_rcpt(m, &bob);
	message_add_rcpt(m, &carol);
	if (!message_parse_header(m, hdr, sizeof(hdr) - 1, &why))
		fail_msg("message_parse_header: %s", why);
	message_prepend_header(m, "Received",
	    " from client.example.com\r\n\tby mx.example.com", true);
	assert_true(spool_append(m->body, "line 1\r\nline 2\r\n", 16));
	return m;
}

/* msg_new - msg_new_in the test directory, body in memory */
static struct message *
msg_new(struct fx *f)
{
	return msg_new_in(f, f->dir, 1 << 20);
}

/* body_of - the message body as a string (no NULs in these tests) */
static const char *
body_of(struct fx *f, struct message *m)
{
	uint64_t size = spool_size(m->body);
	char *b = arena_alloc(f->arena, (size_t)size + 1);

	assert_int_equal(spool_read(m->body, 0, b, (size_t)size),
	    (ssize_t)size);
	b[size] = '\0';
	return b;
}

/* assert_header_at - header field k of m (hidden ones included) */
static void
assert_header_at(const struct message *m, size_t k, const char *name,
    const char *value, bool hidden, int line)
{
	if (k >= m->n_headers)
		fail_msg("line %d: no header %zu (%zu fields)", line, k,
		    m->n_headers);
	if (strcmp(m->headers[k].name, name) != 0 ||
	    strcmp(m->headers[k].value, value) != 0 ||
	    m->headers[k].hidden != hidden)
		fail_msg("line %d: header %zu is %s:[%s]%s, want %s:[%s]%s",
		    line, k, m->headers[k].name, m->headers[k].value,
		    m->headers[k].hidden ? " (hidden)" : "", name, value,
		    hidden ? " (hidden)" : "");
}

#define assert_header(m, k, name, value, hidden) \
	assert_header_at((m), (k), (name), (value), (hidden), __LINE__)

/* assert_untouched - m is still what msg_new made */
static void
assert_untouched(struct fx *f, struct message *m)
{
	assert_string_equal(m->sender, "alice@example.com");
	assert_int_equal(m->n_rcpts, 2);
	assert_string_equal(m->rcpts[0].addr, "bob@example.net");
	assert_string_equal(m->rcpts[1].addr, "carol@example.net");
	assert_int_equal(m->n_headers, 7);
	assert_header(m, 0, "Received",
	    " from client.example.com\r\n\tby mx.example.com", true);
	assert_header(m, 1, "From", " alice@example.com", false);
	assert_header(m, 6, "X-Old", " x", false);
	assert_string_equal(body_of(f, m), "line 1\r\nline 2\r\n");
}

/* rcpt_vet - the milters_rcpt_ok_fn: remembers what it was asked */
static bool
rcpt_vet(void *ctx, const char *addr)
{
	struct rcpt_vet *v = ctx;

	if (v->asked.len > 0)
		buf_putc(&v->asked, ',');
	buf_puts(&v->asked, addr);
	return v->refuse == NULL || strcmp(addr, v->refuse) != 0;
}

/* run_message - milters_message on m (no relay check) into r */
static void
run_message(struct fx *f, struct message *m, struct milters_result *r)
{
	milters_message(f->ms, test_macro, f, m, NULL, NULL, f->arena, r);
}

/* body_line - the log line of a body packet of n bytes of c */
static const char *
body_line(struct fx *f, size_t n, char c)
{
	char *data = arena_alloc(f->arena, n + 1);

	memset(data, c, n);
	data[n] = '\0';
	return arena_printf(f->arena, "{'cmd':'B','len':%zu,'data':'%s'}", n,
	    data);
}

/* ---- fixtures -------------------------------------------------------- */

/* setup - a directory and an arena; no filter yet */
static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || testutil_setup(f->dir, sizeof(f->dir), "mchain",
	    &f->arena) != 0)
		return -1;
	f->saved_stderr = -1;
	snprintf(f->errlog, sizeof(f->errlog), "%s/stderr.log", f->dir);
	*state = f;
	return 0;
}

/* teardown - close the chain, stop the filters, remove everything; what
 * a failed test left captured goes to the real stderr */
static int
teardown(void **state)
{
	struct fx *f = *state;
	char **lines;
	size_t i, n;
	int rc;

	if (f->saved_stderr >= 0) {
		capture_restore(f);
		n = read_lines(f, f->errlog, 0, 0, &lines);
		for (i = 0; i < n; i++)
			fprintf(stderr, "# captured: %s\n", lines[i]);
	}
	milters_close(&f->ms);
	for (i = 0; i < MAX_TM; i++)
		stop(f->tm[i].pid);
	buf_free(&f->logbuf);
	free(f->lines);
	rc = testutil_teardown(f->dir, &f->arena);
	free(f);
	return rc;
}

/* ---- the chain ------------------------------------------------------- */

/* test_all_continue - every event reaches every filter in order, with
 * the macros the caller's function gives (asked with the caller's
 * context); close quits each filter; no filters at all is a chain that
 * takes nothing */
static void
test_all_continue(void **state)
{
	struct fx *f = *state;
	struct milters_result r;
	struct message *m;
	size_t i;

	for (i = 0; i < MAX_TM; i++)
		tm_start(f, i, "{}");
	log_begin(f);
	chain_open_ok(f);
	assert_true(milters_active(f->ms));
	run_to(f, ST_N);
	m = msg_new(f);
	run_message(f, m, &r);
	assert_continue(&r);
	assert_null(m->quarantine);
	assert_untouched(f, m);
	ev_rcpt2(f, &r);		/* a second message, cut short */
	assert_continue(&r);
	milters_close(&f->ms);
	assert_null(f->ms);
	LOG_NONE(f);
	for (i = 0; i < MAX_TM; i++) {
		EXPECT(f, i, OPENED);
		expect_to(f, i, ST_N);
		EXPECT(f, i, CONTENT, D_R, E_R2, QUIT);
		tm_expect_end(f, i);
	}
	assert_true(f->macro_calls > 0);
	milters_close(&f->ms);		/* NULL is fine */

	/* an empty chain */
	f->n = 0;
	chain_open_ok(f);
	assert_false(milters_active(f->ms));
	ev_connect(f, &r);
	assert_continue(&r);
	ev_mail(f, &r);
	assert_continue(&r);
	m = msg_new(f);
	run_message(f, m, &r);
	assert_continue(&r);
	assert_null(m->quarantine);
	milters_abort(f->ms);
	milters_close(&f->ms);
}

/* the answers of test_verdicts, each from m2 at each event */
static const struct {
	const char *script;
	enum milters_verdict verdict;
	const char *reply;
	bool decides;			/* m3 does not see the event */
} verdicts[] = {
	{ "'c'", MILTERS_CONTINUE, NULL, false },
	{ "['p','c']", MILTERS_CONTINUE, NULL, false },
	{ "'r'", MILTERS_REJECT, REJECT_TEXT, true },
	{ "'t'", MILTERS_TEMPFAIL, TEMPFAIL_TEXT, true },
	{ "['p','r']", MILTERS_REJECT, REJECT_TEXT, true },
	{ "{'y':'554 5.7.1 go away'}", MILTERS_REJECT, "554 5.7.1 go away",
	    true },
	{ "{'y':'550-5.7.1 two\\r\\n550 5.7.1 lines'}", MILTERS_REJECT,
	    "550-5.7.1 two\r\n550 5.7.1 lines", true },
	{ "{'y':'452 4.3.1 later'}", MILTERS_TEMPFAIL, "452 4.3.1 later",
	    true },
	{ "{'y':'421 4.3.2 bye'}", MILTERS_SHUTDOWN, "421 4.3.2 bye", true },
	{ "{'y':'421-4.3.2 bye\\r\\n421 4.3.2 now'}", MILTERS_SHUTDOWN,
	    "421-4.3.2 bye\r\n421 4.3.2 now", true },
	{ "'4'", MILTERS_SHUTDOWN, SHUTDOWN_TEXT, true },
	{ "'f'", MILTERS_SHUTDOWN, SHUTDOWN_TEXT, true },
};

#define N_VERDICTS	(sizeof(verdicts) / sizeof(verdicts[0]))

/*
 * test_verdicts - every answer of m2 at every event, one session each:
 * the first verdict other than continue decides (with Postfix's texts
 * for a bare reject / tempfail, the filter's own for 'y', 421 and '4'
 * and 'f' a shutdown) and m3 does not see that event; m1 always does.
 * A refused recipient is that recipient only: the next one reaches all.
 */
static void
test_verdicts(void **state)
{
	struct fx *f = *state;
	struct milters_result r;
	struct buf script = { 0 };
	size_t s, v, i;

	buf_puts(&script, "{'sessions':[");
	for (s = 0; s < ST_N; s++)
		for (v = 0; v < N_VERDICTS; v++)
			buf_printf(&script, "%s{'%s':[%s]}",
			    s == 0 && v == 0 ? "" : ",", stages[s].key,
			    verdicts[v].script);
	buf_puts(&script, "]}");
	tm_start(f, 0, "{}");
	tm_start(f, 1, buf_cstr(&script));
	tm_start(f, 2, "{}");
	buf_free(&script);
	for (s = 0; s < ST_N; s++) {
		for (v = 0; v < N_VERDICTS; v++) {
			chain_open_ok(f);
			run_to(f, s);
			stages[s].call(f, &r);
			if (r.verdict != verdicts[v].verdict)
				fail_msg("%s %s: verdict %d", stages[s].key,
				    verdicts[v].script, (int)r.verdict);
			assert_result(&r, verdicts[v].verdict,
			    verdicts[v].reply, verdicts[v].decides ? "m2" :
			    NULL);
			assert_true(milters_active(f->ms));
			if (s == ST_RCPT && verdicts[v].verdict !=
			    MILTERS_SHUTDOWN) {
				ev_rcpt2(f, &r);
				assert_continue(&r);
			}
			milters_close(&f->ms);
			for (i = 0; i < 3; i++) {
				EXPECT(f, i, OPENED);
				expect_to(f, i, s);
				if (i < 2 || !verdicts[v].decides)
					expect_stage(f, i, s);
				if (s == ST_RCPT && verdicts[v].verdict !=
				    MILTERS_SHUTDOWN)
					EXPECT(f, i, D_R, E_R2);
				EXPECT(f, i, QUIT);
			}
		}
	}
	for (i = 0; i < 3; i++)
		tm_expect_end(f, i);
}

/*
 * test_accept_session - 'a' at connect or helo: that filter gets no more
 * events of the session (but its quit); once every filter accepted, the
 * chain is no longer active
 */
static void
test_accept_session(void **state)
{
	struct fx *f = *state;
	struct milters_result r;
	struct message *m;

	tm_start(f, 0, "{'connect':['a']}");
	tm_start(f, 1, "{'helo':['a']}");
	tm_start(f, 2, "{}");
	chain_open_ok(f);
	ev_connect(f, &r);
	assert_continue(&r);
	ev_helo(f, &r);
	assert_continue(&r);
	assert_true(milters_active(f->ms));
	run_to(f, ST_N);		/* a second connect, helo, ... */
	m = msg_new(f);
	run_message(f, m, &r);
	assert_continue(&r);
	milters_abort(f->ms);
	milters_close(&f->ms);
	EXPECT(f, 0, OPENED, D_C, E_C, QUIT);
	EXPECT(f, 1, OPENED, D_C, E_C, D_H, E_H, QUIT);
	EXPECT(f, 2, OPENED, D_C, E_C, D_H, E_H);
	expect_to(f, 2, ST_N);
	EXPECT(f, 2, CONTENT, ABORT, QUIT);

	/* m1 and m2 alone: after helo nobody listens */
	f->n = 2;
	chain_open_ok(f);
	ev_connect(f, &r);
	assert_continue(&r);
	assert_true(milters_active(f->ms));
	ev_helo(f, &r);
	assert_continue(&r);
	assert_false(milters_active(f->ms));
	ev_mail(f, &r);
	assert_continue(&r);
	milters_close(&f->ms);
	EXPECT(f, 0, OPENED, D_C, E_C, QUIT);
	EXPECT(f, 1, OPENED, D_C, E_C, D_H, E_H, QUIT);
	tm_expect_end(f, 0);
	tm_expect_end(f, 1);
	tm_expect_end(f, 2);
}

/*
 * test_accept_message - 'a' at mail, rcpt, data, a header or end of
 * message: that filter is skipped for the rest of the message only and
 * gets the next message's MAIL; the chain stays active
 */
static void
test_accept_message(void **state)
{
	struct fx *f = *state;
	struct milters_result r;
	struct message *m;

	tm_start(f, 0, "{'mail':['a'],'header':['a']}");
	tm_start(f, 1, "{'rcpt':['a'],'eom':['a']}");
	tm_start(f, 2, "{'data':['a']}");
	chain_open_ok(f);
	run_to(f, ST_MAIL);
	/* message 1: m1 accepts at MAIL, m2 at RCPT, m3 at DATA */
	ev_mail(f, &r);
	assert_continue(&r);
	ev_rcpt(f, &r);
	assert_continue(&r);
	ev_rcpt2(f, &r);
	assert_continue(&r);
	ev_data(f, &r);
	assert_continue(&r);
	assert_true(milters_active(f->ms));
	m = msg_new(f);
	run_message(f, m, &r);
	assert_continue(&r);
	EXPECT(f, 0, OPENED, D_C, E_C, D_H, E_H, D_M, E_M);
	EXPECT(f, 1, OPENED, D_C, E_C, D_H, E_H, D_M, E_M, D_R, E_R);
	EXPECT(f, 2, OPENED, D_C, E_C, D_H, E_H, D_M, E_M, D_R, E_R, D_R,
	    E_R2, D_T, E_T);
	/* message 2: all of them again; m1 accepts at its first header,
	 * m2 at end of message */
	ev_mail(f, &r);
	assert_continue(&r);
	ev_rcpt(f, &r);
	assert_continue(&r);
	ev_data(f, &r);
	assert_continue(&r);
	m = msg_new(f);
	run_message(f, m, &r);
	assert_continue(&r);
	assert_untouched(f, m);
	EXPECT(f, 0, D_M, E_M, D_R, E_R, D_T, E_T, L_FROM);
	EXPECT(f, 1, D_M, E_M, D_R, E_R, D_T, E_T, CONTENT);
	EXPECT(f, 2, D_M, E_M, D_R, E_R, D_T, E_T, CONTENT);
	/* message 3: everybody gets everything */
	ev_mail(f, &r);
	assert_continue(&r);
	m = msg_new(f);
	run_message(f, m, &r);
	assert_continue(&r);
	milters_close(&f->ms);
	EXPECT(f, 0, D_M, E_M, CONTENT, QUIT);
	EXPECT(f, 1, D_M, E_M, CONTENT, QUIT);
	EXPECT(f, 2, D_M, E_M, CONTENT, QUIT);
}

/*
 * test_discard - discard at end of message (or at a recipient) ends the
 * message with MILTERS_DISCARD, later filters see nothing of it; at an
 * unknown command it is ignored with a warning. At connect the client
 * takes 'd' for a protocol violation (milter_client.h) and closes the
 * connection, so the filter gets its default action, here tempfail
 * (Postfix warns and answers with the default reply too, but keeps
 * talking to the filter).
 */
static void
test_discard(void **state)
{
	struct fx *f = *state;
	struct milters_result r;
	struct message *m;

	tm_start(f, 0, "{}");
	tm_start(f, 1, "{'sessions':[{'eom':['d'],'rcpt':['c','d']},"
	    "{'unknown':['d']},{'connect':['d']}]}");
	tm_start(f, 2, "{}");

	chain_open_ok(f);
	run_to(f, ST_DATA);
	m = msg_new(f);
	run_message(f, m, &r);
	assert_result(&r, MILTERS_DISCARD, NULL, "m2");
	assert_null(m->quarantine);
	assert_untouched(f, m);
	ev_mail(f, &r);
	assert_continue(&r);
	ev_rcpt(f, &r);
	assert_result(&r, MILTERS_DISCARD, NULL, "m2");
	milters_close(&f->ms);
	EXPECT(f, 0, OPENED);
	expect_to(f, 0, ST_DATA);
	EXPECT(f, 0, CONTENT, D_M, E_M, D_R, E_R, QUIT);
	EXPECT(f, 1, OPENED);
	expect_to(f, 1, ST_DATA);
	EXPECT(f, 1, CONTENT, D_M, E_M, D_R, E_R, QUIT);
	EXPECT(f, 2, OPENED);
	expect_to(f, 2, ST_DATA);
	EXPECT(f, 2, D_M, E_M, QUIT);

	chain_open_ok(f);
	log_begin(f);
	ev_unknown(f, &r);
	assert_continue(&r);
	LOG_END(f, "warning: milter m2: discard outside a message ignored");
	assert_true(milters_active(f->ms));
	milters_close(&f->ms);
	EXPECT(f, 0, OPENED, E_U, QUIT);
	EXPECT(f, 1, OPENED, E_U, QUIT);
	EXPECT(f, 2, OPENED, E_U, QUIT);

	chain_open_ok(f);
	log_begin(f);
	ev_connect(f, &r);
	assert_result(&r, MILTERS_TEMPFAIL, DEF_TEMPFAIL, "m2");
	LOG_END(f, "warning: milter m2: reply 'd' at CONNECT: not "
	    "allowed at CONNECT; default_action tempfail");
	milters_close(&f->ms);
	EXPECT(f, 0, OPENED, D_C, E_C, QUIT);
	EXPECT(f, 1, OPENED, D_C, E_C, EOF_LINE);
	EXPECT(f, 2, OPENED, QUIT);
}

/* ---- the content phase ----------------------------------------------- */

/*
 * test_edits - each filter sees the message as the filters before it
 * left it (fields added, inserted, changed, deleted; the body replaced;
 * never the hidden field), its edits are applied in order with
 * Sendmail's semantics and its own HDR_LEADSPC, the first quarantine
 * reason stays, a recipient the relay check refuses is dropped (the
 * check sees bare addresses) and the others are added, without <>
 */
static void
test_edits(void **state)
{
	struct fx *f = *state;
	struct rcpt_vet vet = { .refuse = "evil@relay.example" };
	struct milters_result r;
	struct message *m;

	tm_start(f, 0, "{'eom':[["
	    "{'h':['X-Added','added']},"
	    "{'i':[0,'X-First','first']},"
	    "{'m':[1,'subject','changed\\n\\tfold']},"
	    "{'m':[2,'X-Dup','deux']},"
	    "{'m':[1,'X-Old','']},"
	    "{'m':[1,'X-Missing','new']},"
	    "{'m':[3,'X-Dup','']},"
	    "{'e':['<new@example.com>']},"
	    "{'+':'<dave@example.net>'},"
	    "{'2':['<erin@example.net>','NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;erin+40example.net XTRA=1']},"
	    "{'-':'<BOB@Example.NET>'},"
	    "{'b':'new line 1\\nnew'},"
	    "{'b':' line 2\\r\\n'},"
	    "'c']]}");
	tm_start(f, 1, "{'negotiate':{'flags':1048576},'eom':[["
	    "{'h':['X-Lead','  two']},"
	    "{'h':['X-Bare','bare']},"
	    "{'i':[1,'X-Second',' second']},"
	    "{'q':'looks odd'},"
	    "'a']]}");
	tm_start(f, 2, "{'eom':[["
	    "{'m':[0,'X-First','']},"
	    "{'e':['<>']},"
	    "{'+':'<evil@relay.example>'},"
	    "{'+':'frank@example.net'},"
	    "{'b':'replaced\\r\\n'},"
	    "{'q':'other'},"
	    "'c']]}");
	chain_open_ok(f);
	m = msg_new(f);
	log_begin(f);
	milters_message(f->ms, test_macro, f, m, rcpt_vet, &vet, f->arena,
	    &r);
	LOG_END(f, "warning: milter m3: added recipient "
	    "<evil@relay.example> refused by the relay rules; dropped");
	assert_continue(&r);
	assert_string_equal(buf_cstr(&vet.asked), "dave@example.net,"
	    "erin@example.net,evil@relay.example,frank@example.net");
	buf_free(&vet.asked);

	EXPECT(f, 0, OPENED, CONTENT);
	EXPECT(f, 1, OPENED,
	    "{'cmd':'L','name':'X-First','value':' first'}",
	    "{'cmd':'L','name':'From','value':' alice@example.com'}",
	    "{'cmd':'L','name':'To','value':' bob@example.net'}",
	    "{'cmd':'L','name':'Subject','value':' changed\\n\\tfold'}",
	    "{'cmd':'L','name':'X-Dup','value':' one'}",
	    "{'cmd':'L','name':'X-Dup','value':' deux'}",
	    "{'cmd':'L','name':'X-Added','value':' added'}",
	    "{'cmd':'L','name':'X-Missing','value':' new'}",
	    D_N, E_N,
	    "{'cmd':'B','len':24,'data':'new line 1\\r\\nnew line 2\\r\\n'}",
	    D_E, E_E);
	EXPECT(f, 2, OPENED,
	    "{'cmd':'L','name':'X-First','value':'first'}",
	    "{'cmd':'L','name':'X-Second','value':'second'}",
	    L_FROM, L_TO,
	    "{'cmd':'L','name':'Subject','value':'changed\\n\\tfold'}",
	    L_DUP1,
	    "{'cmd':'L','name':'X-Dup','value':'deux'}",
	    "{'cmd':'L','name':'X-Added','value':'added'}",
	    "{'cmd':'L','name':'X-Missing','value':'new'}",
	    "{'cmd':'L','name':'X-Lead','value':' two'}",
	    "{'cmd':'L','name':'X-Bare','value':'bare'}",
	    D_N, E_N,
	    "{'cmd':'B','len':24,'data':'new line 1\\r\\nnew line 2\\r\\n'}",
	    D_E, E_E);

	/* the message as the three filters left it */
	assert_string_equal(m->quarantine, "milter m2: looks odd");
	assert_string_equal(m->sender, "");
	assert_int_equal(m->n_rcpts, 4);
	assert_string_equal(m->rcpts[0].addr, "carol@example.net");
	assert_int_equal(m->rcpts[0].notify, MESSAGE_NOTIFY_NEVER);
	assert_null(m->rcpts[0].orcpt);
	assert_null(m->rcpts[0].params);
	assert_string_equal(m->rcpts[1].addr, "dave@example.net");
	assert_int_equal(m->rcpts[1].notify, 0);
	assert_null(m->rcpts[1].orcpt);
	assert_null(m->rcpts[1].params);
	assert_string_equal(m->rcpts[2].addr, "erin@example.net");
	assert_int_equal(m->rcpts[2].notify,
	    MESSAGE_NOTIFY_SUCCESS | MESSAGE_NOTIFY_FAILURE);
	assert_string_equal(m->rcpts[2].orcpt, "rfc822;erin@example.net");
	assert_string_equal(m->rcpts[2].params, "XTRA=1");
	assert_string_equal(m->rcpts[3].addr, "frank@example.net");
	assert_null(m->rcpts[3].params);
	assert_int_equal(m->n_headers, 11);
	assert_header(m, 0, "Received",
	    " from client.example.com\r\n\tby mx.example.com", true);
	assert_header(m, 1, "X-Second", " second", false);
	assert_header(m, 2, "From", " alice@example.com", false);
	assert_header(m, 3, "To", " bob@example.net", false);
	assert_header(m, 4, "Subject", " changed\r\n\tfold", false);
	assert_header(m, 5, "X-Dup", " one", false);
	assert_header(m, 6, "X-Dup", " deux", false);
	assert_header(m, 7, "X-Added", " added", false);
	assert_header(m, 8, "X-Missing", " new", false);
	assert_header(m, 9, "X-Lead", "  two", false);
	assert_header(m, 10, "X-Bare", "bare", false);
	assert_string_equal(body_of(f, m), "replaced\r\n");

	/* the next message starts from scratch for every filter */
	m = msg_new(f);
	run_message(f, m, &r);
	assert_continue(&r);
	assert_null(m->quarantine);
	assert_untouched(f, m);
	milters_close(&f->ms);
	EXPECT(f, 0, CONTENT, QUIT);
	EXPECT(f, 2, CONTENT, QUIT);
}

/* the content verdicts of test_content_verdicts, from m2 */
static const struct {
	const char *script;		/* m2's session */
	size_t lines;			/* m2's content lines up to it */
	enum milters_verdict verdict;
	const char *reply;
	bool decides;			/* m3 sees no content */
} content_verdicts[] = {
	{ "{'header':['r']}", 1, MILTERS_REJECT, REJECT_TEXT, true },
	{ "{'header':['c','c','t']}", 3, MILTERS_TEMPFAIL, TEMPFAIL_TEXT,
	    true },
	{ "{'eoh':[{'y':'554 5.7.1 no'}]}", 8, MILTERS_REJECT,
	    "554 5.7.1 no", true },
	{ "{'body':[{'y':'421 4.7.0 bye'}]}", 9, MILTERS_SHUTDOWN,
	    "421 4.7.0 bye", true },
	{ "{'eom':['4']}", 11, MILTERS_SHUTDOWN, SHUTDOWN_TEXT, true },
	{ "{'eom':['f']}", 11, MILTERS_SHUTDOWN, SHUTDOWN_TEXT, true },
	{ "{'eom':['t']}", 11, MILTERS_TEMPFAIL, TEMPFAIL_TEXT, true },
	{ "{'eom':[[{'h':['X-Spam','yes']},'r']]}", 11, MILTERS_REJECT,
	    REJECT_TEXT, true },
	{ "{'header':['c','a']}", 2, MILTERS_CONTINUE, NULL, false },
	{ "{'eoh':['a']}", 8, MILTERS_CONTINUE, NULL, false },
	{ "{'body':['a']}", 9, MILTERS_CONTINUE, NULL, false },
};

/*
 * test_content_verdicts - m2's verdict at a header, end of headers, the
 * body or end of message: a refusal ends the phase (m3 sees nothing of
 * the content), an accept ends m2's part only
 */
static void
test_content_verdicts(void **state)
{
	static const char *const content[] = { CONTENT };
	struct fx *f = *state;
	struct milters_result r;
	struct message *m;
	struct buf script = { 0 };
	size_t v, k;

	buf_puts(&script, "{'sessions':[");
	for (v = 0; v < sizeof(content_verdicts) /
	    sizeof(content_verdicts[0]); v++)
		buf_printf(&script, "%s%s", v ? "," : "",
		    content_verdicts[v].script);
	buf_puts(&script, "]}");
	tm_start(f, 0, "{}");
	tm_start(f, 1, buf_cstr(&script));
	tm_start(f, 2, "{}");
	buf_free(&script);
	for (v = 0; v < sizeof(content_verdicts) /
	    sizeof(content_verdicts[0]); v++) {
		chain_open_ok(f);
		m = msg_new(f);
		run_message(f, m, &r);
		assert_result(&r, content_verdicts[v].verdict,
		    content_verdicts[v].reply, content_verdicts[v].decides ?
		    "m2" : NULL);
		assert_null(m->quarantine);
		milters_close(&f->ms);
		EXPECT(f, 0, OPENED, CONTENT, QUIT);
		EXPECT(f, 1, OPENED);
		for (k = 0; k < content_verdicts[v].lines; k++)
			EXPECT(f, 1, content[k]);
		EXPECT(f, 1, QUIT);
		EXPECT(f, 2, OPENED);
		if (!content_verdicts[v].decides)
			EXPECT(f, 2, CONTENT);
		EXPECT(f, 2, QUIT);
	}
}

/*
 * test_body_skip - a filter that answers 's' to a body chunk gets no
 * more body and then end of message; the others get all of it (a body
 * over one read goes in several packets)
 */
static void
test_body_skip(void **state)
{
	struct fx *f = *state;
	struct milters_result r;
	struct message *m;
	char *big = NULL;
	size_t len = 70000;

	tm_start(f, 0, "{'negotiate':{'flags':1024},'body':['s']}");
	tm_start(f, 1, "{}");
	chain_open_ok(f);
	m = msg_new(f);
	big = arena_alloc(f->arena, len);
	memset(big, 'z', len);
	assert_true(message_body_replace(m, big, len, true, NULL));
	run_message(f, m, &r);
	assert_continue(&r);
	milters_close(&f->ms);
	EXPECT(f, 0, OPENED, HEADERS, D_N, E_N, body_line(f, 65535, 'z'),
	    D_E, E_E, QUIT);
	EXPECT(f, 1, OPENED, HEADERS, D_N, E_N, body_line(f, 65535, 'z'),
	    body_line(f, 1, 'z'), body_line(f, 4464, 'z'), D_E, E_E, QUIT);
}

/*
 * test_body_write_error - a body replacement the spool cannot take
 * (its directory is gone) is TEMPFAIL "451 4.3.0", logged, and later
 * filters see nothing
 */
static void
test_body_write_error(void **state)
{
	struct fx *f = *state;
	struct milters_result r;
	struct message *m;
	char *sub = arena_printf(f->arena, "%s/spool", f->dir);
	char *big = arena_alloc(f->arena, 200);
	const char *want = "warning: milter m1: replacing the body: ";
	const char *got;
	char **lines;

	memset(big, 'b', 199);
	big[199] = '\0';
	tm_start(f, 0, arena_printf(f->arena, "{'eom':[[{'b':'%s'},'c']]}",
	    big));
	tm_start(f, 1, "{}");
	assert_int_equal(mkdir(sub, 0700), 0);
	m = msg_new_in(f, sub, 100);
	assert_int_equal(rmdir(sub), 0);
	chain_open_ok(f);
	log_begin(f);
	run_message(f, m, &r);
	capture_restore(f);
	assert_result(&r, MILTERS_TEMPFAIL, WRITE_ERROR, "m1");
	/* one line: the prefix, then the spool's own words on the dir */
	assert_int_equal(read_lines(f, f->errlog, 0, 0, &lines), 1);
	got = strstr(lines[0], "]: ");
	if (got == NULL || strncmp(got + 3, want, strlen(want)) != 0 ||
	    strstr(got, sub) == NULL)
		fail_msg("log line: %s", lines[0]);
	milters_close(&f->ms);
	EXPECT(f, 0, OPENED, CONTENT, QUIT);
	EXPECT(f, 1, OPENED, QUIT);
}

/* ---- default actions ------------------------------------------------- */

/*
 * test_unreachable - a filter nobody listens for: milters_open applies
 * its default action at once, logged once. tempfail, reject and
 * shutdown refuse at open and keep refusing every later event (the
 * live filter after it sees none); accept goes on without it;
 * quarantine goes on and holds every message at the end.
 */
static void
test_unreachable(void **state)
{
	static const struct {
		enum milter_default action;
		const char *name;
		enum milters_verdict verdict;
		const char *reply;
	} cases[] = {
		{ MILTER_DEFAULT_TEMPFAIL, "tempfail", MILTERS_TEMPFAIL,
		    DEF_TEMPFAIL },
		{ MILTER_DEFAULT_REJECT, "reject", MILTERS_REJECT,
		    DEF_REJECT },
		{ MILTER_DEFAULT_SHUTDOWN, "shutdown", MILTERS_SHUTDOWN,
		    DEF_SHUTDOWN },
		{ MILTER_DEFAULT_ACCEPT, "accept", MILTERS_CONTINUE, NULL },
		{ MILTER_DEFAULT_QUARANTINE, "quarantine", MILTERS_CONTINUE,
		    NULL },
	};
	struct fx *f = *state;
	struct milters_result r;
	struct message *m;
	const char *by;
	size_t c;

	tm_start(f, 1, "{}");
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		bool refuses = cases[c].verdict != MILTERS_CONTINUE;

		f->n = 2;
		spec_dead(f, 0, cases[c].action);
		by = refuses ? "m1" : NULL;
		log_begin(f);
		chain_open(f, &r);
		LOG_END(f, arena_printf(f->arena, "warning: milter m1: "
		    "connect: Connection refused; default_action "
		    "%s", cases[c].name));
		assert_result(&r, cases[c].verdict, cases[c].reply, by);
		assert_true(milters_active(f->ms));
		log_begin(f);
		ev_connect(f, &r);
		assert_result(&r, cases[c].verdict, cases[c].reply, by);
		ev_mail(f, &r);
		assert_result(&r, cases[c].verdict, cases[c].reply, by);
		m = msg_new(f);
		run_message(f, m, &r);
		assert_result(&r, cases[c].verdict, cases[c].reply, by);
		if (cases[c].action == MILTER_DEFAULT_QUARANTINE)
			assert_string_equal(m->quarantine, DEF_QUARANTINE);
		else
			assert_null(m->quarantine);
		milters_abort(f->ms);
		m = msg_new(f);
		run_message(f, m, &r);
		assert_result(&r, cases[c].verdict, cases[c].reply, by);
		if (cases[c].action == MILTER_DEFAULT_QUARANTINE)
			assert_string_equal(m->quarantine, DEF_QUARANTINE);
		else
			assert_null(m->quarantine);
		LOG_NONE(f);		/* logged once */
		assert_true(milters_active(f->ms));
		milters_close(&f->ms);
		EXPECT(f, 1, OPENED);
		if (!refuses)
			EXPECT(f, 1, D_C, E_C, D_M, E_M, CONTENT);
		EXPECT(f, 1, ABORT);	/* m2 is live in either case */
		if (!refuses)
			EXPECT(f, 1, CONTENT);
		EXPECT(f, 1, QUIT);

		/* alone: only a quarantine keeps the chain active */
		f->n = 1;
		log_begin(f);
		chain_open(f, &r);
		assert_result(&r, cases[c].verdict, cases[c].reply, by);
		assert_int_equal(milters_active(f->ms),
		    cases[c].action != MILTER_DEFAULT_ACCEPT);
		m = msg_new(f);
		run_message(f, m, &r);
		assert_result(&r, cases[c].verdict, cases[c].reply, by);
		if (cases[c].action == MILTER_DEFAULT_QUARANTINE)
			assert_string_equal(m->quarantine, DEF_QUARANTINE);
		milters_close(&f->ms);
		LOG_END(f, arena_printf(f->arena, "warning: milter m1: "
		    "connect: Connection refused; default_action "
		    "%s", cases[c].name));
	}
	tm_expect_end(f, 1);
}

/*
 * test_unreachable_several - every unreachable filter is logged once
 * with its own reason and default action, even after an earlier one
 * already refused the session; the first refusing one decides
 */
static void
test_unreachable_several(void **state)
{
	struct fx *f = *state;
	struct milters_result r;

	spec_dead(f, 0, MILTER_DEFAULT_ACCEPT);
	spec_dead(f, 1, MILTER_DEFAULT_REJECT);
	spec_dead(f, 2, MILTER_DEFAULT_SHUTDOWN);
	log_begin(f);
	chain_open(f, &r);
	assert_result(&r, MILTERS_REJECT, DEF_REJECT, "m2");
	ev_connect(f, &r);
	assert_result(&r, MILTERS_REJECT, DEF_REJECT, "m2");
	LOG_END(f, "warning: milter m1: connect: Connection "
	    "refused; default_action accept",
	    "warning: milter m2: connect: Connection refused; "
	    "default_action reject",
	    "warning: milter m3: connect: Connection refused; "
	    "default_action shutdown");
	milters_close(&f->ms);
}

/* the failures of test_failures, each in a session of its own */
static const struct {
	const char *script;		/* m1's session */
	enum milter_default action;
	double content_timeout;
	enum stage at;			/* the failing event, or ST_N for
					   the content phase */
	const char *why;		/* logged after "milter m1: " */
	size_t lines;			/* m1's content lines before it */
	enum milters_verdict verdict;
	const char *reply;
} failures[] = {
	{ "{'rcpt':['z']}", MILTER_DEFAULT_TEMPFAIL, 5, ST_RCPT,
	    "reply 'z' at RCPT: unknown reply; default_action "
	    "tempfail", 0, MILTERS_TEMPFAIL, DEF_TEMPFAIL },
	{ "{'data':[{'y':'250 2.0.0 fine'}]}", MILTER_DEFAULT_SHUTDOWN, 5,
	    ST_DATA, "reply 'y' at DATA: code 250 is not "
	    "4xx/5xx; default_action shutdown", 0, MILTERS_SHUTDOWN,
	    DEF_SHUTDOWN },
	{ "{'mail':['close']}", MILTER_DEFAULT_REJECT, 5, ST_MAIL,
	    "connection closed by the filter at MAIL; "
	    "default_action reject", 0, MILTERS_REJECT, DEF_REJECT },
	{ "{'header':['c',{'sleep':1}]}", MILTER_DEFAULT_ACCEPT, 0.3, ST_N,
	    "timed out after 0.3s at HEADER; default_action "
	    "accept", 2, MILTERS_CONTINUE, NULL },
	{ "{'eom':[{'raw':'00000000'}]}", MILTER_DEFAULT_REJECT, 5, ST_N,
	    "bad packet length 0 at EOM; default_action reject",
	    11, MILTERS_REJECT, DEF_REJECT },
	{ "{'body':[{'sleep':1}]}", MILTER_DEFAULT_QUARANTINE, 0.3, ST_N,
	    "timed out after 0.3s at BODY; default_action "
	    "quarantine", 9, MILTERS_CONTINUE, NULL },
	{ "{'eoh':['z']}", MILTER_DEFAULT_TEMPFAIL, 5, ST_N,
	    "reply 'z' at EOH: unknown reply; default_action "
	    "tempfail", 8, MILTERS_TEMPFAIL, DEF_TEMPFAIL },
};

/*
 * test_failures - a live filter that breaks (bad reply, closed
 * connection, timeout with a short content_timeout) gets its default
 * action, logged once: a refusing one refuses that event and every
 * later one (m2 sees none of them), accept and quarantine go on without
 * it (quarantine holds the message); the chain stays active
 */
static void
test_failures(void **state)
{
	static const char *const content[] = { CONTENT };
	struct fx *f = *state;
	struct milters_result r;
	struct message *m;
	struct buf script = { 0 };
	size_t c, k;

	buf_puts(&script, "{'sessions':[");
	for (c = 0; c < sizeof(failures) / sizeof(failures[0]); c++)
		buf_printf(&script, "%s%s", c ? "," : "", failures[c].script);
	buf_puts(&script, "]}");
	tm_start(f, 0, buf_cstr(&script));
	tm_start(f, 1, "{}");
	buf_free(&script);
	for (c = 0; c < sizeof(failures) / sizeof(failures[0]); c++) {
		enum milters_verdict v = failures[c].verdict;
		bool refuses = v != MILTERS_CONTINUE;
		const char *by = refuses ? "m1" : NULL;
		bool quarantine = failures[c].action ==
		    MILTER_DEFAULT_QUARANTINE;
		enum stage at = failures[c].at;

		f->specs[0].default_action = failures[c].action;
		f->specs[0].content_timeout = failures[c].content_timeout;
		chain_open_ok(f);
		run_to(f, at);
		log_begin(f);
		m = msg_new(f);
		if (at < ST_N)
			stages[at].call(f, &r);
		else
			run_message(f, m, &r);
		LOG_END(f, arena_printf(f->arena, "warning: milter m1: "
		    "%s", failures[c].why));
		assert_result(&r, v, failures[c].reply, by);
		if (at == ST_N)
			assert_true(quarantine ?
			    m->quarantine != NULL &&
			    strcmp(m->quarantine, DEF_QUARANTINE) == 0 :
			    m->quarantine == NULL);
		assert_true(milters_active(f->ms));
		/* later events: the same refusal, or m2 alone */
		log_begin(f);
		ev_rcpt2(f, &r);
		assert_result(&r, v, failures[c].reply, by);
		milters_abort(f->ms);
		ev_mail(f, &r);
		assert_result(&r, v, failures[c].reply, by);
		m = msg_new(f);
		run_message(f, m, &r);
		assert_result(&r, v, failures[c].reply, by);
		if (quarantine)
			assert_string_equal(m->quarantine, DEF_QUARANTINE);
		else
			assert_null(m->quarantine);
		LOG_NONE(f);
		assert_true(milters_active(f->ms));
		milters_close(&f->ms);

		/* m1 saw the events up to the failing one, nothing after */
		EXPECT(f, 0, OPENED);
		expect_to(f, 0, at);
		if (at < ST_N)
			expect_stage(f, 0, at);
		else
			for (k = 0; k < failures[c].lines; k++)
				EXPECT(f, 0, content[k]);
		if (strstr(failures[c].script, "close") != NULL)
			EXPECT(f, 0, "{'event':'closed'}");
		else
			EXPECT(f, 0, EOF_LINE);
		/* m2 saw what m1 let through */
		EXPECT(f, 1, OPENED);
		expect_to(f, 1, at);
		if (!refuses)
			EXPECT(f, 1, CONTENT, D_R, E_R2, ABORT, D_M, E_M,
			    CONTENT);
		else
			EXPECT(f, 1, ABORT);
		EXPECT(f, 1, QUIT);
	}
	tm_expect_end(f, 0);
	tm_expect_end(f, 1);
}

/* ---- abort ----------------------------------------------------------- */

/*
 * test_abort - 'A' goes to every live filter, also one that accepted the
 * message (not to one done with the session), and ends the per-message
 * accept; a filter found gone at abort gets its default action
 */
static void
test_abort(void **state)
{
	struct fx *f = *state;
	struct milters_result r;

	tm_start(f, 0, "{'mail':['a']}");
	tm_start(f, 1, "{'connect':['a']}");
	tm_start(f, 2, "{'rcpt':['c',['c','close']]}");
	chain_open_ok(f);
	ev_connect(f, &r);
	assert_continue(&r);
	ev_mail(f, &r);
	assert_continue(&r);
	milters_abort(f->ms);
	/* no SMTP client can send RCPT now, but it shows m1's accept of
	 * the aborted message is over even before the next MAIL */
	ev_rcpt(f, &r);
	assert_continue(&r);
	ev_mail(f, &r);
	assert_continue(&r);
	ev_rcpt(f, &r);
	assert_continue(&r);
	EXPECT(f, 0, OPENED, D_C, E_C, D_M, E_M, ABORT, D_R, E_R, D_M, E_M,
	    D_R, E_R);
	EXPECT(f, 1, OPENED, D_C, E_C);
	EXPECT(f, 2, OPENED, D_C, E_C, D_M, E_M, ABORT, D_R, E_R, D_M, E_M,
	    D_R, E_R, "{'event':'closed'}");
	/* m3 has closed its end (it logs that just before): give the FIN
	 * a moment, then the abort finds out */
	testutil_sleep(0.1);
	log_begin(f);
	milters_abort(f->ms);
	LOG_END(f, "warning: milter m3: abort failed; default_action "
	    "tempfail");
	assert_true(milters_active(f->ms));
	ev_mail(f, &r);
	assert_result(&r, MILTERS_TEMPFAIL, DEF_TEMPFAIL, "m3");
	milters_abort(f->ms);
	milters_close(&f->ms);
	EXPECT(f, 0, ABORT, D_M, E_M, ABORT, QUIT);
	EXPECT(f, 1, QUIT);
	tm_expect_end(f, 0);
	tm_expect_end(f, 1);
	tm_expect_end(f, 2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* main - every test */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_all_continue),
		T(test_verdicts),
		T(test_accept_session),
		T(test_accept_message),
		T(test_discard),
		T(test_edits),
		T(test_content_verdicts),
		T(test_body_skip),
		T(test_body_write_error),
		T(test_unreachable),
		T(test_unreachable_several),
		T(test_failures),
		T(test_abort),
	};

	log_init("test_milters", true);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
