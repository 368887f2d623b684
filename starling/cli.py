"""The `starling` command: serve, worker, up, demo, world, load and admin (in the spirit
of Mastodon's tootctl). Every setting is an option of `serve` and an env var STARLING_*.
See README.md and docs/architecture.md."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starling.ads import cli as ads_cli
from starling.config import Settings, scaled_thresholds
from starling.training import TOO_LITTLE_DATA, TooLittleData
from starling.workers.registry import WORKERS, cannot_run_alone

DEMO_VIEWERS = 300  # the demo's light ranker trains on their impressions in seconds

if TYPE_CHECKING:
    from starling.runtime import Runtime
    from starling.store.base import Store


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        result: int = args.run(args)
    except TooLittleData as exc:  # a new instance: a clear line, no traceback
        print(f"starling: {exc}", file=sys.stderr)
        return TOO_LITTLE_DATA
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="starling", description=__doc__)
    sub = parser.add_subparsers()

    serve = sub.add_parser("serve", help="run the API and the workers")
    serve.add_argument("--listen-fd", type=int, help="accept on this inherited socket")
    _add_ready_fd(serve)
    _add_settings(serve)
    serve.set_defaults(run=_serve)

    _add_up(sub)
    _add_train(sub)

    jobs = sub.add_parser("jobs", help="run the scheduled recomputations in the foreground")
    jobs.add_argument("--list", action="store_true", help="show each job and when it is due")
    _add_settings(jobs)
    jobs.set_defaults(run=_jobs)

    demo = sub.add_parser("demo", help="generate the demo world on first run, then serve it")
    _add_settings(demo)
    demo.set_defaults(run=_demo)

    worker = sub.add_parser("worker", help="run one log consumer in this process")
    worker.add_argument("name", help="one of: " + ", ".join(WORKERS))
    _add_ready_fd(worker)
    _add_settings(worker)
    worker.set_defaults(run=_worker)

    world = sub.add_parser("world", help="the simulated world").add_subparsers()
    generate = world.add_parser("generate", help="generate a world into the data dir")
    generate.add_argument("--size", choices=("tiny", "demo", "bench"), default="demo")
    generate.add_argument("--seed", type=int, default=1)
    _add_settings(generate)
    generate.set_defaults(run=_world_generate)

    load = sub.add_parser("load", help="drive posts, follows, likes, reposts through the API")
    load.add_argument("--rate", type=float, default=50.0, help="requests per second")
    load.add_argument("--duration", type=float, default=30.0, help="seconds")
    load.add_argument("--accounts", type=int, default=50, help="world accounts to act as")
    load.add_argument("--url", default=None, help="API base URL (default: host and port)")
    load.add_argument("--seed", type=int, default=0)
    _add_settings(load)
    load.set_defaults(run=_load)

    foryou = sub.add_parser("foryou", help="preview an account's ranked For You page")
    foryou.add_argument("username")
    foryou.add_argument("--limit", type=int, default=20, help="entries (at most 35)")
    _add_settings(foryou)
    foryou.set_defaults(run=_foryou)

    admin = sub.add_parser("admin", help="operator commands").add_subparsers()
    token = admin.add_parser("token", help="print a bearer token for an existing account")
    token.add_argument("username")
    _add_settings(token)
    token.set_defaults(run=_admin_token)

    fanout = admin.add_parser("fanout", help="show or flip the fan-out threshold switches")
    fanout.add_argument("--news", choices=("on", "off"), help="flag or clear breaking news")
    fanout.add_argument("--capacity", choices=("on", "off"), help="raise or restore capacity")
    _add_settings(fanout)
    fanout.set_defaults(run=_admin_fanout)
    ads_cli.add_commands(admin, _add_settings, _settings)
    return parser


def _add_settings(parser: argparse.ArgumentParser) -> None:
    """One option per setting, so `--help` lists them all with their env var."""
    group = parser.add_argument_group("settings (each also read from its env var)")
    for name, field in Settings.model_fields.items():
        group.add_argument(
            "--" + name.replace("_", "-"),
            dest="setting_" + name,
            default=None,
            metavar=name.upper(),
            help=f"{field.description} [env STARLING_{name.upper()}; default {field.default}]",
        )


def _add_ready_fd(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ready-fd", type=int, help="write a byte here once ready (starling up)")


def _add_up(sub: Any) -> None:
    up = sub.add_parser("up", help="API processes and worker processes on shared backends")
    up.add_argument("--api", type=int, default=os.cpu_count() or 1, help="API processes")
    up.add_argument("--fanout", type=int, default=1, help="fan-out worker processes")
    for option, setting in (
        ("--store", "store_url"),
        ("--log", "log_url"),
        ("--redis", "redis_url"),
    ):
        up.add_argument(
            option,
            dest="setting_" + setting,
            metavar="URL",
            help=f"same as --{setting.replace('_', '-')}",
        )
    _add_settings(up)
    up.set_defaults(run=_up)


def _add_train(sub: Any) -> None:
    train = sub.add_parser("train", help="scheduled recomputations").add_subparsers()
    simclusters = train.add_parser("simclusters", help="communities of the follow graph")
    simclusters.add_argument("--clusters", type=int, help="default: one per 400 producers")
    simclusters.add_argument("--min-followers", type=int, default=20, help="to be a producer")
    _add_settings(simclusters)
    simclusters.set_defaults(run=_train_simclusters)
    embeddings = train.add_parser("embeddings", help="TwHIN-style account embeddings")
    embeddings.add_argument("--dims", type=int, default=None, help="dimensions per account")
    _add_settings(embeddings)
    embeddings.set_defaults(run=_train_embeddings)
    heavy = train.add_parser("heavy", help="the heavy ranker, from the newest impressions")
    heavy.add_argument("--max-epochs", type=int, default=30, help="early stopping may end sooner")
    heavy.add_argument("--history", type=int, default=32, help="engagements per viewer history")
    heavy.add_argument("--dim", type=int, default=32, help="width of the transformer")
    _add_settings(heavy)
    heavy.set_defaults(run=_train_heavy)
    light = train.add_parser("light", help="the light ranker, on simulated impressions")
    light.add_argument("--viewers", type=int, default=1_000, help="sampled viewers")
    light.add_argument("--seed", type=int, default=0, help="of the viewers and labels")
    light.add_argument("--rebuild", action="store_true", help="new impressions even if saved")
    _add_settings(light)
    light.set_defaults(run=_train_light)


@contextmanager
def _store_of(settings: Settings) -> Iterator[Store]:
    """The store of record the settings name, closed after the command's use of it."""
    from starling.store.open import open_store

    store = open_store(settings.store_location)
    try:
        yield store
    finally:
        store.close()


