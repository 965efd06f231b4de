"""Fixtures of the binding's tests: pools under /dev/shm with unique names,
removed afterwards, and other hosts as separate processes (host.py).

The package is imported from this checkout (python/) unless
SHMEMORA_TEST_INSTALLED=1 (then from wherever Python finds it).  The library
is found as the package finds it: tests/cli/test_python.sh sets
SHMEMORA_LIBRARY to the build tree under test.
"""
import itertools
import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
REPO = os.path.dirname(PYDIR)
HEADER = os.path.join(REPO, "include", "shmemora.h")

if os.environ.get("SHMEMORA_TEST_INSTALLED") != "1":
    sys.path.insert(0, PYDIR)

import shmemora  # noqa: E402

SHM = "/dev/shm"
_counter = itertools.count()
POOL_SIZE = 32 << 20


def remove_pool_files(path: str) -> None:
    for suffix in ("", ".key", ".root-token"):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass


@pytest.fixture
def pool_path(request):
    """A unique pool path under /dev/shm; the pool, its key and root token
    files are removed after the test whatever it left."""
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")[:60]
    path = f"{SHM}/shmemora-py-{os.getpid()}-{next(_counter)}-{name}"
    made = [path]
    request.node.extra_paths = made  # tests that make more pools append here
    yield path
    for p in made:
        remove_pool_files(p)


@pytest.fixture
def new_path(request, pool_path):
    """A factory of further unique pool paths, removed like pool_path."""
    def make(tag: str) -> str:
        path = f"{pool_path}-{tag}"
        request.node.extra_paths.append(path)
        return path
    return make


@pytest.fixture
def pool(pool_path):
    """A fresh 32 MiB pool of 4 host slots, attached as host 0."""
    p = shmemora.Pool.create(pool_path, size=POOL_SIZE, hosts=4)
    yield p
    p.detach()


@pytest.fixture
def root(pool):
    return pool.root_token()


@pytest.fixture
def ns(pool, root):
    """Namespace "t", created, used with the root token."""
    return pool.create_namespace("t", root)


class Host:
    """Another host: python3 host.py in its own process, attached to the pool,
    answering one JSON request a line (see host.py)."""

    def __init__(self, path: str, **options: Any) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = PYDIR + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "host.py"), path, json.dumps(options)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env)
        self.hello = self._read()

    def _read(self) -> Dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()
            raise RuntimeError(f"host.py ended without answering: {err}")
        return json.loads(line)

    def ask(self, op: str, **args: Any) -> Dict[str, Any]:
        self.proc.stdin.write(json.dumps(dict(op=op, **args)) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> Optional[int]:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode


@pytest.fixture
def hosts_started():
    """Starts Host processes (start(path, **options)); ends them afterwards."""
    started: List[Host] = []

    def start(path: str, **options: Any) -> Host:
        h = Host(path, **options)
        started.append(h)
        return h
    yield start
    for h in started:
        h.close()
