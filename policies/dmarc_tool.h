/*
 * dmarc_tool.h - "posternctl dmarc" subcommands (see posternctl(1))
 *
 *	posternctl dmarc report -d STORE_DIR [-f FROM] [-t TO]
 *	    -o ORG_NAME -e ORG_EMAIL [-D POLICY_DOMAIN]
 *
 * report reads the records of the dmarc module's report store
 * (dmarc_store.h) from FROM to TO (YYYY-MM-DD, UTC days, inclusive;
 * both default to yesterday) and prints one RFC 7489 Appendix C
 * aggregate report per policy domain and published policy (only
 * POLICY_DOMAIN's with -D), in the order of the domains' names, each a
 * complete XML document starting with its own <?xml ...?> line. Rows
 * are records with the same source address, disposition, DMARC results,
 * override reason, From domain and DKIM and SPF results, counted.
 *
 * Exit status: 0 reports printed, 1 no records in the period (nothing
 * printed), 2 bad usage, an unreadable store or a malformed line (named
 * as FILE:LINE on stderr; nothing is printed).
 */
#ifndef POSTERN_DMARC_TOOL_H
#define POSTERN_DMARC_TOOL_H

/* dmarc_tool_main - argv[0] is "dmarc"; returns the exit status */
int dmarc_tool_main(int argc, char **argv);

#endif
