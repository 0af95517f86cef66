"""The model-quality view of a monitoring run's HTML report: one self-contained page, no network.

Summary (records scored, the merge's unmatched counts), the violations, every metric of the run
against the baseline's value and its constraint (value +/- standard deviation, threshold, operator,
violated or not), the confusion matrices, and the ROC and precision-recall curves of the run drawn
over the baseline's as inline SVG. Documents are read only through the typed views of
`contract.model_quality` (and `contract.ground_truth` for the merge summary).

A run folder is a model-quality one when its statistics.json holds a model-quality metrics section
(`binary_classification_metrics`, ...): the documents say what they are, so the report needs no
option that could contradict them.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from contract.errors import QualityDocumentError
from contract.ground_truth import MERGE_SUMMARY_FILE, MergeSummary
from contract.layout import CONSTRAINTS_FILE, STATISTICS_FILE, VIOLATIONS_FILE
from contract.model_quality import (
    LESS_THAN,
    MIN_RECORDS_FOR_DEVIATION,
    MetricValue,
    QualityConstraint,
    QualityConstraints,
    QualityStatistics,
    QualityViolation,
    checked_metrics,
    metric_of_violation_name,
    parse_quality_violations,
    problem_type_of_section,
    scalar_metrics,
)
from contract.processing import COMPLETED, COMPLETED_WITH_VIOLATIONS
from workshop.report import BASELINE_COLOR, CURRENT_COLOR, page

CURVE_SIZE, CURVE_PAD = 300, 40  # a square plot: both axes run from 0 to 1
MAX_CURVE_POINTS = 2_000  # a curve has a point per distinct score: thin it to keep the page light
_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class QualityRunDocuments:
    """The files a model-quality report is drawn from, through their typed views."""

    statistics: QualityStatistics  # the run's statistics.json
    violations: list[QualityViolation]
    baseline_statistics: QualityStatistics
    constraints: QualityConstraints  # the baseline's constraints.json, as the run checked them
    merge: MergeSummary | None  # the run's merge summary (None when the folder has none)
    title: str
    window: str = ""


@dataclass(frozen=True)
class MetricRow:
    """One scalar metric of the run beside the baseline's value and its constraint."""

    name: str  # the statistics.json key
    value: MetricValue
    baseline: MetricValue | None
    constraint: QualityConstraint | None
    checked: bool  # whether a monitoring run evaluates it (the service skips binary f0_5)
    violated: bool  # whether the run's constraint_violations.json lists it

    @property
    def state(self) -> str:
        if self.violated:
            return "violated"
        if self.constraint is None:
            return "no constraint"
        return "ok" if self.checked else "not checked"


def metric_rows(docs: QualityRunDocuments) -> list[MetricRow]:
    """The run's scalar metrics in statistics order; violated = listed in the run's violations."""
    problem_type = docs.statistics.problem_type
    violated = {metric_of_violation_name(v.metric_name) for v in docs.violations}
    checked = set(checked_metrics(problem_type))
    return [
        MetricRow(
            name=name,
            value=docs.statistics.metrics[name],
            baseline=docs.baseline_statistics.metric(name),
            constraint=docs.constraints.constraints.get(name),
            checked=name in checked,
            violated=name in violated,
        )
        for name in scalar_metrics(problem_type)
        if name in docs.statistics.metrics
    ]


# --- SVG curves ----------------------------------------------------------------------------------


