"""Credentials: password hashing, opaque tokens, invite codes and login throttling.

Everything here is storage-agnostic; stores keep only the hashes these helpers produce.
"""
