"""Durable records: accounts, auth tokens, rooms, schedules, invites, the roster,
agreements and the moderation record. Never message text."""
