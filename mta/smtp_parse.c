/*
 * smtp_parse.c - the grammar of SMTP command lines (RFC 5321 §4.1 and
 * the extensions the mta offers)
 *
 * Each parser below quotes the ABNF it implements. The ESMTP parameters
 * of MAIL and RCPT are declared in two tables (keyword, the extension that
 * must have been offered, whether a value follows, the value parser, the
 * reply for a bad value); smtp_parse_params() walks a command's
 * parameters through its table.
 *
 * Keywords are matched in any case: "FROM:", "TO:", parameter names and
 * their keyword values, "LAST", SASL mechanism names. RFC 5321 §2.4 says
 * so for verbs and extension keywords, and Postfix is as lenient for the
 * rest. Other leniencies, each one Postfix's too, are named where they
 * are implemented:
 * - one space after "FROM:" / "TO:" ("MAIL FROM: <a@b>");
 * - the AUTH= value of MAIL is only checked as xtext (RFC 4954 wants an
 *   addr-spec or "<>" inside; senders that get it wrong must not lose
 *   mail over a parameter that only carries information);
 * - '_' in EHLO/HELO names, and one trailing dot.
 * Everything else follows the grammar: single spaces between elements,
 * no trailing white space, angle brackets around paths, a domain in
 * every path but "<>" and "<Postmaster>".
 *
 * Hostile input: a control byte (below 0x20, or 0x7f) anywhere refuses
 * the command, and a reply echoes client text only after it passed the
 * esmtp-param grammar (printable ASCII), cut at SMTP_ECHO_MAX bytes. The
 * line is a C string: the reader must refuse a line that holds a NUL
 * before it gets here.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "smtp_parse.h"

#define SMTP_VERB_MAX	15	/* smtp_parse_verb's verb[16] */
#define SMTP_ECHO_MAX	100	/* client text in a reply */
#define SMTP_SIZE_DIGITS 20	/* RFC 1870 size-value */
#define SMTP_ENVID_MAX	100	/* RFC 3461 §4.4, ENVID as sent */
#define SMTP_ORCPT_MAX	500	/* RFC 3461 §4.2, ORCPT as sent */
#define SMTP_DOMAIN_MAX	255	/* RFC 5321 §4.5.3.1.2 */
#define SMTP_LABEL_MAX	63	/* RFC 1035 §2.3.4 */
#define SMTP_MECH_MAX	20	/* RFC 4422 §3.1 */

#define REPLY_MAIL_SYNTAX	"501 5.5.4 Syntax: MAIL FROM:<address>"
#define REPLY_RCPT_SYNTAX	"501 5.5.4 Syntax: RCPT TO:<address>"
#define REPLY_MAIL_ADDR		"501 5.1.7 Bad sender address syntax"
#define REPLY_RCPT_ADDR		"501 5.1.3 Bad recipient address syntax"
#define REPLY_UNICODE	\
	"553 5.6.7 Must declare SMTPUTF8 to send unicode address"
#define REPLY_HELO_SYNTAX	"501 5.5.4 Syntax: HELO/EHLO hostname"
#define REPLY_HELO_INVALID \
	"501 5.5.2 Helo command rejected: Invalid name"
#define REPLY_BDAT_SYNTAX	"521 5.5.4 Syntax: BDAT count [LAST]"
#define REPLY_AUTH_SYNTAX	"501 5.5.4 Syntax: AUTH mechanism"
#define REPLY_AUTH_BASE64	"501 5.5.2 Invalid base64 data in initial " \
				"response"

/* what the value parsers of one command fill in */
struct smtp_param_ctx {
	const struct smtp_offer *offer;
	struct arena *arena;
	struct smtp_mail *mail;		/* MAIL parameters, else NULL */
	struct smtp_rcpt *rcpt;		/* RCPT parameters, else NULL */
};

/*
 * One ESMTP parameter. offered is the offset of the struct smtp_offer
 * flag of the extension that defines it; a parameter of an extension that
 * was not offered is as unknown as any other (555). parse gets the value
 * (NULL for a parameter without one) and returns false if it is bad; the
 * reply is then bad, or 555 "Unsupported option" when bad is NULL (how
 * Postfix answers a BODY it does not know).
 */
