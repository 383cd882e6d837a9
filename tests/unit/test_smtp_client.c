/*
 * test_smtp_client.c - delivery by SMTP and LMTP against real servers on
 * loopback: Postfix's smtp-sink (its dump files show exactly what it
 * received), a private nsd for the MX records, and a small scripted
 * Python server for the misbehaving ones.
 *
 * Every MX host name resolves to a loopback address and shares one port:
 * 127.0.0.1 is smtp-sink, 127.0.0.2 the scripted server (or nothing,
 * which refuses the connection).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "dns.h"
#include "message.h"
#include "smtp_client.h"
#include "spool.h"
#include "testutil.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define PYTHON	"/usr/bin/python3"
#define SINK	"/usr/sbin/smtp-sink"

static const char zone[] =
    "$ORIGIN example.com.\n$TTL 300\n"
    "@\tIN SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 300\n"
    "\tIN NS ns.example.com.\n"
    "ns\tIN A 127.0.0.1\n"
    "mx1\tIN A 127.0.0.1\n"
    "mx2\tIN A 127.0.0.2\n"
    "pref\tIN MX 10 mx1.example.com.\n"
    "pref\tIN MX 5 mx2.example.com.\n"
    "nullmx\tIN MX 0 .\n"
    "nomx\tIN A 127.0.0.1\n"
    "noaddr\tIN MX 10 nowhere.example.com.\n"
    "noaddr2\tIN TXT \"no MX, no address\"\n";

/* the scripted server: argv mode, address, port, ready file */
static const char script[] =
    "import socket, sys, time\n"
    "mode, addr, port, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind((addr, port)); s.listen(5); open(ready, 'w').close()\n"
    "while True:\n"
    "  c, _ = s.accept(); f = c.makefile('rb')\n"
    "  def say(t): c.sendall(t.encode())\n"
    "  if mode == 'silent':\n"
    "    time.sleep(5); c.close(); continue\n"
    "  if mode == 'huge':\n"
    "    say('220-x\\r\\n' * 200 + '220 x\\r\\n'); time.sleep(1); c.close(); continue\n"
    "  say('220-scripted\\r\\n220 ready\\r\\n')\n"
    "  l = f.readline()\n"
    "  if mode == 'ehlo421':\n"
    "    say('421 4.3.2 busy\\r\\n'); c.close(); continue\n"
    "  say('250-scripted\\r\\n250-SIZE 100000\\r\\n250 8BITMIME\\r\\n')\n"
    "  while True:\n"
    "    l = f.readline()\n"
    "    if not l: break\n"
    "    if l.startswith(b'DATA'):\n"
    "      say('354 go\\r\\n'); f.readline(); c.shutdown(socket.SHUT_RDWR); c.close(); break\n"
    "    if l.startswith(b'QUIT'):\n"
    "      say('221 bye\\r\\n'); c.close(); break\n"
    "    say('250-first line\\r\\n250 2.1.0 second line\\r\\n')\n"
    "  continue\n";

static struct testutil_nsd g_nsd;
static struct dns *g_dns, *g_quiet;
static char g_dir[256];
static unsigned g_port;
static pid_t g_sink = -1, g_py = -1;


/* wait_file - until path exists (10 s) */
static bool
wait_file(const char *path)
{
	int i;

	for (i = 0; i < 1000; i++) {
		if (access(path, F_OK) == 0)
			return true;
		usleep(10000);
	}
	return false;
}

/* can_connect - whether 127.0.0.1:port accepts */
static bool
can_connect(unsigned port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return rc == 0;
}

/* stop - SIGTERM a child of ours and reap it */
static void
stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = -1;
}

/* sink_start - smtp-sink with extra options on 127.0.0.1:g_port (or
 * listen, e.g. "unix:PATH"), dumping into g_dir/dump */
static void
sink_start(const char *opt1, const char *opt2, const char *listen)
{
	char dump[300], tmpl[320], addr[300];
	const char *argv[16];
	int n = 0, i;

	snprintf(dump, sizeof(dump), "%s/dump", g_dir);
	testutil_rmtree(dump);
	mkdir(dump, 0777);
	chmod(dump, 0777);
	snprintf(tmpl, sizeof(tmpl), "%s/%%M.", dump);
	if (listen == NULL)
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", g_port);
	else
		snprintf(addr, sizeof(addr), "%s", listen);
	argv[n++] = "smtp-sink";
	argv[n++] = "-u";
	argv[n++] = "nobody";
	argv[n++] = "-d";
	argv[n++] = tmpl;
	if (opt1 != NULL)
		argv[n++] = opt1;
	if (opt2 != NULL)
		argv[n++] = opt2;
	argv[n++] = addr;
	argv[n++] = "64";
	argv[n] = NULL;
	if ((g_sink = fork()) == 0) {
		execv(SINK, (char **)argv);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		if (listen != NULL ? access(listen + 5, F_OK) == 0 :
		    can_connect(g_port))
			return;
		usleep(10000);
	}
	fail_msg("smtp-sink did not start");
}

