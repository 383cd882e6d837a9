/*
 * mta_conf.c - mta.conf: the settings table and what is built from it
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "inet.h"
#include "log.h"
#include "matchlist.h"
#include "mem.h"
#include "mta_conf.h"
#include "transport.h"
#include "smtp_client.h"

static const char *const mta_milter_actions[] = {
	[MILTER_DEFAULT_TEMPFAIL] = "tempfail",
	[MILTER_DEFAULT_ACCEPT] = "accept",
	[MILTER_DEFAULT_REJECT] = "reject",
	[MILTER_DEFAULT_QUARANTINE] = "quarantine",
	[MILTER_DEFAULT_SHUTDOWN] = "shutdown",
	NULL,
};

static const char *const mta_tls_versions[] = { "TLSv1.2", "TLSv1.3", NULL };

static const char *const mta_bare_newline_names[] = {
	[MTA_BARE_NEWLINE_REJECT] = "reject",
	[MTA_BARE_NEWLINE_NORMALIZE] = "normalize",
	NULL,
};

static const char *const mta_tls_levels[] = {
	[SMTP_TLS_NONE] = "none",
	[SMTP_TLS_MAY] = "may",
	[SMTP_TLS_ENCRYPT] = "encrypt",
	[SMTP_TLS_VERIFY] = "verify",
	[SMTP_TLS_DANE] = "dane",
	NULL,
};

static const char *const mta_service_names[] = {
	[MTA_SERVICE_SMTP] = "smtp",
	[MTA_SERVICE_SUBMISSION] = "submission",
	[MTA_SERVICE_SUBMISSIONS] = "submissions",
};

#define MTA_OFF(f)	offsetof(struct mta_settings, f)

/* mta_conf_address_valid - empty, or an IPv4/IPv6 address (a name
 * would be ignored at delivery time, silently) */
static bool
mta_conf_address_valid(const void *value, const char **error_r)
{
	const char *v = *(const char *const *)value;
	struct inet_addr a;

	if (*v == '\0' || inet_parse(v, &a))
		return true;
	*error_r = "must be an IPv4 or IPv6 address";
	return false;
}

/* mta_conf_readable_valid - empty, or a file we can read now (the queue
 * manager would only find out when it starts, after -n said yes) */
static bool
mta_conf_readable_valid(const void *value, const char **error_r)
{
	const char *v = *(const char *const *)value;

	if (*v == '\0' || access(v, R_OK) == 0)
		return true;
	*error_r = errno == ENOENT ? "no such file" : "cannot be read";
	return false;
}

