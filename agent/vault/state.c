/*
 * state.c: the vault's place, key and state, from start-up to exit (see
 * vault.h).
 *
 * Which state an agent starts in:
 *
 *   key file (vault_key_file, or $CREDENTIALS_DIRECTORY/vault-key)
 *       open: the vault is loaded, or made by the first write;
 *   no key file, a vault on disk
 *       locked until UNLOCK brings the passphrase;
 *   no key file, no vault yet
 *       none: tokens in memory only, as before there were vaults, until
 *       an UNLOCK with create makes one.
 *
 * Whatever cannot be used (a vault another agent holds, one damaged,
 * foreign or newer, a key file others can read or that does not open it)
 * stops the start with a message: an agent that started anyway would
 * either run without the user's tokens or be tempted to write over the
 * file.  The file is never written over; PATH.bak, the copy before the
 * last write, is named in the message.  Two agents on one vault would
 * present the same rotating refresh tokens, and a provider that sees one
 * twice revokes the grant: hence the lock, taken at start for the life of
 * the agent.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "account/account.h"
#include "config/config.h"
#include "core/log.h"
#include "secret/secret.h"
#include "vault/io.h"
#include "vault/vault_internal.h"

void vault_set_problem(struct agent_vault *v, const char *fmt, ...)
{
	va_list ap;

	if (fmt == NULL) {
		v->problem[0] = '\0';
		return;
	}
	va_start(ap, fmt);
	vsnprintf(v->problem, sizeof(v->problem), fmt, ap);
	va_end(ap);
}

int vault_describe_error(const char *path, int code, struct agent_err *e)
{
	char bak[4200];
	int has_bak;

	snprintf(bak, sizeof(bak), "%s.bak", path);
	has_bak = access(bak, F_OK) == 0;
	switch (code) {
	case XO_ERR_VAULT_CORRUPT:
		return agent_err_set(
		    e, code,
		    "the vault %s is damaged (cut short or changed); it is "
		    "left as it is%s%s%s%s%s",
		    path,
		    has_bak ? ". The file from before its last new base is "
			    : "",
		    has_bak ? bak : "",
		    has_bak ? ": stop the agent and 'mv " : "",
		    has_bak ? bak : "",
		    has_bak ? " <vault>' to go back to it" : "");
	case XO_ERR_VAULT_FOREIGN:
		return agent_err_set(e, code,
				     "%s is not an xoauth-agent vault; it is "
				     "left as it is: move it away, or set "
				     "[agent] vault to another path",
				     path);
	case XO_ERR_VAULT_NEWER:
		return agent_err_set(e, code,
				     "the vault %s was written by a newer "
				     "xoauth-agent; run that version (this "
				     "one leaves the file as it is)",
				     path);
	default:
		return agent_err_set(e, code, "the vault %s: %s", path,
				     proto_strerror(code));
	}
}

int vault_keep_key(struct agent *a, const struct vault_key *k)
{
	struct agent_vault *v = a->vault;
	struct agent_secret *sealed = NULL;
	int r;

	if ((r = agent_secret_seal(a->shield, k->key, VAULT_KEY_LEN,
				   &sealed)) != 0)
		return r;
	agent_secret_free(v->key);
	v->key = sealed;
	v->params = k->params;
	return 0;
}

int vault_key_borrow(struct agent *a, struct vault_key *k,
		     struct agent_plain **bytes)
{
	int r;

	if (a->vault->key == NULL)
		return XO_ERR_LOCKED;
	if ((r = agent_secret_open(a->shield, a->vault->key, bytes)) != 0)
		return r;
	k->params = a->vault->params;
	k->key = (unsigned char *)(*bytes)->data;
	return 0;
}

/* The image's base and journal played into rp; how far the whole
   records go in *j.  0, or the reason in err. */
static int read_image(const struct vault_key *k, const unsigned char *img,
		      size_t len, const char *path, struct vault_replay *rp,
		      struct vault_base *b, struct vault_journal *j,
		      struct agent_err *err)
{
	struct agent_plain *plain = NULL;
	struct agent_err why;
	size_t at;
	int r;

