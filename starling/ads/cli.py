"""`starling admin ads create|list|pause|resume`: campaign administration from the
operator's shell, through the same checks as the admin API. See docs/subsystems/ads.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starling.errors import ActionError
from starling.ids import now_ms

if TYPE_CHECKING:
    from starling.ads.admin import CampaignAdmin
    from starling.config import Settings
    from starling.runtime import Runtime

DAY_MS = 24 * 3600 * 1000
AddSettings = Callable[[argparse.ArgumentParser], None]
SettingsOf = Callable[[argparse.Namespace], "Settings"]


def add_commands(admin: Any, add_settings: AddSettings, settings_of: SettingsOf) -> None:
    """Adds `ads` and its subcommands under `starling admin`."""
    ads = admin.add_parser("ads", help="promotion campaigns").add_subparsers()
    create = ads.add_parser("create", help="start a campaign promoting an advertiser's post")
    create.add_argument("--advertiser", required=True, help="the advertiser's username")
    create.add_argument("--post", type=int, required=True, help="id of its post to promote")
    create.add_argument("--budget-cents", type=int, required=True)
    create.add_argument("--bid-cpm-cents", type=int, required=True, help="per 1000 impressions")
    create.add_argument("--starts-at", help="ISO 8601 time (default: now)")
    flight = create.add_mutually_exclusive_group(required=True)
    flight.add_argument("--ends-at", help="ISO 8601 time")
    flight.add_argument("--days", type=float, help="flight length from the start")
    create.add_argument("--regions", default="", help="comma list (default: everywhere)")
    create.add_argument("--interests", default="", help="hashtags, comma list (default: all)")
    commands: list[tuple[argparse.ArgumentParser, Callable[..., object]]] = [(create, _create)]
    commands.append((ads.add_parser("list", help="every campaign with its spend"), _list))
    for name, change in (("pause", _pause), ("resume", _resume)):
        parser = ads.add_parser(name, help=f"{name} a campaign")
        parser.add_argument("campaign", type=int)
        commands.append((parser, change))
    for parser, command in commands:
        add_settings(parser)
        parser.set_defaults(run=_runner(command, settings_of))


def _runner(command: Callable[..., object], settings_of: SettingsOf) -> Callable[..., int]:
    def run(args: argparse.Namespace) -> int:
        from starling.runtime import open_runtime

        runtime = open_runtime(settings_of(args), workers="none")
        try:
            print(json.dumps(command(runtime, args), indent=1))
        except (ActionError, ValueError) as exc:
            print(getattr(exc, "message", str(exc)), file=sys.stderr)
            return 1
        finally:
            runtime.close()
        return 0

    return run


def _ms(raw: str) -> int:
    parsed = datetime.fromisoformat(raw)
    if parsed.tzinfo is None:
        raise ValueError(f"{raw!r}: needs a time zone (e.g. Z)")
    return int(parsed.timestamp() * 1000)


def _create(runtime: Runtime, args: argparse.Namespace) -> object:
    from starling.ads.admin import Draft, Report

    advertiser = runtime.store.get_account_by_username(args.advertiser)
    if advertiser is None:
        raise ValueError(f"no account named {args.advertiser!r}")
    starts_at = now_ms() if args.starts_at is None else _ms(args.starts_at)
    ends_at = starts_at + int(args.days * DAY_MS) if args.days else _ms(args.ends_at)
    draft = Draft(
        advertiser_id=advertiser.id,
        post_id=args.post,
        budget_cents=args.budget_cents,
        bid_cpm_cents=args.bid_cpm_cents,
        starts_at=starts_at,
        ends_at=ends_at,
        regions=_listed(args.regions),
        interests=_listed(args.interests),
    )
    return _entity(runtime.ads, Report(runtime.ads.create(draft), 0))


def _list(runtime: Runtime, args: argparse.Namespace) -> object:
    return [_entity(runtime.ads, report) for report in runtime.ads.reports()]


def _pause(runtime: Runtime, args: argparse.Namespace) -> object:
    runtime.ads.pause(args.campaign)
    return _entity(runtime.ads, runtime.ads.get(args.campaign))


def _resume(runtime: Runtime, args: argparse.Namespace) -> object:
    runtime.ads.resume(args.campaign)
    return _entity(runtime.ads, runtime.ads.get(args.campaign))


def _listed(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _entity(ads: CampaignAdmin, report: Any) -> object:
    from starling.api.routes_ads import campaign_entity

    return campaign_entity(report, ads.clock())
