/*
 * test_smtp_client.c - delivery by SMTP and LMTP against real servers on
 * loopback: Postfix's smtp-sink (its dump files show exactly what it
 * received), a private nsd for the MX records, and a small scripted
 * Python server for the misbehaving ones (and for TLS: it does STARTTLS
 * with Python's ssl module and a self-signed certificate).
 *
 * Every MX host name resolves to a loopback address and shares one port:
 * 127.0.0.1 is smtp-sink, 127.0.0.2 the scripted server (or nothing,
 * which refuses the connection).
 *
 * The scripted server is driven by a table given as one argument,
 * "KEY=reply|KEY=reply|...": KEY is a command verb (EHLO, MAIL, ...),
 * "greet" or "dot" (the reply after the content); "\n" in a reply is sent
 * as CR LF, several replies in one value go out in one write, an empty
 * one sends nothing, and a KEY given more than once answers in turn (the
 * last one repeats). "close=KEY" closes the connection after the reply to
 * KEY. Without a table entry it is a plain server: an EHLO reply with no
 * extension, 220 to STARTTLS (then TLS), 354 to DATA, 250 after the dot,
 * 221 to QUIT, "250 2.0.0 ok" to anything else. It logs every byte it
 * receives to peer.log, "[tls]\n" once TLS is up and "[end]\n" when a
 * connection ends.
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
#include <sys/un.h>
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
#include "tls.h"

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
    "noaddr2\tIN TXT \"no MX, no address\"\n"
    "last\tIN MX 5 mx1.example.com.\n"
    "last\tIN MX 10 mx2.example.com.\n";

/* the scripted server: argv table, address, port, directory */
static const char script[] =
    "import socket, ssl, sys\n"
    "spec, addr, port, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), \\\n"
    " sys.argv[4]\n"
    "R = {'greet': ['220-scripted\\n220 ready\\n'],\n"
    " 'EHLO': ['250 scripted\\n'], 'LHLO': ['250 scripted\\n'],\n"
    " 'STARTTLS': ['220 2.0.0 go ahead\\n'], 'DATA': ['354 go\\n'],\n"
    " 'dot': ['250 2.0.0 queued\\n'], 'QUIT': ['221 2.0.0 bye\\n']}\n"
    "G = set()\n"
    "for item in filter(None, spec.split('|')):\n"
    " k, v = item.split('=', 1)\n"
    " R[k] = R[k] + [v] if k in G else [v]; G.add(k)\n"
    "close = R.pop('close', [])\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "ctx.load_cert_chain(d + '/cert.pem', d + '/key.pem')\n"
    "def sni(so, name, cx):\n"
    " open(d + '/sni', 'a').write((name or '-') + '\\n')\n"
    "ctx.sni_callback = sni\n"
    "log = open(d + '/peer.log', 'ab', buffering=0)\n"
    "s = socket.socket()\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind((addr, port)); s.listen(5); open(d + '/ready', 'w').close()\n"
    "def serve(c):\n"
    " n, f = {}, None\n"
    " def say(k):\n"
    "  v = R.get(k, ['250 2.0.0 ok\\n']); i = n.get(k, 0); n[k] = i + 1\n"
    "  t = v[min(i, len(v) - 1)]\n"
    "  c.sendall(t.replace('\\n', '\\r\\n').encode('latin-1'))\n"
    "  return t, k not in close\n"
    " try:\n"
    "  t, go = say('greet')\n"
    "  f = c.makefile('rb')\n"
    "  while go:\n"
    "   l = f.readline()\n"
    "   if not l: break\n"
    "   log.write(l)\n"
    "   k = l.split(b' ')[0].strip().decode('latin-1').upper()\n"
    "   t, go = say(k)\n"
    "   if not go or k == 'QUIT': break\n"
    "   if k == 'STARTTLS' and t.startswith('220'):\n"
    "    f.close(); c = ctx.wrap_socket(c, server_side=True)\n"
    "    f = c.makefile('rb'); log.write(b'[tls]\\n')\n"
    "   if k == 'DATA' and t.startswith('354'):\n"
    "    while l and l != b'.\\r\\n':\n"
    "     l = f.readline(); log.write(l)\n"
    "    if l: t, go = say('dot')\n"
    " except OSError:\n"
    "  pass\n"
    " finally:\n"
    "  if f: f.close()\n"
    "  c.close(); log.write(b'[end]\\n')\n"
    "while True:\n"
    " c, _ = s.accept(); c.settimeout(10); serve(c)\n";

static struct testutil_nsd g_nsd;
static struct dns *g_dns, *g_quiet;
static char g_dir[256];
static unsigned g_port;
static pid_t g_sink = -1, g_py = -1;
static struct tls_client *g_tlsc;


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

/* can_connect - whether 127.0.0.1:port accepts, or the unix socket path
 * when it is not NULL (its file exists before the server listens) */
static bool
can_connect(unsigned port, const char *path)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, rc;

	if (path != NULL) {
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	} else {
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)port);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	}
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
		if (can_connect(g_port, listen != NULL ? listen + 5 : NULL))
			return;
		usleep(10000);
	}
	fail_msg("smtp-sink did not start");
}

/* py_start - the scripted server with table spec on 127.0.0.2:g_port,
 * its log emptied */
static void
py_start(const char *spec)
{
	char prog[300], ready[300], log[300], port[16];

	snprintf(prog, sizeof(prog), "%s/server.py", g_dir);
	snprintf(ready, sizeof(ready), "%s/ready", g_dir);
	snprintf(log, sizeof(log), "%s/peer.log", g_dir);
	snprintf(port, sizeof(port), "%u", g_port);
	unlink(ready);
	unlink(log);
	if ((g_py = fork()) == 0) {
		execl(PYTHON, "python3", prog, spec, "127.0.0.2", port, g_dir,
		    (char *)NULL);
		_exit(127);
	}
	if (!wait_file(ready))
		fail_msg("scripted server did not start");
}

