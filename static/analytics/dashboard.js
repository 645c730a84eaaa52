// Draws the dashboard's charts from the JSON the server embeds next to each canvas
// (<script type="application/json">, which is data, not code, so a strict CSP allows it),
// and re-draws them whenever htmx swaps in a new report.
(function () {
  "use strict";

  var COLORS = ["#2457c5", "#1a7f37", "#b42318", "#9a6700", "#6e40c9", "#0b7285", "#c2410c", "#5b6475"];
  var OUTCOME_COLORS = {
    resolved_bot: "#1a7f37",
    resolved_agent: "#2457c5",
    abandoned: "#b42318",
    open: "#9aa3b2",
  };

  function readData(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) return null;
    try {
      return JSON.parse(source.textContent);
    } catch (err) {
      return null;
    }
  }

  function config(kind, data) {
    var stacked = kind === "stacked";
    var horizontal = kind === "hbar";
    return {
      type: kind === "line" ? "line" : "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (ds, i) {
          var color = OUTCOME_COLORS[ds.key] || COLORS[i % COLORS.length];
          return { label: ds.label, data: ds.data, backgroundColor: color, borderColor: color };
        }),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        indexAxis: horizontal ? "y" : "x",
        plugins: { legend: { display: data.datasets.length > 1 } },
        scales: {
          x: { stacked: stacked, beginAtZero: true },
          y: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } },
        },
      },
    };
  }

  function draw(root) {
    if (typeof window.Chart === "undefined") return;
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var existing = window.Chart.getChart(canvas);
      if (existing) existing.destroy();
      var data = readData(canvas);
      if (!data) return;
      var chart = new window.Chart(canvas, config(canvas.dataset.kind, data));
      canvas.dataset.drawn = String(data.datasets.reduce(function (sum, ds) {
        return sum + ds.data.reduce(function (a, b) { return a + (b || 0); }, 0);
      }, 0));
      return chart;
    });
  }

  function destroyIn(root) {
    if (typeof window.Chart === "undefined" || !root) return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var existing = window.Chart.getChart(canvas);
      if (existing) existing.destroy();
    });
  }

  // Picking a date means a custom range, and a custom range waits for both dates before the
  // form is sent. This runs in the capture phase, before htmx hears the change on the form.
  document.addEventListener("change", function (event) {
    var target = event.target;
    var form = target && target.form;
    if (!form || form.id !== "report-filters") return;
    var custom = form.querySelector('input[name="range"][value="custom"]');
    if (target.name === "start" || target.name === "end") {
      if (custom) custom.checked = true;
    }
    if (custom && custom.checked && (!form.elements.start.value || !form.elements.end.value)) {
      event.stopPropagation();
    }
  }, true);

  // Invalid filters come back as 400 with the report's error message: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail || {};
    if (detail.xhr && detail.xhr.status === 400 && detail.target && detail.target.id === "report") {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "report") destroyIn(target);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (target && (target.id === "report" || target.querySelector("canvas[data-chart]"))) {
      draw(document);
    } else if (!target) {
      draw(document);
    }
  });
  // On back/forward htmx restores the page from its history cache.
  document.addEventListener("htmx:historyRestore", function () { draw(document); });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { draw(document); });
  } else {
    draw(document);
  }
})();
