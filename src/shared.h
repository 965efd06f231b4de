/*
 * shared.h — loads and stores of plain fields in the pool that another host
 * may be writing at the same moment.
 *
 * Two kinds of words live in the pool.  Synchronisation words (`_Atomic`
 * members of the on-media structs: state words, index slots, list heads)
 * are accessed with C11 atomics and an explicit memory order, each with a
 * comment saying what it pairs with.  Every other field is plain data that
 * a protocol protects (a seqlock, a MAC, a state transition): its accesses
 * race by design and the protocol decides whether what was read counts.
 * Those go through field_load/field_store, relaxed atomic accesses of the
 * field's own width, so that a torn value is impossible, the compiler reads
 * each field exactly once where the code says so (never a second time
 * behind the reader's back), and ThreadSanitizer sees the intent.
 */
#ifndef SHMEMORA_SHARED_H
#define SHMEMORA_SHARED_H

#include <stdint.h>

#define field_load(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define field_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

#endif
