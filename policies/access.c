/*
 * access.c - Postfix-compatible access restriction lists
 *
 * Five lists of Postfix restriction words, each run at its own stage
 * (client at CONNECT, helo at HELO, sender at MAIL, relay then recipient
 * at RCPT). Words are compiled at init into rules (word + opened table),
 * so a typo or a word used before its data exists is a config error with
 * FILE:LINE, never a surprise at run time.
 *
 * Evaluation follows Postfix: the first permit ends a list, the first
 * reject or defer is the verdict, HOLD is remembered while evaluation
 * goes on (a later reject wins over it), DISCARD ends everything. A
 * permit is reported as VERDICT_DUNNO with a reason, because VERDICT_OK
 * would skip the modules after us.
 *
 * Relay safety: reject_unauth_destination looks only at the parsed final
 * address (lib/mailaddr), refuses sender-specified routing unless
 * allow_untrusted_routing is set, and turns every lookup error into a
 * tempfail. Init refuses a config whose relay and recipient lists have no
 * working relay restriction at all, as Postfix does.
 *
 * Reply texts, codes and enhanced codes follow Postfix's smtpd so that
 * logs and bounces read the same after a migration.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "inet.h"
#include "log.h"
#include "lookup.h"
#include "mailaddr.h"
#include "matchlist.h"
#include "mem.h"
#include "policy.h"
#include "table.h"

/* Longest reply text we hand over (Postfix truncates the line at 510). */
#define ACCESS_TEXT_MAX	480

/* The restriction lists, in evaluation order. */
enum access_list_id {
	ACCESS_CLIENT,
	ACCESS_HELO,
	ACCESS_SENDER,
	ACCESS_RELAY,
	ACCESS_RECIPIENT,
	ACCESS_LISTS
};

/*
 * What a check is about. This is also the order in which the data becomes
 * known, so a word may be used in a list whose subject is not earlier
 * than what the word needs.
 */
enum access_about {
	ABOUT_CLIENT,
	ABOUT_HELO,
	ABOUT_SENDER,
	ABOUT_RCPT,
};

enum access_status {
	ACCESS_NEXT,		/* no decision: next restriction */
	ACCESS_PERMIT,		/* the list passes */
	ACCESS_STOP,		/* the verdict is set */
};

/* Domain classes for reject_unauth_destination and friends. */
enum access_dest {
	DEST_LOCAL,
	DEST_RELAY,
};

struct access_rule;
struct access_run;

typedef enum access_status (*access_check_fn)(struct access_run *ev,
    const struct access_rule *rule);

/* One restriction word (a row of access_words). */
struct access_word {
	const char *name;
	enum access_about needs;	/* earliest list it can run in */
	bool takes_table;		/* followed by type:name */
	bool relay_guard;		/* counts as a relay restriction */
	access_check_fn check;
};

/* A compiled rule: a word and, for check_*_access, its table. */
struct access_rule {
	const struct access_word *word;
	struct table *table;
};

struct access_list {
	size_t n;
	struct access_rule *rules;
};

/* Every table opened for one config, closed once (deinit or arena). */
struct access_tables {
	size_t n;
	struct table **t;
};

struct access_config {
	/* settings */
	struct conf_list restrictions[ACCESS_LISTS];
	struct conf_list relay_domains;
	struct conf_list local_domains;
	char *local_recipients;
	unsigned long access_map_reject_code;
	unsigned long access_map_defer_code;
	unsigned long reject_code;
	unsigned long defer_code;
	unsigned long relay_domains_reject_code;
	unsigned long non_fqdn_reject_code;
	unsigned long invalid_hostname_reject_code;
	unsigned long unknown_local_recipient_reject_code;
	unsigned long unknown_relay_recipient_reject_code;
	bool allow_untrusted_routing;

	/* filled by init */
	struct access_list lists[ACCESS_LISTS];
	struct matchlist *relay_ml;	/* NULL: empty list */
	struct matchlist *local_ml;	/* NULL: empty list */
	struct table *recipients;	/* NULL: unlisted check is off */
	struct access_tables *tables;
};

/* Per message: how many PREPEND headers we queued (insert position). */
struct access_msg {
	unsigned prepended;
};

/* One evaluation. */
struct access_run {
	const struct access_config *cfg;
	const struct access_input *in;
	struct arena *arena;
	struct verdict *v;
	enum policy_stage stage;
	enum access_list_id list;	/* list being run */
	const struct access_rule *rule;	/* top-level rule being run */
	enum access_about about;	/* subject for reject/defer texts */
	const char *hold;		/* pending HOLD text */
	const char *hold_reason;
	const char *permits;		/* reasons of the lists passed */
	struct access_header *headers, *last;
};

/* What a table lookup found, for the action handlers. */
struct access_hit {
	const struct access_rule *rule;
	enum access_about about;
	const char *name;	/* reply name: "host[addr]", address, HELO */
	const char *value;	/* the whole table value */
	const char *text;	/* the value after the action word */
};

/* A table action (access(5)). */
struct access_action {
	const char *name;
	enum access_status (*apply)(struct access_run *ev,
	    const struct access_hit *hit);
};

/* Static facts about each list. */
struct access_list_info {
	const char *setting;	/* "client_restrictions" */
	const char *name;	/* "client", for reasons */
	const char *verb;	/* SMTP command, for logs */
	enum policy_stage stage;
	enum access_about about;	/* subject and data available */
	const char *implicit;	/* word for a bare type:name item */
};

static const struct access_list_info access_lists[ACCESS_LISTS] = {
	[ACCESS_CLIENT] = {
		.setting = "client_restrictions", .name = "client",
		.verb = "CONNECT", .stage = POLICY_CONNECT,
		.about = ABOUT_CLIENT, .implicit = "check_client_access",
	},
	[ACCESS_HELO] = {
		.setting = "helo_restrictions", .name = "helo",
		.verb = "HELO", .stage = POLICY_HELO,
		.about = ABOUT_HELO, .implicit = "check_helo_access",
	},
	[ACCESS_SENDER] = {
		.setting = "sender_restrictions", .name = "sender",
		.verb = "MAIL", .stage = POLICY_MAIL,
		.about = ABOUT_SENDER, .implicit = "check_sender_access",
	},
	[ACCESS_RELAY] = {
		.setting = "relay_restrictions", .name = "relay",
		.verb = "RCPT", .stage = POLICY_RCPT,
		.about = ABOUT_RCPT, .implicit = "check_recipient_access",
	},
	[ACCESS_RECIPIENT] = {
		.setting = "recipient_restrictions", .name = "recipient",
		.verb = "RCPT", .stage = POLICY_RCPT,
		.about = ABOUT_RCPT, .implicit = "check_recipient_access",
	},
};

/* Postfix's names for what is being rejected ("Client host rejected"). */
static const char *const access_class[] = {
	[ABOUT_CLIENT] = "Client host",
	[ABOUT_HELO] = "Helo command",
	[ABOUT_SENDER] = "Sender address",
	[ABOUT_RCPT] = "Recipient address",
};

