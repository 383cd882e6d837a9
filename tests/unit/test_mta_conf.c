/*
 * test_mta_conf.c - mta.conf: every built-in default, the listener
 * syntax, what submission needs (AUTH users, TLS), TLS files made on
 * demand, the milters list, the relay guard's lists, every kind of error
 * with its FILE:LINE, and the -n dump
 *
 * Each test writes its config (and users file, certificates) into a
 * mkdtemp directory. Expected error texts are written with FILE for the
 * config's path, USERS for the users file's and DIR for the directory,
 * and compared whole: every line, in order, nothing more.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "auth.h"
#include "buf.h"
#include "conf.h"
#include "inet.h"
#include "matchlist.h"
#include "milter_client.h"
#include "mta_conf.h"
#include "smtp_client.h"
#include "table.h"
#include "testutil.h"

/* crypt(3) SHA-512 of "secret" with salt "abcdefgh" */
#define HASH	"$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSw" \
		"GfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG."

struct fix {
	char dir[256];
	struct arena *a;
	char *path;		/* DIR/mta.conf */
	char *users;		/* DIR/users */
	char *err;		/* the last load's errors */
	int nerr;
};

/* setup - a temp directory with a good users file */
static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (f == NULL || testutil_setup(f->dir, sizeof(f->dir), "mta_conf",
	    &f->a) < 0) {
		free(f);
		return -1;
	}
	f->path = arena_printf(f->a, "%s/mta.conf", f->dir);
	f->users = arena_printf(f->a, "%s/users", f->dir);
	*state = f;
	return 0;
}

/* teardown - remove everything */
static int
teardown(void **state)
{
	struct fix *f = *state;
	int rc = testutil_teardown(f->dir, &f->a);

	free(f);
	return rc;
}

/* expand - tmpl with FILE, USERS and DIR replaced by the fixture's
 * paths */
static char *
expand(struct fix *f, const char *tmpl)
{
	const struct {
		const char *word, *value;
	} words[] = {
		{ "FILE", f->path },
		{ "USERS", f->users },
		{ "DIR", f->dir },
	};
	const size_t n_words = sizeof(words) / sizeof(words[0]);
	struct buf b = { 0 };
	const char *p = tmpl;
	char *r;
	size_t i;

	while (*p != '\0') {
		for (i = 0; i < n_words; i++)
			if (strncmp(p, words[i].word,
			    strlen(words[i].word)) == 0)
				break;
		if (i == n_words) {
			buf_putc(&b, *p++);
			continue;
		}
		buf_puts(&b, words[i].value);
		p += strlen(words[i].word);
	}
	r = arena_strdup(f->a, buf_cstr(&b));
	buf_free(&b);
	return r;
}

/* load_path - mta_conf_load(path); the errors go to f->err. A config
 * comes back exactly when there was no error. */
static struct mta_conf *
load_path(struct fix *f, const char *path)
{
	struct conf_errors err = { 0 };
	struct mta_conf *conf;

	conf = mta_conf_load(path, &err);
	f->err = arena_strdup(f->a, buf_cstr(&err.text));
	f->nerr = err.count;
	conf_errors_free(&err);
	if (conf == NULL && f->nerr == 0)
		fail_msg("no config and no error");
	if (conf != NULL && f->nerr != 0)
		fail_msg("a config with errors: %s", f->err);
	return conf;
}

/* load - text (FILE, USERS, DIR expanded) as DIR/mta.conf */
static struct mta_conf *
load(struct fix *f, const char *text)
{
	testutil_put(f->a, f->dir, "mta.conf", expand(f, text));
	return load_path(f, f->path);
}

/* load_ok - a config that must load */
static struct mta_conf *
load_ok(struct fix *f, const char *text)
{
	struct mta_conf *conf = load(f, text);

	if (conf == NULL)
		fail_msg("did not load: %s", f->err);
	assert_string_equal(conf->path, f->path);
	return conf;
}

/* load_fails - a config that must be refused with exactly these errors
 * (nerr of them) */
static void
load_fails(struct fix *f, const char *text, int nerr, const char *errors)
{
	struct mta_conf *conf = load(f, text);

	if (conf != NULL)
		fail_msg("loaded, want errors: %s", expand(f, errors));
	assert_string_equal(f->err, expand(f, errors));
	assert_int_equal(f->nerr, nerr);
}

/* write_users - the users file */
static void
write_users(struct fix *f, const char *text)
{
	testutil_put(f->a, f->dir, "users", text);
}

/* dump - mta_conf_dump's output in the arena */
static char *
dump(struct fix *f, const struct mta_conf *conf)
{
	char *text = NULL, *r;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	mta_conf_dump(conf, fp);
	assert_int_equal(fclose(fp), 0);
	r = arena_strdup(f->a, text);
	free(text);
	return r;
}

/* addr - a parsed address */
static struct inet_addr
addr(const char *text)
{
	struct inet_addr a;

	if (!inet_parse(text, &a))
		fail_msg("inet_parse(%s)", text);
	return a;
}

/* --- defaults ------------------------------------------------------------- */

