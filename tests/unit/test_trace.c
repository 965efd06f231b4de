/*
 * test_trace.c — the YCSB trace reader: every operation, and malformed lines
 * skipped with a count, never a crash.
 */
#include "testutil.h"

#include "ycsb_trace.h"

static int parse(const char *s, struct trace_record *r)
{
	return trace_parse_line(s, strlen(s), r);
}

static void each_operation_parses(void **state)
{
	(void)state;
	struct trace_record r;
	assert_int_equal(parse("INSERT usertable user1 [ field0=abc field1=de f ]", &r), 0);
	assert_int_equal(r.op, TRACE_INSERT);
	assert_string_equal(r.table, "usertable");
	assert_string_equal(r.key, "user1");
	assert_int_equal(r.fields, 2);
	assert_int_equal(parse("READ usertable user2 [ <all fields>]", &r), 0);
	assert_int_equal(r.op, TRACE_READ);
	assert_int_equal(parse("UPDATE usertable user3 [ field4=x ]", &r), 0);
	assert_int_equal(r.op, TRACE_UPDATE);
	assert_int_equal(r.fields, 1);
	assert_int_equal(parse("SCAN usertable user4 52 [ <all fields>]", &r), 0);
	assert_int_equal(r.op, TRACE_SCAN);
	assert_int_equal(r.scan_length, 52);
	assert_int_equal(parse("DELETE usertable user5", &r), 0);
	assert_int_equal(r.op, TRACE_DELETE);
	assert_int_equal(parse("READ usertable user6 [ <all fields>]\r", &r), 0);
}

static void malformed_lines_are_refused(void **state)
{
	(void)state;
	const char *bad[] = {
		"", " ", "Loading workload...", "[OVERALL], RunTime(ms), 181",
		"insert usertable user1 [ field0=a ]", "INSERT", "INSERT usertable",
		"INSERT usertable user1", "INSERT usertable user1 [ field0=a",
		"INSERT usertable user1 [ nofield ]", "INSERT usertable [ field0=a ]",
		"SCAN usertable user1 [ <all fields>]", "SCAN usertable user1 0 [ <all fields>]",
		"SCAN usertable user1 12x [ <all fields>]", "READ usertable user1 trailing",
		"DELETE usertable user1 [", "UPDATE usertable user1 []",
	};
	struct trace_record r;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (parse(bad[i], &r) != -1)
			print_error("accepted: '%s'\n", bad[i]);
		assert_int_equal(parse(bad[i], &r), -1);
	}
	/* Over-long keys and tables are refused, not truncated. */
	char line[2048] = "READ usertable ";
	memset(line + strlen(line), 'k', 600);
	strcat(line, " [ <all fields>]");
	assert_int_equal(parse(line, &r), -1);
	/* Control bytes in a token are not text. */
	assert_int_equal(trace_parse_line("DELETE usertable us\0er1", 23, &r), -1);
	assert_int_equal(parse("DELETE user\ttable user1", &r), -1);
	/* Not NUL-terminated: only `len` bytes are read. */
	assert_int_equal(trace_parse_line("DELETE usertable user9XXXX", 22, &r), 0);
	assert_string_equal(r.key, "user9");
}

static int count_ops(const struct trace_record *r, void *arg)
{
	((uint64_t *)arg)[r->op]++;
	return 0;
}

static void sample_traces_read_with_log_lines_skipped(void **state)
{
	(void)state;
	uint64_t by_op[5] = { 0 };
	struct trace_stats st;
	assert_int_equal(trace_read_file("workload/workloada.spec_load", count_ops, by_op, &st), 0);
	assert_int_equal(st.records, 200);
	assert_int_equal(by_op[TRACE_INSERT], 200);
	assert_int_equal(st.skipped, 3); /* YCSB's own log lines */
	memset(by_op, 0, sizeof by_op);
	assert_int_equal(trace_read_file("workload/workloada.spec_trans", count_ops, by_op, &st), 0);
	assert_int_equal(st.records, 500);
	assert_int_equal(by_op[TRACE_READ] + by_op[TRACE_UPDATE], 500);
	assert_int_equal(trace_read_file("workload/no-such-file", count_ops, by_op, &st), -1);
}

static void binary_garbage_is_skipped_line_by_line(void **state)
{
	(void)state;
	char path[256];
	test_pool_path(path, sizeof path, "trace");
	FILE *f = fopen(path, "wb");
	unsigned s = 1;
	for (int i = 0; i < 100000; i++) {
		s = s * 1103515245u + 12345u;
		fputc((int)(s >> 16) & 0xff, f);
	}
	fputs("\nDELETE usertable user1\n", f);
	fclose(f);
	struct trace_stats st;
	assert_int_equal(trace_read_file(path, NULL, NULL, &st), 0);
	assert_true(st.records >= 1);
	assert_int_equal(st.records + st.skipped, st.lines);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_operation_parses),
		cmocka_unit_test(malformed_lines_are_refused),
		cmocka_unit_test(sample_traces_read_with_log_lines_skipped),
		cmocka_unit_test(binary_garbage_is_skipped_line_by_line),
	};
	return cmocka_run_group_tests_name("trace", tests, NULL, NULL);
}