/* read_all - the whole of path appended to b; false if it cannot be
 * opened */
static bool
read_all(const char *path, struct buf *b)
{
	char chunk[4096];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return false;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(b, chunk, n);
	fclose(f);
	return true;
}

/* dump_read - the one message smtp-sink dumped (malloc'ed) */
static char *
dump_read(void)
{
	char dump[300], path[600];
	struct dirent *e;
	struct buf b = { 0 };
	size_t count = 0;
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
	assert_true(read_all(path, &b));
	return buf_steal(&b);
}

/* peer_log - what the scripted server received, once its last
 * connection has ended (malloc'ed) */
static char *
peer_log(void)
{
	static const char end[] = "[end]\n";
	struct buf b = { 0 };
	char path[300];
	int i;

	snprintf(path, sizeof(path), "%s/peer.log", g_dir);
	for (i = 0; i < 500; i++) {
		buf_reset(&b);
		if (read_all(path, &b) && b.len >= sizeof(end) - 1 &&
		    memcmp(b.data + b.len - (sizeof(end) - 1), end,
		    sizeof(end) - 1) == 0)
			break;
		usleep(10000);
	}
	return buf_steal(&b);
}

/* group_setup - zones, nsd, resolvers, the script */
static int
group_setup(void **state)
{
	char zones[300], cert[300], key[300], *why = NULL;
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
	/* the scripted server's certificate; the client checks nothing at
	 * the levels used here */
	snprintf(cert, sizeof(cert), "%s/cert.pem", g_dir);
	snprintf(key, sizeof(key), "%s/key.pem", g_dir);
	if (!tls_make_self_signed("mx2.example.com", cert, key, &why) ||
	    (g_tlsc = tls_client_new(NULL, &why)) == NULL) {
		fprintf(stderr, "TLS setup: %s\n", why);
		free(why);
		return -1;
	}
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
	tls_client_free(&g_tlsc);
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

/* deliver_tls - smtp_deliver to transport t with TLS policy tls (NULL:
 * none) for the given addresses */
static void
deliver_tls(const struct smtp_client_settings *s, const struct transport *t,
    const struct smtp_tls *tls, struct message *m, struct message_rcpt *r,
    struct smtp_rcpt *out, size_t n, struct arena *a)
{
	static const struct smtp_tls none = { .level = SMTP_TLS_NONE };
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].rcpt = &r[i];
	}
	smtp_deliver(s, t, tls != NULL ? tls : &none, m, out, n, a);
}

/* deliver - smtp_deliver to transport t for the given addresses */
static void
deliver(struct smtp_client_settings *s, struct transport *t,
    struct message *m, struct message_rcpt *r, struct smtp_rcpt *out,
    size_t n, struct arena *a)
{
	deliver_tls(s, t, NULL, m, r, out, n, a);
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

/* what the scripted server receives, in pieces */
#define P_EHLO	"EHLO client.example.net\r\n"
#define P_HELO	"HELO client.example.net\r\n"
#define P_LHLO	"LHLO client.example.net\r\n"
#define P_TLS	"STARTTLS\r\n[tls]\n"
#define P_MAIL	"MAIL FROM:<sender@example.org>\r\n"
#define P_RCPT	"RCPT TO:<x@example.com>\r\n"
/* DATA and the content of make_message(a, "hi\r\n") */
#define P_DATA	"DATA\r\nSubject: test\r\nX-Folded: one\r\n two\r\n" \
		"\r\nhi\r\n.\r\n"
#define P_QUIT	"QUIT\r\n"
#define P_END	"[end]\n"
/* a whole plain delivery of make_message(a, "hi\r\n") to x@ */
#define P_PLAIN	P_MAIL P_RCPT P_DATA P_QUIT P_END

/* one delivery to the scripted server and what it must give */
struct scripted {
	const char *spec;	/* the server's table (NULL: nothing
				   listens on 127.0.0.2) */
	enum deliver_status st;	/* for the first recipient: */
	const char *dsn;
	const char *text;	/* NULL: not checked */
	const char *diag, *mta;
	const char *got;	/* what the server received (NULL: not
				   checked) */
};

/* the scripted server took the message */
#define QUEUED	.st = DELIVER_OK, .dsn = "2.0.0", \
	.text = "host 127.0.0.2[127.0.0.2] said: 250 2.0.0 queued (in " \
	    "reply to end of DATA)", \
	.diag = "250 2.0.0 queued", .mta = "127.0.0.2"

/* run_scripted - start the scripted server for c, deliver, check the
 * first recipient's outcome and what the server received, stop it */
static void
run_scripted(const struct scripted *c, const struct transport *t,
    const struct smtp_tls *tls, struct message *m, struct message_rcpt *r,
    struct smtp_rcpt *out, size_t n, struct arena *a)
{
	struct smtp_client_settings s = settings(g_dns);
	char *got;

	if (c->spec != NULL)
		py_start(c->spec);
	deliver_tls(&s, t, tls, m, r, out, n, a);
	check(&out[0], c->st, c->dsn, c->diag, c->mta);
	if (c->text != NULL)
		assert_string_equal(out[0].result.text, c->text);
	if (c->got != NULL) {
		got = peer_log();
		assert_string_equal(got, c->got);
		free(got);
	}
	stop(&g_py);
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
	struct buf huge = { 0 };
	double t0;
	int i;

	(void)state;
	py_start("EHLO=421 4.3.2 busy\n|close=EHLO");
	sink_start(NULL, NULL, NULL);
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_OK, "2.0.0", "250 2.0.0 Ok", "mx1.example.com");
	stop(&g_sink);
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_TEMPFAIL, "4.4.1", NULL, NULL);
	stop(&g_py);

	t.host = "127.0.0.2";
	t.mx = false;
	py_start("MAIL=250-first line\n250 2.1.0 second line\n|"
	    "RCPT=250-first line\n250 2.1.0 second line\n|dot=|close=dot");
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_TEMPFAIL, "4.4.2", NULL, "127.0.0.2");
	assert_string_equal(out[0].result.text, "lost connection with host "
	    "127.0.0.2[127.0.0.2] while waiting for end of data");
	stop(&g_py);

	buf_puts(&huge, "greet=");
	for (i = 0; i < 200; i++)
		buf_puts(&huge, "220-x\n");
	buf_puts(&huge, "220 x\n");
	py_start(buf_cstr(&huge));
	buf_free(&huge);
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_TEMPFAIL, "4.4.2", NULL, "127.0.0.2");
	assert_non_null(strstr(out[0].result.text, "malformed reply"));
	stop(&g_py);

	py_start("greet=");
	s.helo_timeout = 0.5;
	t0 = (double)time(NULL);
	deliver(&s, &t, m, r, out, 1, a);
	check(&out[0], DELIVER_TEMPFAIL, "4.4.2", NULL, "127.0.0.2");
	assert_string_equal(out[0].result.text, "timed out with host "
	    "127.0.0.2[127.0.0.2] while receiving the initial server greeting");
	assert_true((double)time(NULL) - t0 < 3 * testutil_slack());
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

