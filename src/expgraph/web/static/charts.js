// Metric charts (uPlot, vendored): every element with data-chart-runs="/charts/runs?run=..." gets one chart per
// metric, one series per run. A file rather than inline script: the pages' CSP allows scripts from this server only.
// Drag to zoom, double-click to reset; x axis by step or time; a log-scale toggle; NaN and infinities are drawn
// as marked vertical lines and listed under the chart, never as silent gaps.
(function () {
  "use strict";
  var COLOURS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#6e7781"];
  var SPECIAL_COLOUR = { "NaN": "#d1242f", "INF": "#9a6700", "-INF": "#8250df" };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  // One metric's series of several runs, by metric name, in first-seen order.
  function byMetric(payload) {
    var metrics = {}, order = [];
    payload.runs.forEach(function (run) {
      run.metrics.forEach(function (m) {
        if (!metrics[m.key]) { metrics[m.key] = []; order.push(m.key); }
        metrics[m.key].push({ run: run.run, label: run.label || run.run, series: m });
      });
    });
    return order.map(function (key) { return { key: key, lines: metrics[key] }; });
  }

  // x values of one series on the chosen axis: steps, wall-clock seconds, or seconds since its first value.
  function xs(series, axis) {
    if (axis === "step") return series.step.slice();
    var t0 = Math.min.apply(null, series.time);
    return series.time.map(function (t) { return axis === "elapsed" ? t - t0 : t; });
  }

  function table(series, axis, log) {
    var x = xs(series, axis), order = x.map(function (_, i) { return i; });
    if (axis !== "step") order.sort(function (a, b) { return x[a] - x[b]; });
    var y = order.map(function (i) {
      var v = series.value[i];
      return (log && v !== null && v <= 0) ? null : v;
    });
    return [order.map(function (i) { return x[i]; }), y];
  }

  function hasTimes(lines) {
    return lines.every(function (l) { return l.series.time.every(function (t) { return t !== null; }); });
  }

  // Vertical marks where a value was NaN or infinite, drawn after the series.
  function specialsPlugin(lines, axis) {
    return {
      hooks: {
        draw: function (u) {
          var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
          ctx.save();
          ctx.setLineDash([4, 3]);
          lines.forEach(function (line) {
            var t0 = Math.min.apply(null, line.series.time);
            line.series.special.forEach(function (s) {
              var x = axis === "step" ? s.step : (axis === "elapsed" ? s.time - t0 : s.time);
              var px = Math.round(u.valToPos(x, "x", true));
              if (px < u.bbox.left || px > u.bbox.left + u.bbox.width) return;
              ctx.strokeStyle = SPECIAL_COLOUR[s.value];
              ctx.beginPath();
              ctx.moveTo(px, top);
              ctx.lineTo(px, top + height);
              ctx.stroke();
            });
          });
          ctx.restore();
        }
      }
    };
  }

  function draw(figure, metric, state) {
    var host = figure.querySelector(".chart-host");
    if (figure.uplot) { figure.uplot.destroy(); figure.uplot = null; }
    host.textContent = "";
    var tables = metric.lines.map(function (l) { return table(l.series, state.axis, state.log); });
    var data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    var series = [{ label: state.axis }];
    metric.lines.forEach(function (l, i) {
      series.push({ label: l.label, stroke: COLOURS[i % COLOURS.length], width: 1.5,
                    points: { show: data[0].length <= 60 } });
    });
    var width = Math.max(280, Math.min(host.clientWidth || 600, 1200));
    var options = {
      width: width, height: 260, series: series,
      scales: { x: { time: state.axis === "time" }, y: { distr: state.log ? 3 : 1 } },
      // the catalog's times are UTC: the time axis says UTC too, whatever the browser's zone
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      axes: [{ label: state.axis === "step" ? "step" : (state.axis === "elapsed" ? "seconds since start" : "time (UTC)") },
             { size: 70 }],
      cursor: { drag: { x: true, y: false } },
      legend: { show: metric.lines.length > 1 },
      plugins: [specialsPlugin(metric.lines, state.axis)]
    };
    figure.uplot = new uPlot(options, data, host);
    figure.setAttribute("data-series", String(series.length - 1));
    figure.setAttribute("data-points", String(metric.lines.reduce(function (n, l) { return n + l.series.step.length; }, 0)));
    figure.setAttribute("data-axis", state.axis);
    figure.setAttribute("data-log", state.log ? "yes" : "no");
  }

  function caption(metric) {
    var cap = el("figcaption");
    cap.appendChild(el("strong", {}, metric.key));
    var counts = metric.lines.map(function (l) {
      var s = l.series, text = plural(s.count, "value", "values");
      if (s.downsampled) text += " (" + s.step.length + " shown: each bucket's lowest and highest)";
      return (metric.lines.length > 1 ? l.label + ": " : "") + text;
    });
    cap.appendChild(el("span", { "class": "muted" }, " " + counts.join(" · ")));
    return cap;
  }

  function specialsList(metric) {
    var items = [];
    metric.lines.forEach(function (l) {
      l.series.special.forEach(function (s) {
        items.push((metric.lines.length > 1 ? l.label + ": " : "") + s.value + " at step " + s.step);
      });
    });
    if (!items.length) return null;
    var shown = items.slice(0, 20);
    var p = el("p", { "class": "specials" }, "Not finite: " + shown.join(", ") +
                    (items.length > shown.length ? ", and " + (items.length - shown.length) + " more" : ""));
    return p;
  }

  function controls(figure, metric, state, axes) {
    var bar = el("div", { "class": "chart-controls" });
    var select = el("select", { "aria-label": "x axis", "class": "chart-axis" });
    axes.forEach(function (a) {
      var option = el("option", { value: a }, a === "step" ? "by step" : (a === "time" ? "by time" : "by time since start"));
      if (a === state.axis) option.selected = true;
      select.appendChild(option);
    });
    select.addEventListener("change", function () { state.axis = select.value; draw(figure, metric, state); });
    var label = el("label");
    var box = el("input", { type: "checkbox", "class": "chart-log" });
    box.addEventListener("change", function () { state.log = box.checked; draw(figure, metric, state); });
    label.appendChild(box);
    label.appendChild(document.createTextNode(" log scale"));
    bar.appendChild(select);
    bar.appendChild(label);
    bar.appendChild(el("span", { "class": "muted" }, " drag to zoom, double-click to reset"));
    return bar;
  }

  function render(container, payload) {
    var metrics = byMetric(payload);
    var overlay = container.getAttribute("data-overlay") === "yes";
    container.textContent = "";
    if (!metrics.length) {
      container.appendChild(el("p", { "class": "muted" }, "No metric histories recorded for " +
                                (overlay ? "these runs." : "this run.")));
      container.setAttribute("data-charts", "0");
      return;
    }
    metrics.forEach(function (metric) {
      var figure = el("figure", { "class": "metric-chart", "data-metric": metric.key });
      var axes = ["step"];
      if (hasTimes(metric.lines)) axes.push(overlay ? "elapsed" : "time");
      var state = { axis: "step", log: false };
      figure.appendChild(caption(metric));
      figure.appendChild(controls(figure, metric, state, axes));
      figure.appendChild(el("div", { "class": "chart-host" }));
      var specials = specialsList(metric);
      if (specials) figure.appendChild(specials);
      container.appendChild(figure);
      draw(figure, metric, state);
    });
    container.setAttribute("data-charts", String(metrics.length));
  }

  function load(container) {
    fetch(container.getAttribute("data-chart-runs"), { headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("the chart data could not be read (HTTP " + response.status + ")");
        return response.json();
      })
      .then(function (payload) { render(container, payload); })
      .catch(function (error) {
        container.textContent = "";
        container.appendChild(el("p", { "class": "error" }, String(error.message || error)));
        container.setAttribute("data-charts", "error");
      });
  }

  document.querySelectorAll("[data-chart-runs]").forEach(load);
})();
