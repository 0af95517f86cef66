"""AWS Lambda entry point of the monitoring runner: one hourly data-quality run of the self-hosted engine.

Invoked by the self-hosted state machine with the values it would pass its processing job
(`contract.lambdas.RunnerEvent`); answers `contract.lambdas.RunnerResult`. A failed run raises
`NoCapturedData` (no capture row in the window) or `AnalysisFailed` (anything else the container would
fail on), whose message is the container's message file: the state machine ends the run with it.

Environment variables (`contract.lambdas.RunnerEnv`):
  RUNNER_WORK_DIR          where a run's files go (default /tmp, the function's ephemeral storage).
  RUNNER_DOWNLOAD_THREADS  concurrent capture downloads (default 16).

Standard library and boto3 only besides the analyzer: the function's JSON log format (and its
application log level) turns the analyzer's `logging` records into structured logs.
"""

from __future__ import annotations

import os

import boto3
from botocore.config import Config

from contract.errors import PropertiesError
from contract.lambdas import RUNNER_DOWNLOAD_THREADS_DEFAULT, RUNNER_WORK_DIR_DEFAULT, RunnerEnv
from runner.runner import RunRequest, run


def handler(event, context):
    request = RunRequest.of(event)
    text = os.environ.get(RunnerEnv.DOWNLOAD_THREADS) or str(RUNNER_DOWNLOAD_THREADS_DEFAULT)
    if not text.isdigit() or int(text) < 1:
        raise PropertiesError(f"{RunnerEnv.DOWNLOAD_THREADS}={text!r}: use a whole number of threads such as 16")
    threads = int(text)
    work_dir = os.environ.get(RunnerEnv.WORK_DIR) or RUNNER_WORK_DIR_DEFAULT
    # One pooled connection per download thread.
    s3 = boto3.client("s3", config=Config(max_pool_connections=max(10, threads)))
    return run(request, s3, work_dir, threads)
