"""The image parity check: the analyzer under the self-hosted engine's image's Python and exact libraries.

The processing image (`stacks.images.SKLEARN_PROCESSING`) runs the analyzer under its own Python with the
numpy and pyarrow of requirements-image.txt and without numba, where the project's .venv has Python 3.11,
the newest numpy for it and numba. `setup VENV` builds a second virtual environment from
requirements-parity.txt with the image's Python where the machine has one (`python3.12` on PATH, or
pyenv's), else with the running Python, saying so. `check VENV` runs the analyzer's tests in it, then
baselines the reference datasets in both environments and compares the files byte for byte.

Usage (from the repository root; `make image-parity` runs both):
    python -m scripts.image_parity setup .venv-image
    python -m scripts.image_parity check .venv-image
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from analyzer.profile import PROCESS_AFTER_ROWS
from contract.layout import CONSTRAINTS_FILE, STATISTICS_FILE
from model import synthetic
from stacks.images import SKLEARN_PROCESSING, SKLEARN_PROCESSING_PYTHON

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "requirements-parity.txt"
OUTPUT = REPO / "build" / "image-parity"
# The tests of the analyzer and of the contract it writes: everything that runs in the image.
TESTS = tuple(f"tests/test_{name}.py" for name in (
    "profile_reference", "captures", "numeric", "kll", "hll", "distance", "value_types", "jsonfmt", "checks",
    "monitor", "baseline", "container", "datasets", "arrays", "contract", "cli",
    "fuzz_captures", "fuzz_datasets", "documents_validation", "documents_fuzz",
    "quality_metrics", "quality_baseline", "quality_checks", "quality_contract",
    "ground_truth", "merge", "quality_monitor",
))
# What the image cannot run, and why. The AWS ones check calls made from a laptop, not the image's
# libraries; moto's server would add ~40 s of install and ~70 packages to the environment.
DESELECT = {  # test: the package it needs
    "tests/test_numeric.py::test_numba_is_installed_so_the_compiled_path_is_the_one_tested": "numba",
    "tests/test_captures.py::test_s3_prefix_is_read_through_aws_endpoint_url": "moto",
    "tests/test_captures.py::test_s3_missing_bucket_is_a_named_error": "moto",
    "tests/test_monitor.py::test_metric_files_are_accepted_by_put_metric_data": "moto",
    "tests/test_quality_monitor.py::test_captures_and_labels_are_read_from_s3_as_from_folders": "moto",
    "tests/test_quality_monitor.py::test_a_missing_ground_truth_bucket_is_a_named_error": "moto",
}
# The deployed baseline's input, the workshop's training file, and one large enough for the numeric work
# to move to the child process (numba in .venv, the numpy loop in the image).
DATASETS = (REPO / "model" / "build" / "baseline-dataset.csv", REPO / "model" / "build" / "train.csv")
# The model-quality baseline's input (`make model`), baselined with the flags the demo and the stacks use.
QUALITY_DATASET = REPO / "model" / "build" / "validation-predictions.csv"
QUALITY_ARGS = ("--problem-type", "BinaryClassification", "--inference-attribute", "prediction",
                "--probability-attribute", "probability", "--ground-truth-attribute", "label")
# A model-quality statistics.json records when it was made: that one line is masked before comparing.
EVALUATION_TIME_LINE = re.compile(rb'^\s*"evaluation_time" : "[^"]*",?$', re.MULTILINE)
LARGE_ROWS = 2 * PROCESS_AFTER_ROWS
BASELINE_FILES = (STATISTICS_FILE, CONSTRAINTS_FILE)
# What each environment reports about itself (run by its own interpreter): Python and library versions.
LIBRARIES = ("numpy", "pyarrow", "numba", "pandas")
PROBE = """
import importlib.metadata as m, json, platform, sys
def version(name):
    try:
        return m.version(name)
    except m.PackageNotFoundError:
        return None
print(json.dumps({"python": platform.python_version(), **{n: version(n) for n in sys.argv[1:]}}))
"""


class ParityError(Exception):
    """The check failed: the message says where."""


def _minor(python: str) -> str | None:
    """The `major.minor` of an interpreter, or None when it does not run (e.g. a pyenv shim of another version)."""
    try:
        done = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _pyenv_pythons(minor: str) -> list[str]:
    """pyenv's builds of `minor`, newest patch first."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found = root.glob(f"versions/{minor}.*/bin/python{minor}")
    return [str(p) for p in sorted(found, key=lambda p: [int(x) for x in re.findall(r"\d+", p.parts[-3])],
                                   reverse=True)]


def find_python(minor: str) -> str | None:
    """An interpreter of the image's `major.minor` on this machine, or None."""
    candidates = [shutil.which(f"python{minor}"), *_pyenv_pythons(minor)]
    return next((c for c in candidates if c and _minor(c) == minor), None)


