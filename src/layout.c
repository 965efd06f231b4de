/*
 * layout.c — plans where the regions of a pool go, and checks a stored plan.
 *
 * One function, layout_plan(), decides the geometry; create calls it with
 * the user's request and layout_check() calls it again with the parameters
 * stored in a superblock.  The stored layout is accepted only if it is what
 * the planner would produce, so there is a single definition of a valid
 * layout and the regions of an accepted superblock never overlap or leave
 * the pool.
 *
 * Size classes: 64, 128, 192, 256, 384, 512, ... (two per power of two, each
 * a whole number of cache lines, so no two entries share a line) up to the
 * first class that holds the largest entry (header + max key + max value).
 *
 * Extents: the data region is cut into extents of one power-of-two size,
 * at least 64 KiB, at least the largest class (a block never spans two),
 * and large enough that a pool has at most 65536 of them (so a scan of the
 * extent records stays short).  Every host must be able to hold one.
 */
#include "layout.h"
#include "error.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static uint64_t pow2_floor(uint64_t v)
{
	uint64_t p = 1;
	while (p <= v / 2)
		p <<= 1;
	return p;
}

static uint64_t pow2_ceil(uint64_t v)
{
	uint64_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static uint64_t max_entry_bytes(uint32_t max_key, uint32_t max_value)
{
	return align_up((uint64_t)ENTRY_HEADER_BYTES + max_key + max_value, CACHE_LINE);
}

/* Fills the size-class table; returns the largest class (0 if > 40 needed). */
static uint64_t plan_size_classes(uint64_t max_entry, struct superblock *sb)
{
	uint32_t n = 0;
	for (uint64_t base = CACHE_LINE; n < SIZE_CLASSES_MAX; base <<= 1) {
		uint64_t pair[2] = { base, base + base / 2 };
		for (int i = 0; i < 2 && n < SIZE_CLASSES_MAX; i++) {
			if (pair[i] % CACHE_LINE)
				continue; /* entries stay whole cache lines */
			sb->size_class[n++] = (uint32_t)pair[i];
			if (pair[i] >= max_entry) {
				sb->size_class_count = n;
				return pair[i];
			}
		}
	}
	return 0;
}

/* Places the regions in front of the data region (the superblock, the sync
 * area, the capability entries) for these counts; returns where the
 * data region starts. */
struct counts {
	uint32_t hosts;
	uint64_t caps, slots;
	uint32_t namespaces;
	uint64_t extents;
};

static uint64_t metadata_end(const struct counts *n, uint32_t align, struct layout_region *region)
{
	struct layout_region r[REGION_COUNT];
	const uint64_t size[REGION_DATA] = {
		[REGION_SUPERBLOCK] = SB_BACKUP_OFFSET + SB_COPY_SPAN,
		[REGION_REGISTRY] = (uint64_t)n->hosts * sizeof(struct host_slot),
		[REGION_CAPSYNC] = n->caps * sizeof(struct cap_sync),
		[REGION_NAMESPACES] = (uint64_t)n->namespaces * sizeof(struct ns_record),
		[REGION_INDEX] = n->slots * sizeof(uint64_t),
		[REGION_HEAP] = (uint64_t)n->hosts * sizeof(struct heap_header) +
				n->extents * sizeof(struct extent_record),
		[REGION_CAPTABLE] = n->caps * sizeof(struct cap_entry),
	};
	uint64_t at = 0;
	for (int i = 0; i < REGION_DATA; i++) {
		r[i].offset = at;
		r[i].size = align_up(size[i], align);
		at += r[i].size;
	}
	r[REGION_DATA] = (struct layout_region){ at, 0 }; /* sized by layout_plan */
	r[REGION_RAW] = (struct layout_region){ 0, 0 };
	if (region)
		memcpy(region, r, sizeof r);
	return at;
}

static uint64_t default_caps(uint64_t size)
{
	return clamp_u64(pow2_floor(size / 16384), 256, 65536);
}

static uint64_t default_slots(uint64_t size)
{
	return clamp_u64(pow2_floor(size / 256), 64, MAX_INDEX_SLOTS);
}

static uint32_t default_namespaces(uint64_t size)
{
	return (uint32_t)clamp_u64(pow2_floor(size >> 20), 64, 4096);
}

/* The extent size for a data region of about `avail` bytes whose largest
 * block is `largest_class`. */
static uint64_t extent_size_for(uint64_t largest_class, uint64_t avail)
{
	uint64_t e = pow2_ceil(largest_class);
	if (e < MIN_EXTENT_BYTES)
		e = MIN_EXTENT_BYTES;
	while (avail / e > MAX_EXTENTS)
		e <<= 1;
	return e;
}

uint64_t layout_min_size(uint32_t hosts, uint32_t alignment)
{
	/* The smallest multiple of the alignment that layout_plan accepts
	 * with every default: grow by doubling, then narrow down. */
	struct geometry_request req = { .alignment = alignment, .max_hosts = hosts };
	struct superblock sb;
	uint64_t hi = align_up((uint64_t)hosts * MIN_EXTENT_BYTES, alignment);
	for (;;) {
		req.pool_size = hi;
		if (hi > MAX_POOL_SIZE / 2 || layout_plan(&req, &sb) == 0)
			break;
		hi *= 2;
	}
	uint64_t lo = hi / 2; /* fails, or is below the first size tried */
	while (hi - lo > alignment) {
		req.pool_size = align_down(lo + (hi - lo) / 2, alignment);
		if (req.pool_size <= lo)
			break;
		if (layout_plan(&req, &sb) == 0)
			hi = req.pool_size;
		else
			lo = req.pool_size;
	}
	error_clear();
	return hi;
}

static void format_bytes(uint64_t v, char *out, size_t n)
{
	if (v >= (1ULL << 30) && v % (1ULL << 30) == 0)
		snprintf(out, n, "%" PRIu64 " GiB", v >> 30);
	else if (v >= (1ULL << 20) && v % (1ULL << 20) == 0)
		snprintf(out, n, "%" PRIu64 " MiB", v >> 20);
	else if (v >= 1024 && v % 1024 == 0)
		snprintf(out, n, "%" PRIu64 " KiB", v >> 10);
	else
		snprintf(out, n, "%" PRIu64 " bytes", v);
}

static int does_not_fit(uint64_t size, const struct counts *n, uint32_t align, uint64_t raw,
			uint64_t extent, const char *why)
{
	struct counts with = *n;
	with.extents = n->hosts;
	uint64_t need = align_up(metadata_end(&with, align, NULL) + raw +
				 align_up((uint64_t)n->hosts * extent, align), align);
	uint32_t fit = 0;
	for (uint32_t h = n->hosts; h > 0; h--) {
		struct counts fewer = *n;
		fewer.hosts = h;
		fewer.extents = h;
		if (metadata_end(&fewer, align, NULL) + raw + align_up((uint64_t)h * extent, align) <=
		    size) {
			fit = h;
			break;
		}
	}
	char have[32], want[32], ext[32];
	format_bytes(size, have, sizeof have);
	format_bytes(need, want, sizeof want);
	format_bytes(extent, ext, sizeof ext);
	if (fit)
		return error_set(SHMEMORA_E_GEOMETRY,
				 "a pool of %s cannot hold %u hosts (%s; each host needs at least "
				 "one extent of %s): use --size %s or more, or --hosts %u or fewer",
				 have, n->hosts, why, ext, want, fit);
	return error_set(SHMEMORA_E_GEOMETRY,
			 "a pool of %s cannot hold %u hosts (%s; each host needs at least one "
			 "extent of %s): use --size %s or more",
			 have, n->hosts, why, ext, want);
}

/* The most extents of `extent` bytes that fit after the metadata for them
 * (whose heap region grows with their count), or 0. */
static uint64_t fit_extents(uint64_t size, struct counts *n, uint32_t align, uint64_t raw,
			    uint64_t extent, struct layout_region *region)
{
	n->extents = 0;
	uint64_t start = metadata_end(n, align, NULL);
	if (start + raw >= size)
		return 0;
	n->extents = (size - start - raw) / extent;
	/* Fewer extents need a smaller heap region; the count only falls, and
	 * stops at the first count whose records and extents both fit. */
	for (;;) {
		start = metadata_end(n, align, region);
		uint64_t room = start + raw < size ? size - start - raw : 0;
		uint64_t fits = align_down(room, align) / extent;
		while (fits && align_up(fits * extent, align) > room)
			fits--;
		if (fits >= n->extents)
			return n->extents;
		n->extents = fits;
	}
}

int layout_plan(const struct geometry_request *req, struct superblock *sb)
{
	uint64_t size = req->pool_size ? req->pool_size : DEFAULT_POOL_SIZE;
	uint32_t align = req->alignment ? req->alignment : MIN_ALIGNMENT;
	uint32_t hosts = req->max_hosts ? req->max_hosts : DEFAULT_HOSTS;
	uint32_t max_key = req->max_key ? req->max_key : DEFAULT_MAX_KEY;
	int value_is_default = req->max_value == 0;
	uint32_t max_value = value_is_default ? DEFAULT_MAX_VALUE : req->max_value;

	if (size > MAX_POOL_SIZE)
		return error_set(SHMEMORA_E_GEOMETRY, "a pool of %" PRIu64 " bytes is larger than "
				 "the format's limit of 4 TiB", size);
	if (!is_pow2(align) || align < MIN_ALIGNMENT || align > (1u << 30))
		return error_set(SHMEMORA_E_GEOMETRY, "alignment %u is not a power of two "
				 "between 4 KiB and 1 GiB", align);
	if (size % align) {
		char a[32];
		format_bytes(align, a, sizeof a);
		return error_set(SHMEMORA_E_GEOMETRY,
				 "pool size %" PRIu64 " is not a multiple of the %s alignment "
				 "of this backend", size, a);
	}
	if (hosts < 1 || hosts > MAX_HOSTS)
		return error_set(SHMEMORA_E_GEOMETRY, "host count %u out of range 1..%u",
				 hosts, MAX_HOSTS);
	if (max_key < 1 || max_key > MAX_KEY_LIMIT)
		return error_set(SHMEMORA_E_GEOMETRY, "max key %u out of range 1..%u",
				 max_key, MAX_KEY_LIMIT);
	if (max_value < 1 || max_value > MAX_VALUE_LIMIT)
		return error_set(SHMEMORA_E_GEOMETRY, "max value %u out of range 1..%u",
				 max_value, MAX_VALUE_LIMIT);
	uint64_t caps = req->cap_entries ? req->cap_entries : default_caps(size);
	if (caps > MAX_CAPABILITIES)
		return error_set(SHMEMORA_E_GEOMETRY, "%" PRIu64 " capabilities is more than "
				 "the limit of %llu", caps, (unsigned long long)MAX_CAPABILITIES);
	uint64_t slots = req->index_slots ? pow2_ceil(req->index_slots) : default_slots(size);
	if (slots < MIN_INDEX_SLOTS || slots > MAX_INDEX_SLOTS)
		return error_set(SHMEMORA_E_GEOMETRY, "%" PRIu64 " index slots out of range "
				 "%u..%llu", slots, MIN_INDEX_SLOTS, (unsigned long long)MAX_INDEX_SLOTS);
	uint32_t namespaces = req->ns_entries ? req->ns_entries : default_namespaces(size);
	if (namespaces > MAX_NAMESPACES)
		return error_set(SHMEMORA_E_GEOMETRY, "%u namespaces is more than the limit of %u",
				 namespaces, MAX_NAMESPACES);
	struct counts n = { hosts, caps, slots, namespaces, 0 };

	/* The raw area (the raw region API's bytes) sits at the end of the pool,
	 * apart from the KV extents, so no region token can reach an entry. */
	uint64_t raw = req->raw_size_set ? req->raw_size : size / 64;
	raw = align_up(raw, align);
	if (raw >= size)
		return error_set(SHMEMORA_E_GEOMETRY, "a raw area of %" PRIu64 " bytes does not fit "
				 "a pool of %" PRIu64, raw, size);
	memset(sb->region, 0, sizeof sb->region);
	memset(sb->size_class, 0, sizeof sb->size_class);
	uint64_t data_start = metadata_end(&n, align, NULL);
	uint64_t largest = plan_size_classes(max_entry_bytes(max_key, max_value), sb);
	if (largest == 0)
		return error_set(SHMEMORA_E_GEOMETRY, "max key plus max value needs more than "
				 "%d size classes", SIZE_CLASSES_MAX);
	if (data_start + raw >= size)
		return does_not_fit(size, &n, align, raw, MIN_EXTENT_BYTES,
				    "its metadata alone fills it");
	uint64_t avail = size - data_start - raw;

	/* An unset max value shrinks until the data region holds 64 of the
	 * largest blocks and two extents per host; an explicit one is honoured
	 * or refused. */
	while (value_is_default && max_value > 256 &&
	       (largest * 64 > avail || avail / extent_size_for(largest, avail) < 2ull * hosts)) {
		max_value /= 2;
		largest = plan_size_classes(max_entry_bytes(max_key, max_value), sb);
	}
	uint64_t extent = extent_size_for(largest, avail);
	uint64_t extents = fit_extents(size, &n, align, raw, extent, sb->region);
	if (extents < hosts) {
		if (!value_is_default && pow2_ceil(largest) > MIN_EXTENT_BYTES) {
			char v[32], why[96];
			format_bytes(max_value, v, sizeof v);
			snprintf(why, sizeof why, "a %s value needs extents that large", v);
			return does_not_fit(size, &n, align, raw, extent, why);
		}
		return does_not_fit(size, &n, align, raw, extent, "too few extents");
	}
	memset(sb->size_class + sb->size_class_count, 0,
	       sizeof(uint32_t) * (SIZE_CLASSES_MAX - sb->size_class_count));

	sb->pool_size = size;
	sb->alignment = align;
	sb->max_hosts = hosts;
	sb->cap_entries = caps;
	sb->index_slots = slots;
	sb->ns_entries = namespaces;
	sb->max_key = max_key;
	sb->max_value = max_value;
	sb->extent_size = extent;
	sb->region[REGION_DATA].size = align_up(extents * extent, align);
	sb->region[REGION_RAW].offset = sb->region[REGION_DATA].offset +
					sb->region[REGION_DATA].size;
	sb->region[REGION_RAW].size = raw;
	sb->raw_size = raw;
	return 0;
}

int layout_check(const struct superblock *sb)
{
	if (sb->sb_size != sizeof(struct superblock))
		return error_set(SHMEMORA_E_CORRUPT, "superblock size field is %u, expected %zu",
				 sb->sb_size, sizeof(struct superblock));
	if (sb->coherence > 1 || sb->backend > 2 || sb->flags != 0 || sb->lease_ms == 0)
		return error_set(SHMEMORA_E_CORRUPT,
				 "superblock mode fields out of range (coherence %u, backend %u, "
				 "flags %#x, lease %u ms)", sb->coherence, sb->backend, sb->flags,
				 sb->lease_ms);
	struct geometry_request req = {
		.pool_size = sb->pool_size, .alignment = sb->alignment,
		.max_hosts = sb->max_hosts, .cap_entries = sb->cap_entries,
		.index_slots = sb->index_slots, .ns_entries = sb->ns_entries,
		.max_key = sb->max_key,
		.max_value = sb->max_value,
		.raw_size = sb->raw_size, .raw_size_set = 1,
	};
	/* Zero fields would select defaults; a stored zero is corruption. */
	if (!req.pool_size || !req.alignment || !req.max_hosts || !req.cap_entries ||
	    !req.index_slots || !req.ns_entries || !req.max_key || !req.max_value)
		return error_set(SHMEMORA_E_CORRUPT, "superblock geometry has a zero field");
	struct superblock planned;
	memset(&planned, 0, sizeof planned);
	if (layout_plan(&req, &planned) != 0)
		return error_wrap(SHMEMORA_E_CORRUPT, "stored geometry is impossible");
	if (planned.index_slots != sb->index_slots ||
	    planned.extent_size != sb->extent_size ||
	    memcmp(planned.region, sb->region, sizeof planned.region) != 0 ||
	    planned.size_class_count != sb->size_class_count ||
	    memcmp(planned.size_class, sb->size_class, sizeof planned.size_class) != 0 ||
	    planned.raw_size != sb->raw_size)
		return error_set(SHMEMORA_E_CORRUPT,
				 "stored region table disagrees with the pool's own parameters");
	return 0;
}
