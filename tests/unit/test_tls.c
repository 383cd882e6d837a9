/*
 * test_tls.c - the TLS adapter against a real OpenSSL client
 *
 * Every test makes its own self-signed certificate with
 * tls_make_self_signed in a mkdtemp directory. The server side runs in
 * the test's thread through tls.c on a non-blocking socket (one end of a
 * socketpair), driven by poll() on what TLS_WANT_READ / TLS_WANT_WRITE
 * ask for; the client is OpenSSL used directly, blocking, in a second
 * thread, which verifies the certificate and its name and records what
 * happened for the test thread to check after joining it. The client's
 * socket has 10 s timeouts and the server's polls give up after 10 s,
 * so a bug fails a test instead of hanging it.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "arena.h"
#include "testutil.h"
#include "tls.h"

#define HOST "mx.example.org"
#define TIMEOUT_MS 10000
#define UP_SIZE (300 * 1024 + 7)	/* client to server */
#define DOWN_SIZE (1024 * 1024 + 3)	/* server to client */
#define RECORD_SIZE 1000		/* one record, read in two parts */

struct fixture {
	char dir[256];
	struct arena *arena;
	char *cert, *key;
	int sv[2];		/* server end (non-blocking), client end */
	int go[2];		/* server tells client to start reading */
};

/* what the client thread is to do, and what happened */
struct client {
	int fd;
	int go;			/* read end of the fixture's go pipe */
	const char *cafile;
	int max_version;	/* 0: OpenSSL's default */
	const char *ciphers;	/* TLS 1.2 list, NULL: default */
	void (*script)(struct client *, SSL *);
	/* results */
	bool connected;
	long verify;
	char error[256];
	bool ok;		/* the script's own checks held */
	int reneg_rc, reneg_hs_rc;
	int shutdown_rc;
};

/* fill - len bytes of xorshift noise from seed */
static unsigned char *
fill(size_t len, uint64_t seed)
{
	unsigned char *p = malloc(len);
	uint64_t x = seed;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
	return p;
}

/* teardown - close everything, remove the directory */
static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc, i;

	for (i = 0; i < 2; i++) {
		if (f->sv[i] >= 0)
			(void)close(f->sv[i]);
		if (f->go[i] >= 0)
			(void)close(f->go[i]);
	}
	rc = testutil_teardown(f->dir, &f->arena);
	free(f);
	return rc;
}

/* setup - temp directory, a certificate, a socketpair, a pipe */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *why = NULL;

	if (f == NULL ||
	    testutil_setup(f->dir, sizeof(f->dir), "tls", &f->arena) != 0) {
		free(f);
		return -1;
	}
	f->sv[0] = f->sv[1] = f->go[0] = f->go[1] = -1;
	*state = f;
	f->cert = arena_printf(f->arena, "%s/cert.pem", f->dir);
	f->key = arena_printf(f->arena, "%s/key.pem", f->dir);
	if (!tls_make_self_signed(HOST, f->cert, f->key, &why)) {
		fprintf(stderr, "tls_make_self_signed: %s\n", why);
		free(why);
		(void)teardown(state);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv) != 0 ||
	    pipe2(f->go, O_CLOEXEC) != 0 ||
	    fcntl(f->sv[0], F_SETFL, O_NONBLOCK) != 0) {
		(void)teardown(state);
		return -1;
	}
	return 0;
}

/* client_fail - record OpenSSL's reason (or errno) in c->error */
static void
client_fail(struct client *c, const char *what)
{
	unsigned long e = ERR_peek_last_error();

	snprintf(c->error, sizeof(c->error), "%s: %s", what,
	    e != 0 ? ERR_reason_error_string(e) : strerror(errno));
	ERR_clear_error();
}

/* client_main - connect, verify, run the script, clean up */
static void *
client_main(void *arg)
{
	struct client *c = arg;
	struct timeval tv = { .tv_sec = TIMEOUT_MS / 1000 };
	SSL_CTX *ctx;
	SSL *ssl;

	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (c->cafile != NULL &&
	    SSL_CTX_load_verify_locations(ctx, c->cafile, NULL) != 1)
		client_fail(c, "load_verify_locations");
	if (c->max_version != 0)
		SSL_CTX_set_max_proto_version(ctx, c->max_version);
	if (c->ciphers != NULL)
		SSL_CTX_set_cipher_list(ctx, c->ciphers);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, c->fd);
	SSL_set1_host(ssl, HOST);
	SSL_set_tlsext_host_name(ssl, HOST);
	if (SSL_connect(ssl) == 1) {
		c->connected = true;
		c->verify = SSL_get_verify_result(ssl);
		if (c->script != NULL)
			c->script(c, ssl);
	} else
		client_fail(c, "SSL_connect");
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

/* client_start - run c in a thread on the fixture's client end */
static pthread_t
client_start(struct fixture *f, struct client *c)
{
	pthread_t t;

	c->fd = f->sv[1];
	c->go = f->go[0];
	if (c->cafile == NULL)
		c->cafile = f->cert;
	assert_int_equal(pthread_create(&t, NULL, client_main, c), 0);
	return t;
}

/* client_join - end the server side's part of the socket, so that a
 * client still waiting sees EOF, then wait for it */
