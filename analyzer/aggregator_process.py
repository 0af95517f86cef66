"""`AggregatorProcess`: the profiler's `NumericAggregator` in a child process, and `serve`, the child's side.

For large inputs the numeric aggregation runs beside the parent's reading and typing. The child is
a plain `python -c` (no re-import of the caller's `__main__`, unlike multiprocessing's spawn) that
imports this package from where the parent did (a folder or a zip on PYTHONPATH), fed pickled
`(method, argument)` requests through its standard input; it answers `(kind, answer)` on its
standard output. `add` and `drop` return at once (at most `MAX_IN_FLIGHT` ahead), `finish` waits.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import BinaryIO

from analyzer.moments import warm_up
from analyzer.numeric import Batch, NumericAggregator, Result

try:
    import fcntl
except ImportError:  # not on Windows: the default pipe size then applies
    fcntl = None

PIPE_BYTES = 1 << 20  # Linux's default maximum pipe size for unprivileged processes
MAX_IN_FLIGHT = 4  # requests the parent may send ahead of the child (bounds the memory in flight)


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Child side of `AggregatorProcess`: pickled `(method, argument)` in, `(kind, answer)` out.

    A reader thread unpickles requests into a queue, so the parent's writes never wait for the
    work of earlier requests.
    """
    # The reader thread must get the GIL quickly from the busy worker loop, or the parent's
    # writes stall on a full pipe.
    sys.setswitchinterval(0.0005)
    # numba imports scipy.linalg on first use, only to look for BLAS (a fifth of a second; numba
    # treats it as optional): the moment kernel needs none, and this process runs nothing else.
    sys.modules.setdefault("scipy", None)
    width, partitions = pickle.load(requests)
    aggregator = NumericAggregator(width, partitions, compiled=True)
    pending: queue.Queue = queue.Queue()

    def receive() -> None:
        while True:
            try:
                message = pickle.load(requests)
            except EOFError:
                message = ("stop", None)
            pending.put(message)
            if message[0] == "stop":
                return

    threading.Thread(target=receive, daemon=True).start()
    warm_up()  # while the parent reads its first rows
    while True:
        method, argument = pending.get()
        if method == "stop":
            # Every answer is flushed and nothing needs cleaning up: skip the interpreter's teardown
            # (unloading numba's LLVM takes a noticeable fraction of a second).
            os._exit(0)
        try:
            answer = ("done", getattr(aggregator, method)(argument))
        except Exception:  # reported to the parent, which raises it
            answer = ("error", traceback.format_exc())
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()
        if answer[0] == "error":
            return


class AggregatorProcess:
    """`NumericAggregator` in a child Python process; `add`/`drop` return at once, `finish` waits.

    The child is a plain `python -c` (no re-import of the caller's `__main__`, unlike
    multiprocessing's spawn) fed through its standard input and output.
    """

    def __init__(self, width: int, partitions: int) -> None:
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        environment = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        )
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from analyzer.aggregator_process import serve; serve(sys.stdin.buffer, sys.stdout.buffer)",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
        )
        if fcntl is not None and hasattr(fcntl, "F_SETPIPE_SZ"):
            try:
                fcntl.fcntl(self._process.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            except OSError:
                pass  # keep the default size
        self._in_flight = 0
        self._send((width, partitions))

    def _send(self, message: object) -> None:
        try:
            pickle.dump(message, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.flush()
        except BrokenPipeError:
            raise RuntimeError("the numeric aggregation process stopped unexpectedly") from None

    def _call(self, method: str, argument: object) -> None:
        while self._in_flight >= MAX_IN_FLIGHT:
            self._answer()
        self._send((method, argument))
        self._in_flight += 1

    def _answer(self) -> object:
        try:
            kind, answer = pickle.load(self._process.stdout)
        except EOFError:
            self.close()
            raise RuntimeError("the numeric aggregation process stopped unexpectedly") from None
        self._in_flight -= 1
        if kind == "error":
            self.close()
            raise RuntimeError(f"numeric aggregation failed in the child process:\n{answer}")
        return answer

    def add(self, batches: Sequence[Batch]) -> None:
        self._call("add", batches)

    def drop(self, columns: Sequence[int]) -> None:
        self._call("drop", list(columns))

    def finish(self, columns: Sequence[int]) -> dict[int, Result]:
        self._call("finish", list(columns))
        answer = None
        while self._in_flight:
            answer = self._answer()
        self.close()
        return answer

    def close(self) -> None:
        """Stop the child (idempotent); work still queued is abandoned."""
        if self._process.poll() is None:
            if self._in_flight:
                self._process.kill()
            else:
                try:
                    self._send(("stop", None))
                    self._process.stdin.close()
                except (RuntimeError, OSError):
                    self._process.kill()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if not self._process.stdout.closed:
            self._process.stdout.close()
