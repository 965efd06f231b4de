#!/usr/bin/env python3
"""quickstart.py [POOL] — SHMemora from Python, end to end.

Creates a pool (default: a new file under /dev/shm), a namespace, writes
keys with the root token, reads them with a derived read-only token, shows
that the read-only token cannot write, lists the keys with a scan, revokes
the token, and destroys the pool.

From the source tree, after `make`:
    PYTHONPATH=python python3 python/examples/quickstart.py
"""
import os
import sys

import shmemora


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else f"/dev/shm/shmemora-quickstart-{os.getpid()}"
    # create() writes PATH.key and PATH.root-token (mode 0600) and attaches
    # this process as host 0; leaving the with-block detaches.
    with shmemora.Pool.create(path, size=64 << 20, hosts=4) as pool:
        print(f"pool {pool.path}: host {pool.host_id}, protection "
              f"{pool.protection.name.lower()}, library {shmemora.library_version()}")
        root = pool.root_token()  # every right on the whole pool

        users = pool.create_namespace("users", root)
        users.put("user:1", b"Ada Lovelace")
        users.put("user:2", b"Grace Hopper")
        users.put("user:3", "Edsger Dijkstra")  # str values are stored as UTF-8

        # A token for reading this one namespace, e.g. for another process:
        # it travels as text (str(reader)) and comes back with Token.parse.
        reader = shmemora.Token.parse(str(root.derive(pool, namespace="users", rights="r")))
        view = pool.namespace("users", reader)
        print("user:1 ->", view.get("user:1"))
        try:
            view.put("user:1", b"Mallory")
        except shmemora.Denied as exc:
            print("the read-only token cannot write:", type(exc).__name__, "-", exc.message)

        print("scan:", sorted(item.key for item in view.scan()))
        print("scan user:[12]* with values:",
              sorted((i.key, i.value) for i in view.scan(match="user:[12]*", values=True)))

        reader.revoke(pool)  # and every token derived from it, on every host
        try:
            view.get("user:1")
        except shmemora.Revoked as exc:
            print("after revoke:", type(exc).__name__, "-", exc.message)

    shmemora.destroy(path)  # removes the pool, its key and root token files
    print("destroyed", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