static void
client_join(struct fixture *f, pthread_t t)
{
	(void)shutdown(f->sv[0], SHUT_RDWR);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* ssl_write_all - blocking client write of everything */
static bool
ssl_write_all(SSL *ssl, const unsigned char *p, size_t len)
{
	size_t n;

	while (len > 0) {
		if (SSL_write_ex(ssl, p, len, &n) != 1)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/* ssl_read_all - blocking client read of exactly len bytes */
static bool
ssl_read_all(SSL *ssl, unsigned char *p, size_t len)
{
	size_t n;

	while (len > 0) {
		if (SSL_read_ex(ssl, p, len, &n) != 1)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/* wait_for - poll fd for what a TLS_WANT_* code asks */
static void
wait_for(int fd, int want)
{
	struct pollfd p = {
		.fd = fd,
		.events = want == TLS_WANT_READ ? POLLIN : POLLOUT,
	};
	int n;

	assert_true(want == TLS_WANT_READ || want == TLS_WANT_WRITE);
	while ((n = poll(&p, 1, TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (n != 1)
		fail_msg("poll: timed out waiting for %s",
		    want == TLS_WANT_READ ? "input" : "output");
}

/* server_handshake - drive tls_handshake to its end */
static int
server_handshake(struct tls_conn *c, int fd)
{
	int rc;

	while ((rc = tls_handshake(c)) == TLS_WANT_READ ||
	    rc == TLS_WANT_WRITE)
		wait_for(fd, rc);
	return rc;
}

/* server_read - one tls_read that is not a TLS_WANT_* */
static ssize_t
server_read(struct tls_conn *c, int fd, void *buf, size_t len)
{
	ssize_t n;

	while ((n = tls_read(c, buf, len)) == TLS_WANT_READ ||
	    n == TLS_WANT_WRITE)
		wait_for(fd, (int)n);
	return n;
}

/* server_read_all - exactly len bytes */
static void
server_read_all(struct tls_conn *c, int fd, unsigned char *buf,
    size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = server_read(c, fd, buf + got, len - got);
		if (n <= 0)
			fail_msg("tls_read: %zd (%s) after %zu of %zu bytes",
			    n, tls_error(c), got, len);
		got += (size_t)n;
	}
}

/* what server_write_all saw */
struct write_stats {
	int want_write;		/* TLS_WANT_WRITE answers */
	size_t largest;		/* largest single write */
	int calls;
};

/*
 * server_write_all - all of data; each retry after TLS_WANT_WRITE uses
 * the other of two copies (the caller's buffer may move); tells the
 * client to start reading at the first TLS_WANT_WRITE
 */
static void
server_write_all(struct tls_conn *c, int fd, int go,
    const unsigned char *data, size_t len, struct write_stats *st)
{
	unsigned char *copy = malloc(len);
	const unsigned char *bufs[2] = { data, copy };
	size_t done = 0;
	int which = 0;
	bool told = false;
	ssize_t n;

	assert_non_null(copy);
	memcpy(copy, data, len);
	memset(st, 0, sizeof(*st));
	while (done < len) {
		n = tls_write(c, bufs[which] + done, len - done);
		st->calls++;
		if (n == TLS_WANT_WRITE) {
			st->want_write++;
			if (!told)
				assert_int_equal(write(go, "g", 1), 1);
			told = true;
			which = 1 - which;
			wait_for(fd, TLS_WANT_WRITE);
			continue;
		}
		if (n == TLS_WANT_READ) {
			wait_for(fd, TLS_WANT_READ);
			continue;
		}
		if (n <= 0)
			fail_msg("tls_write: %zd (%s)", n, tls_error(c));
		if ((size_t)n > st->largest)
			st->largest = (size_t)n;
		done += (size_t)n;
	}
	if (!told)
		assert_int_equal(write(go, "g", 1), 1);
	free(copy);
}

/* script_exchange - up, down, one record, close_notify both ways */
static void
script_exchange(struct client *c, SSL *ssl)
{
	unsigned char *up = fill(UP_SIZE, 1), *want = fill(DOWN_SIZE, 2);
	unsigned char *down = malloc(DOWN_SIZE), rec[RECORD_SIZE], g;

	memset(rec, 'r', sizeof(rec));
	c->ok = down != NULL && ssl_write_all(ssl, up, UP_SIZE) &&
	    read(c->go, &g, 1) == 1 &&
	    ssl_read_all(ssl, down, DOWN_SIZE) &&
	    memcmp(down, want, DOWN_SIZE) == 0 &&
	    ssl_write_all(ssl, rec, sizeof(rec));
	if (!c->ok)
		client_fail(c, "exchange");
	else if (SSL_shutdown(ssl) == 0)
		/* ours is sent; the second call waits for the server's */
		c->shutdown_rc = SSL_shutdown(ssl);
	free(up);
	free(want);
	free(down);
}

/* test_exchange - TLS 1.3 with the defaults; > 64 KiB both ways with
 * partial writes and a moving buffer; tls_pending; close_notify from
 * the client is TLS_CLOSED, tls_shutdown's reaches the client */
static void
test_exchange(void **state)
{
	struct fixture *f = *state;
	struct client cl = { .script = script_exchange };
	unsigned char *up = fill(UP_SIZE, 1), *down = fill(DOWN_SIZE, 2);
	unsigned char *got = malloc(UP_SIZE), buf[2 * RECORD_SIZE];
	struct tls_server *s;
	struct write_stats st;
	struct tls_conn *c;
	char *why = NULL;
	pthread_t t;

	s = tls_server_new(f->cert, f->key, "TLSv1.2", "", &why);
	if (s == NULL)
		fail_msg("tls_server_new: %s", why);
	assert_null(why);
	c = tls_conn_new(s, f->sv[0]);
	assert_string_equal(tls_error(c), "");
	assert_int_equal(tls_pending(c), 0);
	t = client_start(f, &cl);

	assert_int_equal(server_handshake(c, f->sv[0]), 1);
	assert_string_equal(tls_version(c), "TLSv1.3");
	assert_string_equal(tls_cipher(c), "TLS_AES_256_GCM_SHA384");
	assert_int_equal(tls_cipher_bits(c), 256);

	server_read_all(c, f->sv[0], got, UP_SIZE);
	assert_memory_equal(got, up, UP_SIZE);

	server_write_all(c, f->sv[0], f->go[1], down, DOWN_SIZE, &st);
	assert_true(st.want_write > 0);
	assert_true(st.largest < DOWN_SIZE);	/* partial writes */

	/* one record: the rest of it waits inside, not on the socket */
	assert_int_equal(server_read(c, f->sv[0], buf, 10), 10);
	assert_int_equal(tls_pending(c), RECORD_SIZE - 10);
	assert_int_equal(tls_read(c, buf, sizeof(buf)), RECORD_SIZE - 10);
	assert_int_equal(tls_pending(c), 0);
	assert_int_equal(buf[0], 'r');
	assert_int_equal(buf[RECORD_SIZE - 11], 'r');

	assert_int_equal(server_read(c, f->sv[0], buf, sizeof(buf)),
	    TLS_CLOSED);
	tls_shutdown(c);
	tls_shutdown(c);	/* once */
	assert_string_equal(tls_error(c), "");

	client_join(f, t);
	assert_true(cl.connected);
	assert_int_equal(cl.verify, X509_V_OK);
	if (!cl.ok)
		fail_msg("client: %s", cl.error);
	assert_int_equal(cl.shutdown_rc, 1);

	tls_conn_free(&c);
	assert_null(c);
	tls_conn_free(&c);
	tls_server_free(&s);
	assert_null(s);
	tls_server_free(&s);
	free(up);
	free(down);
	free(got);
}

/* script_small - "ping" up, "pong" down */
static void
script_small(struct client *c, SSL *ssl)
{
	unsigned char buf[4];

	c->ok = ssl_write_all(ssl, (const unsigned char *)"ping", 4) &&
	    ssl_read_all(ssl, buf, 4) && memcmp(buf, "pong", 4) == 0;
	if (!c->ok)
		client_fail(c, "small");
}

/* server_ping_pong - the server half of script_small */
static void
server_ping_pong(struct tls_conn *c, int fd)
{
	unsigned char buf[4];

	server_read_all(c, fd, buf, 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(tls_write(c, "pong", 4), 4);
}

/* test_tls12_server_preference - a TLS 1.2 client gets the server's
 * first choice of the ciphers setting, not its own */
static void
test_tls12_server_preference(void **state)
{
	struct fixture *f = *state;
	struct client cl = {
		.max_version = TLS1_2_VERSION,
		.ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305:"
		    "ECDHE-ECDSA-AES128-GCM-SHA256",
		.script = script_small,
	};
	struct tls_server *s;
	struct tls_conn *c;
	char *why = NULL;
	pthread_t t;

	s = tls_server_new(f->cert, f->key, "TLSv1.2",
	    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305",
	    &why);
	if (s == NULL)
		fail_msg("tls_server_new: %s", why);
	c = tls_conn_new(s, f->sv[0]);
	t = client_start(f, &cl);
	assert_int_equal(server_handshake(c, f->sv[0]), 1);
	assert_string_equal(tls_version(c), "TLSv1.2");
	assert_string_equal(tls_cipher(c), "ECDHE-ECDSA-AES128-GCM-SHA256");
	assert_int_equal(tls_cipher_bits(c), 128);
	server_ping_pong(c, f->sv[0]);
	client_join(f, t);
	if (!cl.ok)
		fail_msg("client: %s", cl.error);
	tls_conn_free(&c);
	tls_server_free(&s);
}

/* test_min_version - a TLS 1.2 client and a TLSv1.3 minimum */
static void
test_min_version(void **state)
{
	struct fixture *f = *state;
	struct client cl = { .max_version = TLS1_2_VERSION };
	struct tls_server *s;
	struct tls_conn *c;
	char *why = NULL;
	pthread_t t;

	s = tls_server_new(f->cert, f->key, "TLSv1.3", "", &why);
	if (s == NULL)
		fail_msg("tls_server_new: %s", why);
	c = tls_conn_new(s, f->sv[0]);
	t = client_start(f, &cl);
	assert_int_equal(server_handshake(c, f->sv[0]), TLS_ERROR);
	assert_string_equal(tls_error(c), "unsupported protocol");
	/* the connection stays failed */
	assert_int_equal(tls_handshake(c), TLS_ERROR);
	assert_int_equal(tls_write(c, "x", 1), TLS_ERROR);
	tls_shutdown(c);
	client_join(f, t);
	assert_false(cl.connected);
	tls_conn_free(&c);
	tls_server_free(&s);
}

/* script_renegotiate - after a record, ask for a second handshake */
static void
script_renegotiate(struct client *c, SSL *ssl)
{
	c->ok = ssl_write_all(ssl, (const unsigned char *)"hello", 5);
	c->reneg_rc = SSL_renegotiate(ssl);
	c->reneg_hs_rc = SSL_do_handshake(ssl);
	ERR_clear_error();
}

/* test_renegotiation - a TLS 1.2 client asking for renegotiation ends
 * the connection; no second handshake completes */
static void
test_renegotiation(void **state)
{
	struct fixture *f = *state;
	struct client cl = {
		.max_version = TLS1_2_VERSION,
		.script = script_renegotiate,
	};
	struct tls_server *s;
	struct tls_conn *c;
	unsigned char buf[16];
	char *why = NULL;
	pthread_t t;

	s = tls_server_new(f->cert, f->key, "TLSv1.2", "", &why);
	if (s == NULL)
		fail_msg("tls_server_new: %s", why);
	c = tls_conn_new(s, f->sv[0]);
	t = client_start(f, &cl);
	assert_int_equal(server_handshake(c, f->sv[0]), 1);
	assert_string_equal(tls_version(c), "TLSv1.2");
	server_read_all(c, f->sv[0], buf, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(server_read(c, f->sv[0], buf, sizeof(buf)),
	    TLS_ERROR);
	assert_string_equal(tls_error(c), "client renegotiation refused");
	assert_int_equal(tls_read(c, buf, sizeof(buf)), TLS_ERROR);
	assert_int_equal(tls_write(c, "x", 1), TLS_ERROR);
	tls_shutdown(c);
	client_join(f, t);
	assert_true(cl.connected);
	assert_true(cl.ok);
	assert_int_equal(cl.reneg_rc, 1);	/* it did ask */
	assert_int_not_equal(cl.reneg_hs_rc, 1);
	tls_conn_free(&c);
	tls_server_free(&s);
}

/* script_eof - a record, then EOF without close_notify */
static void
script_eof(struct client *c, SSL *ssl)
{
	c->ok = ssl_write_all(ssl, (const unsigned char *)"bye", 3);
	(void)shutdown(c->fd, SHUT_WR);
}

/* test_peer_eof - EOF without close_notify is TLS_CLOSED too */
static void
test_peer_eof(void **state)
{
	struct fixture *f = *state;
	struct client cl = { .script = script_eof };
	struct tls_server *s;
	struct tls_conn *c;
	unsigned char buf[16];
	char *why = NULL;
	pthread_t t;

	s = tls_server_new(f->cert, f->key, "TLSv1.2", "", &why);
	if (s == NULL)
		fail_msg("tls_server_new: %s", why);
	c = tls_conn_new(s, f->sv[0]);
	t = client_start(f, &cl);
	assert_int_equal(server_handshake(c, f->sv[0]), 1);
	server_read_all(c, f->sv[0], buf, 3);
	assert_memory_equal(buf, "bye", 3);
	assert_int_equal(server_read(c, f->sv[0], buf, sizeof(buf)),
	    TLS_CLOSED);
	client_join(f, t);
	assert_true(cl.ok);
	tls_conn_free(&c);
	tls_server_free(&s);
}

/* test_handshake_eof - the client goes away before saying anything */
static void
test_handshake_eof(void **state)
{
	struct fixture *f = *state;
	struct tls_server *s;
	struct tls_conn *c;
	char *why = NULL;

	s = tls_server_new(f->cert, f->key, "TLSv1.2", "", &why);
	if (s == NULL)
		fail_msg("tls_server_new: %s", why);
	c = tls_conn_new(s, f->sv[0]);
	assert_int_equal(tls_handshake(c), TLS_WANT_READ);
	assert_int_equal(shutdown(f->sv[1], SHUT_WR), 0);
	assert_int_equal(server_handshake(c, f->sv[0]), TLS_CLOSED);
	tls_conn_free(&c);
	tls_server_free(&s);
}

/* test_handshake_plaintext - SMTP where a ClientHello belongs */
static void
test_handshake_plaintext(void **state)
{
	struct fixture *f = *state;
	static const char ehlo[] = "EHLO client.example.org\r\n";
	struct tls_server *s;
	struct tls_conn *c;
	char *why = NULL;

	s = tls_server_new(f->cert, f->key, "TLSv1.2", "", &why);
	if (s == NULL)
		fail_msg("tls_server_new: %s", why);
	c = tls_conn_new(s, f->sv[0]);
	assert_int_equal(write(f->sv[1], ehlo, sizeof(ehlo) - 1),
	    (ssize_t)sizeof(ehlo) - 1);
	assert_int_equal(server_handshake(c, f->sv[0]), TLS_ERROR);
	assert_string_equal(tls_error(c), "wrong version number");
	tls_conn_free(&c);
	tls_server_free(&s);
}

/* test_server_freed_first - a connection keeps what it needs of the
 * server (the config was reloaded while the session went on) */
static void
test_server_freed_first(void **state)
{
	struct fixture *f = *state;
	struct client cl = { .script = script_small };
	struct tls_server *s;
	struct tls_conn *c;
	char *why = NULL;
	pthread_t t;

	s = tls_server_new(f->cert, f->key, "TLSv1.2", "", &why);
	if (s == NULL)
		fail_msg("tls_server_new: %s", why);
	c = tls_conn_new(s, f->sv[0]);
	tls_server_free(&s);
	t = client_start(f, &cl);
	assert_int_equal(server_handshake(c, f->sv[0]), 1);
	server_ping_pong(c, f->sv[0]);
	client_join(f, t);
	if (!cl.ok)
		fail_msg("client: %s", cl.error);
	tls_conn_free(&c);
}

/* server_error - tls_server_new must fail with exactly want */
static void
server_error(const char *cert, const char *key, const char *min,
    const char *ciphers, const char *want)
{
	char *why = NULL;
	struct tls_server *s = tls_server_new(cert, key, min, ciphers, &why);

	if (s != NULL)
		fail_msg("tls_server_new succeeded, wanted: %s", want);
	assert_non_null(why);
	assert_string_equal(why, want);
	free(why);
}

/* file_text - a whole small file as a string in arena */
static char *
file_text(struct arena *arena, const char *path)
{
	char buf[8192];
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return arena_strdup(arena, buf);
}

/* test_server_errors - every way the files or settings can be wrong,
 * each naming the file */
static void
test_server_errors(void **state)
{
	struct fixture *f = *state;
	struct arena *a = f->arena;
	char *cert2 = arena_printf(a, "%s/cert2.pem", f->dir);
	char *key2 = arena_printf(a, "%s/key2.pem", f->dir);
	char *missing = arena_printf(a, "%s/missing.pem", f->dir);
	char *why = NULL, *empty, *junk, *junkkey, *enc, *both, *both2;
	struct tls_server *s;
	EVP_PKEY *pkey;
	FILE *fp;

	assert_true(tls_make_self_signed(HOST, cert2, key2, &why));
	server_error(f->cert, key2, "TLSv1.2", "",
	    arena_printf(a, "%s: key does not match the certificate in %s",
	    key2, f->cert));
	server_error(missing, f->key, "TLSv1.2", "",
	    arena_printf(a, "%s: cannot open the certificate file: No such "
	    "file or directory", missing));
	server_error(f->cert, missing, "TLSv1.2", "",
	    arena_printf(a, "%s: cannot open the key file: No such file or "
	    "directory", missing));
	server_error(f->dir, f->key, "TLSv1.2", "",
	    arena_printf(a, "%s: the certificate file is not a regular file",
	    f->dir));
	server_error(f->cert, f->dir, "TLSv1.2", "",
	    arena_printf(a, "%s: the key file is not a regular file",
	    f->dir));

	empty = testutil_put(a, f->dir, "empty.pem", "");
	junk = testutil_put(a, f->dir, "junk.pem", "-----BEGIN CERTIFICATE"
	    "-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
	junkkey = testutil_put(a, f->dir, "junkkey.pem", "-----BEGIN PRIVATE "
	    "KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
	server_error(empty, f->key, "TLSv1.2", "",
	    arena_printf(a, "%s: no PEM certificate found", empty));
	server_error(f->key, f->key, "TLSv1.2", "",
	    arena_printf(a, "%s: no PEM certificate found", f->key));
	server_error(junk, f->key, "TLSv1.2", "",
	    arena_printf(a, "%s: bad certificate: broken ASN.1 (too long)",
	    junk));
	server_error(f->cert, empty, "TLSv1.2", "",
	    arena_printf(a, "%s: no PEM private key found", empty));
	server_error(f->cert, f->cert, "TLSv1.2", "",
	    arena_printf(a, "%s: no PEM private key found", f->cert));
	server_error(f->cert, junkkey, "TLSv1.2", "",
	    arena_printf(a, "%s: bad private key: broken ASN.1 (too long)",
	    junkkey));

	/* a passphrase-protected key: an error, never a prompt */
	enc = arena_printf(a, "%s/enc.pem", f->dir);
	fp = fopen(f->key, "r");
	assert_non_null(fp);
	pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(pkey);
	fp = fopen(enc, "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_PKCS8PrivateKey(fp, pkey,
	    EVP_aes_256_cbc(), NULL, 0, NULL, (void *)"secret"), 1);
	fclose(fp);
	EVP_PKEY_free(pkey);
	server_error(f->cert, enc, "TLSv1.2", "",
	    arena_printf(a, "%s: the key is encrypted (no passphrase can be "
	    "given)", enc));

	server_error(f->cert, f->key, "TLSv1.1", "",
	    "unknown minimum TLS version \"TLSv1.1\" (TLSv1.2 or TLSv1.3)");
	server_error(f->cert, f->key, "tlsv1.2", "",
	    "unknown minimum TLS version \"tlsv1.2\" (TLSv1.2 or TLSv1.3)");
	server_error(f->cert, f->key, "TLSv1.2", "NO-SUCH-CIPHER",
	    "ciphers \"NO-SUCH-CIPHER\": no cipher match");

	/* key and certificate in one file, either order */
	both = testutil_put(a, f->dir, "both.pem", arena_printf(a, "%s%s",
	    file_text(a, f->key), file_text(a, f->cert)));
	both2 = testutil_put(a, f->dir, "both2.pem", arena_printf(a, "%s%s",
	    file_text(a, f->cert), file_text(a, f->key)));
	s = tls_server_new(both, both, "TLSv1.3", "", &why);
	if (s == NULL)
		fail_msg("tls_server_new: %s", why);
	tls_server_free(&s);
	s = tls_server_new(both2, both2, "TLSv1.3", "", &why);
	if (s == NULL)
		fail_msg("tls_server_new: %s", why);
	tls_server_free(&s);
	/* the error queue is left clean for whoever comes next */
	assert_int_equal(ERR_peek_error(), 0);
}

/* read_cert - the certificate in path */
static X509 *
read_cert(const char *path)
{
	FILE *fp = fopen(path, "r");
	X509 *x;

	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	return x;
}

/* test_self_signed - what tls_make_self_signed writes */
static void
test_self_signed(void **state)
{
	struct fixture *f = *state;
	GENERAL_NAMES *sans;
	const GENERAL_NAME *gn;
	int days, secs, crit;
	char cn[128], *why = NULL;
	EVP_PKEY *pub, *priv;
	char group[64];
	struct stat sb;
	X509 *x, *x2;
	FILE *fp;

	/* setup made cert.pem and key.pem, and nothing else stayed */
	assert_int_equal(testutil_count_entries(f->dir), 2);
	assert_int_equal(stat(f->key, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(stat(f->cert, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);

	x = read_cert(f->cert);
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cn, sizeof(cn)), (int)strlen(HOST));
	assert_string_equal(cn, HOST);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_issuer_name(x)), 0);
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	assert_non_null(sans);
	assert_int_equal(sk_GENERAL_NAME_num(sans), 1);
	gn = sk_GENERAL_NAME_value(sans, 0);
	assert_int_equal(gn->type, GEN_DNS);
	assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.dNSName),
	    HOST);
	GENERAL_NAMES_free(sans);
	assert_int_equal(X509_check_host(x, HOST, 0, 0, NULL), 1);
	assert_int_not_equal(X509_check_host(x, "other.example.org", 0, 0,
	    NULL), 1);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	    X509_get0_notAfter(x)), 1);
	assert_true(days >= 3652 && days <= 3653);
	assert_int_equal(X509_cmp_current_time(X509_get0_notBefore(x)), -1);

	/* EC P-256, signed by its own key, and the key on disk is it */
	pub = X509_get0_pubkey(x);
	assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_group_name(pub, group, sizeof(group),
	    NULL), 1);
	assert_string_equal(group, "prime256v1");
	assert_int_equal(X509_verify(x, pub), 1);
	fp = fopen(f->key, "r");
	assert_non_null(fp);
	priv = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(priv);
	assert_int_equal(X509_check_private_key(x, priv), 1);
	EVP_PKEY_free(priv);

	/* again: both replaced by new ones */
	assert_true(tls_make_self_signed("other.example.org", f->cert,
	    f->key, &why));
	assert_null(why);
	assert_int_equal(testutil_count_entries(f->dir), 2);
	x2 = read_cert(f->cert);
	assert_int_equal(X509_check_host(x2, "other.example.org", 0, 0,
	    NULL), 1);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(x),
	    X509_get0_serialNumber(x2)), 0);
	assert_int_not_equal(EVP_PKEY_eq(X509_get0_pubkey(x),
	    X509_get0_pubkey(x2)), 1);
	X509_free(x);
	X509_free(x2);
}

/* test_self_signed_errors - bad names, unwritable places */
static void
test_self_signed_errors(void **state)
{
	struct fixture *f = *state;
	struct arena *a = f->arena;
	char *nodir = arena_printf(a, "%s/no/such/dir", f->dir);
	char *c2 = arena_printf(a, "%s/c2.pem", f->dir);
	char *why = NULL, *want;
	static const char *const bad[] = {
		"", "mx.example.org,DNS:evil.example", "mx example.org",
		"mx..example.org", ".mx.example.org", "mx.example.org.",
		"mx_1.example.org", "m\xc3\xa9.example.org",
		"a-very-long-host-name-that-is-too-long.for-a-common-name."
		    "example.org",
		NULL,
	};
	int i;

	for (i = 0; bad[i] != NULL; i++) {
		assert_false(tls_make_self_signed(bad[i], c2, c2, &why));
		want = arena_printf(a, "\"%s\": not a host name of at most "
		    "64 characters", bad[i]);
		assert_string_equal(why, want);
		free(why);
		why = NULL;
	}
	assert_false(tls_make_self_signed(HOST, c2,
	    arena_printf(a, "%s/key.pem", nodir), &why));
	assert_string_equal(why, arena_printf(a, "%s/key.pem: cannot create: "
	    "No such file or directory", nodir));
	free(why);
	why = NULL;
	assert_false(tls_make_self_signed(HOST,
	    arena_printf(a, "%s/cert.pem", nodir), c2, &why));
	assert_string_equal(why, arena_printf(a, "%s/cert.pem: cannot "
	    "create: No such file or directory", nodir));
	free(why);
	/* nothing half-written stayed behind, the old pair is untouched */
	assert_int_equal(testutil_count_entries(f->dir), 2);
	assert_int_equal(access(c2, F_OK), -1);
}

/*
 * The client side: tls_client_conn in a thread on the fixture's client
 * end (blocking), tls.c's server in the test's thread as above. Those
 * that need a CA make one, and a leaf for LEAF signed by it, with
 * OpenSSL in the fixture's directory.
 */

#define LEAF "mx.test.example"

/* what a client thread is to do, and what happened */
struct cconn {
	struct tls_client *cl;
	int fd;
	const char *sni;
	enum tls_verify verify;
	const char *const *names;
	size_t n_names;
	const struct tls_tlsa *tlsa;
	size_t n_tlsa;
	bool big;		/* exchange UP_SIZE / DOWN_SIZE, not ping */
	/* results */
	struct tls_conn *conn;	/* the test frees it */
	char *why;
	bool ok;
	ssize_t last_read;	/* after the client's close_notify */
	char error[256];
};

/* a CA and a leaf certificate for LEAF signed by it */
struct pki {
	X509 *ca, *leaf;
	char *ca_file;		/* the CA certificate */
	char *chain_file;	/* leaf, then the CA */
	char *key_file;		/* the leaf's key */
};

/* new_cert - a certificate for cn and key, issued by issuer (NULL:
 * self-signed) */
static X509 *
new_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
    bool ca)
{
	static long serial = 1;
	const char *const *e;
	static const char *const ca_exts[] = {
		"basicConstraints", "critical,CA:TRUE",
		"keyUsage", "critical,keyCertSign,cRLSign",
		"subjectKeyIdentifier", "hash",
		NULL,
	};
	char san[128];
	const char *leaf_exts[] = {
		"basicConstraints", "critical,CA:FALSE",
		"keyUsage", "critical,digitalSignature",
		"extendedKeyUsage", "serverAuth",
		"subjectAltName", san,
		NULL,
	};
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	X509 *x = X509_new();

	assert_non_null(x);
	snprintf(san, sizeof(san), "DNS:%s", cn);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x),
	    serial++), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(
	    issuer != NULL ? issuer : x)), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	for (e = ca ? ca_exts : leaf_exts; *e != NULL; e += 2) {
		ext = X509V3_EXT_conf(NULL, &v3, e[0], e[1]);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) >
	    0);
	return x;
}

