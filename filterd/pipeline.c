/*
 * pipeline.c - runs policy modules per stage and combines their verdicts
 */
#include "config.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mem.h"
#include "pipeline.h"
#include "registry.h"
#include "runtime.h"
#include "txn.h"

static const char *const pipeline_stage_names[POLICY_STAGES] = {
	[POLICY_CONNECT] = "connect",
	[POLICY_HELO] = "helo",
	[POLICY_MAIL] = "mail",
	[POLICY_RCPT] = "rcpt",
	[POLICY_DATA] = "data",
	[POLICY_HEADER] = "header",
	[POLICY_EOH] = "eoh",
	[POLICY_BODY] = "body",
	[POLICY_EOM] = "eom",
	[POLICY_ABORT] = "abort",
	[POLICY_CLOSE] = "close",
};

static const char *const pipeline_action_names[] = {
	[VERDICT_DUNNO] = "DUNNO",
	[VERDICT_OK] = "OK",
	[VERDICT_REJECT] = "REJECT",
	[VERDICT_DEFER] = "DEFER",
	[VERDICT_DISCARD] = "DISCARD",
	[VERDICT_QUARANTINE] = "QUARANTINE",
};

/* The reply the core gives when a module leaves code or text out. */
static const struct {
	const char *code, *xcode, *text;
} pipeline_defaults[] = {
	[VERDICT_REJECT] = { "550", "5.7.1", "Message rejected" },
	[VERDICT_DEFER] = { "451", "4.7.1", "Try again later" },
};

static const char *const pipeline_failure_names[] = {
	[POLICY_FAIL_TEMPFAIL] = "tempfail",
	[POLICY_FAIL_ACCEPT] = "accept",
	[POLICY_FAIL_REJECT] = "reject",
	NULL,
};

/* Settings every module section has, owned by the core. */
struct pipeline_common {
	int on_failure;
	double timeout;
};

static const struct conf_setting pipeline_common_settings[] = {
	{ .name = "on_failure", .type = CONF_ENUM,
	  .offset = offsetof(struct pipeline_common, on_failure),
	  .choices = pipeline_failure_names,
	  .help = "what an internal error or timeout of the module does" },
	{ .name = "timeout", .type = CONF_DURATION, .def = "30s",
	  .offset = offsetof(struct pipeline_common, timeout),
	  .help = "time budget of one handler call" },
	{ 0 },
};

static const struct conf_setting pipeline_scoring_settings[] = {
	{ .name = "reject", .type = CONF_DOUBLE, .def = "off",
	  .offset = offsetof(struct pipeline_scoring, reject),
	  .help = "total score at which the message is rejected" },
	{ .name = "defer", .type = CONF_DOUBLE, .def = "off",
	  .offset = offsetof(struct pipeline_scoring, defer),
	  .help = "total score at which the message is deferred" },
	{ .name = "quarantine", .type = CONF_DOUBLE, .def = "off",
	  .offset = offsetof(struct pipeline_scoring, quarantine),
	  .help = "total score at which the message is quarantined" },
	{ .name = "add_header", .type = CONF_DOUBLE, .def = "off",
	  .offset = offsetof(struct pipeline_scoring, add_header),
	  .help = "total score at which the score header is added" },
	{ .name = "header_name", .type = CONF_STRING,
	  .def = "X-Postern-Score",
	  .offset = offsetof(struct pipeline_scoring, header_name),
	  .help = "name of the score header" },
	{ .name = "subject_tag", .type = CONF_DOUBLE, .def = "off",
	  .offset = offsetof(struct pipeline_scoring, subject_tag),
	  .help = "total score at which the Subject gets subject_tag_text" },
	{ .name = "subject_tag_text", .type = CONF_STRING, .def = "[SPAM]",
	  .offset = offsetof(struct pipeline_scoring, subject_tag_text),
	  .help = "what goes in front of the Subject" },
	{ 0 },
};

/* policy_stage_name - the stage's name for logs and docs */
const char *
policy_stage_name(enum policy_stage stage)
{
	if ((unsigned)stage >= POLICY_STAGES)
		log_panic("bad stage %d", (int)stage);
	return pipeline_stage_names[stage];
}

/* policy_action_name - the action's name for logs */
const char *
policy_action_name(enum verdict_action action)
{
	if ((unsigned)action > VERDICT_QUARANTINE)
		log_panic("bad action %d", (int)action);
	return pipeline_action_names[action];
}

