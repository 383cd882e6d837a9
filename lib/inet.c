/*
 * inet.c - IPv4/IPv6 addresses and CIDR networks
 *
 * Text goes through inet_pton/inet_ntop only, so "01.2.3.4", "1.2.3",
 * hexadecimal parts and IPv6 zone ids ("%eth0") are refused: an address
 * that some other program would read differently is not an address here.
 * An IPv4-mapped IPv6 address becomes IPv4 wherever it enters, and a
 * mapped network of prefix 96 or more becomes the IPv4 network inside it,
 * so "::ffff:192.0.2.0/120" in a table matches client 192.0.2.7.
 *
 * Buffers: inet_format needs INET_TEXT_MAX bytes, inet_reverse_name 64
 * and inet_network_key INET_TEXT_MAX + 4; a shorter buffer is a bug.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "inet.h"
#include "log.h"

#define INET_INPUT_MAX	64	/* longer text is never an address */

static const uint8_t inet_mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
};

/* inet_bits - address width of a family; 0 for anything else */
static unsigned
inet_bits(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

/* inet_unmap - turn ::ffff:a.b.c.d into a.b.c.d; true if it was mapped */
static bool
inet_unmap(struct inet_addr *a)
{
	if (a->family != AF_INET6 ||
	    memcmp(a->bytes, inet_mapped_prefix, sizeof(inet_mapped_prefix)))
		return false;
	memmove(a->bytes, a->bytes + 12, 4);
	memset(a->bytes + 4, 0, 12);
	a->family = AF_INET;
	return true;
}

/* inet_strip - copy the address out of "[...]" and "IPv6:" wrappings */
static bool
inet_strip(const char *text, char *out, size_t outlen, bool *v6_only_r)
{
	size_t n = strlen(text);

	*v6_only_r = false;
	if (n > 0 && text[0] == '[') {
		if (n < 2 || text[n - 1] != ']')
			return false;
		text++;
		n -= 2;
	}
	if (n >= 5 && strncasecmp(text, "IPv6:", 5) == 0) {
		*v6_only_r = true;
		text += 5;
		n -= 5;
	}
	if (n == 0 || n >= outlen)
		return false;
	memcpy(out, text, n);
	out[n] = '\0';
	return true;
}

/* inet_parse_raw - like inet_parse, but a mapped address stays IPv6 */
static bool
inet_parse_raw(const char *text, struct inet_addr *r)
{
	char tmp[INET_INPUT_MAX];
	struct inet_addr a = { 0 };
	bool v6_only;

	if (text == NULL || !inet_strip(text, tmp, sizeof(tmp), &v6_only))
		return false;
	if (!v6_only && inet_pton(AF_INET, tmp, a.bytes) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, tmp, a.bytes) == 1)
		a.family = AF_INET6;
	else
		return false;
	*r = a;
	return true;
}

/* inet_parse - an address as text, optionally [bracketed] and IPv6: tagged */
bool
inet_parse(const char *text, struct inet_addr *r)
{
	struct inet_addr a;

	if (!inet_parse_raw(text, &a))
		return false;
	inet_unmap(&a);
	*r = a;
	return true;
}

/* inet_from_sockaddr - the address of a socket (v4-mapped becomes v4) */
bool
inet_from_sockaddr(const struct sockaddr *sa, struct inet_addr *r)
{
	const struct sockaddr_in *sin = (const void *)sa;
	const struct sockaddr_in6 *sin6 = (const void *)sa;
	struct inet_addr a = { 0 };

	if (sa == NULL)
		return false;
	switch (sa->sa_family) {
	case AF_INET:
		a.family = AF_INET;
		memcpy(a.bytes, &sin->sin_addr, 4);
		break;
	case AF_INET6:
		a.family = AF_INET6;
		memcpy(a.bytes, &sin6->sin6_addr, 16);
		inet_unmap(&a);
		break;
	default:
		return false;
	}
	*r = a;
	return true;
}

/* inet_format - canonical text; "unknown" for the empty address */
const char *
inet_format(const struct inet_addr *a, char *buf, size_t len)
{
	if (a->family == 0) {
		if (len < sizeof("unknown"))
			log_panic("inet_format: buffer of %zu bytes", len);
		memcpy(buf, "unknown", sizeof("unknown"));
		return buf;
	}
	if (inet_bits(a->family) == 0)
		log_panic("inet_format: family %d", a->family);
	/* glibc's inet_ntop writes RFC 5952 text: lower case, longest
	   zero run compressed, never a single zero field */
	if (inet_ntop(a->family, a->bytes, buf, (socklen_t)len) == NULL)
		log_panic("inet_format: buffer of %zu bytes", len);
	return buf;
}

