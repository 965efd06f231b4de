"""One exception class per SHMEMORA_E_* code of the header, and every code
this machine can produce, produced through the binding.

The header is read here on its own (not through gen_errors.py), so a code
added to include/shmemora.h fails these tests until _errors.py is
regenerated and the code is either triggered below or listed in
NOT_TRIGGERED with the reason.
"""
import ctypes
import ctypes.util
import json
import os
import re
import signal
import subprocess
import sys

import pytest
import shmemora
from conftest import HEADER, PYDIR

HEADER_CODES = {
    name: int(code) for name, code in re.findall(
        r"SHMEMORA_E_(\w+)\s*=\s*(-\d+)\s*,", open(HEADER, encoding="utf-8").read())
}

# Codes no test on one machine can produce through this binding, and why.
NOT_TRIGGERED = {
    "NOMEM": "needs the process out of memory inside a library call",
    "UNSUPPORTED": "needs a CPU without clflush or a kernel without NUMA support",
    "CONTENDED": "needs writers that win every retry of a reader: not deterministic",
    "TOO_SMALL": "the binding sizes get's buffer itself and retries "
                 "(test_kv: test_the_largest_value_comes_back_whole)",
}


def test_generated_module_matches_the_header():
    rc = subprocess.run([sys.executable, os.path.join(PYDIR, "gen_errors.py"), "--check",
                         HEADER], capture_output=True, text=True)
    assert rc.returncode == 0, rc.stderr


def test_every_header_code_has_its_own_class():
    assert len(HEADER_CODES) >= 33
    assert set(shmemora.ERRORS_BY_CODE) == set(HEADER_CODES.values())
    classes = set()
    for name, code in HEADER_CODES.items():
        cls = shmemora.ERRORS_BY_CODE[code]
        assert issubclass(cls, shmemora.Error) and cls is not shmemora.Error
        assert cls.code == code and cls.name == "SHMEMORA_E_" + name
        assert getattr(shmemora, cls.__name__) is cls
        assert cls.__name__ in shmemora.__all__
        assert cls.__doc__.startswith(f"SHMEMORA_E_{name} ({code}): ")
        classes.add(cls)
    assert len(classes) == len(HEADER_CODES)


def test_the_library_describes_every_code():
    lib = shmemora._lib.lib()
    for name, code in HEADER_CODES.items():
        text = lib.shmemora_strerror(code).decode()
        assert text.startswith(f"SHMEMORA_E_{name}:"), text


def test_builtin_bases_and_an_unknown_code():
    assert issubclass(shmemora.InvalidArgument, ValueError)
    assert issubclass(shmemora.NotFound, LookupError)
    err = shmemora._util.error_with(-4999, "from a newer library")
    assert type(err) is shmemora.Error and err.code == -4999
    assert str(err) == "from a newer library (unknown error code)"


def test_every_code_is_triggered_or_explained():
    unexplained = set(HEADER_CODES) - set(TRIGGERS) - set(NOT_TRIGGERED)
    assert not unexplained, (f"codes of shmemora.h no test raises: {sorted(unexplained)}: add "
                             "a t_<code> trigger here, or list it in NOT_TRIGGERED with why")
    assert set(TRIGGERS) | set(NOT_TRIGGERED) == set(HEADER_CODES)
    assert not set(TRIGGERS) & set(NOT_TRIGGERED)


# --------------------------------------------------------------- triggers
def _edit_superblocks(path, edit, copies=(0, 4096), reseal=False):
    """Applies edit(bytearray) to the 512-byte superblock copies at `copies`
    (docs/pool-format.md: primary at 0, backup at 4096; the checksum at 504
    is XXH3-64 of bytes 0..503).  With reseal the checksum is recomputed,
    as a forger without the key would."""
    xxh = ctypes.CDLL(ctypes.util.find_library("xxhash") or "libxxhash.so.0")
    xxh.XXH3_64bits.restype = ctypes.c_uint64
    xxh.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    with open(path, "r+b") as f:
        for at in copies:
            f.seek(at)
            sb = bytearray(f.read(512))
            assert sb[:8] == b"SHMEMORA"
            edit(sb)
            if reseal:
                sb[504:512] = xxh.XXH3_64bits(bytes(sb[:504]), 504).to_bytes(8, "little")
            f.seek(at)
            f.write(sb)


