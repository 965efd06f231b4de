/*
 * secrets.c — derives and keeps the per-pool secrets (see secrets.h).
 */
#include "secrets.h"
#include "error.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
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

int secrets_create(const struct pool_key *key, const uint8_t uuid[16], struct secrets **out)
{
	struct secrets *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return error_set(SHMEMORA_E_NOMEM, "cannot map the secrets: %s", strerror(errno));
	/* Never in a core dump, never in a forked child. */
	madvise(s, sizeof *s, MADV_DONTDUMP);
	madvise(s, sizeof *s, MADV_DONTFORK);
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
		secrets_destroy(s);
		return rc;
	}
	*out = s;
	return 0;
}

void secrets_destroy(struct secrets *s)
{
	if (!s)
		return;
	crypto_wipe(s, sizeof *s);
	munmap(s, sizeof *s);
}

void secrets_mapping(const struct secrets *s, void **addr, size_t *len)
{
	*addr = (void *)s;
	*len = sizeof *s;
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
