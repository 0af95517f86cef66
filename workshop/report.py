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
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from analyzer.checks import drift_exceeds, drift_value, feature_overrides, global_config, types_compatible
from analyzer.violations import Violation, check_order, parse_violations

BASELINE_COLOR = "#4c78a8"
CURRENT_COLOR = "#f58518"
CHART_W, CHART_H, PAD = 560, 150, 28
_TYPE_SHARE = re.compile(r"Observed: Only ([0-9.E+-]+)% of data is")


@dataclass(frozen=True)
class RunDocuments:
    """The files a report is drawn from (parsed JSON), and where they came from."""

    statistics: dict  # the run's statistics.json
    violations: list[Violation]
    baseline_statistics: dict
    baseline_constraints: dict
    title: str  # e.g. the run's location
    window: str = ""  # e.g. 2024-05-01T10:00Z..11:00Z


@dataclass
class FeatureView:
    name: str
    baseline_type: str
    current_type: str
    violations: list[Violation] = field(default_factory=list)
    drift: float | None = None
    raw: float | None = None  # the L-infinity distance before Robust's small-sample allowance
    threshold: float | None = None
    method: str = ""
    drifted: bool = False
    completeness: float | None = None
    expected_completeness: float | None = None
    type_share: str = ""
    baseline: dict = field(default_factory=dict)
    current: dict = field(default_factory=dict)

    @property
    def sort_key(self) -> tuple:
        # Violations first, then the largest drift relative to its threshold.
        ratio = (self.drift / self.threshold) if self.drift is not None and self.threshold else -1.0
        # Robust distances are mostly 0 on small windows: the raw distance orders the rest.
        return (not self.violations, -ratio if self.method != "ChiSquared" else ratio, -(self.raw or 0.0), self.name)


def _section(feature: Mapping) -> Mapping:
    return feature.get("numerical_statistics") or feature.get("string_statistics") or {}


def _type_share(view: FeatureView) -> str:
    """Share of present values of the baseline's type (statistics files do not store it)."""
    for v in view.violations:
        if v.constraint_check_type == "data_type_check":
            match = _TYPE_SHARE.search(v.description)
            if match:
                return f"{float(match.group(1)):.4g}% {view.baseline_type}"
    if types_compatible(view.baseline_type, view.current_type):
        return f"100% {view.baseline_type}"
    return f"type changed to {view.current_type}"


def feature_views(docs: RunDocuments) -> list[FeatureView]:
    """Per-feature comparison of the run against the baseline, in report order."""
    config = global_config(docs.baseline_constraints)
    constraints = {f["name"]: f for f in docs.baseline_constraints.get("features", [])}
    current = {f["name"]: f for f in docs.statistics.get("features", [])}
    item_count = int(docs.statistics.get("dataset", {}).get("item_count", 0))
    views = []
    for base in docs.baseline_statistics.get("features", []):
        name = base["name"]
        now = current.get(name, {})
        rule = constraints.get(name, {})
        view = FeatureView(
            name=name,
            baseline_type=rule.get("inferred_type", base.get("inferred_type", "Unknown")),
            current_type=now.get("inferred_type", "absent"),
            violations=[v for v in docs.violations if v.feature_name == name],
            baseline=base,
            current=now,
        )
        if now:
            local = config.merged(feature_overrides(rule), f"constraints.json feature {name!r} overrides")
            if types_compatible(view.baseline_type, view.current_type):
                measured = drift_value(base, now, local)
                if measured is not None:
                    view.drift, view.threshold, view.method = measured
                    view.drifted = drift_exceeds(*measured)
                    if view.method != "ChiSquared" and local.comparison_method == "Robust":
                        view.raw = drift_value(base, now, replace(local, comparison_method="Simple"))[0]
            present = _section(now).get("common", {}).get("num_present")
            if item_count and present is not None:
                view.completeness = present / item_count
        view.expected_completeness = rule.get("completeness")
        view.type_share = _type_share(view) if now else "absent from the run"
        views.append(view)
    return sorted(views, key=lambda v: v.sort_key)


# --- SVG ----------------------------------------------------------------------------------------


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _kll_buckets(feature: Mapping) -> list[tuple[float, float, float]]:
    buckets = feature.get("numerical_statistics", {}).get("distribution", {}).get("kll", {}).get("buckets", [])
    return [(float(b["lower_bound"]), float(b["upper_bound"]), float(b["count"])) for b in buckets]


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


