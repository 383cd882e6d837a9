/*
 * main.c - postern-mta: the privileged parent and its SMTP workers
 *
 * The parent reads mta.conf, opens the queue, binds every listener
 * (ports below 1024 need root), loads what needs root to read (the TLS
 * key, the AUTH users), then forks `workers` processes that drop to
 * `user` and serve sessions on their own event loops (smtpd.c). The
 * parent keeps root only to bind again at a reload; it supervises:
 *
 *	SIGHUP		reload: a new config is checked first (a bad one
 *			is logged and the running one kept); new workers
 *			start on it, old ones finish their sessions
 *	SIGTERM, SIGINT	stop: workers finish their sessions (at most
 *			stop_timeout), then everything exits
 *	SIGCHLD		a worker that dies unexpectedly is replaced (at
 *			most one restart per second)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "anvil.h"
#include "daemon.h"
#include "evloop.h"
#include "log.h"
#include "mem.h"
#include "mta_conf.h"
#include "qmgr.h"
#include "queue.h"
#include "smtpd.h"

#define MAIN_MAX_WORKERS	64

struct main_worker {
	pid_t pid;
	bool old;		/* from a config before the last reload */
	time_t started;
};

static const char *main_config_path = "/etc/postern/mta.conf";
static pid_t main_parent;	/* the supervisor, for the workers */
static bool main_config_given;

/* main_usage - options; exit status 2 */
static void
main_usage(void)
{
	fprintf(stderr, "usage: postern-mta [-c FILE] [-f] [-n]\n"
	    "  -c FILE  configuration (default /etc/postern/mta.conf)\n"
	    "  -f       stay in the foreground, log to stderr\n"
	    "  -n       check the configuration, print the effective "
	    "settings, exit\n");
	exit(2);
}

/* main_load - the config, or NULL with the errors printed */
static struct mta_conf *
main_load(bool to_log)
{
	struct conf_errors err = { 0 };
	struct mta_conf *conf;
	const char *path = main_config_path;

	/* without -c a missing default file means built-in defaults */
	if (!main_config_given && access(path, F_OK) != 0)
		path = NULL;
	conf = mta_conf_load(path, &err);
	if (conf == NULL) {
		conf_errors_sort(&err);
		if (to_log) {
			char *copy = xstrdup(buf_cstr(&err.text)), *save;

			for (char *l = strtok_r(copy, "\n", &save); l != NULL;
			    l = strtok_r(NULL, "\n", &save))
				log_warn("%s", l);
			free(copy);
		} else {
			fputs(buf_cstr(&err.text), stderr);
		}
		fprintf(stderr, "postern-mta: %d error(s) in %s\n", err.count,
		    path ? path : "built-in defaults");
	}
	conf_errors_free(&err);
	return conf;
}

/*
 * main_listen - one listening socket, non-blocking: every worker waits
 * on it and only one wins each client, so the others must get EAGAIN
 * from accept, not sleep in it
 */
