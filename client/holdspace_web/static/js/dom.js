// Building the page without ever parsing markup: every piece of user content
// becomes a text node, so nothing anyone types can run as code.

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

/** Say something to screen readers: politely (after what they're reading) by default. */
export function announce(text, { assertive = false } = {}) {
  const region = document.getElementById(assertive ? "assertive" : "polite");
  if (!region) return;
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

export function time(at) {
  const when = typeof at === "number" ? new Date(at * 1000) : new Date(at);
  return h("time", { datetime: when.toISOString() }, timeFormat.format(when));
}

export function day(at) {
  const when = typeof at === "number" ? new Date(at * 1000) : new Date(at);
  return dayFormat.format(when);
}

export function clock(at) {
  const when = typeof at === "number" ? new Date(at * 1000) : new Date(at);
  return timeFormat.format(when);
}

/** A labelled form field; returns the wrapper, with the control on `.control`. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
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

/** A modal dialog; resolves with the submitted form's data, or null if dismissed. */
export function ask(title, body, { submit = "OK", cancel = "Cancel", danger = false } = {}) {
  return new Promise((resolve) => {
    const form = h("form", { method: "dialog", class: "dialog-form" });
    const titleId = `d-${Math.random().toString(36).slice(2, 9)}`;
    const dialog = h("dialog", { "aria-labelledby": titleId },
      h("h2", { id: titleId }, title), form);
    append(form, [body,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => dialog.close("") }, cancel),
        h("button", { type: "submit", value: "ok", class: danger ? "danger" : "primary" }, submit))]);
    dialog.addEventListener("close", () => {
      const data = dialog.returnValue === "ok" ? Object.fromEntries(new FormData(form)) : null;
      dialog.remove();
      resolve(data);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A modal that only shows something (crisis resources, a list). */
export function show(title, body) {
  return ask(title, body, { submit: "Close", cancel: "Back" });
}
