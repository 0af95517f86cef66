"""How a SageMaker Processing job runs a data-quality analyzer, for both engines.

`managed`: the prebuilt Model Monitor analyzer image. `self-hosted`: the project's `analyzer` package on
the prebuilt scikit-learn image (`images.SKLEARN_PROCESSING`: Python 3.12 with the numpy and pyarrow of
requirements-image.txt, everything the package imports), no Docker build. The package and the
`contract` package it imports are uploaded as one zip asset,
which arrives as a processing input under CODE_INPUT_PATH and is imported straight from the zip
through PYTHONPATH (zipimport): the job runs `python3 -m analyzer container`, configured by the
contract's environment variables (section 2).
Both run with network isolation: the container has no network and no AWS credentials.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from contract.processing import CODE_INPUT_PATH
from stacks.config import ENGINES
from stacks.iam import add_statements
from stacks.images import MODEL_MONITOR, SKLEARN_PROCESSING, ImageSpec, image_uri, image_uris_by_region
from stacks.nag import acknowledge_wildcard_resource, acknowledge_wildcard_resources

CONTAINER_ENTRYPOINT = ("python3", "-m", "analyzer", "container")
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
VOLUME_SIZE_GB = 20


def stage_packages(source_dirs: Sequence[Path], staging_root: Path) -> Path:
    """Copy the packages' .py files to `<staging_root>/<content hash>/<package name>/...`.

    The asset is the parent folder, so the zip holds `analyzer/...` and `contract/...` and the packages
    import from the zip. Content-addressed and written by atomic rename: concurrent synths never see a
    half-written copy.
    """
    files: dict[str, Path] = {}  # path in the zip -> source file
    for source_dir in source_dirs:
        found = sorted(p for p in source_dir.rglob("*.py") if "__pycache__" not in p.parts)
        if not found:
            raise FileNotFoundError(f"No Python files under {source_dir}: the {source_dir.name} package is missing.")
        files.update({f"{source_dir.name}/{p.relative_to(source_dir).as_posix()}": p for p in found})
    digest = hashlib.sha256()
    for name, path in files.items():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    target = staging_root / digest.hexdigest()[:16]
    if target.exists():
        return target
    staging_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=staging_root, prefix=".staging-"))
    for name, path in files.items():
        destination = scratch / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    try:
        os.replace(scratch, target)
    except OSError:  # another synth staged the same content first
        shutil.rmtree(scratch, ignore_errors=True)
    return target


class AnalyzerCode(Construct):
    """The `analyzer` and `contract` packages as a zip asset, importable from the processing input through
    PYTHONPATH."""

    def __init__(
        self, scope: Construct, construct_id: str, source_dirs: Sequence[Path], staging_root: Path
    ) -> None:
        super().__init__(scope, construct_id)
        self.staged_dir = stage_packages(source_dirs, staging_root)
        self.asset = s3_assets.Asset(self, "Asset", path=str(self.staged_dir))
        self.s3_uri = self.asset.s3_object_url
        # A processing input copies the object under its own name into CODE_INPUT_PATH.
        self.pythonpath = f"{CODE_INPUT_PATH}/{self.asset.s3_object_key}"

    def grant_read(self, role: iam.IRole) -> None:
        grant_read_asset(role, self.asset, "ReadAnalyzerCode")


def grant_read_asset(role: iam.IRole, asset: s3_assets.Asset, sid: str) -> None:
    """Read one asset object as a processing input does (list its key as a prefix, then get it)."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid=sid, actions=["s3:GetObject"], resources=[asset.bucket.arn_for_objects(asset.s3_object_key)]
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid=f"{sid}List",
            actions=["s3:ListBucket"],
            resources=[asset.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [asset.s3_object_key]}},
        )
    )


@dataclass(frozen=True)
class AnalyzerImage:
    """The container of an analyzer job: image, entrypoint and the environment it needs."""

    uri: str
    repository: str
    entrypoint: tuple[str, ...] = ()
    code: AnalyzerCode | None = None
    base_environment: dict[str, str] = field(default_factory=dict)

    def environment(self, contract: dict[str, str]) -> dict[str, str]:
        return {**self.base_environment, **contract}


