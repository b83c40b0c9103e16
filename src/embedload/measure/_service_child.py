"""The persistent model server of the ``service`` strategy. Run as a script, never imported.

It reads a JSON spec on stdin, loads the model with the runtime's own import and init source,
encodes once (a running service has served requests before), listens on a Unix socket, and
prints ``ready`` on stdout. Each request is one line of UTF-8 text; each reply is its vector as
a 4-byte little-endian length and float32 bytes (length 0: the encode failed, the reason on
stderr). It exits when its parent does, removing its socket.
"""

import json
import os
import socket
import sys
import threading
import time

spec = json.loads(sys.stdin.readline())
ns = {}
exec(spec["bindings"], ns)
exec(spec["load"], ns)
exec(spec["encode"], ns)  # warm: the first encode is paid outside any client's timing
encode = compile(spec["encode"], "<encode>", "exec")
lock = threading.Lock()

import numpy  # noqa: E402  (every runtime's stack has it; loaded after the model, not timed)


def vector_bytes(text):
    with lock:
        ns["SENTENCE"] = text
        exec(encode, ns)
        return numpy.asarray(ns["vector"], dtype=numpy.float32).reshape(-1).tobytes()


def serve(conn):
    with conn, conn.makefile("rb") as lines:
        for line in lines:
            try:
                data = vector_bytes(line.rstrip(b"\n").decode("utf-8"))
            except Exception as exc:  # the client sees length 0; the reason goes to our stderr
                print(f"embedload service: encode failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                data = b""
            conn.sendall(len(data).to_bytes(4, "little") + data)


def watch_parent(parent, path):
    while os.getppid() == parent:
        time.sleep(0.5)
    try:
        os.unlink(path)
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass
    os._exit(0)


server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(spec["socket"])
server.listen(16)
threading.Thread(target=watch_parent, args=(spec["parent"], spec["socket"]), daemon=True).start()
print("ready", flush=True)
while True:
    client, _ = server.accept()
    threading.Thread(target=serve, args=(client,), daemon=True).start()
