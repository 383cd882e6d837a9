/*
 * clamav.c - virus scanning with libclamav or clamd (see clamav.h and
 * filterd.conf(5))
 *
 * The libclamav adapter: no libclamav type leaves this file.
 *
 * Engines. A compiled engine costs about a gigabyte with the official
 * databases and tens of seconds to build, so it is not made per config:
 * a process-wide registry keeps one holder per database_dir and engine
 * settings, counted by the configs that use it. A config reload with the
 * same settings reuses the holder (and checks the directory on the
 * reload thread); a holder whose last config is retired stops its thread
 * and frees its engine. Each holder with a db_check_interval has one
 * thread that watches the directory (cl_statchkdir, and the number of
 * database files, which shows one removed) and builds a new engine when
 * it changed. The holder's engine pointer changes only under
 * its lock; a scan takes a reference under that lock and drops it after,
 * so the old engine of a swap is freed by whoever is done with it last.
 * Engines are built on that thread or on the config-reload thread, never
 * on a worker. With reload_pause the holder lets go of the old engine
 * first and waits for the scans on it to finish before it loads the new
 * one; scans that start meanwhile wait for the new engine (up to their
 * deadline).
 *
 * Messages are collected by msgspool.h (byte for byte, with
 * POLICY_NEEDS_LEADSPC) into memory up to spool_memory, then a temporary
 * file; past max_message_size nothing more is kept, only counted. The
 * spool is freed at EOM and ABORT, and by a cleanup on the message arena
 * if the connection goes away in between.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include <clamav.h>	/* libclamav's; ours is "clamav.h" (-iquote) */

#include "arena.h"
#include "buf.h"
#include "clamav.h"
#include "clamav_clamd.h"
#include "conf.h"
#include "log.h"
#include "mem.h"
#include "msgspool.h"
#include "policy.h"
#include "spool.h"

/* libclamav cannot scan files of 2 GiB or more (it clamps and warns) */
#define CLAMAV_FILESIZE_MAX	((uint64_t)2147483647)
/* how long a clamd version string is trusted for X-Virus-Scanned */
#define CLAMAV_VERSION_TTL	60.0

enum clamav_oversize {
	CLAMAV_OVERSIZE_SKIP,
	CLAMAV_OVERSIZE_TEMPFAIL,
};

static const char *const clamav_oversize_names[] = {
	[CLAMAV_OVERSIZE_SKIP] = "skip",
	[CLAMAV_OVERSIZE_TEMPFAIL] = "tempfail",
	NULL,
};

enum clamav_infected {
	CLAMAV_INFECTED_REJECT,
	CLAMAV_INFECTED_DISCARD,
	CLAMAV_INFECTED_QUARANTINE,
	CLAMAV_INFECTED_HEADER,
};

static const char *const clamav_infected_names[] = {
	[CLAMAV_INFECTED_REJECT] = "reject",
	[CLAMAV_INFECTED_DISCARD] = "discard",
	[CLAMAV_INFECTED_QUARANTINE] = "quarantine",
	[CLAMAV_INFECTED_HEADER] = "header",
	NULL,
};

/* What an engine is built from: the holder's key. */
struct clamav_engine_opts {
	char *dir;
	char *tmpdir;
	uint32_t scan_time_ms;
	uint32_t recursion;
	uint32_t files;
	uint64_t file_size;
	uint64_t scan_size;
	double interval;		/* 0: no thread */
	bool pause;
};

/* One engine shared by every config with the same settings. */
struct clamav_holder {
	struct clamav_holder *next;	/* registry list */
	char *key;
	unsigned refs;			/* configs: registry lock */
	struct clamav_engine_opts opts;

	pthread_mutex_t lock;		/* the fields below, to "build" */
	pthread_cond_t cond;		/* engine ready, scans done */
	pthread_cond_t wake;		/* the thread: stop */
	struct cl_engine *engine;	/* NULL: loading or failed */
	unsigned sigs;
	unsigned busy;			/* scans holding a reference */
	bool loading;			/* reload_pause: no engine now */
	bool stop;

	pthread_mutex_t build;		/* one check or load at a time */
	struct cl_stat stat;		/* under build */
	bool have_stat;

	pthread_t thread;
	bool have_thread;
};

static pthread_mutex_t clamav_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct clamav_holder *clamav_registry;

static pthread_once_t clamav_once = PTHREAD_ONCE_INIT;
static cl_error_t clamav_init_status;

struct clamav_config {
	struct conf_list backend;
	const char *database_dir;
	double db_check_interval;
	bool reload_pause;
	const char *temp_dir;
	uint64_t spool_memory;
	uint64_t max_message_size;
	int oversize_action;
	double max_scan_time;
	unsigned long max_recursion;
	unsigned long max_files;
	uint64_t max_file_size;
	uint64_t max_scan_size;
	bool alert_exceeds_limits;
	int infected_action;
	const char *reply_text;
	bool scanned_header;
	bool skip_authenticated;
	bool skip_mynetworks;
	double clamd_timeout;

	/* made by init */
	struct msgspool_limits limits;	/* temp_dir, spool_memory,
					   max_message_size */
	const char *host;		/* for X-Virus-Scanned */
	struct clamav_holder *holder;	/* libclamav backend */
	struct clamav_clamd *clamd;	/* clamd backend */
	pthread_mutex_t version_lock;	/* clamd's version, below */
	bool have_version_lock;
	char *version;			/* NULL: not known yet */
	double version_at;
};