/* the -n output of the built-in defaults (myhostname: %s) */
static const char defaults_dump[] =
    "# postern-mta configuration from built-in defaults\n"
    "myhostname = %s\n"
    "user = postern\n"
    "queue_directory = /var/spool/postern\n"
    "pid_file = /run/postern/mta.pid\n"
    "temp_dir = /var/tmp\n"
    "smtp_listen = 0.0.0.0:25, [::]:25\n"
    "submission_listen =\n"
    "submissions_listen =\n"
    "workers = 2\n"
    "job_threads = 32\n"
    "backlog = 511\n"
    "smtpd_banner = ESMTP Postern\n"
    "greet_pause = 0s\n"
    "milters =\n"
    "milter_connect_timeout = 30s\n"
    "milter_command_timeout = 30s\n"
    "milter_content_timeout = 5m\n"
    "milter_default_action = tempfail\n"
    "mynetworks = 127.0.0.0/8, [::1]/128\n"
    "relay_domains =\n"
    "tls_cert_file =\n"
    "tls_key_file =\n"
    "tls_min_version = TLSv1.2\n"
    "tls_ciphers =\n"
    "tls_self_signed = no\n"
    "auth_users =\n"
    "auth_require_tls = yes\n"
    "auth_failure_limit = 5\n"
    "auth_failure_window = 10m\n"
    "line_length_limit = 2048\n"
    "message_size_limit = 10000k\n"
    "header_size_limit = 100k\n"
    "recipient_limit = 1000\n"
    "hard_error_limit = 20\n"
    "junk_command_limit = 100\n"
    "smtpd_timeout = 5m\n"
    "min_data_rate = 500\n"
    "client_connection_limit = 50\n"
    "max_sessions = 1000\n"
    "queue_minfree = 100M\n"
    "bare_newline = reject\n"
    "spool_memory = 1M\n"
    "stop_timeout = 1m\n"
    "debug = no\n"
    "virtual_alias_maps =\n"
    "local_recipient_maps =\n"
    "delivery = yes\n"
    "transport_maps =\n"
    "relayhost =\n"
    "minimal_backoff_time = 5m\n"
    "maximal_backoff_time = 4000s\n"
    "maximal_queue_lifetime = 5d\n"
    "delay_warning_time = 0s\n"
    "queue_run_delay = 5m\n"
    "destination_concurrency_limit = 20\n"
    "delivery_threads = 100\n"
    "smtp_connect_timeout = 30s\n"
    "smtp_helo_timeout = 5m\n"
    "smtp_command_timeout = 5m\n"
    "smtp_data_timeout = 10m\n"
    "smtp_connection_cache_time_limit = 2s\n"
    "smtp_connection_reuse_time_limit = 5m\n"
    "smtp_bind_address =\n"
    "smtp_tls_security_level = may\n"
    "smtp_tls_policy_maps =\n"
    "smtp_tls_ca_file =\n"
    "dns_servers =\n"
    "dns_timeout = 5s\n"
    "dns_attempts = 2\n"
    "dns_trust_anchor_file =\n"
    "bounce_size_limit = 50000\n"
    "double_bounce_recipient = postmaster\n"
    "# listener: smtp 0.0.0.0:25\n"
    "# listener: smtp [::]:25\n";

