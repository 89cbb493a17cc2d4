"""Where the model runs: torch as trained, or an ONNX export of it run by onnxruntime, in fp32 or
with int8 dynamic quantization.

The export is made once from the local weights (never the hub) and cached on disk next to a
manifest naming the files it came from; a changed model is exported again. An export that does
not reproduce torch's vectors is refused, and the model runs on torch.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
ONNX_BACKENDS = ("onnx", "onnx-int8")
# What `auto` runs on a CPU, chosen by the figures in README "Performance": int8 is twice as fast
# one text at a time but moved the calibrated answer gate (clinc30 val coverage -0.013, over the
# 0.005 bar); fp32 ONNX gives torch's vectors but encoded batches at 0.75x torch's rate.
AUTO_CPU_BACKEND = "torch"
EXPORT_FORMAT = 1
MANIFEST = "export.json"
FILES = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx"}
OPSET = 17
# The export must give torch's vectors back: cosine on a padded batch of sample texts.
MIN_EXPORT_COSINE = {"onnx": 0.9999, "onnx-int8": 0.98}
SAMPLE_TEXTS = (
    "How do I reset my password?",
    "my card was declined twice at the shop and nobody answers the phone, this is ridiculous",
    "refund",
)

_missing_logged = False


class BackendUnavailable(RuntimeError):
    """The backend cannot run this model here (package missing, export failed or disagrees)."""


def onnxruntime_module() -> ModuleType | None:
    """onnxruntime, or None when it is not installed (said once in the log)."""
    global _missing_logged
    try:
        import onnxruntime
    except ImportError as exc:
        if not _missing_logged:
            _missing_logged = True
            log.warning(
                "onnxruntime is not installed (%s); the embedding model runs on torch. "
                "`pip install onnxruntime onnx` enables SUPPORTBOT_EMBED_BACKEND=onnx|onnx-int8",
                exc,
            )
        return None
    return onnxruntime


def resolve_backend(backend: str, device: str) -> str:
    """The backend that will run: `auto` is torch on CUDA and AUTO_CPU_BACKEND on a CPU; an ONNX
    backend without onnxruntime is torch."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; one of {', '.join(BACKENDS)}")
    if backend == "auto":
        backend = "torch" if device.startswith("cuda") else AUTO_CPU_BACKEND
    if backend in ONNX_BACKENDS and onnxruntime_module() is None:
        return "torch"
    return backend


def source_fingerprint(location: Path, exclude: Path) -> list[list[Any]]:
    """Name, size and modification time of every file of the model, so a changed model is
    exported again; the export folder itself (when inside the model) does not count."""
    files = []
    exclude = exclude.resolve()
    for path in sorted(location.rglob("*")):
        if not path.is_file() or exclude in path.resolve().parents:
            continue
        relative = path.relative_to(location)
        if any(part.startswith(".") for part in relative.parts):
            continue
        stat = path.stat()
        files.append([relative.as_posix(), stat.st_size, stat.st_mtime_ns])
    return files


def _sentence_graph(model: SentenceTransformer, names: Sequence[str]) -> Any:
    """The whole sentence-transformers pipeline (transformer, pooling, normalisation) as one
    torch module of plain tensors, which is what the ONNX exporter traces."""
    import torch

    class SentenceGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            features = dict(zip(names, tensors, strict=True))
            return self.model(features)["sentence_embedding"]

    return SentenceGraph().eval()


