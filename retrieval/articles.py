"""Knowledge-base articles: one markdown file each, with optional YAML front matter.

Parsing never raises for a bad file: it returns a `KBProblem` naming the file and line, and the
rest of the knowledge base keeps serving.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

FRONT_MATTER_FENCE = "---"
KNOWN_KEYS = {"title", "tags", "questions", "escalate", "draft", "team"}
TEAM_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KBError(Exception):
    """Base class for knowledge-base errors."""


@dataclass(frozen=True)
class KBProblem:
    """A broken article: which file, which line, what is wrong."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Article:
    """One parsed article. `body` is the markdown after the front matter."""

    id: str
    title: str
    tags: tuple[str, ...]
    questions: tuple[str, ...]
    escalate: bool
    draft: bool
    body: str
    path: Path
    body_line: int = 1  # line of the file where `body` starts
    content_hash: str = ""
    team: str | None = None  # the CME team that takes escalations about it (`team: billing`)


@dataclass(frozen=True)
class _ArticleFile:
    article: Article | None
    problems: list[KBProblem]


def article_id_for(path: Path, kb_dir: Path) -> str:
    """Article id: the path relative to the KB folder, without `.md`, posix separators."""
    return path.relative_to(kb_dir).with_suffix("").as_posix()


def iter_article_paths(kb_dir: Path) -> list[Path]:
    """Every `.md` file under `kb_dir`, skipping hidden files and folders, in a stable order."""
    paths = []
    for path in kb_dir.rglob("*.md"):
        relative = path.relative_to(kb_dir)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        paths.append(path)
    return sorted(paths)


def _decode(raw: bytes, shown: str) -> tuple[str | None, KBProblem | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, KBProblem(shown, line, f"not valid UTF-8 (byte {raw[exc.start]:#04x})")
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n"), None


def _key_line(front_lines: list[str], key: str) -> int:
    """Line (1-based, counting the opening fence) where a top-level key is set."""
    pattern = re.compile(rf"^{re.escape(key)}\s*:")
    for number, line in enumerate(front_lines, start=2):
        if pattern.match(line):
            return number
    return 1


def _string_list(
    value: Any, key: str, shown: str, line: int, problems: list[KBProblem]
) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(item, str | int | float) for item in value
    ):
        problems.append(KBProblem(shown, line, f"`{key}` must be a list of strings"))
        return ()
    return tuple(str(item).strip() for item in value if str(item).strip())


def _first_heading(body: str) -> str | None:
    in_fence = False
    for line in body.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        elif not in_fence and (match := re.match(r"^#\s+(.+?)\s*#*\s*$", line)):
            return match.group(1).strip()
    return None


def _title_from_name(path: Path) -> str:
    words = re.sub(r"[-_]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.stem


def parse_article(path: Path, kb_dir: Path, raw: bytes | None = None) -> _ArticleFile:
    """Parse one file into an `Article`, or the problems that make it unservable."""
    shown = path.relative_to(kb_dir).as_posix()
    if raw is None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            return _ArticleFile(
                None, [KBProblem(shown, 1, f"cannot read file: {exc.strerror or exc}")]
            )
    text, problem = _decode(raw, shown)
    if text is None:
        return _ArticleFile(None, [problem] if problem else [])

    meta: dict[str, Any] = {}
    front_lines: list[str] = []
    body, body_line = text, 1
    lines = text.split("\n")
    if lines and lines[0].rstrip() == FRONT_MATTER_FENCE:
        closing = next(
            (i for i in range(1, len(lines)) if lines[i].rstrip() in (FRONT_MATTER_FENCE, "...")),
            None,
        )
        if closing is None:
            return _ArticleFile(
                None, [KBProblem(shown, 1, "front matter opened with --- is never closed")]
            )
        front_lines = lines[1:closing]
        body, body_line = "\n".join(lines[closing + 1 :]), closing + 2
        try:
            loaded = yaml.load("\n".join(front_lines), Loader=_YAML_LOADER)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 2 if mark is not None else 1
            reason = getattr(exc, "problem", None) or str(exc).split("\n")[0]
            return _ArticleFile(
                None, [KBProblem(shown, line, f"invalid YAML front matter: {reason}")]
            )
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            kind = type(loaded).__name__
            return _ArticleFile(
                None, [KBProblem(shown, 2, f"front matter must be a mapping of keys, got {kind}")]
            )
        meta = loaded

    problems: list[KBProblem] = []
    title = meta.get("title")
    if title is not None and not isinstance(title, str | int | float):
        problems.append(
            KBProblem(shown, _key_line(front_lines, "title"), "`title` must be a string")
        )
        title = None
    tags = _string_list(meta.get("tags"), "tags", shown, _key_line(front_lines, "tags"), problems)
    questions = _string_list(
        meta.get("questions"), "questions", shown, _key_line(front_lines, "questions"), problems
    )
    flags = {}
    for key in ("escalate", "draft"):
        value = meta.get(key, False)
        if not isinstance(value, bool):
            problems.append(
                KBProblem(shown, _key_line(front_lines, key), f"`{key}` must be true or false")
            )
            value = False
        flags[key] = value
    team = meta.get("team")
    if team is not None and not (isinstance(team, str) and TEAM_PATTERN.match(team)):
        problems.append(
            KBProblem(
                shown,
                _key_line(front_lines, "team"),
                "`team` must be a short lower-case name (letters, digits, - and _)",
            )
        )
        team = None
    for key in meta:
        if str(key) not in KNOWN_KEYS:
            log.debug("%s: ignoring unknown front matter key %r", shown, key)
    if problems:
        return _ArticleFile(None, problems)

    resolved_title = str(title).strip() if title is not None and str(title).strip() else None
    resolved_title = resolved_title or _first_heading(body) or _title_from_name(path)
    article = Article(
        id=article_id_for(path, kb_dir),
        title=resolved_title,
        tags=tags,
        questions=questions,
        escalate=flags["escalate"],
        draft=flags["draft"],
        team=team,
        body=body.strip("\n"),
        path=path,
        body_line=body_line,
        content_hash=hashlib.sha256(raw).hexdigest(),
    )
    return _ArticleFile(article, [])


def load_articles(kb_dir: Path) -> tuple[dict[str, Article], list[KBProblem]]:
    """Parse every article under `kb_dir`; drafts are left out, broken files reported."""
    articles: dict[str, Article] = {}
    problems: list[KBProblem] = []
    if not kb_dir.is_dir():
        return articles, [KBProblem(kb_dir.as_posix(), 0, "knowledge-base folder does not exist")]
    for path in iter_article_paths(kb_dir):
        parsed = parse_article(path, kb_dir)
        problems.extend(parsed.problems)
        if parsed.article is not None and not parsed.article.draft:
            articles[parsed.article.id] = parsed.article
    return articles, problems


def lint_kb(kb_dir: Path) -> list[KBProblem]:
    """Every problem in the knowledge base, one per broken file (or per bad key)."""
    return load_articles(Path(kb_dir))[1]