/* test_defaults - path NULL: every setting as the table documents it */
static void
test_defaults(void **state)
{
	struct fix *f = *state;
	struct mta_conf *conf = load_path(f, NULL);
	const struct mta_settings *s;
	struct inet_addr a;
	char host[256];

	assert_non_null(conf);
	assert_string_equal(f->err, "");
	s = &conf->set;
	assert_null(conf->path);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	assert_string_equal(s->myhostname, host);
	assert_string_equal(s->user, "postern");
	assert_string_equal(s->queue_directory, "/var/spool/postern");
	assert_string_equal(s->pid_file, "/run/postern/mta.pid");
	assert_string_equal(s->temp_dir, "/var/tmp");
	assert_int_equal(s->smtp_listen.n, 2);
	assert_string_equal(s->smtp_listen.items[0], "0.0.0.0:25");
	assert_string_equal(s->smtp_listen.items[1], "[::]:25");
	assert_null(s->smtp_listen.items[2]);
	assert_int_equal(s->submission_listen.n, 0);
	assert_int_equal(s->submissions_listen.n, 0);
	assert_int_equal(s->workers, 2);
	assert_int_equal(s->job_threads, 32);
	assert_int_equal(s->backlog, 511);
	assert_string_equal(s->smtpd_banner, "ESMTP Postern");
	assert_true(s->greet_pause == 0);
	assert_int_equal(s->milters.n, 0);
	assert_true(s->milter_connect_timeout == 30);
	assert_true(s->milter_command_timeout == 30);
	assert_true(s->milter_content_timeout == 300);
	assert_int_equal(s->milter_default_action, MILTER_DEFAULT_TEMPFAIL);
	assert_int_equal(s->mynetworks.n, 2);
	assert_string_equal(s->mynetworks.items[0], "127.0.0.0/8");
	assert_string_equal(s->mynetworks.items[1], "[::1]/128");
	assert_int_equal(s->relay_domains.n, 0);
	assert_string_equal(s->tls_cert_file, "");
	assert_string_equal(s->tls_key_file, "");
	assert_int_equal(s->tls_min_version, 0);
	assert_string_equal(s->tls_ciphers, "");
	assert_false(s->tls_self_signed);
	assert_string_equal(s->auth_users, "");
	assert_true(s->auth_require_tls);
	assert_int_equal(s->auth_failure_limit, 5);
	assert_true(s->auth_failure_window == 600);
	assert_int_equal(s->line_length_limit, 2048);
	assert_int_equal(s->message_size_limit, 10240000);
	assert_int_equal(s->header_size_limit, 102400);
	assert_int_equal(s->recipient_limit, 1000);
	assert_int_equal(s->hard_error_limit, 20);
	assert_int_equal(s->junk_command_limit, 100);
	assert_true(s->smtpd_timeout == 300);
	assert_int_equal(s->min_data_rate, 500);
	assert_int_equal(s->client_connection_limit, 50);
	assert_int_equal(s->max_sessions, 1000);
	assert_int_equal(s->queue_minfree, 100 * 1024 * 1024);
	assert_int_equal(s->bare_newline, MTA_BARE_NEWLINE_REJECT);
	assert_int_equal(s->spool_memory, 1024 * 1024);
	assert_true(s->stop_timeout == 60);
	assert_false(s->debug);
	assert_string_equal(s->transport_maps, "");
	assert_string_equal(s->relayhost, "");
	assert_true(s->minimal_backoff_time == 300);
	assert_true(s->maximal_backoff_time == 4000);
	assert_true(s->maximal_queue_lifetime == 5 * 86400);
	assert_true(s->delay_warning_time == 0);
	assert_true(s->queue_run_delay == 300);
	assert_int_equal(s->destination_concurrency_limit, 20);
	assert_int_equal(s->delivery_threads, 100);
	assert_int_equal(s->smtp_tls_security_level, SMTP_TLS_MAY);
	assert_int_equal(s->bounce_size_limit, 50000);
	assert_string_equal(s->double_bounce_recipient, "postmaster");
	/* what is built from them */
	assert_int_equal(conf->n_listeners, 2);
	assert_int_equal(conf->listeners[0].service, MTA_SERVICE_SMTP);
	assert_string_equal(conf->listeners[0].spec, "0.0.0.0:25");
	assert_string_equal(conf->listeners[0].host, "0.0.0.0");
	assert_string_equal(conf->listeners[0].port, "25");
	assert_int_equal(conf->listeners[0].family, AF_INET);
	assert_int_equal(conf->listeners[1].service, MTA_SERVICE_SMTP);
	assert_string_equal(conf->listeners[1].spec, "[::]:25");
	assert_string_equal(conf->listeners[1].host, "::");
	assert_string_equal(conf->listeners[1].port, "25");
	assert_int_equal(conf->listeners[1].family, AF_INET6);
	assert_int_equal(conf->n_milters, 0);
	assert_null(conf->tls);
	assert_null(conf->auth);
	a = addr("127.0.0.1");
	assert_int_equal(matchlist_addr(conf->guard.mynetworks, &a),
	    TABLE_FOUND);
	a = addr("::1");
	assert_int_equal(matchlist_addr(conf->guard.mynetworks, &a),
	    TABLE_FOUND);
	a = addr("192.0.2.1");
	assert_int_equal(matchlist_addr(conf->guard.mynetworks, &a),
	    TABLE_NOTFOUND);
	assert_int_equal(matchlist_domain(conf->guard.relay_domains,
	    "example.com"), TABLE_NOTFOUND);
	assert_string_equal(dump(f, conf), arena_printf(f->a, defaults_dump,
	    host));
	mta_conf_free(&conf);
	assert_null(conf);
	mta_conf_free(&conf);
}

/* test_defaults_table - every setting of the table has a documented
 * default and help, and an empty file gives the same as no file */
static void
test_defaults_table(void **state)
{
	struct fix *f = *state;
	const struct conf_setting *s;
	struct mta_conf *conf, *none;
	char *a, *b;
	size_t n = 0;

	for (s = mta_settings_table; s->name != NULL; s++, n++) {
		assert_non_null(s->def);
		assert_non_null(s->help);
		/* each one is in the expected dump above */
		assert_non_null(strstr(defaults_dump, arena_printf(f->a,
		    "\n%s =", s->name)));
	}
	assert_int_equal(n, 72);
	conf = load_ok(f, "# nothing\n");
	none = load_path(f, NULL);
	a = dump(f, conf);
	b = dump(f, none);
	/* the same but for the first line */
	assert_non_null(strchr(a, '\n'));
	assert_string_equal(strchr(a, '\n'), strchr(b, '\n'));
	assert_string_equal(arena_strndup(f->a, a, (size_t)(strchr(a, '\n') -
	    a)), arena_printf(f->a, "# postern-mta configuration from %s",
	    f->path));
	mta_conf_free(&conf);
	mta_conf_free(&none);
}

/* test_no_file - a config that cannot be read */
static void
test_no_file(void **state)
{
	struct fix *f = *state;
	char *path = arena_printf(f->a, "%s/none.conf", f->dir);

	assert_null(load_path(f, path));
	assert_string_equal(f->err, arena_printf(f->a, "%s: cannot open: %s\n",
	    path, strerror(ENOENT)));
	assert_int_equal(f->nerr, 1);
}

