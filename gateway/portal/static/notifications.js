// A creator's notifications: the bell in the sections' list with the unread count, the
// list newest first (marked read once shown and acknowledged), and which kinds are also
// mailed. Invitations are mailed unless one opts out: their mail is the invitation.

import { expect, graphql } from "./api.js";
import { $, say } from "./dom.js";
import { formatDate } from "./words.js";

const ITEM = "__typename ... on NotificationList { unread items { id kind text createdAt readAt } }";
const NOTIFICATIONS = `{ notifications { ${ITEM} } }`;
const MARK_READ = `mutation { markNotificationsRead { ${ITEM} } }`;
const SETTINGS = "{ notificationSettings { __typename ... on NotificationSettings { mailed } } }";
const SET_SETTINGS = `mutation($mailed: [NotificationKind!]!) {
  setNotificationSettings(mailed: $mailed) { __typename ... on NotificationSettings { mailed } } }`;

const KIND_NAMES = {
  SALE: "A sale",
  PAYOUT: "A transfer to your bank",
  REVIEW: "A review's outcome",
  INVITATION: "An invitation to co-create",
  INVITATION_ANSWER: "An answer to your invitation",
  WITHDRAWAL: "A withdrawal",
};

function render(list) {
  const unread = list.unread;
  $("notifications-bell").textContent =
    unread === 0 ? "Notifications" : `Notifications (${unread} unread)`;
  $("mark-notifications-read").hidden = unread === 0;
  $("notifications-empty").hidden = list.items.length > 0;
  $("notifications-list").replaceChildren(
    ...list.items.map((item) => {
      const entry = document.createElement("li");
      entry.dataset.kind = item.kind;
      if (!item.readAt) entry.classList.add("unread");
      const when = document.createElement("time");
      when.dateTime = item.createdAt;
      when.textContent = formatDate(item.createdAt);
      const text = document.createElement("p");
      text.textContent = item.readAt ? item.text : `New: ${item.text}`;
      entry.append(text, when);
      return entry;
    }),
  );
}

function renderSettings(mailed) {
  $("notification-mail").replaceChildren(
    ...Object.entries(KIND_NAMES).map(([kind, name]) => {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = kind;
      box.checked = mailed.includes(kind);
      label.append(box, ` ${name}`);
      return label;
    }),
  );
}

export async function loadNotifications() {
  const [found, settings] = await Promise.all([graphql(NOTIFICATIONS), graphql(SETTINGS)]);
  render(expect(found.notifications, "NotificationList"));
  const chosen = settings.notificationSettings;
  // Someone who is not a creator has no notifications to choose for.
  $("notification-mail-form").hidden = chosen.__typename !== "NotificationSettings";
  if (!$("notification-mail-form").hidden) renderSettings(chosen.mailed);
}

export async function markNotificationsRead() {
  const marked = await graphql(MARK_READ);
  render(expect(marked.markNotificationsRead, "NotificationList"));
  say("Every notification is marked read.");
}

export async function saveNotificationMail() {
  const mailed = [...$("notification-mail").querySelectorAll("input:checked")].map(
    (box) => box.value,
  );
  const saved = await graphql(SET_SETTINGS, { mailed });
  renderSettings(expect(saved.setNotificationSettings, "NotificationSettings").mailed);
  say("Your choice of mailed notifications is saved.");
}
