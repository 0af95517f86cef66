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
