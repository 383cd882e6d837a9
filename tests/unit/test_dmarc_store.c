/*
 * test_dmarc_store.c - the DMARC report store: the line format and its
 * escaping, day files, reading a period back, malformed lines named by
 * FILE:LINE, and appends from many threads and processes at once
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "dmarc_store.h"
#include "testutil.h"

/* 2024-03-10T00:00:00Z */
#define T0	((time_t)1710028800)
#define DAY	((time_t)86400)

#define THREADS		8
#define PER_THREAD	400	/* also the child process's */

static char dir[256];
static struct arena *arena;

/* setup - a temp directory and arena per test */
static int
setup(void **state)
{
	(void)state;
	return testutil_setup(dir, sizeof(dir), "test_dmarc_store", &arena);
}

/* teardown - remove them */
static int
teardown(void **state)
{
	(void)state;
	return testutil_teardown(dir, &arena);
}

static const struct dmarc_store_dkim sigs[] = {
	{ "example.com", "s1", "pass" },
	{ "other.example", "", "fail" },
};

/* sample - a record with every field set */
static struct dmarc_store_record
sample(time_t t)
{
	return (struct dmarc_store_record){
		.time = t,
		.source_ip = "192.0.2.1",
		.header_from = "example.com",
		.policy_domain = "example.com",
		.p = "reject",
		.sp = "quarantine",
		.pct = 50,
		.adkim = "s",
		.aspf = "r",
		.fo = "1:d",
		.disposition = "quarantine",
		.dkim_aligned = "pass",
		.spf_aligned = "fail",
		.reason = "sampled_out",
		.spf_domain = "bounce.example.com",
		.spf_scope = "helo",
		.spf_result = "softfail",
		.ndkim = 2,
		.dkim = sigs,
	};
}

/* Records read back, copied. */
struct got {
	struct arena *arena;
	struct dmarc_store_record rec[16];
	size_t n;
	size_t stop_after;		/* 0: never stop */
};

/* collect - the reader's callback: copy the record */
static bool
collect(const struct dmarc_store_record *r, void *arg)
{
	struct got *g = arg;
	struct dmarc_store_record *c;
	struct dmarc_store_dkim *d;
	size_t i;

	assert_true(g->n < 16);
	c = &g->rec[g->n++];
	*c = *r;
	c->source_ip = arena_strdup(g->arena, r->source_ip);
	c->header_from = arena_strdup(g->arena, r->header_from);
	c->policy_domain = arena_strdup(g->arena, r->policy_domain);
	c->fo = arena_strdup(g->arena, r->fo);
	c->reason = arena_strdup(g->arena, r->reason);
	c->spf_domain = arena_strdup(g->arena, r->spf_domain);
	c->p = arena_strdup(g->arena, r->p);
	c->sp = arena_strdup(g->arena, r->sp);
	c->adkim = arena_strdup(g->arena, r->adkim);
	c->aspf = arena_strdup(g->arena, r->aspf);
	c->disposition = arena_strdup(g->arena, r->disposition);
	c->dkim_aligned = arena_strdup(g->arena, r->dkim_aligned);
	c->spf_aligned = arena_strdup(g->arena, r->spf_aligned);
	c->spf_scope = arena_strdup(g->arena, r->spf_scope);
	c->spf_result = arena_strdup(g->arena, r->spf_result);
	d = arena_alloc(g->arena, (r->ndkim + 1) * sizeof(*d));
	for (i = 0; i < r->ndkim; i++) {
		d[i].domain = arena_strdup(g->arena, r->dkim[i].domain);
		d[i].selector = arena_strdup(g->arena, r->dkim[i].selector);
		d[i].result = arena_strdup(g->arena, r->dkim[i].result);
	}
	c->dkim = d;
	return g->stop_after == 0 || g->n < g->stop_after;
}

