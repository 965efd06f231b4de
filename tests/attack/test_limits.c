/*
 * test_limits.c — what one tenant may take from the others, and what a
 * refused request changes (nothing).
 *
 *   quotas      a token's descendants hold at most its quota (the charge
 *               itself refuses, for derives that race): a tenant
 *               cannot fill the capability table, the administrator can
 *               still derive, and revoke + gc gives the quota back;
 *   namespaces  key and byte limits refuse the write that would pass them,
 *               and change nothing;
 *   names       tokens are derived only for namespaces that exist, with
 *               names the store accepts; a namespace deleted and created
 *               again refuses every token of its earlier life;
 *   all or none a raw write a token covers only in part writes nothing.
 */
#include "testutil.h"

#include "captable.h"
#include "layout.h"
#include "pool.h"

struct fixture {
	char path[256];
	shmemora_pool *pool;
	shmemora_token root;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	test_make_pool(f->path, sizeof f->path, "limits", 32u << 20, 4, 256, "t", &f->pool, &f->root);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	test_pool_done(f->pool, f->path);
	free(f);
	return 0;
}

static int derive(struct fixture *f, const shmemora_token *from, const char *ns,
		  uint32_t rights, uint32_t quota, shmemora_token *out)
{
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = ns, .rights = rights,
			     .quota = quota };
	return shmemora_token_derive(f->pool, from, &g, out);
}

static size_t token_count(struct fixture *f)
{
	size_t n;
	assert_shm(0, shmemora_token_list(f->pool, NULL, 0, &n));
	return n;
}

/* ---------------------------------------------------------- quotas */

/* A tenant with the grant right derives until its quota says no: it never
 * holds more than that, the table keeps room, and the administrator derives
 * on. */
static void a_tenant_cannot_fill_the_table(void **state)
{
	struct fixture *f = *state;
	shmemora_token tenant, t;
	assert_shm(0, derive(f, &f->root, "t", SHMEMORA_RIGHTS_ALL, 0, &tenant));
	shmemora_token_info info;
	assert_shm(0, shmemora_token_inspect(f->pool, &tenant, &info));
	assert_int_equal(info.quota, (256 - 1) / 8); /* the default under a root token */
	int n = 0, rc;
	while ((rc = derive(f, &tenant, "t", SHMEMORA_RIGHT_READ, 0, &t)) == 0)
		n++;
	assert_int_equal(rc, SHMEMORA_E_QUOTA);
	assert_non_null(strstr(shmemora_errmsg(), "quota"));
	assert_int_equal(n, (int)info.quota);
	size_t before = token_count(f);
	assert_shm(SHMEMORA_E_QUOTA, derive(f, &tenant, "t", SHMEMORA_RIGHT_READ, 0, &t));
	assert_int_equal(token_count(f), before); /* the refusal minted nothing */
	assert_shm(0, derive(f, &f->root, "t", SHMEMORA_RIGHT_READ, 0, &t)); /* the admin can */
}

/* The charge itself refuses what would pass the quota.  Derive checks the
 * quota left before it mints, but two derives from one parent, on two
 * hosts, can both pass that check; only the charge (a CAS on the parent's
 * count) stands between them and the quota.  A race is too narrow to hit
 * reliably, so the table is asked directly, as the second deriver would. */
static void the_table_refuses_a_charge_past_the_quota(void **state)
{
	struct fixture *f = *state;
	shmemora_token tenant, t;
	assert_shm(0, derive(f, &f->root, "t", SHMEMORA_RIGHTS_ALL, 3, &tenant));
	struct cap_fields pf;
	protect_saved saved = protect_open(&f->pool->prot);
	bool found = captable_snapshot(&f->pool->caps, tenant.id & CAP_INDEX_MASK, &pf);
	int first = found ? captable_charge(&f->pool->caps, &pf, 2) : -1;
	int second = found ? captable_charge(&f->pool->caps, &pf, 2) : -1; /* 4 > 3 */
	int third = found ? captable_charge(&f->pool->caps, &pf, 1) : -1;  /* 3: the last */
	int fourth = found ? captable_charge(&f->pool->caps, &pf, 1) : -1;
	protect_close(&f->pool->prot, saved);
	assert_true(found);
	assert_int_equal(first, 0);
	assert_int_equal(second, SHMEMORA_E_QUOTA);
	assert_int_equal(third, 0);
	assert_int_equal(fourth, SHMEMORA_E_QUOTA);
	/* The refused charges took nothing, and the quota is spent. */
	assert_shm(SHMEMORA_E_QUOTA, derive(f, &tenant, "t", SHMEMORA_RIGHT_READ, 0, &t));
}

/* An explicit quota: children of children count against it too, since each
 * child's own quota is carved out of its parent's. */