/* py_start - the scripted server in mode on 127.0.0.2:g_port */
static void
py_start(const char *mode)
{
	char prog[300], ready[300], port[16];

	snprintf(prog, sizeof(prog), "%s/server.py", g_dir);
	snprintf(ready, sizeof(ready), "%s/ready", g_dir);
	snprintf(port, sizeof(port), "%u", g_port);
	unlink(ready);
	if ((g_py = fork()) == 0) {
		execl(PYTHON, "python3", prog, mode, "127.0.0.2", port, ready,
		    (char *)NULL);
		_exit(127);
	}
	if (!wait_file(ready))
		fail_msg("scripted server did not start");
}

/* dump_read - the one message smtp-sink dumped (malloc'ed) */
static char *
dump_read(void)
{
	char dump[300], path[600];
	struct dirent *e;
	struct buf b = { 0 };
	char chunk[4096];
	size_t n, count = 0;
	FILE *f;
	DIR *d;

	snprintf(dump, sizeof(dump), "%s/dump", g_dir);
	assert_non_null(d = opendir(dump));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		count++;
		snprintf(path, sizeof(path), "%s/%s", dump, e->d_name);
	}
	closedir(d);
	assert_int_equal(count, 1);
	assert_non_null(f = fopen(path, "r"));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	return buf_steal(&b);
}

/* group_setup - zones, nsd, resolvers, the script */
static int
group_setup(void **state)
{
	char zones[300];
	struct arena *a = arena_create();

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (testutil_tmpdir(g_dir, sizeof(g_dir), "test_smtp_client") < 0)
		return -1;
	chmod(g_dir, 0755);
	snprintf(zones, sizeof(zones), "%s/top/tests/data/zones", g_dir);
	snprintf(zones, sizeof(zones), "%s/top", g_dir);
	mkdir(zones, 0755);
	snprintf(zones, sizeof(zones), "%s/top/tests", g_dir);
	mkdir(zones, 0755);
	snprintf(zones, sizeof(zones), "%s/top/tests/data", g_dir);
	mkdir(zones, 0755);
	snprintf(zones, sizeof(zones), "%s/top/tests/data/zones", g_dir);
	mkdir(zones, 0755);
	testutil_put(a, zones, "example.com", zone);
	testutil_put(a, g_dir, "server.py", script);
	arena_destroy(&a);
	snprintf(zones, sizeof(zones), "%s/top", g_dir);
	setenv("TOP", zones, 1);
	if ((g_port = testutil_free_port()) == 0)
		return -1;
	return testutil_dns_start(&g_nsd, "test_smtp_client", TOP_SRCDIR,
	    &g_dns, &g_quiet);
}

/* group_teardown - everything down */
static int
group_teardown(void **state)
{
	(void)state;
	stop(&g_sink);
	stop(&g_py);
	testutil_dns_stop(&g_nsd, &g_dns, &g_quiet);
	return testutil_rmtree(g_dir);
}

/* teardown - servers of one test */
static int
teardown(void **state)
{
	(void)state;
	stop(&g_sink);
	stop(&g_py);
	return 0;
}

/* make_message - a message with headers and body text (CR LF lines) */
static struct message *
make_message(struct arena *a, const char *body)
{
	struct message *m = message_new(a, g_dir, 1 << 20);
	static const char hdr[] = "Subject: test\r\nX-Folded: one\r\n two\r\n";
	const char *why;

	m->sender = "sender@example.org";
	assert_true(message_parse_header(m, hdr, strlen(hdr), &why));
	assert_true(spool_append(m->body, body, strlen(body)));
	return m;
}

/* settings - for dns (g_dns or g_quiet) */
static struct smtp_client_settings
settings(struct dns *dns)
{
	struct smtp_client_settings s = {
		.helo_name = "client.example.net",
		.dns = dns,
		.connect_timeout = 2,
		.helo_timeout = 2,
		.command_timeout = 2,
		.data_timeout = 2,
	};

	return s;
}

/* deliver - smtp_deliver to transport t for the given addresses */
static void
deliver(struct smtp_client_settings *s, struct transport *t,
    struct message *m, struct message_rcpt *r, struct smtp_rcpt *out,
    size_t n, struct arena *a)
{
	struct smtp_tls tls = { .level = SMTP_TLS_NONE };
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].rcpt = &r[i];
	}
	smtp_deliver(s, t, &tls, m, out, n, a);
}

