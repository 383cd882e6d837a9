/*
 * dkim_tool.c - "posternctl dkim keygen|testkey" (see dkim_tool.h)
 *
 * keygen writes what opendkim-genkey writes (SELECTOR.private and
 * SELECTOR.txt in zone-file form), so instructions written for OpenDKIM
 * still apply, but it never overwrites a key: replacing a published key
 * by accident breaks every signature in flight.
 *
 * testkey answers the question opendkim-testkey answers, with the three
 * answers kept apart in the exit code: 0 the record matches the key, 1
 * the record is missing or wrong (the admin must publish something), 2
 * nothing can be said (DNS failed, the key file is bad), so that a
 * monitoring script never reads a resolver outage as "no record".
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "dkim_key.h"
#include "dkim_tool.h"
#include "dns.h"
#include "log.h"
#include "mem.h"

#define DKIM_TOOL_EXIT_OK	0
#define DKIM_TOOL_EXIT_FAIL	1	/* refused, no record, mismatch */
#define DKIM_TOOL_EXIT_ERROR	2	/* usage, DNS error, bad key file */

#define DKIM_TOOL_T_TXT		16
#define DKIM_TOOL_TXT_STRING	255	/* bytes in one TXT string */
#define DKIM_TOOL_DNS_TIMEOUT	5.0	/* seconds per attempt */
#define DKIM_TOOL_DNS_ATTEMPTS	2
#define DKIM_TOOL_RSA_BITS	2048	/* opendkim-genkey's default too */

/* The command line of either subcommand; NULL = not given. */
struct dkim_tool_args {
	const char *domain, *selector, *algorithm, *bits, *dir, *keyfile;
	struct conf_list servers;	/* -n, in the arena */
};

struct dkim_tool_cmd {
	const char *name;
	const char *options;		/* getopt's, after "+:" */
	int (*run)(struct arena *arena, const struct dkim_tool_args *args);
	const char *usage;
};

static int dkim_tool_keygen(struct arena *, const struct dkim_tool_args *);
static int dkim_tool_testkey(struct arena *, const struct dkim_tool_args *);

static const struct dkim_tool_cmd dkim_tool_cmds[] = {
	{
		.name = "keygen",
		.options = "d:s:a:b:o:",
		.run = dkim_tool_keygen,
		.usage = "keygen -d DOMAIN -s SELECTOR [-a rsa|ed25519] "
		    "[-b BITS] [-o DIR]",
	},
	{
		.name = "testkey",
		.options = "d:s:k:n:",
		.run = dkim_tool_testkey,
		.usage = "testkey -d DOMAIN -s SELECTOR -k KEYFILE "
		    "[-n SERVER]...",
	},
	{ 0 },
};

/* Key algorithms keygen offers (-a), by their k= names; the first is
 * the default. */
static const struct {
	enum dkim_key_type type;
	bool sized;			/* takes -b */
} dkim_tool_algs[] = {
	{ .type = DKIM_KEY_RSA, .sized = true },
	{ .type = DKIM_KEY_ED25519, .sized = false },
};

/* Options that take one value, and where it goes. */
static const struct {
	int letter;
	size_t offset;			/* of a const char * in args */
} dkim_tool_opts[] = {
	{ .letter = 'd', .offset = offsetof(struct dkim_tool_args, domain) },
	{ .letter = 's', .offset = offsetof(struct dkim_tool_args, selector) },
	{ .letter = 'a', .offset = offsetof(struct dkim_tool_args, algorithm) },
	{ .letter = 'b', .offset = offsetof(struct dkim_tool_args, bits) },
	{ .letter = 'o', .offset = offsetof(struct dkim_tool_args, dir) },
	{ .letter = 'k', .offset = offsetof(struct dkim_tool_args, keyfile) },
	{ 0 },
};

/* The option that may be repeated: DNS servers, into args->servers. */
#define DKIM_TOOL_LIST_OPTION	'n'

#define DKIM_TOOL_NALGS (sizeof(dkim_tool_algs) / sizeof(dkim_tool_algs[0]))

/* dkim_tool_usage - usage of every subcommand; exit code 2 */
static int
dkim_tool_usage(void)
{
	const struct dkim_tool_cmd *c;

	fprintf(stderr, "usage:\n");
	for (c = dkim_tool_cmds; c->name != NULL; c++)
		fprintf(stderr, "\tposternctl dkim %s\n", c->usage);
	return DKIM_TOOL_EXIT_ERROR;
}

