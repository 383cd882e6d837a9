/*
 * content.c - Postfix-style header_checks and body_checks (content.h)
 *
 * Headers are checked as they come (HEADER), so a refusal is given at
 * that stage as Postfix's cleanup does; body lines go through lib/mime
 * (decoded text only) as the body chunks come, and what they decide is
 * given at EOM. Header edits (IGNORE, PREPEND, REPLACE) are queued
 * through the core, which applies them at the end of the message; the
 * positions they name are counted here, shifted by the edits queued
 * before them.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "content.h"
#include "log.h"
#include "mem.h"
#include "mime.h"

#define CONTENT_LOG_MAX		200	/* of a header or line, in logs */

enum content_act {
	CONTENT_REJECT,
	CONTENT_DEFER,
	CONTENT_DISCARD,
	CONTENT_HOLD,
	CONTENT_WARN,
	CONTENT_IGNORE,
	CONTENT_PREPEND,
	CONTENT_REPLACE,
	CONTENT_DUNNO,
	CONTENT_SCORE,
};

/* where a line being checked came from */
enum content_where {
	CONTENT_TOP,		/* the message's own header */
	CONTENT_NESTED,		/* a MIME part's or attached message's */
	CONTENT_BODY,
};

/* the action words, Postfix's spelling */
static const struct content_action {
	const char *word;
	enum content_act act;
	bool needs_text;	/* PREPEND and REPLACE carry a header line */
	bool edits;		/* changes the top-level header */
} content_actions[] = {
	{ .word = "REJECT", .act = CONTENT_REJECT },
	{ .word = "DEFER", .act = CONTENT_DEFER },
	{ .word = "DISCARD", .act = CONTENT_DISCARD },
	{ .word = "HOLD", .act = CONTENT_HOLD },
	{ .word = "WARN", .act = CONTENT_WARN },
	{ .word = "IGNORE", .act = CONTENT_IGNORE, .edits = true },
	{ .word = "PREPEND", .act = CONTENT_PREPEND, .needs_text = true,
	  .edits = true },
	{ .word = "REPLACE", .act = CONTENT_REPLACE, .needs_text = true,
	  .edits = true },
	{ .word = "DUNNO", .act = CONTENT_DUNNO },
	{ .word = "OK", .act = CONTENT_DUNNO },
	{ .word = "SCORE", .act = CONTENT_SCORE },
	{ 0 },
};

/* what a refusing action becomes */
static const struct content_refusal {
	enum verdict_action action;
	const char *code, *xcode, *text;
} content_refusals[] = {
	[CONTENT_REJECT] = { .action = VERDICT_REJECT, .code = "550",
	    .xcode = "5.7.1", .text = "Message content rejected" },
	[CONTENT_DEFER] = { .action = VERDICT_DEFER, .code = "450",
	    .xcode = "4.7.1", .text = "Message content deferred, try again "
	    "later" },
	[CONTENT_DISCARD] = { .action = VERDICT_DISCARD },
	[CONTENT_HOLD] = { .action = VERDICT_QUARANTINE },
};

static const char *const content_where_names[] = {
	[CONTENT_TOP] = "header",
	[CONTENT_NESTED] = "mime header",
	[CONTENT_BODY] = "body",
};

struct content_config {
	struct conf_list header_checks;
	struct conf_list body_checks;
	uint64_t body_checks_size_limit;
	uint64_t line_length_limit;
	/* runtime, from init */
	struct table **htables, **btables;
	size_t nh, nb;
};

/* one header name: how many of the top-level header have it so far,
 * and how the edits queued before the current header moved the index of
 * the next one (deleted: -1, inserted before it: +1) */
struct content_name {
	const char *name;
	unsigned count;
	int adjust;
	struct content_name *next;
};

struct content_msg {
	struct txn *txn;
	const struct content_config *cfg;
	unsigned nhdr;			/* top-level headers seen */
	int shift;			/* inserts minus deletes queued */
	struct content_name *names;
	unsigned cur;			/* the index of the header being
					   checked among those of its name,
					   as the core will count it */
	const char *ctype, *cte;	/* the top-level MIME headers */
	struct mime *mime;
	uint64_t body_bytes;
	bool decided;			/* a refusing action came */
	bool failed;			/* a lookup error in the body */
	struct verdict body;		/* what the body decided */
	double body_score;
};