/* per message */
struct clamav_msg {
	bool started;			/* exemption decided */
	const char *skip;		/* not scanned: why (static) */
	struct msgspool ms;
};

/* What libclamav's message callback is told during a scan. */
struct clamav_scan_ctx {
	const char *qid;
};

/* The outcome of one scan. */
enum clamav_result {
	CLAMAV_CLEAN,
	CLAMAV_VIRUS,
	CLAMAV_ERROR,
};

/* --- libclamav, process-wide ---------------------------------------------- */

/* clamav_lib_msg - libclamav's messages into our log, one line each,
 * with the queue id when they are about a scan */
static void
clamav_lib_msg(enum cl_msg severity, const char *fullmsg, const char *msg,
    void *context)
{
	const struct clamav_scan_ctx *ctx = context;
	int prio = severity >= CL_MSG_ERROR ? LOG_ERR :
	    severity >= CL_MSG_WARN ? LOG_WARNING : LOG_DEBUG;
	char text[1024];
	size_t n;

	(void)fullmsg;
	snprintf(text, sizeof(text), "%s", msg != NULL ? msg : "");
	n = strlen(text);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	if (ctx != NULL)
		log_msg(prio, ctx->qid, "clamav: libclamav: %s", text);
	else if (prio == LOG_DEBUG)
		log_debug("clamav: libclamav: %s", text);
	else
		log_warn("clamav: libclamav: %s", text);
}

/* clamav_lib_init - once per process, before the first engine */
static void
clamav_lib_init(void)
{
	cl_set_clcb_msg(clamav_lib_msg);
	clamav_init_status = cl_init(CL_INIT_DEFAULT);
}

/* clamav_timespec - monotonic seconds as a timespec for timed waits */
static struct timespec
clamav_timespec(double t)
{
	struct timespec ts;

	if (!(t > 0))
		t = 0;
	if (t > 1e15)
		t = 1e15;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	return ts;
}

/* clamav_engine_build - a new engine from the database, compiled; NULL
 * with *why_r (static text) when it cannot be made */
static struct cl_engine *
clamav_engine_build(const struct clamav_engine_opts *o, unsigned *sigs_r,
    const char **why_r)
{
	static const struct {
		enum cl_engine_field field;
		size_t offset;
		bool wide;
	} nums[] = {
		{ CL_ENGINE_MAX_SCANTIME,
		  offsetof(struct clamav_engine_opts, scan_time_ms), false },
		{ CL_ENGINE_MAX_RECURSION,
		  offsetof(struct clamav_engine_opts, recursion), false },
		{ CL_ENGINE_MAX_FILES,
		  offsetof(struct clamav_engine_opts, files), false },
		{ CL_ENGINE_MAX_FILESIZE,
		  offsetof(struct clamav_engine_opts, file_size), true },
		{ CL_ENGINE_MAX_SCANSIZE,
		  offsetof(struct clamav_engine_opts, scan_size), true },
	};
	struct cl_engine *e;
	unsigned sigs = 0;
	cl_error_t r = CL_SUCCESS;
	size_t i;

	if ((e = cl_engine_new()) == NULL) {
		*why_r = "cannot create an engine";
		return NULL;
	}
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]) && r == CL_SUCCESS;
	    i++) {
		const char *p = (const char *)o + nums[i].offset;
		long long v = nums[i].wide ?
		    (long long)*(const uint64_t *)(const void *)p :
		    (long long)*(const uint32_t *)(const void *)p;

		r = cl_engine_set_num(e, nums[i].field, v);
	}
	if (r == CL_SUCCESS)
		r = cl_engine_set_str(e, CL_ENGINE_TMPDIR, o->tmpdir);
	if (r == CL_SUCCESS)
		r = cl_load(o->dir, e, &sigs, CL_DB_STDOPT);
	if (r == CL_SUCCESS)
		r = cl_engine_compile(e);
	if (r != CL_SUCCESS) {
		*why_r = cl_strerror(r);
		cl_engine_free(e);
		return NULL;
	}
	*sigs_r = sigs;
	return e;
}

/* --- engine holders ------------------------------------------------------- */

/* clamav_holder_picture - the directory as the next check compares it
 * with; NULL: none could be taken (the next check reloads) (caller holds
 * build, or has the holder to itself) */
static void
clamav_holder_picture(struct clamav_holder *h, struct cl_stat *now)
{
	if (h->have_stat)
		cl_statfree(&h->stat);
	h->have_stat = now != NULL;
	if (now != NULL)
		h->stat = *now;
	else
		memset(&h->stat, 0, sizeof(h->stat));
}

/* clamav_holder_look - a picture of the directory now, or NULL */
static struct cl_stat *
clamav_holder_look(struct clamav_holder *h, struct cl_stat *st)
{
	memset(st, 0, sizeof(*st));
	if (cl_statinidir(h->opts.dir, st) == CL_SUCCESS)
		return st;
	memset(st, 0, sizeof(*st));
	return NULL;
}

/* clamav_holder_drop - reload_pause: let go of the engine and wait until
 * the scans on it are done, so that it is freed before the next loads */
static void
clamav_holder_drop(struct clamav_holder *h)
{
	struct cl_engine *old;

	pthread_mutex_lock(&h->lock);
	old = h->engine;
	h->engine = NULL;
	h->loading = true;
	while (h->busy > 0)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
	if (old != NULL)
		cl_engine_free(old);
}

/* clamav_holder_reload - build a new engine and swap it in; one that
 * does not build leaves the old one serving (caller holds build, and
 * has taken the new picture) */