static int
main_listen(const struct mta_conf *conf, const struct mta_listener *l,
    char **why_r)
{
	int fd = daemon_listen_inet_try(arena_printf(conf->arena,
	    "%s_listen %s", mta_service_name(l->service), l->spec),
	    l->host, l->port, l->family, (int)conf->set.backlog, true, why_r);
	int flags;

	if (fd < 0)
		return -1;
	if ((flags = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		*why_r = xasprintf("%s_listen %s: O_NONBLOCK: %s",
		    mta_service_name(l->service), l->spec, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * main_bind - one socket per listener, reusing those of old that match;
 * NULL with *why_r (malloc'ed) when one cannot be bound (fatal only at
 * startup: a reload keeps the running config then)
 */
static int *
main_bind(const struct mta_conf *conf, const struct mta_conf *old,
    const int *old_fds, bool *reused, char **why_r)
{
	int *fds = xcalloc(conf->n_listeners + 1, sizeof(*fds));
	size_t i, j;

	for (i = 0; i < conf->n_listeners; i++) {
		const struct mta_listener *l = &conf->listeners[i];

		fds[i] = -1;
		for (j = 0; old != NULL && j < old->n_listeners; j++)
			if (old_fds[j] >= 0 && !reused[j] &&
			    strcmp(old->listeners[j].spec, l->spec) == 0) {
				fds[i] = old_fds[j];
				reused[j] = true;
				break;
			}
		if (fds[i] >= 0)
			continue;
		fds[i] = main_listen(conf, l, why_r);
		if (fds[i] < 0) {
			/* give back what this call bound */
			for (j = 0; j < i; j++) {
				bool mine = true;

				for (size_t k = 0; old != NULL &&
				    k < old->n_listeners; k++)
					if (old_fds[k] == fds[j]) {
						mine = false;
						reused[k] = false;
					}
				if (mine)
					close(fds[j]);
			}
			free(fds);
			return NULL;
		}
	}
	return fds;
}

/* main_fixed - the settings a reload cannot change (the queue is open,
 * privileges are gone, the pid file was written): NULL when next keeps
 * them, else the name of the first that differs */
static const char *
main_fixed(const struct mta_conf *cur, const struct mta_conf *next)
{
	static const struct {
		const char *name;
		size_t offset;
	} fixed[] = {
		{ "queue_directory", offsetof(struct mta_settings,
		    queue_directory) },
		{ "user", offsetof(struct mta_settings, user) },
		{ "pid_file", offsetof(struct mta_settings, pid_file) },
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		const char *a = *(char *const *)((const char *)&cur->set +
		    fixed[i].offset);
		const char *b = *(char *const *)((const char *)&next->set +
		    fixed[i].offset);

		if (strcmp(a, b) != 0)
			return fixed[i].name;
	}
	return NULL;
}

/* What SIGTERM/SIGINT do in a child: stop(arg). */
struct main_stopper {
	void (*stop)(void *arg);
	void *arg;
};

/* main_child_sig - a stop signal reached a child (its signalfd) */
static void
main_child_sig(struct evloop_watch *w, int fd, unsigned events, void *arg)
{
	const struct main_stopper *st = arg;
	struct signalfd_siginfo si;

	(void)w;
	(void)events;
	while (read(fd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			st->stop(st->arg);
}

/*
 * main_child - what every child does first: become user, die with the
 * parent, and take SIGTERM, SIGINT and SIGHUP (the parent's) from a
 * signalfd; returns its fd
 */
static int
main_child(const struct mta_conf *conf, uid_t uid, gid_t gid)
{
	sigset_t set;
	int sfd;

	daemon_setuid(conf->set.user, uid, gid);
	/* a child must not outlive its parent (a worker would hold the
	 * ports against the next start); set after setuid, which clears
	 * it */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
		log_warn("prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
	if (getppid() != main_parent)
		_exit(0);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		log_fatal("signalfd: %s", strerror(errno));
	return sfd;
}

/* main_smtpd_stop - main_stopper for a worker */
static void
main_smtpd_stop(void *arg)
{
	smtpd_stop(arg);
}

/* main_qmgr_stop - main_stopper for the queue manager */
static void
main_qmgr_stop(void *arg)
{
	qmgr_stop(arg);
}

/* main_worker - one SMTP worker; never returns */
static void
main_worker(const struct mta_conf *conf, struct queue *queue,
    struct anvil *anvil, const int *fds, uid_t uid, gid_t gid)
{
	struct evloop *loop;
	struct smtpd *sd;
	struct evloop_watch *sigw;
	struct main_stopper st = { .stop = main_smtpd_stop };
	int sfd = main_child(conf, uid, gid);

	loop = evloop_new((unsigned)conf->set.job_threads);
	sd = smtpd_new(loop, conf, queue, anvil, fds, conf->n_listeners);
	st.arg = sd;
	sigw = evloop_watch(loop, sfd, EVLOOP_READ, main_child_sig, &st);
	if (sigw == NULL)
		log_fatal("cannot watch signals: %s", strerror(errno));
	if (!evloop_run(loop))
		log_fatal("event loop failed: %s", strerror(errno));
	if (smtpd_sessions(sd) > 0) {
		/* stop_timeout passed with sessions still inside a job:
		 * their threads may still use them, so nothing is freed */
		_exit(0);
	}
	evloop_unwatch(&sigw);
	smtpd_free(&sd);
	evloop_free(&loop);
	close(sfd);
	_exit(0);
}

/* main_spawn - fork one worker */
static pid_t
main_spawn(const struct mta_conf *conf, struct queue *queue,
    struct anvil *anvil, const int *fds, uid_t uid, gid_t gid)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_warn("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		main_worker(conf, queue, anvil, fds, uid, gid);
	return pid;
}

/* main_qmgr - the queue manager process; never returns */
static void
main_qmgr(const struct mta_conf *conf, struct queue *queue, uid_t uid,
    gid_t gid)
{
	struct evloop *loop;
	struct evloop_watch *sigw;
	struct qmgr *qm;
	struct main_stopper st = { .stop = main_qmgr_stop };
	char *why = NULL;
	int sfd = main_child(conf, uid, gid);

	/* deliveries, plus the intake and end-of-message jobs */
	loop = evloop_new((unsigned)conf->set.delivery_threads + 8);
	if ((qm = qmgr_new(loop, conf, queue, &why)) == NULL)
		log_fatal("queue manager: %s", why);
	st.arg = qm;
	sigw = evloop_watch(loop, sfd, EVLOOP_READ, main_child_sig, &st);
	if (sigw == NULL)
		log_fatal("cannot watch signals: %s", strerror(errno));
	if (!evloop_run(loop))
		log_fatal("event loop failed: %s", strerror(errno));
	evloop_unwatch(&sigw);
	/* the manager's watch and timer belong to the loop: they go first
	 * (the loop stopped only when no job was left) */
	qmgr_free(&qm);
	evloop_free(&loop);
	close(sfd);
	_exit(0);
}

/* main_spawn_qmgr - fork the queue manager */
static pid_t
main_spawn_qmgr(const struct mta_conf *conf, struct queue *queue,
    uid_t uid, gid_t gid)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_warn("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		main_qmgr(conf, queue, uid, gid);
	return pid;
}

/* main_signal_all - send sig to the workers (old ones only if old) */
static void
main_signal_all(struct main_worker *w, size_t n, int sig, bool only_old)
{
	for (size_t i = 0; i < n; i++)
		if (w[i].pid > 0 && (!only_old || w[i].old))
			kill(w[i].pid, sig);
}

/*
 * main_reload - SIGHUP: the new config is checked and bound first; on
 * any problem the running one stays. New workers start on it and the old
 * ones finish their sessions.
 */
static void
main_reload(struct mta_conf **confp, int **fdsp, struct main_worker *workers,
    size_t *n_workers, struct queue *queue, struct anvil *anvil, uid_t uid,
    gid_t gid)
{
	struct mta_conf *conf = *confp, *next = main_load(true);
	const char *fixed;
	bool *reused;
	char *why = NULL;
	int *nfds;
	size_t i, k = 0;

	if (next == NULL) {
		log_warn("reload of %s failed; keeping the running "
		    "configuration", main_config_path);
		return;
	}
	if ((fixed = main_fixed(conf, next)) != NULL) {
		log_warn("reload: %s cannot change without a restart; keeping "
		    "the running configuration", fixed);
		mta_conf_free(&next);
		return;
	}
	reused = xcalloc(conf->n_listeners + 1, sizeof(bool));
	nfds = main_bind(next, conf, *fdsp, reused, &why);
	if (nfds == NULL) {
		log_warn("reload: %s; keeping the running configuration",
		    why);
		free(why);
		free(reused);
		mta_conf_free(&next);
		return;
	}
	for (i = 0; i < *n_workers; i++)
		workers[i].old = workers[i].pid > 0;
	main_signal_all(workers, *n_workers, SIGTERM, true);
	for (i = 0; i < conf->n_listeners; i++)
		if (!reused[i])
			close((*fdsp)[i]);
	free(reused);
	free(*fdsp);
	*fdsp = nfds;
	mta_conf_free(confp);
	*confp = conf = next;
	log_set_debug(conf->set.debug);
	/* old workers stay in the table until they are reaped */
	for (i = 0; i < *n_workers; i++)
		if (workers[i].pid > 0)
			workers[k++] = workers[i];
	*n_workers = k;
	for (i = 0; i < conf->set.workers && *n_workers < MAIN_MAX_WORKERS * 2;
	    i++) {
		workers[*n_workers].old = false;
		workers[*n_workers].pid = main_spawn(conf, queue, anvil, *fdsp,
		    uid, gid);
		workers[(*n_workers)++].started = time(NULL);
	}
	log_info("configuration %s reloaded", main_config_given ?
	    main_config_path : access(main_config_path, F_OK) == 0 ?
	    main_config_path : "(defaults)");
}

/* main_files - raise the open-file limit to the hard limit: a worker may
 * hold most of max_sessions sessions, each with a socket and milter
 * connections, and the usual soft limit (1024) is far below that */
static void
main_files(const struct mta_conf *conf)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)conf->set.max_sessions *
	    (2 + conf->n_milters) + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("setrlimit(RLIMIT_NOFILE): %s",
			    strerror(errno));
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		log_warn("open files are limited to %llu, but max_sessions "
		    "%lu may need %llu", (unsigned long long)rl.rlim_cur,
		    conf->set.max_sessions, (unsigned long long)want);
}

/* main - options, config, listeners, workers, then supervise */
int
main(int argc, char **argv)
{
	struct main_worker workers[MAIN_MAX_WORKERS * 2] = { 0 };
	size_t n_workers = 0, i;
	bool foreground = false, check = false, stopping = false;
	struct mta_conf *conf;
	struct queue *queue;
	struct anvil *anvil;
	sigset_t set;
	uid_t uid;
	gid_t gid;
	int *fds, c;
	char *why = NULL;
	time_t stop_deadline = 0, qmgr_started = 0;
	pid_t qmgr_pid = 0;
	bool qmgr_reloading = false;

	while ((c = getopt(argc, argv, "c:fn")) != -1) {
		switch (c) {
		case 'c':
			main_config_path = optarg;
			main_config_given = true;
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
	log_init("postern-mta", foreground || check);
	conf = main_load(false);
	if (conf == NULL)
		return 1;
	if (check) {
		mta_conf_dump(conf, stdout);
		mta_conf_free(&conf);
		return 0;
	}
	log_set_debug(conf->set.debug);
	main_files(conf);
	daemon_user(conf->set.user, &uid, &gid);
	queue = queue_open(conf->set.queue_directory, (int)uid, (int)gid,
	    &why);
	if (queue == NULL)
		log_fatal("queue_directory: %s", why);
	c = queue_recover(queue);
	if (c > 0)
		log_warn("%d incomplete queue file(s) moved to corrupt/", c);
	fds = main_bind(conf, NULL, NULL, NULL, &why);
	if (fds == NULL)
		log_fatal("%s", why);
	if (!foreground)
		daemon_detach();
	if (*conf->set.pid_file)
		daemon_write_pid(conf->set.pid_file, uid, gid);
	anvil = anvil_new(0);
	main_parent = getpid();

	/* every signal is taken by sigtimedwait below; workers inherit
	 * the mask and read theirs from a signalfd */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < conf->set.workers; i++) {
		workers[n_workers].pid = main_spawn(conf, queue, anvil, fds,
		    uid, gid);
		workers[n_workers++].started = time(NULL);
	}
	if (conf->set.delivery)
		qmgr_pid = main_spawn_qmgr(conf, queue, uid, gid);
	qmgr_started = time(NULL);
	log_info("starting: %zu worker(s), %zu listener(s), %zu milter(s), "
	    "queue %s", n_workers, conf->n_listeners, conf->n_milters,
	    conf->set.queue_directory);

	for (;;) {
		struct timespec ts = { .tv_sec = 1 };
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &ts);
		size_t live = 0;
		pid_t pid;
		int status;

		if (sig == SIGTERM || sig == SIGINT) {
			if (!stopping) {
				log_info("stopping");
				stopping = true;
				/* new clients are refused at once, not left
				 * waiting in the backlog */
				for (i = 0; i < conf->n_listeners; i++) {
					close(fds[i]);
					fds[i] = -1;
				}
				stop_deadline = time(NULL) +
				    (time_t)conf->set.stop_timeout + 5;
				main_signal_all(workers, n_workers, SIGTERM,
				    false);
				if (qmgr_pid > 0)
					kill(qmgr_pid, SIGTERM);
			}
		} else if (sig == SIGHUP && !stopping) {
			struct mta_conf *before = conf;

			main_reload(&conf, &fds, workers, &n_workers, queue,
			    anvil, uid, gid);
			/* one queue manager at a time: the new one starts
			 * when the old one has finished its deliveries */
			if (conf != before && qmgr_pid > 0) {
				qmgr_reloading = true;
				kill(qmgr_pid, SIGTERM);
			} else if (conf != before && conf->set.delivery) {
				qmgr_pid = main_spawn_qmgr(conf, queue, uid,
				    gid);
				qmgr_started = time(NULL);
			}
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == qmgr_pid) {
				qmgr_pid = 0;
				if (stopping)
					continue;
				if (!qmgr_reloading)
					log_warn("queue manager %ld %s %d; "
					    "starting another", (long)pid,
					    WIFSIGNALED(status) ? "killed by "
					    "signal" : "exited with",
					    WIFSIGNALED(status) ?
					    WTERMSIG(status) :
					    WEXITSTATUS(status));
				if (!qmgr_reloading &&
				    time(NULL) - qmgr_started < 1)
					sleep(1);
				qmgr_reloading = false;
				if (conf->set.delivery) {
					qmgr_pid = main_spawn_qmgr(conf, queue,
					    uid, gid);
					qmgr_started = time(NULL);
				}
				continue;
			}
			for (i = 0; i < n_workers; i++) {
				if (workers[i].pid != pid)
					continue;
				anvil_forget_pid(anvil, pid);
				workers[i].pid = 0;
				if (!stopping && !workers[i].old) {
					log_warn("worker %ld %s %d; starting "
					    "another", (long)pid,
					    WIFSIGNALED(status) ? "killed by "
					    "signal" : "exited with",
					    WIFSIGNALED(status) ?
					    WTERMSIG(status) :
					    WEXITSTATUS(status));
					/* a worker that dies at once would
					 * otherwise fork in a tight loop */
					if (time(NULL) - workers[i].started < 1)
						sleep(1);
					workers[i].pid = main_spawn(conf, queue,
					    anvil, fds, uid, gid);
					workers[i].started = time(NULL);
				}
			}
		}
		for (i = 0; i < n_workers; i++)
			if (workers[i].pid > 0)
				live++;
		if (qmgr_pid > 0)
			live++;
		if (stopping && live == 0)
			break;
		if (stopping && time(NULL) > stop_deadline) {
			log_warn("workers did not stop in time; killing them");
			main_signal_all(workers, n_workers, SIGKILL, false);
			if (qmgr_pid > 0)
				kill(qmgr_pid, SIGKILL);
			stop_deadline = time(NULL) + 5;
		}
	}
	for (i = 0; i < conf->n_listeners; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	if (*conf->set.pid_file && unlink(conf->set.pid_file) != 0)
		log_warn("cannot remove %s: %s", conf->set.pid_file,
		    strerror(errno));
	anvil_free(&anvil);
	queue_close(&queue);
	mta_conf_free(&conf);
	log_info("stopped");
	return 0;
}
