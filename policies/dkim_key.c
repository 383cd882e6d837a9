/*
 * dkim_key.c - DKIM private keys and their DNS records (see dkim_key.h)
 *
 * The OpenSSL adapter: every EVP_PKEY is born and dies in this file.
 * Whatever the input form, a key goes through one EVP_PKEY and comes out
 * as the same struct dkim_key, so a key written by keygen and the same
 * key pasted into a KeyTable as base64 give identical pem and dns_p.
 *
 * Private key bytes pass through temporary buffers (file contents,
 * decoded DER, PEM output); those are wiped before they are freed, and
 * the PEM copy in the caller's arena is wiped when the arena goes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "arena.h"
#include "dkim_key.h"
#include "log.h"
#include "mem.h"

#define DKIM_KEY_RSA_MIN	1024	/* RFC 8301 §3.2 */
#define DKIM_KEY_RSA_MAX	8192
#define DKIM_KEY_ED25519_BITS	256
#define DKIM_KEY_ED25519_RAW	32	/* RFC 8032 public key */
#define DKIM_KEY_FILE_MAX	65536	/* an 8192-bit PEM is under 7 KB */

/* What this file knows about each key type, indexed by the enum. */
static const struct {
	const char *name;		/* k= value */
	const char *openssl;		/* EVP_PKEY_Q_keygen's name */
	int id;				/* EVP_PKEY_get_base_id() */
} dkim_key_types[] = {
	[DKIM_KEY_RSA] = { .name = "rsa", .openssl = "RSA",
	    .id = EVP_PKEY_RSA },
	[DKIM_KEY_ED25519] = { .name = "ed25519", .openssl = "ED25519",
	    .id = EVP_PKEY_ED25519 },
};

#define DKIM_KEY_NTYPES (sizeof(dkim_key_types) / sizeof(dkim_key_types[0]))

/* A sensitive block in an arena, wiped when the arena is destroyed. */
struct dkim_key_secret {
	void *p;
	size_t len;
};

/* One tag=value of a tag list (RFC 6376 §3.2): spans into the record,
 * the value without the whitespace around it. */
struct dkim_key_tag {
	const char *name, *value;
	size_t name_len, value_len;
};

/* dkim_key_type_name - "rsa" or "ed25519" (the k= tag value) */
const char *
dkim_key_type_name(enum dkim_key_type type)
{
	if ((size_t)type >= DKIM_KEY_NTYPES)
		log_panic("dkim_key_type_name: bad type %d", (int)type);
	return dkim_key_types[type].name;
}

/* dkim_key_oom - OpenSSL could not allocate: the same end as mem.h */
static void __attribute__((noreturn))
dkim_key_oom(const char *what)
{
	log_panic("dkim_key: %s: out of memory", what);
}

/* dkim_key_wipe - arena cleanup of a secret */
static void
dkim_key_wipe(void *arg)
{
	struct dkim_key_secret *s = arg;

	OPENSSL_cleanse(s->p, s->len);
}

/* dkim_key_space - white space of key text and tag lists, whatever the
 * locale; CR and LF included so that folded text counts as white space */
static bool
dkim_key_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}

