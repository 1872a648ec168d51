// The current workspace: its settings (owners), members and roles, invitation links, and new
// workspaces (docs/workspaces.md). The API decides who may do what; this page only offers the
// actions your role has.
import { del, get, patch, post } from "../api.js";
import { busy, button, field, h, notice, replace, select, toast } from "../dom.js";
import { currentWorkspace, isOwner, loadWorkspaces, store, switchWorkspace, changed } from "../store.js";

const ROLES = [
  ["owner", "Owner: everything, members and accounts"],
  ["editor", "Editor: creates and edits posts, media, templates"],
  ["approver", "Approver: approves or sends back posts"],
  ["viewer", "Viewer: reads only"],
];
const ROLE_NAMES = ["owner", "editor", "approver", "viewer"];

function base(workspace) {
  return `/api/workspaces/${encodeURIComponent(workspace.id)}`;
}

function settings(workspace) {
  const owner = isOwner();
  const name = h("input", { type: "text", id: "ws-name", maxlength: "100", value: workspace.name,
    disabled: !owner || workspace.personal });
  const approval = h("input", { type: "checkbox", id: "ws-require-approval",
    checked: workspace.requireApproval, disabled: !owner });
  const save = button("Save settings", () =>
    busy(save, async () => {
      const body = { requireApproval: approval.checked };
      if (!workspace.personal) body.name = name.value;
      await patch(base(workspace), body);
      await loadWorkspaces();
      changed();
      toast("Workspace settings saved", "success");
    }), { id: "ws-save", class: "primary" });
  return h("section", { class: "card", "aria-labelledby": "ws-settings-title" },
    h("h2", { id: "ws-settings-title" }, "Settings"),
    field("Name", name, workspace.personal ? "Your personal workspace keeps its name." : null),
    h("div", { class: "field checkbox" }, approval,
      h("label", { for: "ws-require-approval" }, "Require approval: posts written by editors wait for an owner or an approver")),
    owner ? h("div", { class: "actions" }, save) : h("p", { class: "hint" }, "Only owners change these settings."));
}

function memberRow(workspace, member, refresh) {
  const me = store.user && member.userId === store.user.id;
  const cells = [h("td", {}, member.email, me ? " (you)" : "")];
  if (isOwner()) {
    const role = select(ROLE_NAMES, member.role, { id: `role-${member.userId}`, "aria-label": `Role of ${member.email}` });
    role.addEventListener("change", () =>
      busy(role, async () => {
        try {
          await patch(`${base(workspace)}/members/${member.userId}`, { role: role.value });
          toast(`${member.email} is now ${role.value}`, "success");
        } finally {
          refresh();
        }
      }));
    cells.push(h("td", {}, role));
  } else {
    cells.push(h("td", {}, member.role));
  }
  const canRemove = isOwner() || me;
  const remove = canRemove
    ? button(me ? "Leave" : "Remove", () => {
        if (!window.confirm(me ? "Leave this workspace?" : `Remove ${member.email} from the workspace?`)) return;
        busy(remove, async () => {
          await del(`${base(workspace)}/members/${member.userId}`);
          if (me) {
            await loadWorkspaces();
            const personal = store.workspaces.find((w) => w.personal);
            await switchWorkspace(personal ? personal.id : null);
            toast("You left the workspace", "success");
            return;
          }
          toast(`${member.email} removed`, "success");
          refresh();
        });
      }, { class: "danger", "aria-label": me ? "Leave the workspace" : `Remove ${member.email}` })
    : null;
  cells.push(h("td", {}, remove));
  return h("tr", { dataset: { userId: member.userId } }, cells);
}

