/*
 * dkim_tool.h - "posternctl dkim" subcommands
 *
 *	posternctl dkim keygen -d DOMAIN -s SELECTOR [-a rsa|ed25519]
 *	    [-b BITS] [-o DIR]
 *		write DIR/SELECTOR.private (the private key, PKCS#8 PEM,
 *		mode 0600, refusing to overwrite) and DIR/SELECTOR.txt (the
 *		record in zone-file form, as opendkim-genkey writes it:
 *		'SELECTOR._domainkey IN TXT ( "v=DKIM1; k=rsa; " "p=..." )'
 *		with strings of at most 255 bytes), print the record on
 *		stdout; DIR defaults to "."; BITS to 2048 (rsa only);
 *		exit 0, or 1 with a message on stderr
 *	posternctl dkim testkey -d DOMAIN -s SELECTOR -k KEYFILE
 *	    [-n SERVER]...
 *		look up SELECTOR._domainkey.DOMAIN TXT through lib/dns
 *		(servers "IP[@PORT]" from -n, default /etc/resolv.conf) and
 *		compare it with the private key: prints "key OK" and exits
 *		0 when it matches; otherwise says why ("no such record",
 *		"DNS error: timeout", "p= does not match the key", ...) and
 *		exits 1 (mismatch, no record) or 2 (DNS error, bad key file)
 *
 * Bad usage prints the usage text and exits 2. argv[0] is the word
 * "dkim"; argv[1] the subcommand.
 */
#ifndef POSTERN_DKIM_TOOL_H
#define POSTERN_DKIM_TOOL_H

int dkim_tool_main(int argc, char **argv);

#endif
