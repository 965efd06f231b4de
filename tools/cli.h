/*
 * cli.h — helpers shared by the subcommands of `shmemora`.
 *
 * Exit codes, the same for every subcommand:
 *   0 success, 1 not found, 2 bad usage or input, 3 access denied,
 *   4 integrity error (corrupt or tampered), 5 other runtime error.
 */
#ifndef SHMEMORA_CLI_H
#define SHMEMORA_CLI_H

#include "shmemora.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum exit_code {
	EXIT_OK = 0,
	EXIT_NOT_FOUND = 1,
	EXIT_USAGE = 2,
	EXIT_DENIED = 3,
	EXIT_INTEGRITY = 4,
	EXIT_RUNTIME = 5,
};

extern const char *prog;

/* The exit code for a library error. */
int exit_code_for(int err);
/* Prints the library's message for `err` on stderr; returns its exit code. */
int fail(int err);
/* Prints "shmemora CMD: message" and a hint; returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "1G", "512MiB", "4096" into bytes; -1 if malformed or zero. */
int parse_size(const char *s, uint64_t *out);
/* A decimal number <= max; -1 if malformed. */
int parse_uint(const char *s, uint64_t max, uint64_t *out);
void human_bytes(uint64_t v, char *out, size_t n);
void format_uuid(const uint8_t u[16], char *out);
void format_hex(const uint8_t *b, size_t n, char *out);
void json_string(FILE *f, const char *s);
/* True when argv holds -h or --help before any "--". */
int wants_help(int argc, char **argv);

/* Options every command that attaches to a pool takes. */
struct attach_opts {
	const char *key_file;
	int host_id;
	int observer;   /* read-only commands: claim no host slot, disturb no host */
};
/* Attaches to `path` as a transient host (or an observer); prints the error
 * and returns its exit code on failure. */
int cli_attach(const char *path, const struct attach_opts *o, shmemora_pool **out);

/* The token and region command groups (cmd_token.c). */
int cmd_token(int argc, char **argv);
int cmd_region(int argc, char **argv);
extern const char token_help[];
extern const char region_help[];

/* The key-value command group (cmd_kv.c). */
int cmd_ns(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_stats(int argc, char **argv);
extern const char ns_help[], put_help[], get_help[], del_help[], stats_help[];

/* Verification and repair (cmd_check.c). */
int cmd_check(int argc, char **argv);
extern const char check_help[];

#endif