/* content_unfold - "Name:" + value with the CR and LF of folds removed,
 * as Postfix matches a logical header line */
static char *
content_unfold(struct arena *arena, const char *name, const char *raw)
{
	struct buf b = { 0 };
	char *s;

	buf_printf(&b, "%s:", name);
	for (; *raw != '\0'; raw++)
		if (*raw != '\r' && *raw != '\n')
			buf_putc(&b, *raw);
	s = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return s;
}

/* content_parse - "WORD [text]" into its action and text; NULL when the
 * word is no action (text then names the problem) */
static const struct content_action *
content_parse(const char *value, const char **text_r)
{
	size_t n = strcspn(value, " \t");
	const char *rest = value + n;

	rest += strspn(rest, " \t");
	for (const struct content_action *a = content_actions; a->word != NULL;
	    a++)
		if (strlen(a->word) == n && strncasecmp(value, a->word, n) == 0) {
			*text_r = rest;
			return a;
		}
	*text_r = "not a header_checks action";
	return NULL;
}

/* content_header_line - "Name: value" split; false when text is no
 * header line (PREPEND/REPLACE need one) */
static bool
content_header_line(struct arena *arena, const char *text,
    const char **name_r, const char **value_r)
{
	size_t n = strcspn(text, ":");

	if (n == 0 || text[n] != ':')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)text[i] <= ' ' || (unsigned char)text[i] > '~')
			return false;
	*name_r = arena_strndup(arena, text, n);
	text += n + 1;
	*value_r = text + strspn(text, " \t");
	return true;
}

/* content_name - the record of a header name (made at first sight) */
static struct content_name *
content_name(struct content_msg *m, const char *name)
{
	struct content_name *cn;

	for (cn = m->names; cn != NULL; cn = cn->next)
		if (strcasecmp(cn->name, name) == 0)
			return cn;
	cn = arena_alloc(txn_msg_arena(m->txn), sizeof(*cn));
	cn->name = arena_strdup(txn_msg_arena(m->txn), name);
	cn->count = 0;
	cn->adjust = 0;
	cn->next = m->names;
	m->names = cn;
	return cn;
}

/* content_delete - queue the removal of the current header */
static void
content_delete(struct content_msg *m, const char *hname)
{
	txn_change_header(m->txn, hname, m->cur, NULL);
	content_name(m, hname)->adjust--;
	m->shift--;
}

/* content_insert - queue a header line at position (before the current
 * header, or 0: the top) */
static void
content_insert(struct content_msg *m, unsigned position, const char *name,
    const char *value)
{
	txn_insert_header(m->txn, position, name, value);
	content_name(m, name)->adjust++;
	m->shift++;
}

/* content_refuse - the verdict of a refusing action with its text (an
 * enhanced status of the action's class at its start is used) */
static void
content_refuse(struct arena *arena, enum content_act act, const char *text,
    struct verdict *v)
{
	const struct content_refusal *r = &content_refusals[act];
	size_t n = strspn(text, "0123456789.");

	v->action = r->action;
	v->code = r->code;
	v->xcode = r->xcode;
	v->text = *text != '\0' ? arena_strdup(arena, text) : r->text;
	if (r->xcode != NULL && n >= 5 && text[0] == r->xcode[0] &&
	    text[1] == '.' && (text[n] == ' ' || text[n] == '\0')) {
		v->xcode = arena_strndup(arena, text, n);
		text += n;
		text += strspn(text, " ");
		v->text = *text != '\0' ? arena_strdup(arena, text) : r->text;
	}
}

/*
 * content_check - look line up in tables (setting names them for logs)
 * and act; the position of a top-level header is m->nhdr (before it is
 * counted) and its name is hname. false on a lookup error.
 */
