"""A local stand-in for the SageMaker XGBoost endpoint, with data capture (contract, sections 1 and 10).

`POST /invocations` takes `text/csv` (feature values only, no header or label, one row per line)
and answers `text/csv; charset=utf-8`, one prediction per line, each ending in `\\n`; `GET /ping`
answers 200. Every successful invocation goes through the capture writer, which never fails it.
The runtime API's path `POST /endpoints/<name>/invocations` is served too, so boto3's
`invoke_endpoint(..., InferenceId=...)` with `endpoint_url` set to this server works unchanged;
its `X-Amzn-SageMaker-Inference-Id` header is captured as `eventMetadata.inferenceId`.
"""

from __future__ import annotations

import errno
import logging
import re
import tarfile
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import xgboost as xgb

from workshop.capture import INFERENCE_ID_MAX, CaptureWriter, media_type

log = logging.getLogger(__name__)

MODEL_MEMBER = "xgboost-model"
CSV_TYPE = "text/csv"
RESPONSE_TYPE = "text/csv; charset=utf-8"
INFERENCE_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"  # how the runtime API passes InferenceId
_PRINTABLE_ID = re.compile(r"^\S[\x20-\x7e]*$")
_RUNTIME_PATH = re.compile(r"^/endpoints/[^/]+/invocations$")  # sagemaker-runtime's InvokeEndpoint


class ModelLoadError(RuntimeError):
    """model.tar.gz cannot be read or holds no XGBoost model."""


class EndpointStartError(RuntimeError):
    """The endpoint cannot listen on the address asked for; the message names the fix."""


class RequestError(ValueError):
    """A request the endpoint refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def load_model(path: str | Path) -> xgb.Booster:
    """The booster inside a SageMaker model.tar.gz (member `xgboost-model`)."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            member = archive.extractfile(MODEL_MEMBER)
            payload = member.read() if member else b""
    except (OSError, tarfile.TarError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}; build it with `make model`") from None
    except KeyError:
        raise ModelLoadError(f"{path} has no member {MODEL_MEMBER!r}; rebuild it with `make model`") from None
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(payload))
    except xgb.core.XGBoostError as exc:
        raise ModelLoadError(f"{path}: {MODEL_MEMBER} is not an XGBoost model ({exc})") from None
    booster.set_param({"nthread": 1})  # one request, one row: threads only add overhead
    return booster


