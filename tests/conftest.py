"""Fixtures shared by several test modules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

# A model-quality statistics.json records when it was computed (as the service's does): runs compared
# byte for byte get this moment instead, in process (`frozen_clock`) or in a subprocess (`FROZEN_CLOCK_MAIN`).
FROZEN_MOMENT = datetime(2026, 12, 2, 15, 4, 5, 678000, tzinfo=UTC)
FROZEN_CLOCK_MAIN = f"""
import datetime, runpy
import contract.model_quality
class Frozen(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime.datetime.fromisoformat({FROZEN_MOMENT.isoformat()!r})
contract.model_quality.datetime = Frozen
runpy.run_module("analyzer", run_name="__main__", alter_sys=True)
"""


@pytest.fixture
def frozen_clock(monkeypatch):
    """`contract.model_quality`'s clock stopped at FROZEN_MOMENT."""
    import contract.model_quality

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return FROZEN_MOMENT

    monkeypatch.setattr(contract.model_quality, "datetime", Frozen)


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
