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
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot.settings import Settings

if TYPE_CHECKING:
    from embedding import Embedder

log = logging.getLogger("supportbot")
DEMO_PER_DAY = 6  # conversations a day that `serve --demo` seeds on an empty database
# The labelled set `eval topics` and `eval alerts` read by default: ../shared/data/clinc30 beside
# the checkout (see its README); --data overrides it.
EVAL_DATA = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "clinc30")


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
    model = None
    if args.demo:
        ensure_demo_user(settings)
        if "bot_name" not in settings.model_fields_set:  # the demo page is Tallyo's
            settings = settings.model_copy(update={"bot_name": "Tallyo's assistant"})
        model = seed_empty_demo(settings)
    try:
        app = create_app(settings) if model is None else create_app(settings, embedder=model)
    except SecretKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"supportbot: serving on http://{settings.host}:{settings.port}", file=sys.stderr)
    uvicorn.run(app, **serve_options(settings))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import uvicorn

    from app import create_app
    from bot.cluster.leader import worker_lock

    settings = load_settings(port=args.port)
    # The worker is the process that runs the deployment's jobs, whatever the instances say.
    settings = settings.model_copy(update={"background": "here"})
    with worker_lock(settings.database_url):
        app = create_app(settings)
        print(
            f"supportbot worker: background work for the deployment; health on "
            f"http://{settings.host}:{settings.port}/readyz",
            file=sys.stderr,
        )
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
    from bot.cme.assignment import set_presence
    from bot.storage import Conflict, Database, utcnow

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
                is_admin=args.admin,
            )
            if args.team:  # offline until they sign in; assignment routes their teams' work
                set_presence(
                    session, user_id=user.id, status="offline", now=utcnow(), teams=args.team
                )
    except Conflict as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    shown = {"id": user.id, "email": user.email, "api_token": token}
    print(json.dumps(shown | {"admin": args.admin, "teams": sorted(set(args.team or []))}))
    print("The API token is shown once; store it safely.", file=sys.stderr)
    return 0


def _team_name(value: str) -> str:
    import re

    from bot.schemas import TEAM_NAME_PATTERN

    if not re.match(TEAM_NAME_PATTERN, value):
        raise argparse.ArgumentTypeError(
            f"{value!r}: a team is a short lower-case name (letters, digits, - and _)"
        )
    return value


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


def seed_empty_demo(settings: Settings) -> Embedder | None:
    """On a database without conversations, seed a month of demo traffic (`demo seed`); returns
    the model it loaded, for the server to reuse."""
    from bot.cme import demo
    from bot.runtime import Bot
    from bot.storage import Database
    from embedding import load_embedder

    database = Database(settings.database_url)
    try:
        database.migrate()
        if demo.has_traffic(database):
            return None
    finally:
        database.dispose()
    started = time.perf_counter()
    print("supportbot: seeding a month of demo traffic through the pipeline ...", file=sys.stderr)
    model = load_embedder(settings.model, **settings.embedder_options())
    report = demo.run_seed(Bot.build(settings, embedder=model), days=30, per_day=DEMO_PER_DAY)
    print(
        f"supportbot: demo seeded in {time.perf_counter() - started:.1f}s: "
        f"{json.dumps(report.to_dict())}",
        file=sys.stderr,
    )
    return model


def cmd_demo_seed(args: argparse.Namespace) -> int:
    from bot.cme import demo
    from bot.runtime import Bot

    bot = Bot.build(load_settings())
    report = demo.run_seed(bot, days=args.days, per_day=args.per_day)
    print(json.dumps(report.to_dict()))
    return 0


def cmd_bench_insights(args: argparse.Namespace) -> int:
    from bot.cme.insights.benchmark import benchmark_insights

    url = args.database_url or load_settings().database_url
    result = benchmark_insights(
        url, conversations=args.conversations, days=args.days, runs=args.runs
    )
    print(json.dumps(result))
    return 0 if result["passed"] else 1


def cmd_customer_erase(args: argparse.Namespace) -> int:
    from bot.channels import erasers
    from bot.conversation import erase_customer
    from bot.storage import Database
    from bot.storage.filestore import file_store

    settings = load_settings()
    database = Database(settings.database_url)
    database.migrate()
    try:
        receipt = erase_customer(database, args.customer_id, erasers(), files=file_store(settings))
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


def cmd_health_recompute(args: argparse.Namespace) -> int:
    from bot.cme.recompute import recompute
    from bot.storage import Database

    settings = load_settings()
    database = Database(settings.database_url)
    database.migrate()
    try:
        report = recompute(database, settings)
    finally:
        database.dispose()
    print(json.dumps({"customers": report.customers, "accounts": report.accounts}))
    print(f"health recomputed in {report.seconds:.1f}s", file=sys.stderr)
    return 0