struct smtp_param {
	const char *keyword;
	size_t offered;
	bool has_value;
	bool (*parse)(struct smtp_param_ctx *ctx, const char *value);
	const char *bad;
};

/* one keyword value and what it means */
struct smtp_word {
	const char *word;
	unsigned value;
};

/* smtp_is_alpha - ASCII letter */
static bool
smtp_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* smtp_is_digit - ASCII digit */
static bool
smtp_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* smtp_upper - ASCII upper case, whatever the locale */
static char
smtp_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* smtp_has_control - any byte below 0x20 or 0x7f */
static bool
smtp_has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* smtp_word_find - case-insensitive lookup of n bytes of text in words */
static const struct smtp_word *
smtp_word_find(const struct smtp_word *words, const char *text, size_t n)
{
	for (; words->word != NULL; words++)
		if (strlen(words->word) == n &&
		    strncasecmp(words->word, text, n) == 0)
			return words;
	return NULL;
}

/* smtp_parse_verb - split the verb (letters only) from its arguments */
bool
smtp_parse_verb(const char *line, char verb[16], const char **args_r)
{
	size_t n = 0;
	const char *p;

	verb[0] = '\0';
	*args_r = "";
	for (p = line; *p != '\0' && *p != ' '; p++) {
		if (!smtp_is_alpha(*p) || n == SMTP_VERB_MAX) {
			verb[0] = '\0';
			return false;
		}
		verb[n++] = smtp_upper(*p);
	}
	if (n == 0) {
		verb[0] = '\0';
		return false;
	}
	verb[n] = '\0';
	*args_r = *p == ' ' ? p + 1 : p;
	return true;
}

/*
 * smtp_xtext_decode - RFC 3461 §4
 *
 *	xtext   = *( xchar / hexchar )
 *	xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
 *	          except for "+" and "="
 *	hexchar = ASCII "+" immediately followed by two upper case
 *	          hexadecimal digits
 *
 * RFC 3461 also wants the decoded ENVID and ORCPT address made of
 * printable US-ASCII (graphic and white space), so an escape that decodes
 * to another control byte or to 8-bit data is malformed too: a "+0D+0A"
 * would otherwise end up in a DSN header.
 */
const char *
smtp_xtext_decode(const char *text, struct arena *arena)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *p, *hi, *lo;
	char *out, *q;

	out = q = arena_alloc(arena, strlen(text) + 1);
	for (p = text; *p != '\0'; p++) {
		if (*p != '+') {
			if (*p < '!' || *p > '~' || *p == '=')
				return NULL;
			*q++ = *p;
			continue;
		}
		if (p[1] == '\0' || p[2] == '\0' ||
		    (hi = strchr(hex, p[1])) == NULL ||
		    (lo = strchr(hex, p[2])) == NULL)
			return NULL;
		*q = (char)((hi - hex) << 4 | (lo - hex));
		if ((*q < ' ' && *q != '\t') || (unsigned char)*q >= 0x7f)
			return NULL;
		q++;
		p += 2;
	}
	*q = '\0';
	return out;
}

/* smtp_xtext_encode - every byte that is not an xchar becomes "+XX" */
const char *
smtp_xtext_encode(const char *text, struct arena *arena)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char *out, *q;

	out = q = arena_alloc(arena, strlen(text) * 3 + 1);
	for (p = (const unsigned char *)text; *p != '\0'; p++) {
		if (*p >= '!' && *p <= '~' && *p != '+' && *p != '=') {
			*q++ = (char)*p;
			continue;
		}
		*q++ = '+';
		*q++ = hex[*p >> 4];
		*q++ = hex[*p & 0x0f];
	}
	*q = '\0';
	return out;
}

/*
 * smtp_param_size - RFC 1870 §3
 *
 *	size-param = "SIZE=" size-value
 *	size-value = 1*20DIGIT
 *
 * Twenty digits can exceed 64 bits; such a size is kept as UINT64_MAX so
 * that the size policy (smtpd's) refuses it like any other huge size.
 */
static bool
smtp_param_size(struct smtp_param_ctx *ctx, const char *value)
{
	uint64_t size = 0;
	size_t n;

	for (n = 0; smtp_is_digit(value[n]); n++) {
		unsigned d = (unsigned)(value[n] - '0');

		if (size > (UINT64_MAX - d) / 10)
			size = UINT64_MAX;
		else
			size = size * 10 + d;
	}
	if (n == 0 || n > SMTP_SIZE_DIGITS || value[n] != '\0')
		return false;
	ctx->mail->size = size;
	return true;
}

