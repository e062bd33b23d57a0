//! The page's script, shipped inside the binary and served as `/app.js` (the
//! Content-Security-Policy allows no other script, and no inline one).

/// Keeps the dashboard page current: on each server-sent `snapshot` event (or, when events
/// cannot be had, every few seconds) it fetches `/panels` and swaps them in; every second it
/// says how long ago the figures were checked, and says plainly when they are stale.
pub const APP_JS: &str = r#""use strict";
(function () {
  const live = document.getElementById("live");
  const panels = document.getElementById("panels");
  let checkedAt = Date.parse(live.dataset.generated);
  let seq = -1, problem = null, fetching = false, lastContact = Date.now(), polling = null;

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 120) return s + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    return Math.round(s / 3600) + " h";
  }
  function tick() {
    const now = Date.now();
    const age = now - checkedAt, silent = now - lastContact;
    let text = "updated " + ago(age) + " ago", stale = false;
    if (problem) { text = "stale: " + problem + " (last good figures " + ago(age) + " ago)"; stale = true; }
    else if (silent > 15000) { text = "stale: the server has not answered for " + ago(silent) + " (figures of " + ago(age) + " ago)"; stale = true; }
    live.textContent = text;
    live.classList.toggle("stale", stale);
  }
  async function refresh(meta) {
    lastContact = Date.now();
    if (meta) { problem = meta.error; checkedAt = Date.parse(meta.checked_at); }
    if ((meta && meta.seq === seq) || fetching) { tick(); return; }
    fetching = true;
    try {
      const r = await fetch("/panels", { credentials: "same-origin", cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const m = JSON.parse(r.headers.get("x-lakectl-snapshot") || "{}");
      panels.innerHTML = await r.text();
      seq = m.seq; problem = m.error; checkedAt = Date.parse(m.checked_at);
      document.body.dataset.seq = String(seq);
      lastContact = Date.now();
    } catch (e) {
      problem = "cannot reach lakectl (" + e.message + ")";
    } finally { fetching = false; tick(); }
  }
  function poll() {
    if (polling) return;
    polling = setInterval(() => refresh(null), 5000);
  }
  if (window.EventSource) {
    const es = new EventSource("/api/events");
    es.addEventListener("snapshot", (e) => {
      if (polling) { clearInterval(polling); polling = null; }
      try { refresh(JSON.parse(e.data)); } catch (_) { refresh(null); }
    });
    es.onerror = () => { poll(); };
  } else { poll(); }
  setInterval(tick, 1000);
  tick();
})();
"#;

/// The tab's icon (three bars), so browsers asking for `/favicon.ico` get one.
pub const ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#4f46e5"/><rect x="3" y="8" width="2.5" height="5" fill="#fff"/><rect x="6.75" y="5" width="2.5" height="8" fill="#fff"/><rect x="10.5" y="3" width="2.5" height="10" fill="#fff"/></svg>"##;
