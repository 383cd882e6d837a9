/*
 * test_pipeline.c - stage dispatch, verdict rules, failures, scoring
 *
 * Fake modules record their calls and answer what each test sets, so the
 * engine's rules are checked without libmilter.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "matchlist.h"
#include "pipeline.h"
#include "runtime.h"
#include "txn.h"

struct fake_config {
	char *answer;		/* DUNNO OK REJECT DEFER DISCARD QUARANTINE
				   FAIL SLOW */
	double score;
	char *authres;
};

static const struct conf_setting fake_settings[] = {
	{ .name = "answer", .type = CONF_STRING, .def = "DUNNO",
	  .offset = offsetof(struct fake_config, answer) },
	{ .name = "score", .type = CONF_DOUBLE, .def = "0",
	  .offset = offsetof(struct fake_config, score) },
	{ .name = "authres", .type = CONF_STRING, .def = "",
	  .offset = offsetof(struct fake_config, authres) },
	{ 0 },
};

static char calls[256];

/* fake_handler - answer as configured and record the call */
static enum policy_status
fake_handler(const struct policy_call *call, struct verdict *v)
{
	const struct fake_config *c = call->config;
	static const struct {
		const char *name;
		enum verdict_action action;
	} answers[] = {
		{ "DUNNO", VERDICT_DUNNO }, { "OK", VERDICT_OK },
		{ "REJECT", VERDICT_REJECT }, { "DEFER", VERDICT_DEFER },
		{ "DISCARD", VERDICT_DISCARD },
		{ "QUARANTINE", VERDICT_QUARANTINE },
	};

	strcat(calls, c->answer);
	strcat(calls, ";");
	if (strcmp(c->answer, "FAIL") == 0)
		return POLICY_FAILED;
	if (strcmp(c->answer, "SLOW") == 0) {
		usleep(120 * 1000);
		return POLICY_DONE;
	}
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
		if (strcmp(c->answer, answers[i].name) == 0)
			v->action = answers[i].action;
	v->score = c->score;
	if (*c->authres)
		v->authres = c->authres;
	return POLICY_DONE;
}

#define FAKE_MODULE(id)                                                       \
	static const struct policy_module id##_module = {                     \
		.name = #id,                                                  \
		.settings = fake_settings,                                    \
		.config_size = sizeof(struct fake_config),                    \
		.stage = { [POLICY_CONNECT] = fake_handler,                   \
		    [POLICY_MAIL] = fake_handler,                             \
		    [POLICY_RCPT] = fake_handler,                             \
		    [POLICY_EOM] = fake_handler },                            \
		.on_failure = POLICY_FAIL_TEMPFAIL,                           \
	}
FAKE_MODULE(alpha);
FAKE_MODULE(beta);
FAKE_MODULE(gamma);

/* a module with its own default timeout, shorter than SLOW's 120 ms */
static const struct policy_module delta_module = {
	.name = "delta",
	.settings = fake_settings,
	.config_size = sizeof(struct fake_config),
	.stage = { [POLICY_MAIL] = fake_handler },
	.on_failure = POLICY_FAIL_TEMPFAIL,
	.timeout = 0.05,
};

static const struct policy_module *const fake_modules[] = {
	&alpha_module, &beta_module, &gamma_module, &delta_module, NULL,
};

struct fixture {
	struct runtime *rt;
	struct txn *txn;
	struct conf_errors err;
};

/* fixture_build - a runtime over the fake modules from config text */
static struct fixture *
fixture_build(const char *text)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct arena *arena = arena_create();
	struct conf_file *cf = conf_load_string("test.conf", text, &f->err);
	struct conf_list nets = { 0 };
	char *error = NULL;

	assert_non_null(cf);
	f->rt = arena_alloc(arena, sizeof(*f->rt));
	f->rt->arena = arena;
	f->rt->refs = 1;
	conf_apply(cf, "", runtime_settings, &f->rt->set, arena, &f->err);
	f->rt->globals.authserv_id = "mx.example.com";
	conf_split_list(arena, "127.0.0.0/8", &nets);
	f->rt->globals.mynetworks = matchlist_open(arena, &nets,
	    MATCHLIST_NETWORKS, &error);
	assert_non_null(f->rt->globals.mynetworks);
	f->rt->pipeline = pipeline_build_from(arena, cf, &f->rt->set.pipeline,
	    fake_modules, &f->rt->globals, &f->err);
	conf_file_free(&cf);
	if (f->rt->pipeline != NULL)
		f->txn = txn_conn_begin(f->rt);
	calls[0] = '\0';
	return f;
}

