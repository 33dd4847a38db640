// This device's preferences: a chime for facilitators (off unless chosen) and whether
// Enter sends. They stay in this browser only; the session itself is never kept here.

const DEFAULTS = { sound: false, enterSends: true };
const KEY = "holdspace.prefs";

function load() {
  try {
    return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(KEY) || "{}") };
  } catch {
    return { ...DEFAULTS };
  }
}

let current = load();

export function pref(name) {
  return current[name];
}

export function setPref(name, value) {
  current = { ...current, [name]: value };
  try {
    localStorage.setItem(KEY, JSON.stringify(current));
  } catch {
    // private browsing: remembered for this page only
  }
}
