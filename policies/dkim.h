/*
 * dkim.h - DKIM signing and verification (module "dkim", RFC 6376,
 * libopendkim)
 *
 * Mail from internal hosts (internal_hosts, default mynetworks) and
 * authenticated clients is signed, with the keys an OpenDKIM-style
 * SigningTable picks for the From address (or the one domain/selector/
 * key_file), one signature per key (RSA and Ed25519 side by side),
 * inserted at the top of the header. All other mail is verified: every
 * DKIM-Signature up to max_signatures gets one "dkim=" entry in
 * Authentication-Results, and its outcome is left in the transaction
 * (txn_add_dkim) for DMARC. libopendkim's key lookups go through the
 * config's resolver (lib/dns.h). The settings are in filterd.conf(5).
 */
#ifndef POSTERN_DKIM_H
#define POSTERN_DKIM_H

#include "policy.h"

extern const struct policy_module dkim_module;

#endif
