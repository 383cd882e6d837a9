/*
 * runtime.c - loading, swapping and retiring filterd configurations
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "log.h"
#include "matchlist.h"
#include "mem.h"
#include "pipeline.h"
#include "registry.h"
#include "runtime.h"

#define RT_OFF(f) offsetof(struct filterd_settings, f)

const struct conf_setting runtime_settings[] = {
	{ .name = "socket", .type = CONF_STRING,
	  .def = "inet:8891@127.0.0.1", .offset = RT_OFF(socket),
	  .help = "inet:PORT@HOST, inet6:PORT@HOST, unix:PATH or local:PATH" },
	{ .name = "socket_mode", .type = CONF_UINT, .def = "0660",
	  .offset = RT_OFF(socket_mode), .help = "mode of a unix socket" },
	{ .name = "socket_owner", .type = CONF_STRING, .def = "",
	  .offset = RT_OFF(socket_owner), .help = "owner of a unix socket" },
	{ .name = "socket_group", .type = CONF_STRING, .def = "",
	  .offset = RT_OFF(socket_group), .help = "group of a unix socket" },
	{ .name = "user", .type = CONF_STRING, .def = "postern",
	  .offset = RT_OFF(user),
	  .help = "user to run as when started as root" },
	{ .name = "pid_file", .type = CONF_STRING,
	  .def = "/run/postern/filterd.pid", .offset = RT_OFF(pid_file),
	  .help = "pid file, empty for none" },
	{ .name = "pipeline", .type = CONF_LIST, .def = "access",
	  .offset = RT_OFF(pipeline), .help = "policy modules in order" },
	{ .name = "authserv_id", .type = CONF_STRING, .def = "HOSTNAME",
	  .offset = RT_OFF(authserv_id),
	  .help = "Authentication-Results id; HOSTNAME = this host's name" },
	{ .name = "hostname", .type = CONF_STRING, .def = "HOSTNAME",
	  .offset = RT_OFF(hostname),
	  .help = "this host's name in headers; HOSTNAME = gethostname()" },
	{ .name = "mynetworks", .type = CONF_LIST,
	  .def = "127.0.0.0/8, [::1]/128", .offset = RT_OFF(mynetworks),
	  .help = "trusted client networks (addresses, CIDR, tables)" },
	{ .name = "delay_reject", .type = CONF_BOOL, .def = "yes",
	  .offset = RT_OFF(delay_reject),
	  .help = "hold connect/helo/mail rejections until RCPT" },
	{ .name = "milter_timeout", .type = CONF_DURATION, .def = "7210s",
	  .offset = RT_OFF(milter_timeout),
	  .help = "libmilter's timeout for MTA I/O" },
	{ .name = "backlog", .type = CONF_UINT, .def = "128",
	  .offset = RT_OFF(backlog), .help = "listen backlog" },
	{ .name = "thread_stack_size", .type = CONF_SIZE, .def = "1M",
	  .offset = RT_OFF(thread_stack_size),
	  .min = "256k", .max = "64M",
	  .help = "stack of each connection's thread (read at start)" },
	{ .name = "table_check_interval", .type = CONF_DURATION,
	  .def = "60s", .offset = RT_OFF(table_check_interval),
	  .help = "how often changed table files are reloaded" },
	{ .name = "debug", .type = CONF_BOOL, .def = "no",
	  .offset = RT_OFF(debug), .help = "log debug lines" },
	{ .name = "dns_servers", .type = CONF_LIST, .def = "",
	  .offset = RT_OFF(dns_servers),
	  .help = "resolvers as IP[@PORT]; empty = /etc/resolv.conf" },
	{ .name = "dns_timeout", .type = CONF_DURATION, .def = "5s",
	  .offset = RT_OFF(dns_timeout), .min = "1ms",
	  .help = "time for one DNS query attempt" },
	{ .name = "dns_attempts", .type = CONF_UINT, .def = "2",
	  .offset = RT_OFF(dns_attempts), .min = "1", .max = "10",
	  .help = "attempts per DNS query (a timeout is retried)" },
	{ .name = "dns_trust_anchor_file", .type = CONF_STRING, .def = "",
	  .offset = RT_OFF(dns_trust_anchor_file),
	  .help = "DNSSEC trust anchors (for DANE); empty = none" },
	{ .name = "dns_cache_size", .type = CONF_UINT, .def = "20000",
	  .offset = RT_OFF(dns_cache_size),
	  .help = "DNS answers kept in the process; 0 = libunbound's "
	    "cache only" },
	{ 0 },
};

static pthread_mutex_t runtime_lock = PTHREAD_MUTEX_INITIALIZER;
static struct runtime *runtime_current;

/* runtime_hostname - this host's name, for the HOSTNAME default */
static char *
runtime_hostname(struct arena *arena)
{
	char name[256];

	if (gethostname(name, sizeof(name)) != 0)
		return arena_strdup(arena, "localhost");
	name[sizeof(name) - 1] = '\0';
	return arena_strdup(arena, name);
}

/* runtime_free - arena cleanup order does the modules' deinit */
static void
runtime_free(struct runtime *rt)
{
	struct arena *arena = rt->arena;

	arena_destroy(&arena);
}

/* runtime_dns_free - arena cleanup: the resolver goes last but one */
static void
runtime_dns_free(void *arg)
{
	struct dns *dns = arg;

	dns_destroy(&dns);
}