def cmd_bench_health(args: argparse.Namespace) -> int:
    import tempfile
    from dataclasses import asdict

    from bot.cme import health_bench

    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        settings = load_settings(database_url=url, data_dir=Path(folder))
        print(f"seeding {args.customers} customers into {url.split('?')[0]} ...", file=sys.stderr)
        result = health_bench.run(settings, customers=args.customers)
    print(json.dumps(asdict(result) | {"target_seconds": 60}))
    print(
        f"full health recompute: {result.customers} customers in {result.recompute_seconds}s "
        f"({result.per_customer_ms} ms each, {result.database})",
        file=sys.stderr,
    )
    return 0


class RedactingFilter(logging.Filter):
    """Hides e-mail addresses, phone numbers and card-like numbers in log lines."""

    PATTERNS = (
        re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
        re.compile(r"\b(?:\d[ -]?){13,19}\b"),  # card-like: 13-19 digits
        # Phone-like, standing alone: digits inside an id (a hex error or conversation id) stay.
        re.compile(r"(?<!\w)\+?\d[\d ()-]{7,}\d(?!\w)"),
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
        load_embedder(settings.model, **settings.embedder_options()),
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
    from retrieval import lint_channels, lint_kb

    directory = Path(args.dir) if args.dir else load_settings().kb_dir
    if not directory.is_dir():
        print(f"error: {directory} is not a directory", file=sys.stderr)
        return 2
    problems = lint_kb(directory)
    for problem in problems:
        print(problem)
    # Warnings: markdown the widget or Slack cannot show. They do not fail the lint.
    for warning in lint_channels(directory):
        print(f"warning: {warning}")
    print(
        f"{len(problems)} problem(s) in {directory}" if problems else f"{directory}: no problems",
        file=sys.stderr,
    )
    return 1 if problems else 0


def cmd_kb_gaps(args: argparse.Namespace) -> int:
    from bot.cme.gaps import gaps_table, kb_gaps
    from bot.storage import Database, utcnow
    from embedding import load_embedder
    from insight.bench import article_vectors
    from retrieval.articles import load_articles

    settings = load_settings()
    served, _ = load_articles(settings.kb_dir)
    embedder = load_embedder(settings.model, **settings.embedder_options())
    vectors = article_vectors(embedder, [[a.title, *a.questions] for a in served.values()])
    database = Database(settings.database_url)
    try:
        with database.read() as session:
            report = kb_gaps(
                session,
                kb=settings.kb_dir.name or "kb",
                model_id=embedder.model_id,
                article_ids=list(served),
                article_vectors=vectors,
                now=utcnow(),
                days=args.days,
            )
    finally:
        database.dispose()
    print(gaps_table(report) if args.format == "table" else json.dumps(report))
    return 0


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
                        embedder=load_embedder(settings.model, **settings.embedder_options()),
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
            embedder=load_embedder(settings.model, **settings.embedder_options()),
            threshold=settings.answer_threshold,
            answer_precision=settings.answer_precision,
            adapt=settings.kb_adapt,
        )
    elif args.what == "indexing":
        from embedding import load_embedder
        from retrieval import benchmark_indexing

        settings = load_settings()
        result = benchmark_indexing(
            embedder=load_embedder(settings.model, **settings.embedder_options()),
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
            embedder=load_embedder(settings.model, **settings.embedder_options()),
        )
    elif args.what in ("topics", "alerts"):
        result = _eval_insight(args)
    else:
        from bot.conversation.replay import evaluate_escalation
        from embedding import load_embedder

        settings = load_settings()
        result = evaluate_escalation(
            kb_dir=Path(args.kb),
            dialogues_path=Path(args.dialogues),
            out_path=out,
            settings=settings,
            # loaded here, not in the replay's scratch folder: an ONNX export is kept for reuse
            embedder=load_embedder(settings.model, **settings.embedder_options()),
        )
    print(json.dumps(result))
    return 0


def _eval_insight(args: argparse.Namespace) -> dict:
    import csv

    from bot.cme.alerts import spike_rule
    from embedding import load_embedder
    from insight.bench import eval_topics
    from insight.replay import evaluate_alerts
    from retrieval.articles import load_articles

    settings = load_settings()
    data = Path(args.data)
    embedder = load_embedder(settings.model, **settings.embedder_options())
    served, _ = load_articles(data / "kb")
    articles = [[article.title, *article.questions] for article in served.values()]
    if args.what == "topics":
        return eval_topics(embedder, articles, data / "queries_val.csv")
    rows = []
    for name in ("queries_val.csv", "queries_test.csv"):
        with (data / name).open(newline="", encoding="utf-8") as handle:
            rows.extend(csv.DictReader(handle))
    return evaluate_alerts(
        embedder,
        articles,
        rows,
        spike_rule(settings),
        min_similarity=settings.topic_min_similarity,
        seed=args.seed,
    )


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


