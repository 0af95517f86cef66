"""Environment variables the stacks set on the alerts Lambda and its handler reads."""


class AlertsEnv:
    TOPIC_ARN = "ALERT_TOPIC_ARN"  # required: the SNS topic to publish to
    MARKER_BUCKET = "MARKER_BUCKET"  # bucket of the de-duplication markers
    MARKER_PREFIX = "MARKER_PREFIX"  # key prefix of the markers
    ENDPOINT_NAME = "ENDPOINT_NAME"  # endpoint named in alerts when the event does not say
    SCHEDULE_NAME = "SCHEDULE_NAME"  # schedule named in alerts when the event does not say
