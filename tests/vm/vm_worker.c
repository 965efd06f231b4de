/*
 * vm_worker.c — the workload of the VM tests (tests/cli/test_vm.sh), run in
 * the guests and by host processes on the machine itself.
 *
 *   vm_worker POOL KEYFILE ROOTTOKENFILE COMMAND ARGS...
 *
 * Every line meant for the harness starts with "@@" and is written with one
 * write(2), so a line the harness sees was emitted whole; an acknowledged
 * write is one whose "@@ACK" line reached the console.  Commands:
 *
 *   load NAME SECONDS THREADS NOWN NSHARED
 *       waits for ctl key "go"; each thread puts its own keys NAME.T.I
 *       round-robin with rising sequence numbers and updates shared keys
 *       shared.J by compare-and-swap; every value read is checked whole
 *       (its checksum, its key).  Prints @@OWN KEY SEQ (final, exact) and
 *       @@SHARED KEY VERSION HASH (highest acknowledged) at the end, then
 *       puts ctl key "fin.NAME".
 *   digest NAMES THREADS NOWN NSHARED
 *       waits for ctl keys fin.N of every name, reads every key of the
 *       run, prints @@DIGEST HASH COUNT BAD (identical on every host).
 *   verify FILE     checks the lines of FILE against the store:
 *       EXACT KEY SEQ   the key holds SEQ;  ATLEAST KEY SEQ  SEQ or a later
 *       one (a write whose @@ACK line was lost with its guest);
 *       SHARED KEY VERSION HASH  holds that version and value.
 *       Prints @@VERIFY checked=N bad=M.
 *   writer NAME     puts NAME.w.SEQ keys, @@ACK after each, until a put
 *       fails; on E_FENCED prints @@FENCED, tries 5 more puts (@@AFTER RC
 *       each), a get of its last key (@@GETRC RC), and detach (@@DETACH RC).
 *   maxseq NAME     @@MAXSEQ: the highest sequence number of NAME.w.* stored.
 *   idle SECONDS    attached, no call for SECONDS, then a put (@@IDLEPUT RC).
 *   takeover SLOT   attaches as host SLOT (watching it for a lease if need
 *       be): @@TAKEOVER RC EPOCH MS; on success @@PART EXTENTS ALLOCATED of
 *       that slot, writes 50 keys, @@PART again, waits for ctl key
 *       "thawed", @@PARTEND ..., @@MINE intact-count, detaches.
 *   tryslot SLOT    one attach as host SLOT: @@TRYSLOT RC MS.
 *   tokens-a MODE / tokens-b MODE   a token derived on one host, used and
 *       then revoked there, refused on the other from its next access.
 *   put-ctl NAME / wait-ctl NAME SECONDS   the harness's control keys.
 */
#include "shmemora.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

static const char *pool_path, *key_file;
static shmemora_token root;

static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	ssize_t w = write(1, line, (size_t)n);
	(void)w;
}

static double now_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int attach(int host_id, int observer, shmemora_pool **p)
{
	shmemora_config *cfg;
	int rc = shmemora_config_new(&cfg);
	if (rc == 0)
		rc = shmemora_config_set_key_file(cfg, key_file);
	if (rc == 0 && host_id >= 0)
		rc = shmemora_config_set_host_id(cfg, host_id);
	if (rc == 0)
		rc = shmemora_config_set_observer(cfg, observer);
	if (rc == 0)
		rc = shmemora_attach(pool_path, cfg, p);
	shmemora_config_delete(cfg);
	if (rc == 0 && !observer)
		say("@@ATTACHED %u", shmemora_host_id(*p));
	return rc;
}

static void die(const char *what, int rc)
{
	say("@@ERROR %s: %s: %s", what, shmemora_strerror(rc), shmemora_errmsg());
	exit(1);
}

/* Namespaces the run uses; creating one that exists is fine. */
static void ensure_ns(shmemora_pool *p, const char *ns)
{
	int rc = shmemora_ns_create(p, &root, ns);
	if (rc && rc != SHMEMORA_E_EXISTS)
		die("ns create", rc);
}

