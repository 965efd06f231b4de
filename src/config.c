/*
 * config.c — option setters with validation, and the key-file default.
 */
#include "config.h"
#include "error.h"
#include "layout.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct shmemora_config defaults = {
	.coherence = SHMEMORA_COHERENT,
	.numa_node = -1,
	.lease_ms = DEFAULT_LEASE_MS,
	.host_id = -1,
	.group = -1,
};

const struct shmemora_config *config_or_default(const struct shmemora_config *cfg)
{
	return cfg ? cfg : &defaults;
}

int shmemora_config_new(shmemora_config **out)
{
	error_clear();
	if (!out)
		return error_set(SHMEMORA_E_INVALID, "config_new: out is NULL");
	struct shmemora_config *cfg = malloc(sizeof *cfg);
	if (!cfg)
		return error_set(SHMEMORA_E_NOMEM, "config_new: out of memory");
	*cfg = defaults;
	*out = cfg;
	return 0;
}

void shmemora_config_delete(shmemora_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->key_file);
	free(cfg->root_token_file);
	free(cfg);
}

#define REQUIRE_CFG(cfg) \
	do { if (!(cfg)) return error_set(SHMEMORA_E_INVALID, "config is NULL"); } while (0)

int shmemora_config_set_size(shmemora_config *cfg, uint64_t bytes)
{
	REQUIRE_CFG(cfg);
	if (bytes < MIN_ALIGNMENT)
		return error_set(SHMEMORA_E_INVALID, "pool size %llu is below 4 KiB",
				 (unsigned long long)bytes);
	cfg->size = bytes;
	return 0;
}

int shmemora_config_set_hosts(shmemora_config *cfg, uint32_t hosts)
{
	REQUIRE_CFG(cfg);
	if (hosts < 1 || hosts > MAX_HOSTS)
		return error_set(SHMEMORA_E_INVALID, "host count %u out of range 1..%u", hosts,
				 MAX_HOSTS);
	cfg->hosts = hosts;
	return 0;
}

int shmemora_config_set_coherence(shmemora_config *cfg, enum shmemora_coherence mode)
{
	REQUIRE_CFG(cfg);
	if (mode != SHMEMORA_COHERENT && mode != SHMEMORA_FLUSH)
		return error_set(SHMEMORA_E_INVALID, "unknown coherence mode %d", (int)mode);
	cfg->coherence = mode;
	return 0;
}

int shmemora_config_set_key_file(shmemora_config *cfg, const char *path)
{
	REQUIRE_CFG(cfg);
	if (!path || !*path)
		return error_set(SHMEMORA_E_INVALID, "key file path is empty");
	char *copy = strdup(path);
	if (!copy)
		return error_set(SHMEMORA_E_NOMEM, "out of memory");
	free(cfg->key_file);
	cfg->key_file = copy;
	return 0;
}

int shmemora_config_set_root_token_file(shmemora_config *cfg, const char *path)
{
	REQUIRE_CFG(cfg);
	if (!path || !*path)
		return error_set(SHMEMORA_E_INVALID, "root token file path is empty");
	char *copy = strdup(path);
	if (!copy)
		return error_set(SHMEMORA_E_NOMEM, "out of memory");
	free(cfg->root_token_file);
	cfg->root_token_file = copy;
	return 0;
}

int shmemora_config_set_capabilities(shmemora_config *cfg, uint64_t entries)
{
	REQUIRE_CFG(cfg);
	if (entries < 1 || entries > MAX_CAPABILITIES)
		return error_set(SHMEMORA_E_INVALID, "capability count %llu out of range 1..%llu",
				 (unsigned long long)entries, (unsigned long long)MAX_CAPABILITIES);
	cfg->capabilities = entries;
	return 0;
}

int shmemora_config_set_index_slots(shmemora_config *cfg, uint64_t slots)
{
	REQUIRE_CFG(cfg);
	if (slots < MIN_INDEX_SLOTS || slots > MAX_INDEX_SLOTS)
		return error_set(SHMEMORA_E_INVALID, "index slots %llu out of range %u..%llu",
				 (unsigned long long)slots, MIN_INDEX_SLOTS,
				 (unsigned long long)MAX_INDEX_SLOTS);
	cfg->index_slots = slots;
	return 0;
}

int shmemora_config_set_namespaces(shmemora_config *cfg, uint32_t records)
{
	REQUIRE_CFG(cfg);
	if (records < 1 || records > MAX_NAMESPACES)
		return error_set(SHMEMORA_E_INVALID, "namespace count %u out of range 1..%u", records,
				 MAX_NAMESPACES);
	cfg->namespaces = records;
	return 0;
}

