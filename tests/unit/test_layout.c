/*
 * test_layout.c — geometry planning and checking (layout.c).
 */
#include "testutil.h"

#include "error.h"
#include "layout.h"

static struct superblock plan_ok(uint64_t size, uint32_t hosts, uint32_t align)
{
	struct superblock sb;
	memset(&sb, 0, sizeof sb);
	struct geometry_request req = { .pool_size = size, .max_hosts = hosts, .alignment = align };
	assert_shm(0, layout_plan(&req, &sb));
	sb.sb_size = sizeof sb;
	sb.lease_ms = 1000;
	return sb;
}

static void default_geometry_for_1g_and_8_hosts(void **state)
{
	(void)state;
	struct superblock sb = plan_ok(1ULL << 30, 8, 0);
	assert_int_equal(sb.max_hosts, 8);
	assert_int_equal(sb.alignment, 4096);
	assert_int_equal(sb.cap_entries, 65536);
	assert_int_equal(sb.index_slots, 4u << 20);
	assert_int_equal(sb.max_key, 1024);
	assert_int_equal(sb.max_value, 1u << 20);
	/* The data region and the raw area (1/64) use nearly the whole pool;
	 * extents hold the largest entry (1 MiB value: a 1.5 MiB class). */
	assert_int_equal(sb.raw_size, (1ULL << 30) / 64);
	assert_true(sb.region[REGION_DATA].size + sb.raw_size > (1ULL << 30) * 93 / 100);
	assert_int_equal(sb.extent_size, 2u << 20);
}

static void regions_are_aligned_contiguous_and_inside(void **state)
{
	(void)state;
	uint32_t aligns[] = { 4096, 2u << 20 };
	uint32_t hosts[] = { 1, 3, 8, 100 };
	for (size_t a = 0; a < 2; a++)
		for (size_t h = 0; h < 4; h++) {
			struct superblock sb = plan_ok(4ULL << 30, hosts[h], aligns[a]);
			uint64_t end = 0;
			for (int r = 0; r < REGION_COUNT; r++) {
				assert_int_equal(sb.region[r].offset % aligns[a], 0);
				assert_int_equal(sb.region[r].offset, end);
				end = sb.region[r].offset + sb.region[r].size;
			}
			assert_true(end <= sb.pool_size);
			assert_true(is_pow2(sb.extent_size));
			assert_true(sb.extent_size >= sb.size_class[sb.size_class_count - 1]);
			assert_int_equal(sb.region[REGION_DATA].size % sb.extent_size, 0);
			assert_int_equal(sb.region[REGION_DATA].size % aligns[a], 0);
			assert_true(sb.region[REGION_DATA].size / sb.extent_size >= hosts[h]);
			/* The heap region has a record for every extent. */
			assert_true(sb.region[REGION_HEAP].size >=
				    hosts[h] * sizeof(struct heap_header) +
				    sb.region[REGION_DATA].size / sb.extent_size *
				    sizeof(struct extent_record));
			assert_int_equal(sb.region[REGION_RAW].size, sb.raw_size);
			assert_true(sb.region[REGION_SUPERBLOCK].size >=
				    SB_BACKUP_OFFSET + sizeof(struct superblock));
		}
}

static void size_classes_ascend_and_hold_the_largest_entry(void **state)
{
	(void)state;
	struct superblock sb = plan_ok(1ULL << 30, 8, 0);
	assert_true(sb.size_class_count > 1 && sb.size_class_count <= SIZE_CLASSES_MAX);
	assert_int_equal(sb.size_class[0], 64);
	for (uint32_t i = 1; i < sb.size_class_count; i++) {
		assert_true(sb.size_class[i] > sb.size_class[i - 1]);
		assert_int_equal(sb.size_class[i] % 64, 0);
	}
	uint32_t largest = sb.size_class[sb.size_class_count - 1];
	assert_true(largest >= ENTRY_HEADER_BYTES + sb.max_key + sb.max_value);
	assert_true(sb.size_class[sb.size_class_count - 2] <
		    ENTRY_HEADER_BYTES + sb.max_key + sb.max_value);
}

static void too_small_pool_is_refused_with_what_would_fit(void **state)
{
	(void)state;
	struct superblock sb;
	struct geometry_request req = { .pool_size = 256 << 10, .max_hosts = 8 };
	assert_shm(SHMEMORA_E_GEOMETRY, layout_plan(&req, &sb));
	assert_non_null(strstr(shmemora_errmsg(), "--size"));
	assert_non_null(strstr(shmemora_errmsg(), "--hosts"));
	/* The suggested size does fit. */
	uint64_t need = layout_min_size(8, 4096);
	req.pool_size = need;
	assert_shm(0, layout_plan(&req, &sb));
}

