/*
 * test_users.c — a pool shared with a group, used by other users.
 *
 * Root creates a pool for a group (shmemora_config_set_group): the pool
 * file is 0660 and the key file 0640, both of that group.  A host process
 * that runs as another user in that group attaches and works with a token
 * it was handed; one that runs as a user outside the group is refused with
 * E_PERMISSION, naming the file.  Needs root (to become other users):
 * skipped by name otherwise.
 */
#include "testutil.h"

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define NOBODY 65534

/* A group other than root's to share the pool with. */
static gid_t pool_group(void)
{
	struct group *g = getgrnam("users");
	return g ? g->gr_gid : 100;
}

/* Runs `body` in a child as user nobody, in `group` when `member`, and
 * returns its exit status. */
static int as_other_user(int member, gid_t group, int (*body)(const char *, const shmemora_token *),
			 const char *path, const shmemora_token *tok)
{
	pid_t kid = test_fork();
	if (kid == 0) {
		gid_t groups[1] = { group };
		if (setgroups(member ? 1 : 0, groups) != 0 || setgid(NOBODY) != 0 ||
		    setuid(NOBODY) != 0)
			_exit(90);
		_exit(body(path, tok));
	}
	int status;
	waitpid(kid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static int member_works(const char *path, const shmemora_token *tok)
{
	shmemora_pool *p;
	if (shmemora_attach(path, NULL, &p) != 0)
		return 1;
	char buf[16];
	size_t len;
	int rc = shmemora_kv_put(p, tok, "t", "k", 1, "by-member", 9) ||
		 shmemora_kv_get(p, tok, "t", "k", 1, buf, sizeof buf, &len, NULL) ||
		 len != 9;
	shmemora_detach(p);
	return rc ? 2 : 0;
}

static int outsider_is_refused(const char *path, const shmemora_token *tok)
{
	(void)tok;
	shmemora_pool *p;
	int rc = shmemora_attach(path, NULL, &p);
	if (rc == 0)
		return 1;
	if (rc != SHMEMORA_E_PERMISSION)
		return 2;
	return strstr(shmemora_errmsg(), path) && strstr(shmemora_errmsg(), "group") ? 0 : 3;
}

static void pool_shared_with_a_group_serves_its_members_only(void **state)
{
	(void)state;
	if (getuid() != 0)
		skip(); /* needs root to become other users */
	char path[256], key[300];
	test_pool_path(path, sizeof path, "users");
	gid_t group = pool_group();
	shmemora_config *cfg;
	shmemora_pool *pool;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_size(cfg, 16u << 20));
	assert_shm(0, shmemora_config_set_group(cfg, (long)group));
	assert_shm(0, shmemora_create(path, cfg, &pool));
	shmemora_config_delete(cfg);
	struct stat st;
	test_key_path(path, key, sizeof key);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, group);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_gid, group);
	char root_file[300];
	snprintf(root_file, sizeof root_file, "%s.root-token", path);
	assert_int_equal(stat(root_file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600); /* the root token stays the creator's */
	shmemora_token root, tenant;
	assert_shm(0, shmemora_token_load(root_file, &root));
	assert_shm(0, shmemora_ns_create(pool, &root, "t"));
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "t",
			     .rights = SHMEMORA_RIGHTS_ALL & ~SHMEMORA_RIGHT_GRANT };
	assert_shm(0, shmemora_token_derive(pool, &root, &g, &tenant));
	assert_int_equal(as_other_user(1, group, member_works, path, &tenant), 0);
	assert_int_equal(as_other_user(0, group, outsider_is_refused, path, &tenant), 0);
	assert_shm(0, shmemora_detach(pool));
	test_remove_pool(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pool_shared_with_a_group_serves_its_members_only),
	};
	return cmocka_run_group_tests_name("users", tests, NULL, NULL);
}