/* dkim_key_b64char - in the base64 alphabet (padding aside) */
static bool
dkim_key_b64char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* dkim_key_base64 - base64 of len bytes, in arena */
static const char *
dkim_key_base64(struct arena *arena, const unsigned char *data, size_t len)
{
	char *out = arena_alloc(arena, 4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/*
 * dkim_key_unbase64 - decode base64 text with white space anywhere (as a
 * KeyTable entry or a wrapped file may carry); a malloc'ed buffer the
 * caller wipes and frees, or NULL when the text is not base64. OpenSSL's
 * decoders stop at '-' or count padding as data, hence the checks here.
 */
static unsigned char *
dkim_key_unbase64(const char *text, size_t len, size_t *len_r)
{
	char *clean = xmalloc(len + 1);
	unsigned char *out = NULL;
	size_t i, n = 0, pad = 0;
	int got;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)text[i];

		if (dkim_key_space(c))
			continue;
		if (c == '=')
			pad++;
		else if (!dkim_key_b64char(c) || pad > 0)
			goto done;	/* bad byte, or data after padding */
		clean[n++] = (char)c;
	}
	if (n == 0 || n % 4 != 0 || pad > 2)
		goto done;
	out = xmalloc(n / 4 * 3);
	got = EVP_DecodeBlock(out, (unsigned char *)clean, (int)n);
	if (got < 0 || (size_t)got < pad) {
		OPENSSL_clear_free(out, n / 4 * 3);
		out = NULL;
		goto done;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes */
	*len_r = (size_t)got - pad;
done:
	OPENSSL_cleanse(clean, len + 1);
	free(clean);
	return out;
}

/* dkim_key_no_passphrase - PEM password callback: never prompt (a
 * daemon has no terminal); remembers that a passphrase was wanted */
static int
dkim_key_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(bool *)u = true;
	return -1;
}

/* dkim_key_decode - an EVP_PKEY from PEM or bare base64 DER; NULL with a
 * static *why_r */
static EVP_PKEY *
dkim_key_decode(const char *text, size_t len, const char **why_r)
{
	static const char begin[] = "-----BEGIN";
	EVP_PKEY *pkey = NULL;
	const unsigned char *p;
	unsigned char *der;
	bool encrypted = false;
	size_t i, der_len = 0;
	BIO *bio;

	for (i = 0; i < len && dkim_key_space((unsigned char)text[i]); i++)
		;
	if (i == len) {
		*why_r = "empty key";
		return NULL;
	}
	if (len > INT_MAX) {
		*why_r = "not a private key (too long)";
		return NULL;
	}
	if (memmem(text, len, begin, sizeof(begin) - 1) != NULL) {
		if ((bio = BIO_new_mem_buf(text, (int)len)) == NULL)
			dkim_key_oom("BIO_new_mem_buf");
		pkey = PEM_read_bio_PrivateKey(bio, NULL,
		    dkim_key_no_passphrase, &encrypted);
		BIO_free(bio);
		if (pkey == NULL)
			*why_r = encrypted ? "encrypted private key "
			    "(passphrases are not supported)" :
			    "not a private key";
		return pkey;
	}
	if ((der = dkim_key_unbase64(text, len, &der_len)) == NULL) {
		*why_r = "not a private key (neither PEM nor base64)";
		return NULL;
	}
	p = der;
	pkey = d2i_AutoPrivateKey(NULL, &p, (long)der_len);
	if (pkey == NULL) {
		*why_r = "not a private key";
	} else if (p != der + der_len) {
		*why_r = "not a private key (data after the key)";
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	OPENSSL_clear_free(der, der_len);
	return pkey;
}

/* dkim_key_dns_p - the p= value: SubjectPublicKeyInfo for RSA (RFC
 * 6376 §3.6.1), the raw key for Ed25519 (RFC 8463 §4.2) */
static const char *
dkim_key_dns_p(struct arena *arena, EVP_PKEY *pkey, enum dkim_key_type type)
{
	unsigned char raw[DKIM_KEY_ED25519_RAW], *der, *q;
	size_t raw_len = sizeof(raw);
	const char *b64;
	int n;

	if (type == DKIM_KEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &raw_len) != 1 ||
		    raw_len != sizeof(raw))
			log_panic("dkim_key: Ed25519 key without a 32-byte "
			    "public key");
		return dkim_key_base64(arena, raw, raw_len);
	}
	if ((n = i2d_PUBKEY(pkey, NULL)) <= 0)
		log_panic("dkim_key: i2d_PUBKEY failed on a loaded key");
	q = der = xmalloc((size_t)n);
	if (i2d_PUBKEY(pkey, &q) != n)
		log_panic("dkim_key: i2d_PUBKEY changed its mind");
	b64 = dkim_key_base64(arena, der, (size_t)n);
	free(der);
	return b64;
}

