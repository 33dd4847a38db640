// Building the page without ever parsing what people type: every piece of user content
// becomes a text node, so nothing anyone types can run as code. The one exception,
// `linked`, takes the server's already-sanitized links in what facilitators wrote and
// rebuilds them element by element, keeping only text and https:/tel: links.
import { strings } from "./strings.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value; // properties such as checked, disabled, value
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

/**
 * Rebuild `el`'s children without losing the person's place: if focus was on something
 * inside it with a `data-key`, focus returns to the rebuilt element with the same key
 * (without scrolling); if that control is gone, to `fallback` (or `el` itself). Focus
 * that was elsewhere is left alone.
 */
export function rebuild(el, children, fallback) {
  const active = document.activeElement;
  const inside = active && active !== document.body && el.contains(active);
  const key = inside ? active.dataset.key : null;
  replace(el, ...[children].flat());
  if (!inside) return;
  const again = key ? el.querySelector(`[data-key="${CSS.escape(key)}"]`) : null;
  const target = again && !again.disabled ? again : typeof fallback === "function" ? fallback() : fallback || el;
  target?.focus({ preventScroll: true });
}

/** Say something to screen readers: politely (after what they're reading) by default. */
export function announce(text, { assertive = false } = {}) {
  const region = document.getElementById(assertive ? "assertive" : "polite");
  if (!region || !text) return;
  const line = h("p", {}, text);
  region.append(line);
  while (region.childElementCount > 5) region.firstElementChild.remove();
  // Said once is enough: words shouldn't linger in the page after they've been heard.
  setTimeout(() => line.remove(), 15000);
}

/** Forget everything announced so far (a message was redacted). */
export function unannounce() {
  for (const id of ["polite", "assertive"]) {
    const region = document.getElementById(id);
    if (region) clear(region);
  }
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit",
});

export function instant(at) {
  return typeof at === "number" ? new Date(at * 1000) : new Date(at);
}

export function time(at) {
  const when = instant(at);
  return h("time", { datetime: when.toISOString() }, timeFormat.format(when));
}

export function day(at) {
  return dayFormat.format(instant(at));
}

export function clock(at) {
  return timeFormat.format(instant(at));
}

/** A labelled form field; returns the wrapper, with the control on `.control`. */
export function field(label, control, hint) {
  const id = control.id || uid("f");
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  const wrap = h("div", { class: "field" },
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    control);
  wrap.control = control;
  return wrap;
}

export function uid(prefix) {
  return `${prefix}-${Math.random().toString(36).slice(2, 9)}`;
}

/**
 * A modal dialog; resolves with the submitted form's data, or null if dismissed. Escape
 * closes it, and focus goes back where it was (or, if that control was rebuilt meanwhile,
 * to its successor with the same `data-key`).
 */
export function ask(title, body, { submit = strings.common.ok, cancel = strings.common.cancel, danger = false } = {}) {
  const opener = document.activeElement;
  const openerKey = opener?.dataset?.key;
  return new Promise((resolve) => {
    const form = h("form", { method: "dialog", class: "dialog-form" });
    const titleId = uid("d");
    const dialog = h("dialog", { "aria-labelledby": titleId },
      h("h2", { id: titleId }, title), form);
    append(form, [body,
      h("div", { class: "actions" },
        cancel ? h("button", { type: "button", class: "secondary", onclick: () => dialog.close("") }, cancel) : null,
        h("button", { type: "submit", value: "ok", class: danger ? "danger" : "primary" }, submit))]);
    dialog.addEventListener("close", () => {
      const data = dialog.returnValue === "ok" ? Object.fromEntries(new FormData(form)) : null;
      dialog.remove();
      returnFocus(opener, openerKey);
      resolve(data);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function returnFocus(opener, key) {
  let target = opener && opener.isConnected ? opener : null;
  if (!target && key) target = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
  target?.focus({ preventScroll: true });
}

/** A modal that only shows something (crisis resources, a list). */
export function show(title, body) {
  return ask(title, body, { submit: strings.common.close, cancel: null });
}

/**
 * The server's linked HTML for what a facilitator wrote (crisis resources, the agreement),
 * as nodes: only text and `<a>` with an https: or tel: address survive; everything else
 * is dropped to its text. The server already sanitized it; this is the second lock.
 */
export function linked(html) {
  const parsed = new DOMParser().parseFromString(`<body>${html || ""}</body>`, "text/html");
  const out = document.createDocumentFragment();
  for (const node of parsed.body.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      out.append(document.createTextNode(node.data));
    } else if (node.nodeType === Node.ELEMENT_NODE) {
      const href = node.tagName === "A" ? node.getAttribute("href") || "" : "";
      if (/^(https:\/\/|tel:\+?[0-9]+$)/.test(href)) {
        const web = href.startsWith("https:");
        out.append(h("a", {
          href, rel: "noopener noreferrer", target: web ? "_blank" : null, class: web ? "link-web" : "link-tel",
        }, node.textContent));
      } else {
        out.append(document.createTextNode(node.textContent));
      }
    }
  }
  return out;
}

/** `linked`, split into lines (the agreement is one commitment a line). */
export function linkedLines(html) {
  const lines = [[]];
  for (const node of linked(html).childNodes) {
    if (node.nodeType === Node.TEXT_NODE && node.data.includes("\n")) {
      node.data.split("\n").forEach((part, i) => {
        if (i > 0) lines.push([]);
        if (part) lines[lines.length - 1].push(document.createTextNode(part));
      });
    } else {
      lines[lines.length - 1].push(node);
    }
  }
  return lines.filter((line) => line.some((n) => n.textContent.trim()));
}

/** A person's initials in a circle of a colour their id always gives them. */
export function avatar(name, id) {
  const letters = (name || "?").trim().split(/\s+/).slice(0, 2).map((w) => [...w][0] || "").join("").toUpperCase();
  let hash = 0;
  for (const ch of id || name || "") hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return h("span", { class: `avatar hue-${hash % 8}`, "aria-hidden": "true" }, letters || "?");
}