def thin(x: tuple[float, ...], y: tuple[float, ...], limit: int = MAX_CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most `limit` points of a curve, evenly spaced along it, first and last always kept."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(xs) <= limit:
        return xs, ys
    keep = np.unique(np.linspace(0, len(xs) - 1, limit).round().astype(int))
    return xs[keep], ys[keep]


def pixels(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plot coordinates of points in [0, 1] x [0, 1] (y grows upwards)."""
    inner = CURVE_SIZE - 2 * CURVE_PAD
    return CURVE_PAD + x * inner, CURVE_SIZE - CURVE_PAD - y * inner


def _mismatch(points: tuple | None, whose: str) -> str:
    """Why a curve cannot be drawn (a hand-edited file whose lists differ in length), else ''."""
    if points is None or len(points[0]) == len(points[1]):
        return ""
    return f"{whose} curve has {len(points[0])} x but {len(points[1])} y values: not drawn"


def _polyline(points: tuple | None, kind: str, color: str) -> str:
    if not points or not points[0] or _mismatch(points, kind):
        return ""
    px, py = pixels(*thin(*points))
    coordinates = " ".join(f"{a:.2f},{b:.2f}" for a, b in zip(px, py, strict=True))
    return (
        f'<polyline class="{kind}" points="{coordinates}" fill="none" stroke="{color}" stroke-width="2" '
        f'stroke-linejoin="round"/>'
    )


def _axes(x_label: str, y_label: str) -> list[str]:
    low, high = CURVE_PAD, CURVE_SIZE - CURVE_PAD
    parts = [
        f'<rect x="{low}" y="{low}" width="{high - low}" height="{high - low}" fill="none" class="axis"/>',
        f'<text x="{CURVE_SIZE / 2}" y="{CURVE_SIZE - 6}" text-anchor="middle">{html.escape(x_label)}</text>',
        f'<text x="12" y="{CURVE_SIZE / 2}" text-anchor="middle" transform="rotate(-90 12 {CURVE_SIZE / 2})">'
        f"{html.escape(y_label)}</text>",
    ]
    for tick in _TICKS:
        (px,), (py,) = pixels(np.array([tick]), np.array([tick]))
        parts.append(f'<text x="{px:.1f}" y="{high + 14}" text-anchor="middle">{tick:g}</text>')
        parts.append(f'<text x="{low - 4}" y="{py + 4:.1f}" text-anchor="end">{tick:g}</text>')
    return parts


def curve_chart(name: str, axes: tuple[str, str], run: tuple | None, baseline: tuple | None, diagonal: bool) -> str:
    """One curve of the run (orange) over the baseline's (blue); `run`/`baseline` are (x values, y values)."""
    if not run and not baseline:
        return f'<p class="muted">No {html.escape(name)} in the statistics.</p>'
    parts = _axes(*axes)
    if diagonal:  # a classifier that guesses: the reference an ROC curve is read against
        low, high = CURVE_PAD, CURVE_SIZE - CURVE_PAD
        parts.append(f'<line x1="{low}" y1="{high}" x2="{high}" y2="{low}" class="axis" stroke-dasharray="4 4"/>')
    parts += [_polyline(baseline, "baseline", BASELINE_COLOR), _polyline(run, "run", CURRENT_COLOR)]
    problems = [p for p in (_mismatch(baseline, "the baseline's"), _mismatch(run, "this run's")) if p]
    note = f'<br><span class="muted">{html.escape("; ".join(problems))}</span>' if problems else ""
    legend = (
        f'<rect x="{CURVE_PAD}" y="8" width="10" height="10" fill="{BASELINE_COLOR}"/>'
        f'<text x="{CURVE_PAD + 14}" y="17">baseline</text>'
        f'<rect x="{CURVE_PAD + 80}" y="8" width="10" height="10" fill="{CURRENT_COLOR}"/>'
        f'<text x="{CURVE_PAD + 94}" y="17">this run</text>'
    )
    return (
        f'<figure class="curve"><svg viewBox="0 0 {CURVE_SIZE} {CURVE_SIZE}" width="{CURVE_SIZE}" '
        f'height="{CURVE_SIZE}" role="img" aria-label="{html.escape(name)}" data-curve="{html.escape(name)}">'
        f'{legend}{"".join(parts)}</svg><figcaption>{html.escape(name)}{note}</figcaption></figure>'
    )


def curves_html(docs: QualityRunDocuments) -> str:
    """ROC (x false positive rate, y true positive rate) and PR (x recall, y precision) curves."""
    run, base = docs.statistics, docs.baseline_statistics
    if run.roc_curve is None and run.pr_curve is None:
        return ""

    def recall_precision(curve: tuple | None) -> tuple | None:
        return None if curve is None else (curve[1], curve[0])  # statistics.json stores (precisions, recalls)

    roc = curve_chart("ROC curve", ("false positive rate", "true positive rate"), run.roc_curve, base.roc_curve, True)
    pr = curve_chart(
        "precision-recall curve", ("recall", "precision"),
        recall_precision(run.pr_curve), recall_precision(base.pr_curve), False,
    )  # fmt: skip
    return f'<h2>Curves (this run over the baseline)</h2><div class="curves">{roc}{pr}</div>'


# --- tables ---------------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    return "NaN" if math.isnan(value) else f"{value:.4g}"


def _with_deviation(metric: MetricValue | None) -> str:
    if metric is None:
        return "–"
    deviation = metric.standard_deviation
    shown = f"NaN (under {MIN_RECORDS_FOR_DEVIATION} records)" if math.isnan(deviation) else _number(deviation)
    return f"{_number(metric.value)} <span class=\"muted\">± {shown}</span>"


def _metric_row(row: MetricRow) -> str:
    constraint = row.constraint
    relation = ""
    if constraint is not None:
        relation = "must not fall below" if constraint.comparison_operator == LESS_THAN else "must not exceed"
    cells = [
        f'<th>{html.escape(row.name)}</th>',
        f"<td>{_with_deviation(row.value)}</td>",
        f"<td>{_with_deviation(row.baseline)}</td>",
        f"<td>{_number(constraint.threshold) if constraint else '–'}</td>",
        f"<td>{html.escape(constraint.comparison_operator) if constraint else '–'}"
        f'{f" <span class=muted>({relation})</span>" if relation else ""}</td>',
        f'<td class="state">{row.state}</td>',
    ]
    state = " bad" if row.violated else ""
    return f'<tr class="metric{state}" data-metric="{html.escape(row.name)}">{"".join(cells)}</tr>'


def metrics_html(rows: list[MetricRow]) -> str:
    head = (
        "<tr><th>metric</th><th>this run (value ± std)</th><th>baseline</th><th>threshold</th>"
        "<th>operator</th><th>state</th></tr>"
    )
    return f'<table class="metrics">{head}{"".join(_metric_row(r) for r in rows)}</table>'


def _class_key(label: str) -> tuple:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def confusion_html(name: str, matrix: Mapping[str, Mapping[str, int]]) -> str:
    """A confusion matrix: rows the actual labels, columns the predicted ones, the diagonal correct."""
    labels = sorted({*matrix, *(p for row in matrix.values() for p in row)}, key=_class_key)
    head = "<tr><th>actual \\ predicted</th>" + "".join(f"<th>{html.escape(p)}</th>" for p in labels) + "</tr>"
    rows = "".join(
        f"<tr><th>{html.escape(a)}</th>"
        + "".join(
            f'<td class="{"right" if a == p else "wrong"}">{matrix.get(a, {}).get(p, 0):,}</td>' for p in labels
        )
        + "</tr>"
        for a in labels
    )
    caption = f"<caption>{html.escape(name)}</caption>"
    return f'<table class="confusion" data-matrix="{html.escape(name)}">{caption}{head}{rows}</table>'


def _merge_items(merge: MergeSummary | None) -> list[tuple[str, str]]:
    """The merge's counts: what was scored, and what was not (never dropped silently)."""
    if merge is None:
        return [("merge", f'<span class="muted">no {MERGE_SUMMARY_FILE} in the run folder</span>')]
    items = [
        ("matched records", f"{merge.matched:,} of {merge.captures:,} captures (join key: "
                            f"{html.escape(merge.join_key)})"),
        ("unmatched captures", f"{merge.unmatched_captures:,} ({merge.unmatched_capture_share:.1%}; predictions "
                               "without a label yet: not scored)"),
        ("unmatched labels", f"{merge.unmatched_labels:,} ({merge.unmatched_label_share:.1%}; labels without a "
                             "captured prediction in the window)"),
        ("duplicate labels", f"{merge.duplicate_labels:,} of {merge.labels:,} labels read (replaced by a later one)"),
    ]
    unusable = [(what, count) for what, count in (("captures", merge.unusable_captures),
                                                  ("labels", merge.unusable_labels)) if count]
    if unusable:
        items.append(("unusable records", ", ".join(f"{count:,} {what}" for what, count in unusable)
                      + " (see the run's log for file and line)"))
    return items


_STYLE = """
table.metrics td,table.confusion td{font-variant-numeric:tabular-nums}
tr.metric.bad{background:#fde8e4}tr.metric.bad th,tr.metric.bad td.state{color:#a02c17;font-weight:600}
.matrices{display:flex;flex-wrap:wrap;gap:24px}table.confusion caption{text-align:left;font-weight:600}
table.confusion td{text-align:right}td.right{background:#e3f4e8}td.wrong{background:#fdf1ee}
.curves{display:flex;flex-wrap:wrap;gap:24px}figure.curve{margin:0}figure.curve figcaption{text-align:center}
"""


def render(docs: QualityRunDocuments, generated: datetime | None = None) -> str:
    """The model-quality report page as one HTML string (styles and charts inline)."""
    rows = metric_rows(docs)
    status = COMPLETED_WITH_VIOLATIONS if docs.violations else COMPLETED
    generated = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%SZ")
    checked = [r for r in rows if r.checked and r.constraint is not None]
    summary = [
        ("run", html.escape(docs.title)),
        ("window", html.escape(docs.window or "–")),
        ("problem type", html.escape(docs.statistics.problem_type)),
        ("records scored", f"{docs.statistics.item_count:,} (baseline: {docs.baseline_statistics.item_count:,})"),
        *_merge_items(docs.merge),
        ("violations", f"{len(docs.violations)} of {len(checked)} checked metrics"),
        ("report generated", generated),
    ]
    violation_rows = "".join(
        f"<tr><td>{html.escape(v.metric_name)}</td><td>{html.escape(v.constraint_check_type)}</td>"
        f"<td>{html.escape(v.description)}</td></tr>"
        for v in docs.violations
    ) or '<tr><td colspan="3">No violations: every checked metric met its constraint.</td></tr>'
    matrices = [
        confusion_html(name, stats.confusion_matrix)
        for name, stats in (("this run", docs.statistics), ("baseline", docs.baseline_statistics))
        if stats.confusion_matrix
    ]
    return page(
        f"{status}: {docs.title}", "Model quality monitoring run", status, summary,
        f"<h2>Violations ({len(docs.violations)})</h2>"
        '<table class="violations"><tr><th>metric</th><th>check</th><th>description</th></tr>'
        f"{violation_rows}</table>"
        "<h2>Metrics against their constraints</h2>" + metrics_html(rows)
        + (f'<h2>Confusion matrices</h2><div class="matrices">{"".join(matrices)}</div>' if matrices else "")
        + curves_html(docs),
        _STYLE,
    )  # fmt: skip


def is_quality_run(run_files: Mapping[str, bytes]) -> bool:
    """Whether a run folder's statistics.json holds a model-quality metrics section."""
    try:
        document = json.loads(run_files.get(STATISTICS_FILE, b"{}"))
    except ValueError:
        return False  # the data-quality loader names the broken file
    return isinstance(document, dict) and any(problem_type_of_section(key) for key in document)


def _document(files: Mapping[str, bytes], name: str, where: str) -> object:
    try:
        return json.loads(files[name])
    except KeyError:
        raise QualityDocumentError(f"{where} has no {name}; is it a model-quality baseline folder?") from None
    except ValueError as error:
        raise QualityDocumentError(f"{where}/{name} is not valid JSON ({error})") from None


def load_documents(
    run_files: Mapping[str, bytes], baseline_files: Mapping[str, bytes], title: str, window: str = ""
) -> QualityRunDocuments:
    """Parse a model-quality run's and its baseline's files (name -> content); the error names a bad file."""
    if VIOLATIONS_FILE not in run_files:
        raise QualityDocumentError(f"{title} has no {VIOLATIONS_FILE}; did the monitoring run finish?")
    statistics = QualityStatistics.of(_document(run_files, STATISTICS_FILE, title), f"{title}/{STATISTICS_FILE}")
    problem_type = statistics.problem_type  # the baseline must be of the same kind of model
    baseline = {name: (_document(baseline_files, name, "the baseline"), f"the baseline's {name}")
                for name in (STATISTICS_FILE, CONSTRAINTS_FILE)}
    return QualityRunDocuments(
        statistics=statistics,
        violations=parse_quality_violations(run_files[VIOLATIONS_FILE].decode(), f"{title}/{VIOLATIONS_FILE}"),
        baseline_statistics=QualityStatistics.of(*baseline[STATISTICS_FILE], problem_type),
        constraints=QualityConstraints.of(*baseline[CONSTRAINTS_FILE], problem_type),
        merge=MergeSummary.of(_document(run_files, MERGE_SUMMARY_FILE, title), f"{title}/{MERGE_SUMMARY_FILE}")
        if MERGE_SUMMARY_FILE in run_files else None,
        title=title,
        window=window,
    )
