// The comparison of objectives: every compared job's train loss per step and validation accuracy per evaluation,
// overlaid (Chart.js, vendored). The curves come from the page (json_script "compare-curves"); picking another
// snapshot swaps the table and its data in (htmx), and the charts are drawn again for the new jobs.
(function () {
  "use strict";

  var COLOURS = ["#2f5bd3", "#1b7f4b", "#925500", "#8a3ffc", "#b3261e", "#0f766e", "#5f6b76", "#be185d"];
  var charts = [];

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
    var curves = readJson("compare-curves");
    if (!curves || typeof Chart === "undefined") return;
    overlay("compare-loss-chart", curves, "loss", "train loss", {});
    overlay("compare-accuracy-chart", curves, "val_accuracy", "validation accuracy", { min: 0, max: 1 });
  }

  document.addEventListener("DOMContentLoaded", draw);
  // The swapped-in table brings new canvases: draw again once the old charts' canvases have left the page.
  document.addEventListener("htmx:afterSettle", function () {
    if (!charts.length || !document.body.contains(charts[0].canvas)) draw();
  });
})();
