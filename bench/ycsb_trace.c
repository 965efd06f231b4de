/*
 * ycsb_trace.c — the YCSB `basic` trace reader (see ycsb_trace.h).
 *
 * Written defensively: a trace is input from outside, so every length is
 * bounded, every token checked, and nothing is assumed about the line.
 */
#include "ycsb_trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *word; enum trace_op op; } ops[] = {
	{ "INSERT", TRACE_INSERT }, { "READ", TRACE_READ }, { "UPDATE", TRACE_UPDATE },
	{ "SCAN", TRACE_SCAN }, { "DELETE", TRACE_DELETE },
};

/* Next space-separated token of [*p, end): sets tok and tok_len.  A token
 * holding a control byte (NUL, tab, ...) is not text: -1. */
static int next_token(const char **p, const char *end, const char **tok, size_t *tok_len)
{
	while (*p < end && **p == ' ')
		(*p)++;
	if (*p >= end)
		return -1;
	*tok = *p;
	while (*p < end && **p != ' ') {
		if ((unsigned char)**p < 0x20 || **p == 0x7f)
			return -1;
		(*p)++;
	}
	*tok_len = (size_t)(*p - *tok);
	return 0;
}

int trace_parse_line(const char *line, size_t len, struct trace_record *out)
{
	const char *p = line, *end = line + len, *tok;
	size_t n;
	while (end > p && (end[-1] == '\r' || end[-1] == ' '))
		end--;
	memset(out, 0, sizeof *out);
	if (next_token(&p, end, &tok, &n))
		return -1;
	size_t i;
	for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (strlen(ops[i].word) == n && memcmp(ops[i].word, tok, n) == 0)
			break;
	if (i == sizeof ops / sizeof ops[0])
		return -1;
	out->op = ops[i].op;
	if (next_token(&p, end, &tok, &n) || n >= TRACE_TABLE_MAX)
		return -1;
	memcpy(out->table, tok, n);
	if (next_token(&p, end, &tok, &n) || n >= TRACE_KEY_MAX || tok[0] == '[')
		return -1;
	memcpy(out->key, tok, n);
	out->key_len = n;
	if (out->op == TRACE_SCAN) {
		char num[16];
		if (next_token(&p, end, &tok, &n) || n == 0 || n >= sizeof num)
			return -1;
		memcpy(num, tok, n);
		num[n] = '\0';
		char *stop;
		unsigned long v = strtoul(num, &stop, 10);
		if (*stop || v == 0 || v > 1000000)
			return -1;
		out->scan_length = (uint32_t)v;
	}
	while (p < end && *p == ' ')
		p++;
	if (p == end)
		return out->op == TRACE_DELETE ? 0 : -1;
	/* "[ ... ]": the fields of INSERT and UPDATE, "<all fields>" otherwise. */
	if (*p != '[' || end[-1] != ']' || end - p < 2)
		return -1;
	const char *body = p + 1, *body_end = end - 1;
	if (out->op == TRACE_INSERT || out->op == TRACE_UPDATE) {
		/* Values may hold spaces: count "fieldN=" starts after a space. */
		for (const char *q = body; q < body_end; q++) {
			if (*q != ' ' || body_end - q < 8 || memcmp(q + 1, "field", 5) != 0)
				continue;
			const char *d = q + 6;
			while (d < body_end && *d >= '0' && *d <= '9')
				d++;
			if (d > q + 6 && d < body_end && *d == '=')
				out->fields++;
		}
		if (out->fields == 0)
			return -1;
		out->value_bytes = (size_t)(body_end - body);
	}
	return 0;
}

int trace_read_file(const char *path, int (*each)(const struct trace_record *, void *),
		    void *arg, struct trace_stats *stats)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	memset(stats, 0, sizeof *stats);
	while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
		stats->lines++;
		size_t len = (size_t)n;
		if (len && line[len - 1] == '\n')
			len--;
		struct trace_record r;
		if (trace_parse_line(line, len, &r) == 0) {
			stats->records++;
			if (each)
				rc = each(&r, arg);
		} else {
			stats->skipped++;
		}
	}
	int e = ferror(f) ? EIO : 0;
	free(line);
	fclose(f);
	if (e) {
		errno = e;
		return -1;
	}
	return rc;
}
