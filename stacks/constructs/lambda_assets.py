"""Lambda code assets without Docker: a handler folder plus the `contract` package, bundled by copying.

Both Lambdas need only the standard library, boto3 (in the runtime) and `contract` (standard library
only), so the local bundler `_CopyFiles` copies their `.py` files into the asset laid out as the
Lambda imports them. The asset hash is computed from the bundled output, so an edit to any copied
file changes the asset.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACT_DIR = PROJECT_ROOT / "contract"


def python_files(source_dir: Path, target: str = "") -> dict[str, Path]:
    """Asset path -> file for each `.py` file of `source_dir`, under the asset folder `target`."""
    prefix = f"{target}/" if target else ""
    return {f"{prefix}{path.name}": path for path in sorted(source_dir.glob("*.py"))}


def handler_files(handler_dir: Path, package: str = "") -> dict[str, Path]:
    """A handler's files (as the package `package`, or at the asset's top level) and the contract package."""
    return {**python_files(handler_dir, package), **python_files(CONTRACT_DIR, CONTRACT_DIR.name)}


@jsii.implements(ILocalBundling)
class _CopyFiles:
    """Bundles by copying files into the asset folder."""

    def __init__(self, files: Mapping[str, Path]) -> None:
        self._files = dict(files)

    def try_bundle(self, output_dir: str, options: Any) -> bool:
        for target, source in self._files.items():
            destination = Path(output_dir) / target
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
        return True


def lambda_code(handler_dir: Path, files: Mapping[str, Path]) -> lambda_.Code:
    """The asset of `files` (asset path -> source file); `handler_dir` is the bundling's nominal source."""
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing or not files:
        raise FileNotFoundError(f"Lambda sources missing for {handler_dir}: {', '.join(missing) or 'no files'}")
    return lambda_.Code.from_asset(
        str(handler_dir),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Never pulled: local bundling always succeeds, so Docker is not needed.
            image=DockerImage.from_registry("local-bundling-only"),
            local=_CopyFiles(files),
        ),
    )
