// An invitation link (/#invitation=<token>): join its workspace as the logged-in user.
import { post } from "../api.js";
import { busy, button, h, notice, replace } from "../dom.js";
import { loadWorkspaces, store, switchWorkspace } from "../store.js";

export async function render(main, { navigate }) {
  const token = store.invitationToken;
  replace(main, h("h1", {}, "Join a workspace"));
  if (!token) {
    main.append(notice("info", "Open the invitation link you were sent to join its workspace."));
    return null;
  }
  const status = h("div", { "aria-live": "polite", id: "accept-status" });
  const join = button("Join the workspace", () =>
    busy(join, async () => {
      try {
        const workspace = await post("/api/workspaces/invitations/accept", { token });
        store.invitationToken = null;
        await loadWorkspaces();
        await switchWorkspace(workspace.id);
        navigate("calendar", `You joined ${workspace.name} as ${workspace.role}`);
      } catch (err) {
        replace(status, notice("error", err.message));
      }
    }), { class: "primary", id: "accept-invitation" });
  main.append(
    h("p", {}, `You are logged in as ${store.user ? store.user.email : "?"}. The invitation works for the email it was sent to.`),
    h("div", { class: "actions" }, join),
    status,
  );
  return null;
}
