"""One self-contained HTML page per monitoring run: open it from disk, no network needed.

Summary, the violations table, then one collapsible section per feature (those with violations
first, then by drift distance): baseline-versus-current distributions drawn as inline SVG from
the KLL buckets (numeric) or category counts (String), the drift distance against its threshold,
completeness and the share of values of the baseline's type. Drift distances are recomputed from
the sketches with the analyzer's own code, so they are the numbers the checks compared.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from analyzer.checks import FeatureComparison, compare_feature, drift_value, types_compatible
from contract.documents import Constraints, FeatureStatistics, Statistics, check_constraints_columns
from contract.layout import CONSTRAINTS_FILE, STATISTICS_FILE, VIOLATIONS_FILE
from contract.processing import COMPLETED, COMPLETED_WITH_VIOLATIONS
from contract.violations import CHI_SQUARED, DataTypeMismatch, Violation, check_order, parse_violations

BASELINE_COLOR = "#4c78a8"
CURRENT_COLOR = "#f58518"
CHART_W, CHART_H, PAD = 560, 150, 28
ABSENT = FeatureStatistics({"name": ""})  # stands in for a feature the run does not have


@dataclass(frozen=True)
class RunDocuments:
    """The files a report is drawn from, read through `contract.documents`, and where they came from."""

    statistics: Statistics  # the run's statistics.json
    violations: list[Violation]
    baseline_statistics: Statistics
    baseline_constraints: Constraints  # with the job's categorical_drift_method applied
    title: str  # e.g. the run's location
    window: str = ""  # e.g. 2024-05-01T10:00Z..11:00Z


@dataclass
class FeatureView:
    """A feature as the checks compared it (`analyzer.checks.compare_feature`), with its violations."""

    comparison: FeatureComparison
    violations: list[Violation] = field(default_factory=list)
    raw: float | None = None  # the L-infinity distance before Robust's small-sample allowance

    @property
    def name(self) -> str:
        return self.comparison.name

    @property
    def baseline(self) -> FeatureStatistics:
        return self.comparison.baseline

    @property
    def current(self) -> FeatureStatistics:
        return self.comparison.current or ABSENT

    @property
    def baseline_type(self) -> str:
        return self.comparison.expected_type

    @property
    def current_type(self) -> str:
        return self.comparison.current.inferred_type if self.comparison.current else "absent"

    @property
    def drift(self) -> float | None:
        return self.comparison.drift[0] if self.comparison.drift else None

    @property
    def threshold(self) -> float | None:
        return self.comparison.drift[1] if self.comparison.drift else None

    @property
    def method(self) -> str:
        return self.comparison.drift[2] if self.comparison.drift else ""

    @property
    def drifted(self) -> bool:
        return self.comparison.drifted

    @property
    def completeness(self) -> float | None:
        return self.comparison.completeness

    @property
    def expected_completeness(self) -> float | None:
        return self.comparison.expected_completeness

    @property
    def type_share(self) -> str:
        """Share of present values of the baseline's type (statistics files do not store it)."""
        if self.comparison.current is None:
            return "absent from the run"
        for v in self.violations:
            if isinstance(v.details, DataTypeMismatch):
                return f"{v.details.observed_percent:.4g}% {self.baseline_type}"
        if types_compatible(self.baseline_type, self.current_type):
            return f"100% {self.baseline_type}"
        return f"type changed to {self.current_type}"

    @property
    def sort_key(self) -> tuple:
        # Violations first, then the largest drift relative to its threshold.
        ratio = (self.drift / self.threshold) if self.drift is not None and self.threshold else -1.0
        # Robust distances are mostly 0 on small windows: the raw distance orders the rest.
        return (not self.violations, -ratio if self.method != CHI_SQUARED else ratio, -(self.raw or 0.0), self.name)


