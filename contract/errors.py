"""The errors whose messages reach users: each names what is wrong, where, and the fix.

Raised by the analyzer, the container entry point and the Lambdas; caught by the command lines and
the container (one line, no traceback), by the alert Lambda (an alert saying what could not be read)
and, for the baseline custom resource, by CDK's Provider framework (the CloudFormation event's reason).
"""


class BaselineError(ValueError):
    """A baseline document lacks something the checks need; the message says what and where."""


class DocumentError(BaselineError):
    """A baseline document has values the checks cannot use: `problems` lists each one (the file and
    the JSON path, what was found and what to use), at most a few; `total` counts them all."""

    def __init__(self, source: str | None, problems: list[str], total: int) -> None:
        self.source, self.problems, self.total = source, problems, total
        more = f"\n  ... and {total - len(problems)} more" if total > len(problems) else ""
        if total == 1:
            text = problems[0]
        else:
            text = (f"{source or 'the document'} has {total} problems; fix them, or write the file again with "
                    "suggest-baseline:\n  " + "\n  ".join(problems) + more)
        super().__init__(text)


class OutputPathError(ValueError):
    """An output folder or file cannot be created or written; the message names the option and the fix."""


class NoDataError(RuntimeError):
    """The window held no usable record: the service fails the job ("Job inputs had no data")."""


class NoMatchedDataError(NoDataError):
    """A model-quality run found no capture record with a matching ground-truth label."""


class UnusableDataError(RuntimeError):
    """Too many of the window's capture records could not be used: the run fails rather than report
    on the few it could read (the message names the share and the top reasons with file:line)."""


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


class QualityDocumentError(ValueError):
    """A model-quality statistics or constraints document is malformed; the message names the file and JSON path."""


class QualityInputError(ValueError):
    """Model-quality input (labels, predictions, probabilities) cannot be used; the message names file and line."""


# Failures of an analyzer run with a message meant for the user (no traceback).
ANALYZER_ERRORS = (
    QualityDocumentError,
    QualityInputError,
    ContainerConfigError,
    NoDataError,
    UnusableDataError,
    BaselineError,
    CaptureSourceError,
    PreprocessorError,
    WindowError,
    DatasetError,
    OutputPathError,
)