/* put_pem - the certificates a and b (NULL: none) or the key k */
static void
put_pem(const char *path, X509 *a, X509 *b, EVP_PKEY *k)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	if (a != NULL)
		assert_int_equal(PEM_write_X509(fp, a), 1);
	if (b != NULL)
		assert_int_equal(PEM_write_X509(fp, b), 1);
	if (k != NULL)
		assert_int_equal(PEM_write_PrivateKey(fp, k, NULL, NULL, 0,
		    NULL, NULL), 1);
	assert_int_equal(fclose(fp), 0);
}

/* make_pki - a CA and a leaf for LEAF in the fixture's directory */
static void
make_pki(struct fixture *f, struct pki *p)
{
	EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *key = EVP_EC_gen("P-256");

	assert_non_null(ca_key);
	assert_non_null(key);
	p->ca = new_cert("Postern Test CA", ca_key, NULL, NULL, true);
	p->leaf = new_cert(LEAF, key, p->ca, ca_key, false);
	p->ca_file = arena_printf(f->arena, "%s/ca.pem", f->dir);
	p->chain_file = arena_printf(f->arena, "%s/chain.pem", f->dir);
	p->key_file = arena_printf(f->arena, "%s/leafkey.pem", f->dir);
	put_pem(p->ca_file, p->ca, NULL, NULL);
	put_pem(p->chain_file, p->leaf, p->ca, NULL);
	put_pem(p->key_file, NULL, NULL, key);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
}

