/*
 * tls.c - TLS for the mta's SMTP sessions: the OpenSSL 3 adapter
 *
 * Both sides: the server on the mta's non-blocking sockets, the client
 * (delivery) on blocking ones. OpenSSL's error queue is per thread: every call
 * into the library starts with an empty queue (SSL_get_error needs
 * that) and leaves it empty, so a failure on one connection never shows
 * up as the reason of the next.
 *
 * Renegotiation: with SSL_OP_NO_RENEGOTIATION, OpenSSL 3.0 answers a
 * client's renegotiation ClientHello with a no_renegotiation warning
 * alert and then carries on with the connection. The contract wants
 * such a client gone, so an info callback watches for both (a handshake
 * starting again on a TLS 1.2 connection, that alert going out) and the
 * read or write that ran into them fails.
 *
 * EOF without close_notify counts as a close (SSL_OP_IGNORE_UNEXPECTED_EOF):
 * SMTP has its own end (QUIT), so a truncation attack gains nothing, and
 * many clients simply close.
 *
 * The client's handshake runs with the socket switched to non-blocking
 * and poll() counting down to the deadline (a blocking SSL_connect could
 * wait forever on a server that accepts and never answers); the
 * socket's flags are put back before tls_client_conn returns. The
 * client has no info callback: a server asking to renegotiate gets
 * OpenSSL's no_renegotiation warning and the session goes on, which is
 * harmless as it changes nothing the client relies on.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "tls.h"

/* the self-signed certificate's life */
#define TLS_SELF_SIGNED_YEARS 10

/* RFC 5280's upper bound for a CN */
#define TLS_CN_MAX 64

/* RFC 7218's names of the TLSA usages SMTP can use (RFC 7672) */
#define TLS_USAGE_DANE_TA 2
#define TLS_USAGE_DANE_EE 3

struct tls_client {
	SSL_CTX *ctx;		/* each SSL holds its own reference */
};

struct tls_server {
	SSL_CTX *ctx;		/* each SSL holds its own reference */
};

struct tls_conn {
	SSL *ssl;
	bool handshake_done;
	bool renegotiation;	/* the client asked for one: refuse */
	bool failed;		/* fatal: no more calls into OpenSSL */
	bool shutdown_sent;
	bool client;		/* delivery: the peer is a server */
	char error[256];	/* tls_error() */
	char peer[TLS_CN_MAX * 4 + 32];	/* tls_peer_info(); "" server side */
};

static const struct tls_version_name {
	const char *name;
	int version;
} tls_versions[] = {
	{ .name = "TLSv1.2", .version = TLS1_2_VERSION },
	{ .name = "TLSv1.3", .version = TLS1_3_VERSION },
	{ 0 },
};

/* extensions of the self-signed certificate; value NULL = the name */
static const struct tls_extension {
	int nid;
	const char *value;
} tls_self_signed_exts[] = {
	{ .nid = NID_basic_constraints, .value = "critical,CA:FALSE" },
	{ .nid = NID_key_usage, .value = "critical,digitalSignature" },
	{ .nid = NID_ext_key_usage, .value = "serverAuth" },
	{ .nid = NID_subject_key_identifier, .value = "hash" },
	{ .nid = NID_subject_alt_name, .value = NULL },
	{ 0 },
};

/* tls_why - a malloc'ed error text for *why_r */
static bool __attribute__((format(printf, 2, 3)))
tls_why(char **why_r, const char *fmt, ...)
{
	struct buf b = { 0 };
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	*why_r = buf_steal(&b);
	return false;
}

/* what this thread's error queue said */
struct tls_queue {
	char reason[256];	/* the first error's (the root cause: later
				 * ones only say who gave up), or the first
				 * ASN.1 error's (the decoders that failed
				 * to recognise the data come before it) */
	bool no_pem;		/* no PEM block of the kind wanted */
	bool bad_der;		/* one whose content is not valid DER */
	bool eof;		/* the peer went away mid-handshake */
};

