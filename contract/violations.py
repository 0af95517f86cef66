"""`constraint_violations.json`: check types, the document, a strict parser, and the descriptions.

A violation is `{feature_name, constraint_check_type, description}` (contract, section 5). The
description states the numbers the check compared. Each details class below holds those numbers
and one `Wording`, a template with typed placeholders that both writes the description
(`describe()`) and reads it back (`parse()`, round-trip tested), so readers (alerts, reports) get
the numbers as fields (`Violation.details`) and no other module matches the text.
Wording marked "ours" has no public original.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cached_property

from contract.errors import ViolationsFormatError
from contract.javanumbers import java_double
from contract.layout import VIOLATIONS_FILE

DATA_TYPE_CHECK = "data_type_check"
COMPLETENESS_CHECK = "completeness_check"
DRIFT_CHECK = "baseline_drift_check"
DOMAIN_CHECK = "categorical_values_check"
MISSING_COLUMN_CHECK = "missing_column_check"
EXTRA_COLUMN_CHECK = "extra_column_check"
# Order in which the service lists violations (contract, section 5).
CHECK_TYPES = (
    DATA_TYPE_CHECK,
    COMPLETENESS_CHECK,
    DRIFT_CHECK,
    DOMAIN_CHECK,
    MISSING_COLUMN_CHECK,
    EXTRA_COLUMN_CHECK,
)
CHI_SQUARED = "ChiSquared"

_NUMBER = r"-?(?:\d+\.\d+(?:E-?\d+)?|NaN|Infinity)"  # a double as java_double writes it
# Placeholder kinds: how a value is written, the pattern that matches it, how it is read back.
_KINDS = {
    "number": (java_double, _NUMBER, float),
    "percent": (lambda value: f"{java_double(value)}%", _NUMBER + "%", lambda text: float(text[:-1])),
    "int": (str, r"\d+", int),
    "word": (str, r"\w+", str),
    "text": (str, r".*", str),
}
_PLACEHOLDER = re.compile(r"\{(\w+):(\w+)\}")


class Wording:
    """A description template such as `Expected: {expected_percent:percent}.`: `fill` writes it from an
    object's attributes, `read` parses a description back into those values (or None). A placeholder
    that appears twice must hold the same text both times."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.kinds = dict(_PLACEHOLDER.findall(template))
        pieces = _PLACEHOLDER.split(template)  # text, name, kind, text, name, kind, ..., text
        pattern, seen = [re.escape(pieces[0])], set()
        for name, kind, text in zip(pieces[1::3], pieces[2::3], pieces[3::3], strict=True):
            pattern.append(f"(?P={name})" if name in seen else f"(?P<{name}>{_KINDS[kind][1]})")
            pattern.append(re.escape(text))
            seen.add(name)
        self._pattern = re.compile("".join(pattern), re.DOTALL)

    def fill(self, source: object) -> str:
        return _PLACEHOLDER.sub(lambda m: _KINDS[m[2]][0](getattr(source, m[1])), self.template)

    def read(self, text: str) -> dict[str, object] | None:
        match = self._pattern.fullmatch(text)
        if not match:
            return None
        return {name: _KINDS[self.kinds[name]][2](value) for name, value in match.groupdict().items()}


