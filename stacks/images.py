"""Prebuilt SageMaker image URIs as a region-keyed `CfnMapping`, resolved by the `sagemaker` package.

Stacks are environment-agnostic (synth needs no account or region), so the image URI cannot be
looked up for one region at synth time. Instead every region the SDK knows goes into a mapping and
the template picks its own with `Fn::FindInMap` on `AWS::Region`: no hand-copied ECR account ids.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

from aws_cdk import Aws, CfnMapping
from constructs import Construct


@dataclass(frozen=True)
class ImageSpec:
    """Arguments of `sagemaker.core.image_uris.retrieve` that identify one image."""

    framework: str
    version: str | None = None
    image_scope: str | None = None
    py_version: str | None = None
    instance_type: str | None = None


# Serving image matching the xgboost version the model is trained with (model/train.py).
XGBOOST_SERVING = ImageSpec("xgboost", "3.0-5", image_scope="inference")
# The prebuilt Model Monitor analyzer (managed engine).
MODEL_MONITOR = ImageSpec("model-monitor")
# Runs the project's analyzer (self-hosted engine and baseline job) with no Docker build: it has the
# analyzer's numpy and pyarrow at the versions of requirements-image.txt. End of patch 2027-07-16 (AWS Deep
# Learning Containers' support policy). Moving to its successor: README, "The self-hosted engine's image".
SKLEARN_PROCESSING = ImageSpec("sklearn", "1.9-0", image_scope="training", py_version="py3",
                               instance_type="ml.m5.xlarge")
# That image's Python (major.minor): the image parity check runs the analyzer's tests under it where it can.
SKLEARN_PROCESSING_PYTHON = "3.12"


def _registry_regions(tree: object) -> set[str]:
    """Every region named under a `registries` key anywhere in an image config tree."""
    if not isinstance(tree, dict):
        return set()
    regions = set(tree.get("registries", {}))
    for value in tree.values():
        regions |= _registry_regions(value)
    return regions


# Resolving ~100 regions through the SDK takes ~10 s; the result only depends on the SDK version.
_CACHE_DIR = Path(__file__).resolve().parent.parent / "build" / "image-uris"


@functools.cache
def image_uris_by_region(spec: ImageSpec) -> dict[str, str]:
    """Map each region where the image exists to its URI (cached on disk per sagemaker-core version)."""
    key = "-".join(str(v) for v in asdict(spec).values() if v) + f"-sdk{version('sagemaker-core')}"
    cache = _CACHE_DIR / f"{re.sub(r'[^A-Za-z0-9.-]', '_', key)}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    uris = _resolve(spec)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(uris, indent=1, sort_keys=True))
    return uris


def _resolve(spec: ImageSpec) -> dict[str, str]:
    from sagemaker.core import image_uris  # slow import: only when the cache misses

    uris = {}
    for region in sorted(_registry_regions(image_uris.config_for_framework(spec.framework))):
        try:
            uris[region] = image_uris.retrieve(
                spec.framework, region, version=spec.version, image_scope=spec.image_scope,
                py_version=spec.py_version, instance_type=spec.instance_type,
            )
        except ValueError:
            continue  # the image has no build in this region
    if not uris:
        raise ValueError(f"The sagemaker package resolves no region for image {spec}.")
    return uris


def image_uri(scope: Construct, construct_id: str, spec: ImageSpec) -> str:
    """A token resolving, at deploy time, to the image URI of the stack's region."""
    mapping = CfnMapping(
        scope, construct_id,
        mapping={re.sub(r"[^A-Za-z0-9-]", "", region): {"uri": uri}
                 for region, uri in image_uris_by_region(spec).items()},
    )
    return mapping.find_in_map(Aws.REGION, "uri")