	agent_err_clear(&why);
	if ((r = vault_open_base(k, img, len, b, &plain)) != 0)
		return vault_describe_error(path, r, err);
	if (rp != NULL)
		r = vault_replay_start(rp, plain, &why);
	agent_plain_free(plain);
	vault_journal_init(j, b, img, len);
	while (r == 0 && (r = vault_journal_next(k, j, &plain)) == 1) {
		r = rp != NULL ? vault_replay_record(rp, plain, &why) : 0;
		agent_plain_free(plain);
	}
	if (r == XO_ERR_VAULT_CORRUPT && why.code == 0)
		agent_err_set(&why, r,
			      "record %llu of its journal, at byte %zu, does "
			      "not open",
			      (unsigned long long)(j->seq - b->base_seq),
			      j->off);
	if (r != 0) {
		vault_describe_error(path, r, err);
		if (why.code != 0) {
			at = strlen(err->msg);
			snprintf(err->msg + at, sizeof(err->msg) - at, " (%s)",
				 agent_err_text(&why));
		}
	}
	return r;
}

int vault_check_image(const struct vault_key *k, const unsigned char *img,
		      size_t len, const char *path, struct agent_err *err)
{
	struct vault_journal j;
	struct vault_base b;

	return read_image(k, img, len, path, NULL, &b, &j, err);
}

int vault_open_image(struct agent *a, const struct vault_key *k,
		     const unsigned char *img, size_t len, int adopt,
		     struct agent_err *err)
{
	struct agent_vault *v = a->vault;
	struct vault_replay rp;
	struct vault_journal j;
	struct vault_base b;
	struct agent_err why;
	size_t at;
	unsigned n = 0;
	int r;

	vault_replay_init(&rp);
	if ((r = read_image(k, img, len, v->path, &rp, &b, &j, err)) != 0) {
		vault_replay_cleanup(&rp);
		if (r != XO_ERR_WRONG_PASSPHRASE)
			return r;
		if (v->key_file != NULL)
			return agent_err_set(
			    err, r,
			    "the key file %s does not open the "
			    "vault %s",
			    v->key_file, v->path);
		return agent_err_set(
		    err, r, "wrong passphrase for the vault %s", v->path);
	}
	/* The accounts are changed only by a document that is whole and
	   ours (records.c checks it all first). */
	r = vault_replay_apply(a, &rp, &n, &why);
	vault_replay_cleanup(&rp);
	if (r != 0) {
		vault_describe_error(v->path, r, err);
		at = strlen(err->msg);
		snprintf(err->msg + at, sizeof(err->msg) - at, " (%s)",
			 agent_err_text(&why));
		return r;
	}
	if ((r = vault_keep_key(a, k)) != 0)
		return r;
	v->state = VAULT_OPEN;
	v->exists = 1;
	if (j.torn)
		log_info("vault %s: its last record was cut short (the agent "
			 "stopped while appending it) and is left out; the "
			 "next write cuts it off",
			 v->path);
	if (adopt) {
		v->known = 1;
		v->journal = b.version >= VAULT_VERSION;
		v->base = b;
		v->file_end = j.off;
		v->last_rec = j.seq - 1;
		v->base_seq_done = v->seq;
		if (v->journal) {
			memcpy(v->id, b.id, VAULT_ID_LEN);
		} else {
			vault_file_none(v);
			log_info("vault %s is one image (format 1): its first "
				 "write makes it a base and a journal of "
				 "changes (format 2)",
				 v->path);
		}
	}
	log_info("vault %s opened: %u accounts from it (%llu records of "
		 "journal)",
		 v->path, n,
		 (unsigned long long)(b.version >= VAULT_VERSION
					  ? j.seq - 1 - b.base_seq
					  : 0));
	/* The document's tree is freed: its pages go back to the system
	   (some hundreds of MiB for a vault of 100,000 accounts). */
	malloc_trim(0);
	return 0;
}

/* The default path: $XDG_DATA_HOME/xoauth/vault, else
   $HOME/.local/share/xoauth/vault; NULL when neither is set. */
static char *default_path(void)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	char buf[4096];

	if (xdg != NULL && xdg[0] == '/')
		snprintf(buf, sizeof(buf), "%s/xoauth/vault", xdg);
	else if (home != NULL && home[0] == '/')
		snprintf(buf, sizeof(buf), "%s/.local/share/xoauth/vault",
			 home);
	else
		return NULL;
	return strdup(buf);
}

/* The key file: the config's, else systemd's credential when present. */
static int find_key_file(struct agent *a, char **out)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char buf[4096];

	*out = NULL;
	if (a->config->vault_key_file != NULL) {
		*out = strdup(a->config->vault_key_file);
		return *out == NULL ? XO_ERR_NOMEM : 0;
	}
	if (dir == NULL || dir[0] != '/')
		return 0;
	snprintf(buf, sizeof(buf), "%s/vault-key", dir);
	if (access(buf, F_OK) != 0)
		return 0;
	*out = strdup(buf);
	return *out == NULL ? XO_ERR_NOMEM : 0;
}

