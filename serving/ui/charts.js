// Two tiny SVG charts (no library, nothing fetched from the internet): horizontal bars and a line.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function el(name, attrs, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function clear(svg) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
}

// items: [{label, value, highlight}]; bars grow right for positive, left for negative values.
function barChart(svg, items, format) {
  clear(svg);
  const width = 520, row = 22, labelW = 170, pad = 56;
  const height = items.length * row + 10;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const min = Math.min(0, ...items.map((d) => d.value));
  const max = Math.max(0, ...items.map((d) => d.value));
  const span = max - min || 1;
  // room for value labels on both sides, so a long negative bar never covers a field name
  const plotW = width - labelW - 2 * pad;
  const x = (v) => labelW + pad + ((v - min) / span) * plotW;
  svg.appendChild(el("line", { x1: x(0), x2: x(0), y1: 0, y2: height, stroke: "#9fb3c8" }));
  items.forEach((d, i) => {
    const y = 5 + i * row;
    const x0 = Math.min(x(0), x(d.value)), w = Math.max(1, Math.abs(x(d.value) - x(0)));
    const colour = d.highlight ? "#2680c2" : d.value >= 0 ? "#3ebd93" : "#e66a6a";
    svg.appendChild(el("text", { x: labelW - 6, y: y + 14, "text-anchor": "end" }, d.label));
    // data-label: what the bar stands for, readable by tests and assistive tools
    svg.appendChild(el("rect", {
      x: x0, y: y + 3, width: w, height: row - 8, fill: colour, rx: 2, "data-label": d.label,
    }));
    const right = d.value >= 0;
    svg.appendChild(
      el("text", { x: right ? x0 + w + 4 : x0 - 4, y: y + 14, "text-anchor": right ? "start" : "end" },
        format(d.value)));
  });
}

// points: [{x, y, current}] with numeric x; draws the curve, axes ticks and the current point.
function lineChart(svg, points, xFormat, yFormat) {
  clear(svg);
  const width = 1040, height = 220, left = 56, right = 16, top = 10, bottom = 30;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const yLo = Math.min(...ys), yHi = Math.max(...ys);
  const y0 = Math.max(0, yLo - (yHi - yLo) * 0.15 - 0.005), y1 = yHi + (yHi - yLo) * 0.15 + 0.005;
  const sx = (v) => left + ((v - x0) / (x1 - x0 || 1)) * (width - left - right);
  const sy = (v) => top + (1 - (v - y0) / (y1 - y0 || 1)) * (height - top - bottom);
  for (let k = 0; k <= 4; k++) {
    const yv = y0 + ((y1 - y0) * k) / 4;
    svg.appendChild(el("line", { x1: left, x2: width - right, y1: sy(yv), y2: sy(yv), stroke: "#e4e7eb" }));
    svg.appendChild(el("text", { x: left - 6, y: sy(yv) + 4, "text-anchor": "end" }, yFormat(yv)));
    const xv = x0 + ((x1 - x0) * k) / 4;
    // end ticks anchored inwards, so a long label (a date) is not clipped at the edge
    const anchor = k === 0 ? "start" : k === 4 ? "end" : "middle";
    svg.appendChild(el("text", { x: sx(xv), y: height - 10, "text-anchor": anchor }, xFormat(xv)));
  }
  const path = points.map((p, i) => `${i ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`);
  svg.appendChild(el("path", { d: path.join(" "), fill: "none", stroke: "#2680c2", "stroke-width": 2.5 }));
  for (const p of points) {
    svg.appendChild(el("circle", {
      cx: sx(p.x), cy: sy(p.y), r: p.current ? 6 : 3, fill: p.current ? "#de911d" : "#2680c2",
    }));
    if (p.current) {
      svg.appendChild(el("text", { x: sx(p.x), y: sy(p.y) - 10, "text-anchor": "middle" },
        `now: ${yFormat(p.y)}`));
    }
  }
}

window.HitCharts = { barChart, lineChart };