static void
clamav_holder_reload(struct clamav_holder *h)
{
	struct cl_engine *e, *old = NULL;
	const char *why = NULL;
	unsigned sigs = 0;
	double t0;

	if (h->opts.pause)
		clamav_holder_drop(h);
	t0 = policy_now();
	e = clamav_engine_build(&h->opts, &sigs, &why);
	if (e == NULL)
		log_warn("clamav: database_dir %s: reload failed: %s; %s",
		    h->opts.dir, why, h->opts.pause ? "no engine until the "
		    "database loads (reload_pause)" : "the old engine keeps "
		    "serving");
	else
		log_info("clamav: database_dir %s: %u signatures reloaded in "
		    "%.3f s", h->opts.dir, sigs, policy_now() - t0);
	pthread_mutex_lock(&h->lock);
	if (e != NULL) {
		old = h->engine;
		h->engine = e;
		h->sigs = sigs;
	}
	h->loading = false;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (old != NULL)
		cl_engine_free(old);	/* or the last scan on it will */
}

/*
 * clamav_holder_check - reload when the directory changed, or could not
 * be looked at last time. cl_statchkdir sees new files and changed
 * mtimes, not removed files: a database withdrawn (say, for false
 * positives) shows in the number of files. The picture is taken before
 * the load, so that a change made during the load is seen next time.
 */
static void
clamav_holder_check(struct clamav_holder *h)
{
	struct cl_stat st, *now;

	pthread_mutex_lock(&h->build);
	now = clamav_holder_look(h, &st);
	if (now == NULL || !h->have_stat || cl_statchkdir(&h->stat) != 0 ||
	    now->entries != h->stat.entries) {
		clamav_holder_picture(h, now);
		clamav_holder_reload(h);
	} else
		cl_statfree(now);
	pthread_mutex_unlock(&h->build);
}

/* clamav_holder_main - the holder's thread: a check every interval
 * until the holder is freed */
static void *
clamav_holder_main(void *arg)
{
	struct clamav_holder *h = arg;
	double next = policy_now() + h->opts.interval;
	struct timespec ts;

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		if (policy_now() < next) {
			ts = clamav_timespec(next);
			pthread_cond_timedwait(&h->wake, &h->lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&h->lock);
		clamav_holder_check(h);
		pthread_mutex_lock(&h->lock);
		next = policy_now() + h->opts.interval;
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* clamav_holder_free - stop the thread, free the engine and the holder
 * (no config uses it any more, so no scan holds its engine) */
static void
clamav_holder_free(struct clamav_holder *h)
{
	if (h->have_thread) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
	}
	if (h->busy != 0)
		log_panic("clamav: engine freed with %u scans on it",
		    h->busy);
	if (h->engine != NULL)
		cl_engine_free(h->engine);
	if (h->have_stat)
		cl_statfree(&h->stat);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->build);
	pthread_cond_destroy(&h->cond);
	pthread_cond_destroy(&h->wake);
	free(h->opts.dir);
	free(h->opts.tmpdir);
	free(h->key);
	free(h);
}

/* clamav_holder_new - a holder with its first engine and, with an
 * interval, its thread; NULL with *why_r when the database does not load */
static struct clamav_holder *
clamav_holder_new(const struct clamav_engine_opts *o, const char *key,
    const char **why_r)
{
	struct clamav_holder *h = xcalloc(1, sizeof(*h));
	pthread_condattr_t ca;
	struct cl_stat st;
	sigset_t all, old;
	double t0 = policy_now();

	h->key = xstrdup(key);
	h->opts = *o;
	h->opts.dir = xstrdup(o->dir);
	h->opts.tmpdir = xstrdup(o->tmpdir);
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->build, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &ca);
	pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);
	clamav_holder_picture(h, clamav_holder_look(h, &st));
	if ((h->engine = clamav_engine_build(&h->opts, &h->sigs,
	    why_r)) == NULL) {
		clamav_holder_free(h);
		return NULL;
	}
	log_info("clamav: database_dir %s: %u signatures loaded in %.3f s",
	    h->opts.dir, h->sigs, policy_now() - t0);
	if (h->opts.interval > 0) {
		/* signals belong to filterd's own threads */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		h->have_thread = pthread_create(&h->thread, NULL,
		    clamav_holder_main, h) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!h->have_thread) {
			*why_r = "cannot start the database thread";
			clamav_holder_free(h);
			return NULL;
		}
	}
	return h;
}

/* clamav_holder_get - the holder for these settings: an existing one
 * (checked for changes now) or a new one; NULL with *why_r */
static struct clamav_holder *
clamav_holder_get(const struct clamav_engine_opts *o, const char **why_r)
{
	struct clamav_holder *h, *made;
	char *key = xasprintf("%s\n%s\n%" PRIu32 "\n%" PRIu32 "\n%" PRIu32
	    "\n%" PRIu64 "\n%" PRIu64 "\n%.6f\n%d", o->dir, o->tmpdir,
	    o->scan_time_ms, o->recursion, o->files, o->file_size,
	    o->scan_size, o->interval, o->pause ? 1 : 0);

	pthread_mutex_lock(&clamav_registry_lock);
	for (h = clamav_registry; h != NULL; h = h->next)
		if (strcmp(h->key, key) == 0)
			break;
	if (h != NULL)
		h->refs++;
	pthread_mutex_unlock(&clamav_registry_lock);
	if (h != NULL) {
		/* a config reload looks at the directory too */
		clamav_holder_check(h);
		free(key);
		return h;
	}
	/* built outside the registry lock: loading takes long, and a
	 * config being retired meanwhile must not wait for it */
	if ((made = clamav_holder_new(o, key, why_r)) == NULL) {
		free(key);
		return NULL;
	}
	pthread_mutex_lock(&clamav_registry_lock);
	for (h = clamav_registry; h != NULL; h = h->next)
		if (strcmp(h->key, key) == 0)
			break;
	if (h != NULL)
		h->refs++;		/* another init was quicker */
	else {
		made->refs = 1;
		made->next = clamav_registry;
		clamav_registry = h = made;
		made = NULL;
	}
	pthread_mutex_unlock(&clamav_registry_lock);
	if (made != NULL)
		clamav_holder_free(made);
	free(key);
	return h;
}

