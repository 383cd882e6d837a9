/*
 * test_spamd.c - the spamd module against a real spamd (SpamAssassin's,
 * Debian package spamd) started by the test, and against fake servers
 * that answer what a test scripts
 *
 * The real spamd loads only the rules this test writes: --configpath
 * names a directory with one .cf file (a few body and header rules,
 * required_score 5, a report template), --siteconfigpath one whose
 * init.pre loads the Check plugin and nothing else, so it starts in well
 * under a second and scores are exact. --local keeps it off the network,
 * --nouser-config away from home directories, --max-children 1 small.
 *
 * Configs are loaded as filterd loads them (fake_module_load); a message
 * goes through the stages as an MTA hands it over (each header field as
 * name and value, the value as after the colon with folds as bare LF,
 * EOH, the body in chunks, EOM); header edits are read from fake_txn's
 * list of edits. The fake servers
 * keep the last request they read, so that the bytes sent to spamd are
 * checked too.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "fake_txn.h"
#include "log.h"
#include "policy.h"
#include "spamd.h"
#include "testutil.h"

#define MARK		"xyzzy-spam-marker"	/* POSTERN_MARK, 10 */
#define HAM		"plugh-ham-marker"	/* POSTERN_HAM, -2 */
#define LOTTERY		"lottery"		/* POSTERN_SUBJ, 3.5 */
/* a reply's head, for the body cases */
#define HEAD9		"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9.0 / 5.0\r\n\r\n"

/* The rules of the real spamd. */
static const char rules[] =
    "required_score 5.0\n"
    "util_rb_tld com net org\n"
    "body POSTERN_MARK /" MARK "/\n"
    "describe POSTERN_MARK Postern test marker\n"
    "score POSTERN_MARK 10.0\n"
    "body POSTERN_HAM /" HAM "/\n"
    "describe POSTERN_HAM Postern ham marker\n"
    "score POSTERN_HAM -2.0\n"
    "header POSTERN_SUBJ Subject =~ /" LOTTERY "/\n"
    "describe POSTERN_SUBJ Postern subject\n"
    "score POSTERN_SUBJ 3.5\n"
    "report Content analysis details:   (_SCORE_ points, _REQD_ required)\n"
    "report\n"
    "report  pts rule name              description\n"
    "report ---- ---------------------- ------------------------------\n"
    "report _SUMMARY_\n";

/* What a fake server does with a connection. */
enum fake_mode {
	FAKE_REPLY,		/* read the request, send reply, close */
	FAKE_SILENT,		/* read the request, never answer */
};

struct fake {
	char name[32];		/* "127.0.0.1:PORT" */
	int lfd;
	int stop[2];		/* a byte here ends the thread */
	enum fake_mode mode;
	const char *reply;
	size_t reply_len;
	pthread_t thread;
	atomic_int accepted;
	struct buf request;	/* the last one read */
};

struct fix {
	char dir[256];
	char *tmp;		/* temp_dir */
	char *log;		/* stderr while capturing */
	struct arena *a;
	pid_t spamd;		/* the real one; also its process group */
	char real[32];		/* "127.0.0.1:PORT" */
	char *real_unix;	/* "unix:PATH", the same spamd */
	struct fake_module mod;
	char *error;
	struct txn txn;
	struct policy_globals globals;
	int saved_stderr;	/* -1: not capturing */
};

static struct fix F;

/* --- the log -------------------------------------------------------------- */

/* capture - from now on our log (stderr) goes to F.log, emptied */
static void
capture(void)
{
	int fd;

	assert_true(F.saved_stderr < 0);
	fflush(stderr);
	F.saved_stderr = dup(STDERR_FILENO);
	fd = open(F.log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	assert_true(fd >= 0 && F.saved_stderr >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* captured - our log back on stderr; what it wrote meanwhile (in the
 * test arena) */
static const char *
captured(void)
{
	struct buf b = { 0 };
	char chunk[4096];
	FILE *fp;
	size_t n;
	char *r;

	if (F.saved_stderr < 0)
		return "";
	fflush(stderr);
	dup2(F.saved_stderr, STDERR_FILENO);
	close(F.saved_stderr);
	F.saved_stderr = -1;
	assert_non_null(fp = fopen(F.log, "r"));
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&b, chunk, n);
	fclose(fp);
	r = arena_strdup(F.a, buf_cstr(&b));
	buf_free(&b);
	return r;
}

/* assert_has - the log has text */
static void
assert_has(const char *log, const char *text)
{
	if (strstr(log, text) == NULL)
		fail_msg("not logged: \"%s\"; the log:\n%s", text, log);
}

/* --- the real spamd ------------------------------------------------------- */

/* spamd_ping - whether 127.0.0.1:port answers PING with PONG */
static bool
spamd_ping(int port)
{
	static const char ping[] = "PING SPAMC/1.5\r\n\r\n";
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct timeval tv = { .tv_sec = 2 };
	char reply[64] = "";
	ssize_t n = 0;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return false;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    send(fd, ping, sizeof(ping) - 1, MSG_NOSIGNAL) ==
	    (ssize_t)sizeof(ping) - 1)
		n = recv(fd, reply, sizeof(reply) - 1, MSG_WAITALL);
	close(fd);
	return n > 0 && strstr(reply, " 0 PONG\r\n") != NULL;
}

/* spamd_start - the real spamd on a free port, answering; false when it
 * cannot be started (the reason on stderr) */
static bool
spamd_start(void)
{
	char *bin = NULL, *cf, *site, *log, *listen, *pidfile;
	const char *path = getenv("PATH");
	int port = testutil_free_port(), fd, status;
	double end;

	cf = arena_printf(F.a, "%s/rules", F.dir);
	site = arena_printf(F.a, "%s/site", F.dir);
	log = arena_printf(F.a, "%s/spamd.log", F.dir);
	if (mkdir(cf, 0755) != 0 || mkdir(site, 0755) != 0 ||
	    chmod(F.dir, 0755) != 0)
		return false;
	testutil_put(F.a, cf, "50_postern.cf", rules);
	testutil_put(F.a, site, "init.pre",
	    "loadplugin Mail::SpamAssassin::Plugin::Check\n");
	for (const char *p = path != NULL ? path : ""; *p != '\0';) {
		size_t n = strcspn(p, ":");
		char *try = arena_printf(F.a, "%.*s/spamd", (int)n, p);

		if (access(try, X_OK) == 0) {
			bin = try;
			break;
		}
		p += n + (p[n] == ':');
	}
	if (bin == NULL && access("/usr/sbin/spamd", X_OK) == 0)
		bin = (char *)"/usr/sbin/spamd";
	if (bin == NULL) {
		fprintf(stderr, "# spamd is not installed (apt-get install "
		    "spamd)\n");
		return false;
	}
	listen = arena_printf(F.a, "--listen=127.0.0.1:%d", port);
	F.real_unix = arena_printf(F.a, "unix:%s/spamd.sock", F.dir);
	pidfile = arena_printf(F.a, "--pidfile=%s/spamd.pid", F.dir);
	snprintf(F.real, sizeof(F.real), "127.0.0.1:%d", port);
	if ((F.spamd = fork()) < 0)
		return false;
	if (F.spamd == 0) {
		char *argv[] = {
			bin, listen, arena_printf(F.a, "--listen=%s",
			    F.real_unix + 5), pidfile,
			(char *)"--nouser-config",
			arena_printf(F.a, "--configpath=%s", cf),
			arena_printf(F.a, "--siteconfigpath=%s", site),
			(char *)"--local", (char *)"--max-children=1",
			(char *)"--syslog=stderr", NULL,
		};

		setpgid(0, 0);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execv(bin, argv);
		_exit(127);
	}
	setpgid(F.spamd, F.spamd);
	for (end = testutil_now() + 60; testutil_now() < end;) {
		if (waitpid(F.spamd, &status, WNOHANG) == F.spamd) {
			fprintf(stderr, "# spamd exited (status %d); see %s\n",
			    status, log);
			F.spamd = 0;
			return false;
		}
		if (spamd_ping(port))
			return true;
		testutil_sleep(0.05);
	}
	fprintf(stderr, "# spamd did not answer; see %s\n", log);
	return false;
}

/* spamd_stop - the real spamd and its children gone */
static void
spamd_stop(void)
{
	if (F.spamd <= 0)
		return;
	kill(-F.spamd, SIGTERM);
	waitpid(F.spamd, NULL, 0);
	F.spamd = 0;
}

/* --- fake servers --------------------------------------------------------- */

/* fake_serve - one connection: read the request to its end (the client
 * shuts its writing side), then answer as the mode says */
static void
fake_serve(struct fake *fk, int fd)
{
	struct pollfd pfd[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = fk->stop[0], .events = POLLIN },
	};
	char chunk[65536];
	ssize_t n;

	buf_reset(&fk->request);
	while (poll(pfd, 2, 5000) > 0 && !(pfd[1].revents & POLLIN)) {
		if ((n = recv(fd, chunk, sizeof(chunk), 0)) <= 0)
			break;
		buf_append(&fk->request, chunk, (size_t)n);
	}
	if (fk->mode == FAKE_REPLY && fk->reply_len > 0)
		(void)send(fd, fk->reply, fk->reply_len, MSG_NOSIGNAL);
	if (fk->mode == FAKE_SILENT)
		(void)poll(&pfd[1], 1, -1);
}

