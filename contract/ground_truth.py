"""Ground truth and the merge (model-quality contract, sections 1 and 2): records, layout, join key.

- A ground-truth record (real, documented), one JSON object per line:
  `{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "58"}, "eventVersion": "0"}`.
  `eventMetadata.eventId` holds the capture's join key (its inferenceId when it has one).
- Label files: `<prefix>/yyyy/mm/dd/HH/<name>.jsonl`, the hour being when the labels were
  collected (documented); the real run named its file by the upload's minute and second (`2910.jsonl`).
- Join key (documented): a capture's `eventMetadata.inferenceId` when present, else its `eventId`.
- Merged records (`merge/yyyy/mm/dd/HH/*.jsonl` under the run's output, as the service's merge job
  leaves them under `<output>/merge`): the service's file is not published. Ours (inferred from
  `dataset_format={"sagemakerMergeJson": {"captureIndexNames": ["endpointOutput"]}}`): the capture
  record with its endpointOutput's data and encoding only, plus the matched label's `groundTruthData`
  (`merged_record`).
- `merge_summary.json` (ours): what the merge matched, left unmatched and found duplicated; read
  back through `MergeSummary.of`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from datetime import UTC, datetime

from contract.errors import QualityInputError
from contract.layout import HOUR_FOLDER_FORMAT

CSV_ENCODING = "CSV"
EVENT_VERSION = "0"
LABEL_FILE_SUFFIX = ".jsonl"
MERGE_FOLDER = "merge"  # under the run's output folder (real: the merge job's output `<reports>/merge`)
MERGED_FILE = "merged.jsonl"  # ours: one file per capture hour folder
MERGE_SUMMARY_FILE = "merge_summary.json"  # ours
OUTPUT_PART = "endpointOutput"
MERGE_FORMAT = "sagemakerMergeJson"


def merge_dataset_format() -> dict:
    """The analysis job's `dataset_format` after a merge (real)."""
    return {MERGE_FORMAT: {"captureIndexNames": [OUTPUT_PART]}}


# --- records ---------------------------------------------------------------------------------------


def ground_truth_record(join_key: str, label: object) -> dict:
    """One label for the capture whose join key is `join_key`; the label is written as text."""
    return {
        "groundTruthData": {"data": str(label), "encoding": CSV_ENCODING},
        "eventMetadata": {"eventId": str(join_key)},
        "eventVersion": EVENT_VERSION,
    }


def ground_truth_line(join_key: str, label: object) -> str:
    return json.dumps(ground_truth_record(join_key, label), separators=(",", ":")) + "\n"


@dataclass(frozen=True)
class GroundTruthLabel:
    join_key: str
    label: str


def parse_ground_truth(line: str | bytes, location: str) -> GroundTruthLabel:
    """A label line, strictly: QualityInputError naming `location` (file:line) and what is wrong."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise QualityInputError(
            f"{location}: not a JSON object ({exc}); write one ground-truth record per line"
        ) from None
    truth = record.get("groundTruthData") if isinstance(record, dict) else None
    metadata = record.get("eventMetadata") if isinstance(record, dict) else None
    if not isinstance(truth, dict) or not isinstance(metadata, dict):
        raise QualityInputError(
            f"{location}: a ground-truth record needs groundTruthData and eventMetadata objects, like "
            f"{json.dumps(ground_truth_record('58', 1))}"
        )
    data, key = truth.get("data"), metadata.get("eventId")
    if not isinstance(data, str) or not isinstance(key, str) or not key:
        raise QualityInputError(
            f"{location}: groundTruthData.data and eventMetadata.eventId must be non-empty strings "
            f"(found {data!r} and {key!r})"
        )
    encoding = truth.get("encoding", CSV_ENCODING)
    if encoding != CSV_ENCODING:
        raise QualityInputError(
            f"{location}: groundTruthData.encoding {encoding!r} is not supported; use {CSV_ENCODING}"
        )
    return GroundTruthLabel(key, data.strip())


def join_key(event_metadata: Mapping) -> str | None:
    """The key a capture record is matched on: inferenceId when present, else eventId."""
    key = event_metadata.get("inferenceId") or event_metadata.get("eventId")
    return str(key) if key else None


JOIN_KEY_RULE = "eventMetadata.inferenceId, else eventMetadata.eventId"


def merged_record(data: str, encoding: str, event_metadata: Mapping, label: str) -> dict:
    """A merged record (inferred format, see the module's notes); `analyzer.merge` writes the same
    by columns."""
    return {
        "captureData": {OUTPUT_PART: {"data": data, "encoding": encoding}},
        "groundTruthData": {"data": label, "encoding": CSV_ENCODING},
        "eventMetadata": dict(event_metadata),
        "eventVersion": EVENT_VERSION,
    }


# --- layout ----------------------------------------------------------------------------------------


def label_file_name(uploaded: datetime) -> str:
    """`MMSS.jsonl` of the upload's minute and second, as the real run named its files."""
    return f"{uploaded.astimezone(UTC):%M%S}{LABEL_FILE_SUFFIX}"


def label_file_key(prefix: str, collected: datetime, name: str | None = None) -> str:
    """`<prefix>/yyyy/mm/dd/HH/<name>.jsonl`: the folder of the hour the labels were collected."""
    name = name or label_file_name(collected)
    if not name.endswith(LABEL_FILE_SUFFIX):
        name += LABEL_FILE_SUFFIX
    hour = collected.astimezone(UTC).strftime(HOUR_FOLDER_FORMAT)
    return f"{prefix.rstrip('/')}/{hour}/{name}" if prefix else f"{hour}/{name}"


# --- the merge summary -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeSummary:
    """What one run's merge found. Duplicate labels (several for one key): the one collected last
    wins (latest hour folder, then later file, then later line); the others are counted here."""

    captures: int  # capture records of the window with a usable prediction
    labels: int  # label records read (duplicates included)
    matched: int  # captures that found a label: the records scored
    unmatched_captures: int
    unmatched_labels: int  # distinct label keys no capture of the window has
    duplicate_labels: int  # label records replaced by a later one for the same key
    unusable_captures: int = 0  # capture records that could not be used (each with file:line in the log)
    unusable_labels: int = 0  # label lines that could not be used
    join_key: str = JOIN_KEY_RULE

    @property
    def unmatched_capture_share(self) -> float:
        return self.unmatched_captures / self.captures if self.captures else 0.0

    @property
    def unmatched_label_share(self) -> float:
        distinct = self.labels - self.duplicate_labels
        return self.unmatched_labels / distinct if distinct else 0.0

    def to_document(self) -> dict:
        return asdict(self)

    @classmethod
    def of(cls, document: object, source: str = MERGE_SUMMARY_FILE) -> MergeSummary:
        if not isinstance(document, Mapping):
            raise QualityInputError(f"{source}: expected a JSON object with the merge counts")
        values = {}
        for item in fields(cls):
            if item.name not in document and item.default is MISSING:
                raise QualityInputError(f"{source}: $.{item.name} is missing; monitor-model-quality writes it")
            value = document.get(item.name, item.default)
            wanted = str if item.name == "join_key" else int
            if not isinstance(value, wanted) or isinstance(value, bool):
                raise QualityInputError(
                    f"{source}: $.{item.name} must be {'a string' if wanted is str else 'an integer'}, not {value!r}"
                )
            values[item.name] = value
        return cls(**values)
