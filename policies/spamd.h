/*
 * spamd.h - content scoring by SpamAssassin's spamd (module "spamd")
 *
 * The module collects the message (msgspool.h) and at EOM asks spamd
 * with the spamc protocol (SPAMC/1.5): "SYMBOLS" (or "REPORT" with
 * report = yes), Content-length, User (when user is set), the message;
 * the answer "SPAMD/1.x 0 EX_OK", "Spam: True|False ; SCORE / REQUIRED"
 * and the rule names (or the report text). Servers ("unix:/path",
 * "HOST:PORT", netconn.h) are tried in the order given: one that cannot
 * be reached (within connect_timeout), breaks off, times out (the
 * module's timeout bounds all of them) or answers anything but EX_OK is
 * logged with its name and the next is asked; when all fail the handler
 * returns POLICY_FAILED and the core applies on_failure (default: no
 * opinion, as spamc does when spamd is away). A message over max_size
 * (spamc's 500 KB) is not sent: no score, reason "not scanned: N bytes,
 * over max_size", as spamc passes such messages through.
 *
 * The result:
 *	score		the verdict's score is SCORE * score_scale, so spamd's
 *			opinion joins the pipeline's [scoring] total
 *	headers		X-Spam-Status: "Yes|No, score=S required=R
 *			tests=A,B,C" (always, for a scanned message), and
 *			at or above flag_score (default "required": spamd's
 *			own verdict) X-Spam-Flag: YES and, with subject_tag
 *			set, the Subject prefixed with it (once); with
 *			report = yes, X-Spam-Report with the report text
 *			(folded). X-Spam-Status, -Flag and -Report fields
 *			the message brought are removed from it first.
 *	actions		at or above reject_score: VERDICT_REJECT 550 5.7.1
 *			"Spam message rejected"; at or above
 *			quarantine_score: VERDICT_QUARANTINE (both off by
 *			default: [scoring] decides on the total)
 *	reason		"score=S required=R tests=..." for the summary log
 *
 * Mail from authenticated clients and from mynetworks is not sent
 * (skip_authenticated, skip_mynetworks: yes by default; an outbound relay
 * may turn them off to catch compromised accounts).
 */
#ifndef POSTERN_SPAMD_H
#define POSTERN_SPAMD_H

#include "policy.h"

extern const struct policy_module spamd_module;

#endif