def numeric_chart(baseline: Mapping, current: Mapping) -> str:
    """Baseline and current KLL bucket densities on one axis (the buckets' edges differ)."""
    base, now = _kll_buckets(baseline), _kll_buckets(current)
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


def categorical_chart(baseline: Mapping, current: Mapping, limit: int = 12) -> str:
    """Share of each category, baseline beside current (the most common `limit` categories)."""

    def shares(feature: Mapping) -> dict[str, float]:
        buckets = feature.get("string_statistics", {}).get("distribution", {}).get("categorical", {}).get("buckets")
        counts = {str(b["value"]): float(b["count"]) for b in buckets or []}
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
    word = "p-value" if view.method == "ChiSquared" else "drift"
    relation = ("&lt;" if view.drifted else "≥") if view.method == "ChiSquared" else ("&gt;" if view.drifted else "≤")
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
        cells = [_section(f).get(key) for f in (view.baseline, view.current)]
        return f"<tr><th>{label}</th>" + "".join(f"<td>{_num(c)}</td>" for c in cells) + "</tr>"

    common = [_section(f).get("common", {}) for f in (view.baseline, view.current)]
    rows = [
        "<tr><th></th><th>baseline</th><th>this run</th></tr>",
        f"<tr><th>type</th><td>{html.escape(view.baseline_type)}</td><td>{html.escape(view.current_type)}</td></tr>",
        "<tr><th>present / missing</th>"
        + "".join(f"<td>{c.get('num_present', '–')} / {c.get('num_missing', '–')}</td>" for c in common)
        + "</tr>",
    ]
    if "numerical_statistics" in view.baseline or "numerical_statistics" in view.current:
        rows += [row(label, key) for label, key in (("mean", "mean"), ("std dev", "std_dev"), ("min", "min"),
                                                    ("max", "max"))]
    else:
        rows.append(row("distinct", "distinct_count"))
    return f'<table class="stats">{"".join(rows)}</table>'


def _feature_html(view: FeatureView) -> str:
    numeric = "numerical_statistics" in view.baseline
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
    status = "CompletedWithViolations" if violations else "Completed"
    drifted = [v.name for v in views if v.drifted]
    item_count = docs.statistics.get("dataset", {}).get("item_count", "–")
    baseline_count = docs.baseline_statistics.get("dataset", {}).get("item_count", "–")
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
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        # Nothing may load from the network: the page must work from a file, offline.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{status}: {html.escape(docs.title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Data quality monitoring run</h1>"
        f'<p><span class="status {"warn" if violations else "ok"}">{status}</span></p>'
        '<dl class="summary">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in summary) + "</dl>"
        f"<h2>Violations ({len(violations)})</h2>"
        '<table class="violations"><tr><th>feature</th><th>check</th><th>description</th></tr>'
        f"{violation_rows}</table>"
        f'<h2>Features (<span id="shown">{len(views)}</span> of {len(views)}; violations first, then by drift)</h2>'
        '<div class="tools"><input id="filter" type="search" placeholder="Filter features by name" '
        'aria-label="Filter features by name"><button id="expand" type="button">Expand all</button>'
        '<button id="collapse" type="button">Collapse all</button></div>'
        + "".join(_feature_html(v) for v in views)
        + f"<script>{_SCRIPT}</script></body></html>\n"
    )


def load_documents(
    run_files: Mapping[str, bytes], baseline_files: Mapping[str, bytes], title: str, window: str = ""
) -> RunDocuments:
    """Parse the run's and the baseline's files (name -> content); ValueError names a bad file."""
    def parsed(files: Mapping[str, bytes], name: str, where: str) -> dict:
        try:
            document = json.loads(files[name])
        except KeyError:
            raise ValueError(f"{where} has no {name}; is it a monitoring run (or baseline) folder?") from None
        except ValueError as exc:
            raise ValueError(f"{where}/{name} is not valid JSON ({exc})") from None
        if not isinstance(document, dict) or not isinstance(document.get("features"), list):
            raise ValueError(f"{where}/{name} has no 'features' list")
        return document

    if "constraint_violations.json" not in run_files:
        raise ValueError(f"{title} has no constraint_violations.json; did the monitoring run finish?")
    name = "constraint_violations.json"
    violations = parse_violations(run_files[name].decode(), f"{title}/{name}")
    return RunDocuments(
        statistics=parsed(run_files, "statistics.json", title),
        violations=violations,
        baseline_statistics=parsed(baseline_files, "statistics.json", "the baseline"),
        baseline_constraints=parsed(baseline_files, "constraints.json", "the baseline"),
        title=title,
        window=window,
    )