const struct conf_setting mta_settings_table[] = {
	{ .name = "myhostname", .type = CONF_STRING, .def = "HOSTNAME",
	  .offset = MTA_OFF(myhostname),
	  .help = "this host's name in the banner, EHLO and Received: "
	    "(HOSTNAME = gethostname)" },
	{ .name = "user", .type = CONF_STRING, .def = "postern",
	  .offset = MTA_OFF(user),
	  .help = "the SMTP workers run as this user" },
	{ .name = "queue_directory", .type = CONF_STRING,
	  .def = "/var/spool/postern", .offset = MTA_OFF(queue_directory),
	  .help = "incoming, active, deferred, hold and corrupt live here" },
	{ .name = "pid_file", .type = CONF_STRING,
	  .def = "/run/postern/mta.pid", .offset = MTA_OFF(pid_file),
	  .help = "the parent's pid; empty = none" },
	{ .name = "temp_dir", .type = CONF_STRING, .def = "/var/tmp",
	  .offset = MTA_OFF(temp_dir),
	  .help = "messages over spool_memory wait here (unlinked files) "
	    "until they are queued" },
	{ .name = "smtp_listen", .type = CONF_LIST,
	  .def = "0.0.0.0:25, [::]:25", .offset = MTA_OFF(smtp_listen),
	  .help = "SMTP (port 25) addresses: HOST:PORT, [IPV6]:PORT, :PORT" },
	{ .name = "submission_listen", .type = CONF_LIST, .def = "",
	  .offset = MTA_OFF(submission_listen),
	  .help = "submission (587, AUTH required) addresses; empty = off" },
	{ .name = "submissions_listen", .type = CONF_LIST, .def = "",
	  .offset = MTA_OFF(submissions_listen),
	  .help = "submissions (465, implicit TLS, AUTH required) "
	    "addresses; empty = off" },
	{ .name = "workers", .type = CONF_UINT, .def = "2",
	  .offset = MTA_OFF(workers), .min = "1", .max = "64",
	  .help = "SMTP worker processes, each serving many sessions" },
	{ .name = "job_threads", .type = CONF_UINT, .def = "32",
	  .offset = MTA_OFF(job_threads), .min = "1", .max = "1024",
	  .help = "threads per worker for milter talk, queue writes and "
	    "password checks" },
	{ .name = "backlog", .type = CONF_UINT, .def = "511",
	  .offset = MTA_OFF(backlog), .min = "1", .max = "65535",
	  .help = "listen(2) backlog of each listener" },
	{ .name = "smtpd_banner", .type = CONF_STRING, .def = "ESMTP Postern",
	  .offset = MTA_OFF(smtpd_banner),
	  .help = "the greeting after \"220 myhostname \"" },
	{ .name = "greet_pause", .type = CONF_DURATION, .def = "0s",
	  .offset = MTA_OFF(greet_pause), .min = "0s", .max = "60s",
	  .help = "send \"220-\" and wait this long before the real "
	    "greeting; a client that talks meanwhile is refused (0: off)" },
	{ .name = "milters", .type = CONF_LIST, .def = "",
	  .offset = MTA_OFF(milters),
	  .help = "filters in order: inet:HOST:PORT, unix:/PATH, or "
	    "{ SOCKET, setting = value, ... }" },
	{ .name = "milter_connect_timeout", .type = CONF_DURATION,
	  .def = "30s", .offset = MTA_OFF(milter_connect_timeout),
	  .min = "1ms", .help = "connect and negotiate with a filter" },
	{ .name = "milter_command_timeout", .type = CONF_DURATION,
	  .def = "30s", .offset = MTA_OFF(milter_command_timeout),
	  .min = "1ms", .help = "a filter's answer to connect..data" },
	{ .name = "milter_content_timeout", .type = CONF_DURATION,
	  .def = "300s", .offset = MTA_OFF(milter_content_timeout),
	  .min = "1ms", .help = "a filter's answer to headers, body, end" },
	{ .name = "milter_default_action", .type = CONF_ENUM,
	  .def = "tempfail", .offset = MTA_OFF(milter_default_action),
	  .choices = mta_milter_actions,
	  .help = "when a filter cannot be used: tempfail, accept, reject, "
	    "quarantine, shutdown" },
	{ .name = "mynetworks", .type = CONF_LIST,
	  .def = "127.0.0.0/8, [::1]/128", .offset = MTA_OFF(mynetworks),
	  .help = "clients that may relay anywhere" },
	{ .name = "relay_domains", .type = CONF_LIST, .def = "",
	  .offset = MTA_OFF(relay_domains),
	  .help = "domains anyone may send to (the gateway's domains)" },
	{ .name = "tls_cert_file", .type = CONF_STRING, .def = "",
	  .offset = MTA_OFF(tls_cert_file),
	  .help = "PEM certificate chain; empty = no TLS" },
	{ .name = "tls_key_file", .type = CONF_STRING, .def = "",
	  .offset = MTA_OFF(tls_key_file), .help = "PEM private key" },
	{ .name = "tls_min_version", .type = CONF_ENUM, .def = "TLSv1.2",
	  .offset = MTA_OFF(tls_min_version), .choices = mta_tls_versions,
	  .help = "oldest TLS version accepted" },
	{ .name = "tls_ciphers", .type = CONF_STRING, .def = "",
	  .offset = MTA_OFF(tls_ciphers),
	  .help = "TLS 1.2 cipher list; empty = OpenSSL's default" },
	{ .name = "tls_self_signed", .type = CONF_BOOL, .def = "no",
	  .offset = MTA_OFF(tls_self_signed),
	  .help = "make a self-signed certificate and key at the given "
	    "paths when they do not exist" },
	{ .name = "auth_users", .type = CONF_STRING, .def = "",
	  .offset = MTA_OFF(auth_users),
	  .help = "file of user:crypt-hash lines; empty = no AUTH" },
	{ .name = "auth_require_tls", .type = CONF_BOOL, .def = "yes",
	  .offset = MTA_OFF(auth_require_tls),
	  .help = "offer AUTH only under TLS" },
	{ .name = "auth_failure_limit", .type = CONF_UINT, .def = "5",
	  .offset = MTA_OFF(auth_failure_limit), .min = "1",
	  .help = "AUTH failures per client within auth_failure_window "
	    "before AUTH is refused" },
	{ .name = "auth_failure_window", .type = CONF_DURATION,
	  .def = "10m", .offset = MTA_OFF(auth_failure_window),
	  .min = "1s", .help = "see auth_failure_limit" },
	{ .name = "line_length_limit", .type = CONF_UINT, .def = "2048",
	  .offset = MTA_OFF(line_length_limit), .min = "512",
	  .max = "1048576",
	  .help = "longest SMTP command line, CR LF included" },
	{ .name = "message_size_limit", .type = CONF_SIZE,
	  .def = "10240000", .offset = MTA_OFF(message_size_limit),
	  .min = "1k", .help = "largest message (SIZE= and the data)" },
	{ .name = "header_size_limit", .type = CONF_SIZE, .def = "102400",
	  .offset = MTA_OFF(header_size_limit), .min = "1k",
	  .help = "largest header block of a message" },
	{ .name = "recipient_limit", .type = CONF_UINT, .def = "1000",
	  .offset = MTA_OFF(recipient_limit), .min = "1",
	  .help = "recipients per message" },
	{ .name = "hard_error_limit", .type = CONF_UINT, .def = "20",
	  .offset = MTA_OFF(hard_error_limit), .min = "1",
	  .help = "errors per session before it is closed" },
	{ .name = "junk_command_limit", .type = CONF_UINT, .def = "100",
	  .offset = MTA_OFF(junk_command_limit), .min = "1",
	  .help = "NOOP, VRFY, RSET... per session before it is closed" },
	{ .name = "smtpd_timeout", .type = CONF_DURATION, .def = "300s",
	  .offset = MTA_OFF(smtpd_timeout), .min = "1s",
	  .help = "waiting for a client's command or data" },
	{ .name = "min_data_rate", .type = CONF_UINT, .def = "500",
	  .offset = MTA_OFF(min_data_rate),
	  .help = "bytes per second a client must keep up during DATA "
	    "(0: off)" },
	{ .name = "client_connection_limit", .type = CONF_UINT,
	  .def = "50", .offset = MTA_OFF(client_connection_limit),
	  .help = "sessions at once per client (mynetworks exempt; 0: no "
	    "limit)" },
	{ .name = "max_sessions", .type = CONF_UINT, .def = "1000",
	  .offset = MTA_OFF(max_sessions), .min = "1",
	  .help = "sessions at once in total; more get 421" },
	{ .name = "queue_minfree", .type = CONF_SIZE, .def = "100M",
	  .offset = MTA_OFF(queue_minfree),
	  .help = "free space the queue file system keeps; below it MAIL "
	    "gets 452 4.3.1" },
	{ .name = "bare_newline", .type = CONF_ENUM, .def = "reject",
	  .offset = MTA_OFF(bare_newline),
	  .choices = mta_bare_newline_names,
	  .help = "a bare CR or LF in DATA: reject the message, or "
	    "normalize it to CR LF" },
	{ .name = "spool_memory", .type = CONF_SIZE, .def = "1M",
	  .offset = MTA_OFF(spool_memory),
	  .help = "a message up to this size waits in memory until queued" },
	{ .name = "stop_timeout", .type = CONF_DURATION, .def = "60s",
	  .offset = MTA_OFF(stop_timeout), .min = "0s",
	  .help = "at stop or reload, how long sessions may finish" },
	{ .name = "debug", .type = CONF_BOOL, .def = "no",
	  .offset = MTA_OFF(debug), .help = "log debug lines" },
	{ .name = "virtual_alias_maps", .type = CONF_STRING, .def = "",
	  .offset = MTA_OFF(virtual_alias_maps),
	  .help = "table: address or @domain -> addresses, applied when a "
	    "message is queued (virtual(5)); empty = none" },
	{ .name = "local_recipient_maps", .type = CONF_STRING, .def = "",
	  .offset = MTA_OFF(local_recipient_maps),
	  .help = "table of the valid recipients of relay_domains; others "
	    "get 550 5.1.1 at RCPT; empty = all valid" },
	{ .name = "delivery", .type = CONF_BOOL, .def = "yes",
	  .offset = MTA_OFF(delivery),
	  .help = "run the queue manager; no: mail is received and stays "
	    "in incoming/ (maintenance, tests)" },
	{ .name = "transport_maps", .type = CONF_STRING, .def = "",
	  .offset = MTA_OFF(transport_maps),
	  .help = "table: recipient or domain -> transport (transport(5)); "
	    "empty = none" },
	{ .name = "relayhost", .type = CONF_STRING, .def = "",
	  .offset = MTA_OFF(relayhost),
	  .help = "next hop for everything transport_maps does not route: "
	    "[host]:port, host (MX); empty = the recipient's MX" },
	{ .name = "minimal_backoff_time", .type = CONF_DURATION,
	  .def = "300s", .offset = MTA_OFF(minimal_backoff_time),
	  .min = "1s", .help = "shortest wait before a retry" },
	{ .name = "maximal_backoff_time", .type = CONF_DURATION,
	  .def = "4000s", .offset = MTA_OFF(maximal_backoff_time),
	  .min = "1s", .help = "longest wait before a retry" },
	{ .name = "maximal_queue_lifetime", .type = CONF_DURATION,
	  .def = "5d", .offset = MTA_OFF(maximal_queue_lifetime),
	  .min = "0s", .help = "a message undeliverable this long bounces" },
	{ .name = "delay_warning_time", .type = CONF_DURATION, .def = "0s",
	  .offset = MTA_OFF(delay_warning_time), .min = "0s",
	  .help = "a message still undelivered this long gets one delay "
	    "DSN to its sender; 0 = never" },
	{ .name = "queue_run_delay", .type = CONF_DURATION, .def = "300s",
	  .offset = MTA_OFF(queue_run_delay), .min = "1s",
	  .help = "how often deferred/ is scanned for messages due" },
	{ .name = "destination_concurrency_limit", .type = CONF_UINT,
	  .def = "20", .offset = MTA_OFF(destination_concurrency_limit),
	  .min = "1", .help = "deliveries at once to one next hop" },
	{ .name = "delivery_threads", .type = CONF_UINT, .def = "100",
	  .offset = MTA_OFF(delivery_threads), .min = "1", .max = "1000",
	  .help = "deliveries at once in all" },
	{ .name = "smtp_connect_timeout", .type = CONF_DURATION,
	  .def = "30s", .offset = MTA_OFF(smtp_connect_timeout),
	  .min = "1ms", .help = "connecting to a server" },
	{ .name = "smtp_helo_timeout", .type = CONF_DURATION, .def = "300s",
	  .offset = MTA_OFF(smtp_helo_timeout), .min = "1ms",
	  .help = "the greeting and the EHLO reply" },
	{ .name = "smtp_command_timeout", .type = CONF_DURATION,
	  .def = "300s", .offset = MTA_OFF(smtp_command_timeout),
	  .min = "1ms", .help = "the replies to MAIL, RCPT..." },
	{ .name = "smtp_data_timeout", .type = CONF_DURATION, .def = "600s",
	  .offset = MTA_OFF(smtp_data_timeout), .min = "1ms",
	  .help = "sending the content and the final reply" },
	{ .name = "smtp_connection_cache_time_limit", .type = CONF_DURATION,
	  .def = "2s", .offset = MTA_OFF(smtp_connection_cache_time_limit),
	  .min = "0s", .max = "300s",
	  .help = "how long a connection waits idle for the next message "
	    "to its next hop; 0 = no reuse" },
	{ .name = "smtp_connection_reuse_time_limit", .type = CONF_DURATION,
	  .def = "300s", .offset = MTA_OFF(smtp_connection_reuse_time_limit),
	  .min = "1s",
	  .help = "a connection older than this is not reused" },
	{ .name = "smtp_bind_address", .type = CONF_STRING, .def = "",
	  .offset = MTA_OFF(smtp_bind_address),
	  .validate = mta_conf_address_valid,
	  .help = "source address of deliveries; empty = any" },
	{ .name = "smtp_tls_security_level", .type = CONF_ENUM,
	  .def = "may", .offset = MTA_OFF(smtp_tls_security_level),
	  .choices = mta_tls_levels,
	  .help = "STARTTLS on delivery: none, may, encrypt, verify, dane" },
	{ .name = "smtp_tls_policy_maps", .type = CONF_STRING, .def = "",
	  .offset = MTA_OFF(smtp_tls_policy_maps),
	  .help = "table: next-hop domain (or .parent) -> TLS level, "
	    "overriding smtp_tls_security_level; empty = none" },
	{ .name = "smtp_tls_ca_file", .type = CONF_STRING, .def = "",
	  .offset = MTA_OFF(smtp_tls_ca_file),
	  .help = "CA certificates for verify; empty = the system's" },
	{ .name = "dns_servers", .type = CONF_LIST, .def = "",
	  .offset = MTA_OFF(dns_servers),
	  .help = "resolvers as IP[@PORT]; empty = /etc/resolv.conf" },
	{ .name = "dns_timeout", .type = CONF_DURATION, .def = "5s",
	  .offset = MTA_OFF(dns_timeout), .min = "1ms",
	  .help = "time for one DNS query attempt" },
	{ .name = "dns_attempts", .type = CONF_UINT, .def = "2",
	  .offset = MTA_OFF(dns_attempts), .min = "1", .max = "10",
	  .help = "attempts per DNS query" },
	{ .name = "dns_trust_anchor_file", .type = CONF_STRING, .def = "",
	  .offset = MTA_OFF(dns_trust_anchor_file),
	  .validate = mta_conf_readable_valid,
	  .help = "DNSSEC trust anchors (for dane); empty = none" },
	{ .name = "bounce_size_limit", .type = CONF_SIZE, .def = "50000",
	  .offset = MTA_OFF(bounce_size_limit),
	  .help = "a bounced message up to this size goes back whole, a "
	    "larger one only its header" },
	{ .name = "double_bounce_recipient", .type = CONF_STRING,
	  .def = "postmaster", .offset = MTA_OFF(double_bounce_recipient),
	  .help = "gets undeliverable bounces (no @: @myhostname is "
	    "added)" },
	{ 0 },
};