def model_inputs(model: SentenceTransformer, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """The model's tokenised inputs for `texts`, as sentence-transformers prepares them."""
    prepare = getattr(model, "preprocess", None) or model.tokenize
    features = prepare(list(texts))
    return {
        name: value.numpy()
        for name, value in features.items()
        if name in ("input_ids", "attention_mask", "token_type_ids")
    }


def _export_fp32(model: SentenceTransformer, destination: Path) -> None:
    import torch

    inputs = model_inputs(model, SAMPLE_TEXTS)  # padded: masks must be traced, not elided
    names = list(inputs)
    graph = _sentence_graph(model, names)
    previous = _use_eager_attention(model)
    try:
        # The TorchScript exporter traces fixed-shape code paths: its deprecation and tracer
        # warnings are expected; the export is checked against torch after loading.
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                tuple(torch.from_numpy(inputs[name]) for name in names),
                str(destination),
                input_names=names,
                output_names=["sentence_embedding"],
                dynamic_axes={
                    **{name: {0: "batch", 1: "tokens"} for name in names},
                    "sentence_embedding": {0: "batch"},
                },
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
    finally:
        _restore_attention(model, previous)


def _use_eager_attention(model: SentenceTransformer) -> str | None:
    """Plain attention traces into ordinary ONNX operators (SDPA may skip the mask when the
    sample batch needs none, which the trace would then bake in)."""
    auto_model = getattr(model[0], "auto_model", None)
    setter = getattr(auto_model, "set_attn_implementation", None)
    config = getattr(auto_model, "config", None)
    previous = getattr(config, "_attn_implementation", None)
    if setter is not None:
        try:
            setter("eager")
        except (ValueError, TypeError, AttributeError):
            return None
        return previous
    return None


def _restore_attention(model: SentenceTransformer, previous: str | None) -> None:
    if previous is None:
        return
    auto_model = getattr(model[0], "auto_model", None)
    setter = getattr(auto_model, "set_attn_implementation", None)
    if setter is not None:
        setter(previous)


def _quantize(source: Path, destination: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(destination), weight_type=QuantType.QInt8, per_channel=True)


def _atomic(folder: Path, name: str, write: Any) -> Path:
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.close(descriptor)
    try:
        write(Path(temporary))
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return folder / name


def export_model(model: SentenceTransformer, location: Path, folder: Path, backend: str) -> Path:
    """The ONNX file of `backend` for `model` (loaded from `location`) in `folder`: the cached
    one when it was exported from these very files, else a new export (fp32 first, int8 from it)."""
    if backend not in ONNX_BACKENDS:
        raise ValueError(f"{backend!r} is not an ONNX backend")
    folder.mkdir(parents=True, exist_ok=True)
    fingerprint = source_fingerprint(Path(location), folder)
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
    except (OSError, ValueError):
        manifest = {}
    if manifest.get("format") != EXPORT_FORMAT or manifest.get("source") != fingerprint:
        manifest = {"format": EXPORT_FORMAT, "source": fingerprint, "files": {}}
        for name in FILES.values():
            (folder / name).unlink(missing_ok=True)
    path = folder / FILES[backend]
    if path.is_file() and manifest["files"].get(backend) == FILES[backend]:
        return path
    started = time.perf_counter()
    fp32 = folder / FILES["onnx"]
    if not (fp32.is_file() and manifest["files"].get("onnx")):
        _atomic(folder, FILES["onnx"], lambda temporary: _export_fp32(model, temporary))
        manifest["files"]["onnx"] = FILES["onnx"]
    if backend == "onnx-int8":
        _atomic(folder, FILES[backend], lambda temporary: _quantize(fp32, temporary))
        manifest["files"][backend] = FILES[backend]
    _atomic(
        folder,
        MANIFEST,
        lambda temporary: temporary.write_text(json.dumps(manifest, indent=1), "utf-8"),
    )
    log.info("exported the embedding model to %s in %.1fs", path, time.perf_counter() - started)
    return path


class OnnxSentenceModel:
    """An exported sentence model run by onnxruntime on the CPU: tokenised inputs in, sentence
    embeddings out."""

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        ort = onnxruntime_module()
        if ort is None:
            raise BackendUnavailable("onnxruntime is not installed")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.path = path
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [node.name for node in self._session.get_inputs()]

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Sentence embeddings (not normalised) of one tokenised batch."""
        feed = {name: inputs[name].astype(np.int64, copy=False) for name in self.input_names}
        (output,) = self._session.run(["sentence_embedding"], feed)
        return np.asarray(output, dtype=np.float32)


def load_onnx(
    model: SentenceTransformer, location: Path, folder: Path, backend: str
) -> OnnxSentenceModel:
    """Export (or reuse) and load `model` for `backend`, checked against torch on sample texts;
    BackendUnavailable when it cannot run or disagrees."""
    import torch

    if onnxruntime_module() is None:
        raise BackendUnavailable("onnxruntime is not installed")
    try:
        path = export_model(model, location, folder, backend)
        runner = OnnxSentenceModel(path, threads=torch.get_num_threads())
        exported = runner.run(model_inputs(model, SAMPLE_TEXTS))
    except BackendUnavailable:
        raise
    except Exception as exc:
        raise BackendUnavailable(f"cannot export or run the model with {backend}: {exc}") from exc
    reference = model.encode(
        list(SAMPLE_TEXTS), convert_to_numpy=True, normalize_embeddings=True, batch_size=8
    )
    cosine = float(np.min(np.sum(_unit(exported) * reference, axis=1)))
    if cosine < MIN_EXPORT_COSINE[backend]:
        raise BackendUnavailable(
            f"the {backend} export of {location} disagrees with torch (cosine {cosine:.4f})"
        )
    return runner


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
