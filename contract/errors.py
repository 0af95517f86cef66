"""The errors whose messages reach users: each names what is wrong, where, and the fix.

Raised by the analyzer, the container entry point and the Lambdas; caught by the command lines and
the container (one line, no traceback), by the alert Lambda (an alert saying what could not be read)
and, for the baseline custom resource, by CDK's Provider framework (the CloudFormation event's reason).
"""


class BaselineError(ValueError):
    """A baseline document lacks something the checks need; the message says what and where."""


class NoDataError(RuntimeError):
    """The window held no usable record: the service fails the job ("Job inputs had no data")."""


class CaptureSourceError(ValueError):
    """The capture location cannot be listed or read at all."""


class WindowError(ValueError):
    """A start or end time cannot be read, or the window is empty."""


class PreprocessorError(ValueError):
    """The record preprocessor script cannot be loaded."""


class DatasetError(ValueError):
    """The dataset cannot be read as asked; the message names the file, the line and a fix."""


class ContainerConfigError(ValueError):
    """An environment variable of the analyzer container is missing or malformed."""


class ViolationsFormatError(ValueError):
    """The violations document cannot be read; the message says where and why."""


class EventShapeError(ValueError):
    """An EventBridge event is not one the alert Lambda understands; the message names the field."""


class PropertiesError(ValueError):
    """The baseline custom resource's properties are incomplete or malformed (a bug in the stack)."""


class BaselineJobFailed(RuntimeError):
    """The baselining job ended without results; the message becomes the CloudFormation event's reason."""


# Failures of an analyzer run with a message meant for the user (no traceback).
ANALYZER_ERRORS = (
    ContainerConfigError,
    NoDataError,
    BaselineError,
    CaptureSourceError,
    PreprocessorError,
    WindowError,
    DatasetError,
)
