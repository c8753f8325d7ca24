// The job page's live loss/accuracy chart (Chart.js, vendored). Polls the metrics URL while the job is active.
(function () {
  "use strict";
  const ACTIVE = new Set(["queued", "running"]);
  const POLL_MS = 2000;

  function datasets(series) {
    const css = getComputedStyle(document.documentElement);
    const accent = css.getPropertyValue("--accent").trim() || "#2f5bd3";
    const r2 = css.getPropertyValue("--r2").trim() || "#8a3ffc";
    return [
      { label: "train loss", data: series.loss, yAxisID: "loss", borderColor: accent, pointRadius: 0, borderWidth: 1.5 },
      { label: "train accuracy", data: series.accuracy, yAxisID: "accuracy", borderColor: r2, pointRadius: 0, borderWidth: 1.5 },
      { label: "validation loss", data: series.val_loss, yAxisID: "loss", borderColor: accent, borderDash: [5, 4], pointRadius: 3, showLine: true },
      { label: "validation accuracy", data: series.val_accuracy, yAxisID: "accuracy", borderColor: r2, borderDash: [5, 4], pointRadius: 3, showLine: true },
    ];
  }

  function start(canvas) {
    const url = canvas.dataset.metricsUrl;
    let chart = null;
    async function refresh() {
      let body;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!response.ok) return true;
        body = await response.json();
      } catch (error) {
        return true; // a network blip: try again at the next tick
      }
      canvas.dataset.points = String(body.series.loss.length);
      if (typeof Chart === "undefined") return ACTIVE.has(body.status);
      if (chart === null) {
        chart = new Chart(canvas, {
          type: "line",
          data: { datasets: datasets(body.series) },
          options: {
            animation: false, parsing: true, responsive: true, maintainAspectRatio: false,
            interaction: { mode: "nearest", intersect: false },
            scales: {
              x: { type: "linear", title: { display: true, text: "step" } },
              loss: { type: "linear", position: "left", title: { display: true, text: "loss" } },
              accuracy: { type: "linear", position: "right", min: 0, max: 1, grid: { drawOnChartArea: false }, title: { display: true, text: "accuracy" } },
            },
          },
        });
      } else {
        const fresh = datasets(body.series);
        chart.data.datasets.forEach((dataset, index) => { dataset.data = fresh[index].data; });
        chart.update("none");
      }
      return ACTIVE.has(body.status);
    }
    async function loop() {
      if (await refresh()) window.setTimeout(loop, POLL_MS);
    }
    loop();
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("canvas[data-metrics-url]").forEach(start);
  });
})();
