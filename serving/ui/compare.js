// The comparison view: several concepts (the form's, added one by one, or a CSV) ranked by
// /compare with their intervals (Chart.js, vendored), and "why A over B" for any pair.
// Uses app.js's globals: meta (the schema), concept() (the form's concept), post(), label, pct.
"use strict";

const HitCompare = (() => {
  const $ = (id) => document.getElementById(id);
  const list = []; // the concepts to compare, in the order added
  let answer = null; // the last /compare answer (for the concepts in `list` then)
  let compared = []; // the concepts that answer is about
  const charts = {};

  // body[data-compare] = loading / done / error around every round trip (the tests wait on it)
  async function step(work) {
    const buttons = ["compare-add", "compare-run", "why-a", "why-b"].map($);
    for (const b of buttons) b.disabled = true;
    $("compare-error").hidden = true;
    document.body.dataset.compare = "loading";
    try {
      await work();
      document.body.dataset.compare = "done";
    } catch (err) {
      $("compare-error").textContent = String(err.message || err);
      $("compare-error").hidden = false;
      document.body.dataset.compare = "error";
    } finally {
      for (const b of buttons) b.disabled = false;
      $("compare-run").disabled = list.length < 2;
    }
  }

  // a repeated id gets a suffix: pairs name concepts by id
  function add(c) {
    const id = meta.id_field;
    const taken = new Set(list.map((x) => String(x[id])));
    let name = String(c[id] ?? "concept"), k = 2;
    while (taken.has(name)) name = `${c[id]}-${k++}`;
    list.push({ ...c, [id]: name });
    showList();
  }

  function showList() {
    const id = meta.id_field;
    $("compare-list").replaceChildren(...list.map((c, i) => {
      const remove = node("button", { type: "button", className: "remove", title: "remove", textContent: "×" });
      remove.addEventListener("click", () => { list.splice(i, 1); showList(); });
      return node("li", {}, node("span", { textContent: c[id] }), remove);
    }));
    $("compare-count").textContent = `${list.length} concept${list.length === 1 ? "" : "s"}`;
    $("compare-run").disabled = list.length < 2;
  }

  // ---- CSV: the columns `compass score` takes, typed by the schema's kinds ---------------------
  function parseCsv(text) {
    const rows = [];
    let row = [], cell = "", quoted = false;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; }
        else if (ch === '"') quoted = false;
        else cell += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ",") { row.push(cell); cell = ""; }
      else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && text[i + 1] === "\n") i++;
        row.push(cell); rows.push(row); row = []; cell = "";
      } else cell += ch;
    }
    if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
    return rows.filter((r) => r.some((v) => v.trim() !== ""));
  }

  function fromCsv(text) {
    const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, ""));
    if (!header) throw new Error("the CSV is empty");
    const kinds = Object.fromEntries(meta.fields.map((f) => [f.name, f.kind]));
    const cols = header.map((h) => h.trim());
    if (!cols.includes(meta.id_field)) throw new Error(`the CSV has no ${meta.id_field} column`);
    return rows.map((r) => {
      const c = {};
      cols.forEach((name, j) => {
        const v = (r[j] ?? "").trim();
        if (!(name in kinds) || v === "") return; // unknown columns and empty cells: left out
        const kind = kinds[name];
        c[name] = kind === "count" || kind === "year" ? Number(v)
          : kind === "number" ? Number(v) : v;
      });
      return c;
    });
  }

  // ---- the answer -------------------------------------------------------------------------------
  async function run() {
    compared = list.map((c) => ({ ...c }));
    answer = await post("../compare", { concepts: compared });
    showRanking();
    fillPairPickers();
    showWhy(answer.pairs[0]);
    $("compare-card").hidden = false;
  }

  function showRanking() {
    const r = answer.ranking;
    const vsTop = Object.fromEntries(answer.pairs.map((p) => [p.a, p]));
    const level = answer.interval_level ? `${Math.round(100 * answer.interval_level)} %` : "no";
    $("compare-level").textContent = level;
    $("compare-table").querySelector("tbody").replaceChildren(...r.map((c) => {
      const p = vsTop[c.concept_id];
      const iv = c.interval;
      const tr = node("tr", {},
        node("td", { textContent: c.rank }),
        node("td", { textContent: c.concept_id }),
        node("td", { textContent: pct(c.hit_probability) }),
        node("td", { textContent: iv ? `${pct(iv.low)} – ${pct(iv.high)}` : "n/a" }),
        node("td", {}, node("span", { className: `band ${c.band || ""}`, textContent: c.band || "n/a" })),
        node("td", { textContent: p && p.p_a_beats_b != null ? pct(p.p_a_beats_b) : c.rank === 1 ? "top" : "n/a" }),
        node("td", { textContent: p ? (p.too_close_to_call ? "too close to call" : "") : "" }));
      tr.dataset.concept = c.concept_id;
      tr.dataset.p = c.hit_probability;
      return tr;
    }));
    const labels = r.map((c) => c.concept_id);
    const data = {
      labels,
      datasets: [
        {
          type: "bar", label: `${level} interval`, data: r.map((c) => c.interval ? [c.interval.low, c.interval.high] : null),
          backgroundColor: r.map((c) => bandColour(c.band, 0.35)), borderColor: r.map((c) => bandColour(c.band, 1)),
          borderWidth: 1, borderSkipped: false, barPercentage: 0.55,
        },
        {
          type: "line", label: "hit probability", data: r.map((c) => c.hit_probability), showLine: false,
          pointRadius: 6, pointHoverRadius: 8, pointBackgroundColor: "#243b53", pointBorderColor: "#fff",
        },
      ],
    };
    const options = {
      indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
      scales: {
        x: { min: 0, title: { display: true, text: "hit probability" }, ticks: { callback: (v) => pct(v) } },
        y: { ticks: { autoSkip: false } },
      },
      plugins: {
        legend: { position: "bottom" },
        tooltip: { callbacks: { label: (ctx) => tooltip(r[ctx.dataIndex], vsTop[r[ctx.dataIndex].concept_id], ctx.datasetIndex) } },
      },
    };
    $("compare-chart-box").style.height = `${80 + 34 * r.length}px`;
    draw("compare-chart", data, options);
  }

  function tooltip(c, pair, dataset) {
    if (dataset === 1) return `hit probability ${pct(c.hit_probability)} (${c.band || "no band"})`;
    const lines = [c.interval ? `interval ${pct(c.interval.low)} – ${pct(c.interval.high)}` : "no interval"];
    if (pair && pair.p_a_beats_b != null) lines.push(`beats the top with probability ${pct(pair.p_a_beats_b)}`);
    return lines;
  }

  function bandColour(band, alpha) {
    const rgb = { go: "25,148,115", refine: "222,145,29", stop: "186,37,37" }[band] || "38,128,194";
    return `rgba(${rgb},${alpha})`;
  }

  function fillPairPickers() {
    const ids = answer.ranking.map((c) => c.concept_id);
    for (const [sel, pick] of [["why-a", ids[1]], ["why-b", ids[0]]]) {
      $(sel).replaceChildren(...ids.map((id) => new Option(id, id)));
      $(sel).value = pick;
    }
  }

  // the pair the pickers name: from the last answer if it has it, else /compare asked for it
  async function why() {
    const a = $("why-a").value, b = $("why-b").value;
    let pair = answer.pairs.find((p) => p.a === a && p.b === b);
    if (!pair) {
      const asked = await post("../compare", { concepts: compared, pairs: [{ a, b }] });
      pair = asked.pairs[0];
    }
    showWhy(pair);
  }

  const SHOWN = 8; // fields drawn; the rest summed

  function showWhy(p) {
    const sure = p.p_a_beats_b == null ? "" : `; ${p.a} is truly better with probability ${pct(p.p_a_beats_b)}`
      + (p.too_close_to_call ? " — too close to call" : "");
    $("why-summary").textContent = `${p.a} minus ${p.b}: ${pts(p.probability_difference)}, `
      + `${signed(p.log_odds_difference)} log-odds${sure}.`;
    $("why-summary").dataset.pair = `${p.a}|${p.b}`;
    const top = p.why.slice(0, SHOWN);
    const rest = p.why.slice(SHOWN).reduce((s, d) => s + d.log_odds, 0);
    const items = [...top.map((d) => ({ label: label(d.field), value: d.log_odds }))];
    if (p.why.length > SHOWN) items.push({ label: "all other fields", value: rest });
    $("why-chart-box").style.height = `${60 + 28 * items.length}px`;
    $("why-chart").dataset.fields = JSON.stringify(items.map((d) => d.label));
    draw("why-chart", {
      labels: items.map((d) => d.label),
      datasets: [{
        label: `log-odds: ${p.a} minus ${p.b}`, data: items.map((d) => d.value),
        backgroundColor: items.map((d) => (d.value >= 0 ? "#3ebd93" : "#e66a6a")),
      }],
    }, {
      indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
      scales: { x: { title: { display: true, text: `right: favours ${p.a}; left: favours ${p.b}` } } },
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (ctx) => `${signed(ctx.raw)} log-odds` } },
      },
    });
  }

  const signed = (v) => `${v >= 0 ? "+" : ""}${v.toFixed(2)}`;

  function draw(id, data, options) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart($(id), { type: "bar", data, options });
  }

  function init() {
    $("compare-add").addEventListener("click", () => {
      if (!form.reportValidity()) return;
      add(concept());
    });
    $("compare-file").addEventListener("change", (e) => step(async () => {
      const file = e.target.files[0];
      if (!file) return;
      for (const c of fromCsv(await file.text())) add(c);
      e.target.value = "";
    }));
    $("compare-clear").addEventListener("click", () => { list.length = 0; showList(); $("compare-card").hidden = true; });
    $("compare-run").addEventListener("click", () => step(run));
    for (const sel of ["why-a", "why-b"]) $(sel).addEventListener("change", () => step(why));
    showList();
    document.body.dataset.compareReady = "true";
  }

  // app.js builds the form from meta.json first: start once it says the page is ready
  function whenReady() {
    if (document.body.dataset.ready === "true") return init();
    const watch = new MutationObserver(() => {
      if (document.body.dataset.ready === "true") { watch.disconnect(); init(); }
    });
    watch.observe(document.body, { attributes: true, attributeFilter: ["data-ready"] });
  }

  whenReady();
  return { list, answer: () => answer };
})();
