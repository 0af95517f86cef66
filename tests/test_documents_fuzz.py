"""Fuzz: random damage to valid statistics.json, constraints.json and monitoring configs.

Property: a damaged document either fails to load with the named error (BaselineError, of which
DocumentError is the per-value kind) or loads, and then every check runs on it without any other
exception. Cases per run: 3 x MAX_EXAMPLES (see the settings below).
"""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.baseline import profile_dataset
from analyzer.checks import evaluate
from analyzer.jsonfmt import dumps
from analyzer.suggest import suggest_constraints
from contract.documents import Constraints, Statistics, check_constraints_columns
from contract.errors import BaselineError

MAX_EXAMPLES = 400
CSV = "count,amount,state,empty\n" + "".join(f"{i % 5},{i * 0.5 - 2},{'ABC'[i % 3]},\n" for i in range(30))

# What a damaged or hand-edited file may hold instead of a value: the service's own words and numbers
# as strings, Jackson's non-finite doubles, out-of-range numbers, containers.
ODD_WORDS = ["NaN", "Infinity", "-Infinity", "full", "Enabled", "Disabled", "Robust", "ChiSquared", "1.0", ""]
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
           | st.sampled_from(ODD_WORDS) | st.text(max_size=6))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["name", "count", "value", "x"]) | st.text(max_size=4), inner, max_size=3), max_leaves=4)


def _baseline() -> tuple[dict, dict]:
    from tempfile import TemporaryDirectory

    with TemporaryDirectory() as folder:
        path = f"{folder}/data.csv"
        with open(path, "w") as handle:
            handle.write(CSV)
        statistics = profile_dataset(path).statistics
    return json.loads(dumps(statistics)), json.loads(dumps(suggest_constraints(statistics)))


STATISTICS, CONSTRAINTS = _baseline()
BASELINE = Statistics.of(STATISTICS)


def _places(value: object, found: list) -> list:
    """Every (container, key or index) of a document."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append((value, key))
        _places(item, found)
    return found


@st.composite
def damaged(draw, document: dict, under: str | None = None) -> dict:
    """`document` with one to three random changes (under its key `under` only, when given)."""
    copied = copy.deepcopy(document)
    root = copied[under] if under else copied
    for _ in range(draw(st.integers(1, 3))):
        places = _places(root, [])
        if not places:
            break
        parent, key = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["replace", "replace", "delete", "repeat", "rename"]))
        if action == "replace":
            parent[key] = draw(VALUES)
        elif action == "delete":
            del parent[key]
        elif action == "repeat" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = parent.pop(key)
    return copied


def _check(statistics: Statistics, constraints: Constraints, current: Statistics) -> None:
    """All the checks, as a monitoring run does them (the window's counts left empty)."""
    evaluate(statistics, constraints, current, {}, {}, {})
    for feature in statistics.features.values():
        # What the report draws: the histogram, the category counts.
        assert isinstance(feature.kll_buckets, list) and feature.distinct_count >= 0
        assert feature.categories is None or all(count >= 0 for count in feature.categories.values())


FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(damaged(STATISTICS))
def test_damaged_statistics_load_or_name_their_problem(document):
    try:
        statistics = Statistics.of(document, "statistics.json")
        # A renamed or lost feature leaves the baseline's constraints naming a column it lacks.
        check_constraints_columns(Constraints.of(CONSTRAINTS), statistics.names, "constraints.json")
    except BaselineError as error:
        assert str(error).startswith(("statistics.json", "constraints.json"))
        return
    _check(statistics, Constraints.of(CONSTRAINTS), BASELINE)
    _check(BASELINE, Constraints.of(CONSTRAINTS), statistics)


@FUZZ
@given(damaged(CONSTRAINTS))
def test_damaged_constraints_load_or_name_their_problem(document):
    try:
        constraints = Constraints.of(document, "constraints.json")
        check_constraints_columns(constraints, BASELINE.names, "constraints.json")
    except BaselineError as error:
        assert str(error).startswith("constraints.json")
        return
    _check(BASELINE, constraints, BASELINE)


@FUZZ
@given(damaged(CONSTRAINTS, under="monitoring_config"))
def test_damaged_monitoring_configs_load_or_name_their_problem(document):
    try:
        constraints = Constraints.of(document, "constraints.json")
    except BaselineError as error:
        assert str(error).startswith("constraints.json: $.monitoring_config") or "problems" in str(error)
        return
    assert 0.0 <= constraints.config.comparison_threshold <= 1.0
    _check(BASELINE, constraints, BASELINE)


CELLS = st.sampled_from(["", "0", "-0.0", "7", "1e400", "-1e400", "1e-320", "99999999999999999999999", "2.5",
                         "true", "NaN", "abc", "Ω", " 3", "+4"])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(CELLS, min_size=3, max_size=3), min_size=1, max_size=30))
def test_the_analyzers_own_documents_of_any_data_load(tmp_path, rows):
    """The checks on load never refuse what the profiler writes, whatever the data holds."""
    path = tmp_path / "data.csv"
    path.write_text("a,b,c\n" + "".join(",".join(row) + "\n" for row in rows))
    statistics = json.loads(dumps(profile_dataset(str(path)).statistics))
    view = Statistics.of(statistics, "statistics.json")
    constraints = Constraints.of(json.loads(dumps(suggest_constraints(statistics))), "constraints.json")
    check_constraints_columns(constraints, view.names, "constraints.json")
    _check(view, constraints, view)