/* test_helo_fallback - a 5xx to EHLO gets HELO, and then no ESMTP
 * parameter goes out, not even for what the HELO reply seems to list */
static void
test_helo_fallback(void **state)
{
	static const struct scripted c = {
		.spec = "EHLO=502 5.5.1 EHLO not implemented\n|"
		    "HELO=250-scripted\n250-SIZE 10\n250-8BITMIME\n"
		    "250-DSN\n250 PIPELINING\n",
		QUEUED, .got = P_EHLO P_HELO P_PLAIN,
	};
	struct arena *a = arena_create();
	struct transport t = { .kind = TRANSPORT_SMTP, .host = "127.0.0.2",
	    .port = g_port };
	struct message_rcpt r[1] = { { .addr = "x@example.com",
	    .notify = MESSAGE_NOTIFY_SUCCESS,
	    .orcpt = "rfc822;x@example.com" } };
	struct smtp_rcpt out[1];
	struct message *m = make_message(a, "hi\r\n");

	(void)state;
	m->ret = MESSAGE_RET_FULL;
	m->envid = "env1";
	m->body_type = MESSAGE_BODY_8BITMIME;	/* but 7-bit: goes as is */
	run_scripted(&c, &t, NULL, m, r, out, 1, a);
	assert_false(out[0].dsn_passed);
	assert_false(out[0].final);
	arena_destroy(&a);
}

/* test_size - the SIZE a server offers: a message over it fails before
 * MAIL, up to it (or with no limit) SIZE= goes with MAIL; a 552 to MAIL
 * fails it */
static void
test_size(void **state)
{
	/* make_message(a, "hi\r\n") is 42 bytes */
	static const struct scripted c[] = {
		{ .spec = "EHLO=250-scripted\n250 SIZE 41\n",
		  .st = DELIVER_PERMFAIL, .dsn = "5.3.4",
		  .text = "message size 42 exceeds size limit 41 of server "
		      "127.0.0.2[127.0.0.2]",
		  .mta = "127.0.0.2", .got = P_EHLO P_QUIT P_END },
		{ .spec = "EHLO=250-scripted\n250 SIZE 42\n",
		  QUEUED,
		  .got = P_EHLO "MAIL FROM:<sender@example.org> SIZE=42\r\n"
		      P_RCPT P_DATA P_QUIT P_END },
		{ .spec = "EHLO=250-scripted\n250 size\n",
		  QUEUED,
		  .got = P_EHLO "MAIL FROM:<sender@example.org> SIZE=42\r\n"
		      P_RCPT P_DATA P_QUIT P_END },
		{ .spec = "EHLO=250-scripted\n250 SIZE 1000\n|"
		      "MAIL=552 5.3.4 message too big for system\n",
		  .st = DELIVER_PERMFAIL, .dsn = "5.3.4",
		  .text = "host 127.0.0.2[127.0.0.2] said: 552 5.3.4 message "
		      "too big for system (in reply to MAIL FROM)",
		  .diag = "552 5.3.4 message too big for system",
		  .mta = "127.0.0.2",
		  .got = P_EHLO "MAIL FROM:<sender@example.org> SIZE=42\r\n"
		      P_QUIT P_END },
	};
	struct arena *a = arena_create();
	struct transport t = { .kind = TRANSPORT_SMTP, .host = "127.0.0.2",
	    .port = g_port };
	struct message_rcpt r[1] = { { .addr = "x@example.com" } };
	struct smtp_rcpt out[1];
	struct message *m = make_message(a, "hi\r\n");
	size_t i;

	(void)state;
	assert_int_equal(message_size(m), 42);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		run_scripted(&c[i], &t, NULL, m, r, out, 1, a);
	arena_destroy(&a);
}

/* test_8bit_utf8 - 8-bit content needs 8BITMIME (BODY=8BITMIME when
 * offered, 5.6.3 when not), an SMTPUTF8 message needs SMTPUTF8 (5.6.7) */
