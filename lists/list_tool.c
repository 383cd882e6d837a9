/*
 * list_tool.c - "posternctl lists compile|query"
 *
 * Exit codes follow postmap so scripts written for it keep working:
 * query exits 0 when found, 1 when not found; 2 is reserved for errors
 * (bad usage, unreadable table, lookup error), which postmap folds into
 * other codes but a mail admin's script must be able to tell apart.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "inet.h"
#include "list_tool.h"
#include "lookup.h"
#include "mailaddr.h"
#include "mem.h"
#include "table.h"

#define LIST_TOOL_EXIT_FOUND 0
#define LIST_TOOL_EXIT_NOTFOUND 1
#define LIST_TOOL_EXIT_ERROR 2

struct list_tool_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

/* A query mode: how one command-line key becomes lookups. */
struct list_tool_mode {
	const char *option;	/* NULL for the default */
	enum table_result (*lookup)(struct table *t, const char *key,
	    struct arena *arena, const char **value_r, const char **why_r);
};

static int list_tool_compile(int, char **);
static int list_tool_query(int, char **);

static const struct list_tool_cmd list_tool_cmds[] = {
	{
		.name = "compile",
		.run = list_tool_compile,
		.usage = "compile FILE [FILE...]",
	},
	{
		.name = "query",
		.run = list_tool_query,
		.usage = "query [-m | -c] TABLE KEY [KEY...]",
	},
	{ 0 },
};

/* list_tool_usage - print usage of every subcommand, exit code 2 */
static int
list_tool_usage(void)
{
	const struct list_tool_cmd *c;

	fprintf(stderr, "usage:\n");
	for (c = list_tool_cmds; c->name != NULL; c++)
		fprintf(stderr, "\tposternctl lists %s\n", c->usage);
	return LIST_TOOL_EXIT_ERROR;
}

/* list_tool_plain - the key as given */
static enum table_result
list_tool_plain(struct table *t, const char *key, struct arena *arena,
    const char **value_r, const char **why_r)
{
	(void)why_r;
	return table_lookup(t, key, arena, value_r);
}

/* list_tool_mail - the key is a mail address: access(5) order */
static enum table_result
list_tool_mail(struct table *t, const char *key, struct arena *arena,
    const char **value_r, const char **why_r)
{
	struct mailaddr addr;

	if (!mailaddr_parse(arena, key, &addr, why_r))
		return TABLE_ERROR;
	return lookup_mail(t, &addr, arena, value_r);
}

/* list_tool_client - "name[addr]", an address, or a host name */
static enum table_result
list_tool_client(struct table *t, const char *key, struct arena *arena,
    const char **value_r, const char **why_r)
{
	const char *open = strchr(key, '[');
	size_t len = strlen(key);
	struct inet_addr addr;

	if (open != NULL && open != key && key[len - 1] == ']') {
		char *text = arena_strndup(arena, open + 1,
		    (size_t)(key + len - 1 - (open + 1)));
		char *name = arena_strndup(arena, key, (size_t)(open - key));

		if (!inet_parse(text, &addr)) {
			*why_r = "bad address in name[address]";
			return TABLE_ERROR;
		}
		return lookup_client(t, name, &addr, arena, value_r);
	}
	if (inet_parse(key, &addr))
		return lookup_addr(t, &addr, arena, value_r);
	return lookup_domain(t, key, arena, value_r);
}

static const struct list_tool_mode list_tool_modes[] = {
	{ .option = "-m", .lookup = list_tool_mail },
	{ .option = "-c", .lookup = list_tool_client },
	{ .option = NULL, .lookup = list_tool_plain },
};

/* list_tool_compile - compile each source, report every error */
static int
list_tool_compile(int argc, char **argv)
{
	int i, rc = 0;
	char *err;

	if (argc < 2)
		return list_tool_usage();
	for (i = 1; i < argc; i++) {
		if (!table_compile(argv[i], &err)) {
			fprintf(stderr, "%s\n", err);
			free(err);
			rc = 1;
		}
	}
	return rc;
}

/* list_tool_query - postmap -q */
static int
list_tool_query(int argc, char **argv)
{
	const struct list_tool_mode *mode = NULL, *m;
	struct table *t;
	struct arena *arena;
	const char *value, *why;
	int i = 1, rc = LIST_TOOL_EXIT_NOTFOUND;
	bool error = false;
	char *err;

	for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		for (m = list_tool_modes; m->option != NULL; m++)
			if (strcmp(m->option, argv[i]) == 0)
				break;
		if (m->option == NULL || mode != NULL)
			return list_tool_usage();
		mode = m;
	}
	if (mode == NULL)
		for (mode = list_tool_modes; mode->option != NULL; mode++)
			;
	if (argc - i < 2)
		return list_tool_usage();
	if ((t = table_open(argv[i], &err)) == NULL) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return LIST_TOOL_EXIT_ERROR;
	}
	arena = arena_create();
	for (int k = i + 1; k < argc; k++) {
		why = NULL;
		switch (mode->lookup(t, argv[k], arena, &value, &why)) {
		case TABLE_FOUND:
			if (argc - i == 2)
				printf("%s\n", value);
			else
				printf("%s\t%s\n", argv[k], value);
			rc = LIST_TOOL_EXIT_FOUND;
			break;
		case TABLE_NOTFOUND:
			break;
		case TABLE_ERROR:
			fprintf(stderr, "%s: lookup of \"%s\" failed%s%s\n",
			    argv[i], argv[k], why ? ": " : "",
			    why ? why : "");
			error = true;
			break;
		}
	}
	arena_destroy(&arena);
	table_close(&t);
	if (fflush(stdout) != 0)
		error = true;
	return error ? LIST_TOOL_EXIT_ERROR : rc;
}

/* list_tool_main - dispatch through the subcommand table */
int
list_tool_main(int argc, char **argv)
{
	const struct list_tool_cmd *c;

	if (argc < 2)
		return list_tool_usage();
	for (c = list_tool_cmds; c->name != NULL; c++)
		if (strcmp(c->name, argv[1]) == 0)
			return c->run(argc - 1, argv + 1);
	return list_tool_usage();
}
