"""Holdspace: a peer-support group chat server."""

__version__ = "0.1.0"
