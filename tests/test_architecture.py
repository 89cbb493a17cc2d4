"""The layout's rules, checked on the code's own imports: which part may import which, and no
import circles. docs/architecture.md explains the parts; this test keeps it true."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.utils import REPO

# What each top-level part may import of ours (itself included). The cores import no `bot`.
ALLOWED = {
    "embedding": {"embedding"},
    "escalation": {"escalation"},
    "sentiment": {"sentiment", "embedding"},
    "retrieval": {"retrieval", "embedding"},
    "insight": {"insight", "embedding"},
    "bot": {"bot", "embedding", "escalation", "sentiment", "retrieval", "insight"},
    "app": {"app", "bot", "embedding", "escalation", "sentiment", "retrieval", "insight"},
    # The load generator drives a server and measures the bare model: a client of everything.
    "bench": {"bench", "bot", "embedding", "retrieval"},
}
# The command line sits on top of everything: `supportbot serve` runs app.create_app.
ALSO_ALLOWED = {"bot.cli": {"app", "bench"}}
# Inside `bot`, from the ground up: a part imports its own layer's part and lower layers only.
# Parts sharing a layer (http, channels) are siblings and import neither each other.
BOT_LAYERS = [
    {"bot.settings"},
    {"bot.storage"},
    {"bot.schemas"},
    {"bot.events"},
    {"bot.cluster"},
    {"bot.runtime"},
    {"bot.conversation"},
    {"bot.cme"},
    {"bot.http", "bot.channels"},
    {"bot.cli", "bot.migrations"},
]


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    type_only: bool  # under `if TYPE_CHECKING:`: a dependency, but no circle at run time


def modules(root: Path) -> dict[str, Path]:
    """Our modules by dotted name: the top-level parts and app.py."""
    found: dict[str, Path] = {}
    if (root / "app.py").exists():
        found["app"] = root / "app.py"
    for part in ALLOWED:
        folder = root / part
        if not folder.is_dir():
            continue
        for path in folder.rglob("*.py"):
            relative = path.relative_to(root).with_suffix("")
            names = list(relative.parts)
            if names[-1] == "__init__":
                names = names[:-1]
            found[".".join(names)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    def walk(node: ast.AST, type_only: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, type_only
            elif isinstance(child, ast.If) and _type_checking(child):
                for inner in child.body:
                    yield from walk(ast.Module(body=[inner], type_ignores=[]), True)
                for inner in child.orelse:
                    yield from walk(ast.Module(body=[inner], type_ignores=[]), type_only)
            else:
                yield from walk(child, type_only)

    yield from walk(tree, False)


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module of ours that `name` refers to: itself or its closest enclosing package."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def edges(root: Path) -> list[Edge]:
    """Every import between our modules, lazy ones inside functions included."""
    known = modules(root)
    found = []
    for source, path in known.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, type_only in _imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = source.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
                targets = [t if _resolve(t, known) == t else base for t in targets]
            for target in targets:
                resolved = _resolve(target, known)
                if resolved is not None and resolved != source:
                    found.append(Edge(source, resolved, node.lineno, type_only))
    return found


def _part(module: str) -> str:
    names = module.split(".")
    return ".".join(names[:2]) if names[0] == "bot" and len(names) > 1 else names[0]


def _layer(part: str) -> int | None:
    return next((i for i, layer in enumerate(BOT_LAYERS) if part in layer), None)


def layer_violations(found: list[Edge]) -> list[str]:
    """Imports that break ALLOWED or BOT_LAYERS."""
    problems = []
    for edge in found:
        source_top, target_top = edge.source.split(".")[0], edge.target.split(".")[0]
        where = f"{edge.source}:{edge.line} imports {edge.target}"
        extra = ALSO_ALLOWED.get(_part(edge.source), set())
        if target_top not in ALLOWED.get(source_top, set()) | extra:
            problems.append(f"{where}: {source_top} may not import {target_top}")
            continue
        if source_top != "bot" or target_top != "bot":
            continue
        source, target = _part(edge.source), _part(edge.target)
        if source == target or target == "bot":
            continue
        source_layer, target_layer = _layer(source), _layer(target)
        if source_layer is None or target_layer is None:
            unknown = source if source_layer is None else target
            problems.append(f"{where}: {unknown} has no layer in BOT_LAYERS")
        elif target_layer > source_layer:
            problems.append(f"{where}: {source} runs back up to {target}")
        elif target_layer == source_layer:
            problems.append(f"{where}: {source} and {target} are siblings")
    return problems


def circles(found: list[Edge]) -> list[list[str]]:
    """Import circles among modules at run time (Tarjan's strongly connected components)."""
    graph: dict[str, set[str]] = {}
    for edge in found:
        if not edge.type_only:
            graph.setdefault(edge.source, set()).add(edge.target)
            graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_part_imports_what_it_must_not():
    assert layer_violations(edges(REPO)) == []


def test_there_are_no_import_circles():
    assert circles(edges(REPO)) == []


def test_every_bot_part_has_a_layer_and_bot_keeps_few_loose_modules():
    parts = {_part(name) for name in modules(REPO) if name.startswith("bot.")}
    assert {part for part in parts if _layer(part) is None} == set()
    loose = [path for path in (REPO / "bot").glob("*.py") if path.name != "__init__.py"]
    assert len(loose) <= 8, sorted(path.name for path in loose)


def test_the_checks_catch_a_core_importing_bot_a_layer_running_up_and_a_circle(tmp_path):
    files = {
        "sentiment/__init__.py": "",
        "sentiment/scorer.py": "from bot.runtime import Bot\n",
        "retrieval/__init__.py": "",
        "retrieval/search.py": "import sentiment.scorer\n",
        "bot/__init__.py": "",
        "bot/runtime.py": "from bot.storage import store\n",
        "bot/storage/__init__.py": "",
        "bot/storage/store.py": "def f():\n    from bot.conversation import pipeline\n",
        "bot/conversation/__init__.py": "",
        "bot/conversation/pipeline.py": "from bot.runtime import Bot\n",
        "bot/http/__init__.py": "from bot.channels import web\n",
        "bot/channels/__init__.py": "",
        "bot/channels/web.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from bot.http import deps\n",
        "bot/http/deps.py": "",
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    found = edges(tmp_path)
    problems = "\n".join(layer_violations(found))
    assert "sentiment.scorer:1 imports bot.runtime: sentiment may not import bot" in problems
    assert "retrieval.search:1 imports sentiment.scorer: retrieval may not import sentiment" in (
        problems
    )
    assert "bot.storage.store:2 imports bot.conversation.pipeline: bot.storage runs back up" in (
        problems
    )
    assert "bot.http:1 imports bot.channels.web: bot.http and bot.channels are siblings" in problems
    assert "bot.channels.web:3 imports bot.http.deps" in problems  # type-only still counts
    assert circles(found) == [
        ["bot.conversation.pipeline", "bot.runtime", "bot.storage.store"]
    ]  # the lazy import inside a function closes it; the type-only import does not


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("sentiment", ("faiss", "torch", "sentence_transformers", "sqlalchemy", "bm25s", "bot")),
        ("escalation", ("faiss", "torch", "sentence_transformers", "sqlalchemy", "numpy", "bot")),
        ("embedding", ("faiss", "torch", "sentence_transformers", "sqlalchemy", "bot")),
        ("retrieval", ("torch", "sentence_transformers", "sqlalchemy", "bot")),
    ],
)
def test_importing_a_core_loads_no_model_index_or_database(package, forbidden):
    probe = f"import sys, {package}; print(' '.join(m for m in {forbidden!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "", f"import {package} loaded {result.stdout.strip()}"
