"""``python -m <module> ...`` run as a user runs it, without importing torch each time.

The tests run ``kedro`` some fifty times, each in a process of its own: its working folder,
environment, globals, exit status, stdout and stderr are the command's alone. A fresh interpreter
spends up to 17 s importing torch, transformers, PEFT, MLflow, scikit-learn and Kedro before its
first node. Here one warm interpreter per pytest worker (``Prewarmed``, started on the first
command) imports them once and forks a child per command: a new process, started from a state
where those modules are imported and nothing has run (no torch thread pool, no Kedro project
configured), which then does what ``python -m`` does. Run as a script, this file is that warm
interpreter: it reads one JSON request a line and answers each with the command's exit status.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import runpy
import select
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

# what a kedro run of this project imports anyway; importing them configures nothing a fresh
# process would not have, and starts no thread but a memory allocator's background one (jemalloc,
# with scikit-learn), which its own fork handlers look after
WARM = (
    "torch",
    "transformers",
    "peft",
    "sklearn.model_selection",
    "xgboost",
    "mlflow",
    "mlflow.store.tracking.sqlalchemy_store",  # a tracked run's store: 0.8 s
    "kedro.framework.cli.cli",
    "kedro.framework.session",
    "kedro_datasets.pandas",
    "kedro_mlflow.framework.hooks",
    "lift.settings",
    "lift.pipeline_registry",
)


def _child(request: dict) -> None:
    """In the forked child: become the command, run it and exit with its status."""
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[0] = request["cwd"]  # as `python -m` puts its working folder first
        sys.argv = [request["module"], *request["args"]]
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit:
        if exit.code is None or isinstance(exit.code, int):
            code = exit.code or 0
        else:
            print(exit.code, file=sys.stderr)
    except BaseException:  # what the interpreter does with an uncaught exception
        sys.excepthook(*sys.exc_info())
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            traceback.print_exc()
        os._exit(code)


def serve() -> None:
    """The warm interpreter's loop: a request a line on stdin, its exit status on stdout."""
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what the imports print (Kedro logs its logging configuration) is no reply
    for module in WARM:
        # an extra not installed: a command that needs it says so itself
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    with contextlib.suppress(ImportError):
        # MLflow's map of the installed modules to their packages, which logging a served model
        # checks its requirements against: read here once, not once a run (1.5 s)
        from mlflow.utils.requirements_utils import _init_modules_to_packages_map

        _init_modules_to_packages_map()
    gc.freeze()  # their objects left out of every collection's scan (tests/conftest.py)
    print("ready", file=replies, flush=True)
    for line in sys.stdin:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            replies.close()
            _child(json.loads(line))
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), file=replies, flush=True)


class Prewarmed:
    """The warm interpreter of this process, started on the first ``run``."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.outputs = Path(tempfile.mkdtemp(prefix="prewarmed-"))
        atexit.register(shutil.rmtree, self.outputs, True)
        atexit.register(self._stop)

    def _started(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            env = {**os.environ, "PYTHONWARNINGS": "ignore"}
            self.process = subprocess.Popen(
                [sys.executable, __file__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
                start_new_session=True,  # a timeout ends it and the command it forked
            )
            self._reply(timeout=300)
        return self.process

    def _stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)
            self.process.wait()
            self.process = None

    def _reply(self, timeout: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            self._stop()
            raise subprocess.TimeoutExpired("prewarmed", timeout)
        line = self.process.stdout.readline()
        if not line:
            self._stop()
            raise RuntimeError("the warm interpreter ended (its error is in this test's stderr)")
        return line.strip()

    def run(
        self, cwd: Path, module: str, args: tuple[str, ...], env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess:
        """``python -m module *args`` in ``cwd`` with ``env``, its output captured."""
        process = self._started()
        stdout, stderr = self.outputs / "stdout", self.outputs / "stderr"
        request = {
            "cwd": str(cwd),
            "module": module,
            "args": list(args),
            "env": env,
            "stdout": str(stdout),
            "stderr": str(stderr),
        }
        assert process.stdin is not None
        process.stdin.write(json.dumps(request) + "\n")
        process.stdin.flush()
        code = int(self._reply(timeout))
        return subprocess.CompletedProcess(
            [sys.executable, "-m", module, *args],
            code,
            stdout.read_text(errors="replace"),
            stderr.read_text(errors="replace"),
        )


if __name__ == "__main__":
    serve()
