"""Model-quality baselining: a validation CSV with predictions and labels -> statistics.json, constraints.json.

As `ModelQualityMonitor.suggest_baseline` (contract, sections 3-5): a CSV with a header (one file or a
folder of them), attributes are column names. Binary: the predicted label is the inference column
when given, else `probability > threshold` (a score equal to the threshold is negative, inferred
from the real baseline); the probability column gives the curves and the AUC. Suggested thresholds
are the baseline's values.

Bad input raises QualityInputError naming the file (and line: header = line 1, one line per row):
a missing column (with the columns there are), binary labels or predictions other than 0/1 (with
the values seen), probabilities that do not parse or fall outside [0, 1], empty values.
"""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analyzer.datasets import list_files
from analyzer.jsonfmt import write_document
from analyzer.quality_metrics import QualityAccumulator, predict_from_scores, window_seed
from analyzer.value_types import parses_as_number
from contract.errors import QualityInputError
from contract.layout import CONSTRAINTS_FILE, STATISTICS_FILE
from contract.model_quality import (
    BINARY,
    DEFAULT_PROBABILITY_THRESHOLD,
    REGRESSION,
    QualityStatistics,
    constraints_document,
    statistics_document,
)

__all__ = ["statistics_document", "suggest_quality_baseline"]

log = logging.getLogger(__name__)
BLOCK_BYTES = 1 << 20
SHOWN = 5  # bad values or lines named in one message


def _csv_error(path: str, error: Exception) -> QualityInputError:
    """The first row whose field count differs from the header's, else pyarrow's reason."""
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        rows = csv.reader(handle)
        header = next(rows, [])
        for row in rows:
            if len(row) != len(header):
                return QualityInputError(
                    f"{path}, line {rows.line_num}: {len(row)} fields where the header has {len(header)}; "
                    "fix the row (quote values that contain commas)"
                )
    return QualityInputError(f"{path}: cannot read as a CSV with a header line ({error})")


def _header(path: str) -> list[str]:
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES))
    except pa.ArrowInvalid as error:
        raise _csv_error(path, error) from None
    except OSError as error:
        raise QualityInputError(f"{path}: cannot read ({error})") from None
    return reader.schema.names


def _check_columns(path: str, wanted: dict[str, str]) -> None:
    names = _header(path)
    for option, column in wanted.items():
        if column not in names:
            raise QualityInputError(
                f"{path}: no column {column!r} ({option}); the header's columns are: {', '.join(names)}"
            )


def _lines(rows: np.ndarray, offset: int) -> str:
    shown = ", ".join(str(offset + int(row) + 2) for row in rows[:SHOWN])
    return f"line{'s' if len(rows) > 1 else ''} {shown}{', ...' if len(rows) > SHOWN else ''}"


def _numbers(column: pa.Array, path: str, name: str, offset: int) -> np.ndarray:
    """A string column as float64; QualityInputError naming the lines of empty or unparseable values."""
    if column.null_count:
        rows = np.flatnonzero(np.asarray(column.is_null()))
        raise QualityInputError(f"{path}: column {name!r} is empty on {_lines(rows, offset)}; every row needs a value")
    try:
        return np.asarray(pc.cast(pc.utf8_trim_whitespace(column), pa.float64()), dtype=np.float64)
    except pa.ArrowInvalid:
        bad = [i for i, text in enumerate(column.to_pylist()) if not parses_as_number(text)]
        raise QualityInputError(
            f"{path}: column {name!r} holds values that are not numbers on {_lines(np.array(bad), offset)} "
            f"(such as {column[bad[0]].as_py()!r})"
        ) from None


def _is_binary(text: str | None) -> bool:
    return text is not None and parses_as_number(text) and float(text) in (0.0, 1.0)


def _binary(column: pa.Array, path: str, name: str, offset: int, seen: Counter) -> np.ndarray | None:
    """0/1 values as int64, or None when any is not 0 or 1 (every value is counted in `seen`)."""
    counts = pc.value_counts(column)
    values = counts.field("values").to_pylist()
    seen.update(dict(zip(values, counts.field("counts").to_pylist(), strict=True)))
    if not all(_is_binary(text) for text in values):
        return None
    return _numbers(column, path, name, offset).astype(np.int64)


def _probabilities(column: pa.Array, path: str, name: str, offset: int) -> np.ndarray:
    scores = _numbers(column, path, name, offset)
    outside = np.flatnonzero(~((scores >= 0.0) & (scores <= 1.0)))
    if len(outside):
        raise QualityInputError(
            f"{path}: column {name!r} holds values outside [0, 1] on {_lines(outside, offset)} "
            f"(such as {column[int(outside[0])].as_py()!r}); it must be the positive class's probability"
        )
    return scores