def feature_views(docs: RunDocuments) -> list[FeatureView]:
    """Per-feature comparison of the run against the baseline, in report order."""
    views = []
    for name in docs.baseline_statistics.names:
        comparison = compare_feature(name, docs.baseline_statistics, docs.baseline_constraints, docs.statistics)
        view = FeatureView(comparison, [v for v in docs.violations if v.feature_name == name])
        if comparison.drift and view.method != CHI_SQUARED and comparison.config.comparison_method == "Robust":
            simple = replace(comparison.config, comparison_method="Simple")
            view.raw = drift_value(comparison.baseline, comparison.current, simple)[0]
        views.append(view)
    return sorted(views, key=lambda v: v.sort_key)


# --- SVG ----------------------------------------------------------------------------------------


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _bars(buckets: list[tuple[float, float, float]], x, lo: float, hi: float) -> list[tuple[float, float, float]]:
    """(x, width, density) per bucket in pixels; a constant column becomes one narrow spike."""
    total = sum(c for _, _, c in buckets) or 1.0
    span = hi - lo
    spike = max(span * 0.02, 1e-12)
    bars = []
    for low, high, count in buckets:
        if count <= 0:
            continue
        width = high - low if high > low else spike
        start = low if high > low else low - spike / 2
        bars.append((x(start), max(x(start + width) - x(start), 1.0), count / total / width))
    return bars


def numeric_chart(baseline: FeatureStatistics, current: FeatureStatistics) -> str:
    """Baseline and current KLL bucket densities on one axis (the buckets' edges differ)."""
    base, now = baseline.kll_buckets, current.kll_buckets
    edges = [e for b in (base, now) for low, high, _ in b for e in (low, high)]
    if not edges:
        return '<p class="muted">No distribution in the statistics (no numeric values).</p>'
    lo, hi = min(edges), max(edges)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    inner = CHART_W - 2 * PAD

    def x(value: float) -> float:
        return PAD + (value - lo) / (hi - lo) * inner

    series = [(BASELINE_COLOR, _bars(base, x, lo, hi)), (CURRENT_COLOR, _bars(now, x, lo, hi))]
    top = max((d for _, bars in series for _, _, d in bars), default=1.0) or 1.0
    plot_h = CHART_H - 2 * PAD
    parts = []
    for color, bars in series:
        for left, width, density in bars:
            height = density / top * plot_h
            parts.append(
                f'<rect x="{left:.1f}" y="{CHART_H - PAD - height:.1f}" width="{width:.1f}" '
                f'height="{height:.1f}" fill="{color}" fill-opacity="0.45" stroke="{color}"/>'
            )
    ticks = [lo + (hi - lo) * i / 4 for i in range(5)]
    for value in ticks:
        parts.append(
            f'<text x="{x(value):.1f}" y="{CHART_H - PAD + 14}" text-anchor="middle">{html.escape(_num(value))}</text>'
        )
    parts.append(f'<line x1="{PAD}" y1="{CHART_H - PAD}" x2="{CHART_W - PAD}" y2="{CHART_H - PAD}" class="axis"/>')
    return _svg("density per bucket", parts)


def categorical_chart(baseline: FeatureStatistics, current: FeatureStatistics, limit: int = 12) -> str:
    """Share of each category, baseline beside current (the most common `limit` categories)."""

    def shares(feature: FeatureStatistics) -> dict[str, float]:
        counts = {value: float(count) for value, count in (feature.categories or {}).items()}
        total = sum(counts.values()) or 1.0
        return {k: v / total for k, v in counts.items()}

    base, now = shares(baseline), shares(current)
    if not base and not now:
        return '<p class="muted">No category counts in the statistics (too many distinct values).</p>'
    values = sorted(set(base) | set(now), key=lambda v: (-max(base.get(v, 0), now.get(v, 0)), v))[:limit]
    top = max(max(base.get(v, 0), now.get(v, 0)) for v in values) or 1.0
    slot = (CHART_W - 2 * PAD) / len(values)
    plot_h = CHART_H - 2 * PAD
    parts = [f'<line x1="{PAD}" y1="{CHART_H - PAD}" x2="{CHART_W - PAD}" y2="{CHART_H - PAD}" class="axis"/>']
    for i, value in enumerate(values):
        left = PAD + i * slot
        for j, (color, share) in enumerate(((BASELINE_COLOR, base.get(value, 0)), (CURRENT_COLOR, now.get(value, 0)))):
            height = share / top * plot_h
            parts.append(
                f'<rect x="{left + slot * (0.1 + 0.4 * j):.1f}" y="{CHART_H - PAD - height:.1f}" '
                f'width="{slot * 0.4:.1f}" height="{height:.1f}" fill="{color}" fill-opacity="0.7"/>'
            )
        parts.append(
            f'<text x="{left + slot / 2:.1f}" y="{CHART_H - PAD + 14}" text-anchor="middle">'
            f"{html.escape(value[:10])}</text>"
        )
    return _svg("share per category", parts)


