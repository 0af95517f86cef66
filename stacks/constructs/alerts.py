"""Alerts for monitoring runs: EventBridge rules, the alerts Lambda, an encrypted SNS topic, a
dead-letter queue for the Lambda's failures, and CloudWatch alarms on drift metrics of key features and,
with model quality, on its configured metrics.

A self-hosted run in the Lambda runner produces no SageMaker job event: its state machine sends one shaped
like it (`contract.events.RUNNER_EVENT` from `RUNNER_SOURCE`, see `runner_route`), which a second rule matches
(`RunAlertsProps.runner_events`: the run rule's detail pattern, that source) and the function reads as a job's.

The model-quality schedule's runs (`QualityAlertSource`) reach the same rules and function as the
data-quality schedule's: its names, job prefixes, schedule ARN and state machine join the same patterns.
A managed model-quality execution is two jobs (`contract.events`): the analysis job is matched like any
run (its environment names the endpoint and schedule), the merge job by its name prefix and the job
definition's role (its environment names neither). The function drops a completed merge job (the
analysis job that follows reports the execution) and keys a failed one's de-duplication marker by the
execution, so one execution gives one alert.

Lambda code without Docker (`lambda_assets`): the asset holds the handler package
(`lambda/alerts/*.py` as `alerts/...`) and the `contract` package, which the handler imports.

The topic has its own key rather than the storage key: CloudWatch alarms can publish only to a topic
whose key policy lets `cloudwatch.amazonaws.com` use it, and that grant does not belong on the key of
the captured data. The dead-letter queue shares the topic's key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import jsii
from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from contract.events import (
    ALARM_STATE,
    ALARM_STATE_EVENT,
    CLOUDWATCH_SOURCE,
    FAILED_EXECUTION_STATUSES,
    MERGE_JOB_PREFIX,
    PROCESSING_JOB_EVENT,
    RUNNER_EVENT,
    RUNNER_SOURCE,
    SAGEMAKER_SOURCE,
    STATE_MACHINE_EVENT,
    STATES_SOURCE,
)
from contract.lambdas import AlertsEnv
from contract.layout import REPORTS_PREFIX, alert_marker_prefix
from contract.metrics import ENDPOINT_DIMENSION, NAMESPACE, SCHEDULE_DIMENSION, feature_drift_metric
from contract.model_quality import LESS_THAN, OPERATORS
from contract.model_quality import NAMESPACE as MODEL_METRICS_NAMESPACE
from contract.processing import JOB_COMPLETED, TERMINAL_JOB_STATUSES, Env
from stacks.constructs.lambda_assets import PROJECT_ROOT, handler_files, lambda_code
from stacks.constructs.log_groups import log_group
from stacks.iam import add_statements
from stacks.nag import acknowledge_wildcard_resources

HANDLER_DIR = PROJECT_ROOT / "lambda" / "alerts"
HANDLER = "alerts.handler.handler"
# Asset path -> repository file: the handler package plus the contract package.
ASSET_FILES = handler_files(HANDLER_DIR, HANDLER_DIR.name)
RUNTIME = lambda_.Runtime.PYTHON_3_14  # cdk-nag L1 accepts only the newest Python runtime CDK knows
ASYNC_RETRIES = 2


@dataclass(frozen=True)
class QualityAlertSource:
    """The model-quality schedule, whose runs alert like the data-quality schedule's."""

    schedule_name: str
    job_name_prefixes: Sequence[str] = ()
    """Self-hosted engine: name prefixes of the processing jobs its state machine starts."""
    monitoring_schedule_arn: str | None = None
    """Managed engine: the model-quality schedule."""
    job_role_arn: str | None = None
    """Managed engine: the job definition's role, which its executions' merge jobs run with."""
    state_machine_arn: str | None = None
    """Self-hosted engine: its state machine, whose failures alert."""
    alarms: Sequence[tuple[str, str, str]] = ()
    """(metric name as published, threshold as a number token string, LESS_THAN or GREATER_THAN): one
    alarm each; the threshold is the baseline's value worsened by the configured margin."""


