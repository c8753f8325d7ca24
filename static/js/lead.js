// The lead overview's two charts (Chart.js, vendored): alpha per measure with its bootstrap interval, and alpha as
// annotations arrived. The numbers come from the page (json_script); the table beside them carries the same figures,
// so the page reads without JavaScript too.
(function () {
  "use strict";

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  var COLOURS = ["#2f5bd3", "#1b7f4b", "#a86200", "#8a3ffc", "#b3261e", "#0f766e", "#5f6b76", "#be185d"];
  var charts = {};

  function agreementChart(data) {
    var canvas = document.getElementById("agreement-chart");
    if (!canvas || !data.measures.length) return;
    var labels = data.measures.map(function (m) { return m.label; });
    charts.agreement = new Chart(canvas, {
      data: {
        labels: labels,
        datasets: [
          {
            type: "bar", label: "alpha", backgroundColor: "rgba(47, 91, 211, 0.75)", order: 2,
            data: data.measures.map(function (m) { return m.alpha; }),
          },
          {
            type: "bar", label: "interval", backgroundColor: "rgba(29, 33, 37, 0.55)", order: 1,
            grouped: false, barPercentage: 0.12,
            data: data.measures.map(function (m) { return m.ci_low === null ? null : [m.ci_low, m.ci_high]; }),
          },
        ],
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: { y: { suggestedMin: 0, suggestedMax: 1, title: { display: true, text: "Krippendorff's alpha" } } },
        plugins: { legend: { display: true } },
      },
    });
  }

  // Agreement over time reads every rating, so the page loads it after its first response (the over-time panel).
  function overTimeChart() {
    var canvas = document.getElementById("agreement-time-chart");
    var t = readJson("lead-over-time-data");
    if (!canvas || !t || !t.n_annotations.length || charts.overTime || typeof Chart === "undefined") return;
    var datasets = Object.keys(t.series).map(function (measure, i) {
      return {
        label: t.labels[measure], data: t.series[measure], borderColor: COLOURS[i % COLOURS.length],
        backgroundColor: COLOURS[i % COLOURS.length], tension: 0.2, spanGaps: true, pointRadius: 2,
      };
    });
    charts.overTime = new Chart(canvas, {
      type: "line",
      data: { labels: t.n_annotations, datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: {
          x: { title: { display: true, text: "annotations submitted" } },
          y: { suggestedMin: 0, suggestedMax: 1, title: { display: true, text: "alpha" } },
        },
      },
    });
  }

  // When the background intervals arrive (the polled panel swaps in with its data), draw them without a reload.
  function updateIntervals() {
    var results = readJson("lead-intervals-data");
    var chart = charts.agreement;
    var data = readJson("lead-chart-data");
    if (!results || !chart || !data) return;
    chart.data.datasets[1].data = data.measures.map(function (m) {
      var r = results[m.measure];
      return r && r.ci_low !== null ? [r.ci_low, r.ci_high] : null;
    });
    chart.update();
  }

  function init() {
    var data = readJson("lead-chart-data");
    if (!data || typeof Chart === "undefined") return;
    agreementChart(data);
    overTimeChart();
  }

  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.target && e.target.id === "lead-intervals") updateIntervals();
    if (e.target && e.target.id === "lead-over-time") overTimeChart();
  });
})();
