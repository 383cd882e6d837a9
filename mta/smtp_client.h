/*
 * smtp_client.h - delivering one message to one next hop by SMTP or LMTP
 *
 * Contract: smtp_deliver() runs on a delivery thread and blocks (every
 * step has a deadline). It takes a message, the recipients that go to
 * one next hop (one struct transport of kind SMTP or LMTP), and fills in
 * one result per recipient; it never fails as a whole without saying so
 * per recipient.
 *
 * Finding the server (SMTP with mx): the MX records of the destination
 * (lib/dns.h), tried in preference order (equal preferences in random
 * order), each host's addresses (AAAA then A) in turn; no MX record: the
 * destination's own A/AAAA (RFC 5321 §5.1); a null MX ("0 .", RFC 7505):
 * every recipient fails at once with 5.1.10; a DNS error: every recipient
 * is deferred (4.4.3), never treated as "no such domain"; NXDOMAIN:
 * failure 5.1.2. Without mx, host is resolved to its addresses (or is
 * one). A server that refuses the connection, or answers the greeting
 * or EHLO with 4xx/5xx, makes the client try the next address; when all
 * fail, the recipients are deferred with the last error.
 *
 * The dialogue (RFC 5321, RFC 2033 for LMTP): greeting; EHLO (LHLO), or
 * HELO when EHLO is refused with 5xx (SMTP only); STARTTLS per the TLS
 * policy of the next hop (struct smtp_tls below), then EHLO again; MAIL
 * with SIZE (if offered), BODY=8BITMIME (if the message needs it and it
 * is offered; when it is not, the message is delivered anyway only if it
 * is 7-bit, else the recipients fail with 5.6.3), SMTPUTF8 (needed and
 * not offered: 5.6.7 failure), RET and ENVID when DSN is offered; RCPT
 * with NOTIFY and ORCPT when DSN is offered; commands pipelined when
 * PIPELINING is offered; DATA with the body dot-stuffed, every line end
 * CR LF, and lines over 998 bytes broken (as Postfix does with
 * smtp_line_length_limit); QUIT. LMTP gives one reply per accepted
 * recipient after the final dot. Every reply is read with smtp_reply.h.
 *
 * Connection reuse (with a cache in the settings): after a complete
 * transaction the connection is not closed but kept idle in the cache
 * under its next hop (transport nexthop and TLS level); the next
 * delivery to that next hop takes it instead of looking up and
 * connecting again, and sends MAIL at once. A kept connection that the
 * server closed or spoke on meanwhile, or that breaks (or gets 421)
 * before MAIL is answered, is dropped and the delivery goes on as
 * without the cache: a stale connection never defers a recipient. A
 * connection idles at most idle_limit seconds and is reused only while
 * younger than reuse_limit (Postfix's smtp_connection_cache_time_limit
 * and smtp_connection_reuse_time_limit).
 *
 * Results: 2xx → delivered; 4xx or a broken connection → deferred; 5xx →
 * failed, each with the server's reply as the diagnostic and the server's
 * name as remote_mta. A 5xx to MAIL or DATA fails every recipient, a 4xx
 * defers them.
 */
#ifndef POSTERN_SMTP_CLIENT_H
#define POSTERN_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "deliver_maildir.h"
#include "dns.h"
#include "message.h"
#include "tls.h"
#include "transport.h"

/* the TLS policy of a next hop (tls_policy_maps, Postfix's names) */
enum smtp_tls_level {
	SMTP_TLS_NONE,		/* never STARTTLS */
	SMTP_TLS_MAY,		/* STARTTLS if offered; if the handshake
				   fails, retry in plaintext */
	SMTP_TLS_ENCRYPT,	/* STARTTLS required, no verification */
	SMTP_TLS_VERIFY,	/* required, certificate verified against the
				   CA store and the MX host name */
	SMTP_TLS_DANE,		/* RFC 7672: TLSA records of the MX host
				   (DNSSEC-validated) decide; without secure
				   TLSA records, "may" */
};

struct smtp_tls {
	enum smtp_tls_level level;
	struct tls_client *client;	/* NULL only with SMTP_TLS_NONE */
};

struct smtp_client_settings {
	const char *helo_name;		/* myhostname */
	struct dns *dns;
	double connect_timeout;		/* 30 s */
	double helo_timeout;		/* greeting and EHLO: 300 s */
	double command_timeout;		/* MAIL, RCPT: 300 s */
	double data_timeout;		/* DATA content and the final reply:
					   600 s */
	const char *bind_address;	/* source address, or NULL */
	struct smtp_client_cache *cache; /* idle connections; NULL: a
					   connection per delivery */
};

/* one recipient of the delivery, and its outcome */
struct smtp_rcpt {
	const struct message_rcpt *rcpt;
	struct deliver_result result;	/* filled by smtp_deliver */
	const char *diagnostic;		/* the server's reply, or NULL */
	const char *remote_mta;		/* the server, or NULL */
	bool dsn_passed;		/* the server took DSN parameters (it
					   now reports success itself); false:
					   a NOTIFY=SUCCESS sender is told
					   "relayed" by us */
	bool final;			/* LMTP: delivered to the mailbox */
	unsigned conn_use;		/* 1: a new connection; n: its n-th
					   transaction (reuse); 0: none */
};

struct smtp_client_cache;

/* smtp_client_cache_new - an empty cache for threads to share; seconds
 * of idleness and of age after which a connection is not reused */
struct smtp_client_cache *smtp_client_cache_new(double idle_limit,
    double reuse_limit);
/* smtp_client_cache_idle - how many connections are idle in it now */
size_t smtp_client_cache_idle(struct smtp_client_cache *c);
/* smtp_client_cache_expire - QUIT and close the idle connections past
 * their limits (all of them with all); blocks (a job thread) */
void smtp_client_cache_expire(struct smtp_client_cache *c, bool all);
/* smtp_client_cache_free - QUIT and close everything; sets *c NULL;
 * NULL ok */
void smtp_client_cache_free(struct smtp_client_cache **c);

/* smtp_deliver - see the contract */
void smtp_deliver(const struct smtp_client_settings *set,
    const struct transport *t, const struct smtp_tls *tls,
    const struct message *m, struct smtp_rcpt *rcpts, size_t n,
    struct arena *arena);

#endif