/* A self-checking value: "KEY#SEQ#WRITER|CHECKSUM", padded with '.'. */
static size_t make_value(char *buf, size_t cap, const char *key, uint64_t seq,
			 const char *writer, size_t pad)
{
	int n = snprintf(buf, cap, "%s#%" PRIu64 "#%s", key, seq, writer);
	size_t len = (size_t)n;
	while (len < pad && len < cap - 12)
		buf[len++] = '.';
	uint32_t sum = (uint32_t)XXH3_64bits(buf, len);
	len += (size_t)snprintf(buf + len, cap - len, "|%08x", sum);
	return len;
}

/* Checks a value read for `key`: whole (checksum) and for this key.
 * Returns its sequence number, or -1. */
static int64_t check_value(const char *key, const char *v, size_t len)
{
	if (len < 10 || v[len - 9] != '|')
		return -1;
	char sum[9];
	memcpy(sum, v + len - 8, 8);
	sum[8] = '\0';
	if ((uint32_t)strtoul(sum, NULL, 16) != (uint32_t)XXH3_64bits(v, len - 9))
		return -1;
	size_t kl = strlen(key);
	if (len < kl + 2 || memcmp(v, key, kl) != 0 || v[kl] != '#')
		return -1;
	return (int64_t)strtoll(v + kl + 1, NULL, 10);
}

static int get(shmemora_pool *p, const char *ns, const char *key, char *buf, size_t cap,
	       size_t *len, uint64_t *ver)
{
	return shmemora_kv_get(p, &root, ns, key, strlen(key), buf, cap, len, ver);
}

static int wait_ctl(shmemora_pool *p, const char *name, double seconds)
{
	double end = now_s(CLOCK_MONOTONIC) + seconds;
	char buf[256];
	size_t len;
	while (now_s(CLOCK_MONOTONIC) < end) {
		int rc = get(p, "ctl", name, buf, sizeof buf, &len, NULL);
		if (rc == 0)
			return 0;
		if (rc != SHMEMORA_E_NOT_FOUND)
			return rc;
		usleep(20000);
	}
	return SHMEMORA_E_NOT_FOUND;
}

static int put_ctl(shmemora_pool *p, const char *name)
{
	return shmemora_kv_put(p, &root, "ctl", name, strlen(name), "1", 1);
}

/* ------------------------------------------------------------------ load */

struct load {
	shmemora_pool *pool;
	const char *name;
	int thread, nown, nshared;
	double seconds;
	uint64_t *own_seq;          /* per own key: last acknowledged */
	uint64_t *shared_ver;       /* per shared key: highest acknowledged version */
	uint64_t *shared_hash;
	uint64_t acks, reads, torn, errors, phantom;
};