/* tls_drain - read and empty the queue */
static void
tls_drain(struct tls_queue *q)
{
	unsigned long e, first = 0, asn1 = 0;
	const char *r;

	memset(q, 0, sizeof(*q));
	while ((e = ERR_get_error()) != 0) {
		if (first == 0)
			first = e;
		if ((ERR_GET_LIB(e) == ERR_LIB_PEM &&
		    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) ||
		    (ERR_GET_LIB(e) == ERR_LIB_OSSL_DECODER &&
		    ERR_GET_REASON(e) == ERR_R_UNSUPPORTED))
			q->no_pem = true;
		if (ERR_GET_LIB(e) == ERR_LIB_ASN1 && asn1 == 0)
			asn1 = e;
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			q->eof = true;
	}
	if ((q->bad_der = asn1 != 0))
		first = asn1;
	if (first == 0)
		snprintf(q->reason, sizeof(q->reason), "unknown error");
	else if ((r = ERR_reason_error_string(first)) != NULL)
		snprintf(q->reason, sizeof(q->reason), "%s", r);
	else
		ERR_error_string_n(first, q->reason, sizeof(q->reason));
}

/* tls_reason - the queue's reason, for messages */
static const char *
tls_reason(struct tls_queue *q)
{
	tls_drain(q);
	return q->reason;
}

/* tls_open - a regular file that can be read, or NULL with *why_r:
 * OpenSSL's own messages for these do not name the file */
static FILE *
tls_open(const char *file, const char *what, char **why_r)
{
	struct stat sb;
	FILE *fp;

	if ((fp = fopen(file, "re")) == NULL) {
		tls_why(why_r, "%s: cannot open the %s file: %s", file, what,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
		(void)fclose(fp);
		tls_why(why_r, "%s: the %s file is not a regular file", file,
		    what);
		return NULL;
	}
	return fp;
}

/* tls_bad_pem - "FILE: bad WHAT: reason" from what the queue said */
static bool
tls_bad_pem(char **why_r, const char *file, const char *what,
    const struct tls_queue *q)
{
	if (q->bad_der)
		return tls_why(why_r, "%s: bad %s: broken ASN.1 (%s)", file,
		    what, q->reason);
	return tls_why(why_r, "%s: bad %s: %s", file, what, q->reason);
}

/* tls_no_passphrase - the PEM password callback: a daemon has nobody
 * to ask, so an encrypted key is an error, not a prompt on the tty */
static int
tls_no_passphrase(char *buf, int size, int rwflag, void *asked)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	if (asked != NULL)
		*(bool *)asked = true;
	return -1;
}

/* tls_info - OpenSSL's state callback: see the file comment */
static void
tls_info(const SSL *ssl, int where, int ret)
{
	struct tls_conn *c = SSL_get_app_data(ssl);

	if (c == NULL)
		return;
	if ((where & SSL_CB_ALERT) != 0 && (where & SSL_CB_WRITE) != 0 &&
	    (ret & 0xff) == SSL_AD_NO_RENEGOTIATION)
		c->renegotiation = true;
	/* TLS 1.3 "handshakes" after the first are session tickets and
	 * key updates, which are fine */
	if ((where & SSL_CB_HANDSHAKE_START) != 0 && c->handshake_done &&
	    SSL_version(ssl) < TLS1_3_VERSION)
		c->renegotiation = true;
}

/* tls_load_cert - the chain, leaf first */
static bool
tls_load_cert(SSL_CTX *ctx, const char *file, char **why_r)
{
	struct tls_queue q;
	FILE *fp;

	if ((fp = tls_open(file, "certificate", why_r)) == NULL)
		return false;
	(void)fclose(fp);
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, file) == 1)
		return true;
	tls_drain(&q);
	if (q.no_pem && !q.bad_der)
		return tls_why(why_r, "%s: no PEM certificate found", file);
	return tls_bad_pem(why_r, file, "certificate", &q);
}

