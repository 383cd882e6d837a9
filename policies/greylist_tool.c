/*
 * greylist_tool.c - "posternctl greylist": look at, count and remove
 * greylisting records (see greylist_tool.h)
 *
 * The [greylist] section is read through the module's own settings table
 * (greylist_read_settings), so the tool and filterd agree on every
 * default and on what a value means; nothing the module would open at
 * init is opened, and the module need not be in the pipeline.
 *
 * Output is collected before it is printed, so that a store error half
 * way through a listing leaves stdout empty rather than with a listing
 * that looks complete.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "greylist.h"
#include "greylist_store.h"
#include "greylist_tool.h"
#include "log.h"
#include "mem.h"

#define GREYLIST_TOOL_OK	0
#define GREYLIST_TOOL_MISSING	1	/* a named record is not there */
#define GREYLIST_TOOL_ERROR	2	/* usage, config, store */

#define GREYLIST_TOOL_CONFIG	SYSCONFDIR_POSTERN "/filterd.conf"
#define GREYLIST_TOOL_SECTION	"greylist"
#define GREYLIST_TOOL_YEAR_MAX	9999	/* TIME keeps four digits */

/* What a record is, by its key and count (greylist.h). */
enum greylist_tool_state {
	GREYLIST_TOOL_GREYLISTED,
	GREYLIST_TOOL_PASSED,
	GREYLIST_TOOL_COUNTING,
	GREYLIST_TOOL_WHITELISTED,
	GREYLIST_TOOL_UNKNOWN,		/* not a key the module writes */
	GREYLIST_TOOL_NSTATES,
};

/* Each state's name in listings and its line in stats (NULL: counted
 * in the total only). */
static const struct {
	const char *name;
	const char *stat;
} greylist_tool_states[GREYLIST_TOOL_NSTATES] = {
	[GREYLIST_TOOL_GREYLISTED] = {
		.name = "greylisted", .stat = "triplets_greylisted",
	},
	[GREYLIST_TOOL_PASSED] = {
		.name = "passed", .stat = "triplets_passed",
	},
	[GREYLIST_TOOL_COUNTING] = {
		.name = "counting", .stat = "identities_counting",
	},
	[GREYLIST_TOOL_WHITELISTED] = {
		.name = "whitelisted", .stat = "identities_whitelisted",
	},
	[GREYLIST_TOOL_UNKNOWN] = {
		.name = "unknown", .stat = NULL,
	},
};

/* Key kinds: the key's first field, and its state from the record. */
static enum greylist_tool_state greylist_tool_triplet(
    const struct greylist_settings *, const struct greylist_record *);
static enum greylist_tool_state greylist_tool_identity(
    const struct greylist_settings *, const struct greylist_record *);

static const struct {
	const char *tag;		/* with the space after it */
	enum greylist_tool_state (*state)(const struct greylist_settings *,
	    const struct greylist_record *);
} greylist_tool_kinds[] = {
	{ .tag = "t ", .state = greylist_tool_triplet },
	{ .tag = "c ", .state = greylist_tool_identity },
	{ 0 },
};

/* What every command gets. */
struct greylist_tool {
	const char *cmd;		/* for messages */
	const struct greylist_settings *conf;
	struct greylist_store *store;
	int64_t now;
	struct arena *arena;
	struct buf out;			/* stdout, written at the end */
};

struct greylist_tool_cmd {
	const char *name;
	int min_args, max_args;
	int (*run)(struct greylist_tool *gt, int argc, char **argv);
	const char *usage;		/* after the command's name */
	bool output_on_error;		/* what it did stays done */
};

static int greylist_tool_list(struct greylist_tool *, int, char **);
static int greylist_tool_show(struct greylist_tool *, int, char **);
static int greylist_tool_delete(struct greylist_tool *, int, char **);
static int greylist_tool_flush(struct greylist_tool *, int, char **);
static int greylist_tool_stats(struct greylist_tool *, int, char **);

