"""What every section needs: the machine and its matrix-multiply peaks (the MFU
denominators), a timer that waits for the device, the project's catalog and ``kedro run``."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from lift.method.language_model import cores, cpu_has_bf16, select_device

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
DATASETS = ("iris", "moons")  # the default run's


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def matmul_peak(dtype: torch.dtype, device: torch.device) -> float:
    """The best FLOP/s of square matrix products (1024 to 4096) in ``dtype`` on ``device``."""
    best = 0.0
    for size in (1024, 2048, 3072, 4096):
        a = torch.randn(size, size, device=device).to(dtype)
        b = torch.randn(size, size, device=device).to(dtype)
        a @ b  # warm-up
        repeats = 3 if device.type == "cpu" else 50
        for _ in range(3):
            sync(device)
            started = time.perf_counter()
            for _ in range(repeats):
                a @ b
            sync(device)
            best = max(best, repeats * 2 * size**3 / (time.perf_counter() - started))
    return best


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def cpu_name() -> str:
    """The CPU's model as the kernel reports it (Linux), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:

    device = select_device()
    info = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "cpu": cpu_name(),
        "cores": cores(),
        "torch_threads": torch.get_num_threads(),
        "cpu_native_bf16": cpu_has_bf16(),
        "torch": torch.__version__,
    }
    log("measuring the matrix-multiply peaks")
    info["fp32_peak_flops"] = matmul_peak(torch.float32, device)
    info["bf16_peak_flops"] = matmul_peak(torch.bfloat16, device)
    return info


class Timer:
    """Seconds of a block, the device synchronized at both ends."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.seconds = device, 0.0

    def __enter__(self) -> Timer:
        sync(self.device)
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        sync(self.device)
        self.seconds = time.perf_counter() - self.started


def project_catalog() -> Any:
    """The project's catalog (the latest version of every artifact)."""
    from kedro.framework.session import KedroSession  # here: the GPU bench runs without Kedro
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(ROOT)
    with KedroSession.create(project_path=ROOT) as session:
        return session.load_context().catalog


def kedro_run(*arguments: str) -> None:
    """``kedro run`` with ``arguments`` in a fresh process, in the project's folder."""
    subprocess.run(
        [str(Path(sys.executable).parent / "kedro"), "run", *arguments],
        cwd=ROOT,
        check=True,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"},
    )
