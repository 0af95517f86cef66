"""Model quality (the second monitor type): problem types, metric names, documents and violations.

One home for the facts of the model-quality contract (shared document `model-quality-contract.md`,
sections 4-7): the `statistics.json` section and key order per problem type, the suggested
constraints and their operators, the metrics the service checks (and in which order it lists
violations), the violation wording, the CloudWatch names, and typed, validated views of
`statistics.json` and `constraints.json` (a hand-edited file gets one error naming the file and
the JSON path). The violations (`QualityViolation`, the wording, the document) are in
`contract.quality_violations` and exported here too. Tags as in the contract: real, documented,
inferred (ours).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from contract.errors import QualityDocumentError
from contract.layout import CONSTRAINTS_FILE, STATISTICS_FILE

# The violations' names, wording and document (contract.quality_violations) are part of this API.
from contract.quality_violations import QualityViolation as QualityViolation
from contract.quality_violations import QualityViolationDetails as QualityViolationDetails
from contract.quality_violations import metric_of_violation_name as metric_of_violation_name
from contract.quality_violations import parse_quality_violations as parse_quality_violations
from contract.quality_violations import quality_violations_document as quality_violations_document
from contract.quality_violations import violation_name as violation_name
from contract.validation import is_number

BINARY, MULTICLASS, REGRESSION = "BinaryClassification", "MulticlassClassification", "Regression"
# Ours: the validation set with predictions (`make model`) that the deploy-time model-quality baseline
# profiles, `probability,prediction,label` as in AWS's example; its baseline names these columns.
PROBABILITY_COLUMN, PREDICTION_COLUMN, LABEL_COLUMN = "probability", "prediction", "label"
# Ours: the churn endpoint answers one score per line, so the score is its output's first CSV field.
ENDPOINT_PROBABILITY_FIELD = "0"
PROBLEM_TYPES = (BINARY, MULTICLASS, REGRESSION)
DOCUMENT_VERSION = 0.0
LESS_THAN, GREATER_THAN = "LessThanThreshold", "GreaterThanThreshold"
OPERATORS = (LESS_THAN, GREATER_THAN)
# The documented rule (contract, section 4): fewer records than this give "NaN" deviations.
MIN_RECORDS_FOR_DEVIATION = 200
SAMPLES_FOR_DEVIATION = 5
SAMPLE_FRACTION = 0.8
NAN_TEXT = "NaN"  # how statistics.json writes a deviation it cannot compute
# The ROC and PR curves' down-sampling, as Spark MLlib's BinaryClassificationMetrics `numBins` (inferred:
# the service's setting is unknown; 1000 is Spark ML's BinaryClassificationEvaluator default). Curves
# of fewer than 2 * CURVE_BINS distinct scores (the real baseline's 201 records) are left whole.
CURVE_BINS = 1000
# statistics.json `dataset` fields: the record count (real) and when the metrics were computed (documented
# as "evaluation time"; the key name and its ISO-8601 form with milliseconds are ours).
ITEM_COUNT, EVALUATION_TIME = "item_count", "evaluation_time"
EVALUATION_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.{millis:03d}Z"
# A score above the threshold predicts the positive class; one equal to it does not (inferred: the real
# baseline's labels were `probability > 0.8`).
DEFAULT_PROBABILITY_THRESHOLD = 0.5

CONFUSION_MATRIX = "confusion_matrix"
ROC_CURVE = "receiver_operating_characteristic_curve"
ROC_FIELDS = ("false_positive_rates", "true_positive_rates")
PR_CURVE = "precision_recall_curve"
PR_FIELDS = ("precisions", "recalls")
VALUE, DEVIATION = "value", "standard_deviation"
THRESHOLD, OPERATOR = "threshold", "comparison_operator"

_SECTIONS = {
    BINARY: ("binary_classification_metrics", "binary_classification_constraints"),
    MULTICLASS: ("multiclass_classification_metrics", "multiclass_classification_constraints"),
    REGRESSION: ("regression_metrics", "regression_constraints"),
}
_F_SCORES = ("f0_5", "f1", "f2")
# statistics.json key order (real and documented for binary; documented for the others).
_METRIC_KEYS = {
    BINARY: (
        CONFUSION_MATRIX, "recall", "precision", "accuracy",
        "recall_best_constant_classifier", "precision_best_constant_classifier", "accuracy_best_constant_classifier",
        "true_positive_rate", "true_negative_rate", "false_positive_rate", "false_negative_rate",
        ROC_CURVE, PR_CURVE, "auc", *_F_SCORES, *(f"{f}_best_constant_classifier" for f in _F_SCORES),
    ),
    MULTICLASS: (
        CONFUSION_MATRIX, "accuracy", "weighted_recall", "weighted_precision", *(f"weighted_{f}" for f in _F_SCORES),
        "accuracy_best_constant_classifier", "weighted_recall_best_constant_classifier",
        "weighted_precision_best_constant_classifier",
        *(f"weighted_{f}_best_constant_classifier" for f in _F_SCORES),
    ),
    REGRESSION: ("mae", "mse", "rmse", "r2"),
}  # fmt: skip
_NOT_SCALAR = (CONFUSION_MATRIX, ROC_CURVE, PR_CURVE)
# Suggested constraints, in constraints.json order: real for binary; ours (inferred) for the others:
# errors alert when they grow, scores when they fall.
_SUGGESTED = {
    BINARY: (
        ("recall", LESS_THAN), ("precision", LESS_THAN), ("accuracy", LESS_THAN),
        ("true_positive_rate", LESS_THAN), ("true_negative_rate", LESS_THAN),
        ("false_positive_rate", GREATER_THAN), ("false_negative_rate", GREATER_THAN),
        ("auc", LESS_THAN), ("f0_5", LESS_THAN), ("f1", LESS_THAN), ("f2", LESS_THAN),
    ),
    MULTICLASS: tuple((name, LESS_THAN) for name in _METRIC_KEYS[MULTICLASS][1:7]),
    REGRESSION: (("mae", GREATER_THAN), ("mse", GREATER_THAN), ("rmse", GREATER_THAN), ("r2", LESS_THAN)),
}  # fmt: skip
# The metrics the service evaluates, in the order it lists their violations (real, the 2021 run). That
# run did not list f0_5 although its value (0.343) was below its threshold (0.870): the service does
# not check f0_5, and neither do we. Other problem types: the suggested metrics in file order (ours).
_CHECKED = {
    BINARY: (
        "auc", "precision", "true_positive_rate", "f1", "accuracy",
        "false_positive_rate", "true_negative_rate", "false_negative_rate", "recall", "f2",
    ),
    MULTICLASS: tuple(name for name, _ in _SUGGESTED[MULTICLASS]),
    REGRESSION: tuple(name for name, _ in _SUGGESTED[REGRESSION]),
}  # fmt: skip
# CloudWatch (contract, section 7): every scalar metric, no curves, no confusion matrix (real: 17 names).
NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"
BATCH_TRANSFORM_NAMESPACE = "aws/sagemaker/ModelMonitoring/model-metrics"


def _problem(problem_type: str) -> str:
    if problem_type not in PROBLEM_TYPES:
        raise QualityDocumentError(f"unknown problem type {problem_type!r}; use one of {', '.join(PROBLEM_TYPES)}")
    return problem_type


def statistics_section(problem_type: str) -> str:
    """`binary_classification_metrics`, `multiclass_classification_metrics` or `regression_metrics`."""
    return _SECTIONS[_problem(problem_type)][0]


def constraints_section(problem_type: str) -> str:
    return _SECTIONS[_problem(problem_type)][1]


def metric_keys(problem_type: str) -> tuple[str, ...]:
    """The keys of the statistics section, in the service's order."""
    return _METRIC_KEYS[_problem(problem_type)]