static void unaligned_size_is_refused(void **state)
{
	(void)state;
	struct superblock sb;
	struct geometry_request req = { .pool_size = (64u << 20) + 100 };
	assert_shm(SHMEMORA_E_GEOMETRY, layout_plan(&req, &sb));
	req = (struct geometry_request){ .pool_size = 64u << 20, .alignment = 2u << 20 };
	req.pool_size += 4096;
	assert_shm(SHMEMORA_E_GEOMETRY, layout_plan(&req, &sb));
}

static void default_max_value_shrinks_but_explicit_is_refused(void **state)
{
	(void)state;
	struct superblock sb = plan_ok(16u << 20, 8, 0);
	assert_true(sb.max_value < DEFAULT_MAX_VALUE);
	/* ... until the data region holds 64 of the largest entries. */
	assert_true(64ull * sb.size_class[sb.size_class_count - 1] <=
		    sb.region[REGION_DATA].size + sb.extent_size);
	struct geometry_request req = { .pool_size = 16u << 20, .max_hosts = 8,
					.max_value = 4u << 20 };
	assert_shm(SHMEMORA_E_GEOMETRY, layout_plan(&req, &sb));
	assert_non_null(strstr(shmemora_errmsg(), "needs extents that large"));
}

static void out_of_range_parameters_are_refused(void **state)
{
	(void)state;
	struct superblock sb;
	struct geometry_request bad[] = {
		{ .pool_size = 1ULL << 30, .max_hosts = MAX_HOSTS + 1 },
		{ .pool_size = 1ULL << 30, .max_key = MAX_KEY_LIMIT + 1 },
		{ .pool_size = 1ULL << 30, .max_value = MAX_VALUE_LIMIT + 1 },
		{ .pool_size = 1ULL << 30, .cap_entries = MAX_CAPABILITIES + 1 },
		{ .pool_size = 1ULL << 30, .alignment = 3000 },
		{ .pool_size = 1ULL << 30, .ns_entries = MAX_NAMESPACES + 1 },
		{ .pool_size = MAX_POOL_SIZE * 2 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_shm(SHMEMORA_E_GEOMETRY, layout_plan(&bad[i], &sb));
}

static void check_accepts_what_plan_produced(void **state)
{
	(void)state;
	struct superblock sb = plan_ok(1ULL << 30, 8, 0);
	assert_shm(0, layout_check(&sb));
	sb = plan_ok(16u << 20, 8, 0); /* with an auto-lowered max value */
	assert_shm(0, layout_check(&sb));
}

static void check_refuses_any_edited_geometry_field(void **state)
{
	(void)state;
	struct superblock good = plan_ok(1ULL << 30, 8, 0);
	struct superblock sb;
#define EDIT(stmt)                                        \
	do {                                              \
		sb = good;                                \
		stmt;                                     \
		assert_shm(SHMEMORA_E_CORRUPT, layout_check(&sb)); \
	} while (0)
	EDIT(sb.region[REGION_INDEX].offset += 4096);
	EDIT(sb.region[REGION_DATA].size += 4096);
	EDIT(sb.region[REGION_HEAP].size -= 4096);
	EDIT(sb.region[REGION_CAPTABLE].size = 1ULL << 40);
	EDIT(sb.extent_size *= 2);
	EDIT(sb.extent_size /= 2);
	EDIT(sb.index_slots += 1);
	EDIT(sb.ns_entries += 1);
	EDIT(sb.ns_entries = 0);
	EDIT(sb.region[REGION_NAMESPACES].size += 4096);
	EDIT(sb.size_class[3] = 5);
	EDIT(sb.size_class_count = 0);
	EDIT(sb.max_hosts = 0);
	EDIT(sb.max_hosts = 100);
	EDIT(sb.pool_size = 1ULL << 62);
	EDIT(sb.coherence = 7);
	EDIT(sb.flags = 1);
	EDIT(sb.sb_size = 100);
	EDIT(sb.lease_ms = 0);
	EDIT(sb.raw_size += 4096);
	EDIT(sb.region[REGION_RAW].offset -= 4096);
#undef EDIT
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(default_geometry_for_1g_and_8_hosts),
		cmocka_unit_test(regions_are_aligned_contiguous_and_inside),
		cmocka_unit_test(size_classes_ascend_and_hold_the_largest_entry),
		cmocka_unit_test(too_small_pool_is_refused_with_what_would_fit),
		cmocka_unit_test(unaligned_size_is_refused),
		cmocka_unit_test(default_max_value_shrinks_but_explicit_is_refused),
		cmocka_unit_test(out_of_range_parameters_are_refused),
		cmocka_unit_test(check_accepts_what_plan_produced),
		cmocka_unit_test(check_refuses_any_edited_geometry_field),
	};
	return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
