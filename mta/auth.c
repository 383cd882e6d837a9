/*
 * auth.c - SMTP AUTH: the password file, PLAIN and LOGIN, base64
 *
 * The password file is checked line by line at load, and each hash is
 * run through crypt(3) once there: a hash that crypt cannot use (an
 * unknown method such as "$9$", a locked "!" entry, a setting without
 * its hash part) would otherwise make that user's every login fail
 * quietly, so it refuses the config instead. That costs one crypt per
 * user at each load, which is the price of knowing.
 *
 * Unknown users are hashed too, against the setting of the first user in
 * the file: same method, same cost, so in the usual file where every
 * hash came from one tool with one setting an unknown name takes as long
 * as a wrong password. (A fixed setting of one method could not do that
 * for a file of "$6$" hashes.) A file without users uses a fixed
 * yescrypt setting, the libxcrypt default, so the answer still takes
 * the time a real check would.
 *
 * Decoded credentials live in the caller's arena and are wiped when it
 * is destroyed.
 */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "auth.h"
#include "buf.h"
#include "log.h"
#include "mem.h"

/* a file with more problems than this is probably not a password file */
#define AUTH_MAX_ERRORS 20

/* the dummy for a file without users: yescrypt, libxcrypt's default cost */
#define AUTH_EMPTY_DUMMY "$y$j9T$ZHVtbXkgc2FsdCBmb3Ig"

/* what load hashes to see whether crypt can use a stored hash */
#define AUTH_PROBE "postern-probe"

struct auth_user {
	const char *name;
	const char *hash;
	int line;		/* for "first on line N" */
};

struct auth_db {
	struct arena *arena;	/* names and hashes */
	struct auth_user *slots;	/* open addressing, name NULL = free */
	size_t mask;		/* slot count - 1 (a power of two - 1) */
	size_t count;
	const char *dummy;	/* the setting unknown users are hashed with */
};

/* what a load is collecting */
struct auth_load {
	const char *path;
	struct auth_db *db;
	struct buf errors;	/* "FILE:LINE: text" lines, '\n' between */
	int nerrors;
	struct crypt_data *cd;	/* for the probes, reused */
};

static const char auth_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* auth_hash_name - FNV-1a; user names are short */
static uint64_t
auth_hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* auth_slot - where name is, or the free slot where it would go */
static struct auth_user *
auth_slot(const struct auth_db *db, const char *name)
{
	size_t i = (size_t)auth_hash_name(name) & db->mask;

	while (db->slots[i].name != NULL &&
	    strcmp(db->slots[i].name, name) != 0)
		i = (i + 1) & db->mask;
	return &db->slots[i];
}

/* auth_grow - double the slots once they are half full */
static void
auth_grow(struct auth_db *db)
{
	struct auth_user *old = db->slots;
	size_t n = db->mask + 1, i;

	if (db->count + 1 <= n / 2)
		return;
	db->mask = 2 * n - 1;
	db->slots = xcalloc(2 * n, sizeof(*db->slots));
	for (i = 0; i < n; i++)
		if (old[i].name != NULL)
			*auth_slot(db, old[i].name) = old[i];
	free(old);
}

/* auth_problem - one "FILE:LINE: text" for the load's error report */
static void __attribute__((format(printf, 3, 4)))
auth_problem(struct auth_load *ld, int line, const char *fmt, ...)
{
	va_list ap;

	if (ld->errors.len > 0)
		buf_putc(&ld->errors, '\n');
	buf_printf(&ld->errors, "%s:%d: ", ld->path, line);
	va_start(ap, fmt);
	buf_vprintf(&ld->errors, fmt, ap);
	va_end(ap);
	ld->nerrors++;
}

/*
 * auth_hash_usable - crypt reproduces the hash's form: it knows the
 * method and parameters (crypt_rn fails, where crypt_r would give "*0"
 * or "*1"), and the result has the hash's length, so the stored string
 * is a whole hash and not only a setting that no password can match
 */
static const char *
auth_hash_usable(struct auth_load *ld, const char *hash)
{
	const char *out;

	memset(ld->cd, 0, sizeof(*ld->cd));
	out = crypt_rn(AUTH_PROBE, hash, ld->cd, sizeof(*ld->cd));
	if (out == NULL || out[0] == '*')
		return "crypt(3) does not know this hash";
	if (strlen(out) != strlen(hash))
		return "not a complete crypt(3) hash";
	return NULL;
}

