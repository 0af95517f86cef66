"""Model-quality checks: a run's metrics against the baseline's constraints (contract, section 6).

A metric violates `LessThanThreshold` when its value is below the threshold and `GreaterThanThreshold`
when above; a NaN value violates nothing. Violations come in the service's order
(`checked_metrics`); constraints the service does not evaluate (binary f0_5, as the real run shows)
are reported in the log, never silently dropped.
"""

from __future__ import annotations

import logging
import math

from contract.errors import QualityDocumentError
from contract.model_quality import QualityConstraints, QualityStatistics, QualityViolation, checked_metrics

log = logging.getLogger(__name__)


def check_quality(statistics: QualityStatistics, constraints: QualityConstraints) -> list[QualityViolation]:
    """The violations of `constraints` by `statistics`, in the service's order."""
    if statistics.problem_type != constraints.problem_type:
        raise QualityDocumentError(
            f"the statistics are of a {statistics.problem_type} model but the constraints of a "
            f"{constraints.problem_type} one; use the constraints of this model's baseline"
        )
    if constraints.unchecked:  # info: the suggested constraints hold f0_5 too, so every run has it
        log.info(
            "constraints not evaluated (the service does not check them either): %s", ", ".join(constraints.unchecked)
        )
    violations = []
    for name in checked_metrics(constraints.problem_type):
        constraint = constraints.constraints.get(name)
        if constraint is None:
            continue
        metric = statistics.metric(name)
        if metric is None:
            raise QualityDocumentError(f"the run's statistics lack {name}, which the constraints check")
        if not math.isnan(metric.value) and constraint.violated_by(metric.value):
            violations.append(QualityViolation.of(name, metric.value, metric.standard_deviation, constraint))
    return violations