async function members(workspace) {
  const section = h("section", { class: "card", "aria-labelledby": "ws-members-title" },
    h("h2", { id: "ws-members-title" }, "Members"));
  const body = h("tbody");
  const table = h("table", { class: "table", id: "ws-members" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Email"), h("th", { scope: "col" }, "Role"),
      h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
    body);
  const refresh = async () => {
    try {
      const list = await get(`${base(workspace)}/members`);
      replace(body, ...list.map((m) => memberRow(workspace, m, refresh)));
    } catch (err) {
      replace(body, h("tr", {}, h("td", { colspan: "3" }, err.message)));
    }
  };
  await refresh();
  section.append(table);
  return section;
}

function linkBox(url) {
  const input = h("input", { type: "text", id: "invite-link", readonly: true, value: url });
  const copy = button("Copy link", async () => {
    try {
      await navigator.clipboard.writeText(url);
      toast("Link copied", "success");
    } catch {
      input.select();
      toast("Select the link and copy it", "info");
    }
  }, { id: "copy-invite-link" });
  return h("div", { class: "invite-link", role: "group", "aria-label": "Invitation link" },
    field("Send this link to the person you invite (it works once, for 7 days)", input), copy);
}

async function invitations(workspace) {
  const section = h("section", { class: "card", "aria-labelledby": "ws-invite-title" },
    h("h2", { id: "ws-invite-title" }, "Invitations"));
  const email = h("input", { type: "email", id: "invite-email", required: true, autocomplete: "off" });
  const role = select(ROLES, "editor", { id: "invite-role" });
  const result = h("div", { "aria-live": "polite", id: "invite-result" });
  const body = h("tbody");
  const refresh = async () => {
    const list = await get(`${base(workspace)}/invitations`).catch(() => []);
    replace(body, ...list.map((i) => {
      const revoke = i.status === "pending"
        ? button("Revoke", () => busy(revoke, async () => {
            await del(`${base(workspace)}/invitations/${i.id}`);
            toast(`Invitation for ${i.email} revoked`, "success");
            refresh();
          }), { "aria-label": `Revoke the invitation for ${i.email}` })
        : null;
      return h("tr", { dataset: { invitationId: i.id } }, h("td", {}, i.email), h("td", {}, i.role),
        h("td", {}, i.status), h("td", {}, revoke));
    }));
    if (!list.length) body.append(h("tr", {}, h("td", { colspan: "4" }, "No invitation yet.")));
  };
  const send = h("button", { type: "submit", class: "primary", id: "invite-send" }, "Create invitation link");
  const form = h("form", { novalidate: true }, h("div", { class: "row" }, field("Email", email), field("Role", role)),
    h("div", { class: "actions" }, send));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(send, async () => {
      try {
        const created = await post(`${base(workspace)}/invitations`, { email: email.value.trim(), role: role.value });
        replace(result, linkBox(created.url));
        email.value = "";
        await refresh();
      } catch (err) {
        replace(result, notice("error", err.message));
      }
    });
  });
  await refresh();
  section.append(form, result,
    h("table", { class: "table", id: "ws-invitations" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Email"), h("th", { scope: "col" }, "Role"),
        h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      body));
  return section;
}

function newWorkspace() {
  const name = h("input", { type: "text", id: "new-ws-name", maxlength: "100", required: true });
  const create = h("button", { type: "submit", id: "new-ws-create" }, "Create workspace");
  const form = h("form", { novalidate: true }, field("Name", name, "You become its owner; invite your team next."),
    h("div", { class: "actions" }, create));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(create, async () => {
      const created = await post("/api/workspaces", { name: name.value });
      await loadWorkspaces();
      await switchWorkspace(created.id);
      toast(`Workspace ${created.name} created`, "success");
    });
  });
  return h("section", { class: "card", "aria-labelledby": "new-ws-title" },
    h("h2", { id: "new-ws-title" }, "New workspace"), form);
}

export async function render(main) {
  await loadWorkspaces().catch((err) => toast(err.message, "error"));
  const workspace = currentWorkspace();
  if (!workspace) {
    replace(main, h("h1", {}, "Workspace"), notice("error", "No workspace could be loaded."));
    return null;
  }
  const title = workspace.personal ? "Personal workspace" : workspace.name;
  replace(main, h("h1", {}, title),
    h("p", { class: "muted", id: "ws-role" }, `Your role: ${workspace.role}`));
  main.append(settings(workspace), await members(workspace));
  if (isOwner()) main.append(await invitations(workspace));
  main.append(newWorkspace());
  return null;
}