/* tls_load_key - the private key, which must match the leaf */
static bool
tls_load_key(SSL_CTX *ctx, const char *key_file, const char *cert_file,
    char **why_r)
{
	bool asked = false, ok;
	struct tls_queue q;
	EVP_PKEY *pkey;
	FILE *fp;

	if ((fp = tls_open(key_file, "key", why_r)) == NULL)
		return false;
	ERR_clear_error();
	pkey = PEM_read_PrivateKey(fp, NULL, tls_no_passphrase, &asked);
	(void)fclose(fp);
	if (pkey == NULL) {
		tls_drain(&q);
		if (asked)
			return tls_why(why_r, "%s: the key is encrypted (no "
			    "passphrase can be given)", key_file);
		if (q.no_pem && !q.bad_der)
			return tls_why(why_r, "%s: no PEM private key found",
			    key_file);
		return tls_bad_pem(why_r, key_file, "private key", &q);
	}
	ok = X509_check_private_key(SSL_CTX_get0_certificate(ctx), pkey) ==
	    1 && SSL_CTX_use_PrivateKey(ctx, pkey) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1;
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	if (!ok)
		return tls_why(why_r, "%s: key does not match the "
		    "certificate in %s", key_file, cert_file);
	return true;
}

/* tls_server_new - see tls.h */
struct tls_server *
tls_server_new(const char *cert_file, const char *key_file,
    const char *min_version, const char *ciphers, char **why_r)
{
	const struct tls_version_name *v;
	struct tls_server *s;
	struct tls_queue q;
	SSL_CTX *ctx;

	*why_r = NULL;
	if (cert_file == NULL || key_file == NULL || min_version == NULL)
		log_panic("tls_server_new: NULL argument");
	for (v = tls_versions; v->name != NULL; v++)
		if (strcmp(v->name, min_version) == 0)
			break;
	if (v->name == NULL) {
		tls_why(why_r, "unknown minimum TLS version \"%s\" (TLSv1.2 "
		    "or TLSv1.3)", min_version);
		return NULL;
	}
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		log_panic("SSL_CTX_new: %s", tls_reason(&q));
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* RELEASE_BUFFERS: an idle TLS session gives its 2 x 16 KiB
	 * record buffers back (the mta keeps many sessions open) */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	SSL_CTX_set_info_callback(ctx, tls_info);
	/* DHE for old clients, with parameters sized to the key */
	SSL_CTX_set_dh_auto(ctx, 1);
	if (SSL_CTX_set_min_proto_version(ctx, v->version) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
		log_panic("SSL_CTX_set_min/max_proto_version: %s",
		    tls_reason(&q));
	if (ciphers != NULL && ciphers[0] != '\0' &&
	    SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		tls_why(why_r, "ciphers \"%s\": %s", ciphers, tls_reason(&q));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (!tls_load_cert(ctx, cert_file, why_r) ||
	    !tls_load_key(ctx, key_file, cert_file, why_r)) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->ctx = ctx;
	return s;
}

/* tls_server_free - sets *s NULL; NULL ok */
void
tls_server_free(struct tls_server **sp)
{
	struct tls_server *s;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	SSL_CTX_free(s->ctx);
	free(s);
	*sp = NULL;
}

/* tls_conn_new - server side on fd (not owned) */
struct tls_conn *
tls_conn_new(struct tls_server *s, int fd)
{
	struct tls_queue q;
	struct tls_conn *c;

	if (s == NULL || fd < 0)
		log_panic("tls_conn_new: no server or no socket");
	c = xcalloc(1, sizeof(*c));
	ERR_clear_error();
	/* only allocation can fail here: abort as xmalloc would */
	if ((c->ssl = SSL_new(s->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, fd) != 1)
		log_panic("tls_conn_new: %s", tls_reason(&q));
	SSL_set_app_data(c->ssl, c);
	SSL_set_accept_state(c->ssl);
	return c;
}

/* tls_conn_free - no close_notify; sets *c NULL; NULL ok */
void
tls_conn_free(struct tls_conn **cp)
{
	struct tls_conn *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	SSL_free(c->ssl);
	free(c);
	*cp = NULL;
}

/* tls_error_text - remember why the connection failed */
static void __attribute__((format(printf, 2, 3)))
tls_error_text(struct tls_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
}

/*
 * tls_result - map a failed SSL call (ret, and errno right after it) to
 * a TLS_* code; closed is what an orderly end means to this caller
 * (TLS_CLOSED when reading, TLS_ERROR when writing)
 */
static int
tls_result(struct tls_conn *c, int ret, int saved_errno, int closed)
{
	struct tls_queue q;
	char reason[128];

	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		ERR_clear_error();
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		ERR_clear_error();
		return TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		if (closed == TLS_ERROR)
			tls_error_text(c, "connection closed by the %s",
			    c->client ? "server" : "client");
		return closed;
	case SSL_ERROR_SYSCALL:
		c->failed = true;
		if (ERR_peek_last_error() != 0) {
			tls_error_text(c, "%s", tls_reason(&q));
			return TLS_ERROR;
		}
		if (saved_errno == 0) {
			if (closed == TLS_ERROR)
				tls_error_text(c, "connection closed by the "
				    "%s", c->client ? "server" : "client");
			return closed;
		}
		/* sessions may run in several threads: not strerror */
		tls_error_text(c, "%s",
		    strerror_r(saved_errno, reason, sizeof(reason)));
		return TLS_ERROR;
	case SSL_ERROR_SSL:
		c->failed = true;
		tls_drain(&q);
		/* what IGNORE_UNEXPECTED_EOF leaves: EOF mid-handshake */
		if (q.eof && closed == TLS_CLOSED)
			return TLS_CLOSED;
		tls_error_text(c, "%s", q.reason);
		return TLS_ERROR;
	default:
		c->failed = true;
		tls_error_text(c, "%s", tls_reason(&q));
		return TLS_ERROR;
	}
}

/* tls_refused - the client asked for renegotiation: end it here */
static int
tls_refused(struct tls_conn *c)
{
	ERR_clear_error();
	c->failed = true;
	tls_error_text(c, "client renegotiation refused");
	return TLS_ERROR;
}

/* tls_handshake - 1 done, or TLS_WANT_*, TLS_ERROR, TLS_CLOSED */
int
tls_handshake(struct tls_conn *c)
{
	int ret;

	if (c->failed)
		return TLS_ERROR;
	ERR_clear_error();
	errno = 0;
	if ((ret = SSL_do_handshake(c->ssl)) == 1) {
		c->handshake_done = true;
		return 1;
	}
	return tls_result(c, ret, errno, TLS_CLOSED);
}

/* tls_read - bytes read, or TLS_WANT_*, TLS_ERROR, TLS_CLOSED */
ssize_t
tls_read(struct tls_conn *c, void *buf, size_t len)
{
	size_t n = 0;
	int ret;

	if (len == 0)
		log_panic("tls_read: empty buffer");
	if (c->failed)
		return TLS_ERROR;
	ERR_clear_error();
	errno = 0;
	ret = SSL_read_ex(c->ssl, buf, len < SSIZE_MAX ? len : SSIZE_MAX,
	    &n);
	if (c->renegotiation)
		return tls_refused(c);
	if (ret == 1)
		return (ssize_t)n;
	return tls_result(c, ret, errno, TLS_CLOSED);
}

/* tls_write - bytes written, or TLS_WANT_*, TLS_ERROR */
ssize_t
tls_write(struct tls_conn *c, const void *buf, size_t len)
{
	size_t n = 0;
	int ret;

	if (len == 0)
		log_panic("tls_write: nothing to write");
	if (c->failed)
		return TLS_ERROR;
	ERR_clear_error();
	errno = 0;
	ret = SSL_write_ex(c->ssl, buf, len < SSIZE_MAX ? len : SSIZE_MAX,
	    &n);
	if (c->renegotiation)
		return tls_refused(c);
	if (ret == 1)
		return (ssize_t)n;
	return tls_result(c, ret, errno, TLS_ERROR);
}

/* tls_pending - decrypted bytes buffered inside */
size_t
tls_pending(struct tls_conn *c)
{
	int n = SSL_pending(c->ssl);

	return n > 0 ? (size_t)n : 0;
}

/* tls_shutdown - close_notify once, best effort; OpenSSL forbids it
 * after a fatal error and before the handshake is done */
void
tls_shutdown(struct tls_conn *c)
{
	if (c->shutdown_sent || c->failed || !c->handshake_done)
		return;
	c->shutdown_sent = true;
	ERR_clear_error();
	(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
}

/* tls_version - "TLSv1.3" */
const char *
tls_version(const struct tls_conn *c)
{
	return SSL_get_version(c->ssl);
}

/* tls_cipher - "TLS_AES_256_GCM_SHA384" */
const char *
tls_cipher(const struct tls_conn *c)
{
	return SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl));
}

/* tls_cipher_bits - 256 */
int
tls_cipher_bits(const struct tls_conn *c)
{
	return SSL_CIPHER_get_bits(SSL_get_current_cipher(c->ssl), NULL);
}

/* tls_error - the last error's text, "" if none */
const char *
tls_error(const struct tls_conn *c)
{
	return c->error;
}

/* tls_hostname_ok - letters, digits, '-' in dot-separated labels:
 * the name goes into a certificate and a subjectAltName value, where a
 * comma would start another entry */
static bool
tls_hostname_ok(const char *name)
{
	size_t label = 0, total = 0;
	const char *p;

	for (p = name; *p != '\0'; p++, total++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-') {
			if (++label > 63)
				return false;
		} else
			return false;
	}
	return label > 0 && total <= TLS_CN_MAX;
}

