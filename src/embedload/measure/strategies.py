"""How an application starts its model: the load strategies, each defined once as source.

A strategy turns a runtime's stages (:mod:`embedload.measure.runtimes`: import, init, first encode) into
an application's start-up, in two pieces of source run in one fresh interpreter:

``start``         what runs before the application is *ready*: it can serve a request that needs
                  no embedding;
``first_vector``  what runs when the first request that needs an embedding arrives.

The four built-in strategies (docs/strategies.md):

``eager``       import and init at start; the first vector pays the first encode.
``lazy``        nothing at start; the first vector pays import, init and encode.
``background``  a thread starts import and init at start; the first vector waits for it.
``service``     a persistent local model server (started once, outside the timing, warmed by one
                encode) answers over a Unix socket; the application's start connects to it (the
                standard library only), its first vector is one request.

A user's own strategy is ``module:callable`` (as a loader is): ``start`` imports the module and
calls ``callable(model_path, device)``, which returns at once with an object whose ``encode``
gives the first vector (it may load in a thread, or on first use; that is its choice).

The strategy run (:mod:`embedload.measure.strategy_runner`, behind ``bench_strategy`` and ``profile --strategy``)
times ``start`` (``ready``) and both pieces (``first_vector``) in one fresh interpreter, and in
another a fixed CPU-bound foreground task (:data:`FOREGROUND_SOURCE`) right after ready and again once the model
is loaded: their ratio is what a background load costs the application's own work.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from embedload.base.catalog import PARTS
from embedload.base.config import STRATEGIES as STRATEGY_NAMES
from embedload.measure.runtimes import Runtime

SERVICE = "service"

#: The foreground task: pure-Python work holding the GIL, as request handling does, in short chunks
#: run back to back for a window of FOREGROUND_SECONDS; its figure is the median chunk, which a
#: single long run's jitter does not move (docs/measurements.md has both spreads). Defined once; the
#: strategy probe runs it, the docs quote it.
FOREGROUND_SECONDS = 2.0
FOREGROUND_SOURCE = """\
def _el_foreground_chunk():
    total = 0
    for i in range(600_000):
        total = (total * 31 + i) % 1_000_003
    return total


def _el_foreground(seconds):
    chunks = []
    end = _el_time.perf_counter() + seconds
    while _el_time.perf_counter() < end:
        t0 = _el_time.perf_counter()
        _el_foreground_chunk()
        chunks.append(_el_time.perf_counter() - t0)
    chunks.sort()
    return chunks[len(chunks) // 2]
"""

_ST_USER = re.compile(r"^([A-Za-z_][\w.]*):([A-Za-z_]\w*)$")


@dataclass(frozen=True)
class Strategy:
    name: str
    description: str
    #: Needs a model server started (outside the timing) before its samples.
    server: bool = False
    #: A user's ``module:callable``.
    user: tuple[str, str] | None = None

    def start(self, runtime: Runtime) -> str:
        if self.user:
            module, func = self.user
            return (f"import {module} as _el_strategy_module\n"
                    f"_el_app = _el_strategy_module.{func}(MODEL_PATH, DEVICE)")
        if self.name == "eager":
            return runtime.code("import") + "\n" + runtime.code("init")
        if self.name == "lazy":
            return "_el_model = None  # nothing loads before the first request that needs it"
        if self.name == "background":
            load = textwrap.indent("\n".join(runtime.code(part) for part in PARTS[:2]), " " * 8)
            return (
                "import threading as _el_threading\n"
                "_el_errors = []\n"
                "def _el_load():\n"
                "    global model\n"
                "    try:\n"
                f"{load}\n"
                "    except BaseException as exc:\n"
                "        _el_errors.append(exc)\n"
                "_el_thread = _el_threading.Thread(target=_el_load, name='embedload-background-load', daemon=True)\n"
                "_el_thread.start()"
            )
        if self.name == SERVICE:
            return (
                "import socket as _el_socket\n"
                "_el_client = _el_socket.socket(_el_socket.AF_UNIX, _el_socket.SOCK_STREAM)\n"
                "_el_client.connect(SERVICE_SOCKET)\n"
                "_el_replies = _el_client.makefile('rb')"
            )
        raise ValueError(self.name)

    def first_vector(self, runtime: Runtime) -> str:
        if self.user:
            return "vector = _el_app.encode(SENTENCE)"
        if self.name == "eager":
            return runtime.code("first_encode")
        if self.name == "lazy":
            return "\n".join(runtime.code(part) for part in PARTS)
        if self.name == "background":
            return (
                "_el_thread.join()\n"
                "if _el_errors:\n"
                "    raise _el_errors[0]\n"
                + runtime.code("first_encode")
            )
        if self.name == SERVICE:
            return (
                "_el_client.sendall(SENTENCE.encode('utf-8') + bytes([10]))  # one line per request\n"
                "_el_size = int.from_bytes(_el_replies.read(4), 'little')\n"
                "if not _el_size:\n"
                "    raise RuntimeError('the model service could not encode (its stderr says why)')\n"
                "import array as _el_array\n"
                "vector = _el_array.array('f')\n"
                "vector.frombytes(_el_replies.read(_el_size))"
            )
        raise ValueError(self.name)

    def code(self, figure: str, runtime: Runtime) -> str:
        """The timed source of ``ready`` (start) or ``first_vector`` (start, then the first vector).

        No backslash anywhere: asv pastes the source into a triple-quoted string, which would
        turn an escape into the character it names.
        """
        if figure == "ready":
            return self.start(runtime)
        if figure == "first_vector":
            return self.start(runtime) + "\n" + self.first_vector(runtime)
        raise ValueError(f"unknown strategy figure {figure!r}; expected ready or first_vector")


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("eager", "import and init at start, before ready"),
        Strategy("lazy", "import and init deferred to the first encode"),
        Strategy("background", "a thread imports and inits from start; the first encode waits for it"),
        Strategy(SERVICE, "a persistent local model server over a Unix socket; the client connects at start",
                 server=True),
    )
}


def get_strategy(name: str) -> Strategy:
    """A built-in strategy, or a user's ``module:callable``; :class:`ValueError` otherwise."""
    if name in STRATEGIES:
        return STRATEGIES[name]
    match = _ST_USER.match(name or "")
    if match:
        return Strategy(name, f"your strategy {name}", user=match.groups())
    raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGY_NAMES)}, or module:callable "
                     f"(your own: called with (model_path, device) at start, returns an object with encode)")


def service_bindings(socket_path: str) -> str:
    return f"SERVICE_SOCKET = {socket_path!r}"
