/*
 * dmarc.h - the dmarc policy module (RFC 7489), registered as "dmarc"
 *
 * The module collects the From header fields at HEADER and evaluates
 * the From domain's DMARC policy at EOM from the SPF outcome
 * (txn_spf) and the DKIM outcomes (txn_dkim_*) that the spf and dkim
 * modules left in the transaction, so both must come before dmarc in
 * the pipeline. See filterd.conf(5), section DMARC MODULE.
 */
#ifndef POSTERN_DMARC_H
#define POSTERN_DMARC_H

#include "policy.h"

extern const struct policy_module dmarc_module;

/*
 * dmarc_set_sampler - replace the random numbers of pct= sampling (a
 * failing message is enforced when pick() % 100 < pct) by pick(), or
 * restore the default (arc4random) with NULL. For tests: call it before
 * any thread runs a handler.
 */
void dmarc_set_sampler(unsigned (*pick)(void));

#endif
