/*
 * pipeline.h - the policy pipeline engine (ARCHITECTURE §4)
 *
 * Contract: pipeline_build() turns the "pipeline" list of a config into
 * module instances (settings parsed from each module's [section], init
 * called); pipeline_run() runs one stage over a transaction and returns
 * the stage's verdict:
 *	- modules run in config order; a module whose handler for the stage
 *	  is NULL is skipped;
 *	- the first definite verdict (anything but DUNNO) ends the stage;
 *	- VERDICT_OK skips the later modules for the rest of the message
 *	  (for the rest of the connection when given at connect or helo);
 *	- a handler that returns POLICY_FAILED, or overruns its timeout, gets
 *	  its on_failure: tempfail (451 4.3.0), accept (no opinion) or reject;
 *	- scores add up in the txn, fragments are kept for
 *	  Authentication-Results, each module's result for the log line.
 * pipeline_score_verdict() maps the total score to an action through the
 * [scoring] thresholds at end of message.
 */
#ifndef POSTERN_PIPELINE_H
#define POSTERN_PIPELINE_H

#include "buf.h"
#include "conf.h"
#include "policy.h"

struct txn;

struct pipeline_scoring {
	double reject;
	double defer;
	double quarantine;
	double add_header;
	char *header_name;
	double subject_tag;
	char *subject_tag_text;
};

struct pipeline_entry {
	const struct policy_module *mod;
	void *config;
	int on_failure;			/* enum policy_failure */
	double timeout;
	bool inited;
};

struct pipeline {
	size_t n;
	struct pipeline_entry *entries;
	struct pipeline_scoring scoring;
	unsigned flags;			/* union of the modules' flags */
	bool stage_used[POLICY_STAGES];
};

/*
 * pipeline_build - instantiate modules named in names (from setting
 * "pipeline" of cf, for error locations). Also validates the sections of
 * known modules that are not in the pipeline. Returns NULL on errors.
 * Module deinit runs when arena is destroyed.
 */
struct pipeline *pipeline_build(struct arena *arena, struct conf_file *cf,
    const struct conf_list *names, const struct policy_globals *globals,
    struct conf_errors *err);
/* pipeline_build_from - the same with an explicit NULL-terminated module
 * list (tests use their own modules) */
struct pipeline *pipeline_build_from(struct arena *arena,
    struct conf_file *cf, const struct conf_list *names,
    const struct policy_module *const *modules,
    const struct policy_globals *globals, struct conf_errors *err);
void pipeline_dump(const struct pipeline *p, FILE *fp);

/* pipeline_run - run stage over txn; *final_r gets the stage's verdict
 * (DUNNO when nobody objected) and *module_r the deciding module's name */
void pipeline_run(struct pipeline *p, struct txn *txn,
    enum policy_stage stage, struct verdict *final_r, const char **module_r);

/* pipeline_score_verdict - the [scoring] action for txn's total score;
 * may queue the score header */
void pipeline_score_verdict(struct pipeline *p, struct txn *txn,
    struct verdict *final_r);

/* pipeline_summary - "access:DUNNO,dnsbl:REJECT(3.0)" into b */
void pipeline_summary(const struct pipeline *p, const struct txn *txn,
    struct buf *b);

/* pipeline_default_reply - fill NULL code/xcode/text for the action */
void pipeline_default_reply(struct verdict *v);

#endif
