"""The EventBridge events that end a monitoring run (contract, section 8).

- `SageMaker Processing Job State Change` from `aws.sagemaker`: `detail` is the
  DescribeProcessingJob shape (both engines' jobs, and the baselining job); the statuses that
  end a job are `contract.processing.TERMINAL_JOB_STATUSES`.
- `Step Functions Execution Status Change` from `aws.states`: the self-hosted state machine.
"""

SAGEMAKER_SOURCE = "aws.sagemaker"
STATES_SOURCE = "aws.states"
PROCESSING_JOB_EVENT = "SageMaker Processing Job State Change"
STATE_MACHINE_EVENT = "Step Functions Execution Status Change"
FAILED_EXECUTION_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
