// The side panel's tabs (WAI-ARIA tabs pattern): click or arrow keys to switch,
// a badge on a tab whose panel changed while it was hidden.

export function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const byName = (name) => tabs.find((t) => t.id === `tab-${name}`);

  function open(tab, focus = false) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    }
    const badge = tab.querySelector(".badge");
    if (badge) { badge.hidden = true; badge.textContent = ""; }
    if (focus) tab.focus();
  }

  for (const tab of tabs) {
    tab.type = "button";
    tab.addEventListener("click", () => open(tab));
    tab.addEventListener("keydown", (ev) => {
      const i = tabs.indexOf(tab);
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
      if (next === undefined) return;
      ev.preventDefault();
      open(tabs[(next + tabs.length) % tabs.length], true);
    });
  }

  // Where chat has a column of its own (wide screens), another panel takes the tab area.
  const wide = matchMedia("(min-width: 100rem)");
  const chatTab = byName("chat");
  const follow = () => {
    if (wide.matches && chatTab && chatTab.getAttribute("aria-selected") === "true") open(tabs[1]);
  };
  if (document.body.classList.contains("classroom")) {
    wide.addEventListener("change", follow);
    follow();
  }

  return {
    open: (name) => { const t = byName(name); if (t && !(wide.matches && t === chatTab && document.body.classList.contains("classroom"))) open(t); },
    badge(name) {
      const tab = byName(name);
      if (!tab || tab.getAttribute("aria-selected") === "true") return;
      const badge = tab.querySelector(".badge");
      if (!badge) return;
      badge.hidden = false;
      badge.textContent = "•";
      badge.setAttribute("aria-label", "new");
    },
  };
}
