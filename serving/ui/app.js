// The Hit Compass page: the form is built from meta.json (the served model's concept schema),
// so it follows whatever dataset spec is served. One concept in; /score, /target (with a
// segment field), /forecast (with an outcome) and /whatif (the picked lever) out; with text
// fields, the phrases that push the answer up and down, and /wordings (alternative texts).
"use strict";

const form = document.getElementById("concept-form");
const $ = (id) => document.getElementById(id);
const pct = (p) => `${(100 * p).toFixed(1)} %`;
const pts = (d) => `${d >= 0 ? "+" : ""}${(100 * d).toFixed(1)} pts`;
const num = (v) => Number(v.toPrecision(3)).toLocaleString("en");
const label = (name) => name.replaceAll("_", " ");
const DAY = 86_400_000;

let meta = null;
let last = null; // the last concept scored: a new lever re-queries /whatif for it

function node(tag, props, ...children) {
  const n = Object.assign(document.createElement(tag), props || {});
  n.append(...children);
  return n;
}

// one form control per field, typed by its kind; the bounds become min/max so the browser
// stops an out-of-range value before the API has to
function control(f) {
  if (f.kind === "text") {
    return [node("textarea", { name: f.name, required: f.required, maxLength: f.max_length, rows: 2 })];
  }
  if (f.values) {
    const s = node("select", { name: f.name, required: f.required });
    if (!f.required) s.append(new Option("", "")); // empty = omitted, the API's default
    for (const v of f.values) s.append(new Option(label(v), v));
    return [s];
  }
  const input = node("input", { name: f.name, required: f.required });
  if (f.kind === "date") input.type = "date";
  else if (["number", "count", "year"].includes(f.kind)) {
    input.type = "number";
    input.step = f.kind === "number" ? "any" : "1";
    // a strict bound (gt/lt) cannot be said in HTML: the API refuses the bound itself
    const lo = f.ge ?? f.gt, hi = f.le ?? f.lt;
    if (lo != null) input.min = lo;
    if (hi != null) input.max = hi;
  } else if (f.kind === "datetime") {
    // ISO 8601 with its offset, as the API takes it (a datetime-local box would drop the offset)
    input.maxLength = 40;
    input.placeholder = "2023-01-10T00:01:00-08:00";
  } else input.maxLength = 128;
  if (!f.known || !f.known.length) return [input];
  // an open vocabulary: suggestions from training, yet any new value may be typed
  const list = node("datalist", { id: `known-${f.name}` });
  for (const v of f.known) list.append(new Option(v));
  input.setAttribute("list", list.id);
  return [input, list];
}

function row(f) {
  const unit = f.unit ? ` (${f.unit})` : "";
  const text = node("span", {}, label(f.name) + unit);
  if (f.required) text.append(node("span", { className: "req", title: "required" }, " *"));
  const className = f.kind === "text" ? "text" : "";
  return node("label", { title: f.description, className }, text, ...control(f));
}

async function init() {
  meta = await (await fetch("meta.json")).json();
  $("spec-name").textContent = meta.spec;
  const pre = meta.fields.filter((f) => f.pre_test);
  for (const f of meta.fields) (f.pre_test ? $("test-fields") : $("concept-fields")).append(row(f));
  for (const [k, v] of Object.entries(meta.example || {})) {
    if (form.elements[k]) form.elements[k].value = v;
  }
  // what a spec lacks is removed, not hidden: no test block, segment chart or forecast card
  if (!pre.length) {
    $("test-block").remove();
    $("pre-test-line").remove();
  } else $("has-test").checked = pre.some((f) => Number(meta.example?.[f.name]) > 0);
  if (!meta.segment_field) $("segments-card").remove();
  else $("segment-field").textContent = label(meta.segment_field);
  if (!meta.outcome) $("forecast-card").remove();
  HitForecast.init(meta); // the fan chart and the funnel card, when the spec has them
  if (!meta.levers.length) $("whatif-card").remove();
  for (const l of meta.levers) $("lever").append(new Option(label(l.name), l.name));
  const texts = meta.fields.filter((f) => f.kind === "text");
  if (!texts.length) {
    $("phrases-card").remove();
    $("wordings-card").remove();
  } else for (const f of texts) $("wording-field").append(new Option(label(f.name), f.name));

  $("has-test")?.addEventListener("change", toggleTest);
  $("lever")?.addEventListener("change", () => last && step(() => whatif(last)));
  $("compare-wordings")?.addEventListener("click", () => last && step(() => wordings(last)));
  form.addEventListener("submit", (e) => { e.preventDefault(); step(run); });
  toggleTest();
  document.body.dataset.ready = "true";
}