def parse_csv(body: bytes, n_features: int) -> np.ndarray:
    """A float matrix from a CSV body; RequestError (400) naming the line and column otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(HTTPStatus.BAD_REQUEST, "the body is not UTF-8 text; send CSV rows of numbers") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"empty body: send one row of {n_features} comma-separated feature values per line"
        )
    rows = [line.split(",") for line in lines]
    for number, row in enumerate(rows, start=1):
        if len(row) != n_features:
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"line {number} has {len(row)} values but the model expects {n_features} features; send the "
                "feature values only (no header line, no label column)",
            )
    cells = np.char.strip(np.array(rows, dtype=str))
    cells[cells == ""] = "nan"  # an empty value is a missing value, as in the XGBoost container
    try:
        return cells.astype(np.float32)
    except ValueError:
        bad = next((i, j) for i, row in enumerate(cells) for j, v in enumerate(row) if not _is_number(v))
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"line {bad[0] + 1}, column {bad[1] + 1}: {str(cells[bad])!r} is not a number",
        ) from None


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def format_score(score: float) -> str:
    # float32 scores printed as Python floats, as the container does (`0.02614814229309559`).
    return repr(float(score))


def format_predictions(scores: np.ndarray) -> bytes:
    return "".join(format_score(score) + "\n" for score in scores).encode()


class Predictor:
    """The serving contract, without HTTP: content type and body in, CSV predictions out."""

    def __init__(self, booster: xgb.Booster):
        self.booster = booster
        self.n_features = booster.num_features()

    def invoke(self, content_type: str | None, body: bytes) -> bytes:
        if media_type(content_type) != CSV_TYPE:
            raise RequestError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"content type {content_type or '(none)'!r} is not supported: send {CSV_TYPE} with "
                f"{self.n_features} feature values per line",
            )
        # inplace_predict is thread-safe and skips building a DMatrix per request.
        return format_predictions(self.booster.inplace_predict(parse_csv(body, self.n_features)))


def check_inference_id(value: str | None) -> str | None:
    if value is not None and (len(value) > INFERENCE_ID_MAX or not _PRINTABLE_ID.match(value)):
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"{INFERENCE_ID_HEADER} must be 1-{INFERENCE_ID_MAX} printable characters, got {value[:80]!r}",
        )
    return value


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "workshop-endpoint"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        log.debug("%s " + format, self.address_string(), *args)

    def _answer(self, status: HTTPStatus, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/ping":
            self._answer(HTTPStatus.OK, b"")
        else:
            self._answer(HTTPStatus.NOT_FOUND, b"unknown path; use GET /ping or POST /invocations\n")

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/invocations" and not _RUNTIME_PATH.match(self.path):
            self._answer(HTTPStatus.NOT_FOUND, b"unknown path; use POST /invocations\n")
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self._answer(HTTPStatus.LENGTH_REQUIRED, b"send a Content-Length header with the body's size\n")
            return
        body = self.rfile.read(int(length))
        content_type = self.headers.get("Content-Type")
        try:
            inference_id = check_inference_id(self.headers.get(INFERENCE_ID_HEADER))
            prediction = self.server.predictor.invoke(content_type, body)
        except RequestError as exc:
            self._answer(exc.status, f"{exc}\n".encode())
            return
        # Captured before answering (a buffered append that never raises): once a client has its
        # answer, its record is in the writer, so a flush or a stop right after includes it.
        if self.server.writer is not None:
            self.server.writer.capture(body, content_type, prediction, RESPONSE_TYPE, inference_id)
        self._answer(HTTPStatus.OK, prediction, RESPONSE_TYPE)


class _Server(ThreadingHTTPServer):
    # Non-daemon request threads that server_close() joins: a stopped endpoint has finished
    # (and captured) every request it accepted before the capture writer is closed.
    daemon_threads = False
    block_on_close = True
    # The listen backlog: connections the kernel queues while the accept loop is busy. The
    # socketserver default of 5 resets about 5% of the connections of 64 concurrent clients; 128
    # holds 64 clients opening connections at once (a new connection per request, as urllib and
    # boto3 without keep-alive do) with room to spare. The kernel caps it at net.core.somaxconn.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], predictor: Predictor, writer: CaptureWriter | None):
        super().__init__(address, _Handler)
        self.predictor = predictor
        self.writer = writer


@dataclass
class LocalEndpoint:
    """The HTTP endpoint on a background thread. Use as a context manager, or start()/stop()."""

    predictor: Predictor
    writer: CaptureWriter | None = None
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port

    def __post_init__(self) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalEndpoint:
        if not 0 <= self.port <= 65535:
            raise EndpointStartError(f"port {self.port} is not a TCP port; pick one from 1 to 65535 with --port "
                                     "(0 = any free port)")
        try:
            self._server = _Server((self.host, self.port), self.predictor, self.writer)
        except OSError as exc:
            raise EndpointStartError(_listen_problem(self.host, self.port, exc)) from None
        if self.writer is not None:
            self.writer.start()
        self._thread = threading.Thread(target=self._server.serve_forever, name="endpoint", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, finish requests in flight, then flush the captures (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None
        if self.writer is not None:
            self.writer.close()

    def __enter__(self) -> LocalEndpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _listen_problem(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot listen on {where}: the port is in use (another `workshop serve`?); stop that "
                "process or pick another port with --port (0 = any free port)")
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied; use a port above 1023 with --port"
    return f"cannot listen on {where}: {exc.strerror or exc}; check --host (e.g. 127.0.0.1) and --port"
