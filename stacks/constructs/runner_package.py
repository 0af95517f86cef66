"""The monitoring runner Lambda's asset, built without Docker: source packages plus numpy and pyarrow
wheels for the Lambda platform, unzipped and trimmed.

`download_wheels` (run once by `python -m scripts.lambda_wheels`, which `make setup` calls) fetches the
wheels with `pip download --only-binary=:all: --platform ... --python-version ...` into
`build/lambda-wheels/<target>/`; a second run finds them and does nothing. `build_package` (at synth,
offline) unzips them beside `analyzer/`, `contract/` and the handler's `runner/` package, drops what
the analyzer never loads (`TRIM`), into `<staging root>/<content hash>/`, written by atomic rename
like `analyzer_job.stage_packages`: an unchanged package is reused, concurrent synths never see half
of one.

Target: Lambda's newest Python runtime that CDK knows (3.14, on Amazon Linux 2023: glibc 2.34), arm64
(both wheels exist for it), with the numpy and pyarrow versions of the processing image
(requirements-image.txt, read for that Python), so both runners compute with the same libraries.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = PROJECT_ROOT / "requirements-image.txt"
WHEELS_ROOT = PROJECT_ROOT / "build" / "lambda-wheels"
SOURCE_DIRS = (PROJECT_ROOT / "analyzer", PROJECT_ROOT / "contract", PROJECT_ROOT / "lambda" / "runner")
WHEEL_PACKAGES = ("numpy", "pyarrow")
LAMBDA_UNZIPPED_LIMIT = 262_144_000  # Lambda's 250 MB (MiB) for the unzipped function and its layers


@dataclass(frozen=True)
class Target:
    """A Lambda platform: Python version and the manylinux tag of its glibc and machine."""

    python: str  # "3.14"
    machine: str  # "aarch64" (Lambda arm64) or "x86_64"
    glibc_minor: int = 34  # Amazon Linux 2023's glibc 2.34, under every python3.12+ runtime

    @property
    def platform(self) -> str:
        return f"manylinux_2_{self.glibc_minor}_{self.machine}"

    @property
    def platforms(self) -> list[str]:
        """Every manylinux tag this glibc runs (pip matches --platform tags exactly: 2.17 to ours)."""
        return [f"manylinux_2_{minor}_{self.machine}" for minor in range(self.glibc_minor, 16, -1)]

    @property
    def name(self) -> str:
        return f"cp{self.python.replace('.', '')}-{self.platform}"

    @property
    def wheel_dir(self) -> Path:
        return WHEELS_ROOT / self.name


LAMBDA_TARGET = Target(python="3.14", machine="aarch64")

# What the analyzer never loads: it imports numpy and pyarrow, pyarrow.compute, pyarrow.csv and
# pyarrow.json only. Patterns (fnmatch, on paths inside the asset). `lib`'s own dependencies
# (libarrow_python needs libparquet, libarrow_dataset, acero, substrait and compute) stay: the
# package test runs the analyzer from a trimmed x86_64 build and checks that every kept ELF file's
# needed libraries are kept.
TRIM = (
    "*/__pycache__/*", "*/tests/*", "*/testing/*", "*.pyx", "*.pxd", "*.pxi", "*.pyi", "*.h", "*.hpp",
    "*.cc", "*.cpp", "*.c", "pyarrow/include/*", "pyarrow/includes/*", "pyarrow/src/*",
    "numpy/_core/include/*", "numpy/_core/lib/*", "numpy/f2py/*", "numpy/_pyinstaller/*", "numpy/doc/*",
    # Extension modules of features the analyzer does not use (flight, file systems, parquet, orc,
    # datasets, acero plans, substrait, feather, the C++ test suite).
    "pyarrow/_flight.*", "pyarrow/_s3fs.*", "pyarrow/_gcsfs.*", "pyarrow/_azurefs.*", "pyarrow/_hdfs.*",
    "pyarrow/_parquet*", "pyarrow/_dataset*", "pyarrow/_orc.*", "pyarrow/_acero.*", "pyarrow/_substrait.*",
    "pyarrow/_feather.*", "pyarrow/_pyarrow_cpp_tests.*", "pyarrow/_fs.*",
    # Libraries only those modules load; the wheel also ships each libarrow_python as three copies
    # (no symlinks in wheels): `lib` loads the .so.<major> one.
    "pyarrow/libarrow_flight.*", "pyarrow/libarrow_python_flight.*", "pyarrow/libarrow_python_parquet_encryption.*",
    "pyarrow/libarrow_python.so", "pyarrow/libarrow_python.so.*.*",
)  # fmt: skip


class WheelsMissingError(FileNotFoundError):
    """The Lambda platform's wheels are not downloaded yet."""


