/*
 * dmarc_store.h - per-message DMARC records kept for aggregate reports
 * (RFC 7489 §7.2 and Appendix C)
 *
 * Contract:
 *
 * The store is a directory of day files, DIR/YYYY-MM-DD.log, one per UTC
 * day, named after the day of each record's time. Each record is one
 * line appended with a single write(2) to a descriptor opened with
 * O_APPEND, so that any number of threads and processes may append to
 * the same store at once without locks and without interleaving parts of
 * their lines. The day file is opened (and created, mode 0640) for each
 * record, so that a file moved away or removed by a clean-up job is
 * simply started again. Nothing else is ever written: files are never
 * rewritten or truncated.
 *
 * Line format, version 1: 19 fields separated by one TAB, ending in LF:
 *
 *	1	"1" (format version)
 *	2	time, decimal seconds since the epoch
 *	3	source_ip	the client address
 *	4	header_from	RFC5322.From domain
 *	5	policy_domain	where the DMARC record was found
 *	6, 7	p, sp		none | quarantine | reject
 *	8	pct		0..100
 *	9, 10	adkim, aspf	r | s
 *	11	fo		as published (default "0")
 *	12	disposition	none | quarantine | reject (applied)
 *	13, 14	dkim, spf	pass | fail (the DMARC-aligned results)
 *	15	reason		"" or a PolicyOverrideType: forwarded,
 *				sampled_out, trusted_forwarder,
 *				mailing_list, local_policy, other
 *	16	spf_domain	the SPF identity's domain ("" if unknown)
 *	17	spf_scope	mfrom | helo
 *	18	spf_result	none | neutral | pass | fail | softfail |
 *				temperror | permerror
 *	19	dkim		the DKIM signatures: items of
 *				domain,selector,result separated by
 *				';' ("" for none);
 *				result as in field 18 plus policy, without
 *				softfail
 *
 * Escaping: in every field, each byte outside printable ASCII (0x21 to
 * 0x7e) and each of '%', ',' and ';' is written as %XX (upper-case hex).
 * So no tab, CR, LF or space from untrusted data can break the format,
 * and the separators of field 19 stay unambiguous. %00 never occurs.
 *
 * Reading: a line that does not follow this format exactly (wrong field
 * count, a word outside its list, a bad escape, a raw byte outside
 * 0x21..0x7e, an empty line, a last line without LF) is an error naming
 * FILE:LINE; lines are never skipped silently.
 */
#ifndef POSTERN_DMARC_STORE_H
#define POSTERN_DMARC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define DMARC_STORE_DKIM_MAX	16	/* signatures kept per record */

struct dmarc_store_dkim {
	const char *domain;
	const char *selector;
	const char *result;
};

/* One evaluated message; see the line format above for each field's
 * values. Strings are never NULL ("" when empty). */
struct dmarc_store_record {
	time_t time;
	const char *source_ip;
	const char *header_from;
	const char *policy_domain;
	const char *p;
	const char *sp;
	unsigned pct;
	const char *adkim;
	const char *aspf;
	const char *fo;
	const char *disposition;
	const char *dkim_aligned;
	const char *spf_aligned;
	const char *reason;
	const char *spf_domain;
	const char *spf_scope;
	const char *spf_result;
	size_t ndkim;			/* at most DMARC_STORE_DKIM_MAX */
	const struct dmarc_store_dkim *dkim;
};

struct dmarc_store;

/* dmarc_store_open - a store on dir, which must be an existing directory
 * (whether it is writable shows at the first append, since a daemon may
 * check its config before dropping privileges); NULL with *error_r
 * (malloc'ed) otherwise. The handle may be shared by threads. */
struct dmarc_store *dmarc_store_open(const char *dir, char **error_r);
/* dmarc_store_close - free the handle; sets *store NULL */
void dmarc_store_close(struct dmarc_store **store);

/* dmarc_store_append - one record as one line of its day's file; false
 * with *error_r (malloc'ed) when a field is not valid (a caller's bug;
 * nothing is written) or the file cannot be opened or written whole */
bool dmarc_store_append(struct dmarc_store *store,
    const struct dmarc_store_record *rec, char **error_r);

/* dmarc_store_line - the line (with LF) that dmarc_store_append writes,
 * malloc'ed; NULL with *error_r (malloc'ed) when a field is not valid */
char *dmarc_store_line(const struct dmarc_store_record *rec,
    char **error_r);

/* dmarc_store_day_file - "DIR/YYYY-MM-DD.log" of t's UTC day, malloc'ed */
char *dmarc_store_day_file(const char *dir, time_t t);

/*
 * dmarc_store_read - call fn for each record of dir with from <= time <
 * to, day file by day file (in day order; lines in file order). A
 * missing day file has no records. The record and its strings live
 * until fn returns. fn returns false to stop early (not an error).
 * Returns false with *error_r (malloc'ed): "FILE:LINE: why" for a
 * malformed line, "FILE: why" when a file cannot be read.
 */
typedef bool (*dmarc_store_fn)(const struct dmarc_store_record *rec,
    void *arg);
bool dmarc_store_read(const char *dir, time_t from, time_t to,
    dmarc_store_fn fn, void *arg, char **error_r);

#endif
