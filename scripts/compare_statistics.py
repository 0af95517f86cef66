"""Compare our statistics.json / constraints.json with the service's, feature by feature.

    python scripts/compare_statistics.py OURS.json REFERENCE.json \\
        [--constraints OURS --reference-constraints REFERENCE]

Numbers must be identical (bit for bit); fields that exist on one side only (the 2024 files
add `completeness` and `approximate_num_distinct_values`; 2020 files lack them) are listed, not
counted as differences. A value the reference marks `__TRUNCATED...` (cut from a notebook log)
is not compared. Features of ours that the reference lacks are listed. Exit code 0 when every
reference feature matches on its shared fields, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field


@dataclass
class Comparison:
    differences: list[str] = field(default_factory=list)
    only_reference: set[str] = field(default_factory=set)
    only_ours: set[str] = field(default_factory=set)
    truncated: list[str] = field(default_factory=list)
    compared: int = 0


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        # Bit for bit: 0.0 and -0.0 differ, equal NaNs match.
        return type(a) is type(b) and (json.dumps(a) == json.dumps(b))
    return a == b


def compare(reference: object, ours: object, path: str, result: Comparison, generic: str) -> None:
    """Walk both documents; `generic` is the path without feature names (for one-sided fields)."""
    if isinstance(reference, str) and reference.startswith("__TRUNCATED"):
        result.truncated.append(path)
        return
    if isinstance(reference, dict) and isinstance(ours, dict):
        for key in reference.keys() - ours.keys():
            result.only_reference.add(f"{generic}.{key}")
        for key in ours.keys() - reference.keys():
            result.only_ours.add(f"{generic}.{key}")
        for key in reference.keys() & ours.keys():
            compare(reference[key], ours[key], f"{path}.{key}", result, f"{generic}.{key}")
        return
    if isinstance(reference, list) and isinstance(ours, list):
        if len(reference) != len(ours):
            result.differences.append(f"{path}: {len(reference)} items in the reference, {len(ours)} in ours")
            return
        for i, (a, b) in enumerate(zip(reference, ours, strict=True)):
            compare(a, b, f"{path}[{i}]", result, f"{generic}[]")
        return
    result.compared += 1
    if not _same(reference, ours):
        result.differences.append(f"{path}: reference {json.dumps(reference)}, ours {json.dumps(ours)}")


def _by_name(document: dict) -> dict[str, dict]:
    return {feature["name"]: feature for feature in document.get("features", [])}


def compare_documents(reference: dict, ours: dict, what: str) -> bool:
    """Print the comparison of two statistics or constraints documents; True when identical."""
    ref_features, our_features = _by_name(reference), _by_name(ours)
    print(f"{what}: {len(ref_features)} reference features, {len(our_features)} of ours")
    top = Comparison()
    for key in reference.keys() - {"features"}:
        if key in ours:
            compare(reference[key], ours[key], key, top, key)
        else:
            top.only_reference.add(key)
    top.only_ours.update(key for key in ours.keys() - reference.keys() - {"features"})
    identical = 0
    only_reference: set[str] = set(top.only_reference)
    only_ours: set[str] = set(top.only_ours)
    shared = sorted(reference.keys() & ours.keys() - {"features"})
    print(f"  {', '.join(shared)}: {'identical' if not top.differences else 'DIFFERENT'} ({top.compared} values)")
    for line in top.differences:
        print(f"    {line}")
    our_order = list(our_features)
    for position, (name, ref_feature) in enumerate(ref_features.items()):
        if name not in our_features:
            print(f"  {name}: MISSING from ours")
            continue
        result = Comparison()
        compare(ref_feature, our_features[name], name, result, "feature")
        only_reference |= result.only_reference
        only_ours |= result.only_ours
        moved = our_order.index(name) != position
        if result.differences or moved:
            print(f"  {name}: {len(result.differences)} difference(s){' (different position)' if moved else ''}")
            for line in result.differences:
                print(f"    {line}")
        else:
            identical += 1
            note = ""
            if result.truncated:
                note = f"; not compared (truncated in the reference): {', '.join(result.truncated)}"
            print(f"  {name}: identical ({result.compared} values){note}")
    extra = [name for name in our_features if name not in ref_features]
    if extra:
        print(f"  features only in ours ({len(extra)}): {', '.join(extra)}")
    if only_reference:
        print(f"  fields only in the reference: {', '.join(sorted(only_reference))}")
    if only_ours:
        print(f"  fields only in ours: {', '.join(sorted(only_ours))}")
    ok = identical == len(ref_features) and not top.differences
    print(f"{what}: {identical}/{len(ref_features)} reference features identical on shared fields")
    return ok


def _load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(f"{path}: cannot read as JSON ({error})") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("statistics", help="our statistics.json")
    parser.add_argument("reference_statistics", help="the service's statistics.json")
    parser.add_argument("--constraints", help="our constraints.json")
    parser.add_argument("--reference-constraints", help="the service's constraints.json")
    args = parser.parse_args(argv)
    ok = compare_documents(_load(args.reference_statistics), _load(args.statistics), "statistics")
    if args.reference_constraints and args.constraints:
        print()
        ok &= compare_documents(_load(args.reference_constraints), _load(args.constraints), "constraints")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
