"""Jackson layout and Java double formatting, against excerpts of real service files."""

from __future__ import annotations

import json

import pytest

from analyzer.jsonfmt import dumps, java_double

# Excerpt of the real housing-baseline-2024 statistics.json (features shortened, layout untouched).
HOUSING_EXCERPT = """{
  "version" : 0.0,
  "dataset" : {
    "item_count" : 23432
  },
  "features" : [ {
    "name" : "event_time",
    "inferred_type" : "String",
    "string_statistics" : {
      "common" : {
        "num_present" : 23432,
        "num_missing" : 0
      },
      "distinct_count" : 1.0,
      "completeness" : 1.0,
      "distribution" : {
        "categorical" : {
          "buckets" : [ {
            "value" : "2024-10-27T17:39:31Z",
            "count" : 23432
          } ]
        }
      }
    }
  }, {
    "name" : "price",
    "inferred_type" : "Fractional",
    "numerical_statistics" : {
      "common" : {
        "num_present" : 23432,
        "num_missing" : 0
      },
      "mean" : 614658.9799806821,
      "sum" : 1.4402689218907343E10,
      "std_dev" : 974816.9090171932,
      "min" : 0.0,
      "max" : 3.8E7,
      "approximate_num_distinct_values" : 5097,
      "completeness" : 1.0,
      "distribution" : {
        "kll" : {
          "buckets" : [ {
            "lower_bound" : 7600000.0,
            "upper_bound" : 1.14E7,
            "count" : 40.0
          } ],
          "sketch" : {
            "parameters" : {
              "c" : 0.64,
              "k" : 2048.0
            },
            "data" : [ [ 575000.0, 270676.65, 379509.166667 ], [ 2.5E7, 0.0, 14900.0 ], [ 2.38E7 ] ]
          }
        }
      }
    }
  } ]
}
"""

# Excerpt of the real network-monitoring-2020 constraint_violations.json.
VIOLATIONS_EXCERPT = """{
  "violations" : [ {
    "feature_name" : "Fwd Pkt Len Mean",
    "constraint_check_type" : "baseline_drift_check",
    "description" : "Baseline drift distance: 0.9293200129316993 exceeds threshold: 0.1"
  } ]
}
"""


@pytest.mark.parametrize("text", [HOUSING_EXCERPT, VIOLATIONS_EXCERPT])
def test_real_files_are_reproduced_byte_for_byte(text: str) -> None:
    assert dumps(json.loads(text)) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (325.0, "325.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (0.001, "0.001"),
        (0.000999, "9.99E-4"),
        (1e-4, "1.0E-4"),
        (9999999.0, "9999999.0"),
        (1e7, "1.0E7"),
        (3.8e7, "3.8E7"),
        (1.4402689218907343e10, "1.4402689218907343E10"),
        (420468.3999999996, "420468.3999999996"),
        (0.1393056150878697, "0.1393056150878697"),
        (-2.5e-5, "-2.5E-5"),
        (1.5e300, "1.5E300"),
        (123456789.0, "1.23456789E8"),
        (float("inf"), "Infinity"),
        (float("nan"), "NaN"),
    ],
)
def test_java_double(value: float, expected: str) -> None:
    assert java_double(value) == expected


def test_ints_stay_integers_and_empty_containers() -> None:
    text = dumps({"count": 3, "ratio": 3.0, "flag": True, "none": None, "list": [], "map": {}})
    assert text == (
        '{\n  "count" : 3,\n  "ratio" : 3.0,\n  "flag" : true,\n  "none" : null,\n  "list" : [ ],\n  "map" : { }\n}\n'
    )


def test_strings_are_escaped_like_jackson() -> None:
    assert dumps({"v": 'a"b\\c\nd\x01é/'}) == '{\n  "v" : "a\\"b\\\\c\\nd\\u0001é/"\n}\n'


def test_non_finite_numbers_are_quoted() -> None:
    assert dumps({"std_dev": float("nan")}) == '{\n  "std_dev" : "NaN"\n}\n'


def test_unsupported_values_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot write"):
        dumps({"v": object()})
