/*
 * testutil.c - plumbing shared by the unit tests (see testutil.h)
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "dns.h"
#include "buf.h"
#include "testutil.h"

/* testutil_tmpdir - mkdtemp "/tmp/NAME.XXXXXX" into buf; 0 or -1 */
int
testutil_tmpdir(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "/tmp/%s.XXXXXX", name);

	if (n < 0 || (size_t)n >= len)
		return -1;
	return mkdtemp(buf) != NULL ? 0 : -1;
}

/* rm_entry - nftw callback: children come first (FTW_DEPTH) */
static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* testutil_rmtree - remove dir and everything below it; 0 or -1 */
int
testutil_rmtree(const char *dir)
{
	return nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* testutil_setup - a fresh temp directory and arena for one test */
int
testutil_setup(char *dir, size_t len, const char *name,
    struct arena **arena_r)
{
	if (testutil_tmpdir(dir, len, name) != 0)
		return -1;
	*arena_r = arena_create();
	return 0;
}

/* testutil_teardown - destroy the arena, remove the directory */
int
testutil_teardown(const char *dir, struct arena **arena)
{
	arena_destroy(arena);
	return testutil_rmtree(dir);
}

/* write_bytes - create or truncate path with exactly len bytes */
static void
write_bytes(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		fail_msg("cannot create %s", path);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* testutil_put - write text to dir/name in place; returns the path */
char *
testutil_put(struct arena *arena, const char *dir, const char *name,
    const char *text)
{
	return testutil_put_bytes(arena, dir, name, text, strlen(text));
}

/* testutil_put_bytes - write len bytes to dir/name in place */
char *
testutil_put_bytes(struct arena *arena, const char *dir, const char *name,
    const void *data, size_t len)
{
	char *path = arena_printf(arena, "%s/%s", dir, name);

	write_bytes(path, data, len);
	return path;
}

/* testutil_replace - a new inode for dir/name, renamed over the old one
 * so that reload code sees the file change the way it does in real use */
char *
testutil_replace(struct arena *arena, const char *dir, const char *name,
    const char *text)
{
	char *path = arena_printf(arena, "%s/%s", dir, name);
	char *tmp = arena_printf(arena, "%s.new", path);

	write_bytes(tmp, text, strlen(text));
	assert_int_equal(rename(tmp, path), 0);
	return path;
}

/* testutil_expect_abort - fn in a child process must abort (log_panic) */
void
testutil_expect_abort(void (*fn)(void))
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* --- a private nsd on loopback ----------------------------------------- */

/* nsd_bind_loopback - a socket of type on 127.0.0.1:port (0 = any); -1 */
static int
nsd_bind_loopback(int type, unsigned port, unsigned *port_r)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		close(fd);
		return -1;
	}
	if (port_r != NULL)
		*port_r = ntohs(sin.sin_port);
	return fd;
}

/* nsd_free_port - a port free for both UDP and TCP right now; 0 if none */
static unsigned
nsd_free_port(void)
{
	unsigned port;
	int u, t, i;

	for (i = 0; i < 20; i++) {
		if ((u = nsd_bind_loopback(SOCK_DGRAM, 0, &port)) < 0)
			return 0;
		t = nsd_bind_loopback(SOCK_STREAM, port, NULL);
		close(u);
		if (t >= 0) {
			close(t);
			return port;
		}
	}
	return 0;
}

/* nsd_write_conf - nsd.conf serving every file of zonedir; 0 or -1 */
static int
nsd_write_conf(const char *path, const char *zonedir, unsigned port,
    const char *dir)
{
	struct dirent *e;
	FILE *f;
	DIR *d;

	if ((d = opendir(zonedir)) == NULL)
		return -1;
	if ((f = fopen(path, "w")) == NULL) {
		closedir(d);
		return -1;
	}
	fprintf(f, "server:\n\tip-address: 127.0.0.1@%u\n"
	    "\tzonesdir: \"%s\"\n\tdatabase: \"\"\n"
	    "\tpidfile: \"%s/nsd.pid\"\n\txfrdfile: \"%s/xfrd.state\"\n"
	    "\tzonelistfile: \"%s/zone.list\"\n\tlogfile: \"%s/nsd.log\"\n"
	    "\tusername: \"\"\n\tserver-count: 1\n\tverbosity: 0\n"
	    "remote-control:\n\tcontrol-enable: no\n",
	    port, zonedir, dir, dir, dir, dir);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			fprintf(f, "zone:\n\tname: \"%s\"\n"
			    "\tzonefile: \"%s\"\n", e->d_name, e->d_name);
	closedir(d);
	return fclose(f) == 0 ? 0 : -1;
}

