"""Every value of statistics.json, constraints.json and the monitoring config is checked on load: one
message per problem with the document and the JSON path, and a document that loads can be checked."""

from __future__ import annotations

import copy
import json
import math

import pytest

from analyzer import kll
from analyzer.baseline import profile_dataset
from analyzer.jsonfmt import dumps
from analyzer.suggest import suggest_constraints
from contract.documents import Constraints, MonitoringConfig, Statistics, check_constraints_columns
from contract.errors import BaselineError, DocumentError
from contract.validation import MAX_PROBLEMS

# Small on purpose: an integer, a fractional, a categorical and an empty column, and values a hostile
# dataset may hold (a double beyond the range, a negative zero).
CSV = "count,amount,state,empty\n" + "".join(
    f"{i % 7},{(i * 1.25) - 3:.2f},{'ABC'[i % 3]},\n" for i in range(40)
) + "3,1e400,A,\n2,-0.0,B,\n"


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    """(statistics, constraints) documents as the analyzer writes them, read back from their JSON text."""
    path = tmp_path_factory.mktemp("documents") / "data.csv"
    path.write_text(CSV)
    statistics = profile_dataset(str(path)).statistics
    return json.loads(dumps(statistics)), json.loads(dumps(suggest_constraints(statistics)))


def problems(error: pytest.ExceptionInfo) -> list[str]:
    return error.value.problems


def test_the_analyzers_own_documents_load_and_their_sketches_can_be_ranked(documents):
    statistics, constraints = documents
    view = Statistics.of(statistics, "statistics.json")
    assert view.names == ["count", "amount", "state", "empty"]
    # The 1e400 value is written as Jackson's quoted "Infinity" and is read back as a double.
    amount = view.features["amount"]
    items, _ = kll.sorted_items(amount.sketch_data)
    assert items[-1] == math.inf and math.isinf(amount.kll_buckets[-1][1])
    assert set(Constraints.of(constraints, "constraints.json").features) == set(view.names)


def test_completeness_full_names_the_file_and_the_path(documents):
    document = copy.deepcopy(documents[1])
    document["features"][3]["completeness"] = "full"
    with pytest.raises(DocumentError) as error:
        Constraints.of(document, "constraints.json")
    assert str(error.value) == 'constraints.json: $.features[3].completeness is "full"; use a number in [0, 1]'


def test_every_problem_of_a_document_is_listed_up_to_a_limit(documents):
    document = copy.deepcopy(documents[0])
    numeric = document["features"][0]["numerical_statistics"]
    numeric["distribution"]["kll"]["sketch"]["data"][0][:3] = ["x", None, [1]]
    numeric["common"]["num_present"] = -3
    numeric["distribution"]["kll"]["sketch"]["parameters"] = {"c": 0.0, "k": 2048.5}
    document["features"][1]["inferred_type"] = "Float"
    document["features"][3]["name"] = "state"
    with pytest.raises(DocumentError) as error:
        Statistics.of(document, "statistics.json")
    data = "statistics.json: $.features[0].numerical_statistics.distribution.kll.sketch"
    assert problems(error) == [
        "statistics.json: $.features[0].numerical_statistics.common.num_present is -3; use a whole number >= 0 "
        "(below 2^63)",
        f"{data}.parameters.c is 0.0; use a number in (0, 1] such as 0.64",
        f"{data}.parameters.k is 2048.5; use a whole number >= 1 such as 2048",
        f'{data}.data[0][0] is "x"; use a number (not NaN)',
        f"{data}.data[0][1] is null; use a number (not NaN)",
        f"{data}.data[0][2] is [1]; use a number (not NaN)",
        'statistics.json: $.features[1].inferred_type is "Float"; use one of Integral, Fractional, String, Unknown',
        'statistics.json: $.features[3].name is "state" again (as $.features[2].name); give each feature its own name',
    ]
    assert str(error.value).startswith("statistics.json has 8 problems; fix them, or write the file again")
    many = copy.deepcopy(documents[0])
    many["features"][0]["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"][0][:] = ["x"] * 40
    with pytest.raises(DocumentError) as error:
        Statistics.of(many, "statistics.json")
    assert len(problems(error)) == MAX_PROBLEMS and error.value.total == 40
    assert str(error.value).endswith(f"... and {40 - MAX_PROBLEMS} more")