/* auth_trim - drop white space (and a CR) at both ends, in place */
static char *
auth_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* auth_load_line - one line of the file: ignored, added, or a problem */
static void
auth_load_line(struct auth_load *ld, int lineno, char *line)
{
	struct auth_db *db = ld->db;
	struct auth_user *u;
	const char *why;
	char *colon, *s;

	line = auth_trim(line);
	if (line[0] == '\0' || line[0] == '#')
		return;
	if ((colon = strchr(line, ':')) == NULL) {
		auth_problem(ld, lineno, "no \":\" between user and hash");
		return;
	}
	*colon = '\0';
	if (line[0] == '\0') {
		auth_problem(ld, lineno, "empty user name");
		return;
	}
	for (s = line; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			auth_problem(ld, lineno,
			    "control character in user name");
			return;
		}
	if (colon[1] == '\0') {
		auth_problem(ld, lineno, "user \"%s\": empty hash", line);
		return;
	}
	if ((why = auth_hash_usable(ld, colon + 1)) != NULL) {
		auth_problem(ld, lineno, "user \"%s\": %s", line, why);
		return;
	}
	auth_grow(db);
	u = auth_slot(db, line);
	if (u->name != NULL) {
		auth_problem(ld, lineno, "duplicate user \"%s\" (first on "
		    "line %d)", line, u->line);
		return;
	}
	u->name = arena_strdup(db->arena, line);
	u->hash = arena_strdup(db->arena, colon + 1);
	u->line = lineno;
	if (db->dummy == NULL)
		db->dummy = u->hash;
	db->count++;
}

