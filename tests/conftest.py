"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture
def s3(monkeypatch):
    """An S3 client of a moto server that boto3 reaches through AWS_ENDPOINT_URL, as the analyzer's
    readers do (moto is imported here only: the image parity venv deselects the tests that use it)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    import boto3

    yield boto3.client("s3")
    server.stop()
