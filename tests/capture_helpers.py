"""Test-only builder of data-capture files in the service's layout (contract, section 1)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path


def part(data: str, mode: str, encoding: str = "CSV", content_type: str = "text/csv") -> dict:
    if encoding == "BASE64":
        data = base64.b64encode(data.encode()).decode()
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


def record(input_data: str | None, output_data: str | None, time: datetime, **part_options) -> dict:
    capture = {}
    if input_data is not None:
        capture["endpointInput"] = part(input_data, "INPUT", **part_options)
    if output_data is not None:
        capture["endpointOutput"] = part(output_data, "OUTPUT", **part_options)
    return {
        "captureData": capture,
        "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": time.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "eventVersion": "0",
    }


def capture_path(root: Path, opened: datetime, endpoint: str = "churn", variant: str = "AllTraffic") -> Path:
    folder = root / endpoint / variant / opened.strftime("%Y/%m/%d/%H")
    name = f"{opened:%M-%S}-{opened.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
    return folder / name


def write_file(root: Path, records: Sequence[dict], opened: datetime, **path_options) -> Path:
    path = capture_path(root, opened, **path_options)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(item) + "\n" for item in records))
    return path


def write_records(root: Path, records: Sequence[dict], **path_options) -> list[Path]:
    """One file per minute of inferenceTime, named after its first record (as the service rolls them)."""
    by_minute: dict[str, list[dict]] = {}
    for item in records:
        by_minute.setdefault(item["eventMetadata"]["inferenceTime"][:16], []).append(item)
    return [
        write_file(root, group, datetime.fromisoformat(group[0]["eventMetadata"]["inferenceTime"][:19]), **path_options)
        for group in by_minute.values()
    ]


def traffic(
    rows: Sequence[Sequence[str]], start: datetime, outputs: Sequence[str] | None = None, every_seconds: float = 10.0
) -> list[dict]:
    """One CSV request per row (the features), the response `outputs[i]` (default "0.5") ending in "\\n"."""
    return [
        record(
            ",".join(row) + "\n",
            (outputs[i] if outputs is not None else "0.5") + "\n",
            start + timedelta(seconds=i * every_seconds),
        )
        for i, row in enumerate(rows)
    ]
