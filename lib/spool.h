/*
 * spool.h - one message's bytes: in memory up to a limit, in a private
 * temporary file beyond it
 *
 * Contract: a spool collects bytes appended in order (a message as
 * received: headers, blank line, body). Up to mem_limit bytes stay in
 * memory; the append that would pass mem_limit moves everything to a
 * temporary file in dir, created mode 0600 and unlinked at once (O_TMPFILE
 * where the file system has it, else mkstemp + unlink), so that nothing
 * is left behind whatever happens to the process, and no other process
 * can open it by name. From then on every append goes to the file.
 *
 * Three answers: every call that touches the disk returns false on an
 * error with errno set, and spool_error() says what failed ("write
 * /var/tmp: No space left on device"); the spool is then unusable except
 * for spool_free (a message that could not be kept must never be scanned
 * as if it were whole).
 *
 * Reading: spool_memory gives the bytes when they are in memory;
 * otherwise spool_fd gives the file (read it with pread or spool_read, the
 * offset of the descriptor is undefined). spool_read works in both cases.
 *
 * Lifetimes: the spool owns its memory and file until spool_free. Not
 * thread-safe: one spool belongs to one message.
 */
#ifndef POSTERN_SPOOL_H
#define POSTERN_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spool;

/* spool_new - an empty spool; dir is where a file goes (copied) */
struct spool *spool_new(const char *dir, size_t mem_limit);
/* spool_free - close, free; sets *sp NULL; NULL ok */
void spool_free(struct spool **sp);

/* spool_append - add len bytes; false on a disk error (see above) */
bool spool_append(struct spool *sp, const void *data, size_t len);
/* spool_size - bytes appended so far */
uint64_t spool_size(const struct spool *sp);
/* spool_in_memory - whether the bytes are still in memory */
bool spool_in_memory(const struct spool *sp);
/* spool_memory - the bytes and *len_r while in memory, else NULL */
const unsigned char *spool_memory(const struct spool *sp, size_t *len_r);
/* spool_fd - the file's descriptor once spooled, else -1 */
int spool_fd(const struct spool *sp);
/*
 * spool_read - up to len bytes from offset into buf; the count (0 at the
 * end), or -1 on a read error (errno, spool_error)
 */
ssize_t spool_read(struct spool *sp, uint64_t offset, void *buf, size_t len);
/* spool_error - the last failure as text ("" if none) */
const char *spool_error(const struct spool *sp);

#endif