/* tls_ten_years - notAfter: the same date TLS_SELF_SIGNED_YEARS on */
static time_t
tls_ten_years(time_t now)
{
	struct tm tm;

	gmtime_r(&now, &tm);
	tm.tm_year += TLS_SELF_SIGNED_YEARS;
	return timegm(&tm);
}

/* tls_self_signed_cert - the certificate for hostname and pkey */
static X509 *
tls_self_signed_cert(const char *hostname, EVP_PKEY *pkey)
{
	const struct tls_extension *e;
	unsigned char serial[16];
	X509_EXTENSION *ext;
	X509_NAME *name;
	X509V3_CTX v3;
	BIGNUM *bn;
	char *san;
	bool ok;
	X509 *x;
	time_t now = time(NULL);

	if ((x = X509_new()) == NULL)
		return NULL;
	/* a positive 128-bit serial that needs all its bytes */
	ok = RAND_bytes(serial, sizeof(serial)) == 1;
	serial[0] = (serial[0] & 0x7f) | 0x40;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ok = ok && bn != NULL &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	name = X509_get_subject_name(x);
	ok = ok && X509_set_version(x, X509_VERSION_3) == 1 &&
	    ASN1_TIME_set(X509_getm_notBefore(x), now) != NULL &&
	    ASN1_TIME_set(X509_getm_notAfter(x), tls_ten_years(now)) !=
	    NULL &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)hostname, -1, -1, 0) == 1 &&
	    X509_set_issuer_name(x, name) == 1 &&
	    X509_set_pubkey(x, pkey) == 1;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	san = xasprintf("DNS:%s", hostname);
	for (e = tls_self_signed_exts; ok && e->nid != 0; e++) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, e->nid,
		    e->value != NULL ? e->value : san);
		ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
		X509_EXTENSION_free(ext);
	}
	free(san);
	if (!ok || X509_sign(x, pkey, EVP_sha256()) == 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* tls_write_all - all len bytes to fd */
static bool
tls_write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/*
 * tls_put_temp - the PEM text in bio to a new temp file beside file
 * (mode), synced; *tmp_r its malloc'ed name. The text is wiped from
 * the BIO: for the key it is the secret itself.
 */
static bool
tls_put_temp(const char *file, mode_t mode, BIO *bio, char **tmp_r,
    char **why_r)
{
	char *data, *tmp = xasprintf("%s.XXXXXX", file);
	long len = BIO_get_mem_data(bio, &data);
	int fd, saved;

	*tmp_r = NULL;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		saved = errno;
		OPENSSL_cleanse(data, (size_t)len);
		free(tmp);
		return tls_why(why_r, "%s: cannot create: %s", file,
		    strerror(saved));
	}
	if (fchmod(fd, mode) != 0 || !tls_write_all(fd, data, (size_t)len) ||
	    fsync(fd) != 0) {
		saved = errno;
		OPENSSL_cleanse(data, (size_t)len);
		(void)close(fd);
		(void)unlink(tmp);
		free(tmp);
		return tls_why(why_r, "%s: cannot write: %s", file,
		    strerror(saved));
	}
	OPENSSL_cleanse(data, (size_t)len);
	if (close(fd) != 0) {
		saved = errno;
		(void)unlink(tmp);
		free(tmp);
		return tls_why(why_r, "%s: cannot write: %s", file,
		    strerror(saved));
	}
	*tmp_r = tmp;
	return true;
}