/*
 * smtp_param_body - RFC 6152 §2 and RFC 3030 §3
 *
 *	body-param = "BODY=" body-value
 *	body-value = "7BIT" / "8BITMIME" / "BINARYMIME"
 *
 * BINARYMIME is known only when it was offered, which RFC 3030 §3 allows
 * only together with CHUNKING (it needs BDAT).
 */
static bool
smtp_param_body(struct smtp_param_ctx *ctx, const char *value)
{
	static const struct smtp_word bodies[] = {
		{ .word = "7BIT", .value = MESSAGE_BODY_7BIT },
		{ .word = "8BITMIME", .value = MESSAGE_BODY_8BITMIME },
		{ .word = "BINARYMIME", .value = MESSAGE_BODY_BINARYMIME },
		{ 0 },
	};
	const struct smtp_word *w;

	w = smtp_word_find(bodies, value, strlen(value));
	if (w == NULL || (w->value == MESSAGE_BODY_BINARYMIME &&
	    !(ctx->offer->binarymime && ctx->offer->chunking)))
		return false;
	ctx->mail->body = (enum message_body_type)w->value;
	return true;
}

/* smtp_param_smtputf8 - RFC 6531 §3.4: "SMTPUTF8", no value */
static bool
smtp_param_smtputf8(struct smtp_param_ctx *ctx, const char *value)
{
	(void)value;
	ctx->mail->smtputf8 = true;
	return true;
}

/*
 * smtp_param_ret - RFC 3461 §4.3
 *
 *	ret-parameter = "RET=" ret-value
 *	ret-value     = "FULL" / "HDRS"
 */
static bool
smtp_param_ret(struct smtp_param_ctx *ctx, const char *value)
{
	static const struct smtp_word rets[] = {
		{ .word = "FULL", .value = MESSAGE_RET_FULL },
		{ .word = "HDRS", .value = MESSAGE_RET_HDRS },
		{ 0 },
	};
	const struct smtp_word *w;

	if ((w = smtp_word_find(rets, value, strlen(value))) == NULL)
		return false;
	ctx->mail->ret = (enum message_ret)w->value;
	return true;
}

/*
 * smtp_param_envid - RFC 3461 §4.4
 *
 *	envid-parameter = "ENVID=" xtext
 *
 * at most 100 characters as sent.
 */
static bool
smtp_param_envid(struct smtp_param_ctx *ctx, const char *value)
{
	if (strlen(value) > SMTP_ENVID_MAX)
		return false;
	ctx->mail->envid = smtp_xtext_decode(value, ctx->arena);
	return ctx->mail->envid != NULL;
}

/*
 * smtp_param_auth - RFC 4954 §5
 *
 *	auth-param = "AUTH=" xtext
 *	    ;; the decoded form of the xtext MUST be
 *	    ;; either an addr-spec or the two characters "<>"
 *
 * Only the xtext is checked (see the top of this file); "<>" is kept.
 */
static bool
smtp_param_auth(struct smtp_param_ctx *ctx, const char *value)
{
	ctx->mail->auth = smtp_xtext_decode(value, ctx->arena);
	return ctx->mail->auth != NULL && ctx->mail->auth[0] != '\0';
}

/*
 * smtp_param_notify - RFC 3461 §4.1
 *
 *	notify-esmtp-value  = "NEVER" / 1#notify-list-element
 *	notify-list-element = "SUCCESS" / "FAILURE" / "DELAY"
 *
 * "1#" is a comma-separated list; empty elements are refused, and NEVER
 * stands alone.
 */
static bool
smtp_param_notify(struct smtp_param_ctx *ctx, const char *value)
{
	static const struct smtp_word notifies[] = {
		{ .word = "NEVER", .value = MESSAGE_NOTIFY_NEVER },
		{ .word = "SUCCESS", .value = MESSAGE_NOTIFY_SUCCESS },
		{ .word = "FAILURE", .value = MESSAGE_NOTIFY_FAILURE },
		{ .word = "DELAY", .value = MESSAGE_NOTIFY_DELAY },
		{ 0 },
	};
	const struct smtp_word *w;
	const char *p = value, *comma;
	unsigned mask = 0;

	for (;;) {
		if ((comma = strchr(p, ',')) == NULL)
			comma = p + strlen(p);
		if ((w = smtp_word_find(notifies, p,
		    (size_t)(comma - p))) == NULL)
			return false;
		mask |= w->value;
		if (*comma == '\0')
			break;
		p = comma + 1;
	}
	if ((mask & MESSAGE_NOTIFY_NEVER) && mask != MESSAGE_NOTIFY_NEVER)
		return false;
	ctx->rcpt->notify = mask;
	return true;
}

