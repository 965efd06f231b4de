/*
 * test_hosts.c — host slots under several processes: each "host" here is a
 * separate process attached to the pool, as on real CXL hardware.
 */
#include "testutil.h"

#include "layout.h"

#include <signal.h>
#include <sys/wait.h>
#include <string.h>
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
		kids[i] = test_fork();
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
	pid_t kid = test_fork();
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

/* Pretends slot `id` is held by a host on another machine: another boot
 * id, so no pid check applies and only its heartbeat counter speaks. */
static void make_foreign(const char *pool, uint32_t id)
{
	uint64_t at = registry_offset(pool) + (uint64_t)id * sizeof(struct host_slot) +
		      offsetof(struct host_slot, boot_id);
	uint8_t other[16];
	memset(other, 0xab, sizeof other);
	test_write_at(pool, (off_t)at, other, sizeof other);
}

/* Child for the lease test: attach, report, then obey one-byte commands:
 * 'p' put a key (report its rc), 'x' detach (report its rc) and exit. */
static void remote_host(const char *pool, int cmd_fd, int report_fd)
{
	shmemora_pool *p;
	shmemora_token root;
	char path[300];
	snprintf(path, sizeof path, "%s.root-token", pool);
	int32_t rc = shmemora_attach(pool, NULL, &p);
	if (rc == 0)
		rc = shmemora_token_load(path, &root);
	if (write(report_fd, &rc, sizeof rc) != sizeof rc || rc)
		_exit(1);
	char c;
	while (read(cmd_fd, &c, 1) == 1) {
		if (c == 'p')
			rc = shmemora_kv_put(p, &root, "ns", "remote", 6, "late", 4);
		else
			rc = shmemora_detach(p);
		if (write(report_fd, &rc, sizeof rc) != sizeof rc)
			_exit(2);
		if (c == 'x')
			_exit(0);
	}
	_exit(3);
}