def _svg(label: str, parts: list[str]) -> str:
    legend = (
        f'<rect x="{CHART_W - 190}" y="6" width="10" height="10" fill="{BASELINE_COLOR}"/>'
        f'<text x="{CHART_W - 176}" y="15">baseline</text>'
        f'<rect x="{CHART_W - 110}" y="6" width="10" height="10" fill="{CURRENT_COLOR}"/>'
        f'<text x="{CHART_W - 96}" y="15">this run</text>'
        f'<text x="{PAD}" y="15" class="muted">{html.escape(label)}</text>'
    )
    return (
        f'<svg viewBox="0 0 {CHART_W} {CHART_H}" width="{CHART_W}" height="{CHART_H}" role="img" '
        f'aria-label="{html.escape(label)}">{legend}{"".join(parts)}</svg>'
    )


# --- HTML ---------------------------------------------------------------------------------------


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.4g}%"


def _drift_cell(view: FeatureView) -> str:
    if view.drift is None:
        return '<span class="muted">no drift computed</span>'
    word = "p-value" if view.method == CHI_SQUARED else "drift"
    relation = ("&lt;" if view.drifted else "≥") if view.method == CHI_SQUARED else ("&gt;" if view.drifted else "≤")
    scale = max(view.drift, (view.threshold or 0) * 2, 1e-12)
    bar = (
        f'<span class="bar"><span class="fill{" hot" if view.drifted else ""}" '
        f'style="width:{min(view.drift / scale, 1) * 100:.1f}%"></span>'
        f'<span class="mark" style="left:{(view.threshold or 0) / scale * 100:.1f}%"></span></span>'
    )
    raw = f' <span class="muted">(raw L∞ {_num(view.raw)})</span>' if view.raw is not None else ""
    return f"{word} {_num(view.drift)} {relation} {_num(view.threshold)} {bar}{raw}"


def _stats_table(view: FeatureView) -> str:
    def row(label: str, key: str) -> str:
        cells = [f.section.get(key) for f in (view.baseline, view.current)]
        return f"<tr><th>{label}</th>" + "".join(f"<td>{_num(c)}</td>" for c in cells) + "</tr>"

    common = [f.section.get("common", {}) for f in (view.baseline, view.current)]
    rows = [
        "<tr><th></th><th>baseline</th><th>this run</th></tr>",
        f"<tr><th>type</th><td>{html.escape(view.baseline_type)}</td><td>{html.escape(view.current_type)}</td></tr>",
        "<tr><th>present / missing</th>"
        + "".join(f"<td>{c.get('num_present', '–')} / {c.get('num_missing', '–')}</td>" for c in common)
        + "</tr>",
    ]
    if view.baseline.has_numerical or view.current.has_numerical:
        rows += [row(label, key) for label, key in (("mean", "mean"), ("std dev", "std_dev"), ("min", "min"),
                                                    ("max", "max"))]
    else:
        rows.append(row("distinct", "distinct_count"))
    return f'<table class="stats">{"".join(rows)}</table>'


