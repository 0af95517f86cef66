"""The HTML monitoring report: content, order, self-containment, and a real render in headless Chromium."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from analyzer import checks
from analyzer.kll import buckets
from contract.documents import Constraints, Statistics
from contract.violations import Violation
from tests.browser import Chromium
from workshop import report
from workshop.cli import main

DRIFT = "Baseline drift distance: {} exceeds threshold: 0.1"


def numeric(name: str, values: np.ndarray, inferred: str = "Fractional") -> dict:
    """A statistics.json feature; below 2,050 values the KLL sketch is just the values (one level)."""
    low, high = float(values.min()), float(values.max())
    return {
        "name": name,
        "inferred_type": inferred,
        "numerical_statistics": {
            "common": {"num_present": len(values), "num_missing": 0},
            "mean": float(values.mean()), "sum": float(values.sum()), "std_dev": float(values.std()),
            "min": low, "max": high,
            "distribution": {"kll": {"buckets": buckets([values], low, high),
                                     "sketch": {"parameters": {"c": 0.64, "k": 2048.0}, "data": [values.tolist()]}}},
        },
    }


def categorical(name: str, counts: dict[str, int]) -> dict:
    total = sum(counts.values())
    return {
        "name": name,
        "inferred_type": "String",
        "string_statistics": {
            "common": {"num_present": total, "num_missing": 0},
            "distinct_count": float(len(counts)),
            "distribution": {"categorical": {"buckets": [{"value": k, "count": v} for k, v in counts.items()]}},
        },
    }


def constraints(features: list[dict]) -> dict:
    return {
        "version": 0.0,
        "features": [{"name": f["name"], "inferred_type": f["inferred_type"], "completeness": 1.0} for f in features],
        "monitoring_config": {"evaluate_constraints": "Enabled", "distribution_constraints": {
            "perform_comparison": "Enabled", "comparison_threshold": 0.1, "comparison_method": "Robust",
            "categorical_comparison_threshold": 0.1, "categorical_drift_method": "LInfinity"}},
    }


def raw_documents(extra_features: int = 0) -> dict:
    """A baseline of 1,000 rows and a run of 400: `Day Mins` shifted far, `Eve Mins` a little."""
    rng = np.random.default_rng(4)
    base = [
        numeric("Churn Probability", rng.beta(1, 6, 1000)),
        numeric("Day Mins", np.round(rng.normal(180, 54, 1000), 1)),
        numeric("Eve Mins", np.round(rng.normal(200, 50, 1000), 1)),
        numeric("Night Calls", np.rint(rng.normal(100, 19, 1000)), "Integral"),
        categorical("Plan", {"basic": 700, "plus": 300}),
    ]
    now = [
        numeric("Churn Probability", rng.beta(1, 6, 400)),
        numeric("Day Mins", np.round(rng.normal(260, 60, 400), 1)),
        numeric("Eve Mins", np.round(rng.normal(215, 50, 400), 1)),
        numeric("Night Calls", np.round(rng.normal(100, 19, 400), 1)),  # now Fractional: a type change
        categorical("Plan", {"basic": 200, "plus": 150, "gold": 50}),
    ]
    for i in range(extra_features):
        column = rng.integers(0, 2, 1000).astype(float)
        base.append(numeric(f"State_{i:02d}", column, "Integral"))
        now.append(numeric(f"State_{i:02d}", column[:400], "Integral"))
    violations = [
        Violation("Night Calls", "data_type_check", "Data type match requirement is not met. Expected data type: "
                  "Integral, Expected match: 100.0%. Observed: Only 37.25% of data is Integral."),
        Violation("Day Mins", "baseline_drift_check", DRIFT.format("0.4805")),
    ]
    return {
        "statistics": {"version": 0.0, "dataset": {"item_count": 400}, "features": now},
        "violations": violations,
        "baseline_statistics": {"version": 0.0, "dataset": {"item_count": 1000}, "features": base},
        "baseline_constraints": constraints(base),
    }


def documents(extra_features: int = 0, categorical_drift_method: str | None = None) -> report.RunDocuments:
    raw = raw_documents(extra_features)
    return report.RunDocuments(
        statistics=Statistics.of(raw["statistics"]),
        violations=raw["violations"],
        baseline_statistics=Statistics.of(raw["baseline_statistics"]),
        baseline_constraints=Constraints.of(raw["baseline_constraints"], "constraints", categorical_drift_method),
        title="s3://bucket/reports/churn/churn-hourly/2024/05/01/12",
        window="2024-05-01T11:00Z..12:00Z",
    )


def feature_order(page: str) -> list[str]:
    return re.findall(r'<details class="feature[^"]*" data-name="([^"]+)"', page)


def test_features_with_violations_come_first_then_by_drift():
    views = report.feature_views(documents())
    assert [v.name for v in views][:2] == ["Day Mins", "Night Calls"]
    by_name = {v.name: v for v in views}
    assert by_name["Day Mins"].drifted and by_name["Day Mins"].drift > 0.1
    assert not by_name["Eve Mins"].drifted and by_name["Eve Mins"].drift < by_name["Day Mins"].drift
    assert by_name["Eve Mins"].raw > by_name["Eve Mins"].drift  # Robust subtracts the small-sample allowance
    names = [v.name for v in views]
    assert names.index("Eve Mins") < names.index("Churn Probability")  # larger raw distance first
    assert by_name["Night Calls"].drift is None  # types differ: no drift, as in the checks
    assert by_name["Night Calls"].type_share == "37.25% Integral"
    assert by_name["Day Mins"].type_share == "100% Fractional"
    assert by_name["Plan"].drift is not None and by_name["Plan"].method == "LInfinity"
    assert by_name["Day Mins"].completeness == 1.0


def test_the_report_uses_the_jobs_categorical_drift_method_as_the_checks_do():
    """A job configured for ChiSquared is drawn with the p-value the checks compared, not LInfinity."""
    docs = documents(categorical_drift_method="ChiSquared")
    plan = {v.name: v for v in report.feature_views(docs)}["Plan"]
    checked = checks.compare_feature("Plan", docs.baseline_statistics, docs.baseline_constraints, docs.statistics)
    assert plan.method == "ChiSquared" and plan.drift == checked.drift[0]
    assert plan.drift < 0.05 and plan.drifted  # a category appeared: the p-value is tiny
    raw = raw_documents()
    files = {"statistics.json": raw["statistics"], "constraint_violations.json": {"violations": []}}
    baseline = {"statistics.json": raw["baseline_statistics"], "constraints.json": raw["baseline_constraints"]}
    loaded = report.load_documents(
        {k: json.dumps(v).encode() for k, v in files.items()}, {k: json.dumps(v).encode() for k, v in baseline.items()},
        "run", categorical_drift_method="ChiSquared",
    )
    assert {v.name: v for v in report.feature_views(loaded)}["Plan"].method == "ChiSquared"


def test_page_is_self_contained_and_shows_the_run():
    page = report.render(documents())
    assert "http://" not in page and "https://" not in page and "<link" not in page and " src=" not in page
    assert "default-src 'none'" in page
    assert "<title>CompletedWithViolations: s3://bucket/reports/churn/churn-hourly/2024/05/01/12</title>" in page
    assert "2 across 2 features" in page and "2024-05-01T11:00Z..12:00Z" in page
    assert f"<td>{DRIFT.format('0.4805')}</td>" in page
    assert feature_order(page)[:2] == ["day mins", "night calls"]
    assert page.count("<svg") == 5
    # Violations open, the rest collapsed.
    assert len(re.findall(r'<details class="feature bad"[^>]* open>', page)) == 2
    assert page.count(" open>") == 2


def test_seventy_features_stay_collapsible():
    page = report.render(documents(extra_features=65))
    assert len(feature_order(page)) == 70
    assert page.count(" open>") == 2
    assert 'id="shown">70<' in page


def test_report_command_writes_the_file(tmp_path, capsys):
    docs = raw_documents()
    run, baseline = tmp_path / "run" / "2024" / "05" / "01" / "12", tmp_path / "baseline"
    run.mkdir(parents=True)
    baseline.mkdir()
    (run / "statistics.json").write_text(json.dumps(docs["statistics"]))
    violations = {"violations": [v.to_dict() for v in docs["violations"]]}
    (run / "constraint_violations.json").write_text(json.dumps(violations))
    (baseline / "statistics.json").write_text(json.dumps(docs["baseline_statistics"]))
    (baseline / "constraints.json").write_text(json.dumps(docs["baseline_constraints"]))
    assert main(["report", "--run", str(run), "--baseline", str(baseline)]) == 0
    page = (run / "report.html").read_text()
    assert "2024-05-01T11:00Z..12:00Z" in page and "Night Calls" in page
    (run / "constraint_violations.json").unlink()
    assert main(["report", "--run", str(run), "--baseline", str(baseline)]) == 1
    assert "has no constraint_violations.json" in capsys.readouterr().err


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The 70-feature report opened in headless Chromium: (screenshot PNG, page, errors)."""
    folder = tmp_path_factory.mktemp("report")
    path = folder / "report.html"
    path.write_text(report.render(documents(extra_features=65)), encoding="utf-8")
    with Chromium() as page:
        page.open(path.as_uri())
        shot = page.screenshot()
        (folder / "screenshot.png").write_bytes(shot)
        state = {
            "title": page.evaluate("document.title"),
            "features": page.evaluate("document.querySelectorAll('details.feature').length"),
            "open": page.evaluate("document.querySelectorAll('details.feature[open]').length"),
            "chart_width": page.evaluate("document.querySelector('details[open] svg').getBoundingClientRect().width"),
        }
        # The page's script: filter by name, then expand all.
        page.evaluate("var f = document.getElementById('filter'); f.value = 'state_0';"
                      "f.dispatchEvent(new Event('input'))")
        state["shown_after_filter"] = page.evaluate("document.getElementById('shown').textContent")
        page.evaluate("document.getElementById('expand').click()")
        state["open_after_expand"] = page.evaluate("document.querySelectorAll('details.feature[open]').length")
        errors = page.errors()
    return shot, state, errors


def test_chromium_renders_the_report_without_console_errors(rendered):
    _, state, errors = rendered
    assert errors == []
    assert state["title"].startswith("CompletedWithViolations")
    assert state["features"] == 70 and state["open"] == 2
    assert state["chart_width"] > 300
    assert state["shown_after_filter"] == "10"  # State_00 ... State_09
    assert state["open_after_expand"] == 70


def test_screenshot_is_not_blank(rendered):
    shot, _, _ = rendered
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    assert image.size == (1280, 1000)
    pixels = np.asarray(image).reshape(-1, 3)
    not_white = np.any(pixels < 235, axis=1).mean()
    colors = len(np.unique(pixels // 16, axis=0))
    assert not_white > 0.02, f"only {not_white:.1%} of the screenshot is not white"
    assert colors > 20, "the screenshot has almost no colours: no text or charts drawn"
    # The baseline and current series colours of the open charts are on screen.
    for color in (report.BASELINE_COLOR, report.CURRENT_COLOR):
        rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
        assert np.any(np.abs(pixels.astype(int) - rgb).sum(axis=1) < 12), f"no {color} pixels"
