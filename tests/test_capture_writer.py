"""The data-capture writer: the service's record shape, key layout, rolling, sampling and failures."""

from __future__ import annotations

import base64
import json
import logging
import random
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest

from tests.workshop_helpers import SteppingClock
from workshop.capture import CaptureConfig, CaptureWriter, capture_key, capture_record
from workshop.store import LocalStore, StoreError

T0 = datetime(2024, 5, 1, 10, 58, 30, 250_000, tzinfo=UTC)
KEY = re.compile(
    r"^churn/AllTraffic/(\d{4})/(\d{2})/(\d{2})/(\d{2})/(\d{2})-(\d{2})-(\d{3})-"
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.jsonl$"
)


class ManualClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def config(tmp_path, **options) -> CaptureConfig:
    return CaptureConfig(str(tmp_path), "churn", **options)


def written(tmp_path) -> dict[str, list[dict]]:
    store = LocalStore(str(tmp_path))
    return {key: [json.loads(line) for line in store.read(key).splitlines()] for key in store.list()}


def test_record_has_the_services_shape_and_key_order(tmp_path):
    record = capture_record(
        config(tmp_path), T0, b"1,2.5,3", "text/csv", b"0.25\n", "text/csv; charset=utf-8", "e-1", "req-7"
    )
    assert json.dumps(record, separators=(",", ":")) == (
        '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1,2.5,3",'
        '"encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT",'
        '"data":"0.25\\n","encoding":"CSV"}},"eventMetadata":{"eventId":"e-1","inferenceId":"req-7",'
        '"inferenceTime":"2024-05-01T10:58:30Z"},"eventVersion":"0"}'
    )


def test_inference_id_appears_only_when_given(tmp_path):
    record = capture_record(config(tmp_path), T0, b"1", "text/csv", b"0.5", "text/csv", "e-1")
    assert list(record["eventMetadata"]) == ["eventId", "inferenceTime"]


def test_encoding_follows_the_configured_content_types(tmp_path):
    cfg = config(tmp_path, json_content_types=("application/json",))
    record = capture_record(cfg, T0, b'{"a": 1}', "application/json; charset=utf-8", b"\x00\xff", "image/png", "e")
    assert record["captureData"]["endpointInput"]["encoding"] == "JSON"
    assert record["captureData"]["endpointInput"]["data"] == '{"a": 1}'
    output = record["captureData"]["endpointOutput"]
    assert output["encoding"] == "BASE64"
    assert base64.b64decode(output["data"]) == b"\x00\xff"


def test_key_is_named_after_the_time_the_file_was_opened(tmp_path):
    key = capture_key(config(tmp_path), T0, "0b5c1a3e-8f5e-4b7e-9a51-2f1d0c6a7b88")
    assert key == "churn/AllTraffic/2024/05/01/10/58-30-250-0b5c1a3e-8f5e-4b7e-9a51-2f1d0c6a7b88.jsonl"


def test_files_roll_every_minute_and_at_the_hour(tmp_path):
    clock = ManualClock(T0)
    writer = CaptureWriter(config(tmp_path), clock=clock)
    # 10:58:30, :59:00, :59:29 share a file; 10:59:31 starts a new one; 11:00:00 starts a new hour.
    for offset in (0, 30, 59, 61, 90):
        clock.now = T0 + timedelta(seconds=offset)
        assert writer.capture(b"1,2", "text/csv", b"0.1\n", "text/csv; charset=utf-8")
    writer.close()
    files = written(tmp_path)
    assert [len(records) for records in files.values()] == [3, 1, 1]
    for key, records in files.items():
        assert KEY.match(key), key
        folder_hour = KEY.match(key).group(4)
        assert {r["eventMetadata"]["inferenceTime"][11:13] for r in records} == {folder_hour}
    assert writer.stats.written == 5 and writer.stats.files == 3


