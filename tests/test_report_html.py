"""The HTML monitoring report: content, order, self-containment, and a real render in headless Chromium."""

from __future__ import annotations

import html
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from analyzer import checks
from analyzer.kll import buckets
from analyzer.quality_checks import check_quality
from analyzer.quality_metrics import QualityAccumulator
from contract.documents import Constraints, Statistics
from contract.errors import QualityDocumentError
from contract.ground_truth import MERGE_SUMMARY_FILE, MergeSummary
from contract.model_quality import (
    BINARY,
    REGRESSION,
    QualityConstraints,
    QualityStatistics,
    constraints_document,
    metric_of_violation_name,
    quality_violations_document,
    statistics_document,
)
from contract.violations import Violation
from tests.browser import Chromium
from workshop import quality_report, report
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


# --- the model-quality view ----------------------------------------------------------------------


def quality_statistics(labels: np.ndarray, scores: np.ndarray, seed: int) -> dict:
    """A binary statistics.json computed by the analyzer (prediction: score > 0.5)."""
    accumulator = QualityAccumulator(BINARY, seed=seed)
    accumulator.add(labels, (scores > 0.5).astype(int), scores)
    return statistics_document(BINARY, accumulator.section(), accumulator.count)


def quality_folders() -> dict:
    """A good baseline (600 records) and a run (300 records) whose scores no longer follow the labels."""
    rng = np.random.default_rng(12)
    labels = (rng.random(600) < 0.2).astype(int)
    baseline = quality_statistics(labels, 1 / (1 + np.exp(-(4 * labels - 2 + rng.normal(0, 1.5, 600)))), seed=1)
    run_labels = (rng.random(300) < 0.3).astype(int)
    run = quality_statistics(run_labels, rng.beta(2, 5, 300), seed=2)
    constraints = constraints_document(BINARY, QualityStatistics.of(baseline))
    violations = check_quality(QualityStatistics.of(run), QualityConstraints.of(constraints))
    merge = MergeSummary(captures=325, labels=309, matched=300, unmatched_captures=25, unmatched_labels=7,
                         duplicate_labels=2, unusable_labels=3)
    return {
        "run": {"statistics.json": run, "constraint_violations.json": quality_violations_document(violations),
                MERGE_SUMMARY_FILE: merge.to_document()},
        "baseline": {"statistics.json": baseline, "constraints.json": constraints},
    }


def quality_documents() -> quality_report.QualityRunDocuments:
    folders = quality_folders()
    encoded = {side: {name: json.dumps(doc).encode() for name, doc in files.items()} for side, files in folders.items()}
    assert quality_report.is_quality_run(encoded["run"])
    return quality_report.load_documents(encoded["run"], encoded["baseline"], "reports/churn/churn-model-quality/"
                                         "2024/05/01/12", "2024-05-01T11:00Z..12:00Z")


def polyline_points(page: str, curve: str, kind: str) -> np.ndarray:
    """The (x, y) data values of one drawn curve, read back from its SVG pixels."""
    svg = re.search(rf'<svg[^>]*data-curve="{curve}".*?</svg>', page).group(0)
    points = re.search(rf'<polyline class="{kind}" points="([^"]+)"', svg).group(1)
    px = np.array([[float(v) for v in pair.split(",")] for pair in points.split()])
    inner = quality_report.CURVE_SIZE - 2 * quality_report.CURVE_PAD
    return np.column_stack([(px[:, 0] - quality_report.CURVE_PAD) / inner,
                            (quality_report.CURVE_SIZE - quality_report.CURVE_PAD - px[:, 1]) / inner])


def test_quality_curves_are_drawn_from_the_statistics():
    docs = quality_documents()
    page = quality_report.render(docs)
    for stats, kind in ((docs.statistics, "run"), (docs.baseline_statistics, "baseline")):
        fpr, tpr = stats.roc_curve
        precisions, recalls = stats.pr_curve
        assert len(fpr) > 100  # a point per distinct score, not a summary
        # Two decimals of a pixel on a 220-pixel axis.
        np.testing.assert_allclose(polyline_points(page, "ROC curve", kind), np.column_stack([fpr, tpr]), atol=5e-5)
        np.testing.assert_allclose(polyline_points(page, "precision-recall curve", kind),
                                   np.column_stack([recalls, precisions]), atol=5e-5)


def test_long_curves_are_thinned_keeping_their_ends():
    x = tuple(np.linspace(0, 1, 10_001) ** 2)
    y = tuple(np.sqrt(np.linspace(0, 1, 10_001)))
    xs, ys = quality_report.thin(x, y, limit=100)
    assert len(xs) == 100 and (xs[0], ys[0]) == (x[0], y[0]) and (xs[-1], ys[-1]) == (x[-1], y[-1])
    assert set(zip(xs, ys, strict=True)) <= set(zip(x, y, strict=True))
    assert quality_report.thin(x[:50], y[:50], limit=100)[0].tolist() == list(x[:50])