/* clamav_holder_put - a config no longer uses the holder; sets *hp NULL */
static void
clamav_holder_put(struct clamav_holder **hp)
{
	struct clamav_holder *h = *hp, **pp;
	bool last = false;

	if (h == NULL)
		return;
	*hp = NULL;
	pthread_mutex_lock(&clamav_registry_lock);
	if (h->refs == 0)
		log_panic("clamav: engine holder released too often");
	if (--h->refs == 0) {
		for (pp = &clamav_registry; *pp != NULL; pp = &(*pp)->next)
			if (*pp == h) {
				*pp = h->next;
				break;
			}
		last = true;
	}
	pthread_mutex_unlock(&clamav_registry_lock);
	if (last)
		clamav_holder_free(h);
}

/* clamav_engine_get - a reference to the current engine, waiting until
 * deadline while a reload_pause reload is loading; NULL: none */
static struct cl_engine *
clamav_engine_get(struct clamav_holder *h, double deadline,
    unsigned *sigs_r)
{
	struct timespec ts = clamav_timespec(deadline);
	struct cl_engine *e;

	pthread_mutex_lock(&h->lock);
	while (h->engine == NULL && h->loading)
		if (pthread_cond_timedwait(&h->cond, &h->lock, &ts) ==
		    ETIMEDOUT)
			break;
	if ((e = h->engine) != NULL) {
		cl_engine_addref(e);
		h->busy++;
		*sigs_r = h->sigs;
	}
	pthread_mutex_unlock(&h->lock);
	return e;
}

/* clamav_engine_put - done with a reference from clamav_engine_get */
static void
clamav_engine_put(struct clamav_holder *h, struct cl_engine *e)
{
	cl_engine_free(e);
	pthread_mutex_lock(&h->lock);
	if (--h->busy == 0)
		pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* --- scanning ------------------------------------------------------------- */

/* clamav_scan_lib - the spool through libclamav */
static enum clamav_result
clamav_scan_lib(const struct clamav_config *cfg, struct txn *txn,
    struct spool *sp, double deadline, const char **virus_r,
    const char **why_r, const char **scanned_r)
{
	struct arena *arena = txn_msg_arena(txn);
	struct clamav_scan_ctx ctx = { .qid = txn_queue_id(txn) };
	struct cl_scan_options opts = {
		.general = CL_SCAN_GENERAL_HEURISTICS,
		.parse = ~0u,
		.heuristic = cfg->alert_exceeds_limits ?
		    CL_SCAN_HEURISTIC_EXCEEDS_MAX : 0,
	};
	const unsigned char *bytes;
	unsigned long scanned = 0;
	const char *virname = NULL;
	struct cl_engine *e;
	cl_fmap_t *map;
	unsigned sigs = 0;
	size_t len;
	cl_error_t r;

	if (spool_size(sp) == 0)
		return CLAMAV_CLEAN;	/* nothing came: nothing to find */
	if ((e = clamav_engine_get(cfg->holder, deadline, &sigs)) == NULL) {
		*why_r = arena_printf(arena, "no engine: the database in %s "
		    "is not loaded", cfg->holder->opts.dir);
		return CLAMAV_ERROR;
	}
	if ((bytes = spool_memory(sp, &len)) != NULL) {
		if ((map = cl_fmap_open_memory(bytes, len)) == NULL)
			r = CL_EMEM;
		else {
			r = cl_scanmap_callback(map, NULL, &virname, &scanned,
			    e, &opts, &ctx);
			cl_fmap_close(map);
		}
	} else
		r = cl_scandesc_callback(spool_fd(sp), NULL, &virname,
		    &scanned, e, &opts, &ctx);
	/* the name belongs to the engine: copy it before letting go */
	if (r == CL_VIRUS)
		*virus_r = arena_strdup(arena, virname != NULL ? virname :
		    "unknown");
	*scanned_r = arena_printf(arena, "ClamAV %s, %u signatures",
	    cl_retver(), sigs);
	clamav_engine_put(cfg->holder, e);
	if (r == CL_CLEAN)
		return CLAMAV_CLEAN;
	if (r == CL_VIRUS)
		return CLAMAV_VIRUS;
	*why_r = arena_printf(arena, "libclamav: %s", cl_strerror(r));
	return CLAMAV_ERROR;
}

/* clamav_clamd_label - clamd's version for X-Virus-Scanned, asked at
 * most once every CLAMAV_VERSION_TTL; "ClamAV" while it is not known */
static const char *
clamav_clamd_label(struct clamav_config *cfg, struct arena *arena,
    double deadline)
{
	const char *v, *why = NULL;
	const char *label = NULL;
	double now = policy_now();
	bool ask;

	pthread_mutex_lock(&cfg->version_lock);
	ask = cfg->version == NULL || now - cfg->version_at >
	    CLAMAV_VERSION_TTL;
	if (ask)
		cfg->version_at = now;	/* one asker at a time */
	else
		label = arena_strdup(arena, cfg->version);
	pthread_mutex_unlock(&cfg->version_lock);
	if (!ask)
		return label;
	v = clamav_clamd_version(cfg->clamd, deadline, arena, &why);
	pthread_mutex_lock(&cfg->version_lock);
	if (v != NULL) {
		free(cfg->version);
		cfg->version = xstrdup(v);
	}
	label = arena_strdup(arena, cfg->version != NULL ? cfg->version :
	    "ClamAV");
	pthread_mutex_unlock(&cfg->version_lock);
	return label;
}

/* clamav_scan_clamd - the spool through clamd */
static enum clamav_result
clamav_scan_clamd(struct clamav_config *cfg, struct txn *txn,
    struct spool *sp, double deadline, const char **virus_r,
    const char **why_r, const char **scanned_r)
{
	struct arena *arena = txn_msg_arena(txn);

	switch (clamav_clamd_scan(cfg->clamd, sp, deadline,
	    txn_queue_id(txn), arena, virus_r, why_r)) {
	case CLAMAV_CLAMD_CLEAN:
		if (cfg->scanned_header)
			*scanned_r = clamav_clamd_label(cfg, arena, deadline);
		return CLAMAV_CLEAN;
	case CLAMAV_CLAMD_VIRUS:
		/* the header goes only on messages that are kept */
		if (cfg->scanned_header && (cfg->infected_action ==
		    CLAMAV_INFECTED_QUARANTINE || cfg->infected_action ==
		    CLAMAV_INFECTED_HEADER))
			*scanned_r = clamav_clamd_label(cfg, arena, deadline);
		return CLAMAV_VIRUS;
	case CLAMAV_CLAMD_ERROR:
		break;
	}
	if (*why_r == NULL)
		*why_r = "clamd failed";
	return CLAMAV_ERROR;
}

/* --- verdicts ------------------------------------------------------------- */

/*
 * clamav_reply_text - reply_text with "%s" as the signature name and
 * "%%" as "%"; any other byte is literal (the admin's text is never a
 * printf format)
 */
static const char *
clamav_reply_text(struct arena *arena, const char *fmt, const char *virus)
{
	struct buf b = { 0 };
	const char *p;
	char *out;

	for (p = fmt; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 's') {
			buf_puts(&b, virus);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			buf_putc(&b, '%');
			p++;
		} else
			buf_putc(&b, *p);
	}
	out = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return out;
}

