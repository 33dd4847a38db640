// The app's one page routes itself from the URL fragment:
//   #/signin  #/signup  #/groups  #/room/<id>  #/manage/new  #/manage/<id>
// Moving between screens replaces the page's history entry rather than adding one, so
// the app holds a single entry: after "Leave quickly", Back leads away from Holdspace,
// not into a group.
import { get, patch, post } from "./api.js";
import { announce, h, linked, replace, show } from "./dom.js";
import { resetTitle } from "./alerts.js";
import { strings } from "./strings.js";
import { signIn, signUp } from "./views/auth.js";
import { groups } from "./views/groups.js";
import { manage } from "./views/manage.js";
import { room } from "./views/room/view.js";

const FALLBACK_EXIT = "https://www.google.com/";

const app = {
  user: null,
  leaving: null, // what to do when the current screen is left (close a room's socket)
  quickLeave: null, // how the current screen leaves at once (a room's socket says goodbye)
  crisis: null, // the current group's crisis resources ({ text, html }), while in a room
  exitUrl: FALLBACK_EXIT,
  main: document.getElementById("main"),

  go(path) {
    if (location.hash === `#${path}`) render();
    else location.replace(`#${path}`);
  },

  async refreshUser() {
    try {
      app.user = (await get("/api/auth/me")).user;
    } catch {
      app.user = null;
    }
    nav();
  },

  /** Change how this person is known (the server checks it can't be mistaken for staff). */
  async rename(name) {
    app.user = (await patch("/api/auth/me", { display_name: name })).user;
    nav();
  },

  async signOut() {
    try {
      await post("/api/auth/logout");
    } finally {
      app.user = null;
      app.go("/signin");
    }
  },
};

// -- leaving quickly --------------------------------------------------------------------

/** Leave at once for an everyday page: the room is left, the page and its history entry
 * are replaced, and nothing of the group stays on screen meanwhile. */
function quickExit() {
  try {
    app.quickLeave?.();
  } finally {
    document.title = strings.app.exitTitle;
    for (const dialog of document.querySelectorAll("dialog")) dialog.remove();
    replace(document.body);
    location.replace(app.exitUrl);
  }
}

let lastEscape = 0;
document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape") return;
  const now = performance.now();
  if (now - lastEscape < 1000) quickExit();
  lastEscape = now;
}, true);

document.getElementById("quick-exit").addEventListener("click", quickExit);
document.querySelector(".skip").addEventListener("click", (e) => {
  e.preventDefault(); // the fragment routes the app: skipping is a move of focus
  app.main.focus();
});
get("/api").then((info) => {
  if (info.quick_exit_url) app.exitUrl = info.quick_exit_url;
}).catch(() => {});

// -- crisis support, one tap away ----------------------------------------------------------

async function crisis() {
  let html = app.crisis?.html;
  if (!html) {
    try {
      html = (await get("/api/crisis")).crisis_resources_html;
    } catch {
      html = strings.app.crisisFallback;
    }
  }
  await show(strings.app.crisis, [h("p", { class: "pre" }, linked(html)), h("p", {}, strings.app.stepAway)]);
}

function nav() {
  const links = [h("button", { type: "button", class: "link crisis-link", onclick: crisis }, strings.app.crisis)];
  if (app.user) {
    links.push(h("a", { href: "#/groups", class: "nav-extra" }, strings.app.myGroups));
    links.push(h("button", { type: "button", class: "link nav-extra", onclick: () => app.signOut() }, strings.app.signOut));
  }
  replace(document.getElementById("nav"), links);
}

// In-app links move without adding history (see above).
document.addEventListener("click", (e) => {
  const link = e.target.closest?.('a[href^="#/"]');
  if (!link || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  e.preventDefault();
  app.go(link.getAttribute("href").slice(1));
});

// Screens whose heading names a group are titled by what they are, never by the group:
// a tab list glanced at over someone's shoulder shows nothing of where they've been.
const TITLES = { room: strings.app.name, manage: strings.app.manageTitle };

async function render() {
  if (app.leaving) {
    const leave = app.leaving;
    app.leaving = null;
    app.quickLeave = null;
    app.crisis = null;
    leave();
  }
  const [, route = "", arg = ""] = location.hash.replace(/^#/, "").split("/");
  if (!app.user && route !== "signup") {
    await app.refreshUser();
  }
  if (!app.user && route !== "signin" && route !== "signup") {
    app.go("/signin");
    return;
  }
  const view = { signin: signIn, signup: signUp, groups, room, manage }[route];
  if (!view || (app.user && (route === "signin" || route === "signup"))) {
    app.go("/groups");
    return;
  }
  replace(app.main);
  resetTitle();
  // Each screen starts at the top, as a new page would: the first Tab reaches "Leave
  // quickly", the second "Skip to content". Before the screen is built, so that nothing
  // typed or tabbed meanwhile lands elsewhere.
  const top = document.querySelector("header.top");
  top.focus({ preventScroll: true });
  await view(app, decodeURIComponent(arg));
  const heading = app.main.querySelector("h1");
  if (TITLES[route]) {
    if (route !== "room") document.title = TITLES[route];
  } else if (heading) {
    document.title = strings.app.title(heading.textContent);
  }
  // Screen readers hear the screen's name; focus lost while it was built goes back up.
  if (document.activeElement === document.body) top.focus({ preventScroll: true });
  if (heading && route !== "room") announce(heading.textContent);
}

window.addEventListener("hashchange", render);
render();
