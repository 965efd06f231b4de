/*
 * cmd_dump.c — `shmemora dump POOL NS > FILE` and `shmemora load POOL NS <
 * FILE`: a namespace out to a checksummed, binary-safe file and back
 * (format: dump.h, docs/dump-format.md).
 *
 * dump attaches as an observer and writes records as its scan meets keys.
 * load reads the whole dump into memory and verifies all of it before it
 * writes the first key, so a bad or truncated dump loads nothing (with
 * --partial: the records before the first damage).
 */
#include "cli.h"
#include "dump.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char dump_help[] =
	"Usage: shmemora dump POOL NS [--token TOKEN] > FILE\n"
	"\n"
	"Write namespace NS, every key the token reaches with its value and version,\n"
	"to standard output in the dump format (docs/dump-format.md): versioned,\n"
	"binary-safe, each record checked and the whole checksummed (XXH3-64).\n"
	"Refuses to write to a terminal.  Needs the read right.  Attaches as an\n"
	"observer: works while every host slot is held.  Under concurrent writers\n"
	"the dump is a scan: every key present throughout is in it once, and each key\n"
	"in it existed with that value during the dump.  A dump that stops on an\n"
	"error has no trailer, and load refuses it.  On a terminal, stderr shows\n"
	"progress.\n"
	"\n"
	"Options:\n"
	"  --token TOKEN  text token or @FILE (default: the pool's root token file)\n"
	"  --key-file F   the pool's key file (default POOL.key or $SHMEMORA_KEY_FILE)\n"
	"  -h, --help     this help\n";

const char load_help[] =
	"Usage: shmemora load POOL NS [--partial] [--token TOKEN] < FILE\n"
	"\n"
	"Load a dump (from `shmemora dump`) into namespace NS, creating NS when it\n"
	"does not exist (that needs a pool token with i).  The whole dump is read\n"
	"(it is held in memory) and verified first: its magic and format version,\n"
	"each record's lengths against this pool's max key and max value, each\n"
	"record's check, the trailer's record count and checksum.  A dump that fails\n"
	"any of them is refused and nothing is loaded (exit 2 for no dump or another\n"
	"version or lengths past this pool's limits, 4 for damage or truncation).\n"
	"Keys are then put (inserted or replaced) one by one; versions are not\n"
	"restored (each key gets the next version of this pool).  A write that fails\n"
	"(quota, space, rights) stops the load, which says how many keys it loaded.\n"
	"Needs rights w and i.  On a terminal, stderr shows progress.\n"
	"\n"
	"Options:\n"
	"  --partial      load the records before the first damage (each record has\n"
	"                 its own check), then exit 4 saying where the damage is.\n"
	"                 A dump of another version or past this pool's limits still\n"
	"                 loads nothing\n"
	"  --token TOKEN  text token or @FILE (default: the pool's root token file)\n"
	"  --key-file F   the pool's key file (default POOL.key or $SHMEMORA_KEY_FILE)\n"
	"  -h, --help     this help\n";

/* ------------------------------------------------------------------ dump */

struct dump_walk {
	struct dump_writer w;
	struct progress progress;
	int write_errno;
};

static int dump_one(void *arg, const shmemora_scan_item *it)
{
	struct dump_walk *d = arg;
	if (dump_add(&d->w, it)) {
		d->write_errno = errno ? errno : EIO;
		return 1; /* stops the scan */
	}
	progress_update(&d->progress, d->w.records, d->w.bytes);
	return 0;
}

static int run_dump(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	const char *ns = o->args[0];
	shmemora_ns_info info;
	int rc = shmemora_ns_stat(pool, tok, ns, &info); /* a clean error before any output */
	if (rc)
		return fail(rc);
	struct dump_walk d = { .write_errno = 0 };
	if (dump_begin(&d.w, stdout, ns))
		return cli_error(EXIT_RUNTIME, "dump: writing standard output failed: %s",
				 strerror(errno));
	progress_start(&d.progress, "dump");
	uint64_t cursor = 0;
	do {
		rc = shmemora_kv_scan(pool, tok, ns, &cursor, 1024, 1, dump_one, &d);
	} while (rc == 0 && cursor != 0);
	progress_end(&d.progress, d.w.records, d.w.bytes);
	if (rc == 0 && dump_finish(&d.w) == 0)
		return EXIT_OK;
	if (rc == 0 || d.write_errno) {
		dump_abandon(&d.w);
		return cli_error(EXIT_RUNTIME, "dump: writing standard output failed after %" PRIu64
				 " keys: %s; the dump is incomplete", d.w.records,
				 strerror(d.write_errno ? d.write_errno : errno));
	}
	dump_abandon(&d.w);
	fflush(stdout);
	return cli_error(exit_code_for(rc), "dump: stopped after %" PRIu64 " keys: %s; the dump "
			 "is incomplete (no trailer: load will refuse it)", d.w.records,
			 shmemora_errmsg());
}