/* clamav_infected - the verdict for a message that carries virus */
static void
clamav_infected(const struct clamav_config *cfg, struct txn *txn,
    const char *virus, struct verdict *v)
{
	struct arena *arena = txn_msg_arena(txn);

	v->reason = arena_printf(arena, "infected: %s", virus);
	switch ((enum clamav_infected)cfg->infected_action) {
	case CLAMAV_INFECTED_REJECT:
		v->action = VERDICT_REJECT;
		v->code = "554";
		v->xcode = "5.7.1";
		v->text = clamav_reply_text(arena, cfg->reply_text, virus);
		break;
	case CLAMAV_INFECTED_DISCARD:
		v->action = VERDICT_DISCARD;
		break;
	case CLAMAV_INFECTED_QUARANTINE:
		v->action = VERDICT_QUARANTINE;
		break;
	case CLAMAV_INFECTED_HEADER:
		txn_add_header(txn, "X-Virus-Status", arena_printf(arena,
		    "Infected (%s)", virus));
		break;
	}
	/* the core logs a refusal with its reason, but nothing else names
	 * the signature: the summary has only the action, and Postfix
	 * drops a quarantine's reason */
	if (v->action != VERDICT_REJECT)
		log_msg(LOG_INFO, txn_queue_id(txn), "clamav: infected: %s; "
		    "infected_action=%s", virus,
		    clamav_infected_names[cfg->infected_action]);
}

/* clamav_scanned_header - "X-Virus-Scanned: WHAT at HOST" */
static void
clamav_scanned_header(const struct clamav_config *cfg, struct txn *txn,
    const char *what)
{
	if (cfg->scanned_header && what != NULL)
		txn_add_header(txn, "X-Virus-Scanned",
		    arena_printf(txn_msg_arena(txn), "%s at %s", what,
		    cfg->host));
}

/* --- message collection --------------------------------------------------- */

/*
 * clamav_msg_start - on the first stage of a message that sees it:
 * decide whether it is scanned. false: a lookup failed.
 */
static bool
clamav_msg_start(const struct clamav_config *cfg, struct txn *txn,
    struct clamav_msg *m)
{
	bool failed;

	if (m == NULL)
		log_panic("clamav: message stage without message state");
	if (m->started)
		return true;
	m->skip = msgspool_exempt(txn, cfg->skip_authenticated,
	    cfg->skip_mynetworks, "clamav", &failed);
	m->started = !failed;
	return !failed;
}

/* clamav_header - HEADER: the field as sent */
static enum policy_status
clamav_header(const struct policy_call *call, struct verdict *v)
{
	const struct clamav_config *cfg = call->config;
	struct clamav_msg *m = call->msg;

	(void)v;
	if (!clamav_msg_start(cfg, call->txn, m))
		return POLICY_FAILED;
	if (m->skip == NULL)
		msgspool_header(&m->ms, &cfg->limits, call->txn);
	return POLICY_DONE;
}