static void
test_8bit_utf8(void **state)
{
	static const struct scripted eight[] = {
		{ .spec = "", .st = DELIVER_PERMFAIL, .dsn = "5.6.3",
		  .text = "8-bit content, but host 127.0.0.2[127.0.0.2] does "
		      "not offer 8BITMIME",
		  .mta = "127.0.0.2", .got = P_EHLO P_QUIT P_END },
		{ .spec = "EHLO=250-scripted\n250 8BITMIME\n",
		  QUEUED,
		  .got = P_EHLO
		      "MAIL FROM:<sender@example.org> BODY=8BITMIME\r\n"
		      P_RCPT "DATA\r\nSubject: test\r\nX-Folded: one\r\n two"
		      "\r\n\r\ncaf\xc3\xa9\r\n.\r\n" P_QUIT P_END },
	};
	static const struct scripted utf8[] = {
		{ .spec = "EHLO=250-scripted\n250 8BITMIME\n",
		  .st = DELIVER_PERMFAIL, .dsn = "5.6.7",
		  .text = "SMTPUTF8 is required, but was not offered by host "
		      "127.0.0.2[127.0.0.2]",
		  .mta = "127.0.0.2", .got = P_EHLO P_QUIT P_END },
		{ .spec = "EHLO=250-scripted\n250-8BITMIME\n250 SMTPUTF8\n",
		  QUEUED,
		  .got = P_EHLO "MAIL FROM:<sender@example.org> SMTPUTF8\r\n"
		      "RCPT TO:<j\xc3\xb6rg@example.com>\r\n" P_DATA P_QUIT
		      P_END },
	};
	struct arena *a = arena_create();
	struct transport t = { .kind = TRANSPORT_SMTP, .host = "127.0.0.2",
	    .port = g_port };
	struct message_rcpt r[1] = { { .addr = "x@example.com" } };
	struct message_rcpt ru[1] = { { .addr = "j\xc3\xb6rg@example.com" } };
	struct smtp_rcpt out[1];
	struct message *m8 = make_message(a, "caf\xc3\xa9\r\n");
	struct message *mu = make_message(a, "hi\r\n");
	size_t i;

	(void)state;
	m8->body_type = MESSAGE_BODY_8BITMIME;
	mu->smtputf8 = true;
	for (i = 0; i < sizeof(eight) / sizeof(eight[0]); i++)
		run_scripted(&eight[i], &t, NULL, m8, r, out, 1, a);
	for (i = 0; i < sizeof(utf8) / sizeof(utf8[0]); i++)
		run_scripted(&utf8[i], &t, NULL, mu, ru, out, 1, a);
	arena_destroy(&a);
}

/* test_data_errors - replies to DATA and after the content, and a
 * connection that drops there, each with and without PIPELINING; the
 * second recipient keeps its own 550 from RCPT throughout */
static void
test_data_errors(void **state)
{
#define DATA_PFX P_EHLO P_MAIL "RCPT TO:<a@example.com>\r\n" \
	"RCPT TO:<b@example.com>\r\n"
	static const struct scripted c[] = {
		{ .spec = "DATA=451 4.3.0 try again later\n",
		  .st = DELIVER_TEMPFAIL, .dsn = "4.3.0",
		  .text = "host 127.0.0.2[127.0.0.2] said: 451 4.3.0 try "
		      "again later (in reply to DATA)",
		  .diag = "451 4.3.0 try again later", .mta = "127.0.0.2",
		  .got = DATA_PFX "DATA\r\n" P_QUIT P_END },
		{ .spec = "DATA=554 5.5.1 no valid recipients\n",
		  .st = DELIVER_PERMFAIL, .dsn = "5.5.1",
		  .text = "host 127.0.0.2[127.0.0.2] said: 554 5.5.1 no valid "
		      "recipients (in reply to DATA)",
		  .diag = "554 5.5.1 no valid recipients", .mta = "127.0.0.2",
		  .got = DATA_PFX "DATA\r\n" P_QUIT P_END },
		{ .spec = "DATA=250 2.0.0 what\n",
		  .st = DELIVER_TEMPFAIL, .dsn = "4.5.0",
		  .text = "host 127.0.0.2[127.0.0.2] said: 250 2.0.0 what (in "
		      "reply to DATA)",
		  .diag = "250 2.0.0 what", .mta = "127.0.0.2",
		  .got = DATA_PFX "DATA\r\n" P_QUIT P_END },
		{ .spec = "dot=554 5.7.1 message content rejected\n",
		  .st = DELIVER_PERMFAIL, .dsn = "5.7.1",
		  .text = "host 127.0.0.2[127.0.0.2] said: 554 5.7.1 message "
		      "content rejected (in reply to end of DATA)",
		  .diag = "554 5.7.1 message content rejected",
		  .mta = "127.0.0.2",
		  .got = DATA_PFX P_DATA P_QUIT P_END },
		{ .spec = "dot=451 local error\n",
		  .st = DELIVER_TEMPFAIL, .dsn = "4.0.0",
		  .text = "host 127.0.0.2[127.0.0.2] said: 451 local error (in "
		      "reply to end of DATA)",
		  .diag = "451 local error", .mta = "127.0.0.2",
		  .got = DATA_PFX P_DATA P_QUIT P_END },
		{ .spec = "DATA=|close=DATA",
		  .st = DELIVER_TEMPFAIL, .dsn = "4.4.2",
		  .text = "lost connection with host 127.0.0.2[127.0.0.2] "
		      "while sending DATA",
		  .mta = "127.0.0.2", .got = DATA_PFX "DATA\r\n" P_END },
		{ .spec = "dot=|close=dot",
		  .st = DELIVER_TEMPFAIL, .dsn = "4.4.2",
		  .text = "lost connection with host 127.0.0.2[127.0.0.2] "
		      "while waiting for end of data",
		  .mta = "127.0.0.2", .got = DATA_PFX P_DATA P_END },
	};
#undef DATA_PFX
	static const char *const ehlo[] = {
		"EHLO=250 scripted\n",
		"EHLO=250-scripted\n250 PIPELINING\n",
	};
	struct arena *a = arena_create();
	struct transport t = { .kind = TRANSPORT_SMTP, .host = "127.0.0.2",
	    .port = g_port };
	struct message_rcpt r[2] = { { .addr = "a@example.com" },
	    { .addr = "b@example.com" } };
	struct smtp_rcpt out[2];
	struct message *m = make_message(a, "hi\r\n");
	struct scripted row;
	size_t i, k;

	(void)state;
	for (k = 0; k < 2; k++)
		for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			row = c[i];
			row.spec = arena_printf(a, "%s|RCPT=250 2.1.5 ok\n|"
			    "RCPT=550 5.1.1 no such user\n|%s", ehlo[k],
			    c[i].spec);
			run_scripted(&row, &t, NULL, m, r, out, 2, a);
			check(&out[1], DELIVER_PERMFAIL, "5.1.1",
			    "550 5.1.1 no such user", "127.0.0.2");
			assert_string_equal(out[1].result.text, "host "
			    "127.0.0.2[127.0.0.2] said: 550 5.1.1 no such "
			    "user (in reply to RCPT TO)");
		}
	arena_destroy(&a);
}

