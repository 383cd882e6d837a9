/* queue_tool.c - placeholder */
#include "config.h"
#include "queue_tool.h"

/* queue_tool_main - not yet */
int
queue_tool_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 2;
}
