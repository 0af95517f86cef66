"""Send rows to an endpoint, one row per request (as the workshop replays its test file).

A target is the local endpoint's URL (`POST {url}/invocations`) or a real SageMaker endpoint
through boto3's `sagemaker-runtime` `invoke_endpoint`. Requests are paced at a chosen overall
rate (request i is due i/rate seconds after the start) across `concurrency` worker threads.

Every request carries an InferenceId, stable per row: `PREFIX-000001`, `PREFIX-000002`, ... (the
row's number), where PREFIX is `<scenario>-s<seed>-n<rows>` for generated rows (so the same
scenario, seed and row count give the same ids, and `workshop ground-truth --from-generator` can
regenerate each row's true outcome from its id alone) and the file's name for a replayed CSV.
Captures hold it as `eventMetadata.inferenceId`, the key that ground truth labels join on.
"""

from __future__ import annotations

import csv
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

from workshop.capture import INFERENCE_ID_MAX
from workshop.server import CSV_TYPE, INFERENCE_ID_HEADER

MAX_ERRORS_KEPT = 20


class TrafficError(ValueError):
    """The rows to send cannot be read; the message names the file and line."""


class Target(Protocol):
    def invoke(self, body: str, inference_id: str | None) -> str:
        """Send one request; return the response body or raise with a readable message."""

    def describe(self) -> str: ...


@dataclass(frozen=True)
class HttpTarget:
    url: str  # e.g. http://127.0.0.1:8080
    timeout: float = 10.0

    def __post_init__(self) -> None:
        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
        except ValueError as exc:
            raise TrafficError(f"--url {self.url!r} is not a URL ({exc}); e.g. http://127.0.0.1:8080") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TrafficError(
                f"--url {self.url!r} is not an http:// URL with a host; e.g. http://127.0.0.1:8080 "
                "(the address `workshop serve` prints)"
            )

    def invoke(self, body: str, inference_id: str | None) -> str:
        headers = {"Content-Type": CSV_TYPE}
        if inference_id is not None:
            headers[INFERENCE_ID_HEADER] = inference_id
        request = urllib.request.Request(
            self.url.rstrip("/") + "/invocations", data=body.encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read().decode()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"HTTP {exc.code}: {exc.read().decode(errors='replace').strip()}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RuntimeError(f"cannot reach {self.url} ({reason}); is the endpoint running?") from None

    def describe(self) -> str:
        return self.url


@dataclass
class SageMakerTarget:
    endpoint_name: str
    client: object = None

    def __post_init__(self) -> None:
        if self.client is None:
            import boto3

            self.client = boto3.client("sagemaker-runtime")

    def invoke(self, body: str, inference_id: str | None) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        options = {"InferenceId": inference_id} if inference_id is not None else {}
        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.endpoint_name, ContentType=CSV_TYPE, Body=body.encode(), **options
            )
        except (BotoCoreError, ClientError) as exc:
            raise RuntimeError(str(exc)) from None
        return response["Body"].read().decode()

    def describe(self) -> str:
        return f"SageMaker endpoint {self.endpoint_name}"


