"""The local endpoint: SageMaker XGBoost serving contract, and capture of concurrent traffic."""

from __future__ import annotations

import json
import random
import tarfile
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import xgboost as xgb

from model import synthetic
from tests.workshop_helpers import SteppingClock, small_model
from workshop.capture import CaptureConfig, CaptureWriter
from workshop.server import INFERENCE_ID_HEADER, EndpointStartError, LocalEndpoint, Predictor, load_model
from workshop.store import LocalStore, StoreError
from workshop.traffic import HttpTarget, send_rows

T0 = datetime(2024, 5, 1, 9, 40, tzinfo=UTC)


@pytest.fixture(scope="module")
def model_tar(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.tar.gz"
    small_model(path)
    return path


@pytest.fixture(scope="module")
def predictor(model_tar):
    return Predictor(load_model(model_tar))


def post(url: str, body: bytes, content_type: str | None = "text/csv", headers: dict | None = None):
    request = urllib.request.Request(url + "/invocations", data=body, method="POST", headers=headers or {})
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def captured(root) -> dict[str, list[dict]]:
    store = LocalStore(str(root))
    return {key: [json.loads(line) for line in store.read(key).splitlines()] for key in store.list()}


def test_ping_and_csv_predictions_match_the_model(model_tar, predictor):
    rows = synthetic.generate_rows(5, seed=11, label=False)
    with LocalEndpoint(predictor) as endpoint:
        with urllib.request.urlopen(endpoint.url + "/ping", timeout=5) as response:
            assert response.status == 200
        status, content_type, body = post(endpoint.url, "\n".join(",".join(r) for r in rows).encode())
    assert (status, content_type) == (200, "text/csv; charset=utf-8")
    assert body.endswith("\n") and len(body.splitlines()) == 5
    # The same model scored through a DMatrix, independently of the endpoint's code path.
    booster = xgb.Booster()
    with tarfile.open(model_tar) as archive:
        booster.load_model(bytearray(archive.extractfile("xgboost-model").read()))
    expected = booster.predict(xgb.DMatrix(np.asarray(rows, dtype=np.float32)))
    assert np.allclose([float(v) for v in body.splitlines()], expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"1,2,3", "application/json", 415, "'application/json' is not supported: send text/csv with 69"),
        (b"1,2,3", None, 415, "not supported"),
        (b"1,2,3", "text/csv", 400, "line 1 has 3 values but the model expects 69 features"),
        (b"", "text/csv", 400, "empty body"),
        (("1," * 68 + "x").encode(), "text/csv", 400, "line 1, column 69: 'x' is not a number"),
    ],
)
def test_bad_requests_get_clear_messages(predictor, body, content_type, status, message):
    with LocalEndpoint(predictor) as endpoint:
        got_status, _, text = post(endpoint.url, body, content_type)
    assert got_status == status
    assert message in text


def test_overlong_inference_id_is_refused(predictor):
    row = ",".join(synthetic.generate_rows(1, seed=1, label=False)[0]).encode()
    with LocalEndpoint(predictor) as endpoint:
        status, _, text = post(endpoint.url, row, headers={"X-Amzn-SageMaker-Inference-Id": "x" * 65})
    assert status == 400 and "1-64 printable characters" in text


