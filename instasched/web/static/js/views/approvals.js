// Approval queue (issue 20, docs/approvals.md): the posts waiting for an owner or approver, in
// time order, each with its preview, caption and who submitted it; approve it (it is scheduled
// and queued) or send it back with a comment saying what to change. Posts sent back and posts
// whose time passed unapproved are listed below, so nothing waits unseen.
import { busy, button, field, h, notice, replace, toast } from "../dom.js";
import { STATUS_TEXT, approvePost, listPosts, rejectPost } from "../posts-api.js";
import { currentAccount, store } from "../store.js";
import { TYPE_ICON, TYPE_TEXT, mediaIndex, postThumbUrl } from "../thumbs.js";
import { formatInZone } from "../time.js";

const who = (userId) => (userId && store.user && userId === store.user.id ? "you" : "a team member");

export async function render(main) {
  const account = currentAccount();
  replace(main, h("h1", {}, "Approvals"));
  if (!account) {
    main.append(notice("info", "Connect an Instagram account first: ", h("a", { href: "#/accounts" }, "Accounts")));
    return null;
  }
  const tz = account.timezone || "UTC";
  const queue = h("ul", { class: "approval-queue", id: "approval-queue", "aria-label": "Waiting for approval" });
  const others = h("ul", { class: "approval-queue", id: "approval-others", "aria-label": "Sent back or expired" });
  main.append(
    h("p", { class: "muted" }, `Posts of @${account.username} waiting for an owner or approver. Times in ${tz}. Nothing here is published until it is approved; a post still waiting at its time is not published.`),
    h("h2", {}, "Waiting for approval"), queue,
    h("h2", {}, "Sent back or expired"), others,
  );
  let media = new Map();

  function card(p, actions) {
    const thumb = postThumbUrl(p, media);
    const a = p.approval || {};
    return h("li", { class: "approval-card card", dataset: { postId: p.id, status: p.status } },
      thumb
        ? h("img", { class: "approval-thumb", src: thumb, alt: "", width: "96", height: "96", loading: "lazy" })
        : h("span", { class: "approval-thumb post-thumb-none", "aria-hidden": "true" }, TYPE_ICON[p.mediaType] || "?"),
      h("div", { class: "approval-body" },
        h("p", {},
          h("span", { class: `badge status-badge post-${p.status}` }, STATUS_TEXT[p.status] || p.status), " ",
          h("strong", {}, p.scheduledFor ? formatInZone(new Date(p.scheduledFor), tz, { dateStyle: "full" }) : "No time"),
          ` · ${TYPE_TEXT[p.mediaType] || p.mediaType}`),
        h("p", { class: "caption-full" }, p.caption || "(no caption)"),
        h("p", { class: "muted small" }, a.submittedAt
          ? `Submitted by ${who(a.submittedBy)} on ${formatInZone(new Date(a.submittedAt), tz)}`
          : ""),
        p.status === "changes_requested" && a.comment
          ? h("p", { class: "notice notice-warn" }, h("strong", {}, "Sent back: "), a.comment)
          : null,
        actions));
  }

  function waitingActions(p) {
    const comment = h("textarea", { id: `reject-comment-${p.id}`, rows: "2", maxlength: "2000" });
    const approve = button("Approve", () => busy(approve, async () => {
      const r = await approvePost(p.id);
      toast(`Approved: scheduled for ${formatInZone(new Date(r.scheduledFor), tz)}`, "success");
      await load();
    }), { class: "primary", id: `approve-${p.id}` });
    const reject = button("Send back", () => busy(reject, async () => {
      if (!comment.value.trim()) throw new Error("Say what to change (the comment is required)");
      await rejectPost(p.id, comment.value.trim());
      toast("Sent back for changes", "success");
      await load();
    }), { id: `reject-${p.id}` });
    return h("div", { class: "approval-actions" },
      approve, field("Comment for the author", comment), reject);
  }

  async function load() {
    try {
      const [waiting, back, expired] = await Promise.all(
        ["needs_approval", "changes_requested", "approval_expired"].map((status) => listPosts(account.id, { status })),
      );
      replace(queue, ...(waiting.length
        ? waiting.map((p) => card(p, waitingActions(p)))
        : [h("li", { class: "muted" }, "Nothing waits for approval.")]));
      const rest = [...back, ...expired];
      replace(others, ...(rest.length
        ? rest.map((p) => card(p, h("a", { href: `#/compose/${p.id}` }, "Edit")))
        : [h("li", { class: "muted" }, "None.")]));
    } catch (err) {
      replace(queue, h("li", {}, notice("error", err.message)));
    }
  }

  media = await mediaIndex(account.id).catch(() => new Map());
  await load();
  return null;
}