/* Reads the 32 bytes of a key file that only we can read. */
static int read_key_file(const char *path, struct vault_key **out,
			 struct agent_err *err)
{
	unsigned char bytes[VAULT_KEY_LEN + 1];
	struct stat st;
	ssize_t n;
	int fd, r = XO_ERR_CONFIG;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return agent_err_set(err, XO_ERR_CONFIG,
				     "cannot open the vault key file %s: %s",
				     path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		agent_err_set(err, r, "the vault key file %s is not a file",
			      path);
		goto out;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		agent_err_set(err, r,
			      "the vault key file %s must be yours and "
			      "readable by you alone (it is mode %03o, owner "
			      "uid %lu): chmod 600 it, or chown it",
			      path, (unsigned)(st.st_mode & 0777),
			      (unsigned long)st.st_uid);
		goto out;
	}
	n = read(fd, bytes, sizeof(bytes));
	if (n != VAULT_KEY_LEN) {
		agent_err_set(err, r,
			      "the vault key file %s must hold exactly %d "
			      "bytes (head -c %d /dev/urandom > FILE)",
			      path, VAULT_KEY_LEN, VAULT_KEY_LEN);
		goto out;
	}
	if ((r = vault_key_from_bytes(bytes, VAULT_KEY_LEN, out)) != 0)
		agent_err_code(err, r);
out:
	sodium_memzero(bytes, sizeof(bytes));
	close(fd);
	return r;
}

/* With a key file: load the vault, or be ready to make it. */
static int start_with_key(struct agent *a, const unsigned char *img, size_t len,
			  struct agent_err *err)
{
	struct agent_vault *v = a->vault;
	struct vault_key *k = NULL;
	int r;

	/* check_image() has checked the pair already, before the fork. */
	if ((r = read_key_file(v->key_file, &k, err)) != 0)
		return r;
	if (img == NULL) {
		r = agent_err_code(err, vault_keep_key(a, k));
		v->state = VAULT_OPEN;
		vault_file_none(v);
		log_info("vault %s: none yet; the first change makes it with "
			 "the key file %s",
			 v->path, v->key_file);
	} else {
		r = vault_open_image(a, k, img, len, 1, err);
	}
	vault_key_free(k);
	return r;
}

/* Checks the image (and, with a key file, that the key opens it) without
   loading anything: before the fork, so that the user sees why an agent
   does not start. */
static int check_image(struct agent_vault *v, struct agent_err *err)
{
	struct vault_key *k = NULL;
	struct vault_params p;
	unsigned char *img = NULL;
	size_t len = 0;
	int r;

	if ((r = vault_read_file(v->path, &img, &len, err)) != 0)
		return r;
	v->exists = img != NULL;
	if (v->key_file != NULL &&
	    (r = read_key_file(v->key_file, &k, err)) != 0)
		goto out;
	if (!v->exists)
		goto out;
	if ((r = vault_image_params(img, len, &p)) != 0)
		vault_describe_error(v->path, r, err);
	else if (k != NULL && p.kdf != VAULT_KDF_KEYFILE)
		r = agent_err_set(err, XO_ERR_CONFIG,
				  "the vault %s opens with a passphrase, not "
				  "with the key file %s: drop vault_key_file "
				  "(and unlock with 'xoauth unlock'), or use "
				  "another vault",
				  v->path, v->key_file);
	else if (k == NULL && p.kdf == VAULT_KDF_KEYFILE)
		r = agent_err_set(err, XO_ERR_CONFIG,
				  "the vault %s opens with a key file: set "
				  "[agent] vault_key_file",
				  v->path);
	else if (k != NULL &&
		 (r = vault_check_image(k, img, len, v->path, err)) ==
		     XO_ERR_WRONG_PASSPHRASE)
		agent_err_set(err, r,
			      "the key file %s does not open the vault %s",
			      v->key_file, v->path);
out:
	vault_key_free(k);
	free(img);
	return r;
}