static void *load_thread(void *arg)
{
	struct load *l = arg;
	char key[64], val[256], buf[256];
	double end = now_s(CLOCK_MONOTONIC) + l->seconds;
	uint64_t rnd = (uint64_t)l->thread * 7919 + 1;
	for (uint64_t op = 0; now_s(CLOCK_MONOTONIC) < end; op++) {
		rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
		if (op % 2 == 0) {
			int i = (int)(op / 2 % (uint64_t)l->nown);
			snprintf(key, sizeof key, "%s.%d.%d", l->name, l->thread, i);
			uint64_t seq = l->own_seq[i] + 1;
			size_t n = make_value(val, sizeof val, key, seq, l->name, 40 + (rnd >> 60) * 8);
			int rc = shmemora_kv_put(l->pool, &root, "vm", key, strlen(key), val, n);
			if (rc) {
				l->errors++;
				say("@@ERROR put %s: %s", key, shmemora_errmsg());
				continue;
			}
			l->own_seq[i] = seq;
			l->acks++;
		} else {
			int j = (int)((rnd >> 33) % (uint64_t)l->nshared);
			snprintf(key, sizeof key, "shared.%d", j);
			size_t len;
			uint64_t ver = 0;
			int rc = get(l->pool, "vm", key, buf, sizeof buf, &len, &ver);
			l->reads++;
			if (rc == 0 && check_value(key, buf, len) < 0) {
				l->torn++;
				say("@@TORN %s %.*s", key, (int)len, buf);
			}
			if (rc != 0 && rc != SHMEMORA_E_NOT_FOUND) {
				l->errors++;
				continue;
			}
			uint64_t seq = op;
			size_t n = make_value(val, sizeof val, key, seq, l->name, 40);
			uint64_t nv = 0;
			if (rc == SHMEMORA_E_NOT_FOUND) {
				rc = shmemora_kv_insert(l->pool, &root, "vm", key, strlen(key), val, n);
				nv = 1;
				if (rc == SHMEMORA_E_EXISTS)
					continue;
			} else {
				rc = shmemora_kv_cas(l->pool, &root, "vm", key, strlen(key), ver, val, n,
						     &nv);
				if (rc == SHMEMORA_E_CONFLICT)
					continue;
				/* Keys are never deleted: a CAS that finds a key we just
				 * read absent is a wrong answer of the engine, counted
				 * apart from the other errors (reported, see test_vm). */
				if (rc == SHMEMORA_E_NOT_FOUND) {
					l->phantom++;
					continue;
				}
			}
			if (rc) {
				l->errors++;
				say("@@ERROR cas %s: %s", key, shmemora_errmsg());
				continue;
			}
			l->acks++;
			if (nv > l->shared_ver[j]) {
				l->shared_ver[j] = nv;
				l->shared_hash[j] = XXH3_64bits(val, n);
			}
		}
	}
	return NULL;
}

static int cmd_load(shmemora_pool *p, char **a)
{
	const char *name = a[0];
	double seconds = atof(a[1]);
	int threads = atoi(a[2]), nown = atoi(a[3]), nshared = atoi(a[4]);
	ensure_ns(p, "vm");
	if (wait_ctl(p, "go", 120))
		die("waiting for go", SHMEMORA_E_NOT_FOUND);
	say("@@LOADSTART %s %.3f", name, now_s(CLOCK_REALTIME));
	struct load *l = calloc((size_t)threads, sizeof *l);
	pthread_t *tid = calloc((size_t)threads, sizeof *tid);
	for (int t = 0; t < threads; t++) {
		l[t] = (struct load){ p, name, t, nown, nshared, seconds,
				      calloc((size_t)nown, 8), calloc((size_t)nshared, 8),
				      calloc((size_t)nshared, 8), 0, 0, 0, 0, 0 };
		pthread_create(&tid[t], NULL, load_thread, &l[t]);
	}
	uint64_t acks = 0, reads = 0, torn = 0, errors = 0, phantom = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		acks += l[t].acks, reads += l[t].reads, torn += l[t].torn, errors += l[t].errors;
		phantom += l[t].phantom;
		for (int i = 0; i < nown; i++)
			if (l[t].own_seq[i])
				say("@@OWN %s.%d.%d %" PRIu64, name, t, i, l[t].own_seq[i]);
	}
	for (int j = 0; j < nshared; j++) {
		uint64_t best = 0, hash = 0;
		for (int t = 0; t < threads; t++)
			if (l[t].shared_ver[j] > best)
				best = l[t].shared_ver[j], hash = l[t].shared_hash[j];
		if (best)
			say("@@SHARED shared.%d %" PRIu64 " %016" PRIx64, j, best, hash);
	}
	say("@@LOADDONE %s acks=%" PRIu64 " reads=%" PRIu64 " torn=%" PRIu64 " errors=%" PRIu64
	    " phantom_absent=%" PRIu64, name, acks, reads, torn, errors, phantom);
	char fin[64];
	snprintf(fin, sizeof fin, "fin.%s", name);
	int rc = put_ctl(p, fin);
	return rc ? rc : (torn || errors) ? 1 : 0;
}