/* nsd_probe - whether nsd answers one SOA query for example.com by UDP */
static bool
nsd_probe(unsigned port)
{
	static const unsigned char query[] = {
		0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
		7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
		0, 6, 0, 1,		/* SOA IN */
	};
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct pollfd p;
	unsigned char reply[512];
	bool ok = false;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (fd < 0)
		return false;
	if (sendto(fd, query, sizeof(query), 0, (struct sockaddr *)&sin,
	    sizeof(sin)) == (ssize_t)sizeof(query)) {
		p.fd = fd;
		p.events = POLLIN;
		ok = poll(&p, 1, 100) == 1 &&
		    recv(fd, reply, sizeof(reply), 0) >= 12 &&
		    reply[0] == 0x12 && reply[1] == 0x34 &&
		    (reply[3] & 0x0f) == 0;
	}
	close(fd);
	return ok;
}

/* testutil_nsd_start - nsd and the silent socket (see testutil.h) */
int
testutil_nsd_start(struct testutil_nsd *nsd, const char *name,
    const char *top_srcdir)
{
	char conf[300], zonedir[512], log[300];
	const char *top = getenv("TOP");
	unsigned port, quiet;
	int i, fd;

	memset(nsd, 0, sizeof(*nsd));
	nsd->silent = -1;
	if (top == NULL || *top == '\0')
		top = top_srcdir;
	snprintf(zonedir, sizeof(zonedir), "%s/tests/data/zones", top);
	if (testutil_tmpdir(nsd->dir, sizeof(nsd->dir), name) < 0)
		goto fail;
	snprintf(conf, sizeof(conf), "%s/nsd.conf", nsd->dir);
	snprintf(log, sizeof(log), "%s/nsd.stderr", nsd->dir);
	if ((port = nsd_free_port()) == 0 ||
	    nsd_write_conf(conf, zonedir, port, nsd->dir) < 0)
		goto fail;
	if ((nsd->silent = nsd_bind_loopback(SOCK_DGRAM, 0, &quiet)) < 0)
		goto fail;
	snprintf(nsd->server, sizeof(nsd->server), "127.0.0.1@%u", port);
	snprintf(nsd->quiet, sizeof(nsd->quiet), "127.0.0.1@%u", quiet);
	if ((nsd->pid = fork()) < 0)
		goto fail;
	if (nsd->pid == 0) {
		setpgid(0, 0);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("nsd", "nsd", "-d", "-c", conf, (char *)NULL);
		execl("/usr/sbin/nsd", "nsd", "-d", "-c", conf, (char *)NULL);
		fprintf(stderr, "nsd: %s\n", strerror(errno));
		_exit(127);
	}
	/* both sides, so that the group exists before any kill(-pid) */
	setpgid(nsd->pid, nsd->pid);
	for (i = 0; i < 50; i++)
		if (nsd_probe(port))
			return 0;
	fprintf(stderr, "# nsd did not answer on %s (see %s)\n", nsd->server,
	    log);
fail:
	/* whether cmocka runs the teardown after a failed setup differs
	 * between versions: clean up here */
	testutil_nsd_stop(nsd);
	return -1;
}

/* testutil_nsd_stop - stop nsd, close the silent socket, remove the
 * directory; also after a partial start */
int
testutil_nsd_stop(struct testutil_nsd *nsd)
{
	int rc;

	if (nsd->pid > 0) {
		kill(-nsd->pid, SIGCONT);
		kill(-nsd->pid, SIGTERM);
		waitpid(nsd->pid, NULL, 0);
		nsd->pid = 0;
	}
	if (nsd->silent >= 0)
		close(nsd->silent);
	nsd->silent = -1;
	if (nsd->dir[0] == '\0')
		return 0;
	rc = testutil_rmtree(nsd->dir);
	nsd->dir[0] = '\0';
	return rc;
}

