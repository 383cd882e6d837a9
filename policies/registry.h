/*
 * registry.h - the policy modules compiled into filterd
 *
 * Contract: registry_modules is a NULL-terminated list in a fixed order;
 * registry_find() returns the module named name or NULL. registry.c is
 * the only file that tests HAVE_* build options.
 */
#ifndef POSTERN_REGISTRY_H
#define POSTERN_REGISTRY_H

#include "policy.h"

extern const struct policy_module *const registry_modules[];
const struct policy_module *registry_find(const char *name);

#endif