def _feature_html(view: FeatureView) -> str:
    numeric = view.baseline.has_numerical
    chart = numeric_chart(view.baseline, view.current) if numeric else categorical_chart(view.baseline, view.current)
    badges = "".join(
        f'<span class="badge">{html.escape(v.constraint_check_type)}</span>' for v in view.violations
    )
    notes = "".join(f"<li>{html.escape(v.description)}</li>" for v in view.violations)
    state = " bad" if view.violations else ""
    return (
        f'<details class="feature{state}" data-name="{html.escape(view.name.lower())}"'
        f'{" open" if view.violations else ""}>'
        f'<summary><span class="name">{html.escape(view.name)}</span>{badges}'
        f'<span class="cell">{_drift_cell(view)}</span>'
        f'<span class="cell">complete {_percent(view.completeness)} '
        f'(baseline {_percent(view.expected_completeness)})</span>'
        f'<span class="cell">{html.escape(view.type_share)}</span></summary>'
        f'<div class="body">{f"<ul>{notes}</ul>" if notes else ""}{chart}{_stats_table(view)}</div></details>'
    )


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.status{font-weight:600;padding:2px 8px;border-radius:4px;display:inline-block}
.ok{background:#e3f4e8;color:#1c6b34}.warn{background:#fde8e4;color:#a02c17}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:12px 0}
dl.summary dt{color:#5b6475}dl.summary dd{margin:0}
table{border-collapse:collapse}
td,th{padding:3px 10px;border-bottom:1px solid #e4e7ec;text-align:left;vertical-align:top}
table.violations{width:100%}table.stats td{font-variant-numeric:tabular-nums}
details.feature{border:1px solid #e4e7ec;border-radius:6px;margin:4px 0;padding:4px 10px}
details.feature.bad{border-color:#e8a598;background:#fffaf9}
summary{cursor:pointer;display:flex;flex-wrap:wrap;gap:6px 16px;align-items:center}
summary .name{font-weight:600;min-width:160px}.cell{color:#394150}
.badge{background:#a02c17;color:#fff;border-radius:10px;padding:0 8px;font-size:12px}
.bar{display:inline-block;position:relative;width:90px;height:8px;background:#eef0f4;border-radius:4px;
vertical-align:middle}.fill{position:absolute;left:0;top:0;bottom:0;background:#8fa3bf;border-radius:4px}
.fill.hot{background:#d1492e}.mark{position:absolute;top:-3px;bottom:-3px;width:2px;background:#1d2330}
.body{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;padding:8px 0}.body ul{flex-basis:100%;margin:0}
svg text{font-size:11px;fill:#394150}svg .axis{stroke:#8a93a3}.muted{color:#6b7385}
.tools{display:flex;gap:8px;margin:8px 0}.tools input{flex:0 1 280px;padding:4px 8px}
"""

_SCRIPT = """
(function () {
  var features = Array.prototype.slice.call(document.querySelectorAll('details.feature'));
  var count = document.getElementById('shown');
  document.getElementById('filter').addEventListener('input', function (event) {
    var text = event.target.value.trim().toLowerCase(), shown = 0;
    features.forEach(function (item) {
      var match = item.dataset.name.indexOf(text) !== -1;
      item.hidden = !match;
      if (match) { shown += 1; }
    });
    count.textContent = String(shown);
  });
  function setAll(open) { features.forEach(function (item) { item.open = open; }); }
  document.getElementById('expand').addEventListener('click', function () { setAll(true); });
  document.getElementById('collapse').addEventListener('click', function () { setAll(false); });
})();
"""


def render(docs: RunDocuments, generated: datetime | None = None) -> str:
    """The report page as one HTML string (styles, charts and script inline)."""
    views = feature_views(docs)
    violations = sorted(docs.violations, key=check_order)
    status = COMPLETED_WITH_VIOLATIONS if violations else COMPLETED
    drifted = [v.name for v in views if v.drifted]
    item_count, baseline_count = docs.statistics.item_count, docs.baseline_statistics.item_count
    generated = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%SZ")
    summary = [
        ("run", html.escape(docs.title)),
        ("window", html.escape(docs.window or "–")),
        ("rows analysed", f"{item_count} (baseline: {baseline_count})"),
        ("violations", f"{len(violations)} across {len({v.feature_name for v in violations})} features"),
        ("drift above threshold", html.escape(", ".join(drifted)) or "none"),
        ("report generated", generated),
    ]
    violation_rows = "".join(
        f"<tr><td>{html.escape(v.feature_name)}</td><td>{html.escape(v.constraint_check_type)}</td>"
        f"<td>{html.escape(v.description)}</td></tr>"
        for v in violations
    ) or '<tr><td colspan="3">No violations: every check passed.</td></tr>'
    return page(
        f"{status}: {docs.title}", "Data quality monitoring run", status, summary,
        f"<h2>Violations ({len(violations)})</h2>"
        '<table class="violations"><tr><th>feature</th><th>check</th><th>description</th></tr>'
        f"{violation_rows}</table>"
        f'<h2>Features (<span id="shown">{len(views)}</span> of {len(views)}; violations first, then by drift)</h2>'
        '<div class="tools"><input id="filter" type="search" placeholder="Filter features by name" '
        'aria-label="Filter features by name"><button id="expand" type="button">Expand all</button>'
        '<button id="collapse" type="button">Collapse all</button></div>'
        + "".join(_feature_html(v) for v in views)
        + f"<script>{_SCRIPT}</script>",
    )


def page(title: str, heading: str, status: str, summary: list[tuple[str, str]], body: str, style: str = "") -> str:
    """The page shell both reports share: head (inline styles, no network), heading, status, summary list.
    `summary` values, `body` and `style` (rules added to the shared ones) are HTML; `title` is text."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        # Nothing may load from the network: the page must work from a file, offline.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}{style}</style></head><body>"
        f"<h1>{heading}</h1>"
        f'<p><span class="status {"ok" if status == COMPLETED else "warn"}">{status}</span></p>'
        '<dl class="summary">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in summary) + "</dl>"
        f"{body}</body></html>\n"
    )


def load_documents(
    run_files: Mapping[str, bytes],
    baseline_files: Mapping[str, bytes],
    title: str,
    window: str = "",
    categorical_drift_method: str | None = None,
) -> RunDocuments:
    """Parse the run's and the baseline's files (name -> content); ValueError names a bad file.
    `categorical_drift_method`: the run's job-level method, if it set one (as the checks applied it)."""

    def parsed(files: Mapping[str, bytes], name: str, where: str) -> dict:
        try:
            document = json.loads(files[name])
        except KeyError:
            raise ValueError(f"{where} has no {name}; is it a monitoring run (or baseline) folder?") from None
        except (ValueError, RecursionError) as exc:  # also nesting too deep
            raise ValueError(f"{where}/{name} is not valid JSON ({exc})") from None
        if not isinstance(document, dict) or not isinstance(document.get("features"), list):
            raise ValueError(f"{where}/{name} has no 'features' list")
        return document

    if VIOLATIONS_FILE not in run_files:
        raise ValueError(f"{title} has no {VIOLATIONS_FILE}; did the monitoring run finish?")
    violations = parse_violations(run_files[VIOLATIONS_FILE].decode(), f"{title}/{VIOLATIONS_FILE}")
    baseline_statistics = Statistics.of(parsed(baseline_files, STATISTICS_FILE, "the baseline"),
                                        f"the baseline's {STATISTICS_FILE}")
    constraints_source = f"the baseline's {CONSTRAINTS_FILE}"
    baseline_constraints = Constraints.of(parsed(baseline_files, CONSTRAINTS_FILE, "the baseline"),
                                          constraints_source, categorical_drift_method)
    check_constraints_columns(baseline_constraints, baseline_statistics.names, constraints_source)
    return RunDocuments(
        statistics=Statistics.of(parsed(run_files, STATISTICS_FILE, title), f"{title}/{STATISTICS_FILE}"),
        violations=violations,
        baseline_statistics=baseline_statistics,
        baseline_constraints=baseline_constraints,
        title=title,
        window=window,
    )