/* mta_conf_error - an error about setting name, at its line if given */
static void __attribute__((format(printf, 5, 6)))
mta_conf_error(struct mta_conf *conf, const struct conf_file *cf,
    struct conf_errors *err, const char *name, const char *fmt, ...)
{
	const struct conf_entry *ce = cf ? conf_find(cf, "", name) : NULL;
	char *text;
	va_list ap;

	va_start(ap, fmt);
	text = arena_vprintf(conf->arena, fmt, ap);
	va_end(ap);
	if (ce != NULL)
		conf_error(err, ce->file, ce->line, "%s: %s", name, text);
	else
		conf_error(err, conf->path ? conf->path : "built-in defaults",
		    0, "%s: %s", name, text);
}

/* mta_conf_error_lines - one error per line of text (a list's several
 * bad items), each at setting name's line */
static void
mta_conf_error_lines(struct mta_conf *conf, const struct conf_file *cf,
    struct conf_errors *err, const char *name, const char *text)
{
	char *copy = arena_strdup(conf->arena, text), *save, *line;

	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		mta_conf_error(conf, cf, err, name, "%s", line);
}

/* mta_conf_hostname - this host's name, for the HOSTNAME default */
static char *
mta_conf_hostname(struct arena *arena)
{
	char name[256];

	if (gethostname(name, sizeof(name)) != 0)
		return arena_strdup(arena, "localhost");
	name[sizeof(name) - 1] = '\0';
	return arena_strdup(arena, name);
}

