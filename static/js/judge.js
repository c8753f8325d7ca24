// The judge page's calibration charts (Chart.js, vendored): alpha and kappa per measure, and the reliability
// diagram (accuracy against confidence per bin, with the diagonal of perfect calibration).
(function () {
  "use strict";

  async function load(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    return response.ok ? response.json() : null;
  }

  function agreement(canvas, data) {
    const rows = data.attributes.concat([Object.assign({}, data.preference.strength, { name: "preference strength" })]);
    const css = getComputedStyle(document.documentElement);
    const accent = css.getPropertyValue("--accent").trim() || "#2f5bd3";
    const r2 = css.getPropertyValue("--r2").trim() || "#8a3ffc";
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.map((r) => r.name),
        datasets: [
          { label: "ordinal alpha", data: rows.map((r) => r.alpha.value), backgroundColor: accent },
          { label: "quadratic kappa", data: rows.map((r) => r.kappa.value), backgroundColor: r2 },
        ],
      },
      options: { animation: false, scales: { y: { min: -1, max: 1 } } },
    });
  }

  function reliability(canvas, data) {
    const bins = data.preference.bins || [];
    return new window.Chart(canvas, {
      type: "scatter",
      data: {
        datasets: [
          { label: "accuracy per confidence bin", data: bins.map((b) => ({ x: b.mean_confidence, y: b.accuracy })), pointRadius: 5 },
          { label: "perfect calibration", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, pointRadius: 0, borderDash: [5, 4] },
        ],
      },
      options: { animation: false, scales: { x: { min: 0, max: 1, title: { display: true, text: "confidence" } },
                                             y: { min: 0, max: 1, title: { display: true, text: "accuracy" } } } },
    });
  }

  document.addEventListener("DOMContentLoaded", async () => {
    const canvas = document.getElementById("judge-agreement-chart");
    if (!canvas || !window.Chart) return;
    const data = await load(canvas.dataset.calibrationUrl);
    if (!data || data.run === null) return;
    agreement(canvas, data);
    const diagram = document.getElementById("judge-reliability-chart");
    if (diagram) reliability(diagram, data);
  });
})();
