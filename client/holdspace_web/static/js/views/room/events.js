// How each room event shows once the model has taken it in: in the conversation (a
// message, its reactions, its removal), as a note between messages ("Check-in
// started"), and in words for screen readers. The panels and the dock are redrawn from
// the model afterwards (RoomView.renderState); this is only what is said and added.
import { announce, unannounce } from "../../dom.js";
import { kindName, strings } from "../../strings.js";

const N = strings.notes;

export function showEvent(view, ev) {
  const m = view.model;
  const conversation = view.messages;
  switch (ev.type) {
    case "message":
      conversation.add(m.messages[m.messages.length - 1]);
      if (ev.user_id !== m.you.user_id) {
        announce(ev.redacted ? "" : ev.sensitive ? N.saidWithWarning(ev.name) : N.said(ev.name, ev.text));
      }
      break;
    case "reaction":
      conversation.update(ev.message);
      break;
    case "redacted":
      unannounce();
      conversation.update(ev.message);
      break;
    case "round_started":
      conversation.note(N.roundStarted(kindName(ev.kind), ev.prompt));
      announce(N.roundStartedSay(kindName(ev.kind), ev.prompt));
      break;
    case "round_ended": {
      const shared = ev.summary.filter((s) => s.outcome === "done" || s.second_chance === "done").map((s) => m.name(s.user_id));
      conversation.note(N.roundEnded(kindName(m.lastRound.kind), shared));
      break;
    }
    case "paused":
      conversation.note(ev.reason === "no_facilitator" ? N.pausedNoFacilitator : N.paused(ev.message));
      announce(N.pausedSay(ev.message));
      break;
    case "resumed":
      conversation.note(N.resumed);
      announce(N.resumed);
      break;
    case "floor":
      conversation.note(N.floor(m.name(ev.user_id)));
      break;
    case "muted":
      if (ev.user_id === m.you.user_id) announce(N.youMuted);
      break;
    case "unmuted":
      if (ev.user_id === m.you.user_id) announce(N.youUnmuted);
      break;
    case "joined":
      m.cameIn(ev.participant.user_id);
      view.signals.seen(`arrival-${ev.participant.user_id}`);
      break;
    default:
      break;
  }
}
