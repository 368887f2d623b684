"""Starling's public HTTP interface: the Mastodon client API. See docs/subsystems/api.md."""

from starling.api.app import create_app

__all__ = ["create_app"]