/*
 * mta_conf_listener - "HOST:PORT", "[IPV6]:PORT", ":PORT" or "PORT"
 * into l; false with *why_r
 */
static bool
mta_conf_listener(struct arena *arena, const char *spec,
    struct mta_listener *l, const char **why_r)
{
	const char *colon, *p;
	char *host;

	l->spec = spec;
	l->family = AF_UNSPEC;
	if (*spec == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':') {
			*why_r = "expected [IPV6]:PORT";
			return false;
		}
		host = arena_strndup(arena, spec + 1, (size_t)(close - spec - 1));
		l->family = AF_INET6;
		colon = close + 1;
		{
			struct inet_addr a;

			if (!inet_parse(host, &a) || a.family != AF_INET6) {
				*why_r = "[...] must hold an IPv6 address";
				return false;
			}
		}
	} else if ((colon = strrchr(spec, ':')) != NULL) {
		if (memchr(spec, ':', (size_t)(colon - spec)) != NULL) {
			*why_r = "an IPv6 address needs brackets: [IPV6]:PORT";
			return false;
		}
		host = arena_strndup(arena, spec, (size_t)(colon - spec));
		if (*host != '\0')
			l->family = AF_INET;
	} else {
		host = arena_strdup(arena, "");
		colon = spec - 1;
	}
	l->host = host;
	l->port = colon + 1;
	if (*l->port == '\0') {
		*why_r = "missing port";
		return false;
	}
	for (p = l->port; *p != '\0'; p++)
		if (*p < '0' || *p > '9') {
			*why_r = "the port must be a number";
			return false;
		}
	if (atoi(l->port) < 1 || atoi(l->port) > 65535) {
		*why_r = "the port must be from 1 to 65535";
		return false;
	}
	/* a name would resolve at bind time; only addresses say exactly
	 * what is bound */
	if (*host != '\0' && l->family == AF_INET) {
		struct inet_addr a;

		if (!inet_parse(host, &a)) {
			*why_r = "the host must be an IPv4 address (or "
			    "[IPV6])";
			return false;
		}
	}
	return true;
}