/* inet_mask - clear the bits after prefix */
static void
inet_mask(struct inet_addr *a, unsigned prefix)
{
	unsigned width = inet_bits(a->family) / 8, i, keep;

	for (i = 0; i < width; i++) {
		if (prefix >= 8 * (i + 1))
			continue;
		keep = prefix > 8 * i ? prefix - 8 * i : 0;	/* 0..7 bits */
		a->bytes[i] &= (uint8_t)(0xff00 >> keep);
	}
}

/* inet_prefix - "0".."128" as decimal digits only */
static bool
inet_prefix(const char *s, unsigned *r)
{
	unsigned v = 0;
	size_t n = 0;

	for (; *s >= '0' && *s <= '9'; s++, n++) {
		if (n == 3)
			return false;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (n == 0 || *s != '\0')
		return false;
	*r = v;
	return true;
}

/* inet_cidr_parse - "net/prefix", "[v6net]/prefix", or a bare address */
bool
inet_cidr_parse(const char *text, struct inet_cidr *r, const char **error_r)
{
	char addr[INET_INPUT_MAX];
	const char *slash, *dummy;
	struct inet_addr a, masked;
	unsigned prefix;
	size_t n;

	if (error_r == NULL)
		error_r = &dummy;
	if (text == NULL || (n = strlen(text)) == 0) {
		*error_r = "bad address";
		return false;
	}
	if ((slash = strrchr(text, '/')) != NULL)
		n = (size_t)(slash - text);
	if (n >= sizeof(addr)) {
		*error_r = "bad address";
		return false;
	}
	memcpy(addr, text, n);
	addr[n] = '\0';
	if (!inet_parse_raw(addr, &a)) {
		*error_r = "bad address";
		return false;
	}
	if (slash == NULL)
		prefix = inet_bits(a.family);
	else if (!inet_prefix(slash + 1, &prefix) ||
	    prefix > inet_bits(a.family)) {
		*error_r = "bad prefix length";
		return false;
	}
	masked = a;
	inet_mask(&masked, prefix);
	if (memcmp(masked.bytes, a.bytes, sizeof(a.bytes)) != 0) {
		*error_r = "non-null host address bits";
		return false;
	}
	if (prefix >= 96 && inet_unmap(&a))
		prefix -= 96;
	r->net = a;
	r->prefix = prefix;
	return true;
}

/* inet_cidr_match - whether a lies inside n */
bool
inet_cidr_match(const struct inet_cidr *n, const struct inet_addr *a)
{
	struct inet_addr masked;

	if (a->family != n->net.family || inet_bits(a->family) == 0)
		return false;
	masked = *a;
	inet_mask(&masked, n->prefix);
	return memcmp(masked.bytes, n->net.bytes,
	    inet_bits(a->family) / 8) == 0;
}

/* inet_reverse_name - "4.3.2.1" or 32 dotted nibbles, lowest first */
const char *
inet_reverse_name(const struct inet_addr *a, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t need, i;
	char *p = buf;

	if (a->family == AF_INET) {
		if (snprintf(buf, len, "%u.%u.%u.%u", a->bytes[3], a->bytes[2],
		    a->bytes[1], a->bytes[0]) >= (int)len)
			log_panic("inet_reverse_name: buffer of %zu bytes",
			    len);
		return buf;
	}
	if (a->family != AF_INET6)
		log_panic("inet_reverse_name: family %d", a->family);
	need = 16 * 4;		/* 32 "x." pairs, the last dot becomes NUL */
	if (len < need)
		log_panic("inet_reverse_name: buffer of %zu bytes", len);
	for (i = 16; i-- > 0;) {
		*p++ = hex[a->bytes[i] & 0x0f];
		*p++ = '.';
		*p++ = hex[a->bytes[i] >> 4];
		*p++ = '.';
	}
	p[-1] = '\0';
	return buf;
}

/* inet_network_key - "192.0.2.0/24": the address masked to prefix bits */
const char *
inet_network_key(const struct inet_addr *a, unsigned prefix, char *buf,
    size_t len)
{
	struct inet_addr masked = *a;
	char text[INET_TEXT_MAX];

	if (inet_bits(a->family) == 0 || prefix > inet_bits(a->family))
		log_panic("inet_network_key: family %d prefix %u", a->family,
		    prefix);
	inet_mask(&masked, prefix);
	inet_format(&masked, text, sizeof(text));
	if (snprintf(buf, len, "%s/%u", text, prefix) >= (int)len)
		log_panic("inet_network_key: buffer of %zu bytes", len);
	return buf;
}
