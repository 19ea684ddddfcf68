"""The default run's iris model as MLflow serves it: rows per second of one request of every
iris row, and the latency of a one-row request, in Python (``mlflow.pyfunc.load_model``) and
over HTTP (``mlflow models serve``), after the model is loaded."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.datasets import load_iris

from .machine import ROOT, log

MODEL = "models:/classification.iris/latest"
TRACKING = f"sqlite:///{ROOT / 'data/mlflow/mlflow.db'}"
REPEATS = 20


def iris_rows() -> pd.DataFrame:
    """Every iris row with the column names the default run trained on."""
    return load_iris(as_frame=True).frame.drop(columns="target")


def timed(call: Any, repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def over_http(rows: pd.DataFrame) -> dict[str, float]:
    """The same requests to ``mlflow models serve`` on this machine."""
    import requests

    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": TRACKING}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # uvicorn's
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", MODEL]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        while True:
            try:
                if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        ready = time.perf_counter() - started

        def post(batch: pd.DataFrame) -> None:
            body = {"dataframe_split": batch.to_dict(orient="split", index=False)}
            response = requests.post(f"{url}/invocations", json=body, timeout=600)
            response.raise_for_status()

        post(rows.head(1))  # the first request loads what it loads lazily
        one = timed(lambda: post(rows.head(1)), REPEATS)
        batch = timed(lambda: post(rows), 3)
        return {
            "ready_seconds": ready,
            "one_row_ms": 1000 * statistics.median(one),
            "rows_per_second": len(rows) / statistics.median(batch),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def serving_benchmark() -> dict[str, Any]:
    import mlflow

    mlflow.set_tracking_uri(TRACKING)
    rows = iris_rows()
    log(f"serving: {MODEL} loaded in Python")
    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(MODEL)
    loaded = time.perf_counter() - started
    model.predict(rows.head(1))
    one = timed(lambda: model.predict(rows.head(1)), REPEATS)
    batch = timed(lambda: model.predict(rows), 3)
    log("serving: the same over HTTP (mlflow models serve)")
    return {
        "rows": len(rows),
        "python": {
            "load_seconds": loaded,
            "one_row_ms": 1000 * statistics.median(one),
            "rows_per_second": len(rows) / statistics.median(batch),
        },
        "http": over_http(rows),
    }
