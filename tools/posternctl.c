/*
 * posternctl.c - the admin tool: one table of command groups
 *
 * Each group is implemented next to what it manages (lists/list_tool.c
 * for tables); this file only picks the group.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "dkim_tool.h"
#include "dmarc_tool.h"
#include "greylist_tool.h"
#include "queue_tool.h"
#include "list_tool.h"
#include "log.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} posternctl_groups[] = {
	{ .name = "lists", .run = list_tool_main,
	  .summary = "compile and query lookup tables" },
	{ .name = "dkim", .run = dkim_tool_main,
	  .summary = "generate DKIM keys and check their DNS records" },
	{ .name = "dmarc", .run = dmarc_tool_main,
	  .summary = "DMARC aggregate reports from the local store" },
	{ .name = "greylist", .run = greylist_tool_main,
	  .summary = "list, show, delete and count greylisting records" },
	{ .name = "queue", .run = queue_tool_main,
	  .summary = "list, show, hold, release and delete queued mail" },
	{ 0 },
};

/* posternctl_usage - list the command groups; exit status 2 */
static int
posternctl_usage(void)
{
	fprintf(stderr, "usage: posternctl GROUP COMMAND [ARGS]\n");
	for (size_t i = 0; posternctl_groups[i].name != NULL; i++)
		fprintf(stderr, "  %-8s %s\n", posternctl_groups[i].name,
		    posternctl_groups[i].summary);
	return 2;
}

/* main - dispatch to a command group */
int
main(int argc, char **argv)
{
	log_init("posternctl", true);
	if (argc < 2)
		return posternctl_usage();
	for (size_t i = 0; posternctl_groups[i].name != NULL; i++)
		if (strcmp(argv[1], posternctl_groups[i].name) == 0)
			return posternctl_groups[i].run(argc - 1, argv + 1);
	fprintf(stderr, "posternctl: unknown group '%s'\n", argv[1]);
	return posternctl_usage();
}
