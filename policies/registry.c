/*
 * registry.c - the list of policy modules built into filterd
 */
#include "config.h"

#include <string.h>

#include "access.h"
#include "clamav.h"
#include "content.h"
#include "dkim.h"
#include "dmarc.h"
#include "dnsbl.h"
#include "greylist.h"
#include "registry.h"
#include "spamd.h"
#include "spf.h"

const struct policy_module *const registry_modules[] = {
	&access_module,
	&dnsbl_module,
	&greylist_module,
	&spf_module,
	&dkim_module,
	&dmarc_module,
	&clamav_module,
	&content_module,
	&spamd_module,
	NULL,
};

/* registry_find - a module by name, or NULL */
const struct policy_module *
registry_find(const char *name)
{
	for (size_t i = 0; registry_modules[i] != NULL; i++)
		if (strcmp(registry_modules[i]->name, name) == 0)
			return registry_modules[i];
	return NULL;
}
