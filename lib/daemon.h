/*
 * daemon.h - what both daemons do to start: listening sockets, the pid
 * file, the switch to an unprivileged user, going into the background
 *
 * Contract: these run at startup, before threads or workers exist; a
 * failure is fatal (log_fatal names what failed), because a daemon that
 * cannot bind its port, write its pid file or drop root must not run.
 */
#ifndef POSTERN_DAEMON_H
#define POSTERN_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

/* daemon_listen_inet - a listening TCP socket on host:port (host an
 * address or name, "" for any), SO_REUSEADDR, IPV6_V6ONLY on IPv6,
 * TCP_NODELAY when nodelay (accepted sockets inherit it); family
 * AF_INET, AF_INET6 or AF_UNSPEC. what names the socket in errors. */
int daemon_listen_inet(const char *what, const char *host,
    const char *port, int family, int backlog, bool nodelay);
/* daemon_listen_inet_try - the same, but -1 with *why_r (malloc'ed)
 * instead of exiting: for a reload, which must never kill a running
 * daemon */
int daemon_listen_inet_try(const char *what, const char *host,
    const char *port, int family, int backlog, bool nodelay, char **why_r);

/* daemon_user - uid and gid of user; (uid_t)-1 when not root or when
 * user is "" or "root" (a warning then says so) */
void daemon_user(const char *user, uid_t *uid_r, gid_t *gid_r);
/* daemon_setuid - become user (uid from daemon_user; -1 = stay) and
 * make sure root cannot be regained */
void daemon_setuid(const char *user, uid_t uid, gid_t gid);
/* daemon_write_pid - write getpid() to path (its directory made if
 * missing and given to uid/gid) */
void daemon_write_pid(const char *path, uid_t uid, gid_t gid);
/* daemon_detach - fork into the background, new session, stdio on
 * /dev/null */
void daemon_detach(void);

#endif