/* dkim_key_pem - the private key as PKCS#8 PEM in arena, wiped with it */
static const char *
dkim_key_pem(struct arena *arena, EVP_PKEY *pkey)
{
	struct dkim_key_secret *s;
	char *data;
	long n;
	BIO *bio;

	/* secmem: the BIO wipes its buffer when freed */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		dkim_key_oom("BIO_new");
	if (PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
	    NULL) != 1)
		dkim_key_oom("PEM_write_bio_PKCS8PrivateKey");
	if ((n = BIO_get_mem_data(bio, &data)) <= 0)
		log_panic("dkim_key: empty PEM output");
	s = arena_alloc(arena, sizeof(*s));
	s->p = arena_strndup(arena, data, (size_t)n);
	s->len = (size_t)n;
	arena_cleanup(arena, dkim_key_wipe, s);
	BIO_free(bio);
	return s->p;
}

/* dkim_key_fill - check a decoded key and describe it; false with a
 * malloc'ed *error_r */
static bool
dkim_key_fill(struct arena *arena, EVP_PKEY *pkey, struct dkim_key *key_r,
    char **error_r)
{
	int id = EVP_PKEY_get_base_id(pkey);
	const char *name;
	size_t t;
	int bits;

	for (t = 0; t < DKIM_KEY_NTYPES; t++)
		if (dkim_key_types[t].id == id)
			break;
	if (t == DKIM_KEY_NTYPES) {
		name = EVP_PKEY_get0_type_name(pkey);
		*error_r = xasprintf("unsupported key type %s",
		    name != NULL ? name : "(unknown)");
		return false;
	}
	key_r->type = (enum dkim_key_type)t;
	if (key_r->type == DKIM_KEY_ED25519) {
		key_r->bits = DKIM_KEY_ED25519_BITS;
	} else {
		bits = EVP_PKEY_get_bits(pkey);
		if (bits < DKIM_KEY_RSA_MIN) {
			*error_r = xasprintf("RSA key of %d bits: under %d",
			    bits, DKIM_KEY_RSA_MIN);
			return false;
		}
		key_r->bits = (unsigned)bits;
	}
	key_r->dns_p = dkim_key_dns_p(arena, pkey, key_r->type);
	key_r->pem = dkim_key_pem(arena, pkey);
	return true;
}

/* dkim_key_parse - a key from text (PEM or bare base64 DER) */
bool
dkim_key_parse(struct arena *arena, const char *text, size_t len,
    struct dkim_key *key_r, char **error_r)
{
	const char *why;
	EVP_PKEY *pkey;
	bool ok;

	if ((pkey = dkim_key_decode(text, len, &why)) == NULL) {
		/* the reason is ours; OpenSSL's queue would only leak into
		 * the next caller on this thread */
		ERR_clear_error();
		*error_r = xstrdup(why);
		return false;
	}
	ok = dkim_key_fill(arena, pkey, key_r, error_r);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return ok;
}

/* dkim_key_read - a whole (small) file, malloc'ed; NULL with a malloc'ed
 * error naming the file */
static char *
dkim_key_read(const char *path, size_t *len_r, char **error_r)
{
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	ssize_t got;
	int fd;

	/* O_NONBLOCK: a FIFO in the key's place must not hang a reload;
	 * it changes nothing for the regular file that is required */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		*error_r = xasprintf("%s: not a regular file", path);
		goto fail;
	}
	/* one byte more than allowed tells an oversized file */
	data = xmalloc(DKIM_KEY_FILE_MAX + 1);
	while (len <= DKIM_KEY_FILE_MAX) {
		got = read(fd, data + len, DKIM_KEY_FILE_MAX + 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			*error_r = xasprintf("%s: %s", path, strerror(errno));
			goto fail;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > DKIM_KEY_FILE_MAX) {
		*error_r = xasprintf("%s: over %d bytes: not a key file",
		    path, DKIM_KEY_FILE_MAX);
		goto fail;
	}
	close(fd);
	*len_r = len;
	return data;
fail:
	if (data != NULL)
		OPENSSL_clear_free(data, DKIM_KEY_FILE_MAX + 1);
	close(fd);
	return NULL;
}

