"""Keys and values through the binding: round trips, versions, namespaces,
scan, regions."""
import os

import pytest
import shmemora
from shmemora import Rights


def test_binary_keys_and_values_round_trip(ns):
    pairs = {
        b"\x00": b"",
        b"a\x00b": b"\x00\x01\x02\xff",
        bytes(range(256)): bytes(range(255, -1, -1)) * 3,
        b"\xff" * 1024: b"\x00" * 5000,  # the largest key; a value past the first buffer
    }
    for key, value in pairs.items():
        ns.put(key, value)
    for key, value in pairs.items():
        got = ns.get(key)
        assert type(got) is bytes
        assert got == value


def test_str_keys_are_utf8_and_bytes_like_inputs_work(ns):
    ns.put("clé", "värde")
    assert ns.get("clé".encode("utf-8")) == "värde".encode("utf-8")
    ns.put(bytearray(b"ba"), memoryview(b"mv"))
    assert ns.get(b"ba") == b"mv"
    with pytest.raises(TypeError):
        ns.put(12, b"x")
    with pytest.raises(TypeError):
        ns.put(b"k", 12)


def test_the_largest_value_comes_back_whole(pool, ns):
    biggest = pool.info().max_value
    value = os.urandom(biggest)
    ns.put(b"big", value)
    assert ns.get(b"big") == value
    assert ns.multi_get([b"big"]) == [value]


def test_insert_update_put_delete(ns):
    ns.insert(b"k", b"1")
    with pytest.raises(shmemora.AlreadyExists):
        ns.insert(b"k", b"2")
    ns.update(b"k", b"3")
    assert ns.get(b"k") == b"3"
    with pytest.raises(shmemora.NotFound):
        ns.update(b"absent", b"x")
    ns.put(b"k", b"4")
    assert ns.get(b"k") == b"4"
    ns.delete(b"k")
    with pytest.raises(shmemora.NotFound):
        ns.get(b"k")
    with pytest.raises(shmemora.NotFound):
        ns.delete(b"k")


def test_versions_and_cas(ns):
    ns.put(b"c", b"a")
    first = ns.get_versioned(b"c")
    assert first.value == b"a"
    new_version = ns.cas(b"c", first.version, b"b")
    assert new_version != first.version
    assert ns.get_versioned(b"c") == (b"b", new_version)
    with pytest.raises(shmemora.Conflict):
        ns.cas(b"c", first.version, b"stale")
    assert ns.get(b"c") == b"b"  # the refused cas changed nothing
    with pytest.raises(shmemora.NotFound):
        ns.cas(b"nobody", 1, b"x")


def test_multi_get(ns):
    ns.put(b"a", b"1")
    ns.put(b"b", b"x" * 10000)
    assert ns.multi_get([b"a", b"missing", "b"]) == [b"1", None, b"x" * 10000]
    assert ns.multi_get([]) == []


def test_namespace_lifecycle(pool, root):
    users = pool.create_namespace("users", root)
    assert isinstance(users, shmemora.Namespace) and users.name == "users"
    pool.create_namespace(b"logs", root)
    with pytest.raises(shmemora.AlreadyExists):
        pool.create_namespace("users", root)
    users.put(b"u1", b"Ada")
    users.put(b"u2", b"Grace")
    listed = {n.name: n for n in pool.namespaces(root)}
    assert set(listed) == {"users", "logs"}
    assert listed["users"].keys == 2
    stat = users.stat()
    assert (stat.name, stat.keys, stat.bytes) == ("users", 2, 4 + 3 + 5)
    assert stat.generation == 1
    reader = root.derive(pool, namespace="users", rights="r")
    assert users.with_token(reader).get(b"u1") == b"Ada"
    assert pool.delete_namespace("users", root) == 2
    with pytest.raises(shmemora.NotFound):
        users.get(b"u1")
    assert [n.name for n in pool.namespaces(root)] == ["logs"]
    # a new incarnation: nothing of the old one, and its tokens refused
    again = pool.create_namespace("users", root)
    assert again.stat().generation == 2
    assert list(again.scan()) == []
    with pytest.raises(shmemora.OutOfScope):
        again.with_token(reader).get(b"u1")


def test_namespace_names_are_checked(pool, root):
    with pytest.raises(shmemora.InvalidArgument):
        pool.create_namespace("a/b", root)
    with pytest.raises(shmemora.InvalidArgument):
        pool.create_namespace("x" * 256, root)
    with pytest.raises(shmemora.InvalidArgument) as nul:
        pool.create_namespace("a\0b", root)
    assert "NUL" in nul.value.message
    assert pool.namespaces(root) == []


def test_namespace_limits(pool, root):
    limited = pool.create_namespace("small", root)
    limited.set_limits(max_keys=2)
    limited.put(b"1", b"a")
    limited.put(b"2", b"b")
    with pytest.raises(shmemora.QuotaExceeded):
        limited.put(b"3", b"c")
    limited.put(b"1", b"replaced")  # not a new key
    stat = limited.stat()
    assert (stat.keys, stat.max_keys, stat.limited) == (2, 2, True)


