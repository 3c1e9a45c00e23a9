"""docker/: compose parses (docker-compose, no engine needed); the images' stages read right."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

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


def test_compose_config_parses_with_hub_worker_migrate_and_postgres() -> None:
    result = _compose("config", "--services", secret="s" * 48)
    assert result.returncode == 0, result.stderr
    # docker-compose 1.x lists services of every profile; 2.x only the active ones
    assert set(result.stdout.split()) - {"redis"} == {"hub", "worker", "migrate", "postgres"}


def test_redis_is_an_optional_profile() -> None:
    result = _compose("--profile", "redis", "config", secret="s" * 48)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["services"]["redis"]["profiles"] == ["redis"]


def test_hub_and_worker_wait_for_the_one_shot_migration() -> None:
    result = _compose("config", secret="s" * 48)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert services["migrate"]["command"] == ["feedback-hub", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in ("hub", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
    assert services["hub"]["build"]["target"] == "api"
    assert services["worker"]["build"]["target"] == "worker"


def test_compose_refuses_to_start_without_a_secret() -> None:
    result = _compose("config", secret=None)
    assert result.returncode != 0
    assert "set HUB_SECRET_KEY" in result.stderr


def stages() -> dict[str, str]:
    """The Dockerfile's stages by name (``FROM … AS name``)."""
    parts = (DOCKER / "Dockerfile").read_text().split("\nFROM ")[1:]
    return {part.split("\n", 1)[0].split(" AS ")[1]: part for part in parts}


@pytest.mark.parametrize(("target", "lock"), [("api", "api.txt"), ("worker", "worker.txt")])
def test_each_image_installs_its_lock_then_the_wheel_as_non_root(target: str, lock: str) -> None:
    stage = stages()[target]
    assert "-r /tmp/requirements.txt" in stage
    assert f"COPY requirements/{lock} /tmp/requirements.txt" in stage
    assert "pip install --no-deps /tmp/dist/*.whl" in stage
    assert "\nUSER hub\n" in stage
    assert stage.index("USER hub") > stage.rindex("pip install")


def test_only_the_worker_image_has_the_nlp_stack_and_torch_cpu_index() -> None:
    assert "download.pytorch.org/whl/cpu" in stages()["worker"]
    assert "download.pytorch.org" not in stages()["api"]


def test_the_worker_health_is_its_heartbeat_not_http() -> None:
    worker = stages()["worker"]
    assert 'CMD ["feedback-hub", "worker-health"]' in worker
    assert "healthz" not in worker and "EXPOSE" not in worker
    assert "/healthz" in stages()["api"]
