/*
 * main.c - postern-filterd: options, config, socket, privileges, signals
 *
 * Startup order matters: the config is loaded (and every table opened)
 * while we may still be root, the socket is bound and the pid file written
 * before privileges are dropped, and SIGUSR1 is blocked before any thread
 * exists so that only our reload thread ever receives it (libmilter owns
 * SIGHUP, SIGTERM and SIGINT).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "mem.h"
#include "milter.h"
#include "runtime.h"
#include "table.h"

#define FILTERD_CONFIG SYSCONFDIR_POSTERN "/filterd.conf"

static const char *main_config_path;
static char *main_unix_path;

/* main_usage - print usage and exit 2 */
static void
main_usage(void)
{
	fprintf(stderr, "usage: postern-filterd [-c FILE] [-f] [-n]\n"
	    "  -c FILE  configuration (default " FILTERD_CONFIG ")\n"
	    "  -f       stay in the foreground and log to stderr\n"
	    "  -n       check the configuration, print the effective "
	    "settings, exit\n");
	exit(2);
}

/* main_print_errors - every config error to stderr (and the log) */
static void
main_print_errors(struct conf_errors *err, bool to_log)
{
	const char *p;

	conf_errors_sort(err);
	p = buf_cstr(&err->text);
	fputs(p, stderr);
	if (!to_log)
		return;
	while (*p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		log_warn("%.*s", len, p);
		p += len + (nl != NULL);
	}
}

/* main_split_inet - "PORT@HOST" into its parts */
static bool
main_split_inet(char *rest, char **port_r, char **host_r)
{
	char *at = strchr(rest, '@');

	*port_r = rest;
	*host_r = NULL;
	if (at != NULL) {
		*at = '\0';
		*host_r = at + 1;
	}
	return **port_r != '\0';
}

/* main_listen_inet - bind an inet/inet6 listener with TCP_NODELAY */
static int
main_listen_inet(const char *spec, int family, char *rest, int backlog)
{
	char *port, *host;

	if (!main_split_inet(rest, &port, &host))
		log_fatal("socket %s: missing port", spec);
	return daemon_listen_inet(spec, host ? host : "", port, family,
	    backlog, true);
}

/* main_listen_unix - bind a unix listener with the configured mode/owner */
static int
main_listen_unix(const char *spec, const char *path,
    const struct filterd_settings *set)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path) || *path == '\0')
		log_fatal("socket %s: bad path", spec);
	strcpy(sun.sun_path, path);
	/* a stale socket from a crash would block bind; never remove a
	 * file that is not a socket */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			log_fatal("socket %s: exists and is not a socket", spec);
		unlink(path);
	}
	if (*set->socket_owner) {
		struct passwd *pw = getpwnam(set->socket_owner);

		if (pw == NULL)
			log_fatal("socket_owner %s: no such user",
			    set->socket_owner);
		uid = pw->pw_uid;
	}
	if (*set->socket_group) {
		struct group *gr = getgrnam(set->socket_group);

		if (gr == NULL)
			log_fatal("socket_group %s: no such group",
			    set->socket_group);
		gid = gr->gr_gid;
	}
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		log_fatal("socket %s: cannot bind: %s", spec, strerror(errno));
	if (chmod(path, (mode_t)set->socket_mode) != 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    chown(path, uid, gid) != 0))
		log_fatal("socket %s: cannot set mode/owner: %s", spec,
		    strerror(errno));
	if (listen(fd, (int)set->backlog) != 0)
		log_fatal("socket %s: cannot listen: %s", spec, strerror(errno));
	main_unix_path = xstrdup(path);
	return fd;
}

/* main_listen - open the listener named by the socket setting */
static int
main_listen(const struct filterd_settings *set)
{
	static const struct {
		const char *prefix;
		int family;	/* 0 = unix */
	} kinds[] = {
		{ "inet:", AF_INET },
		{ "inet6:", AF_INET6 },
		{ "unix:", 0 },
		{ "local:", 0 },
	};
	char *copy = xstrdup(set->socket);
	int fd = -1;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t len = strlen(kinds[i].prefix);

		if (strncmp(copy, kinds[i].prefix, len) != 0)
			continue;
		fd = kinds[i].family ?
		    main_listen_inet(set->socket, kinds[i].family, copy + len,
		    (int)set->backlog) :
		    main_listen_unix(set->socket, copy + len, set);
		break;
	}
	if (fd < 0)
		log_fatal("socket %s: expected inet:PORT@HOST, inet6:PORT@HOST "
		    "or unix:PATH", set->socket);
	free(copy);
	return fd;
}

/*
 * main_thread_stacks - the stack size of the threads created from now on
 * (libmilter makes one per MTA connection with default attributes).
 * glibc's default is the stack ulimit, 8 MiB: twenty connections' stacks
 * then overflow glibc's 40 MiB cache of stacks, and each connection maps
 * and unmaps its own, which cost a fifth of filterd's time in the
 * greylist benchmark. Reusing cached 1 MiB stacks is free.
 */
static void
main_thread_stacks(uint64_t size)
{
	pthread_attr_t attr;

	if (pthread_attr_init(&attr) != 0)
		log_fatal("pthread_attr_init failed");
	if (pthread_attr_setstacksize(&attr, (size_t)size) != 0 ||
	    pthread_setattr_default_np(&attr) != 0)
		log_warn("cannot set the thread stack size to %" PRIu64
		    " bytes; using the default", size);
	pthread_attr_destroy(&attr);
}