def test_quality_metrics_are_shown_against_their_thresholds():
    docs = quality_documents()
    page = quality_report.render(docs)
    violated = {metric_of_violation_name(v.metric_name) for v in docs.violations}
    assert {"auc", "recall", "f2"} <= violated  # the run's scores are uninformative
    marked = set(re.findall(r'<tr class="metric bad" data-metric="([^"]+)"', page))
    assert marked == violated
    rows = {r.name: r for r in quality_report.metric_rows(docs)}
    assert rows["f0_5"].state == "not checked" and rows["f0_5"].constraint is not None  # as the service
    assert rows["accuracy_best_constant_classifier"].state == "no constraint"
    auc = re.search(r'<tr class="metric bad" data-metric="auc">(.*?)</tr>', page).group(1)
    run_auc, base_auc = docs.statistics.metrics["auc"], docs.baseline_statistics.metrics["auc"]
    assert f"{run_auc.value:.4g} " in auc and f"± {run_auc.standard_deviation:.4g}" in auc
    assert f"<td>{docs.constraints.constraints['auc'].threshold:.4g}</td>" in auc and "LessThanThreshold" in auc
    assert f"{base_auc.value:.4g}" in auc and ">violated<" in auc
    assert "CompletedWithViolations" in page and f"{len(docs.violations)} of 10 checked metrics" in page
    for violation in docs.violations:
        assert f"<td>{html.escape(violation.description)}</td>" in page


def test_quality_view_shows_matrices_and_merge_counts_and_stays_offline():
    docs = quality_documents()
    page = quality_report.render(docs)
    assert "http://" not in page and "https://" not in page and " src=" not in page and "default-src 'none'" in page
    matrix = re.search(r'<table class="confusion" data-matrix="this run">(.*?)</table>', page).group(1)
    cells = [int(n.replace(",", "")) for n in re.findall(r'<td class="(?:right|wrong)">([\d,]+)</td>', matrix)]
    expected = docs.statistics.confusion_matrix
    assert cells == [expected["0"]["0"], expected["0"]["1"], expected["1"]["0"], expected["1"]["1"]]
    assert sum(cells) == 300
    for label, text in (("matched records", "300 of 325 captures"), ("unmatched captures", "25 (7.7%"),
                        ("unmatched labels", "7 (2.3%"), ("duplicate labels", "2 of 309 labels read"),
                        ("unusable records", "3 labels")):
        assert f"<dt>{label}</dt><dd>{text}" in page


def test_a_run_without_merge_summary_or_of_another_problem_type_is_named():
    folders = quality_folders()
    del folders["run"][MERGE_SUMMARY_FILE]
    encoded = {side: {name: json.dumps(doc).encode() for name, doc in files.items()} for side, files in folders.items()}
    page = quality_report.render(quality_report.load_documents(encoded["run"], encoded["baseline"], "run"))
    assert f"no {MERGE_SUMMARY_FILE} in the run folder" in page
    regression = {"version": 0.0, "regression_constraints": {"mae": {"threshold": 1.0,
                                                                     "comparison_operator": "GreaterThanThreshold"}}}
    encoded["baseline"]["constraints.json"] = json.dumps(regression).encode()
    with pytest.raises(QualityDocumentError, match="constraints.json: \\$: no binary_classification_constraints"):
        quality_report.load_documents(encoded["run"], encoded["baseline"], "run")
    assert not quality_report.is_quality_run({"statistics.json": json.dumps(raw_documents()["statistics"]).encode()})


def test_report_command_draws_a_model_quality_run(tmp_path, capsys):
    folders = quality_folders()
    run, baseline = tmp_path / "churn-model-quality" / "2024" / "05" / "01" / "12", tmp_path / "baseline"
    for folder, files in ((run, folders["run"]), (baseline, folders["baseline"])):
        folder.mkdir(parents=True)
        for name, document in files.items():
            (folder / name).write_text(json.dumps(document))
    assert main(["report", "--run", str(run), "--baseline", str(baseline / "statistics.json")]) == 0
    page = (run / "report.html").read_text()
    assert "<h1>Model quality monitoring run</h1>" in page and "2024-05-01T11:00Z..12:00Z" in page
    assert page.count("<polyline") == 4
    (baseline / "constraints.json").write_text('{"version": 0.0, "binary_classification_constraints": '
                                               '{"auc": {"threshold": 0.9, "comparison_operator": "Below"}}}')
    assert main(["report", "--run", str(run), "--baseline", str(baseline)]) == 1
    assert "'Below' is not an operator" in capsys.readouterr().err


