/*
 * queue_tool.c - "posternctl queue": list, show, hold, release and
 * delete queued mail (see queue_tool.h)
 *
 * Only queue_directory is read from mta.conf, through a one-row settings
 * table; the rest of the file belongs to postern-mta, which judges it
 * (so no conf_finish here: its other settings are not unknown, just not
 * ours).
 *
 * A listing is collected before it is printed, so that a directory error
 * half way leaves stdout empty rather than with a listing that looks
 * complete. "show" streams the body instead: a message can be larger
 * than the memory anyone wants to spend on looking at it.
 *
 * Text output replaces control characters in envelope strings with '?'
 * so that an address cannot forge lines; JSON escapes them (RFC 8259)
 * and replaces bytes that are not UTF-8 with U+FFFD, so that every line
 * is valid JSON whatever a client put into an address.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "message.h"
#include "queue.h"
#include "queue_tool.h"
#include "spool.h"

#define QUEUE_TOOL_OK		0
#define QUEUE_TOOL_MISSING	1	/* a named message is not there */
#define QUEUE_TOOL_ERROR	2	/* usage, config, I/O */

#define QUEUE_TOOL_CONFIG	SYSCONFDIR_POSTERN "/mta.conf"
#define QUEUE_TOOL_DIRECTORY	"/var/spool/postern"
#define QUEUE_TOOL_YEAR_MAX	9999	/* times keep four digits */
#define QUEUE_TOOL_CHUNK	65536	/* body bytes per read in show */

struct queue_tool_settings {
	char *queue_directory;
};

static const struct conf_setting queue_tool_settings[] = {
	{
		.name = "queue_directory",
		.type = CONF_STRING,
		.def = QUEUE_TOOL_DIRECTORY,
		.offset = offsetof(struct queue_tool_settings,
		    queue_directory),
		.help = "where the queue directories are",
	},
	{ 0 },
};

/* the recipient states of a queue file, for people */
static const struct {
	char state;
	const char *name;
} queue_tool_states[] = {
	{ .state = 'P', .name = "pending" },
	{ .state = 'W', .name = "delayed" },	/* pending, delay DSN sent */
	{ .state = 'D', .name = "delivered" },
	{ .state = 'B', .name = "bounced" },
	{ .state = 'X', .name = "expanded" },
	{ 0 },
};

/* NOTIFY bits, for show */
static const struct {
	unsigned bit;
	const char *name;
} queue_tool_notify[] = {
	{ .bit = MESSAGE_NOTIFY_NEVER, .name = "NEVER" },
	{ .bit = MESSAGE_NOTIFY_SUCCESS, .name = "SUCCESS" },
	{ .bit = MESSAGE_NOTIFY_FAILURE, .name = "FAILURE" },
	{ .bit = MESSAGE_NOTIFY_DELAY, .name = "DELAY" },
	{ 0 },
};

/* What every command gets. */
struct queue_tool {
	const char *cmd;		/* for messages */
	struct queue *q;
	struct arena *arena;
	struct buf out;			/* stdout, written at the end */
	bool json;			/* list --json */
	uint64_t bytes;			/* list: total size */
	int count;			/* list: messages listed */
};

struct queue_tool_cmd {
	const char *name;
	int min_args, max_args;		/* max -1: any number */
	bool options;			/* takes words starting with '-' */
	int (*run)(struct queue_tool *qt, int argc, char **argv);
	const char *usage;		/* after the command's name */
};

static int queue_tool_list(struct queue_tool *, int, char **);
static int queue_tool_show(struct queue_tool *, int, char **);
static int queue_tool_hold(struct queue_tool *, int, char **);
static int queue_tool_release(struct queue_tool *, int, char **);
static int queue_tool_delete(struct queue_tool *, int, char **);
static int queue_tool_flush(struct queue_tool *, int, char **);
static int queue_tool_requeue(struct queue_tool *, int, char **);