/* free_pki - the certificates */
static void
free_pki(struct pki *p)
{
	X509_free(p->ca);
	X509_free(p->leaf);
}

/* spki_sha256 - a TLSA 1 1 digest: SHA-256 of the SubjectPublicKeyInfo */
static void
spki_sha256(X509 *x, unsigned char out[32])
{
	unsigned char *der = NULL;
	unsigned int n = 0;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);

	assert_true(len > 0);
	assert_int_equal(EVP_Digest(der, (size_t)len, out, &n, EVP_sha256(),
	    NULL), 1);
	assert_int_equal(n, 32);
	OPENSSL_free(der);
}

/* new_pair - a fresh socketpair for one more connection in a test */
static void
new_pair(struct fixture *f)
{
	assert_int_equal(close(f->sv[0]), 0);
	assert_int_equal(close(f->sv[1]), 0);
	f->sv[0] = f->sv[1] = -1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    f->sv), 0);
	assert_int_equal(fcntl(f->sv[0], F_SETFL, O_NONBLOCK), 0);
}

/* mono - CLOCK_MONOTONIC seconds, as tls_client_conn's deadline */
static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* cc_fail - note what went wrong in the client thread */
static void
cc_fail(struct cconn *cc, const char *what, ssize_t n)
{
	snprintf(cc->error, sizeof(cc->error), "%s: %zd (%s)", what, n,
	    tls_error(cc->conn));
}

