"""The `supportbot` command: serve, index, kb lint, eval ...

JSON goes to stdout where a machine reads it; human text goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.settings import Settings

log = logging.getLogger("supportbot")


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment and `.env`, exiting with a precise message if invalid."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors():
            name = "SUPPORTBOT_" + "_".join(str(p) for p in error["loc"]).upper()
            secret = any(word in name for word in ("TOKEN", "SECRET", "KEY"))
            value = "(hidden)" if secret else repr(error.get("input"))
            print(f"invalid setting {name}={value}: {error['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app import create_app
    from bot.cme.auth import SecretKeyError

    settings = load_settings(host=args.host, port=args.port)
    if "public_url" not in settings.model_fields_set:
        # Links (sign-in banner, citations, Slack buttons) point at the port actually served.
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        host = f"[{host}]" if ":" in host else host
        settings = settings.model_copy(update={"public_url": f"http://{host}:{settings.port}"})
    if args.demo:
        ensure_demo_user(settings)
    try:
        app = create_app(settings)
    except SecretKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"supportbot: serving on http://{settings.host}:{settings.port}", file=sys.stderr)
    uvicorn.run(app, **serve_options(settings))
    return 0


def serve_options(settings: Settings) -> dict[str, object]:
    """What `serve` tells uvicorn: where to listen, how much to log, the largest socket frame."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "ws_max_size": settings.socket_max_frame_bytes,
    }


def cmd_user_add(args: argparse.Namespace) -> int:
    from bot.cme import accounts
    from bot.storage import Conflict, Database

    password = args.password or _ask_password()
    if password is None:
        print(
            "error: no password: pass --password, or run in a terminal to be asked for one",
            file=sys.stderr,
        )
        return 2
    if len(password) < 8:
        print("error: the password must have at least 8 characters", file=sys.stderr)
        return 2
    database = Database(load_settings().database_url)
    database.migrate()
    try:
        with database.write() as session:
            user, token = accounts.create_user(
                session,
                email=args.email,
                name=args.name or args.email,
                password=password,
                slack_user_id=args.slack_user_id,
            )
    except Conflict as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    print(json.dumps({"id": user.id, "email": user.email, "api_token": token}))
    print("The API token is shown once; store it safely.", file=sys.stderr)
    return 0


def _ask_password() -> str | None:
    """The password typed on the terminal (or piped to stdin); None when neither has one."""
    import getpass
    import warnings

    try:
        with warnings.catch_warnings():  # piped input is not echoed anywhere
            warnings.simplefilter("ignore", getpass.GetPassWarning)
            return getpass.getpass("Password for the new CME: ")
    except EOFError:
        print(file=sys.stderr)  # end the prompt's line
        return None


def ensure_demo_user(settings: Settings) -> None:
    """On an empty database, create a demo CME and print how to sign in."""
    import secrets

    from bot.cme import accounts
    from bot.storage import Database

    database = Database(settings.database_url)
    database.migrate()
    try:
        with database.write() as session:
            if accounts.list_users(session):
                return
            password = secrets.token_urlsafe(9)
            accounts.create_user(
                session, email="demo@example.com", name="Demo CME", password=password
            )
    finally:
        database.dispose()
    print(
        "\n  Demo CME created. Sign in at "
        f"{settings.public_url}/console/login\n    email:    demo@example.com\n"
        f"    password: {password}\n",
        file=sys.stderr,
    )


def cmd_customer_erase(args: argparse.Namespace) -> int:
    from bot.channels import erasers
    from bot.conversation import erase_customer
    from bot.storage import Database

    database = Database(load_settings().database_url)
    database.migrate()
    try:
        receipt = erase_customer(database, args.customer_id, erasers())
    finally:
        database.dispose()
    print(
        json.dumps(
            {
                "customer_id": receipt.customer_id,
                "conversations": receipt.conversations,
                "removed": receipt.removed,
            }
        )
    )
    print(f"erased {len(receipt.conversations)} conversation(s)", file=sys.stderr)
    return 0