static const struct queue_tool_cmd queue_tool_cmds[] = {
	{
		.name = "list", .min_args = 0, .max_args = 1, .options = true,
		.run = queue_tool_list, .usage = "[--json]",
	},
	{
		.name = "show", .min_args = 1, .max_args = 1,
		.run = queue_tool_show, .usage = "ID",
	},
	{
		.name = "hold", .min_args = 1, .max_args = -1,
		.run = queue_tool_hold, .usage = "ID...",
	},
	{
		.name = "release", .min_args = 1, .max_args = -1,
		.run = queue_tool_release, .usage = "ID...",
	},
	{
		.name = "delete", .min_args = 1, .max_args = -1,
		.run = queue_tool_delete, .usage = "ID...",
	},
	{
		.name = "flush", .min_args = 0, .max_args = 0,
		.run = queue_tool_flush, .usage = "",
	},
	{
		.name = "requeue", .min_args = 1, .max_args = -1,
		.run = queue_tool_requeue, .usage = "ID...",
	},
	{ 0 },
};

/* queue_tool_usage - every command's usage; exit status 2 */
static int
queue_tool_usage(void)
{
	const struct queue_tool_cmd *c;

	fprintf(stderr, "usage:\n");
	for (c = queue_tool_cmds; c->name != NULL; c++)
		fprintf(stderr, "\tposternctl queue [-c FILE] [-d "
		    "QUEUE_DIRECTORY] %s %s\n", c->name, c->usage);
	return QUEUE_TOOL_ERROR;
}

/* queue_tool_say - "posternctl queue CMD: [ID: ]TEXT" on stderr */
static void __attribute__((format(printf, 3, 4)))
queue_tool_say(const struct queue_tool *qt, const char *id, const char *fmt,
    ...)
{
	va_list ap;

	fprintf(stderr, "posternctl queue %s: ", qt->cmd);
	if (id != NULL)
		fprintf(stderr, "%s: ", id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* --- text ----------------------------------------------------------------- */

/* queue_tool_text - s for a line of text output: control characters
 * become '?' */
static void
queue_tool_text(struct buf *b, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		buf_putc(b, *p < 0x20 || *p == 0x7f ? '?' : (char)*p);
}

/* queue_tool_utf8 - length of the well-formed UTF-8 sequence at p (RFC
 * 3629: no overlongs, no surrogates, nothing past U+10FFFF), 0 if none */
static size_t
queue_tool_utf8(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (*p >= 0xC2 && *p <= 0xDF)
		n = 2;
	else if (*p >= 0xE0 && *p <= 0xEF)
		n = 3;
	else if (*p >= 0xF0 && *p <= 0xF4)
		n = 4;
	else
		return 0;
	if (*p == 0xE0)
		lo = 0xA0;
	else if (*p == 0xED)
		hi = 0x9F;
	else if (*p == 0xF0)
		lo = 0x90;
	else if (*p == 0xF4)
		hi = 0x8F;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

/* queue_tool_json_string - s as a JSON string (NULL: null) */
static void
queue_tool_json_string(struct buf *b, const char *s)
{
	static const char *const short_escapes[0x20] = {
		['\b'] = "\\b", ['\f'] = "\\f", ['\n'] = "\\n",
		['\r'] = "\\r", ['\t'] = "\\t",
	};
	const unsigned char *p;
	size_t n;

	if (s == NULL) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '"');
	for (p = (const unsigned char *)s; *p != '\0';) {
		if (*p == '"' || *p == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)*p++);
		} else if (*p < 0x20) {
			if (short_escapes[*p] != NULL)
				buf_puts(b, short_escapes[*p]);
			else
				buf_printf(b, "\\u%04x", *p);
			p++;
		} else if (*p < 0x80) {
			buf_putc(b, (char)*p++);
		} else if ((n = queue_tool_utf8(p)) > 0) {
			buf_append(b, p, n);
			p += n;
		} else {
			buf_puts(b, "\\ufffd");
			p++;
		}
	}
	buf_putc(b, '"');
}

/* queue_tool_time - UTC time of us: "YYYY-MM-DD HH:MM:SS" (sep ' '),
 * ISO 8601 "YYYY-MM-DDTHH:MM:SSZ" (sep 'T'), with .UUUUUU before the Z
 * when micro; a time no such form can hold as the number */
static void
queue_tool_time(struct buf *b, uint64_t us, char sep, bool micro)
{
	time_t t = (time_t)(us / 1000000u);
	char text[40];
	struct tm tm;

	if ((uint64_t)t != us / 1000000u || gmtime_r(&t, &tm) == NULL ||
	    tm.tm_year > QUEUE_TOOL_YEAR_MAX - 1900 ||
	    strftime(text, sizeof(text), sep == 'T' ? "%Y-%m-%dT%H:%M:%S" :
	    "%Y-%m-%d %H:%M:%S", &tm) == 0) {
		buf_printf(b, "%" PRIu64, us);
		return;
	}
	buf_puts(b, text);
	if (micro)
		buf_printf(b, ".%06u", (unsigned)(us % 1000000u));
	if (sep == 'T')
		buf_putc(b, 'Z');
}

