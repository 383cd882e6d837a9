/*
 * queue_tool.h - "posternctl queue" subcommands (see posternctl(1))
 *
 *	posternctl queue [-c FILE] [-d QUEUE_DIRECTORY] COMMAND
 *
 * queue_directory comes from FILE (default /etc/postern/mta.conf; a
 * missing default file means the built-in default
 * /var/spool/postern), -d overrides it. The tool never creates a queue.
 *
 * Commands:
 *	list [--json]	every message, oldest first: Postfix mailq style
 *			(ID, queue, size, arrival time, sender, then one
 *			indented line per recipient with its state), or
 *			one JSON object per line: {"id", "queue", "size",
 *			"arrival" (UTC ISO 8601), "sender", "recipients":
 *			[{"address", "state"}], "quarantine"} (JSON
 *			strings escaped per RFC 8259)
 *	show ID		the envelope and attributes, then the message as
 *			it will be delivered (headers and body)
 *	hold ID...	move to hold/ (from incoming, active, deferred)
 *	release ID...	move from hold/ to incoming/
 *	delete ID...	remove wherever it is
 *	flush		every deferred message to incoming/ (the queue
 *			manager tries it at once); prints "N messages
 *			flushed"
 *	requeue ID...	the same for deferred messages by id
 *
 * Exit status: 0 done, 1 a named message missing (named on stderr), 2
 * bad usage or an I/O error. argv[0] is "queue".
 */
#ifndef POSTERN_QUEUE_TOOL_H
#define POSTERN_QUEUE_TOOL_H

int queue_tool_main(int argc, char **argv);

#endif
