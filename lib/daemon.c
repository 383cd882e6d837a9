/*
 * daemon.c - listening sockets, pid file, privileges, background
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "mem.h"

/* daemon_listen_inet_try - bind and listen on the first address that
 * works */
int
daemon_listen_inet_try(const char *what, const char *host, const char *port,
    int family, int backlog, bool nodelay, char **why_r)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	int fd = -1, one = 1, rc;

	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		*why_r = xasprintf("%s: %s", what, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* small replies written apart (libmilter's edits, SMTP
		 * replies) must not wait for the peer's delayed ACK
		 * (library-notes.md, "A latency trap") */
		if (nodelay)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, backlog) == 0)
			break;
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	freeaddrinfo(res);
	if (fd < 0)
		*why_r = xasprintf("%s: cannot listen: %s", what,
		    strerror(errno));
	return fd;
}

/* daemon_listen_inet - the same; failing is fatal at startup */
int
daemon_listen_inet(const char *what, const char *host, const char *port,
    int family, int backlog, bool nodelay)
{
	char *why = NULL;
	int fd = daemon_listen_inet_try(what, host, port, family, backlog,
	    nodelay, &why);

	if (fd < 0)
		log_fatal("%s", why);
	return fd;
}

/* daemon_user - look the user up while /etc/passwd is still readable */
void
daemon_user(const char *user, uid_t *uid_r, gid_t *gid_r)
{
	struct passwd *pw;

	*uid_r = (uid_t)-1;
	*gid_r = (gid_t)-1;
	if (geteuid() != 0)
		return;
	if (*user == '\0' || strcmp(user, "root") == 0) {
		log_warn("running as root (user = \"%s\")", user);
		return;
	}
	pw = getpwnam(user);
	if (pw == NULL)
		log_fatal("user %s: no such user (create it or set user =)",
		    user);
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
}

/* daemon_setuid - drop root for good */
void
daemon_setuid(const char *user, uid_t uid, gid_t gid)
{
	if (uid == (uid_t)-1)
		return;
	if (initgroups(user, gid) != 0 || setgid(gid) != 0 ||
	    setuid(uid) != 0)
		log_fatal("cannot become %s: %s", user, strerror(errno));
	if (setuid(0) == 0)
		log_panic("privileges were not dropped");
}

/* daemon_write_pid - the pid file, its directory made for the user */
void
daemon_write_pid(const char *path, uid_t uid, gid_t gid)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	FILE *fp;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0 && uid != (uid_t)-1 &&
		    chown(dir, uid, gid) != 0)
			log_warn("chown %s: %s", dir, strerror(errno));
	}
	free(dir);
	fp = fopen(path, "w");
	if (fp == NULL)
		log_fatal("pid file %s: %s", path, strerror(errno));
	fprintf(fp, "%ld\n", (long)getpid());
	if (fclose(fp) != 0)
		log_fatal("pid file %s: %s", path, strerror(errno));
}

/* daemon_detach - the classic double fork */
void
daemon_detach(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		log_fatal("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	setsid();
	pid = fork();
	if (pid < 0)
		log_fatal("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}