/* testutil_dns_one - a resolver for one server, one attempt */
static struct dns *
testutil_dns_one(const char *server, double timeout)
{
	char *items[2] = { (char *)server, NULL };
	struct dns_settings s = {
		.servers = { .n = 1, .items = items },
		.timeout = timeout,
		.attempts = 1,
	};
	char *error = NULL;
	struct dns *dns = dns_create(&s, &error);

	if (dns == NULL)
		fprintf(stderr, "# dns_create: %s\n", error);
	free(error);
	return dns;
}

/* testutil_dns_start - nsd and a resolver for it and one for silence */
int
testutil_dns_start(struct testutil_nsd *nsd, const char *name,
    const char *top_srcdir, struct dns **ok_r, struct dns **quiet_r)
{
	if (testutil_nsd_start(nsd, name, top_srcdir) != 0)
		return -1;
	*ok_r = testutil_dns_one(nsd->server, 3);
	*quiet_r = testutil_dns_one(nsd->quiet, 0.3);
	if (*ok_r == NULL || *quiet_r == NULL) {
		dns_destroy(ok_r);
		dns_destroy(quiet_r);
		testutil_nsd_stop(nsd);
		return -1;
	}
	return 0;
}

/* testutil_dns_stop - resolvers first, then nsd */
int
testutil_dns_stop(struct testutil_nsd *nsd, struct dns **ok,
    struct dns **quiet)
{
	dns_destroy(ok);
	dns_destroy(quiet);
	return testutil_nsd_stop(nsd);
}

/* testutil_now - CLOCK_MONOTONIC as seconds */
double
testutil_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* testutil_count_entries - names in dir but . and .. */
int
testutil_count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* testutil_slack - POSTERN_TEST_SLACK, at least 1 */
double
testutil_slack(void)
{
	const char *s = getenv("POSTERN_TEST_SLACK");
	double f = s != NULL ? strtod(s, NULL) : 1;

	return f >= 1 ? f : 1;
}

/* testutil_sleep - nanosleep through signals */
void
testutil_sleep(double s)
{
	struct timespec ts = {
		.tv_sec = (time_t)s,
		.tv_nsec = (long)((s - (double)(time_t)s) * 1e9),
	};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* testutil_free_port - bind port 0 on 127.0.0.1 and give it back */
int
testutil_free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd, port = -1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		fail_msg("socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	if (port < 0)
		fail_msg("no free loopback port: %s", strerror(errno));
	return port;
}

/* testutil_lines - the file's complete lines (a log another process
 * writes), waiting up to wait seconds until there are at least want:
 * read into b, split in place; *lines (realloc'ed, *cap entries) points
 * into b */
size_t
testutil_lines(const char *path, size_t want, double wait, struct buf *b,
    char ***lines, size_t *cap)
{
	double until = testutil_now() + wait;
	char chunk[65536], *p, *nl;
	size_t n, k;
	FILE *fp;

	for (;;) {
		buf_reset(b);
		if ((fp = fopen(path, "r")) != NULL) {
			while ((k = fread(chunk, 1, sizeof(chunk), fp)) > 0)
				buf_append(b, chunk, k);
			fclose(fp);
		}
		n = 0;
		for (p = b->data; p != NULL &&
		    (nl = strchr(p, '\n')) != NULL; p = nl + 1)
			n++;
		if (n >= want || testutil_now() > until)
			break;
		testutil_sleep(0.01);
	}
	if (n + 1 > *cap) {
		*cap = n + 1;
		*lines = realloc(*lines, *cap * sizeof(char *));
		assert_non_null(*lines);
	}
	n = 0;
	for (p = b->data; p != NULL && (nl = strchr(p, '\n')) != NULL;
	    p = nl + 1) {
		*nl = '\0';
		(*lines)[n++] = p;
	}
	return n;
}