def test_scan_meets_every_key_once(ns):
    keys = {b"k%03d" % i for i in range(300)} | {b"\x00bin", "ü".encode()}
    for k in keys:
        ns.put(k, b"v:" + k)
    for count in (1, 7, 1000):
        seen = [item.key for item in ns.scan(count=count)]
        assert len(seen) == len(set(seen)) == len(keys)
        assert set(seen) == keys
    assert set(ns) == keys  # iterating a namespace yields its keys


def test_scan_values_and_match(ns):
    for i in range(50):
        ns.put(b"user:%d" % i, b"U%d" % i)
        ns.put(b"item:%d" % i, b"")
    users = {item.key: item for item in ns.scan(match="user:*", values=True)}
    assert len(users) == 50
    for key, item in users.items():
        assert item.value == b"U" + key.split(b":")[1]
        assert item.value_len == len(item.value) and item.version >= 1
    items = list(ns.scan(match=b"item:?"))
    assert sorted(i.key for i in items) == [b"item:%d" % i for i in range(10)]
    assert all(i.value is None and i.value_len == 0 for i in items)
    assert list(ns.scan(match="nothing*")) == []
    with pytest.raises(ValueError):
        list(ns.scan(count=0))


def test_scan_of_a_key_token_sees_its_key_only(pool, root, ns):
    for i in range(20):
        ns.put(b"k%d" % i, b"v")
    one = root.derive(pool, namespace="t", key=b"k7", rights="r")
    assert [i.key for i in ns.with_token(one).scan()] == [b"k7"]


def test_scan_needs_read_and_a_namespace(pool, root, ns):
    writer = root.derive(pool, namespace="t", rights="w")
    with pytest.raises(shmemora.Denied):
        next(ns.with_token(writer).scan())
    with pytest.raises(shmemora.NotFound):
        next(pool.namespace("nowhere", root).scan())


def test_region_read_write_compare_cas(pool, root):
    raw_size = pool.info().regions[shmemora.Region.RAW][1]
    assert raw_size > 4096
    area = root.derive(pool, region=(0, 4096), rights=Rights.READ | Rights.WRITE)
    pool.region_write(area, 100, b"\x00hello\xff")
    assert pool.region_read(area, 100, 7) == b"\x00hello\xff"
    assert pool.region_compare(area, 100, b"\x00hello\xff")
    assert not pool.region_compare(area, 100, b"\x00jello\xff")
    pool.region_write(area, 8, (5).to_bytes(8, "little"))
    assert pool.region_cas64(area, 8, 5, 6) == (True, 5)
    assert pool.region_cas64(area, 8, 5, 7) == (False, 6)
    with pytest.raises(shmemora.OutOfScope):
        pool.region_read(area, 4090, 16)
    reader = root.derive(pool, region=(0, 64), rights="r")
    assert pool.region_read(reader, 8, 8) == (6).to_bytes(8, "little")
    with pytest.raises(shmemora.Denied):
        pool.region_write(reader, 0, b"x")


def test_stats_info_and_check(pool, ns):
    ns.put(b"a", b"1")
    ns.put(b"b", b"22")
    stats = pool.stats()
    assert stats.keys == 2 and stats.namespaces == 1
    assert len(stats.allocated) == stats.partitions == 4
    assert sum(map(sum, stats.allocated)) >= 2
    info = pool.info()
    assert (info.size, info.max_hosts, info.hosts_attached) == (32 << 20, 4, 1)
    assert info.coherence is shmemora.Coherence.COHERENT and info.key_verified
    assert shmemora.inspect(pool.path).uuid == info.uuid
    report = pool.check(tokens=[pool.root_token()])
    assert report.ok and report.keys == 2 and report.namespaces == 1
    assert report.tokens_live >= 1


def test_create_options_reach_the_pool(pool_path):
    with shmemora.Pool.create(pool_path, size=16 << 20, hosts=2, coherence="flush",
                              max_key=64, max_value=4096, lease_ms=500,
                              capabilities=128) as pool:
        info = pool.info()
        assert (info.size, info.max_hosts, info.coherence) == (16 << 20, 2,
                                                                shmemora.Coherence.FLUSH)
        assert (info.max_key, info.max_value, info.lease_ms, info.capabilities) == \
            (64, 4096, 500, 128)
        ns = pool.create_namespace("t", pool.root_token())
        ns.put(b"k", b"v" * 4096)  # flush mode works through the binding too
        assert ns.get(b"k") == b"v" * 4096
        with pytest.raises(shmemora.InvalidArgument):
            ns.put(b"k" * 65, b"v")
    with pytest.raises(ValueError):
        shmemora.Pool.create(pool_path + "-x", coherence="sometimes")
    assert not os.path.exists(pool_path + "-x")
