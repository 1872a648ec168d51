// Sign up / log in. The token goes to api.js's memory only.
import { ApiError, get, post, setToken } from "../api.js";
import { field, h, notice, replace } from "../dom.js";

export function render(root, { notice: message, onLoggedIn }) {
  let mode = "login";
  const status = h("div", { class: "auth-status", "aria-live": "polite" });
  if (message) status.append(notice("info", message));

  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const password = h("input", {
    type: "password",
    name: "password",
    autocomplete: "current-password",
    required: true,
    minlength: 1,
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Log in");
  const title = h("h1", { id: "auth-title" }, "Log in");
  const toggle = h("button", { type: "button", class: "link", id: "auth-toggle" }, "Create an account");
  const passwordHint = h("p", { class: "hint", id: "password-hint", hidden: true },
    "At least 12 characters.");

  const form = h(
    "form",
    { class: "card auth-card", "aria-labelledby": "auth-title", novalidate: true },
    title,
    status,
    field("Email", email),
    field("Password", password),
    passwordHint,
    h("div", { class: "actions" }, submit, toggle),
  );

  toggle.addEventListener("click", () => {
    mode = mode === "login" ? "signup" : "login";
    const signup = mode === "signup";
    title.textContent = signup ? "Create your account" : "Log in";
    submit.textContent = signup ? "Sign up" : "Log in";
    toggle.textContent = signup ? "I already have an account" : "Create an account";
    password.autocomplete = signup ? "new-password" : "current-password";
    passwordHint.hidden = !signup;
    replace(status);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(status);
    if (!email.value || !password.value) {
      status.append(notice("error", "Enter your email and password."));
      (email.value ? password : email).focus();
      return;
    }
    submit.disabled = true;
    try {
      const creds = { email: email.value.trim(), password: password.value };
      if (mode === "signup") await post("/api/auth/register", creds, { auth: false });
      const tokens = await post("/api/auth/login", creds, { auth: false });
      setToken(tokens.accessToken);
      const user = await get("/api/auth/me");
      password.value = "";
      await onLoggedIn(user);
    } catch (err) {
      setToken(null);
      const text = err instanceof ApiError ? err.message : String(err);
      status.append(notice("error", text));
      submit.disabled = false;
    }
  });

  replace(
    root,
    h(
      "main",
      { class: "auth-page", id: "main" },
      h("p", { class: "brand brand-large" }, "instasched"),
      h("p", { class: "tagline" }, "Plan, schedule and publish Instagram posts — exactly once."),
      form,
    ),
  );
  email.focus();
  return null;
}