static void a_quota_covers_every_descendant(void **state)
{
	struct fixture *f = *state;
	shmemora_token tenant, mid, t;
	assert_shm(0, derive(f, &f->root, "t", SHMEMORA_RIGHTS_ALL, 10, &tenant));
	assert_shm(0, derive(f, &tenant, "t", SHMEMORA_RIGHTS_ALL, 5, &mid)); /* costs 6 */
	assert_shm(SHMEMORA_E_QUOTA, derive(f, &tenant, "t", SHMEMORA_RIGHTS_ALL, 4, &t));
	for (int i = 0; i < 4; i++) /* 10 - 6 left: four more children */
		assert_shm(0, derive(f, &tenant, "t", SHMEMORA_RIGHT_READ, 0, &t));
	assert_shm(SHMEMORA_E_QUOTA, derive(f, &tenant, "t", SHMEMORA_RIGHT_READ, 0, &t));
	for (int i = 0; i < 5; i++)
		assert_shm(0, derive(f, &mid, "t", SHMEMORA_RIGHT_READ, 0, &t));
	assert_shm(SHMEMORA_E_QUOTA, derive(f, &mid, "t", SHMEMORA_RIGHT_READ, 0, &t));
	shmemora_token_info info;
	assert_shm(0, shmemora_token_inspect(f->pool, &tenant, &info));
	assert_int_equal(info.quota_used, 10);
}

/* A child cannot be given more quota than its parent has left. */
static void a_child_quota_beyond_the_parents_is_refused(void **state)
{
	struct fixture *f = *state;
	shmemora_token tenant, t;
	assert_shm(0, derive(f, &f->root, "t", SHMEMORA_RIGHTS_ALL, 10, &tenant));
	size_t before = token_count(f);
	assert_shm(SHMEMORA_E_QUOTA, derive(f, &tenant, "t", SHMEMORA_RIGHTS_ALL, 10, &t));
	assert_int_equal(token_count(f), before);
	assert_shm(0, derive(f, &tenant, "t", SHMEMORA_RIGHTS_ALL, 9, &t));
}

/* The administrator's way back: revoke what the tenant derived (or the
 * tenant itself) and collect; the quota is free again. */
static void revoke_and_gc_give_the_quota_back(void **state)
{
	struct fixture *f = *state;
	shmemora_token tenant, kids[4], t;
	assert_shm(0, derive(f, &f->root, "t", SHMEMORA_RIGHTS_ALL, 4, &tenant));
	for (int i = 0; i < 4; i++)
		assert_shm(0, derive(f, &tenant, "t", SHMEMORA_RIGHT_READ, 0, &kids[i]));
	assert_shm(SHMEMORA_E_QUOTA, derive(f, &tenant, "t", SHMEMORA_RIGHT_READ, 0, &t));
	for (int i = 0; i < 2; i++)
		assert_shm(0, shmemora_token_revoke(f->pool, &kids[i]));
	assert_shm(SHMEMORA_E_QUOTA, derive(f, &tenant, "t", SHMEMORA_RIGHT_READ, 0, &t));
	uint64_t freed;
	assert_shm(0, shmemora_token_gc(f->pool, &freed));
	assert_int_equal(freed, 2);
	assert_shm(0, derive(f, &tenant, "t", SHMEMORA_RIGHT_READ, 0, &t));
	assert_shm(0, derive(f, &tenant, "t", SHMEMORA_RIGHT_READ, 0, &t));
	assert_shm(SHMEMORA_E_QUOTA, derive(f, &tenant, "t", SHMEMORA_RIGHT_READ, 0, &t));
}

/* A token without the grant right holds no quota and derives nothing. */
static void a_token_without_grant_has_no_quota(void **state)
{
	struct fixture *f = *state;
	shmemora_token ro, t;
	assert_shm(0, derive(f, &f->root, "t", SHMEMORA_RIGHT_READ, 0, &ro));
	shmemora_token_info info;
	assert_shm(0, shmemora_token_inspect(f->pool, &ro, &info));
	assert_int_equal(info.quota, 0);
	assert_shm(SHMEMORA_E_DENIED, derive(f, &ro, "t", SHMEMORA_RIGHT_READ, 0, &t));
}

/* ------------------------------------------------- namespace limits */

static int put(struct fixture *f, const char *ns, const char *key, size_t value_len)
{
	char value[256];
	memset(value, 'v', sizeof value);
	return shmemora_kv_put(f->pool, &f->root, ns, key, strlen(key), value, value_len);
}