/* dkim_tool_bad - one line saying what is wrong, then the usage */
static int __attribute__((format(printf, 2, 3)))
dkim_tool_bad(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "posternctl dkim %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return dkim_tool_usage();
}

/* dkim_tool_name_chars - only what a host name or selector may hold
 * (letters, digits, '-', '_', '.'): the selector becomes a file name
 * and both go into a zone file and a DNS query unquoted */
static bool
dkim_tool_name_chars(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		    *s == '.'))
			return false;
	return true;
}

/* dkim_tool_check_names - usable domain and selector; the record's name
 * in *name_r (without a trailing dot) or a usage error's exit code */
static int
dkim_tool_check_names(struct arena *arena, const char *cmd,
    const struct dkim_tool_args *args, const char **name_r)
{
	const char *name;
	size_t len;

	if (args->domain == NULL || args->selector == NULL)
		return dkim_tool_bad(cmd, "-d and -s are required");
	if (!dkim_tool_name_chars(args->domain))
		return dkim_tool_bad(cmd, "bad domain \"%s\"", args->domain);
	if (!dkim_tool_name_chars(args->selector))
		return dkim_tool_bad(cmd, "bad selector \"%s\"",
		    args->selector);
	/* empty labels (leading, doubled or a selector's trailing dot)
	 * and overlong ones show up in the whole name */
	name = arena_printf(arena, "%s._domainkey.%s", args->selector,
	    args->domain);
	if (!dns_name_valid(name))
		return dkim_tool_bad(cmd, "%s: not a valid DNS name", name);
	len = strlen(name);
	if (name[len - 1] == '.')
		name = arena_strndup(arena, name, len - 1);
	*name_r = name;
	return DKIM_TOOL_EXIT_OK;
}

/* dkim_tool_zone_text - the record as a zone-file line, opendkim-genkey's
 * layout: the tags before p=, then p= cut into strings of at most 255
 * bytes (RFC 1035 character-strings), a comment naming the key */
static const char *
dkim_tool_zone_text(struct arena *arena, const struct dkim_tool_args *args,
    const struct dkim_key *key)
{
	const char *record = dkim_key_record(arena, key);
	const char *p = strstr(record, "p=");
	struct buf b = { 0 };
	const char *text;
	size_t left, n;

	buf_printf(&b, "%s._domainkey\tIN\tTXT\t( \"%.*s\"", args->selector,
	    (int)(p - record), record);
	for (left = strlen(p); left > 0; p += n, left -= n) {
		n = left < DKIM_TOOL_TXT_STRING ? left : DKIM_TOOL_TXT_STRING;
		buf_printf(&b, "\n\t  \"%.*s\"", (int)n, p);
	}
	buf_printf(&b, " )  ; ----- DKIM key %s for %s\n", args->selector,
	    args->domain);
	text = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return text;
}

/* dkim_tool_create - a new file (never an existing one) with exactly
 * this mode; -1 after reporting */
