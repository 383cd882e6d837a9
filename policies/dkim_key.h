/*
 * dkim_key.h - DKIM private keys and their DNS records (OpenSSL adapter)
 *
 * Contract: the only file that sees OpenSSL key types. A key is loaded
 * from a file or from text in any form OpenDKIM's KeyTable accepts: PEM
 * ("-----BEGIN ... PRIVATE KEY-----", PKCS#1 RSA or PKCS#8 RSA/Ed25519)
 * or the base64 of the DER without the PEM lines. Loading tells the key's
 * type and size and gives:
 *	pem	the private key re-encoded as PKCS#8 PEM, what libopendkim's
 *		dkim_sign() is handed (it accepts that for both types)
 *	dns_p	the value of the DNS record's p= tag: base64 of the DER
 *		SubjectPublicKeyInfo for RSA, base64 of the raw 32-byte
 *		public key for Ed25519 (RFC 8463)
 * Every string lives in the arena given. Errors are one line of text,
 * malloc'ed, naming what is wrong ("not a private key", "RSA key of 512
 * bits: under 1024", "unsupported key type EC").
 *
 * RSA keys under 1024 bits are refused (RFC 8301); Ed25519 keys are 256
 * bits. Generation makes RSA keys of 1024..8192 bits (default 2048) and
 * Ed25519 keys.
 */
#ifndef POSTERN_DKIM_KEY_H
#define POSTERN_DKIM_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

enum dkim_key_type {
	DKIM_KEY_RSA,
	DKIM_KEY_ED25519,
};

struct dkim_key {
	enum dkim_key_type type;
	unsigned bits;
	const char *pem;		/* PKCS#8 PEM, NUL-terminated */
	const char *dns_p;		/* base64, no whitespace */
};

/* dkim_key_type_name - "rsa" or "ed25519" (the k= tag value) */
const char *dkim_key_type_name(enum dkim_key_type type);

/* dkim_key_parse - a key from text (PEM or bare base64 DER) */
bool dkim_key_parse(struct arena *arena, const char *text, size_t len,
    struct dkim_key *key_r, char **error_r);

/* dkim_key_load - a key from a file; errors name the file */
bool dkim_key_load(struct arena *arena, const char *path,
    struct dkim_key *key_r, char **error_r);

/* dkim_key_generate - a new key; bits is ignored for Ed25519 */
bool dkim_key_generate(struct arena *arena, enum dkim_key_type type,
    unsigned bits, struct dkim_key *key_r, char **error_r);

/* dkim_key_record - the TXT record's text: "v=DKIM1; k=rsa; p=..." */
const char *dkim_key_record(struct arena *arena, const struct dkim_key *key);

/*
 * dkim_key_check_record - does a published TXT record (strings already
 * joined) belong to key? Tags are parsed per RFC 6376 §3.2 (whitespace
 * around tags and inside p= ignored). true when v= (if present) is DKIM1,
 * k= (default rsa) matches the key's type and p= equals dns_p; false with
 * *why_r (static text: "v= is not DKIM1", "k= does not match the key",
 * "key revoked (empty p=)", "p= does not match the key", "no p= tag",
 * "malformed tag list") otherwise.
 */
bool dkim_key_check_record(const struct dkim_key *key, const char *record,
    const char **why_r);

#endif
