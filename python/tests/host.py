"""host.py POOL OPTIONS_JSON — another host for the tests: a process of its
own that attaches to POOL (Pool.attach(**OPTIONS)) and answers requests,
one JSON object a line on stdin, one JSON object a line on stdout.

The first line out is {"host_id": N, "pid": P}, or {"error": ...} when the
attach failed (then it exits).  Keys and values travel as hex, tokens as
their text form.  A failed request answers {"error": CLASS, "code": CODE,
"message": TEXT}.

Requests ("op"): get, put, delete, scan, derive, revoke (token, ns, key,
value, rights, namespace as named below); writer (starts a thread that
churns keys of a namespace: inserts C<i>, deletes C<i-window>, rewrites the
stable keys with new values, and puts "!progress" = i each round) and stop
(ends it, answers {"ops": N, "last": i}); quit (exits normally: the pool is
detached by the binding's finalizer); crash (exits at once, without
detaching).  End of input: detach and exit.
"""
import json
import os
import sys
import threading

import shmemora


def tok(text):
    return shmemora.Token.parse(text)


def error(exc):
    return {"error": type(exc).__name__, "code": exc.code, "message": str(exc)}


class Writer:
    def __init__(self, pool, token, ns, stable, window):
        self.ns = pool.namespace(ns, tok(token))
        self.stable = [bytes.fromhex(k) for k in stable]
        self.window = window
        self.stop = threading.Event()
        self.ops = 0
        self.last = -1
        self.failure = None
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        i = 0
        try:
            while not self.stop.is_set():
                key = b"C%d" % i
                self.ns.insert(key, b"churn:" + key)
                if i >= self.window:
                    self.ns.delete(b"C%d" % (i - self.window))
                s = self.stable[i % len(self.stable)]
                self.ns.put(s, b"stable:" + s + b":%d" % i)
                self.ns.put(b"!progress", b"%d" % i)
                self.ops += 4
                self.last = i
                i += 1
        except shmemora.Error as exc:
            self.failure = error(exc)

    def finish(self):
        self.stop.set()
        self.thread.join()
        if self.failure:
            return self.failure
        return {"ops": self.ops, "last": self.last}


def serve(pool, request, state):
    op = request["op"]
    if op == "get":
        ns = pool.namespace(request["ns"], tok(request["token"]))
        got = ns.get_versioned(bytes.fromhex(request["key"]))
        return {"value": got.value.hex(), "version": got.version}
    if op == "put":
        ns = pool.namespace(request["ns"], tok(request["token"]))
        ns.put(bytes.fromhex(request["key"]), bytes.fromhex(request["value"]))
        return {"ok": True}
    if op == "delete":
        ns = pool.namespace(request["ns"], tok(request["token"]))
        ns.delete(bytes.fromhex(request["key"]))
        return {"ok": True}
    if op == "scan":
        ns = pool.namespace(request["ns"], tok(request["token"]))
        return {"keys": [item.key.hex() for item in ns.scan()]}
    if op == "derive":
        key = request.get("key")
        child = tok(request["token"]).derive(
            pool, rights=request["rights"], namespace=request.get("namespace"),
            key=None if key is None else bytes.fromhex(key))
        return {"token": str(child)}
    if op == "revoke":
        tok(request["token"]).revoke(pool)
        return {"ok": True}
    if op == "writer":
        state["writer"] = Writer(pool, request["token"], request["ns"], request["stable"],
                                 request.get("window", 50))
        return {"started": True}
    if op == "stop":
        return state.pop("writer").finish()
    if op == "quit":
        sys.stdout.write(json.dumps({"ok": True}) + "\n")
        sys.stdout.flush()
        sys.exit(0)
    if op == "crash":
        os._exit(0)
    return {"error": "UnknownRequest", "code": 0, "message": op}


def main():
    path, options = sys.argv[1], json.loads(sys.argv[2])
    try:
        pool = shmemora.Pool.attach(path, **options)
    except shmemora.Error as exc:
        print(json.dumps(error(exc)), flush=True)
        return
    print(json.dumps({"host_id": pool.host_id, "pid": os.getpid()}), flush=True)
    state = {}
    for line in sys.stdin:
        try:
            answer = serve(pool, json.loads(line), state)
        except shmemora.Error as exc:
            answer = error(exc)
        print(json.dumps(answer), flush=True)
    if "writer" in state:
        state.pop("writer").finish()
    try:
        pool.detach()
    except shmemora.Fenced:  # the slot is someone else's now: nothing to release
        pass


if __name__ == "__main__":
    main()
