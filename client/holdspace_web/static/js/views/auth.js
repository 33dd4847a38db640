import { post } from "../api.js";
import { field, h } from "../dom.js";

function form(app, { title, intro, fields, submit, send, other }) {
  const error = h("p", { class: "error", role: "alert" });
  const button = h("button", { type: "submit", class: "primary" }, submit);
  const el = h("form", {
    class: "card narrow",
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = "";
      button.disabled = true;
      try {
        await send(Object.fromEntries(new FormData(el)));
        await app.refreshUser();
        app.go("/groups");
      } catch (e) {
        error.textContent = e.message;
        const bad = e.detail && e.detail.field && el.querySelector(`[name="${e.detail.field}"]`);
        (bad || el.querySelector("input")).focus();
      } finally {
        button.disabled = false;
      }
    },
  }, h("h1", {}, title), h("p", {}, intro), fields, error, h("div", { class: "actions" }, button), other);
  app.main.append(el);
}

export function signIn(app) {
  form(app, {
    title: "Sign in",
    intro: "Welcome back. Take your time.",
    fields: [
      field("Username", h("input", { name: "username", autocomplete: "username", required: true })),
      field("Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    ],
    submit: "Sign in",
    send: (data) => post("/api/auth/login", data),
    other: h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Create an account")),
  });
}

export function signUp(app) {
  form(app, {
    title: "Create an account",
    intro: "Only your display name is shown to your group. Use any name you're comfortable with.",
    fields: [
      field("Username", h("input", { name: "username", autocomplete: "username", required: true }),
        "For signing in. Others never see it."),
      field("Display name", h("input", { name: "display_name", autocomplete: "nickname", required: true, maxlength: 40 }),
        "What your group sees. A first name or a nickname is fine; not a role such as facilitator (everyone sees roles beside names)."),
      field("Password", h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 10 }),
        "At least 10 characters."),
    ],
    submit: "Create account",
    send: (data) => post("/api/auth/register", data),
    other: h("p", {}, "Already have an account? ", h("a", { href: "#/signin" }, "Sign in")),
  });
}