def _train_simclusters(args: argparse.Namespace) -> int:
    from starling.simclusters.train import TrainParams, train
    from starling.simclusters.versions import directory_in

    settings = _settings(args)
    with _store_of(settings) as store:
        params = TrainParams(min_followers=args.min_followers, clusters=args.clusters)
        print(train(store, directory_in(settings.data_dir), params))
    return 0


def _train_embeddings(args: argparse.Namespace) -> int:
    _embed(_settings(args), args.dims)
    return 0


def _embed(settings: Settings, dims: int | None = None) -> None:
    from starling.twhin.train import TrainParams, train

    params = TrainParams() if dims is None else TrainParams(dims=dims)
    with _store_of(settings) as store:
        print(train(store, settings.data_dir, params))


def _train_heavy(args: argparse.Namespace) -> int:
    from starling.ranking.heavy.train import TrainParams, train

    settings = _settings(args)
    params = TrainParams(max_epochs=args.max_epochs, history=args.history, dim=args.dim)
    try:
        with _store_of(settings) as store:
            trained = train(store, settings.data_dir, params)
    except ValueError as exc:  # no impressions, or a file not in their format
        print(f"starling train heavy: {exc}", file=sys.stderr)
        return 2
    print(trained.path)
    print(json.dumps(trained.model.trained.get("test", {}), indent=1))
    return 0


def _train_light(args: argparse.Namespace) -> int:
    try:
        _train_light_on(_settings(args), args.viewers, args.seed, rebuild=args.rebuild)
    except ValueError as exc:
        print(f"starling train light: {exc}", file=sys.stderr)
        return 2
    return 0


def _train_light_on(settings: Settings, viewers: int, seed: int, *, rebuild: bool) -> None:
    from starling.ranking.impressions import ImpressionParams
    from starling.ranking.train import train_light
    from starling.runtime import open_runtime

    runtime = open_runtime(settings, workers="none")
    try:
        params = ImpressionParams(viewers=viewers, seed=seed)
        model, path = train_light(runtime, params, rebuild=rebuild)
    finally:
        runtime.close()
    print(f"light ranker {model.version}: {path}")