def _repository(spec: ImageSpec) -> str:
    """The ECR repository name, the same in every region (an account id and tag differ)."""
    names = {uri.split("/", 1)[1].split(":")[0] for uri in image_uris_by_region(spec).values()}
    if len(names) != 1:
        raise ValueError(f"Image {spec} has different repository names per region: {sorted(names)}")
    return names.pop()


def analyzer_image(scope: Construct, engine: str, code: AnalyzerCode | None) -> AnalyzerImage:
    if engine == "managed":
        return AnalyzerImage(
            uri=image_uri(scope, "ModelMonitorImage", MODEL_MONITOR), repository=_repository(MODEL_MONITOR)
        )
    if engine != "self-hosted" or code is None:
        raise ValueError(f"engine {engine!r}: expected one of {ENGINES}; self-hosted needs the analyzer code")
    return AnalyzerImage(
        uri=image_uri(scope, "SklearnProcessingImage", SKLEARN_PROCESSING),
        repository=_repository(SKLEARN_PROCESSING),
        entrypoint=CONTAINER_ENTRYPOINT,
        code=code,
        # PYTHONPATH: import the package from the zip; the rest keeps the container's output unbuffered.
        base_environment={"PYTHONPATH": code.pythonpath, "PYTHONUNBUFFERED": "1"},
    )


def processing_job_role(
    scope: Construct, construct_id: str, *, description: str, key: kms.IKey, image: AnalyzerImage
) -> iam.Role:
    """A role for SageMaker to run one kind of analyzer job: pull the image, write its logs, use the key.

    Callers add the S3 reads and writes of their job; these are the statements every job needs.
    """
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description=description,
    )
    partition = Stack.of(scope).partition
    repository = f"arn:{partition}:ecr:{Aws.REGION}:*:repository/{image.repository}"
    log_streams = f"arn:{partition}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{PROCESSING_LOG_GROUP}:*"
    add_statements(role, (
        (
            "PullAnalyzerImage",
            ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            repository,
        ),
        ("EcrLogin", ["ecr:GetAuthorizationToken"], "*"),
        (
            "JobLogs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            log_streams,
        ),
        # Read KMS-encrypted inputs, write encrypted outputs, encrypt the volume.
        ("UseDataKey", ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"], key.key_arn),
    ))
    acknowledge_wildcard_resources(role, (
        (
            repository,
            "The prebuilt image's ECR account differs per region (CfnMapping); the repository "
            "name pins it to the analyzer image.",
        ),
        ("*", "ecr:GetAuthorizationToken supports no resource-level scoping."),
        (
            log_streams,
            "SageMaker names processing log streams per job and instance; scoped to the "
            "processing-jobs log group.",
        ),
    ))
    if image.code is not None:
        image.code.grant_read(role)
    return role


def grant_run_jobs(
    principal: iam.Role,
    *,
    job_name_prefix: str,
    job_role: iam.IRole,
    key: kms.IKey,
    extra_actions: tuple[str, ...] = (),
) -> None:
    """Let `principal` start, watch and stop processing jobs named `<job_name_prefix>*` run by `job_role`
    (plus `extra_actions` on those jobs)."""
    stack = Stack.of(job_role)
    jobs = f"arn:{stack.partition}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:processing-job/{job_name_prefix}*"
    principal.add_to_principal_policy(
        iam.PolicyStatement(
            sid="RunAnalyzerJobs",
            actions=[
                "sagemaker:CreateProcessingJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:StopProcessingJob",
                *extra_actions,
            ],
            resources=[jobs],
        )
    )
    principal.add_to_principal_policy(
        iam.PolicyStatement(
            sid="PassJobRole",
            actions=["iam:PassRole"],
            resources=[job_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    # SageMaker creates a grant on the caller's behalf to encrypt the job's volume.
    principal.add_to_principal_policy(
        iam.PolicyStatement(
            sid="GrantVolumeKey",
            actions=["kms:CreateGrant", "kms:DescribeKey"],
            resources=[key.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        )
    )
    acknowledge_wildcard_resource(
        principal,
        jobs,
        f"Job names are generated per run; scoped to the {job_name_prefix}* jobs of this stack.",
    )
