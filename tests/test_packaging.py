"""The built wheel carries every runtime file (taxonomy, migrations, templates, the NLP models),
and, installed without ``-e`` beside the locked dependencies, it runs the demo and a worker."""

import os
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# every non-Python file the running hub reads, by where it lives in the source tree
RUNTIME_FILES = [
    "hub/topics/taxonomy.json",
    "hub/store/migrations/script.py.mako",
    "web/templates/base.html",
    "web/static/widget.js",
    *(str(p.relative_to(ROOT)) for p in (ROOT / "nlp" / "heads").glob("*")),
    *(str(p.relative_to(ROOT)) for p in (ROOT / "nlp" / "models").glob("*/*")),
    *(str(p.relative_to(ROOT)) for p in (ROOT / "hub" / "demo" / "data").glob("*")),
]


@pytest.fixture(scope="session")
def wheel_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("feedback_hub-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel(wheel_path: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(wheel_path)


@pytest.fixture(scope="session")
def installed(wheel_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed without ``-e``; its ``bin`` folder.

    Its third-party packages are this test environment's, which ``make test`` installed from
    the lock file a moment ago: a ``.pth`` line puts their folder on the path. Installing torch
    & co. a second time would prove nothing more and was most of this test's time. The
    editable finder of this checkout is not on that path (``.pth`` files are only read in a
    site directory, and that folder is added as a plain entry), so ``hub`` can only come from
    the wheel."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)  # fmt: skip
    python = venv / "bin" / "python"
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (site / "locked-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-compile", str(wheel_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return venv / "bin"


def test_the_model_files_exist_in_the_tree() -> None:
    assert any(name.startswith("nlp/heads/") and name.endswith(".npz") for name in RUNTIME_FILES)


@pytest.mark.parametrize("name", RUNTIME_FILES)
def test_the_wheel_carries_each_runtime_file(wheel: zipfile.ZipFile, name: str) -> None:
    assert name in wheel.namelist(), f"{name} is missing from the wheel: add it to package-data"
    assert wheel.read(name) == (ROOT / name).read_bytes()


def test_the_installed_wheel_runs_the_demo_and_a_worker(installed: Path, tmp_path: Path) -> None:
    database = tmp_path / "hub.db"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("HUB_") or k == "HUB_MODEL_CACHE"
    }
    env |= {"HUB_DATABASE_URL": f"sqlite:///{database}", "HUB_SCHEDULER_ENABLED": "false"}

    def run(*command: str) -> str:
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        assert done.returncode == 0, f"{command[1:]}: {done.stderr[-3000:]}"
        return done.stdout

    found = run(str(installed / "python"), "-c", "import hub, nlp, web; print(hub, nlp, web)")
    assert found.count(str(installed.parent)) == 3, found  # the installed copy, not the tree
    run(str(installed / "feedback-hub"), "demo")
    run(str(installed / "feedback-hub"), "worker", "--once")
    with sqlite3.connect(database) as connection:
        total, with_text, scored, enriched = connection.execute(
            "SELECT count(*), count(coalesce(text, title)), count(sentiment),"
            " sum(nlp_state = 'done') FROM feedback"
        ).fetchone()
    assert total >= 300
    assert enriched == total  # every item, text-less answers too
    assert scored == with_text  # sentiment for every item that says something
