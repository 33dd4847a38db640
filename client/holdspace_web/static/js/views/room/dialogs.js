// Every dialog the room opens: what a tool needs to know before it acts (how long a
// mute, a round's prompt, a reason for the record), a whisper or a reply to one, and
// the lists shown on request. Each question resolves with the command's fields, or null
// when the person thinks better of it; nothing here sends anything — the caller does.
import { ask, field, h, show } from "../../dom.js";
import { strings } from "../../strings.js";

const D = strings.dialogs;

const reasonField = (label = D.reason) => field(label, h("input", { name: "reason", maxlength: 200 }));

/** A member's whisper to the facilitators: `{ text }` (null text: "I need a moment"). */
export async function whisper(limit) {
  const data = await ask(D.whisper.title, [
    h("p", {}, D.whisper.who),
    field(D.whisper.text, h("textarea", { name: "text", rows: 3, maxlength: limit }), D.whisper.hint(limit)),
  ], { submit: D.whisper.submit });
  return data ? { text: data.text.trim() || null } : null;
}

/** A facilitator's private answer to `w` (a whisper, or just a person): its text. */
export async function reply(w, limit) {
  const data = await ask(D.reply.title(w.name), [
    h("p", {}, D.reply.who(w.name)),
    w.text ? h("blockquote", {}, w.text) : w.text === null ? h("p", { class: "hint" }, D.reply.moment(w.name)) : null,
    field(D.reply.text, h("textarea", { name: "text", rows: 3, maxlength: limit, required: true })),
  ], { submit: D.reply.submit });
  return data && data.text.trim() ? data.text : null;
}

/** Mute `p`: `{ minutes?, reason? }`. */
export async function mute(p) {
  const minutes = h("select", { name: "minutes" },
    [["5", D.mute.minutes(5)], ["10", D.mute.minutes(10)], ["30", D.mute.minutes(30)], ["", D.mute.untilUnmuted]]
      .map(([v, l]) => h("option", { value: v }, l)));
  const data = await ask(D.mute.title(p.name), [
    h("p", {}, D.mute.what),
    field(D.mute.length, minutes),
    reasonField(),
  ], { submit: D.mute.submit });
  if (!data) return null;
  const fields = {};
  if (data.minutes) fields.minutes = Number(data.minutes);
  if (data.reason) fields.reason = data.reason;
  return fields;
}

/** Remove `p` from the session: `{ bar, reason? }`. */
export async function remove(p) {
  const data = await ask(D.remove.title(p.name), [
    h("p", {}, D.remove.what),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "bar", value: "yes" }), ` ${D.remove.bar}`),
    reasonField(),
  ], { submit: D.remove.submit, danger: true });
  if (!data) return null;
  return { bar: data.bar === "yes", ...(data.reason ? { reason: data.reason } : {}) };
}

/** Pause the group: `{ message? }`. */
export async function pause() {
  const data = await ask(D.pause.title, [
    field(D.pause.message, h("input", { name: "message", maxlength: 200, value: D.pause.suggestion })),
  ], { submit: D.pause.submit });
  if (!data) return null;
  return data.message ? { message: data.message } : {};
}

/** Start a round: `{ kind, order, prompt?, turn_seconds? }`. */
export async function startRound() {
  const R = D.round;
  const kind = h("select", { name: "kind" }, Object.entries(strings.words.kinds).map(([v, l]) => h("option", { value: v }, l)));
  const order = h("select", { name: "order" }, Object.entries(R.orders).map(([v, l]) => h("option", { value: v }, l)));
  const data = await ask(R.title, [
    h("p", {}, R.what),
    field(R.kind, kind),
    field(R.prompt, h("input", { name: "prompt", maxlength: 300 })),
    field(R.order, order),
    field(R.minutes, h("input", { name: "minutes", type: "number", min: 1, max: 15, inputmode: "numeric" })),
  ], { submit: R.submit });
  if (!data) return null;
  const fields = { kind: data.kind, order: data.order };
  if (data.prompt) fields.prompt = data.prompt;
  if (data.minutes) fields.turn_seconds = Number(data.minutes) * 60;
  return fields;
}

/** Turn slow mode on: `{ seconds }`. */
export async function slowMode() {
  const data = await ask(D.slowMode.title, [
    field(D.slowMode.seconds, h("input", { name: "seconds", type: "number", min: 5, max: 600, value: 30 })),
  ], { submit: D.slowMode.submit });
  return data ? { seconds: Number(data.seconds) } : null;
}

/** Whether to end the session for everyone. */
export async function endSession() {
  const data = await ask(D.end.title, [h("p", {}, D.end.what)], { submit: D.end.submit, danger: true });
  return !!data;
}

/** Remove a message's text: `{ reason? }`. */
export async function redact() {
  const data = await ask(D.redact.title, [
    h("p", {}, D.redact.what),
    reasonField(D.redact.reason),
  ], { submit: D.redact.submit, danger: true });
  if (!data) return null;
  return data.reason ? { reason: data.reason } : {};
}

/** The `balance` command's answer, as a list. */
export function balance(reply) {
  const rows = (reply.members || []).map((row) => h("li", {}, D.balance.row(row)));
  return show(D.balance.title, rows.length ? h("ul", {}, rows) : h("p", {}, D.balance.nobody));
}

/** The `who_reacted` command's answer, as a list. */
export function whoReacted(reply, kinds) {
  const rows = kinds.filter((kind) => reply.reactions[kind]?.length)
    .map((kind) => h("li", {}, D.reactions.row(strings.words.reactions[kind], reply.reactions[kind])));
  return show(D.reactions.title, rows.length ? h("ul", {}, rows) : h("p", {}, D.reactions.none));
}
