/*
 * config.h — the options object behind shmemora_config (see shmemora.h).
 * A NULL config means "every default"; config_or_default() hides that.
 */
#ifndef SHMEMORA_CONFIG_H
#define SHMEMORA_CONFIG_H

#include "shmemora.h"

struct shmemora_config {
	uint64_t size;          /* 0: default */
	uint32_t hosts;         /* 0: default */
	int coherence;
	char *key_file;         /* NULL: SHMEMORA_KEY_FILE, else POOL.key */
	char *root_token_file;  /* NULL: POOL.root-token */
	uint64_t capabilities;  /* 0: default */
	uint64_t index_slots;   /* 0: default */
	uint32_t namespaces;    /* 0: default */
	uint32_t max_key;       /* 0: default */
	uint32_t max_value;     /* 0: default */
	uint64_t raw_size;
	int raw_size_set;       /* 0: default (pool size / 64) */
	int numa_node;          /* -1: no binding */
	uint32_t lease_ms;
	int host_id;            /* -1: any */
	int force;
	long group;             /* -1: none; else the group a new pool is shared with */
	int observer;           /* attach without a host slot */
	int hardened;           /* 1: harden the process after attach (harden.h) */
};

/* `cfg`, or a static all-defaults config when it is NULL. */
const struct shmemora_config *config_or_default(const struct shmemora_config *cfg);

/* The key file path for pool `path` under `cfg` into `out`; E_INVALID if it
 * does not fit. */
int config_key_path(const struct shmemora_config *cfg, const char *path, char *out,
		    size_t out_len);

/* The root token file path for pool `path` under `cfg`. */
int config_root_token_path(const struct shmemora_config *cfg, const char *path, char *out,
			   size_t out_len);

/* Both secret files of a pool (PATH_MAX bytes each). */
int config_secret_paths(const struct shmemora_config *cfg, const char *path, char *key_path,
			char *root_path);

#endif