def test_concurrent_requests_are_each_captured_once_in_their_hour(tmp_path, predictor):
    rows = synthetic.generate_rows(240, seed=21, label=False)
    ids = [f"req-{i:04d}" for i in range(len(rows))]
    # Every clock reading is 45 s later: the captures span about three hours.
    writer = CaptureWriter(CaptureConfig(str(tmp_path), "churn"), clock=SteppingClock(T0, timedelta(seconds=45)),
                           poll_seconds=0.01)
    endpoint = LocalEndpoint(predictor, writer).start()
    try:
        result = send_rows(rows, HttpTarget(endpoint.url), concurrency=8, inference_ids=ids)
    finally:
        endpoint.stop()
    assert result.ok == len(rows), result.errors

    seen: dict[str, dict] = {}
    hours = set()
    for key, records in captured(tmp_path).items():
        folder_hour = datetime.strptime("/".join(key.split("/")[2:6]), "%Y/%m/%d/%H").replace(tzinfo=UTC)
        hours.add(folder_hour)
        for record in records:
            metadata = record["eventMetadata"]
            assert metadata["inferenceId"] not in seen, "captured twice"
            seen[metadata["inferenceId"]] = record
            moment = datetime.strptime(metadata["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            assert folder_hour <= moment < folder_hour + timedelta(hours=1), (key, moment)
    assert sorted(seen) == ids
    assert len(hours) >= 3
    for inference_id, row in zip(ids, rows, strict=True):
        capture = seen[inference_id]["captureData"]
        assert capture["endpointInput"] == {
            "observedContentType": "text/csv", "mode": "INPUT", "data": ",".join(row), "encoding": "CSV"
        }
        output = capture["endpointOutput"]
        assert output["observedContentType"] == "text/csv; charset=utf-8" and output["encoding"] == "CSV"
        assert output["data"].endswith("\n") and 0.0 <= float(output["data"]) <= 1.0


@pytest.mark.parametrize("percentage", [0, 50])
def test_sampling_percentage(tmp_path, predictor, percentage):
    rows = synthetic.generate_rows(200, seed=31, label=False)
    writer = CaptureWriter(CaptureConfig(str(tmp_path), "churn", sampling_percentage=percentage),
                           rng=random.Random(8))
    with LocalEndpoint(predictor, writer) as endpoint:
        result = send_rows(rows, HttpTarget(endpoint.url), concurrency=4)
    assert result.ok == 200  # sampling never affects the answers
    records = [r for records in captured(tmp_path).values() for r in records]
    assert len(records) == writer.stats.sampled == writer.stats.written
    if percentage == 0:
        assert records == [] and captured(tmp_path) == {}
    else:
        assert 65 < len(records) < 135  # binomial(200, 0.5): ±4.9 standard deviations
        sent = {",".join(r) for r in rows}
        assert {r["captureData"]["endpointInput"]["data"] for r in records} <= sent


class BrokenStore(LocalStore):
    def write(self, key: str, data: bytes) -> None:
        raise StoreError("cannot write: the bucket is gone")


def test_capture_write_failure_never_fails_a_prediction(tmp_path, predictor):
    rows = synthetic.generate_rows(30, seed=41, label=False)
    writer = CaptureWriter(CaptureConfig(str(tmp_path), "churn"), store=BrokenStore(str(tmp_path)))
    with LocalEndpoint(predictor, writer) as endpoint:
        result = send_rows(rows, HttpTarget(endpoint.url), concurrency=3)
    assert result.ok == 30 and result.failed == 0
    assert writer.stats.failed_records == 30 and writer.stats.written == 0


def test_traffic_to_a_sagemaker_endpoint_goes_through_invoke_endpoint():
    import io

    import boto3
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    from workshop.traffic import SageMakerTarget

    client = boto3.client("sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    rows = [["1", "2.5"], ["3", "4.5"]]
    with Stubber(client) as stub:
        for i, row in enumerate(rows):
            body = f"0.{i}\n".encode()
            stub.add_response(
                "invoke_endpoint",
                {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "text/csv; charset=utf-8"},
                {"EndpointName": "churn-dev", "ContentType": "text/csv", "Body": ",".join(row).encode(),
                 "InferenceId": f"t-{i}"},
            )
        result = send_rows(rows, SageMakerTarget("churn-dev", client), concurrency=1, inference_ids=["t-0", "t-1"])
        stub.assert_no_pending_responses()
    assert (result.ok, result.failed) == (2, 0)


def test_csv_replay_skips_a_header_line(tmp_path):
    from workshop.traffic import read_csv_rows

    path = tmp_path / "test.csv"
    path.write_text("Account Length,Day Mins\n100,180.5\n90,\n")
    assert read_csv_rows(str(path)) == ([["100", "180.5"], ["90", ""]], True)
    path.write_text("100,180.5\n")
    assert read_csv_rows(str(path)) == ([["100", "180.5"]], False)


def test_boto3_invoke_endpoint_with_inference_id_is_captured(tmp_path, predictor):
    import boto3
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    inference_id = model.operation_model("InvokeEndpoint").input_shape.members["InferenceId"]
    assert inference_id.serialization == {"location": "header", "name": INFERENCE_ID_HEADER}
    row = ",".join(synthetic.generate_rows(1, seed=2, label=False)[0])
    with LocalEndpoint(predictor, CaptureWriter(CaptureConfig(str(tmp_path), "churn"))) as endpoint:
        client = boto3.client("sagemaker-runtime", endpoint_url=endpoint.url, region_name="us-east-1",
                              aws_access_key_id="x", aws_secret_access_key="x")
        response = client.invoke_endpoint(EndpointName="churn", ContentType="text/csv", Body=row.encode(),
                                          InferenceId="customer-42")
        assert 0.0 <= float(response["Body"].read()) <= 1.0
        client.invoke_endpoint(EndpointName="churn", ContentType="text/csv", Body=row.encode())
    records = [r for records in captured(tmp_path).values() for r in records]
    assert [list(r["eventMetadata"]) for r in records] == [["eventId", "inferenceId", "inferenceTime"],
                                                           ["eventId", "inferenceTime"]]
    assert records[0]["eventMetadata"]["inferenceId"] == "customer-42"
    assert records[0]["captureData"]["endpointInput"]["data"] == row


def test_64_concurrent_clients_get_no_connection_resets(predictor):
    rows = synthetic.generate_rows(64, seed=3, label=False)
    rounds, errors, answered = 3, [], []
    with LocalEndpoint(predictor) as endpoint:
        start_together = threading.Barrier(len(rows))

        def client(row: list[str]) -> None:
            for _ in range(rounds):
                start_together.wait(timeout=30)  # every client connects at the same moment
                try:
                    answered.append(post(endpoint.url, ",".join(row).encode())[0])
                except OSError as exc:
                    errors.append(repr(exc))

        threads = [threading.Thread(target=client, args=(row,)) for row in rows]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == [] and answered == [200] * (len(rows) * rounds)


def test_a_port_in_use_is_named_with_the_fix(predictor):
    with LocalEndpoint(predictor) as first:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(EndpointStartError, match=f"127.0.0.1:{port}: the port is in use .* --port"):
            LocalEndpoint(predictor, port=port).start()


def test_serve_and_traffic_cli_explain_bad_addresses(model_tar, capsys):
    from workshop.cli import main

    with LocalEndpoint(Predictor(load_model(model_tar))) as endpoint:
        port = endpoint.url.rsplit(":", 1)[1]
        assert main(["serve", "--model", str(model_tar), "--port", port]) == 1
    assert "the port is in use" in capsys.readouterr().err
    assert main(["serve", "--model", str(model_tar), "--port", "99999"]) == 1
    assert "port 99999 is not a TCP port; pick one from 1 to 65535 with --port" in capsys.readouterr().err
    for url in ("not-a-url", "ftp://host", "http://127.0.0.1:abc"):
        assert main(["traffic", "--url", url, "--scenario", "normal", "--rows", "2"]) == 1
        err = capsys.readouterr().err
        assert f"error: --url {url!r} is not" in err and "http://127.0.0.1:8080" in err


def test_traffic_cli_sends_a_stable_inference_id_per_generated_row(tmp_path, predictor):
    from workshop.cli import main
    from workshop.traffic import ScenarioRow, parse_scenario_id, scenario_ids

    with LocalEndpoint(predictor, CaptureWriter(CaptureConfig(str(tmp_path), "churn"))) as endpoint:
        assert main(["traffic", "--url", endpoint.url, "--scenario", "concept_shift", "--rows", "12",
                     "--seed", "4"]) == 0
    ids = sorted(r["eventMetadata"]["inferenceId"] for records in captured(tmp_path).values() for r in records)
    assert ids == scenario_ids("concept_shift", 4, 12) == [f"concept_shift-s4-n12-{i:06d}" for i in range(1, 13)]
    assert parse_scenario_id(ids[4]) == ScenarioRow("concept_shift", 4, 12, 5)
    assert parse_scenario_id("concept_shift-s4-n12-000013") is None  # past the last row
    assert parse_scenario_id("customer-42") is None


def test_a_replayed_csv_gets_the_files_name_and_row_number_as_inference_id(tmp_path, predictor):
    from workshop.cli import main

    (tmp_path / "test set.csv").write_text("\n".join(",".join(r) for r in synthetic.generate_rows(3, seed=5,
                                                                                                   label=False)))
    with LocalEndpoint(predictor, CaptureWriter(CaptureConfig(str(tmp_path / "c"), "churn"))) as endpoint:
        assert main(["traffic", "--url", endpoint.url, "--csv", str(tmp_path / "test set.csv")]) == 0
    ids = sorted(r["eventMetadata"]["inferenceId"] for records in captured(tmp_path / "c").values() for r in records)
    assert ids == ["test_set-000001", "test_set-000002", "test_set-000003"]