static bool
content_check(struct content_msg *m, struct table *const *tables, size_t n,
    const char *setting, enum content_where where, const char *line,
    const char *hname, struct verdict *v)
{
	struct arena *arena = txn_msg_arena(m->txn);
	const char *qid = txn_queue_id(m->txn), *value = NULL, *text = "",
	    *name = NULL, *hvalue = NULL, *end;
	const struct content_action *a = NULL;
	struct table *t = NULL;
	double score;
	unsigned position;
	int lineno = 0;
	size_t i;

	for (i = 0; i < n && a == NULL; i++) {
		t = tables[i];
		switch (table_lookup_line(t, line, arena, &value, &lineno)) {
		case TABLE_ERROR:
			return false;
		case TABLE_NOTFOUND:
			continue;
		case TABLE_FOUND:
			break;
		}
		if ((a = content_parse(value, &text)) == NULL) {
			log_msg(LOG_WARNING, qid, "content: %s %s line %d: "
			    "\"%s\": %s; ignored", setting, table_spec(t),
			    lineno, value, text);
			return true;
		}
	}
	if (a == NULL)
		return true;
	log_msg(a->act == CONTENT_DUNNO ? LOG_DEBUG : LOG_INFO, qid,
	    "content: %s %s line %d: %s %s: %.*s%s%s%s", setting,
	    table_spec(t), lineno, a->word, content_where_names[where],
	    CONTENT_LOG_MAX, line, strlen(line) > CONTENT_LOG_MAX ? "..." : "",
	    *text != '\0' ? ": " : "", text);
	if (a->edits && where != CONTENT_TOP && a->act != CONTENT_PREPEND) {
		log_msg(LOG_WARNING, qid, "content: %s %s line %d: %s only "
		    "edits the message's own header; ignored here", setting,
		    table_spec(t), lineno, a->word);
		return true;
	}
	if (a->needs_text && !content_header_line(arena, text, &name,
	    &hvalue)) {
		log_msg(LOG_WARNING, qid, "content: %s %s line %d: %s needs "
		    "a header line \"Name: value\"; ignored", setting,
		    table_spec(t), lineno, a->word);
		return true;
	}
	v->reason = arena_printf(arena, "%s line %d %s", setting, lineno,
	    a->word);
	switch (a->act) {
	case CONTENT_REJECT:
	case CONTENT_DEFER:
	case CONTENT_DISCARD:
	case CONTENT_HOLD:
		content_refuse(arena, a->act, text, v);
		m->decided = true;
		break;
	case CONTENT_WARN:
	case CONTENT_DUNNO:
		break;
	case CONTENT_SCORE:
		score = strtod(text, (char **)&end);
		if (end == text || (*end != '\0' && !isspace(
		    (unsigned char)*end))) {
			log_msg(LOG_WARNING, qid, "content: %s %s line %d: "
			    "SCORE needs a number; ignored", setting,
			    table_spec(t), lineno);
			break;
		}
		v->score += score;
		break;
	case CONTENT_IGNORE:
		content_delete(m, hname);
		break;
	case CONTENT_PREPEND:
		/* before this header; a body or MIME part line: at the top
		 * (filterd does not rewrite bodies) */
		content_insert(m, where == CONTENT_TOP ?
		    (unsigned)((int)m->nhdr + m->shift) : 0, name, hvalue);
		break;
	case CONTENT_REPLACE:
		/* where this header is now; after its removal the next one
		 * moves up into that place, and the new line goes before it */
		position = (unsigned)((int)m->nhdr + m->shift);
		content_delete(m, hname);
		content_insert(m, position, name, hvalue);
		break;
	}
	return true;
}

/* content_table_opens - one setting's tables, each a pattern table */
static struct table **
content_table_opens(const struct policy_init *pi, const char *setting,
    const struct conf_list *l, size_t *n_r, struct buf *err)
{
	struct table **tables = arena_alloc(pi->arena, (l->n + 1) *
	    sizeof(*tables));
	char *why = NULL;
	size_t i;

	*n_r = 0;
	for (i = 0; i < l->n; i++) {
		if ((tables[*n_r] = table_open(l->items[i], &why)) == NULL) {
			conf_setting_error(err, pi->cf, pi->section, setting,
			    "table %s: %s", l->items[i], why != NULL ? why :
			    "cannot open");
			free(why);
			why = NULL;
			continue;
		}
		if (!table_is_pattern(tables[*n_r])) {
			conf_setting_error(err, pi->cf, pi->section, setting,
			    "%s is not a pattern table (use regexp: or pcre:)",
			    l->items[i]);
			table_close(&tables[*n_r]);
			continue;
		}
		(*n_r)++;
	}
	return tables;
}

