// The LTI platforms (the admin's only: they open classes to whole courses):
// the URLs to give a platform, the registered platforms, and a form to add
// one or change one. The issuer and client id name a registration, so a
// platform is edited with both fixed; changing them is registering anew.

import { $, h } from "./dom.js";
import { acting, api, confirmed, setStatus, when } from "./console_session.js";

const FIELDS = {
  name: "lti-name",
  issuer: "lti-issuer",
  client_id: "lti-client",
  auth_url: "lti-auth",
  token_url: "lti-token",
  jwks_url: "lti-jwks",
  audience: "lti-audience",
};

function deploymentsOf(text) {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))];
}

function detail(label, value) {
  return [h("dt", { text: label }), h("dd", {}, h("code", { text: value }))];
}

export class LtiPlatforms {
  constructor() {
    this.editing = null;
    $("tab-lti").addEventListener("click", acting(() => this.refresh()));
    $("lti-form").addEventListener("submit", acting((ev) => this.save(ev)));
    $("lti-cancel").addEventListener("click", () => this.reset());
  }

  async refresh() {
    const [tool, list] = await Promise.all([api("/api/lti/tool"), api("/api/lti/platforms")]);
    $("lti-login-url").textContent = tool.login_url;
    $("lti-launch-url").textContent = tool.launch_url;
    $("lti-jwks-url").textContent = tool.jwks_url;
    $("lti-key-id").textContent = tool.key_id;
    const platforms = list.platforms.sort((a, b) => a.added_at - b.added_at);
    $("lti-platforms").replaceChildren(...platforms.map((p) => this.card(p)));
    $("lti-count").textContent = platforms.length ? String(platforms.length) : "";
    $("lti-empty").hidden = platforms.length > 0;
  }

  card(platform) {
    const edit = h("button", { type: "button", class: "small", text: "Edit", on: { click: () => this.edit(platform) } });
    const remove = h("button", { type: "button", class: "small danger", text: "Remove" });
    remove.addEventListener("click", acting(async () => {
      if (!confirmed(remove, "Remove: sure?")) return;
      await api(`/api/lti/platforms/${encodeURIComponent(platform.id)}`, { method: "DELETE" });
      setStatus(`${platform.name || platform.issuer} removed: its launches are refused from now on.`);
      if (this.editing === platform.id) this.reset();
      await this.refresh();
    }));
    return h("li", { class: "card lti-platform", dataset: { key: platform.id } },
      h("div", { class: "row" },
        h("strong", { text: platform.name || platform.issuer }),
        h("span", { class: "muted", text: `registered ${when(platform.added_at)}` }),
        edit, remove),
      h("dl", { class: "urls" },
        ...detail("Issuer", platform.issuer),
        ...detail("Client id", platform.client_id),
        ...detail("Deployment ids", platform.deployments.join(", ")),
        ...detail("Authorization URL", platform.auth_url),
        ...detail("Token URL", platform.token_url),
        ...detail("Key set URL", platform.jwks_url),
        ...(platform.audience ? detail("Token audience", platform.audience) : [])));
  }

  edit(platform) {
    this.editing = platform.id;
    for (const [key, id] of Object.entries(FIELDS)) $(id).value = platform[key] ?? "";
    $("lti-deployments").value = platform.deployments.join(", ");
    $("lti-issuer").readOnly = $("lti-client").readOnly = true;
    $("lti-form-title").textContent = `Edit ${platform.name || platform.issuer}`;
    $("lti-save").textContent = "Save";
    $("lti-cancel").hidden = false;
    $("lti-form-box").open = true;
    $("lti-name").focus();
  }

  reset() {
    this.editing = null;
    $("lti-form").reset();
    $("lti-issuer").readOnly = $("lti-client").readOnly = false;
    $("lti-form-title").textContent = "Register a platform";
    $("lti-save").textContent = "Register";
    $("lti-cancel").hidden = true;
  }

  async save(ev) {
    ev.preventDefault();
    const body = {};
    for (const [key, id] of Object.entries(FIELDS)) body[key] = $(id).value.trim();
    body.deployments = deploymentsOf($("lti-deployments").value);
    const platform = await api("/api/lti/platforms", { method: "POST", body });
    setStatus(`${platform.name || platform.issuer} ${this.editing ? "saved" : "registered"}.`);
    this.reset();
    $("lti-form-box").open = false;
    await this.refresh();
  }
}
