// The customer page's chart: every score over time, one line per score type, each score shown
// as a share of its scale's best (0-100) so NPS, CSAT, CES, stars and thumbs fit one axis.
// Data: the JSON block #score-data; the table under the chart holds the same numbers.
(function () {
  "use strict";
  var COLOURS = { nps: "#3156d3", csat: "#1e8449", ces: "#8a6d00", stars: "#c0392b", thumbs: "#6c3fb5" };
  var canvas = document.getElementById("score-chart");
  var source = document.getElementById("score-data");
  if (!canvas || !source || !window.Chart) return;
  var points = JSON.parse(source.textContent);

  var DAY = 86400000;

  function day(ms, withYear) {
    var format = { day: "numeric", month: "short", timeZone: "UTC" };
    if (withYear) format.year = "numeric";
    return new Date(ms).toLocaleDateString(undefined, format);
  }

  // Ticks on whole UTC days, a few of them, so labels never repeat a date or crowd a phone.
  function dayTicks(scale) {
    var most = scale.width < 400 ? 3 : 6;
    var first = Math.ceil(scale.min / DAY) * DAY;
    var step = Math.max(1, Math.ceil((scale.max - first) / DAY / most)) * DAY;
    var ticks = [];
    for (var value = first; value <= scale.max; value += step) ticks.push({ value: value });
    scale.ticks = ticks;
  }

  var byType = {};
  points.forEach(function (p) {
    (byType[p.type] = byType[p.type] || []).push({ x: p.t, y: p.pct, score: p.score });
  });
  var datasets = Object.keys(byType).map(function (type) {
    var colour = COLOURS[type] || "#5f6b7a";
    return {
      label: type.toUpperCase(), data: byType[type], borderColor: colour, backgroundColor: colour,
      pointRadius: 4, pointHoverRadius: 6, borderWidth: 2, tension: 0.2, clip: 6,
    };
  });
  var first = points[0].t, last = points[points.length - 1].t;
  var pad = Math.max(DAY, (last - first) / 20);
  var manyYears = new Date(first).getUTCFullYear() !== new Date(last).getUTCFullYear();

  new window.Chart(canvas, {
    type: "line",
    data: { datasets: datasets },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      layout: { padding: { top: 8, right: 8 } },
      interaction: { mode: "nearest", intersect: false },
      scales: {
        x: {
          type: "linear", min: first - pad, max: last + pad, afterBuildTicks: dayTicks,
          ticks: { maxRotation: 0, callback: function (value) { return day(value, manyYears); } },
        },
        y: { min: 0, max: 100, ticks: { stepSize: 25 }, title: { display: true, text: "% of best" } },
      },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 10, boxHeight: 10, usePointStyle: true } },
        tooltip: {
          callbacks: {
            title: function (items) { return day(items[0].parsed.x, true); },
            label: function (item) { return item.dataset.label + " " + item.raw.score + " (" + item.raw.y + "% of best)"; },
          },
        },
      },
    },
  });
})();