/* main_reload - load the config anew; a bad one leaves the old running */
static void
main_reload(void)
{
	struct conf_errors err = { 0 };
	struct runtime *rt = runtime_load(main_config_path, &err);

	if (rt == NULL) {
		log_warn("reload of %s failed with %d error(s); keeping the "
		    "running configuration", main_config_path ?
		    main_config_path : "defaults", err.count);
		main_print_errors(&err, true);
	} else {
		log_set_debug(rt->set.debug);
		runtime_install(rt);
		log_info("configuration %s reloaded", main_config_path ?
		    main_config_path : "(defaults)");
	}
	conf_errors_free(&err);
}

/* set at shutdown before the signal thread is woken to end */
static atomic_bool main_stopping;

/* main_signal_thread - SIGUSR1 reloads; table files are polled */
static void *
main_signal_thread(void *arg)
{
	sigset_t set;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		struct runtime *rt = runtime_acquire();
		double interval = rt->set.table_check_interval;
		struct timespec ts;
		int sig;

		runtime_release(&rt);
		if (interval < 0.01)
			interval = 0.01;
		ts.tv_sec = (time_t)interval;
		ts.tv_nsec = (long)((interval - (double)ts.tv_sec) * 1e9);
		sig = sigtimedwait(&set, NULL, &ts);
		if (atomic_load(&main_stopping))
			break;
		if (sig == SIGUSR1) {
			log_info("SIGUSR1: reloading configuration and tables");
			main_reload();
		}
		table_refresh_all();
	}
	return NULL;
}

/* main_log_start - one line saying what runs where */
static void
main_log_start(const struct runtime *rt)
{
	struct buf b = { 0 };

	for (size_t i = 0; i < rt->set.pipeline.n; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", rt->set.pipeline.items[i]);
	log_info("listening on %s; pipeline: %s; authserv_id %s",
	    rt->set.socket, b.len ? buf_cstr(&b) : "(empty)",
	    rt->set.authserv_id);
	buf_free(&b);
}

/* main - see the file comment */
int
main(int argc, char **argv)
{
	struct conf_errors err = { 0 };
	struct runtime *rt;
	bool foreground = false, check = false;
	pthread_t tid;
	sigset_t set;
	uid_t uid;
	gid_t gid;
	int c, fd, rc;

	while ((c = getopt(argc, argv, "c:fn")) != -1) {
		switch (c) {
		case 'c':
			main_config_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'n':
			check = true;
			break;
		default:
			main_usage();
		}
	}
	if (optind != argc)
		main_usage();
	log_init("postern-filterd", foreground || check);
	if (main_config_path == NULL) {
		/* a missing default file means "built-in defaults", so a
		 * first run works; a file named with -c must exist */
		if (access(FILTERD_CONFIG, F_OK) == 0)
			main_config_path = FILTERD_CONFIG;
		else
			log_info("no %s: using built-in defaults",
			    FILTERD_CONFIG);
	}

	/* every thread must block what libmilter's signal thread and ours
	 * sigwait for; a thread with SIGTERM unblocked would take the default
	 * action and kill the process without a clean stop */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rt = runtime_load(main_config_path, &err);
	if (rt == NULL) {
		main_print_errors(&err, !(foreground || check));
		fprintf(stderr, "postern-filterd: %d error(s) in %s\n",
		    err.count, main_config_path ? main_config_path :
		    "built-in defaults");
		return 1;
	}
	conf_errors_free(&err);
	if (check) {
		runtime_dump(rt, stdout);
		fflush(stdout);
		runtime_release(&rt);
		return 0;
	}
	log_set_debug(rt->set.debug);

	fd = main_listen(&rt->set);
	daemon_user(rt->set.user, &uid, &gid);
	if (!foreground)
		daemon_detach();
	if (*rt->set.pid_file)
		daemon_write_pid(rt->set.pid_file, uid, gid);
	daemon_setuid(rt->set.user, uid, gid);
	runtime_install(rt);
	if (pthread_create(&tid, NULL, main_signal_thread, NULL) != 0)
		log_fatal("cannot start the signal thread");
	main_log_start(rt);

	main_thread_stacks(rt->set.thread_stack_size);
	rc = milter_run(fd, rt->set.milter_timeout, (int)rt->set.backlog);
	log_info("stopping");
	rt = runtime_acquire();
	if (*rt->set.pid_file && unlink(rt->set.pid_file) != 0)
		log_warn("cannot remove %s: %s", rt->set.pid_file,
		    strerror(errno));
	runtime_release(&rt);
	/* Retire the configuration, so that modules stop their threads and
	 * free what they hold (the ClamAV engine, stores) as at a reload.
	 * The signal thread goes first: it would take a new reference.
	 * Sessions still running keep theirs and release them as usual. */
	atomic_store(&main_stopping, true);
	pthread_kill(tid, SIGUSR1);
	pthread_join(tid, NULL);
	runtime_install(NULL);
	if (main_unix_path != NULL && unlink(main_unix_path) != 0)
		log_warn("cannot remove %s: %s (it is removed at the next "
		    "start)", main_unix_path, strerror(errno));
	return rc;
}