/* policy_now - monotonic seconds */
double
policy_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* pipeline_add_errors - take a module's "FILE:LINE: ..." lines */
static void
pipeline_add_errors(struct conf_errors *err, const char *prefix,
    const char *text)
{
	const char *p = text, *nl;

	while (*p) {
		nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > 0) {
			buf_puts(&err->text, prefix);
			buf_append(&err->text, p, len);
			buf_putc(&err->text, '\n');
			err->count++;
		}
		p += len + (nl != NULL);
	}
}

/* pipeline_deinit - arena cleanup: undo one module's init */
static void
pipeline_deinit(void *arg)
{
	struct pipeline_entry *e = arg;

	if (e->inited && e->mod->deinit != NULL)
		e->mod->deinit(e->config);
	e->inited = false;
}

/* pipeline_location - "FILE:LINE: " of a setting, or of the file */
static const char *
pipeline_location(struct arena *arena, const struct conf_file *cf,
    const char *section, const char *key)
{
	const struct conf_entry *ce = cf ? conf_find(cf, section, key) : NULL;

	if (ce != NULL)
		return arena_printf(arena, "%s:%d: ", ce->file, ce->line);
	if (cf != NULL)
		return arena_printf(arena, "%s: ", conf_file_name(cf));
	return "built-in defaults: ";
}

/* pipeline_find - a module of modules by name */
static const struct policy_module *
pipeline_find(const struct policy_module *const *modules, const char *name)
{
	for (size_t i = 0; modules[i] != NULL; i++)
		if (strcmp(modules[i]->name, name) == 0)
			return modules[i];
	return NULL;
}

/* pipeline_build - instantiate from the compiled-in modules */
struct pipeline *
pipeline_build(struct arena *arena, struct conf_file *cf,
    const struct conf_list *names, const struct policy_globals *globals,
    struct conf_errors *err)
{
	return pipeline_build_from(arena, cf, names, registry_modules, globals,
	    err);
}

/* pipeline_build_from - instantiate the modules named in the list */
struct pipeline *
pipeline_build_from(struct arena *arena, struct conf_file *cf,
    const struct conf_list *names, const struct policy_module *const *modules,
    const struct policy_globals *globals, struct conf_errors *err)
{
	struct pipeline *p = arena_alloc(arena, sizeof(*p));
	int errors = err->count;
	bool in_pipeline[64] = { false };

	p->entries = arena_alloc(arena,
	    (names->n + 1) * sizeof(struct pipeline_entry));
	conf_apply(cf, "scoring", pipeline_scoring_settings, &p->scoring,
	    arena, err);

	for (size_t i = 0; i < names->n; i++) {
		const struct policy_module *mod = pipeline_find(modules,
		    names->items[i]);
		const char *where = pipeline_location(arena, cf, "", "pipeline");
		struct pipeline_entry *e;
		struct pipeline_common common = { 0 };
		size_t m;

		if (mod == NULL) {
			struct buf known = { 0 };

			for (m = 0; modules[m] != NULL; m++)
				buf_printf(&known, "%s%s", m ? ", " : "",
				    modules[m]->name);
			buf_printf(&err->text,
			    "%sunknown module '%s' in pipeline (known: %s)\n",
			    where, names->items[i], buf_cstr(&known));
			err->count++;
			buf_free(&known);
			continue;
		}
		for (m = 0; modules[m] != mod; m++)
			;
		if (in_pipeline[m]) {
			buf_printf(&err->text,
			    "%smodule '%s' named twice in pipeline\n", where,
			    mod->name);
			err->count++;
			continue;
		}
		in_pipeline[m] = true;
		e = &p->entries[p->n++];
		e->mod = mod;
		e->config = arena_alloc(arena,
		    mod->config_size ? mod->config_size : 1);
		if (mod->settings != NULL)
			conf_apply(cf, mod->name, mod->settings, e->config,
			    arena, err);
		conf_apply(cf, mod->name, pipeline_common_settings, &common,
		    arena, err);
		if (cf == NULL || conf_find(cf, mod->name, "on_failure") == NULL)
			common.on_failure = mod->on_failure;
		if ((cf == NULL || conf_find(cf, mod->name, "timeout") ==
		    NULL) && mod->timeout > 0)
			common.timeout = mod->timeout;
		e->on_failure = common.on_failure;
		e->timeout = common.timeout;
		p->flags |= mod->flags;
		for (int s = 0; s < POLICY_STAGES; s++)
			if (mod->stage[s] != NULL)
				p->stage_used[s] = true;
	}

	/* sections of modules left out of the pipeline are still checked,
	 * so a typo there is not silently ignored */
	for (size_t m = 0; modules[m] != NULL; m++) {
		const struct policy_module *mod = modules[m];
		struct pipeline_common common = { 0 };
		void *scratch;

		if (in_pipeline[m] || cf == NULL ||
		    !conf_has_section(cf, mod->name))
			continue;
		scratch = arena_alloc(arena,
		    mod->config_size ? mod->config_size : 1);
		if (mod->settings != NULL)
			conf_apply(cf, mod->name, mod->settings, scratch, arena,
			    err);
		conf_apply(cf, mod->name, pipeline_common_settings, &common,
		    arena, err);
	}
	if (err->count != errors)
		return NULL;

	for (size_t i = 0; i < p->n; i++) {
		struct pipeline_entry *e = &p->entries[i];
		struct policy_init pi = {
			.config = e->config,
			.arena = arena,
			.globals = globals,
			.cf = cf,
			.section = e->mod->name,
			.timeout = e->timeout,
		};
		char *error = NULL;

		if (e->mod->init != NULL && !e->mod->init(&pi, &error)) {
			pipeline_add_errors(err, "",
			    error ? error : "module init failed");
			free(error);
			continue;
		}
		e->inited = true;
		arena_cleanup(arena, pipeline_deinit, e);
	}
	return err->count == errors ? p : NULL;
}