static int cmd_digest(shmemora_pool *p, char **a)
{
	char names[256];
	snprintf(names, sizeof names, "%s", a[0]);
	int threads = atoi(a[1]), nown = atoi(a[2]), nshared = atoi(a[3]);
	XXH3_state_t *st = XXH3_createState();
	XXH3_64bits_reset(st);
	uint64_t count = 0, bad = 0;
	char key[64], buf[256];
	size_t len;
	char *save = NULL;
	for (char *n = strtok_r(names, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
		char fin[64];
		snprintf(fin, sizeof fin, "fin.%s", n);
		if (wait_ctl(p, fin, 300))
			die("waiting for fin", SHMEMORA_E_NOT_FOUND);
		for (int t = 0; t < threads; t++)
			for (int i = 0; i < nown; i++) {
				snprintf(key, sizeof key, "%s.%d.%d", n, t, i);
				int rc = get(p, "vm", key, buf, sizeof buf, &len, NULL);
				if (rc == SHMEMORA_E_NOT_FOUND)
					continue;
				if (rc || check_value(key, buf, len) < 0) {
					bad++;
					continue;
				}
				XXH3_64bits_update(st, key, strlen(key) + 1);
				XXH3_64bits_update(st, buf, len);
				count++;
			}
	}
	for (int j = 0; j < nshared; j++) {
		snprintf(key, sizeof key, "shared.%d", j);
		uint64_t ver;
		int rc = get(p, "vm", key, buf, sizeof buf, &len, &ver);
		if (rc == SHMEMORA_E_NOT_FOUND)
			continue;
		if (rc || check_value(key, buf, len) < 0) {
			bad++;
			continue;
		}
		XXH3_64bits_update(st, key, strlen(key) + 1);
		XXH3_64bits_update(st, &ver, sizeof ver);
		XXH3_64bits_update(st, buf, len);
		count++;
	}
	say("@@DIGEST %016" PRIx64 " %" PRIu64 " %" PRIu64, XXH3_64bits_digest(st), count, bad);
	XXH3_freeState(st);
	return bad ? 1 : 0;
}

static int cmd_verify(shmemora_pool *p, char **a)
{
	FILE *f = fopen(a[0], "r");
	if (!f)
		die("verify: cannot open the expectations", SHMEMORA_E_NOT_FOUND);
	char kind[16], key[64], buf[256], hash[32];
	uint64_t n, checked = 0, bad = 0;
	size_t len;
	char line[256];
	while (fgets(line, sizeof line, f)) {
		hash[0] = '\0';
		if (sscanf(line, "%15s %63s %" SCNu64 " %31s", kind, key, &n, hash) < 3)
			continue;
		uint64_t ver = 0;
		int rc = get(p, "vm", key, buf, sizeof buf, &len, &ver);
		int64_t seq = rc == 0 ? check_value(key, buf, len) : -1;
		int ok;
		if (strcmp(kind, "SHARED") == 0) {
			char mine[32];
			snprintf(mine, sizeof mine, "%016" PRIx64, rc == 0 ? XXH3_64bits(buf, len) : 0);
			ok = rc == 0 && seq >= 0 && ver == n && strcmp(mine, hash) == 0;
		} else if (strcmp(kind, "EXACT") == 0) {
			ok = rc == 0 && seq == (int64_t)n;
		} else {
			ok = rc == 0 && seq >= (int64_t)n;
		}
		checked++;
		if (!ok) {
			bad++;
			say("@@BAD %s %s expected %" PRIu64 " got rc=%d seq=%" PRId64 " version=%" PRIu64,
			    kind, key, n, rc, seq, ver);
		}
	}
	fclose(f);
	say("@@VERIFY checked=%" PRIu64 " bad=%" PRIu64, checked, bad);
	return bad ? 1 : 0;
}

/* --------------------------------------------------------------- writers */

static int cmd_writer(shmemora_pool *p, char **a)
{
	const char *name = a[0];
	char key[64], val[256];
	ensure_ns(p, "vm");
	for (uint64_t seq = 1;; seq++) {
		snprintf(key, sizeof key, "%s.w.%" PRIu64, name, seq % 64);
		size_t n = make_value(val, sizeof val, key, seq, name, 48);
		int rc = shmemora_kv_put(p, &root, "vm", key, strlen(key), val, n);
		if (rc == 0) {
			say("@@ACK %s %" PRIu64, key, seq);
			continue;
		}
		say("@@FENCED %s %" PRIu64 " rc=%d %.3f", key, seq, rc, now_s(CLOCK_REALTIME));
		if (rc != SHMEMORA_E_FENCED)
			return 1;
		for (int i = 1; i <= 5; i++) {
			snprintf(key, sizeof key, "%s.after.%d", name, i);
			n = make_value(val, sizeof val, key, seq + (uint64_t)i, name, 48);
			say("@@AFTER %d", shmemora_kv_put(p, &root, "vm", key, strlen(key), val, n));
		}
		char buf[256];
		size_t len;
		snprintf(key, sizeof key, "%s.w.%" PRIu64, name, (seq - 1) % 64);
		say("@@AFTERDEL %d", shmemora_kv_delete(p, &root, "vm", key, strlen(key)));
		say("@@GETRC %d", get(p, "vm", key, buf, sizeof buf, &len, NULL));
		say("@@HEARTBEAT %d", shmemora_heartbeat(p));
		say("@@DETACH %d", shmemora_detach(p));
		exit(0);
	}
}

/* The highest sequence number among NAME.w.0..63 in the store. */
static int cmd_maxseq(shmemora_pool *p, char **a)
{
	char key[64], buf[256];
	size_t len;
	int64_t best = 0;
	for (int i = 0; i < 64; i++) {
		snprintf(key, sizeof key, "%s.w.%d", a[0], i);
		if (get(p, "vm", key, buf, sizeof buf, &len, NULL) == 0) {
			int64_t s = check_value(key, buf, len);
			best = s > best ? s : best;
		}
	}
	say("@@MAXSEQ %" PRId64, best);
	return 0;
}

static int cmd_idle(shmemora_pool *p, char **a)
{
	char key[64], val[128];
	ensure_ns(p, "vm");
	say("@@IDLESTART %.3f", now_s(CLOCK_REALTIME));
	sleep((unsigned)atoi(a[0]));
	snprintf(key, sizeof key, "idle.%u", shmemora_host_id(p));
	size_t n = make_value(val, sizeof val, key, 1, "idle", 40);
	say("@@IDLEPUT %d", shmemora_kv_put(p, &root, "vm", key, strlen(key), val, n));
	return 0;
}

static void partition_usage(shmemora_pool *p, uint32_t slot, uint64_t *used, uint64_t *alloc)
{
	shmemora_info info;
	shmemora_stats st = { 0 };
	shmemora_pool_info(p, &info);
	uint64_t *a = calloc((size_t)info.max_hosts * info.size_class_count, 8);
	uint64_t *u = calloc(info.max_hosts, 8);
	st.allocated = a;
	st.host_extents = u;
	shmemora_stats_get(p, &st);
	*used = u[slot];
	*alloc = 0;
	for (uint32_t c = 0; c < info.size_class_count; c++)
		*alloc += a[(size_t)slot * info.size_class_count + c];
	free(a);
	free(u);
}

static int cmd_takeover(char **a)
{
	int slot = atoi(a[0]);
	shmemora_pool *p;
	double t0 = now_s(CLOCK_MONOTONIC);
	int rc = attach(slot, 0, &p);
	double ms = (now_s(CLOCK_MONOTONIC) - t0) * 1000;
	shmemora_host h[64];
	size_t count = 0;
	shmemora_hosts(pool_path, h, 64, &count);
	say("@@TAKEOVER %d %u %.0f %.3f", rc, count > (size_t)slot ? h[slot].epoch : 0, ms,
	    now_s(CLOCK_REALTIME));
	if (rc)
		return 1;
	uint64_t used, alloc;
	partition_usage(p, (uint32_t)slot, &used, &alloc);
	say("@@PART %" PRIu64 " %" PRIu64, used, alloc);
	char key[64], val[128], buf[128];
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "mine.%d.%d", slot, i);
		size_t n = make_value(val, sizeof val, key, 7, "taker", 40);
		if ((rc = shmemora_kv_put(p, &root, "vm", key, strlen(key), val, n)))
			die("put", rc);
	}
	partition_usage(p, (uint32_t)slot, &used, &alloc);
	say("@@PART %" PRIu64 " %" PRIu64, used, alloc);
	if (wait_ctl(p, "thawed", 300))
		die("waiting for thawed", SHMEMORA_E_NOT_FOUND);
	partition_usage(p, (uint32_t)slot, &used, &alloc);
	say("@@PARTEND %" PRIu64 " %" PRIu64, used, alloc);
	int intact = 0;
	for (int i = 0; i < 50; i++) {
		size_t len;
		snprintf(key, sizeof key, "mine.%d.%d", slot, i);
		intact += get(p, "vm", key, buf, sizeof buf, &len, NULL) == 0 &&
			  check_value(key, buf, len) == 7;
	}
	say("@@MINE %d", intact);
	say("@@DETACH %d", shmemora_detach(p));
	return 0;
}