def cmd_bench_backends(args: argparse.Namespace) -> int:
    from bench.backends import compare_backends
    from embedding.backends import BACKENDS

    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    if not backends or set(backends) - set(BACKENDS):
        print(
            f"error: --backends takes a comma-separated list of {', '.join(BACKENDS)}",
            file=sys.stderr,
        )
        return 2
    report = compare_backends(load_settings(), backends, rounds=args.rounds, seconds=args.seconds)
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

    worker = commands.add_parser(
        "worker",
        help="run the background work once for a deployment of several instances (sweeps, "
        "Slack delivery, KB building and training); serves only health checks to operators",
    )
    worker.add_argument("--port", type=int, help="health-check port (default SUPPORTBOT_PORT)")
    worker.set_defaults(func=cmd_worker)

    user = commands.add_parser("user", help="CME accounts").add_subparsers(
        dest="user_command", required=True
    )
    add = user.add_parser("add", help="create a CME; prints its API token as JSON")
    add.add_argument("--email", required=True)
    add.add_argument("--name")
    add.add_argument("--password", help="prompted for when omitted")
    add.add_argument("--slack-user-id", help="link the account to a Slack user")
    add.add_argument(
        "--team",
        action="append",
        type=_team_name,
        help="a team they belong to (article `team:`); repeat for several",
    )
    add.add_argument(
        "--admin", action="store_true", help="a console admin (may change others' team replies)"
    )
    add.set_defaults(func=cmd_user_add)

    customer = commands.add_parser("customer", help="customer data").add_subparsers(
        dest="customer_command", required=True
    )
    erase = customer.add_parser(
        "erase", help="erase a customer's conversations and everything about them; prints a receipt"
    )
    erase.add_argument("customer_id", help="the conversations' customer_id")
    erase.set_defaults(func=cmd_customer_erase)

    health = commands.add_parser("health", help="customer health").add_subparsers(
        dest="health_command", required=True
    )
    health.add_parser(
        "recompute", help="recompute every customer's and account's health now"
    ).set_defaults(func=cmd_health_recompute)

    bench = commands.add_parser(
        "bench",
        help="throughput and latency under N concurrent conversations against the bare model "
        "(no subcommand), or a named benchmark; one JSON object on stdout",
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
    bench_kinds = bench.add_subparsers(dest="bench_what", required=False)
    bench_health = bench_kinds.add_parser(
        "health", help="full health recompute over generated customers (target: 10,000 in 60 s)"
    )
    bench_health.add_argument("--customers", type=int, default=10_000)
    bench_health.add_argument(
        "--database-url", help="an EMPTY database to seed (default: a temporary SQLite file)"
    )
    bench_health.set_defaults(func=cmd_bench_health)

    demo = commands.add_parser("demo", help="demo data").add_subparsers(
        dest="demo_command", required=True
    )
    seed = demo.add_parser(
        "seed", help="run a month of realistic traffic through the real pipeline; prints JSON"
    )
    seed.add_argument("--days", type=int, default=30, choices=range(1, 366), metavar="DAYS")
    seed.add_argument(
        "--per-day", type=int, default=DEMO_PER_DAY, choices=range(1, 501), metavar="N"
    )
    seed.set_defaults(func=cmd_demo_seed)

    bench_backends = bench_kinds.add_parser(
        "backends",
        help="the bare model on each embedding backend in turn (one text, batches of "
        "EMBED_MAX_BATCH): medians over rounds and ratios to the first",
    )
    bench_backends.add_argument("--backends", default="torch,onnx,onnx-int8")
    bench_backends.add_argument("--rounds", type=_positive, default=3)
    bench_backends.add_argument("--seconds", type=float, default=3.0, help="batched, per round")
    bench_backends.set_defaults(func=cmd_bench_backends)

    insights = bench_kinds.add_parser(
        "insights",
        help="dashboard queries over generated traffic (bulk-inserted once into the database); "
        "exit 1 if a query's p95 is over 500 ms",
    )
    insights.add_argument(
        "--database-url", help="a database for the benchmark (default SUPPORTBOT_DATABASE_URL)"
    )
    insights.add_argument("--conversations", type=int, default=100_000)
    insights.add_argument("--days", type=int, default=365, help="the traffic's time span")
    insights.add_argument("--runs", type=int, default=40, help="random windows per query")
    insights.set_defaults(func=cmd_bench_insights)

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

    gaps = kb.add_parser("gaps", help="topics the bot fails on, and how each article does")
    gaps.add_argument("--days", type=int, default=28, help="the period (trend: the one before)")
    gaps.add_argument("--format", choices=("json", "table"), default="json")
    gaps.set_defaults(func=cmd_kb_gaps)

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
    for name, about in (
        ("topics", "topic quality (ARI, V-measure) against k-means, and id stability"),
        ("alerts", "generated traffic with injected incidents: recall, false alerts, delay"),
    ):
        insight = kinds.add_parser(name, help=about)
        insight.add_argument(
            "--data",
            default=EVAL_DATA,
            help="a labelled query set: kb/ and queries_val.csv, queries_test.csv",
        )
        if name == "alerts":
            insight.add_argument(
                "--seed",
                type=int,
                default=7,
                help="the traffic generator's seed (incidents, rhythm, topic sizes)",
            )
        insight.set_defaults(func=cmd_eval, out=None)
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
