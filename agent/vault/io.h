/*
 * io.h: the vault's files on disk: reading an image, replacing it
 * atomically (the previous good copy kept as PATH.bak), and the lock that
 * keeps two agents from writing one vault.  Blocking calls: the agent runs
 * them off its event loop or where a short wait is acceptable.
 */
#ifndef XO_VAULT_IO_H
#define XO_VAULT_IO_H

#include <stddef.h>
#include <stdint.h>

struct agent_err;

/*
 * Reads the image at path (malloc).  0 (with *img NULL when there is no
 * file), or the reason in err: not a regular file, owned by another user,
 * readable by others, too large, unreadable.
 */
int vault_read_file(const char *path, unsigned char **img, size_t *len,
		    struct agent_err *err);
/*
 * Replaces the file at path with img: a temporary file in the same
 * directory, written and fsync()ed, the current file kept as PATH.bak, a
 * rename(), and an fsync() of the directory, so that after a crash at any
 * point the vault holds either the old or the new image, whole.
 */
int vault_write_file(const char *path, const unsigned char *img, size_t len,
		     struct agent_err *err);
/*
 * The same in two steps, for a new base written while records are still
 * appended to the file it replaces: vault_write_temp() writes img to
 * PATH.tmp and fsync()s it; vault_commit_temp() appends the bytes
 * [from, to) of the vault file (the records appended meanwhile) to
 * PATH.tmp, fsync()s it and puts it in the vault's place as above.
 */
int vault_write_temp(const char *path, const unsigned char *img, size_t len,
		     struct agent_err *err);
int vault_commit_temp(const char *path, uint64_t from, uint64_t to,
		      struct agent_err *err);
/*
 * Writes rec at offset off of the vault file, where its whole records end
 * (a torn record after them is cut off first), and fsync()s it.  A file
 * shorter than off was changed by someone else: refused.
 */
int vault_append_file(const char *path, uint64_t off, const unsigned char *rec,
		      size_t len, struct agent_err *err);
/*
 * Takes the vault's lock (PATH.lock, flock) for the life of the process;
 * XO_ERR_VAULT_IN_USE naming the other agent's pid if it is held.  *fd is
 * kept open; closing it releases the lock.
 */
int vault_lock(const char *path, int *fd, struct agent_err *err);
/* Creates the vault's directory (0700) and its parents as needed. */
int vault_make_dir(const char *path, struct agent_err *err);

#endif