static void key_limit_refuses_the_insert_that_would_pass_it(void **state)
{
	struct fixture *f = *state;
	assert_shm(0, shmemora_ns_create(f->pool, &f->root, "small"));
	assert_shm(0, shmemora_ns_set_limits(f->pool, &f->root, "small", 3, 0));
	assert_shm(0, put(f, "small", "a", 10));
	assert_shm(0, put(f, "small", "b", 10));
	assert_shm(0, put(f, "small", "c", 10));
	assert_shm(SHMEMORA_E_QUOTA, put(f, "small", "d", 10));
	assert_shm(SHMEMORA_E_NOT_FOUND, shmemora_kv_get(f->pool, &f->root, "small", "d", 1, NULL,
							 0, NULL, NULL));
	assert_shm(0, put(f, "small", "a", 20)); /* replacing is no new key */
	assert_shm(0, shmemora_kv_delete(f->pool, &f->root, "small", "b", 1));
	assert_shm(0, put(f, "small", "d", 10)); /* room again */
	shmemora_ns_info info;
	assert_shm(0, shmemora_ns_stat(f->pool, &f->root, "small", &info));
	assert_int_equal(info.keys, 3);
	assert_int_equal(info.bytes, 3 + 20 + 10 + 10);
	assert_int_equal(info.limited, 1);
}

static void byte_limit_refuses_a_growing_update_and_keeps_the_old_value(void **state)
{
	struct fixture *f = *state;
	assert_shm(0, shmemora_ns_create(f->pool, &f->root, "bytes"));
	assert_shm(0, put(f, "bytes", "k", 100)); /* before the limit: counted when set */
	assert_shm(0, shmemora_ns_set_limits(f->pool, &f->root, "bytes", 0, 150));
	assert_shm(SHMEMORA_E_QUOTA, put(f, "bytes", "k", 200));
	size_t len;
	char buf[256];
	assert_shm(0, shmemora_kv_get(f->pool, &f->root, "bytes", "k", 1, buf, sizeof buf, &len,
				      NULL));
	assert_int_equal(len, 100);
	assert_shm(0, put(f, "bytes", "k", 149));
	assert_shm(SHMEMORA_E_QUOTA, put(f, "bytes", "l", 1));
}

/* Only a pool token (with g) sets limits: a tenant cannot raise its own. */
static void a_tenant_cannot_set_its_own_limits(void **state)
{
	struct fixture *f = *state;
	shmemora_token tenant;
	assert_shm(0, derive(f, &f->root, "t", SHMEMORA_RIGHTS_ALL, 4, &tenant));
	assert_shm(SHMEMORA_E_OUT_OF_SCOPE, shmemora_ns_set_limits(f->pool, &tenant, "t", 0, 0));
}

/* ------------------------------------------------------------ names */

static void derive_for_a_name_the_store_refuses_is_invalid(void **state)
{
	struct fixture *f = *state;
	shmemora_token t;
	char longname[300];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	size_t before = token_count(f);
	assert_shm(SHMEMORA_E_INVALID, derive(f, &f->root, "a/b", SHMEMORA_RIGHT_READ, 0, &t));
	assert_shm(SHMEMORA_E_INVALID, derive(f, &f->root, longname, SHMEMORA_RIGHT_READ, 0, &t));
	assert_shm(SHMEMORA_E_INVALID, derive(f, &f->root, "tab\there", SHMEMORA_RIGHT_READ, 0, &t));
	assert_shm(SHMEMORA_E_INVALID, derive(f, &f->root, "", SHMEMORA_RIGHT_READ, 0, &t));
	assert_int_equal(token_count(f), before);
}

static void derive_for_a_missing_namespace_is_not_found(void **state)
{
	struct fixture *f = *state;
	shmemora_token t;
	assert_shm(SHMEMORA_E_NOT_FOUND, derive(f, &f->root, "nosuch", SHMEMORA_RIGHT_READ, 0, &t));
}

/* A namespace deleted and created again is a new incarnation: tokens of the
 * old one (namespace and key tokens) are refused, and none of its keys are
 * seen. */