def _detached(ctx):
    ctx.pool.detach()
    return ctx.pool_path


def t_invalid(ctx):
    ctx.ns.put(b"", b"an empty key")


def t_not_found(ctx):
    ctx.ns.get(b"absent")


def t_exists(ctx):
    shmemora.Pool.create(ctx.pool_path, size=16 << 20)


def t_not_pool(ctx):
    path = ctx.new_path("zeros")
    with open(path, "wb") as f:
        f.write(bytes(1 << 20))
    shmemora.Pool.attach(path)


def t_version(ctx):
    path = _detached(ctx)
    _edit_superblocks(path, lambda sb: sb.__setitem__(slice(8, 12), (99).to_bytes(4, "little")))
    shmemora.Pool.attach(path)


def t_truncated(ctx):
    path = _detached(ctx)
    os.truncate(path, 16 << 20)
    shmemora.Pool.attach(path)


def t_corrupt(ctx):
    path = _detached(ctx)
    _edit_superblocks(path, lambda sb: sb.__setitem__(100, sb[100] ^ 1))
    shmemora.Pool.attach(path)


def t_tampered(ctx):
    path = _detached(ctx)
    # created_unix_ns (offset 56) of the primary, resealed: only the MAC
    # can tell, and a primary that fails its MAC is refused, not bypassed
    _edit_superblocks(path, lambda sb: sb.__setitem__(56, sb[56] ^ 1), copies=(0,),
                      reseal=True)
    shmemora.Pool.attach(path)


def t_key(ctx):
    path = _detached(ctx)
    os.unlink(path + ".key")
    shmemora.Pool.attach(path)


def t_key_mismatch(ctx):
    other = ctx.new_path("other")
    shmemora.Pool.create(other, size=16 << 20, hosts=1).detach()
    shmemora.Pool.attach(ctx.pool_path, key_file=other + ".key")


def t_geometry(ctx):
    shmemora.Pool.create(ctx.new_path("geometry"), size=32 << 20, hosts=4096)


def t_bad_path(ctx):
    shmemora.Pool.attach(os.path.dirname(ctx.pool_path))


def t_no_slot(ctx):
    shmemora.Pool.attach(ctx.pool_path, host_id=0)  # held by ctx.pool


def t_busy(ctx):
    shmemora.destroy(ctx.pool_path)


def t_io(ctx):
    shmemora.Pool.create(ctx.pool_path + ".no-such-dir/pool", size=16 << 20)


def t_fenced(ctx):
    # A host in another pid namespace is judged as if on another machine: by
    # its heartbeat counter.  Stopped for longer than the lease, its slot is
    # reclaimed; woken up, its next write learns it was fenced.
    if subprocess.run(["unshare", "--pid", "--fork", "true"],
                      capture_output=True).returncode != 0:
        pytest.skip("unshare --pid is not permitted here (needs root)")
    path = ctx.new_path("fenced")
    with shmemora.Pool.create(path, size=16 << 20, hosts=2, lease_ms=100) as pool:
        root = pool.root_token()
        pool.create_namespace("t", root)
        env = dict(os.environ, PYTHONPATH=PYDIR, SHMEMORA_LIBRARY=shmemora.library_path())
        proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", sys.executable,
             os.path.join(os.path.dirname(__file__), "host.py"), path, "{}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
            start_new_session=True)
        try:
            slot = json.loads(proc.stdout.readline())["host_id"]
            assert not shmemora.hosts(path)[slot].same_machine
            os.killpg(proc.pid, signal.SIGSTOP)
            with shmemora.Pool.attach(path, host_id=slot) as taker:  # watches a lease
                assert taker.host_id == slot
                os.killpg(proc.pid, signal.SIGCONT)
                proc.stdin.write(json.dumps({"op": "put", "token": str(root), "ns": "t",
                                             "key": "00", "value": "00"}) + "\n")
                proc.stdin.flush()
                answer = json.loads(proc.stdout.readline())
        finally:
            os.killpg(proc.pid, signal.SIGCONT)
            proc.stdin.close()
            proc.wait(timeout=60)
            proc.stdout.close()
    raise shmemora.ERRORS_BY_CODE[answer["code"]](answer["message"])


def t_token_malformed(ctx):
    shmemora.Token.parse(str(ctx.root)[:-1] + "x")


