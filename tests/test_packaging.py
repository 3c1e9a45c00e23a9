"""The built wheel carries every runtime file: taxonomy, migrations, templates, the NLP models."""

import subprocess
import sys
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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("feedback_hub-*.whl")
    return zipfile.ZipFile(built)


def test_the_model_files_exist_in_the_tree() -> None:
    assert any(name.startswith("nlp/heads/") and name.endswith(".npz") for name in RUNTIME_FILES)


@pytest.mark.parametrize("name", RUNTIME_FILES)
def test_the_wheel_carries_each_runtime_file(wheel: zipfile.ZipFile, name: str) -> None:
    assert name in wheel.namelist(), f"{name} is missing from the wheel: add it to package-data"
    assert wheel.read(name) == (ROOT / name).read_bytes()