/* auth_db_load - read path; NULL with *why_r */
struct auth_db *
auth_db_load(const char *path, char **why_r)
{
	struct auth_load ld = { .path = path };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;
	FILE *fp;

	*why_r = NULL;
	if ((fp = fopen(path, "re")) == NULL) {
		*why_r = xasprintf("%s: cannot open: %s", path,
		    strerror(errno));
		return NULL;
	}
	ld.db = xcalloc(1, sizeof(*ld.db));
	ld.db->arena = arena_create();
	ld.db->mask = 15;
	ld.db->slots = xcalloc(ld.db->mask + 1, sizeof(*ld.db->slots));
	ld.cd = xcalloc(1, sizeof(*ld.cd));
	errno = 0;
	while ((n = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		if (strlen(line) != (size_t)n)
			auth_problem(&ld, lineno, "NUL byte in line");
		else
			auth_load_line(&ld, lineno, line);
		if (ld.nerrors >= AUTH_MAX_ERRORS) {
			buf_printf(&ld.errors, "\n%s: too many errors, "
			    "stopped at line %d", path, lineno);
			break;
		}
	}
	if (ferror(fp)) {
		if (ld.errors.len > 0)
			buf_putc(&ld.errors, '\n');
		buf_printf(&ld.errors, "%s: read error: %s", path,
		    strerror(errno != 0 ? errno : EIO));
	}
	(void)fclose(fp);
	free(line);
	free(ld.cd);
	if (ld.errors.len > 0) {
		auth_db_free(&ld.db);
		*why_r = buf_steal(&ld.errors);
		return NULL;
	}
	buf_free(&ld.errors);
	if (ld.db->dummy == NULL)
		ld.db->dummy = AUTH_EMPTY_DUMMY;
	return ld.db;
}

/* auth_db_free - sets *db NULL; NULL ok */
void
auth_db_free(struct auth_db **dbp)
{
	struct auth_db *db;

	if (dbp == NULL || (db = *dbp) == NULL)
		return;
	arena_destroy(&db->arena);
	free(db->slots);
	free(db);
	*dbp = NULL;
}

/* auth_db_count - how many users */
size_t
auth_db_count(const struct auth_db *db)
{
	return db->count;
}

/* auth_equal - compare without an early exit (the length is public) */
static bool
auth_equal(const char *a, const char *b)
{
	size_t n = strlen(a), i;
	unsigned char diff = 0;

	if (n != strlen(b))
		return false;
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* auth_verify - user's password is pass; never true for an empty one */
bool
auth_verify(const struct auth_db *db, const char *user, const char *pass)
{
	const struct auth_user *u;
	struct crypt_data *cd;
	const char *out;
	bool ok;

	if (db == NULL || user == NULL || pass == NULL)
		log_panic("auth_verify: NULL argument");
	if (pass[0] == '\0')
		return false;
	u = auth_slot(db, user);
	/* the same work whether or not the user exists */
	cd = xcalloc(1, sizeof(*cd));
	out = crypt_rn(pass, u->name != NULL ? u->hash : db->dummy, cd,
	    sizeof(*cd));
	ok = u->name != NULL && out != NULL && auth_equal(out, u->hash);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

/* auth_plain_step - RFC 4616: [authzid] NUL authcid NUL passwd */
static enum auth_status auth_plain_step(struct auth_exchange *,
    const char *, size_t, const char **);
/* auth_login_step - user name, then password, each on request */
static enum auth_status auth_login_step(struct auth_exchange *,
    const char *, size_t, const char **);

static const struct auth_mech_info {
	const char *name;
	/* before any response: the challenge that asks for one */
	const char *first_challenge;
	/* a decoded response (NUL-terminated after len): AUTH_CONTINUE
	 * with the next challenge, AUTH_CHECK, or AUTH_BAD */
	enum auth_status (*step)(struct auth_exchange *, const char *,
	    size_t, const char **);
} auth_mechs[] = {
	[AUTH_MECH_PLAIN] = { .name = "PLAIN", .first_challenge = "",
	    .step = auth_plain_step },
	[AUTH_MECH_LOGIN] = { .name = "LOGIN",
	    .first_challenge = "VXNlcm5hbWU6",	/* "Username:" */
	    .step = auth_login_step },
	[AUTH_MECH_COUNT] = { 0 },
};

/* auth_plain_step - see above; no challenge after the message */
static enum auth_status
auth_plain_step(struct auth_exchange *x, const char *data, size_t len,
    const char **challenge_r)
{
	const char *authcid, *passwd, *end = data + len;

	(void)challenge_r;
	if ((authcid = memchr(data, '\0', len)) == NULL)
		return AUTH_BAD;
	authcid++;
	if ((passwd = memchr(authcid, '\0', (size_t)(end - authcid))) == NULL)
		return AUTH_BAD;
	passwd++;
	if (memchr(passwd, '\0', (size_t)(end - passwd)) != NULL)
		return AUTH_BAD;
	/* RFC 4616: authcid and passwd are 1*SAFE */
	if (authcid[0] == '\0' || passwd[0] == '\0')
		return AUTH_BAD;
	/* no proxy authorisation: an authzid must name the same user */
	if (data[0] != '\0' && strcmp(data, authcid) != 0)
		return AUTH_BAD;
	x->user = authcid;
	x->pass = passwd;
	x->step++;
	return AUTH_CHECK;
}

/* auth_login_step - see above; a NUL would cut the name short */
static enum auth_status
auth_login_step(struct auth_exchange *x, const char *data, size_t len,
    const char **challenge_r)
{
	if (memchr(data, '\0', len) != NULL)
		return AUTH_BAD;
	x->step++;
	if (x->user == NULL) {
		x->user = data;
		*challenge_r = "UGFzc3dvcmQ6";	/* "Password:" */
		return AUTH_CONTINUE;
	}
	x->pass = data;
	return AUTH_CHECK;
}

/* secret bytes to wipe when the exchange's arena goes */
struct auth_wipe {
	void *p;
	size_t len;
};

/* auth_wipe - arena cleanup: the decoded response held a password */
static void
auth_wipe(void *arg)
{
	struct auth_wipe *w = arg;

	explicit_bzero(w->p, w->len);
}

/* auth_step - feed one client line */
enum auth_status
auth_step(struct auth_exchange *x, const char *line, struct arena *arena,
    const char **challenge_r)
{
	const struct auth_mech_info *m;
	enum auth_status st;
	struct auth_wipe *w;
	char *data;
	size_t len;

	if ((unsigned)x->mech >= AUTH_MECH_COUNT)
		log_panic("auth_step: bad mechanism %d", (int)x->mech);
	m = &auth_mechs[x->mech];
	if (x->step < 0 || x->pass != NULL)
		log_panic("auth_step: %s exchange already ended", m->name);
	*challenge_r = NULL;
	if (line == NULL) {
		if (x->step != 0)
			log_panic("auth_step: no response at step %d",
			    x->step);
		x->step++;
		*challenge_r = m->first_challenge;
		return AUTH_CONTINUE;
	}
	if (strcmp(line, "*") == 0) {
		x->step = -1;
		return AUTH_CANCEL;
	}
	/* RFC 4954: "=" is an empty initial response */
	if (x->step == 0 && strcmp(line, "=") == 0)
		line = "";
	if (!auth_base64_decode(line, arena, &data, &len)) {
		x->step = -1;
		return AUTH_BAD;
	}
	w = arena_alloc(arena, sizeof(*w));
	w->p = data;
	w->len = len;
	arena_cleanup(arena, auth_wipe, w);
	if ((st = m->step(x, data, len, challenge_r)) == AUTH_BAD)
		x->step = -1;
	return st;
}

/* auth_mech_parse - "PLAIN"/"LOGIN" (any case); false if unknown */
bool
auth_mech_parse(const char *name, enum auth_mech *r)
{
	int i;

	for (i = 0; auth_mechs[i].name != NULL; i++)
		if (strcasecmp(name, auth_mechs[i].name) == 0) {
			*r = (enum auth_mech)i;
			return true;
		}
	return false;
}

/* auth_mech_name - "PLAIN", "LOGIN" */
const char *
auth_mech_name(enum auth_mech m)
{
	if ((unsigned)m >= AUTH_MECH_COUNT)
		log_panic("auth_mech_name: bad mechanism %d", (int)m);
	return auth_mechs[m].name;
}

/* auth_b64_value - the 6 bits a base64 character stands for, or -1 */
static int
auth_b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * auth_base64_decode - strict RFC 4648: whole quanta, padding only at
 * the end, and pad bits zero (section 3.5), so each decoded value has
 * exactly one accepted encoding
 */
bool
auth_base64_decode(const char *text, struct arena *arena, char **out_r,
    size_t *len_r)
{
	size_t n = strlen(text), i, o = 0, pad = 0;
	unsigned char *out;
	int v[4], k;

	if (n % 4 != 0)
		return false;
	if (n > 0 && text[n - 1] == '=')
		pad = text[n - 2] == '=' ? 2 : 1;
	out = (unsigned char *)arena_alloc(arena, n / 4 * 3 + 1);
	for (i = 0; i < n; i += 4) {
		for (k = 0; k < 4; k++) {
			v[k] = auth_b64_value(text[i + k]);
			/* '=' only where the padding was found */
			if (v[k] < 0 && !(i + 4 == n && k >= 4 - (int)pad))
				return false;
		}
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (i + 4 == n && pad == 2) {
			if ((v[1] & 0x0f) != 0)
				return false;
			break;
		}
		out[o++] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
		if (i + 4 == n && pad == 1) {
			if ((v[2] & 0x03) != 0)
				return false;
			break;
		}
		out[o++] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
	}
	out[o] = '\0';
	*out_r = (char *)out;
	*len_r = o;
	return true;
}

/* auth_base64_encode - into arena, padded */
char *
auth_base64_encode(const void *data, size_t len, struct arena *arena)
{
	const unsigned char *p = data;
	char *out, *o;
	size_t i;
	uint32_t v;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 2)
		log_panic("auth_base64_encode: %zu bytes", len);
	o = out = arena_alloc(arena, (len + 2) / 3 * 4 + 1);
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = auth_b64_alphabet[v >> 18];
		*o++ = auth_b64_alphabet[v >> 12 & 0x3f];
		*o++ = auth_b64_alphabet[v >> 6 & 0x3f];
		*o++ = auth_b64_alphabet[v & 0x3f];
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		*o++ = auth_b64_alphabet[v >> 18];
		*o++ = auth_b64_alphabet[v >> 12 & 0x3f];
		*o++ = i + 1 < len ? auth_b64_alphabet[v >> 6 & 0x3f] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}
