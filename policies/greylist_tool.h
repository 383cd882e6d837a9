/*
 * greylist_tool.h - "posternctl greylist" subcommands (see posternctl(1))
 *
 *	posternctl greylist [-c FILE] [-s STORE] [-p PREFIX] COMMAND
 *
 * The store and the settings that matter here (store, key_prefix,
 * store_timeout, redis_password, redis_database, auto_whitelist_clients)
 * come from the [greylist] section of FILE (default
 * /etc/postern/filterd.conf; a missing default file means built-in
 * defaults); -s and -p override store and key_prefix. The tool never
 * creates a store (greylist_store_options.no_create).
 *
 * Commands:
 *	list [PREFIX]	one line per live record whose key starts with
 *			PREFIX, sorted by key:
 *			KEY<TAB>STATE<TAB>count=N<TAB>first=TIME<TAB>
 *			last=TIME<TAB>expires=TIME
 *			STATE: "greylisted" or "passed" for triplets,
 *			"counting" or "whitelisted" for identities;
 *			TIME: UTC "YYYY-MM-DDTHH:MM:SSZ"
 *	show KEY...	the same line for each KEY; exit 1 if any is
 *			missing (named on stderr)
 *	delete KEY...	remove records; exit 1 if any was missing
 *	flush [PREFIX]	remove every record (whose key starts with
 *			PREFIX); prints "N records deleted"
 *	stats		"NAME VALUE" lines: triplets_greylisted,
 *			triplets_passed, identities_counting,
 *			identities_whitelisted, total (total also counts
 *			keys of neither kind, listed with STATE "unknown")
 *
 * Exit status: 0 done, 1 a named record missing, 2 bad usage or a store
 * error (message on stderr). argv[0] is "greylist".
 */
#ifndef POSTERN_GREYLIST_TOOL_H
#define POSTERN_GREYLIST_TOOL_H

int greylist_tool_main(int argc, char **argv);

#endif