/* queue_tool_state - a recipient state's name */
static const char *
queue_tool_state(char state)
{
	size_t i;

	for (i = 0; queue_tool_states[i].name != NULL; i++)
		if (queue_tool_states[i].state == state)
			return queue_tool_states[i].name;
	return "unknown";
}

/* --- settings ------------------------------------------------------------- */

/* queue_tool_conf - queue_directory from path (NULL: the default file,
 * which may be missing) into set; false after reporting */
static bool
queue_tool_conf(const char *path, struct queue_tool_settings *set,
    struct arena *arena)
{
	struct conf_errors err = { 0 };
	struct conf_file *cf = NULL;
	const char *p;
	struct stat st;

	/* only the default file may be absent: a mistyped -c is an error */
	if (path != NULL || stat(QUEUE_TOOL_CONFIG, &st) == 0 ||
	    errno != ENOENT)
		cf = conf_load(path != NULL ? path : QUEUE_TOOL_CONFIG, &err);
	if (cf != NULL || err.count == 0)
		(void)conf_apply(cf, "", queue_tool_settings, set, arena,
		    &err);
	conf_file_free(&cf);
	if (err.count == 0)
		return true;
	conf_errors_sort(&err);
	for (p = buf_cstr(&err.text); *p != '\0'; p += strcspn(p, "\n") + 1)
		fprintf(stderr, "posternctl queue: %.*s\n",
		    (int)strcspn(p, "\n"), p);
	conf_errors_free(&err);
	return false;
}

/* queue_tool_open - the queue at dir, which must exist whole: the tool
 * never creates one (a mistyped -d must not make a queue) */
static struct queue *
queue_tool_open(const char *dir)
{
	char path[4096];
	struct queue *q;
	struct stat st;
	char *why;
	int i;

	for (i = -1; i < QUEUE_COUNT; i++) {
		snprintf(path, sizeof(path), "%s%s%s", dir, i < 0 ? "" : "/",
		    i < 0 ? "" : queue_name_of((enum queue_name)i));
		if (stat(path, &st) < 0) {
			fprintf(stderr, "posternctl queue: %s: %s\n", path,
			    strerror(errno));
			return NULL;
		}
		if (!S_ISDIR(st.st_mode)) {
			fprintf(stderr, "posternctl queue: %s: not a "
			    "directory\n", path);
			return NULL;
		}
	}
	if ((q = queue_open(dir, -1, -1, &why)) == NULL) {
		fprintf(stderr, "posternctl queue: %s\n", why);
		free(why);
	}
	return q;
}

/* --- list ----------------------------------------------------------------- */

/* queue_tool_list_text - one message, mailq style */
static void
queue_tool_list_text(struct queue_tool *qt, const struct queue_entry *e,
    const char *why)
{
	struct buf *b = &qt->out;
	const struct message *m = e->msg;
	size_t i;

	if (qt->count == 0)
		buf_puts(b, "-Queue ID------- -Queue-- --Size-- "
		    "---Arrival (UTC)---  -Sender/Recipient-------\n");
	else
		buf_putc(b, '\n');
	buf_printf(b, "%-16s %-8s %8" PRIu64 " ", e->id,
	    queue_name_of(e->queue), e->size);
	if (m == NULL) {
		buf_puts(b, "unreadable: ");
		queue_tool_text(b, why);
		buf_putc(b, '\n');
		return;
	}
	queue_tool_time(b, e->arrival_us, ' ', false);
	buf_puts(b, "  ");
	queue_tool_text(b, m->sender[0] == '\0' ? "<>" : m->sender);
	buf_putc(b, '\n');
	for (i = 0; i < m->n_rcpts; i++) {
		buf_printf(b, "    %-9s ", queue_tool_state(e->rcpt_states[i]));
		queue_tool_text(b, m->rcpts[i].addr);
		buf_putc(b, '\n');
	}
	if (m->quarantine != NULL) {
		buf_puts(b, "    quarantine: ");
		queue_tool_text(b, m->quarantine);
		buf_putc(b, '\n');
	}
}

