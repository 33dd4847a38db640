// The app's one page routes itself from the URL fragment:
//   #/signin  #/signup  #/groups  #/room/<id>  #/manage/new  #/manage/<id>
import { get, post } from "./api.js";
import { h, replace, show } from "./dom.js";
import { signIn, signUp } from "./views/auth.js";
import { groups } from "./views/groups.js";
import { manage } from "./views/manage.js";
import { room } from "./views/room.js";

const app = {
  user: null,
  leaving: null, // what to do when the current screen is left (close a room's socket)
  crisis: null, // the current group's crisis resources, while in a room
  main: document.getElementById("main"),

  go(path) {
    if (location.hash === `#${path}`) render();
    else location.hash = path;
  },

  async refreshUser() {
    try {
      app.user = (await get("/api/auth/me")).user;
    } catch {
      app.user = null;
    }
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

// Crisis resources are one tap away on every screen: the group's own while in a
// room, the server's everywhere else.
async function crisis() {
  let text = app.crisis;
  if (!text) {
    try {
      text = (await get("/api/crisis")).crisis_resources;
    } catch {
      text = "If you are in danger, please contact your local emergency number now.";
    }
  }
  await show("Crisis support", [h("p", {}, text), h("p", {}, "You can step away from the group at any time.")]);
}

function nav() {
  const links = [h("button", { type: "button", class: "link crisis-link", onclick: crisis }, "Crisis support")];
  if (app.user) {
    links.push(h("a", { href: "#/groups" }, "My groups"));
    links.push(h("button", { type: "button", class: "link", onclick: () => app.signOut() }, "Sign out"));
  }
  replace(document.getElementById("nav"), links);
}

async function render() {
  if (app.leaving) {
    const leave = app.leaving;
    app.leaving = null;
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
  await view(app, decodeURIComponent(arg));
  const heading = app.main.querySelector("h1");
  if (heading) {
    document.title = `${heading.textContent} — Holdspace`;
  }
  // Move focus to the new screen (for screen readers and keyboards), unless the screen
  // already put it somewhere useful, such as the first field of a form.
  if (!app.main.contains(document.activeElement) || document.activeElement === document.body) {
    app.main.focus();
  }
}

window.addEventListener("hashchange", render);
render();