/* The command at which each kind of data is first known (config errors). */
static const char *const access_known_at[] = {
	[ABOUT_CLIENT] = "CONNECT",
	[ABOUT_HELO] = "HELO",
	[ABOUT_SENDER] = "MAIL",
	[ABOUT_RCPT] = "RCPT",
};

/*
 * Enhanced status codes about an address are made to fit the address
 * being rejected (X.1.1 "bad destination mailbox" becomes X.1.7 "bad
 * sender mailbox" for a sender), as Postfix's smtpd does; any other
 * subject gets X.0.0. Only the part after "X.1." is matched.
 */
static const struct access_dsn_map {
	const char *detail;
	const char *sender;
	const char *rcpt;
} access_dsn_map[] = {
	{ .detail = "1", .sender = "5.1.7", .rcpt = "5.1.1" },
	{ .detail = "2", .sender = "5.1.8", .rcpt = "5.1.2" },
	{ .detail = "3", .sender = "5.1.7", .rcpt = "5.1.3" },
	{ .detail = "4", .sender = "5.1.7", .rcpt = "5.1.4" },
	{ .detail = "5", .sender = "5.1.0", .rcpt = "5.1.5" },
	{ .detail = "6", .sender = "5.1.7", .rcpt = "5.1.6" },
	{ .detail = "7", .sender = "5.1.7", .rcpt = "5.1.3" },
	{ .detail = "8", .sender = "5.1.8", .rcpt = "5.1.2" },
	{ .detail = NULL, .sender = "5.1.0", .rcpt = "5.1.0" },
};

/* access_printable - replace control bytes so a reply stays one line */
static void
access_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* access_strip_brackets - "<addr>" as given on the wire, without <> */
static const char *
access_strip_brackets(struct arena *arena, const char *raw)
{
	size_t len = strlen(raw);

	if (len >= 2 && raw[0] == '<' && raw[len - 1] == '>')
		return arena_strndup(arena, raw + 1, len - 2);
	return raw;
}

/* access_subject - Postfix's reply name for what a check is about */
static const char *
access_subject(struct access_run *ev, enum access_about about)
{
	const struct access_input *in = ev->in;

	switch (about) {
	case ABOUT_CLIENT:
		return arena_printf(ev->arena, "%s[%s]",
		    in->client_name ? in->client_name : "unknown",
		    in->client_addr_text ? in->client_addr_text : "unknown");
	case ABOUT_HELO:
		return in->helo ? in->helo : "";
	case ABOUT_SENDER:
		if (in->sender != NULL)
			return in->sender->full;
		return in->sender_raw ?
		    access_strip_brackets(ev->arena, in->sender_raw) : "";
	case ABOUT_RCPT:
		if (in->rcpt != NULL)
			return in->rcpt->full;
		return in->rcpt_raw ?
		    access_strip_brackets(ev->arena, in->rcpt_raw) : "";
	}
	log_panic("access_subject: bad subject %d", (int)about);
}

/* access_reason - "list=word [table]" for the summary log line */
static const char *
access_reason(struct access_run *ev)
{
	const struct access_rule *rule = ev->rule;

	if (rule == NULL)
		return access_lists[ev->list].name;
	if (rule->table != NULL)
		return arena_printf(ev->arena, "%s=%s %s",
		    access_lists[ev->list].name, rule->word->name,
		    table_spec(rule->table));
	return arena_printf(ev->arena, "%s=%s", access_lists[ev->list].name,
	    rule->word->name);
}

/*
 * access_reply - a 4xx or 5xx verdict. The code decides the action and
 * the class digit of the enhanced code (as Postfix forces them to agree);
 * 421 and 521 also close the session.
 */
static enum access_status __attribute__((format(printf, 4, 5)))
access_reply(struct access_run *ev, unsigned long code, const char *xcode,
    const char *fmt, ...)
{
	struct verdict *v = ev->v;
	char *x, *text;
	va_list ap;

	if (code < 400 || code > 599)
		log_panic("access_reply: bad reply code %lu", code);
	x = arena_strdup(ev->arena, xcode);
	x[0] = (char)('0' + code / 100);
	va_start(ap, fmt);
	text = arena_vprintf(ev->arena, fmt, ap);
	va_end(ap);
	if (strlen(text) > ACCESS_TEXT_MAX)
		text[ACCESS_TEXT_MAX] = '\0';
	access_printable(text);
	v->action = code < 500 ? VERDICT_DEFER : VERDICT_REJECT;
	v->code = arena_printf(ev->arena, "%lu", code);
	v->xcode = x;
	v->text = text;
	v->disconnect = code == 421 || code == 521;
	v->reason = access_reason(ev);
	return ACCESS_STOP;
}

/* access_tempfail - a lookup failed: never "not listed", try later */
static enum access_status
access_tempfail(struct access_run *ev, const char *name)
{
	return access_reply(ev, 451, "4.3.0",
	    "<%s>: Temporary lookup failure", name);
}

/* access_config_error - a table holds something we cannot act on */
static enum access_status
access_config_error(struct access_run *ev)
{
	return access_reply(ev, 451, "4.3.5", "Server configuration error");
}

/* access_bad_sender - MAIL FROM did not parse, so no check can be sure */
static enum access_status
access_bad_sender(struct access_run *ev)
{
	return access_reply(ev, 501, "5.1.7", "Bad sender address syntax");
}

/* access_bad_rcpt - RCPT TO did not parse: never guess where it goes */
static enum access_status
access_bad_rcpt(struct access_run *ev)
{
	return access_reply(ev, 501, "5.1.3", "Bad recipient address syntax");
}

/*
 * access_dsn_split - an optional leading enhanced status code (RFC 3463:
 * class 2, 4 or 5, then 1-3 and 1-3 digits) in table text; def otherwise.
 * *rest_r is the text after it and any white space.
 */
static const char *
access_dsn_split(struct arena *arena, const char *text, const char *def,
    const char **rest_r)
{
	const char *p = text;
	size_t n1, n2;

	while (*p == ' ' || *p == '\t')
		p++;
	if ((p[0] == '2' || p[0] == '4' || p[0] == '5') && p[1] == '.') {
		n1 = strspn(p + 2, "0123456789");
		if (n1 >= 1 && n1 <= 3 && p[2 + n1] == '.') {
			n2 = strspn(p + 3 + n1, "0123456789");
			if (n2 >= 1 && n2 <= 3 && (p[3 + n1 + n2] == '\0' ||
			    p[3 + n1 + n2] == ' ' || p[3 + n1 + n2] == '\t')) {
				const char *end = p + 3 + n1 + n2;

				*rest_r = end + strspn(end, " \t");
				return arena_strndup(arena, p,
				    (size_t)(end - p));
			}
		}
	}
	*rest_r = p;
	return def;
}