/* test_next_address - a refused connection, a 4xx/5xx greeting and a
 * refused EHLO and HELO move on to the next MX; when none is left the
 * recipients are deferred with the last error, its DSN made 4.x.x */
static void
test_next_address(void **state)
{
#define MX1_OK	.st = DELIVER_OK, .dsn = "2.0.0", \
	.text = "host mx1.example.com[127.0.0.1] said: 250 2.0.0 Ok (in " \
	    "reply to end of DATA)", \
	.diag = "250 2.0.0 Ok", .mta = "mx1.example.com"
	static const struct {
		const char *host;	/* pref: .2 then .1; last: the other
					   way round */
		bool sink;		/* smtp-sink on 127.0.0.1 */
		struct scripted c;
	} c[] = {
		{ "pref", true, { .spec = "greet=421 4.3.2 shutting down\n|"
		      "close=greet", MX1_OK, .got = P_END } },
		{ "pref", true, { .spec = "greet=554 5.3.2 no service\n",
		      MX1_OK, .got = P_QUIT P_END } },
		{ "pref", true, { .spec = NULL, MX1_OK } },
		{ "pref", true, { .spec = "EHLO=550 5.7.1 go away\n|"
		      "HELO=550 5.7.1 go away\n", MX1_OK,
		      .got = P_EHLO P_HELO P_QUIT P_END } },
		{ "last", false, { .spec = "greet=554 5.3.2 no service\n",
		      .st = DELIVER_TEMPFAIL, .dsn = "4.3.2",
		      .text = "host mx2.example.com[127.0.0.2] said: 554 "
		          "5.3.2 no service (in reply to the initial "
		          "greeting)",
		      .diag = "554 5.3.2 no service",
		      .mta = "mx2.example.com", .got = P_QUIT P_END } },
		{ "last", false, { .spec = "greet=554 no service\n",
		      .st = DELIVER_TEMPFAIL, .dsn = "4.0.0",
		      .text = "host mx2.example.com[127.0.0.2] said: 554 no "
		          "service (in reply to the initial greeting)",
		      .diag = "554 no service",
		      .mta = "mx2.example.com", .got = P_QUIT P_END } },
		{ "last", false, { .spec = "greet=421 4.4.5 too busy\n|"
		      "close=greet",
		      .st = DELIVER_TEMPFAIL, .dsn = "4.4.5",
		      .text = "host mx2.example.com[127.0.0.2] said: 421 "
		          "4.4.5 too busy (in reply to the initial "
		          "greeting)",
		      .diag = "421 4.4.5 too busy",
		      .mta = "mx2.example.com", .got = P_END } },
		{ "last", false, { .spec = "EHLO=550 5.7.1 go away\n|"
		      "HELO=554 5.7.1 not you either\n",
		      .st = DELIVER_TEMPFAIL, .dsn = "4.7.1",
		      .text = "host mx2.example.com[127.0.0.2] said: 554 "
		          "5.7.1 not you either (in reply to HELO)",
		      .diag = "554 5.7.1 not you either",
		      .mta = "mx2.example.com",
		      .got = P_EHLO P_HELO P_QUIT P_END } },
		{ "last", false, { .spec = "EHLO=421 4.3.2 busy\n|close=EHLO",
		      .st = DELIVER_TEMPFAIL, .dsn = "4.3.2",
		      .text = "host mx2.example.com[127.0.0.2] said: 421 "
		          "4.3.2 busy (in reply to EHLO)",
		      .diag = "421 4.3.2 busy",
		      .mta = "mx2.example.com", .got = P_EHLO P_END } },
		{ "last", false, { .spec = NULL,
		      .st = DELIVER_TEMPFAIL, .dsn = "4.4.1",
		      .text = "connect to mx2.example.com[127.0.0.2]: "
		          "Connection refused" } },
		/* the refused connection to mx1 was last */
		{ "pref", false, { .spec = "greet=554 5.3.2 no service\n",
		      .st = DELIVER_TEMPFAIL, .dsn = "4.4.1",
		      .text = "connect to mx1.example.com[127.0.0.1]: "
		          "Connection refused", .got = P_QUIT P_END } },
	};
#undef MX1_OK
	struct arena *a = arena_create();
	struct transport t = { .kind = TRANSPORT_SMTP, .port = g_port,
	    .mx = true };
	struct message_rcpt r[1] = { { .addr = "x@example.com" } };
	struct smtp_rcpt out[1];
	struct message *m = make_message(a, "hi\r\n");
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		t.host = arena_printf(a, "%s.example.com", c[i].host);
		if (c[i].sink)
			sink_start(NULL, NULL, NULL);
		run_scripted(&c[i].c, &t, NULL, m, r, out, 1, a);
		stop(&g_sink);
	}
	arena_destroy(&a);
}

/* test_lmtp_tcp - LMTP on TCP: one reply per accepted recipient after
 * the dot, a connection lost among them, and a refused LHLO (no HELO) */
