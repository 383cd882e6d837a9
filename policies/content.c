/* content.c - placeholder until written */
#include "config.h"

#include "content.h"

const struct policy_module content_module = {
	.name = "content",
	.summary = "not written yet",
};
