"""Commands leave no process behind: SIGTERM or SIGKILL to `serve` ends its worker, and a
killed `import` ends its parsing process (real processes, on SQLite)."""

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.live_server import CLI, _wait_until_up, free_port

pytestmark = pytest.mark.skipif(not psutil.LINUX, reason="children end with their parent on Linux")


def environment(workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HUB_DATABASE_URL": f"sqlite:///{workdir / 'hub.db'}",
        "HUB_LOG_LEVEL": "warning",
        "HUB_SCHEDULER_ENABLED": "false",
    }


def wait_for_children(
    process: "subprocess.Popen[bytes]", ready: Callable[[list[psutil.Process]], bool]
) -> list[psutil.Process]:
    """The process's descendants once ``ready`` says they are all there."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "the command ended before its children were seen"
        children: list[psutil.Process] = psutil.Process(process.pid).children(recursive=True)
        if ready(children):
            return children
        time.sleep(0.1)
    raise AssertionError("the command's children did not appear in 120 s")


def spawned(children: list[psutil.Process]) -> bool:
    """Whether one of ``children`` is a multiprocessing child (the worker, the pool's process)."""
    for child in children:
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                return True
        except psutil.NoSuchProcess:
            continue
    return False


def assert_all_end(children: list[psutil.Process], within: float) -> None:
    _gone, alive = psutil.wait_procs(children, timeout=within)
    assert not alive, f"left running: {[p.cmdline() for p in alive]}"


def start_serve(workdir: Path) -> tuple["subprocess.Popen[bytes]", list[psutil.Process]]:
    log = workdir / "serve.log"
    base_url = f"http://127.0.0.1:{free_port()}"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", base_url.rsplit(":", 1)[1]],
            env=environment(workdir), cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    _wait_until_up(base_url, process, log)
    return process, wait_for_children(process, spawned)


def test_sigterm_to_serve_stops_its_worker(tmp_path: Path) -> None:
    process, children = start_serve(tmp_path)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=90) == 128 + signal.SIGTERM
    assert_all_end(children, within=5)


def test_a_killed_serve_leaves_no_worker(tmp_path: Path) -> None:
    process, children = start_serve(tmp_path)
    process.kill()
    process.wait(timeout=10)
    assert_all_end(children, within=60)  # the worker finishes what it was doing, then stops


def big_import(workdir: Path) -> Path:
    """A file large enough (> 4 MB) to be parsed in a second process."""
    path = workdir / "big.jsonl"
    line = {"channel": "review", "text": "The export button hangs on large reports. " * 5}
    with path.open("w") as out:
        for n in range(18_000):
            out.write(json.dumps({**line, "external_id": f"x{n}"}) + "\n")
    return path


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_import_leaves_no_process(tmp_path: Path, how: signal.Signals) -> None:
    path = big_import(tmp_path)
    process = subprocess.Popen(
        [*CLI, "import", str(path), "--source", "Old export"],
        env=environment(tmp_path), cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    children = wait_for_children(process, spawned)
    process.send_signal(how)
    assert process.wait(timeout=30) == (128 + how if how == signal.SIGTERM else -how)
    assert_all_end(children, within=10)