/*
 * smtp_param_orcpt - RFC 3461 §4.2
 *
 *	orcpt-parameter = "ORCPT=" original-recipient-address
 *	original-recipient-address = addr-type ";" xtext
 *	addr-type = atom
 *
 * atom as in RFC 822: 1*<any CHAR except specials, SPACE and CTLs>,
 * specials = "(" / ")" / "<" / ">" / "@" / "," / ";" / ":" / "\" /
 * DQUOTE / "." / "[" / "]". At most 500 characters as sent. The result is
 * "addr-type;decoded address".
 */
static bool
smtp_param_orcpt(struct smtp_param_ctx *ctx, const char *value)
{
	const char *semi, *p, *addr;

	if (strlen(value) > SMTP_ORCPT_MAX ||
	    (semi = strchr(value, ';')) == NULL || semi == value)
		return false;
	for (p = value; p < semi; p++)
		if (strchr("()<>@,;:\\\".[]", *p) != NULL)
			return false;
	if ((addr = smtp_xtext_decode(semi + 1, ctx->arena)) == NULL)
		return false;
	ctx->rcpt->orcpt = arena_printf(ctx->arena, "%.*s;%s",
	    (int)(semi - value), value, addr);
	return true;
}

#define OFFERED(flag)	offsetof(struct smtp_offer, flag)

/* MAIL parameters */
static const struct smtp_param smtp_mail_params[] = {
	{ .keyword = "SIZE", .offered = OFFERED(size), .has_value = true,
	  .parse = smtp_param_size,
	  .bad = "501 5.5.4 Bad message size syntax" },
	{ .keyword = "BODY", .offered = OFFERED(eightbitmime),
	  .has_value = true, .parse = smtp_param_body, .bad = NULL },
	{ .keyword = "SMTPUTF8", .offered = OFFERED(smtputf8),
	  .has_value = false, .parse = smtp_param_smtputf8,
	  .bad = "501 5.5.4 Bad SMTPUTF8 parameter syntax" },
	{ .keyword = "RET", .offered = OFFERED(dsn), .has_value = true,
	  .parse = smtp_param_ret,
	  .bad = "501 5.5.4 Bad RET parameter syntax" },
	{ .keyword = "ENVID", .offered = OFFERED(dsn), .has_value = true,
	  .parse = smtp_param_envid,
	  .bad = "501 5.5.4 Bad ENVID parameter syntax" },
	{ .keyword = "AUTH", .offered = OFFERED(auth), .has_value = true,
	  .parse = smtp_param_auth,
	  .bad = "501 5.5.4 Bad AUTH parameter syntax" },
	{ 0 },
};

/* RCPT parameters */
static const struct smtp_param smtp_rcpt_params[] = {
	{ .keyword = "NOTIFY", .offered = OFFERED(dsn), .has_value = true,
	  .parse = smtp_param_notify,
	  .bad = "501 5.5.4 Bad NOTIFY parameter syntax" },
	{ .keyword = "ORCPT", .offered = OFFERED(dsn), .has_value = true,
	  .parse = smtp_param_orcpt,
	  .bad = "501 5.5.4 Bad ORCPT parameter syntax" },
	{ 0 },
};

/* smtp_param_offered - the extension that defines param was offered */
static bool
smtp_param_offered(const struct smtp_param *param,
    const struct smtp_offer *offer)
{
	bool flag;

	memcpy(&flag, (const char *)offer + param->offered, sizeof(flag));
	return flag;
}

/*
 * smtp_esmtp_param_ok - RFC 5321 §4.1.2 (n bytes of text)
 *
 *	esmtp-param    = esmtp-keyword ["=" esmtp-value]
 *	esmtp-keyword  = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 *	esmtp-value    = 1*(%d33-60 / %d62-126)
 *	    ; any CHAR excluding "=", SP, and control characters
 *
 * *eq_r is the "=" or NULL.
 */
