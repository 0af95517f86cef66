"""The data gate's constraints.json comparison and its Markdown summary."""

import copy
import json

import pytest

from contract.documents import FeatureConstraints
from scripts.constraints_diff import (
    ConstraintsError,
    Contract,
    diff_contracts,
    load_contract,
    main,
    render_markdown,
)

# Shaped like a suggest-baseline constraints.json (contract, section 4).
BASELINE = {
    "version": 0.0,
    "features": [
        {"name": "Churn", "inferred_type": "Integral", "completeness": 1.0,
         "num_constraints": {"is_non_negative": True}},
        {"name": "Day Mins", "inferred_type": "Fractional", "completeness": 1.0,
         "num_constraints": {"is_non_negative": True}},
        {"name": "State", "inferred_type": "String", "completeness": 1.0,
         "string_constraints": {"domains": ["OH", "TX", "NY"]}},
        {"name": "Plan", "inferred_type": "String", "completeness": 0.75},
    ],
    "monitoring_config": {
        "evaluate_constraints": "Enabled", "emit_metrics": "Enabled",
        "datatype_check_threshold": 1.0, "domain_content_threshold": 1.0,
        "distribution_constraints": {"perform_comparison": "Enabled", "comparison_threshold": 0.1,
                                     "comparison_method": "Robust"},
    },
}


def contract(document):
    return Contract(features={f["name"]: FeatureConstraints(f) for f in document["features"]},
                    monitoring_config=document["monitoring_config"])


def changed(**edits):
    """BASELINE with feature edits, e.g. changed(**{"Day Mins": {"completeness": 0.9}})."""
    document = copy.deepcopy(BASELINE)
    for feature in document["features"]:
        feature.update(edits.get(feature["name"], {}))
    return document


def rows(base, head):
    return [(c.feature, c.aspect, c.base, c.head) for c in diff_contracts(contract(base), contract(head))]


def test_identical_baselines_say_no_data_contract_change():
    assert rows(BASELINE, copy.deepcopy(BASELINE)) == []
    markdown = render_markdown([], contract(BASELINE))
    assert "No data-contract change" in markdown and "4 features" in markdown
    assert "|---|" not in markdown


def test_type_completeness_and_non_negativity_changes_name_both_values():
    head = changed(**{
        "Day Mins": {"inferred_type": "Integral", "num_constraints": {"is_non_negative": False}},
        "Plan": {"completeness": 0.5},
    })
    assert rows(BASELINE, head) == [
        ("Day Mins", "type", "`Fractional`", "`Integral`"),
        ("Day Mins", "is_non_negative", "`true`", "`false`"),
        ("Plan", "completeness", "`0.75`", "`0.5`"),
    ]


def test_domain_changes_list_added_and_removed_values():
    head = changed(State={"string_constraints": {"domains": ["OH", "NY", "CA", "WA"]}})
    assert rows(BASELINE, head) == [("State", "domains", "removed: `TX`", "added: `CA`, `WA`")]
    # A domain list that appears or disappears is a change too.
    head = changed(Plan={"string_constraints": {"domains": ["basic"]}})
    assert rows(BASELINE, head) == [("Plan", "domains", "none", "`basic`")]


def test_long_domain_lists_are_capped():
    domains = ["OH", "TX", "NY"] + [f"S{i:02d}" for i in range(25)]
    head = changed(State={"string_constraints": {"domains": domains}})
    ((_, _, _, added),) = rows(BASELINE, head)
    assert added.count("`S") == 10 and added.endswith("and 15 more")


def test_added_removed_and_reordered_features():
    head = copy.deepcopy(BASELINE)
    features = head["features"]
    features[1], features[2] = features[2], features[1]  # State before Day Mins
    features.pop()  # Plan removed
    features.append({"name": "Eve Mins", "inferred_type": "Fractional", "completeness": 1.0})
    assert rows(BASELINE, head) == [
        ("(columns)", "order (captured rows are matched by position)", "–", "moved: `State`, `Day Mins`"),
        ("Eve Mins", "new feature", "–", "type `Fractional`, completeness `1.0`"),
        ("Plan", "removed feature", "type `String`, completeness `0.75`", "–"),
    ]


def test_monitoring_config_and_feature_overrides_are_compared_key_by_key():
    head = changed(Churn={"monitoringConfigOverrides": {"evaluate_constraints": "Disabled"}})
    head["monitoring_config"]["distribution_constraints"]["comparison_threshold"] = 0.2
    del head["monitoring_config"]["emit_metrics"]
    assert rows(BASELINE, head) == [
        ("Churn", "override `evaluate_constraints`", "–", "`Disabled`"),
        ("(monitoring_config)", "`distribution_constraints.comparison_threshold`", "`0.1`", "`0.2`"),
        ("(monitoring_config)", "`emit_metrics`", "`Enabled`", "–"),
    ]


def test_markdown_table_escapes_pipes_and_counts_changes():
    head = changed(Plan={"completeness": 0.5})
    head["features"][3]["name"] = "Plan|Tier"
    markdown = render_markdown(diff_contracts(contract(BASELINE), contract(head)), contract(head))
    assert "**2 change(s)** across 2 feature(s)" in markdown
    assert "| `Plan\\|Tier` | new feature |" in markdown
    assert markdown.count("\n| ") == 3  # header + two rows


def test_cli_writes_the_summary_and_exits_zero(tmp_path, capsys):
    base, head, out = tmp_path / "base.json", tmp_path / "head.json", tmp_path / "gate.md"
    base.write_text(json.dumps(BASELINE))
    head.write_text(json.dumps(changed(Churn={"inferred_type": "Fractional"})))
    assert main(["--base", str(base), "--head", str(head), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed == out.read_text() and "| `Churn` | type | `Integral` | `Fractional` |" in printed


def test_cli_without_base_reports_every_feature_as_new(tmp_path, capsys):
    head = tmp_path / "head.json"
    head.write_text(json.dumps(BASELINE))
    assert main(["--head", str(head)]) == 0
    printed = capsys.readouterr().out
    assert "no baseline to compare with" in printed
    assert printed.count("| new feature |") == 4


@pytest.mark.parametrize(("content", "message"), [
    ('{"features": [\n  {"name": "a"},\n  oops\n]}', r"head\.json, line 3, column 3: not valid JSON"),
    ('{"version": 0.0}', r"head\.json: no 'features' list"),
    ('{"features": [{"name": "a"}, {"inferred_type": "S"}]}', r"head\.json: features\[1\] has no 'name'"),
    ('{"features": [{"name": "a"}, {"name": "a"}]}', r"feature 'a' appears twice \(features\[1\]\)"),
    ('{"features": [], "monitoring_config": []}', r"'monitoring_config' must be an object"),
])
def test_malformed_files_are_named_errors(tmp_path, content, message):
    path = tmp_path / "head.json"
    path.write_text(content)
    with pytest.raises(ConstraintsError, match=message):
        load_contract(path)


def test_cli_reports_a_missing_file_in_one_line(tmp_path, capsys):
    head = tmp_path / "head.json"
    head.write_text(json.dumps(BASELINE))
    assert main(["--head", str(head), "--base", str(tmp_path / "missing.json")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "missing.json: file not found" in error
    assert "suggest-baseline" in error