/* tls_pem - the key (pkey) or else the certificate (x) as PEM in a
 * memory BIO; NULL on error */
static BIO *
tls_pem(EVP_PKEY *pkey, X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int ok;

	if (bio == NULL)
		return NULL;
	if (pkey != NULL)
		ok = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
		    NULL);
	else
		ok = PEM_write_bio_X509(bio, x);
	if (ok != 1) {
		BIO_free(bio);
		return NULL;
	}
	return bio;
}

/* tls_make_self_signed - see tls.h */
bool
tls_make_self_signed(const char *hostname, const char *cert_file,
    const char *key_file, char **why_r)
{
	char *key_tmp = NULL, *cert_tmp = NULL;
	BIO *key_pem = NULL, *cert_pem = NULL;
	struct tls_queue q;
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	bool ok = false;

	*why_r = NULL;
	if (!tls_hostname_ok(hostname))
		return tls_why(why_r, "\"%s\": not a host name of at most %d "
		    "characters", hostname, TLS_CN_MAX);
	ERR_clear_error();
	if ((pkey = EVP_EC_gen("P-256")) == NULL) {
		tls_why(why_r, "cannot make an EC P-256 key: %s",
		    tls_reason(&q));
		goto out;
	}
	if ((x = tls_self_signed_cert(hostname, pkey)) == NULL ||
	    (key_pem = tls_pem(pkey, NULL)) == NULL ||
	    (cert_pem = tls_pem(NULL, x)) == NULL) {
		tls_why(why_r, "cannot make the certificate: %s",
		    tls_reason(&q));
		goto out;
	}
	if (!tls_put_temp(key_file, 0600, key_pem, &key_tmp, why_r) ||
	    !tls_put_temp(cert_file, 0644, cert_pem, &cert_tmp, why_r))
		goto out;
	/* two renames: should the second fail, tls_server_new will say
	 * that the key does not match the certificate */
	if (rename(key_tmp, key_file) != 0) {
		tls_why(why_r, "%s: cannot rename %s to it: %s", key_file,
		    key_tmp, strerror(errno));
		goto out;
	}
	free(key_tmp);
	key_tmp = NULL;
	if (rename(cert_tmp, cert_file) != 0) {
		tls_why(why_r, "%s: cannot rename %s to it: %s", cert_file,
		    cert_tmp, strerror(errno));
		goto out;
	}
	ok = true;
out:
	if (key_tmp != NULL)
		(void)unlink(key_tmp);
	if (cert_tmp != NULL && !ok)
		(void)unlink(cert_tmp);
	free(key_tmp);
	free(cert_tmp);
	BIO_free(key_pem);
	BIO_free(cert_pem);
	X509_free(x);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return ok;
}

