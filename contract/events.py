"""The EventBridge events that end a monitoring run (contract, section 8).

- `SageMaker Processing Job State Change` from `aws.sagemaker`: `detail` is the
  DescribeProcessingJob shape (both engines' jobs, and the baselining job); the statuses that
  end a job are `contract.processing.TERMINAL_JOB_STATUSES`. A managed model-quality execution runs
  two jobs (model-quality contract, section 2, real names): `MERGE_JOB_PREFIX<hour>-<id>` joins the
  captures with the labels, then `QUALITY_JOB_PREFIX<hour>-<id>` (same suffix) analyses the merge.
  The merge job's environment names neither endpoint nor schedule and it writes no report; it runs
  with the job definition's role.
- `Step Functions Execution Status Change` from `aws.states`: a self-hosted state machine. Its own
  error names: `NO_DATA_ERROR` (the window's hour has no capture file), `NO_LABELS_ERROR` (model
  quality: the label window's hour folders hold no label file) and `JOB_FAILED_ERROR` (the run's job
  failed or was stopped; the cause is a JSON object in the DescribeProcessingJob shape with the job's
  name, status, `FailureReason`, `ExitMessage` and the run's `Environment` names). The two no-data
  errors' causes are text: `NO_DATA_REASON: no ... under s3://<the empty prefix> for the window ...`.
- `RUNNER_EVENT` from `RUNNER_SOURCE`: the self-hosted state machine ran the hour in its Lambda runner
  (which produces no SageMaker event) and the run completed; the state machine sends this event itself
  (PutEvents, default bus). `detail` has the shape of the job event's detail, with the fields the alerts
  read: `ProcessingJobName` (the hour's job name), `ProcessingJobStatus` (`Completed`), `ExitMessage`,
  `Environment` (endpoint, schedule, window) and `ProcessingOutputConfig` (the report folder), plus
  `RUNNER_EXECUTION_FIELD`, the state machine execution's ARN (where the run's logs are).
- `CloudWatch Alarm State Change` from `aws.cloudwatch`: the endpoint's rollback alarms, which live in
  the endpoint stack; the monitoring stack's rule sends their ALARM transitions to the alerts topic.
"""

SAGEMAKER_SOURCE = "aws.sagemaker"
STATES_SOURCE = "aws.states"
PROCESSING_JOB_EVENT = "SageMaker Processing Job State Change"
STATE_MACHINE_EVENT = "Step Functions Execution Status Change"
FAILED_EXECUTION_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
NO_DATA_ERROR = "NoCapturedData"
NO_LABELS_ERROR = "NoGroundTruthLabels"
JOB_FAILED_ERROR = "ProcessingJobFailed"
MERGE_JOB_PREFIX = "groundtruth-merge-"
QUALITY_JOB_PREFIX = "model-quality-monitoring-"
RUNNER_SOURCE = "churn-monitor.runner"
RUNNER_EVENT = "Monitoring Runner Run Completed"
RUNNER_EXECUTION_FIELD = "ExecutionArn"
CLOUDWATCH_SOURCE = "aws.cloudwatch"
ALARM_STATE_EVENT = "CloudWatch Alarm State Change"
ALARM_STATE = "ALARM"