/* --- listeners ------------------------------------------------------------ */

static const struct {
	const char *spec, *host, *port;
	int family;
} good_listeners[] = {
	{ "127.0.0.1:2525", "127.0.0.1", "2525", AF_INET },
	{ "[::1]:2525", "::1", "2525", AF_INET6 },
	{ "[2001:db8::25]:25", "2001:db8::25", "25", AF_INET6 },
	{ ":25", "", "25", AF_UNSPEC },
	{ "25", "", "25", AF_UNSPEC },
	{ "0.0.0.0:65535", "0.0.0.0", "65535", AF_INET },
	{ "192.0.2.1:1", "192.0.2.1", "1", AF_INET },
	{ 0 },
};

/* test_listeners - the address forms, one by one and all together */
static void
test_listeners(void **state)
{
	struct fix *f = *state;
	struct mta_conf *conf;
	struct buf all = { 0 };
	size_t i;

	for (i = 0; good_listeners[i].spec != NULL; i++) {
		conf = load_ok(f, arena_printf(f->a, "myhostname = "
		    "mx.example.com\nsmtp_listen = %s\n",
		    good_listeners[i].spec));
		assert_int_equal(conf->n_listeners, 1);
		assert_int_equal(conf->listeners[0].service, MTA_SERVICE_SMTP);
		assert_string_equal(conf->listeners[0].spec,
		    good_listeners[i].spec);
		assert_string_equal(conf->listeners[0].host,
		    good_listeners[i].host);
		assert_string_equal(conf->listeners[0].port,
		    good_listeners[i].port);
		assert_int_equal(conf->listeners[0].family,
		    good_listeners[i].family);
		mta_conf_free(&conf);
		buf_printf(&all, "%s%s", i ? (i % 2 ? ", " : "\n\t") : "",
		    good_listeners[i].spec);
	}
	/* a list over continuation lines keeps its order */
	conf = load_ok(f, arena_printf(f->a, "smtp_listen = %s\n",
	    buf_cstr(&all)));
	assert_int_equal(conf->n_listeners, i);
	for (i = 0; good_listeners[i].spec != NULL; i++)
		assert_string_equal(conf->listeners[i].spec,
		    good_listeners[i].spec);
	mta_conf_free(&conf);
	buf_free(&all);
}

static const struct {
	const char *spec, *why;
} bad_listeners[] = {
	{ "host:", "missing port" },
	{ "127.0.0.1:", "missing port" },
	{ ":", "missing port" },
	{ "[::1]:", "missing port" },
	{ "[::1]2525", "expected [IPV6]:PORT" },
	{ "[::1", "expected [IPV6]:PORT" },
	{ "::1:25", "an IPv6 address needs brackets: [IPV6]:PORT" },
	{ "127.0.0.1:0", "the port must be from 1 to 65535" },
	{ "127.0.0.1:99999", "the port must be from 1 to 65535" },
	{ "0", "the port must be from 1 to 65535" },
	{ "127.0.0.1:25x", "the port must be a number" },
	{ "127.0.0.1:-25", "the port must be a number" },
	{ "smtp", "the port must be a number" },
	{ "name.example:25", "the host must be an IPv4 address (or [IPV6])" },
	{ "300.1.1.1:25", "the host must be an IPv4 address (or [IPV6])" },
	{ 0 },
};

/* test_listeners_bad - each mistake with its line, several at once */
static void
test_listeners_bad(void **state)
{
	struct fix *f = *state;
	size_t i;

	for (i = 0; bad_listeners[i].spec != NULL; i++)
		load_fails(f, arena_printf(f->a, "# listeners\n"
		    "smtp_listen = %s\n", bad_listeners[i].spec), 1,
		    arena_printf(f->a, "FILE:2: smtp_listen: \"%s\": %s\n",
		    bad_listeners[i].spec, bad_listeners[i].why));
	/* every bad item is reported, at the line where the setting
	 * starts, and the good ones do not hide them */
	load_fails(f, "myhostname = mx.example.com\n"
	    "smtp_listen = host:, 127.0.0.1:25,\n"
	    "\t::1:25\n"
	    "submission_listen = [::1]2525\n", 3,
	    "FILE:2: smtp_listen: \"host:\": missing port\n"
	    "FILE:2: smtp_listen: \"::1:25\": an IPv6 address needs "
	    "brackets: [IPV6]:PORT\n"
	    "FILE:4: submission_listen: \"[::1]2525\": expected "
	    "[IPV6]:PORT\n");
	/* no listener at all */
	load_fails(f, "myhostname = mx.example.com\nsmtp_listen =\n", 1,
	    "FILE:2: smtp_listen: no listener at all (smtp_listen, "
	    "submission_listen and submissions_listen are all empty)\n");
}

/* --- submission, TLS, AUTH ------------------------------------------------ */

/* test_submission_needs_auth - AUTH users first, and TLS for them */
static void
test_submission_needs_auth(void **state)
{
	struct fix *f = *state;

	load_fails(f, "myhostname = mx.example.com\n"
	    "submission_listen = 127.0.0.1:587\n", 2,
	    "FILE:2: submission_listen: submission needs AUTH: set "
	    "auth_users (a file of user:hash lines)\n"
	    "FILE:2: submission_listen: submission needs TLS for AUTH: set "
	    "tls_cert_file and tls_key_file (or auth_require_tls = no)\n");
}