/* access_dsn_fix - make an address status code fit the subject */
static const char *
access_dsn_fix(const char *dsn, enum access_about about)
{
	const struct access_dsn_map *m;

	if (strncmp(dsn + 1, ".1.", 3) != 0)
		return dsn;
	if (about != ABOUT_SENDER && about != ABOUT_RCPT)
		return "5.0.0";
	for (m = access_dsn_map; m->detail != NULL; m++)
		if (strcmp(dsn + 4, m->detail) == 0)
			break;
	return about == ABOUT_SENDER ? m->sender : m->rcpt;
}

/* access_is_digits - non-empty and only decimal digits */
static bool
access_is_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* access_find_word - a restriction word by name (case as Postfix: any) */
static const struct access_word *access_find_word(const char *name);

/* --- restriction words ------------------------------------------------ */

/* access_permit - "permit": the list passes */
static enum access_status
access_permit(struct access_run *ev, const struct access_rule *rule)
{
	(void)ev;
	(void)rule;
	return ACCESS_PERMIT;
}

/* access_reject - "reject": reject_code, 5.7.1 */
static enum access_status
access_reject(struct access_run *ev, const struct access_rule *rule)
{
	(void)rule;
	return access_reply(ev, ev->cfg->reject_code, "5.7.1",
	    "<%s>: %s rejected: Access denied",
	    access_subject(ev, ev->about), access_class[ev->about]);
}

/* access_defer - "defer": defer_code, 4.3.2 */
static enum access_status
access_defer(struct access_run *ev, const struct access_rule *rule)
{
	(void)rule;
	return access_reply(ev, ev->cfg->defer_code, "4.3.2",
	    "<%s>: %s rejected: Try again later",
	    access_subject(ev, ev->about), access_class[ev->about]);
}

/* access_permit_mynetworks - client in the global mynetworks */
static enum access_status
access_permit_mynetworks(struct access_run *ev,
    const struct access_rule *rule)
{
	(void)rule;
	switch (ev->in->mynetworks) {
	case TABLE_FOUND:
		return ACCESS_PERMIT;
	case TABLE_NOTFOUND:
		return ACCESS_NEXT;
	case TABLE_ERROR:
		break;
	}
	return access_tempfail(ev, access_subject(ev, ev->about));
}

/* access_permit_sasl - the client authenticated (AUTH before MAIL) */
static enum access_status
access_permit_sasl(struct access_run *ev, const struct access_rule *rule)
{
	(void)rule;
	if (ev->in->auth_user != NULL && ev->in->auth_user[0] != '\0')
		return ACCESS_PERMIT;
	return ACCESS_NEXT;
}

/*
 * access_dest_class - whether the domain of rcpt is one we accept mail
 * for: local_domains first (like mydestination), then relay_domains.
 * Domain only; the routing rules are the caller's.
 */
static enum table_result
access_dest_class(struct access_run *ev, const struct mailaddr *rcpt,
    enum access_dest *dest_r)
{
	const struct access_config *cfg = ev->cfg;
	enum table_result r = TABLE_NOTFOUND;

	if ((rcpt->flags & (MAILADDR_NULL | MAILADDR_NO_DOMAIN)) != 0 ||
	    rcpt->domain[0] == '\0')
		return TABLE_NOTFOUND;
	if (cfg->local_ml != NULL)
		r = matchlist_domain(cfg->local_ml, rcpt->domain);
	if (r != TABLE_NOTFOUND) {
		*dest_r = DEST_LOCAL;
		return r;
	}
	if (cfg->relay_ml != NULL)
		r = matchlist_domain(cfg->relay_ml, rcpt->domain);
	*dest_r = DEST_RELAY;
	return r;
}

/* access_bare_postmaster - "postmaster" with no domain (RFC 5321 4.5.1
 * says it must be accepted; it is always local) */
static bool
access_bare_postmaster(const struct mailaddr *rcpt)
{
	return (rcpt->flags & MAILADDR_NO_DOMAIN) != 0 &&
	    (rcpt->flags & MAILADDR_ROUTING) == 0 &&
	    strcasecmp(rcpt->local, "postmaster") == 0;
}

/*
 * access_unauth - reject_unauth_destination and defer_unauth_destination:
 * the final address must be in local_domains or relay_domains, and must
 * not carry sender-specified routing unless allow_untrusted_routing.
 */
static enum access_status
access_unauth(struct access_run *ev, bool defer)
{
	const struct mailaddr *rcpt = ev->in->rcpt;
	unsigned long code = ev->cfg->relay_domains_reject_code;
	enum access_dest dest = DEST_RELAY;

	if (rcpt == NULL)
		return access_bad_rcpt(ev);
	if (access_bare_postmaster(rcpt))
		return ACCESS_NEXT;
	if ((rcpt->flags & MAILADDR_ROUTING) == 0 ||
	    ev->cfg->allow_untrusted_routing) {
		switch (access_dest_class(ev, rcpt, &dest)) {
		case TABLE_FOUND:
			return ACCESS_NEXT;
		case TABLE_ERROR:
			return access_tempfail(ev, rcpt->full);
		case TABLE_NOTFOUND:
			break;
		}
	}
	if (defer && code >= 500)
		code -= 100;
	return access_reply(ev, code, defer ? "4.7.1" : "5.7.1",
	    "<%s>: Relay access denied", rcpt->full);
}

/* access_reject_unauth - reject_unauth_destination */
static enum access_status
access_reject_unauth(struct access_run *ev, const struct access_rule *rule)
{
	(void)rule;
	return access_unauth(ev, false);
}

/* access_defer_unauth - defer_unauth_destination */
static enum access_status
access_defer_unauth(struct access_run *ev, const struct access_rule *rule)
{
	(void)rule;
	return access_unauth(ev, true);
}

/*
 * access_unlisted - reject_unlisted_recipient: for our domains, the
 * recipient must be in local_recipients (lookup_mail order). Without a
 * table there is nothing to check, as in Postfix without maps.
 */
static enum access_status
access_unlisted(struct access_run *ev, const struct access_rule *rule)
{
	const struct access_config *cfg = ev->cfg;
	const struct mailaddr *rcpt = ev->in->rcpt;
	enum access_dest dest = DEST_RELAY;
	const char *value;

	(void)rule;
	if (cfg->recipients == NULL)
		return ACCESS_NEXT;
	if (rcpt == NULL)
		return access_bad_rcpt(ev);
	switch (access_dest_class(ev, rcpt, &dest)) {
	case TABLE_NOTFOUND:
		return ACCESS_NEXT;
	case TABLE_ERROR:
		return access_tempfail(ev, rcpt->full);
	case TABLE_FOUND:
		break;
	}
	/* postmaster in a local domain is always deliverable (RFC 5321) */
	if (dest == DEST_LOCAL && strcasecmp(rcpt->local, "postmaster") == 0)
		return ACCESS_NEXT;
	switch (lookup_mail(cfg->recipients, rcpt, ev->arena, &value)) {
	case TABLE_FOUND:
		return ACCESS_NEXT;
	case TABLE_ERROR:
		return access_tempfail(ev, rcpt->full);
	case TABLE_NOTFOUND:
		break;
	}
	if (dest == DEST_LOCAL)
		return access_reply(ev,
		    cfg->unknown_local_recipient_reject_code, "5.1.1",
		    "<%s>: Recipient address rejected: User unknown in local "
		    "recipient table", rcpt->full);
	return access_reply(ev, cfg->unknown_relay_recipient_reject_code,
	    "5.1.1", "<%s>: Recipient address rejected: User unknown in "
	    "relay recipient table", rcpt->full);
}

