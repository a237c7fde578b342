// Predictions pages: the live fleet dashboard (/ws/fleet/ → htmx re-fetches a changed card), and the charts of
// the machine health page (#health-data) and the model page (#model-data).
(function () {
  "use strict";

  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const colours = () => ({
    accent: css("--accent") || "#38bdf8",
    muted: css("--muted") || "#94a3b8",
    critical: css("--critical") || "#ef4444",
    healthy: css("--healthy") || "#10b981",
    warning: css("--warning") || "#f97316",
  });
  const clock = (iso) => new Date(iso).toLocaleTimeString();
  const palette = ["#38bdf8", "#10b981", "#fbbf24", "#f97316", "#a78bfa", "#f472b6", "#22d3ee", "#84cc16", "#e879f9"];

  // --- The fleet dashboard -----------------------------------------------------------------------------

  function liveFleet(root) {
    const status = document.querySelector("[data-live-status]");
    const setStatus = (text, live) => {
      if (!status) return;
      status.textContent = text;
      status.classList.toggle("live", Boolean(live));
    };
    const pending = new Set();
    let overviewTimer = null;
    let retry = 1000;

    const refreshCard = (machineId) => {
      const card = root.querySelector(`[data-machine-card="${CSS.escape(machineId)}"]`);
      if (!card || pending.has(machineId) || !window.htmx) return;
      pending.add(machineId);
      const url = root.dataset.cardUrl.replace("MACHINE", encodeURIComponent(machineId));
      htmx.ajax("GET", url, { target: card, swap: "outerHTML" }).finally(() => {
        pending.delete(machineId);
        const fresh = root.querySelector(`[data-machine-card="${CSS.escape(machineId)}"]`);
        if (fresh) fresh.classList.add("flash");
      });
    };
    const refreshOverview = () => {
      if (overviewTimer || !window.htmx) return;
      overviewTimer = setTimeout(() => {
        overviewTimer = null;
        const target = document.getElementById("fleet-overview");
        if (target) htmx.ajax("GET", root.dataset.overviewUrl + location.search, { target, swap: "outerHTML" });
      }, 2000);
    };

    const connect = () => {
      const socket = new WebSocket(pdm.socketUrl("/ws/fleet/"));
      socket.onopen = () => { retry = 1000; setStatus("live", true); };
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type !== "machine.updated") return;
        root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
        refreshCard(message.machine_id);
        refreshOverview();
      };
      socket.onclose = (event) => {
        setStatus("offline", false);
        if (event.code === 4401 || event.code === 4403) return;
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 30000);
      };
    };
    connect();
  }

  // --- Charts of a machine's health ---------------------------------------------------------------------

  function line(canvas, labels, datasets, options) {
    return new Chart(canvas, {
      type: "line",
      data: { labels, datasets },
      options: Object.assign(
        { animation: false, maintainAspectRatio: false, spanGaps: false, interaction: { mode: "index", intersect: false } },
        options || {}
      ),
    });
  }

  function healthCharts(data) {
    const c = colours();
    const rulCanvas = document.querySelector("canvas[data-chart=rul]");
    if (rulCanvas && data.rul.length) {
      line(rulCanvas, data.rul.map((p) => clock(p.t)), [
        { label: "lower", data: data.rul.map((p) => p.lower), borderColor: "transparent", pointRadius: 0 },
        { label: "upper", data: data.rul.map((p) => p.upper), borderColor: "transparent", backgroundColor: "rgba(56,189,248,.18)", fill: "-1", pointRadius: 0 },
        { label: `RUL (${data.rul_unit})`, data: data.rul.map((p) => p.rul), borderColor: c.accent, pointRadius: 0, tension: 0.2 },
      ], { plugins: { legend: { labels: { filter: (item) => !["lower", "upper"].includes(item.text) } } } });
    }
    const anomalyCanvas = document.querySelector("canvas[data-chart=anomaly]");
    if (anomalyCanvas && data.anomaly.length) {
      line(anomalyCanvas, data.anomaly.map((p) => clock(p.t)), [
        {
          label: "score (1 = alarm threshold)", data: data.anomaly.map((p) => p.score), borderColor: c.muted,
          pointRadius: data.anomaly.map((p) => (p.flag ? 4 : 0)), pointBackgroundColor: c.critical,
        },
        { label: "threshold", data: data.anomaly.map(() => 1), borderColor: c.critical, borderDash: [4, 4], pointRadius: 0 },
      ]);
    }
    const box = document.querySelector("[data-sensor-charts]");
    if (!box) return;
    const times = data.readings.t.map(clock);
    const forecast = data.forecast;
    data.sensors.forEach((sensor, index) => {
      const values = data.readings.values[sensor.name] || [];
      const ahead = forecast && forecast.values ? forecast.values[sensor.name] || [] : [];
      const labels = times.concat(ahead.map((_, k) => `+${k + 1}`));
      const observed = values.concat(ahead.map(() => null));
      const predicted = values.map((v, i) => (i === values.length - 1 ? v : null)).concat(ahead);
      const figure = document.createElement("figure");
      figure.className = "sensor-chart";
      figure.innerHTML = `<figcaption>${sensor.name} <span class="muted">${sensor.unit || ""}</span></figcaption><div class="chart-box short"><canvas></canvas></div>`;
      box.appendChild(figure);
      const datasets = [{ label: sensor.name, data: observed, borderColor: palette[index % palette.length], pointRadius: 0 }];
      if (ahead.length) datasets.push({ label: "forecast", data: predicted, borderColor: c.warning, borderDash: [5, 4], pointRadius: 0 });
      line(figure.querySelector("canvas"), labels, datasets, { plugins: { legend: { display: false } } });
    });
  }

  // --- Charts of a model's metrics ----------------------------------------------------------------------

  function bar(canvas, labels, values, label, horizontal) {
    return new Chart(canvas, {
      type: "bar",
      data: { labels, datasets: [{ label, data: values, backgroundColor: colours().accent }] },
      options: { animation: false, maintainAspectRatio: false, indexAxis: horizontal ? "y" : "x", plugins: { legend: { display: false } } },
    });
  }

  function modelCharts(data) {
    const m = data.metrics || {};
    const c = colours();
    const find = (name) => document.querySelector(`canvas[data-chart="${name}"]`);
    if (find("recall") && m.recall_per_class) {
      const names = m.state_names || Object.keys(m.recall_per_class);
      bar(find("recall"), names, Object.values(m.recall_per_class), "recall");
    }
    if (find("pred-vs-true") && m.predicted_vs_true) {
      const points = m.predicted_vs_true.true.map((t, i) => ({ x: t, y: m.predicted_vs_true.predicted[i] }));
      const top = Math.max(...m.predicted_vs_true.true, ...m.predicted_vs_true.predicted);
      new Chart(find("pred-vs-true"), {
        type: "scatter",
        data: { datasets: [
          { label: "hold-out readings", data: points, backgroundColor: "rgba(56,189,248,.45)", pointRadius: 2 },
          { label: "perfect", type: "line", data: [{ x: 0, y: 0 }, { x: top, y: top }], borderColor: c.muted, borderDash: [4, 4], pointRadius: 0 },
        ] },
        options: { animation: false, maintainAspectRatio: false, scales: { x: { title: { display: true, text: "true RUL" } }, y: { title: { display: true, text: "predicted RUL" } } } },
      });
    }
    if (find("coverage") && m.interval) {
      bar(find("coverage"), ["target", "measured"], [m.interval.level, m.interval.coverage], "coverage", true);
    }
    if (find("horizon") && m.skill_by_horizon) {
      const labels = m.skill_by_horizon.map((_, k) => `+${k + 1}`);
      const datasets = [{ label: "skill (all sensors)", data: m.skill_by_horizon, borderColor: c.accent, pointRadius: 0, yAxisID: "skill" }];
      Object.entries(m.mae_by_horizon || {}).forEach(([sensor, values], index) => {
        datasets.push({ label: `MAE ${sensor}`, data: values, borderColor: palette[(index + 1) % palette.length], pointRadius: 0, yAxisID: "mae", hidden: index > 2 });
      });
      line(find("horizon"), labels, datasets, { scales: { skill: { position: "left" }, mae: { position: "right", type: "logarithmic" } } });
    }
    if (find("importance") && data.importance.length) {
      const top = data.importance.slice(0, 15);
      bar(find("importance"), top.map((item) => item.feature), top.map((item) => item.importance), "score drop", true);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const fleet = document.querySelector("[data-fleet-live]");
    if (fleet) liveFleet(fleet);
    const health = document.getElementById("health-data");
    if (health && window.Chart) healthCharts(JSON.parse(health.textContent));
    const model = document.getElementById("model-data");
    if (model && window.Chart) modelCharts(JSON.parse(model.textContent));
    document.querySelectorAll("[data-reload-on-finish]").forEach((box) => {
      box.addEventListener("job:finished", () => setTimeout(() => location.reload(), 300));
    });
  });
})();
