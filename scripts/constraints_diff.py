#!/usr/bin/env python3
"""The data gate: what changed in the data contract (`constraints.json`) between two baselines.

Usage: python -m scripts.constraints_diff --head HEAD.json [--base BASE.json] [--output SUMMARY.md]

Compares column order, each feature's inferred type, completeness, non-negativity, string domains and
per-feature overrides, and the `monitoring_config` block, then prints a Markdown summary for a
pull-request comment. Without `--base` (the base branch could not build a baseline) every head feature
is reported as new. Exit codes: 0 summary written (with or without changes), 1 an input could not be
read (the message names the file and what to do), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.documents import FeatureConstraints
from scripts.pr_section import EXIT_UNREADABLE, emit_section  # noqa: F401 (EXIT_UNREADABLE: this script's exit code)

MAX_LISTED_VALUES = 10
CONFIG_ROW = "(monitoring_config)"
COLUMNS_ROW = "(columns)"


class ConstraintsError(ValueError):
    """A constraints.json file is missing or malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class Change:
    """One row of the summary: `feature` changed in `aspect` from `base` to `head` (Markdown text)."""

    feature: str
    aspect: str
    base: str
    head: str


@dataclass(frozen=True)
class Contract:
    features: dict[str, FeatureConstraints]
    """Feature entries by name, in column order (captured CSV rows are matched by position)."""
    monitoring_config: dict[str, Any]


def load_contract(path: Path) -> Contract:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConstraintsError(
            f"{path}: file not found; generate it with `python -m analyzer suggest-baseline`.") from error
    except json.JSONDecodeError as error:
        raise ConstraintsError(
            f"{path}, line {error.lineno}, column {error.colno}: not valid JSON ({error.msg}).") from error
    if not isinstance(document, dict) or not isinstance(document.get("features"), list):
        raise ConstraintsError(
            f"{path}: no 'features' list at the top level; is this a constraints.json from suggest-baseline?")
    features: dict[str, FeatureConstraints] = {}
    for index, feature in enumerate(document["features"]):
        name = feature.get("name") if isinstance(feature, dict) else None
        if not isinstance(name, str):
            raise ConstraintsError(f"{path}: features[{index}] has no 'name'; every feature entry needs one.")
        if name in features:
            raise ConstraintsError(
                f"{path}: feature {name!r} appears twice (features[{index}]); keep one entry.")
        features[name] = FeatureConstraints(feature)
    config = document.get("monitoring_config", {})
    if not isinstance(config, dict):
        raise ConstraintsError(
            f"{path}: 'monitoring_config' must be an object, found {type(config).__name__}.")
    return Contract(features=features, monitoring_config=config)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    text = value if isinstance(value, str) else json.dumps(value)
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def _values(values: Sequence[str]) -> str:
    shown = ", ".join(_cell(v) for v in values[:MAX_LISTED_VALUES])
    more = len(values) - MAX_LISTED_VALUES
    return shown + (f" and {more} more" if more > 0 else "")


def _flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _overrides(feature: FeatureConstraints) -> dict[str, Any]:
    return feature.overrides if isinstance(feature.overrides, dict) else {}


def _summary(feature: FeatureConstraints) -> str:
    return ", ".join(f"{k} {_cell(v)}" for k, v in (("type", feature.inferred_type),
                                                     ("completeness", feature.completeness)))


def _feature_changes(name: str, base: FeatureConstraints, head: FeatureConstraints) -> list[Change]:
    changes = []
    for aspect, read in (
        ("type", lambda f: f.inferred_type),
        ("completeness", lambda f: f.completeness),
        ("is_non_negative", lambda f: f.is_non_negative),
    ):
        if read(base) != read(head):
            changes.append(Change(name, aspect, _cell(read(base)), _cell(read(head))))
    base_domains, head_domains = base.domains, head.domains
    if base_domains is None or head_domains is None:
        if base_domains != head_domains:
            changes.append(Change(name, "domains", _values(base_domains or []) or "none",
                                  _values(head_domains or []) or "none"))
    else:
        base_set, head_set = set(base_domains), set(head_domains)
        added = [v for v in head_domains if v not in base_set]
        removed = [v for v in base_domains if v not in head_set]
        if added or removed:
            changes.append(Change(name, "domains", "removed: " + _values(removed) if removed else "",
                                  "added: " + _values(added) if added else ""))
    base_overrides, head_overrides = _flatten(_overrides(base)), _flatten(_overrides(head))
    for key in sorted(set(base_overrides) | set(head_overrides)):
        if base_overrides.get(key) != head_overrides.get(key):
            changes.append(Change(name, f"override `{key}`", _cell(base_overrides.get(key)),
                                  _cell(head_overrides.get(key))))
    return changes


def diff_contracts(base: Contract, head: Contract) -> list[Change]:
    """Every data-contract difference from `base` to `head`, features in head column order."""
    changes: list[Change] = []
    common_base = [name for name in base.features if name in head.features]
    common_head = [name for name in head.features if name in base.features]
    if common_base != common_head:
        moved = [h for b, h in zip(common_base, common_head, strict=True) if b != h]
        changes.append(Change(COLUMNS_ROW, "order (captured rows are matched by position)",
                              "–", "moved: " + _values(moved)))
    for name, feature in head.features.items():
        if name not in base.features:
            changes.append(Change(name, "new feature", "–", _summary(feature)))
        else:
            changes.extend(_feature_changes(name, base.features[name], feature))
    changes.extend(Change(name, "removed feature", _summary(feature), "–")
                   for name, feature in base.features.items() if name not in head.features)
    base_config, head_config = _flatten(base.monitoring_config), _flatten(head.monitoring_config)
    for key in sorted(set(base_config) | set(head_config)):
        if base_config.get(key) != head_config.get(key):
            changes.append(Change(CONFIG_ROW, f"`{key}`", _cell(base_config.get(key)),
                                  _cell(head_config.get(key))))
    return changes


def render_markdown(changes: list[Change], head: Contract, has_base: bool = True) -> str:
    lines = ["### Data contract (`constraints.json`)", ""]
    if not has_base:
        lines += ["The base branch has no baseline to compare with (it could not run "
                  "`python -m analyzer suggest-baseline`): every feature below is new.", ""]
    elif not changes:
        lines.append(f"**No data-contract change**: the same {len(head.features)} features with the same "
                     "types, completeness, domains and `monitoring_config` as the base branch.")
        return "\n".join(lines) + "\n"
    else:
        features = {c.feature for c in changes} - {CONFIG_ROW, COLUMNS_ROW}
        lines += [f"**{len(changes)} change(s)** across {len(features)} feature(s): review them like an "
                  "IAM change; the deployed monitor checks traffic against this contract.", ""]
    lines += ["| feature | what | base branch | this pull request |", "|---|---|---|---|"]
    lines += [f"| {_cell(c.feature)} | {c.aspect} | {c.base} | {c.head} |" for c in changes]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--head", type=Path, required=True, help="constraints.json built from this change")
    parser.add_argument("--base", type=Path,
                        help="constraints.json built from the base branch (omit if it has none)")
    parser.add_argument("--output", type=Path, help="also write the Markdown summary to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def render() -> str:
        head = load_contract(args.head)
        base = load_contract(args.base) if args.base else Contract(features={}, monitoring_config={})
        return render_markdown(diff_contracts(base, head), head, has_base=args.base is not None)

    return emit_section(render, args.output, ConstraintsError)

if __name__ == "__main__":
    sys.exit(main())