class RedactingFilter(logging.Filter):
    """Hides e-mail addresses, phone numbers and card-like numbers in log lines."""

    PATTERNS = (
        re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
        re.compile(r"\b(?:\d[ -]?){13,19}\b"),  # card-like: 13-19 digits
        re.compile(r"\+?\d[\d ()-]{7,}\d"),  # phone-like
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for pattern in self.PATTERNS:
            redacted = pattern.sub("[redacted]", redacted)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def cmd_index(args: argparse.Namespace) -> int:
    from embedding import load_embedder
    from retrieval import KBMaintainer, KnowledgeBase

    settings = load_settings(kb_dir=args.kb)
    kb = KnowledgeBase(
        settings.kb_dir,
        settings.index_dir,
        load_embedder(settings.model, device=settings.device),
        public_url=settings.public_url,
        answer_threshold=settings.answer_threshold,
        answer_precision=settings.answer_precision,
    )
    maintainer = KBMaintainer(kb, adapt=settings.kb_adapt)
    report = maintainer.load(progress=args.full)
    if maintainer.adapt:
        print("adapting the model to the knowledge base (minutes on a CPU)...", file=sys.stderr)
        maintainer.wait_for_adaptation()
    maintainer.wait_for_probe()
    maintainer.wait_for_calibration()
    for problem in report.problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(
        json.dumps(
            {
                "articles": len(kb.articles()),
                "added": len(report.added),
                "changed": len(report.changed),
                "removed": len(report.removed),
                "embedded_passages": report.embedded_passages,
                "seconds": round(report.seconds, 3),
                "answer_gate": kb.gate_report(),
            }
        )
    )
    return 0


def cmd_kb_lint(args: argparse.Namespace) -> int:
    from retrieval import lint_kb

    directory = Path(args.dir) if args.dir else load_settings().kb_dir
    if not directory.is_dir():
        print(f"error: {directory} is not a directory", file=sys.stderr)
        return 2
    problems = lint_kb(directory)
    for problem in problems:
        print(problem)
    print(
        f"{len(problems)} problem(s) in {directory}" if problems else f"{directory}: no problems",
        file=sys.stderr,
    )
    return 1 if problems else 0


def cmd_eval(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else None
    if args.what == "retrieval":
        from embedding import load_embedder
        from retrieval import evaluate_retrieval

        settings = load_settings()
        if args.feedback_share:
            from retrieval import replay_outcomes

            print(
                json.dumps(
                    replay_outcomes(
                        kb_dir=Path(args.kb),
                        queries_path=Path(args.queries),
                        embedder=load_embedder(settings.model, device=settings.device),
                        share=args.feedback_share,
                        seeds=args.seeds,
                        threshold=settings.answer_threshold,
                        answer_precision=settings.answer_precision,
                        adapt=settings.kb_adapt,
                    )
                )
            )
            return 0
        result = evaluate_retrieval(
            kb_dir=Path(args.kb),
            queries_path=Path(args.queries),
            out_path=out,
            embedder=load_embedder(settings.model, device=settings.device),
            threshold=settings.answer_threshold,
            answer_precision=settings.answer_precision,
            adapt=settings.kb_adapt,
        )
    elif args.what == "indexing":
        from embedding import load_embedder
        from retrieval import benchmark_indexing

        settings = load_settings()
        result = benchmark_indexing(
            embedder=load_embedder(settings.model, device=settings.device),
            source=Path(args.source) if args.source else settings.kb_dir,
            articles=args.articles,
            kb_dir=Path(args.kb) if args.kb else None,
        )
    elif args.what == "sentiment":
        from sentiment import evaluate_sentiment

        result = evaluate_sentiment(texts_path=Path(args.texts), out_path=out)
    elif args.what == "frustration":
        from embedding import load_embedder
        from sentiment import evaluate_frustration

        settings = load_settings()
        result = evaluate_frustration(
            dialogues_path=Path(args.dialogues),
            out_path=out,
            embedder=load_embedder(settings.model, device=settings.device),
        )
    else:
        from bot.conversation.replay import evaluate_escalation

        result = evaluate_escalation(
            kb_dir=Path(args.kb),
            dialogues_path=Path(args.dialogues),
            out_path=out,
            settings=load_settings(),
        )
    print(json.dumps(result))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from bench import BenchError, BenchPlan, run_bench

    settings = load_settings(database_url=args.database_url)
    plan = BenchPlan(
        conversations=args.conversations,
        seconds=args.duration,
        messages=args.messages,
        transports=tuple(args.transport or ("rest", "ws")),
        idle_messages=args.idle_messages,
        url=args.url,
        admin_token=args.admin_token or settings.admin_token,
        data_dir=Path(args.data_dir) if args.data_dir else None,
    )
    try:
        report = run_bench(settings, plan)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="supportbot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--demo", action="store_true", help="create a demo CME on an empty database")
    serve.set_defaults(func=cmd_serve)

    user = commands.add_parser("user", help="CME accounts").add_subparsers(
        dest="user_command", required=True
    )
    add = user.add_parser("add", help="create a CME; prints its API token as JSON")
    add.add_argument("--email", required=True)
    add.add_argument("--name")
    add.add_argument("--password", help="prompted for when omitted")
    add.add_argument("--slack-user-id", help="link the account to a Slack user")
    add.set_defaults(func=cmd_user_add)

    customer = commands.add_parser("customer", help="customer data").add_subparsers(
        dest="customer_command", required=True
    )
    erase = customer.add_parser(
        "erase", help="erase a customer's conversations and everything about them; prints a receipt"
    )
    erase.add_argument("customer_id", help="the conversations' customer_id")
    erase.set_defaults(func=cmd_customer_erase)

    index = commands.add_parser("index", help="build or update the KB index")
    index.add_argument("--kb", help="KB folder (default SUPPORTBOT_KB_DIR)")
    index.add_argument("--full", action="store_true", help="re-embed everything")
    index.set_defaults(func=cmd_index)

    kb = commands.add_parser("kb", help="knowledge-base tools").add_subparsers(
        dest="kb_command", required=True
    )
    lint = kb.add_parser("lint", help="report every problem in the KB; exit 1 if any")
    lint.add_argument("dir", nargs="?")
    lint.set_defaults(func=cmd_kb_lint)

    evaluation = commands.add_parser("eval", help="benchmarks; one JSON object on stdout")
    kinds = evaluation.add_subparsers(dest="what", required=True)
    retrieval = kinds.add_parser("retrieval")
    retrieval.add_argument("--kb", required=True)
    retrieval.add_argument("--queries", required=True)
    retrieval.add_argument(
        "--feedback-share",
        type=float,
        default=0.0,
        help="replay outcomes: feed back what the product sees of this share of the queries, "
        "evaluate on the rest (answered precision at equal coverage, with and without)",
    )
    retrieval.add_argument("--seeds", type=int, default=5, help="random splits for the replay")
    sentiment = kinds.add_parser("sentiment")
    sentiment.add_argument("--texts", required=True)
    frustration = kinds.add_parser("frustration")
    frustration.add_argument("--dialogues", required=True)
    escalation = kinds.add_parser("escalation")
    escalation.add_argument("--kb", required=True)
    escalation.add_argument("--dialogues", required=True)
    for sub in (retrieval, sentiment, frustration, escalation):
        sub.add_argument("--out", help="write one JSON line per item here")
        sub.set_defaults(func=cmd_eval)
    indexing = kinds.add_parser(
        "indexing", help="cold build vs raw encoding rate, and an unchanged restart"
    )
    indexing.add_argument("--kb", help="index this KB instead of a generated one")
    indexing.add_argument("--source", help="articles to vary (default SUPPORTBOT_KB_DIR)")
    indexing.add_argument("--articles", type=int, default=1000, help="generated KB size")
    indexing.set_defaults(func=cmd_eval, out=None)

    bench = commands.add_parser(
        "bench",
        help="throughput and latency under N concurrent conversations against the bare model; "
        "one JSON object on stdout",
    )
    bench.add_argument("--conversations", type=_positive, default=64)
    bench.add_argument("--duration", type=float, default=30.0, help="seconds per loaded phase")
    bench.add_argument("--messages", type=_positive, help="stop a phase after this many turns")
    bench.add_argument(
        "--transport",
        choices=("rest", "ws"),
        action="append",
        help="rest: the reply is the POST's answer; ws: read from the widget socket (default both)",
    )
    bench.add_argument("--idle-messages", type=_positive, default=30)
    bench.add_argument("--url", help="drive this running server instead of starting one")
    bench.add_argument("--admin-token", help="for --url: reads batch sizes from the admin API")
    bench.add_argument("--database-url", help="the started server's database (default SQLite)")
    bench.add_argument("--data-dir", help="the started server's folder (default DATA_DIR/bench)")
    bench.set_defaults(func=cmd_bench)
    return parser


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `supportbot` console script."""
    _offline()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    for noisy in ("alembic", "bm25s", "faiss", "httpx", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