@pytest.mark.parametrize("document, message", [
    ([], "statistics.json: $ must be an object, got a list"),
    ({}, "statistics.json: $.features is missing; use a list"),
    ({"features": "all"}, "statistics.json: $.features must be a list, got a string"),
    ({"features": [{"name": 3}]}, "statistics.json: $.features[0].name is 3; use a string"),
    ({"features": []}, "statistics.json: $.features is empty"),
    ({"dataset": {"item_count": 10**30}, "features": [{"name": "x"}]},
     "statistics.json: $.dataset.item_count is 1000000000000000000000000000000; use a whole number >= 0"),
    ({"features": [{"name": "x", "string_statistics": {"distribution": {"categorical": {"buckets": [
        {"value": "a"}]}}}}]},
     "statistics.json: $.features[0].string_statistics.distribution.categorical.buckets[0].count is missing"),
])
def test_statistics_of_the_wrong_shape_are_named(document, message):
    with pytest.raises(BaselineError) as error:
        Statistics.of(document, "statistics.json")
    assert str(error.value).startswith(message)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["features"][0].update(completness=1.0),
     '$.features[0].completness is not a known feature constraint; did you mean "completeness"? use one of name, '),
    (lambda d: d["monitoring_config"].update(evaluate_constraints="enabled"),
     '$.monitoring_config.evaluate_constraints is "enabled"; use "Enabled" or "Disabled"'),
    (lambda d: d["monitoring_config"]["distribution_constraints"].update(comparison_threshold=float("nan")),
     "$.monitoring_config.distribution_constraints.comparison_threshold is NaN; use a number in [0, 1]"),
    (lambda d: d["monitoring_config"]["distribution_constraints"].update(comparison_threshold="0.1"),
     '$.monitoring_config.distribution_constraints.comparison_threshold is "0.1"; use a number in [0, 1]'),
    (lambda d: d["monitoring_config"].update(datatype_check_threshold=True),
     "$.monitoring_config.datatype_check_threshold is true; use a number in [0, 1]"),
    (lambda d: d["monitoring_config"].update(distribution_constraints={"comparison_method": "Fancy"}),
     '$.monitoring_config.distribution_constraints.comparison_method is "Fancy"; use one of Robust, Simple'),
    (lambda d: d["features"][2].update(string_constraints={"domains": "A"}),
     "$.features[2].string_constraints.domains must be a list, got a string"),
    (lambda d: d["features"][0].update(num_constraints={"is_non_negative": "yes"}),
     '$.features[0].num_constraints.is_non_negative is "yes"; use true or false'),
    (lambda d: d["features"][1].update(monitoring_config_overrides={"emit_metrics": False}),
     '$.features[1].monitoring_config_overrides.emit_metrics is false; use "Enabled" or "Disabled"'),
])
def test_constraints_values_are_named_with_their_path(documents, change, message):
    document = copy.deepcopy(documents[1])
    change(document)
    with pytest.raises(DocumentError) as error:
        Constraints.of(document, "constraints.json")
    assert str(error.value).startswith(f"constraints.json: {message}")


def test_the_jobs_drift_method_setting_is_checked_too(documents):
    with pytest.raises(BaselineError, match="categorical_drift_method setting is \"KL\"; use one of LInfinity"):
        Constraints.of(documents[1], "constraints.json", categorical_drift_method="KL")


def test_a_config_block_applied_alone_names_its_place():
    with pytest.raises(DocumentError, match=r"^threshold.unusable_record_threshold is 2; use a number in \[0, 1\]"):
        MonitoringConfig().merged({"unusable_record_threshold": 2}, "threshold")


# --- constraints against the data's columns -------------------------------------------------------

COLUMNS = ["count", "amount", "state", "empty"]


def test_constraints_must_name_the_datas_columns(documents):
    constraints = Constraints.of(documents[1], "constraints.json")
    check_constraints_columns(constraints, COLUMNS, "constraints.json")  # the matching file passes
    renamed = copy.deepcopy(documents[1])
    renamed["features"][1]["name"] = "amout"
    with pytest.raises(DocumentError) as error:
        check_constraints_columns(Constraints.of(renamed), COLUMNS, "constraints.json")
    assert str(error.value) == ('constraints.json: $.features[1].name is "amout", not a column of the data; '
                                'did you mean "amount"? fix the name or remove the feature')


def test_empty_or_foreign_constraints_are_errors_not_clean_runs(documents):
    empty = Constraints.of({"features": []})
    with pytest.raises(DocumentError, match=r"^constraints.json: \$.features is empty, so no column of the data "
                                            r'\("count", "amount", "state", "empty"\) would be checked'):
        check_constraints_columns(empty, COLUMNS, "constraints.json")
    foreign = copy.deepcopy(documents[1])
    for index, feature in enumerate(foreign["features"][1:]):
        feature["name"] = f"sensor_{index}"
    with pytest.raises(DocumentError) as error:
        check_constraints_columns(Constraints.of(foreign), COLUMNS, "constraints.json")
    # One message for the whole file (the rule: more than half of its features unknown), not one per name.
    assert str(error.value).startswith('constraints.json: $.features lists 3 of 4 features that are not columns '
                                       'of the data (such as "sensor_0", "sensor_1", "sensor_2";')
    assert "is it the constraints file of another dataset?" in str(error.value)