def _settings(args: argparse.Namespace) -> Settings:
    """Options, then env vars, then the data dir's world, then the defaults. Every command
    reads the world the same way, so the server, separate workers and `admin fanout`
    agree on the thresholds a small world scales down."""
    given = {
        key.removeprefix("setting_"): value
        for key, value in vars(args).items()
        if key.startswith("setting_") and value is not None
    }
    settings = Settings(**given)
    world = _world_settings(settings.data_dir)
    unset = {k: v for k, v in world.items() if k not in settings.model_fields_set}
    return settings.model_copy(update=unset)


def _world_settings(data_dir: Path) -> dict[str, int]:
    """The settings a generated world brings: its celebrity thresholds."""
    from starling.world.truth import load_world_meta

    meta = load_world_meta(data_dir)
    return scaled_thresholds(int(meta["celebrity_threshold"])) if meta else {}


def _serve(args: argparse.Namespace) -> int:
    on_ready = None if args.ready_fd is None else _report_ready(args.ready_fd)
    sock = None if args.listen_fd is None else socket.socket(fileno=args.listen_fd)
    _run_server(_settings(args), on_ready=on_ready, sock=sock)
    return 0


def _report_ready(fd: int) -> Callable[[object], None]:
    def report(_: object) -> None:
        os.write(fd, b"1")
        os.close(fd)

    return report


def _run_server(
    settings: Settings,
    on_ready: Callable[[Runtime], None] | None,
    sock: socket.socket | None = None,
) -> None:
    import uvicorn

    from starling.api.app import create_app
    from starling.jobs.scheduler import in_background
    from starling.runtime import open_runtime

    runtime = open_runtime(settings, workers="threads")
    server = uvicorn.Server(uvicorn_config(create_app(runtime), settings))
    if on_ready is not None:

        def announce() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                on_ready(runtime)

        threading.Thread(target=announce, daemon=True).start()
    stop_jobs = in_background(settings)
    try:
        server.run(sockets=None if sock is None else [sock])
    finally:
        stop_jobs()
        runtime.close()


def uvicorn_config(app: Any, settings: Settings) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=settings.access_log,
    )


def _demo(args: argparse.Namespace) -> int:
    base = _settings(args)
    if not base.store_path.exists():
        print("Generating the demo world (first run only)...")
        _generate(base, "demo", 1)
        # The embeddings first: the light ranker's features read them.
        print("Embedding the graph for TwHIN candidates (first run only)...")
        _embed(_settings(args))
        print("Training the light ranker on simulated impressions (first run only)...")
        _train_light_on(_settings(args), DEMO_VIEWERS, 0, rebuild=True)
    _run_server(_settings(args), on_ready=_print_demo_help)  # with the new world's settings
    return 0


def _up(args: argparse.Namespace) -> int:
    from starling import up

    settings = _settings(args)
    try:
        return up.run(settings, args.api, args.fanout, on_ready=lambda: _announce(settings))
    except (up.UpError, OSError) as exc:
        print(f"starling up: {exc}", file=sys.stderr)
        return 2


def _announce(settings: Settings) -> None:
    """The demo's banner, from a runtime of this process (the children serve)."""
    from starling.runtime import open_runtime

    runtime = open_runtime(settings, workers="none")
    try:
        _print_demo_help(runtime)
    finally:
        runtime.close()


def _print_demo_help(runtime: Runtime) -> None:
    from starling.world.loader import DEMO_PASSWORD
    from starling.world.population import DEMO_USERNAME

    url = runtime.settings.public_url
    print(
        f"\nStarling is up at {url} (API docs: {url}/docs)."
        f" Celebrity threshold: {runtime.policy.current()}.",
        flush=True,
    )
    if runtime.store.get_account_by_username(DEMO_USERNAME) is None:
        return  # not the demo world
    token = _token_for(runtime, DEMO_USERNAME)
    print(
        f"""Demo account: {DEMO_USERNAME} / {DEMO_PASSWORD}, bearer token:
    {token}
Try:
    curl -H 'Authorization: Bearer {token}' '{url}/api/v1/timelines/home?limit=5'
    curl -H 'Authorization: Bearer {token}' '{url}/api/v1/timelines/for_you?limit=5'
    curl -H 'Authorization: Bearer {token}' -d 'status=Hello from the demo #starling' \\
        {url}/api/v1/statuses
    curl {url}/api/v1/timelines/public?limit=5
    curl {url}/metrics
Mastodon.py:
    from mastodon import Mastodon
    m = Mastodon(access_token='{token}', api_base_url='{url}')
    m.status_post('Hello from Mastodon.py'); print(m.timeline_home(limit=5))
""",
        flush=True,
    )