function toggleTest() {
  if ($("has-test")) $("test-fields").hidden = !$("has-test").checked;
}

// the concept as the API wants it: typed by kind, empty optional inputs left out (the API
// fills its defaults), the test fields only when the test box is ticked
function concept() {
  const c = {};
  const tested = $("has-test")?.checked;
  for (const f of meta.fields) {
    const value = form.elements[f.name].value;
    if (value === "" || (f.pre_test && !tested)) continue;
    if (f.kind === "count" || f.kind === "year") c[f.name] = parseInt(value, 10);
    else if (f.kind === "number") c[f.name] = parseFloat(value);
    else c[f.name] = value;
  }
  return c;
}

// when the service requires an API key (HIT_COMPASS_API_KEY), a 401 reveals a key field;
// the key stays in this tab's sessionStorage and goes out as X-API-Key
function apiKey() {
  const typed = $("api-key").value;
  if (typed) sessionStorage.setItem("hitCompassKey", typed);
  return sessionStorage.getItem("hitCompassKey");
}

async function post(path, body) {
  const headers = { "content-type": "application/json" };
  const key = apiKey();
  if (key) headers["x-api-key"] = key;
  const r = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  if (r.status === 401) $("key-row").hidden = false;
  const text = await r.text();
  if (!r.ok) throw new Error(`${path}: ${r.status} ${problems(text)}`);
  return JSON.parse(text);
}

// an error answer as lines a person reads: each field and what is wrong with it (a 400's
// detail, or a list answer's error item), else the answer's own words
function problems(text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return text;
  }
  if (Array.isArray(body) && body.length === 1) body = body[0]; // BentoML wraps some errors
  if (!body || !Array.isArray(body.detail)) return body && body.error ? body.error : text;
  // the field: the loc after the request's own key (and the concept's place in a list)
  const where = (loc) => {
    const inside = ["concepts", "concept"].includes(loc[0]) ? loc.slice(1) : loc;
    return typeof inside[0] === "number" ? inside.slice(1) : inside;
  };
  return body.detail.map((d) => `${where(d.loc).join(".") || "concept"}: ${d.msg}`).join("\n");
}

// the page sends one concept, which an invalid one makes a 400; an error item in its place
// (the list endpoints' answer when a request holds several) is said the same way
function answered(path, items) {
  if (items[0].error !== undefined) throw new Error(`${path}: ${problems(JSON.stringify(items[0]))}`);
  return items[0];
}

