/*
 * spf.h - Sender Policy Framework checks (module "spf", RFC 7208)
 *
 * The module checks the HELO identity at HELO and the MAIL FROM identity
 * at MAIL (the null sender takes the HELO identity's result, RFC 7208
 * §2.4), each with its own action per result (none, reject, defer).
 * libspf2 evaluates the records; every DNS query it makes goes through
 * the config's resolver (lib/dns.h) via a libspf2 DNS layer in spf.c,
 * which also enforces what libspf2 does not: at most 2 void lookups per
 * evaluation, a record length limit, and a refusal of the macro forms
 * that libspf2's known memory bugs need (all permerror).
 *
 * At MAIL the module gives an Authentication-Results fragment
 * ("spf=RESULT smtp.mailfrom=ADDR", or "smtp.helo=NAME" for the null
 * sender) and queues one Received-SPF header per identity checked
 * (RFC 7208 §9.1). Clients in mynetworks, authenticated clients and
 * clients found in skip_clients are not checked. The results stay in
 * transaction (txn_spf) for DMARC.
 */
#ifndef POSTERN_SPF_H
#define POSTERN_SPF_H

#include "policy.h"

extern const struct policy_module spf_module;

#endif
