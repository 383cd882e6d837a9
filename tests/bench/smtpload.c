/*
 * smtpload.c - SMTP load generator that announces its client with XCLIENT
 *
 * Usage:
 *	smtpload [-s sessions] [-m messages] [-l body-bytes] [-a client-ip]
 *	    [-u tag] [-f sender] [-t recipient] [-H helo] [-F file] HOST:PORT
 *
 * smtp-source cannot say XCLIENT, and every test client sits on 127/8,
 * which libspf2 passes without asking DNS; a benchmark of DNS policies
 * therefore needs a client that tells Postfix (smtpd_authorized_xclient_
 * hosts) which address to present to the milter.  Each of -s threads runs
 * SMTP sessions of one message each until -m messages were sent:
 * greeting, EHLO, XCLIENT ADDR=..., EHLO, MAIL, RCPT, DATA, QUIT.
 *
 * With -a every session presents that address and -f as the sender.  With
 * -u TAG message n (counted from 0) presents 198.18.(n/250).(n%250+1)
 * (RFC 2544's benchmarking range, never routed anywhere: the address
 * only travels inside XCLIENT) and the sender bench@mN.TAG.DOMAIN, where
 * DOMAIN is the domain of -f: every message asks names nobody asked
 * before, the cold-cache case.
 *
 * With -F the message is the file's content (header and body, line ends
 * made CRLF, dots stuffed) instead of a generated one, e.g. a message
 * signed beforehand for a verification benchmark.
 *
 * Any reply other than the expected one ends the run with the dialogue
 * step and the reply on stderr and exit status 1.  Output: "name: value"
 * lines (messages, seconds, rate).
 *
 * A bench tool, not part of the product: libc and pthreads only.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct load {
	struct sockaddr_in server;
	unsigned long messages;
	const char *client_ip;
	const char *tag;
	const char *sender;
	const char *recipient;
	const char *helo;
	char *body;
	char *file;			/* -F: the whole message, or NULL */
	atomic_ulong next;
	atomic_bool failed;
};

struct session {
	int fd;
	char in[4096];
	size_t have;
};

/* load_die - report a setup error and exit */
static void
load_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("smtpload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* session_send - write all of text; false on error */
static bool
session_send(struct session *s, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(s->fd, text, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		text += n;
		len -= (size_t)n;
	}
	return true;
}

/* session_line - read one reply line into line (CRLF removed); false on
 * EOF or error */
static bool
session_line(struct session *s, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(s->in, '\n', s->have);

		if (nl != NULL) {
			size_t len = (size_t)(nl - s->in);
			size_t keep = len;

			if (keep > 0 && s->in[keep - 1] == '\r')
				keep--;
			if (keep >= size)
				keep = size - 1;
			memcpy(line, s->in, keep);
			line[keep] = '\0';
			s->have -= len + 1;
			memmove(s->in, nl + 1, s->have);
			return true;
		}
		if (s->have == sizeof(s->in))
			return false;	/* a line longer than any reply */
		ssize_t n = read(s->fd, s->in + s->have,
		    sizeof(s->in) - s->have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		s->have += (size_t)n;
	}
}

/* session_reply - read a (multi-line) reply; true when its code is want;
 * otherwise say which step got what */
static bool
session_reply(struct session *s, const char *want, const char *step)
{
	char line[1024];

	do {
		if (!session_line(s, line, sizeof(line))) {
			fprintf(stderr, "smtpload: %s: connection lost\n",
			    step);
			return false;
		}
	} while (strlen(line) > 3 && line[3] == '-');
	if (strncmp(line, want, 3) != 0) {
		fprintf(stderr, "smtpload: %s: %s\n", step, line);
		return false;
	}
	return true;
}

/* session_step - send a command line and expect a reply code */
static bool
session_step(struct session *s, const char *cmd, const char *want)
{
	char line[1200];
	int n = snprintf(line, sizeof(line), "%s\r\n", cmd);

	if (n < 0 || (size_t)n >= sizeof(line))
		return false;
	return session_send(s, line, (size_t)n) &&
	    session_reply(s, want, cmd);
}

/* load_message - one SMTP session carrying message number n */
static bool
load_message(struct load *L, unsigned long n)
{
	struct session s = { .fd = -1 };
	char ip[64], from[512], cmd[1024];
	const char *domain = strchr(L->sender, '@');
	bool ok = false;
	int one = 1;

	if (L->tag != NULL) {
		snprintf(ip, sizeof(ip), "198.18.%lu.%lu", n / 250 % 256,
		    n % 250 + 1);
		snprintf(from, sizeof(from), "bench@m%lu.%s.%s", n, L->tag,
		    domain != NULL ? domain + 1 : L->sender);
	} else {
		snprintf(ip, sizeof(ip), "%s", L->client_ip);
		snprintf(from, sizeof(from), "%s", L->sender);
	}
	s.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s.fd < 0)
		return false;
	setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s.fd, (struct sockaddr *)&L->server,
	    sizeof(L->server)) != 0) {
		perror("smtpload: connect");
		goto out;
	}
	if (!session_reply(&s, "220", "greeting"))
		goto out;
	snprintf(cmd, sizeof(cmd), "EHLO %s", L->helo);
	if (!session_step(&s, cmd, "250"))
		goto out;
	if (ip[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "XCLIENT ADDR=%s", ip);
		if (!session_step(&s, cmd, "220"))
			goto out;
		snprintf(cmd, sizeof(cmd), "EHLO %s", L->helo);
		if (!session_step(&s, cmd, "250"))
			goto out;
	}
	snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>", from);
	if (!session_step(&s, cmd, "250"))
		goto out;
	snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>", L->recipient);
	if (!session_step(&s, cmd, "250") ||
	    !session_step(&s, "DATA", "354"))
		goto out;
	if (L->file != NULL) {
		if (!session_send(&s, L->file, strlen(L->file)) ||
		    !session_step(&s, ".", "250"))
			goto out;
	} else {
		snprintf(cmd, sizeof(cmd), "From: <%s>\r\nTo: <%s>\r\n"
		    "Subject: smtpload %lu\r\n\r\n", from, L->recipient, n);
		if (!session_send(&s, cmd, strlen(cmd)) ||
		    !session_send(&s, L->body, strlen(L->body)) ||
		    !session_step(&s, ".", "250"))
			goto out;
	}
	ok = session_step(&s, "QUIT", "221");