int vault_prepare(struct agent *a, struct agent_err *err)
{
	struct agent_vault *v;
	int r;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return agent_err_code(err, XO_ERR_NOMEM);
	a->vault = v;
	v->agent = a;
	v->lock_fd = -1;
	v->state = VAULT_NONE;
	if ((r = find_key_file(a, &v->key_file)) != 0)
		return agent_err_code(err, r);
	v->path = a->config->vault_path != NULL ? strdup(a->config->vault_path)
						: default_path();
	if (v->path == NULL) {
		if (v->key_file == NULL)
			return 0;
		return agent_err_set(err, XO_ERR_CONFIG,
				     "a vault key file is set, but there is "
				     "no place for the vault: set [agent] "
				     "vault");
	}
	if ((r = vault_make_dir(v->path, err)) != 0 ||
	    (r = vault_lock(v->path, &v->lock_fd, err)) != 0)
		return r;
	return check_image(v, err);
}

int vault_start(struct agent *a, struct agent_err *err)
{
	struct agent_vault *v = a->vault;
	unsigned char *img = NULL;
	char pid[32];
	size_t len = 0;
	int r, n;

	vault_write_init(a);
	if (v->path == NULL) {
		log_info("no HOME and no [agent] vault: tokens are kept in "
			 "memory only");
		return 0;
	}
	/* The lock went to this process with the fork: its pid is the one
	   another agent should name. */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(v->lock_fd, 0) != 0 ||
	    pwrite(v->lock_fd, pid, (size_t)n, 0) != n)
		log_debug("vault: cannot note our pid in the lock file");
	if ((r = vault_read_file(v->path, &img, &len, err)) != 0)
		return r;
	v->exists = img != NULL;
	if (v->key_file != NULL) {
		r = start_with_key(a, img, len, err);
	} else {
		v->state = v->exists ? VAULT_LOCKED : VAULT_NONE;
		if (v->exists) {
			/* Locked from the start, as after LOCK: the client
			   secrets of the config come back at unlock. */
			vault_wipe_secrets(a);
			log_info("vault %s: locked; 'xoauth unlock' opens it",
				 v->path);
		} else {
			log_info("vault %s: none yet; tokens are kept in "
				 "memory until 'xoauth unlock' makes one",
				 v->path);
		}
		r = 0;
	}
	free(img);
	return r;
}

int vault_locked(const struct agent *a)
{
	return a->vault != NULL && a->vault->state == VAULT_LOCKED;
}

/* 1 when changes are written to a vault (it is open). */
static int vault_open(const struct agent *a)
{
	return a->vault != NULL && a->vault->state == VAULT_OPEN;
}

const char *vault_problem(const struct agent *a)
{
	if (a->vault == NULL)
		return NULL;
	if (a->vault->state == VAULT_LOCKED)
		return "locked: run 'xoauth unlock'";
	return a->vault->problem[0] != '\0' ? a->vault->problem : NULL;
}

void vault_reloaded(struct agent *a)
{
	unsigned n = 0;

	if (!vault_open(a))
		return;
	if (vault_store_adopt(a, &n) != 0)
		log_error("vault: cannot look at the tokens kept for other "
			  "accounts");
	else if (n > 0)
		log_info("vault: %u accounts of the new config had tokens in "
			 "it",
			 n);
	vault_persist(a, NULL);
}

void vault_stop(struct agent *a)
{
	struct agent_vault *v = a->vault;
	struct vault_kdf_job *parked;

	if (v == NULL)
		return;
	if ((parked = v->parked) != NULL) {
		v->parked = NULL;
		vault_kdf_reply(parked, XO_ERR_BUSY, "the agent is stopping");
	}
	/* A change not written yet (a refresh that ended without a new
	   token, say) is taken now and written once the loop is done. */
	vault_flush(a);
	if (v->retry.loop != NULL) { /* vault_write_init() ran */
		uv_close((uv_handle_t *)&v->retry, NULL);
		uv_close((uv_handle_t *)&v->gap, NULL);
		uv_close((uv_handle_t *)&v->flush, NULL);
		uv_close((uv_handle_t *)&v->drop, NULL);
		vault_walk_close(a);
	}
}

void vault_free(struct agent *a)
{
	struct agent_vault *v = a->vault;

	if (v == NULL)
		return;
	vault_write_drain(a);
	vault_write_free(a);
	vault_spare_shields_free(v);
	agent_secret_free(v->key);
	agent_secret_free(v->kept);
	if (v->lock_fd >= 0)
		close(v->lock_fd);
	free(v->path);
	free(v->key_file);
	free(v);
	a->vault = NULL;
}
