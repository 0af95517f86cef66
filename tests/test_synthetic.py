"""The synthetic churn generator: schema, formats, calibration, determinism and drift knobs."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from model import calibrate, synthetic

# The workshop's header line, copied verbatim from training-dataset-with-header.csv.
WORKSHOP_HEADER = (
    "Churn,Account Length,VMail Message,Day Mins,Day Calls,Eve Mins,Eve Calls,Night Mins,Night Calls,"
    "Intl Mins,Intl Calls,CustServ Calls,State_AK,State_AL,State_AR,State_AZ,State_CA,State_CO,State_CT,"
    "State_DC,State_DE,State_FL,State_GA,State_HI,State_IA,State_ID,State_IL,State_IN,State_KS,State_KY,"
    "State_LA,State_MA,State_MD,State_ME,State_MI,State_MN,State_MO,State_MS,State_MT,State_NC,State_ND,"
    "State_NE,State_NH,State_NJ,State_NM,State_NV,State_NY,State_OH,State_OK,State_OR,State_PA,State_RI,"
    "State_SC,State_SD,State_TN,State_TX,State_UT,State_VA,State_VT,State_WA,State_WI,State_WV,State_WY,"
    "Area Code_408,Area Code_415,Area Code_510,Int'l Plan_no,Int'l Plan_yes,VMail Plan_no,VMail Plan_yes"
).split(",")
# Workshop figures (2,333 rows): mean and population standard deviation.
WORKSHOP_USAGE = {
    "Churn": (0.1393, 0.3463),
    "Account Length": (101.2769, 39.5524),
    "VMail Message": (8.2143, 13.7769),
    "Day Mins": (180.2265, 53.9872),
    "Day Calls": (100.2593, 20.1650),
    "Eve Mins": (200.0501, 50.0159),
    "Eve Calls": (99.5739, 19.6756),
    "Night Mins": (201.3886, 50.6280),
    "Night Calls": (100.2272, 19.2820),
    "Intl Mins": (10.2531, 2.7788),
    "Intl Calls": (4.4951, 2.4881),
    "CustServ Calls": (1.5804, 1.3075),
}
# Shares of the one-hot columns (their std follows: sqrt(share * (1 - share))).
WORKSHOP_SHARES = {
    **{f"State_{s}": share for s, share in {
        "AK": 0.01457, "AL": 0.02143, "AR": 0.01886, "AZ": 0.02057, "CA": 0.00986, "CO": 0.02100,
        "CT": 0.02143, "DC": 0.01586, "DE": 0.01886, "FL": 0.01843, "GA": 0.01543, "HI": 0.01672,
        "IA": 0.01414, "ID": 0.02229, "IL": 0.01629, "IN": 0.02015, "KS": 0.02186, "KY": 0.01886,
        "LA": 0.01757, "MA": 0.01543, "MD": 0.02057, "ME": 0.01757, "MI": 0.01843, "MN": 0.02700,
        "MO": 0.02100, "MS": 0.02100, "MT": 0.02100, "NC": 0.01715, "ND": 0.01715, "NE": 0.02057,
        "NH": 0.01800, "NJ": 0.02015, "NM": 0.02057, "NV": 0.02229, "NY": 0.02486, "OH": 0.02057,
        "OK": 0.01672, "OR": 0.02229, "PA": 0.01243, "RI": 0.01929, "SC": 0.01586, "SD": 0.01843,
        "TN": 0.01586, "TX": 0.02186, "UT": 0.02357, "VA": 0.02315, "VT": 0.02400, "WA": 0.02015,
        "WI": 0.02143, "WV": 0.03472, "WY": 0.02272}.items()},
    "Area Code_408": 0.2430, "Area Code_415": 0.5024, "Area Code_510": 0.2546,
    "Int'l Plan_no": 0.8984, "Int'l Plan_yes": 0.1016, "VMail Plan_no": 0.7214, "VMail Plan_yes": 0.2786,
}  # fmt: skip
MINUTES = ["Day Mins", "Eve Mins", "Night Mins", "Intl Mins"]
# Model Monitor's per-value type rules (contract section 6).
FRACTIONAL = re.compile(r"^(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))$")
INTEGRAL = re.compile(r"^(-|\+)? ?\d+$")
N = 2333


@pytest.fixture(scope="module")
def rows() -> list[list[str]]:
    return synthetic.generate_rows(N, seed=0)


def matrix(rows: list[list[str]]) -> np.ndarray:
    return np.asarray(rows, dtype=float)


def column(rows: list[list[str]], name: str) -> list[str]:
    j = synthetic.COLUMNS.index(name)
    return [r[j] for r in rows]


def test_columns_are_the_workshop_header_in_order():
    assert synthetic.COLUMNS == WORKSHOP_HEADER
    assert synthetic.FEATURES == WORKSHOP_HEADER[1:]
    assert synthetic.header() == WORKSHOP_HEADER
    assert synthetic.header(label=False) == WORKSHOP_HEADER[1:]


def test_every_row_is_70_wide_with_integers_and_one_decimal_minutes(rows):
    assert len(rows) == N and all(len(r) == 70 for r in rows)
    for j, name in enumerate(synthetic.COLUMNS):
        pattern = r"^\d+\.\d$" if name in MINUTES else r"^\d+$"
        bad = [r[j] for r in rows if not re.match(pattern, r[j])]
        assert not bad, f"{name}: {bad[:3]}"
    assert set(column(rows, "Churn")) == {"0", "1"}


def test_one_hot_groups_have_exactly_one_value_per_row(rows):
    data = matrix(rows)
    for prefix in ("State_", "Area Code_", "Int'l Plan_", "VMail Plan_"):
        cols = [j for j, c in enumerate(synthetic.COLUMNS) if c.startswith(prefix)]
        assert set(np.unique(data[:, cols])) == {0.0, 1.0}
        assert (data[:, cols].sum(axis=1) == 1).all(), prefix
    messages = data[:, synthetic.COLUMNS.index("VMail Message")]
    assert ((messages > 0) == (data[:, synthetic.COLUMNS.index("VMail Plan_yes")] == 1)).all()


def assert_workshop_marginals(data: np.ndarray, columns: list[str]) -> None:
    """Mean and standard deviation of each column within 10% of the workshop's."""
    expected = {
        **WORKSHOP_USAGE,
        **{name: (share, np.sqrt(share * (1 - share))) for name, share in WORKSHOP_SHARES.items()},
    }
    assert set(expected) == set(synthetic.COLUMNS)
    for j, name in enumerate(columns):
        mean, std = expected[name]
        assert data[:, j].mean() == pytest.approx(mean, rel=0.10), name
        assert data[:, j].std() == pytest.approx(std, rel=0.10), name