/* test_submission_needs_tls - users but no TLS: refused while AUTH
 * needs TLS, fine once it does not */
static void
test_submission_needs_tls(void **state)
{
	struct fix *f = *state;
	struct mta_conf *conf;

	write_users(f, "# users\nalice:" HASH "\n");
	load_fails(f, "myhostname = mx.example.com\n"
	    "submission_listen = 127.0.0.1:587\n"
	    "auth_users = USERS\n", 1,
	    "FILE:2: submission_listen: submission needs TLS for AUTH: set "
	    "tls_cert_file and tls_key_file (or auth_require_tls = no)\n");
	load_fails(f, "myhostname = mx.example.com\n"
	    "submission_listen = 127.0.0.1:587\n"
	    "auth_users = USERS\n"
	    "auth_require_tls = yes\n", 1,
	    "FILE:2: submission_listen: submission needs TLS for AUTH: set "
	    "tls_cert_file and tls_key_file (or auth_require_tls = no)\n");
	conf = load_ok(f, "myhostname = mx.example.com\n"
	    "submission_listen = 127.0.0.1:587\n"
	    "auth_users = USERS\n"
	    "auth_require_tls = no\n");
	assert_non_null(conf->auth);
	assert_int_equal(auth_db_count(conf->auth), 1);
	assert_true(auth_verify(conf->auth, "alice", "secret"));
	assert_false(auth_verify(conf->auth, "alice", "wrong"));
	assert_null(conf->tls);
	assert_int_equal(conf->n_listeners, 3);
	assert_int_equal(conf->listeners[2].service, MTA_SERVICE_SUBMISSION);
	assert_string_equal(conf->listeners[2].spec, "127.0.0.1:587");
	mta_conf_free(&conf);
}

/* test_submissions_need_tls - implicit TLS cannot do without it */
static void
test_submissions_need_tls(void **state)
{
	struct fix *f = *state;

	write_users(f, "alice:" HASH "\n");
	load_fails(f, "myhostname = mx.example.com\n"
	    "auth_users = USERS\n"
	    "auth_require_tls = no\n"
	    "submissions_listen = 127.0.0.1:465, [::1]:465\n", 1,
	    "FILE:4: submissions_listen: implicit TLS needs tls_cert_file "
	    "and tls_key_file\n");
}

/* test_tls_pair - a certificate without its key and the other way */
static void
test_tls_pair(void **state)
{
	struct fix *f = *state;

	load_fails(f, "myhostname = mx.example.com\n"
	    "tls_cert_file = DIR/cert.pem\n", 1,
	    "FILE:2: tls_cert_file: tls_cert_file and tls_key_file go "
	    "together\n");
	load_fails(f, "myhostname = mx.example.com\n"
	    "tls_key_file = DIR/key.pem\n", 1,
	    "FILE:2: tls_key_file: tls_cert_file and tls_key_file go "
	    "together\n");
}

/* file_text - a whole file in the arena */
static char *
file_text(struct fix *f, const char *path)
{
	FILE *fp = fopen(path, "r");
	struct buf b = { 0 };
	char chunk[4096], *r;
	size_t n;

	if (fp == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&b, chunk, n);
	fclose(fp);
	r = arena_strdup(f->a, buf_cstr(&b));
	buf_free(&b);
	return r;
}

/*
 * test_tls_self_signed - missing files are made (key mode 0600) and
 * loaded; existing ones are used as they are; submission and
 * submissions then have what they need
 */
