"""Worker roles: ``--only`` picks the loops; collect/notify workers never load the NLP stack."""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app as cli
from hub.enrichment.worker import ROLES, parse_roles
from hub.errors import InvalidInput
from tests.conftest import Database

NLP_STACK = ("torch", "transformers", "onnxruntime", "nlp.pipeline")


def test_roles_are_parsed_and_unknown_ones_named() -> None:
    assert parse_roles("nlp") == {"nlp"}
    assert parse_roles(" Notify , collect,") == {"notify", "collect"}
    assert parse_roles("nlp,collect,notify") == ROLES
    with pytest.raises(InvalidInput, match=r"unknown worker role.*smtp.*choose from collect, nlp"):
        parse_roles("notify,smtp")
    with pytest.raises(InvalidInput, match="none given"):
        parse_roles(" , ")


def test_the_cli_refuses_an_unknown_role_clearly(db: Database, cli_env: object) -> None:
    result = CliRunner().invoke(cli, ["worker", "--only", "nlp,gpu"])
    assert result.exit_code == 2
    assert "unknown worker role(s) gpu" in result.output


def test_a_collect_and_notify_worker_never_imports_the_nlp_stack(
    db: Database, tmp_path: Path
) -> None:
    # A worker process through the CLI, stopped by SIGTERM once its loops have run a while.
    script = textwrap.dedent(f"""
        import json, os, signal, sys, threading, time

        seen = []
        def stop_when_running():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "notifier" not in seen:
                time.sleep(0.1)
                seen[:] = [t.name for t in threading.enumerate()]
            time.sleep(1.0)  # a few notifier rounds
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=stop_when_running, daemon=True).start()
        from hub.cli import app
        try:
            app(["worker", "--only", "collect,notify"])
        except SystemExit:
            pass
        loaded = [name for name in {NLP_STACK!r} if name in sys.modules]
        print(json.dumps({{"loaded": loaded, "threads": sorted(seen)}}))
    """)
    env = {"HUB_DATABASE_URL": db.url, "HUB_NOTIFY_POLL_SECONDS": "0.2"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    assert {"notifier", "collector-scheduler"} <= set(report["threads"])
    assert re.search(r"notifier \S+ stopped", done.stderr)
    assert not re.search(r"worker \S+ started", done.stderr)  # no enrichment loop