/* tls_client_new - see tls.h */
struct tls_client *
tls_client_new(const char *ca_file, char **why_r)
{
	struct tls_client *cl;
	struct tls_queue q;
	SSL_CTX *ctx;
	FILE *fp;

	*why_r = NULL;
	if (ca_file != NULL) {
		if ((fp = tls_open(ca_file, "CA", why_r)) == NULL)
			return NULL;
		(void)fclose(fp);
	}
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		log_panic("SSL_CTX_new: %s", tls_reason(&q));
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_dane_enable(ctx) <= 0)
		log_panic("tls_client_new: %s", tls_reason(&q));
	/* RFC 7672 section 3.1.1: DANE-EE(3) pins the key; the names in
	 * the certificate do not matter */
	(void)SSL_CTX_dane_set_flags(ctx, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			tls_why(why_r, "%s: bad CA file: %s", ca_file,
			    tls_reason(&q));
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		tls_why(why_r, "cannot load the system's CA store: %s",
		    tls_reason(&q));
		SSL_CTX_free(ctx);
		return NULL;
	}
	ERR_clear_error();
	cl = xcalloc(1, sizeof(*cl));
	cl->ctx = ctx;
	return cl;
}

/* tls_client_free - sets *c NULL; NULL ok */
void
tls_client_free(struct tls_client **clp)
{
	struct tls_client *cl;

	if (clp == NULL || (cl = *clp) == NULL)
		return;
	SSL_CTX_free(cl->ctx);
	free(cl);
	*clp = NULL;
}