static const struct greylist_tool_cmd greylist_tool_cmds[] = {
	{
		.name = "list", .min_args = 0, .max_args = 1,
		.run = greylist_tool_list, .usage = "[PREFIX]",
	},
	{
		.name = "show", .min_args = 1, .max_args = -1,
		.run = greylist_tool_show, .usage = "KEY...",
	},
	{
		.name = "delete", .min_args = 1, .max_args = -1,
		.run = greylist_tool_delete, .usage = "KEY...",
	},
	{
		.name = "flush", .min_args = 0, .max_args = 1,
		.run = greylist_tool_flush, .usage = "[PREFIX]",
		.output_on_error = true,
	},
	{
		.name = "stats", .min_args = 0, .max_args = 0,
		.run = greylist_tool_stats, .usage = "",
	},
	{ 0 },
};

/* greylist_tool_usage - every command's usage; exit status 2 */
static int
greylist_tool_usage(void)
{
	const struct greylist_tool_cmd *c;

	fprintf(stderr, "usage:\n");
	for (c = greylist_tool_cmds; c->name != NULL; c++)
		fprintf(stderr, "\tposternctl greylist [-c FILE] [-s STORE] "
		    "[-p PREFIX] %s%s%s\n", c->name, *c->usage ? " " : "",
		    c->usage);
	return GREYLIST_TOOL_ERROR;
}

/* --- settings ------------------------------------------------------------- */

/* greylist_tool_conf - the settings from path (NULL: the default file,
 * which may be missing) into conf, strings in arena; false after
 * reporting */
static bool
greylist_tool_conf(const char *path, struct greylist_settings *conf,
    struct arena *arena)
{
	struct conf_errors err = { 0 };
	struct conf_file *cf = NULL;
	const char *p;
	struct stat st;

	/* only the default file may be absent: a mistyped -c is an error */
	if (path != NULL || stat(GREYLIST_TOOL_CONFIG, &st) == 0 ||
	    errno != ENOENT)
		cf = conf_load(path != NULL ? path : GREYLIST_TOOL_CONFIG,
		    &err);
	if (cf != NULL || err.count == 0)
		(void)greylist_read_settings(cf, GREYLIST_TOOL_SECTION, arena,
		    conf, &err);
	conf_file_free(&cf);
	if (err.count == 0)
		return true;
	conf_errors_sort(&err);
	for (p = buf_cstr(&err.text); *p != '\0'; p += strcspn(p, "\n") + 1)
		fprintf(stderr, "posternctl greylist: %.*s\n",
		    (int)strcspn(p, "\n"), p);
	conf_errors_free(&err);
	return false;
}

/* --- records -------------------------------------------------------------- */

/* greylist_tool_triplet - a triplet has passed once it has a count */
static enum greylist_tool_state
greylist_tool_triplet(const struct greylist_settings *conf,
    const struct greylist_record *rec)
{
	(void)conf;
	return rec->count == 0 ? GREYLIST_TOOL_GREYLISTED :
	    GREYLIST_TOOL_PASSED;
}

/* greylist_tool_identity - whitelisted as the module would judge it now
 * (a changed auto_whitelist_clients applies to old records too) */
static enum greylist_tool_state
greylist_tool_identity(const struct greylist_settings *conf,
    const struct greylist_record *rec)
{
	return conf->auto_whitelist_clients > 0 && rec->count >= 0 &&
	    (uint64_t)rec->count >= conf->auto_whitelist_clients ?
	    GREYLIST_TOOL_WHITELISTED : GREYLIST_TOOL_COUNTING;
}

/* greylist_tool_state - the state of key's record */
static enum greylist_tool_state
greylist_tool_state(const struct greylist_settings *conf, const char *key,
    const struct greylist_record *rec)
{
	size_t i;

	for (i = 0; greylist_tool_kinds[i].tag != NULL; i++)
		if (strncmp(key, greylist_tool_kinds[i].tag,
		    strlen(greylist_tool_kinds[i].tag)) == 0)
			return greylist_tool_kinds[i].state(conf, rec);
	return GREYLIST_TOOL_UNKNOWN;
}