/* dkim_key_load - a key from a file; errors name the file */
bool
dkim_key_load(struct arena *arena, const char *path,
    struct dkim_key *key_r, char **error_r)
{
	char *data, *error;
	size_t len;
	bool ok;

	if ((data = dkim_key_read(path, &len, error_r)) == NULL)
		return false;
	ok = dkim_key_parse(arena, data, len, key_r, &error);
	OPENSSL_clear_free(data, DKIM_KEY_FILE_MAX + 1);
	if (!ok) {
		*error_r = xasprintf("%s: %s", path, error);
		free(error);
	}
	return ok;
}

/* dkim_key_generate - a new key; bits is ignored for Ed25519 */
bool
dkim_key_generate(struct arena *arena, enum dkim_key_type type,
    unsigned bits, struct dkim_key *key_r, char **error_r)
{
	unsigned long err;
	EVP_PKEY *pkey;
	bool ok;

	if ((size_t)type >= DKIM_KEY_NTYPES)
		log_panic("dkim_key_generate: bad type %d", (int)type);
	if (type == DKIM_KEY_RSA) {
		if (bits < DKIM_KEY_RSA_MIN || bits > DKIM_KEY_RSA_MAX) {
			*error_r = xasprintf("RSA key of %u bits: not in "
			    "%d..%d", bits, DKIM_KEY_RSA_MIN,
			    DKIM_KEY_RSA_MAX);
			return false;
		}
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	} else {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL,
		    dkim_key_types[type].openssl);
	}
	if (pkey == NULL) {
		err = ERR_get_error();
		*error_r = xasprintf("cannot generate an %s key: %s",
		    dkim_key_types[type].name, err != 0 ?
		    ERR_reason_error_string(err) : "OpenSSL failed");
		ERR_clear_error();
		return false;
	}
	ok = dkim_key_fill(arena, pkey, key_r, error_r);
	EVP_PKEY_free(pkey);
	return ok;
}

/* dkim_key_record - the TXT record's text: "v=DKIM1; k=rsa; p=..." */
const char *
dkim_key_record(struct arena *arena, const struct dkim_key *key)
{
	return arena_printf(arena, "v=DKIM1; k=%s; p=%s",
	    dkim_key_type_name(key->type), key->dns_p);
}

/* dkim_key_alpha - ALPHA of RFC 5234 */
static bool
dkim_key_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * dkim_key_tag_next - the tag-spec at *pp (RFC 6376 §3.2):
 *	[FWS] tag-name [FWS] "=" [FWS] tag-value [FWS] [";" [FWS]]
 * tag-name is ALPHA *(ALPHA / DIGIT / "_"), tag-value printable ASCII
 * but ';' with white space inside. 1 and *pp moved past it, 0 at the
 * end of the text, -1 when it is not a tag-spec.
 */
static int
dkim_key_tag_next(const char **pp, struct dkim_key_tag *tag)
{
	const char *p = *pp, *end;

	if (*p == '\0')
		return 0;
	while (dkim_key_space((unsigned char)*p))
		p++;
	if (!dkim_key_alpha((unsigned char)*p))
		return -1;
	tag->name = p;
	while (dkim_key_alpha((unsigned char)*p) ||
	    (*p >= '0' && *p <= '9') || *p == '_')
		p++;
	tag->name_len = (size_t)(p - tag->name);
	while (dkim_key_space((unsigned char)*p))
		p++;
	if (*p++ != '=')
		return -1;
	while (dkim_key_space((unsigned char)*p))
		p++;
	tag->value = end = p;
	for (; *p != '\0' && *p != ';'; p++) {
		if (*p >= 0x21 && *p <= 0x7e)
			end = p + 1;
		else if (!dkim_key_space((unsigned char)*p))
			return -1;
	}
	tag->value_len = (size_t)(end - tag->value);
	if (*p == ';')
		for (p++; dkim_key_space((unsigned char)*p); p++)
			;
	*pp = p;
	return 1;
}