static int cmd_tryslot(char **a)
{
	shmemora_pool *p;
	double t0 = now_s(CLOCK_MONOTONIC);
	int rc = attach(atoi(a[0]), 0, &p);
	say("@@TRYSLOT %d %.0f", rc, (now_s(CLOCK_MONOTONIC) - t0) * 1000);
	if (rc == 0)
		shmemora_detach(p);
	return 0;
}

/* ---------------------------------------------------------------- tokens */

static enum shmemora_verify mode_of(const char *m)
{
	return strcmp(m, "always") == 0 ? SHMEMORA_VERIFY_ALWAYS : SHMEMORA_VERIFY_CACHED;
}

static int cmd_tokens_a(shmemora_pool *p, char **a)
{
	char k[64], text[SHMEMORA_TOKEN_TEXT_LEN + 1];
	ensure_ns(p, "vm");
	shmemora_grant g = { .scope = SHMEMORA_SCOPE_NAMESPACE, .ns = "vm",
			     .rights = SHMEMORA_RIGHT_READ | SHMEMORA_RIGHT_WRITE |
				       SHMEMORA_RIGHT_INSERT };
	shmemora_token t;
	int rc = shmemora_token_derive(p, &root, &g, &t);
	if (rc)
		die("derive", rc);
	shmemora_token_format(&t, text, sizeof text);
	snprintf(k, sizeof k, "tok.%s", a[0]);
	if ((rc = shmemora_kv_put(p, &root, "ctl", k, strlen(k), text, strlen(text))))
		die("put token", rc);
	snprintf(k, sizeof k, "used.%s", a[0]);
	if (wait_ctl(p, k, 120))
		die("waiting for the other host to use the token", SHMEMORA_E_NOT_FOUND);
	rc = shmemora_token_revoke(p, &t);
	say("@@REVOKE %s %d", a[0], rc);
	snprintf(k, sizeof k, "revoked.%s", a[0]);
	return rc ? rc : put_ctl(p, k);
}

