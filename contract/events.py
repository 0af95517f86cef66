"""The EventBridge events that end a monitoring run (contract, section 8).

- `SageMaker Processing Job State Change` from `aws.sagemaker`: `detail` is the
  DescribeProcessingJob shape (both engines' jobs, and the baselining job); the statuses that
  end a job are `contract.processing.TERMINAL_JOB_STATUSES`.
- `Step Functions Execution Status Change` from `aws.states`: the self-hosted state machine. Its own
  error names: `NO_DATA_ERROR` (the hour has no capture file) and `JOB_FAILED_ERROR` (the run's job
  failed or was stopped; the cause is a JSON object in the DescribeProcessingJob shape with the job's
  name, status, `FailureReason`, `ExitMessage` and the run's `Environment` names).
- `CloudWatch Alarm State Change` from `aws.cloudwatch`: the endpoint's rollback alarms, which live in
  the endpoint stack; the monitoring stack's rule sends their ALARM transitions to the alerts topic.
"""

SAGEMAKER_SOURCE = "aws.sagemaker"
STATES_SOURCE = "aws.states"
PROCESSING_JOB_EVENT = "SageMaker Processing Job State Change"
STATE_MACHINE_EVENT = "Step Functions Execution Status Change"
FAILED_EXECUTION_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
NO_DATA_ERROR = "NoCapturedData"
JOB_FAILED_ERROR = "ProcessingJobFailed"
CLOUDWATCH_SOURCE = "aws.cloudwatch"
ALARM_STATE_EVENT = "CloudWatch Alarm State Change"
ALARM_STATE = "ALARM"
