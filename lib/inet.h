/*
 * inet.h - IPv4/IPv6 addresses and CIDR networks
 *
 * Contract: addresses are kept in network byte order with their family.
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is turned into IPv4 by
 * inet_parse so that one client never has two identities. Parsers take text
 * only (no DNS) and return false on anything malformed.
 */
#ifndef POSTERN_INET_H
#define POSTERN_INET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define INET_TEXT_MAX 46	/* INET6_ADDRSTRLEN */

struct inet_addr {
	int family;		/* AF_INET or AF_INET6; 0 = none */
	uint8_t bytes[16];	/* 4 used for AF_INET */
};

struct inet_cidr {
	struct inet_addr net;	/* host bits cleared */
	unsigned prefix;	/* 0..32 or 0..128 */
};

/* inet_parse - "192.0.2.1", "2001:db8::1", also "[...]" and "IPv6:..."
 * forms as seen in SMTP address literals and milter macros */
bool inet_parse(const char *text, struct inet_addr *r);
/* inet_from_sockaddr - from a struct sockaddr (v4-mapped becomes v4) */
bool inet_from_sockaddr(const struct sockaddr *sa, struct inet_addr *r);
/* inet_format - canonical text (RFC 5952 for IPv6) into buf */
const char *inet_format(const struct inet_addr *a, char *buf, size_t len);

/*
 * inet_cidr_parse - "net/prefix" or a bare address (full-length prefix).
 * Host bits set below the prefix are an error (as Postfix warns), reported
 * through error_r (static text).
 */
bool inet_cidr_parse(const char *text, struct inet_cidr *r,
    const char **error_r);
/* inet_cidr_match - whether a is inside n (families must agree) */
bool inet_cidr_match(const struct inet_cidr *n, const struct inet_addr *a);

/* inet_reverse_name - "4.3.2.1" / 32 nibbles, for DNSBL, into buf */
const char *inet_reverse_name(const struct inet_addr *a, char *buf,
    size_t len);

/* inet_network_key - the address masked to prefix bits as text
 * ("192.0.2.0/24"), for greylisting and rate limits */
const char *inet_network_key(const struct inet_addr *a, unsigned prefix,
    char *buf, size_t len);

#endif