/* check - one recipient's outcome */
static void
check(const struct smtp_rcpt *r, enum deliver_status st, const char *dsn,
    const char *diag, const char *mta)
{
	assert_int_equal(r->result.status, st);
	assert_string_equal(r->result.dsn, dsn);
	assert_non_null(r->result.text);
	if (diag == NULL)
		assert_null(r->diagnostic);
	else
		assert_string_equal(r->diagnostic, diag);
	if (mta == NULL)
		assert_null(r->remote_mta);
	else
		assert_string_equal(r->remote_mta, mta);
}

/* test_mx_content - the lower MX refuses the connection, the next one
 * gets MAIL/RCPT with DSN parameters and the content dot-stuffed, line
 * ends made CR LF and an over-long line broken */
static void
test_mx_content(void **state)
{
	struct arena *a = arena_create();
	struct smtp_client_settings s = settings(g_dns);
	struct transport t = { .kind = TRANSPORT_SMTP,
	    .host = "pref.example.com", .port = g_port, .mx = true };
	struct message_rcpt r[2] = {
		{ .addr = "one@example.com", .notify = MESSAGE_NOTIFY_SUCCESS |
		    MESSAGE_NOTIFY_FAILURE, .orcpt = "rfc822;One+x@Example.com" },
		{ .addr = "two@example.com" },
	};
	struct smtp_rcpt out[2];
	struct message *m;
	char body[1400], *dump, *want;

	(void)state;
	memset(body, 'a', sizeof(body));
	memcpy(body, ".dot\r\nbare\nlf\r\n", 15);
	strcpy(body + 15 + 1000, "\r\n.\r\nend");
	m = make_message(a, body);
	m->ret = MESSAGE_RET_HDRS;
	m->envid = "id+1";
	sink_start(NULL, NULL, NULL);
	deliver(&s, &t, m, r, out, 2, a);
	check(&out[0], DELIVER_OK, "2.0.0", "250 2.0.0 Ok", "mx1.example.com");
	check(&out[1], DELIVER_OK, "2.0.0", "250 2.0.0 Ok", "mx1.example.com");
	dump = dump_read();
	assert_non_null(strstr(dump, "X-Helo-Args: client.example.net\n"));
	assert_non_null(strstr(dump,
	    "X-Mail-Args: <sender@example.org> RET=HDRS ENVID=id+2B1\n"));
	assert_non_null(strstr(dump, "X-Rcpt-Args: <one@example.com> "
	    "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;One+2Bx@Example.com\n"));
	assert_non_null(strstr(dump, "X-Rcpt-Args: <two@example.com>\n"));
	/* smtp-sink dumps the content unstuffed: a lone "." line that
	 * arrives intact proves the stuffing, "end" after it too */
	want = arena_alloc(a, 2000);
	snprintf(want, 2000, "Subject: test\nX-Folded: one\n two\n\n"
	    ".dot\nbare\nlf\n%.998s\n %.2s\n.\nend\n", body + 15,
	    body + 15);
	if (strstr(dump, want) == NULL)
		fail_msg("dump:\n%s\nwant:\n%s", dump, want);
	free(dump);
	arena_destroy(&a);
}

/* test_dns_outcomes - null MX, NXDOMAIN, DNS error, hosts without
 * addresses, and a domain without MX that has an address */
static void
test_dns_outcomes(void **state)
{
	struct arena *a = arena_create();
	struct smtp_client_settings s = settings(g_dns);
	struct smtp_client_settings q = settings(g_quiet);
	struct transport t = { .kind = TRANSPORT_SMTP, .port = g_port,
	    .mx = true };
	struct message_rcpt r[1] = { { .addr = "x@example.com" } };
	struct smtp_rcpt out[1];
	struct message *m = make_message(a, "hi\r\n");

	(void)state;
	t.host = "nullmx.example.com";
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_PERMFAIL, "5.1.10", NULL, NULL);
	t.host = "nosuch.example.com";
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_PERMFAIL, "5.1.2", NULL, NULL);
	t.host = "pref.example.com";
	deliver(&q, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_TEMPFAIL, "4.4.3", NULL, NULL);
	t.host = "noaddr.example.com";
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_TEMPFAIL, "4.4.4", NULL, NULL);
	t.host = "noaddr2.example.com";
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_PERMFAIL, "5.4.4", NULL, NULL);
	/* nothing listens: every address refused, deferred */
	t.host = "nomx.example.com";
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_TEMPFAIL, "4.4.1", NULL, NULL);
	assert_non_null(strstr(out[0].result.text, "connect to "
	    "nomx.example.com[127.0.0.1]: Connection refused"));
	sink_start(NULL, NULL, NULL);
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_OK, "2.0.0", "250 2.0.0 Ok",
	    "nomx.example.com");
	arena_destroy(&a);
}