/* queue_tool_list_json - one message, one line */
static void
queue_tool_list_json(struct queue_tool *qt, const struct queue_entry *e,
    const char *why)
{
	struct buf *b = &qt->out;
	const struct message *m = e->msg;
	size_t i;

	buf_printf(b, "{\"id\":\"%s\",\"queue\":\"%s\",\"size\":%" PRIu64,
	    e->id, queue_name_of(e->queue), e->size);
	if (m == NULL) {
		buf_puts(b, ",\"error\":");
		queue_tool_json_string(b, why);
		buf_puts(b, "}\n");
		return;
	}
	buf_puts(b, ",\"arrival\":\"");
	queue_tool_time(b, e->arrival_us, 'T', false);
	buf_puts(b, "\",\"sender\":");
	queue_tool_json_string(b, m->sender);
	buf_puts(b, ",\"recipients\":[");
	for (i = 0; i < m->n_rcpts; i++) {
		buf_puts(b, i > 0 ? ",{\"address\":" : "{\"address\":");
		queue_tool_json_string(b, m->rcpts[i].addr);
		buf_printf(b, ",\"state\":\"%s\"}",
		    queue_tool_state(e->rcpt_states[i]));
	}
	buf_puts(b, "],\"quarantine\":");
	queue_tool_json_string(b, m->quarantine);
	buf_puts(b, "}\n");
}

/* queue_tool_list_one - the queue_list callback */
static bool
queue_tool_list_one(const struct queue_entry *e, const char *why, void *ctx)
{
	struct queue_tool *qt = ctx;

	if (qt->json)
		queue_tool_list_json(qt, e, why);
	else
		queue_tool_list_text(qt, e, why);
	qt->count++;
	qt->bytes += e->size;
	return true;
}

/* queue_tool_list - "list [--json]" */
static int
queue_tool_list(struct queue_tool *qt, int argc, char **argv)
{
	if (argc == 1) {
		if (strcmp(argv[0], "--json") != 0)
			return queue_tool_usage();
		qt->json = true;
	}
	if (queue_list(qt->q, queue_tool_list_one, qt) < 0) {
		queue_tool_say(qt, NULL, "cannot read the queue: %s",
		    strerror(errno));
		buf_reset(&qt->out);
		return QUEUE_TOOL_ERROR;
	}
	if (qt->json)
		return QUEUE_TOOL_OK;
	if (qt->count == 0)
		buf_puts(&qt->out, "Mail queue is empty\n");
	else
		buf_printf(&qt->out, "\n-- %" PRIu64 " Kbytes in %d "
		    "Request%s.\n", (qt->bytes + 1023) / 1024, qt->count,
		    qt->count == 1 ? "" : "s");
	return QUEUE_TOOL_OK;
}

/* --- show ----------------------------------------------------------------- */

/* queue_tool_line - "name: value" with control characters masked, if
 * value is set */
static void
queue_tool_line(struct buf *b, const char *name, const char *value)
{
	if (value == NULL)
		return;
	buf_printf(b, "%s: ", name);
	queue_tool_text(b, value);
	buf_putc(b, '\n');
}