def _worker(args: argparse.Namespace) -> int:
    from starling.runtime import open_runtime

    settings = _settings(args)
    if args.name not in WORKERS:
        print(f"unknown worker {args.name!r}; one of {', '.join(WORKERS)}")
        return 2
    refusal = cannot_run_alone(args.name, settings)
    if refusal:
        print(refusal)
        return 2
    runtime = open_runtime(settings, workers="none")
    worker = runtime.workers[args.name]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.ready_fd is not None:
        _report_ready(args.ready_fd)(runtime)
    try:
        worker.run_forever(stop)
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()
    return 0


def _jobs(args: argparse.Namespace) -> int:
    from starling.jobs.job import jobs_of
    from starling.jobs.listing import listing
    from starling.jobs.lock import lock_path
    from starling.jobs.schedule import Schedule
    from starling.jobs.scheduler import open_scheduler

    settings = _settings(args)
    if args.list:
        print(listing(Schedule(jobs_of(settings)), lock_path(settings)))
        return 0
    scheduler = open_scheduler(settings)
    if scheduler is None:
        print("every job is disabled (an interval of 0)", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    scheduler.run_forever(stop)
    return 0


def _world_generate(args: argparse.Namespace) -> int:
    try:
        print(_generate(_settings(args), args.size, args.seed))
    except FileExistsError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _generate(settings: Settings, size: str, seed: int) -> object:
    from starling.world.generate import generate

    if settings.store_path.exists():
        raise FileExistsError(f"{settings.store_path} exists; generate into an empty data dir")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with _store_of(settings) as store:
        return generate(store, settings.data_dir, size, seed)


def _load(args: argparse.Namespace) -> int:
    from starling.runtime import open_runtime
    from starling.world.load import ServerUnreachable, run_load
    from starling.world.truth import human_accounts, load_world_meta

    settings = _settings(args)
    if load_world_meta(settings.data_dir) is None:
        print("no world in the data dir to act in: run `starling world generate` first")
        return 2
    runtime = open_runtime(settings, workers="none")
    try:
        ids = human_accounts(settings.data_dir, args.accounts, args.seed)
        names = [a.username for a in runtime.store.get_accounts(ids).values()]
        tokens = [_token_for(runtime, name) for name in names]
    finally:
        runtime.close()
    url = args.url or f"http://{settings.host}:{settings.port}"
    try:
        report = run_load(url, tokens, rate=args.rate, duration=args.duration, seed=args.seed)
    except ServerUnreachable as exc:
        print(exc, file=sys.stderr)
        return 1
    print(report.table())
    return 0


def _foryou(args: argparse.Namespace) -> int:
    from starling.foryou.preview import preview
    from starling.runtime import open_runtime

    # Sync workers: the in-memory state the sources and features read is rebuilt on start.
    runtime = open_runtime(_settings(args), workers="sync")
    try:
        print(preview(runtime.for_you, runtime.store, args.username, min(args.limit, 35)))
    except LookupError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        runtime.close()
    return 0


def _admin_token(args: argparse.Namespace) -> int:
    from starling.runtime import open_runtime

    runtime = open_runtime(_settings(args), workers="none")
    try:
        print(_token_for(runtime, args.username))
    except LookupError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        runtime.close()
    return 0


def _token_for(runtime: Runtime, username: str) -> str:
    account = runtime.store.get_account_by_username(username)
    if account is None:
        raise LookupError(f"no account named {username!r}")
    app = runtime.actions.create_app("starling admin", "", "read write follow", None)
    return runtime.actions.issue_token(app.id, account.id, "read write follow")


def _admin_fanout(args: argparse.Namespace) -> int:
    from starling.runtime import open_runtime

    runtime = open_runtime(_settings(args), workers="none")
    try:
        flags = runtime.flags.read()
        if args.news:
            flags.breaking_news = args.news == "on"
        if args.capacity:
            flags.capacity_raised = args.capacity == "on"
        runtime.flags.write(flags)
        print(
            f"breaking_news={flags.breaking_news} capacity_raised={flags.capacity_raised} "
            f"backlog={runtime.fanout.backlog()} threshold={runtime.policy.current()}"
        )
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
