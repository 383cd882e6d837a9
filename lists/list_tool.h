/*
 * list_tool.h - "posternctl lists" subcommands
 *
 *	posternctl lists compile FILE [FILE...]
 *		write FILE.lmdb from the text source FILE (for lmdb:FILE);
 *		errors name FILE:LINE; exit 0 when all compiled, else 1
 *	posternctl lists query [-m | -c] TABLE KEY [KEY...]
 *		like postmap -q: print the value (one key) or "key<TAB>value"
 *		lines (several keys); -m asks in mail-address order
 *		(lookup_mail), -c in client order (lookup_client; a key is
 *		"name[address]", an address or a host name); exit 0 when a
 *		key was found, 1 when none was, 2 on any error
 *
 * Bad usage prints the usage text and exits 2. argv[0] is the word
 * "lists"; argv[1] the subcommand. Warnings (duplicate keys, ...) go
 * through log.h, so posternctl should log_init() to stderr first.
 */
#ifndef POSTERN_LIST_TOOL_H
#define POSTERN_LIST_TOOL_H

int list_tool_main(int argc, char **argv);

#endif
