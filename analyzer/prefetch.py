"""`prefetched`: an iterator's items produced by a background thread, a few ahead of the consumer.

The dataset and capture readers use it: pyarrow parses without holding the GIL, so reading then
overlaps the profiler's work on earlier batches.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator


def prefetched(items: Iterator, depth: int) -> Iterator:
    """The same items, produced by a background thread up to `depth` ahead.

    pyarrow parses CSV blocks without holding the GIL, so reading then overlaps the caller's
    work on earlier batches. Errors are raised in the caller, at the item where they occurred.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put((done, None))
        except BaseException as error:  # handed to the consumer
            buffer.put((done, error))

    thread = threading.Thread(target=produce, name="dataset-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = buffer.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