/* assert_same - two records are equal field by field */
static void
assert_same(const struct dmarc_store_record *a,
    const struct dmarc_store_record *b)
{
	size_t i;

	assert_int_equal(a->time, b->time);
	assert_string_equal(a->source_ip, b->source_ip);
	assert_string_equal(a->header_from, b->header_from);
	assert_string_equal(a->policy_domain, b->policy_domain);
	assert_string_equal(a->p, b->p);
	assert_string_equal(a->sp, b->sp);
	assert_int_equal(a->pct, b->pct);
	assert_string_equal(a->adkim, b->adkim);
	assert_string_equal(a->aspf, b->aspf);
	assert_string_equal(a->fo, b->fo);
	assert_string_equal(a->disposition, b->disposition);
	assert_string_equal(a->dkim_aligned, b->dkim_aligned);
	assert_string_equal(a->spf_aligned, b->spf_aligned);
	assert_string_equal(a->reason, b->reason);
	assert_string_equal(a->spf_domain, b->spf_domain);
	assert_string_equal(a->spf_scope, b->spf_scope);
	assert_string_equal(a->spf_result, b->spf_result);
	assert_int_equal(a->ndkim, b->ndkim);
	for (i = 0; i < a->ndkim; i++) {
		assert_string_equal(a->dkim[i].domain, b->dkim[i].domain);
		assert_string_equal(a->dkim[i].selector, b->dkim[i].selector);
		assert_string_equal(a->dkim[i].result, b->dkim[i].result);
	}
}

/* file_text - a whole file, in the arena */
static char *
file_text(const char *path)
{
	struct buf b = { 0 };
	char chunk[4096];
	size_t n;
	FILE *fp = fopen(path, "r");
	char *out;

	assert_non_null(fp);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&b, chunk, n);
	fclose(fp);
	out = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return out;
}

/* append - one record; must succeed */
static void
append(struct dmarc_store *st, const struct dmarc_store_record *r)
{
	char *err = NULL;

	if (!dmarc_store_append(st, r, &err))
		fail_msg("append: %s", err);
}

/* --- tests --------------------------------------------------------------- */

/* test_line - the exact line of a full record */
static void
test_line(void **state)
{
	struct dmarc_store_record r = sample(T0 + 5);
	char *err = NULL, *line;

	(void)state;
	line = dmarc_store_line(&r, &err);
	assert_non_null(line);
	assert_string_equal(line, "1\t1710028805\t192.0.2.1\texample.com\t"
	    "example.com\treject\tquarantine\t50\ts\tr\t1:d\tquarantine\t"
	    "pass\tfail\tsampled_out\tbounce.example.com\thelo\tsoftfail\t"
	    "example.com,s1,pass;other.example,,fail\n");
	free(line);
	/* empty optional fields, no signatures */
	r.reason = "";
	r.spf_domain = "";
	r.ndkim = 0;
	line = dmarc_store_line(&r, &err);
	assert_non_null(line);
	assert_string_equal(line, "1\t1710028805\t192.0.2.1\texample.com\t"
	    "example.com\treject\tquarantine\t50\ts\tr\t1:d\tquarantine\t"
	    "pass\tfail\t\t\thelo\tsoftfail\t\n");
	free(line);
}

/* test_escaping - untrusted bytes never break the line, and come back
 * as they were */
static void
test_escaping(void **state)
{
	static const struct dmarc_store_dkim hostile[] = {
		{ "x,y;z.example", "sel\tone\r\ntwo", "pass" },
		{ "caf\xc3\xa9.example", "a%20b c", "neutral" },
	};
	struct dmarc_store_record r = sample(T0 + 10), *back;
	struct dmarc_store *st;
	struct got g = { .arena = arena };
	char *err = NULL, *line, *path;

	(void)state;
	r.header_from = "evil\n1\t0\tforged.example";
	r.spf_domain = "a;b,c%d e";
	r.dkim = hostile;
	line = dmarc_store_line(&r, &err);
	assert_non_null(line);
	assert_string_equal(line, "1\t1710028810\t192.0.2.1\t"
	    "evil%0A1%090%09forged.example\texample.com\treject\tquarantine\t"
	    "50\ts\tr\t1:d\tquarantine\tpass\tfail\tsampled_out\t"
	    "a%3Bb%2Cc%25d%20e\thelo\tsoftfail\t"
	    "x%2Cy%3Bz.example,sel%09one%0D%0Atwo,pass;"
	    "caf%C3%A9.example,a%2520b%20c,neutral\n");
	free(line);

	st = dmarc_store_open(dir, &err);
	assert_non_null(st);
	append(st, &r);
	path = dmarc_store_day_file(dir, T0);
	line = file_text(path);
	/* one line only */
	assert_non_null(strchr(line, '\n'));
	assert_string_equal(strchr(line, '\n'), "\n");
	assert_true(dmarc_store_read(dir, T0, T0 + DAY, collect, &g, &err));
	assert_int_equal(g.n, 1);
	back = &g.rec[0];
	assert_same(&r, back);
	free(path);
	dmarc_store_close(&st);
	assert_null(st);
}