/* clamav_eoh - EOH: the blank line between header and body */
static enum policy_status
clamav_eoh(const struct policy_call *call, struct verdict *v)
{
	const struct clamav_config *cfg = call->config;
	struct clamav_msg *m = call->msg;

	(void)v;
	if (!clamav_msg_start(cfg, call->txn, m))
		return POLICY_FAILED;
	if (m->skip == NULL)
		msgspool_eoh(&m->ms, &cfg->limits, call->txn);
	return POLICY_DONE;
}

/* clamav_body - BODY: one chunk as the MTA sent it */
static enum policy_status
clamav_body(const struct policy_call *call, struct verdict *v)
{
	const struct clamav_config *cfg = call->config;
	struct clamav_msg *m = call->msg;

	(void)v;
	if (!clamav_msg_start(cfg, call->txn, m))
		return POLICY_FAILED;
	if (m->skip == NULL)
		msgspool_body(&m->ms, &cfg->limits, call->txn);
	return POLICY_DONE;
}

/* clamav_oversize - a message over max_message_size: accepted with a
 * header that says so, or deferred (oversize_action) */
static void
clamav_oversize(const struct clamav_config *cfg, struct txn *txn,
    const struct clamav_msg *m, struct verdict *v)
{
	struct arena *arena = txn_msg_arena(txn);

	v->reason = arena_printf(arena, "not scanned: %" PRIu64 " bytes, "
	    "over max_message_size", m->ms.size);
	if (cfg->oversize_action == CLAMAV_OVERSIZE_TEMPFAIL) {
		v->action = VERDICT_DEFER;
		v->code = "451";
		v->xcode = "4.3.4";
		v->text = "Message too large to be scanned for viruses";
		return;
	}
	clamav_scanned_header(cfg, txn, arena_printf(arena, "not scanned "
	    "(%" PRIu64 " bytes, over max_message_size)", m->ms.size));
}

/* clamav_eom - EOM: scan what was collected and decide */
static enum policy_status
clamav_eom(const struct policy_call *call, struct verdict *v)
{
	struct clamav_config *cfg = call->config;
	struct clamav_msg *m = call->msg;
	struct txn *txn = call->txn;
	const char *virus = NULL, *why = NULL, *scanned = NULL;
	enum clamav_result r;
	struct spool *sp;
	double deadline;

	if (!clamav_msg_start(cfg, txn, m))
		return POLICY_FAILED;
	if (m->skip != NULL) {
		v->reason = m->skip;
		return POLICY_DONE;
	}
	if (msgspool_broken(&m->ms) != NULL) {
		log_msg(LOG_WARNING, txn_queue_id(txn), "clamav: cannot keep "
		    "the message for scanning: %s", msgspool_broken(&m->ms));
		return POLICY_FAILED;
	}
	if (msgspool_oversize(&m->ms)) {
		clamav_oversize(cfg, txn, m, v);
		return POLICY_DONE;
	}
	if ((sp = msgspool_spool(&m->ms)) == NULL) {
		if (m->ms.started)
			log_panic("clamav: EOM twice, or after ABORT");
		v->reason = "clean";	/* nothing came: nothing to find */
		return POLICY_DONE;
	}
	if (cfg->holder != NULL)
		r = clamav_scan_lib(cfg, txn, sp, call->deadline, &virus,
		    &why, &scanned);
	else {
		deadline = policy_now() + cfg->clamd_timeout;
		if (call->deadline > 0 && call->deadline < deadline)
			deadline = call->deadline;
		r = clamav_scan_clamd(cfg, txn, sp, deadline, &virus, &why,
		    &scanned);
	}
	msgspool_release(&m->ms);
	switch (r) {
	case CLAMAV_CLEAN:
		v->reason = "clean";
		break;
	case CLAMAV_VIRUS:
		clamav_infected(cfg, txn, virus, v);
		break;
	case CLAMAV_ERROR:
		log_msg(LOG_WARNING, txn_queue_id(txn), "clamav: scan failed: "
		    "%s", why);
		return POLICY_FAILED;
	}
	/* a message that is refused or dropped keeps no header */
	if (v->action != VERDICT_REJECT && v->action != VERDICT_DISCARD)
		clamav_scanned_header(cfg, txn, scanned);
	return POLICY_DONE;
}

/* clamav_abort - ABORT: the message is gone, and so is its spool */
static enum policy_status
clamav_abort(const struct policy_call *call, struct verdict *v)
{
	struct clamav_msg *m = call->msg;

	(void)v;
	if (m != NULL)
		msgspool_release(&m->ms);
	return POLICY_DONE;
}

/* --- init ----------------------------------------------------------------- */

/* clamav_backends - the clamd servers named by backend (in the config's
 * arena), or an empty list for libclamav; false after an error */
static bool
clamav_backends(const struct policy_init *pi, const struct conf_list *l,
    struct conf_list *servers_r, struct buf *err)
{
	size_t i, nlib = 0;

	servers_r->n = 0;
	servers_r->items = arena_alloc(pi->arena,
	    (l->n + 1) * sizeof(*servers_r->items));
	if (l->n == 0) {
		conf_setting_error(err, pi->cf, pi->section,
		    "backend", "empty (use libclamav or "
		    "clamd:SERVER)");
		return false;
	}
	for (i = 0; i < l->n; i++) {
		if (strcmp(l->items[i], "libclamav") == 0)
			nlib++;
		else if (strncmp(l->items[i], "clamd:", 6) == 0)
			servers_r->items[servers_r->n++] = l->items[i] + 6;
		else {
			conf_setting_error(err, pi->cf, pi->section,
			    "backend", "unknown backend "
			    "'%s' (use libclamav or clamd:SERVER)",
			    l->items[i]);
			return false;
		}
	}
	servers_r->items[servers_r->n] = NULL;
	if (nlib > 0 && servers_r->n > 0) {
		conf_setting_error(err, pi->cf, pi->section,
		    "backend", "libclamav and clamd "
		    "cannot be mixed");
		return false;
	}
	if (nlib > 1) {
		conf_setting_error(err, pi->cf, pi->section,
		    "backend", "libclamav given more than "
		    "once");
		return false;
	}
	return true;
}