/* pipeline_dump - effective settings of each module and [scoring] */
void
pipeline_dump(const struct pipeline *p, FILE *fp)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct pipeline_entry *e = &p->entries[i];
		struct pipeline_common common = {
			.on_failure = e->on_failure,
			.timeout = e->timeout,
		};

		fputc('\n', fp);
		if (e->mod->settings != NULL)
			conf_dump(fp, e->mod->name, e->mod->settings, e->config);
		/* the core's settings of the section, under the same header */
		conf_dump(fp, e->mod->settings != NULL ? NULL : e->mod->name,
		    pipeline_common_settings, &common);
	}
	fputc('\n', fp);
	conf_dump(fp, "scoring", pipeline_scoring_settings, &p->scoring);
}

/* pipeline_default_reply - complete a verdict's reply; a code of the
 * wrong class for its action is a module bug and gets the default */
void
pipeline_default_reply(struct verdict *v)
{
	char want;

	if (v->action != VERDICT_REJECT && v->action != VERDICT_DEFER)
		return;
	want = v->action == VERDICT_REJECT ? '5' : '4';
	if (v->code == NULL || strlen(v->code) != 3 || v->code[0] != want) {
		if (v->code != NULL)
			log_warn("reply code %s does not fit action %s; "
			    "using the default", v->code,
			    policy_action_name(v->action));
		v->code = pipeline_defaults[v->action].code;
		v->xcode = NULL;
	}
	if (v->xcode == NULL || v->xcode[0] != want)
		v->xcode = want == '5' ? "5.7.1" : "4.7.1";
	if (v->text == NULL || *v->text == '\0')
		v->text = pipeline_defaults[v->action].text;
}

/* pipeline_failure - the verdict on_failure gives a failed module */
static void
pipeline_failure(const struct pipeline_entry *e, struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	switch ((enum policy_failure)e->on_failure) {
	case POLICY_FAIL_TEMPFAIL:
		v->action = VERDICT_DEFER;
		v->code = "451";
		v->xcode = "4.3.0";
		v->text = "Temporary failure, please try again later";
		break;
	case POLICY_FAIL_REJECT:
		v->action = VERDICT_REJECT;
		v->code = "550";
		v->xcode = "5.7.1";
		v->text = "Message rejected";
		break;
	case POLICY_FAIL_ACCEPT:
		v->action = VERDICT_DUNNO;
		break;
	}
	v->reason = "failed";
}

/* pipeline_run - run one stage; see pipeline.h for the rules */
void
pipeline_run(struct pipeline *p, struct txn *txn, enum policy_stage stage,
    struct verdict *final_r, const char **module_r)
{
	bool conn_scope = stage == POLICY_CONNECT || stage == POLICY_HELO ||
	    stage == POLICY_CLOSE;
	bool cleanup = stage == POLICY_ABORT || stage == POLICY_CLOSE;
	int *ok_from = conn_scope ? &txn->conn_ok_from : &txn->msg_ok_from;
	struct txn_result *results = txn->in_msg ? txn->msg_results :
	    txn->conn_results;

