"""One small interface over a local folder and an `s3://bucket/prefix`, for captures and reports.

boto3 honours `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_S3`) by itself, so the same location
strings work against AWS, the moto emulator, or any S3-compatible endpoint.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Protocol


class StoreError(RuntimeError):
    """A location cannot be listed, read or written; the message names it and what to check."""


class Store(Protocol):
    location: str

    def list(self, under: str = "") -> list[str]:
        """Keys (relative to the store, '/'-separated) under `under`, sorted."""

    def read(self, key: str) -> bytes: ...

    def write(self, key: str, data: bytes) -> None: ...

    def describe(self, key: str) -> str:
        """The full location of `key`, for messages."""


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


@dataclass
class LocalStore:
    location: str

    def _path(self, key: str) -> str:
        return os.path.join(self.location, *key.split("/")) if key else self.location

    def list(self, under: str = "") -> list[str]:
        keys = []
        for folder, subfolders, names in os.walk(self._path(under)):
            subfolders.sort()
            for name in names:
                if not name.startswith("."):  # skip partial files being written
                    keys.append(os.path.relpath(os.path.join(folder, name), self.location).replace(os.sep, "/"))
        return sorted(keys)

    def read(self, key: str) -> bytes:
        try:
            with open(self._path(key), "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise StoreError(f"cannot read {self._path(key)}: {exc.strerror}") from None

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        folder = os.path.dirname(path)
        try:
            os.makedirs(folder, exist_ok=True)
            # Write to a hidden temporary file, then rename: readers never see half a file.
            handle, partial = tempfile.mkstemp(dir=folder, prefix=".", suffix=".partial")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(partial, path)
        except OSError as exc:
            raise StoreError(f"cannot write {path}: {exc.strerror}; check the folder is writable") from None

    def describe(self, key: str) -> str:
        return self._path(key)


@dataclass
class S3Store:
    location: str  # s3://bucket/prefix
    client: object = None

    def __post_init__(self) -> None:
        self.bucket, _, self.prefix = self.location[len("s3://") :].partition("/")
        self.prefix = self.prefix.strip("/")
        if not self.bucket:
            raise StoreError(f"{self.location!r} names no bucket; write it as s3://bucket/prefix")
        if self.client is None:
            import boto3  # only needed for S3 locations

            self.client = boto3.client("s3")

    def _error(self, action: str, key: str, exc: Exception) -> StoreError:
        hint = "check the bucket name, your AWS credentials and region"
        if os.environ.get("AWS_ENDPOINT_URL"):
            hint += f" (AWS_ENDPOINT_URL={os.environ['AWS_ENDPOINT_URL']} is set: is that endpoint running?)"
        return StoreError(f"cannot {action} {self.describe(key)}: {exc}; {hint}")

    def list(self, under: str = "") -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        prefix = join(self.prefix, under)
        prefix = prefix + "/" if prefix else ""
        keys = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/"))
        except (BotoCoreError, ClientError) as exc:
            raise self._error("list", under, exc) from None
        start = len(self.prefix) + 1 if self.prefix else 0
        return sorted(key[start:] for key in keys)

    def read(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=join(self.prefix, key))["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise self._error("read", key, exc) from None

    def write(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=join(self.prefix, key), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise self._error("write", key, exc) from None

    def describe(self, key: str) -> str:
        return "s3://" + join(self.bucket, self.prefix, key)


def read_location(location: str) -> bytes:
    """One file given as a local path or an s3:// URI."""
    folder, _, name = location.rstrip("/").rpartition("/")
    return open_store(folder or ".").read(name)


def open_store(location: str, client: object = None) -> Store:
    """A local folder path or an `s3://bucket/prefix` URI."""
    if location.startswith("s3://"):
        return S3Store(location, client)
    return LocalStore(location)
