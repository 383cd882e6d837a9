/* test_smtp_client.c - placeholder until it is written */
#include "config.h"

/* main - nothing yet */
int
main(void)
{
	return 0;
}