/* mta_conf_listeners - every listener of every service */
static void
mta_conf_listeners(struct mta_conf *conf, const struct conf_file *cf,
    struct conf_errors *err)
{
	static const struct {
		enum mta_service service;
		size_t offset;
		const char *name;
	} lists[] = {
		{ MTA_SERVICE_SMTP, MTA_OFF(smtp_listen), "smtp_listen" },
		{ MTA_SERVICE_SUBMISSION, MTA_OFF(submission_listen),
		  "submission_listen" },
		{ MTA_SERVICE_SUBMISSIONS, MTA_OFF(submissions_listen),
		  "submissions_listen" },
	};
	size_t total = 0, i, j;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		total += ((const struct conf_list *)((const char *)&conf->set +
		    lists[i].offset))->n;
	conf->listeners = arena_alloc(conf->arena,
	    (total + 1) * sizeof(*conf->listeners));
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		const struct conf_list *l = (const void *)((const char *)
		    &conf->set + lists[i].offset);

		for (j = 0; j < l->n; j++) {
			struct mta_listener *ml =
			    &conf->listeners[conf->n_listeners];
			const char *why;

			if (!mta_conf_listener(conf->arena, l->items[j], ml,
			    &why)) {
				mta_conf_error(conf, cf, err, lists[i].name,
				    "\"%s\": %s", l->items[j], why);
				continue;
			}
			ml->service = lists[i].service;
			conf->n_listeners++;
		}
	}
	if (conf->n_listeners == 0 && err->count == 0)
		mta_conf_error(conf, cf, err, "smtp_listen",
		    "no listener at all (smtp_listen, submission_listen and "
		    "submissions_listen are all empty)");
}