	memset(final_r, 0, sizeof(*final_r));
	*module_r = NULL;
	for (size_t i = 0; i < p->n; i++) {
		struct pipeline_entry *e = &p->entries[i];
		policy_handler handler = e->mod->stage[stage];
		struct verdict v = { 0 };
		enum policy_status status;
		double start, elapsed;

		if (handler == NULL)
			continue;
		if (!cleanup && *ok_from >= 0 && (int)i > *ok_from)
			continue;
		struct policy_call call = {
			.txn = txn,
			.config = e->config,
			.conn = txn->mod_conn[i],
			.msg = txn->in_msg ? txn->mod_msg[i] : NULL,
			.stage = stage,
		};
		start = policy_now();
		call.deadline = start + e->timeout;
		status = handler(&call, &v);
		elapsed = policy_now() - start;
		if (cleanup)
			continue;
		if (status != POLICY_DONE || elapsed > e->timeout) {
			log_msg(LOG_WARNING, txn_log_id(txn),
			    "module %s %s at %s after %.3fs; on_failure=%s",
			    e->mod->name,
			    status != POLICY_DONE ? "failed" : "timed out",
			    policy_stage_name(stage), elapsed,
			    pipeline_failure_names[e->on_failure]);
			pipeline_failure(e, &v);
			results[i].failed = true;
		}
		results[i].ran = true;
		if (v.action != VERDICT_DUNNO || results[i].reason == NULL) {
			results[i].action = v.action;
			results[i].reason = v.reason;
		}
		results[i].score += v.score;
		txn->score += v.score;
		if (v.authres != NULL)
			txn_add_authres(txn, v.authres);
		if (v.action == VERDICT_DUNNO)
			continue;
		if (v.action == VERDICT_OK)
			*ok_from = (int)i;
		pipeline_default_reply(&v);
		*final_r = v;
		*module_r = e->mod->name;
		break;
	}
}

/* pipeline_subject_tag - the Subject with tag in front (once: a Subject
 * that has it already is left alone; none at all becomes the tag) */
static void
pipeline_subject_tag(struct txn *txn, const char *tag)
{
	const char *subject = txn->subject;

	if (subject == NULL) {
		txn_add_header(txn, "Subject", tag);
		return;
	}
	if (strncmp(subject, tag, strlen(tag)) == 0)
		return;
	txn_change_header(txn, "Subject", 1, arena_printf(txn->msg_arena,
	    "%s %s", tag, subject));
}

/* pipeline_score_verdict - map the total score through [scoring] */
void
pipeline_score_verdict(struct pipeline *p, struct txn *txn,
    struct verdict *final_r)
{
	const struct pipeline_scoring *s = &p->scoring;
	double score = txn->score;

	memset(final_r, 0, sizeof(*final_r));
	if (score >= s->add_header && s->header_name[0] != '\0') {
		struct buf b = { 0 };

		pipeline_summary(p, txn, &b);
		txn_add_header(txn, s->header_name, arena_printf(
		    txn->msg_arena, "%.2f (%s)", score, buf_cstr(&b)));
		buf_free(&b);
	}
	if (score >= s->subject_tag && s->subject_tag_text[0] != '\0')
		pipeline_subject_tag(txn, s->subject_tag_text);
	if (score >= s->reject) {
		final_r->action = VERDICT_REJECT;
		final_r->code = "550";
		final_r->xcode = "5.7.1";
		final_r->text = arena_printf(txn->msg_arena,
		    "Message rejected (score %.2f)", score);
	} else if (score >= s->defer) {
		final_r->action = VERDICT_DEFER;
		final_r->code = "451";
		final_r->xcode = "4.7.1";
		final_r->text = arena_printf(txn->msg_arena,
		    "Message deferred (score %.2f), try again later", score);
	} else if (score >= s->quarantine) {
		final_r->action = VERDICT_QUARANTINE;
		final_r->text = arena_printf(txn->msg_arena,
		    "score %.2f", score);
	}
	final_r->reason = "scoring";
}

/* pipeline_summary - each module's result for the summary log line */
void
pipeline_summary(const struct pipeline *p, const struct txn *txn,
    struct buf *b)
{
	const struct txn_result *results = txn->in_msg ? txn->msg_results :
	    txn->conn_results;
	bool first = true;

	for (size_t i = 0; i < p->n; i++) {
		const struct txn_result *r = &results[i];

		if (!r->ran)
			continue;
		buf_printf(b, "%s%s:%s", first ? "" : ",", p->entries[i].mod->name,
		    r->failed ? "FAILED" : policy_action_name(r->action));
		if (r->score != 0)
			buf_printf(b, "(%+.2f)", r->score);
		first = false;
	}
	if (first)
		buf_puts(b, "none");
}