out:
	close(s.fd);
	return ok;
}

/* load_thread - sessions until the message count is reached */
static void *
load_thread(void *arg)
{
	struct load *L = arg;

	while (!atomic_load(&L->failed)) {
		unsigned long n = atomic_fetch_add(&L->next, 1);

		if (n >= L->messages)
			break;
		if (!load_message(L, n))
			atomic_store(&L->failed, true);
	}
	return NULL;
}

/* load_body - LEN bytes of 72-column text lines ending in CRLF */
static char *
load_body(size_t len)
{
	char *b = malloc(len + 3);
	size_t i = 0;

	if (b == NULL)
		load_die("out of memory");
	while (i < len) {
		size_t col = 0;

		while (i < len && col < 72) {
			b[i] = (char)('a' + (i + col) % 26);
			i++;
			col++;
		}
		b[i++] = '\r';
		b[i++] = '\n';
	}
	b[i] = '\0';
	return b;
}

/* load_file - a message file as DATA content: CRLF line ends, lines
 * starting with a dot doubled, a final line end */
static char *
load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0;
	char *out;
	int c, prev = '\n';

	if (f == NULL)
		load_die("cannot open %s", path);
	if ((out = malloc(cap)) == NULL)
		load_die("out of memory");
	while ((c = getc(f)) != EOF) {
		if (n + 4 >= cap && (out = realloc(out, cap *= 2)) == NULL)
			load_die("out of memory");
		if (c == '\r')
			continue;
		if (prev == '\n' && c == '.')
			out[n++] = '.';
		if (c == '\n')
			out[n++] = '\r';
		out[n++] = (char)c;
		prev = c;
	}
	fclose(f);
	if (prev != '\n') {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	out[n] = '\0';
	return out;
}

/* load_address - HOST:PORT into an IPv4 socket address */
static void
load_address(const char *spec, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(spec, ':');

	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
		load_die("bad server %s (HOST:PORT)", spec);
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		load_die("bad server address %s", host);
}

/* main - parse options, run the threads, print the figures */
int
main(int argc, char **argv)
{
	struct load L = {
		.messages = 1000, .client_ip = "", .sender = "bench@example.org",
		.recipient = "user@ours.example", .helo = "client.example",
	};
	unsigned long sessions = 10, body = 1024;
	struct timespec t0, t1;
	pthread_t *tids;
	int opt;

	while ((opt = getopt(argc, argv, "s:m:l:a:u:f:t:H:F:")) != -1) {
		switch (opt) {
		case 's': sessions = strtoul(optarg, NULL, 10); break;
		case 'm': L.messages = strtoul(optarg, NULL, 10); break;
		case 'l': body = strtoul(optarg, NULL, 10); break;
		case 'a': L.client_ip = optarg; break;
		case 'u': L.tag = optarg; break;
		case 'f': L.sender = optarg; break;
		case 't': L.recipient = optarg; break;
		case 'H': L.helo = optarg; break;
		case 'F': L.file = load_file(optarg); break;
		default: load_die("usage: smtpload [-s sessions] [-m messages] "
		    "[-l body-bytes] [-a client-ip] [-u tag] [-f sender] "
		    "[-t recipient] [-H helo] [-F file] HOST:PORT");
		}
	}
	if (optind != argc - 1 || sessions == 0 || sessions > 1000)
		load_die("one HOST:PORT and 1 to 1000 sessions");
	load_address(argv[optind], &L.server);
	L.body = load_body(body);
	tids = calloc(sessions, sizeof(*tids));
	if (tids == NULL)
		load_die("out of memory");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < sessions; i++)
		if (pthread_create(&tids[i], NULL, load_thread, &L) != 0)
			load_die("cannot start thread %lu", i);
	for (unsigned long i = 0; i < sessions; i++)
		pthread_join(tids[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("messages: %lu\nseconds: %.3f\nrate: %.1f\n", L.messages, secs,
	    (double)L.messages / secs);
	free(tids);
	free(L.body);
	free(L.file);
	return atomic_load(&L.failed) ? 1 : 0;
}