/* test_invalid - a record with a bad field is refused, nothing written */
static void
test_invalid(void **state)
{
	static const struct dmarc_store_dkim bad_result[] = {
		{ "example.com", "s", "softfail" },
	};
	static const struct dmarc_store_dkim no_domain[] = {
		{ "", "s", "pass" },
	};
	struct dmarc_store_record r;
	struct dmarc_store *st;
	char *err = NULL, *path;

	(void)state;
	st = dmarc_store_open(dir, &err);
	assert_non_null(st);
#define REFUSED(change, text) do { \
		r = sample(T0); \
		change; \
		assert_false(dmarc_store_append(st, &r, &err)); \
		assert_string_equal(err, text); \
		free(err); \
		err = NULL; \
	} while (0)
	REFUSED(r.p = "bogus", "dmarc store: field p: not an allowed value");
	REFUSED(r.source_ip = "", "dmarc store: field source_ip: empty");
	REFUSED(r.fo = NULL, "dmarc store: field fo: missing");
	REFUSED(r.reason = "because", "dmarc store: field reason: "
	    "not an allowed value");
	REFUSED(r.spf_scope = "mailfrom", "dmarc store: field spf_scope: "
	    "not an allowed value");
	REFUSED(r.pct = 101, "dmarc store: field pct: over 100");
	REFUSED(r.time = -1, "dmarc store: field time: negative");
	REFUSED(r.ndkim = DMARC_STORE_DKIM_MAX + 1,
	    "dmarc store: field dkim_results: too many signatures");
	REFUSED(r.dkim = bad_result; r.ndkim = 1, "dmarc store: field "
	    "dkim_results: signature result not an allowed value");
	REFUSED(r.dkim = no_domain; r.ndkim = 1, "dmarc store: field "
	    "dkim_results: signature without a domain");
#undef REFUSED
	path = dmarc_store_day_file(dir, T0);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	dmarc_store_close(&st);
}

/* test_days - one file per UTC day, named after it */
static void
test_days(void **state)
{
	struct dmarc_store_record r;
	struct dmarc_store *st;
	char *err = NULL, *p1, *p2, *p3;

	(void)state;
	p1 = dmarc_store_day_file("/s", T0 - 1);
	p2 = dmarc_store_day_file("/s", T0);
	p3 = dmarc_store_day_file("/s", T0 + DAY - 1);
	assert_string_equal(p1, "/s/2024-03-09.log");
	assert_string_equal(p2, "/s/2024-03-10.log");
	assert_string_equal(p3, "/s/2024-03-10.log");
	free(p1);
	free(p2);
	free(p3);

	st = dmarc_store_open(dir, &err);
	assert_non_null(st);
	r = sample(T0 - 1);
	append(st, &r);
	r = sample(T0);
	append(st, &r);
	r = sample(T0 + DAY - 1);
	append(st, &r);
	p1 = arena_printf(arena, "%s/2024-03-09.log", dir);
	p2 = arena_printf(arena, "%s/2024-03-10.log", dir);
	assert_string_equal(file_text(p1), "1\t1710028799\t192.0.2.1\t"
	    "example.com\texample.com\treject\tquarantine\t50\ts\tr\t1:d\t"
	    "quarantine\tpass\tfail\tsampled_out\tbounce.example.com\thelo\t"
	    "softfail\texample.com,s1,pass;other.example,,fail\n");
	assert_int_equal(strncmp(file_text(p2), "1\t1710028800\t", 13), 0);
	assert_non_null(strstr(file_text(p2), "\n1\t1710115199\t"));
	dmarc_store_close(&st);
}