def pinned_requirements(python: str, requirements: Path = REQUIREMENTS) -> list[str]:
    """`name==version` of each wheel package in the requirements, for the target Python's markers."""
    from packaging.requirements import Requirement

    found = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        if requirement.marker and not requirement.marker.evaluate({"python_version": python}):
            continue
        if requirement.name in WHEEL_PACKAGES:
            found[requirement.name] = str(requirement.specifier).removeprefix("==")
    missing = [name for name in WHEEL_PACKAGES if name not in found]
    if missing:
        raise ValueError(f"{requirements} pins no {', '.join(missing)} for Python {python}")
    return [f"{name}=={found[name]}" for name in WHEEL_PACKAGES]


def wheel_files(target: Target, requirements: Path = REQUIREMENTS) -> list[Path] | None:
    """The target's downloaded wheels of the pinned versions, or None when any is missing."""
    found = []
    for pin in pinned_requirements(target.python, requirements):
        name, version = pin.split("==")
        wheels = sorted(target.wheel_dir.glob(f"{name}-{version}-*.whl")) if target.wheel_dir.is_dir() else []
        if not wheels:
            return None
        found.append(wheels[-1])
    return found


def download_wheels(target: Target = LAMBDA_TARGET, requirements: Path = REQUIREMENTS) -> list[Path]:
    """Fetch the pinned wheels for `target` once (pip, no Docker); a second call downloads nothing."""
    cached = wheel_files(target, requirements)
    if cached:
        return cached
    target.wheel_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        *(f"--platform={platform}" for platform in target.platforms),
        "--python-version", target.python, "--implementation", "cp",
        "--dest", str(target.wheel_dir), *pinned_requirements(target.python, requirements),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    found = wheel_files(target, requirements)
    if not found:
        raise WheelsMissingError(f"pip downloaded no wheels of {requirements.name}'s pins into {target.wheel_dir}")
    return found


def trimmed(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in TRIM) or "/__pycache__/" in f"/{path}"


def _source_files() -> dict[str, Path]:
    files = {}
    for source_dir in SOURCE_DIRS:
        found = sorted(p for p in source_dir.rglob("*.py") if "__pycache__" not in p.parts)
        if not found:
            raise FileNotFoundError(f"No Python files under {source_dir}: the {source_dir.name} package is missing.")
        files.update({f"{source_dir.name}/{p.relative_to(source_dir).as_posix()}": p for p in found})
    return files


def _digest(wheels: list[Path], sources: dict[str, Path]) -> str:
    digest = hashlib.sha256("\n".join(TRIM).encode())
    for wheel in wheels:  # pip never rewrites a downloaded wheel: name and size identify it
        digest.update(f"{wheel.name}\0{wheel.stat().st_size}\0".encode())
    for name, path in sources.items():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _unpack(wheel: Path, destination: Path) -> None:
    """The wheel's files minus the trimmed ones (its .dist-info stays: numpy reads its own version)."""
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            if member.is_dir() or trimmed(member.filename):
                continue
            path = destination / member.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(path, "wb") as target:
                shutil.copyfileobj(source, target)
            if member.external_attr >> 16 & 0o111:
                path.chmod(0o755)


def build_package(staging_root: Path, target: Target = LAMBDA_TARGET, requirements: Path = REQUIREMENTS) -> Path:
    """The asset folder for `target`: `<staging_root>/<target>-<content hash>/` (reused when unchanged)."""
    wheels = wheel_files(target, requirements)
    if not wheels:
        raise WheelsMissingError(
            f"The Lambda runner's numpy and pyarrow wheels for {target.name} are not in {target.wheel_dir}: "
            "run `make setup` once (it runs `python -m scripts.lambda_wheels`; needs the network), then synth again."
        )
    sources = _source_files()
    folder = staging_root / f"{target.name}-{_digest(wheels, sources)}"
    if folder.exists():
        return folder
    staging_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=staging_root, prefix=".staging-"))
    for wheel in wheels:
        _unpack(wheel, scratch)
    for name, path in sources.items():
        (scratch / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, scratch / name)
    size = folder_bytes(scratch)
    if size > LAMBDA_UNZIPPED_LIMIT:
        shutil.rmtree(scratch, ignore_errors=True)
        raise ValueError(f"The Lambda runner's package is {size / 2**20:.1f} MiB unzipped, over Lambda's 250 MB")
    try:
        os.replace(scratch, folder)
    except OSError:  # another synth staged the same content first
        shutil.rmtree(scratch, ignore_errors=True)
    _prune(staging_root, target, keep=folder)
    return folder


def _prune(staging_root: Path, target: Target, keep: Path) -> None:
    """Remove the target's older packages (~140 MB each, one per edit of the sources)."""
    for old in staging_root.glob(f"{target.name}-*"):
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def folder_bytes(folder: Path) -> int:
    """The unzipped size Lambda counts: every file's size."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