/* mta_conf_milters - the specs, with the global timeouts as defaults */
static void
mta_conf_milters(struct mta_conf *conf, const struct conf_file *cf,
    struct conf_errors *err)
{
	struct milter_spec def = {
		.connect_timeout = conf->set.milter_connect_timeout,
		.command_timeout = conf->set.milter_command_timeout,
		.content_timeout = conf->set.milter_content_timeout,
		.default_action =
		    (enum milter_default)conf->set.milter_default_action,
	};
	size_t i;

	conf->milters = arena_alloc(conf->arena,
	    (conf->set.milters.n + 1) * sizeof(*conf->milters));
	for (i = 0; i < conf->set.milters.n; i++) {
		const char *why;

		if (!milter_spec_parse(conf->set.milters.items[i], &def,
		    conf->arena, &conf->milters[conf->n_milters], &why))
			mta_conf_error(conf, cf, err, "milters", "%s", why);
		else
			conf->n_milters++;
	}
}

/* mta_conf_tls_free - arena cleanup */
static void
mta_conf_tls_free(void *arg)
{
	struct tls_server *s = arg;

	tls_server_free(&s);
}

/* mta_conf_auth_free - arena cleanup */
static void
mta_conf_auth_free(void *arg)
{
	struct auth_db *db = arg;

	auth_db_free(&db);
}

/* mta_conf_tls - the TLS server from the certificate and key */
static void
mta_conf_tls(struct mta_conf *conf, const struct conf_file *cf,
    struct conf_errors *err)
{
	const struct mta_settings *s = &conf->set;
	struct stat st;
	char *why = NULL;

	if (*s->tls_cert_file == '\0' && *s->tls_key_file == '\0')
		return;
	if (*s->tls_cert_file == '\0' || *s->tls_key_file == '\0') {
		/* reported at the one that is set: that line is there */
		mta_conf_error(conf, cf, err, *s->tls_cert_file ?
		    "tls_cert_file" : "tls_key_file", "tls_cert_file and "
		    "tls_key_file go together");
		return;
	}
	if (s->tls_self_signed && stat(s->tls_cert_file, &st) != 0 &&
	    errno == ENOENT && stat(s->tls_key_file, &st) == 0) {
		/* never overwrite a key that is there */
		mta_conf_error(conf, cf, err, "tls_self_signed", "%s exists "
		    "but %s does not: remove the key or provide both",
		    s->tls_key_file, s->tls_cert_file);
		return;
	}
	if (s->tls_self_signed && stat(s->tls_cert_file, &st) != 0 &&
	    errno == ENOENT) {
		if (!tls_make_self_signed(s->myhostname, s->tls_cert_file,
		    s->tls_key_file, &why)) {
			mta_conf_error(conf, cf, err, "tls_self_signed", "%s",
			    why);
			free(why);
			return;
		}
		log_info("made a self-signed certificate for %s in %s",
		    s->myhostname, s->tls_cert_file);
	}
	conf->tls = tls_server_new(s->tls_cert_file, s->tls_key_file,
	    mta_tls_versions[s->tls_min_version], s->tls_ciphers, &why);
	if (conf->tls == NULL) {
		mta_conf_error(conf, cf, err, "tls_cert_file", "%s", why);
		free(why);
		return;
	}
	arena_cleanup(conf->arena, mta_conf_tls_free, conf->tls);
}

