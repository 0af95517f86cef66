"""Where capture files come from: a local folder (or one file) or an `s3://` prefix.

`capture_files` lists them in key order, keeping only files whose hour folder may hold records of
the window (`contract.layout.Window.may_hold`), and reads each only when asked. A location that
cannot be listed at all raises `CaptureSourceError`; a file that cannot be read is the reader's
to report (`read_problem`), so one bad file does not stop the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from contract.errors import CaptureSourceError
from contract.layout import Window, split_s3_uri


@dataclass(frozen=True)
class CaptureFile:
    name: str  # shown in messages: a local path or s3://bucket/key
    read: Callable[[], bytes]


def read_problem(exc: Exception) -> str:
    """The message of a capture file that cannot be read (OSError locally, botocore errors on S3)."""
    return f"cannot read the file ({exc}); check its permissions"


def _local_files(root: str, window: Window) -> Iterator[CaptureFile]:
    if os.path.isfile(root):
        yield CaptureFile(root, lambda: _read_local(root))
        return
    if not os.path.isdir(root):
        raise CaptureSourceError(
            f"capture folder {root} does not exist; pass the folder holding the endpoint's capture "
            "files (…/{endpoint}/{variant}/yyyy/mm/dd/hh/*.jsonl) or an s3:// prefix"
        )
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            if not name.startswith(".") and window.may_hold(os.path.relpath(path, root)):
                yield CaptureFile(path, lambda path=path: _read_local(path))


def _read_local(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _s3_files(uri: str, window: Window) -> Iterator[CaptureFile]:
    import boto3  # only needed for S3 sources
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = split_s3_uri(uri)
    # boto3 honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_S3) by itself.
    client = boto3.client("s3")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    try:
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/") or not window.may_hold(key[len(prefix) :]):
                    continue
                yield CaptureFile(
                    f"s3://{bucket}/{key}",
                    lambda key=key: client.get_object(Bucket=bucket, Key=key)["Body"].read(),
                )
    except (BotoCoreError, ClientError) as exc:
        raise CaptureSourceError(
            f"cannot list {uri}: {exc}; check the bucket name, your AWS credentials and region "
            "(and AWS_ENDPOINT_URL when using a local S3)"
        ) from None


def capture_files(source: str, window: Window) -> Iterator[CaptureFile]:
    """Every capture file under a local folder (or a single file) or an s3:// prefix, sorted."""
    if source.startswith("s3://"):
        return _s3_files(source, window)
    return _local_files(source, window)
