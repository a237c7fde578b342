// Site-wide behaviour: theme toggle, mobile menu, and live job widgets ([data-job-id]).
(function () {
  "use strict";

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-theme-toggle]")) {
      const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      localStorage.setItem("pdm-theme", next);
    }
    const menuButton = event.target.closest("[data-menu-toggle]");
    if (menuButton) {
      const sidebar = document.getElementById("sidebar");
      const open = sidebar.classList.toggle("open");
      menuButton.setAttribute("aria-expanded", String(open));
    }
  });

  window.pdm = window.pdm || {};

  pdm.socketUrl = (path) => (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;

  pdm.toast = (text, level) => {
    const box = document.getElementById("toasts");
    if (!box) return;
    const toast = document.createElement("div");
    toast.className = "toast " + (level || "");
    toast.textContent = text;
    box.appendChild(toast);
    setTimeout(() => toast.remove(), 8000);
  };

  // A job widget: progress bar, stage/epoch/loss/ETA, an optional loss chart, live over /ws/jobs/<id>/.
  pdm.watchJob = (element) => {
    if (element.dataset.watching) return;
    element.dataset.watching = "1";
    const field = (name) => element.querySelector(`[data-field="${name}"]`);
    const bar = element.querySelector(".progress > span");
    const canvas = element.querySelector("canvas[data-loss-chart]");
    let chart = null;
    let startedAt = null;
    let lastEpoch = -Infinity;

    const chartFor = () => {
      if (!canvas || !window.Chart) return null;
      if (!chart) {
        chart = new Chart(canvas, {
          type: "line",
          data: { labels: [], datasets: [{ label: "loss", data: [], borderColor: "#38bdf8", pointRadius: 0, tension: 0.2 }] },
          options: { animation: false, maintainAspectRatio: false, scales: { x: { title: { display: true, text: "epoch" } } } },
        });
      }
      return chart;
    };
    const addLoss = (points) => {
      const c = chartFor();
      if (!c) return;
      for (const [epoch, loss] of points) {
        if (epoch <= lastEpoch) continue;
        lastEpoch = epoch;
        c.data.labels.push(epoch);
        c.data.datasets[0].data.push(loss);
      }
      c.update();
      element.dataset.lossPoints = String(c.data.labels.length);
    };
    const show = (m) => {
      element.dataset.status = m.status;
      if (bar) bar.style.width = `${m.progress || 0}%`;
      const set = (name, value) => { const f = field(name); if (f && value !== undefined && value !== null) f.textContent = value; };
      set("status", m.status);
      set("stage", m.stage);
      set("progress", `${Math.round(m.progress || 0)}%`);
      set("message", m.message);
      if (m.epoch !== null && m.epoch !== undefined) set("epoch", `${m.epoch}/${m.total}`);
      if (m.loss !== null && m.loss !== undefined) set("loss", Number(m.loss).toFixed(4));
      if (m.status === "RUNNING" && m.progress > 0) {
        startedAt = startedAt || Date.now() - 1;
        const elapsed = (Date.now() - startedAt) / 1000;
        const remaining = elapsed * (100 - m.progress) / m.progress;
        set("eta", remaining > 1 ? `${Math.round(remaining)} s` : "—");
      }
      const cancel = element.querySelector("[data-job-cancel]");
      if (cancel) cancel.hidden = !(m.status === "PENDING" || m.status === "RUNNING");
    };

    const socket = new WebSocket(pdm.socketUrl(`/ws/jobs/${element.dataset.jobId}/`));
    socket.onmessage = (event) => {
      const m = JSON.parse(event.data);
      if (m.loss_history) addLoss(m.loss_history);
      if (m.losses) addLoss(m.losses);
      show(m);
      if (m.type === "closing") element.dispatchEvent(new CustomEvent("job:finished", { bubbles: true, detail: m }));
    };
    socket.onclose = (event) => {
      if (event.code === 4401 || event.code === 4403) pdm.toast("Not allowed to watch this job.", "error");
    };
  };

  const watchAll = (root) => root.querySelectorAll("[data-job-id]").forEach(pdm.watchJob);
  document.addEventListener("DOMContentLoaded", () => watchAll(document));
  document.addEventListener("htmx:load", (event) => watchAll(event.target));
})();
