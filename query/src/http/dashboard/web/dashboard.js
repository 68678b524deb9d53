// The dashboard: signs in with a bearer token (checked by GET /v1/whoami),
// then draws the reports of /v1/reports/* with Chart.js (a global, loaded
// by its own script tag). Everything shown comes from those endpoints, so a
// token sees exactly what its role allows: k-anonymity and the refusal of
// per-user grouping are the server's.
//
// Once drawn, each chart's container carries `data-points` (the values
// drawn) and the incidents table `data-rows`, so that a test can tell a
// drawn chart from an empty one.

const TOKEN_KEY = "aitrail.token";
const DEFAULT_DAYS = 90;
const DAY_MS = 86_400_000;

// Tableau 10, then lighter companions: distinct for up to 20 groups.
const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#79706e",
  "#a0cbe8", "#ffbe7d", "#ff9d9a", "#86bcb6", "#8cd17d",
  "#f1ce63", "#d4a6c8", "#fabfd2", "#d7b5a6", "#bab0ac",
];

/** The token was refused: sign in again. */
class Unauthorized extends Error {}

const byId = (id) => document.getElementById(id);

/** Chart instances on the page, destroyed before a redraw. */
let charts = [];
/** Increases with every load, so that a slow, superseded answer is dropped. */
let generation = 0;

/** GET `path` with `token`; the parsed JSON, or an error with the server's detail. */
async function api(path, token) {
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    cache: "no-store",
  });
  if (response.status === 401) {
    throw new Unauthorized();
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(body?.detail ?? `${response.status} ${response.statusText}`);
  }
  return body;
}

// ---- sign-in ---------------------------------------------------------------

async function signIn(token, { remember }) {
  const identity = await api("/v1/whoami", token);
  if (remember) {
    sessionStorage.setItem(TOKEN_KEY, token);
  }
  byId("who").textContent = `${identity.name} (${identity.role})`;
  byId("k-note").hidden = identity.role !== "leadership";
  byId("identity").hidden = false;
  byId("sign-in").hidden = true;
  byId("reports").hidden = false;
  await loadReports();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  generation += 1;
  clearReports();
  byId("identity").hidden = true;
  byId("reports").hidden = true;
  byId("sign-in").hidden = false;
  byId("token").value = "";
  showError("sign-in-error", message);
  byId("token").focus();
}

async function onSignIn(event) {
  event.preventDefault();
  const token = byId("token").value.trim();
  const button = byId("sign-in-form").querySelector("button");
  button.disabled = true;
  showError("sign-in-error", null);
  try {
    await signIn(token, { remember: true });
  } catch (error) {
    showError(
      "sign-in-error",
      error instanceof Unauthorized
        ? "This token is not accepted (401 unauthorized)."
        : `Signing in failed: ${error.message}`,
    );
  } finally {
    button.disabled = false;
  }
}

function showError(id, message) {
  const element = byId(id);
  element.textContent = message ?? "";
  element.hidden = !message;
}

// ---- the date range --------------------------------------------------------

const isoDate = (date) => date.toISOString().slice(0, 10);
const addDays = (iso, days) => isoDate(new Date(Date.parse(`${iso}T00:00:00Z`) + days * DAY_MS));

function setDefaultRange() {
  const today = isoDate(new Date());
  byId("to").value = today;
  byId("from").value = addDays(today, 1 - DEFAULT_DAYS);
}

/** The query string of the chosen range (`to` is exclusive in the API), or null. */
function rangeQuery() {
  const from = byId("from").value;
  const to = byId("to").value;
  if (!from || !to || from > to) {
    showError("range-error", "Choose a start date on or before the end date.");
    return null;
  }
  showError("range-error", null);
  return `from=${from}&to=${addDays(to, 1)}`;
}

// ---- loading ---------------------------------------------------------------

const CHARTS = ["adoption-by-tool", "adoption-by-team", "spend-by-team", "spend-by-model"];

function clearReports() {
  for (const chart of charts) {
    chart.destroy();
  }
  charts = [];
  for (const id of CHARTS) {
    const container = byId(id);
    container.replaceChildren();
    delete container.dataset.points;
  }
  const table = byId("incidents");
  table.tBodies[0].replaceChildren();
  delete table.dataset.rows;
  for (const id of ["rate-ai-assisted", "rate-other"]) {
    byId(id).querySelector(".rate-value").textContent = "";
    byId(id).querySelector(".rate-detail").textContent = "";
  }
  byId("incidents-status").textContent = "";
  for (const id of ["findings", "exceptions"]) {
    byId(id).tBodies[0].replaceChildren();
    delete byId(id).dataset.rows;
  }
  byId("governance-status").textContent = "";
}