/* runtime_dns - the config's one resolver, shared by every module */
static bool
runtime_dns(struct runtime *rt, const struct conf_file *cf,
    struct conf_errors *err)
{
	struct dns_settings ds = {
		.servers = rt->set.dns_servers,
		.timeout = rt->set.dns_timeout,
		.attempts = rt->set.dns_attempts,
		.trust_anchor_file = *rt->set.dns_trust_anchor_file ?
		    rt->set.dns_trust_anchor_file : NULL,
		.cache_size = rt->set.dns_cache_size,
	};
	const struct conf_entry *ce;
	char *error = NULL;

	rt->globals.dns = dns_create(&ds, &error);
	if (rt->globals.dns != NULL) {
		/* registered before the modules' deinit, so it runs after
		 * them (cleanups run last first) */
		arena_cleanup(rt->arena, runtime_dns_free, rt->globals.dns);
		return true;
	}
	ce = cf ? conf_find(cf, "", "dns_servers") : NULL;
	conf_error(err, ce ? ce->file : (rt->path ? rt->path :
	    "built-in defaults"), ce ? ce->line : 0, "%s", error);
	free(error);
	return false;
}

/* runtime_load - parse, check and initialise a configuration */
struct runtime *
runtime_load(const char *path, struct conf_errors *err)
{
	static const char *known_extra[] = { "scoring", NULL };
	struct arena *arena = arena_create();
	struct runtime *rt = arena_alloc(arena, sizeof(*rt));
	struct conf_file *cf = NULL;
	const char **known;
	int errors = err->count;
	size_t n;
	char *error = NULL;

	rt->arena = arena;
	rt->refs = 1;
	rt->path = path ? arena_strdup(arena, path) : NULL;
	if (path != NULL) {
		cf = conf_load(path, err);
		if (cf == NULL)
			goto fail;
	}
	conf_apply(cf, "", runtime_settings, &rt->set, arena, err);
	if (strcmp(rt->set.hostname, "HOSTNAME") == 0)
		rt->set.hostname = runtime_hostname(arena);
	if (strcmp(rt->set.authserv_id, "HOSTNAME") == 0)
		rt->set.authserv_id = rt->set.hostname;
	rt->globals.authserv_id = rt->set.authserv_id;
	rt->globals.hostname = rt->set.hostname;
	rt->globals.user = rt->set.user;
	rt->globals.mynetworks = matchlist_open(arena, &rt->set.mynetworks,
	    MATCHLIST_NETWORKS, &error);
	if (rt->globals.mynetworks == NULL) {
		const struct conf_entry *ce = cf ?
		    conf_find(cf, "", "mynetworks") : NULL;

		if (ce != NULL)
			conf_error(err, ce->file, ce->line, "mynetworks: %s",
			    error);
		else
			conf_error(err, path ? path : "built-in defaults", 0,
			    "mynetworks: %s", error);
		free(error);
	}
	if (!runtime_dns(rt, cf, err))
		goto fail;
	rt->pipeline = pipeline_build(arena, cf, &rt->set.pipeline,
	    &rt->globals, err);

	for (n = 0; registry_modules[n] != NULL; n++)
		;
	known = arena_alloc(arena, (n + 2) * sizeof(char *));
	for (size_t i = 0; i < n; i++)
		known[i] = registry_modules[i]->name;
	known[n] = known_extra[0];
	if (cf != NULL)
		conf_finish(cf, known, err);
	if (err->count != errors)
		goto fail;
	conf_file_free(&cf);
	return rt;
fail:
	conf_file_free(&cf);
	runtime_free(rt);
	return NULL;
}

/* runtime_dump - effective settings, in config syntax */
void
runtime_dump(const struct runtime *rt, FILE *fp)
{
	fprintf(fp, "# effective settings of %s\n",
	    rt->path ? rt->path : "built-in defaults");
	conf_dump(fp, "", runtime_settings, &rt->set);
	pipeline_dump(rt->pipeline, fp);
}

/* runtime_install - make rt current; the old one retires when unused */
void
runtime_install(struct runtime *rt)
{
	struct runtime *old;

	pthread_mutex_lock(&runtime_lock);
	old = runtime_current;
	runtime_current = rt;
	pthread_mutex_unlock(&runtime_lock);
	runtime_release(&old);
}

/* runtime_acquire - a reference to the current runtime */
struct runtime *
runtime_acquire(void)
{
	struct runtime *rt;

	pthread_mutex_lock(&runtime_lock);
	rt = runtime_current;
	if (rt == NULL)
		log_panic("runtime_acquire before runtime_install");
	rt->refs++;
	pthread_mutex_unlock(&runtime_lock);
	return rt;
}

/* runtime_release - drop a reference; the last one frees */
void
runtime_release(struct runtime **rtp)
{
	struct runtime *rt = *rtp;
	bool last;

	if (rt == NULL)
		return;
	*rtp = NULL;
	pthread_mutex_lock(&runtime_lock);
	if (rt->refs <= 0)
		log_panic("runtime_release: refcount %d", rt->refs);
	last = --rt->refs == 0;
	pthread_mutex_unlock(&runtime_lock);
	if (last) {
		log_debug("retiring configuration %s",
		    rt->path ? rt->path : "(defaults)");
		runtime_free(rt);
	}
}
