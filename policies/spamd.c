/* spamd.c - placeholder until written */
#include "config.h"

#include "spamd.h"

const struct policy_module spamd_module = {
	.name = "spamd",
	.summary = "not written yet",
};