async function loadReports() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const range = rangeQuery();
  if (!token || !range) {
    return;
  }
  generation += 1;
  const mine = generation;
  clearReports();
  for (const id of CHARTS) {
    byId(id).append(message("Loading…"));
  }
  byId("incidents-status").textContent = "Loading…";
  const paths = [
    `/v1/reports/adoption?${range}&bucket=week&by=tool`,
    `/v1/reports/adoption?${range}&bucket=week&by=team`,
    `/v1/reports/token-spend?${range}&bucket=month&by=team`,
    `/v1/reports/token-spend?${range}&bucket=month&by=model`,
    `/v1/reports/incidents?${range}`,
    `/v1/reports/violations?${range}&bucket=month`,
    `/v1/exceptions`,
  ];
  const results = await Promise.allSettled(paths.map((path) => api(path, token)));
  if (mine !== generation) {
    return;
  }
  if (results.some((r) => r.status === "rejected" && r.reason instanceof Unauthorized)) {
    signOut("Your token is no longer accepted; sign in again.");
    return;
  }
  const [adoptionByTool, adoptionByTeam, spendByTeam, spendByModel, incidents, violations, exceptions] =
    results;
  const teamColors = colors(adoptionByTeam, spendByTeam);
  draw("adoption-by-tool", adoptionByTool, adoptionChart, colors(adoptionByTool));
  draw("adoption-by-team", adoptionByTeam, adoptionChart, teamColors);
  draw("spend-by-team", spendByTeam, spendChart, teamColors);
  draw("spend-by-model", spendByModel, spendChart, colors(spendByModel));
  drawIncidents(incidents);
  drawGovernance(violations, exceptions);
}

// ---- charts ----------------------------------------------------------------

const groupOf = (row) => row.group ?? "(not set)";
const unique = (values) => [...new Set(values)].sort();

/** One colour per group across `results`, so a team keeps its colour in every chart. */
function colors(...results) {
  const rows = results.flatMap((r) => (r.status === "fulfilled" ? r.value.rows : []));
  const groups = unique(rows.map(groupOf));
  const assigned = new Map(groups.map((g, i) => [g, PALETTE[i % PALETTE.length]]));
  return (group) => assigned.get(group);
}

/** A lookup of `rows` by bucket and group, and both in order. */
function grid(rows) {
  const cells = new Map(rows.map((r) => [`${r.bucket_start}|${groupOf(r)}`, r]));
  return {
    buckets: unique(rows.map((r) => r.bucket_start)),
    groups: unique(rows.map(groupOf)),
    value: (bucket, group, column) => cells.get(`${bucket}|${group}`)?.[column] ?? null,
  };
}

function message(text, isError = false) {
  const element = document.createElement("p");
  element.className = isError ? "message error" : "message";
  element.textContent = text;
  return element;
}

/** Draws `result` in the container `id` with the configuration `build` makes. */
function draw(id, result, build, colorOf) {
  const container = byId(id);
  container.replaceChildren();
  if (result.status === "rejected") {
    container.append(message(`Could not load: ${result.reason.message}`, true));
    container.dataset.points = "0";
    return;
  }
  const config = build(result.value.rows, colorOf);
  const points = config.data.datasets.reduce(
    (n, dataset) => n + dataset.data.filter((v) => v !== null).length,
    0,
  );
  if (points === 0) {
    container.append(message("Nothing to show in this range."));
  } else {
    const canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `${id.replaceAll("-", " ")}: ${points} values`);
    container.append(canvas);
    charts.push(new Chart(canvas, config));
  }
  container.dataset.points = String(points);
}

const utcDate = (iso, parts) =>
  new Date(`${iso}T00:00:00Z`).toLocaleDateString("en-US", { ...parts, timeZone: "UTC" });
const shortDate = (iso) => utcDate(iso, { month: "short", day: "numeric" });
const monthName = (iso) => utcDate(iso, { month: "short", year: "numeric" });
const usd = (value) =>
  value.toLocaleString("en-US", {
    style: "currency",
    currency: "USD",
    maximumFractionDigits: value < 100 ? 2 : 0,
  });
const count = (value) => value.toLocaleString("en-US");
/** A share as a percentage, with two decimals below 10 % so that small rates compare. */
const percent = (value) => `${(value * 100).toFixed(value < 0.1 ? 2 : 1)} %`;

