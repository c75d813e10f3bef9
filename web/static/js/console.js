// The organizers' console: classes, recordings, reports and (for the admin)
// the webhook delivery log and the LTI platforms, on the REST API. Signing in checks the credential
// by listing the classes it manages.
//
// An organizer token may also come in the link (`/console#token=...`): it is
// then kept in this tab and taken out of the address bar at once.

import { $ } from "./dom.js";
import { setupTabs } from "./tabs.js";
import { Classes } from "./console_classes.js";
import { Recordings } from "./console_recordings.js";
import { Report } from "./console_report.js";
import { Webhooks } from "./console_hooks.js";
import { LtiPlatforms } from "./console_lti.js";
import { ApiError, api, forget, remember, remembered, session, setStatus } from "./console_session.js";

const REFRESH_MS = 10_000;

const tabs = setupTabs();
const report = new Report();
const recordings = new Recordings();
const classes = new Classes({
  openReport(classId) {
    tabs.open("report");
    report.show(classId);
  },
  changed(list) {
    report.classesAre(list);
    recordings.classesAre(list);
  },
});
const webhooks = new Webhooks();
const lti = new LtiPlatforms();

function fromLink() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

async function signIn(credential) {
  remember(credential);
  try {
    await classes.refresh();
  } catch (err) {
    forget();
    throw err instanceof ApiError && err.status === 401
      ? new Error("That is neither the admin key nor a valid organizer token.")
      : err;
  }
  const organizer = session.organizer;
  $("who").textContent = organizer ? `${organizer.name} (organizer)` : "Admin";
  $("tab-webhooks").hidden = Boolean(organizer);
  $("tab-lti").hidden = Boolean(organizer);
  $("sign-in").hidden = true;
  $("sign-out").hidden = false;
  $("console").hidden = false;
  setStatus("");
  await Promise.all([recordings.refresh(), organizer ? null : webhooks.refresh(), organizer ? null : lti.refresh()]);
}

function signOut(message = "") {
  forget();
  $("console").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("credential").value = "";
  $("sign-in").hidden = false;
  setStatus(message, message ? "error" : "");
  $("credential").focus();
}

$("sign-in").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await signIn($("credential").value.trim());
  } catch (err) {
    signOut(err.message);
  }
});
$("sign-out").addEventListener("click", () => signOut());
document.addEventListener("console:signed-out", () => signOut("Your credential is no longer valid: sign in again."));

// Keep what is shown fresh while the tab is looked at.
setInterval(() => {
  if (document.hidden || !session.credential) return;
  if (!$("panel-classes").hidden) classes.refresh().catch(() => {});
  if (!$("panel-recordings").hidden) recordings.refresh().catch(() => {});
}, REFRESH_MS);

const start = fromLink() ?? remembered();
if (start) signIn(start).catch((err) => signOut(err.message));
else signOut();