/* fake_main - accept and serve until stopped */
static void *
fake_main(void *arg)
{
	struct fake *fk = arg;
	struct pollfd pfd[2] = {
		{ .fd = fk->lfd, .events = POLLIN },
		{ .fd = fk->stop[0], .events = POLLIN },
	};
	int fd;

	while (poll(pfd, 2, -1) > 0 && !(pfd[1].revents & POLLIN)) {
		if ((fd = accept(fk->lfd, NULL, NULL)) < 0)
			continue;
		atomic_fetch_add(&fk->accepted, 1);
		fake_serve(fk, fd);
		close(fd);
	}
	return NULL;
}

/* fake_start - a fake spamd on a loopback port of its own */
static void
fake_start(struct fake *fk, enum fake_mode mode, const char *reply,
    size_t len)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t slen = sizeof(sin);

	*fk = (struct fake){ .mode = mode, .reply = reply, .reply_len = len };
	fk->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fk->lfd >= 0);
	assert_int_equal(bind(fk->lfd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	assert_int_equal(getsockname(fk->lfd, (struct sockaddr *)&sin,
	    &slen), 0);
	snprintf(fk->name, sizeof(fk->name), "127.0.0.1:%d",
	    ntohs(sin.sin_port));
	assert_int_equal(listen(fk->lfd, 8), 0);
	assert_int_equal(pipe(fk->stop), 0);
	assert_int_equal(pthread_create(&fk->thread, NULL, fake_main, fk), 0);
}

/* fake_stop - the thread ended, the socket gone */
static void
fake_stop(struct fake *fk)
{
	assert_int_equal(write(fk->stop[1], "x", 1), 1);
	pthread_join(fk->thread, NULL);
	close(fk->lfd);
	close(fk->stop[0]);
	close(fk->stop[1]);
	buf_free(&fk->request);
}

/* --- fixture -------------------------------------------------------------- */

/* unload - free the config and the transaction */
static void
unload(void)
{
	/* the message arena first: its cleanup uses the message state */
	fake_txn_clear(&F.txn);
	fake_module_unload(&F.mod);
	F.txn.globals = &F.globals;
	F.txn.qid = "4QX1";
	free(F.error);
	F.error = NULL;
}

/* group_setup - the temp directory and the real spamd */
static int
group_setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	F.saved_stderr = -1;
	if (testutil_setup(F.dir, sizeof(F.dir), "test_spamd", &F.a) < 0)
		return -1;
	F.tmp = arena_printf(F.a, "%s/tmp", F.dir);
	F.log = arena_printf(F.a, "%s/log", F.dir);
	if (mkdir(F.tmp, 0700) != 0)
		return -1;
	F.globals.hostname = "mx.example.com";
	unload();
	if (!spamd_start()) {
		spamd_stop();
		return -1;
	}
	return 0;
}

/* group_teardown - spamd stopped, everything removed */
static int
group_teardown(void **state)
{
	(void)state;
	(void)captured();
	unload();
	spamd_stop();
	return testutil_teardown(F.dir, &F.a);
}

/* teardown - after each test: the log back, the module unloaded */
static int
teardown(void **state)
{
	(void)state;
	(void)captured();
	unload();
	return 0;
}

/* load - a [spamd] section on the real spamd, temp_dir in the test
 * directory, then extra */
static void
load(const char *extra)
{
	char *text = arena_printf(F.a, "[spamd]\n%s%s%s", strstr(extra,
	    "servers") == NULL ? arena_printf(F.a, "servers = %s\n",
	    F.real) : "", strstr(extra, "temp_dir") == NULL ?
	    arena_printf(F.a, "temp_dir = %s\n", F.tmp) : "", extra);

	if (!fake_module_load(&spamd_module, "filterd.conf", text,
	    &F.globals, &F.mod, &F.error))
		fail_msg("config refused: %s", F.error);
}

/* refused - a config that must be refused; its errors */
static const char *
refused(const char *text)
{
	free(F.error);
	F.error = NULL;
	assert_false(fake_module_load(&spamd_module, "filterd.conf", text,
	    &F.globals, &F.mod, &F.error));
	assert_null(F.mod.mod);
	return F.error;
}

/* --- messages ------------------------------------------------------------- */

/* One message: header fields (name, value as after the colon, folds as
 * bare LF), then the body (CRLF lines). */
struct msg {
	const char *fields[8][2];
	const char *body;
};

/* msg_bytes - the message as an MTA received it (CRLF, folds too) */
static char *
msg_bytes(const struct msg *m)
{
	struct buf b = { 0 };
	char *r;

	for (size_t i = 0; i < 8 && m->fields[i][0] != NULL; i++) {
		buf_printf(&b, "%s:", m->fields[i][0]);
		for (const char *p = m->fields[i][1]; *p != '\0'; p++) {
			if (*p == '\n')
				buf_putc(&b, '\r');
			buf_putc(&b, *p);
		}
		buf_puts(&b, "\r\n");
	}
	buf_printf(&b, "\r\n%s", m->body);
	r = arena_strdup(F.a, buf_cstr(&b));
	buf_free(&b);
	return r;
}

