/*
 * test_hosts.c — host slots under several processes: each "host" here is a
 * separate process attached to the pool, as on real CXL hardware.
 */
#include "testutil.h"

#include "layout.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static uint64_t registry_offset(const char *pool)
{
	shmemora_info info;
	assert_shm(0, shmemora_inspect(pool, NULL, &info));
	return info.region_offset[SHMEMORA_REGION_REGISTRY];
}

static void create_pool(const char *pool, uint32_t hosts, uint32_t lease_ms)
{
	shmemora_config *cfg;
	shmemora_pool *p;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_size(cfg, 32u << 20));
	assert_shm(0, shmemora_config_set_hosts(cfg, hosts));
	if (lease_ms)
		assert_shm(0, shmemora_config_set_lease_ms(cfg, lease_ms));
	assert_shm(0, shmemora_create(pool, cfg, &p));
	assert_shm(0, shmemora_detach(p));
	shmemora_config_delete(cfg);
}

/* Child: wait for the start byte, attach, report "id" (or -1 and the error
 * code), hold the slot until the release byte, detach. */
static void child_attach_and_hold(const char *pool, int start_fd, int report_fd, int release_fd)
{
	char c;
	if (read(start_fd, &c, 1) != 1)
		_exit(10);
	shmemora_pool *p;
	int rc = shmemora_attach(pool, NULL, &p);
	int32_t msg[2] = { rc ? -1 : (int32_t)shmemora_host_id(p), rc };
	if (write(report_fd, msg, sizeof msg) != sizeof msg)
		_exit(11);
	if (rc)
		_exit(0);
	if (read(release_fd, &c, 1) != 1)
		_exit(12);
	_exit(shmemora_detach(p) ? 13 : 0);
}

static void eight_processes_attach_at_once_get_distinct_ids(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "eight");
	create_pool(pool, 8, 0);
	int start[2], report[2], release[2];
	assert_int_equal(pipe(start), 0);
	assert_int_equal(pipe(report), 0);
	assert_int_equal(pipe(release), 0);
	pid_t kids[8];
	for (int i = 0; i < 8; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0)
			child_attach_and_hold(pool, start[0], report[1], release[0]);
	}
	/* Release all eight at once so their claims race. */
	assert_int_equal(write(start[1], "xxxxxxxx", 8), 8);
	int seen[8] = { 0 };
	for (int i = 0; i < 8; i++) {
		int32_t msg[2];
		assert_int_equal(read(report[0], msg, sizeof msg), (ssize_t)sizeof msg);
		if (msg[0] < 0)
			print_error("child attach failed: %d (%s)\n", msg[1], shmemora_strerror(msg[1]));
		assert_true(msg[0] >= 0 && msg[0] < 8);
		assert_int_equal(seen[msg[0]], 0);
		seen[msg[0]] = 1;
	}
	/* A ninth host is refused while the eight hold their slots. */
	shmemora_pool *p;
	assert_shm(SHMEMORA_E_NO_SLOT, shmemora_attach(pool, NULL, &p));
	assert_non_null(strstr(shmemora_errmsg(), "all 8 host slots"));
	shmemora_info info;
	assert_shm(0, shmemora_inspect(pool, NULL, &info));
	assert_int_equal(info.hosts_attached, 8);

	assert_int_equal(write(release[1], "xxxxxxxx", 8), 8);
	for (int i = 0; i < 8; i++) {
		int status;
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_shm(0, shmemora_inspect(pool, NULL, &info));
	assert_int_equal(info.hosts_attached, 0);
	for (int i = 0; i < 2; i++)
		close(start[i]), close(report[i]), close(release[i]);
	test_remove_pool(pool);
}

static void killed_host_slot_is_reclaimed_by_next_attach(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "killed");
	create_pool(pool, 2, 0);
	int start[2], report[2], release[2];
	assert_int_equal(pipe(start), 0);
	assert_int_equal(pipe(report), 0);
	assert_int_equal(pipe(release), 0);
	pid_t kid = fork();
	if (kid == 0)
		child_attach_and_hold(pool, start[0], report[1], release[0]);
	assert_int_equal(write(start[1], "x", 1), 1);
	int32_t msg[2];
	assert_int_equal(read(report[0], msg, sizeof msg), (ssize_t)sizeof msg);
	assert_true(msg[0] >= 0);
	shmemora_pool *mine, *third;
	assert_shm(0, shmemora_attach(pool, NULL, &mine));
	assert_shm(SHMEMORA_E_NO_SLOT, shmemora_attach(pool, NULL, &third));

	shmemora_host before[2];
	size_t n;
	assert_shm(0, shmemora_hosts(pool, before, 2, &n));
	kill(kid, SIGKILL);
	/* Not reaped yet: a zombie holds no mapping, its slot is free. */
	struct timespec ms = { 0, 20 * 1000 * 1000 };
	nanosleep(&ms, NULL);
	shmemora_host after[2];
	assert_shm(0, shmemora_hosts(pool, after, 2, &n));
	assert_int_equal(after[msg[0]].state, SHMEMORA_HOST_DEAD);
	assert_shm(0, shmemora_attach(pool, NULL, &third));
	assert_int_equal(shmemora_host_id(third), msg[0]);
	assert_shm(0, shmemora_hosts(pool, after, 2, &n));
	assert_int_equal(after[msg[0]].epoch, before[msg[0]].epoch + 1);
	assert_int_equal(after[msg[0]].state, SHMEMORA_HOST_ATTACHED);
	waitpid(kid, NULL, 0);
	assert_shm(0, shmemora_detach(third));
	assert_shm(0, shmemora_detach(mine));
	for (int i = 0; i < 2; i++)
		close(start[i]), close(report[i]), close(release[i]);
	test_remove_pool(pool);
}

