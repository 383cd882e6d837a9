/*
 * nullmilter.c - a libmilter milter that does nothing, for benchmarks
 *
 * It negotiates the same steps as postern-filterd with the access module
 * (no body, no end-of-headers, no header replies, no replies before RCPT)
 * and answers "continue" everywhere, so that milter-overhead can show
 * what libmilter and the MTA's milter client cost by themselves, beside
 * what filterd costs. Its threads get filterd's 1 MiB stacks (see
 * thread_stack_size in filterd.conf(5)), so that it stays the ceiling of
 * a libmilter milter. Usage: nullmilter inet:PORT@127.0.0.1
 */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

/* null_negotiate - the steps filterd asks for, nothing else */
static sfsistat
null_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	(void)ctx;
	(void)f2;
	(void)f3;
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE);
	*pf1 = f1 & (SMFIP_NOBODY | SMFIP_NOEOH | SMFIP_NR_HDR |
	    SMFIP_NOUNKNOWN | SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL);
	*pf2 = *pf3 = 0;
	return SMFIS_CONTINUE;
}

/* null_noreply - events whose reply was negotiated away */
static sfsistat
null_noreply(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_NOREPLY;
}

/* null_connect - connect (no reply) */
static sfsistat
null_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	(void)host;
	(void)sa;
	return null_noreply(ctx);
}

/* null_str - helo (no reply) */
static sfsistat
null_str(SMFICTX *ctx, char *s)
{
	(void)s;
	return null_noreply(ctx);
}

/* null_mail - mail (no reply) */
static sfsistat
null_mail(SMFICTX *ctx, char **argv)
{
	(void)argv;
	return null_noreply(ctx);
}

/* null_rcpt - rcpt: continue */
static sfsistat
null_rcpt(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

/* null_header - headers (no reply) */
static sfsistat
null_header(SMFICTX *ctx, char *name, char *value)
{
	(void)name;
	(void)value;
	return null_noreply(ctx);
}

/* null_continue - data, eom, abort, close */
static sfsistat
null_continue(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static struct smfiDesc null_desc = {
	.xxfi_name = "nullmilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
	.xxfi_connect = null_connect,
	.xxfi_helo = null_str,
	.xxfi_envfrom = null_mail,
	.xxfi_envrcpt = null_rcpt,
	.xxfi_header = null_header,
	.xxfi_eom = null_continue,
	.xxfi_abort = null_continue,
	.xxfi_close = null_continue,
	.xxfi_data = null_continue,
	.xxfi_negotiate = null_negotiate,
};

/* main - listen with TCP_NODELAY (as filterd does) and serve */
int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	pthread_attr_t attr;
	char spec[32];
	int fd, one = 1, port;

	if (argc != 2 || sscanf(argv[1], "inet:%d@127.0.0.1", &port) != 1) {
		fprintf(stderr, "usage: nullmilter inet:PORT@127.0.0.1\n");
		return 2;
	}
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 128) != 0) {
		perror("nullmilter");
		return 1;
	}
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setstacksize(&attr, 1024 * 1024) != 0 ||
	    pthread_setattr_default_np(&attr) != 0)
		return 1;
	snprintf(spec, sizeof(spec), "fd:%d", fd);
	if (smfi_setconn(spec) != MI_SUCCESS ||
	    smfi_register(null_desc) != MI_SUCCESS)
		return 1;
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
