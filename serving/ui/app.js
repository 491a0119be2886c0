// The Hit Compass page: one concept in, /score + /target + /whatif (price) out.
"use strict";

const form = document.getElementById("concept-form");
const hasTest = document.getElementById("has-test");
const TEST_FIELDS = ["test_samples_sent", "test_trials", "test_positive", "test_repurchase"];
const INT_FIELDS = ["seeding_posts", "reach", "interested", ...TEST_FIELDS];
const FLOAT_FIELDS = ["price", "novelty", "marketing_budget"];

const pct = (p) => `${(100 * p).toFixed(1)} %`;
const pts = (d) => `${d >= 0 ? "+" : ""}${(100 * d).toFixed(1)} pts`;
const $ = (id) => document.getElementById(id);

function fill(select, values) {
  select.innerHTML = "";
  for (const v of values) select.appendChild(new Option(v.replaceAll("_", " "), v));
}

async function init() {
  const meta = await (await fetch("meta.json")).json();
  fill(form.elements.category, meta.categories);
  fill(form.elements.target_segment, meta.segments);
  fill(form.elements.brand_tier, meta.brand_tiers);
  for (const [k, v] of Object.entries(meta.example)) {
    if (form.elements[k]) form.elements[k].value = v;
  }
  hasTest.addEventListener("change", toggleTest);
  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  document.body.dataset.ready = "true";
}

function toggleTest() {
  $("test-fields").hidden = !hasTest.checked;
}

function concept() {
  const c = {};
  for (const field of form.elements) {
    if (!field.name || (TEST_FIELDS.includes(field.name) && !hasTest.checked)) continue;
    if (field.value === "") continue;  // optional fields fall back to the API's defaults
    if (INT_FIELDS.includes(field.name)) c[field.name] = parseInt(field.value, 10);
    else if (FLOAT_FIELDS.includes(field.name)) c[field.name] = parseFloat(field.value);
    else c[field.name] = field.value;
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
  if (!r.ok) throw new Error(`${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

async function run() {
  const c = concept();
  $("submit").disabled = true;
  $("error").hidden = true;
  document.body.dataset.state = "loading";
  try {
    const [scored, target, whatif] = await Promise.all([
      post("../score", { concepts: [c] }),
      post("../target", { concept: c }),
      post("../whatif", { concept: c, lever: "price" }),
    ]);
    show(scored[0], target, whatif, (c.test_samples_sent || 0) > 0);
    document.body.dataset.state = "done";
  } catch (err) {
    $("error").textContent = String(err.message || err);
    $("error").hidden = false;
    document.body.dataset.state = "error";
  } finally {
    $("submit").disabled = false;
  }
}

function show(s, target, whatif, tested) {
  $("results").hidden = false;
  $("hit-probability").textContent = pct(s.hit_probability);
  $("hit-probability").dataset.value = s.hit_probability;
  $("pre-test-probability").textContent = pct(s.pre_test_probability);
  $("test-added").textContent = tested
    ? `the test added ${pts(s.hit_probability - s.pre_test_probability)}`
    : "no small-sample test yet";
  $("model-version").textContent = s.model_version;
  const band = $("band");
  band.textContent = s.band || "n/a";
  band.className = `band ${s.band || ""}`;
  $("percentile").textContent = s.category_percentile == null ? "n/a" : `${s.category_percentile}th`;
  const n = s.category_norms;
  $("norm-category").textContent = n ? n.category.replaceAll("_", " ") : "–";
  $("norm-detail").textContent = n
    ? `${n.past_launches} launches, hit rate ${pct(n.hit_rate)}; go ≥ ${pct(n.go_at)}, stop < ${pct(n.stop_below)}`
    : "no norms in this model";
  const warnings = $("warnings");
  warnings.innerHTML = "";
  for (const w of s.warnings) warnings.appendChild(Object.assign(document.createElement("li"), { textContent: w }));

  const d = s.drivers;
  const items = d.top.map((t) => ({ label: t.field.replaceAll("_", " "), value: t.log_odds }));
  items.push({ label: "all other fields", value: d.other_fields });
  HitCharts.barChart($("drivers-chart"), items, (v) => `${v >= 0 ? "+" : ""}${v.toFixed(2)}`);

  HitCharts.barChart(
    $("segments-chart"),
    target.segments.map((g) => ({ label: g.segment.replaceAll("_", " "), value: g.hit_probability, highlight: g.own })),
    pct,
  );
  HitCharts.lineChart(
    $("price-chart"),
    whatif.points.map((p) => ({ x: p.value, y: p.hit_probability, current: p.current })),
    (v) => v.toFixed(0),
    pct,
  );
}

init().catch((err) => {
  $("error").textContent = `could not load the form: ${err}`;
  $("error").hidden = false;
});