/* fixture_free - end the connection (which drops the runtime) */
static void
fixture_free(struct fixture *f)
{
	if (f->txn != NULL)
		txn_conn_end(&f->txn);
	else
		runtime_release(&f->rt);
	conf_errors_free(&f->err);
	free(f);
}

/* test_first_definite_wins - later modules don't run after a verdict */
static void
test_first_definite_wins(void **state)
{
	struct fixture *f = fixture_build("pipeline = alpha, beta, gamma\n"
	    "[alpha]\nscore = 1.5\n[beta]\nanswer = REJECT\n");
	struct verdict v;
	const char *module;

	(void)state;
	txn_msg_begin(f->txn);
	pipeline_run(f->rt->pipeline, f->txn, POLICY_MAIL, &v, &module);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(module, "beta");
	assert_string_equal(v.code, "550");
	assert_string_equal(v.xcode, "5.7.1");
	assert_string_equal(v.text, "Message rejected");
	assert_string_equal(calls, "DUNNO;REJECT;");
	assert_true(fabs(txn_score(f->txn) - 1.5) < 1e-9);
	fixture_free(f);
}

/* test_ok_skips_later - OK ends the stage and skips later modules for
 * the rest of the message, but not the earlier ones */
static void
test_ok_skips_later(void **state)
{
	struct fixture *f = fixture_build("pipeline = alpha, beta, gamma\n"
	    "[beta]\nanswer = OK\n[gamma]\nanswer = REJECT\n");
	struct verdict v;
	const char *module;

	(void)state;
	txn_msg_begin(f->txn);
	pipeline_run(f->rt->pipeline, f->txn, POLICY_MAIL, &v, &module);
	assert_int_equal(v.action, VERDICT_OK);
	pipeline_run(f->rt->pipeline, f->txn, POLICY_RCPT, &v, &module);
	assert_int_equal(v.action, VERDICT_OK);
	assert_string_equal(calls, "DUNNO;OK;DUNNO;OK;");
	/* a new message starts clean: gamma rejects again */
	txn_msg_begin(f->txn);
	calls[0] = '\0';
	pipeline_run(f->rt->pipeline, f->txn, POLICY_RCPT, &v, &module);
	assert_int_equal(v.action, VERDICT_OK);
	fixture_free(f);
}

