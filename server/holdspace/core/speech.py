"""Speaking and responding: posts, reactions, whispers, redaction, crisis resources."""

from __future__ import annotations

import math

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core.policy import post_refusal, react_refusal
from holdspace.core.state import (
    NO_REACTIONS,
    Bucket,
    MessageRecord,
    Participant,
    Rate,
    RoomState,
    Whisper,
)
from holdspace.core.text import MAX_WHISPER_CHARS, clean_message, clean_short
from holdspace.core.transition import Transition, emit, record, require_staff
from holdspace.core.views import whisper_data
from holdspace.errors import Code, Forbidden, InvalidInput, NotFound, Rejected

MAX_WHISPERS = 100  # the facilitators' inbox keeps the most recent


def take(p: Participant, which: str, rate: Rate, now: float) -> None:
    """Spend one token from a member's bucket or refuse, saying how long to wait."""
    bucket: Bucket | None = getattr(p, which)
    if bucket is None:
        bucket = Bucket(tokens=rate.burst, updated_at=now)
        setattr(p, which, bucket)
    if not bucket.take(rate, now):
        wait = math.ceil(bucket.wait(rate))
        raise Rejected(
            f"Let's slow down a little — you can send again in {wait} s.",
            code=Code.RATE_LIMITED,
            retry_after=wait,
        )


def post(state: RoomState, t: Transition, p: Participant, cmd: c.Post, now: float) -> None:
    refusal = post_refusal(state, p, now)
    if refusal is not None:
        raise refusal
    text = clean_message(cmd.text)
    if not p.staff:
        take(p, "posts", state.config.post_rate, now)
    event = emit(
        state, t, e.MessagePosted, now,
        user_id=p.user_id, name=p.name, text=text, sensitive=cmd.sensitive, role=p.role,
    )  # fmt: skip
    state.messages[event.seq] = MessageRecord(
        event.seq, p.user_id, p.name, text, now, sensitive=cmd.sensitive, role=p.role
    )
    while len(state.messages) > state.config.message_buffer:
        del state.messages[next(iter(state.messages))]
    stats = state.stats_of(p.user_id)
    stats.posts += 1
    stats.last_spoke_at = stats.last_post_at = now
    t.reply["message"] = event.seq


def _message(state: RoomState, seq: int) -> MessageRecord:
    message = state.messages.get(seq)
    if message is None or message.text is None:
        raise NotFound("That message is no longer here.", code=Code.NO_SUCH_MESSAGE)
    return message


def react(state: RoomState, t: Transition, p: Participant, cmd: c.React, now: float) -> None:
    refusal = react_refusal(state, p)
    if refusal is not None:
        raise refusal
    if cmd.kind not in c.REACTIONS:
        raise InvalidInput(
            f"Reactions are {', '.join(c.REACTIONS)}.", code=Code.INVALID, allowed=list(c.REACTIONS)
        )
    message = _message(state, cmd.message)
    if not p.staff:
        take(p, "reacts", state.config.react_rate, now)
    who = message.reactions.get(cmd.kind, frozenset()) ^ {p.user_id}  # again: takes it back
    state.messages[message.seq] = message._replace(reactions={**message.reactions, cmd.kind: who})
    emit(state, t, e.ReactionCounted, now, message=message.seq, kind=cmd.kind, count=len(who))
    t.reply["reacted"] = p.user_id in who


def who_reacted(
    state: RoomState, t: Transition, p: Participant, cmd: c.WhoReacted, now: float
) -> None:
    """Counts are for everyone; names only for the message's author and facilitators."""
    message = _message(state, cmd.message)
    if not p.staff and message.user_id != p.user_id:
        raise Forbidden(
            "Who reacted is shown to a message's author and the facilitators.",
            code=Code.FORBIDDEN,
        )

    def name(user_id: str) -> str:
        return state.stats_of(user_id).name

    t.reply["reactions"] = {
        kind: sorted(name(u) for u in who) for kind, who in message.reactions.items() if who
    }


def redact(state: RoomState, t: Transition, p: Participant, cmd: c.Redact, now: float) -> None:
    """Erase a message's text for everyone: from state, from the log, from what resumes."""
    require_staff(p)
    message = _message(state, cmd.message)
    reason = clean_short(cmd.reason, limit=200, field="reason")
    state.messages[message.seq] = message._replace(text=None, reactions=NO_REACTIONS)
    t.replaced.append(
        e.MessagePosted(
            seq=message.seq, at=message.at, user_id=message.user_id, name=message.name,
            text=None, redacted=True, sensitive=message.sensitive, role=message.role,
        )
    )  # fmt: skip
    emit(state, t, e.Redacted, now, message=message.seq, by=p.user_id)
    record(t, "redact", p.user_id, message.user_id, reason, message=message.seq)


def whisper(state: RoomState, t: Transition, p: Participant, cmd: c.Whisper, now: float) -> None:
    """A private note to the facilitators. Nobody else learns it happened, not even by a seq.
    Without words it says "I need a moment": asking for help must never need a sentence."""
    text = _words(cmd.text)
    if not p.staff:
        take(p, "notes", state.config.post_rate, now)
    note = _note(state, p, p.user_id, p.name, text, now, reply=False)
    staff = state.staff_ids()
    if staff:
        t.notices.append(e.WhisperSent(to=staff, **whisper_data(note)))
    t.reply["whisper"] = note.id
    t.reply["facilitators_present"] = state.keeper_present()


def _words(text: str | None) -> str | None:
    """A whisper's words, cleaned; None when there are none to read (blank, or only
    invisible characters): then it says "I need a moment"."""
    if text is None:
        return None
    try:
        return clean_message(text, limit=MAX_WHISPER_CHARS)
    except InvalidInput as refusal:
        if refusal.code is Code.EMPTY:
            return None
        raise


def whisper_reply(
    state: RoomState, t: Transition, p: Participant, cmd: c.WhisperReply, now: float
) -> None:
    """A facilitator answers in a member's private thread: the member and the other
    facilitators see it (so nobody answers twice); the room learns nothing."""
    require_staff(p)
    member = state.participants.get(cmd.target) or state.waiting.get(cmd.target)
    if member is None or member.role != "member":
        raise NotFound("That member isn't here any more.", code=Code.NO_SUCH_PARTICIPANT)
    text = clean_message(cmd.text, limit=MAX_WHISPER_CHARS)
    note = _note(state, p, member.user_id, member.name, text, now, reply=True)
    t.notices.append(e.WhisperSent(to=(member.user_id, *state.staff_ids()), **whisper_data(note)))
    t.reply["whisper"] = note.id


def _note(
    state: RoomState, author: Participant, user_id: str, name: str, text: str | None,
    now: float, *, reply: bool,
) -> Whisper:  # fmt: skip
    stats = state.stats_of(author.user_id)
    stats.whispers += 1
    note = Whisper(
        f"{author.user_id}-{stats.whispers}", user_id, name, text, now,
        by=author.user_id if reply else None, by_name=author.name if reply else None,
    )  # fmt: skip
    state.whispers.append(note)
    del state.whispers[:-MAX_WHISPERS]
    return note


def crisis(
    state: RoomState, t: Transition, p: Participant | None, cmd: c.Crisis, now: float
) -> None:
    t.reply["crisis_resources"] = state.config.crisis_resources