/* tls_now - CLOCK_MONOTONIC in seconds, the deadline's clock */
static double
tls_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* tls_client_names - the reference identifiers; with DANE the first
 * one is the TLSA base domain (it becomes the SNI when none is set) */
static bool
tls_client_names(struct tls_conn *c, enum tls_verify verify,
    const char *const *names, size_t n_names, char **why_r)
{
	struct tls_queue q;
	size_t i;

	/* RFC 6125 section 6.4.3: a wildcard is the whole first label */
	SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (verify == TLS_VERIFY_DANE) {
		if (SSL_dane_enable(c->ssl, n_names > 0 ? names[0] : NULL) <=
		    0)
			return tls_why(why_r, "TLSA base domain \"%s\": %s",
			    n_names > 0 ? names[0] : "", tls_reason(&q));
	} else if (SSL_set1_host(c->ssl, names[0]) != 1)
		return tls_why(why_r, "name \"%s\": %s", names[0],
		    tls_reason(&q));
	for (i = 1; i < n_names; i++)
		if (SSL_add1_host(c->ssl, names[i]) != 1)
			return tls_why(why_r, "name \"%s\": %s", names[i],
			    tls_reason(&q));
	return true;
}

/* tls_client_tlsa - give OpenSSL the usable records; RFC 7672 section
 * 3.1.3: PKIX-TA(0) and PKIX-EE(1) are not for SMTP, and a malformed
 * record or an unknown matching type is unusable, not an error */
static bool
tls_client_tlsa(struct tls_conn *c, const struct tls_tlsa *tlsa,
    size_t n_tlsa, char **why_r)
{
	size_t i, usable = 0;

	for (i = 0; i < n_tlsa; i++) {
		if (tlsa[i].usage != TLS_USAGE_DANE_TA &&
		    tlsa[i].usage != TLS_USAGE_DANE_EE)
			continue;
		if (SSL_dane_tlsa_add(c->ssl, tlsa[i].usage, tlsa[i].selector,
		    tlsa[i].mtype, tlsa[i].data, tlsa[i].len) > 0)
			usable++;
		ERR_clear_error();
	}
	if (usable == 0)
		return tls_why(why_r, "no usable TLSA record");
	return true;
}

/* tls_client_handshake - drive the handshake on the non-blocking fd
 * until done or the deadline */
static bool
tls_client_handshake(struct tls_conn *c, int fd, enum tls_verify verify,
    double deadline, char **why_r)
{
	struct pollfd p = { .fd = fd };
	double left;
	long verr;
	int rc, n;

	while ((rc = tls_handshake(c)) != 1) {
		if (rc == TLS_CLOSED)
			return tls_why(why_r, "connection closed by the "
			    "server during the handshake");
		if (rc == TLS_ERROR) {
			verr = SSL_get_verify_result(c->ssl);
			if (verify != TLS_VERIFY_NONE && verr != X509_V_OK)
				return tls_why(why_r, "certificate verify "
				    "failed: %s",
				    X509_verify_cert_error_string(verr));
			return tls_why(why_r, "%s", c->error);
		}
		p.events = rc == TLS_WANT_READ ? POLLIN : POLLOUT;
		do {
			if ((left = deadline - tls_now()) <= 0)
				return tls_why(why_r, "handshake timed out");
			/* + 1: never wake up just short of the deadline */
			n = poll(&p, 1, left > INT_MAX / 1000 - 1 ? INT_MAX :
			    (int)(left * 1000) + 1);
		} while (n == 0 || (n < 0 && errno == EINTR));
		if (n < 0)
			return tls_why(why_r, "poll: %s", strerror(errno));
	}
	return true;
}