@pytest.fixture(scope="module")
def rendered_quality(tmp_path_factory):
    """The model-quality report in headless Chromium: (whole-page screenshot, page state, errors, documents)."""
    path = tmp_path_factory.mktemp("quality-report") / "report.html"
    docs = quality_documents()
    path.write_text(quality_report.render(docs), encoding="utf-8")
    with Chromium() as page:
        page.open(path.as_uri())
        state = {
            "curves": page.evaluate(
                "Array.from(document.querySelectorAll('svg[data-curve] polyline')).map("
                "p => { var b = p.getBBox(); return [p.getAttribute('class'), b.width, b.height]; })"),
            "text": page.evaluate("document.body.innerText"),
            "bad_rows": page.evaluate("document.querySelectorAll('tr.metric.bad').length"),
        }
        shot = page.screenshot(full_page=True)  # the curves are below the first screen
        errors = page.errors()
    return shot, state, errors, docs


def test_chromium_renders_the_quality_report(rendered_quality):
    shot, state, errors, docs = rendered_quality
    assert errors == []
    assert [kind for kind, _, _ in state["curves"]] == ["baseline", "run", "baseline", "run"]
    assert all(width > 100 and height > 50 for _, width, height in state["curves"])  # drawn across the plot
    assert state["bad_rows"] == len(docs.violations)
    auc = docs.statistics.metrics["auc"]
    assert f"{auc.value:.4g} ± {auc.standard_deviation:.4g}" in state["text"]
    assert "unmatched captures\n25 (7.7%" in state["text"].replace("\t", "\n")
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    assert image.size[0] == 1280 and image.size[1] > 1000
    image = np.asarray(image).reshape(-1, 3).astype(int)
    for color in (report.BASELINE_COLOR, report.CURRENT_COLOR):
        rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(image - rgb).sum(axis=1) < 12).sum() > 200, f"the {color} curve is not on screen"


def test_other_problem_types_and_odd_curves_are_drawn_with_what_there_is():
    rng = np.random.default_rng(3)
    accumulator = QualityAccumulator(REGRESSION, seed=1)
    labels = rng.normal(10, 2, 150)
    accumulator.add(labels, labels + rng.normal(0, 1, 150))
    statistics = statistics_document(REGRESSION, accumulator.section(), accumulator.count)
    constraints = constraints_document(REGRESSION, QualityStatistics.of(statistics))
    run = {"statistics.json": statistics, "constraint_violations.json": {"violations": []}}
    baseline = {"statistics.json": statistics, "constraints.json": constraints}
    encoded = [{name: json.dumps(doc).encode() for name, doc in files.items()} for files in (run, baseline)]
    page = quality_report.render(quality_report.load_documents(*encoded, "run"))
    assert "<title>Completed: run</title>" in page and "Regression" in page
    assert "<svg" not in page and "<table class=\"confusion\"" not in page  # no curves, no matrix
    assert re.findall(r'data-metric="(\w+)"', page) == ["mae", "mse", "rmse", "r2"]
    assert "NaN (under 200 records)" in page  # 150 records: no deviations
    # A hand-edited curve whose lists differ in length is named, not drawn.
    chart = quality_report.curve_chart("ROC curve", ("x", "y"), ((0.0, 1.0), (0.0, 0.5, 1.0)), None, True)
    assert "<polyline" not in chart and "this run&#x27;s curve has 2 x but 3 y values: not drawn" in chart


@pytest.mark.parametrize("damage, expected", [
    (lambda c: c.update(features=[]), "the baseline's constraints.json: $.features is empty"),
    (lambda c: c["features"][0].update(completeness="full"), "$.features[0].completeness is \"full\""),
])
def test_a_damaged_baseline_constraints_file_is_named_not_drawn(damage, expected):
    raw = raw_documents()
    damage(raw["baseline_constraints"])
    files = {"statistics.json": raw["statistics"], "constraint_violations.json": {"violations": []}}
    baseline = {"statistics.json": raw["baseline_statistics"], "constraints.json": raw["baseline_constraints"]}
    with pytest.raises(ValueError) as error:
        report.load_documents({k: json.dumps(v).encode() for k, v in files.items()},
                              {k: json.dumps(v).encode() for k, v in baseline.items()}, "run")
    assert expected in str(error.value)


def test_json_nested_too_deep_is_named_as_not_valid_json():
    raw = raw_documents()
    files = {"statistics.json": b"[" * 100_000 + b"]" * 100_000, "constraint_violations.json": b'{"violations": []}'}
    baseline = {"statistics.json": json.dumps(raw["baseline_statistics"]).encode(),
                "constraints.json": json.dumps(raw["baseline_constraints"]).encode()}
    with pytest.raises(ValueError, match=r"run/statistics.json is not valid JSON"):
        report.load_documents(files, baseline, "run")