def t_token_refused(ctx):
    ctx.ns.with_token(shmemora.Token(ctx.root.key_hint, ctx.root.id, bytes(16))).get(b"k")


def t_revoked(ctx):
    child = ctx.root.derive(ctx.pool, namespace="t", rights="r")
    child.revoke(ctx.pool)
    ctx.ns.with_token(child).get(b"k")


def t_expired(ctx):
    import time
    child = ctx.root.derive(ctx.pool, namespace="t", rights="r", ttl=0.05)
    time.sleep(0.1)
    ctx.ns.with_token(child).get(b"k")


def t_denied(ctx):
    reader = ctx.root.derive(ctx.pool, namespace="t", rights="r")
    ctx.ns.with_token(reader).put(b"k", b"v")


def t_out_of_scope(ctx):
    ctx.pool.create_namespace("elsewhere", ctx.root)
    mine = ctx.root.derive(ctx.pool, namespace="t", rights="r")
    ctx.pool.namespace("elsewhere", mine).get(b"k")


def t_widen(ctx):
    reader = ctx.root.derive(ctx.pool, rights="rg")
    reader.derive(ctx.pool, rights="rw")


def t_table_full(ctx):
    with shmemora.Pool.create(ctx.new_path("table"), size=16 << 20, hosts=1,
                              capabilities=64) as pool:
        root = pool.root_token()
        for _ in range(64):
            root.derive(pool, rights="r")


def t_no_space(ctx):
    with shmemora.Pool.create(ctx.new_path("names"), size=16 << 20, hosts=1,
                              namespaces=1) as pool:
        pool.create_namespace("one", pool.root_token())
        pool.create_namespace("two", pool.root_token())


def t_conflict(ctx):
    ctx.ns.put(b"k", b"1")
    version = ctx.ns.get_versioned(b"k").version
    ctx.ns.put(b"k", b"2")
    ctx.ns.cas(b"k", version, b"3")


def t_quota(ctx):
    ctx.ns.set_limits(max_keys=1)
    ctx.ns.put(b"a", b"1")
    ctx.ns.put(b"b", b"2")


def t_read_only(ctx):
    with shmemora.Pool.attach(ctx.pool_path, observer=True) as observer:
        observer.namespace("t", ctx.root).put(b"k", b"v")


def t_permission(ctx):
    if os.geteuid() != 0:  # the owner cannot open a file of mode 0
        os.chmod(ctx.pool_path, 0)
        shmemora.Pool.attach(ctx.pool_path)
    # root opens anything: another user (nobody) tries the root-owned 0600 pool
    env = dict(os.environ, PYTHONPATH=PYDIR)
    env["SHMEMORA_LIBRARY"] = shmemora.library_path()
    proc = subprocess.run(
        [sys.executable, os.path.join(os.path.dirname(__file__), "host.py"), ctx.pool_path,
         "{}"], user=65534, group=65534, extra_groups=[], env=env, capture_output=True,
        text=True, stdin=subprocess.DEVNULL, timeout=60)
    if not proc.stdout.startswith("{"):
        pytest.skip(f"user nobody cannot run {sys.executable} with the binding: "
                    f"{proc.stderr.strip()[-200:]}")
    hello = json.loads(proc.stdout.splitlines()[0])
    raise shmemora.ERRORS_BY_CODE[hello["code"]](hello["message"]) if "code" in hello \
        else AssertionError(f"nobody attached: {hello}")


TRIGGERS = {name[2:].upper(): fn for name, fn in list(globals().items())
            if name.startswith("t_") and callable(fn)}


class Ctx:
    def __init__(self, pool, root, ns, pool_path, new_path):
        self.pool, self.root, self.ns = pool, root, ns
        self.pool_path, self.new_path = pool_path, new_path


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_code_is_raised_as_its_class(name, pool, root, ns, pool_path, new_path):
    ns.put(b"k", b"v")
    expected = shmemora.ERRORS_BY_CODE[HEADER_CODES[name]]
    with pytest.raises(shmemora.Error) as raised:
        TRIGGERS[name](Ctx(pool, root, ns, pool_path, new_path))
    err = raised.value
    assert type(err) is expected, f"{type(err).__name__}: {err}"
    assert err.code == HEADER_CODES[name]
    assert err.message and err.message in str(err)
    assert err.description.startswith(err.name)