/* greylist_tool_text - s for one line of output: bytes outside
 * 0x20..0x7e as %XX (the module's own escape), so that a key written
 * into the store by something else cannot break the line format */
static void
greylist_tool_text(struct buf *b, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			buf_printf(b, "%%%02X", *p);
		else
			buf_putc(b, (char)*p);
}

/* greylist_tool_time - UTC "YYYY-MM-DDTHH:MM:SSZ"; a time that does not
 * fit that form (only a damaged or foreign record has one) as seconds */
static void
greylist_tool_time(struct buf *b, int64_t t)
{
	time_t tt = (time_t)t;
	char text[32];
	struct tm tm;

	if (t >= 0 && (int64_t)tt == t && gmtime_r(&tt, &tm) != NULL &&
	    tm.tm_year <= GREYLIST_TOOL_YEAR_MAX - 1900 &&
	    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		buf_puts(b, text);
	else
		buf_printf(b, "%" PRId64, t);
}

/* greylist_tool_line - one record's line */
static void
greylist_tool_line(struct buf *b, const struct greylist_settings *conf,
    const char *key, const struct greylist_record *rec)
{
	greylist_tool_text(b, key);
	buf_printf(b, "\t%s\tcount=%" PRId64 "\tfirst=",
	    greylist_tool_states[greylist_tool_state(conf, key, rec)].name,
	    rec->count);
	greylist_tool_time(b, rec->first);
	buf_puts(b, "\tlast=");
	greylist_tool_time(b, rec->last);
	buf_puts(b, "\texpires=");
	greylist_tool_time(b, rec->expires);
	buf_putc(b, '\n');
}

/* greylist_tool_say - "posternctl greylist CMD: [KEY: ]TEXT" on stderr */
static void
greylist_tool_say(const struct greylist_tool *gt, const char *key,
    const char *text)
{
	struct buf b = { 0 };

	buf_printf(&b, "posternctl greylist %s: ", gt->cmd);
	if (key != NULL) {
		greylist_tool_text(&b, key);
		buf_puts(&b, ": ");
	}
	buf_puts(&b, text);
	fprintf(stderr, "%s\n", buf_cstr(&b));
	buf_free(&b);
}

/* --- commands ------------------------------------------------------------- */

/* One record kept for sorting. */
struct greylist_tool_entry {
	const char *key;
	struct greylist_record rec;
};

struct greylist_tool_collect {
	struct arena *arena;
	struct greylist_tool_entry **entry;
	size_t n, cap;
};

/* greylist_tool_collect_one - the walk callback of list */
static bool
greylist_tool_collect_one(void *ctx, const char *key,
    const struct greylist_record *rec)
{
	struct greylist_tool_collect *c = ctx;
	struct greylist_tool_entry *e;

	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->entry = xrealloc(c->entry, c->cap * sizeof(*c->entry));
	}
	e = arena_alloc(c->arena, sizeof(*e));
	e->key = arena_strdup(c->arena, key);
	e->rec = *rec;
	c->entry[c->n++] = e;
	return true;
}

/* greylist_tool_entry_cmp - by key, bytewise */
static int
greylist_tool_entry_cmp(const void *a, const void *b)
{
	const struct greylist_tool_entry *x =
	    *(const struct greylist_tool_entry *const *)a;
	const struct greylist_tool_entry *y =
	    *(const struct greylist_tool_entry *const *)b;

	return strcmp(x->key, y->key);
}

/* greylist_tool_list - "list [PREFIX]" */
static int
greylist_tool_list(struct greylist_tool *gt, int argc, char **argv)
{
	struct greylist_tool_collect c = { .arena = gt->arena };
	struct greylist_store_why why;
	int ret = GREYLIST_TOOL_OK;
	size_t i;

	if (greylist_store_walk(gt->store, argc > 0 ? argv[0] : "", gt->now,
	    greylist_tool_collect_one, &c, &why) == GREYLIST_STORE_ERROR) {
		greylist_tool_say(gt, NULL, why.text);
		ret = GREYLIST_TOOL_ERROR;
	} else {
		/* SCAN may hand Redis keys out in any order */
		if (c.n > 0)
			qsort(c.entry, c.n, sizeof(*c.entry),
			    greylist_tool_entry_cmp);
		for (i = 0; i < c.n; i++)
			greylist_tool_line(&gt->out, gt->conf, c.entry[i]->key,
			    &c.entry[i]->rec);
	}
	free(c.entry);
	return ret;
}

