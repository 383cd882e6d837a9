/*
 * clamav.h - virus scanning (module "clamav"; see filterd.conf(5))
 *
 * The message as received (each header as the MTA gave it, byte exact,
 * then the blank line and the body) is collected at HEADER and BODY into
 * a spool (spool.h: memory up to spool_memory, then a private temporary
 * file in temp_dir) and scanned at EOM with mail, archive and document
 * parsing on, so that attachments in base64 and inside archives are found.
 *
 * Backends (setting "backend"):
 *
 *	libclamav	in process, the default. One engine per database_dir,
 *			loaded and compiled when the config is loaded (a
 *			database that does not load refuses the config), and
 *			shared by every connection with a reference count. A
 *			thread checks database_dir every db_check_interval
 *			(cl_statchkdir), and a config reload (SIGUSR1) checks
 *			it too; a changed directory gets a new engine, built
 *			beside the old one and swapped in: scans in flight
 *			finish on the old engine, whose last scan frees it. A
 *			database that fails to load leaves the old engine
 *			serving, and is logged. With reload_pause = yes the
 *			old engine is freed before the new one loads and scans
 *			wait meanwhile: one engine's memory instead of two.
 *	clamd:SERVER, clamd:SERVER...
 *			clamd over INSTREAM (clamav_clamd.h), servers tried
 *			in turn.
 *
 * Limits: a message over max_message_size is not scanned
 * (oversize_action: "skip" accepts it with X-Virus-Scanned saying so,
 * "tempfail" defers it); max_scan_time, max_recursion, max_files,
 * max_file_size, max_scan_size bound libclamav, and with
 * alert_exceeds_limits (yes) a message that exceeds one is reported as
 * "Heuristics.Limits.Exceeded..." rather than passed as clean.
 *
 * Verdicts at EOM: infected: infected_action: reject (554 5.7.1 naming
 * the signature), discard, quarantine (the reason names it), header
 * (accepted with "X-Virus-Status: Infected (NAME)"); clean: no opinion,
 * and "X-Virus-Scanned" when scanned_header is on; a scan that fails
 * (engine error, clamd unreachable, spool write error): POLICY_FAILED,
 * whose on_failure is tempfail by default. skip_authenticated and
 * skip_mynetworks (both off by default: an outbound relay scans
 * everything) exempt those clients.
 *
 * libclamav's types stay in clamav.c.
 */
#ifndef POSTERN_CLAMAV_H
#define POSTERN_CLAMAV_H

#include "policy.h"

extern const struct policy_module clamav_module;

#endif