static void
test_tls_self_signed(void **state)
{
	static const char text[] =
	    "myhostname = mx.example.com\n"
	    "tls_cert_file = DIR/cert.pem\n"
	    "tls_key_file = DIR/key.pem\n"
	    "tls_self_signed = yes\n"
	    "tls_min_version = TLSv1.3\n"
	    "auth_users = USERS\n"
	    "smtp_listen = 127.0.0.1:25\n"
	    "submission_listen = 127.0.0.1:587\n"
	    "submissions_listen = 127.0.0.1:465\n";
	struct fix *f = *state;
	char *cert = arena_printf(f->a, "%s/cert.pem", f->dir);
	char *key = arena_printf(f->a, "%s/key.pem", f->dir);
	char *cert_text, *key_text;
	struct mta_conf *conf;
	struct stat st;

	write_users(f, "alice:" HASH "\n");
	conf = load_ok(f, text);
	assert_non_null(conf->tls);
	assert_non_null(conf->auth);
	assert_int_equal(conf->set.tls_min_version, 1);
	assert_int_equal(conf->n_listeners, 3);
	assert_int_equal(conf->listeners[0].service, MTA_SERVICE_SMTP);
	assert_int_equal(conf->listeners[1].service, MTA_SERVICE_SUBMISSION);
	assert_int_equal(conf->listeners[2].service,
	    MTA_SERVICE_SUBMISSIONS);
	mta_conf_free(&conf);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	cert_text = file_text(f, cert);
	key_text = file_text(f, key);
	assert_non_null(strstr(cert_text, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(key_text, "PRIVATE KEY-----"));
	/* a second load uses the files it finds */
	conf = load_ok(f, text);
	assert_non_null(conf->tls);
	mta_conf_free(&conf);
	assert_string_equal(file_text(f, cert), cert_text);
	assert_string_equal(file_text(f, key), key_text);
	/* without self-signing the same files load too */
	conf = load_ok(f, "myhostname = mx.example.com\n"
	    "tls_cert_file = DIR/cert.pem\n"
	    "tls_key_file = DIR/key.pem\n");
	assert_non_null(conf->tls);
	assert_null(conf->auth);
	mta_conf_free(&conf);
}

/* test_tls_files_bad - files that are missing (and not to be made) or
 * cannot be made are errors at the setting's line */
static void
test_tls_files_bad(void **state)
{
	struct fix *f = *state;
	char *want;

	assert_null(load(f, "myhostname = mx.example.com\n"
	    "tls_cert_file = DIR/none.pem\n"
	    "tls_key_file = DIR/none.key\n"));
	want = expand(f, "FILE:2: tls_cert_file: ");
	if (strncmp(f->err, want, strlen(want)) != 0 ||
	    strstr(f->err, expand(f, "DIR/none.")) == NULL)
		fail_msg("got \"%s\"", f->err);
	assert_int_equal(f->nerr, 1);
	assert_ptr_equal(strchr(f->err, '\n'), f->err + strlen(f->err) - 1);
	/* made in a directory that does not exist */
	assert_null(load(f, "myhostname = mx.example.com\n"
	    "tls_cert_file = DIR/no/cert.pem\n"
	    "tls_key_file = DIR/no/key.pem\n"
	    "tls_self_signed = yes\n"));
	want = expand(f, "FILE:4: tls_self_signed: ");
	if (strncmp(f->err, want, strlen(want)) != 0)
		fail_msg("got \"%s\"", f->err);
	assert_int_equal(f->nerr, 1);
}

/* test_auth_users_bad - the users file's own FILE:LINE lines, all of
 * them, in the config's errors; a file that cannot be opened at all is
 * the config line's error */
static void
test_auth_users_bad(void **state)
{
	struct fix *f = *state;

	write_users(f, "# users\n"
	    "alice:" HASH "\n"
	    "bob\n"
	    ":" HASH "\n"
	    "carol:*\n"
	    "dave:\n"
	    "alice:" HASH "\n");
	load_fails(f, "myhostname = mx.example.com\n"
	    "auth_users = USERS\n", 1,
	    "USERS:3: no \":\" between user and hash\n"
	    "USERS:4: empty user name\n"
	    "USERS:5: user \"carol\": crypt(3) does not know this hash\n"
	    "USERS:6: user \"dave\": empty hash\n"
	    "USERS:7: duplicate user \"alice\" (first on line 2)\n");
	assert_int_equal(unlink(f->users), 0);
	load_fails(f, "myhostname = mx.example.com\n"
	    "auth_users = USERS\n", 1,
	    arena_printf(f->a, "FILE:2: auth_users: USERS: cannot open: %s\n",
	    strerror(ENOENT)));
}

/* --- milters -------------------------------------------------------------- */

/* test_milters - both item forms; the global timeouts and action are
 * every filter's defaults */
static void
test_milters(void **state)
{
	struct fix *f = *state;
	struct mta_conf *conf;
	const struct milter_spec *m;

	conf = load_ok(f, "myhostname = mx.example.com\n"
	    "milter_command_timeout = 10s\n"
	    "milter_default_action = reject\n"
	    "milters = inet:127.0.0.1:8891,\n"
	    "\t{ unix:/run/filter.sock, default_action = accept,\n"
	    "\t  command_timeout = 5s }, inet6:[::1]:8892\n");
	assert_int_equal(conf->n_milters, 3);
	m = &conf->milters[0];
	assert_string_equal(m->socket, "inet:127.0.0.1:8891");
	assert_string_equal(m->name, "inet:127.0.0.1:8891");
	assert_true(m->connect_timeout == 30);
	assert_true(m->command_timeout == 10);
	assert_true(m->content_timeout == 300);
	assert_int_equal(m->default_action, MILTER_DEFAULT_REJECT);
	m = &conf->milters[1];
	assert_string_equal(m->socket, "unix:/run/filter.sock");
	assert_true(m->connect_timeout == 30);
	assert_true(m->command_timeout == 5);
	assert_true(m->content_timeout == 300);
	assert_int_equal(m->default_action, MILTER_DEFAULT_ACCEPT);
	m = &conf->milters[2];
	assert_string_equal(m->socket, "inet6:[::1]:8892");
	assert_int_equal(m->default_action, MILTER_DEFAULT_REJECT);
	mta_conf_free(&conf);
}

/* test_milters_bad - each bad item, at the line of the setting */
static void
test_milters_bad(void **state)
{
	struct fix *f = *state;

	load_fails(f, "myhostname = mx.example.com\n"
	    "milters = inet:127.0.0.1:8891, inet:127.0.0.1,\n"
	    "\t{ unix:/x, bogus = 1 }, { command_timeout = 1s },\n"
	    "\t{ unix:/y, connect_timeout = 0s }, tcp:host:1,\n"
	    "\t{ unix:/z, default_action = maybe }\n", 6,
	    "FILE:2: milters: bad socket \"inet:127.0.0.1\": no :PORT\n"
	    "FILE:2: milters: unknown setting \"bogus\" (expected "
	    "connect_timeout, command_timeout, content_timeout or "
	    "default_action)\n"
	    "FILE:2: milters: the socket must come first\n"
	    "FILE:2: milters: connect_timeout: \"0s\" is not a duration "
	    "above 0 such as 30s or 5m\n"
	    "FILE:2: milters: bad socket \"tcp:host:1\": expected "
	    "unix:PATH, inet:HOST:PORT or inet6:[ADDRESS]:PORT\n"
	    "FILE:2: milters: default_action: \"maybe\" is not tempfail, "
	    "accept, reject, quarantine or shutdown\n");
}

/* --- errors --------------------------------------------------------------- */

/* test_errors - unknown names and sections, bad values, duplicates:
 * every one at once, each at its line */
static void
test_errors(void **state)
{
	struct fix *f = *state;
	struct mta_conf *conf;

	load_fails(f, "myhostname = mx.example.com\n"
	    "workers = 0\n"
	    "bogus = 1\n"
	    "greet_pause = 2m\n"
	    "bare_newline = maybe\n"
	    "debug = perhaps\n"
	    "message_size_limit = 10X\n"
	    "workers = 3\n"
	    "line_length_limit = 100\n"
	    "tls_min_version = SSLv3\n"
	    "[smtpd]\n"
	    "banner = x\n", 10,
	    "FILE:8: duplicate setting 'workers' (first at FILE:2)\n"
	    "FILE:2: bad value '0' for 'workers': must be from 1 to 64\n"
	    "FILE:4: bad value '2m' for 'greet_pause': must be from 0s to "
	    "60s\n"
	    "FILE:5: bad value 'maybe' for 'bare_newline': expected one "
	    "of: reject, normalize\n"
	    "FILE:6: bad value 'perhaps' for 'debug': expected yes or no\n"
	    "FILE:7: bad value '10X' for 'message_size_limit': expected a "
	    "size such as 512k, 10M, 1G\n"
	    "FILE:9: bad value '100' for 'line_length_limit': must be from "
	    "512 to 1048576\n"
	    "FILE:10: bad value 'SSLv3' for 'tls_min_version': expected "
	    "one of: TLSv1.2, TLSv1.3\n"
	    "FILE:3: unknown setting 'bogus' in global section\n"
	    "FILE:11: unknown section [smtpd]\n");
	load_fails(f, "myhostname = bad_host!\n", 1,
	    "FILE:1: myhostname: \"bad_host!\" is not a host name\n");
	/* checked at load, not when the queue manager starts */
	load_fails(f, "myhostname = mx.example.com\n"
	    "smtp_bind_address = relay.example.com\n"
	    "dns_trust_anchor_file = /nonexistent/root.key\n", 2,
	    "FILE:2: bad value 'relay.example.com' for 'smtp_bind_address': "
	    "must be an IPv4 or IPv6 address\n"
	    "FILE:3: bad value '/nonexistent/root.key' for "
	    "'dns_trust_anchor_file': no such file\n");
	conf = load_ok(f, "myhostname = mx.example.com\n"
	    "smtp_bind_address = 2001:db8::25\n");
	assert_string_equal(conf->set.smtp_bind_address, "2001:db8::25");
	mta_conf_free(&conf);
	load_fails(f, "myhostname = mx.example.com\nno equals sign\n", 1,
	    "FILE:2: syntax error: expected 'name = value'\n");
}

/* test_lists - mynetworks and relay_domains become the relay guard */
static void
test_lists(void **state)
{
	struct fix *f = *state;
	struct mta_conf *conf;
	struct inet_addr a;

	conf = load_ok(f, "myhostname = mx.example.com\n"
	    "mynetworks = !192.0.2.9, 192.0.2.0/24, [2001:db8::]/32\n"
	    "relay_domains = example.com, .example.net\n");
	a = addr("192.0.2.1");
	assert_int_equal(matchlist_addr(conf->guard.mynetworks, &a),
	    TABLE_FOUND);
	a = addr("192.0.2.9");
	assert_int_equal(matchlist_addr(conf->guard.mynetworks, &a),
	    TABLE_NOTFOUND);
	a = addr("2001:db8::7");
	assert_int_equal(matchlist_addr(conf->guard.mynetworks, &a),
	    TABLE_FOUND);
	a = addr("127.0.0.1");
	assert_int_equal(matchlist_addr(conf->guard.mynetworks, &a),
	    TABLE_NOTFOUND);
	assert_int_equal(matchlist_domain(conf->guard.relay_domains,
	    "example.com"), TABLE_FOUND);
	assert_int_equal(matchlist_domain(conf->guard.relay_domains,
	    "mail.example.net"), TABLE_FOUND);
	assert_int_equal(matchlist_domain(conf->guard.relay_domains,
	    "example.org"), TABLE_NOTFOUND);
	mta_conf_free(&conf);
}

/* test_lists_bad - a bad item of either list, at its line */
static void
test_lists_bad(void **state)
{
	struct fix *f = *state;

	load_fails(f, "myhostname = mx.example.com\n"
	    "mynetworks = 10.0.0.0/33\n", 1,
	    "FILE:2: mynetworks: bad network \"10.0.0.0/33\": bad prefix "
	    "length\n");
	load_fails(f, "myhostname = mx.example.com\n"
	    "mynetworks = 127.0.0.0/8, !\n", 1,
	    "FILE:2: mynetworks: empty list item \"!\"\n");
	load_fails(f, "myhostname = mx.example.com\n"
	    "relay_domains = user@example.com\n", 1,
	    "FILE:2: relay_domains: bad domain \"user@example.com\"\n");
	load_fails(f, "myhostname = mx.example.com\n"
	    "relay_domains = example.com, nosuch:thing\n", 1,
	    "FILE:2: relay_domains: bad domain \"nosuch:thing\" (unknown "
	    "table type?)\n");
	/* both lists wrong: both reported */
	load_fails(f, "myhostname = mx.example.com\n"
	    "relay_domains = a/b\n"
	    "mynetworks = example.com\n", 2,
	    "FILE:3: mynetworks: bad network \"example.com\": bad "
	    "address\n"
	    "FILE:2: relay_domains: bad domain \"a/b\"\n");
}

/* test_lists_several_bad - several bad items of one list: one error
 * line each, all at the setting's line */
static void
test_lists_several_bad(void **state)
{
	struct fix *f = *state;

	load_fails(f, "myhostname = mx.example.com\n"
	    "relay_domains = example.com,\n"
	    "\ta@b, c/d\n", 2,
	    "FILE:2: relay_domains: bad domain \"a@b\"\n"
	    "FILE:2: relay_domains: bad domain \"c/d\"\n");
}

/* --- dump ----------------------------------------------------------------- */

/* test_dump - the effective settings, then the listeners and milters */
static void
test_dump(void **state)
{
	static const char *const lines[] = {
		"myhostname = mx.example.com\n",
		"workers = 4\n",
		"smtp_listen = 127.0.0.1:2525, [::1]:2525\n",
		"greet_pause = 2500ms\n",
		"milters = inet:127.0.0.1:8891, "
		    "{unix:/run/f.sock,default_action=accept}\n",
		"milter_default_action = quarantine\n",
		"relay_domains = example.com\n",
		"message_size_limit = 50M\n",
		"bare_newline = normalize\n",
		"debug = yes\n",
		"# listener: smtp 127.0.0.1:2525\n",
		"# listener: smtp [::1]:2525\n",
		"# milter: inet:127.0.0.1:8891 (default_action quarantine)\n",
		"# milter: unix:/run/f.sock (default_action accept)\n",
		NULL,
	};
	struct fix *f = *state;
	struct mta_conf *conf;
	const struct conf_setting *s;
	char *text;
	size_t i;

	conf = load_ok(f, "myhostname = mx.example.com\n"
	    "workers = 4\n"
	    "smtp_listen = 127.0.0.1:2525 [::1]:2525\n"
	    "greet_pause = 2.5s\n"
	    "milters = inet:127.0.0.1:8891,\n"
	    "  {unix:/run/f.sock,default_action=accept}\n"
	    "milter_default_action = quarantine\n"
	    "relay_domains = example.com\n"
	    "message_size_limit = 51200k\n"
	    "bare_newline = normalize\n"
	    "debug = yes\n");
	text = dump(f, conf);
	if (strncmp(text, expand(f, "# postern-mta configuration from "
	    "FILE\n"), strlen(expand(f, "# postern-mta configuration from "
	    "FILE\n"))) != 0)
		fail_msg("first line of \"%s\"", text);
	for (i = 0; lines[i] != NULL; i++)
		if (strstr(text, lines[i]) == NULL)
			fail_msg("no \"%s\" in \"%s\"", lines[i], text);
	for (s = mta_settings_table; s->name != NULL; s++)
		assert_non_null(strstr(text, arena_printf(f->a, "\n%s =",
		    s->name)));
	mta_conf_free(&conf);
}

/* test_service_names - the names for logs and -n */
static void
test_service_names(void **state)
{
	(void)state;
	assert_string_equal(mta_service_name(MTA_SERVICE_SMTP), "smtp");
	assert_string_equal(mta_service_name(MTA_SERVICE_SUBMISSION),
	    "submission");
	assert_string_equal(mta_service_name(MTA_SERVICE_SUBMISSIONS),
	    "submissions");
}

/* service_bad - an unknown service is a bug */
static void
service_bad(void)
{
	(void)mta_service_name((enum mta_service)7);
}

/* test_service_name_panics - and panics */
static void
test_service_name_panics(void **state)
{
	(void)state;
	testutil_expect_abort(service_bad);
}

/* main - every test in a fresh directory */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_defaults_table, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listeners, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_listeners_bad, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_submission_needs_auth,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_submission_needs_tls,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_submissions_need_tls,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_pair, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tls_self_signed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tls_files_bad, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_auth_users_bad, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_milters, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_milters_bad, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lists_bad, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lists_several_bad, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dump, setup, teardown),
		cmocka_unit_test(test_service_names),
		cmocka_unit_test(test_service_name_panics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