/* tls_client_peer - "CN=..., how" for tls_peer_info; bytes outside
 * printable ASCII become '?' (the text goes into log lines) */
static void
tls_client_peer(struct tls_conn *c, const char *how)
{
	X509 *x = SSL_get0_peer_certificate(c->ssl);
	char cn[TLS_CN_MAX * 4 + 1], *p;

	if (x == NULL || X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cn, sizeof(cn)) < 0)
		snprintf(cn, sizeof(cn), "(none)");
	for (p = cn; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	snprintf(c->peer, sizeof(c->peer), "CN=%s, %s", cn, how);
	ERR_clear_error();
}

/* tls_client_conn - see tls.h */
struct tls_conn *
tls_client_conn(struct tls_client *cl, int fd, const char *sni,
    enum tls_verify verify, const char *const *names, size_t n_names,
    const struct tls_tlsa *tlsa, size_t n_tlsa, double deadline,
    char **why_r)
{
	struct tls_queue q;
	struct tls_conn *c;
	bool ok = false;
	int flags;

	*why_r = NULL;
	if (cl == NULL || fd < 0)
		log_panic("tls_client_conn: no client or no socket");
	/* without a name any valid certificate would pass */
	if (verify == TLS_VERIFY_NAME && n_names == 0)
		log_panic("tls_client_conn: name check without names");
	if ((flags = fcntl(fd, F_GETFL)) < 0) {
		tls_why(why_r, "fcntl: %s", strerror(errno));
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->client = true;
	ERR_clear_error();
	if ((c->ssl = SSL_new(cl->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, fd) != 1)
		log_panic("tls_client_conn: %s", tls_reason(&q));
	SSL_set_app_data(c->ssl, c);
	SSL_set_connect_state(c->ssl);
	if (sni != NULL && SSL_set_tlsext_host_name(c->ssl, sni) != 1)
		tls_why(why_r, "SNI \"%s\": %s", sni, tls_reason(&q));
	else if (verify == TLS_VERIFY_NONE)
		SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	else if (tls_client_names(c, verify, names, n_names, why_r) &&
	    (verify != TLS_VERIFY_DANE ||
	    tls_client_tlsa(c, tlsa, n_tlsa, why_r)))
		SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	if (*why_r == NULL) {
		if ((flags & O_NONBLOCK) == 0 &&
		    fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
			tls_why(why_r, "fcntl: %s", strerror(errno));
		else {
			ok = tls_client_handshake(c, fd, verify, deadline,
			    why_r);
			if (fcntl(fd, F_SETFL, flags) != 0 && ok)
				ok = tls_why(why_r, "fcntl: %s",
				    strerror(errno));
		}
	}
	/* belt and braces: the handshake cannot end well otherwise */
	if (ok && verify == TLS_VERIFY_DANE &&
	    SSL_get0_dane_authority(c->ssl, NULL, NULL) < 0)
		ok = tls_why(why_r, "certificate verify failed: no TLSA "
		    "record matched");
	ERR_clear_error();
	if (!ok) {
		tls_conn_free(&c);
		return NULL;
	}
	tls_client_peer(c, verify == TLS_VERIFY_DANE ? "dane" :
	    verify == TLS_VERIFY_NAME ? "verified" : "unverified");
	return c;
}

/* tls_peer_info - "CN=..., verified|dane|unverified"; "" on the
 * server side, which asks for no client certificate */
const char *
tls_peer_info(const struct tls_conn *c)
{
	return c->peer;
}
