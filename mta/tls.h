/*
 * tls.h - TLS for the mta's SMTP sessions (OpenSSL stays in tls.c)
 *
 * Contract: a tls_server is made once per loaded config from a
 * certificate chain file and a key file (PEM); a tls_conn wraps one
 * non-blocking socket after STARTTLS (or at accept for implicit TLS,
 * port 465). Every I/O call returns at once: a count, or one of the
 * TLS_* codes below; TLS_WANT_READ / TLS_WANT_WRITE tell the event loop
 * what to wait for before calling the same function again (OpenSSL's
 * rule: retry with the same arguments). Nothing here reads before the
 * handshake: bytes a client pipelined after STARTTLS in plaintext were
 * already in the mta's buffer and are thrown away there (smtpd.c); the
 * TLS layer starts on a clean socket.
 *
 * Protocols: TLS 1.2 and 1.3 only (settings name the minimum); no
 * compression, no renegotiation (a client asking for it gets the
 * connection closed: TLS_ERROR), server cipher preference.
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum {
	TLS_WANT_READ = -2,
	TLS_WANT_WRITE = -3,
	TLS_ERROR = -4,		/* tls_error() says what */
	TLS_CLOSED = -5,	/* close_notify or EOF */
};

struct tls_server;
struct tls_conn;

/*
 * tls_server_new - from cert_file (chain, leaf first) and key_file;
 * min_version "TLSv1.2" or "TLSv1.3"; ciphers (TLS 1.2 list, "" = the
 * library's default). NULL with *why_r (malloc'ed: which file, what is
 * wrong, e.g. "key does not match the certificate").
 */
struct tls_server *tls_server_new(const char *cert_file,
    const char *key_file, const char *min_version, const char *ciphers,
    char **why_r);
/* tls_server_free - sets *s NULL; NULL ok; conns made from it keep a
 * reference and may outlive it */
void tls_server_free(struct tls_server **s);

/* tls_conn_new - server side on fd (not owned, not closed here) */
struct tls_conn *tls_conn_new(struct tls_server *s, int fd);
/* tls_conn_free - no close_notify is sent; sets *c NULL; NULL ok */
void tls_conn_free(struct tls_conn **c);

/* tls_handshake - 1 done, or TLS_WANT_*, TLS_ERROR, TLS_CLOSED */
int tls_handshake(struct tls_conn *c);
/* tls_read - bytes read (> 0), or TLS_WANT_*, TLS_ERROR, TLS_CLOSED */
ssize_t tls_read(struct tls_conn *c, void *buf, size_t len);
/* tls_write - bytes written (> 0), or TLS_WANT_*, TLS_ERROR */
ssize_t tls_write(struct tls_conn *c, const void *buf, size_t len);
/* tls_pending - decrypted bytes buffered inside (read them before
 * waiting on the socket again) */
size_t tls_pending(struct tls_conn *c);
/* tls_shutdown - send close_notify once (best effort, non-blocking) */
void tls_shutdown(struct tls_conn *c);

/* after the handshake: "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256 */
const char *tls_version(const struct tls_conn *c);
const char *tls_cipher(const struct tls_conn *c);
int tls_cipher_bits(const struct tls_conn *c);
/* tls_error - the last error's text (OpenSSL's reason), "" if none */
const char *tls_error(const struct tls_conn *c);

/*
 * Client side (delivery, issue 8). A tls_client is made once per config;
 * tls_client_conn() starts TLS on a connected, BLOCKING socket (the
 * delivery client runs on its own thread) with a deadline, and checks
 * the peer as the policy asks:
 *	TLS_VERIFY_NONE		encrypt only (opportunistic "may" and
 *				"encrypt" levels)
 *	TLS_VERIFY_NAME		the chain must verify against the system CA
 *				store (or ca_file) and match one of names
 *				(RFC 6125, wildcards in the first label)
 *	TLS_VERIFY_DANE		RFC 7672: the chain must match one of the
 *				given TLSA records (usage 2 or 3, selector
 *				0/1, matching 0/1/2); with usage 2 the name
 *				is checked too; usage 0/1 records are
 *				unusable; no usable record = failure
 * The connection then reads and writes with tls_read/tls_write (which on
 * a blocking socket never return TLS_WANT_*).
 */
struct tls_client;

enum tls_verify {
	TLS_VERIFY_NONE,
	TLS_VERIFY_NAME,
	TLS_VERIFY_DANE,
};

/* one TLSA record (RFC 6698) */
struct tls_tlsa {
	unsigned char usage, selector, mtype;
	const unsigned char *data;
	size_t len;
};

/* tls_client_new - ca_file NULL: the system's default store; NULL with
 * *why_r (malloc'ed) */
struct tls_client *tls_client_new(const char *ca_file, char **why_r);
/* tls_client_free - sets *c NULL; NULL ok */
void tls_client_free(struct tls_client **c);

/*
 * tls_client_conn - handshake as a client on fd (SNI = sni when not
 * NULL) within deadline (CLOCK_MONOTONIC seconds). NULL with *why_r
 * (malloc'ed: "certificate verify failed: ...", "no usable TLSA record",
 * "handshake timed out") when TLS cannot be had or the peer fails the
 * check; the caller decides whether that defers (verify, dane) or falls
 * back to plaintext (may).
 */
struct tls_conn *tls_client_conn(struct tls_client *c, int fd,
    const char *sni, enum tls_verify verify, const char *const *names,
    size_t n_names, const struct tls_tlsa *tlsa, size_t n_tlsa,
    double deadline, char **why_r);

/* tls_peer_info - "CN=..., verified|dane|unverified" for logs */
const char *tls_peer_info(const struct tls_conn *c);

/*
 * tls_make_self_signed - write a new self-signed certificate for
 * hostname (EC P-256, 10 years) to cert_file and its key to key_file
 * (mode 0600), for scripts/run's first start. false with *why_r.
 */
bool tls_make_self_signed(const char *hostname, const char *cert_file,
    const char *key_file, char **why_r);

#endif