/* greylist_tool_show - "show KEY..." */
static int
greylist_tool_show(struct greylist_tool *gt, int argc, char **argv)
{
	struct greylist_store_why why;
	struct greylist_record rec;
	int i, ret = GREYLIST_TOOL_OK;

	for (i = 0; i < argc; i++) {
		switch (greylist_store_get(gt->store, argv[i], gt->now, &rec,
		    &why)) {
		case GREYLIST_STORE_FOUND:
			greylist_tool_line(&gt->out, gt->conf, argv[i], &rec);
			break;
		case GREYLIST_STORE_NOTFOUND:
			greylist_tool_say(gt, argv[i], "no such record");
			ret = GREYLIST_TOOL_MISSING;
			break;
		case GREYLIST_STORE_ERROR:
			greylist_tool_say(gt, argv[i], why.text);
			return GREYLIST_TOOL_ERROR;
		}
	}
	return ret;
}

/* greylist_tool_delete - "delete KEY..."; a record that is there but
 * expired is removed too (the store's delete does not tell them apart) */
static int
greylist_tool_delete(struct greylist_tool *gt, int argc, char **argv)
{
	struct greylist_store_why why;
	int i, ret = GREYLIST_TOOL_OK;

	for (i = 0; i < argc; i++) {
		switch (greylist_store_delete(gt->store, argv[i], &why)) {
		case GREYLIST_STORE_FOUND:
			break;
		case GREYLIST_STORE_NOTFOUND:
			greylist_tool_say(gt, argv[i], "no such record");
			ret = GREYLIST_TOOL_MISSING;
			break;
		case GREYLIST_STORE_ERROR:
			greylist_tool_say(gt, argv[i], why.text);
			return GREYLIST_TOOL_ERROR;
		}
	}
	return ret;
}

/* greylist_tool_flush - "flush [PREFIX]"; the count is printed after an
 * error too, since what was deleted before it stays deleted */
static int
greylist_tool_flush(struct greylist_tool *gt, int argc, char **argv)
{
	struct greylist_store_why why;
	size_t deleted = 0;
	int ret = GREYLIST_TOOL_OK;

	if (greylist_store_flush(gt->store, argc > 0 ? argv[0] : "", &deleted,
	    &why) == GREYLIST_STORE_ERROR) {
		greylist_tool_say(gt, NULL, why.text);
		ret = GREYLIST_TOOL_ERROR;
	}
	buf_printf(&gt->out, "%zu records deleted\n", deleted);
	return ret;
}

/* Counts per state, for stats. */
struct greylist_tool_counts {
	const struct greylist_settings *conf;
	unsigned long state[GREYLIST_TOOL_NSTATES];
	unsigned long total;
};

/* greylist_tool_count_one - the walk callback of stats */
static bool
greylist_tool_count_one(void *ctx, const char *key,
    const struct greylist_record *rec)
{
	struct greylist_tool_counts *c = ctx;

	c->state[greylist_tool_state(c->conf, key, rec)]++;
	c->total++;
	return true;
}

/* greylist_tool_stats - "stats"; the total counts records of every
 * kind, also those no state line counts */
