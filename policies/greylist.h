/*
 * greylist.h - greylisting (module "greylist")
 *
 * A message to a recipient is accepted once its sender has retried it
 * after `delay` (and within `retry_window` of the first try); the first
 * tries get "451 4.7.1". The unit of memory is the triplet
 *
 *	(identity, normalized envelope sender, recipient)
 *
 * identity is the client's network (ipv4_prefix / ipv6_prefix bits of
 * its address; 32 / 128 = exact address) unless the sender proved its
 * domain: SPF "pass" for the MAIL FROM domain (at RCPT), or, for messages
 * decided at the end of DATA, a passing DKIM signature whose d= is the
 * From domain or a parent of it. A proven sender's identity is its
 * domain, so a big sender retrying from another address of its pool is
 * recognized. Clients whose identity passed greylisting with
 * auto_whitelist_clients different triplets are no longer greylisted.
 *
 * Never greylisted: authenticated clients, mynetworks, skip_clients,
 * skip_senders, skip_recipients (found in the table with any value but
 * DUNNO), and, when only_if is set, messages whose score and DNSBL weight
 * so far both stay below its thresholds.
 *
 * Store keys (greylist_store.h), fields separated by one space, each
 * field's bytes outside 0x21..0x7e and '%' written as %XX:
 *
 *	"t IDENTITY SENDER RECIPIENT"	a triplet
 *		first = first try, last = last pass (or last try while not
 *		passed), count = passes (0: still greylisted); expires at
 *		first + retry_window while count is 0, else last + max_age
 *	"c IDENTITY"			an identity's passes (auto-whitelist)
 *		count = triplets passed, last = latest; expires at
 *		last + max_age
 *
 * IDENTITY is "192.0.2.0/24", "2001:db8:1::/64" or "@example.com";
 * SENDER is the normalized sender or "<>"; RECIPIENT the recipient in
 * lower case.
 */
#ifndef POSTERN_GREYLIST_H
#define POSTERN_GREYLIST_H

#include "arena.h"
#include "conf.h"
#include "greylist_store.h"
#include "mailaddr.h"
#include "policy.h"

extern const struct policy_module greylist_module;

/*
 * greylist_normalize_sender - the sender as greylisting keys it (in
 * arena): lower case; BATV ("prvs=TAG=local", "msprvs1=TAG=local",
 * "btv1==TAG==local") removed; SRS ("SRS0=HASH=TT=domain=local@fwd",
 * SRS1 likewise) turned into the original "local@domain"; a "+extension"
 * removed; and, in the local part, every token (a run of letters and
 * digits) that is all digits, or is 10 or more long and contains a digit
 * (VERP and per-message bounce tags), replaced by "#" ("user2" stays,
 * "bounce-123-x" becomes "bounce-#-x"). The null sender is "<>".
 */
const char *greylist_normalize_sender(struct arena *arena,
    const struct mailaddr *sender);

/* What posternctl greylist needs of a [greylist] section. */
struct greylist_settings {
	const char *store;			/* spec */
	struct greylist_store_options opt;	/* as the module opens it */
	unsigned long auto_whitelist_clients;	/* 0: never */
};

/*
 * greylist_read_settings - apply section of cf (NULL: the defaults)
 * through the module's own settings table, so that the tool and filterd
 * agree on every default and every value's syntax; nothing is opened.
 * Strings live in arena; errors ("FILE:LINE: ...") are added to err.
 * Returns false when there were errors.
 */
bool greylist_read_settings(struct conf_file *cf, const char *section,
    struct arena *arena, struct greylist_settings *r,
    struct conf_errors *err);

#endif