def setup(venv: Path) -> None:
    """(Re)create `venv` with the image's Python (or the running one) and install requirements-parity.txt."""
    python = find_python(SKLEARN_PROCESSING_PYTHON)
    if python is None:
        python = sys.executable
        print(f"image parity: Python {SKLEARN_PROCESSING_PYTHON} (the image's) not found (python"
              f"{SKLEARN_PROCESSING_PYTHON} on PATH, pyenv): {venv} uses this Python, {sys.version.split()[0]}")
    print(f"image parity: creating {venv} with {python}")
    subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(REQUIREMENTS)], check=True)


def probe(python: str) -> dict:
    done = subprocess.run([python, "-c", PROBE, *LIBRARIES], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def describe(name: str, env: dict) -> str:
    libraries = ", ".join(f"{n} {env[n]}" if env[n] else f"no {n}" for n in LIBRARIES)
    return f"  {name:<12} Python {env['python']}, {libraries}"


def run_tests(python: str) -> str:
    """The analyzer's tests under `python`; their summary line."""
    command = [python, "-m", "pytest", "-p", "no:cacheprovider", *TESTS]
    command += [arg for test in DESELECT for arg in ("--deselect", test)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0:
        raise ParityError(f"the analyzer's tests failed in the image's environment:\n{done.stdout}{done.stderr}")
    deselected = re.search(r"(\d+) deselected", summary)
    if deselected is None or int(deselected[1]) != len(DESELECT):
        raise ParityError(f"expected {len(DESELECT)} deselected tests ({summary!r}): one was renamed or "
                          "removed; update DESELECT in scripts/image_parity.py")
    return summary


def baseline(python: str, dataset: Path, output: Path, args: tuple[str, ...] = ()) -> list[bytes]:
    """The baseline files of `dataset` made by `python`'s analyzer (evaluation times masked)."""
    shutil.rmtree(output, ignore_errors=True)
    subprocess.run([python, "-m", "analyzer", "-q", "suggest-baseline", "--dataset", str(dataset), *args,
                    "--output", str(output)], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return [EVALUATION_TIME_LINE.sub(b"<evaluation_time>", (output / name).read_bytes()) for name in BASELINE_FILES]


def compare(project: str, image: str, dataset: Path, args: tuple[str, ...] = ()) -> str:
    """Baseline `dataset` in both environments: one line if the files are identical, else ParityError."""
    ours, theirs = OUTPUT / "venv" / dataset.stem, OUTPUT / "venv-image" / dataset.stem
    digests = []
    for name, a, b in zip(BASELINE_FILES, baseline(project, dataset, ours, args),
                          baseline(image, dataset, theirs, args), strict=True):
        if a != b:
            raise ParityError(f"{name} of {dataset.relative_to(REPO)} differs between the environments: "
                              f"diff {ours / name} {theirs / name}")
        digests.append(f"{name} {hashlib.sha256(a).hexdigest()[:12]}")
    return f"  {str(dataset.relative_to(REPO)):<42} identical ({', '.join(digests)})"


def compare_baselines(project: str, image: str) -> list[str]:
    """Every reference dataset (and the large synthetic one, written once) compared in both environments."""
    large = OUTPUT / f"synthetic-{LARGE_ROWS}.csv"
    if not large.exists():
        OUTPUT.mkdir(parents=True, exist_ok=True)
        synthetic.write_csv(large, LARGE_ROWS, seed=0)
    return [*(compare(project, image, dataset) for dataset in (*DATASETS, large)),
            compare(project, image, QUALITY_DATASET, QUALITY_ARGS)]


def check(venv: Path) -> None:
    image_python = str(venv / "bin" / "python")
    project, image = probe(sys.executable), probe(image_python)
    print(f"image parity: SageMaker's {SKLEARN_PROCESSING.framework} {SKLEARN_PROCESSING.version} image "
          f"(Python {SKLEARN_PROCESSING_PYTHON}, libraries of requirements-image.txt)")
    print(describe(str(venv), image))
    print(describe(".venv", project))
    if not image["python"].startswith(SKLEARN_PROCESSING_PYTHON + "."):
        if find_python(SKLEARN_PROCESSING_PYTHON):
            raise ParityError(f"{venv} has Python {image['python']}, but this machine has the image's "
                              f"{SKLEARN_PROCESSING_PYTHON}: remove {venv} and run make image-parity again")
        print(f"  note: not the image's Python {SKLEARN_PROCESSING_PYTHON} (none on this machine): its exact numpy "
              f"is not covered; install it and remove {venv} to check it")
    needs = Counter(DESELECT.values())
    deselected = ", ".join(f"{count} need{'s' if count == 1 else ''} {name}" for name, count in needs.items())
    print(f"  tests in {venv}: {run_tests(image_python)} ({deselected})")
    print("  suggest-baseline in both environments, byte for byte:")
    print("\n".join(compare_baselines(sys.executable, image_python)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["setup", "check"])
    parser.add_argument("venv", nargs="?", type=Path, default=Path(".venv-image"))
    args = parser.parse_args(argv)
    try:
        (setup if args.command == "setup" else check)(args.venv)
    except (ParityError, subprocess.CalledProcessError) as exc:
        print(f"image parity: FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
