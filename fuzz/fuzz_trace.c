/*
 * fuzz_trace.c — libFuzzer harness: any bytes as a YCSB trace, line by line.
 * Must never crash or read past a line; every record must be well-formed.
 */
#include "ycsb_trace.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		/* A private copy of exactly the line: ASan catches any overread. */
		char *line = malloc(len ? len : 1);
		if (!line)
			return 0;
		memcpy(line, p, len);
		struct trace_record r;
		if (trace_parse_line(line, len, &r) == 0 &&
		    (r.key_len == 0 || r.key_len >= TRACE_KEY_MAX || strlen(r.key) != r.key_len ||
		     r.op > TRACE_DELETE))
			abort();
		free(line);
		p += len + 1;
	}
	return 0;
}
