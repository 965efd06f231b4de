"""Several hosts: each a process of its own (host.py), sharing one pool.
Tokens cross between them as text; revocation, scans under a writer, slots
and handle lifecycles are watched from the other side."""
import gc
import os
import subprocess
import sys
import threading
import time

import pytest
import shmemora
from shmemora import HostState

from conftest import POOL_SIZE, PYDIR


def test_tokens_cross_processes_and_revocation_reaches_the_other_host(pool, root, ns,
                                                                      hosts_started):
    ns.put(b"\x00key", b"\xffvalue")
    reader = root.derive(pool, namespace="t", rights="r")
    other = hosts_started(pool.path)
    assert other.hello["host_id"] not in (None, pool.host_id)
    got = other.ask("get", token=str(reader), ns="t", key=b"\x00key".hex())
    assert bytes.fromhex(got["value"]) == b"\xffvalue"
    assert got["version"] == ns.get_versioned(b"\x00key").version
    denied = other.ask("put", token=str(reader), ns="t", key="00", value="00")
    assert denied["error"] == "Denied"

    reader.revoke(pool)  # here; the other host's next access must see it
    refused = other.ask("get", token=str(reader), ns="t", key=b"\x00key".hex())
    assert refused["error"] == "Revoked" and refused["code"] == shmemora.Revoked.code
    assert other.ask("get", token=str(root), ns="t", key=b"\x00key".hex())["value"]


def test_a_token_derived_by_another_host_is_revoked_with_its_parent(pool, root, ns,
                                                                    hosts_started):
    ns.put(b"k", b"v")
    granter = root.derive(pool, namespace="t", rights="rwg")
    other = hosts_started(pool.path)
    made = other.ask("derive", token=str(granter), rights="r", namespace="t")
    child = shmemora.Token.parse(made["token"])
    info = child.info(pool)
    assert info.parent_id == granter.id and info.owner_host == other.hello["host_id"]
    assert ns.with_token(child).get(b"k") == b"v"

    assert other.ask("revoke", token=str(granter)) == {"ok": True}
    with pytest.raises(shmemora.Revoked):
        ns.with_token(child).get(b"k")
    with pytest.raises(shmemora.Revoked):
        ns.with_token(granter).get(b"k")


def test_writes_of_one_host_are_read_by_the_other(pool, root, ns, hosts_started):
    other = hosts_started(pool.path)
    keys = {os.urandom(8): os.urandom(300) for _ in range(50)}
    for k, v in keys.items():
        assert other.ask("put", token=str(root), ns="t", key=k.hex(), value=v.hex())["ok"]
    for k, v in keys.items():
        assert ns.get(k) == v
    ns.delete(next(iter(keys)))
    seen = {bytes.fromhex(k) for k in other.ask("scan", token=str(root), ns="t")["keys"]}
    assert seen == set(keys) - {next(iter(keys))}