// body[data-state] = loading / done / error around every round trip (the tests wait on it)
async function step(work) {
  const buttons = [$("submit"), $("lever"), $("compare-wordings")].filter(Boolean);
  for (const b of buttons) b.disabled = true;
  $("error").hidden = true;
  document.body.dataset.state = "loading";
  try {
    await work();
    document.body.dataset.state = "done";
  } catch (err) {
    $("error").textContent = String(err.message || err);
    $("error").hidden = false;
    document.body.dataset.state = "error";
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

async function run() {
  const c = concept();
  const [scored, target, forecast, , funnel] = await Promise.all([
    post("../score", { concepts: [c] }),
    meta.segment_field ? post("../target", { concept: c }) : null,
    meta.outcome ? post("../forecast", { concepts: [c] }) : null,
    meta.levers.length ? whatif(c) : null,
    meta.funnel ? post("../funnel", { concepts: [c] }) : null,
  ]);
  last = c;
  const one = answered("../score", scored);
  showScore(one, meta.fields.some((f) => f.pre_test && c[f.name] > 0));
  if (target) showTarget(target);
  const forecastOne = forecast && answered("../forecast", forecast);
  if (forecastOne) showForecast(forecastOne);
  if (one.phrases) showPhrases(one.phrases);
  $("results").hidden = false; // Chart.js sizes its canvases from their shown boxes
  if (forecastOne) HitForecast.showCurve(forecastOne);
  if (funnel) HitForecast.showFunnel(answered("../funnel", funnel));
}

// per text field: its score and the words that push the answer up and down
function showPhrases(phrases) {
  const chip = (p) => node("span", { className: p.log_odds >= 0 ? "chip up" : "chip down",
    title: `${p.log_odds >= 0 ? "+" : ""}${p.log_odds.toFixed(2)} log-odds` }, p.phrase);
  const blocks = Object.entries(phrases).map(([field, t]) => node("div", { className: "phrases" },
    node("b", {}, label(field)), ` (text score ${t.text_score.toFixed(2)}): `,
    ...(t.up.length ? t.up.map(chip) : [node("i", {}, "nothing up")]), " ",
    ...(t.down.length ? t.down.map(chip) : [node("i", {}, "nothing down")])));
  $("phrases").replaceChildren(...blocks);
}

// alternative texts for one field, one per line: each scored with the rest of the concept
async function wordings(c) {
  const field = $("wording-field").value;
  const alternatives = $("alternatives").value.split("\n").map((t) => t.trim()).filter(Boolean);
  if (!alternatives.length) throw new Error("type at least one alternative text, one per line");
  const w = await post("../wordings", { concept: c, field, alternatives });
  const line = (x, change) => node("tr", {}, node("td", {}, x.text),
    node("td", { className: "num" }, pct(x.hit_probability)),
    node("td", { className: "num" }, change == null ? "current" : pts(change)),
    node("td", {}, [...x.up, ...x.down].map((p) => p.phrase).join(", ")));
  $("wordings").replaceChildren(
    node("tr", {}, ...["text", "hit probability", "change", "phrases"].map((h) => node("th", {}, h))),
    line(w.current, null),
    ...w.alternatives.map((a) => line(a, a.change_vs_current)),
  );
  return w;
}

function showScore(s, tested) {
  $("hit-probability").textContent = pct(s.hit_probability);
  $("hit-probability").dataset.value = s.hit_probability;
  if ($("pre-test-line")) {
    $("pre-test-probability").textContent = pct(s.pre_test_probability);
    $("test-added").textContent = tested
      ? `the test added ${pts(s.hit_probability - s.pre_test_probability)}`
      : "no small-sample test yet";
  }
  $("model-version").textContent = s.model_version;
  const band = $("band");
  band.textContent = s.band || "n/a";
  band.className = `band ${s.band || ""}`;
  $("percentile").textContent = s.category_percentile == null ? "n/a" : `${s.category_percentile}th`;
  const n = s.category_norms;
  $("norm-category").textContent = n ? label(n.category) : "–";
  $("norm-detail").textContent = n
    ? `${n.past_launches} launches, hit rate ${pct(n.hit_rate)}; go ≥ ${pct(n.go_at)}, stop < ${pct(n.stop_below)}`
    : "no norms in this model";
  $("warnings").replaceChildren(...s.warnings.map((w) => node("li", { textContent: w })));
  // drivers keep the API's field names: they are the spec's columns the user typed
  const d = s.drivers;
  const items = d.top.map((t) => ({ label: t.field, value: t.log_odds }));
  items.push({ label: "all other fields", value: d.other_fields });
  HitCharts.barChart($("drivers-chart"), items, (v) => `${v >= 0 ? "+" : ""}${v.toFixed(2)}`);
}

function showTarget(target) {
  HitCharts.barChart(
    $("segments-chart"),
    target.segments.map((g) => ({ label: label(g.segment), value: g.hit_probability, highlight: g.own })),
    pct,
  );
}

function showForecast(f) {
  $("forecast-outcome").textContent = label(f.outcome);
  $("forecast-unit").textContent = f.unit;
  for (const k of ["p10", "p50", "p90"]) {
    $(`forecast-${k}`).textContent = `${num(f[k])}${k === "p50" ? "" : ` ${f.unit}`}`;
    $(`forecast-${k}`).dataset.value = f[k];
  }
}

// the picked lever's curve; dates are plotted as day numbers and labelled back as dates
async function whatif(c) {
  const lever = meta.levers.find((l) => l.name === $("lever").value);
  const w = await post("../whatif", { concept: c, lever: lever.name });
  const isDate = lever.kind === "date";
  const xFormat = isDate
    ? (v) => new Date(Math.round(v) * DAY).toISOString().slice(0, 10)
    : lever.kind === "year" ? (v) => String(Math.round(v)) : num;
  $("lever-unit").textContent = label(lever.name) + (w.unit && w.unit !== lever.kind ? `, ${w.unit}` : "");
  HitCharts.lineChart(
    $("whatif-chart"),
    w.points.map((p) => ({ x: isDate ? Date.parse(p.value) / DAY : p.value, y: p.hit_probability, current: p.current })),
    xFormat,
    pct,
  );
  return w;
}

init().catch((err) => {
  $("error").textContent = `could not load the form: ${err}`;
  $("error").hidden = false;
});