/** Options every chart shares. */
function baseOptions() {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: {
      legend: { position: "right", labels: { boxWidth: 14 } },
    },
  };
}

/** Active (solid) and engaged (dashed) users per week, one colour per group. */
function adoptionChart(rows, colorOf) {
  const { buckets, groups, value } = grid(rows);
  const line = (group, metric, column, dash) => ({
    label: `${group}, ${metric}`,
    group,
    metric,
    data: buckets.map((b) => value(b, group, column)),
    borderColor: colorOf(group),
    backgroundColor: colorOf(group),
    borderDash: dash,
    borderWidth: 2,
    pointRadius: 2,
    tension: 0.2,
  });
  const datasets = groups.flatMap((g) => [
    line(g, "active", "active_users", []),
    line(g, "engaged", "engaged_users", [6, 4]),
  ]);
  const options = baseOptions();
  options.interaction = { mode: "nearest", axis: "xy", intersect: false };
  options.plugins.legend.labels.generateLabels = (chart) =>
    Chart.defaults.plugins.legend.labels
      .generateLabels(chart)
      .filter((item) => chart.data.datasets[item.datasetIndex].metric === "active")
      .map((item) => ({ ...item, text: chart.data.datasets[item.datasetIndex].group }));
  options.plugins.legend.onClick = (_event, item, legend) => {
    const chart = legend.chart;
    const { group } = chart.data.datasets[item.datasetIndex];
    const visible = chart.isDatasetVisible(item.datasetIndex);
    chart.data.datasets.forEach((dataset, i) => {
      if (dataset.group === group) {
        chart.setDatasetVisibility(i, !visible);
      }
    });
    chart.update();
  };
  options.plugins.tooltip = {
    callbacks: {
      title: (items) => `Week of ${buckets[items[0].dataIndex]}`,
      label: (item) => {
        const users = `${item.dataset.label}: ${count(item.parsed.y)} users`;
        const active = item.chart.data.datasets[item.datasetIndex - 1]?.data[item.dataIndex];
        if (item.dataset.metric !== "engaged" || !active) {
          return users;
        }
        return `${users} (${percent(item.parsed.y / active)} of active)`;
      },
    },
  };
  options.scales = {
    x: { ticks: { callback: (value) => shortDate(buckets[value]) } },
    y: { beginAtZero: true, title: { display: true, text: "users" }, ticks: { precision: 0 } },
  };
  return { type: "line", data: { labels: buckets, datasets }, options };
}

/** Cost per month, stacked by group. */
function spendChart(rows, colorOf) {
  const { buckets, groups, value } = grid(rows);
  const datasets = groups.map((group) => ({
    label: group,
    data: buckets.map((b) => value(b, group, "cost_usd")),
    backgroundColor: colorOf(group),
  }));
  const options = baseOptions();
  options.interaction = { mode: "index", intersect: false };
  options.plugins.tooltip = {
    filter: (item) => item.parsed.y !== null,
    itemSort: (a, b) => b.parsed.y - a.parsed.y,
    callbacks: {
      title: (items) => monthName(buckets[items[0].dataIndex]),
      label: (item) => `${item.dataset.label}: ${usd(item.parsed.y)}`,
      footer: (items) => `Total: ${usd(items.reduce((sum, item) => sum + item.parsed.y, 0))}`,
    },
  };
  options.scales = {
    x: { stacked: true, ticks: { callback: (value) => monthName(buckets[value]) } },
    y: { stacked: true, beginAtZero: true, ticks: { callback: (v) => usd(v) } },
  };
  return { type: "bar", data: { labels: buckets, datasets }, options };
}

// ---- incidents -------------------------------------------------------------

/** A UTC timestamp as `YYYY-MM-DD HH:MM`, whether or not it names its zone. */
function utcMinute(text) {
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(text) ? text : `${text}Z`;
  const time = new Date(zoned);
  return Number.isNaN(time.getTime()) ? text : time.toISOString().slice(0, 16).replace("T", " ");
}

function compact(value) {
  return value.toLocaleString("en-US", { notation: "compact", maximumFractionDigits: 1 });
}

