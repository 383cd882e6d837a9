/*
 * content.h - Postfix-style header_checks and body_checks (module
 * "content")
 *
 * The tables are regexp: or pcre: tables (lists/table.h), as Postfix's
 * header_checks(5), asked with each logical header line "Name: value"
 * (folds unfolded: CR LF before white space removed, as Postfix does)
 * and with each body line. MIME-aware (lib/mime.h): the headers of MIME
 * parts and attached messages go to header_checks too (Postfix's
 * mime_header_checks and nested_header_checks default to it); body lines
 * are the decoded text of text/... parts (base64 and quoted-printable
 * undone), never the encoded bytes of attachments. body_checks stops
 * after body_checks_size_limit bytes of the body (Postfix's 51200), and
 * a decoded line is checked in pieces of at most line_length_limit.
 *
 * The value found is an action, Postfix's words:
 *	REJECT [text]	550 5.7.1 text (default "Message content
 *			rejected"); a "4.x.y"/"5.x.y" code at the start of
 *			text is used as the enhanced status
 *	DEFER [text]	450 4.7.1 text
 *	DISCARD [text]	accept and drop
 *	HOLD [text]	quarantine (the MTA's hold queue)
 *	WARN [text]	log only
 *	IGNORE		remove this header (header_checks of the top-level
 *			header only)
 *	PREPEND text	add the header line text before this one (body: at
 *			the top of the header)
 *	REPLACE text	replace this header line with the line text
 *	DUNNO, OK	nothing (this line is done)
 *	SCORE n [text]	Postern's: add n to the pipeline score
 * The first match of a line counts. A refusing action (REJECT, DEFER,
 * DISCARD, HOLD) ends the checks of the message; its verdict is given at
 * that stage for headers, at EOM for the body. Every match is logged
 * with the table and the line number of the pattern (Postfix logs
 * "header_checks: ..." lines the same way). A value that is no action
 * is logged as a table error and the line is skipped; a table lookup
 * error makes the handler fail (on_failure: tempfail).
 */
#ifndef POSTERN_CONTENT_H
#define POSTERN_CONTENT_H

#include "policy.h"

extern const struct policy_module content_module;

#endif