int shmemora_config_set_raw_size(shmemora_config *cfg, uint64_t bytes)
{
	REQUIRE_CFG(cfg);
	cfg->raw_size = bytes;
	cfg->raw_size_set = 1;
	return 0;
}

int shmemora_config_set_max_key(shmemora_config *cfg, uint32_t bytes)
{
	REQUIRE_CFG(cfg);
	if (bytes < 1 || bytes > MAX_KEY_LIMIT)
		return error_set(SHMEMORA_E_INVALID, "max key %u out of range 1..%u", bytes,
				 MAX_KEY_LIMIT);
	cfg->max_key = bytes;
	return 0;
}

int shmemora_config_set_max_value(shmemora_config *cfg, uint32_t bytes)
{
	REQUIRE_CFG(cfg);
	if (bytes < 1 || bytes > MAX_VALUE_LIMIT)
		return error_set(SHMEMORA_E_INVALID, "max value %u out of range 1..%u", bytes,
				 MAX_VALUE_LIMIT);
	cfg->max_value = bytes;
	return 0;
}

int shmemora_config_set_numa_node(shmemora_config *cfg, int node)
{
	REQUIRE_CFG(cfg);
	if (node < -1)
		return error_set(SHMEMORA_E_INVALID, "NUMA node %d is negative", node);
	cfg->numa_node = node;
	return 0;
}

int shmemora_config_set_lease_ms(shmemora_config *cfg, uint32_t ms)
{
	REQUIRE_CFG(cfg);
	if (ms < 100)
		return error_set(SHMEMORA_E_INVALID, "lease of %u ms is too short (minimum 100)",
				 ms);
	cfg->lease_ms = ms;
	return 0;
}

int shmemora_config_set_host_id(shmemora_config *cfg, int host_id)
{
	REQUIRE_CFG(cfg);
	if (host_id < -1 || host_id >= (int)MAX_HOSTS)
		return error_set(SHMEMORA_E_INVALID, "host id %d out of range -1..%u", host_id,
				 MAX_HOSTS - 1);
	cfg->host_id = host_id;
	return 0;
}

int shmemora_config_set_group(shmemora_config *cfg, long gid)
{
	REQUIRE_CFG(cfg);
	if (gid < -1 || gid > (long)UINT32_MAX - 1)
		return error_set(SHMEMORA_E_INVALID, "group id %ld out of range", gid);
	cfg->group = gid;
	return 0;
}

int shmemora_config_set_force(shmemora_config *cfg, int force)
{
	REQUIRE_CFG(cfg);
	cfg->force = force != 0;
	return 0;
}

int shmemora_config_set_observer(shmemora_config *cfg, int on)
{
	REQUIRE_CFG(cfg);
	cfg->observer = on != 0;
	return 0;
}

int shmemora_config_set_hardened(shmemora_config *cfg, int on)
{
	REQUIRE_CFG(cfg);
	cfg->hardened = on != 0;
	return 0;
}

int config_key_path(const struct shmemora_config *cfg, const char *path, char *out,
		    size_t out_len)
{
	const char *env = getenv("SHMEMORA_KEY_FILE");
	int n;
	if (cfg->key_file)
		n = snprintf(out, out_len, "%s", cfg->key_file);
	else if (env && *env)
		n = snprintf(out, out_len, "%s", env);
	else
		n = snprintf(out, out_len, "%s.key", path);
	if (n < 0 || (size_t)n >= out_len)
		return error_set(SHMEMORA_E_INVALID, "key file path too long");
	return 0;
}

int config_root_token_path(const struct shmemora_config *cfg, const char *path, char *out,
			   size_t out_len)
{
	int n = cfg->root_token_file ? snprintf(out, out_len, "%s", cfg->root_token_file)
				     : snprintf(out, out_len, "%s.root-token", path);
	if (n < 0 || (size_t)n >= out_len)
		return error_set(SHMEMORA_E_INVALID, "root token file path too long");
	return 0;
}

int shmemora_root_token_path(const char *path, const shmemora_config *cfg, char *out,
			     size_t len)
{
	error_clear();
	if (!path || !*path || !out)
		return error_set(SHMEMORA_E_INVALID, "root_token_path: path and out are required");
	return config_root_token_path(config_or_default(cfg), path, out, len);
}

int config_secret_paths(const struct shmemora_config *cfg, const char *path, char *key_path,
			char *root_path)
{
	int rc = config_key_path(cfg, path, key_path, PATH_MAX);
	return rc ? rc : config_root_token_path(cfg, path, root_path, PATH_MAX);
}
