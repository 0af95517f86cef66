"""Baselining: dataset -> statistics.json + constraints.json, as a Model Monitor baselining job.

`suggest_baseline` reads the dataset in Spark's partitions (`datasets.read_partitioned`),
profiles it (`profile.Profiler`), suggests constraints (`suggest.suggest_constraints`) and
writes both documents in the service's layout (`jsonfmt.dumps`).
"""

from __future__ import annotations

import logging
import os

from analyzer.datasets import DEFAULT_BATCH_ROWS, DEFAULT_PARALLELISM, list_files, read_partitioned
from analyzer.jsonfmt import write_document
from analyzer.profile import Profile, Profiler
from analyzer.suggest import suggest_constraints
from contract.errors import DatasetError
from contract.layout import CONSTRAINTS_FILE, STATISTICS_FILE

# Inputs from this size on get their numeric aggregation in a child process from the start.
BACKGROUND_BYTES = 16 * 1024 * 1024

log = logging.getLogger(__name__)


def _size(dataset: str) -> int:
    return sum(os.path.getsize(path) for path in list_files(dataset))


def profile_dataset(
    dataset: str,
    fmt: str = "csv",
    header: bool = True,
    parallelism: int = DEFAULT_PARALLELISM,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Profile:
    """Profile of a dataset file or folder; raises DatasetError when it cannot be read or is empty."""
    names, partitions, batches = read_partitioned(dataset, fmt, header, batch_rows, parallelism)
    # Large inputs start the numeric child process at once; others leave it to the profiler.
    background = True if _size(dataset) >= BACKGROUND_BYTES else None
    profiler = Profiler(names, partitions=partitions, background=background)
    try:
        for partition, batch in batches:
            profiler.update(batch, partition=partition)
        profile = profiler.result()
    finally:
        profiler.close()
    if profile.statistics["dataset"]["item_count"] == 0:
        raise DatasetError(f"{dataset}: no data rows{' after the header' if header and fmt == 'csv' else ''}")
    return profile


def suggest_baseline(
    dataset: str,
    output_dir: str,
    fmt: str = "csv",
    header: bool = True,
    parallelism: int = DEFAULT_PARALLELISM,
) -> Profile:
    """Write `statistics.json` and `constraints.json` for `dataset` into `output_dir`."""
    profile = profile_dataset(dataset, fmt, header, parallelism)
    os.makedirs(output_dir, exist_ok=True)
    write_document(os.path.join(output_dir, STATISTICS_FILE), profile.statistics)
    write_document(os.path.join(output_dir, CONSTRAINTS_FILE), suggest_constraints(profile.statistics))
    log.info(
        "baseline of %d rows, %d features written to %s",
        profile.statistics["dataset"]["item_count"],
        len(profile.statistics["features"]),
        output_dir,
    )
    return profile
