/*
 * namespace.h — namespaces: create, delete, list, limits (the public
 * shmemora_ns_* calls), and the name catalog other modules read.
 *
 * A namespace is a record in the namespace table (nstable.h: its state and
 * incarnation, its limits and usage) plus a catalog entry in the KV index
 * that holds its name (namespace NS_CATALOG, key = the name), so names can
 * be listed.  Keys live in the index like any others, tagged with the
 * namespace's hash and incarnation.
 *
 * Deletion races writers without locks: the deleter moves the record to
 * DELETING (seq_cst) and then scans the index with seq_cst loads, removing
 * every entry of that incarnation; a writer publishes with a seq_cst CAS and
 * then rereads the state (seq_cst).  In that store-buffering pattern at
 * least one side sees the other: either the scan finds the writer's entry,
 * or the writer sees DELETING and takes its entry back.  An entry of an old
 * incarnation that escapes both (its writer died in between) can never be
 * read: lookups match the incarnation too.  `check --repair` collects it.
 */
#ifndef SHMEMORA_NAMESPACE_H
#define SHMEMORA_NAMESPACE_H

#include "op.h"

struct ns_name {
	uint64_t hash;
	char name[NS_NAME_MAX + 1];
};

/* Every name in the catalog (the caller frees *names).  Only between
 * protect_open and protect_close.  E_NOMEM. */
int namespace_names(shmemora_pool *pool, struct ns_name **names, size_t *count);

/* The name of the namespace of `hash` among `names`, or NULL. */
const char *namespace_name_of(const struct ns_name *names, size_t count, uint64_t hash);

#endif