def _seen_error(path: str, name: str, option: str, seen: Counter) -> QualityInputError:
    shown = seen.most_common(10)
    listed = ", ".join(f"{'(empty)' if value is None else repr(value)} ({count})" for value, count in shown)
    return QualityInputError(f"{path}: column {name!r} ({option}) must hold 0 or 1 for {BINARY}; values seen: {listed}")


def _binary_chunks(path: str, batches, attributes: dict, threshold: float, accumulator: QualityAccumulator) -> None:
    label, prediction, probability = attributes["label"], attributes["prediction"], attributes["probability"]
    seen = {label: Counter(), prediction: Counter()}
    offset, usable = 0, True
    for batch in batches:
        labels = _binary(batch.column(label), path, label, offset, seen[label])
        scores = None if probability is None else _probabilities(batch.column(probability), path, probability, offset)
        if prediction is None:
            predictions = predict_from_scores(scores, threshold)
        else:
            predictions = _binary(batch.column(prediction), path, prediction, offset, seen[prediction])
        usable = usable and labels is not None and predictions is not None
        if usable:
            accumulator.add(labels, predictions, scores)
        offset += batch.num_rows
    for column, option in ((label, "--ground-truth-attribute"), (prediction, "--inference-attribute")):
        if not all(_is_binary(value) for value in seen[column]):
            raise _seen_error(path, column, option, seen[column])


def _other_chunks(path: str, batches, attributes: dict, problem_type: str, accumulator: QualityAccumulator) -> None:
    label, prediction = attributes["label"], attributes["prediction"]
    offset = 0
    for batch in batches:
        if problem_type == REGRESSION:
            labels = _numbers(batch.column(label), path, label, offset)
            predictions = _numbers(batch.column(prediction), path, prediction, offset)
        else:
            for name in (label, prediction):
                if batch.column(name).null_count:
                    _numbers(batch.column(name), path, name, offset)  # names the empty lines
            labels = np.asarray(batch.column(label).to_pylist(), dtype=str)
            predictions = np.asarray(batch.column(prediction).to_pylist(), dtype=str)
        accumulator.add(labels, predictions)
        offset += batch.num_rows


def _read(path: str, attributes: dict, problem_type: str, threshold: float, accumulator: QualityAccumulator) -> None:
    columns = [c for c in attributes.values() if c is not None]
    options = pacsv.ConvertOptions(
        include_columns=list(dict.fromkeys(columns)),
        column_types=dict.fromkeys(columns, pa.string()),
        null_values=[""],
        strings_can_be_null=True,
    )
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES), convert_options=options)
        if problem_type == BINARY:
            _binary_chunks(path, reader, attributes, threshold, accumulator)
        else:
            _other_chunks(path, reader, attributes, problem_type, accumulator)
    except pa.ArrowInvalid as error:
        raise _csv_error(path, error) from None


def _attributes(problem_type, inference_attribute, probability_attribute, ground_truth_attribute) -> dict:
    if problem_type == BINARY and inference_attribute is None and probability_attribute is None:
        raise QualityInputError(f"{BINARY} needs --inference-attribute or --probability-attribute (or both)")
    if problem_type != BINARY and inference_attribute is None:
        raise QualityInputError(f"{problem_type} needs --inference-attribute (the predicted value's column)")
    return {
        "label": ground_truth_attribute,
        "prediction": inference_attribute,
        "probability": probability_attribute if problem_type == BINARY else None,
    }


def suggest_quality_baseline(
    dataset: str,
    output: str,
    *,
    problem_type: str,
    inference_attribute: str | None,
    probability_attribute: str | None,
    ground_truth_attribute: str,
    probability_threshold: float | None = None,
    evaluated: datetime | None = None,
) -> dict:
    """Write statistics.json and constraints.json of `dataset` into `output`; returns the statistics."""
    attributes = _attributes(problem_type, inference_attribute, probability_attribute, ground_truth_attribute)
    threshold = DEFAULT_PROBABILITY_THRESHOLD if probability_threshold is None else probability_threshold
    options = {"label": "--ground-truth-attribute", "prediction": "--inference-attribute",
               "probability": "--probability-attribute"}  # fmt: skip
    accumulator = QualityAccumulator(problem_type, seed=window_seed("baseline", problem_type))
    for path in list_files(dataset):
        _check_columns(path, {options[key]: column for key, column in attributes.items() if column is not None})
        _read(path, attributes, problem_type, threshold, accumulator)
    if not accumulator.count:
        raise QualityInputError(f"{dataset}: no data rows after the header")
    statistics = statistics_document(problem_type, accumulator.section(), accumulator.count, evaluated)
    constraints = constraints_document(problem_type, QualityStatistics.of(statistics, STATISTICS_FILE))
    os.makedirs(output, exist_ok=True)
    write_document(os.path.join(output, STATISTICS_FILE), statistics)
    write_document(os.path.join(output, CONSTRAINTS_FILE), constraints)
    log.info("model-quality baseline of %d records written to %s", accumulator.count, output)
    return statistics
