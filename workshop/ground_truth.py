"""`python -m workshop ground-truth`: labels for captured records, uploaded in the ground-truth layout.

Ground truth is what really happened to a prediction (did the customer churn?), known only later.
The model-quality monitor joins it with the captures: each label names a captured record by its
`inferenceId` (the caller's `InvokeEndpoint(InferenceId=...)`), or by its `eventId` when the
request had none (contract.ground_truth's join key). The labels of one upload go into one file
`<prefix>/yyyy/mm/dd/HH/<MMSS>.jsonl` whose hour is when they were collected, not when the
predictions were made.

Labels come from a CSV of `id,label` (what a user's systems export), or, for traffic that
`workshop traffic` generated, from the generator itself: a generated row's InferenceId names its
scenario, seed, row count and row (`workshop.traffic.parse_scenario_id`), so its true outcome can
be drawn again. Only ids of the captured records in the window are labelled: an unknown id in the
CSV is refused (it would only count as an unmatched label) unless `allow_uncaptured`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from contract.ground_truth import ground_truth_line, join_key, label_file_key
from contract.layout import Window
from workshop import inspection
from workshop.store import Store
from workshop.traffic import parse_scenario_id, scenario_rows

SHOWN = 5  # ids named in a message before "and N more"


class GroundTruthInputError(ValueError):
    """Labels cannot be made or read as asked; the message names the id, file and line."""


@dataclass(frozen=True)
class Captured:
    """The join keys of the window's captured records, in capture order, each once."""

    keys: tuple[str, ...]
    records: int  # captured rows (a key repeats when the same InferenceId was sent again)
    without_inference_id: int  # keyed by their eventId

    @classmethod
    def of(cls, records: Sequence[inspection.CapturedRecord]) -> Captured:
        keys = dict.fromkeys(join_key({"inferenceId": r.inference_id, "eventId": r.event_id}) for r in records)
        return cls(tuple(keys), len(records), sum(1 for r in records if not r.inference_id))


def captured(source: str, endpoint: str, variant: str, window: Window) -> Captured:
    """The captured records of one endpoint variant in `window`; an error when there are none or
    some cannot be read (their labels would be missing without a word)."""
    files = inspection.capture_files(source, endpoint, variant, window)
    location = inspection.capture_location(source, endpoint, variant)
    records, problems = inspection.read_records(files, window)
    if problems:
        raise GroundTruthInputError(f"{len(problems)} capture lines cannot be read, first: {problems[0]}")
    if not records:
        raise GroundTruthInputError(
            f"no captured records under {location}/ for that time range; check --captures, --endpoint, "
            "--variant and --start/--end"
        )
    return Captured.of(records)


def _listed(items: Sequence[str]) -> str:
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


def generator_labels(keys: Iterable[str]) -> dict[str, str]:
    """The true outcome (`0`/`1`) of each generated row an InferenceId names, drawn again."""
    keys = list(keys)
    named = {key: parse_scenario_id(key) for key in keys}
    foreign = [key for key, row in named.items() if row is None]
    if foreign:
        raise GroundTruthInputError(
            f"{len(foreign)} of {len(keys)} captured records do not carry an InferenceId of `workshop traffic "
            f"--scenario` (SCENARIO-sSEED-nROWS-ROW): {_listed(foreign)}; label them with --labels FILE.csv"
        )
    batches: dict[tuple[str, int, int], list[list[str]]] = {}
    labels = {}
    for key, row in named.items():
        batch = (row.scenario, row.seed, row.rows)
        if batch not in batches:
            batches[batch] = scenario_rows(row.scenario, row.rows, row.seed, label=True)
        labels[key] = batches[batch][row.row - 1][0]
    return labels


def read_labels(path: str) -> dict[str, tuple[int, str]]:
    """id -> (line, label) of a CSV `id,label` (an `id,label` header line is skipped)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            lines = list(enumerate(csv.reader(handle), start=1))
    except OSError as exc:
        raise GroundTruthInputError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise GroundTruthInputError(f"{path} is not a UTF-8 CSV file ({exc}); write one `id,label` per line") from None
    if lines and [cell.strip().lower() for cell in lines[0][1]] == ["id", "label"]:
        lines = lines[1:]
    labels: dict[str, tuple[int, str]] = {}
    for number, cells in lines:
        if not cells:
            continue
        fields = [cell.strip() for cell in cells]
        if len(fields) != 2 or not all(fields):
            raise GroundTruthInputError(
                f"{path} line {number}: {','.join(cells)!r} is not `id,label` (two non-empty values); "
                "quote an id that contains a comma"
            )
        key, label = fields
        if key in labels:
            raise GroundTruthInputError(
                f"{path} line {number}: id {key!r} again (first on line {labels[key][0]}); give each id one label"
            )
        labels[key] = (number, label)
    if not labels:
        raise GroundTruthInputError(f"{path} has no labels; write one `id,label` line per captured record")
    return labels


def file_labels(path: str, captures: Captured, allow_uncaptured: bool = False) -> dict[str, str]:
    """The labels of a CSV, each checked against the captured ids."""
    labels = read_labels(path)
    known = set(captures.keys)
    unknown = [f"{key!r} (line {line})" for key, (line, _) in labels.items() if key not in known]
    if unknown and not allow_uncaptured:
        raise GroundTruthInputError(
            f"{path}: {len(unknown)} of {len(labels)} ids were not captured in that time range: {_listed(unknown)}; "
            "check --start/--end and --endpoint (a label joins a record's inferenceId, else its eventId), "
            "or upload them anyway with --allow-uncaptured"
        )
    return {key: label for key, (_, label) in labels.items()}


def ground_truth_lines(labels: Iterable[tuple[str, str]]) -> bytes:
    return "".join(ground_truth_line(key, label) for key, label in labels).encode()


def upload(labels: dict[str, str], store: Store, collected: datetime) -> str:
    """Write the labels as one ground-truth file of the hour they were collected in; returns its key
    (relative to the store, which is the ground-truth prefix)."""
    key = label_file_key("", collected)
    store.write(key, ground_truth_lines(labels.items()))
    return key


def describe_upload(store: Store, key: str, labels: dict[str, str], captures: Captured) -> str:
    matched = sum(1 for k in captures.keys if k in labels)
    text = f"wrote {len(labels)} labels to {store.describe(key)} ({matched} of {len(captures.keys)} captured ids"
    if captures.without_inference_id:
        count = captures.without_inference_id
        text += f"; {count} record{'s' if count > 1 else ''} without an InferenceId keyed by the eventId"
    return text + ")"