/* content_deinit - close the tables */
static void
content_deinit(void *config)
{
	struct content_config *cfg = config;
	size_t i;

	for (i = 0; i < cfg->nh; i++)
		table_close(&cfg->htables[i]);
	for (i = 0; i < cfg->nb; i++)
		table_close(&cfg->btables[i]);
	cfg->nh = cfg->nb = 0;
}

/* content_init - open the tables */
static bool
content_init(struct policy_init *pi, char **error_r)
{
	struct content_config *cfg = pi->config;
	struct buf err = { 0 };

	cfg->htables = content_table_opens(pi, "header_checks",
	    &cfg->header_checks, &cfg->nh, &err);
	cfg->btables = content_table_opens(pi, "body_checks",
	    &cfg->body_checks, &cfg->nb, &err);
	if (err.len == 0)
		return true;
	content_deinit(cfg);
	*error_r = buf_steal(&err);
	return false;
}

/* content_msg_cleanup - the MIME reader goes with the message */
static void
content_msg_cleanup(void *arg)
{
	struct content_msg *m = arg;

	mime_free(&m->mime);
}

/* content_start - the message state, set up once */
static struct content_msg *
content_start(const struct policy_call *call)
{
	struct content_msg *m = call->msg;

	if (m == NULL)
		log_panic("content: message stage without message state");
	if (m->txn == NULL) {
		m->txn = call->txn;
		m->cfg = call->config;
		arena_cleanup(txn_msg_arena(call->txn), content_msg_cleanup,
		    m);
	}
	return m;
}

/* content_header - HEADER: header_checks on the logical line */
static enum policy_status
content_header(const struct policy_call *call, struct verdict *v)
{
	struct content_msg *m = content_start(call);
	const struct content_config *cfg = call->config;
	struct arena *arena = txn_msg_arena(call->txn);
	const char *name = txn_header_name(call->txn);
	const char *raw = txn_header_raw(call->txn);
	struct content_name *cn;
	const char *line, *value;
	bool ok = true;

	if (name == NULL)
		return POLICY_DONE;
	line = content_unfold(arena, name, raw != NULL ? raw : "");
	value = line + strlen(name) + 1;
	value += strspn(value, " \t");
	if (strcasecmp(name, "Content-Type") == 0 && m->ctype == NULL)
		m->ctype = value;
	else if (strcasecmp(name, "Content-Transfer-Encoding") == 0 &&
	    m->cte == NULL)
		m->cte = value;
	cn = content_name(m, name);
	cn->count++;
	m->cur = (unsigned)((int)cn->count + cn->adjust);
	if (!m->decided && cfg->nh > 0)
		ok = content_check(m, cfg->htables, cfg->nh, "header_checks",
		    CONTENT_TOP, line, name, v);
	/* counted after the check: edits name this header's position */
	m->nhdr++;
	return ok ? POLICY_DONE : POLICY_FAILED;
}

/* content_mime_header - a MIME part's header: header_checks (Postfix's
 * mime_header_checks and nested_header_checks default to it) */
static bool
content_mime_header(void *arg, const char *field, size_t len, unsigned depth)
{
	struct content_msg *m = arg;
	const struct content_config *cfg = m->cfg;

	(void)len;
	(void)depth;
	if (cfg->nh == 0)
		return true;
	if (!content_check(m, cfg->htables, cfg->nh, "header_checks",
	    CONTENT_NESTED, field, NULL, &m->body)) {
		m->failed = true;
		return false;
	}
	return !m->decided;
}

