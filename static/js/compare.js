// The comparison of objectives: every compared job's train loss per step and validation accuracy per evaluation,
// overlaid (Chart.js, vendored). The curves come from the page (json_script "compare-curves"); picking another
// snapshot swaps the table and its data in (htmx), and the charts, which stay outside the swapped block (htmx
// would copy a drawn canvas's style attribute across, which the CSP refuses), are drawn again for the new jobs.
(function () {
  "use strict";

  var COLOURS = ["#2f5bd3", "#1b7f4b", "#925500", "#8a3ffc", "#b3261e", "#0f766e", "#5f6b76", "#be185d"];
  var charts = [];
  var drawnFrom = null; // the json_script node the charts show

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function overlay(canvasId, curves, key, yTitle, yBounds) {
    var canvas = document.getElementById(canvasId);
    if (!canvas) return;
    var datasets = curves.map(function (curve, i) {
      var colour = COLOURS[i % COLOURS.length];
      return {
        label: curve.label, data: curve[key], borderColor: colour, backgroundColor: colour,
        borderWidth: 1.5, pointRadius: key === "loss" ? 0 : 3, showLine: true,
      };
    });
    canvas.dataset.series = String(datasets.filter(function (d) { return d.data.length; }).length);
    charts.push(new Chart(canvas, {
      type: "line",
      data: { datasets: datasets },
      options: {
        animation: false, parsing: true, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "nearest", intersect: false },
        scales: {
          x: { type: "linear", title: { display: true, text: "step" } },
          y: Object.assign({ type: "linear", title: { display: true, text: yTitle } }, yBounds),
        },
      },
    }));
  }

  function draw() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    drawnFrom = document.getElementById("compare-curves");
    var curves = readJson("compare-curves");
    var box = document.getElementById("compare-charts");
    if (box) box.hidden = !curves || !curves.length;
    if (!curves || !curves.length || typeof Chart === "undefined") return;
    overlay("compare-loss-chart", curves, "loss", "train loss", {});
    overlay("compare-accuracy-chart", curves, "val_accuracy", "validation accuracy", { min: 0, max: 1 });
  }

  document.addEventListener("DOMContentLoaded", draw);
  // A swapped-in table brings a new data block: draw again once it is a different node from the one drawn.
  document.addEventListener("htmx:afterSettle", function () {
    if (document.getElementById("compare-curves") !== drawnFrom) draw();
  });
})();
