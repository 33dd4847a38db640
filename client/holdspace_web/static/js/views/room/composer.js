// The bottom of the room, always in view: your turn (unmistakable when it comes), what
// the room is doing, and the composer with its reasons, its live count, and the ways to
// take part without posting — listening, a raised hand, "I need a moment". Why the
// composer is off is the server's to say (the model's `post`), in this app's words;
// only what the server can't know — the session over here, the connection lost — is
// the composer's own.
import { setTurn } from "../../alerts.js";
import { announce, clock, h, rebuild, replace } from "../../dom.js";
import { pref } from "../../prefs.js";
import { kindName, refusal, strings } from "../../strings.js";
import * as dialogs from "./dialogs.js";

const S = strings.composer;
const T = strings.turn;

export class Composer {
  constructor(view) {
    this.view = view;
    this.turnbar = h("section", { class: "turnbar", tabindex: "-1", hidden: true, "aria-labelledby": "turn-h" });
    this.roundline = h("p", { class: "roundline", hidden: true });
    this.el = h("div", { class: "dock" }, this.turnbar, this.roundline);
    this.turn = null; // the turn shown: "round", "second" or "floor"
    this.build();
  }

  get model() {
    return this.view.model;
  }

  // Built once, then only updated: someone typing must never lose their words or focus.
  build() {
    const input = h("textarea", {
      id: "compose", name: "text", rows: 1, placeholder: S.placeholder,
      "aria-describedby": "compose-why compose-count", autocomplete: "off",
    });
    const warn = h("input", { type: "checkbox", id: "compose-cw", name: "sensitive" });
    const send = h("button", { type: "submit", class: "primary send", dataset: { key: "send" } }, S.send);
    const why = h("p", { id: "compose-why", class: "why" });
    const count = h("p", { id: "compose-count", class: "count" });
    const form = h("form", { class: "compose", onsubmit: (event) => { event.preventDefault(); this.send(); } },
      h("label", { for: "compose", class: "visually-hidden" }, S.label),
      h("div", { class: "compose-row" }, input, send),
      h("div", { class: "compose-meta" },
        h("label", { class: "check", for: "compose-cw" }, warn, ` ${S.warning}`), count));
    input.addEventListener("input", () => {
      this.fit();
      this.renderCount();
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && pref("enterSends")) {
        e.preventDefault();
        this.send();
      }
    });
    const mode = h("button", { type: "button", class: "small", dataset: { key: "mode" }, onclick: () => this.toggleMode() });
    const hand = h("button", { type: "button", class: "small", dataset: { key: "hand" }, onclick: () => this.toggleHand() });
    const moment = h("button", { type: "button", class: "small moment", dataset: { key: "moment" }, onclick: () => this.moment() },
      S.moment);
    const sent = h("p", { class: "sent", role: "status" });
    const tools = h("div", { class: "tools", role: "group", "aria-label": S.participation }, mode, hand, moment);
    this.parts = { input, warn, send, why, count, mode, hand, tools, sent };
    this.composer = h("div", { class: "composer" }, form, why, tools, sent);
    this.el.append(this.composer);
  }

  /** Grow the box with what is typed, up to a few lines: the conversation stays in view. */
  fit() {
    const { input } = this.parts;
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  }

  async send() {
    const { input, warn, send, why } = this.parts;
    const value = input.value.trim();
    if (!value || send.disabled) return;
    if (value.length > this.model.limits.message) {
      input.focus();
      return;
    }
    send.disabled = true;
    try {
      await this.view.socket.send("post", { text: value, ...(warn.checked ? { sensitive: true } : {}) });
      // Clear only what was sent: they may have started the next message meanwhile.
      if (input.value.trim() === value) {
        input.value = "";
        warn.checked = false;
        this.fit();
      }
      why.textContent = "";
    } catch (e) {
      why.textContent = this.view.said(e);
    } finally {
      this.render();
    }
  }

  async toggleMode() {
    const mode = this.model.me.mode === "sharer" ? "listener" : "sharer";
    await this.view.command("set_mode", { mode });
  }

  async toggleHand() {
    const up = this.model.hands.includes(this.model.you.user_id);
    await this.view.command(up ? "lower_hand" : "raise_hand");
  }

  async moment() {
    await this.sendWhisper(null);
  }

  async whisper() {
    const data = await dialogs.whisper(this.model.limits.whisper);
    if (data) await this.sendWhisper(data.text);
  }

  async sendWhisper(text) {
    const { sent } = this.parts;
    try {
      const reply = await this.view.socket.send("whisper", text ? { text } : {});
      const at = clock(Date.now() / 1000);
      const said = reply.facilitators_present ? S.sent(at) : S.sentNobodyThere(at);
      replace(sent, said, " ", text ? null : h("button", {
        type: "button", class: "link", dataset: { key: "words" }, onclick: () => this.whisper(),
      }, S.addWords));
      sent.classList.add("ok");
      announce(said);
    } catch (e) {
      const said = this.view.said(e);
      sent.classList.remove("ok");
      replace(sent, said);
      announce(said, { assertive: true });
    }
  }

  renderCount() {
    const { input, count, send } = this.parts;
    const limit = this.model.limits.message;
    const length = input.value.trim().length;
    const over = length - limit;
    count.textContent = length ? (over > 0 ? S.over(over, limit) : S.count(length, limit)) : "";
    count.classList.toggle("over", over > 0);
    count.classList.toggle("near", over <= 0 && length >= limit * 0.9);
    if (over > 0 && !this.wasOver) announce(S.overSay(over, limit), { assertive: true });
    else if (length >= limit * 0.9 && !this.wasNear && over <= 0) announce(S.left(limit - length));
    this.wasOver = over > 0;
    this.wasNear = length >= limit * 0.9;
    if (!this.blocked) send.disabled = over > 0;
  }

  /** Why this person can't post right now, in words; null when they can. */
  block() {
    const m = this.model;
    if (m.ended) return S.ended;
    if (!this.view.connected) return S.reconnecting;
    const { code, message } = m.post;
    return code ? refusal(code, m.context, message) : null;
  }

  render() {
    const m = this.model;
    const { input, warn, send, why, mode, hand, tools } = this.parts;
    const block = this.block();
    this.blocked = !!block;
    for (const control of [input, warn, send]) control.disabled = !!block;
    // A refusal's message stays until the next send; a block's reason goes when it lifts.
    if (block) why.textContent = block;
    else if (this.wasBlocked) why.textContent = "";
    this.wasBlocked = !!block;
    tools.hidden = m.staff || m.ended;
    mode.textContent = m.me.mode === "sharer" ? S.listen : S.share;
    const up = m.hands.includes(m.you.user_id);
    hand.textContent = up ? S.lowerHand : S.raiseHand;
    hand.setAttribute("aria-pressed", up ? "true" : "false");
    this.composer.hidden = m.ended;
    this.renderCount();
    this.renderTurn();
  }

  /** The turn bar, for whoever holds the talking piece or the floor; a line for everyone else. */
  renderTurn() {
    const m = this.model;
    const turn = m.ended ? null : m.myTurn;
    const starting = turn && turn !== this.turn;
    this.turn = turn;
    this.turnbar.hidden = !turn;
    if (turn) {
      const listening = m.me.mode !== "sharer";
      const r = m.round;
      const heading = turn === "floor" ? T.floor : turn === "second" ? T.second : T.round;
      const lines = turn === "floor"
        ? [T.floorGiven, listening ? T.floorListening : T.writeThenDone]
        : [r.prompt, r.deadline ? T.until(clock(r.deadline)) : T.writeThenDone];
      rebuild(this.turnbar, [
        h("h2", { id: "turn-h" }, heading),
        lines.filter(Boolean).map((line, i) => h("p", { class: i === 0 && turn !== "floor" ? "prompt" : "" }, line)),
        h("div", { class: "actions" },
          turn === "floor" && listening
            ? h("button", { type: "button", class: "primary", dataset: { key: "turn-share" }, onclick: () => this.view.command("set_mode", { mode: "sharer" }) }, T.share)
            : null,
          h("button", { type: "button", class: turn === "floor" && listening ? "" : "primary", dataset: { key: "turn-done" }, onclick: () => this.view.command("done") }, T.done),
          h("button", { type: "button", dataset: { key: "turn-pass" }, onclick: () => this.view.command("pass") }, T.pass)),
      ], () => this.view.settle());
      if (starting) {
        const typing = document.activeElement === this.parts.input && this.parts.input.value.trim();
        if (!typing) this.turnbar.focus({ preventScroll: true });
        announce(T.say(heading, turn === "floor"), { assertive: true });
      }
    } else if (this.turnbar.contains(document.activeElement)) {
      replace(this.turnbar);
      this.view.settle();
    }
    setTurn(!!turn);
    this.renderRoundLine();
  }

  renderRoundLine() {
    const m = this.model;
    const r = m.round;
    let text = null;
    if (r && !m.myTurn) {
      const who = r.holder ? T.sharing(m.name(r.holder)) : T.movingOn;
      text = T.line(kindName(r.kind), r.second_chance, who, r.queue[0] === m.you.user_id);
    } else if (m.floor && !m.myTurn) {
      text = T.floorLine(m.name(m.floor));
    }
    this.roundline.hidden = !text;
    this.roundline.textContent = text || "";
  }
}
