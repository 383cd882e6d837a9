/* dkim_tool.c - placeholder until the subcommands land (same commit series) */
#include "config.h"

#include <stdio.h>

#include "dkim_tool.h"

/* dkim_tool_main - not there yet */
int
dkim_tool_main(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "posternctl %s: not implemented yet\n", argv[0]);
	return 2;
}