/* dkim_key_tag_is - the tag's name is name */
static bool
dkim_key_tag_is(const struct dkim_key_tag *tag, const char *name)
{
	return tag->name_len == strlen(name) &&
	    memcmp(tag->name, name, tag->name_len) == 0;
}

/* dkim_key_value_is - the tag's value is text */
static bool
dkim_key_value_is(const struct dkim_key_tag *tag, const char *text)
{
	return tag->value_len == strlen(text) &&
	    memcmp(tag->value, text, tag->value_len) == 0;
}

/* dkim_key_tags_valid - the whole record is a tag-list without a
 * duplicate tag name (§3.2: a duplicate invalidates the list) */
static bool
dkim_key_tags_valid(const char *record)
{
	struct dkim_key_tag tag, prev;
	const char *p = record, *q;
	size_t count = 0;
	int r;

	while ((r = dkim_key_tag_next(&p, &tag)) == 1) {
		count++;
		/* the tags before this one parsed, so this walk reaches
		 * it; quadratic, but a key record has a handful of tags */
		q = record;
		while (dkim_key_tag_next(&q, &prev) == 1 &&
		    prev.name != tag.name)
			if (prev.name_len == tag.name_len &&
			    memcmp(prev.name, tag.name, tag.name_len) == 0)
				return false;
	}
	return r == 0 && count > 0;
}

/* dkim_key_p_equal - p= value (white space ignored) equals dns_p */
static bool
dkim_key_p_equal(const struct dkim_key_tag *tag, const char *dns_p)
{
	size_t i;

	for (i = 0; i < tag->value_len; i++) {
		if (dkim_key_space((unsigned char)tag->value[i]))
			continue;
		if (*dns_p++ != tag->value[i])
			return false;
	}
	return *dns_p == '\0';
}

/* dkim_key_check_record - does a published TXT record belong to key? */
bool
dkim_key_check_record(const struct dkim_key *key, const char *record,
    const char **why_r)
{
	struct dkim_key_tag tag, p_tag;
	const char *pos = record, *want = dkim_key_type_name(key->type);
	const char *k = dkim_key_types[DKIM_KEY_RSA].name; /* the default */
	size_t k_len = strlen(k), i;
	bool have_p = false;

	if (!dkim_key_tags_valid(record)) {
		*why_r = "malformed tag list";
		return false;
	}
	for (i = 0; dkim_key_tag_next(&pos, &tag) == 1; i++) {
		if (dkim_key_tag_is(&tag, "v")) {
			/* §3.6.1: v= MUST be the first tag */
			if (i != 0) {
				*why_r = "malformed tag list";
				return false;
			}
			if (!dkim_key_value_is(&tag, "DKIM1")) {
				*why_r = "v= is not DKIM1";
				return false;
			}
		} else if (dkim_key_tag_is(&tag, "k")) {
			k = tag.value;
			k_len = tag.value_len;
		} else if (dkim_key_tag_is(&tag, "p")) {
			p_tag = tag;
			have_p = true;
		}
		/* h=, s=, t=, n= and unknown tags (§3.6.1: ignored)
		 * do not decide whether the key matches */
	}
	if (!have_p) {
		*why_r = "no p= tag";
		return false;
	}
	if (p_tag.value_len == 0) {
		*why_r = "key revoked (empty p=)";
		return false;
	}
	if (k_len != strlen(want) || memcmp(k, want, k_len) != 0) {
		*why_r = "k= does not match the key";
		return false;
	}
	if (!dkim_key_p_equal(&p_tag, key->dns_p)) {
		*why_r = "p= does not match the key";
		return false;
	}
	return true;
}