/* content_mime_line - a decoded line of text: body_checks */
static bool
content_mime_line(void *arg, const char *line, size_t len)
{
	struct content_msg *m = arg;
	const struct content_config *cfg = m->cfg;

	(void)len;
	if (cfg->nb == 0)
		return true;
	if (!content_check(m, cfg->btables, cfg->nb, "body_checks",
	    CONTENT_BODY, line, NULL, &m->body)) {
		m->failed = true;
		return false;
	}
	return !m->decided;
}

/* content_body - BODY: the chunk into the MIME reader, up to
 * body_checks_size_limit */
static enum policy_status
content_body(const struct policy_call *call, struct verdict *v)
{
	struct content_msg *m = content_start(call);
	const struct content_config *cfg = call->config;
	const unsigned char *chunk;
	size_t len = 0;

	(void)v;
	if (m->decided || (cfg->nb == 0 && cfg->nh == 0))
		return POLICY_DONE;
	if (m->mime == NULL)
		m->mime = mime_new(m->ctype, m->cte,
		    (size_t)cfg->line_length_limit, content_mime_header,
		    content_mime_line, m);
	chunk = txn_body_chunk(call->txn, &len);
	if (chunk == NULL || m->body_bytes >= cfg->body_checks_size_limit)
		return POLICY_DONE;
	if (len > cfg->body_checks_size_limit - m->body_bytes)
		len = (size_t)(cfg->body_checks_size_limit - m->body_bytes);
	m->body_bytes += len;
	mime_feed(m->mime, chunk, len);
	return m->failed ? POLICY_FAILED : POLICY_DONE;
}

/* content_eom - EOM: the last line, then what the body decided */
static enum policy_status
content_eom(const struct policy_call *call, struct verdict *v)
{
	struct content_msg *m = content_start(call);

	if (m->mime != NULL && !m->decided && !m->failed)
		mime_end(m->mime);
	mime_free(&m->mime);
	if (m->failed)
		return POLICY_FAILED;
	*v = m->body;
	return POLICY_DONE;
}

/* content_abort - ABORT: the reader goes */
static enum policy_status
content_abort(const struct policy_call *call, struct verdict *v)
{
	struct content_msg *m = call->msg;

	(void)v;
	if (m != NULL)
		mime_free(&m->mime);
	return POLICY_DONE;
}

#define CONTENT_OFF(f)	offsetof(struct content_config, f)

static const struct conf_setting content_settings[] = {
	{ .name = "header_checks", .type = CONF_LIST, .def = "",
	  .offset = CONTENT_OFF(header_checks),
	  .help = "regexp:/pcre: tables asked with each header line" },
	{ .name = "body_checks", .type = CONF_LIST, .def = "",
	  .offset = CONTENT_OFF(body_checks),
	  .help = "regexp:/pcre: tables asked with each decoded body line" },
	{ .name = "body_checks_size_limit", .type = CONF_SIZE,
	  .def = "51200", .offset = CONTENT_OFF(body_checks_size_limit),
	  .help = "body bytes that body_checks looks at" },
	{ .name = "line_length_limit", .type = CONF_SIZE, .def = "2048",
	  .offset = CONTENT_OFF(line_length_limit), .min = "80",
	  .max = "1M", .help = "longer decoded lines are checked in pieces" },
	{ 0 },
};

const struct policy_module content_module = {
	.name = "content",
	.summary = "header_checks and body_checks (Postfix's regexp: and "
	    "pcre: tables), MIME-aware",
	.settings = content_settings,
	.config_size = sizeof(struct content_config),
	.init = content_init,
	.deinit = content_deinit,
	.msg_size = sizeof(struct content_msg),
	.stage = {
		[POLICY_HEADER] = content_header,
		[POLICY_BODY] = content_body,
		[POLICY_EOM] = content_eom,
		[POLICY_ABORT] = content_abort,
	},
	.flags = POLICY_NEEDS_BODY | POLICY_ADDS_HEADERS |
	    POLICY_CHANGES_HEADERS | POLICY_NEEDS_LEADSPC,
	.on_failure = POLICY_FAIL_TEMPFAIL,
};