/* test_rcpt_replies - 5xx and 4xx to RCPT, per recipient */
static void
test_rcpt_replies(void **state)
{
	struct arena *a = arena_create();
	struct smtp_client_settings s = settings(g_dns);
	struct transport t = { .kind = TRANSPORT_SMTP, .host = "127.0.0.1",
	    .port = g_port };
	struct message_rcpt r[2] = { { .addr = "a@example.com" },
	    { .addr = "b@example.com" } };
	struct smtp_rcpt out[2];
	struct message *m = make_message(a, "hi\r\n");

	(void)state;
	sink_start("-f", "RCPT", NULL);
	deliver(&s, &t, m, r, out, 2, a);
	check(&out[0], DELIVER_PERMFAIL, "5.3.0", "500 5.3.0 Error: command "
	    "failed", "127.0.0.1");
	check(&out[1], DELIVER_PERMFAIL, "5.3.0", "500 5.3.0 Error: command "
	    "failed", "127.0.0.1");
	stop(&g_sink);
	sink_start("-r", "MAIL", NULL);
	deliver(&s, &t, m, r, out, 2, a);
	check(&out[0], DELIVER_TEMPFAIL, "4.3.0", "450 4.3.0 Error: command "
	    "failed", "127.0.0.1");
	check(&out[1], DELIVER_TEMPFAIL, "4.3.0", "450 4.3.0 Error: command "
	    "failed", "127.0.0.1");
	arena_destroy(&a);
}

/* test_scripted - 421 to EHLO moves on to the next MX; a server that
 * closes in DATA, one that floods the greeting, one that is silent */
static void
test_scripted(void **state)
{
	struct arena *a = arena_create();
	struct smtp_client_settings s = settings(g_dns);
	struct transport t = { .kind = TRANSPORT_SMTP,
	    .host = "pref.example.com", .port = g_port, .mx = true };
	struct message_rcpt r[1] = { { .addr = "x@example.com" } };
	struct smtp_rcpt out[1];
	struct message *m = make_message(a, "hi\r\n");
	double t0;

	(void)state;
	py_start("ehlo421");
	sink_start(NULL, NULL, NULL);
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_OK, "2.0.0", "250 2.0.0 Ok", "mx1.example.com");
	stop(&g_sink);
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_TEMPFAIL, "4.4.1", NULL, NULL);
	stop(&g_py);

	t.host = "127.0.0.2";
	t.mx = false;
	py_start("middata");
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_TEMPFAIL, "4.4.2", NULL, "127.0.0.2");
	assert_string_equal(out[0].result.text, "lost connection with host "
	    "127.0.0.2[127.0.0.2] while waiting for end of data");
	stop(&g_py);

	py_start("huge");
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_TEMPFAIL, "4.4.2", NULL, "127.0.0.2");
	assert_non_null(strstr(out[0].result.text, "malformed reply"));
	stop(&g_py);

	py_start("silent");
	s.helo_timeout = 0.5;
	t0 = (double)time(NULL);
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_TEMPFAIL, "4.4.2", NULL, "127.0.0.2");
	assert_string_equal(out[0].result.text, "timed out with host "
	    "127.0.0.2[127.0.0.2] while receiving the initial server greeting");
	assert_true((double)time(NULL) - t0 < 3);
	arena_destroy(&a);
}

/* test_lmtp_unix - LHLO, one reply per recipient after the dot */
static void
test_lmtp_unix(void **state)
{
	struct arena *a = arena_create();
	struct smtp_client_settings s = settings(g_dns);
	char path[300], listen[310];
	struct transport t = { .kind = TRANSPORT_LMTP };
	struct message_rcpt r[2] = { { .addr = "a@example.com" },
	    { .addr = "b@example.com" } };
	struct smtp_rcpt out[2];
	struct message *m = make_message(a, "hi\r\n");
	char *dump;

	(void)state;
	snprintf(path, sizeof(path), "%s/lmtp.sock", g_dir);
	snprintf(listen, sizeof(listen), "unix:%s", path);
	t.unix_path = path;
	sink_start("-L", NULL, listen);
	chmod(path, 0777);
	deliver(&s, &t, m, r, out, 2, a);
	check(&out[0], DELIVER_OK, "2.2.0", "250 2.2.0 Ok", path);
	check(&out[1], DELIVER_OK, "2.2.0", "250 2.2.0 Ok", path);
	dump = dump_read();
	assert_non_null(strstr(dump, "X-Client-Proto: LMTP\n"));
	free(dump);
	arena_destroy(&a);
}

/* main - the group with nsd */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_mx_content, teardown),
		cmocka_unit_test_teardown(test_dns_outcomes, teardown),
		cmocka_unit_test_teardown(test_rcpt_replies, teardown),
		cmocka_unit_test_teardown(test_scripted, teardown),
		cmocka_unit_test_teardown(test_lmtp_unix, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
