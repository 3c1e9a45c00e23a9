// Trend charts: every <canvas data-chart="NAME"> becomes a Chart.js chart drawn from the spec
// NAME in the page's <script type="application/json" id="chart-data"> block (built by
// web/trends/charts.py). Each chart sits beside a table of its numbers, so without JavaScript
// (or without Chart.js) nothing is lost. Loaded with <script src defer>: the CSP allows no
// inline script. Colours are CSS custom properties of hub.css, shared with the pages.
(function () {
  "use strict";

  var block = document.getElementById("chart-data");
  if (!block || !window.Chart) return;
  var specs = JSON.parse(block.textContent);
  var root = getComputedStyle(document.documentElement);
  var still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function colour(name) {
    return root.getPropertyValue("--" + name).trim() || "#3156d3";
  }

  function faded(hex, alpha) {
    var value = parseInt(hex.replace("#", ""), 16);
    return "rgba(" + (value >> 16) + "," + ((value >> 8) & 255) + "," + (value & 255) + "," + alpha + ")";
  }

  function shown(value, unit) {
    if (value === null || value === undefined) return "no data";
    return (Math.round(value * 100) / 100).toLocaleString() + (unit || "");
  }

  // A line per series; one with low/high gets a band: the low edge (unseen), then the high edge
  // filled down to it, then the line itself on top.
  function lineDatasets(spec) {
    var sets = [];
    spec.series.forEach(function (series) {
      var main = colour(series.color);
      if (series.low && series.high) {
        sets.push({ label: series.label + " low", data: series.low, band: true, fill: false,
                    borderWidth: 0, pointRadius: 0, pointHitRadius: 0, spanGaps: false });
        sets.push({ label: "95% interval", data: series.high, band: true, fill: "-1",
                    backgroundColor: faded(main, 0.16), borderWidth: 0, pointRadius: 0,
                    pointHitRadius: 0, spanGaps: false });
      }
      sets.push({ label: series.label, data: series.values, low: series.low, high: series.high,
                  borderColor: main, backgroundColor: main, borderWidth: 2, pointRadius: 3,
                  borderDash: series.dashed ? [6, 4] : [], spanGaps: false, tension: 0,
                  clip: false });  // points on the axis's edge (NPS 100) stay whole
    });
    return sets;
  }

  function lineChart(spec) {
    var named = spec.counts || spec.series.length > 1 || spec.series.some(function (s) { return s.low; });
    var y = {
      // The metric's whole range (NPS -100 to 100, CSAT 0 to 100%): an honest scale.
      min: spec.bounds[0],
      ticks: { callback: function (value) { return value + (spec.unit || ""); } }
    };
    if (spec.bounds[1] !== null) y.max = spec.bounds[1];
    if (spec.counts) y.ticks.precision = 0;
    return {
      type: "line",
      data: { labels: spec.labels, datasets: lineDatasets(spec) },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: { y: y },
        plugins: {
          legend: {
            display: named,
            labels: { filter: function (item, data) {
              var set = data.datasets[item.datasetIndex];
              return !(set.band && set.fill === false);
            } }
          },
          tooltip: {
            filter: function (item) { return !item.dataset.band; },
            callbacks: {
              label: function (item) {
                var set = item.dataset, text = set.label + ": " + shown(item.raw, spec.unit);
                if (set.low && set.low[item.dataIndex] !== null && item.raw !== null) {
                  text += " (95%: " + shown(set.low[item.dataIndex], spec.unit) + " to " +
                    shown(set.high[item.dataIndex], spec.unit) + ")";
                }
                return text;
              }
            }
          }
        }
      }
    };
  }

  function stackedChart(spec) {
    return {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (series) {
          return { label: series.label, data: series.values, backgroundColor: colour(series.color) };
        })
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } }
      }
    };
  }

  function sparkChart(spec) {
    var main = colour(spec.series[0].color);
    return {
      type: "line",
      data: {
        labels: spec.labels,
        datasets: [{ data: spec.series[0].values, borderColor: main, backgroundColor: faded(main, 0.15),
                     fill: "origin", borderWidth: 1.5, pointRadius: 0, tension: 0 }]
      },
      options: {
        events: [],
        scales: { x: { display: false }, y: { display: false, beginAtZero: true } },
        plugins: { legend: { display: false }, tooltip: { enabled: false } }
      }
    };
  }

  var BUILDERS = { line: lineChart, stacked: stackedChart, spark: sparkChart };

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec = specs[canvas.dataset.chart];
    var build = spec && BUILDERS[spec.type];
    if (!build) return;
    var config = build(spec);
    config.options.responsive = true;
    config.options.maintainAspectRatio = false;
    config.options.animation = still ? false : { duration: 400 };
    canvas.parentElement.classList.add("drawn");
    new window.Chart(canvas, config);
  });
})();
