/*
 * dmarc_store.h - per-message DMARC records kept for aggregate reports
 * (contract filled in with the code)
 */
#ifndef POSTERN_DMARC_STORE_H
#define POSTERN_DMARC_STORE_H

#endif