/* test_period - from <= time < to, across days and missing files; an
 * early stop */
static void
test_period(void **state)
{
	static const time_t times[] = {
		T0 - 1, T0, T0 + 3600, T0 + DAY - 1, T0 + DAY, T0 + 3 * DAY,
	};
	struct got g = { .arena = arena };
	struct dmarc_store_record r;
	struct dmarc_store *st;
	char *err = NULL;
	size_t i;

	(void)state;
	st = dmarc_store_open(dir, &err);
	assert_non_null(st);
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		r = sample(times[i]);
		append(st, &r);
	}
	/* one day */
	assert_true(dmarc_store_read(dir, T0, T0 + DAY, collect, &g, &err));
	assert_int_equal(g.n, 3);
	assert_int_equal(g.rec[0].time, T0);
	assert_int_equal(g.rec[1].time, T0 + 3600);
	assert_int_equal(g.rec[2].time, T0 + DAY - 1);
	/* part of a day, and five days with a missing file in between */
	g.n = 0;
	assert_true(dmarc_store_read(dir, T0 + 1, T0 + DAY, collect, &g,
	    &err));
	assert_int_equal(g.n, 2);
	g.n = 0;
	assert_true(dmarc_store_read(dir, T0 - DAY, T0 + 4 * DAY, collect,
	    &g, &err));
	assert_int_equal(g.n, 6);
	assert_int_equal(g.rec[0].time, T0 - 1);
	assert_int_equal(g.rec[5].time, T0 + 3 * DAY);
	/* nothing: an empty period, a period without files */
	g.n = 0;
	assert_true(dmarc_store_read(dir, T0, T0, collect, &g, &err));
	assert_true(dmarc_store_read(dir, T0 + 10 * DAY, T0 + 12 * DAY,
	    collect, &g, &err));
	assert_int_equal(g.n, 0);
	/* the callback stops it */
	g.stop_after = 2;
	assert_true(dmarc_store_read(dir, T0 - DAY, T0 + 4 * DAY, collect,
	    &g, &err));
	assert_int_equal(g.n, 2);
	dmarc_store_close(&st);
}

/* test_malformed - every kind of bad line is an error with FILE:LINE;
 * records before it were given, nothing after */