/* queue_tool_envelope - what show prints before the message */
static void
queue_tool_envelope(struct buf *b, const struct queue_entry *e)
{
	static const char *const ret[] = {
		[MESSAGE_RET_FULL] = "FULL", [MESSAGE_RET_HDRS] = "HDRS",
	};
	static const char *const body[] = {
		[MESSAGE_BODY_7BIT] = "7BIT",
		[MESSAGE_BODY_8BITMIME] = "8BITMIME",
		[MESSAGE_BODY_BINARYMIME] = "BINARYMIME",
	};
	const struct message *m = e->msg;
	const struct message_rcpt *r;
	char port[16];
	size_t i, k;
	bool first;

	buf_printf(b, "queue_id: %s\nqueue: %s\nsize: %" PRIu64 "\n"
	    "arrival: ", e->id, queue_name_of(e->queue), e->size);
	queue_tool_time(b, e->arrival_us, 'T', true);
	buf_putc(b, '\n');
	snprintf(port, sizeof(port), "%u", e->attrs.client_port);
	queue_tool_line(b, "client_name", e->attrs.client_name);
	queue_tool_line(b, "client_addr", e->attrs.client_addr);
	queue_tool_line(b, "client_port",
	    e->attrs.client_port != 0 ? port : NULL);
	queue_tool_line(b, "helo", e->attrs.helo);
	queue_tool_line(b, "protocol", e->attrs.protocol);
	queue_tool_line(b, "auth_user", e->attrs.auth_user);
	queue_tool_line(b, "tls", e->attrs.tls);
	queue_tool_line(b, "ret", ret[m->ret]);
	queue_tool_line(b, "envid", m->envid);
	queue_tool_line(b, "body", body[m->body_type]);
	queue_tool_line(b, "smtputf8", m->smtputf8 ? "yes" : NULL);
	queue_tool_line(b, "sender", m->sender[0] == '\0' ? "<>" : m->sender);
	for (i = 0; i < m->n_rcpts; i++) {
		r = &m->rcpts[i];
		buf_puts(b, "recipient: ");
		queue_tool_text(b, r->addr);
		buf_printf(b, " state=%s", queue_tool_state(e->rcpt_states[i]));
		for (k = 0, first = true; queue_tool_notify[k].name != NULL;
		    k++)
			if ((r->notify & queue_tool_notify[k].bit) != 0) {
				buf_printf(b, "%s%s", first ? " notify=" : ",",
				    queue_tool_notify[k].name);
				first = false;
			}
		if (r->orcpt != NULL) {
			buf_puts(b, " orcpt=");
			queue_tool_text(b, r->orcpt);
		}
		if (r->params != NULL) {
			buf_puts(b, " params=");
			queue_tool_text(b, r->params);
		}
		buf_putc(b, '\n');
	}
	queue_tool_line(b, "quarantine", m->quarantine);
	buf_putc(b, '\n');
}

/* queue_tool_unfold - text with CR LF line ends as LF ends into b; *cr
 * carries a CR at the end of one piece to the next */
static void
queue_tool_unfold(struct buf *b, const char *p, size_t len, bool *cr)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (*cr && p[i] != '\n')
			buf_putc(b, '\r');
		*cr = p[i] == '\r';
		if (!*cr)
			buf_putc(b, p[i]);
	}
}

/* queue_tool_write - b to stdout, then empty; false on an error */
static bool
queue_tool_write(struct buf *b)
{
	bool ok = fwrite(b->data != NULL ? b->data : "", 1, b->len, stdout) ==
	    b->len;

	buf_reset(b);
	return ok;
}

/*
 * queue_tool_show - "show ID": the envelope, then the message as it will
 * be delivered (header fields in order, our Received: included, the empty
 * line, the body), with LF line ends for the terminal
 */
static int
queue_tool_show(struct queue_tool *qt, int argc, char **argv)
{
	struct queue_entry e;
	const struct message *m;
	struct buf b = { 0 };
	const char *why = NULL;
	char *chunk;
	uint64_t off = 0;
	ssize_t n;
	size_t i;
	bool cr = false, ok;
	int rc;

	(void)argc;
	rc = queue_read(qt->q, argv[0], true, P_tmpdir, qt->arena, &e, &why);
	if (rc == 0) {
		queue_tool_say(qt, argv[0], "no such message");
		return QUEUE_TOOL_MISSING;
	}
	if (rc < 0) {
		queue_tool_say(qt, argv[0], "%s", why);
		return QUEUE_TOOL_ERROR;
	}
	m = e.msg;
	queue_tool_envelope(&b, &e);
	for (i = 0; i < m->n_headers; i++) {
		buf_printf(&b, "%s:", m->headers[i].name);
		queue_tool_unfold(&b, m->headers[i].value,
		    strlen(m->headers[i].value), &cr);
		if (cr)
			buf_putc(&b, '\r');
		cr = false;
		buf_putc(&b, '\n');
	}
	buf_putc(&b, '\n');
	ok = queue_tool_write(&b);
	chunk = arena_alloc(qt->arena, QUEUE_TOOL_CHUNK);
	while (ok && (n = spool_read(m->body, off, chunk,
	    QUEUE_TOOL_CHUNK)) > 0) {
		off += (uint64_t)n;
		queue_tool_unfold(&b, chunk, (size_t)n, &cr);
		ok = queue_tool_write(&b);
	}
	if (ok && off < spool_size(m->body)) {
		queue_tool_say(qt, argv[0], "%s", spool_error(m->body));
		buf_free(&b);
		return QUEUE_TOOL_ERROR;
	}
	if (cr)
		buf_putc(&b, '\r');
	ok = ok && queue_tool_write(&b);
	buf_free(&b);
	if (!ok) {
		queue_tool_say(qt, NULL, "cannot write the output");
		return QUEUE_TOOL_ERROR;
	}
	return QUEUE_TOOL_OK;
}