static int
dkim_tool_create(const char *path, mode_t mode)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) < 0) {
		fprintf(stderr, "posternctl dkim keygen: %s: %s%s\n", path,
		    strerror(errno), errno == EEXIST ?
		    " (not overwritten)" : "");
		return -1;
	}
	/* the umask must not make the key readable by others, nor the
	 * record unreadable by the name server's user */
	if (fchmod(fd, mode) < 0) {
		fprintf(stderr, "posternctl dkim keygen: %s: %s\n", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* dkim_tool_write - all of text to fd, synced, and close fd; false
 * after reporting */
static bool
dkim_tool_write(int fd, const char *path, const char *text)
{
	size_t len = strlen(text), done = 0;
	ssize_t n;
	int err = 0;

	while (done < len && err == 0) {
		if ((n = write(fd, text + done, len - done)) >= 0)
			done += (size_t)n;
		else if (errno != EINTR)
			err = errno;
	}
	if (err == 0 && fsync(fd) < 0)
		err = errno;
	if (close(fd) < 0 && err == 0)
		err = errno;
	if (err != 0) {
		fprintf(stderr, "posternctl dkim keygen: %s: %s\n", path,
		    strerror(err));
		return false;
	}
	return true;
}

/* dkim_tool_keygen - a new key pair: DIR/SELECTOR.private and .txt */
static int
dkim_tool_keygen(struct arena *arena, const struct dkim_tool_args *args)
{
	const char *name, *dir = args->dir != NULL ? args->dir : ".";
	const char *private, *txt, *zone;
	unsigned long bits = DKIM_TOOL_RSA_BITS;
	struct dkim_key key;
	size_t a = 0;
	int rc, kfd, tfd;
	char *end, *error;

	if ((rc = dkim_tool_check_names(arena, "keygen", args, &name)) != 0)
		return rc;
	if (args->algorithm != NULL)
		for (a = 0; a < DKIM_TOOL_NALGS; a++)
			if (strcmp(args->algorithm, dkim_key_type_name(
			    dkim_tool_algs[a].type)) == 0)
				break;
	if (a == DKIM_TOOL_NALGS)
		return dkim_tool_bad("keygen", "unknown algorithm \"%s\"",
		    args->algorithm);
	if (args->bits != NULL) {
		if (!dkim_tool_algs[a].sized)
			return dkim_tool_bad("keygen", "-b is for rsa keys "
			    "only");
		errno = 0;
		bits = strtoul(args->bits, &end, 10);
		if (args->bits[0] < '0' || args->bits[0] > '9' ||
		    *end != '\0' || errno != 0 || bits > 65536)
			return dkim_tool_bad("keygen", "bad number of bits "
			    "\"%s\"", args->bits);
	}
	if (*dir == '\0')
		return dkim_tool_bad("keygen", "empty directory name");
	if (!dkim_key_generate(arena, dkim_tool_algs[a].type, (unsigned)bits,
	    &key, &error)) {
		fprintf(stderr, "posternctl dkim keygen: %s\n", error);
		free(error);
		return DKIM_TOOL_EXIT_FAIL;
	}
	zone = dkim_tool_zone_text(arena, args, &key);
	private = arena_printf(arena, "%s/%s.private", dir, args->selector);
	txt = arena_printf(arena, "%s/%s.txt", dir, args->selector);
	if ((kfd = dkim_tool_create(private, 0600)) < 0)
		return DKIM_TOOL_EXIT_FAIL;
	if ((tfd = dkim_tool_create(txt, 0644)) < 0) {
		close(kfd);
		unlink(private);
		return DKIM_TOOL_EXIT_FAIL;
	}
	if (!dkim_tool_write(kfd, private, key.pem)) {
		close(tfd);
		unlink(private);
		unlink(txt);
		return DKIM_TOOL_EXIT_FAIL;
	}
	if (!dkim_tool_write(tfd, txt, zone)) {
		unlink(private);
		unlink(txt);
		return DKIM_TOOL_EXIT_FAIL;
	}
	fputs(zone, stdout);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "posternctl dkim keygen: stdout: %s\n",
		    strerror(errno));
		return DKIM_TOOL_EXIT_FAIL;
	}
	return DKIM_TOOL_EXIT_OK;
}

/* dkim_tool_dns_destroy - arena cleanup of the resolver */
static void
dkim_tool_dns_destroy(void *arg)
{
	dns_destroy(arg);
}