def scalar_metrics(problem_type: str) -> tuple[str, ...]:
    """The `{value, standard_deviation}` metrics of a problem type, in statistics order."""
    return tuple(key for key in metric_keys(problem_type) if key not in _NOT_SCALAR)


def published_metric_names(problem_type: str) -> tuple[str, ...]:
    """The CloudWatch metric names of a run (binary: the real run's 17)."""
    return scalar_metrics(problem_type)


def suggested_operators(problem_type: str) -> dict[str, str]:
    """metric -> comparison operator of the suggested constraints, in constraints.json order."""
    return dict(_SUGGESTED[_problem(problem_type)])


def alarm_threshold_attribute(metric: str) -> str:
    """The baseline custom resource's attribute holding `metric`'s alarm threshold (ours): CloudFormation
    attribute names take letters and digits only, so `f0_5` -> `AlarmThresholdf05`."""
    return "AlarmThreshold" + re.sub(r"[^A-Za-z0-9]", "", metric)


def checked_metrics(problem_type: str) -> tuple[str, ...]:
    """The metrics a monitoring run evaluates, in the order it lists violations."""
    return _CHECKED[_problem(problem_type)]


def evaluation_time_text(moment: datetime) -> str:
    """`2021-05-18T00:46:18.178Z`: a statistics document's evaluation time (UTC, milliseconds)."""
    moment = moment.astimezone(UTC)
    return moment.strftime(EVALUATION_TIME_FORMAT).format(millis=moment.microsecond // 1000)


def statistics_document(
    problem_type: str, section: Mapping, item_count: int, evaluated: datetime | None = None
) -> dict:
    """A model-quality statistics.json: version, dataset, then the metrics section (service order);
    `evaluated` defaults to now."""
    dataset = {ITEM_COUNT: item_count, EVALUATION_TIME: evaluation_time_text(evaluated or datetime.now(UTC))}
    return {"version": DOCUMENT_VERSION, "dataset": dataset, statistics_section(problem_type): dict(section)}


def problem_type_of_section(section: str) -> str | None:
    for problem_type, names in _SECTIONS.items():
        if section in names:
            return problem_type
    return None


# --- statistics.json ------------------------------------------------------------------------------


def _fail(source: str, path: str, problem: str) -> QualityDocumentError:
    return QualityDocumentError(f"{source}: {path}: {problem}")


def _find_section(document: object, source: str, index: int, problem_type: str | None) -> tuple[str, Mapping]:
    """(problem type, section) of a document holding exactly one model-quality section."""
    kind = ("statistics", "constraints")[index]
    expected = [names[index] for names in _SECTIONS.values()]
    if not isinstance(document, Mapping):
        raise _fail(source, "$", f"expected a JSON object with one of {', '.join(expected)}")
    found = [key for key in document if key in expected]
    if problem_type is not None:
        wanted = _SECTIONS[_problem(problem_type)][index]
        if wanted not in document:
            seen = ", ".join(found or list(document)[:6]) or "nothing"
            raise _fail(
                source,
                "$",
                f"no {wanted} for problem type {problem_type} (found {seen}); "
                f"use the {kind} of a {problem_type} baseline",
            )
        found = [wanted]
    if len(found) != 1:
        seen = ", ".join(found or list(document)[:6]) or "nothing"
        raise _fail(source, "$", f"expected exactly one of {', '.join(expected)}, found {seen}")
    section = document[found[0]]
    if not isinstance(section, Mapping):
        raise _fail(source, f"$.{found[0]}", f"must be an object, got {type(section).__name__}")
    return problem_type_of_section(found[0]), section


@dataclass(frozen=True)
class MetricValue:
    value: float
    standard_deviation: float  # NaN where the file says "NaN"


def _metric_value(item: object, source: str, path: str) -> MetricValue:
    if not isinstance(item, Mapping) or not is_number(item.get(VALUE)):
        raise _fail(source, path, f'expected {{"{VALUE}": <number>, "{DEVIATION}": <number or "NaN">}}')
    deviation = item.get(DEVIATION, NAN_TEXT)
    if deviation == NAN_TEXT:
        deviation = math.nan
    elif not is_number(deviation):
        raise _fail(source, f"{path}.{DEVIATION}", f'{deviation!r} is not a number or "NaN"')
    return MetricValue(float(item[VALUE]), float(deviation))


def _number_list(item: Mapping, field: str, source: str, path: str) -> tuple[float, ...]:
    values = item.get(field)
    if not isinstance(values, list) or not all(is_number(v) for v in values):
        raise _fail(source, f"{path}.{field}", "expected a list of numbers")
    return tuple(float(v) for v in values)


def _curve(section: Mapping, name: str, names: tuple[str, str], source: str, path: str) -> tuple | None:
    item = section.get(name)
    if item is None:
        return None
    if not isinstance(item, Mapping):
        raise _fail(source, f"{path}.{name}", "must be an object")
    return tuple(_number_list(item, field, source, f"{path}.{name}") for field in names)


def _confusion(section: Mapping, source: str, path: str) -> dict[str, dict[str, int]]:
    matrix = section.get(CONFUSION_MATRIX, {})
    where = f"{path}.{CONFUSION_MATRIX}"
    if not isinstance(matrix, Mapping) or not all(
        isinstance(row, Mapping) and all(isinstance(n, int) and not isinstance(n, bool) for n in row.values())
        for row in matrix.values()
    ):
        raise _fail(source, where, 'expected {"<actual>": {"<predicted>": <count>}}')
    return {str(actual): {str(p): int(n) for p, n in row.items()} for actual, row in matrix.items()}


@dataclass(frozen=True)
class QualityStatistics:
    """A model-quality statistics.json: its problem type, record count, scalar metrics, matrix and curves.

    Metric keys this project does not know are left alone (forward compatibility); known ones are
    validated."""

    problem_type: str
    item_count: int
    metrics: dict[str, MetricValue]
    confusion_matrix: dict[str, dict[str, int]]
    roc_curve: tuple[tuple[float, ...], tuple[float, ...]] | None  # (false_positive_rates, true_positive_rates)
    pr_curve: tuple[tuple[float, ...], tuple[float, ...]] | None  # (precisions, recalls)
    raw: Mapping

    @classmethod
    def of(cls, document: object, source: str = STATISTICS_FILE, problem_type: str | None = None) -> QualityStatistics:
        problem_type, section = _find_section(document, source, 0, problem_type)
        path = f"$.{statistics_section(problem_type)}"
        metrics = {
            key: _metric_value(section[key], source, f"{path}.{key}")
            for key in scalar_metrics(problem_type)
            if key in section
        }
        dataset = document.get("dataset")
        count = dataset.get(ITEM_COUNT, 0) if isinstance(dataset, Mapping) else 0
        return cls(
            problem_type=problem_type,
            item_count=int(count) if is_number(count) else 0,
            metrics=metrics,
            confusion_matrix=_confusion(section, source, path) if problem_type != REGRESSION else {},
            roc_curve=_curve(section, ROC_CURVE, ROC_FIELDS, source, path),
            pr_curve=_curve(section, PR_CURVE, PR_FIELDS, source, path),
            raw=document,
        )

    @classmethod
    def read(cls, path: str, problem_type: str | None = None) -> QualityStatistics:
        return cls.of(read_json(path), path, problem_type)

    def metric(self, name: str) -> MetricValue | None:
        return self.metrics.get(name)


# --- constraints.json -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityConstraint:
    metric: str
    threshold: float
    comparison_operator: str

    def violated_by(self, value: float) -> bool:
        """Whether a value breaks the constraint (NaN never does: there is nothing to compare)."""
        if self.comparison_operator == LESS_THAN:
            return value < self.threshold
        return value > self.threshold


def _constraint(metric: str, item: object, source: str, path: str) -> QualityConstraint:
    if not isinstance(item, Mapping):
        raise _fail(source, path, f'expected {{"{THRESHOLD}": <number>, "{OPERATOR}": "{LESS_THAN}"}}')
    missing = [key for key in (THRESHOLD, OPERATOR) if key not in item]
    if missing:
        raise _fail(source, path, f"lacks {' and '.join(missing)}")
    threshold, operator = item[THRESHOLD], item[OPERATOR]
    if not is_number(threshold) or math.isnan(threshold):
        raise _fail(source, f"{path}.{THRESHOLD}", f"{threshold!r} is not a number; write a number such as 0.75")
    if operator not in OPERATORS:
        raise _fail(source, f"{path}.{OPERATOR}", f"{operator!r} is not an operator; use {' or '.join(OPERATORS)}")
    return QualityConstraint(metric, float(threshold), operator)


def _unknown_metric(name: str, known: tuple[str, ...], problem_type: str) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown metric {name!r}; {hint}{problem_type} metrics are {', '.join(known)}"


@dataclass(frozen=True)
class QualityConstraints:
    """A model-quality constraints.json: metric -> constraint, in file order."""

    problem_type: str
    constraints: dict[str, QualityConstraint]
    raw: Mapping

    @classmethod
    def of(
        cls, document: object, source: str = CONSTRAINTS_FILE, problem_type: str | None = None
    ) -> QualityConstraints:
        problem_type, section = _find_section(document, source, 1, problem_type)
        path = f"$.{constraints_section(problem_type)}"
        known = scalar_metrics(problem_type)
        constraints = {}
        for name, item in section.items():
            if name not in known:
                raise _fail(source, f"{path}.{name}", _unknown_metric(name, known, problem_type))
            constraints[name] = _constraint(name, item, source, f"{path}.{name}")
        return cls(problem_type, constraints, document)

    @classmethod
    def read(cls, path: str, problem_type: str | None = None) -> QualityConstraints:
        return cls.of(read_json(path), path, problem_type)

    @property
    def unchecked(self) -> tuple[str, ...]:
        """Constraints in the file that a monitoring run does not evaluate (as the service: f0_5, ...)."""
        checked = checked_metrics(self.problem_type)
        return tuple(name for name in self.constraints if name not in checked)


def constraints_document(problem_type: str, statistics: QualityStatistics) -> dict:
    """Suggested constraints: each suggested metric's baseline value as its threshold (real)."""
    section = {
        name: {THRESHOLD: statistics.metrics[name].value, OPERATOR: operator}
        for name, operator in suggested_operators(problem_type).items()
        if name in statistics.metrics
    }
    return {"version": DOCUMENT_VERSION, constraints_section(problem_type): section}


def read_json(path: str) -> object:
    """A JSON document from a file; QualityDocumentError naming the file when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise QualityDocumentError(f"{path}: cannot read ({error.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = f"line {error.lineno}, column {error.colno}: {error.msg}" if hasattr(error, "lineno") else str(error)
        raise QualityDocumentError(f"{path}: not valid JSON ({where})") from None