/* access_helo_name - HELO without one trailing dot (not "x.."), as
 * Postfix checks it */
static const char *
access_helo_name(struct access_run *ev)
{
	const char *helo = ev->in->helo;
	size_t len = strlen(helo);

	if (len > 1 && helo[len - 1] == '.' && helo[len - 2] != '.')
		return arena_strndup(ev->arena, helo, len - 1);
	return helo;
}

/* access_helo_literal - a HELO "[address]" must hold a valid address */
static enum access_status
access_helo_literal(struct access_run *ev)
{
	const char *helo = ev->in->helo;
	size_t len = strlen(helo);
	struct inet_addr a;

	if (len > 2 && helo[len - 1] == ']' && inet_parse(helo, &a))
		return ACCESS_NEXT;
	return access_reply(ev, ev->cfg->invalid_hostname_reject_code, "5.5.2",
	    "<%s>: Helo command rejected: invalid ip address", helo);
}

/* access_invalid_helo - reject_invalid_helo_hostname */
static enum access_status
access_invalid_helo(struct access_run *ev, const struct access_rule *rule)
{
	const char *name;
	struct inet_addr a;

	(void)rule;
	if (ev->in->helo == NULL)
		return ACCESS_NEXT;
	if (ev->in->helo[0] == '[')
		return access_helo_literal(ev);
	name = access_helo_name(ev);
	/* a bare address is tolerated, as Postfix does for old clients */
	if (name[0] != '\0' && (mailaddr_hostname_valid(name) ||
	    inet_parse(name, &a)))
		return ACCESS_NEXT;
	return access_reply(ev, ev->cfg->invalid_hostname_reject_code, "5.5.2",
	    "<%s>: Helo command rejected: Invalid name", ev->in->helo);
}

/* access_non_fqdn_helo - reject_non_fqdn_helo_hostname */
static enum access_status
access_non_fqdn_helo(struct access_run *ev, const struct access_rule *rule)
{
	const char *name;
	struct inet_addr a;

	(void)rule;
	if (ev->in->helo == NULL)
		return ACCESS_NEXT;
	if (ev->in->helo[0] == '[')
		return access_helo_literal(ev);
	name = access_helo_name(ev);
	/* a bare address is not a host name, however many dots it has */
	if (name[0] != '\0' && !inet_parse(name, &a) &&
	    mailaddr_domain_is_fqdn(name))
		return ACCESS_NEXT;
	return access_reply(ev, ev->cfg->non_fqdn_reject_code, "5.5.2",
	    "<%s>: Helo command rejected: need fully-qualified hostname",
	    ev->in->helo);
}

/* access_non_fqdn_addr - shared by reject_non_fqdn_sender/recipient */
static enum access_status
access_non_fqdn_addr(struct access_run *ev, const struct mailaddr *a,
    enum access_about about)
{
	if ((a->flags & MAILADDR_LITERAL) != 0)
		return ACCESS_NEXT;
	if ((a->flags & MAILADDR_NO_DOMAIN) == 0 && a->domain[0] != '\0' &&
	    mailaddr_domain_is_fqdn(a->domain))
		return ACCESS_NEXT;
	return access_reply(ev, ev->cfg->non_fqdn_reject_code, "5.5.2",
	    "<%s>: %s rejected: need fully-qualified address", a->full,
	    access_class[about]);
}

/* access_non_fqdn_sender - reject_non_fqdn_sender (not for <>) */
static enum access_status
access_non_fqdn_sender(struct access_run *ev, const struct access_rule *rule)
{
	const struct access_input *in = ev->in;

	(void)rule;
	if (in->sender == NULL)
		return in->sender_raw ? access_bad_sender(ev) : ACCESS_NEXT;
	if ((in->sender->flags & MAILADDR_NULL) != 0)
		return ACCESS_NEXT;
	return access_non_fqdn_addr(ev, in->sender, ABOUT_SENDER);
}

/* access_non_fqdn_rcpt - reject_non_fqdn_recipient */
static enum access_status
access_non_fqdn_rcpt(struct access_run *ev, const struct access_rule *rule)
{
	(void)rule;
	if (ev->in->rcpt == NULL)
		return access_bad_rcpt(ev);
	return access_non_fqdn_addr(ev, ev->in->rcpt, ABOUT_RCPT);
}

/* --- table actions (access(5)) ----------------------------------------- */

/* access_act_ok - OK, RELAY: the list passes */
static enum access_status
access_act_ok(struct access_run *ev, const struct access_hit *hit)
{
	(void)ev;
	(void)hit;
	return ACCESS_PERMIT;
}

/* access_act_dunno - DUNNO: stop this table, next restriction */
static enum access_status
access_act_dunno(struct access_run *ev, const struct access_hit *hit)
{
	(void)ev;
	(void)hit;
	return ACCESS_NEXT;
}

/* access_act_refuse - REJECT or DEFER [x.y.z] [text] with the map's code */
static enum access_status
access_act_refuse(struct access_run *ev, const struct access_hit *hit,
    unsigned long code, const char *default_dsn)
{
	const char *text, *dsn;

	dsn = access_dsn_split(ev->arena, hit->text, default_dsn, &text);
	return access_reply(ev, code, access_dsn_fix(dsn, hit->about),
	    "<%s>: %s rejected: %s", hit->name, access_class[hit->about],
	    *text ? text : "Access denied");
}

/* access_act_reject - REJECT [x.y.z] [text] */
static enum access_status
access_act_reject(struct access_run *ev, const struct access_hit *hit)
{
	return access_act_refuse(ev, hit, ev->cfg->access_map_reject_code,
	    "5.7.1");
}

/* access_act_defer - DEFER [x.y.z] [text] */
static enum access_status
access_act_defer(struct access_run *ev, const struct access_hit *hit)
{
	return access_act_refuse(ev, hit, ev->cfg->access_map_defer_code,
	    "4.7.1");
}

/* access_act_discard - DISCARD [text]: accept and drop the message */
static enum access_status
access_act_discard(struct access_run *ev, const struct access_hit *hit)
{
	char *text;

	text = arena_printf(ev->arena, "<%s>: %s %s", hit->name,
	    access_class[hit->about],
	    *hit->text ? hit->text : "triggers DISCARD action");
	access_printable(text);
	ev->v->action = VERDICT_DISCARD;
	ev->v->text = text;
	ev->v->reason = access_reason(ev);
	return ACCESS_STOP;
}

/* access_act_hold - HOLD [text]: quarantine unless something rejects */
static enum access_status
access_act_hold(struct access_run *ev, const struct access_hit *hit)
{
	char *text;

	if (ev->hold != NULL)
		return ACCESS_NEXT;
	text = arena_printf(ev->arena, "<%s>: %s %s", hit->name,
	    access_class[hit->about],
	    *hit->text ? hit->text : "triggers HOLD action");
	access_printable(text);
	ev->hold = text;
	ev->hold_reason = access_reason(ev);
	return ACCESS_NEXT;
}