/* test_failure_actions - FAILED takes on_failure */
static void
test_failure_actions(void **state)
{
	static const struct {
		const char *conf;
		enum verdict_action action;
		const char *code, *xcode;
	} cases[] = {
		{ "pipeline = alpha\n[alpha]\nanswer = FAIL\n",
		  VERDICT_DEFER, "451", "4.3.0" },
		{ "pipeline = alpha\n[alpha]\nanswer = FAIL\n"
		  "on_failure = accept\n", VERDICT_DUNNO, NULL, NULL },
		{ "pipeline = alpha\n[alpha]\nanswer = FAIL\n"
		  "on_failure = reject\n", VERDICT_REJECT, "550", "5.7.1" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture *f = fixture_build(cases[i].conf);
		struct verdict v;
		const char *module;

		assert_non_null(f->rt->pipeline);
		txn_msg_begin(f->txn);
		pipeline_run(f->rt->pipeline, f->txn, POLICY_MAIL, &v,
		    &module);
		assert_int_equal(v.action, cases[i].action);
		if (cases[i].code != NULL) {
			assert_string_equal(v.code, cases[i].code);
			assert_string_equal(v.xcode, cases[i].xcode);
		}
		assert_true(f->txn->msg_results[0].failed);
		fixture_free(f);
	}
}

/* test_timeout - a handler overrunning its timeout counts as failed */
static void
test_timeout(void **state)
{
	struct fixture *f = fixture_build("pipeline = alpha, beta\n"
	    "[alpha]\nanswer = SLOW\ntimeout = 50ms\n");
	struct verdict v;
	const char *module;

	(void)state;
	assert_non_null(f->rt->pipeline);
	txn_msg_begin(f->txn);
	pipeline_run(f->rt->pipeline, f->txn, POLICY_MAIL, &v, &module);
	assert_int_equal(v.action, VERDICT_DEFER);
	assert_string_equal(v.code, "451");
	assert_string_equal(module, "alpha");
	assert_string_equal(calls, "SLOW;");
	fixture_free(f);
}

/* test_module_timeout - a module's own default timeout applies unless
 * its section sets one */
static void
test_module_timeout(void **state)
{
	struct fixture *f = fixture_build("pipeline = delta\n"
	    "[delta]\nanswer = SLOW\n");
	struct verdict v;
	const char *module;

	(void)state;
	assert_non_null(f->rt->pipeline);
	txn_msg_begin(f->txn);
	pipeline_run(f->rt->pipeline, f->txn, POLICY_MAIL, &v, &module);
	assert_int_equal(v.action, VERDICT_DEFER);
	assert_string_equal(module, "delta");
	fixture_free(f);

	f = fixture_build("pipeline = delta\n[delta]\nanswer = SLOW\n"
	    "timeout = 2s\n");
	assert_non_null(f->rt->pipeline);
	txn_msg_begin(f->txn);
	pipeline_run(f->rt->pipeline, f->txn, POLICY_MAIL, &v, &module);
	assert_int_equal(v.action, VERDICT_DUNNO);
	fixture_free(f);
}

/* test_scoring - totals map to the [scoring] actions */
static void
test_scoring(void **state)
{
	struct fixture *f = fixture_build("pipeline = alpha, beta\n"
	    "[alpha]\nscore = 2\n[beta]\nscore = 3.5\n"
	    "[scoring]\nreject = 5\nadd_header = 1\n");
	struct verdict v;
	const char *module;

	(void)state;
	assert_non_null(f->rt->pipeline);
	txn_msg_begin(f->txn);
	pipeline_run(f->rt->pipeline, f->txn, POLICY_EOM, &v, &module);
	assert_int_equal(v.action, VERDICT_DUNNO);
	pipeline_score_verdict(f->rt->pipeline, f->txn, &v);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.code, "550");
	assert_string_equal(v.text, "Message rejected (score 5.50)");
	assert_non_null(f->txn->edits);
	assert_string_equal(f->txn->edits->name, "X-Postern-Score");
	assert_string_equal(f->txn->edits->value,
	    "5.50 (alpha:DUNNO(+2.00),beta:DUNNO(+3.50))");
	fixture_free(f);

	f = fixture_build("pipeline = alpha\n[alpha]\nscore = 4\n"
	    "[scoring]\nreject = 10\ndefer = 6\nquarantine = 4\n");
	txn_msg_begin(f->txn);
	pipeline_run(f->rt->pipeline, f->txn, POLICY_EOM, &v, &module);
	pipeline_score_verdict(f->rt->pipeline, f->txn, &v);
	assert_int_equal(v.action, VERDICT_QUARANTINE);
	assert_null(f->txn->edits);
	fixture_free(f);

	/* subject_tag: the Subject gets the tag once; no Subject: one is
	 * added */
	f = fixture_build("pipeline = alpha\n[alpha]\nscore = 6\n"
	    "[scoring]\nsubject_tag = 5\nsubject_tag_text = [SPAM]\n");
	txn_msg_begin(f->txn);
	txn_header_seen(f->txn, "Subject", " cheap pills");
	txn_header_seen(f->txn, "Subject", " second one");
	pipeline_run(f->rt->pipeline, f->txn, POLICY_EOM, &v, &module);
	pipeline_score_verdict(f->rt->pipeline, f->txn, &v);
	assert_int_equal(v.action, VERDICT_DUNNO);
	assert_non_null(f->txn->edits);
	assert_int_equal(f->txn->edits->kind, TXN_EDIT_CHANGE);
	assert_string_equal(f->txn->edits->name, "Subject");
	assert_int_equal(f->txn->edits->index, 1);
	assert_string_equal(f->txn->edits->value, "[SPAM] cheap pills");
	assert_null(f->txn->edits->next);
	txn_msg_end(f->txn);
	txn_msg_begin(f->txn);
	txn_header_seen(f->txn, "subject", "[SPAM] already");
	pipeline_run(f->rt->pipeline, f->txn, POLICY_EOM, &v, &module);
	pipeline_score_verdict(f->rt->pipeline, f->txn, &v);
	assert_null(f->txn->edits);
	txn_msg_end(f->txn);
	txn_msg_begin(f->txn);
	pipeline_run(f->rt->pipeline, f->txn, POLICY_EOM, &v, &module);
	pipeline_score_verdict(f->rt->pipeline, f->txn, &v);
	assert_non_null(f->txn->edits);
	assert_int_equal(f->txn->edits->kind, TXN_EDIT_ADD);
	assert_string_equal(f->txn->edits->value, "[SPAM]");
	fixture_free(f);
	f = fixture_build("pipeline = alpha\n[alpha]\nscore = 4\n"
	    "[scoring]\nsubject_tag = 5\n");
	txn_msg_begin(f->txn);
	txn_header_seen(f->txn, "Subject", " fine");
	pipeline_run(f->rt->pipeline, f->txn, POLICY_EOM, &v, &module);
	pipeline_score_verdict(f->rt->pipeline, f->txn, &v);
	assert_null(f->txn->edits);
	fixture_free(f);

	/* thresholds default to off: any score passes */
	f = fixture_build("pipeline = alpha\n[alpha]\nscore = 1000\n");
	txn_msg_begin(f->txn);
	pipeline_run(f->rt->pipeline, f->txn, POLICY_EOM, &v, &module);
	pipeline_score_verdict(f->rt->pipeline, f->txn, &v);
	assert_int_equal(v.action, VERDICT_DUNNO);
	fixture_free(f);
}