@dataclass(frozen=True)
class RunAlertsProps:
    endpoint_name: str
    schedule_name: str
    """The managed schedule's name, or the name the self-hosted engine passes to its jobs as
    `sagemaker_monitoring_schedule_name`: the `MonitoringSchedule` dimension of the drift metrics."""
    bucket_name: str
    """The reports bucket's literal (pseudo-parameter) name, for IAM resources (see ChurnEndpointProps)."""
    bucket_key: kms.IKey
    """The key of the reports bucket (read reports, write markers)."""
    log_retention_days: int
    retain: bool
    """Keep the key and log group on stack deletion (prod)."""
    alert_email: str | None = None
    drift_alarm_features: Sequence[str] = ()
    drift_threshold: float = 0.1
    """Alarm when a feature's `feature_baseline_drift_<name>` exceeds this (default: the
    constraints' default comparison_threshold)."""
    job_name_prefixes: Sequence[str] = ()
    """Self-hosted engine: name prefixes of the processing jobs its state machine starts."""
    monitoring_schedule_arn: str | None = None
    """Managed engine: the schedule whose executions alert (`MonitoringScheduleArn` in the event)."""
    state_machine_arn: str | None = None
    """Self-hosted engine: its state machine, whose failures (FAILED, TIMED_OUT, ABORTED) alert. It also
    ends with its job's failure (`JOB_FAILED_ERROR`, with the job's reason), so this engine's job events
    alert only when a job completed: one alert per failed run."""
    rollback_alarm_names: Sequence[str] = ()
    """The endpoint stack's rollback alarms: their ALARM transitions (SageMaker is rolling an update back)
    are published to the topic by an EventBridge rule, as that stack cannot name this one's topic."""
    model_quality: QualityAlertSource | None = None
    """The model-quality schedule, when deployed: its runs alert through the same rules and function."""
    runner_events: bool = False
    """Self-hosted engine with a Lambda runner: its state machines report a completed Lambda run as a
    `RUNNER_EVENT` from `RUNNER_SOURCE`, which a second rule (`runner_rule`) sends to the function."""

    @property
    def sources(self) -> list[RunAlertsProps | QualityAlertSource]:
        """The schedules whose runs alert: this one, and the model-quality one when given."""
        return [self, *filter(None, [self.model_quality])]


def run_event_pattern(endpoint_name: str, schedule_names: Sequence[str], job_name_prefixes: Sequence[str] = (),
                      monitoring_schedule_arns: Sequence[str] = (), merge_job_role_arns: Sequence[str] = (),
                      statuses: Sequence[str] = TERMINAL_JOB_STATUSES) -> events.EventPattern:
    """This stack's monitoring runs ending in one of `statuses`. A run is ours if its container environment
    names this endpoint and one of the schedules (both engines set these, contract section 2), or its job
    name has one of the prefixes, or it belongs to a managed schedule, or it is a managed model-quality
    execution's merge job (name prefix, and the job definition's role)."""
    if isinstance(schedule_names, str):
        raise TypeError(f"schedule_names must be a list of schedule names, not the string {schedule_names!r}")
    ours: list[dict] = [{"Environment": {Env.ENDPOINT_NAME: [endpoint_name],
                                         Env.SCHEDULE_NAME: list(schedule_names)}}]
    if job_name_prefixes:
        ours.append({"ProcessingJobName": [{"prefix": prefix} for prefix in job_name_prefixes]})
    if monitoring_schedule_arns:
        ours.append({"MonitoringScheduleArn": list(monitoring_schedule_arns)})
    if merge_job_role_arns:
        ours.append({"ProcessingJobName": [{"prefix": MERGE_JOB_PREFIX}], "RoleArn": list(merge_job_role_arns)})
    detail: dict = {"ProcessingJobStatus": list(statuses)}
    # EventBridge's $or needs two or more alternatives.
    detail.update(ours[0] if len(ours) == 1 else {"$or": ours})
    return events.EventPattern(source=[SAGEMAKER_SOURCE], detail_type=[PROCESSING_JOB_EVENT], detail=detail)


def runner_event_pattern(job_pattern: events.EventPattern) -> events.EventPattern:
    """The Lambda runner's completion events of the runs `job_pattern` matches: the same detail (the state
    machines send it in the job event's shape), from RUNNER_SOURCE, which only they may send."""
    return events.EventPattern(source=[RUNNER_SOURCE], detail_type=[RUNNER_EVENT], detail=job_pattern.detail)


def _threshold(metric_name: str, threshold: str) -> float:
    """A token (the baseline's value, known at deploy time) as a number token; a literal as its number."""
    if Token.is_unresolved(threshold):
        return Token.as_number(threshold)
    try:
        return float(threshold)
    except ValueError:
        raise ValueError(f"model-quality alarm on {metric_name!r}: threshold {threshold!r} is not a number") from None


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """An SNS topic as a rule's target with a fixed message, leaving the topic policy to the caller."""

    def __init__(self, topic_arn: str, message: events.RuleTargetInput) -> None:
        self.topic_arn, self.message = topic_arn, message

    def bind(self, _rule: events.IRule, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self.topic_arn, input=self.message)