def test_scan_under_a_concurrent_writer(pool, root, ns, hosts_started):
    """shmemora_kv_scan's guarantee, seen through the binding's iterator: a
    key present throughout the scan is met exactly once; every key met
    existed (a stable key, or a churn key the writer wrote); each value met
    belongs to its key."""
    stable = [b"S%04d" % i for i in range(1000)]
    for k in stable:
        ns.insert(k, b"stable:" + k)
    ns.put(b"!progress", b"-1")
    writer = hosts_started(pool.path)
    assert writer.ask("writer", token=str(root), ns="t", stable=[k.hex() for k in stable],
                      window=40) == {"started": True}

    def progress():
        return int(ns.get(b"!progress"))

    def writer_moves_on():
        start, deadline = progress(), time.monotonic() + 10
        while progress() <= start:
            assert time.monotonic() < deadline, "the writer made no progress"
            time.sleep(0.001)

    try:
        rounds = []
        for _ in range(3):
            before, items = progress(), []
            # The iterator calls the library for 4 keys at a time, when the
            # last batch is used up: waiting for the writer every 100 keys
            # puts writes between the calls of one scan, as well as during
            # them.
            for n, item in enumerate(ns.scan(values=True, count=4)):
                items.append(item)
                if n % 100 == 0:
                    writer_moves_on()
            rounds.append((before, progress(), items))
    finally:
        done = writer.ask("stop")
    assert "error" not in done, done

    stable_set = set(stable) | {b"!progress"}
    for before, after, items in rounds:
        assert after - before >= 10, (before, after)
        keys = [item.key for item in items]
        for k in stable_set:
            assert keys.count(k) == 1, f"stable key {k!r} met {keys.count(k)} times"
        for item in items:
            k = item.key
            if k in stable_set:
                if k != b"!progress":
                    assert item.value.startswith(b"stable:" + k), (k, item.value)
            else:
                assert k.startswith(b"C") and int(k[1:]) <= done["last"], k
                assert item.value == b"churn:" + k
            assert item.value_len == len(item.value)
        churned = [k for k in keys if k not in stable_set]
        assert len(set(churned)) == len(churned)


def test_an_observer_reads_while_every_slot_is_held(pool_path, hosts_started):
    with shmemora.Pool.create(pool_path, size=16 << 20, hosts=2) as pool:
        root = pool.root_token()
        pool.create_namespace("t", root).put(b"k", b"v")
        second = hosts_started(pool_path)
        assert second.hello["host_id"] == 1
        with pytest.raises(shmemora.NoSlot):
            shmemora.Pool.attach(pool_path)
        with shmemora.Pool.attach(pool_path, observer=True) as observer:
            assert observer.observer and observer.host_id is None
            assert observer.namespace("t", root).get(b"k") == b"v"
            assert [i.key for i in observer.namespace("t", root).scan()] == [b"k"]
            with pytest.raises(shmemora.ReadOnly):
                observer.namespace("t", root).delete(b"k")
            with pytest.raises(shmemora.ReadOnly):
                root.derive(observer, rights="r")
        assert "detached" in repr(observer)


def _slot(path, host_id):
    return shmemora.hosts(path)[host_id].state


def test_context_manager_detaches_and_the_handle_is_then_refused(pool, root, ns):
    with shmemora.Pool.attach(pool.path) as other:
        host = other.host_id
        assert _slot(pool.path, host) is HostState.ATTACHED
        space = other.namespace("t", root)
        space.put(b"k", b"v")
    assert other.closed and _slot(pool.path, host) is HostState.FREE
    with pytest.raises(shmemora.InvalidArgument) as err:
        space.get(b"k")
    assert "detached" in err.value.message
    other.detach()  # a second detach does nothing
    assert ns.get(b"k") == b"v"


def test_context_manager_detaches_when_the_body_raises(pool):
    with pytest.raises(KeyError):
        with shmemora.Pool.attach(pool.path) as other:
            host = other.host_id
            raise KeyError("boom")
    assert other.closed and _slot(pool.path, host) is HostState.FREE


def test_a_forgotten_handle_is_detached_when_collected(pool):
    other = shmemora.Pool.attach(pool.path)
    host = other.host_id
    assert _slot(pool.path, host) is HostState.ATTACHED
    del other
    gc.collect()
    assert _slot(pool.path, host) is HostState.FREE


def test_a_handle_left_attached_at_exit_is_detached(pool, hosts_started):
    other = hosts_started(pool.path)
    host = other.hello["host_id"]
    assert other.ask("quit") == {"ok": True}  # sys.exit with the handle attached
    assert other.proc.wait(timeout=30) == 0
    assert _slot(pool.path, host) is HostState.FREE  # detached, not merely dead


