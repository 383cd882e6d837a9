/* test_dmarc_store.c - placeholder until the tests land (same commit series) */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* test_nothing_yet - placeholder */
static void
test_nothing_yet(void **state)
{
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_yet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