static void
test_malformed(void **state)
{
	static const struct {
		const char *line;
		const char *why;
	} cases[] = {
		{ "\n", "empty line" },
		{ "1\t1710028800\tx\n", "too few fields" },
		{ "2\t1710028800\t192.0.2.1\texample.com\texample.com\treject\t"
		  "reject\t100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\tnone\t\n",
		  "version: unknown format version" },
		{ "1\t17100288x0\t192.0.2.1\texample.com\texample.com\treject\t"
		  "reject\t100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\tnone\t\n",
		  "time: bad time" },
		{ "1\t1710028800\t192.0.2.1\texample.com\texample.com\treject\t"
		  "reject\t100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\tnone\t\t"
		  "\n", "too many fields" },
		{ "1\t1710028800\t192.0.2.1\texample.com\texample.com\tbogus\t"
		  "reject\t100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\tnone\t\n",
		  "p: not an allowed value" },
		{ "1\t1710028800\t192.0.2.1\texample.com\texample.com\treject\t"
		  "reject\t0100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\tnone\t"
		  "\n",
		  "pct: bad pct" },
		{ "1\t1710028800\t192.0.2.1\texample.com\texample.com\treject\t"
		  "reject\t101\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\tnone\t\n",
		  "pct: bad pct" },
		{ "1\t1710028800\t\texample.com\texample.com\treject\t"
		  "reject\t100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\tnone\t\n",
		  "source_ip: empty" },
		{ "1\t1710028800\t192.0.2.1\tex%0aample.com\texample.com\t"
		  "reject\treject\t100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\t"
		  "none\t\n", "header_from: bad escape" },
		{ "1\t1710028800\t192.0.2.1\tex%00ample.com\texample.com\t"
		  "reject\treject\t100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\t"
		  "none\t\n", "header_from: escaped NUL" },
		{ "1\t1710028800\t192.0.2.1\texample.com%4\texample.com\t"
		  "reject\treject\t100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\t"
		  "none\t\n", "header_from: truncated escape" },
		{ "1\t1710028800\t192.0.2.1\texample .com\texample.com\t"
		  "reject\treject\t100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\t"
		  "none\t\n", "header_from: byte outside printable ASCII" },
		{ "1\t1710028800\t192.0.2.1\texample.com\texample.com\treject\t"
		  "reject\t100\tr\tr\t0\tnone\tpass\tfail\t\ta,b\tmfrom\tnone\t"
		  "\n",
		  "spf_domain: unescaped separator" },
		{ "1\t1710028800\t192.0.2.1\texample.com\texample.com\treject\t"
		  "reject\t100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\tnone\t"
		  "example.com,s\n",
		  "dkim_results: signature needs domain,selector,result" },
		{ "1\t1710028800\t192.0.2.1\texample.com\texample.com\treject\t"
		  "reject\t100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\tnone\t"
		  "example.com,s,pass;\n",
		  "dkim_results: signature needs domain,selector,result" },
		{ "1\t1710028800\t192.0.2.1\texample.com\texample.com\treject\t"
		  "reject\t100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\tnone\t"
		  ",s,pass\n", "dkim_results: signature without a domain" },
		{ "1\t1710028800\t192.0.2.1\texample.com\texample.com\treject\t"
		  "reject\t100\tr\tr\t0\tnone\tpass\tfail\t\t\tmfrom\tnone\t"
		  "a.example,s,softfail\n",
		  "dkim_results: signature result not an allowed value" },
	};
	struct got g = { .arena = arena };
	struct dmarc_store_record r = sample(T0 + 1);
	char *err = NULL, *good, *path, *want;
	size_t i;

	(void)state;
	good = dmarc_store_line(&r, &err);
	assert_non_null(good);
	path = arena_printf(arena, "%s/2024-03-10.log", dir);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		testutil_put(arena, dir, "2024-03-10.log", arena_printf(arena,
		    "%s%s%s", good, cases[i].line, good));
		g.n = 0;
		err = NULL;
		assert_false(dmarc_store_read(dir, T0, T0 + DAY, collect, &g,
		    &err));
		want = arena_printf(arena, "%s:2: %s", path, cases[i].why);
		if (strcmp(err, want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, err, want);
		free(err);
		assert_int_equal(g.n, 1);
	}
	/* a last line without its LF (a writer that failed half way) */
	testutil_put(arena, dir, "2024-03-10.log", arena_printf(arena, "%s%.*s",
	    good, (int)strlen(good) - 1, good));
	g.n = 0;
	assert_false(dmarc_store_read(dir, T0, T0 + DAY, collect, &g, &err));
	assert_string_equal(err, arena_printf(arena, "%s:2: incomplete last "
	    "line (no newline)", path));
	assert_int_equal(g.n, 1);
	free(err);
	free(good);
	testutil_put(arena, dir, "2024-03-10.log", "x");
	assert_false(dmarc_store_read(dir, T0, T0 + DAY, collect, &g, &err));
	assert_string_equal(err, arena_printf(arena, "%s:1: incomplete last "
	    "line (no newline)", path));
	free(err);
	/* a day file that cannot be read */
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_false(dmarc_store_read(dir, T0, T0 + DAY, collect, &g, &err));
	assert_string_equal(err, arena_printf(arena, "%s: read error", path));
	free(err);
}

/* test_open - the directory must exist; a store that vanishes fails
 * appends with the file named */