/* dkim_tool_testkey - does the published record match the key file */
static int
dkim_tool_testkey(struct arena *arena, const struct dkim_tool_args *args)
{
	struct dns_settings settings = {
		.servers = args->servers,
		.timeout = DKIM_TOOL_DNS_TIMEOUT,
		.attempts = DKIM_TOOL_DNS_ATTEMPTS,
	};
	struct dns_answer answer;
	struct dkim_key key;
	struct dns **dnsp;
	const char *name, *text, *why;
	char *error;
	int rc;

	if ((rc = dkim_tool_check_names(arena, "testkey", args, &name)) != 0)
		return rc;
	if (args->keyfile == NULL)
		return dkim_tool_bad("testkey", "-k is required");
	if (!dkim_key_load(arena, args->keyfile, &key, &error)) {
		fprintf(stderr, "posternctl dkim testkey: %s\n", error);
		free(error);
		return DKIM_TOOL_EXIT_ERROR;
	}
	dnsp = arena_alloc(arena, sizeof(*dnsp));
	if ((*dnsp = dns_create(&settings, &error)) == NULL) {
		fprintf(stderr, "posternctl dkim testkey: %s\n", error);
		free(error);
		return DKIM_TOOL_EXIT_ERROR;
	}
	arena_cleanup(arena, dkim_tool_dns_destroy, dnsp);
	switch (dns_query(*dnsp, name, DKIM_TOOL_T_TXT, arena, &answer)) {
	case DNS_ERROR:
		fprintf(stderr, "posternctl dkim testkey: %s: DNS error: %s\n",
		    name, answer.why != NULL ? answer.why : "unknown");
		return DKIM_TOOL_EXIT_ERROR;
	case DNS_NOTFOUND:
		fprintf(stderr, "posternctl dkim testkey: %s: no such record "
		    "(%s)\n", name, answer.nxdomain ? "the name does not "
		    "exist" : "no TXT record at the name");
		return DKIM_TOOL_EXIT_FAIL;
	case DNS_FOUND:
		break;
	}
	/* verifiers may pick any one of several (RFC 6376 §3.6.2.2), so
	 * only a single record can be said to work */
	if (answer.n != 1) {
		fprintf(stderr, "posternctl dkim testkey: %s: %zu TXT "
		    "records; verifiers may use any one of them\n", name,
		    answer.n);
		return DKIM_TOOL_EXIT_FAIL;
	}
	if (!dns_txt_join(arena, answer.data[0], answer.len[0], &text)) {
		fprintf(stderr, "posternctl dkim testkey: %s: DNS error: "
		    "malformed TXT record\n", name);
		return DKIM_TOOL_EXIT_ERROR;
	}
	if (!dkim_key_check_record(&key, text, &why)) {
		fprintf(stderr, "posternctl dkim testkey: %s: %s\n", name,
		    why);
		return DKIM_TOOL_EXIT_FAIL;
	}
	printf("key OK\n");
	if (fflush(stdout) != 0)
		return DKIM_TOOL_EXIT_ERROR;
	return DKIM_TOOL_EXIT_OK;
}

/* dkim_tool_parse - the options of one subcommand into args; 0 or the
 * usage error's exit code */
static int
dkim_tool_parse(struct arena *arena, const struct dkim_tool_cmd *cmd,
    int argc, char **argv, struct dkim_tool_args *args)
{
	const char **slot;
	char *optstring;
	size_t i;
	int c;

	args->servers.items = arena_alloc(arena,
	    ((size_t)argc + 1) * sizeof(char *));
	/* "+": options first, as documented; ":": report a missing value
	 * ourselves */
	optstring = arena_printf(arena, "+:%s", cmd->options);
	optind = 1;
	opterr = 0;
	while ((c = getopt(argc, argv, optstring)) != -1) {
		if (c == ':')
			return dkim_tool_bad(cmd->name, "-%c needs a value",
			    optopt);
		if (c == '?')
			return dkim_tool_bad(cmd->name, "unknown option -%c",
			    optopt);
		if (c == DKIM_TOOL_LIST_OPTION) {
			args->servers.items[args->servers.n++] = optarg;
			continue;
		}
		for (i = 0; dkim_tool_opts[i].letter != 0; i++)
			if (dkim_tool_opts[i].letter == c)
				break;
		if (dkim_tool_opts[i].letter == 0)
			log_panic("dkim_tool: option -%c has no slot", c);
		slot = (const char **)((char *)args +
		    dkim_tool_opts[i].offset);
		if (*slot != NULL)
			return dkim_tool_bad(cmd->name, "-%c given twice", c);
		*slot = optarg;
	}
	if (optind != argc)
		return dkim_tool_bad(cmd->name, "unexpected argument \"%s\"",
		    argv[optind]);
	return 0;
}

/* dkim_tool_main - dispatch through the subcommand table */
int
dkim_tool_main(int argc, char **argv)
{
	const struct dkim_tool_cmd *c;
	struct dkim_tool_args args = { 0 };
	struct arena *arena;
	int rc;

	if (argc < 2)
		return dkim_tool_usage();
	for (c = dkim_tool_cmds; c->name != NULL; c++)
		if (strcmp(c->name, argv[1]) == 0)
			break;
	if (c->name == NULL)
		return dkim_tool_usage();
	arena = arena_create();
	rc = dkim_tool_parse(arena, c, argc - 1, argv + 1, &args);
	if (rc == 0)
		rc = c->run(arena, &args);
	arena_destroy(&arena);
	return rc;
}
