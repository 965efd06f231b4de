/*
 * cli.h — what the subcommands of `shmemora` share.
 *
 * Each convention of the command has one home here, so that no subcommand
 * spells it again:
 *  - exit codes: one table (cli.c) that exit_code_for() maps library errors
 *    through and `shmemora --help` prints (README.md's table is checked
 *    against that print by tests/cli/test_cli.sh);
 *  - errors: one line on stderr, saying what was wrong and what to do;
 *  - tokens: cli_read_token() reads TOKEN text, @FILE, or the pool's root
 *    token file (its path decided by the library);
 *  - attaching: cli_attach(), as a transient host or as an observer;
 *  - bytes on a terminal or in JSON: escaped, never raw.
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

/* The exit code for a library error (0 for 0). */
int exit_code_for(int err);
/* The exit-code table, one "  CODE  meaning" line per code. */
void print_exit_codes(FILE *f);
/* Prints the library's message for `err` on stderr; returns its exit code. */
int fail(int err);
/* Prints "shmemora: " and the message on stderr; returns `code`. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "shmemora CMD: message (see 'shmemora CMD --help')"; returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After getopt_long returned '?' or ':' (optstring ":"): names the option
 * that was unknown or lacked its argument; returns EXIT_USAGE. */
int option_error(const char *cmd, int opt, char **argv);

/* "1G", "512MiB", "4096" into bytes; -1 if malformed or zero. */
int parse_size(const char *s, uint64_t *out);
/* As parse_size, but "0" is accepted. */
int parse_size0(const char *s, uint64_t *out);
/* A decimal number <= max; -1 if malformed. */
int parse_uint(const char *s, uint64_t max, uint64_t *out);
void human_bytes(uint64_t v, char *out, size_t n);
void format_uuid(const uint8_t u[16], char *out);
void format_hex(const uint8_t *b, size_t n, char *out);

/* Bytes for a terminal line: printable ASCII but '\\' as is, '\\' as "\\\\",
 * every other byte (space, tab, newline, NUL, 0x80-0xff) as \xHH, so that
 * a line holds one key and splitting on white space is safe. */
void print_escaped(FILE *f, const void *bytes, size_t len);
/* The text print_escaped writes, into out (4 * len + 1 bytes). */
void escape_bytes(const void *bytes, size_t len, char *out);
/* The other way: \xHH and \\ decoded, into out (strlen(text) bytes at
 * most); -1 for any other backslash. */
int unescape_bytes(const char *text, uint8_t *out, size_t *len);
/* The length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
size_t utf8_sequence(const unsigned char *p, size_t n);
/* A JSON string literal with the escapes JSON requires (s is UTF-8 text). */
void json_string(FILE *f, const char *s);
/* One JSON member for bytes: "NAME": "text" when they are valid UTF-8,
 * else "NAME_base64": "..." (JSON strings cannot hold other bytes). */
void json_bytes_member(FILE *f, const char *name, const void *bytes, size_t len);
/* True when argv holds -h or --help before any "--". */
int wants_help(int argc, char **argv);

/* Reads all of standard input into a malloc'd buffer, refusing more than
 * `limit` bytes.  On failure prints "CMD: standard input is larger than
 * LIMIT_NAME (N bytes): UNDONE" (or why reading failed) and returns the
 * exit code. */
int read_stdin(const char *cmd, uint64_t limit, const char *limit_name, const char *undone,
	       uint8_t **buf, size_t *len);

/*
 * The token a command acts with, into *out: `arg` as a token's text, as
 * "@FILE" (read with shmemora_token_load, which refuses FIFOs, devices,
 * links and anything after the token), or, when `arg` is NULL, the root
 * token file of the pool at `pool_path` (its default path from
 * shmemora_root_token_path).  A text that is no token but names an
 * existing file gets the hint "did you mean @FILE?".  Prints one line and
 * returns the exit code on failure, EXIT_OK on success.
 */
int cli_read_token(const char *arg, const char *pool_path, shmemora_token *out);
/* The pool's default root token file, into out (PATH_MAX bytes). */
int cli_root_token_path(const char *pool_path, char *out, size_t len);