static void
test_open(void **state)
{
	struct dmarc_store_record r = sample(T0);
	struct dmarc_store *st;
	char *err = NULL, *sub, *want;

	(void)state;
	assert_null(dmarc_store_open("/nonexistent/dmarc", &err));
	assert_string_equal(err, "/nonexistent/dmarc: No such file or "
	    "directory");
	free(err);
	testutil_put(arena, dir, "file", "x");
	sub = arena_printf(arena, "%s/file", dir);
	assert_null(dmarc_store_open(sub, &err));
	assert_string_equal(err, arena_printf(arena, "%s: not a directory",
	    sub));
	free(err);

	sub = arena_printf(arena, "%s/gone", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	st = dmarc_store_open(sub, &err);
	assert_non_null(st);
	assert_int_equal(rmdir(sub), 0);
	assert_false(dmarc_store_append(st, &r, &err));
	want = arena_printf(arena, "%s/2024-03-10.log: No such file or "
	    "directory", sub);
	assert_string_equal(err, want);
	free(err);
	dmarc_store_close(&st);
	dmarc_store_close(&st);
}

/* One writer thread's work. */
struct writer {
	pthread_t tid;
	struct dmarc_store *st;
	int id;
	int failures;
};

/* writer_main - PER_THREAD records with long lines (16 signatures) */
static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct dmarc_store_dkim d[DMARC_STORE_DKIM_MAX];
	struct dmarc_store_record r = sample(T0 + 100);
	char from[64], sel[DMARC_STORE_DKIM_MAX][200];
	char *err;
	int i, k;

	for (k = 0; k < DMARC_STORE_DKIM_MAX; k++) {
		memset(sel[k], 'a' + k, sizeof(sel[k]) - 1);
		sel[k][sizeof(sel[k]) - 1] = '\0';
		d[k] = (struct dmarc_store_dkim){ "example.com", sel[k],
		    "pass" };
	}
	r.dkim = d;
	r.ndkim = DMARC_STORE_DKIM_MAX;
	r.header_from = from;
	for (i = 0; i < PER_THREAD; i++) {
		snprintf(from, sizeof(from), "w%d-%d.example", w->id, i);
		err = NULL;
		if (!dmarc_store_append(w->st, &r, &err)) {
			w->failures++;
			free(err);
		}
	}
	return NULL;
}

/* Every (writer, sequence) seen once. */
struct tally {
	unsigned char seen[THREADS + 1][PER_THREAD];
	size_t n;
	int dup;
};

/* tally_one - the reader's callback */
static bool
tally_one(const struct dmarc_store_record *r, void *arg)
{
	struct tally *t = arg;
	int w, i;

	assert_int_equal(r->ndkim, DMARC_STORE_DKIM_MAX);
	assert_int_equal(strlen(r->dkim[15].selector), 199);
	assert_int_equal(sscanf(r->header_from, "w%d-%d.example", &w, &i),
	    2);
	assert_true(w >= 0 && w <= THREADS && i >= 0);
	if (t->seen[w][i]++ != 0)
		t->dup++;
	t->n++;
	return true;
}

/* test_concurrent - threads and a child process append at once; every
 * line comes back whole and exactly once */
static void
test_concurrent(void **state)
{
	static struct tally t;
	struct writer w[THREADS];
	struct dmarc_store *st;
	char *err = NULL;
	pid_t pid;
	int i, status;

	(void)state;
	memset(&t, 0, sizeof(t));
	st = dmarc_store_open(dir, &err);
	assert_non_null(st);
	if ((pid = fork()) == 0) {
		struct writer cw = { .st = st, .id = THREADS };

		/* the child is writer THREADS */
		writer_main(&cw);
		_exit(cw.failures == 0 ? 0 : 1);
	}
	assert_true(pid > 0);
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct writer){ .st = st, .id = i };
		assert_int_equal(pthread_create(&w[i].tid, NULL, writer_main,
		    &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(w[i].tid, NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(dmarc_store_read(dir, T0, T0 + DAY, tally_one, &t, &err));
	assert_int_equal(t.n, (size_t)(THREADS + 1) * PER_THREAD);
	assert_int_equal(t.dup, 0);
	dmarc_store_close(&st);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escaping, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_invalid, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_days, setup, teardown),
		cmocka_unit_test_setup_teardown(test_period, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