/* clamav_engine_opts - the engine settings of a config */
static struct clamav_engine_opts
clamav_engine_opts(const struct clamav_config *cfg)
{
	double ms = round(cfg->max_scan_time * 1000.0);

	return (struct clamav_engine_opts){
		.dir = (char *)cfg->database_dir,
		.tmpdir = (char *)cfg->temp_dir,
		.scan_time_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms,
		.recursion = (uint32_t)cfg->max_recursion,
		.files = (uint32_t)cfg->max_files,
		.file_size = cfg->max_file_size,
		.scan_size = cfg->max_scan_size,
		.interval = cfg->db_check_interval,
		.pause = cfg->reload_pause,
	};
}

/* clamav_deinit - let go of the engine or the clamd client */
static void
clamav_deinit(void *config)
{
	struct clamav_config *cfg = config;

	clamav_holder_put(&cfg->holder);
	clamav_clamd_free(&cfg->clamd);
	if (cfg->have_version_lock) {
		pthread_mutex_destroy(&cfg->version_lock);
		cfg->have_version_lock = false;
	}
	free(cfg->version);
	cfg->version = NULL;
}

/* clamav_init - check the settings; the engine (loaded and compiled now,
 * or shared with an earlier config) or the clamd client */
static bool
clamav_init(struct policy_init *pi, char **error_r)
{
	struct clamav_config *cfg = pi->config;
	const struct policy_globals *g = pi->globals;
	struct clamav_engine_opts opts;
	struct conf_list servers;
	struct buf err = { 0 };
	struct stat st;
	const char *why = NULL;
	char *cwhy = NULL;

	cfg->host = g != NULL && g->hostname != NULL && *g->hostname != '\0' ?
	    arena_strdup(pi->arena, g->hostname) : "localhost";
	cfg->limits = (struct msgspool_limits){
		.dir = cfg->temp_dir,
		.mem_limit = cfg->spool_memory,
		.max_size = cfg->max_message_size,
	};
	if (stat(cfg->temp_dir, &st) != 0)
		conf_setting_error(&err, pi->cf, pi->section,
		    "temp_dir", "%s: %s", cfg->temp_dir,
		    strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		conf_setting_error(&err, pi->cf, pi->section,
		    "temp_dir", "%s: not a directory",
		    cfg->temp_dir);
	/* a scan the core gives up on first would tempfail mail that
	 * libclamav or clamd was still allowed to finish */
	if (pi->timeout > 0 && cfg->max_scan_time >= pi->timeout)
		conf_setting_error(&err, pi->cf, pi->section,
		    "max_scan_time", "must be shorter than the module's "
		    "timeout (%gs)", pi->timeout);
	if (pi->timeout > 0 && cfg->clamd_timeout >= pi->timeout)
		conf_setting_error(&err, pi->cf, pi->section,
		    "clamd_timeout", "must be shorter than the module's "
		    "timeout (%gs)", pi->timeout);
	if (!clamav_backends(pi, &cfg->backend, &servers, &err) ||
	    err.len > 0)
		goto fail;
	if (servers.n > 0) {
		if (!clamav_clamd_new(&servers, &cfg->clamd, &cwhy)) {
			conf_setting_error(&err, pi->cf, pi->section,
			    "backend", "%s", cwhy != NULL ?
			    cwhy : "bad clamd server");
			free(cwhy);
			goto fail;
		}
		pthread_mutex_init(&cfg->version_lock, NULL);
		cfg->have_version_lock = true;
		buf_free(&err);
		return true;
	}
	pthread_once(&clamav_once, clamav_lib_init);
	if (clamav_init_status != CL_SUCCESS) {
		conf_setting_error(&err, pi->cf, pi->section,
		    "backend", "libclamav: cl_init: %s",
		    cl_strerror(clamav_init_status));
		goto fail;
	}
	if (stat(cfg->database_dir, &st) != 0) {
		/* clearer than libclamav's "Can't get file status" */
		conf_setting_error(&err, pi->cf, pi->section,
		    "database_dir", "%s: %s",
		    cfg->database_dir, strerror(errno));
		goto fail;
	}
	opts = clamav_engine_opts(cfg);
	if ((cfg->holder = clamav_holder_get(&opts, &why)) == NULL) {
		conf_setting_error(&err, pi->cf, pi->section,
		    "database_dir", "%s: %s",
		    cfg->database_dir, why);
		goto fail;
	}
	buf_free(&err);
	return true;
fail:
	clamav_deinit(cfg);
	*error_r = buf_steal(&err);
	return false;
}

/* --- settings ------------------------------------------------------------- */

#define CLAMAV_OFF(f)	offsetof(struct clamav_config, f)

static const struct conf_setting clamav_settings[] = {
	{ .name = "backend", .type = CONF_LIST, .def = "libclamav",
	  .offset = CLAMAV_OFF(backend),
	  .help = "libclamav (in process), or clamd:unix:PATH and/or "
	    "clamd:HOST:PORT servers tried in turn" },
	{ .name = "database_dir", .type = CONF_STRING,
	  .def = "/var/lib/clamav", .offset = CLAMAV_OFF(database_dir),
	  .help = "libclamav: the signature databases (freshclam's "
	    "directory)" },
	{ .name = "db_check_interval", .type = CONF_DURATION, .def = "60s",
	  .offset = CLAMAV_OFF(db_check_interval),
	  .min = "0s",
	  .help = "libclamav: how often database_dir is checked for new "
	    "databases (0: only at config reload)" },
	{ .name = "reload_pause", .type = CONF_BOOL, .def = "no",
	  .offset = CLAMAV_OFF(reload_pause),
	  .help = "libclamav: free the old engine before loading a new one "
	    "(scans wait meanwhile; half the memory)" },
	{ .name = "temp_dir", .type = CONF_STRING, .def = "/var/tmp",
	  .offset = CLAMAV_OFF(temp_dir),
	  .help = "where messages over spool_memory and libclamav's "
	    "unpacked files go" },
	{ .name = "spool_memory", .type = CONF_SIZE, .def = "1M",
	  .offset = CLAMAV_OFF(spool_memory),
	  .help = "a message up to this size is kept in memory, a larger "
	    "one in a file in temp_dir" },
	{ .name = "max_message_size", .type = CONF_SIZE, .def = "25M",
	  .offset = CLAMAV_OFF(max_message_size),
	  .min = "1",
	  .help = "a larger message is not scanned (oversize_action)" },
	{ .name = "oversize_action", .type = CONF_ENUM, .def = "skip",
	  .offset = CLAMAV_OFF(oversize_action),
	  .choices = clamav_oversize_names,
	  .help = "a message over max_message_size is accepted unscanned "
	    "(skip) or deferred (tempfail)" },
	{ .name = "max_scan_time", .type = CONF_DURATION, .def = "120s",
	  .offset = CLAMAV_OFF(max_scan_time),
	  .min = "1ms",
	  .help = "libclamav: longest scan of one message" },
	{ .name = "max_recursion", .type = CONF_UINT, .def = "17",
	  .offset = CLAMAV_OFF(max_recursion),
	  .min = "1", .max = "4294967295",
	  .help = "libclamav: deepest nesting of archives and attachments" },
	{ .name = "max_files", .type = CONF_UINT, .def = "10000",
	  .offset = CLAMAV_OFF(max_files), .min = "1", .max = "4294967295",
	  .help = "libclamav: most files scanned in one message" },
	{ .name = "max_file_size", .type = CONF_SIZE, .def = "25M",
	  .offset = CLAMAV_OFF(max_file_size),
	  .min = "1", .max = "2047M",
	  .help = "libclamav: largest file (attachment, archive member) "
	    "scanned" },
	{ .name = "max_scan_size", .type = CONF_SIZE, .def = "100M",
	  .offset = CLAMAV_OFF(max_scan_size),
	  .min = "1",
	  .help = "libclamav: most bytes scanned in one message, unpacked "
	    "files included" },
	{ .name = "alert_exceeds_limits", .type = CONF_BOOL, .def = "yes",
	  .offset = CLAMAV_OFF(alert_exceeds_limits),
	  .help = "libclamav: a message that exceeds a limit is reported as "
	    "Heuristics.Limits.Exceeded, not passed as clean" },
	{ .name = "infected_action", .type = CONF_ENUM, .def = "reject",
	  .offset = CLAMAV_OFF(infected_action),
	  .choices = clamav_infected_names,
	  .help = "what an infected message gets: reject (554 5.7.1), "
	    "discard, quarantine or header (X-Virus-Status)" },
	{ .name = "reply_text", .type = CONF_STRING,
	  .def = "Virus found: %s", .offset = CLAMAV_OFF(reply_text),
	  .help = "reject text: %s = signature name, %% = %" },
	{ .name = "scanned_header", .type = CONF_BOOL, .def = "yes",
	  .offset = CLAMAV_OFF(scanned_header),
	  .help = "add X-Virus-Scanned naming the scanner and this host" },
	{ .name = "skip_authenticated", .type = CONF_BOOL, .def = "no",
	  .offset = CLAMAV_OFF(skip_authenticated),
	  .help = "do not scan messages from SASL-authenticated clients" },
	{ .name = "skip_mynetworks", .type = CONF_BOOL, .def = "no",
	  .offset = CLAMAV_OFF(skip_mynetworks),
	  .help = "do not scan messages from clients in mynetworks" },
	{ .name = "clamd_timeout", .type = CONF_DURATION, .def = "30s",
	  .offset = CLAMAV_OFF(clamd_timeout),
	  .min = "1ms",
	  .help = "clamd: longest conversation for one message" },
	{ .name = NULL },
};

const struct policy_module clamav_module = {
	.name = "clamav",
	.summary = "virus scanning with libclamav or clamd",
	.settings = clamav_settings,
	.config_size = sizeof(struct clamav_config),
	.init = clamav_init,
	.deinit = clamav_deinit,
	.msg_size = sizeof(struct clamav_msg),
	.stage = {
		[POLICY_HEADER] = clamav_header,
		[POLICY_EOH] = clamav_eoh,
		[POLICY_BODY] = clamav_body,
		[POLICY_EOM] = clamav_eom,
		[POLICY_ABORT] = clamav_abort,
	},
	.flags = POLICY_NEEDS_BODY | POLICY_ADDS_HEADERS |
	    POLICY_NEEDS_LEADSPC,
	.on_failure = POLICY_FAIL_TEMPFAIL,
	.timeout = 150,		/* above max_scan_time's default (120s) */
};
