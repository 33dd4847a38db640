// Signals a facilitator must not miss: toasts in the first screen on any size, a count
// in the tab title, and (if they chose it) a soft chime. The tab title never names the
// group: someone glancing at a phone's tab list learns nothing.
import { h } from "./dom.js";
import { pref } from "./prefs.js";
import { strings } from "./strings.js";

const BASE = strings.app.name;
let unread = 0;
let turn = false;

function title() {
  const name = turn ? strings.app.yourTurnTitle : BASE;
  document.title = unread > 0 ? strings.app.unreadTitle(unread, name) : name;
}

/** How many signals are waiting to be seen (shown as "(n)" in the title). */
export function setUnread(count) {
  unread = count;
  title();
}

export function setTurn(on) {
  turn = on;
  title();
}

export function resetTitle(text = BASE) {
  unread = 0;
  turn = false;
  document.title = text;
}

let audio = null;

/** A short, soft two-note chime, made on the spot: no file to fetch, nothing to load. */
export function chime() {
  if (!pref("sound")) return;
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    for (const [i, freq] of [[0, 660], [1, 880]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + i * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.12, now + i * 0.18 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.18 + 0.5);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.18);
      osc.stop(now + i * 0.18 + 0.55);
    }
  } catch {
    // no sound on this device; the toast and the title still say it
  }
}

/**
 * A toast: stays until acted on or dismissed (a facilitator must not miss it), at the top
 * of the screen. `actions` are [label, handler] pairs; each closes the toast. Returns the
 * element, with `.close()`.
 */
export function toast(text, actions = [], { kind = "info", onClose } = {}) {
  const box = document.getElementById("toasts");
  const close = () => {
    el.remove();
    onClose?.();
  };
  const el = h("div", { class: `toast ${kind}`, role: "group", "aria-label": text },
    h("p", {}, text),
    h("div", { class: "toast-actions" },
      actions.map(([label, act, cls]) => h("button", {
        type: "button", class: `small ${cls || ""}`, onclick: () => { close(); act(); },
      }, label)),
      h("button", { type: "button", class: "small secondary", onclick: close }, strings.common.dismiss)));
  el.close = close;
  // Just below the page's headers: never over "Leave quickly" or "Crisis support".
  const head = document.querySelector(".room-head") || document.querySelector(".top");
  box.style.top = `${Math.max(0, head ? head.getBoundingClientRect().bottom : 0) + 6}px`;
  box.append(el);
  while (box.childElementCount > 3) box.firstElementChild.remove(); // still counted as unread
  return el;
}

export function clearToasts() {
  const box = document.getElementById("toasts");
  for (const el of [...box.children]) el.remove();
}