/* stage - one handler as the core calls it, with a deadline */
static enum policy_status
stage(enum policy_stage st, double deadline, struct verdict *v)
{
	struct policy_call call = {
		.txn = &F.txn, .config = F.mod.config, .msg = F.mod.msg,
		.stage = st, .deadline = deadline,
	};

	memset(v, 0, sizeof(*v));
	return spamd_module.stage[st](&call, v);
}

/* feed - a new message through HEADER, EOH and BODY (chunks of chunk
 * bytes); DONE or the first other status */
static enum policy_status
feed(const struct msg *m, size_t chunk)
{
	enum policy_status st;
	struct verdict v;
	size_t len = strlen(m->body);

	arena_destroy(&F.txn.msg_arena);
	F.txn.msg_arena = arena_create();
	if (F.txn.conn_arena == NULL)
		F.txn.conn_arena = arena_create();
	F.txn.nheaders = 0;
	F.txn.nedits = 0;
	memset(F.mod.msg, 0, spamd_module.msg_size);
	for (size_t i = 0; i < 8 && m->fields[i][0] != NULL; i++) {
		F.txn.hdr_name = m->fields[i][0];
		F.txn.hdr_raw = m->fields[i][1];
		F.txn.hdr_value = F.txn.hdr_raw + strspn(F.txn.hdr_raw, " \t");
		st = stage(POLICY_HEADER, policy_now() + 10, &v);
		F.txn.hdr_name = F.txn.hdr_value = F.txn.hdr_raw = NULL;
		if (st != POLICY_DONE)
			return st;
	}
	if ((st = stage(POLICY_EOH, policy_now() + 10, &v)) != POLICY_DONE)
		return st;
	for (size_t off = 0; off < len; off += F.txn.body_len) {
		F.txn.body = (const unsigned char *)m->body + off;
		F.txn.body_len = len - off < chunk ? len - off : chunk;
		if ((st = stage(POLICY_BODY, policy_now() + 10, &v)) !=
		    POLICY_DONE)
			return st;
	}
	F.txn.body = NULL;
	F.txn.body_len = 0;
	return POLICY_DONE;
}

/* deliver_by - a whole message, EOM with the deadline seconds away */
static enum policy_status
deliver_by(const struct msg *m, double seconds, struct verdict *v)
{
	enum policy_status st;

	memset(v, 0, sizeof(*v));
	if ((st = feed(m, 4096)) != POLICY_DONE)
		return st;
	return stage(POLICY_EOM, policy_now() + seconds, v);
}

/* deliver - a whole message, EOM with 10 s */
static enum policy_status
deliver(const struct msg *m, struct verdict *v)
{
	return deliver_by(m, 10, v);
}

static const struct msg spam_msg = {
	.fields = {
		{ "From", " Mallory <mallory@example.org>" },
		{ "To", " bob@example.com" },
		{ "Subject", " you won" },
	},
	.body = "Claim it now: " MARK "\r\n",
};

static const struct msg ham_msg = {
	.fields = {
		{ "From", " Alice <alice@example.org>" },
		{ "To", " bob@example.com" },
		{ "Subject", " lunch" },
	},
	.body = "Noon at the usual place?\r\n",
};

/* the three rules that add up to 11.5 */
static const struct msg three_msg = {
	.fields = {
		{ "From", " Mallory <mallory@example.org>" },
		{ "Subject", " the " LOTTERY "\n\tresults" },
	},
	.body = MARK "\r\n" HAM "\r\n",
};

/* 3.5: under required */
static const struct msg lottery_msg = {
	.fields = {
		{ "From", " Carol <carol@example.org>" },
		{ "Subject", " " LOTTERY " club meeting" },
	},
	.body = "Tuesday.\r\n",
};

/* assert_header - added header i is text */
static void
assert_header(size_t i, const char *text)
{
	assert_true(i < F.txn.nheaders);
	assert_string_equal(F.txn.headers[i], text);
}

/* --- tests ---------------------------------------------------------------- */

/* test_settings - the defaults, as -n prints them */
static void
test_settings(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp;

	(void)state;
	assert_true(fake_module_load(&spamd_module, "filterd.conf",
	    "[spamd]\n", &F.globals, &F.mod, &F.error));
	assert_non_null(fp = open_memstream(&out, &len));
	conf_dump(fp, "spamd", spamd_module.settings, F.mod.config);
	fclose(fp);
	assert_string_equal(out,
	    "[spamd]\n"
	    "servers = 127.0.0.1:783\n"
	    "user =\n"
	    "report = no\n"
	    "max_size = 500k\n"
	    "connect_timeout = 5s\n"
	    "score_scale = 1\n"
	    "flag_score = required\n"
	    "reject_score = off\n"
	    "quarantine_score = off\n"
	    "subject_tag =\n"
	    "skip_authenticated = yes\n"
	    "skip_mynetworks = yes\n"
	    "temp_dir = /var/tmp\n"
	    "spool_memory = 1M\n");
	free(out);
	assert_string_equal(spamd_module.name, "spamd");
	assert_int_equal(spamd_module.on_failure, POLICY_FAIL_ACCEPT);
	assert_true(spamd_module.flags & POLICY_NEEDS_LEADSPC);
	assert_true(spamd_module.flags & POLICY_NEEDS_BODY);
	assert_true(spamd_module.flags & POLICY_CHANGES_HEADERS);
	assert_non_null(spamd_module.stage[POLICY_ABORT]);
}

/* test_bad_settings - each mistake with FILE:LINE */
static void
test_bad_settings(void **state)
{
	(void)state;
	assert_string_equal(refused("[spamd]\nservers = 127.0.0.1:x\n"),
	    "filterd.conf:2: servers: spamd server \"127.0.0.1:x\": bad port "
	    "\"x\" (1-65535)\n");
	assert_string_equal(refused("[spamd]\nservers = unix:/run/a.sock, "
	    "spamd\n"), "filterd.conf:2: servers: spamd server \"spamd\": "
	    "no port (HOST:PORT, IPv4:PORT, [IPv6]:PORT or unix:/path)\n");
	assert_string_equal(refused("[spamd]\nservers =\n"),
	    "filterd.conf:2: servers: empty (HOST:PORT, [IPv6]:PORT or "
	    "unix:/path)\n");
	assert_string_equal(refused("[spamd]\n\nuser = bob smith\n"),
	    "filterd.conf:3: user: 'bob smith': only letters, digits and "
	    "- _ . @ +\n");
	assert_string_equal(refused(arena_printf(F.a, "[spamd]\nuser = "
	    "%0257d\n", 0)), "filterd.conf:2: user: longer than 256 "
	    "characters\n");
	assert_string_equal(refused("[spamd]\nsubject_tag = [SPAM]\t!\n"),
	    "filterd.conf:2: subject_tag: control characters are not "
	    "allowed\n");
	assert_string_equal(refused("[spamd]\nflag_score = lots\n"),
	    "filterd.conf:2: flag_score: 'lots': expected required, off or "
	    "a number\n");
	assert_string_equal(refused("[spamd]\nflag_score = 5.\n"),
	    "filterd.conf:2: flag_score: '5.': expected required, off or "
	    "a number\n");
	assert_string_equal(refused(arena_printf(F.a, "[spamd]\ntemp_dir = "
	    "%s/none\n", F.dir)), arena_printf(F.a, "filterd.conf:2: "
	    "temp_dir: %s/none: No such file or directory\n", F.dir));
	assert_string_equal(refused("[spamd]\nmax_size = 0\n"),
	    "filterd.conf:2: bad value '0' for 'max_size': must be 1 or "
	    "more\n");
	/* several at once, in line order */
	assert_string_equal(refused("[spamd]\nuser = a b\nflag_score = x\n"),
	    "filterd.conf:2: user: 'a b': only letters, digits and - _ . @ "
	    "+\nfilterd.conf:3: flag_score: 'x': expected required, off or "
	    "a number\n");
	/* and good ones */
	load("user = alice@example.com\nflag_score = -1.5\n"
	    "subject_tag = *** SPAM ***\nservers = [::1]:783 unix:/run/s\n");
	unload();
	load("flag_score = off\n");
	unload();
	load("flag_score = +7\n");
}