def test_marginals_match_the_workshop_within_10_percent(rows):
    assert_workshop_marginals(matrix(rows), synthetic.COLUMNS)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_churn_rate_within_two_points(seed):
    churn = matrix(synthetic.generate_rows(N, seed=seed))[:, 0]
    assert abs(churn.mean() - 0.1393) <= 0.02


def test_churn_depends_on_the_features(rows):
    data = matrix(rows)
    churn = data[:, 0] == 1
    day = data[:, synthetic.COLUMNS.index("Day Mins")]
    calls = data[:, synthetic.COLUMNS.index("CustServ Calls")]
    assert churn[day > 265].mean() > 2 * churn[day < 200].mean()
    assert churn[calls >= 4].mean() > 2 * churn[calls < 4].mean()


def churn_ratio(data: np.ndarray, name: str, high: float, low: float) -> float:
    """Churn rate of rows with `name` above `high` over the rate of rows below `low`."""
    churn, values = data[:, 0] == 1, data[:, synthetic.COLUMNS.index(name)]
    return churn[values > high].mean() / churn[values < low].mean()


@pytest.mark.parametrize("seed", [0, 1])
def test_concept_shift_keeps_the_inputs_and_changes_who_churns(seed):
    normal = matrix(synthetic.generate_rows(N, seed=seed))
    shifted = matrix(synthetic.generate_rows(N, seed=seed, drift=synthetic.SCENARIOS["concept_shift"]))
    # Inputs: for one seed the very same rows; for any seed the workshop's distribution.
    assert (shifted[:, 1:] == normal[:, 1:]).all()
    other_seed = matrix(synthetic.generate_rows(N, seed=seed + 7, drift=synthetic.SCENARIOS["concept_shift"]))
    assert_workshop_marginals(other_seed[:, 1:], synthetic.FEATURES)
    # Outcomes: about a quarter churn, and the workshop's reasons no longer single them out.
    assert abs(shifted[:, 0].mean() - 0.24) <= 0.03
    assert (normal[:, 0] != shifted[:, 0]).mean() > 0.2
    assert churn_ratio(normal, "Day Mins", 265, 200) > 5 > 2 > churn_ratio(shifted, "Day Mins", 265, 200)
    assert churn_ratio(normal, "CustServ Calls", 3.5, 3.5) > 2 > 1.5 > churn_ratio(shifted, "CustServ Calls", 3.5, 3.5)
    # ... while evening callers and new customers leave.
    assert churn_ratio(shifted, "Eve Mins", 250, 150) > 8 > 4 > churn_ratio(normal, "Eve Mins", 250, 150)
    assert 1 / churn_ratio(shifted, "Account Length", 140, 60) > 2 > 1 / churn_ratio(normal, "Account Length", 140, 60)


