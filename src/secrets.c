/*
 * secrets.c — derives and keeps the per-pool secrets (see secrets.h).
 *
 * The mapping is two parts: a header page that records which process
 * generation made it (forkgen.h), inherited by children like any memory,
 * and the secrets themselves, MADV_DONTFORK, which a child does not get.
 * secrets_destroy reads the header to tell its own secrets from a
 * parent's, whose address may hold something else in the child.
 */
#include "secrets.h"
#include "error.h"
#include "forkgen.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

struct secrets {
	struct hmac_key token_key;
	struct siphash_key lineage_key;
	struct siphash_key entry_key;
	uint64_t hash_seed[2];        /* [0] namespace names, [1] keys */
};

static int derive(const struct pool_key *key, const char *label, const uint8_t uuid[16],
		  uint8_t out[MAC_BYTES])
{
	return crypto_derive(key, label, uuid, 16, out);
}

struct secrets_header {
	unsigned born;                /* forkgen_now() of the process that made them */
};

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static struct secrets_header *header_of(const struct secrets *s)
{
	return (struct secrets_header *)((uintptr_t)s - page_size());
}

static void unmap(struct secrets *s)
{
	munmap(header_of(s), 2 * page_size());
}

int secrets_create(const struct pool_key *key, const uint8_t uuid[16], struct secrets **out)
{
	_Static_assert(sizeof(struct secrets) <= 4096, "the secrets fit one page");
	size_t page = page_size();
	uint8_t *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
	if (map == MAP_FAILED)
		return error_set(SHMEMORA_E_NOMEM, "cannot map the secrets: %s", strerror(errno));
	forkgen_init();
	((struct secrets_header *)map)->born = forkgen_now();
	struct secrets *s = (struct secrets *)(map + page);
	/* Never in a core dump, never in a forked child. */
	madvise(s, page, MADV_DONTDUMP);
	madvise(s, page, MADV_DONTFORK);
	uint8_t d[MAC_BYTES];
	int rc = derive(key, "shmemora token key v2", uuid, d);
	if (rc == 0) {
		hmac_key_init(&s->token_key, d, sizeof d);
		rc = derive(key, "shmemora lineage key v2", uuid, d);
	}
	if (rc == 0) {
		siphash_key_init(&s->lineage_key, d);
		rc = derive(key, "shmemora entry key v2", uuid, d);
	}
	if (rc == 0) {
		siphash_key_init(&s->entry_key, d);
		rc = derive(key, "shmemora hash seeds v2", uuid, d);
	}
	if (rc == 0)
		memcpy(s->hash_seed, d, sizeof s->hash_seed);
	crypto_wipe(d, sizeof d);
	if (rc) {
		secrets_wipe(s);
		unmap(s);
		return rc;
	}
	*out = s;
	return 0;
}

void secrets_wipe(struct secrets *s)
{
	crypto_wipe(s, sizeof *s);
}

void secrets_destroy(struct secrets *s)
{
	/* A forked child has the header but not the secrets: leave the
	 * parent's alone (the child may have mapped something else there). */
	if (s && header_of(s)->born == forkgen_now())
		unmap(s);
}

size_t secrets_footprint(void)
{
	return 2 * page_size();
}

int secrets_move(struct secrets **sp, void *dest)
{
	size_t page = page_size();
	struct secrets *s = *sp;
	uint8_t *header = (uint8_t *)header_of(s), *to = dest;
	/* Two mappings (the header is inherited by children, the secrets
	 * are not): the secrets first, so a failure of the header's move can
	 * put them back where they were. */
	if (mremap(s, page, page, MREMAP_MAYMOVE | MREMAP_FIXED, to + page) == MAP_FAILED)
		return error_set(SHMEMORA_E_IO, "cannot move the secrets: %s", strerror(errno));
	if (mremap(header, page, page, MREMAP_MAYMOVE | MREMAP_FIXED, to) == MAP_FAILED) {
		int e = errno;
		mremap(to + page, page, page, MREMAP_MAYMOVE | MREMAP_FIXED, s);
		return error_set(SHMEMORA_E_IO, "cannot move the secrets' header: %s", strerror(e));
	}
	*sp = (struct secrets *)(to + page);
	return 0;
}

void secrets_mapping(const struct secrets *s, void **addr, size_t *len)
{
	*addr = (void *)s;
	*len = page_size();
}

const struct hmac_key *secrets_token_key(const struct secrets *s)
{
	return &s->token_key;
}

const struct siphash_key *secrets_entry_key(const struct secrets *s)
{
	return &s->entry_key;
}

uint64_t secrets_ns_hash(const struct secrets *s, const char *name, size_t len)
{
	uint64_t h = XXH3_64bits_withSeed(name, len, s->hash_seed[0]);
	return h != NS_CATALOG ? h : NS_CATALOG + 1;
}

uint64_t secrets_key_hash(const struct secrets *s, uint64_t ns_hash, const void *key, size_t len)
{
	/* Each namespace hashes with its own keyed function. */
	return XXH3_64bits_withSeed(key, len, s->hash_seed[1] ^ (ns_hash * 0x9e3779b97f4a7c15ULL));
}

uint64_t secrets_lineage(const struct secrets *s, uint64_t parent_lineage, uint64_t parent_id)
{
	uint64_t in[2] = { parent_lineage, parent_id };
	return siphash24(&s->lineage_key, in, sizeof in);
}
