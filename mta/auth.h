/*
 * auth.h - SMTP AUTH for the mta: PLAIN and LOGIN against a file of
 * crypt(3) hashes
 *
 * Password file (auth_users in mta.conf): one "user:hash" per line, hash
 * as crypt(3) makes it (yescrypt "$y$", SHA-512 "$6$", ...; mkpasswd(1)
 * or `openssl passwd -6`); '#' comments and empty lines ignored. A
 * malformed line (no colon, empty user, a hash crypt does not know,
 * duplicate user) is reported at load as FILE:LINE and refuses the
 * config. The file is read once per config load.
 *
 * Mechanisms (RFC 4616, RFC 4954; LOGIN as deployed): the SMTP layer
 * gives the base64 lines as received; auth_step() decodes and says what
 * to send next. "*" cancels (501 5.7.0 in smtpd). Bad base64 is a 501
 * 5.5.2. PLAIN with an authorization identity different from the
 * authentication identity fails (no proxy authorisation).
 *
 * Verification is slow on purpose (yescrypt: tens of milliseconds):
 * auth_verify() is for a job thread. Unknown users cost a dummy
 * crypt() too, so timing does not tell which users exist.
 *
 * Threads: an auth_db is read-only after load; auth_verify is
 * thread-safe (crypt_r).
 */
#ifndef POSTERN_AUTH_H
#define POSTERN_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

struct auth_db;

/* auth_db_load - read path; NULL with *why_r (malloc'ed, one "FILE:LINE:
 * text" line per problem) */
struct auth_db *auth_db_load(const char *path, char **why_r);
/* auth_db_free - sets *db NULL; NULL ok */
void auth_db_free(struct auth_db **db);
/* auth_db_count - how many users */
size_t auth_db_count(const struct auth_db *db);

/* auth_verify - user's password is pass (constant work for unknown
 * users); never true for an empty password */
bool auth_verify(const struct auth_db *db, const char *user,
    const char *pass);

enum auth_mech {
	AUTH_MECH_PLAIN,
	AUTH_MECH_LOGIN,
	AUTH_MECH_COUNT,
};

/* auth_mech_parse - "PLAIN"/"LOGIN" (any case); false if unknown */
bool auth_mech_parse(const char *name, enum auth_mech *r);
/* auth_mech_name - "PLAIN", "LOGIN" */
const char *auth_mech_name(enum auth_mech m);

enum auth_status {
	AUTH_CONTINUE,	/* send "334 " + *challenge_r (base64) */
	AUTH_CHECK,	/* user and password known: verify them */
	AUTH_CANCEL,	/* the client sent "*" */
	AUTH_BAD,	/* malformed: bad base64 or bad PLAIN message */
};

/* One exchange; zeroed by the caller, strings in arena. */
struct auth_exchange {
	enum auth_mech mech;
	int step;
	const char *user;
	const char *pass;
};

/*
 * auth_step - feed one client line: the initial response of "AUTH MECH
 * resp" (NULL when none was given, "=" for an empty one) at step 0, then
 * each line the client sends after a 334. On AUTH_CONTINUE
 * *challenge_r is the base64 challenge (LOGIN: "VXNlcm5hbWU6" then
 * "UGFzc3dvcmQ6"; PLAIN without initial response: "").
 */
enum auth_status auth_step(struct auth_exchange *x, const char *line,
    struct arena *arena, const char **challenge_r);

/* auth_base64_decode - strict RFC 4648 base64 (padding required, no
 * white space) into arena, NUL-terminated; false if malformed */
bool auth_base64_decode(const char *text, struct arena *arena,
    char **out_r, size_t *len_r);
/* auth_base64_encode - into arena */
char *auth_base64_encode(const void *data, size_t len, struct arena *arena);

#endif
