/*
 * ycsb_trace.h — reading YCSB trace files in the format of YCSB's `basic`
 * binding (what `bin/ycsb load|run basic -P workloads/workloada` prints):
 *
 *   INSERT usertable user6284781860667377211 [ field0=... field1=... ]
 *   READ usertable user4052466453699787802 [ <all fields>]
 *   UPDATE usertable user1913479313431713658 [ field4=... ]
 *   SCAN usertable user5417003152425342 52 [ <all fields>]
 *   DELETE usertable user7318617812133217
 *
 * The original SHMemora read these from workload/NAME.spec_load (the load
 * phase) and workload/NAME.spec_trans (the transactions).  Every other line —
 * YCSB's own log lines, blank lines, anything malformed — is skipped and
 * counted, never fatal.
 */
#ifndef SHMEMORA_YCSB_TRACE_H
#define SHMEMORA_YCSB_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define TRACE_KEY_MAX 256
#define TRACE_TABLE_MAX 64

enum trace_op { TRACE_INSERT, TRACE_READ, TRACE_UPDATE, TRACE_SCAN, TRACE_DELETE };

struct trace_record {
	enum trace_op op;
	char table[TRACE_TABLE_MAX];
	char key[TRACE_KEY_MAX];
	size_t key_len;
	uint32_t fields;          /* field=value pairs given (insert, update) */
	size_t value_bytes;       /* bytes of their values */
	uint32_t scan_length;     /* SCAN only */
};

struct trace_stats {
	uint64_t lines, records, skipped;
};

/* Parses one line (without its newline; `len` bytes, need not be
 * NUL-terminated).  Returns 0 and fills `out`, or -1 for a line that is not
 * a record. */
int trace_parse_line(const char *line, size_t len, struct trace_record *out);

/* Reads a whole trace file, calling `each` for every record; counts lines,
 * records and skipped lines into `stats`.  Returns 0, or -1 if the file
 * cannot be read (errno set), or what `each` returned if not 0. */
int trace_read_file(const char *path, int (*each)(const struct trace_record *, void *),
		    void *arg, struct trace_stats *stats);

#endif