static void
test_lmtp_tcp(void **state)
{
	static const struct scripted c = {
		.spec = "LHLO=250-scripted\n250 PIPELINING\n|"
		    "RCPT=250 2.1.5 ok\n|RCPT=250 2.1.5 ok\n|"
		    "RCPT=550 5.1.1 no such user\n|RCPT=250 2.1.5 ok\n|"
		    "dot=250 2.0.0 a delivered\n452 4.2.2 b over quota\n"
		    "550 5.2.1 d disabled\n",
		.st = DELIVER_OK, .dsn = "2.0.0",
		.text = "host 127.0.0.2[127.0.0.2] said: 250 2.0.0 a "
		    "delivered (in reply to end of DATA)",
		.diag = "250 2.0.0 a delivered", .mta = "127.0.0.2",
		.got = P_LHLO P_MAIL "RCPT TO:<a@example.com>\r\n"
		    "RCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\n"
		    "RCPT TO:<d@example.com>\r\n" P_DATA P_QUIT P_END,
	};
	static const struct scripted lost = {
		.spec = "dot=250 2.0.0 a delivered\n|close=dot",
		.st = DELIVER_OK, .dsn = "2.0.0",
		.diag = "250 2.0.0 a delivered", .mta = "127.0.0.2",
		.got = P_LHLO P_MAIL "RCPT TO:<a@example.com>\r\n"
		    "RCPT TO:<b@example.com>\r\n" P_DATA P_END,
	};
	static const struct scripted lhlo = {
		.spec = "LHLO=500 5.5.1 unknown command\n",
		.st = DELIVER_TEMPFAIL, .dsn = "4.5.1",
		.text = "host 127.0.0.2[127.0.0.2] said: 500 5.5.1 unknown "
		    "command (in reply to LHLO)",
		.diag = "500 5.5.1 unknown command", .mta = "127.0.0.2",
		.got = P_LHLO P_QUIT P_END,
	};
	struct arena *a = arena_create();
	struct transport t = { .kind = TRANSPORT_LMTP, .host = "127.0.0.2",
	    .port = g_port };
	struct message_rcpt r[4] = { { .addr = "a@example.com" },
	    { .addr = "b@example.com" }, { .addr = "c@example.com" },
	    { .addr = "d@example.com" } };
	struct smtp_rcpt out[4];
	struct message *m = make_message(a, "hi\r\n");

	(void)state;
	run_scripted(&c, &t, NULL, m, r, out, 4, a);
	check(&out[1], DELIVER_TEMPFAIL, "4.2.2", "452 4.2.2 b over quota",
	    "127.0.0.2");
	assert_string_equal(out[1].result.text, "host 127.0.0.2[127.0.0.2] "
	    "said: 452 4.2.2 b over quota (in reply to end of DATA)");
	check(&out[2], DELIVER_PERMFAIL, "5.1.1", "550 5.1.1 no such user",
	    "127.0.0.2");
	assert_string_equal(out[2].result.text, "host 127.0.0.2[127.0.0.2] "
	    "said: 550 5.1.1 no such user (in reply to RCPT TO)");
	check(&out[3], DELIVER_PERMFAIL, "5.2.1", "550 5.2.1 d disabled",
	    "127.0.0.2");
	assert_true(out[0].final && out[1].final && out[3].final);

	run_scripted(&lost, &t, NULL, m, r, out, 2, a);
	check(&out[1], DELIVER_TEMPFAIL, "4.4.2", NULL, "127.0.0.2");
	assert_string_equal(out[1].result.text, "lost connection with host "
	    "127.0.0.2[127.0.0.2] while waiting for end of data");

	run_scripted(&lhlo, &t, NULL, m, r, out, 1, a);
	arena_destroy(&a);
}

/* wire_ok - every line of what the server received (up to the first
 * marker) ends in CR LF and is at most 998 bytes long */
static void
wire_ok(const char *got)
{
	const char *p = got, *lf;

	while ((lf = strchr(p, '\n')) != NULL && *p != '[') {
		assert_true(lf > p && lf[-1] == '\r');
		assert_true(lf - 1 - p <= 998);
		p = lf + 1;
	}
}

/* test_canonical - the bytes on the wire: dots at line start stuffed,
 * bare LF and bare CR made CR LF, lines over 998 bytes broken, a last
 * line without its line end completed; and a CR LF that the spool hands
 * over in two chunks stays one line end */