def test_same_seed_same_rows_other_seed_other_rows(rows):
    assert synthetic.generate_rows(N, seed=0) == rows
    other = synthetic.generate_rows(N, seed=1)
    assert other != rows
    assert sum(a == b for a, b in zip(rows, other, strict=True)) < 5


def test_without_label_rows_are_the_features():
    with_label = synthetic.generate_rows(50, seed=4)
    assert synthetic.generate_rows(50, seed=4, label=False) == [r[1:] for r in with_label]


def test_zero_rows_and_negative_rows():
    assert synthetic.generate_rows(0) == []
    with pytest.raises(ValueError, match="n_rows"):
        synthetic.generate_rows(-1)


def test_shift_and_scale_move_only_their_columns_and_keep_formats(rows):
    drift = synthetic.Drift(scale={"Day Mins": 1.5}, shift={"CustServ Calls": 2.5, "Eve Mins": -10})
    drifted = synthetic.generate_rows(N, seed=0, drift=drift)
    base, moved = matrix(rows), matrix(drifted)
    for name, expected in (("Day Mins", 1.5 * base_mean(base, "Day Mins")),
                           ("CustServ Calls", base_mean(base, "CustServ Calls") + 2.5),
                           ("Eve Mins", base_mean(base, "Eve Mins") - 10)):
        assert base_mean(moved, name) == pytest.approx(expected, abs=0.3), name
    untouched = [j for j, c in enumerate(synthetic.COLUMNS) if c not in ("Churn", *drift.scale, *drift.shift)]
    assert (base[:, untouched] == moved[:, untouched]).all()
    assert all(re.match(r"^\d+$", v) for v in column(drifted, "CustServ Calls"))
    assert all(re.match(r"^-?\d+\.\d$", v) for v in column(drifted, "Day Mins"))


def base_mean(data: np.ndarray, name: str) -> float:
    return float(data[:, synthetic.COLUMNS.index(name)].mean())


def test_drifted_scenario_moves_day_mins_and_custserv_calls_past_the_drift_threshold(rows):
    traffic = matrix(synthetic.generate_rows(300, seed=7, drift=synthetic.SCENARIOS["drifted"]))
    reference = matrix(rows)
    for j, name in enumerate(synthetic.COLUMNS[1:], start=1):
        distance = linf_cdf_distance(reference[:, j], traffic[:, j])
        if name in ("Day Mins", "CustServ Calls"):
            assert distance > 0.2, name
        else:
            assert distance < 0.1, name


def linf_cdf_distance(a: np.ndarray, b: np.ndarray) -> float:
    grid = np.union1d(a, b)
    cdf = [np.searchsorted(np.sort(x), grid, side="right") / len(x) for x in (a, b)]
    return float(np.abs(cdf[0] - cdf[1]).max())


def test_state_mix_replaces_the_state_distribution():
    drift = synthetic.Drift(state_mix={"CA": 3.0, "TX": 1.0})
    data = matrix(synthetic.generate_rows(400, seed=3, drift=drift))
    shares = {c[6:]: data[:, j].mean() for j, c in enumerate(synthetic.COLUMNS) if c.startswith("State_")}
    assert shares.pop("CA") == 0.75 and shares.pop("TX") == 0.25
    assert set(shares.values()) == {0.0}


def test_blank_empties_the_exact_share_of_a_column_only():
    drift = synthetic.Drift(blank={"Day Mins": 0.25, "Churn": 0.1})
    drifted = synthetic.generate_rows(400, seed=2, drift=drift)
    assert column(drifted, "Day Mins").count("") == 100
    assert column(drifted, "Churn").count("") == 40
    assert sum(v == "" for r in drifted for v in r) == 140


def test_wrong_type_rows_make_integral_columns_fractional(rows):
    drifted = synthetic.generate_rows(N, seed=0, drift=synthetic.Drift(wrong_type_rows=4), label=False)
    changed = [r for r, b in zip(drifted, rows, strict=True) if r != b[1:]]
    assert len(changed) == 4 and all(len(r) == 69 for r in changed)
    integral_columns = [j for j, c in enumerate(synthetic.FEATURES) if c not in MINUTES]
    for row in changed:
        assert all(FRACTIONAL.match(v) or INTEGRAL.match(v) for v in row)
        # A one-hot row repeats 0 dozens of times: most of its Integral cells turn into 0.k strings.
        assert sum(bool(FRACTIONAL.match(row[j])) for j in integral_columns) > 40
    state_cells = [r[synthetic.FEATURES.index("State_WY")] for r in drifted]
    assert any(FRACTIONAL.match(v) for v in state_cells)