/* access_act_prepend - PREPEND Name: value (only once a message exists) */
static enum access_status
access_act_prepend(struct access_run *ev, const struct access_hit *hit)
{
	const char *p = hit->text, *colon;
	struct access_header *h;
	char *value;

	if (ev->stage != POLICY_MAIL && ev->stage != POLICY_RCPT) {
		log_msg(LOG_WARNING, ev->in->queue_id, "access: table %s: "
		    "PREPEND for %s ignored in %s: no message yet",
		    table_spec(hit->rule->table), hit->name,
		    access_lists[ev->list].setting);
		return ACCESS_NEXT;
	}
	colon = p + strcspn(p, ":");
	for (; p < colon; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			break;
	if (*colon != ':' || p != colon || colon == hit->text) {
		log_msg(LOG_WARNING, ev->in->queue_id, "access: table %s: "
		    "entry \"%s\" for %s needs \"PREPEND Name: value\"",
		    table_spec(hit->rule->table), hit->value, hit->name);
		return ACCESS_NEXT;
	}
	/* table values hold no line breaks; the core sanitizes the rest */
	value = arena_strdup(ev->arena, colon + 1 + strspn(colon + 1, " \t"));
	h = arena_alloc(ev->arena, sizeof(*h));
	h->name = arena_strndup(ev->arena, hit->text,
	    (size_t)(colon - hit->text));
	h->value = value;
	if (ev->last != NULL)
		ev->last->next = h;
	else
		ev->headers = h;
	ev->last = h;
	return ACCESS_NEXT;
}

/* access_act_log - INFO and WARN [text]: log and go on */
static void
access_act_log(struct access_run *ev, const struct access_hit *hit,
    int priority, const char *what)
{
	log_msg(priority, ev->in->queue_id, "%s: %s from %s: <%s>: %s", what,
	    access_lists[ev->list].verb, access_subject(ev, ABOUT_CLIENT),
	    hit->name, hit->text);
}

/* access_act_info - INFO [text] */
static enum access_status
access_act_info(struct access_run *ev, const struct access_hit *hit)
{
	access_act_log(ev, hit, LOG_INFO, "info");
	return ACCESS_NEXT;
}

/* access_act_warn - WARN [text] */
static enum access_status
access_act_warn(struct access_run *ev, const struct access_hit *hit)
{
	access_act_log(ev, hit, LOG_WARNING, "warn");
	return ACCESS_NEXT;
}

/* access_act_unsupported - Postfix actions Postern does not implement:
 * acting as if the entry were absent could let mail through */
static enum access_status
access_act_unsupported(struct access_run *ev, const struct access_hit *hit)
{
	log_msg(LOG_WARNING, ev->in->queue_id, "access: table %s: action "
	    "\"%s\" for %s is not supported", table_spec(hit->rule->table),
	    hit->value, hit->name);
	return access_config_error(ev);
}

static const struct access_action access_actions[] = {
	{ .name = "OK", .apply = access_act_ok },
	{ .name = "RELAY", .apply = access_act_ok },
	{ .name = "DUNNO", .apply = access_act_dunno },
	{ .name = "REJECT", .apply = access_act_reject },
	{ .name = "DEFER", .apply = access_act_defer },
	{ .name = "DISCARD", .apply = access_act_discard },
	{ .name = "HOLD", .apply = access_act_hold },
	{ .name = "PREPEND", .apply = access_act_prepend },
	{ .name = "INFO", .apply = access_act_info },
	{ .name = "WARN", .apply = access_act_warn },
	{ .name = "DEFER_IF_REJECT", .apply = access_act_unsupported },
	{ .name = "DEFER_IF_PERMIT", .apply = access_act_unsupported },
	{ .name = "REDIRECT", .apply = access_act_unsupported },
	{ .name = "BCC", .apply = access_act_unsupported },
	{ .name = "FILTER", .apply = access_act_unsupported },
	{ .name = "HANGUP", .apply = access_act_unsupported },
	{ .name = NULL },
};

/* access_bad_value - a table value we cannot act on: log, tempfail */
static enum access_status
access_bad_value(struct access_run *ev, const struct access_hit *hit,
    const char *why)
{
	log_msg(LOG_WARNING, ev->in->queue_id, "access: table %s: %s \"%s\" "
	    "for %s", table_spec(hit->rule->table), why, hit->value,
	    hit->name);
	return access_config_error(ev);
}

/*
 * access_value_list - a table value that names restrictions ("reject",
 * "permit_mynetworks, reject_unauth_destination"). Only words without a
 * table, and only those usable in the current list; all are checked
 * before any runs.
 */
static enum access_status
access_value_list(struct access_run *ev, const struct access_hit *hit)
{
	const struct access_word *w;
	enum access_about saved = ev->about;
	enum access_status st = ACCESS_NEXT;
	struct conf_list words;
	size_t i;

	conf_split_list(ev->arena, hit->value, &words);
	if (words.n == 0)
		return access_bad_value(ev, hit, "empty value");
	for (i = 0; i < words.n; i++) {
		w = access_find_word(words.items[i]);
		if (w == NULL || w->takes_table)
			return access_bad_value(ev, hit, "unknown action");
		if (w->needs > access_lists[ev->list].about)
			return access_bad_value(ev, hit, arena_printf(
			    ev->arena, "restriction not usable in %s:",
			    access_lists[ev->list].setting));
	}
	ev->about = hit->about;
	for (i = 0; i < words.n && st == ACCESS_NEXT; i++) {
		struct access_rule r = {
			.word = access_find_word(words.items[i]),
		};

		st = r.word->check(ev, &r);
	}
	ev->about = saved;
	return st;
}

/*
 * access_table_result - act on a value found in an access table, in
 * Postfix's order: named actions, all digits (OK), "4NN/5NN text",
 * then restriction names.
 */
static enum access_status
access_table_result(struct access_run *ev, const struct access_rule *rule,
    enum access_about about, const char *name, const char *value)
{
	const struct access_action *a;
	struct access_hit hit = {
		.rule = rule, .about = about, .name = name, .value = value,
	};
	size_t len = strcspn(value, " \t");
	const char *text = value + len + strspn(value + len, " \t");

	hit.text = text;
	for (a = access_actions; a->name != NULL; a++)
		if (strlen(a->name) == len &&
		    strncasecmp(a->name, value, len) == 0)
			return a->apply(ev, &hit);
	if (access_is_digits(value))
		return ACCESS_PERMIT;
	if (len == 3 && *text != '\0' && (value[0] == '4' || value[0] == '5')
	    && isdigit((unsigned char)value[1]) &&
	    isdigit((unsigned char)value[2])) {
		char def[] = "X.7.1";
		const char *dsn, *rest;

		def[0] = value[0];
		dsn = access_dsn_split(ev->arena, text, def, &rest);
		return access_reply(ev, strtoul(value, NULL, 10),
		    access_dsn_fix(dsn, about), "<%s>: %s rejected: %s", name,
		    access_class[about], *rest ? rest : "Access denied");
	}
	if (strchr(value, ':') != NULL)
		return access_bad_value(ev, &hit, "lookup table in value");
	return access_value_list(ev, &hit);
}

/* access_check_lookup - finish a table check from its lookup answer */
static enum access_status
access_check_lookup(struct access_run *ev, const struct access_rule *rule,
    enum access_about about, enum table_result r, const char *value)
{
	const char *name = access_subject(ev, about);

	switch (r) {
	case TABLE_NOTFOUND:
		return ACCESS_NEXT;
	case TABLE_ERROR:
		return access_tempfail(ev, name);
	case TABLE_FOUND:
		break;
	}
	return access_table_result(ev, rule, about, name, value);
}

/* access_check_client - check_client_access: name, then address */
static enum access_status
access_check_client(struct access_run *ev, const struct access_rule *rule)
{
	const char *value = NULL;
	enum table_result r;

	r = lookup_client(rule->table, ev->in->client_name,
	    ev->in->client_addr, ev->arena, &value);
	return access_check_lookup(ev, rule, ABOUT_CLIENT, r, value);
}

/* access_check_helo - check_helo_access: name, then parent domains */
static enum access_status
access_check_helo(struct access_run *ev, const struct access_rule *rule)
{
	const char *value = NULL;
	enum table_result r;

	if (ev->in->helo == NULL)
		return ACCESS_NEXT;
	r = lookup_domain(rule->table, ev->in->helo, ev->arena, &value);
	return access_check_lookup(ev, rule, ABOUT_HELO, r, value);
}

/* access_check_sender - check_sender_access (<> is the key "<>") */
static enum access_status
access_check_sender(struct access_run *ev, const struct access_rule *rule)
{
	const struct access_input *in = ev->in;
	const char *value = NULL;
	enum table_result r;

	if (in->sender == NULL)
		return in->sender_raw ? access_bad_sender(ev) : ACCESS_NEXT;
	r = lookup_mail(rule->table, in->sender, ev->arena, &value);
	return access_check_lookup(ev, rule, ABOUT_SENDER, r, value);
}

/* access_check_rcpt - check_recipient_access */
static enum access_status
access_check_rcpt(struct access_run *ev, const struct access_rule *rule)
{
	const char *value = NULL;
	enum table_result r;

	if (ev->in->rcpt == NULL)
		return access_bad_rcpt(ev);
	r = lookup_mail(rule->table, ev->in->rcpt, ev->arena, &value);
	return access_check_lookup(ev, rule, ABOUT_RCPT, r, value);
}

/* The restriction words. Names are matched case-insensitively. */
static const struct access_word access_words[] = {
	{ .name = "permit", .needs = ABOUT_CLIENT, .check = access_permit },
	{ .name = "reject", .needs = ABOUT_CLIENT, .relay_guard = true,
	  .check = access_reject },
	{ .name = "defer", .needs = ABOUT_CLIENT, .relay_guard = true,
	  .check = access_defer },
	{ .name = "permit_mynetworks", .needs = ABOUT_CLIENT,
	  .check = access_permit_mynetworks },
	{ .name = "permit_sasl_authenticated", .needs = ABOUT_SENDER,
	  .check = access_permit_sasl },
	{ .name = "reject_unauth_destination", .needs = ABOUT_RCPT,
	  .relay_guard = true, .check = access_reject_unauth },
	{ .name = "defer_unauth_destination", .needs = ABOUT_RCPT,
	  .relay_guard = true, .check = access_defer_unauth },
	{ .name = "check_client_access", .needs = ABOUT_CLIENT,
	  .takes_table = true, .check = access_check_client },
	{ .name = "check_helo_access", .needs = ABOUT_HELO,
	  .takes_table = true, .check = access_check_helo },
	{ .name = "check_sender_access", .needs = ABOUT_SENDER,
	  .takes_table = true, .check = access_check_sender },
	{ .name = "check_recipient_access", .needs = ABOUT_RCPT,
	  .takes_table = true, .check = access_check_rcpt },
	{ .name = "reject_invalid_helo_hostname", .needs = ABOUT_HELO,
	  .check = access_invalid_helo },
	{ .name = "reject_non_fqdn_helo_hostname", .needs = ABOUT_HELO,
	  .check = access_non_fqdn_helo },
	{ .name = "reject_non_fqdn_sender", .needs = ABOUT_SENDER,
	  .check = access_non_fqdn_sender },
	{ .name = "reject_non_fqdn_recipient", .needs = ABOUT_RCPT,
	  .check = access_non_fqdn_rcpt },
	{ .name = "reject_unlisted_recipient", .needs = ABOUT_RCPT,
	  .check = access_unlisted },
	{ .name = NULL },
};

/* access_find_word - a restriction word by name */
static const struct access_word *
access_find_word(const char *name)
{
	const struct access_word *w;

	for (w = access_words; w->name != NULL; w++)
		if (strcasecmp(w->name, name) == 0)
			return w;
	return NULL;
}

/* --- evaluation ---------------------------------------------------------- */

/* access_run_rule - one top-level rule of the current list */
static enum access_status
access_run_rule(struct access_run *ev, const struct access_rule *rule)
{
	ev->rule = rule;
	ev->about = access_lists[ev->list].about;
	return rule->word->check(ev, rule);
}

/* access_run_list - the rules of one list until one decides */
static enum access_status
access_run_list(struct access_run *ev, enum access_list_id id)
{
	const struct access_list *list = &ev->cfg->lists[id];
	enum access_status st;
	size_t i;

	ev->list = id;
	ev->rule = NULL;
	for (i = 0; i < list->n; i++) {
		st = access_run_rule(ev, &list->rules[i]);
		if (st == ACCESS_PERMIT) {
			const char *r = access_reason(ev);

			ev->permits = ev->permits == NULL ? r :
			    arena_printf(ev->arena, "%s %s", ev->permits, r);
		}
		if (st != ACCESS_NEXT)
			return st;
	}
	return ACCESS_NEXT;
}

/* access_eval - run the lists of one stage */
void
access_eval(const struct access_config *cfg, enum policy_stage stage,
    const struct access_input *in, struct arena *arena, struct verdict *v,
    const struct access_header **headers_r)
{
	struct access_run ev = {
		.cfg = cfg, .in = in, .arena = arena, .v = v, .stage = stage,
	};
	int id;

	*headers_r = NULL;
	for (id = 0; id < ACCESS_LISTS; id++) {
		if (access_lists[id].stage != stage)
			continue;
		if (access_run_list(&ev, (enum access_list_id)id) ==
		    ACCESS_STOP) {
			/* a refused command gets no headers from us */
			if (v->action != VERDICT_REJECT &&
			    v->action != VERDICT_DEFER)
				*headers_r = ev.headers;
			return;
		}
	}
	if (ev.hold != NULL) {
		v->action = VERDICT_QUARANTINE;
		v->text = ev.hold;
		v->reason = ev.hold_reason;
	} else {
		v->action = VERDICT_DUNNO;
		v->reason = ev.permits;
	}
	*headers_r = ev.headers;
}

/* access_stage_active - whether stage has any rule to run */
static bool
access_stage_active(const struct access_config *cfg, enum policy_stage stage)
{
	int id;

	for (id = 0; id < ACCESS_LISTS; id++)
		if (access_lists[id].stage == stage && cfg->lists[id].n > 0)
			return true;
	return false;
}

/* access_handle - the CONNECT, HELO, MAIL and RCPT handler */
static enum policy_status
access_handle(const struct policy_call *call, struct verdict *v)
{
	const struct access_config *cfg = call->config;
	struct txn *txn = call->txn;
	struct access_msg *msg = call->msg;
	const struct access_header *h;
	struct access_input in = { .mynetworks = TABLE_NOTFOUND };
	struct arena *arena;

	if (!access_stage_active(cfg, call->stage))
		return POLICY_DONE;
	arena = call->stage == POLICY_CONNECT || call->stage == POLICY_HELO ?
	    txn_conn_arena(txn) : txn_msg_arena(txn);
	in.queue_id = txn_queue_id(txn);
	in.client_addr = txn_client_addr(txn);
	in.client_addr_text = txn_client_addr_text(txn);
	in.client_name = txn_client_name(txn);
	in.helo = txn_helo(txn);
	in.auth_user = txn_auth_user(txn);
	in.mynetworks = txn_in_mynetworks(txn);
	if (call->stage == POLICY_MAIL || call->stage == POLICY_RCPT) {
		in.sender = txn_sender(txn);
		in.sender_raw = txn_sender_raw(txn);
	}
	if (call->stage == POLICY_RCPT) {
		in.rcpt = txn_rcpt(txn);
		in.rcpt_raw = txn_rcpt_raw(txn);
	}
	access_eval(cfg, call->stage, &in, arena, v, &h);
	for (; h != NULL; h = h->next) {
		if (msg == NULL)
			log_panic("access: PREPEND without message state");
		txn_insert_header(txn, msg->prepended++, h->name, h->value);
	}
	return POLICY_DONE;
}

/* --- configuration ------------------------------------------------------- */

/* access_where - FILE and LINE of a setting, for init errors */
static void
access_where(const struct policy_init *pi, const char *setting,
    const char **file_r, int *line_r)
{
	const struct conf_entry *e = NULL;

	if (pi->cf != NULL)
		e = conf_find(pi->cf, pi->section, setting);
	if (e != NULL) {
		*file_r = e->file;
		*line_r = e->line;
	} else if (pi->cf != NULL) {
		*file_r = conf_file_name(pi->cf);
		*line_r = conf_section_line(pi->cf, pi->section);
	} else {
		*file_r = "(defaults)";
		*line_r = 0;
	}
}

/* access_error - add "FILE:LINE: setting: text" lines, one per line of
 * the formatted text (table and matchlist errors hold several) */
static void __attribute__((format(printf, 4, 5)))
access_error(struct buf *err, const struct policy_init *pi,
    const char *setting, const char *fmt, ...)
{
	const char *file, *p, *nl;
	char *text;
	va_list ap;
	int line;

	access_where(pi, setting, &file, &line);
	va_start(ap, fmt);
	text = arena_vprintf(pi->arena, fmt, ap);
	va_end(ap);
	for (p = text; *p != '\0'; p = *nl ? nl + 1 : nl) {
		nl = p + strcspn(p, "\n");
		if (nl > p)
			buf_printf(err, "%s:%d: %s: %.*s\n", file, line,
			    setting, (int)(nl - p), p);
	}
}

/* access_tables_close - close every table of a config, once */
static void
access_tables_close(void *arg)
{
	struct access_tables *tabs = arg;
	size_t i;

	for (i = 0; i < tabs->n; i++)
		table_close(&tabs->t[i]);
	free(tabs->t);
	tabs->t = NULL;
	tabs->n = 0;
}

/* access_table - open spec, sharing one table per spec within a config */
static struct table *
access_table(struct policy_init *pi, struct access_config *cfg,
    const char *setting, const char *spec, struct buf *err)
{
	struct access_tables *tabs = cfg->tables;
	struct table *t;
	char *why = NULL;
	size_t i;

	for (i = 0; i < tabs->n; i++)
		if (strcmp(table_spec(tabs->t[i]), spec) == 0)
			return tabs->t[i];
	if ((t = table_open(spec, &why)) == NULL) {
		access_error(err, pi, setting, "table %s: %s", spec,
		    why ? why : "cannot open");
		free(why);
		return NULL;
	}
	tabs->t = xrealloc(tabs->t, (tabs->n + 1) * sizeof(*tabs->t));
	tabs->t[tabs->n++] = t;
	return t;
}

/* access_compile - turn one list setting into rules */
static void
access_compile(struct policy_init *pi, struct access_config *cfg,
    enum access_list_id id, struct buf *err)
{
	const struct access_list_info *info = &access_lists[id];
	const struct conf_list *items = &cfg->restrictions[id];
	struct access_list *list = &cfg->lists[id];
	const struct access_word *w;
	const char *item, *spec;
	size_t i;

	list->rules = arena_alloc(pi->arena,
	    (items->n + 1) * sizeof(*list->rules));
	list->n = 0;
	for (i = 0; i < items->n; i++) {
		item = items->items[i];
		spec = NULL;
		if (strchr(item, ':') != NULL) {
			/* Postfix shorthand: bare table = the list's check */
			w = access_find_word(info->implicit);
			spec = item;
		} else if ((w = access_find_word(item)) == NULL) {
			access_error(err, pi, info->setting,
			    "unknown restriction \"%s\"", item);
			continue;
		} else if (w->takes_table) {
			if (i + 1 >= items->n ||
			    strchr(items->items[i + 1], ':') == NULL) {
				access_error(err, pi, info->setting,
				    "%s needs a table (type:name)", w->name);
				continue;
			}
			spec = items->items[++i];
		}
		if (w->needs > info->about) {
			access_error(err, pi, info->setting, "%s cannot be "
			    "used here: it needs what the client first sends "
			    "at %s", w->name, access_known_at[w->needs]);
			continue;
		}
		list->rules[list->n].word = w;
		if (spec != NULL &&
		    (list->rules[list->n].table = access_table(pi, cfg,
		    info->setting, spec, err)) == NULL)
			continue;
		list->n++;
	}
}

/* access_has_guard - whether a list has a restriction that can refuse a
 * relay attempt (Postfix insists on one before it starts) */
static bool
access_has_guard(const struct access_list *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		if (list->rules[i].word->relay_guard)
			return true;
	return false;
}

/* access_domains - build a domain matchlist; NULL when empty */
static struct matchlist *
access_domains(struct policy_init *pi, const char *setting,
    const struct conf_list *items, struct buf *err)
{
	struct matchlist *ml;
	char *why = NULL;

	if (items->n == 0)
		return NULL;
	if ((ml = matchlist_open(pi->arena, items, MATCHLIST_DOMAINS,
	    &why)) == NULL) {
		access_error(err, pi, setting, "%s", why ? why : "bad list");
		free(why);
	}
	return ml;
}

/* access_init - compile the lists, open tables and domain lists */
static bool
access_init(struct policy_init *pi, char **error_r)
{
	struct access_config *cfg = pi->config;
	struct buf err = { 0 };
	int id;

	cfg->tables = arena_alloc(pi->arena, sizeof(*cfg->tables));
	arena_cleanup(pi->arena, access_tables_close, cfg->tables);
	for (id = 0; id < ACCESS_LISTS; id++)
		access_compile(pi, cfg, (enum access_list_id)id, &err);
	if (!access_has_guard(&cfg->lists[ACCESS_RELAY]) &&
	    !access_has_guard(&cfg->lists[ACCESS_RECIPIENT]))
		access_error(&err, pi, "relay_restrictions", "neither "
		    "relay_restrictions nor recipient_restrictions can refuse "
		    "relaying: add reject_unauth_destination, "
		    "defer_unauth_destination, reject or defer");
	cfg->relay_ml = access_domains(pi, "relay_domains",
	    &cfg->relay_domains, &err);
	cfg->local_ml = access_domains(pi, "local_domains",
	    &cfg->local_domains, &err);
	if (cfg->local_recipients != NULL && cfg->local_recipients[0] != '\0')
		cfg->recipients = access_table(pi, cfg, "local_recipients",
		    cfg->local_recipients, &err);
	if (err.len > 0) {
		*error_r = buf_steal(&err);
		return false;
	}
	buf_free(&err);
	return true;
}

/* access_deinit - close the tables now; the arena frees the rest */
static void
access_deinit(void *config)
{
	struct access_config *cfg = config;

	if (cfg->tables != NULL)
		access_tables_close(cfg->tables);
}

#define ACCESS_OFF(f)	offsetof(struct access_config, f)

static const struct conf_setting access_settings[] = {
	{ .name = "client_restrictions", .type = CONF_LIST, .def = "",
	  .offset = ACCESS_OFF(restrictions[ACCESS_CLIENT]),
	  .help = "restrictions run when a client connects" },
	{ .name = "helo_restrictions", .type = CONF_LIST, .def = "",
	  .offset = ACCESS_OFF(restrictions[ACCESS_HELO]),
	  .help = "restrictions run at HELO/EHLO" },
	{ .name = "sender_restrictions", .type = CONF_LIST, .def = "",
	  .offset = ACCESS_OFF(restrictions[ACCESS_SENDER]),
	  .help = "restrictions run at MAIL FROM" },
	{ .name = "relay_restrictions", .type = CONF_LIST,
	  .def = "permit_mynetworks, permit_sasl_authenticated, "
	  "reject_unauth_destination",
	  .offset = ACCESS_OFF(restrictions[ACCESS_RELAY]),
	  .help = "restrictions run first at RCPT TO (relay control)" },
	{ .name = "recipient_restrictions", .type = CONF_LIST, .def = "",
	  .offset = ACCESS_OFF(restrictions[ACCESS_RECIPIENT]),
	  .help = "restrictions run at RCPT TO after relay_restrictions" },
	{ .name = "relay_domains", .type = CONF_LIST, .def = "",
	  .offset = ACCESS_OFF(relay_domains),
	  .help = "domains we relay to (domains, .subdomains, tables)" },
	{ .name = "local_domains", .type = CONF_LIST, .def = "",
	  .offset = ACCESS_OFF(local_domains),
	  .help = "domains delivered here (like Postfix mydestination)" },
	{ .name = "local_recipients", .type = CONF_TABLE, .def = NULL,
	  .offset = ACCESS_OFF(local_recipients),
	  .help = "valid recipients for reject_unlisted_recipient" },
	{ .name = "access_map_reject_code", .type = CONF_UINT, .def = "554",
	  .offset = ACCESS_OFF(access_map_reject_code),
	  .min = "400", .max = "599",
	  .help = "reply code of an access table REJECT" },
	{ .name = "access_map_defer_code", .type = CONF_UINT, .def = "450",
	  .offset = ACCESS_OFF(access_map_defer_code),
	  .min = "400", .max = "499",
	  .help = "reply code of an access table DEFER" },
	{ .name = "reject_code", .type = CONF_UINT, .def = "554",
	  .offset = ACCESS_OFF(reject_code), .min = "400", .max = "599",
	  .help = "reply code of the reject restriction" },
	{ .name = "defer_code", .type = CONF_UINT, .def = "450",
	  .offset = ACCESS_OFF(defer_code),
	  .min = "400", .max = "499",
	  .help = "reply code of the defer restriction" },
	{ .name = "relay_domains_reject_code", .type = CONF_UINT,
	  .def = "554", .offset = ACCESS_OFF(relay_domains_reject_code),
	  .min = "400", .max = "599",
	  .help = "reply code of reject_unauth_destination" },
	{ .name = "non_fqdn_reject_code", .type = CONF_UINT, .def = "504",
	  .offset = ACCESS_OFF(non_fqdn_reject_code),
	  .min = "400", .max = "599",
	  .help = "reply code of the reject_non_fqdn_* restrictions" },
	{ .name = "invalid_hostname_reject_code", .type = CONF_UINT,
	  .def = "501", .offset = ACCESS_OFF(invalid_hostname_reject_code),
	  .min = "400", .max = "599",
	  .help = "reply code of reject_invalid_helo_hostname" },
	{ .name = "unknown_local_recipient_reject_code", .type = CONF_UINT,
	  .def = "550",
	  .offset = ACCESS_OFF(unknown_local_recipient_reject_code),
	  .min = "400", .max = "599",
	  .help = "reply code for unknown users in local_domains" },
	{ .name = "unknown_relay_recipient_reject_code", .type = CONF_UINT,
	  .def = "550",
	  .offset = ACCESS_OFF(unknown_relay_recipient_reject_code),
	  .min = "400", .max = "599",
	  .help = "reply code for unknown users in relay_domains" },
	{ .name = "allow_untrusted_routing", .type = CONF_BOOL, .def = "no",
	  .offset = ACCESS_OFF(allow_untrusted_routing),
	  .help = "let %, ! and source routes count as our domains" },
	{ .name = NULL },
};

const struct policy_module access_module = {
	.name = "access",
	.summary = "Postfix-style client, HELO, sender, relay and "
	    "recipient restrictions",
	.settings = access_settings,
	.config_size = sizeof(struct access_config),
	.init = access_init,
	.deinit = access_deinit,
	.msg_size = sizeof(struct access_msg),
	.stage = {
		[POLICY_CONNECT] = access_handle,
		[POLICY_HELO] = access_handle,
		[POLICY_MAIL] = access_handle,
		[POLICY_RCPT] = access_handle,
	},
	.flags = POLICY_ADDS_HEADERS,
	.on_failure = POLICY_FAIL_TEMPFAIL,
};