static void requested_host_id_is_granted_or_refused(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "hostid");
	create_pool(pool, 8, 0);
	shmemora_config *cfg;
	shmemora_pool *a, *b;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_host_id(cfg, 5));
	assert_shm(0, shmemora_attach(pool, cfg, &a));
	assert_int_equal(shmemora_host_id(a), 5);
	assert_shm(SHMEMORA_E_NO_SLOT, shmemora_attach(pool, cfg, &b));
	assert_shm(0, shmemora_config_set_host_id(cfg, 8));
	assert_shm(SHMEMORA_E_INVALID, shmemora_attach(pool, cfg, &b));
	assert_shm(0, shmemora_detach(a));
	shmemora_config_delete(cfg);
	test_remove_pool(pool);
}

static void detach_frees_the_slot_and_epochs_grow(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "cycle");
	create_pool(pool, 2, 0);
	shmemora_host h[2];
	size_t n;
	assert_shm(0, shmemora_hosts(pool, h, 2, &n));
	uint32_t epoch0 = h[0].epoch;
	for (int i = 0; i < 50; i++) {
		shmemora_pool *p;
		assert_shm(0, shmemora_attach(pool, NULL, &p));
		assert_int_equal(shmemora_host_id(p), 0);
		assert_shm(0, shmemora_heartbeat(p));
		assert_shm(0, shmemora_detach(p));
	}
	assert_shm(0, shmemora_hosts(pool, h, 2, &n));
	assert_int_equal(n, 2);
	assert_int_equal(h[0].epoch, epoch0 + 50);
	assert_int_equal(h[0].state, SHMEMORA_HOST_FREE);
	test_remove_pool(pool);
}

/* Pretends slot `id` was last held by a host on another machine whose last
 * heartbeat was `age_ms` ago. */
static void make_foreign(const char *pool, uint32_t id, uint64_t age_ms)
{
	uint64_t at = registry_offset(pool) + (uint64_t)id * sizeof(struct host_slot);
	struct host_slot slot;
	test_read_at(pool, (off_t)at, &slot, sizeof slot);
	memset(slot.boot_id, 0xab, sizeof slot.boot_id); /* another kernel */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	uint64_t beat = now - age_ms * 1000000ull;
	memcpy((uint8_t *)&slot + offsetof(struct host_slot, heartbeat_ns), &beat, sizeof beat);
	test_write_at(pool, (off_t)at, &slot, sizeof slot);
}

static void lease_decides_for_hosts_on_other_machines(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "lease");
	create_pool(pool, 1, 1000);
	shmemora_pool *remote, *p;
	assert_shm(0, shmemora_attach(pool, NULL, &remote));
	/* Fresh heartbeat from "another machine": the slot is live. */
	make_foreign(pool, 0, 0);
	assert_shm(SHMEMORA_E_NO_SLOT, shmemora_attach(pool, NULL, &p));
	shmemora_host h;
	size_t n;
	assert_shm(0, shmemora_hosts(pool, &h, 1, &n));
	assert_int_equal(h.same_machine, 0);
	assert_int_equal(h.state, SHMEMORA_HOST_ATTACHED);
	/* Heartbeat older than the lease: reclaimed, and the old holder is
	 * fenced from then on. */
	make_foreign(pool, 0, 5000);
	assert_shm(0, shmemora_attach(pool, NULL, &p));
	assert_shm(SHMEMORA_E_FENCED, shmemora_heartbeat(remote));
	assert_shm(SHMEMORA_E_FENCED, shmemora_detach(remote));
	assert_shm(0, shmemora_heartbeat(p));
	assert_shm(0, shmemora_detach(p));
	test_remove_pool(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(eight_processes_attach_at_once_get_distinct_ids),
		cmocka_unit_test(killed_host_slot_is_reclaimed_by_next_attach),
		cmocka_unit_test(requested_host_id_is_granted_or_refused),
		cmocka_unit_test(detach_frees_the_slot_and_epochs_grow),
		cmocka_unit_test(lease_decides_for_hosts_on_other_machines),
	};
	return cmocka_run_group_tests_name("hosts", tests, NULL, NULL);
}
