"""The `constraint_violations.json` document: its check types and a strict parser.

Standard library only: the alerts Lambda ships this module next to its handler, so the
analyzer (which writes the document) and the alert code (which reads it) share one
definition of its shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# Order in which the service lists violations (contract, section 5).
CHECK_TYPES = (
    "data_type_check",
    "completeness_check",
    "baseline_drift_check",
    "categorical_values_check",
    "missing_column_check",
    "extra_column_check",
)


class ViolationsFormatError(ValueError):
    """The violations document cannot be read; the message says where and why."""


@dataclass(frozen=True)
class Violation:
    feature_name: str
    constraint_check_type: str
    description: str

    def to_dict(self) -> dict:
        # Key order matters: it is the service's (contract, section 5).
        return {
            "feature_name": self.feature_name,
            "constraint_check_type": self.constraint_check_type,
            "description": self.description,
        }


def check_order(violation: Violation) -> int:
    """Sort key placing violations in the service's check order (unknown checks last)."""
    try:
        return CHECK_TYPES.index(violation.constraint_check_type)
    except ValueError:
        return len(CHECK_TYPES)


def to_document(violations: list[Violation]) -> dict:
    return {"violations": [v.to_dict() for v in violations]}


def parse_violations(text: str, source: str = "constraint_violations.json") -> list[Violation]:
    """Parse a violations document; raise ViolationsFormatError naming `source` on any defect."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ViolationsFormatError(
            f"{source}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            "the report may be truncated: re-run the monitoring job or inspect the file"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("violations"), list):
        raise ViolationsFormatError(
            f"{source}: expected an object with a 'violations' list, got {type(document).__name__}"
        )
    violations = []
    for index, item in enumerate(document["violations"]):
        if not isinstance(item, dict):
            raise ViolationsFormatError(f"{source}: violations[{index}] is not an object")
        missing = [k for k in ("feature_name", "constraint_check_type", "description") if k not in item]
        if missing:
            raise ViolationsFormatError(
                f"{source}: violations[{index}] lacks {', '.join(missing)}"
            )
        violations.append(
            Violation(
                feature_name=str(item["feature_name"]),
                constraint_check_type=str(item["constraint_check_type"]),
                description=str(item["description"]),
            )
        )
    return violations
