// Synthetic-data pages: refresh a panel when a job it showed running finishes, and draw the charts whose
// data the server put in <script type="application/json"> tags (quality, explorer).
(function () {
  "use strict";
  if (window.pdmGan) return; // loaded once even when a panel brings its own <script> tag
  window.pdmGan = true;

  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const dataOf = (id) => {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  };
  const charts = new Map();
  const draw = (canvas, config) => {
    if (!window.Chart || !canvas) return;
    if (charts.has(canvas)) charts.get(canvas).destroy();
    charts.set(canvas, new Chart(canvas, config));
  };
  const baseOptions = { animation: false, maintainAspectRatio: false };

  // Pickers that apply as soon as they change (the page reloads with the new query).
  document.addEventListener("change", (event) => {
    const form = event.target.closest("form[data-autosubmit]");
    if (form) form.requestSubmit();
  });

  // A job shown as running finished: the panel around it comes back with the next step.
  document.addEventListener("job:finished", (event) => {
    const wrapper = event.target.closest("[data-refresh-on-finish]");
    if (!wrapper || !window.htmx) return;
    wrapper.removeAttribute("data-refresh-on-finish");
    const panel = wrapper.closest("[data-refresh-url]");
    if (panel) htmx.ajax("GET", panel.dataset.refreshUrl, { target: panel, swap: "outerHTML" });
  });

  const drawQuality = (root) => {
    const data = dataOf("quality-data");
    if (!data) return;
    draw(root.querySelector('canvas[data-quality-chart="ks"]'), {
      type: "bar",
      data: { labels: data.sensors, datasets: [{ label: "KS statistic (lower is closer)", data: data.ks, backgroundColor: css("--accent") }] },
      options: { ...baseOptions, scales: { y: { beginAtZero: true } } },
    });
    draw(root.querySelector('canvas[data-quality-chart="corr"]'), {
      type: "bar",
      data: {
        labels: data.sensors,
        datasets: [
          { label: "corr. with RUL, seed", data: data.corr_seed, backgroundColor: css("--healthy") },
          { label: "corr. with RUL, synthetic", data: data.corr_synthetic, backgroundColor: css("--degrading") },
        ],
      },
      options: { ...baseOptions, scales: { y: { min: -1, max: 1 } } },
    });
  };

  const drawExplorer = (root) => {
    const data = dataOf("explorer-data");
    if (!data) return;
    const palette = [css("--accent"), css("--degrading"), css("--healthy")];
    const hist = data.histogram;
    draw(root.querySelector("canvas[data-explorer-chart=histogram]"), {
      type: "bar",
      data: {
        labels: hist.bins.map((x) => Number(x).toPrecision(4)),
        datasets: Object.entries(hist.series).map(([label, values], i) => ({
          label, data: values, backgroundColor: palette[i % palette.length] + "99", borderColor: palette[i % palette.length], borderWidth: 1,
        })),
      },
      options: { ...baseOptions, scales: { x: { title: { display: true, text: hist.sensor } }, y: { title: { display: true, text: "% of rows" } } } },
    });
    draw(root.querySelector("canvas[data-explorer-chart=scatter]"), {
      type: "scatter",
      data: { datasets: [{ label: data.scatter.sensor, data: data.scatter.points.map(([x, y]) => ({ x, y })), pointRadius: 1.5, backgroundColor: css("--accent") }] },
      options: { ...baseOptions, scales: { x: { reverse: true, title: { display: true, text: "RUL (h)" } }, y: { title: { display: true, text: data.scatter.sensor } } } },
    });
  };

  const drawAll = (root) => { drawQuality(root); drawExplorer(root); };
  document.addEventListener("DOMContentLoaded", () => drawAll(document));
  document.addEventListener("htmx:load", (event) => drawAll(event.target));
  if (document.readyState !== "loading") drawAll(document);
})();