@dataclass
class TrafficResult:
    sent: int = 0
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # the first MAX_ERRORS_KEPT, with the row number
    stopped: bool = False  # interrupted before every row was sent

    def record(self, error: str | None) -> int:
        """Count one request (the caller holds the lock); returns how many have been sent."""
        self.sent += 1
        if error is None:
            self.ok += 1
        else:
            self.failed += 1
            if len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append(error)
        return self.sent

    def summary(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        text = f"{self.ok} of {self.sent} requests succeeded in {self.seconds:.1f} s ({rate:.0f}/s)"
        return text + (f", {self.failed} failed" if self.failed else "") + (" (interrupted)" if self.stopped else "")


def _check_send_arguments(rows: int, rate: float | None, concurrency: int,
                          inference_ids: Sequence[str] | None) -> None:
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if inference_ids is not None and len(inference_ids) != rows:
        raise ValueError(f"{len(inference_ids)} inference ids for {rows} rows")


def send_rows(
    rows: Sequence[Sequence[str]],
    target: Target,
    rate: float | None = None,
    concurrency: int = 4,
    inference_ids: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> TrafficResult:
    """Send each row as one CSV request; `rate` in requests per second (None: as fast as possible).

    A failed request is counted and described, never retried; setting `stop` ends the run early.
    """
    _check_send_arguments(len(rows), rate, concurrency, inference_ids)
    stop = stop or threading.Event()
    result = TrafficResult()
    lock = threading.Lock()
    next_index = iter(range(len(rows)))
    start = time.monotonic()

    def worker() -> None:
        while not stop.is_set():
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            if rate is not None:
                delay = start + index / rate - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    return
            error = None
            try:
                target.invoke(",".join(rows[index]), inference_ids[index] if inference_ids else None)
            except RuntimeError as exc:
                error = f"row {index + 1}: {exc}"
            with lock:
                done = result.record(error)
            if progress is not None:
                progress(done, len(rows))

    workers = [threading.Thread(target=worker, name=f"traffic-{i}", daemon=True) for i in range(concurrency)]
    for thread in workers:
        thread.start()
    try:
        for thread in workers:
            thread.join()
    finally:
        # Ctrl-C lands here in the main thread: let the workers finish their current request.
        if any(thread.is_alive() for thread in workers):
            stop.set()
            for thread in workers:
                thread.join()
    result.stopped = result.sent < len(rows)
    result.seconds = time.monotonic() - start
    return result


def _looks_numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return value.strip() == ""
    return True


def read_csv_rows(path: str) -> tuple[list[list[str]], bool]:
    """Rows of a CSV file, and whether a header line was skipped (a first line with a non-number)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except OSError as exc:
        raise TrafficError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TrafficError(f"{path} is not a UTF-8 CSV file ({exc})") from None
    header = bool(rows) and not all(_looks_numeric(value) for value in rows[0])
    rows = rows[1:] if header else rows
    if not rows:
        raise TrafficError(f"{path} has no data rows; send a CSV of feature values, one request per line")
    return rows, header


def scenario_rows(scenario: str, count: int, seed: int, label: bool = False) -> list[list[str]]:
    """Rows of one of the generator's scenarios (feature values only, unless `label`)."""
    from model import synthetic

    if scenario not in synthetic.SCENARIOS:
        raise TrafficError(f"unknown scenario {scenario!r}; choose one of {', '.join(synthetic.SCENARIOS)}")
    return synthetic.generate_rows(count, seed=seed, drift=synthetic.SCENARIOS[scenario], label=label)


_ROW_DIGITS = 6
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SCENARIO_ID = re.compile(r"^(?P<scenario>[a-z_]+)-s(?P<seed>\d+)-n(?P<rows>\d+)-(?P<row>\d+)$")


class ScenarioRow(NamedTuple):
    """Which generated row an InferenceId names: `row` counts from 1."""

    scenario: str
    seed: int
    rows: int
    row: int


def row_ids(prefix: str, count: int) -> list[str]:
    """`PREFIX-000001` ... `PREFIX-<count>`: one InferenceId per row, within the API's 64 characters."""
    longest = f"{prefix}-{count:0{_ROW_DIGITS}d}"
    if len(longest) > INFERENCE_ID_MAX:
        raise TrafficError(f"inference id {longest!r} is longer than {INFERENCE_ID_MAX} characters; "
                           "use a shorter --inference-id-prefix")
    return [f"{prefix}-{i:0{_ROW_DIGITS}d}" for i in range(1, count + 1)]


def scenario_ids(scenario: str, seed: int, count: int) -> list[str]:
    """The InferenceIds of `scenario_rows(scenario, count, seed)`, which `parse_scenario_id` reads back."""
    if seed < 0:
        raise TrafficError(f"--seed must be >= 0 for stable inference ids, got {seed}")
    return row_ids(f"{scenario}-s{seed}-n{count}", count)


def csv_prefix(path: str) -> str:
    """A replayed file's InferenceId prefix: its name without the extension, as printable id text."""
    return _UNSAFE.sub("_", Path(path).stem)[:40] or "row"


def parse_scenario_id(value: str) -> ScenarioRow | None:
    """The generated row behind an id of `scenario_ids`, or None for any other id."""
    match = _SCENARIO_ID.match(value)
    if match is None:
        return None
    row = ScenarioRow(match["scenario"], int(match["seed"]), int(match["rows"]), int(match["row"]))
    return row if 1 <= row.row <= row.rows else None