static void tokens_of_a_deleted_namespace_are_refused_when_it_returns(void **state)
{
	struct fixture *f = *state;
	assert_shm(0, shmemora_ns_create(f->pool, &f->root, "gone"));
	assert_shm(0, put(f, "gone", "k", 8));
	shmemora_token ns_tok, key_tok;
	assert_shm(0, derive(f, &f->root, "gone", SHMEMORA_RIGHT_READ | SHMEMORA_RIGHT_WRITE |
			     SHMEMORA_RIGHT_INSERT, 0, &ns_tok));
	shmemora_grant kg = { .scope = SHMEMORA_SCOPE_KEY, .ns = "gone", .key = "k",
			      .key_len = 1, .rights = SHMEMORA_RIGHT_READ };
	assert_shm(0, shmemora_token_derive(f->pool, &f->root, &kg, &key_tok));
	uint64_t removed;
	assert_shm(0, shmemora_ns_delete(f->pool, &f->root, "gone", &removed));
	assert_int_equal(removed, 1);
	assert_shm(SHMEMORA_E_NOT_FOUND, shmemora_kv_get(f->pool, &ns_tok, "gone", "k", 1, NULL, 0,
							 NULL, NULL));
	assert_shm(0, shmemora_ns_create(f->pool, &f->root, "gone"));
	assert_shm(0, put(f, "gone", "k", 8));
	assert_shm(SHMEMORA_E_OUT_OF_SCOPE, shmemora_kv_get(f->pool, &ns_tok, "gone", "k", 1, NULL,
							    0, NULL, NULL));
	assert_shm(SHMEMORA_E_OUT_OF_SCOPE, shmemora_kv_put(f->pool, &ns_tok, "gone", "k", 1, "x", 1));
	assert_shm(SHMEMORA_E_OUT_OF_SCOPE, shmemora_kv_get(f->pool, &key_tok, "gone", "k", 1, NULL,
							    0, NULL, NULL));
	shmemora_token_info info;
	assert_shm(0, shmemora_token_inspect(f->pool, &ns_tok, &info));
	assert_string_equal(info.ns_name, ""); /* its incarnation is gone */
}

static void keys_of_a_deleted_namespace_are_gone_in_the_new_one(void **state)
{
	struct fixture *f = *state;
	assert_shm(0, shmemora_ns_create(f->pool, &f->root, "again"));
	for (int i = 0; i < 20; i++) {
		char k[8];
		snprintf(k, sizeof k, "k%d", i);
		assert_shm(0, put(f, "again", k, 8));
	}
	uint64_t removed;
	assert_shm(0, shmemora_ns_delete(f->pool, &f->root, "again", &removed));
	assert_int_equal(removed, 20);
	assert_shm(0, shmemora_ns_create(f->pool, &f->root, "again"));
	shmemora_ns_info info;
	assert_shm(0, shmemora_ns_stat(f->pool, &f->root, "again", &info));
	assert_int_equal(info.keys, 0);
	assert_int_equal(info.generation, 2);
	assert_shm(SHMEMORA_E_NOT_FOUND, shmemora_kv_get(f->pool, &f->root, "again", "k1", 2, NULL,
							 0, NULL, NULL));
}

/* ------------------------------------------------------- all or none */

/* A raw write whose range the token covers only in part writes nothing,
 * whatever its length; nor does a write past the raw area. */
static void a_write_the_token_covers_in_part_writes_nothing(void **state)
{
	struct fixture *f = *state;
	shmemora_info pi;
	assert_shm(0, shmemora_pool_info(f->pool, &pi));
	uint64_t raw = pi.region_size[SHMEMORA_REGION_RAW];
	shmemora_token t;
	assert_shm(0, shmemora_region_acquire(f->pool, &f->root, 0, 65536, SHMEMORA_RIGHTS_ALL, &t));
	uint8_t *before = malloc(raw), *after = malloc(raw), *data = malloc(200000);
	memset(data, 0x5a, 200000);
	assert_shm(0, shmemora_region_read(f->pool, &f->root, 0, before, raw));
	assert_shm(SHMEMORA_E_OUT_OF_SCOPE, shmemora_region_write(f->pool, &t, 0, data, 65537));
	assert_shm(SHMEMORA_E_OUT_OF_SCOPE, shmemora_region_write(f->pool, &t, 1000, data, 200000));
	assert_shm(SHMEMORA_E_OUT_OF_SCOPE, shmemora_region_write(f->pool, &f->root, raw - 10, data,
								  11));
	assert_shm(0, shmemora_region_read(f->pool, &f->root, 0, after, raw));
	assert_memory_equal(before, after, raw);
	free(before);
	free(after);
	free(data);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(a_tenant_cannot_fill_the_table),
		T(the_table_refuses_a_charge_past_the_quota),
		T(a_quota_covers_every_descendant),
		T(a_child_quota_beyond_the_parents_is_refused),
		T(revoke_and_gc_give_the_quota_back),
		T(a_token_without_grant_has_no_quota),
		T(key_limit_refuses_the_insert_that_would_pass_it),
		T(byte_limit_refuses_a_growing_update_and_keeps_the_old_value),
		T(a_tenant_cannot_set_its_own_limits),
		T(derive_for_a_name_the_store_refuses_is_invalid),
		T(derive_for_a_missing_namespace_is_not_found),
		T(tokens_of_a_deleted_namespace_are_refused_when_it_returns),
		T(keys_of_a_deleted_namespace_are_gone_in_the_new_one),
		T(a_write_the_token_covers_in_part_writes_nothing),
	};
	return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
