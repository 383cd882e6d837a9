/*
 * smtp_parse.h - the grammar of SMTP command lines (RFC 5321 §4.1 and
 * the extensions the mta offers), with nothing about session state
 *
 * Contract: every parser takes one command line without its CR LF and
 * either fills its result (strings in arena) or returns false with
 * *reply_r set to the complete SMTP reply the session must send (code,
 * enhanced status, text: "501 5.5.4 Syntax: MAIL FROM:<address>"). No
 * parser accepts what the grammar quoted above it in smtp_parse.c does
 * not allow, except where a comment there says that Postfix is lenient
 * in the same way (e.g. "MAIL FROM: <a@b>" with a space).
 *
 * Verbs: smtp_parse_verb() finds the verb (case-insensitive, 4 letters
 * or "STARTTLS") and the argument text after one space; the verb table
 * lives in smtpd.c, this only splits.
 *
 * Addresses: the path is checked with mailaddr_parse (lib/mailaddr.h);
 * a non-ASCII address is allowed only when smtputf8 is true (the
 * client gave SMTPUTF8 on MAIL; 553 5.6.7 otherwise). The result keeps
 * the address as written (without the brackets and without a source
 * route, which RFC 5321 says to ignore) plus the parsed form.
 */
#ifndef POSTERN_SMTP_PARSE_H
#define POSTERN_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "mailaddr.h"
#include "message.h"

/* smtp_parse_verb - split "VERB[ args]": the verb upper-cased into verb
 * (at most 15 bytes, else false), *args_r the rest ("" when none) */
bool smtp_parse_verb(const char *line, char verb[16], const char **args_r);

/* MAIL FROM:<path> [SP params] */
struct smtp_mail {
	const char *addr;	/* "" for <> */
	struct mailaddr parsed;
	uint64_t size;		/* SIZE=, 0 when not given */
	enum message_body_type body;
	enum message_ret ret;
	const char *envid;	/* xtext-decoded, or NULL */
	bool smtputf8;
	const char *auth;	/* AUTH= (xtext-decoded; "<>" kept), or NULL */
};

/* which extensions the session offered (parameters of others are 555) */
struct smtp_offer {
	bool size, eightbitmime, smtputf8, dsn, chunking, auth;
	bool binarymime;	/* RFC 3030: needs chunking too */
};

/* smtp_parse_mail - args of MAIL (after the verb) */
bool smtp_parse_mail(const char *args, const struct smtp_offer *offer,
    struct arena *arena, struct smtp_mail *r, const char **reply_r);

/* RCPT TO:<path> [SP params]; "<postmaster>" without a domain is allowed
 * (RFC 5321 §4.1.1.3) and reported with parsed.flags & MAILADDR_NO_DOMAIN */
struct smtp_rcpt {
	const char *addr;
	struct mailaddr parsed;
	unsigned notify;	/* MESSAGE_NOTIFY_*, 0 not given */
	const char *orcpt;	/* "rfc822;addr" decoded, or NULL */
};

/* smtp_parse_rcpt - args of RCPT; smtputf8 from this transaction's MAIL */
bool smtp_parse_rcpt(const char *args, const struct smtp_offer *offer,
    bool smtputf8, struct arena *arena, struct smtp_rcpt *r,
    const char **reply_r);

/* smtp_parse_helo - EHLO/HELO argument: a domain or an address literal
 * (RFC 5321 §4.1.1.1); *name_r as given, trailing dot kept */
bool smtp_parse_helo(const char *args, struct arena *arena,
    const char **name_r, const char **reply_r);

/* smtp_parse_bdat - "chunk-size [SP LAST]" (RFC 3030); sizes up to
 * UINT64_MAX/2, leading zeros allowed */
bool smtp_parse_bdat(const char *args, uint64_t *size_r, bool *last_r,
    const char **reply_r);

/* smtp_parse_auth - "mechanism [SP initial-response]" (RFC 4954); the
 * mechanism upper-cased; *resp_r NULL when none */
bool smtp_parse_auth(const char *args, struct arena *arena,
    const char **mech_r, const char **resp_r, const char **reply_r);

/* smtp_xtext_decode - RFC 3461 xtext ("+2B" escapes, printable ASCII
 * but "+" and "="); NULL if malformed */
const char *smtp_xtext_decode(const char *text, struct arena *arena);
/* smtp_xtext_encode - the other way (for the queue file and DSNs) */
const char *smtp_xtext_encode(const char *text, struct arena *arena);

#endif