/* test_connect_score_counts_per_message - a connect-stage score is part
 * of each message's total */
static void
test_connect_score_counts_per_message(void **state)
{
	struct fixture *f = fixture_build("pipeline = alpha\n"
	    "[alpha]\nscore = 1\n");
	struct verdict v;
	const char *module;

	(void)state;
	pipeline_run(f->rt->pipeline, f->txn, POLICY_CONNECT, &v, &module);
	txn_msg_begin(f->txn);
	assert_true(fabs(txn_score(f->txn) - 1) < 1e-9);
	pipeline_run(f->rt->pipeline, f->txn, POLICY_MAIL, &v, &module);
	assert_true(fabs(txn_score(f->txn) - 2) < 1e-9);
	txn_msg_begin(f->txn);
	assert_true(fabs(txn_score(f->txn) - 1) < 1e-9);
	fixture_free(f);
}

/* test_authres_fragments - collected in pipeline order */
static void
test_authres_fragments(void **state)
{
	struct fixture *f = fixture_build("pipeline = alpha, beta\n"
	    "[alpha]\nauthres = spf=pass smtp.mailfrom=a@example.org\n"
	    "[beta]\nauthres = dkim=none\n");
	struct verdict v;
	const char *module;

	(void)state;
	txn_msg_begin(f->txn);
	pipeline_run(f->rt->pipeline, f->txn, POLICY_EOM, &v, &module);
	assert_int_equal(f->txn->nauthres, 2);
	assert_string_equal(f->txn->authres[0],
	    "spf=pass smtp.mailfrom=a@example.org");
	assert_string_equal(f->txn->authres[1], "dkim=none");
	fixture_free(f);
}

/* test_default_reply - missing parts filled, wrong class replaced */
static void
test_default_reply(void **state)
{
	struct verdict v = { .action = VERDICT_DEFER };

	(void)state;
	pipeline_default_reply(&v);
	assert_string_equal(v.code, "451");
	assert_string_equal(v.xcode, "4.7.1");
	assert_string_equal(v.text, "Try again later");

	v = (struct verdict){ .action = VERDICT_REJECT, .code = "450",
	    .xcode = "4.1.1", .text = "x" };
	pipeline_default_reply(&v);
	assert_string_equal(v.code, "550");
	assert_string_equal(v.xcode, "5.7.1");
	assert_string_equal(v.text, "x");

	v = (struct verdict){ .action = VERDICT_REJECT, .code = "554" };
	pipeline_default_reply(&v);
	assert_string_equal(v.code, "554");
	assert_string_equal(v.xcode, "5.7.1");
}

/* test_config_errors - pipeline names and module sections are checked */
static void
test_config_errors(void **state)
{
	struct fixture *f;

	(void)state;
	f = fixture_build("pipeline = alpha, nosuch\n");
	assert_null(f->rt->pipeline);
	assert_int_equal(f->err.count, 1);
	assert_string_equal(buf_cstr(&f->err.text),
	    "test.conf:1: unknown module 'nosuch' in pipeline "
	    "(known: alpha, beta, gamma, delta)\n");
	fixture_free(f);

	f = fixture_build("pipeline = alpha, alpha\n");
	assert_null(f->rt->pipeline);
	assert_string_equal(buf_cstr(&f->err.text),
	    "test.conf:1: module 'alpha' named twice in pipeline\n");
	fixture_free(f);

	f = fixture_build("pipeline = alpha\n[alpha]\non_failure = maybe\n");
	assert_null(f->rt->pipeline);
	assert_int_equal(f->err.count, 1);
	assert_non_null(strstr(buf_cstr(&f->err.text), "test.conf:3: "));
	fixture_free(f);

	/* a module left out of the pipeline still has its section checked */
	f = fixture_build("pipeline = alpha\n[beta]\nscore = lots\n");
	assert_null(f->rt->pipeline);
	assert_non_null(strstr(buf_cstr(&f->err.text), "test.conf:3: "));
	fixture_free(f);
}

/* main - run the group */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_definite_wins),
		cmocka_unit_test(test_ok_skips_later),
		cmocka_unit_test(test_failure_actions),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_module_timeout),
		cmocka_unit_test(test_scoring),
		cmocka_unit_test(test_connect_score_counts_per_message),
		cmocka_unit_test(test_authres_fragments),
		cmocka_unit_test(test_default_reply),
		cmocka_unit_test(test_config_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
