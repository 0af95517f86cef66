"""Environment variables the stacks set on the alerts Lambda and its handler reads."""


class AlertsEnv:
    TOPIC_ARN = "ALERT_TOPIC_ARN"  # required: the SNS topic to publish to
    MARKER_BUCKET = "MARKER_BUCKET"  # bucket of the de-duplication markers
    MARKER_PREFIX = "MARKER_PREFIX"  # key prefix of the markers
    ENDPOINT_NAME = "ENDPOINT_NAME"  # endpoint named in alerts when the event does not say
    SCHEDULE_NAME = "SCHEDULE_NAME"  # (data-quality) schedule named in alerts when the event does not say
    # Model quality, when deployed: its schedule, named for a run of it that the event does not name (a
    # managed merge job, a self-hosted state machine failure), and its self-hosted state machine, whose
    # failures are that schedule's.
    QUALITY_SCHEDULE_NAME = "QUALITY_SCHEDULE_NAME"
    QUALITY_STATE_MACHINE_ARN = "QUALITY_STATE_MACHINE_ARN"


# --- the monitoring runner Lambda (issue 15) --------------------------------------------------------
# Added by the Lambda-runner work; other blocks of this module are other owners'.

from contract.events import NO_DATA_ERROR  # noqa: E402 (this block's own import, kept beside it)

RUNNER_HANDLER = "runner.handler.handler"  # the runner function's handler (its asset holds lambda/runner as runner/)


class RunnerEnv:
    """Environment variables of the monitoring runner Lambda (`lambda/runner/`)."""

    WORK_DIR = "RUNNER_WORK_DIR"  # where a run's files go (default RUNNER_WORK_DIR_DEFAULT, Lambda's writable path)
    DOWNLOAD_THREADS = "RUNNER_DOWNLOAD_THREADS"  # concurrent S3 downloads of capture files


RUNNER_WORK_DIR_DEFAULT = "/tmp"
RUNNER_DOWNLOAD_THREADS_DEFAULT = 16


class RunnerEvent:
    """Keys of the runner's event: the values the self-hosted state machine passes its processing job."""

    ENDPOINT_NAME = "endpointName"
    SCHEDULE_NAME = "scheduleName"
    WINDOW_START = "windowStart"  # ISO-8601 UTC, as the job's start_time
    WINDOW_END = "windowEnd"
    CAPTURE_URI = "captureUri"  # s3://<bucket>/<capture prefix of the endpoint's variant>/
    # The hour folders (yyyy/mm/dd/HH) under captureUri that the run reads: exactly the processing job's
    # capture inputs, so that both runners analyse the same files.
    CAPTURE_FOLDERS = "captureFolders"
    STATISTICS_URI = "statisticsUri"  # the baseline's statistics.json
    CONSTRAINTS_URI = "constraintsUri"  # the baseline's constraints.json
    METRICS_BUDGET = "metricsBudget"  # data quality: contract.metrics.MetricsBudget.to_text() (default: all)
    REPORT_URI = "reportUri"  # s3://<bucket>/<the run's report folder> (no final slash); metrics go to <it>/metrics
    # A model-quality run (the ground-truth URI makes it one; it needs no statisticsUri): the labels collected
    # in the hours [windowStart, labelsEnd), and where the endpoint output holds the prediction (the fields of
    # contract.processing.QualityAttributes: problem_type, probability_attribute, probability_threshold,
    # inference_attribute).
    GROUND_TRUTH_URI = "groundTruthUri"  # s3://<bucket>/ground-truth/<endpoint>/
    LABELS_END = "labelsEnd"
    QUALITY_ATTRIBUTES = "qualityAttributes"


class RunnerResult:
    """Keys of the runner's answer (a completed run; a failed one raises a `RunnerError` named below)."""

    STATUS = "status"  # Completed | CompletedWithViolations
    EXIT_MESSAGE = "exitMessage"  # the processing job's ExitMessage text
    VIOLATIONS = "violationCount"
    REPORT_URI = "reportUri"
    CAPTURE_FILES = "captureFiles"  # capture files downloaded for the window


# The runner's error names (the Lambda's errorType, which Step Functions matches in a Catch): a window
# without data ends with the self-hosted state machine's own no-data error; every other analyzer failure
# (too many unusable records, a bad baseline, ...) with RUNNER_FAILED_ERROR. The error message is the
# text the container writes to its message file (the processing job's ExitMessage / FailureReason).
RUNNER_NO_DATA_ERROR = NO_DATA_ERROR
RUNNER_FAILED_ERROR = "AnalysisFailed"