/* --- hold, release, delete ------------------------------------------------ */

/* queue_tool_worse - the more serious of two exit statuses */
static int
queue_tool_worse(int a, int b)
{
	return a > b ? a : b;
}

/* queue_tool_id_ok - a well-formed id, or say so */
static bool
queue_tool_id_ok(const struct queue_tool *qt, const char *id)
{
	if (queue_id_valid(id))
		return true;
	queue_tool_say(qt, id, "not a queue id");
	return false;
}

/*
 * queue_tool_move_one - move id to to, from any queue that from_ok
 * allows; the queue manager may move it at the same time, so a message
 * that left the queue it was found in is looked for again
 */
static int
queue_tool_move_one(struct queue_tool *qt, const char *id,
    bool (*from_ok)(enum queue_name), enum queue_name to)
{
	enum queue_name where;
	int tries;

	if (!queue_tool_id_ok(qt, id))
		return QUEUE_TOOL_MISSING;
	for (tries = 0; tries < 3; tries++) {
		switch (queue_find(qt->q, id, &where)) {
		case 0:
			queue_tool_say(qt, id, "no such message");
			return QUEUE_TOOL_MISSING;
		case -1:
			queue_tool_say(qt, id, "%s", strerror(errno));
			return QUEUE_TOOL_ERROR;
		}
		if (!from_ok(where)) {
			queue_tool_say(qt, id, "is in %s/, not moved",
			    queue_name_of(where));
			return QUEUE_TOOL_MISSING;
		}
		if (where == to)
			return QUEUE_TOOL_OK;
		switch (queue_move(qt->q, id, where, to)) {
		case 1:
			return QUEUE_TOOL_OK;
		case -1:
			queue_tool_say(qt, id, "%s", strerror(errno));
			return QUEUE_TOOL_ERROR;
		}
	}
	queue_tool_say(qt, id, "keeps moving; try again");
	return QUEUE_TOOL_ERROR;
}

/* queue_tool_holdable - hold takes mail that is waiting or in delivery
 * (and leaves held mail where it is) */
static bool
queue_tool_holdable(enum queue_name q)
{
	return q == QUEUE_INCOMING || q == QUEUE_ACTIVE ||
	    q == QUEUE_DEFERRED || q == QUEUE_HOLD;
}

/* queue_tool_deferred - requeue takes deferred mail */
static bool
queue_tool_deferred(enum queue_name q)
{
	return q == QUEUE_DEFERRED;
}

/* queue_tool_flush_one - queue_due callback: deferred to incoming/,
 * where the queue manager takes it at once */
static bool
queue_tool_flush_one(const char *id, time_t mtime, void *ctx)
{
	struct queue_tool *qt = ctx;

	(void)mtime;
	if (queue_move(qt->q, id, QUEUE_DEFERRED, QUEUE_INCOMING) < 0)
		fprintf(stderr, "posternctl queue: %s: %s\n", id,
		    strerror(errno));
	return true;
}

/* queue_tool_flush - "flush": every deferred message is tried now */
static int
queue_tool_flush(struct queue_tool *qt, int argc, char **argv)
{
	int n;

	(void)argc;
	(void)argv;
	n = queue_due(qt->q, QUEUE_DEFERRED, 0, queue_tool_flush_one, qt);
	if (n < 0) {
		fprintf(stderr, "posternctl queue: deferred/: %s\n",
		    strerror(errno));
		return QUEUE_TOOL_ERROR;
	}
	printf("%d message%s flushed\n", n, n == 1 ? "" : "s");
	return QUEUE_TOOL_OK;
}

/* queue_tool_requeue - "requeue ID...": deferred mail tried now */
static int
queue_tool_requeue(struct queue_tool *qt, int argc, char **argv)
{
	int i, rc = QUEUE_TOOL_OK;

	for (i = 0; i < argc; i++)
		rc = queue_tool_worse(rc, queue_tool_move_one(qt, argv[i],
		    queue_tool_deferred, QUEUE_INCOMING));
	return rc;
}

/* queue_tool_held - release takes held mail only */
static bool
queue_tool_held(enum queue_name q)
{
	return q == QUEUE_HOLD;
}