static bool
smtp_esmtp_param_ok(const char *text, size_t n, const char **eq_r)
{
	const char *p = text, *end = text + n;

	*eq_r = NULL;
	if (p == end || !(smtp_is_alpha(*p) || smtp_is_digit(*p)))
		return false;
	for (p++; p < end && *p != '='; p++)
		if (!(smtp_is_alpha(*p) || smtp_is_digit(*p) || *p == '-'))
			return false;
	if (p == end)
		return true;
	*eq_r = p;
	if (++p == end)
		return false;
	for (; p < end; p++)
		if (*p < '!' || *p > '~' || *p == '=')
			return false;
	return true;
}

/* smtp_unsupported - Postfix's 555 naming the parameter (n bytes) */
static const char *
smtp_unsupported(struct arena *arena, const char *param, size_t n)
{
	return arena_printf(arena, "555 5.5.4 Unsupported option: %.*s",
	    (int)(n < SMTP_ECHO_MAX ? n : SMTP_ECHO_MAX), param);
}

/*
 * smtp_parse_params - the parameters after a path, through table
 *
 *	Mail-parameters  = esmtp-param *(SP esmtp-param)
 *	Rcpt-parameters  = esmtp-param *(SP esmtp-param)
 *
 * A parameter that breaks esmtp-param is a syntax error (syntax); a
 * well-formed one that the table lacks, or whose extension was not
 * offered, is 555 (as in Postfix); a repeated one is a 501. p follows
 * a SP, so it must hold one parameter at least.
 */
static bool
smtp_parse_params(const char *p, const struct smtp_param *table,
    struct smtp_param_ctx *ctx, const char *syntax, const char **reply_r)
{
	const struct smtp_param *param;
	const char *end, *eq, *value;
	unsigned seen = 0;
	size_t n, kwlen;

	do {
		end = strchr(p, ' ');
		n = end ? (size_t)(end - p) : strlen(p);
		if (!smtp_esmtp_param_ok(p, n, &eq) ||
		    (end != NULL && end[1] == '\0')) {
			*reply_r = syntax;
			return false;
		}
		kwlen = eq ? (size_t)(eq - p) : n;
		for (param = table; param->keyword != NULL; param++)
			if (strlen(param->keyword) == kwlen &&
			    strncasecmp(param->keyword, p, kwlen) == 0)
				break;
		if (param->keyword == NULL ||
		    !smtp_param_offered(param, ctx->offer)) {
			*reply_r = smtp_unsupported(ctx->arena, p, n);
			return false;
		}
		if (seen & (1u << (unsigned)(param - table))) {
			*reply_r = arena_printf(ctx->arena,
			    "501 5.5.4 Duplicate %s parameter",
			    param->keyword);
			return false;
		}
		seen |= 1u << (unsigned)(param - table);
		value = eq ? arena_strndup(ctx->arena, eq + 1,
		    n - kwlen - 1) : NULL;
		if ((value != NULL) != param->has_value ||
		    !param->parse(ctx, value)) {
			*reply_r = param->bad ? param->bad :
			    smtp_unsupported(ctx->arena, p, n);
			return false;
		}
		p = end ? end + 1 : p + n;
	} while (*p != '\0');
	return true;
}

/*
 * smtp_path_end - the '>' that closes the path starting at p ('<'), or
 * NULL; a '>' inside a quoted local part does not count
 *
 *	Quoted-string    = DQUOTE *QcontentSMTP DQUOTE
 *	quoted-pairSMTP  = %d92 %d32-126
 */
static const char *
smtp_path_end(const char *p)
{
	bool quoted = false;

	for (p++; *p != '\0'; p++) {
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '>')
			return p;
	}
	return NULL;
}

