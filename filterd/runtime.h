/*
 * runtime.h - one loaded configuration of filterd, reference counted
 *
 * Contract: runtime_load() parses a config file (or the built-in defaults
 * when path is NULL), opens every table and initialises every module of
 * the pipeline; on any error it returns NULL and every error is in err
 * with FILE:LINE. runtime_install() makes a runtime current;
 * runtime_acquire() hands out a reference to the current one (the milter
 * takes one per connection) and runtime_release() drops it; the last
 * release of a retired runtime runs the modules' deinit and frees it. So a
 * reload swaps configs atomically and no transaction in flight sees a
 * half-loaded one.
 */
#ifndef POSTERN_RUNTIME_H
#define POSTERN_RUNTIME_H

#include <stdbool.h>
#include <stdio.h>

#include "conf.h"
#include "policy.h"

struct pipeline;

/* Global settings of filterd.conf (the section before any [name]). */
struct filterd_settings {
	char *socket;
	unsigned long socket_mode;
	char *socket_owner;
	char *socket_group;
	char *user;
	char *pid_file;
	struct conf_list pipeline;
	char *authserv_id;
	char *hostname;
	struct conf_list mynetworks;
	bool delay_reject;
	double milter_timeout;
	unsigned long backlog;
	uint64_t thread_stack_size;
	double table_check_interval;
	bool debug;
	struct conf_list dns_servers;
	double dns_timeout;
	unsigned long dns_attempts;
	char *dns_trust_anchor_file;
	unsigned long dns_cache_size;
};

struct runtime {
	int refs;			/* under the runtime lock */
	struct arena *arena;
	const char *path;		/* NULL: built-in defaults */
	struct filterd_settings set;
	struct policy_globals globals;
	struct pipeline *pipeline;
};

extern const struct conf_setting runtime_settings[];

struct runtime *runtime_load(const char *path, struct conf_errors *err);
/* runtime_dump - print the effective settings (postern-filterd -n) */
void runtime_dump(const struct runtime *rt, FILE *fp);
/* runtime_install - make rt current (takes over the caller's reference);
 * NULL at shutdown retires the current one (runtime_acquire then panics) */
void runtime_install(struct runtime *rt);
struct runtime *runtime_acquire(void);
void runtime_release(struct runtime **rt);

#endif