static int cmd_tokens_b(shmemora_pool *p, char **a)
{
	char k[64], text[128], buf[128];
	size_t len;
	shmemora_set_verify(p, mode_of(a[0]));
	snprintf(k, sizeof k, "tok.%s", a[0]);
	if (wait_ctl(p, k, 120))
		die("waiting for the token", SHMEMORA_E_NOT_FOUND);
	int rc = get(p, "ctl", k, text, sizeof text - 1, &len, NULL);
	text[rc ? 0 : len] = '\0';
	shmemora_token t;
	if ((rc = shmemora_token_parse(text, &t)))
		die("parse token", rc);
	snprintf(k, sizeof k, "tokkey.%s", a[0]);
	int put = shmemora_kv_put(p, &t, "vm", k, strlen(k), "x", 1);
	int got = shmemora_kv_get(p, &t, "vm", k, strlen(k), buf, sizeof buf, &len, NULL);
	say("@@TOKUSE %s %d %d", a[0], put, got);
	snprintf(k, sizeof k, "used.%s", a[0]);
	put_ctl(p, k);
	/* Until the revocation is known done, either answer may come; after,
	 * the very next access must be refused. */
	char rk[64];
	snprintf(rk, sizeof rk, "revoked.%s", a[0]);
	snprintf(k, sizeof k, "tokkey.%s", a[0]);
	double end = now_s(CLOCK_MONOTONIC) + 120;
	while (now_s(CLOCK_MONOTONIC) < end) {
		int done = get(p, "ctl", rk, buf, sizeof buf, &len, NULL) == 0;
		rc = shmemora_kv_get(p, &t, "vm", k, strlen(k), buf, sizeof buf, &len, NULL);
		if (done) {
			int w = shmemora_kv_put(p, &t, "vm", k, strlen(k), "y", 1);
			say("@@TOKAFTER %s %d %d", a[0], rc, w);
			return 0;
		}
		if (rc != 0 && rc != SHMEMORA_E_REVOKED)
			say("@@TOKODD %s %d", a[0], rc);
		usleep(10000);
	}
	say("@@TOKAFTER %s timeout", a[0]);
	return 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 5) {
		fprintf(stderr, "usage: vm_worker POOL KEYFILE ROOTTOKENFILE COMMAND ARGS...\n");
		return 2;
	}
	pool_path = argv[1];
	key_file = argv[2];
	int rc = shmemora_token_load(argv[3], &root);
	if (rc)
		die("root token", rc);
	const char *cmd = argv[4];
	char **a = argv + 5;
	if (strcmp(cmd, "takeover") == 0)
		return cmd_takeover(a);
	if (strcmp(cmd, "tryslot") == 0)
		return cmd_tryslot(a);
	int observer = strcmp(cmd, "digest") == 0 || strcmp(cmd, "verify") == 0 ||
		       strcmp(cmd, "wait-ctl") == 0 || strcmp(cmd, "maxseq") == 0;
	shmemora_pool *p;
	if ((rc = attach(-1, observer, &p)))
		die("attach", rc);
	if (!observer)
		ensure_ns(p, "ctl");
	if (strcmp(cmd, "load") == 0 && argc >= 10)
		rc = cmd_load(p, a);
	else if (strcmp(cmd, "digest") == 0 && argc >= 9)
		rc = cmd_digest(p, a);
	else if (strcmp(cmd, "verify") == 0 && argc >= 6)
		rc = cmd_verify(p, a);
	else if (strcmp(cmd, "writer") == 0 && argc >= 6)
		rc = cmd_writer(p, a);
	else if (strcmp(cmd, "maxseq") == 0 && argc >= 6)
		rc = cmd_maxseq(p, a);
	else if (strcmp(cmd, "idle") == 0 && argc >= 6)
		rc = cmd_idle(p, a);
	else if (strcmp(cmd, "tokens-a") == 0 && argc >= 6)
		rc = cmd_tokens_a(p, a);
	else if (strcmp(cmd, "tokens-b") == 0 && argc >= 6)
		rc = cmd_tokens_b(p, a);
	else if (strcmp(cmd, "put-ctl") == 0 && argc >= 6)
		rc = put_ctl(p, a[0]);
	else if (strcmp(cmd, "wait-ctl") == 0 && argc >= 7)
		rc = wait_ctl(p, a[0], atof(a[1]));
	else
		rc = 2;
	int drc = shmemora_detach(p);
	if (rc == 0 && drc)
		die("detach", drc);
	return rc ? 1 : 0;
}
