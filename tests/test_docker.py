"""docker/: the compose file parses (checked by docker-compose, no engine needed)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

DOCKER = Path(__file__).parents[1] / "docker"


def _compose(*args: str, secret: str | None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is missing; `make test` installs Debian's docker-compose")
    env = {k: v for k, v in os.environ.items() if k != "HUB_SECRET_KEY"}
    if secret:
        env["HUB_SECRET_KEY"] = secret
    return subprocess.run(
        [binary, "-f", str(DOCKER / "compose.yaml"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_compose_config_parses_with_hub_worker_and_postgres() -> None:
    result = _compose("config", "--services", secret="s" * 48)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"hub", "worker", "postgres"}


def test_compose_refuses_to_start_without_a_secret() -> None:
    result = _compose("config", secret=None)
    assert result.returncode != 0
    assert "set HUB_SECRET_KEY" in result.stderr


def test_image_runs_as_non_root() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert "\nUSER hub\n" in dockerfile
    assert dockerfile.index("USER hub") > dockerfile.index("pip install")
