/*
 * dmarc.h - the dmarc policy module (RFC 7489), registered as "dmarc"
 */
#ifndef POSTERN_DMARC_H
#define POSTERN_DMARC_H

#include "policy.h"

extern const struct policy_module dmarc_module;

#endif
