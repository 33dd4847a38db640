// The bottom of the room, always in view: your turn (unmistakable when it comes), what
// the room is doing, and the composer with its reasons, its live count, and the ways to
// take part without posting — listening, a raised hand, "I need a moment".
import { setTurn } from "../../alerts.js";
import { announce, ask, clock, field, h, rebuild, replace } from "../../dom.js";
import { pref } from "../../prefs.js";
import { kindName } from "./words.js";

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
      id: "compose", name: "text", rows: 1, placeholder: "Write a message…",
      "aria-describedby": "compose-why compose-count", autocomplete: "off",
    });
    const warn = h("input", { type: "checkbox", id: "compose-cw", name: "sensitive" });
    const send = h("button", { type: "submit", class: "primary send", dataset: { key: "send" } }, "Send");
    const why = h("p", { id: "compose-why", class: "why" });
    const count = h("p", { id: "compose-count", class: "count" });
    const form = h("form", { class: "compose", onsubmit: (event) => { event.preventDefault(); this.send(); } },
      h("label", { for: "compose", class: "visually-hidden" }, "Your message"),
      h("div", { class: "compose-row" }, input, send),
      h("div", { class: "compose-meta" },
        h("label", { class: "check", for: "compose-cw" }, warn, " Content warning"), count));
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
      "I need a moment");
    const sent = h("p", { class: "sent", role: "status" });
    const tools = h("div", { class: "tools", role: "group", "aria-label": "Your participation" }, mode, hand, moment);
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
      why.textContent = e.message;
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
    const limit = this.model.limits.whisper;
    const data = await ask("Whisper to the facilitators", [
      h("p", {}, "Only the facilitators will see this. Nothing appears in the room."),
      field("Your whisper (optional)", h("textarea", { name: "text", rows: 3, maxlength: limit }),
        `Up to ${limit} characters. Without words, it says “I need a moment”.`),
    ], { submit: "Send whisper" });
    if (data) await this.sendWhisper(data.text.trim() || null);
  }

  async sendWhisper(text) {
    const { sent } = this.parts;
    try {
      const reply = await this.view.socket.send("whisper", text ? { text } : {});
      const at = clock(Date.now() / 1000);
      const said = reply.facilitators_present
        ? `Sent to the facilitators ✓ ${at}`
        : `Sent ✓ ${at}. No facilitator is connected right now; they'll see it when they're back.`;
      replace(sent, said, " ", text ? null : h("button", {
        type: "button", class: "link", dataset: { key: "words" }, onclick: () => this.whisper(),
      }, "Add a few words"));
      sent.classList.add("ok");
      announce(said);
    } catch (e) {
      sent.classList.remove("ok");
      replace(sent, e.message);
      announce(e.message, { assertive: true });
    }
  }

  renderCount() {
    const { input, count, send } = this.parts;
    const limit = this.model.limits.message;
    const length = input.value.trim().length;
    const over = length - limit;
    count.textContent = length ? (over > 0 ? `${over} over the limit of ${limit}` : `${length} / ${limit}`) : "";
    count.classList.toggle("over", over > 0);
    count.classList.toggle("near", over <= 0 && length >= limit * 0.9);
    if (over > 0 && !this.wasOver) announce(`Your message is ${over} characters over the limit of ${limit}.`, { assertive: true });
    else if (length >= limit * 0.9 && !this.wasNear && over <= 0) announce(`${limit - length} characters left.`);
    this.wasOver = over > 0;
    this.wasNear = length >= limit * 0.9;
    if (!this.blocked) send.disabled = over > 0;
  }

  render() {
    const m = this.model;
    const { input, warn, send, why, mode, hand, tools } = this.parts;
    const block = m.composerBlock(this.view.connected);
    this.blocked = !!block;
    for (const control of [input, warn, send]) control.disabled = !!block;
    // A refusal's message stays until the next send; a block's reason goes when it lifts.
    if (block) why.textContent = block;
    else if (this.wasBlocked) why.textContent = "";
    this.wasBlocked = !!block;
    tools.hidden = m.staff || m.ended;
    mode.textContent = m.me.mode === "sharer" ? "Just listen" : "I'd like to share";
    const up = m.hands.includes(m.you.user_id);
    hand.textContent = up ? "Lower hand" : "Raise hand";
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
      const heading = turn === "floor" ? "You have the floor"
        : turn === "second" ? "Another chance, if you'd like" : "It's your turn";
      const lines = turn === "floor"
        ? ["A facilitator gave you the floor: the room is listening.",
          listening ? "You're listening now. Choose to share when you're ready — or pass." : "Write below, then say Done. You can always pass."]
        : [r.prompt, r.deadline ? `Until ${clock(r.deadline)}. You can always pass.` : "Write below, then say Done. You can always pass."];
      rebuild(this.turnbar, [
        h("h2", { id: "turn-h" }, heading),
        lines.filter(Boolean).map((line, i) => h("p", { class: i === 0 && turn !== "floor" ? "prompt" : "" }, line)),
        h("div", { class: "actions" },
          turn === "floor" && listening
            ? h("button", { type: "button", class: "primary", dataset: { key: "turn-share" }, onclick: () => this.view.command("set_mode", { mode: "sharer" }) }, "I'd like to share")
            : null,
          h("button", { type: "button", class: turn === "floor" && listening ? "" : "primary", dataset: { key: "turn-done" }, onclick: () => this.view.command("done") }, "Done"),
          h("button", { type: "button", dataset: { key: "turn-pass" }, onclick: () => this.view.command("pass") }, "Pass")),
      ], () => this.view.settle());
      if (starting) {
        const typing = document.activeElement === this.parts.input && this.parts.input.value.trim();
        if (!typing) this.turnbar.focus({ preventScroll: true });
        announce(`${heading}. ${turn === "floor" ? "A facilitator gave you the floor. " : ""}You can always pass.`, { assertive: true });
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
      const who = r.holder ? `${m.name(r.holder)} is sharing` : "the piece is moving on";
      const next = r.queue[0] === m.you.user_id ? " · you're next" : "";
      text = `${kindName(r.kind)}${r.second_chance ? " (another chance)" : ""}: ${who}${next}`;
    } else if (m.floor && !m.myTurn) {
      text = `${m.name(m.floor)} has the floor`;
    }
    this.roundline.hidden = !text;
    this.roundline.textContent = text || "";
  }
}