class _Described:
    """Details whose description is one `wording` (percentages and numbers as written in it)."""

    wording: Wording

    def describe(self) -> str:
        return self.wording.fill(self)

    @classmethod
    def parse(cls, text: str):
        values = cls.wording.read(text)
        if values is None:
            return None
        return cls(**{f.name: values[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class DataTypeMismatch(_Described):
    """Too few values of the baseline's type."""

    expected_type: str
    expected_percent: float
    observed_percent: float
    check = DATA_TYPE_CHECK
    wording = Wording(
        "Data type match requirement is not met. Expected data type: {expected_type:word}, Expected match: "
        "{expected_percent:percent}. Observed: Only {observed_percent:percent} of data is {expected_type:word}."
    )


@dataclass(frozen=True)
class Incompleteness(_Described):
    """Too few present values."""

    expected_percent: float
    observed_percent: float
    check = COMPLETENESS_CHECK
    wording = Wording(
        "Data completeness requirement is not met. Expected: {expected_percent:percent}. "
        "Observed: Only {observed_percent:percent}."
    )


@dataclass(frozen=True)
class Drift:
    """The distance from the baseline passed its threshold (`p_value`: a ChiSquared p-value fell below)."""

    distance: float
    threshold: float
    p_value: bool = False
    check = DRIFT_CHECK
    wordings = {
        False: Wording("Baseline drift distance: {distance:number} exceeds threshold: {threshold:number}"),
        # Ours (inferred): a p-value signals drift when it is small, so the comparison flips.
        True: Wording(
            "Baseline drift distance: {distance:number} is below threshold: {threshold:number} (ChiSquared p-value)"
        ),
    }

    def describe(self) -> str:
        return self.wordings[self.p_value].fill(self)

    @classmethod
    def parse(cls, text: str) -> Drift | None:
        for p_value, wording in cls.wordings.items():
            values = wording.read(text)
            if values is not None:
                return cls(values["distance"], values["threshold"], p_value)
        return None


def unseen_listing(unseen: Mapping[str, int], shown: int = 5) -> str:
    """The most frequent values outside the domain, `"a" (3), "b" (1) and 4 more`."""
    top = sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))[:shown]
    listed = ", ".join(f'"{value}" ({count})' for value, count in top)
    return listed + (f" and {len(unseen) - len(top)} more" if len(unseen) > len(top) else "")


@dataclass(frozen=True)
class DomainMismatch(_Described):
    """Too few values inside the baseline's domain (ours: the service's wording is not public)."""

    expected_percent: float
    observed_percent: float
    inside: int
    present: int
    unseen: str  # `unseen_listing` of the values outside the domain
    check = DOMAIN_CHECK
    wording = Wording(
        "Data domain requirement is not met. Expected: {expected_percent:percent} of values in the baseline "
        "domain. Observed: Only {observed_percent:percent} ({inside:int} of {present:int}). "
        "Unseen values: {unseen:text}."
    )


@dataclass(frozen=True)
class DomainTooLarge(_Described):
    """The domain check of a column with too many distinct values to count (ours): an upper bound."""

    expected_percent: float
    distinct: int
    unseen: int
    domain_size: int
    bound_percent: float
    inside_bound: int
    present: int
    check = DOMAIN_CHECK
    wording = Wording(
        "Data domain requirement is not met. Expected: {expected_percent:percent} of values in the baseline "
        "domain. Observed: about {distinct:int} distinct values, too many to count one by one; at least "
        "{unseen:int} of them are not among the {domain_size:int} baseline values, so at most "
        "{bound_percent:percent} ({inside_bound:int} of {present:int}) can be in the domain."
    )


@dataclass(frozen=True)
class MissingColumns(_Described):
    """Rows with fewer fields than the baseline's columns (ours)."""

    short_rows: int
    rows: int
    width: int
    fewest: int
    first_missing: str  # the name of column `fewest + 1`
    check = MISSING_COLUMN_CHECK
    wording = Wording(
        "Missing columns: {short_rows:int} of {rows:int} rows have fewer fields than the baseline's {width:int} "
        "columns (as few as {fewest:int}); their values for columns {first_missing_column:int} to {width:int} "
        "({first_missing:text} onwards) were counted as missing."
    )

    @property
    def first_missing_column(self) -> int:
        return self.fewest + 1


@dataclass(frozen=True)
class ExtraColumns(_Described):
    """Rows with more fields than the baseline's columns (ours)."""

    long_rows: int
    rows: int
    width: int
    most: int
    check = EXTRA_COLUMN_CHECK
    wording = Wording(
        "Extra columns: {long_rows:int} of {rows:int} rows have more fields than the baseline's {width:int} "
        "columns (up to {most:int}); values after column {width:int} were not analyzed."
    )


Details = DataTypeMismatch | Incompleteness | Drift | DomainMismatch | DomainTooLarge | MissingColumns | ExtraColumns
DETAILS_BY_CHECK: dict[str, tuple[type, ...]] = {}
for _kind in (DataTypeMismatch, Incompleteness, Drift, DomainMismatch, DomainTooLarge, MissingColumns, ExtraColumns):
    DETAILS_BY_CHECK.setdefault(_kind.check, ())
    DETAILS_BY_CHECK[_kind.check] += (_kind,)


def parse_details(check: str, description: str) -> Details | None:
    """The numbers a description states, or None for a wording this project does not write."""
    for kind in DETAILS_BY_CHECK.get(check, ()):
        details = kind.parse(description)
        if details is not None:
            return details
    return None


@dataclass(frozen=True)
class Violation:
    feature_name: str
    constraint_check_type: str
    description: str

    @classmethod
    def of(cls, feature_name: str, details: Details) -> Violation:
        return cls(feature_name, details.check, details.describe())

    @cached_property
    def details(self) -> Details | None:
        """The description's numbers as fields (None when its wording is not recognised)."""
        return parse_details(self.constraint_check_type, self.description)

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


def violation_items(text: str, source: str, keys: tuple[str, ...]) -> list[dict]:
    """The entries of a violations document (either monitor type), each an object holding `keys`;
    ViolationsFormatError naming `source` on any defect."""
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
    for index, item in enumerate(document["violations"]):
        if not isinstance(item, dict):
            raise ViolationsFormatError(f"{source}: violations[{index}] is not an object")
        missing = [key for key in keys if key not in item]
        if missing:
            raise ViolationsFormatError(f"{source}: violations[{index}] lacks {', '.join(missing)}")
    return document["violations"]


def parse_violations(text: str, source: str = VIOLATIONS_FILE) -> list[Violation]:
    """Parse a data-quality violations document; raise ViolationsFormatError naming `source` on any defect."""
    keys = ("feature_name", "constraint_check_type", "description")
    return [Violation(*(str(item[key]) for key in keys)) for item in violation_items(text, source, keys)]