/* test_spam - the marked message: score, flag, status, subject */
static void
test_spam(void **state)
{
	enum policy_status st;
	struct verdict v;

	(void)state;
	load("subject_tag = [SPAM]\n");
	st = deliver(&spam_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DUNNO);
	assert_true(v.score == 10.0);
	assert_string_equal(v.reason, "score=10.0 required=5.0 "
	    "tests=POSTERN_MARK");
	assert_int_equal(F.txn.nheaders, 2);
	assert_header(0, "X-Spam-Flag: YES");
	assert_header(1, "X-Spam-Status: Yes, score=10.0 required=5.0 "
	    "tests=POSTERN_MARK");
	assert_int_equal(F.txn.nedits, 1);
	assert_string_equal(F.txn.edits[0], "change Subject 1: [SPAM] you won");

	/* 10 + 3.5 - 2: three rules, the fold kept byte for byte */
	st = deliver(&three_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_true(fabs(v.score - 11.5) < 1e-9);
	assert_string_equal(v.reason, "score=11.5 required=5.0 "
	    "tests=POSTERN_HAM,POSTERN_MARK,POSTERN_SUBJ");
	assert_header(1, "X-Spam-Status: Yes, score=11.5 required=5.0 "
	    "tests=POSTERN_HAM,POSTERN_MARK,\n\tPOSTERN_SUBJ");
	assert_string_equal(F.txn.edits[0], "change Subject 1: [SPAM] the "
	    LOTTERY "\n\tresults");
}

/* test_clean - under required: status No, no flag, no tag */
static void
test_clean(void **state)
{
	enum policy_status st;
	struct verdict v;

	(void)state;
	load("subject_tag = [SPAM]\n");
	st = deliver(&ham_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DUNNO);
	assert_true(v.score == 0.0);
	assert_string_equal(v.reason, "score=0.0 required=5.0 tests=none");
	assert_int_equal(F.txn.nheaders, 1);
	assert_header(0, "X-Spam-Status: No, score=0.0 required=5.0 "
	    "tests=none");
	assert_int_equal(F.txn.nedits, 0);

	st = deliver(&lottery_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_true(v.score == 3.5);
	assert_int_equal(F.txn.nheaders, 1);
	assert_header(0, "X-Spam-Status: No, score=3.5 required=5.0 "
	    "tests=POSTERN_SUBJ");
}

/* test_score_scale - the verdict's score is spamd's times score_scale */
static void
test_score_scale(void **state)
{
	static const struct msg ham_only = {
		.fields = { { "Subject", " hi" } },
		.body = HAM "\r\n",
	};
	enum policy_status st;
	struct verdict v;

	(void)state;
	load("score_scale = 0.25\n");
	st = deliver(&spam_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_true(v.score == 2.5);
	/* the headers keep spamd's own numbers */
	assert_header(1, "X-Spam-Status: Yes, score=10.0 required=5.0 "
	    "tests=POSTERN_MARK");
	st = deliver(&ham_only, &v);
	assert_true(v.score == -0.5);
	assert_header(0, "X-Spam-Status: No, score=-2.0 required=5.0 "
	    "tests=POSTERN_HAM");
	unload();
	load("score_scale = 0\n");
	st = deliver(&spam_msg, &v);
	assert_true(v.score == 0.0);
	assert_int_equal(F.txn.nheaders, 2);
}

/* test_flag_score - flagging from another score than spamd's required */
static void
test_flag_score(void **state)
{
	enum policy_status st;
	struct verdict v;

	(void)state;
	load("flag_score = 12\nsubject_tag = [SPAM]\n");
	st = deliver(&spam_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_int_equal(F.txn.nheaders, 1);
	assert_header(0, "X-Spam-Status: Yes, score=10.0 required=5.0 "
	    "tests=POSTERN_MARK");
	assert_int_equal(F.txn.nedits, 0);
	unload();

	load("flag_score = 3.5\nsubject_tag = [SPAM]\n");
	st = deliver(&lottery_msg, &v);
	assert_int_equal(F.txn.nheaders, 2);
	assert_header(0, "X-Spam-Flag: YES");
	assert_header(1, "X-Spam-Status: No, score=3.5 required=5.0 "
	    "tests=POSTERN_SUBJ");
	assert_string_equal(F.txn.edits[0], "change Subject 1: [SPAM] " LOTTERY
	    " club meeting");
	unload();

	load("flag_score = off\nsubject_tag = [SPAM]\n");
	st = deliver(&spam_msg, &v);
	assert_int_equal(F.txn.nheaders, 1);
	assert_int_equal(F.txn.nedits, 0);
}

/* test_actions - reject_score and quarantine_score */
static void
test_actions(void **state)
{
	enum policy_status st;
	struct verdict v;

	(void)state;
	load("reject_score = 10\n");
	st = deliver(&spam_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.code, "550");
	assert_string_equal(v.xcode, "5.7.1");
	assert_string_equal(v.text, "Spam message rejected");
	assert_true(v.score == 10.0);
	assert_string_equal(v.reason, "score=10.0 required=5.0 "
	    "tests=POSTERN_MARK");
	assert_int_equal(F.txn.nheaders, 0);
	st = deliver(&lottery_msg, &v);
	assert_int_equal(v.action, VERDICT_DUNNO);
	unload();

	load("quarantine_score = 3.5\nreject_score = 10.1\n");
	st = deliver(&spam_msg, &v);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
	assert_int_equal(F.txn.nheaders, 2);
	st = deliver(&lottery_msg, &v);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
	assert_int_equal(F.txn.nheaders, 1);
	st = deliver(&ham_msg, &v);
	assert_int_equal(v.action, VERDICT_DUNNO);
	unload();

	/* both reached: the reject */
	load("quarantine_score = 1\nreject_score = 2\n");
	st = deliver(&spam_msg, &v);
	assert_int_equal(v.action, VERDICT_REJECT);
}

/* test_report - report = yes: X-Spam-Report on flagged mail, the rules
 * from the report's summary */
static void
test_report(void **state)
{
	static const char *const lines[] = {
		" 3.5 POSTERN_SUBJ           Postern subject",
		"-2.0 POSTERN_HAM            BODY: Postern ham marker",
		"  10 POSTERN_MARK           BODY: Postern test marker",
	};
	const char *report, *head;
	int seen[3] = { 0 };
	enum policy_status st;
	struct verdict v;
	size_t i;

	(void)state;
	load("report = yes\n");
	st = deliver(&three_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_string_equal(v.reason, "score=11.5 required=5.0 "
	    "tests=POSTERN_HAM,POSTERN_MARK,POSTERN_SUBJ");
	assert_int_equal(F.txn.nheaders, 3);
	assert_header(0, "X-Spam-Flag: YES");
	assert_header(1, "X-Spam-Status: Yes, score=11.5 required=5.0 "
	    "tests=POSTERN_HAM,POSTERN_MARK,\n\tPOSTERN_SUBJ");
	/* the summary lines come in an order of spamd's own */
	report = F.txn.headers[2];
	head = "X-Spam-Report: Content analysis details:   (11.5 points, "
	    "5.0 required)\n"
	    "\tpts rule name              description\n"
	    "\t---- ---------------------- ------------------------------\n\t";
	if (strncmp(report, head, strlen(head)) != 0)
		fail_msg("X-Spam-Report is \"%s\"", report);
	report += strlen(head);
	for (i = 0; i < 3; i++) {
		size_t n = strcspn(report, "\n"), j;

		for (j = 0; j < 3; j++)
			if (seen[j] == 0 && strlen(lines[j]) == n &&
			    strncmp(report, lines[j], n) == 0)
				break;
		if (j == 3)
			fail_msg("report line \"%.*s\"", (int)n, report);
		seen[j] = 1;
		report += n;
		if (i < 2) {
			assert_true(strncmp(report, "\n\t", 2) == 0);
			report += 2;
		}
	}
	assert_string_equal(report, "");
	/* not on clean mail */
	st = deliver(&lottery_msg, &v);
	assert_int_equal(F.txn.nheaders, 1);
	assert_header(0, "X-Spam-Status: No, score=3.5 required=5.0 "
	    "tests=POSTERN_SUBJ");
	st = deliver(&ham_msg, &v);
	assert_header(0, "X-Spam-Status: No, score=0.0 required=5.0 "
	    "tests=none");
}

/* test_spooled - a message over spool_memory (a file) and in odd chunks
 * is sent whole */
static void
test_spooled(void **state)
{
	static const char ok[] = "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / "
	    "5.0\r\n\r\n";
	struct buf body = { 0 };
	struct msg big = {
		.fields = { { "Subject", " big" } },
	};
	enum policy_status st;
	struct verdict v;
	struct fake fk;
	const char *m;

	(void)state;
	/* SpamAssassin reads the first 50k of a body: the mark goes first */
	buf_puts(&body, MARK "\r\n");
	for (int i = 0; i < 3000; i++)
		buf_printf(&body, "filler %04d filler filler filler filler\r\n",
		    i);
	big.body = arena_strdup(F.a, buf_cstr(&body));
	buf_free(&body);
	load("spool_memory = 4k\nmax_size = 1M\n");
	st = feed(&big, 777);
	assert_int_equal(st, POLICY_DONE);
	st = stage(POLICY_EOM, policy_now() + 10, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_true(v.score == 10.0);
	unload();

	fake_start(&fk, FAKE_REPLY, ok, sizeof(ok) - 1);
	load(arena_printf(F.a, "servers = %s\nspool_memory = 4k\n"
	    "max_size = 1M\n", fk.name));
	assert_int_equal(feed(&big, 777), POLICY_DONE);
	assert_int_equal(stage(POLICY_EOM, policy_now() + 10, &v),
	    POLICY_DONE);
	m = msg_bytes(&big);
	assert_string_equal(buf_cstr(&fk.request), arena_printf(F.a,
	    "SYMBOLS SPAMC/1.5\r\nContent-length: %zu\r\n\r\n%s",
	    strlen(m), m));
	fake_stop(&fk);
}

/* test_max_size - a message over max_size is not sent */
static void
test_max_size(void **state)
{
	static const char ok[] = "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / "
	    "5.0\r\n\r\n";
	struct fake fk;
	enum policy_status st;
	struct verdict v;
	size_t len = strlen(msg_bytes(&spam_msg));

	(void)state;
	fake_start(&fk, FAKE_REPLY, ok, sizeof(ok) - 1);
	load(arena_printf(F.a, "servers = %s\nmax_size = %zu\n", fk.name,
	    len - 1));
	st = deliver(&spam_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DUNNO);
	assert_true(v.score == 0.0);
	assert_string_equal(v.reason, arena_printf(F.a, "not scanned: %zu "
	    "bytes, over max_size", len));
	assert_int_equal(F.txn.nheaders, 0);
	assert_int_equal(atomic_load(&fk.accepted), 0);
	unload();

	/* exactly max_size is sent */
	load(arena_printf(F.a, "servers = %s\nmax_size = %zu\n", fk.name,
	    len));
	st = deliver(&spam_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_int_equal(atomic_load(&fk.accepted), 1);
	assert_string_equal(v.reason, "score=0.0 required=5.0 tests=none");
	fake_stop(&fk);
}

/* test_request - the bytes spamd gets: SYMBOLS or REPORT, the length,
 * User when set, the message as received */
static void
test_request(void **state)
{
	static const char ok[] = "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / "
	    "5.0\r\n\r\n";
	const char *m = msg_bytes(&three_msg);
	struct fake fk;
	struct verdict v;

	(void)state;
	fake_start(&fk, FAKE_REPLY, ok, sizeof(ok) - 1);
	load(arena_printf(F.a, "servers = %s\nuser = alice@example.com\n",
	    fk.name));
	assert_int_equal(deliver(&three_msg, &v), POLICY_DONE);
	assert_string_equal(buf_cstr(&fk.request), arena_printf(F.a,
	    "SYMBOLS SPAMC/1.5\r\nContent-length: %zu\r\nUser: "
	    "alice@example.com\r\n\r\n%s", strlen(m), m));
	assert_non_null(strstr(m, "Subject: the " LOTTERY "\r\n\tresults\r\n"
	    "\r\n"));
	unload();
	load(arena_printf(F.a, "servers = %s\nreport = yes\n", fk.name));
	assert_int_equal(deliver(&three_msg, &v), POLICY_DONE);
	assert_string_equal(buf_cstr(&fk.request), arena_printf(F.a,
	    "REPORT SPAMC/1.5\r\nContent-length: %zu\r\n\r\n%s", strlen(m),
	    m));
	fake_stop(&fk);
}

/* test_failover - a server that is down is logged, the next one asked */
static void
test_failover(void **state)
{
	const char *log;
	char *refused_at = arena_printf(F.a, "127.0.0.1:%d",
	    testutil_free_port());
	enum policy_status st;
	struct verdict v;

	(void)state;
	load(arena_printf(F.a, "servers = %s, %s\n", refused_at, F.real));
	capture();
	st = deliver(&spam_msg, &v);
	log = captured();
	assert_int_equal(st, POLICY_DONE);
	assert_true(v.score == 10.0);
	assert_has(log, arena_printf(F.a, "warning: 4QX1: spamd %s: connect: "
	    "Connection refused; asking %s\n", refused_at, F.real));
	unload();

	/* the same spamd on its unix socket */
	load(arena_printf(F.a, "servers = unix:%s/missing.sock, %s\n", F.dir,
	    F.real_unix));
	capture();
	st = deliver(&three_msg, &v);
	log = captured();
	assert_int_equal(st, POLICY_DONE);
	assert_true(fabs(v.score - 11.5) < 1e-9);
	assert_has(log, arena_printf(F.a, "warning: 4QX1: spamd unix:%s/"
	    "missing.sock: connect: No such file or directory; asking %s\n",
	    F.dir, F.real_unix));
}

/* test_all_down - every server down: FAILED, each one named */
static void
test_all_down(void **state)
{
	const char *log;
	char *refused_at = arena_printf(F.a, "127.0.0.1:%d",
	    testutil_free_port());
	char *missing = arena_printf(F.a, "unix:%s/missing.sock", F.dir);
	enum policy_status st;
	struct verdict v;

	(void)state;
	load(arena_printf(F.a, "servers = %s, %s\n", refused_at, missing));
	capture();
	st = deliver(&spam_msg, &v);
	log = captured();
	assert_int_equal(st, POLICY_FAILED);
	assert_int_equal(F.txn.nheaders, 0);
	assert_has(log, arena_printf(F.a, "warning: 4QX1: spamd %s: connect: "
	    "Connection refused; asking %s\n", refused_at, missing));
	assert_has(log, arena_printf(F.a, "warning: 4QX1: spamd: scan failed: "
	    "spamd %s: connect: No such file or directory\n", missing));
}

/* test_bad_replies - what is not spamd's answer fails the server, named
 * in the log; the next server is asked */
static void
test_bad_replies(void **state)
{
	const char *log;
	static const char ok_head[] = "SPAMD/1.1 0 EX_OK\r\n";
	static const struct {
		const char *reply;
		size_t len;	/* 0: strlen */
		const char *why;
	} cases[] = {
		{ "", 0, "connection closed without a reply" },
		{ "HELLO\r\n", 0, "unexpected reply \"HELLO\"" },
		{ "HELLO", 0, "unexpected reply \"HELLO\"" },
		{ "SPAMD/1.0 76 Bad header line: (Content-Length "
		  "mismatch)\r\n", 0, "error: 76 Bad header line: "
		  "(Content-Length mismatch)" },
		{ "SPAMD/1.0 69 EX_UNAVAILABLE\r\n", 0,
		  "error: 69 EX_UNAVAILABLE" },
		{ "SPAMD/1.1 0 EX_OK", 0,
		  "unexpected reply \"SPAMD/1.1 0 EX_OK\"" },
		{ "SPAMD/x 0 EX_OK\r\n\r\n", 0,
		  "unexpected reply \"SPAMD/x 0 EX_OK\"" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1.0 / 5.0\r\n", 0,
		  "reply truncated in the header" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: 20\r\n"
		  "Spam: True ; 9.0 / 5.0\r\n\r\nA,B", 0,
		  "reply truncated: 3 of 20 bytes" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: 3\r\n"
		  "Spam: True ; 9.0 / 5.0\r\n\r\nA,B,C", 0,
		  "2 bytes more than Content-length 3" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n", 0,
		  "no Spam header in the reply" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1.0 / 5.0\r\n\r\n", 0,
		  "bad Spam header \"Maybe ; 1.0 / 5.0\"" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1e9 / 5.0\r\n\r\n", 0,
		  "bad Spam header \"True ; 1e9 / 5.0\"" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1234567.0 / 5.0\r\n\r\n",
		  0, "bad Spam header \"True ; 1234567.0 / 5.0\"" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9.0 / 5.0 x\r\n\r\n", 0,
		  "bad Spam header \"True ; 9.0 / 5.0 x\"" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9.0 /\r\n\r\n", 0,
		  "bad Spam header \"True ; 9.0 /\"" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9.0 / 5.0\r\n"
		  "Spam: False ; 0.0 / 5.0\r\n\r\n", 0, "two Spam headers" },
		{ "SPAMD/1.1 0 EX_OK\r\nGarbage\r\n\r\n", 0,
		  "bad header line \"Garbage\"" },
		{ "SPAMD/1.1 0 EX_OK\r\nX Y: z\r\n\r\n", 0,
		  "bad header line \"X Y: z\"" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: x\r\n\r\n", 0,
		  "bad Content-length \"x\"" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: 1\r\n"
		  "Content-length: 1\r\n\r\n", 0,
		  "two Content-length headers" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9.0 / 5.0\r\n\r\n"
		  "A B", 0, "bad rule list \"A B\"" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9.0 / 5.0\r\n\r\n"
		  "A,,B", 0, "bad rule list \",B\"" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9.0 / 5.0\r\n\r\n"
		  "A,", 0, "bad rule list \"A,\"" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9.0 / 5.0\r\n\r\n"
		  "A\r\nB", 0, "bad rule list \"A??B\"" },
		{ HEAD9 "\xff\x01", sizeof(HEAD9) - 1 + 2,
		  "bad rule list \"??\"" },
		{ HEAD9 "A\0B", sizeof(HEAD9) - 1 + 3,
		  "bad rule list \"A?B\"" },
		{ "\x1b[31mSPAMD\r\n", 0, "unexpected reply \"?[31mSPAMD\"" },
	};
	struct fake fk, fk2;
	enum policy_status st;
	struct verdict v;
	char *big;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_start(&fk, FAKE_REPLY, cases[i].reply,
		    cases[i].len > 0 ? cases[i].len :
		    strlen(cases[i].reply));
		load(arena_printf(F.a, "servers = %s\n", fk.name));
		capture();
		st = deliver(&spam_msg, &v);
		log = captured();
		if (st != POLICY_FAILED)
			fail_msg("case %zu: scanned (%s)", i, v.reason);
		assert_int_equal(F.txn.nheaders, 0);
		assert_int_equal(F.txn.nedits, 0);
		assert_has(log, arena_printf(F.a, "warning: 4QX1: spamd: scan "
		    "failed: spamd %s: %s\n", fk.name, cases[i].why));
		unload();
		fake_stop(&fk);
	}

	/* longer than a reply can be: never cut, never taken */
	big = arena_alloc(F.a, 70000);
	memcpy(big, ok_head, sizeof(ok_head) - 1);
	memset(big + sizeof(ok_head) - 1, 'A', 70000 - sizeof(ok_head) + 1);
	memcpy(big + sizeof(ok_head) - 1, "Spam: True ; 9.0 / 5.0\r\n\r\n",
	    26);
	fake_start(&fk, FAKE_REPLY, big, 70000);
	load(arena_printf(F.a, "servers = %s\n", fk.name));
	capture();
	st = deliver(&spam_msg, &v);
	log = captured();
	assert_int_equal(st, POLICY_FAILED);
	assert_has(log, arena_printf(F.a, "spamd %s: reply longer than 65536 "
	    "bytes\n", fk.name));
	unload();
	fake_stop(&fk);

	/* a status line that never ends, quoted only in part */
	memset(big, 'B', 2000);
	fake_start(&fk, FAKE_REPLY, big, 2000);
	load(arena_printf(F.a, "servers = %s\n", fk.name));
	capture();
	st = deliver(&spam_msg, &v);
	log = captured();
	assert_int_equal(st, POLICY_FAILED);
	assert_has(log, arena_printf(F.a, "spamd %s: unexpected reply "
	    "\"%.80s...\"\n", fk.name, big));
	unload();
	fake_stop(&fk);

	/* a bad answer, then a good server */
	fake_start(&fk, FAKE_REPLY, "HELLO\r\n", 7);
	fake_start(&fk2, FAKE_REPLY, "SPAMD/1.0 70 EX_SOFTWARE\r\n",
	    26);
	load(arena_printf(F.a, "servers = %s %s %s\n", fk.name, fk2.name,
	    F.real));
	capture();
	st = deliver(&spam_msg, &v);
	log = captured();
	assert_int_equal(st, POLICY_DONE);
	assert_true(v.score == 10.0);
	assert_has(log, arena_printf(F.a, "warning: 4QX1: spamd %s: unexpected "
	    "reply \"HELLO\"; asking %s\n", fk.name, fk2.name));
	assert_has(log, arena_printf(F.a, "warning: 4QX1: spamd %s: error: 70 "
	    "EX_SOFTWARE; asking %s\n", fk2.name, F.real));
	assert_int_equal(atomic_load(&fk.accepted), 1);
	assert_int_equal(atomic_load(&fk2.accepted), 1);
	fake_stop(&fk);
	fake_stop(&fk2);
}

/* test_good_replies - what spamd may also say: older words, no
 * Content-length, line ends after the rules, headers to ignore, a
 * long rule list folded */
static void
test_good_replies(void **state)
{
	static const struct {
		const char *reply, *status, *reason;
		double score;
	} cases[] = {
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: Yes ; 5 / 5\r\n\r\n",
		  "Yes, score=5 required=5 tests=none",
		  "score=5 required=5 tests=none", 5 },
		{ "SPAMD/1.5 0 EX_OK\r\nX-Other: whatever\r\n"
		  "content-length: 7\r\nspam:False;-0.5/5.0\r\n\r\n"
		  "A_1,B\r\n", "No, score=-0.5 required=5.0 tests=A_1,B",
		  "score=-0.5 required=5.0 tests=A_1,B", -0.5 },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / 5.0\r\n\r\n"
		  "ONE,TWO\r\n\r\n", "No, score=0.0 required=5.0 "
		  "tests=ONE,TWO", "score=0.0 required=5.0 tests=ONE,TWO", 0 },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 999999.999 / "
		  "-999999.999\r\n\r\n", "Yes, score=999999.999 "
		  "required=-999999.999 tests=none", "score=999999.999 "
		  "required=-999999.999 tests=none", 999999.999 },
	};
	struct fake fk;
	struct buf rules_list = { 0 }, want = { 0 };
	enum policy_status st;
	struct verdict v;
	char *reply;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_start(&fk, FAKE_REPLY, cases[i].reply,
		    strlen(cases[i].reply));
		load(arena_printf(F.a, "servers = %s\n", fk.name));
		st = deliver(&ham_msg, &v);
		if (st != POLICY_DONE)
			fail_msg("case %zu failed", i);
		assert_string_equal(v.reason, cases[i].reason);
		assert_true(fabs(v.score - cases[i].score) < 1e-9);
		assert_header(F.txn.nheaders - 1, arena_printf(F.a,
		    "X-Spam-Status: %s", cases[i].status));
		unload();
		fake_stop(&fk);
	}

	/* twelve rules of 15 bytes: folded before column 78 at commas */
	for (i = 0; i < 12; i++)
		buf_printf(&rules_list, "%sRULE_%02zu_ABCDEFGH", i > 0 ? "," :
		    "", i);
	reply = arena_printf(F.a, "SPAMD/1.1 0 EX_OK\r\nContent-length: "
	    "%zu\r\nSpam: True ; 30.0 / 5.0\r\n\r\n%s", rules_list.len,
	    buf_cstr(&rules_list));
	fake_start(&fk, FAKE_REPLY, reply, strlen(reply));
	load(arena_printf(F.a, "servers = %s\n", fk.name));
	st = deliver(&ham_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	buf_puts(&want, "X-Spam-Status: Yes, score=30.0 required=5.0 "
	    "tests=RULE_00_ABCDEFGH,\n\tRULE_01_ABCDEFGH,RULE_02_ABCDEFGH,"
	    "RULE_03_ABCDEFGH,RULE_04_ABCDEFGH,\n\tRULE_05_ABCDEFGH,"
	    "RULE_06_ABCDEFGH,RULE_07_ABCDEFGH,RULE_08_ABCDEFGH,\n\t"
	    "RULE_09_ABCDEFGH,RULE_10_ABCDEFGH,RULE_11_ABCDEFGH");
	assert_header(1, buf_cstr(&want));
	for (const char *p = F.txn.headers[1], *nl; p != NULL; p = nl) {
		nl = strchr(p, '\n');
		assert_true((nl != NULL ? (size_t)(nl - p) : strlen(p)) <=
		    78);
		if (nl != NULL)
			nl++;
	}
	assert_string_equal(v.reason, arena_printf(F.a, "score=30.0 "
	    "required=5.0 tests=%s", buf_cstr(&rules_list)));
	buf_free(&rules_list);
	buf_free(&want);
	unload();
	fake_stop(&fk);
}

/* test_deadline - a server that never answers costs the deadline; one
 * that does not take the connection costs connect_timeout, and the next
 * is asked */
static void
test_deadline(void **state)
{
	const char *log;
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t slen = sizeof(sin);
	struct fake fk;
	enum policy_status st;
	struct verdict v;
	double start, took;
	char *full;
	int lfd, held;

	(void)state;
	fake_start(&fk, FAKE_SILENT, NULL, 0);
	load(arena_printf(F.a, "servers = %s %s\n", fk.name, F.real));
	capture();
	assert_int_equal(feed(&spam_msg, 4096), POLICY_DONE);
	start = policy_now();
	st = stage(POLICY_EOM, start + 0.3, &v);
	took = policy_now() - start;
	log = captured();
	assert_int_equal(st, POLICY_FAILED);
	assert_true(took >= 0.3 && took < 1.5 * testutil_slack());
	assert_has(log, arena_printf(F.a, "warning: 4QX1: spamd: scan failed: "
	    "spamd %s: read: timed out\n", fk.name));
	unload();
	fake_stop(&fk);

	/* a listener whose backlog is full drops the SYN */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &slen), 0);
	held = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(held, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	full = arena_printf(F.a, "127.0.0.1:%d", ntohs(sin.sin_port));
	load(arena_printf(F.a, "servers = %s %s\nconnect_timeout = 200ms\n",
	    full, F.real));
	capture();
	start = policy_now();
	st = deliver(&spam_msg, &v);
	took = policy_now() - start;
	log = captured();
	assert_int_equal(st, POLICY_DONE);
	assert_true(v.score == 10.0);
	assert_true(took >= 0.2 && took < 5);
	assert_has(log, arena_printf(F.a, "warning: 4QX1: spamd %s: connect: "
	    "timed out; asking %s\n", full, F.real));
	close(held);
	close(lfd);
}

/* test_skip - authenticated and mynetworks clients are not scanned by
 * default; a failed mynetworks lookup is a failure */
static void
test_skip(void **state)
{
	const char *log;
	static const char ok[] = "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / "
	    "5.0\r\n\r\n";
	struct fake fk;
	enum policy_status st;
	struct verdict v;

	(void)state;
	fake_start(&fk, FAKE_REPLY, ok, sizeof(ok) - 1);
	load(arena_printf(F.a, "servers = %s\n", fk.name));
	F.txn.auth = "alice";
	st = deliver(&spam_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_string_equal(v.reason, "skip_authenticated");
	assert_int_equal(F.txn.nheaders, 0);
	F.txn.auth = NULL;
	F.txn.mynetworks = TABLE_FOUND;
	st = deliver(&spam_msg, &v);
	assert_string_equal(v.reason, "skip_mynetworks");
	assert_int_equal(atomic_load(&fk.accepted), 0);
	F.txn.mynetworks = TABLE_ERROR;
	capture();
	st = deliver(&spam_msg, &v);
	log = captured();
	assert_int_equal(st, POLICY_FAILED);
	assert_has(log, "warning: 4QX1: spamd: mynetworks lookup failed\n");
	F.txn.mynetworks = TABLE_NOTFOUND;
	st = deliver(&spam_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_int_equal(atomic_load(&fk.accepted), 1);
	unload();

	/* an outbound relay scores its own users too */
	load(arena_printf(F.a, "servers = %s\nskip_authenticated = no\n"
	    "skip_mynetworks = no\n", fk.name));
	F.txn.auth = "alice";
	F.txn.mynetworks = TABLE_ERROR;
	st = deliver(&spam_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_string_equal(v.reason, "score=0.0 required=5.0 tests=none");
	assert_int_equal(atomic_load(&fk.accepted), 2);
	F.txn.auth = NULL;
	F.txn.mynetworks = TABLE_NOTFOUND;
	fake_stop(&fk);
}

/* test_own_fields - X-Spam-* fields the message brings are removed when
 * it is scanned; the subject is tagged once */
static void
test_own_fields(void **state)
{
	static const struct msg forged = {
		.fields = {
			{ "X-Spam-Status", " No, score=-100" },
			{ "Subject", " [SPAM] you won" },
			{ "x-spam-flag", " NO" },
			{ "X-Spam-Status", " No" },
			{ "X-Spam-Report", " nothing" },
		},
		.body = MARK "\r\n",
	};
	static const struct msg no_subject = {
		.fields = { { "From", " a@example.org" } },
		.body = MARK "\r\n",
	};
	static const struct msg empty_subject = {
		.fields = { { "Subject", "" } },
		.body = MARK "\r\n",
	};
	enum policy_status st;
	struct verdict v;

	(void)state;
	load("subject_tag = [SPAM]\n");
	st = deliver(&forged, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_int_equal(F.txn.nedits, 4);
	assert_string_equal(F.txn.edits[0], "delete X-Spam-Status 2");
	assert_string_equal(F.txn.edits[1], "delete X-Spam-Status 1");
	assert_string_equal(F.txn.edits[2], "delete X-Spam-Flag 1");
	assert_string_equal(F.txn.edits[3], "delete X-Spam-Report 1");
	assert_int_equal(F.txn.nheaders, 2);

	st = deliver(&no_subject, &v);
	assert_int_equal(F.txn.nedits, 0);
	assert_int_equal(F.txn.nheaders, 3);
	assert_header(2, "Subject: [SPAM]");

	st = deliver(&empty_subject, &v);
	assert_int_equal(F.txn.nedits, 1);
	assert_string_equal(F.txn.edits[0], "change Subject 1: [SPAM]");
	unload();

	/* a skipped message keeps what it brought */
	load("subject_tag = [SPAM]\n");
	F.txn.auth = "alice";
	st = deliver(&forged, &v);
	assert_int_equal(F.txn.nedits, 0);
	F.txn.auth = NULL;
}

/* test_spool_failure - a spool that cannot be written fails the message */
static void
test_spool_failure(void **state)
{
	const char *log;
	char *gone = arena_printf(F.a, "%s/gone", F.dir);
	struct buf body = { 0 };
	struct msg big = { .fields = { { "Subject", " big" } } };
	enum policy_status st;
	struct verdict v;

	(void)state;
	for (int i = 0; i < 200; i++)
		buf_puts(&body, "more filler, and more filler\r\n");
	big.body = arena_strdup(F.a, buf_cstr(&body));
	buf_free(&body);
	assert_int_equal(mkdir(gone, 0700), 0);
	load(arena_printf(F.a, "temp_dir = %s\nspool_memory = 1k\n", gone));
	assert_int_equal(rmdir(gone), 0);
	capture();
	st = deliver(&big, &v);
	log = captured();
	assert_int_equal(st, POLICY_FAILED);
	assert_int_equal(F.txn.nheaders, 0);
	assert_has(log, arena_printf(F.a, "warning: 4QX1: spamd: cannot keep "
	    "the message for scanning: create temporary file in %s: No such "
	    "file or directory\n", gone));
	/* a small one still fits in memory */
	st = deliver(&spam_msg, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_true(v.score == 10.0);
}

/* eom_twice - EOM after EOM is a bug */
static void
eom_twice(void)
{
	struct verdict v;

	load("");
	(void)deliver(&ham_msg, &v);
	(void)stage(POLICY_EOM, policy_now() + 10, &v);
}

/* test_abort - ABORT lets the message go; EOM twice panics; a message
 * that never came is not sent */
static void
test_abort(void **state)
{
	enum policy_status st;
	struct verdict v;

	(void)state;
	load("");
	assert_int_equal(feed(&spam_msg, 4096), POLICY_DONE);
	st = stage(POLICY_ABORT, policy_now() + 10, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_int_equal(v.action, VERDICT_DUNNO);
	st = stage(POLICY_ABORT, policy_now() + 10, &v);
	assert_int_equal(st, POLICY_DONE);
	unload();

	load("");
	F.txn.msg_arena = arena_create();
	memset(F.mod.msg, 0, spamd_module.msg_size);
	st = stage(POLICY_EOM, policy_now() + 10, &v);
	assert_int_equal(st, POLICY_DONE);
	assert_string_equal(v.reason, "not scanned: empty message");
	unload();
	testutil_expect_abort(eom_twice);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_settings, teardown),
		cmocka_unit_test_teardown(test_bad_settings, teardown),
		cmocka_unit_test_teardown(test_spam, teardown),
		cmocka_unit_test_teardown(test_clean, teardown),
		cmocka_unit_test_teardown(test_score_scale, teardown),
		cmocka_unit_test_teardown(test_flag_score, teardown),
		cmocka_unit_test_teardown(test_actions, teardown),
		cmocka_unit_test_teardown(test_report, teardown),
		cmocka_unit_test_teardown(test_spooled, teardown),
		cmocka_unit_test_teardown(test_max_size, teardown),
		cmocka_unit_test_teardown(test_request, teardown),
		cmocka_unit_test_teardown(test_failover, teardown),
		cmocka_unit_test_teardown(test_all_down, teardown),
		cmocka_unit_test_teardown(test_bad_replies, teardown),
		cmocka_unit_test_teardown(test_good_replies, teardown),
		cmocka_unit_test_teardown(test_deadline, teardown),
		cmocka_unit_test_teardown(test_skip, teardown),
		cmocka_unit_test_teardown(test_own_fields, teardown),
		cmocka_unit_test_teardown(test_spool_failure, teardown),
		cmocka_unit_test_teardown(test_abort, teardown),
	};

	/* SIGPIPE keeps its default: a write without MSG_NOSIGNAL to a
	 * server that hung up kills the test */
	log_init("test_spamd", true);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