/* cc_write_all - blocking tls_write of everything */
static bool
cc_write_all(struct cconn *cc, const unsigned char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = tls_write(cc->conn, p, len)) <= 0) {
			cc_fail(cc, "tls_write", n);
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* cc_read_all - blocking tls_read of exactly len bytes */
static bool
cc_read_all(struct cconn *cc, unsigned char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = tls_read(cc->conn, p, len)) <= 0) {
			cc_fail(cc, "tls_read", n);
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* cc_main - the handshake, then ping / pong or the big exchange */
static void *
cc_main(void *arg)
{
	struct cconn *cc = arg;
	struct timeval tv = { .tv_sec = TIMEOUT_MS / 1000 };
	unsigned char buf[4], *up, *want, *down;

	cc->conn = tls_client_conn(cc->cl, cc->fd, cc->sni, cc->verify,
	    cc->names, cc->n_names, cc->tlsa, cc->n_tlsa,
	    mono() + TIMEOUT_MS / 1000, &cc->why);
	if (cc->conn == NULL)
		return NULL;
	(void)setsockopt(cc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(cc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!cc->big) {
		cc->ok = cc_write_all(cc, (const unsigned char *)"ping", 4) &&
		    cc_read_all(cc, buf, 4) && memcmp(buf, "pong", 4) == 0;
		return NULL;
	}
	up = fill(UP_SIZE, 3);
	want = fill(DOWN_SIZE, 4);
	down = malloc(DOWN_SIZE);
	cc->ok = down != NULL && cc_write_all(cc, up, UP_SIZE) &&
	    cc_read_all(cc, down, DOWN_SIZE) &&
	    memcmp(down, want, DOWN_SIZE) == 0;
	if (cc->ok) {
		tls_shutdown(cc->conn);
		/* the server's close_notify answers ours */
		cc->last_read = tls_read(cc->conn, buf, sizeof(buf));
	}
	free(up);
	free(want);
	free(down);
	return NULL;
}

/* cc_run - serve cert / key to cc on the fixture's socketpair; the
 * server handshake's result */
static int
cc_run(struct fixture *f, const char *cert, const char *key,
    struct cconn *cc)
{
	struct tls_server *s;
	struct tls_conn *c;
	char *why = NULL;
	pthread_t t;
	int rc;

	s = tls_server_new(cert, key, "TLSv1.2", "", &why);
	if (s == NULL)
		fail_msg("tls_server_new: %s", why);
	c = tls_conn_new(s, f->sv[0]);
	cc->fd = f->sv[1];
	assert_int_equal(pthread_create(&t, NULL, cc_main, cc), 0);
	if ((rc = server_handshake(c, f->sv[0])) == 1 && !cc->big)
		server_ping_pong(c, f->sv[0]);
	(void)shutdown(f->sv[0], SHUT_RDWR);
	assert_int_equal(pthread_join(t, NULL), 0);
	tls_conn_free(&c);
	tls_server_free(&s);
	return rc;
}

/* cc_ok - the connection worked, and the peer is as want says */
static void
cc_ok(struct cconn *cc, int server_rc, const char *want_peer)
{
	if (cc->conn == NULL)
		fail_msg("tls_client_conn: %s", cc->why);
	assert_null(cc->why);
	assert_int_equal(server_rc, 1);
	if (!cc->ok)
		fail_msg("client: %s", cc->error);
	assert_string_equal(tls_peer_info(cc->conn), want_peer);
	tls_conn_free(&cc->conn);
	assert_null(cc->conn);
}

/* cc_fails - no connection, for exactly want */
static void
cc_fails(struct cconn *cc, int server_rc, const char *want)
{
	if (cc->conn != NULL)
		fail_msg("tls_client_conn succeeded (%s), wanted: %s",
		    tls_peer_info(cc->conn), want);
	assert_non_null(cc->why);
	assert_string_equal(cc->why, want);
	assert_int_not_equal(server_rc, 1);
	free(cc->why);
	cc->why = NULL;
	assert_int_equal(ERR_peek_error(), 0);
}

/* new_client - tls_client_new that must work */
static struct tls_client *
new_client(const char *ca_file)
{
	char *why = NULL;
	struct tls_client *cl = tls_client_new(ca_file, &why);

	if (cl == NULL)
		fail_msg("tls_client_new: %s", why);
	assert_null(why);
	return cl;
}

/* test_client_none - encrypt only: a self-signed server is fine, with
 * the system's store and no names */
static void
test_client_none(void **state)
{
	struct fixture *f = *state;
	struct cconn cc = {
		.cl = new_client(NULL),
		.sni = HOST,
		.verify = TLS_VERIFY_NONE,
	};

	cc_ok(&cc, cc_run(f, f->cert, f->key, &cc),
	    "CN=" HOST ", unverified");
	tls_client_free(&cc.cl);
	assert_null(cc.cl);
	tls_client_free(&cc.cl);
}

/* test_client_name_self_signed - the name is right, the chain is not */
static void
test_client_name_self_signed(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = { HOST };
	struct cconn cc = {
		.cl = new_client(NULL),
		.sni = HOST,
		.verify = TLS_VERIFY_NAME,
		.names = names,
		.n_names = 1,
	};

	cc_fails(&cc, cc_run(f, f->cert, f->key, &cc),
	    "certificate verify failed: self-signed certificate");
	tls_client_free(&cc.cl);
}

/* test_client_name_ca - a chain to ca_file and one of the names */
static void
test_client_name_ca(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = { "mx.other.example", LEAF };
	static const char *const wrong[] = { "mx.other.example",
	    "x" LEAF, "*.test.example" };
	static const char *const star[] = { "*.test.example" };
	struct pki p;
	struct cconn cc = {
		.sni = LEAF,
		.verify = TLS_VERIFY_NAME,
		.names = names,
		.n_names = 2,
	};

	make_pki(f, &p);
	cc.cl = new_client(p.ca_file);
	cc_ok(&cc, cc_run(f, p.chain_file, p.key_file, &cc),
	    "CN=" LEAF ", verified");

	new_pair(f);
	cc.names = wrong;
	cc.n_names = 3;
	cc_fails(&cc, cc_run(f, p.chain_file, p.key_file, &cc),
	    "certificate verify failed: hostname mismatch");

	/* a reference identifier is not a pattern */
	new_pair(f);
	cc.names = star;
	cc.n_names = 1;
	cc_fails(&cc, cc_run(f, p.chain_file, p.key_file, &cc),
	    "certificate verify failed: hostname mismatch");
	tls_client_free(&cc.cl);

	/* the CA (sent in the chain) is not in the system's store */
	new_pair(f);
	cc.cl = new_client(NULL);
	cc.names = names;
	cc.n_names = 2;
	cc_fails(&cc, cc_run(f, p.chain_file, p.key_file, &cc),
	    "certificate verify failed: self-signed certificate in "
	    "certificate chain");
	tls_client_free(&cc.cl);
	free_pki(&p);
}

/* test_client_dane_ee - DANE-EE(3) SPKI(1) SHA2-256(1): the key
 * decides, not the chain nor the names */
static void
test_client_dane_ee(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = { "mx.other.example" };
	unsigned char digest[32], other[32];
	struct tls_tlsa tlsa[] = {
		{ .usage = 3, .selector = 1, .mtype = 1, .data = other,
		    .len = 32 },
		{ .usage = 3, .selector = 1, .mtype = 1, .data = digest,
		    .len = 32 },
	};
	X509 *x = read_cert(f->cert);
	struct cconn cc = {
		.cl = new_client(NULL),
		.verify = TLS_VERIFY_DANE,
		.names = names,
		.n_names = 1,
		.tlsa = tlsa,
		.n_tlsa = 2,
	};

	spki_sha256(x, digest);
	memcpy(other, digest, sizeof(other));
	other[31] ^= 1;
	cc_ok(&cc, cc_run(f, f->cert, f->key, &cc), "CN=" HOST ", dane");

	/* only the mismatching record */
	new_pair(f);
	cc.n_tlsa = 1;
	cc_fails(&cc, cc_run(f, f->cert, f->key, &cc),
	    "certificate verify failed: no matching DANE TLSA records");
	tls_client_free(&cc.cl);
	X509_free(x);
}

/* test_client_dane_ta - DANE-TA(2) with the CA's key: the chain must
 * lead to it and the name must match */
static void
test_client_dane_ta(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = { LEAF };
	static const char *const wrong[] = { "mx.other.example" };
	unsigned char digest[32];
	struct tls_tlsa tlsa = { .usage = 2, .selector = 1, .mtype = 1,
	    .data = digest, .len = 32 };
	struct pki p;
	struct cconn cc = {
		.cl = new_client(NULL),
		.sni = LEAF,
		.verify = TLS_VERIFY_DANE,
		.names = names,
		.n_names = 1,
		.tlsa = &tlsa,
		.n_tlsa = 1,
	};

	make_pki(f, &p);
	spki_sha256(p.ca, digest);
	cc_ok(&cc, cc_run(f, p.chain_file, p.key_file, &cc),
	    "CN=" LEAF ", dane");

	new_pair(f);
	cc.names = wrong;
	cc_fails(&cc, cc_run(f, p.chain_file, p.key_file, &cc),
	    "certificate verify failed: hostname mismatch");

	/* the leaf's key as a trust anchor is no anchor */
	new_pair(f);
	cc.names = names;
	spki_sha256(p.leaf, digest);
	cc_fails(&cc, cc_run(f, p.chain_file, p.key_file, &cc),
	    "certificate verify failed: no matching DANE TLSA records");
	tls_client_free(&cc.cl);
	free_pki(&p);
}

/* test_client_dane_unusable - PKIX-TA(0), PKIX-EE(1), an unknown
 * matching type, a digest of the wrong length: nothing to check with,
 * and nothing is sent */
static void
test_client_dane_unusable(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = { HOST };
	unsigned char digest[32], buf[16];
	struct tls_tlsa tlsa[] = {
		{ .usage = 0, .selector = 1, .mtype = 1, .data = digest,
		    .len = 32 },
		{ .usage = 1, .selector = 1, .mtype = 1, .data = digest,
		    .len = 32 },
		{ .usage = 3, .selector = 1, .mtype = 9, .data = digest,
		    .len = 32 },
		{ .usage = 3, .selector = 1, .mtype = 1, .data = digest,
		    .len = 31 },
	};
	struct tls_client *cl = new_client(NULL);
	X509 *x = read_cert(f->cert);
	struct tls_conn *c;
	char *why = NULL;

	spki_sha256(x, digest);
	c = tls_client_conn(cl, f->sv[1], HOST, TLS_VERIFY_DANE, names, 1,
	    tlsa, 4, mono() + 10, &why);
	assert_null(c);
	assert_string_equal(why, "no usable TLSA record");
	free(why);
	c = tls_client_conn(cl, f->sv[1], HOST, TLS_VERIFY_DANE, names, 1,
	    NULL, 0, mono() + 10, &why);
	assert_null(c);
	assert_string_equal(why, "no usable TLSA record");
	free(why);
	assert_int_equal(recv(f->sv[0], buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(ERR_peek_error(), 0);
	tls_client_free(&cl);
	X509_free(x);
}

/* test_client_deadline - a server that takes the connection and says
 * nothing; the socket is blocking again afterwards */
static void
test_client_deadline(void **state)
{
	struct fixture *f = *state;
	struct tls_client *cl = new_client(NULL);
	unsigned char buf[16];
	struct tls_conn *c;
	char *why = NULL;
	double t0, took;

	t0 = mono();
	c = tls_client_conn(cl, f->sv[1], HOST, TLS_VERIFY_NONE, NULL, 0,
	    NULL, 0, t0 + 0.5, &why);
	took = mono() - t0;
	assert_null(c);
	assert_string_equal(why, "handshake timed out");
	free(why);
	if (took < 0.5 || took > 1.0)
		fail_msg("gave up after %.3f s, not 0.5 s", took);
	assert_int_equal(fcntl(f->sv[1], F_GETFL) & O_NONBLOCK, 0);
	/* the ClientHello did go out */
	assert_true(recv(f->sv[0], buf, sizeof(buf), MSG_DONTWAIT) > 0);
	assert_int_equal(buf[0], 0x16);

	/* a deadline already gone */
	new_pair(f);
	c = tls_client_conn(cl, f->sv[1], HOST, TLS_VERIFY_NONE, NULL, 0,
	    NULL, 0, mono() - 1, &why);
	assert_null(c);
	assert_string_equal(why, "handshake timed out");
	free(why);
	assert_int_equal(ERR_peek_error(), 0);
	tls_client_free(&cl);
}

/* test_client_exchange - > 64 KiB both ways on a client connection,
 * close_notify from the client answered by the server's */
static void
test_client_exchange(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = { HOST };
	unsigned char *up = fill(UP_SIZE, 3), *down = fill(DOWN_SIZE, 4);
	unsigned char *got = malloc(UP_SIZE), buf[16];
	struct tls_server *s;
	struct write_stats st;
	struct tls_conn *c;
	char *why = NULL;
	pthread_t t;
	struct cconn cc = {
		.cl = new_client(f->cert),
		.fd = f->sv[1],
		.sni = HOST,
		.verify = TLS_VERIFY_NAME,
		.names = names,
		.n_names = 1,
		.big = true,
	};

	assert_non_null(got);
	s = tls_server_new(f->cert, f->key, "TLSv1.2", "", &why);
	if (s == NULL)
		fail_msg("tls_server_new: %s", why);
	c = tls_conn_new(s, f->sv[0]);
	assert_int_equal(pthread_create(&t, NULL, cc_main, &cc), 0);
	assert_int_equal(server_handshake(c, f->sv[0]), 1);
	server_read_all(c, f->sv[0], got, UP_SIZE);
	assert_memory_equal(got, up, UP_SIZE);
	server_write_all(c, f->sv[0], f->go[1], down, DOWN_SIZE, &st);
	assert_int_equal(server_read(c, f->sv[0], buf, sizeof(buf)),
	    TLS_CLOSED);
	tls_shutdown(c);
	assert_int_equal(pthread_join(t, NULL), 0);
	if (cc.conn == NULL)
		fail_msg("tls_client_conn: %s", cc.why);
	if (!cc.ok)
		fail_msg("client: %s", cc.error);
	assert_int_equal(cc.last_read, TLS_CLOSED);
	assert_string_equal(tls_version(cc.conn), "TLSv1.3");
	assert_string_equal(tls_cipher(cc.conn), "TLS_AES_256_GCM_SHA384");
	assert_string_equal(tls_peer_info(cc.conn), "CN=" HOST ", verified");
	assert_string_equal(tls_error(cc.conn), "");
	assert_string_equal(tls_peer_info(c), "");
	tls_conn_free(&cc.conn);
	tls_conn_free(&c);
	tls_server_free(&s);
	tls_client_free(&cc.cl);
	free(up);
	free(down);
	free(got);
}

/* client_error - tls_client_new must fail with exactly want */
static void
client_error(const char *ca_file, const char *want)
{
	char *why = NULL;
	struct tls_client *cl = tls_client_new(ca_file, &why);

	if (cl != NULL)
		fail_msg("tls_client_new succeeded, wanted: %s", want);
	assert_non_null(why);
	assert_string_equal(why, want);
	free(why);
	assert_int_equal(ERR_peek_error(), 0);
}

/* test_client_errors - CA files that cannot be used */
static void
test_client_errors(void **state)
{
	struct fixture *f = *state;
	struct arena *a = f->arena;
	char *missing = arena_printf(a, "%s/missing.pem", f->dir);
	char *empty = testutil_put(a, f->dir, "empty.pem", "");

	client_error(missing, arena_printf(a, "%s: cannot open the CA file: "
	    "No such file or directory", missing));
	client_error(f->dir, arena_printf(a, "%s: the CA file is not a "
	    "regular file", f->dir));
	client_error(empty, arena_printf(a, "%s: bad CA file: no "
	    "certificate or crl found", empty));
	client_error(f->key, arena_printf(a, "%s: bad CA file: no "
	    "certificate or crl found", f->key));
}

/* main - run the group */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exchange, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tls12_server_preference,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_min_version, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_renegotiation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_peer_eof, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_handshake_eof, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_handshake_plaintext,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_freed_first, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_server_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_self_signed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_self_signed_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_none, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_name_self_signed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_name_ca, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_dane_ee, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_dane_ta, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_dane_unusable,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_deadline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_exchange, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_errors, setup,
		    teardown),
	};

	/* a write to a client that is gone must fail, not kill us */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