/* queue_tool_hold - "hold ID..." */
static int
queue_tool_hold(struct queue_tool *qt, int argc, char **argv)
{
	int i, rc = QUEUE_TOOL_OK;

	for (i = 0; i < argc; i++)
		rc = queue_tool_worse(rc, queue_tool_move_one(qt, argv[i],
		    queue_tool_holdable, QUEUE_HOLD));
	return rc;
}

/* queue_tool_release - "release ID...": back to incoming/, where the
 * queue manager picks it up as new; a message not on hold is not there
 * for release to find */
static int
queue_tool_release(struct queue_tool *qt, int argc, char **argv)
{
	int i, rc = QUEUE_TOOL_OK;

	for (i = 0; i < argc; i++)
		rc = queue_tool_worse(rc, queue_tool_move_one(qt, argv[i],
		    queue_tool_held, QUEUE_INCOMING));
	return rc;
}

/* queue_tool_delete - "delete ID..." */
static int
queue_tool_delete(struct queue_tool *qt, int argc, char **argv)
{
	int i, rc = QUEUE_TOOL_OK;

	for (i = 0; i < argc; i++) {
		if (!queue_tool_id_ok(qt, argv[i])) {
			rc = queue_tool_worse(rc, QUEUE_TOOL_MISSING);
			continue;
		}
		switch (queue_delete(qt->q, argv[i])) {
		case 0:
			queue_tool_say(qt, argv[i], "no such message");
			rc = queue_tool_worse(rc, QUEUE_TOOL_MISSING);
			break;
		case -1:
			queue_tool_say(qt, argv[i], "%s", strerror(errno));
			rc = QUEUE_TOOL_ERROR;
			break;
		}
	}
	return rc;
}

/* --- the command line ----------------------------------------------------- */

/* queue_tool_run - open the queue, run the command, print its output */
static int
queue_tool_run(const struct queue_tool_cmd *cmd, const char *dir, int argc,
    char **argv)
{
	struct queue_tool qt = { .cmd = cmd->name };
	int ret;

	if ((qt.q = queue_tool_open(dir)) == NULL)
		return QUEUE_TOOL_ERROR;
	qt.arena = arena_create();
	ret = cmd->run(&qt, argc, argv);
	if (!queue_tool_write(&qt.out) || fflush(stdout) != 0) {
		queue_tool_say(&qt, NULL, "cannot write the output");
		ret = QUEUE_TOOL_ERROR;
	}
	buf_free(&qt.out);
	arena_destroy(&qt.arena);
	queue_close(&qt.q);
	return ret;
}

/* queue_tool_args_ok - argument count within the command's range, and
 * no option where an id belongs ("--json" is list's, checked there) */
static bool
queue_tool_args_ok(const struct queue_tool_cmd *cmd, int argc, char **argv)
{
	int i;

	if (argc < cmd->min_args || (cmd->max_args >= 0 &&
	    argc > cmd->max_args))
		return false;
	for (i = 0; i < argc; i++)
		if (argv[i][0] == '-' && !cmd->options)
			return false;
	return true;
}

/* queue_tool_main - options, config, then the command */
int
queue_tool_main(int argc, char **argv)
{
	struct queue_tool_settings set = { 0 };
	const char *path = NULL, *dir = NULL;
	const struct queue_tool_cmd *cmd;
	struct arena *arena;
	int c, ret;

	optind = 1;
	while ((c = getopt(argc, argv, "+c:d:")) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		default:
			return queue_tool_usage();
		}
	}
	if (optind >= argc)
		return queue_tool_usage();
	for (cmd = queue_tool_cmds; cmd->name != NULL; cmd++)
		if (strcmp(argv[optind], cmd->name) == 0)
			break;
	if (cmd->name == NULL) {
		fprintf(stderr, "posternctl queue: unknown command '%s'\n",
		    argv[optind]);
		return queue_tool_usage();
	}
	argc -= optind + 1;
	argv += optind + 1;
	if (!queue_tool_args_ok(cmd, argc, argv))
		return queue_tool_usage();
	arena = arena_create();
	if (dir == NULL) {
		if (!queue_tool_conf(path, &set, arena)) {
			arena_destroy(&arena);
			return QUEUE_TOOL_ERROR;
		}
		dir = set.queue_directory;
	}
	ret = queue_tool_run(cmd, dir, argc, argv);
	arena_destroy(&arena);
	return ret;
}