int cmd_dump(int argc, char **argv)
{
	static const struct pool_command pc = { "dump", OPT_TOKEN, 1, 1, 1, TOKEN_REQUIRED,
						run_dump };
	if (!wants_help(argc, argv) && isatty(STDOUT_FILENO))
		return usage_error("dump", "standard output is a terminal, and a dump is binary: "
				   "redirect it, as in 'shmemora dump POOL NS > FILE'");
	return run_pool_command(&pc, argc, argv);
}

/* ------------------------------------------------------------------ load */

/* The namespace to load into, created when absent. */
static int ensure_namespace(shmemora_pool *pool, const shmemora_token *tok, const char *ns)
{
	shmemora_ns_info info;
	int rc = shmemora_ns_stat(pool, tok, ns, &info);
	if (rc == SHMEMORA_E_NOT_FOUND)
		rc = shmemora_ns_create(pool, tok, ns);
	/* A token that may not stat it (no r) may still put: the puts will say. */
	if (rc == SHMEMORA_E_DENIED)
		rc = 0;
	return rc;
}

/* Puts the verified records in buf[first, end); returns the exit code. */
static int load_records(shmemora_pool *pool, const shmemora_token *tok, const char *ns,
			const uint8_t *buf, size_t first, size_t end, uint64_t total)
{
	struct progress progress;
	progress_start(&progress, "load");
	uint64_t loaded = 0, bytes = 0;
	for (size_t off = first; off < end; loaded++) {
		struct dump_record r;
		dump_record_at(buf, &off, &r);
		int rc = shmemora_kv_put(pool, tok, ns, r.key, r.key_len, r.value, r.value_len);
		if (rc) {
			progress_end(&progress, loaded, bytes);
			char key[4 * 40 + 1];
			escape_bytes(r.key, r.key_len < 40 ? r.key_len : 40, key);
			return cli_error(exit_code_for(rc), "load: stopped at key %s%s: %s: %" PRIu64
					 " of %" PRIu64 " keys loaded", key,
					 r.key_len > 40 ? "..." : "", shmemora_errmsg(), loaded, total);
		}
		bytes += r.key_len + r.value_len;
		progress_update(&progress, loaded + 1, bytes);
	}
	progress_end(&progress, loaded, bytes);
	return EXIT_OK;
}

static int run_load(shmemora_pool *pool, const shmemora_token *tok, const struct cmd_opts *o)
{
	const char *ns = o->args[0];
	shmemora_info info;
	int rc = shmemora_pool_info(pool, &info);
	if (rc)
		return fail(rc);
	/* No dump of a namespace this pool can hold is larger than the pool
	 * plus the format's own bytes for every record the index can hold. */
	uint64_t limit = info.size + info.index_slots * (DUMP_RECORD_FIXED + DUMP_RECORD_CHECK) +
			 DUMP_HEADER_FIXED + SHMEMORA_NS_NAME_MAX + DUMP_TRAILER;
	uint8_t *buf;
	size_t len;
	int code = read_stdin("load", limit, "any dump this pool could hold", "nothing loaded",
			      &buf, &len);
	if (code)
		return code;
	struct dump_view v;
	dump_verify(buf, len, info.max_key, info.max_value, &v);
	int partial = o->partial && !v.complete && v.code == EXIT_INTEGRITY && v.records;
	if (!v.complete && !partial) {
		code = cli_error(v.code, "load: %s: nothing loaded%s", v.problem,
				 o->partial && v.code == EXIT_INTEGRITY ? " (no record before the "
				 "damage)" : "");
	} else if ((rc = ensure_namespace(pool, tok, ns))) {
		code = fail(rc);
	} else {
		code = load_records(pool, tok, ns, buf, v.first, v.good_end, v.records);
		if (code == EXIT_OK && partial)
			code = cli_error(v.code, "load: %s: loaded the %" PRIu64 " records before "
					 "the damage (--partial)", v.problem, v.records);
		else if (code == EXIT_OK)
			printf("loaded %" PRIu64 " keys into namespace %s\n", v.records, ns);
	}
	free(buf);
	return code;
}

int cmd_load(int argc, char **argv)
{
	static const struct pool_command pc = { "load", OPT_TOKEN | OPT_PARTIAL, 1, 1, 0,
						TOKEN_REQUIRED, run_load };
	if (!wants_help(argc, argv) && isatty(STDIN_FILENO))
		return usage_error("load", "standard input is a terminal: give the dump on it, as "
				   "in 'shmemora load POOL NS < FILE'");
	return run_pool_command(&pc, argc, argv);
}