static void
test_canonical(void **state)
{
	struct arena *a = arena_create();
	struct transport t = { .kind = TRANSPORT_SMTP, .host = "127.0.0.2",
	    .port = g_port };
	struct message_rcpt r[1] = { { .addr = "x@example.com" } };
	struct smtp_rcpt out[1];
	struct scripted c = { .spec = "", QUEUED };
	struct buf body = { 0 }, want = { 0 };
	struct message *m;
	char run[2000];
	int i;

	(void)state;
	buf_puts(&body, ".\r\n..two\r\nbare\nlf\r\nlone\rcr\r\n");
	buf_puts(&want, P_EHLO P_MAIL P_RCPT "DATA\r\nSubject: test\r\n"
	    "X-Folded: one\r\n two\r\n\r\n"
	    "..\r\n...two\r\nbare\r\nlf\r\nlone\r\ncr\r\n");
	memset(run, 'x', sizeof(run));
	buf_append(&body, run, 2000);		/* 998 + 997 + 5 */
	buf_puts(&body, "\r\n.");
	memset(run, 'y', sizeof(run));
	buf_append(&body, run, 998);		/* 999 with the dot */
	buf_puts(&body, "\r\n");
	memset(run, 'z', sizeof(run));
	buf_append(&body, run, 998);		/* just fits */
	buf_puts(&body, "\r\nend");
	memset(run, 'x', sizeof(run));
	buf_append(&want, run, 998);
	buf_puts(&want, "\r\n ");
	buf_append(&want, run, 997);
	buf_puts(&want, "\r\n ");
	buf_append(&want, run, 5);
	buf_puts(&want, "\r\n..");
	memset(run, 'y', sizeof(run));
	buf_append(&want, run, 996);
	buf_puts(&want, "\r\n yy\r\n");
	memset(run, 'z', sizeof(run));
	buf_append(&want, run, 998);
	buf_puts(&want, "\r\nend\r\n.\r\n" P_QUIT P_END);
	m = make_message(a, buf_cstr(&body));
	c.got = buf_cstr(&want);
	wire_ok(c.got);
	run_scripted(&c, &t, NULL, m, r, out, 1, a);

	/* 655 lines of 100 bytes, then the CR of the next line end is the
	 * last byte of the first 64 KiB */
	buf_reset(&body);
	memset(run, 'w', sizeof(run));
	for (i = 0; i < 655; i++) {
		buf_append(&body, run, 98);
		buf_puts(&body, "\r\n");
	}
	buf_append(&body, run, 35);
	assert_int_equal(body.len, 65535);
	buf_puts(&body, "\r\ntail\r\n");
	buf_reset(&want);
	buf_puts(&want, P_EHLO P_MAIL P_RCPT "DATA\r\nSubject: test\r\n"
	    "X-Folded: one\r\n two\r\n\r\n");
	buf_append(&want, body.data, body.len);
	buf_puts(&want, ".\r\n" P_QUIT P_END);
	m = make_message(a, buf_cstr(&body));
	c.got = buf_cstr(&want);
	wire_ok(c.got);
	run_scripted(&c, &t, NULL, m, r, out, 1, a);
	buf_free(&body);
	buf_free(&want);
	arena_destroy(&a);
}

/* reuse_one - one delivery of make_message(a, "hi\r\n") to x@ at the
 * scripted server through settings s; its result in *out */
static void
reuse_one(struct smtp_client_settings *s, struct smtp_rcpt *out,
    struct arena *a)
{
	struct transport t = { .kind = TRANSPORT_SMTP, .host = "127.0.0.2",
	    .port = g_port, .nexthop = "smtp:[127.0.0.2]" };
	struct message_rcpt r = { .addr = "x@example.com" };

	deliver(s, &t, make_message(a, "hi\r\n"), &r, out, 1, a);
}

/* test_reuse - with a cache, the second message to a next hop goes on
 * the first one's connection (no new greeting or EHLO), which QUITs
 * when expired; a kept connection that the server closed, or that gets
 * 421 to MAIL, is replaced by a new one without a deferral; the limits
 * hold */
static void
test_reuse(void **state)
{
	struct arena *a = arena_create();
	struct smtp_client_settings s = settings(g_dns);
	struct smtp_rcpt out;
	char *got;

	(void)state;
	s.cache = smtp_client_cache_new(30, 300);

	/* two messages, one connection */
	py_start("");
	reuse_one(&s, &out, a);
	check(&out, DELIVER_OK, "2.0.0", "250 2.0.0 queued", "127.0.0.2");
	assert_int_equal(out.conn_use, 1);
	assert_int_equal(smtp_client_cache_idle(s.cache), 1);
	reuse_one(&s, &out, a);
	check(&out, DELIVER_OK, "2.0.0", "250 2.0.0 queued", "127.0.0.2");
	assert_int_equal(out.conn_use, 2);
	assert_int_equal(smtp_client_cache_idle(s.cache), 1);
	smtp_client_cache_expire(s.cache, false);	/* not due yet */
	assert_int_equal(smtp_client_cache_idle(s.cache), 1);
	smtp_client_cache_expire(s.cache, true);
	assert_int_equal(smtp_client_cache_idle(s.cache), 0);
	got = peer_log();
	assert_string_equal(got, P_EHLO P_MAIL P_RCPT P_DATA P_MAIL P_RCPT
	    P_DATA P_QUIT P_END);
	free(got);
	stop(&g_py);

	/* the server went away while the connection was kept */
	py_start("");
	reuse_one(&s, &out, a);
	stop(&g_py);
	py_start("");
	reuse_one(&s, &out, a);
	check(&out, DELIVER_OK, "2.0.0", "250 2.0.0 queued", "127.0.0.2");
	assert_int_equal(out.conn_use, 1);
	smtp_client_cache_expire(s.cache, true);
	got = peer_log();
	assert_string_equal(got, P_EHLO P_PLAIN);
	free(got);
	stop(&g_py);

	/* 421 to MAIL on the kept connection: a new one, no deferral */
	py_start("MAIL=250 2.1.0 ok\n|MAIL=421 4.4.2 closing\n");
	reuse_one(&s, &out, a);
	reuse_one(&s, &out, a);
	check(&out, DELIVER_OK, "2.0.0", "250 2.0.0 queued", "127.0.0.2");
	assert_int_equal(out.conn_use, 1);
	smtp_client_cache_expire(s.cache, true);
	got = peer_log();
	assert_string_equal(got, P_EHLO P_MAIL P_RCPT P_DATA P_MAIL P_END
	    P_EHLO P_PLAIN);
	free(got);
	stop(&g_py);
	smtp_client_cache_free(&s.cache);
	assert_null(s.cache);

	/* idle past the limit: QUIT at the next expiry */
	s.cache = smtp_client_cache_new(0.2, 300);
	py_start("");
	reuse_one(&s, &out, a);
	usleep(300000);
	smtp_client_cache_expire(s.cache, false);
	assert_int_equal(smtp_client_cache_idle(s.cache), 0);
	got = peer_log();
	assert_string_equal(got, P_EHLO P_PLAIN);
	free(got);
	stop(&g_py);
	smtp_client_cache_free(&s.cache);

	/* older than the reuse limit: QUIT at once, never kept */
	s.cache = smtp_client_cache_new(30, 0.000001);
	py_start("");
	reuse_one(&s, &out, a);
	assert_int_equal(smtp_client_cache_idle(s.cache), 0);
	got = peer_log();
	assert_string_equal(got, P_EHLO P_PLAIN);
	free(got);
	stop(&g_py);
	smtp_client_cache_free(&s.cache);
	arena_destroy(&a);
}