function drawIncidents(result) {
  const table = byId("incidents");
  const body = table.tBodies[0];
  body.replaceChildren();
  const status = byId("incidents-status");
  if (result.status === "rejected") {
    status.textContent = `Could not load: ${result.reason.message}`;
    status.className = "note error";
    table.dataset.rows = "0";
    drawRate("rate-ai-assisted", undefined);
    drawRate("rate-other", undefined);
    return;
  }
  status.className = "note";
  const { rows, summary, params } = result.value;
  byId("lookback").textContent = params.lookback_hours;
  for (const row of rows) {
    const tr = body.insertRow();
    const cell = (text, className = "") => {
      const td = tr.insertCell();
      td.textContent = text;
      td.className = className;
    };
    cell(row.incident_id);
    cell(row.severity);
    cell(row.service ?? "—");
    cell(utcMinute(row.started_at));
    cell(count(row.changes), "num");
    cell(count(row.ai_assisted_changes), "num");
    cell(row.ai_share === null ? "—" : `${Math.round(row.ai_share * 100)} %`, "num");
    cell(row.ai_tools?.length ? row.ai_tools.join(", ") : "—", "tools");
    cell(compact(row.ai_tokens ?? 0), "num");
    if (row.cause_ai_assisted === null) {
      cell("unknown");
    } else {
      cell(row.cause_ai_assisted ? "yes" : "no", row.cause_ai_assisted ? "ai-cause" : "");
    }
  }
  table.dataset.rows = String(rows.length);
  status.textContent =
    rows.length === 0 ? "No incidents to show in this range." : `${rows.length} incidents.`;
  drawRate("rate-ai-assisted", summary.ai_assisted);
  drawRate("rate-other", summary.other);
}

/**
 * The findings per rule (from single findings for compliance, from counts
 * per month and team for leadership) and the exceptions.
 */
function drawGovernance(violations, exceptions) {
  const status = byId("governance-status");
  const findings = byId("findings");
  const listed = byId("exceptions");
  if (violations.status === "rejected" || exceptions.status === "rejected") {
    const reason = (violations.reason ?? exceptions.reason).message;
    status.textContent = reason.includes("needs a governance policy")
      ? "No governance policy is configured ([governance] in aitrail.toml)."
      : `Could not load: ${reason}`;
    findings.dataset.rows = "0";
    listed.dataset.rows = "0";
    return;
  }
  const byRule = new Map();
  for (const row of violations.value.rows) {
    const totals = byRule.get(row.rule) ?? { open: 0, excepted: 0, events: 0 };
    if (row.status === undefined) {
      totals.open += row.open;
      totals.excepted += row.excepted;
    } else {
      totals[row.status] += 1;
    }
    totals.events += row.events;
    byRule.set(row.rule, totals);
  }
  const rows = (table, cells) => {
    const tr = table.tBodies[0].insertRow();
    for (const [text, className] of cells) {
      const td = tr.insertCell();
      td.textContent = text;
      td.className = className ?? "";
    }
  };
  for (const [rule, totals] of [...byRule].sort()) {
    rows(findings, [
      [rule.replaceAll("_", " ")],
      [count(totals.open), "num"],
      [count(totals.excepted), "num"],
      [count(totals.events), "num"],
    ]);
  }
  findings.dataset.rows = String(byRule.size);
  for (const row of exceptions.value.rows) {
    rows(listed, [
      [row.id],
      [row.rule.replaceAll("_", " ")],
      [row.state, `state-${row.state}`],
      [row.until],
      [count(row.findings), "num"],
    ]);
  }
  listed.dataset.rows = String(exceptions.value.rows.length);
  status.textContent = byRule.size === 0 ? "No findings in this range." : "";
}

/** One side of the change-failure summary: `null` when k-anonymity hides it. */
function drawRate(id, side) {
  const element = byId(id);
  let value = "—";
  let detail;
  if (side === undefined) {
    detail = "not loaded";
  } else if (side === null) {
    detail = "hidden: too few authors behind it";
  } else if (side.rate === null) {
    detail = "no changes in this range";
  } else {
    value = percent(side.rate);
    detail = `${count(side.failed)} of ${count(side.changes)} changes caused an incident`;
  }
  element.querySelector(".rate-value").textContent = value;
  element.querySelector(".rate-detail").textContent = detail;
}

// ---- start -----------------------------------------------------------------

function start() {
  byId("sign-in-form").addEventListener("submit", onSignIn);
  byId("sign-out").addEventListener("click", () => signOut(null));
  byId("range").addEventListener("submit", (event) => {
    event.preventDefault();
    loadReports();
  });
  setDefaultRange();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    signOut(null);
    return;
  }
  signIn(token, { remember: false }).catch((error) =>
    signOut(
      error instanceof Unauthorized
        ? "Your token is no longer accepted; sign in again."
        : `Signing in failed: ${error.message}`,
    ),
  );
}

start();
