"""The self-hosted engine's Lambda runner: one hourly monitoring run (data or model quality) as a Lambda
function.

The function (`lambda/runner/`, handler `runner.handler.handler`) runs the same analyzer entry point as
the processing job, on the same inputs, and writes the same files to the same keys, metrics file
included: the state machine publishes that file as it does after a job (ReadMetrics, PutMetricData), so
the function needs no CloudWatch permission. Its asset is built without Docker by
`runner_package.build_package` (numpy and pyarrow wheels for the Lambda platform, downloaded once by
`make setup`); synth is offline after that.

The role is scoped like the processing job's (`monitoring_job.monitoring_job_role`): this endpoint's
capture prefix (read, list), this baseline's files (read, list), for model quality this endpoint's
ground-truth prefix (read, list), this schedule's report prefix (write), the storage key through S3
only; and its own log group.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import AssetHashType, Aws, Duration, Size, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from contract.lambdas import RUNNER_HANDLER, RunnerEnv
from contract.layout import BASELINE_PREFIX
from stacks.constructs.log_groups import log_group
from stacks.constructs.monitoring_job import ModelQualityProps, MonitoringProps
from stacks.constructs.runner_package import LAMBDA_TARGET, PROJECT_ROOT, Target, build_package
from stacks.iam import add_statements
from stacks.nag import acknowledge_wildcard_resources

STAGING_ROOT = PROJECT_ROOT / "build" / "lambda-runner"
ARCHITECTURES = {"aarch64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}


@dataclass(frozen=True)
class LambdaRunnerProps:
    monitoring: MonitoringProps
    """The schedule the function runs for: endpoint, variant, bucket, key, baseline, report prefix (a
    `ModelQualityProps`: a model-quality schedule, whose function also reads the ground-truth labels)."""
    memory_mb: int
    timeout_seconds: int
    log_retention_days: int
    retain_logs: bool
    ephemeral_storage_mb: int = 2048
    """/tmp, where the window's capture files are copied (Lambda: 512 to 10,240 MB)."""
    download_threads: int = 16
    target: Target = LAMBDA_TARGET
    staging_root: Path = STAGING_ROOT


class LambdaRunner(Construct):
    """Exposes `function`, `role`, `log_group` and `package_dir` (the built asset folder)."""

    def __init__(self, scope: Construct, construct_id: str, props: LambdaRunnerProps) -> None:
        super().__init__(scope, construct_id)
        monitoring = props.monitoring
        kind = "model" if isinstance(monitoring, ModelQualityProps) else "data"
        self.package_dir = build_package(props.staging_root, props.target)
        self.log_group = log_group(self, "Logs", props.log_retention_days, props.retain_logs)
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the hourly {kind}-quality analysis of {monitoring.endpoint_name} in Lambda",
        )  # fmt: skip
        self._grant(monitoring)
        self.function = lambda_.Function(
            self, "Function",
            description=f"Hourly {kind}-quality run of {monitoring.endpoint_name} (self-hosted analyzer)",
            runtime=lambda_.Runtime(f"python{props.target.python}", lambda_.RuntimeFamily.PYTHON),
            architecture=ARCHITECTURES[props.target.machine],
            handler=RUNNER_HANDLER,
            # The folder's name carries its content hash: no second hash of ~140 MB at every synth.
            code=lambda_.Code.from_asset(
                str(self.package_dir), asset_hash_type=AssetHashType.CUSTOM, asset_hash=self.package_dir.name
            ),
            role=self.role, memory_size=props.memory_mb, timeout=Duration.seconds(props.timeout_seconds),
            ephemeral_storage_size=Size.mebibytes(props.ephemeral_storage_mb),
            log_group=self.log_group, logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            environment={RunnerEnv.DOWNLOAD_THREADS: str(props.download_threads)},
            # The state machine retries by itself; a run is not retried behind its back.
            retry_attempts=0,
        )  # fmt: skip

    def _grant(self, monitoring: MonitoringProps) -> None:
        partition = Stack.of(self).partition
        bucket = f"arn:{partition}:s3:::{monitoring.bucket_name}"
        captures = f"{monitoring.capture_key_prefix}*"
        baseline = f"{BASELINE_PREFIX}/{monitoring.baseline_job_name}/*"
        reports = f"{bucket}/{monitoring.report_key_prefix}*"
        log_streams = f"{self.log_group.log_group_arn}:log-stream:*"
        labels = f"{monitoring.ground_truth_key_prefix}*" if isinstance(monitoring, ModelQualityProps) else None
        add_statements(self.role, (
            ("ReadCaptures", ["s3:GetObject"], f"{bucket}/{captures}"),
            ("ReadBaseline", ["s3:GetObject"], f"{bucket}/{baseline}"),
            *((("ReadLabels", ["s3:GetObject"], f"{bucket}/{labels}"),) if labels else ()),
            ("WriteReports", ["s3:PutObject"], reports),
            ("Logs", ["logs:CreateLogStream", "logs:PutLogEvents"], log_streams),
        ))  # fmt: skip
        self.role.add_to_principal_policy(iam.PolicyStatement(
            # Listing finds the hour folders' files; on the baseline, a missing file answers 404, not 403.
            sid="ListInputs", actions=["s3:ListBucket"], resources=[bucket],
            conditions={"StringLike": {"s3:prefix": [captures, baseline, *((labels,) if labels else ())]}},
        ))  # fmt: skip
        self.role.add_to_principal_policy(iam.PolicyStatement(
            # Read the KMS-encrypted inputs, write encrypted reports (the bucket's default key), via S3 only.
            sid="UseDataKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[monitoring.key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
        ))  # fmt: skip
        acknowledge_wildcard_resources(self.role, (
            (f"{bucket}/{captures}", "Capture files have generated names; scoped to this endpoint's variant prefix."),
            (f"{bucket}/{baseline}", "The baselining job's two output files, under its own job-name prefix."),
            *(((f"{bucket}/{labels}", "Label files are named by the user's pipeline per hour; scoped to this "
                "endpoint's ground-truth prefix."),) if labels else ()),
            (reports, "Report folders are per hour; scoped to this endpoint's schedule prefix."),
            (log_streams, "Lambda names a log stream per execution environment; scoped to the function's group."),
        ))  # fmt: skip