/* Options every command that attaches to a pool takes. */
struct attach_opts {
	const char *key_file;
	int host_id;
	int observer;   /* read-only commands: claim no host slot, disturb no host */
};
/* Attaches to `path` as a transient host (or an observer); prints the error
 * and returns its exit code on failure. */
int cli_attach(const char *path, const struct attach_opts *o, shmemora_pool **out);
/* Detaches; `code` is the command's exit code so far, returned unless it
 * was EXIT_OK and detaching failed. */
int cli_detach(shmemora_pool *pool, int code);

/*
 * The commands that act on one pool's keys, namespaces or figures share one
 * option parser and one runner.  Each names the options it takes, as a set
 * of OPT_* bits; --key-file is taken by all.
 */
enum {
	OPT_TOKEN = 1 << 0,      /* --token T */
	OPT_JSON = 1 << 1,       /* --json */
	OPT_INSERT = 1 << 2,     /* --insert */
	OPT_UPDATE = 1 << 3,     /* --update */
	OPT_MATCH = 1 << 4,      /* --match GLOB */
	OPT_COUNT = 1 << 5,      /* --count N */
	OPT_VALUES = 1 << 6,     /* --values */
	OPT_KEYS = 1 << 7,       /* --keys N */
	OPT_BYTES = 1 << 8,      /* --bytes S */
	OPT_PARTIAL = 1 << 9,    /* --partial */
	OPT_PROMETHEUS = 1 << 10, /* --prometheus */
	OPT_ESCAPED = 1 << 11,   /* --escaped */
};

struct cmd_opts {
	struct attach_opts attach;
	const char *pool;          /* the POOL argument */
	const char *token, *match;
	uint64_t count, max_keys, max_bytes;
	int has_count, has_keys, has_bytes;
	int json, insert, update, values, partial, prometheus, escaped;
	int nargs;                 /* positional arguments after POOL */
	char **args;
};

enum token_need {
	TOKEN_NONE,      /* the command takes no token */
	TOKEN_REQUIRED,  /* --token, else the pool's root token file */
	TOKEN_OPTIONAL,  /* as TOKEN_REQUIRED, but going without is no error */
};

struct pool_command {
	const char *name;          /* as in messages: "keys", "ns list" */
	unsigned options;          /* OPT_* bits */
	int min_args, max_args;    /* positional arguments after POOL */
	int observer;              /* read-only: attach as an observer */
	enum token_need token;
	/* tok is NULL only when the token was optional and none was found */
	int (*run)(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o);
};

/* Parses argv (argv[0] is the command's name), reads the token, attaches,
 * runs pc->run, detaches; returns the exit code. */
int run_pool_command(const struct pool_command *pc, int argc, char **argv);

/* A progress line on stderr, redrawn at most every half second, only when
 * stderr is a terminal and the work takes longer than that. */
struct progress {
	const char *what;
	int on, shown;
	uint64_t last_ns;
};
void progress_start(struct progress *p, const char *what);
void progress_update(struct progress *p, uint64_t items, uint64_t bytes);
void progress_end(struct progress *p, uint64_t items, uint64_t bytes);

/* The subcommands, one group a file. */
int cmd_create(int argc, char **argv);   /* cmd_pool.c */
int cmd_info(int argc, char **argv);
int cmd_hosts(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
extern const char info_help[], hosts_help[], destroy_help[];
void create_help(FILE *f);

int cmd_token(int argc, char **argv);    /* cmd_token.c */
int cmd_region(int argc, char **argv);
extern const char token_help[], region_help[];

int cmd_put(int argc, char **argv);      /* cmd_kv.c */
int cmd_get(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_keys(int argc, char **argv);
extern const char put_help[], get_help[], del_help[], keys_help[];

int cmd_ns(int argc, char **argv);       /* cmd_ns.c */
extern const char ns_help[];

int cmd_stats(int argc, char **argv);    /* cmd_stats.c */
extern const char stats_help[];

int cmd_dump(int argc, char **argv);     /* cmd_dump.c */
int cmd_load(int argc, char **argv);
extern const char dump_help[], load_help[];

int cmd_check(int argc, char **argv);    /* cmd_check.c */
extern const char check_help[];

#endif