def test_add_and_drop_columns_change_header_and_width():
    drift = synthetic.Drift(add_columns=["Roaming Calls", "Promo"], drop_columns=["Night Calls"])
    names = synthetic.header(label=False, drift=drift)
    assert names[-2:] == ["Roaming Calls", "Promo"] and "Night Calls" not in names and len(names) == 70
    drifted = synthetic.generate_rows(30, seed=1, drift=drift, label=False)
    assert all(len(r) == 70 and re.match(r"^\d+$", r[-1]) for r in drifted)
    assert len({r[-1] for r in drifted}) > 5
    base = synthetic.generate_rows(30, seed=1, label=False)
    kept = [j for j, c in enumerate(synthetic.FEATURES) if c != "Night Calls"]
    assert [r[:-2] for r in drifted] == [[r[j] for j in kept] for r in base]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scale": {"Dey Mins": 2.0}}, "Drift.scale"),
        ({"state_mix": {"XX": 1.0}}, "state code"),
        ({"state_mix": {"CA": 0.0}}, "positive sum"),
        ({"blank": {"Day Mins": 1.5}}, "between 0 and 1"),
        ({"blank": {"Day Mins": 0.1}, "drop_columns": ["Day Mins"]}, "not dropped"),
        ({"add_columns": ["Day Mins"]}, "already exist"),
        ({"drop_columns": ["Churn"]}, "feature column"),
        ({"wrong_type_rows": -1}, "wrong_type_rows"),
        ({"churn_model": "telepathy"}, "churn model"),
    ],
)
def test_bad_drift_is_refused_with_a_named_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic.Drift(**kwargs)


def test_scenarios_include_normal_and_drifted():
    assert synthetic.SCENARIOS["normal"] == synthetic.Drift()
    assert set(synthetic.SCENARIOS["drifted"].scale) | set(synthetic.SCENARIOS["drifted"].shift) == {
        "Day Mins", "CustServ Calls"}
    assert set(synthetic.SCENARIOS) == set(synthetic.SCENARIO_HELP)


def test_cli_writes_the_same_rows_as_the_function(tmp_path):
    out = tmp_path / "traffic.csv"
    assert synthetic.main(["--rows", "20", "--seed", "5", "--scenario", "drifted", "--no-label",
                           "--out", str(out)]) == 0
    with open(out, newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == WORKSHOP_HEADER[1:]
    assert lines[1:] == synthetic.generate_rows(20, seed=5, drift=synthetic.SCENARIOS["drifted"], label=False)

    bare = tmp_path / "bare.csv"
    synthetic.main(["--rows", "3", "--no-header", "--out", str(bare)])
    assert bare.read_text().splitlines()[0].count(",") == 69 and len(bare.read_text().splitlines()) == 3


def test_cli_reports_an_unwritable_path(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        synthetic.main(["--rows", "3", "--out", str(tmp_path / "missing" / "x.csv")])
    assert exc.value.code == 2
    assert "cannot write" in capsys.readouterr().err


def test_calibration_flags_columns_that_drift(rows):
    drifted = matrix(synthetic.generate_rows(N, seed=0, drift=synthetic.SCENARIOS["drifted"]))
    failing = {c.name for c in calibrate.compare(matrix(rows), drifted) if not c.ok}
    assert {"Day Mins", "CustServ Calls"} <= failing
    assert not failing & {"Account Length", "Eve Mins", "State_CA", "VMail Plan_yes"}
    assert all(c.ok for c in calibrate.compare(matrix(rows), matrix(synthetic.generate_rows(N, seed=9))))


def test_calibration_cli_passes_a_like_file_and_fails_a_drifted_one(tmp_path, capsys):
    like = tmp_path / "like.csv"
    synthetic.write_csv(like, N, seed=1)
    assert calibrate.main([str(like)]) == 0
    assert "all 70 columns within 10%" in capsys.readouterr().out

    drifted = tmp_path / "drifted.csv"
    synthetic.write_csv(drifted, N, seed=1, drift=synthetic.SCENARIOS["drifted"])
    assert calibrate.main([str(drifted)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^Day Mins .*<-- outside 10%$", out, re.M)
    assert "OUT OF TOLERANCE: Churn, Day Mins, CustServ Calls, churn rate" in out


def test_calibration_names_the_bad_line_of_a_workshop_file(tmp_path, capsys):
    lines = [",".join(synthetic.COLUMNS)] + [",".join(r) for r in synthetic.generate_rows(5)]
    lines[3] = lines[3].replace(",", ",x", 1)
    lines[5] = lines[5] + ",1"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    expected = r"bad\.csv, line 4: could not convert.*line 6: 71 fields"
    with pytest.raises(calibrate.WorkshopFileError, match=expected):
        calibrate.read_workshop(bad)
    assert calibrate.main([str(bad)]) == 2
    assert "line 4" in capsys.readouterr().err

    (tmp_path / "headless.csv").write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(calibrate.WorkshopFileError, match="line 1: column 1 is '0', expected 'Churn'"):
        calibrate.read_workshop(tmp_path / "headless.csv")