/* smtp_has_8bit - any byte of 0x80 or above */
static bool
smtp_has_8bit(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/*
 * smtp_mail_path_ok - Reverse-path = Path / "<>": a Mailbox has a domain
 */
static bool
smtp_mail_path_ok(const struct mailaddr *a)
{
	return !(a->flags & MAILADDR_NO_DOMAIN) || (a->flags & MAILADDR_NULL);
}

/*
 * smtp_rcpt_path_ok - a Forward-path, or "<Postmaster>": "Postmaster" in
 * any case (RFC 5321 §4.5.1), but not quoted and without a source route
 */
static bool
smtp_rcpt_path_ok(const struct mailaddr *a)
{
	if (a->flags & MAILADDR_NULL)
		return false;
	if (!(a->flags & MAILADDR_NO_DOMAIN))
		return true;
	return strcasecmp(a->local, "postmaster") == 0 &&
	    !(a->flags & (MAILADDR_QUOTED | MAILADDR_ROUTING));
}

/* what differs between MAIL and RCPT */
struct smtp_cmd {
	const char *keyword;		/* "FROM:" */
	const char *syntax;		/* reply for a malformed command */
	const char *bad_addr;		/* reply for a malformed path */
	bool (*path_ok)(const struct mailaddr *);	/* beyond Path */
	const struct smtp_param *params;
};

static const struct smtp_cmd smtp_cmd_mail = {
	.keyword = "FROM:",
	.syntax = REPLY_MAIL_SYNTAX,
	.bad_addr = REPLY_MAIL_ADDR,
	.path_ok = smtp_mail_path_ok,
	.params = smtp_mail_params,
};

static const struct smtp_cmd smtp_cmd_rcpt = {
	.keyword = "TO:",
	.syntax = REPLY_RCPT_SYNTAX,
	.bad_addr = REPLY_RCPT_ADDR,
	.path_ok = smtp_rcpt_path_ok,
	.params = smtp_rcpt_params,
};

/*
 * smtp_parse_path - "KEYWORD:" [SP] Path [SP params], shared by MAIL and
 * RCPT: the path is parsed into *parsed and its text as written (no
 * brackets, no source route) into *addr_r; the parameters go through
 * ctx. The one space after the colon is Postfix's leniency. The
 * SMTPUTF8 check comes last because MAIL's own parameters can declare it
 * (*smtputf8).
 */
static bool
smtp_parse_path(const struct smtp_cmd *cmd, const char *args,
    struct smtp_param_ctx *ctx, const bool *smtputf8, const char **addr_r,
    struct mailaddr *parsed, const char **reply_r)
{
	size_t kwlen = strlen(cmd->keyword);
	const char *p, *end, *text;
	char *path;

	if (smtp_has_control(args) ||
	    strncasecmp(args, cmd->keyword, kwlen) != 0) {
		*reply_r = cmd->syntax;
		return false;
	}
	p = args + kwlen;
	if (*p == ' ')
		p++;
	if (*p == '\0') {
		*reply_r = cmd->syntax;
		return false;
	}
	if (*p != '<' || (end = smtp_path_end(p)) == NULL ||
	    (end[1] != '\0' && end[1] != ' ')) {
		*reply_r = cmd->bad_addr;
		return false;
	}
	path = arena_strndup(ctx->arena, p, (size_t)(end + 1 - p));
	if (!mailaddr_parse(ctx->arena, path, parsed, NULL) ||
	    !cmd->path_ok(parsed)) {
		*reply_r = cmd->bad_addr;
		return false;
	}
	/* RFC 5321 §4.1.1.3: the source route is ignored */
	text = path + 1;
	if (parsed->flags & MAILADDR_SOURCE_ROUTE)
		text = strchr(text, ':') + 1;
	*addr_r = arena_strndup(ctx->arena, text,
	    (size_t)(path + strlen(path) - 1 - text));
	if (end[1] == ' ' && !smtp_parse_params(end + 2, cmd->params, ctx,
	    cmd->syntax, reply_r))
		return false;
	if (!*smtputf8 && smtp_has_8bit(p, (size_t)(end - p))) {
		*reply_r = REPLY_UNICODE;
		return false;
	}
	return true;
}

/*
 * smtp_parse_mail - RFC 5321 §4.1.1.2 and §4.1.2
 *
 *	mail           = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
 *	Reverse-path   = Path / "<>"
 *	Path           = "<" [ A-d-l ":" ] Mailbox ">"
 *	Mailbox        = Local-part "@" ( Domain / address-literal )
 *
 * (Mail-parameters: smtp_parse_params; the path: mailaddr_parse.)
 */
bool
smtp_parse_mail(const char *args, const struct smtp_offer *offer,
    struct arena *arena, struct smtp_mail *r, const char **reply_r)
{
	struct smtp_param_ctx ctx = {
		.offer = offer, .arena = arena, .mail = r,
	};

	if (args == NULL || offer == NULL || arena == NULL || r == NULL ||
	    reply_r == NULL)
		log_panic("smtp_parse_mail: NULL argument");
	memset(r, 0, sizeof(*r));
	r->body = MESSAGE_BODY_UNSET;
	r->ret = MESSAGE_RET_UNSET;
	return smtp_parse_path(&smtp_cmd_mail, args, &ctx, &r->smtputf8,
	    &r->addr, &r->parsed, reply_r);
}

/*
 * smtp_parse_rcpt - RFC 5321 §4.1.1.3 and §4.1.2
 *
 *	rcpt           = "RCPT TO:" ( "<Postmaster@" Domain ">" /
 *	                 "<Postmaster>" / Forward-path )
 *	                 [SP Rcpt-parameters] CRLF
 *	Forward-path   = Path
 */
bool
smtp_parse_rcpt(const char *args, const struct smtp_offer *offer,
    bool smtputf8, struct arena *arena, struct smtp_rcpt *r,
    const char **reply_r)
{
	struct smtp_param_ctx ctx = {
		.offer = offer, .arena = arena, .rcpt = r,
	};

	if (args == NULL || offer == NULL || arena == NULL || r == NULL ||
	    reply_r == NULL)
		log_panic("smtp_parse_rcpt: NULL argument");
	memset(r, 0, sizeof(*r));
	return smtp_parse_path(&smtp_cmd_rcpt, args, &ctx, &smtputf8,
	    &r->addr, &r->parsed, reply_r);
}

/*
 * smtp_domain_ok - RFC 5321 §4.1.2, with '_' allowed and the trailing
 * dot dropped before the caller gets here
 *
 *	Domain         = sub-domain *("." sub-domain)
 *	sub-domain     = Let-dig [Ldh-str]
 *	Let-dig        = ALPHA / DIGIT
 *	Ldh-str        = *( ALPHA / DIGIT / "-" ) Let-dig
 */
static bool
smtp_domain_ok(const char *p, size_t n)
{
	size_t label = 0, i;

	if (n == 0 || n > SMTP_DOMAIN_MAX)
		return false;
	for (i = 0; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (label == 0 || p[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (++label > SMTP_LABEL_MAX)
			return false;
		if (p[i] == '-' ? label == 1 : !(smtp_is_alpha(p[i]) ||
		    smtp_is_digit(p[i]) || p[i] == '_'))
			return false;
	}
	return true;
}

/*
 * smtp_parse_helo - RFC 5321 §4.1.1.1 and §4.1.3
 *
 *	ehlo            = "EHLO" SP ( Domain / address-literal ) CRLF
 *	helo            = "HELO" SP Domain CRLF
 *	address-literal = "[" ( IPv4-address-literal /
 *	                  IPv6-address-literal /
 *	                  General-address-literal ) "]"
 *	IPv4-address-literal = Snum 3("."  Snum)
 *	IPv6-address-literal = "IPv6:" IPv6-addr
 *
 * Both verbs take either form (the contract). A literal is checked with
 * mailaddr_hostname_valid, which refuses General-address-literals (no
 * tag but IPv6 is registered). One trailing dot is allowed and kept, '_'
 * too (Postfix's valid_hostname). Replies to EHLO/HELO carry no enhanced
 * status code for a missing name (RFC 2034 §3); the invalid-name reply is
 * Postfix's reject_invalid_helo_hostname text without the name.
 */
bool
smtp_parse_helo(const char *args, struct arena *arena, const char **name_r,
    const char **reply_r)
{
	size_t n;

	if (args == NULL || arena == NULL || name_r == NULL ||
	    reply_r == NULL)
		log_panic("smtp_parse_helo: NULL argument");
	*name_r = NULL;
	if (*args == '\0') {
		*reply_r = REPLY_HELO_SYNTAX;
		return false;
	}
	n = strlen(args);
	if (args[0] == '[' ? !mailaddr_hostname_valid(args) :
	    !smtp_domain_ok(args, args[n - 1] == '.' ? n - 1 : n)) {
		*reply_r = REPLY_HELO_INVALID;
		return false;
	}
	*name_r = arena_strdup(arena, args);
	return true;
}

/*
 * smtp_parse_bdat - RFC 3030 §2
 *
 *	bdat-cmd   ::= "BDAT" SP chunk-size [ SP end-marker ] CR LF
 *	chunk-size ::= 1*DIGIT
 *	end-marker ::= "LAST"
 *
 * Any number of leading zeros; a size above UINT64_MAX / 2 is refused.
 * The reply is Postfix's: 521, because after a BDAT it cannot parse the
 * session cannot know where the chunk ends, and must hang up.
 */
bool
smtp_parse_bdat(const char *args, uint64_t *size_r, bool *last_r,
    const char **reply_r)
{
	uint64_t size = 0;
	const char *p;

	if (args == NULL || size_r == NULL || last_r == NULL ||
	    reply_r == NULL)
		log_panic("smtp_parse_bdat: NULL argument");
	*size_r = 0;
	*last_r = false;
	for (p = args; smtp_is_digit(*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');

		if (size > (UINT64_MAX / 2 - d) / 10) {
			*reply_r = REPLY_BDAT_SYNTAX;
			return false;
		}
		size = size * 10 + d;
	}
	if (p == args || (*p != '\0' && (*p != ' ' ||
	    strcasecmp(p + 1, "LAST") != 0))) {
		*reply_r = REPLY_BDAT_SYNTAX;
		return false;
	}
	*size_r = size;
	*last_r = *p == ' ';
	return true;
}

/*
 * smtp_base64_ok - RFC 4954 §4 (a non-empty base64 string)
 *
 *	base64          = base64-terminal /
 *	                  ( 1*(4base64-char) [base64-terminal] )
 *	base64-char     = ALPHA / DIGIT / "+" / "/"
 *	base64-terminal = (2base64-char "==") / (3base64-char "=")
 */
static bool
smtp_base64_ok(const char *s)
{
	size_t n = strlen(s), i, pad = 0;

	if (n == 0 || n % 4 != 0)
		return false;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n - pad; i++)
		if (!(smtp_is_alpha(s[i]) || smtp_is_digit(s[i]) ||
		    s[i] == '+' || s[i] == '/'))
			return false;
	return true;
}

/*
 * smtp_parse_auth - RFC 4954 §4 and RFC 4422 §3.1
 *
 *	auth-command     = "AUTH" SP sasl-mech [SP initial-response]
 *	                   *(CRLF [base64]) [CRLF cancel-response] CRLF
 *	initial-response = base64 / "="
 *	sasl-mech        = 1*20mech-char
 *	mech-char        = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE
 *
 * The mechanism is taken in any case (Postfix and Cyrus do) and handed
 * on upper-cased; the response is checked here and decoded by auth.c.
 */
bool
smtp_parse_auth(const char *args, struct arena *arena, const char **mech_r,
    const char **resp_r, const char **reply_r)
{
	const char *p, *resp = NULL;
	char *mech;
	size_t n;

	if (args == NULL || arena == NULL || mech_r == NULL ||
	    resp_r == NULL || reply_r == NULL)
		log_panic("smtp_parse_auth: NULL argument");
	*mech_r = *resp_r = NULL;
	for (p = args; *p != '\0' && *p != ' '; p++)
		if (!(smtp_is_alpha(*p) || smtp_is_digit(*p) || *p == '-' ||
		    *p == '_'))
			break;
	n = (size_t)(p - args);
	if (n == 0 || n > SMTP_MECH_MAX || (*p != '\0' && *p != ' ')) {
		*reply_r = REPLY_AUTH_SYNTAX;
		return false;
	}
	if (*p == ' ') {
		resp = p + 1;
		if (*resp == '\0' || strchr(resp, ' ') != NULL ||
		    smtp_has_control(resp)) {
			*reply_r = REPLY_AUTH_SYNTAX;
			return false;
		}
		if (strcmp(resp, "=") != 0 && !smtp_base64_ok(resp)) {
			*reply_r = REPLY_AUTH_BASE64;
			return false;
		}
	}
	mech = arena_strndup(arena, args, n);
	for (char *q = mech; *q != '\0'; q++)
		*q = smtp_upper(*q);
	*mech_r = mech;
	*resp_r = resp ? arena_strdup(arena, resp) : NULL;
	return true;
}
