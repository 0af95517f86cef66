"""Model-quality `constraint_violations.json`: the metric names violations use, the wording, the document.

A violation is `{constraint_check_type, description, metric_name}` (real, key order as written).
The description `Metric <name> with <value> +/- <standard_deviation> was <operator> '<threshold>'`
(real) is one `Wording`, so readers get its numbers as fields (`QualityViolation.details`).
Exported by `contract.model_quality`, the home of the rest of the model-quality contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from contract.layout import VIOLATIONS_FILE
from contract.violations import Wording, violation_items

if TYPE_CHECKING:
    from contract.model_quality import QualityConstraint

# Violations name the rates in camelCase, every other metric as in statistics.json (real).
_VIOLATION_NAMES = {
    "true_positive_rate": "truePositiveRate",
    "true_negative_rate": "trueNegativeRate",
    "false_positive_rate": "falsePositiveRate",
    "false_negative_rate": "falseNegativeRate",
}
_METRIC_OF_VIOLATION_NAME = {camel: key for key, camel in _VIOLATION_NAMES.items()}


def violation_name(metric: str) -> str:
    """The name a violation gives a metric (`truePositiveRate` for `true_positive_rate`)."""
    return _VIOLATION_NAMES.get(metric, metric)


def metric_of_violation_name(name: str) -> str:
    """The statistics key of a violation's metric name (inverse of `violation_name`)."""
    return _METRIC_OF_VIOLATION_NAME.get(name, name)


@dataclass(frozen=True)
class QualityViolationDetails:
    """The numbers of a model-quality violation's description (`metric` as written: camelCase rates)."""

    metric: str
    value: float
    standard_deviation: float
    operator: str
    threshold: float
    wording = Wording(
        "Metric {metric:word} with {value:number} +/- {standard_deviation:number} was {operator:word} "
        "'{threshold:number}'"
    )

    @property
    def metric_key(self) -> str:
        """The metric's statistics.json key (`true_positive_rate` for `truePositiveRate`)."""
        return metric_of_violation_name(self.metric)

    def describe(self) -> str:
        return self.wording.fill(self)

    @classmethod
    def parse(cls, text: str) -> QualityViolationDetails | None:
        values = cls.wording.read(text)
        return None if values is None else cls(**values)


_VIOLATION_KEYS = ("constraint_check_type", "description", "metric_name")


@dataclass(frozen=True)
class QualityViolation:
    constraint_check_type: str
    description: str
    metric_name: str

    @classmethod
    def of(
        cls, metric: str, value: float, standard_deviation: float, constraint: QualityConstraint
    ) -> QualityViolation:
        """The violation of `constraint` by a metric (statistics key) with this value and deviation."""
        details = QualityViolationDetails(
            violation_name(metric), value, standard_deviation, constraint.comparison_operator, constraint.threshold
        )
        return cls(constraint.comparison_operator, details.describe(), details.metric)

    @cached_property
    def details(self) -> QualityViolationDetails | None:
        """The description's numbers as fields (None when its wording is not recognised)."""
        return QualityViolationDetails.parse(self.description)

    def to_dict(self) -> dict:
        # Key order matters: it is the service's (contract, section 6).
        return {key: getattr(self, key) for key in _VIOLATION_KEYS}


def quality_violations_document(violations: list[QualityViolation]) -> dict:
    return {"violations": [violation.to_dict() for violation in violations]}


def parse_quality_violations(text: str, source: str = VIOLATIONS_FILE) -> list[QualityViolation]:
    """Parse a model-quality violations document; ViolationsFormatError naming `source` on any defect."""
    items = violation_items(text, source, _VIOLATION_KEYS)
    return [QualityViolation(*(str(item[key]) for key in _VIOLATION_KEYS)) for item in items]
