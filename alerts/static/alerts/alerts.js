// The notification bell on every page: the unread count, the panel of latest notifications (with
// "acknowledge" for alarms), and live toasts over /ws/notifications/ (the user's own notifications only).
(function () {
  "use strict";

  const RECONNECT_MAX_MS = 30000;

  const setCount = (bell, unread) => {
    const badge = bell.querySelector("[data-bell-count]");
    if (!badge) return;
    badge.textContent = unread > 99 ? "99+" : String(unread);
    badge.hidden = !unread;
    bell.dataset.unread = String(unread);
  };

  const panelOf = (bell) => bell.querySelector("#bell-panel");

  const loadPanel = (bell) => {
    const panel = panelOf(bell);
    if (!window.htmx || !panel) return Promise.resolve();
    return htmx.ajax("GET", bell.dataset.bellUrl, { target: panel, swap: "innerHTML" });
  };

  const toggle = (bell, open) => {
    const panel = panelOf(bell);
    const button = bell.querySelector("[data-bell-toggle]");
    panel.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open) loadPanel(bell);
  };

  const listen = (bell) => {
    let delay = 1000;
    const connect = () => {
      const socket = new WebSocket(pdm.socketUrl("/ws/notifications/"));
      socket.onopen = () => { delay = 1000; };
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (typeof message.unread === "number") setCount(bell, message.unread);
        if (message.type !== "notification") return;
        const n = message.notification;
        pdm.toast(n.title, "toast-" + n.severity);
        document.dispatchEvent(new CustomEvent("pdm:notification", { detail: n }));
        if (!panelOf(bell).hidden) loadPanel(bell);
      };
      socket.onclose = (event) => {
        if (event.code === 4401 || event.code === 4403) return;
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, RECONNECT_MAX_MS);
      };
      bell.socket = socket;
    };
    connect();
  };

  document.addEventListener("DOMContentLoaded", () => {
    const bell = document.querySelector("[data-bell]");
    if (!bell) return;
    listen(bell);
    bell.querySelector("[data-bell-toggle]").addEventListener("click", () => toggle(bell, panelOf(bell).hidden));
    document.addEventListener("click", (event) => {
      if (!panelOf(bell).hidden && !bell.contains(event.target)) toggle(bell, false);
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !panelOf(bell).hidden) toggle(bell, false);
    });
    // The panel tells the count whenever it is (re)loaded: opened, marked read. (htmx fires its swap
    // events on the clicked button, which the swap has just removed: watch the panel itself.)
    new MutationObserver(() => {
      const head = panelOf(bell).querySelector("[data-unread]");
      if (head) setCount(bell, Number(head.dataset.unread));
    }).observe(panelOf(bell), { childList: true });
  });
})();
