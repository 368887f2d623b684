"""Starling: Twitter's core backend in Python, speaking the Mastodon client API."""

__version__ = "0.1.0"
