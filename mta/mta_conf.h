/*
 * mta_conf.h - one loaded configuration of postern-mta (mta.conf)
 *
 * Contract: mta_conf_load() parses the file (or the built-in defaults
 * when path is NULL), checks every setting and builds what the workers
 * use: the listeners' addresses, the milter specs, the relay guard's
 * lists, the TLS server and the AUTH users. On any error it returns NULL
 * and every error is in err with FILE:LINE, so a bad config never
 * starts and a bad reload leaves the running config in place.
 *
 * Lifetime: the parent loads a config and forks workers that inherit it;
 * a worker keeps its config for its whole life (a reload starts new
 * workers), so nothing here is shared between threads while it changes.
 */
#ifndef POSTERN_MTA_CONF_H
#define POSTERN_MTA_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "auth.h"
#include "conf.h"
#include "milter_client.h"
#include "relay_guard.h"
#include "table.h"
#include "tls.h"

enum mta_bare_newline {
	MTA_BARE_NEWLINE_REJECT,
	MTA_BARE_NEWLINE_NORMALIZE,
};

/* The global settings of mta.conf. */
struct mta_settings {
	char *myhostname;
	char *user;
	char *queue_directory;
	char *pid_file;
	char *temp_dir;
	struct conf_list smtp_listen;
	struct conf_list submission_listen;
	struct conf_list submissions_listen;
	unsigned long workers;
	unsigned long job_threads;
	unsigned long backlog;
	char *smtpd_banner;
	double greet_pause;
	struct conf_list milters;
	double milter_connect_timeout;
	double milter_command_timeout;
	double milter_content_timeout;
	int milter_default_action;	/* enum milter_default */
	struct conf_list mynetworks;
	struct conf_list relay_domains;
	char *tls_cert_file;
	char *tls_key_file;
	int tls_min_version;		/* index into mta_tls_versions */
	char *tls_ciphers;
	bool tls_self_signed;
	char *auth_users;
	bool auth_require_tls;
	unsigned long auth_failure_limit;
	double auth_failure_window;
	unsigned long line_length_limit;
	uint64_t message_size_limit;
	uint64_t header_size_limit;
	unsigned long recipient_limit;
	unsigned long hard_error_limit;
	unsigned long junk_command_limit;
	double smtpd_timeout;
	unsigned long min_data_rate;
	unsigned long client_connection_limit;
	unsigned long max_sessions;
	uint64_t queue_minfree;
	int bare_newline;		/* enum mta_bare_newline */
	uint64_t spool_memory;
	double stop_timeout;
	bool debug;
	char *virtual_alias_maps;
	char *local_recipient_maps;
	/* delivery (qmgr) */
	bool delivery;
	char *transport_maps;
	char *relayhost;
	double minimal_backoff_time;
	double maximal_backoff_time;
	double maximal_queue_lifetime;
	double delay_warning_time;	/* 0: none */
	double queue_run_delay;
	unsigned long destination_concurrency_limit;
	unsigned long delivery_threads;
	double smtp_connect_timeout;
	double smtp_helo_timeout;
	double smtp_command_timeout;
	double smtp_data_timeout;
	double smtp_connection_cache_time_limit;	/* 0: no reuse */
	double smtp_connection_reuse_time_limit;
	char *smtp_bind_address;
	int smtp_tls_security_level;	/* enum smtp_tls_level */
	char *smtp_tls_policy_maps;
	char *smtp_tls_ca_file;
	struct conf_list dns_servers;
	double dns_timeout;
	unsigned long dns_attempts;
	char *dns_trust_anchor_file;
	uint64_t bounce_size_limit;
	char *double_bounce_recipient;
};

enum mta_service {
	MTA_SERVICE_SMTP,		/* port 25: STARTTLS offered, AUTH
					   only under TLS */
	MTA_SERVICE_SUBMISSION,		/* 587: AUTH required for MAIL */
	MTA_SERVICE_SUBMISSIONS,	/* 465: TLS from the first byte,
					   AUTH required */
};

struct mta_listener {
	enum mta_service service;
	const char *spec;		/* as configured: "127.0.0.1:25" */
	const char *host;		/* "" = any */
	const char *port;
	int family;			/* AF_INET, AF_INET6, AF_UNSPEC */
};

struct mta_conf {
	struct arena *arena;
	const char *path;		/* NULL: built-in defaults */
	struct mta_settings set;
	struct mta_listener *listeners;
	size_t n_listeners;
	struct milter_spec *milters;
	size_t n_milters;
	struct relay_guard guard;
	struct tls_server *tls;		/* NULL: no TLS configured */
	struct auth_db *auth;		/* NULL: no AUTH */
	struct table *transport_maps;	/* NULL: none */
	struct table *virtual_alias_maps;	/* NULL: none */
	struct table *local_recipient_maps;	/* NULL: none */
	struct table *smtp_tls_policy_maps;	/* NULL: none */
};

extern const struct conf_setting mta_settings_table[];

/* mta_conf_load - see the contract */
struct mta_conf *mta_conf_load(const char *path, struct conf_errors *err);
/* mta_conf_free - sets *conf NULL; NULL ok */
void mta_conf_free(struct mta_conf **conf);
/* mta_conf_dump - the effective settings (postern-mta -n) */
void mta_conf_dump(const struct mta_conf *conf, FILE *fp);
/* mta_service_name - "smtp", "submission", "submissions" */
const char *mta_service_name(enum mta_service s);

#endif