/* mta_conf_auth - the users; the services that need AUTH have it */
static void
mta_conf_auth(struct mta_conf *conf, const struct conf_file *cf,
    struct conf_errors *err)
{
	const char *needs_auth = NULL;	/* the setting that wants AUTH */
	char *why = NULL;
	size_t i, len;

	if (*conf->set.auth_users != '\0') {
		conf->auth = auth_db_load(conf->set.auth_users, &why);
		len = strlen(conf->set.auth_users);
		if (conf->auth == NULL && (strncmp(why, conf->set.auth_users,
		    len) != 0 || why[len] != ':' || !isdigit(
		    (unsigned char)why[len + 1]))) {
			/* the file as a whole (cannot open): the config line
			 * that names it */
			why[strcspn(why, "\n")] = '\0';
			mta_conf_error(conf, cf, err, "auth_users", "%s", why);
			free(why);
			return;
		}
		if (conf->auth == NULL) {
			/* already FILE:LINE lines of the users file */
			buf_puts(&err->text, why);
			if (why[0] != '\0' && why[strlen(why) - 1] != '\n')
				buf_putc(&err->text, '\n');
			err->count++;
			free(why);
			return;
		}
		arena_cleanup(conf->arena, mta_conf_auth_free, conf->auth);
	}
	for (i = 0; i < conf->n_listeners && needs_auth == NULL; i++)
		if (conf->listeners[i].service != MTA_SERVICE_SMTP)
			needs_auth = conf->listeners[i].service ==
			    MTA_SERVICE_SUBMISSION ? "submission_listen" :
			    "submissions_listen";
	if (needs_auth != NULL && conf->auth == NULL)
		mta_conf_error(conf, cf, err, needs_auth, "submission needs "
		    "AUTH: set auth_users (a file of user:hash lines)");
	if (needs_auth != NULL && conf->tls == NULL &&
	    conf->set.auth_require_tls)
		mta_conf_error(conf, cf, err, needs_auth, "submission needs "
		    "TLS for AUTH: set tls_cert_file and tls_key_file (or "
		    "auth_require_tls = no)");
	for (i = 0; i < conf->n_listeners; i++)
		if (conf->listeners[i].service == MTA_SERVICE_SUBMISSIONS &&
		    conf->tls == NULL) {
			mta_conf_error(conf, cf, err, "submissions_listen",
			    "implicit TLS needs tls_cert_file and "
			    "tls_key_file");
			break;
		}
}

/* mta_conf_lists - mynetworks and relay_domains for the relay guard */
static void
mta_conf_lists(struct mta_conf *conf, const struct conf_file *cf,
    struct conf_errors *err)
{
	char *why = NULL;

	conf->guard.mynetworks = matchlist_open(conf->arena,
	    &conf->set.mynetworks, MATCHLIST_NETWORKS, &why);
	if (conf->guard.mynetworks == NULL) {
		mta_conf_error_lines(conf, cf, err, "mynetworks", why);
		free(why);
		why = NULL;
	}
	conf->guard.relay_domains = matchlist_open(conf->arena,
	    &conf->set.relay_domains, MATCHLIST_DOMAINS, &why);
	if (conf->guard.relay_domains == NULL) {
		mta_conf_error_lines(conf, cf, err, "relay_domains", why);
		free(why);
	}
}

/* mta_conf_table_close - arena cleanup */
static void
mta_conf_table_close(void *arg)
{
	struct table *t = arg;

	table_close(&t);
}

/* mta_conf_table - open the table a setting names ("" = none) */
static struct table *
mta_conf_table(struct mta_conf *conf, const struct conf_file *cf,
    struct conf_errors *err, const char *name, const char *spec)
{
	struct table *t;
	char *error = NULL;