static int32_t ask(int cmd_fd, int report_fd, char c)
{
	int32_t rc = 1;
	assert_int_equal(write(cmd_fd, &c, 1), 1);
	assert_int_equal(read(report_fd, &rc, sizeof rc), sizeof rc);
	return rc;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * A host on "another machine" (a child whose slot carries a foreign boot
 * id) is judged by its heartbeat counter alone: kept alive by the library's
 * thread while idle for several leases, never taken over by an observer or
 * by a plain check, reclaimed once frozen (SIGSTOP) for a lease, and fenced
 * on the write path when it thaws: its put is refused, not acknowledged.
 */
static void lease_decides_for_hosts_on_other_machines(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "lease");
	create_pool(pool, 1, 400);
	shmemora_token root;
	char tpath[300];
	snprintf(tpath, sizeof tpath, "%s.root-token", pool);
	assert_shm(0, shmemora_token_load(tpath, &root));
	shmemora_pool *p;
	assert_shm(0, shmemora_attach(pool, NULL, &p));
	assert_shm(0, shmemora_ns_create(p, &root, "ns"));
	assert_shm(0, shmemora_detach(p));

	int cmd[2], report[2];
	assert_int_equal(pipe(cmd), 0);
	assert_int_equal(pipe(report), 0);
	pid_t kid = test_fork();
	if (kid == 0)
		remote_host(pool, cmd[0], report[1]);
	int32_t rc;
	assert_int_equal(read(report[0], &rc, sizeof rc), sizeof rc);
	assert_shm(0, rc);
	make_foreign(pool, 0);
	shmemora_host h;
	size_t n;
	assert_shm(0, shmemora_hosts(pool, &h, 1, &n));
	assert_int_equal(h.same_machine, 0);
	assert_int_equal(h.state, SHMEMORA_HOST_ATTACHED);
	uint32_t epoch = h.epoch;

	/* Idle for three leases, with nobody calling shmemora_heartbeat():
	 * the attach watches the slot for a lease, sees it move, gives up. */
	usleep(3 * 400 * 1000);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_shm(SHMEMORA_E_NO_SLOT, shmemora_attach(pool, NULL, &p));
	assert_true(seconds_since(&t0) < 1.5);

	/* An observer attaches while every slot is held, reads, writes
	 * nothing, and its check without repair takes no slot over. */
	shmemora_config *cfg;
	assert_shm(0, shmemora_config_new(&cfg));
	assert_shm(0, shmemora_config_set_observer(cfg, 1));
	shmemora_pool *obs;
	assert_shm(0, shmemora_attach(pool, cfg, &obs));
	assert_int_equal(shmemora_host_id(obs), UINT32_MAX);
	assert_shm(SHMEMORA_E_READ_ONLY, shmemora_kv_put(obs, &root, "ns", "k", 1, "v", 1));
	assert_shm(SHMEMORA_E_READ_ONLY, shmemora_heartbeat(obs));
	shmemora_check_report found = { 0 };
	assert_shm(0, shmemora_check(obs, 0, &found));
	assert_shm(0, shmemora_hosts(pool, &h, 1, &n));
	assert_int_equal(h.state, SHMEMORA_HOST_ATTACHED);
	assert_int_equal(h.epoch, epoch);

	/* Frozen: its counter stands still; after a lease it is reclaimed,
	 * with the epoch bumped. */
	kill(kid, SIGSTOP);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_shm(0, shmemora_attach(pool, NULL, &p));
	double took = seconds_since(&t0);
	assert_true(took >= 0.4 && took < 2.0);
	assert_shm(0, shmemora_hosts(pool, &h, 1, &n));
	assert_int_equal(h.epoch, epoch + 1);

	/* Thawed: its next write is refused on the write path itself, and the
	 * key it tried to write is not there; detach reports the fence. */
	kill(kid, SIGCONT);
	assert_shm(SHMEMORA_E_FENCED, ask(cmd[1], report[0], 'p'));
	char buf[8];
	size_t len;
	assert_shm(SHMEMORA_E_NOT_FOUND, shmemora_kv_get(obs, &root, "ns", "remote", 6, buf,
							 sizeof buf, &len, NULL));
	assert_shm(SHMEMORA_E_FENCED, ask(cmd[1], report[0], 'x'));
	int status;
	assert_int_equal(waitpid(kid, &status, 0), kid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_shm(0, shmemora_kv_put(p, &root, "ns", "remote", 6, "mine", 4));
	assert_shm(0, shmemora_heartbeat(p));
	assert_shm(0, shmemora_detach(p));
	assert_shm(0, shmemora_detach(obs));
	shmemora_config_delete(cfg);
	test_remove_pool(pool);
}

/* A CLAIMING word on another machine that never completes is judged like
 * any other: taken over once watched unchanged for a lease. */
static void unfinished_claim_is_taken_over_after_a_lease(void **state)
{
	(void)state;
	char pool[256];
	test_pool_path(pool, sizeof pool, "claiming");
	create_pool(pool, 1, 300);
	uint64_t at = registry_offset(pool);
	uint64_t w = 1 | (uint64_t)7 << 2 | (uint64_t)0x1234 << 32; /* CLAIMING, epoch 7 */
	test_write_at(pool, (off_t)at, &w, sizeof w);
	make_foreign(pool, 0);
	shmemora_pool *p;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_shm(0, shmemora_attach(pool, NULL, &p));
	assert_true(seconds_since(&t0) >= 0.3);
	shmemora_host h;
	size_t n;
	assert_shm(0, shmemora_hosts(pool, &h, 1, &n));
	assert_int_equal(h.epoch, 8);
	assert_int_equal(h.state, SHMEMORA_HOST_ATTACHED);
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
		cmocka_unit_test(unfinished_claim_is_taken_over_after_a_lease),
	};
	return cmocka_run_group_tests_name("hosts", tests, NULL, NULL);
}