static int
greylist_tool_stats(struct greylist_tool *gt, int argc, char **argv)
{
	struct greylist_tool_counts c = { .conf = gt->conf };
	struct greylist_store_why why;
	size_t i;

	(void)argc;
	(void)argv;
	if (greylist_store_walk(gt->store, "", gt->now,
	    greylist_tool_count_one, &c, &why) == GREYLIST_STORE_ERROR) {
		greylist_tool_say(gt, NULL, why.text);
		return GREYLIST_TOOL_ERROR;
	}
	for (i = 0; i < GREYLIST_TOOL_NSTATES; i++)
		if (greylist_tool_states[i].stat != NULL)
			buf_printf(&gt->out, "%s %lu\n",
			    greylist_tool_states[i].stat, c.state[i]);
	buf_printf(&gt->out, "total %lu\n", c.total);
	return GREYLIST_TOOL_OK;
}

/* --- the command line ----------------------------------------------------- */

/* greylist_tool_run - open the store, run the command, print its
 * output */
static int
greylist_tool_run(const struct greylist_tool_cmd *cmd,
    const struct greylist_settings *conf, int argc, char **argv)
{
	struct greylist_store_options opt = conf->opt;
	struct greylist_tool gt = { .cmd = cmd->name, .conf = conf };
	char *error = NULL;
	int ret;

	opt.connections = 1;
	opt.no_create = true;	/* a mistyped path must not make a store */
	if (!greylist_store_open(conf->store, &opt, &gt.store, &error)) {
		fprintf(stderr, "posternctl greylist: %s\n", error);
		free(error);
		return GREYLIST_TOOL_ERROR;
	}
	gt.now = (int64_t)time(NULL);
	gt.arena = arena_create();
	ret = cmd->run(&gt, argc, argv);
	if (ret != GREYLIST_TOOL_ERROR || cmd->output_on_error) {
		if (fwrite(gt.out.data != NULL ? gt.out.data : "", 1,
		    gt.out.len, stdout) != gt.out.len || fflush(stdout) != 0) {
			greylist_tool_say(&gt, NULL, "cannot write the output");
			ret = GREYLIST_TOOL_ERROR;
		}
	}
	buf_free(&gt.out);
	arena_destroy(&gt.arena);
	greylist_store_close(&gt.store);
	return ret;
}

/* greylist_tool_args_ok - argument count within the command's range, and
 * no argument that looks like an option: keys start with "t " or "c ",
 * so "-x" after the command is a misplaced option, not a key */
static bool
greylist_tool_args_ok(const struct greylist_tool_cmd *cmd, int argc,
    char **argv)
{
	int i;

	if (argc < cmd->min_args || (cmd->max_args >= 0 &&
	    argc > cmd->max_args))
		return false;
	for (i = 0; i < argc; i++)
		if (argv[i][0] == '-')
			return false;
	return true;
}

/* greylist_tool_main - options, config, then the command */
int
greylist_tool_main(int argc, char **argv)
{
	const char *path = NULL, *store = NULL, *prefix = NULL;
	const struct greylist_tool_cmd *cmd;
	struct greylist_settings conf = { 0 };
	struct arena *arena;
	int c, ret;

	optind = 1;
	while ((c = getopt(argc, argv, "+c:s:p:")) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 's':
			store = optarg;
			break;
		case 'p':
			prefix = optarg;
			break;
		default:
			return greylist_tool_usage();
		}
	}
	if (optind >= argc)
		return greylist_tool_usage();
	for (cmd = greylist_tool_cmds; cmd->name != NULL; cmd++)
		if (strcmp(argv[optind], cmd->name) == 0)
			break;
	if (cmd->name == NULL) {
		fprintf(stderr, "posternctl greylist: unknown command '%s'\n",
		    argv[optind]);
		return greylist_tool_usage();
	}
	argc -= optind + 1;
	argv += optind + 1;
	if (!greylist_tool_args_ok(cmd, argc, argv))
		return greylist_tool_usage();
	arena = arena_create();
	if (!greylist_tool_conf(path, &conf, arena)) {
		arena_destroy(&arena);
		return GREYLIST_TOOL_ERROR;
	}
	if (store != NULL)
		conf.store = store;
	if (prefix != NULL)
		conf.opt.key_prefix = prefix;
	ret = greylist_tool_run(cmd, &conf, argc, argv);
	arena_destroy(&arena);
	return ret;
}