	if (*spec == '\0')
		return NULL;
	if ((t = table_open(spec, &error)) == NULL) {
		mta_conf_error(conf, cf, err, name, "%s", error);
		free(error);
		return NULL;
	}
	arena_cleanup(conf->arena, mta_conf_table_close, t);
	return t;
}

/* mta_conf_transport - the tables, and relayhost's syntax */
static void
mta_conf_transport(struct mta_conf *conf, const struct conf_file *cf,
    struct conf_errors *err)
{
	struct transport t;
	const char *why;

	conf->transport_maps = mta_conf_table(conf, cf, err,
	    "transport_maps", conf->set.transport_maps);
	conf->virtual_alias_maps = mta_conf_table(conf, cf, err,
	    "virtual_alias_maps", conf->set.virtual_alias_maps);
	conf->local_recipient_maps = mta_conf_table(conf, cf, err,
	    "local_recipient_maps", conf->set.local_recipient_maps);
	conf->smtp_tls_policy_maps = mta_conf_table(conf, cf, err,
	    "smtp_tls_policy_maps", conf->set.smtp_tls_policy_maps);
	if (*conf->set.relayhost != '\0' &&
	    !transport_parse(arena_printf(conf->arena, "smtp:%s",
	    conf->set.relayhost), "relayhost.invalid", conf->arena, &t,
	    &why))
		mta_conf_error(conf, cf, err, "relayhost", "%s", why);
}

/* mta_conf_load - parse, check, build */
struct mta_conf *
mta_conf_load(const char *path, struct conf_errors *err)
{
	static const char *const known[] = { NULL };
	struct arena *arena = arena_create();
	struct mta_conf *conf = arena_alloc(arena, sizeof(*conf));
	struct conf_file *cf = NULL;
	int errors = err->count;

	conf->arena = arena;
	conf->path = path ? arena_strdup(arena, path) : NULL;
	if (path != NULL) {
		cf = conf_load(path, err);
		if (cf == NULL)
			goto fail;
	}
	conf_apply(cf, "", mta_settings_table, &conf->set, arena, err);
	if (cf != NULL)
		conf_finish(cf, known, err);
	if (err->count != errors)
		goto fail;
	if (strcmp(conf->set.myhostname, "HOSTNAME") == 0)
		conf->set.myhostname = mta_conf_hostname(arena);
	if (!mailaddr_hostname_valid(conf->set.myhostname))
		mta_conf_error(conf, cf, err, "myhostname", "\"%s\" is not a "
		    "host name", conf->set.myhostname);
	mta_conf_listeners(conf, cf, err);
	mta_conf_milters(conf, cf, err);
	mta_conf_lists(conf, cf, err);
	mta_conf_tls(conf, cf, err);
	mta_conf_auth(conf, cf, err);
	mta_conf_transport(conf, cf, err);
	if (err->count != errors)
		goto fail;
	conf_file_free(&cf);
	return conf;
fail:
	conf_file_free(&cf);
	arena_destroy(&arena);
	return NULL;
}

/* mta_conf_free - everything is in the arena (cleanups included) */
void
mta_conf_free(struct mta_conf **confp)
{
	struct mta_conf *conf = *confp;
	struct arena *arena;

	if (conf == NULL)
		return;
	*confp = NULL;
	arena = conf->arena;
	arena_destroy(&arena);
}

/* mta_conf_dump - the settings, then what was built from them */
void
mta_conf_dump(const struct mta_conf *conf, FILE *fp)
{
	size_t i;

	fprintf(fp, "# postern-mta configuration from %s\n",
	    conf->path ? conf->path : "built-in defaults");
	conf_dump(fp, "", mta_settings_table, &conf->set);
	for (i = 0; i < conf->n_listeners; i++)
		fprintf(fp, "# listener: %s %s\n",
		    mta_service_name(conf->listeners[i].service),
		    conf->listeners[i].spec);
	for (i = 0; i < conf->n_milters; i++)
		fprintf(fp, "# milter: %s (default_action %s)\n",
		    conf->milters[i].name,
		    mta_milter_actions[conf->milters[i].default_action]);
}

/* mta_service_name - the service's name for logs and -n */
const char *
mta_service_name(enum mta_service s)
{
	if ((unsigned)s >= sizeof(mta_service_names) /
	    sizeof(mta_service_names[0]))
		log_panic("mta_service_name: %d", (int)s);
	return mta_service_names[s];
}