def test_a_crashed_host_is_dead_and_its_slot_reusable(pool, hosts_started):
    other = hosts_started(pool.path)
    host = other.hello["host_id"]
    other.proc.stdin.write('{"op": "crash"}\n')
    other.proc.stdin.flush()
    assert other.proc.wait(timeout=30) == 0
    assert _slot(pool.path, host) is HostState.DEAD
    with shmemora.Pool.attach(pool.path, host_id=host) as again:
        assert again.host_id == host


def test_a_forked_child_may_not_use_the_parents_handle(pool, ns):
    ns.put(b"k", b"v")
    r, w = os.pipe()
    # Fork as if another thread were inside a call (the handle borrowed, its
    # lock held): the child must neither wait for that call nor for the lock.
    handle = pool._handle
    handle.acquire()
    handle._cond.acquire()
    pid = os.fork()
    if pid == 0:  # the child: report what happened, never return into pytest
        code = 1
        try:
            ns.get(b"k")
        except shmemora.InvalidArgument as exc:
            code = 0 if "forked child" in exc.message else 2
        except BaseException:
            code = 3
        try:
            pool.detach()  # must not release the parent's slot
        except BaseException:
            code = 4
        os.write(w, bytes([code]))
        os._exit(0)
    handle._cond.release()
    handle.release()
    os.close(w)
    deadline = time.monotonic() + 30
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on its parent's handle")
        time.sleep(0.01)
    verdict = os.read(r, 1)
    os.close(r)
    assert verdict == b"\x00"
    assert ns.get(b"k") == b"v"
    assert _slot(pool.path, pool.host_id) is HostState.ATTACHED


def test_detach_waits_for_calls_in_flight(pool_path):
    pool = shmemora.Pool.create(pool_path, size=16 << 20, hosts=1)
    space = pool.create_namespace("t", pool.root_token())
    for i in range(2000):
        space.put(b"%d" % i, b"x" * 100)
    outcomes = []

    def reader():
        try:
            while True:
                for _ in space.scan(values=True):
                    pass
        except shmemora.InvalidArgument as exc:
            outcomes.append(exc.message)
        except BaseException as exc:  # anything else (or a crash) fails the test
            outcomes.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    pool.detach()
    for t in threads:
        t.join(timeout=30)
    assert len(outcomes) == 4
    assert all(isinstance(o, str) and "detached" in o for o in outcomes), outcomes


def test_hosts_lists_every_slot(pool_path):
    with shmemora.Pool.create(pool_path, size=32 << 20, hosts=100) as pool:
        slots = shmemora.hosts(pool_path)
        assert [s.host_id for s in slots] == list(range(100))
        assert slots[0].state is HostState.ATTACHED and slots[0].pid == os.getpid()
        assert slots[0].same_machine and pool.host_id == 0
        assert all(s.state is HostState.FREE for s in slots[1:])


def test_hardened_attach_turns_the_process_hardened(pool_path, new_path):
    """A child process that attaches with hardened=True runs hardened from
    then on (shmemora.hardened()), and can map no further pool; this
    process is not hardened."""
    assert shmemora.hardened() is False
    with shmemora.Pool.create(pool_path, size=POOL_SIZE):
        pass
    other = new_path("other")
    with shmemora.Pool.create(other, size=POOL_SIZE):
        pass
    code = (
        "import sys, shmemora\n"
        "p = shmemora.Pool.attach(sys.argv[1], hardened=True)\n"
        "assert shmemora.hardened() is True\n"
        "try:\n"
        "    shmemora.Pool.attach(sys.argv[2])\n"
        "except shmemora.Error as e:\n"
        "    print(e.name)\n"
        "else:\n"
        "    print('attached')\n"
        "p.detach()\n")
    env = dict(os.environ, PYTHONPATH=PYDIR)
    try:
        out = subprocess.run([sys.executable, "-c", code, pool_path, other], env=env,
                             capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the hardened child hung")
    if "UNSUPPORTED" in out.stderr:
        pytest.skip("this kernel has no seccomp filters")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "SHMEMORA_E_IO"
