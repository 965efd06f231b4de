"""Tokens: text form, files, derive (scope, rights, expiry, quota), revoke, info."""
import datetime as dt
import os
import pickle
import stat
import time

import pytest
import shmemora
from shmemora import Rights, Scope, TokenState


def test_text_form_round_trips(root):
    text = str(root)
    assert text.startswith("shmemora1_") and len(text) == 73
    again = shmemora.Token.parse(text)
    assert again == root and hash(again) == hash(root)
    assert shmemora.Token.parse(f"  {text}\n") == root
    assert shmemora.Token.parse(text.encode()) == root
    assert again.text == text
    assert (again.id, again.key_hint, again.tag) == (root.id, root.key_hint, root.tag)
    assert shmemora.Token(root.key_hint, root.id, root.tag) == root


def test_repr_hides_the_tag_and_pickle_keeps_it(root):
    assert root.tag.hex() not in repr(root)
    assert f"{root.id:016x}" in repr(root)
    assert pickle.loads(pickle.dumps(root)) == root


def test_mistyped_text_is_malformed(root):
    text = str(root)
    flipped = text[:20] + ("0" if text[20] != "0" else "1") + text[21:]
    for bad in (flipped, text[:-1], text + "x", "", "shmemora1_", "rubbish"):
        with pytest.raises(shmemora.TokenMalformed) as err:
            shmemora.Token.parse(bad)
        assert err.value.message
    with pytest.raises(ValueError):
        shmemora.Token(1, 2, b"short")


def test_files(pool, root, pool_path):
    assert shmemora.Token.load(pool.root_token_path) == root
    assert pool.root_token_path == pool_path + ".root-token"
    path = pool_path + ".copy-token"
    try:
        root.save(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert shmemora.Token.load(path) == root
        with pytest.raises(shmemora.AlreadyExists):
            root.save(path)
    finally:
        os.unlink(path)
    with pytest.raises(shmemora.NotFound):
        shmemora.Token.load(path)


def test_derive_scopes_and_info(pool, root, ns):
    ns.put(b"k", b"v")
    ns.put(b"other", b"w")
    whole = root.derive(pool, rights="rg")
    info = whole.info(pool)
    assert (info.scope, info.rights, info.parent_id) == (Scope.POOL, Rights.READ | Rights.GRANT,
                                                        root.id)
    assert info.state is TokenState.LIVE and info.depth == 1 and info.expires is None

    space = whole.derive(pool, namespace="t", rights=Rights.READ)
    info = space.info(pool)
    assert (info.scope, info.namespace, info.depth) == (Scope.NAMESPACE, "t", 2)
    assert pool.namespace("t", space).get(b"other") == b"w"

    one = root.derive(pool, namespace="t", key="k", rights=1)
    assert one.info(pool).scope is Scope.KEY
    assert pool.namespace("t", one).get(b"k") == b"v"
    with pytest.raises(shmemora.OutOfScope):
        pool.namespace("t", one).get(b"other")

    area = root.derive(pool, region=(4096, 100), rights="rw")
    info = area.info(pool)
    assert (info.scope, info.offset, info.length) == (Scope.REGION, 4096, 100)

    with pytest.raises(ValueError):
        root.derive(pool, rights="r", key=b"k")  # a key needs its namespace
    with pytest.raises(ValueError):
        root.derive(pool, rights="r", region=(0, 1), namespace="t")
    with pytest.raises(shmemora.NotFound):
        root.derive(pool, rights="r", namespace="absent")


def test_rights_forms(pool, root):
    assert Rights.ALL.text == "rwidg"
    assert (Rights.READ | Rights.DELETE).text == "rd"
    for form in ("rw", Rights.READ | Rights.WRITE, 3):
        assert root.derive(pool, rights=form).info(pool).rights == Rights.READ | Rights.WRITE
    with pytest.raises(shmemora.InvalidArgument):
        root.derive(pool, rights="rx")
    with pytest.raises(shmemora.InvalidArgument):
        root.derive(pool, rights=64)
    with pytest.raises(TypeError):
        root.derive(pool, rights=1.5)


def test_cannot_widen_or_derive_without_grant(pool, root, ns):
    reader = root.derive(pool, namespace="t", rights="rg")
    with pytest.raises(shmemora.Widen):
        reader.derive(pool, namespace="t", rights="rw")
    plain = root.derive(pool, namespace="t", rights="r")
    with pytest.raises(shmemora.Denied):
        plain.derive(pool, namespace="t", rights="r")


def test_expiry(pool, root, ns):
    ns.put(b"k", b"v")
    brief = root.derive(pool, namespace="t", rights="r", ttl=0.3)
    info = brief.info(pool)
    now = dt.datetime.now(dt.timezone.utc)
    assert info.expires is not None and now < info.expires < now + dt.timedelta(seconds=5)
    assert pool.namespace("t", brief).get(b"k") == b"v"
    time.sleep(0.4)
    with pytest.raises(shmemora.Expired):
        pool.namespace("t", brief).get(b"k")

    until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    later = root.derive(pool, namespace="t", rights="rg", expires=until)
    assert abs(later.info(pool).expires - until) < dt.timedelta(milliseconds=1)
    with pytest.raises(shmemora.Widen):  # a child may not outlive its parent
        later.derive(pool, namespace="t", rights="r", expires=until + dt.timedelta(hours=1))
    with pytest.raises(ValueError):
        root.derive(pool, rights="r", ttl=1, expires=until)
    with pytest.raises(ValueError):
        root.derive(pool, rights="r", ttl=0)


def test_quota(pool, root):
    parent = root.derive(pool, rights="rg", quota=2)
    assert parent.info(pool).quota == 2
    a = parent.derive(pool, rights="r")
    parent.derive(pool, rights="r")
    with pytest.raises(shmemora.QuotaExceeded):
        parent.derive(pool, rights="r")
    assert parent.info(pool).quota_used == 2
    a.revoke(pool)
    assert pool.token_gc() >= 1
    parent.derive(pool, rights="r")  # the collected child gave its unit back


def test_revoke_reaches_descendants(pool, root, ns):
    ns.put(b"k", b"v")
    mid = root.derive(pool, namespace="t", rights="rg")
    leaf = mid.derive(pool, namespace="t", rights="r")
    sibling = root.derive(pool, namespace="t", rights="r")
    mid.revoke(pool)
    for gone in (mid, leaf):
        with pytest.raises(shmemora.Revoked):
            pool.namespace("t", gone).get(b"k")
    assert pool.namespace("t", sibling).get(b"k") == b"v"
    assert leaf.info(pool).state is TokenState.REVOKED  # inspect still describes it
    mid.revoke(pool)  # revoking again is allowed
    states = {i.id: i.state for i in pool.tokens()}
    assert states[mid.id] is TokenState.REVOKED
    assert states[leaf.id] is TokenState.REVOKED
    assert states[sibling.id] is TokenState.LIVE
    assert pool.token_gc() == 2
    assert {i.id for i in pool.tokens()} == {root.id, sibling.id}


def test_forged_and_foreign_tokens_are_refused(pool, root, ns, new_path):
    forged = shmemora.Token(root.key_hint, root.id, bytes(16))
    with pytest.raises(shmemora.TokenRefused):
        ns.with_token(forged).get(b"k")
    with shmemora.Pool.create(new_path("other"), size=16 << 20, hosts=1) as other:
        with pytest.raises(shmemora.TokenRefused):
            ns.with_token(other.root_token()).get(b"k")