class RunAlerts(Construct):
    """Publishes one alert per monitoring run that needs attention, plus drift and dead-letter alarms."""

    def __init__(self, scope: Construct, construct_id: str, props: RunAlertsProps) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if props.retain else RemovalPolicy.DESTROY
        self._topic(props, removal)
        alarm_action = cloudwatch_actions.SnsAction(self.topic)
        self._dead_letter_queue(removal)
        self._function(props)
        self._dead_letter_alarm(props, alarm_action)
        self._rules(props)
        self.rollback_rule = self._rollback_rule(props) if props.rollback_alarm_names else None
        self.drift_alarms = [self._drift_alarm(props, feature, alarm_action)
                             for feature in props.drift_alarm_features]
        quality = props.model_quality
        self.quality_alarms = [self._quality_alarm(props, quality, alarm, alarm_action)
                               for alarm in (quality.alarms if quality else ())]

    def _topic(self, props: RunAlertsProps, removal: RemovalPolicy) -> None:
        """The alerts topic and its own key, which CloudWatch alarms may use."""
        self.key = kms.Key(
            self, "Key",
            description=f"Encrypts the monitoring alerts topic and dead-letter queue of "
                        f"{props.endpoint_name}",
            enable_key_rotation=True, removal_policy=removal,
            pending_window=Duration.days(30 if props.retain else 7),
        )
        # AWS's documented statement for alarms (and EventBridge rules) publishing to an encrypted topic.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsUseKey", principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"],
        ))
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="EventBridgeRulesUseKey", principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"],
        ))

        self.topic = sns.Topic(
            self, "Topic", display_name=f"Model monitoring alerts ({props.endpoint_name})",
            master_key=self.key, enforce_ssl=True,
        )
        # The topic policy replaces SNS's default one, so the alarms' publisher is named explicitly.
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish", principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"], resources=[self.topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        ))
        if props.alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(props.alert_email))

    def _dead_letter_queue(self, removal: RemovalPolicy) -> None:
        self.dead_letters = sqs.Queue(
            self, "FailedInvocations",
            encryption=sqs.QueueEncryption.KMS, encryption_master_key=self.key, enforce_ssl=True,
            retention_period=Duration.days(14), removal_policy=removal,
        )
        Validations.of(self.dead_letters).acknowledge(Acknowledgment(
            id="AwsSolutions-SQS3",
            reason="This queue is itself the dead-letter store (the alerts Lambda's on-failure destination); "
                   "its depth alarm notifies the alerts topic.",
        ))

    def _function(self, props: RunAlertsProps) -> None:
        """The alerts Lambda, its role and logs, and where its failed events go."""
        self.log_group = log_group(self, "Logs", props.log_retention_days, props.retain)

        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Alerts Lambda of {props.endpoint_name}: reads reports, writes markers, "
                        "publishes alerts",
        )
        marker_prefix = alert_marker_prefix(props.endpoint_name)
        self._grant_least_privilege(props, marker_prefix)

        self.function = lambda_.Function(
            self, "Function",
            description=f"Turns monitoring runs of {props.endpoint_name} into de-duplicated SNS alerts",
            runtime=RUNTIME, architecture=lambda_.Architecture.ARM_64, handler=HANDLER,
            code=lambda_code(HANDLER_DIR, ASSET_FILES),
            role=self.role, timeout=Duration.seconds(60), memory_size=512, log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            environment=self._environment(props, marker_prefix),
        )

        # L1 so the role keeps exactly the queue permissions granted above (the L2 destination's
        # grant adds wildcard KMS actions).
        invoke_config = lambda_.CfnEventInvokeConfig(
            self, "AsyncInvoke",
            function_name=self.function.function_name, qualifier="$LATEST",
            maximum_retry_attempts=ASYNC_RETRIES, maximum_event_age_in_seconds=6 * 3600,
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(
                    destination=self.dead_letters.queue_arn)),
        )
        invoke_config.node.add_dependency(self.role)  # Lambda checks the role may send to the queue

    def _environment(self, props: RunAlertsProps, marker_prefix: str) -> dict[str, str]:
        """The function's settings (`contract.lambdas.AlertsEnv`)."""
        environment = {
            AlertsEnv.TOPIC_ARN: self.topic.topic_arn,
            AlertsEnv.MARKER_BUCKET: props.bucket_name,
            AlertsEnv.MARKER_PREFIX: marker_prefix,
            AlertsEnv.ENDPOINT_NAME: props.endpoint_name,
            AlertsEnv.SCHEDULE_NAME: props.schedule_name,
        }
        quality = props.model_quality
        if quality:
            environment[AlertsEnv.QUALITY_SCHEDULE_NAME] = quality.schedule_name
            if quality.state_machine_arn:
                environment[AlertsEnv.QUALITY_STATE_MACHINE_ARN] = quality.state_machine_arn
        return environment

    def _dead_letter_alarm(self, props: RunAlertsProps, alarm_action: cloudwatch.IAlarmAction) -> None:
        self.dead_letter_alarm = cloudwatch.Alarm(
            self, "FailedInvocationsAlarm",
            alarm_description=f"The alerts Lambda of {props.endpoint_name} failed after {ASYNC_RETRIES} "
                              "retries: an alert may be lost. Read the failed event in the dead-letter "
                              "queue and the function's logs, fix the cause, then delete or replay the "
                              "message.",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"),
            threshold=0, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.dead_letter_alarm.add_alarm_action(alarm_action)

    def _rules(self, props: RunAlertsProps) -> None:
        """The EventBridge rules that send the ends of this stack's runs (both schedules) to the Lambda."""
        target = targets.LambdaFunction(self.function, retry_attempts=4, max_event_age=Duration.hours(2))
        sources = props.sources
        machines = [source.state_machine_arn for source in sources if source.state_machine_arn]
        # The state machines report their failed jobs themselves (see RunAlertsProps.state_machine_arn).
        statuses = (JOB_COMPLETED,) if machines else TERMINAL_JOB_STATUSES
        quality = props.model_quality
        merge_roles = [quality.job_role_arn] if quality and quality.job_role_arn else []
        job_pattern = run_event_pattern(
            props.endpoint_name, [source.schedule_name for source in sources],
            [prefix for source in sources for prefix in source.job_name_prefixes],
            [source.monitoring_schedule_arn for source in sources if source.monitoring_schedule_arn],
            merge_roles, statuses)
        self.run_rule = events.Rule(
            self, "RunStateChange",
            description=f"{props.endpoint_name}'s monitoring jobs that ended {', '.join(statuses)}",
            event_pattern=job_pattern, targets=[target],
        )
        self.runner_rule = None
        if props.runner_events:
            self.runner_rule = events.Rule(
                self, "RunnerRunCompleted",
                description=f"{props.endpoint_name}'s monitoring runs that completed in the Lambda runner",
                event_pattern=runner_event_pattern(job_pattern), targets=[target],
            )
        self.state_machine_rule = None
        if machines:
            self.state_machine_rule = events.Rule(
                self, "StateMachineFailure",
                description=f"Failures of {props.endpoint_name}'s self-hosted monitoring state machines",
                event_pattern=events.EventPattern(
                    source=[STATES_SOURCE], detail_type=[STATE_MACHINE_EVENT],
                    detail={"status": list(FAILED_EXECUTION_STATUSES), "stateMachineArn": machines}),
                targets=[target],
            )

    def _rollback_rule(self, props: RunAlertsProps) -> events.Rule:
        """One message per rollback alarm that fires: which alarm, why, and what SageMaker does about it."""
        alarm, reason = events.EventField.from_path("$.detail.alarmName"), events.EventField.from_path(
            "$.detail.state.reason")
        message = events.RuleTargetInput.from_text(
            f"Endpoint {props.endpoint_name}: rollback alarm {alarm} is in ALARM ({reason}). SageMaker stops "
            "the endpoint update in progress and returns all traffic to the previous fleet; the endpoint's "
            "description (aws sagemaker describe-endpoint) shows the update's outcome. Look at the new model's "
            "container logs and the alarm's metric before deploying it again."
        )
        rule = events.Rule(
            self, "RollbackAlarmState",
            description=f"{props.endpoint_name}'s rollback alarms entering ALARM, published to the alerts topic",
            event_pattern=events.EventPattern(
                source=[CLOUDWATCH_SOURCE], detail_type=[ALARM_STATE_EVENT],
                detail={"alarmName": list(props.rollback_alarm_names), "state": {"value": [ALARM_STATE]}}),
        )
        # Not targets.SnsTopic: its topic statement lets any account's rule publish; this one names the rule.
        rule.add_target(_TopicTarget(self.topic.topic_arn, message))
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="RollbackAlarmRulePublishes", principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["sns:Publish"], resources=[self.topic.topic_arn],
            conditions={"ArnEquals": {"aws:SourceArn": rule.rule_arn}},
        ))
        return rule

    def _grant_least_privilege(self, props: RunAlertsProps, marker_prefix: str) -> None:
        partition = Stack.of(self).partition
        reports = f"arn:{partition}:s3:::{props.bucket_name}/{REPORTS_PREFIX}/{props.endpoint_name}/*"
        markers = f"arn:{partition}:s3:::{props.bucket_name}/{marker_prefix}/*"
        statements = [
            ("ReadReports", ["s3:GetObject"], reports),
            ("WriteAlertMarkers", ["s3:PutObject", "s3:DeleteObject"], markers),
            ("UseBucketKey", ["kms:Decrypt", "kms:GenerateDataKey"], props.bucket_key.key_arn),
            ("PublishAlerts", ["sns:Publish"], self.topic.topic_arn),
            ("SendFailedEvents", ["sqs:SendMessage"], self.dead_letters.queue_arn),
            ("UseAlertsKey", ["kms:Decrypt", "kms:GenerateDataKey"], self.key.key_arn),
            ("WriteLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], self.log_group.log_group_arn),
        ]
        add_statements(self.role, statements)
        acknowledge_wildcard_resources(self.role, (
            (reports, "Reports have generated keys (<schedule>/yyyy/mm/dd/HH/); read-only, this "
                      "endpoint's only."),
            (markers, "One marker per run and status, named by the run; write/delete under this endpoint's "
                      "alert-markers/ prefix only."),
        ))

    def _drift_alarm(self, props: RunAlertsProps, feature: str,
                     action: cloudwatch.IAlarmAction) -> cloudwatch.Alarm:
        metric = cloudwatch.Metric(
            namespace=NAMESPACE, metric_name=feature_drift_metric(feature),
            dimensions_map={ENDPOINT_DIMENSION: props.endpoint_name, SCHEDULE_DIMENSION: props.schedule_name},
            statistic="Maximum", period=Duration.hours(1),
        )
        alarm = cloudwatch.Alarm(
            self, f"Drift{re.sub(r'[^A-Za-z0-9]', '', feature.title())}",
            alarm_description=f"Baseline drift of '{feature}' on {props.endpoint_name} exceeds "
                              f"{props.drift_threshold}: see the run's alert and constraint_violations.json.",
            metric=metric, threshold=props.drift_threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        return alarm

    def _quality_alarm(self, props: RunAlertsProps, quality: QualityAlertSource, alarm: tuple[str, str, str],
                       action: cloudwatch.IAlarmAction) -> cloudwatch.Alarm:
        """An hour's model-quality metric worse than the baseline's value by more than the margin."""
        metric_name, threshold, operator = alarm
        if operator not in OPERATORS:
            raise ValueError(f"model-quality alarm on {metric_name!r}: comparison operator {operator!r} is not "
                             f"one of {', '.join(OPERATORS)}")
        below = operator == LESS_THAN
        # The worst value of the hour (a re-run publishes a second data point).
        metric = cloudwatch.Metric(
            namespace=MODEL_METRICS_NAMESPACE, metric_name=metric_name,
            dimensions_map={ENDPOINT_DIMENSION: props.endpoint_name, SCHEDULE_DIMENSION: quality.schedule_name},
            statistic="Minimum" if below else "Maximum", period=Duration.hours(1),
        )
        rule = "the model-quality baseline's value minus" if below else "the model-quality baseline's value plus"
        created = cloudwatch.Alarm(
            self, f"Quality{re.sub(r'[^A-Za-z0-9]', '', metric_name.title())}",
            alarm_description=(
                f"Model quality of {props.endpoint_name}: {metric_name} of an hour's labelled predictions is "
                f"{'below' if below else 'above'} {threshold} ({rule} its margin in cdk.json "
                f"model_quality.alarm_margins). Read the run's alert (constraint_violations.json and statistics.json "
                f"in reports/{props.endpoint_name}/{quality.schedule_name}/); check the labels joined the right "
                "predictions, then compare the same hours' data-quality runs: clean inputs mean concept drift "
                "(retrain on recent labels and re-baseline)."),
            metric=metric, threshold=_threshold(metric_name, threshold),
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD if below
            else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        created.add_alarm_action(action)
        created.add_ok_action(action)
        return created
