/*
 * op.h — what every key-value and namespace operation does first, in one
 * place: open the protected path, verify the token and its rights, find the
 * namespace's live incarnation, and check that the token reaches it (and
 * the key).
 *
 * Built with -DSHMEMORA_UNPROTECTED (the benchmark's baseline), op_begin
 * verifies nothing and the token reaches everything: the same code with
 * protection compiled out.
 */
#ifndef SHMEMORA_OP_H
#define SHMEMORA_OP_H

#include "pool.h"

#include <stdbool.h>

#define NS_NAME_MAX SHMEMORA_NS_NAME_MAX

/* An operation in progress. */
struct kv_op {
	shmemora_pool *pool;
	struct cap_fields token;        /* the verified token */
	struct ns_target ns;            /* the namespace: hash and live incarnation */
	uint32_t ns_index;              /* its record */
	bool ns_counted;                /* its usage is counted (limits are set) */
	protect_saved saved;
	bool open;
	int slot;                       /* this thread's slot: its caches and magazine */
};

/* How much of a namespace an operation reaches. */
enum op_cover {
	COVER_KEY,        /* one key (checked by op_key) */
	COVER_SOME_KEYS,  /* keys the token may reach (multi_get, scan): a key token
			   * of the namespace will do, each key checked on its own */
	COVER_NAMESPACE,  /* the namespace as a whole */
};

/* Opens the protected path and verifies `tok` for the rights `need`.
 * Always pair with op_end, whatever it returns. */
int op_begin(struct kv_op *op, shmemora_pool *pool, const shmemora_token *tok, uint32_t need);

/* Closes the protected path (once). */
void op_end(struct kv_op *op);

/* A namespace name the store accepts: 1..255 bytes, no '/', no control
 * characters.  E_INVALID. */
int op_check_ns_name(const char *ns);

/* Finds the live incarnation of namespace `ns` (E_NOT_FOUND) and checks the
 * token reaches it as `cover` says (E_OUT_OF_SCOPE). */
int op_namespace(struct kv_op *op, const char *ns, enum op_cover cover);

/* Looks up namespace `ns` without a token: its record (E_NOT_FOUND if it
 * was never created) and, in *view, the record as read. */
int op_find_namespace(shmemora_pool *pool, const char *ns, uint64_t *hash, struct ns_view *view);

/* Checks a caller's key (present, 1..max_key bytes), hashes it, and checks
 * the token reaches it.  Fills k and *hash. */
int op_key(struct kv_op *op, const void *key, size_t len, struct entry_key *k, uint64_t *hash);

/* Is the operation's namespace still the live incarnation it began with?
 * (Writers ask after publishing: see namespace deletion in namespace.c.) */
bool op_ns_still_live(const struct kv_op *op);

#endif