/* test_starttls - the TLS levels against a server that offers STARTTLS
 * or not, refuses it, breaks the handshake, or sends more after its 220
 * (which would be read as if it had come through TLS) */
static void
test_starttls(void **state)
{
#define OFFER	"EHLO=250-scripted\n250 STARTTLS\n"
	static const struct {
		enum smtp_tls_level level;
		struct scripted c;
	} c[] = {
		{ SMTP_TLS_MAY, { .spec = OFFER, QUEUED,
		      .got = P_EHLO P_TLS P_EHLO P_PLAIN } },
		{ SMTP_TLS_MAY, { .spec = "", QUEUED,
		      .got = P_EHLO P_PLAIN } },
		{ SMTP_TLS_NONE, { .spec = OFFER, QUEUED,
		      .got = P_EHLO P_PLAIN } },
		{ SMTP_TLS_ENCRYPT, { .spec = OFFER, QUEUED,
		      .got = P_EHLO P_TLS P_EHLO P_PLAIN } },
		{ SMTP_TLS_ENCRYPT, { .spec = "",
		      .st = DELIVER_TEMPFAIL, .dsn = "4.7.4",
		      .text = "TLS is required, but was not offered by host "
		          "127.0.0.2[127.0.0.2]",
		      .mta = "127.0.0.2", .got = P_EHLO P_QUIT P_END } },
		{ SMTP_TLS_MAY, { .spec = OFFER "|STARTTLS=220 2.0.0 go "
		      "ahead\n250 2.0.0 injected\n",
		      .st = DELIVER_TEMPFAIL, .dsn = "4.7.0",
		      .text = "host 127.0.0.2[127.0.0.2] sent data after its "
		          "STARTTLS reply",
		      .mta = "127.0.0.2",
		      .got = P_EHLO "STARTTLS\r\n" P_END } },
		{ SMTP_TLS_ENCRYPT, { .spec = OFFER "|STARTTLS=220 2.0.0 go "
		      "ahead\n250 2.0.0 injected\n",
		      .st = DELIVER_TEMPFAIL, .dsn = "4.7.0",
		      .text = "host 127.0.0.2[127.0.0.2] sent data after its "
		          "STARTTLS reply",
		      .mta = "127.0.0.2",
		      .got = P_EHLO "STARTTLS\r\n" P_END } },
		{ SMTP_TLS_MAY, { .spec = OFFER "|STARTTLS=454 4.7.0 TLS not "
		      "available\n", QUEUED,
		      .got = P_EHLO "STARTTLS\r\n" P_PLAIN } },
		{ SMTP_TLS_ENCRYPT, { .spec = OFFER "|STARTTLS=454 4.7.0 TLS "
		      "not available\n",
		      .st = DELIVER_TEMPFAIL, .dsn = "4.7.0",
		      .text = "host 127.0.0.2[127.0.0.2] said: 454 4.7.0 TLS "
		          "not available (in reply to STARTTLS)",
		      .diag = "454 4.7.0 TLS not available",
		      .mta = "127.0.0.2",
		      .got = P_EHLO "STARTTLS\r\n" P_QUIT P_END } },
		/* the handshake fails: may tries again in plaintext */
		{ SMTP_TLS_MAY, { .spec = OFFER "|close=STARTTLS", QUEUED,
		      .got = P_EHLO "STARTTLS\r\n" P_END P_EHLO P_PLAIN } },
		{ SMTP_TLS_ENCRYPT, { .spec = OFFER "|close=STARTTLS",
		      .st = DELIVER_TEMPFAIL, .dsn = "4.7.5",
		      .mta = "127.0.0.2",
		      .got = P_EHLO "STARTTLS\r\n" P_END } },
	};
#undef OFFER
	struct arena *a = arena_create();
	struct transport t = { .kind = TRANSPORT_SMTP, .host = "127.0.0.2",
	    .port = g_port };
	struct message_rcpt r[1] = { { .addr = "x@example.com" } };
	struct smtp_rcpt out[1];
	struct message *m = make_message(a, "hi\r\n");
	struct smtp_tls tls = { .client = g_tlsc };
	static const char failed[] = "TLS with host 127.0.0.2[127.0.0.2] "
	    "failed: ";
	struct buf names = { 0 };
	char sni[300];
	size_t i;

	(void)state;
	snprintf(sni, sizeof(sni), "%s/sni", g_dir);
	unlink(sni);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		tls.level = c[i].level;
		run_scripted(&c[i].c, &t, &tls, m, r, out, 1, a);
		if (c[i].c.text == NULL)
			assert_int_equal(strncmp(out[0].result.text, failed,
			    strlen(failed)), 0);
	}
	/* every handshake was with an address literal: no SNI (RFC 6066) */
	assert_true(read_all(sni, &names));
	assert_true(names.len >= 2);
	for (i = 0; i < names.len; i += 2)
		assert_memory_equal(names.data + i, "-\n", 2);
	buf_free(&names);
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
		cmocka_unit_test_teardown(test_helo_fallback, teardown),
		cmocka_unit_test_teardown(test_size, teardown),
		cmocka_unit_test_teardown(test_8bit_utf8, teardown),
		cmocka_unit_test_teardown(test_data_errors, teardown),
		cmocka_unit_test_teardown(test_next_address, teardown),
		cmocka_unit_test_teardown(test_lmtp_tcp, teardown),
		cmocka_unit_test_teardown(test_canonical, teardown),
		cmocka_unit_test_teardown(test_starttls, teardown),
		cmocka_unit_test_teardown(test_reuse, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
