// The first year and the funnel (Chart.js, vendored): the fan chart of /forecast's curve
// (P10 to P90 shaded, P50 line, months on the axis, the festivals' months marked) and the
// funnel card of /funnel (each stage's rate against its category, the weakest flagged).
// A spec without outcomes over time or without a funnel shows neither (meta.json says).
"use strict";

const HitForecast = (() => {
  const $ = (id) => document.getElementById(id);
  const compact = (v) => Intl.NumberFormat("en", { notation: "compact", maximumSignificantDigits: 3 }).format(v);
  const rate = (p) => `${(100 * p).toFixed(1)} %`;
  const label = (name) => name.replaceAll("_", " ");
  const charts = {};

  function draw(canvas, config) {
    charts[canvas.id]?.destroy();
    charts[canvas.id] = new Chart(canvas, config);
    return charts[canvas.id];
  }

  // vertical lines at given x values, labelled (festival months, the category median)
  const markers = {
    id: "markers",
    afterDatasetsDraw(chart, _args, options) {
      const { ctx, chartArea, scales } = chart;
      const horizontal = chart.options.indexAxis === "y";
      for (const m of options.lines || []) {
        const x = scales.x.getPixelForValue(m.x);
        ctx.save();
        ctx.strokeStyle = m.colour || "#9fb3c8";
        ctx.setLineDash([4, 4]);
        ctx.beginPath();
        ctx.moveTo(x, chartArea.top);
        ctx.lineTo(x, chartArea.bottom);
        ctx.stroke();
        ctx.fillStyle = "#486581";
        ctx.font = "11px system-ui, sans-serif";
        ctx.textAlign = "center";
        ctx.fillText(m.text, x, horizontal ? chartArea.bottom + 24 : chartArea.top + 10);
        ctx.restore();
      }
    },
  };

  function init(meta) {
    if (!meta.horizons) $("curve-card")?.remove();
    if (!meta.funnel) $("funnel-card")?.remove();
  }

  // the cumulative curve from launch (0 at month 0) to the longest horizon
  function showCurve(f) {
    const card = $("curve-card");
    if (!card || !f.curve) return;
    const at = (k) => [{ x: 0, y: 0 }, ...f.curve.map((p) => ({ x: p.month, y: p[k] }))];
    const peaks = f.seasonal_peaks || [];
    draw($("curve-chart"), {
      type: "line",
      data: {
        datasets: [
          { label: "P10", data: at("p10"), borderColor: "#9fb3c8", borderWidth: 1, pointRadius: 0, fill: false },
          {
            label: "P10 to P90", data: at("p90"), borderColor: "#9fb3c8", borderWidth: 1, pointRadius: 0,
            backgroundColor: "rgba(38, 128, 194, 0.18)", fill: "-1",
          },
          { label: "P50", data: at("p50"), borderColor: "#2680c2", borderWidth: 2.5, pointRadius: 3, fill: false },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: { type: "linear", min: 0, title: { display: true, text: "months after launch" }, ticks: { stepSize: 1 } },
          y: { beginAtZero: true, title: { display: true, text: `cumulative ${f.unit}` }, ticks: { callback: compact } },
        },
        plugins: {
          legend: { labels: { filter: (item) => item.text !== "P10" } },
          tooltip: { callbacks: { label: (c) => `${c.dataset.label === "P10 to P90" ? "P90" : c.dataset.label}: ${compact(c.parsed.y)} ${f.unit}` } },
          // a festival in month k (days 30(k-1) to 30k) is drawn in the middle of that month
          markers: { lines: peaks.map((p) => ({ x: p.month - 0.5, text: `${p.festival} (month ${p.month})`, colour: "#de911d" })) },
        },
      },
      plugins: [markers],
    });
    const last = f.curve[f.curve.length - 1];
    $("curve-total").textContent = `${compact(last.p50)} ${f.unit}`;
    $("curve-total").dataset.value = last.p50;
    $("curve-range").textContent = `${compact(last.p10)} to ${compact(last.p90)}`;
    $("curve-horizon").textContent = `${last.month} months`;
    $("curve-peaks").textContent = peaks.length
      ? peaks.map((p) => `${p.festival} on ${p.date} in month ${p.month}`).join("; ")
      : "none within the curve";
  }

  // the card: a table of the stages (its counts, its shrunk rate: a strong prior can hide a
  // poor count, the counts show it), and their percentile as bars from the median (50)
  function showFunnel(card) {
    if (!$("funnel-card")) return;
    const rows = card.stages.map((s) => {
      const tr = document.createElement("tr");
      if (s.weakest) tr.className = "weakest";
      tr.dataset.stage = s.stage;
      const cells = [
        `${label(s.from_field)} → ${label(s.to_field)}`,
        s.measured ? `${s.people_in.toLocaleString("en")} → ${s.people_out.toLocaleString("en")}` : "–",
        s.measured ? `${rate(s.rate)} (${rate(s.rate_low)}–${rate(s.rate_high)})` : `no counts (prior ${rate(s.rate)})`,
        s.category_median == null ? "–" : rate(s.category_median),
        s.category_percentile == null ? "–" : `${s.category_percentile}th`,
      ];
      for (const text of cells) tr.append(Object.assign(document.createElement("td"), { textContent: text }));
      return tr;
    });
    $("funnel-rows").replaceChildren(...rows);
    $("funnel-category").textContent = label(card.category);
    const weakest = card.stages.find((s) => s.weakest);
    $("funnel-weakest").textContent = weakest
      ? `${label(weakest.from_field)} → ${label(weakest.to_field)} (${weakest.category_percentile}th percentile)`
      : "no stage below its category's median";
    $("funnel-weakest").dataset.stage = card.weakest_stage || "";
    const shown = card.stages.filter((s) => s.category_percentile != null);
    draw($("funnel-chart"), {
      type: "bar",
      data: {
        labels: shown.map((s) => label(s.stage)),
        datasets: [{
          label: "percentile among the category's past launches",
          data: shown.map((s) => [50, Math.max(0.8, Math.min(99.2, s.category_percentile))]),
          backgroundColor: shown.map((s) => (s.weakest ? "#ba2525" : s.category_percentile < 50 ? "#e66a6a" : "#3ebd93")),
          borderSkipped: false,
        }],
      },
      options: {
        indexAxis: "y",
        animation: false,
        maintainAspectRatio: false,
        layout: { padding: { bottom: 14 } },
        scales: { x: { min: 0, max: 100, ticks: { stepSize: 25 } } },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (c) => `${shown[c.dataIndex].category_percentile}th percentile` } },
          markers: { lines: [{ x: 50, text: "category median" }] },
        },
      },
      plugins: [markers],
    });
  }

  return { init, showCurve, showFunnel, charts };
})();

window.HitForecast = HitForecast;
