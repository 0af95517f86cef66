"""The endpoint's data-capture layer: the service's JSONL records and file layout (contract, section 1).

    {DestinationS3Uri}/{EndpointName}/{VariantName}/{yyyy}/{mm}/{dd}/{HH}/{MM}-{SS}-{mmm}-{uuid4}.jsonl

Records are buffered in the open file and written when it is rolled: about every `roll_seconds`
of the injected clock (so a demo can compress time), and also when the UTC hour changes, so every
record lands in the folder of its own hour. A background thread writes rolled files; `flush()`
and `close()` write everything still buffered. A failed write is logged and counted and never
reaches the request that was captured.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from workshop.store import Store, StoreError, join, open_store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
INFERENCE_ID_MAX = 64  # the runtime API's limit on InferenceId


def utc_now() -> datetime:
    return datetime.now(UTC)


def media_type(content_type: str | None) -> str:
    """`text/csv; charset=utf-8` -> `text/csv` (parameters are ignored when matching types)."""
    return (content_type or "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class CaptureConfig:
    """The endpoint config's DataCaptureConfig, plus where to write it locally."""

    destination: str  # DestinationS3Uri (s3://bucket/datacapture) or a local folder
    endpoint_name: str
    variant_name: str = "AllTraffic"
    sampling_percentage: float = 100.0
    csv_content_types: tuple[str, ...] = ("text/csv",)
    json_content_types: tuple[str, ...] = ("application/json",)
    roll_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not 0 <= self.sampling_percentage <= 100:
            raise ValueError(f"sampling percentage {self.sampling_percentage} must be between 0 and 100")
        if self.roll_seconds <= 0:
            raise ValueError(f"roll_seconds {self.roll_seconds} must be positive")
        for what, name in (("endpoint name", self.endpoint_name), ("variant name", self.variant_name)):
            if not name or "/" in name:
                raise ValueError(f"{what} {name!r} must be non-empty and contain no '/'")

    def encoding(self, content_type: str | None) -> str:
        media = media_type(content_type)
        if media in self.csv_content_types:
            return "CSV"
        if media in self.json_content_types:
            return "JSON"
        return "BASE64"


def capture_part(body: bytes, content_type: str, mode: str, config: CaptureConfig) -> dict:
    encoding = config.encoding(content_type)
    data = None
    if encoding != "BASE64":
        try:
            data = body.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "BASE64"  # not text after all: keep the bytes intact
    if data is None:
        data = base64.b64encode(body).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


def capture_record(
    config: CaptureConfig,
    time: datetime,
    input_body: bytes,
    input_type: str,
    output_body: bytes,
    output_type: str,
    event_id: str,
    inference_id: str | None = None,
) -> dict:
    """One capture record, keys in the service's order."""
    metadata = {"eventId": event_id}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "captureData": {
            "endpointInput": capture_part(input_body, input_type, "INPUT", config),
            "endpointOutput": capture_part(output_body, output_type, "OUTPUT", config),
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }


def capture_key(config: CaptureConfig, opened: datetime, file_id: str) -> str:
    """`{endpoint}/{variant}/yyyy/mm/dd/HH/MM-SS-mmm-{uuid}.jsonl`, relative to the destination."""
    opened = opened.astimezone(UTC)
    name = f"{opened:%M-%S}-{opened.microsecond // 1000:03d}-{file_id}.jsonl"
    return join(config.endpoint_name, config.variant_name, f"{opened:%Y/%m/%d/%H}", name)


@dataclass
class CaptureStats:
    requests: int = 0  # capture() calls
    sampled: int = 0  # records kept by the sampling draw
    written: int = 0  # records in files written
    files: int = 0
    failed_files: int = 0
    failed_records: int = 0  # records lost to failed writes
    errors: int = 0  # records that could not be built (logged)


@dataclass
class _OpenFile:
    opened: datetime
    file_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    lines: list[bytes] = field(default_factory=list)

    def due(self, now: datetime, roll: timedelta) -> bool:
        elapsed = now - self.opened
        return elapsed >= roll or elapsed < timedelta(0) or now.replace(minute=0, second=0, microsecond=0) != (
            self.opened.replace(minute=0, second=0, microsecond=0)
        )


class CaptureWriter:
    """Thread-safe capture buffer and file roller. Use as a context manager, or start()/close()."""

    def __init__(
        self,
        config: CaptureConfig,
        store: Store | None = None,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        poll_seconds: float = 0.5,
    ):
        self.config = config
        self.store = store if store is not None else open_store(config.destination)
        self.clock = clock
        self.stats = CaptureStats()
        self._rng = rng or random.Random()
        self._roll = timedelta(seconds=config.roll_seconds)
        self._poll = poll_seconds
        self._lock = threading.Lock()  # guards _open, _done, stats and the rng
        self._write_lock = threading.Lock()  # one writer at a time, so flush() waits for the thread
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._open: _OpenFile | None = None
        self._done: list[_OpenFile] = []
        self._thread: threading.Thread | None = None

    def __enter__(self) -> CaptureWriter:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="capture-writer", daemon=True)
        self._thread.start()

    def capture(
        self,
        input_body: bytes,
        input_type: str,
        output_body: bytes,
        output_type: str,
        inference_id: str | None = None,
    ) -> bool:
        """Buffer one request/response pair if the sampling draw keeps it; never raises."""
        try:
            with self._lock:
                self.stats.requests += 1
                # One Bernoulli draw per request, as InitialSamplingPercentage works.
                if self._stopped.is_set() or self._rng.random() * 100 >= self.config.sampling_percentage:
                    return False
                now = self.clock()
                record = capture_record(
                    self.config, now, input_body, input_type, output_body, output_type, str(uuid.uuid4()), inference_id
                )
                self._roll_if_due(now)
                if self._open is None:
                    self._open = _OpenFile(now)
                self._open.lines.append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
                self.stats.sampled += 1
                return True
        except Exception:  # capture must never fail the prediction it records
            log.exception("could not capture a request; the prediction was still returned")
            with self._lock:
                self.stats.errors += 1
            return False

    def flush(self) -> None:
        """Roll the open file and write every buffered record before returning."""
        with self._lock:
            self._roll_if_due(None)
        self._write_done()

    def close(self) -> None:
        """Stop the writer thread and write everything still buffered (idempotent)."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def _roll_if_due(self, now: datetime | None) -> None:
        """Move the open file to the write queue if it is due (always when `now` is None)."""
        if self._open is not None and (now is None or self._open.due(now, self._roll)):
            self._done.append(self._open)
            self._open = None
            self._wake.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self._poll)
            self._wake.clear()
            with self._lock:
                self._roll_if_due(self.clock())  # an idle file is rolled on time too
            self._write_done()

    def _write_done(self) -> None:
        with self._write_lock:
            with self._lock:
                files, self._done = self._done, []
            for item in files:
                self._write(item)

    def _write(self, item: _OpenFile) -> None:
        key = capture_key(self.config, item.opened, item.file_id)
        try:
            self.store.write(key, b"".join(item.lines))
        except Exception as exc:  # StoreError, or anything a custom store raises: the thread must live on
            reason = exc if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
            log.error("capture file %s lost (%d records): %s", key, len(item.lines), reason)
            with self._lock:
                self.stats.failed_files += 1
                self.stats.failed_records += len(item.lines)
            return
        with self._lock:
            self.stats.files += 1
            self.stats.written += len(item.lines)