def test_idle_file_is_written_by_the_background_thread_once_due(tmp_path):
    clock = ManualClock(T0)
    writer = CaptureWriter(config(tmp_path), clock=clock, poll_seconds=0.01)
    with writer:
        writer.capture(b"1", "text/csv", b"0.5\n", "text/csv")
        clock.now = T0 + timedelta(seconds=61)
        for _ in range(500):
            if writer.stats.files:
                break
            threading.Event().wait(0.01)
        assert writer.stats.files == 1, "the rolled file was not written while the writer ran"


def test_close_writes_every_buffered_record(tmp_path):
    writer = CaptureWriter(config(tmp_path), clock=ManualClock(T0))
    writer.start()
    for i in range(25):
        writer.capture(f"{i}".encode(), "text/csv", b"0.5\n", "text/csv")
    assert written(tmp_path) == {}  # still buffered: the file is not due
    writer.close()
    (records,) = written(tmp_path).values()
    assert [r["captureData"]["endpointInput"]["data"] for r in records] == [str(i) for i in range(25)]


def test_concurrent_captures_are_each_written_once(tmp_path):
    clock = SteppingClock(T0, timedelta(seconds=2))
    writer = CaptureWriter(config(tmp_path), clock=clock, poll_seconds=0.005)
    writer.start()

    def send(worker: int) -> None:
        for i in range(150):
            writer.capture(f"{worker},{i}".encode(), "text/csv", b"0.5\n", "text/csv", f"w{worker}-{i}")

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    ids = [r["eventMetadata"]["inferenceId"] for records in written(tmp_path).values() for r in records]
    assert sorted(ids) == sorted(f"w{w}-{i}" for w in range(8) for i in range(150))
    assert writer.stats.written == 1200 and writer.stats.failed_records == 0


def test_zero_percent_sampling_captures_nothing(tmp_path):
    writer = CaptureWriter(config(tmp_path, sampling_percentage=0), clock=ManualClock(T0))
    kept = [writer.capture(b"1", "text/csv", b"0.5", "text/csv") for _ in range(200)]
    writer.close()
    assert not any(kept)
    assert written(tmp_path) == {}
    assert writer.stats.requests == 200 and writer.stats.sampled == 0


def test_fifty_percent_sampling_is_one_draw_per_request(tmp_path):
    writer = CaptureWriter(config(tmp_path, sampling_percentage=50), clock=ManualClock(T0), rng=random.Random(3))
    kept = [writer.capture(str(i).encode(), "text/csv", b"0.5", "text/csv") for i in range(2000)]
    writer.close()
    records = [r for records in written(tmp_path).values() for r in records]
    # The records written are exactly the requests the draw kept, in order.
    assert [r["captureData"]["endpointInput"]["data"] for r in records] == [
        str(i) for i, k in enumerate(kept) if k
    ]
    assert 900 < len(records) < 1100  # binomial(2000, 0.5): ±4.5 standard deviations


class FailingStore(LocalStore):
    def write(self, key: str, data: bytes) -> None:
        raise StoreError(f"cannot write {key}: access denied")


def test_write_failures_are_logged_and_counted_never_raised(tmp_path, caplog):
    writer = CaptureWriter(config(tmp_path), store=FailingStore(str(tmp_path)), clock=ManualClock(T0))
    with caplog.at_level(logging.ERROR, logger="workshop.capture"):
        assert all(writer.capture(b"1", "text/csv", b"0.5", "text/csv") for _ in range(7))
        writer.close()
    assert writer.stats.failed_records == 7 and writer.stats.failed_files == 1 and writer.stats.written == 0
    assert "lost (7 records)" in caplog.text and "access denied" in caplog.text


@pytest.mark.parametrize(
    ("options", "message"),
    [({"sampling_percentage": 101}, "between 0 and 100"), ({"roll_seconds": 0}, "positive")],
)
def test_bad_settings_are_refused(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        config(tmp_path, **options)
