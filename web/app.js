// The status page: logs in for a token (kept in sessionStorage), then polls the ZDM API and
// renders jobs (with their restore proof), running progress, history, restores and drills,
// partitions, repositories and missed runs; browses restore points, downloads from them and
// starts restores.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN = "zdm-token";
let timer = null;

function token() {
  return sessionStorage.getItem(TOKEN);
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + token() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  if (r.status === 401) {
    logout("Your session has ended; log in again.");
    throw new Error("unauthorized");
  }
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

// Builds an element: el("td", {class: "x"}, "text", child, ...).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

function fill(tbody, rows, empty, cols) {
  tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: cols, class: "muted" }, empty))]));
}

function size(n) {
  if (n === null || n === undefined) return "-";
  const u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

function showLogin(message) {
  $("login").hidden = false;
  $("dashboard").hidden = true;
  $("session").hidden = true;
  $("login-error").textContent = message || "";
  $("password").focus();
}

function logout(message) {
  sessionStorage.removeItem(TOKEN);
  clearTimeout(timer);
  showLogin(message);
}

async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  const r = await fetch("/api/token/issue", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: $("email").value, password: $("password").value }),
  });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) {
    $("login-error").textContent = j.error || "Login failed.";
    return;
  }
  sessionStorage.setItem(TOKEN, j.data.token);
  sessionStorage.setItem("zdm-user", $("email").value);
  $("password").value = "";
  start();
}

async function act(id, status, button) {
  button.disabled = true;
  try {
    await api("PUT", "/api/backups/" + encodeURIComponent(id), { status });
    $("notice").hidden = true;
  } catch (e) {
    if (e.message !== "unauthorized") notice(`Could not ${status} the job: ${e.message}`);
  }
  refresh();
}

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = false;
}

const ACTIVE = ["Preparing", "Processing", "Canceling"];

function renderRunning(monitor) {
  const runs = (monitor?.job || []).filter((j) => ACTIVE.includes(j.progressInfo.status));
  const box = $("running");
  if (!runs.length) {
    box.replaceChildren(el("p", { class: "muted" }, "Nothing is running."));
    return;
  }
  box.replaceChildren(...runs.map((j) => {
    const p = j.progressInfo;
    const pct = parseInt(p.percent, 10) || 0;
    return el("div", { class: "run", "data-job": j.info.name },
      el("div", {}, el("strong", {}, j.info.name), " ", el("span", { class: "status " + p.status }, p.status),
        " ", el("span", { class: "muted" }, p.phase || "")),
      el("div", { class: "bar", role: "progressbar", "aria-label": "Progress of " + j.info.name,
        "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(pct) },
        el("div", { style: `width:${pct}%` })),
      el("div", { class: "meta" },
        el("span", { class: "percent" }, p.percent),
        el("span", {}, `${size(p.bytesDone)} of ${size(p.bytesTotal)}`),
        el("span", {}, `${p.filesDone ?? 0} of ${p.filesTotal ?? 0} files`),
        el("span", {}, `${size(p.bytesPerSecond)}/s`),
        el("span", {}, `elapsed ${p.elapsed}`),
        el("span", {}, `ETA ${p.eta}`)),
      el("div", { class: "path" }, p.currentPath || ""));
  }));
}

function renderJobs(jobs) {
  const rows = jobs.map((item) => {
    const i = item.job.info;
    const s = i.status.current;
    const last = i.lastRun === "-" ? null : i.lastRun;
    const sched = [i.schedule.basic, i.schedule.advanced].filter((x) => x !== "-").map((x) => x.description).join(" ");
    const running = ACTIVE.includes(s);
    return el("tr", { "data-job": i.name, class: s === "Error" ? "failed" : null },
      el("td", {}, i.name),
      el("td", { class: "path" }, i.partition),
      el("td", {}, i.mode),
      el("td", {}, sched || "-"),
      el("td", {}, i.nextRun),
      el("td", { class: "status " + s }, s),
      el("td", {}, last ? el("span", { class: last.result === "COMPLETE" ? "ok" : "error" },
        `${last.result} ${last.end}`, last.error !== "-" ? el("div", { class: "error" }, last.error) : "") : "-"),
      el("td", {}, String(i.restorePointCount ?? "-")),
      proofCell(i),
      el("td", { class: "path" }, `${item.repository.type} ${item.repository.path}`),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "secondary", onclick: () => openBrowser(i.name, i.partition), "aria-label": "Restore points of " + i.name }, "Points"),
        " ",
        running
        ? el("button", { type: "button", class: "secondary", onclick: (e) => act(i.id, "stop", e.target), "aria-label": "Stop " + i.name }, "Stop")
        : el("button", { type: "button", onclick: (e) => act(i.id, "start", e.target), "aria-label": "Start " + i.name }, "Start")));
  });
  fill($("jobs").tBodies[0], rows, "No jobs yet: register one with POST /api/backups.", 11);
  jobsByName = new Map(jobs.map((j) => [j.job.info.name, j]));
}

// Whether a restore drill proved the job restorable (R10): a warning when never, failed, or
// older than the drill's interval.
function proofCell(i) {
  const t = i.lastRestoreTest;
  const text = {
    ok: () => `yes, ${t.at}`,
    stale: () => `stale: last proven ${t.at}`,
    failed: () => `FAILED ${t.at}`,
    never: () => "never proven",
  }[i.restoreProof]();
  const cls = i.restoreProof === "ok" ? "ok" : i.restoreProof === "failed" ? "error" : "warn";
  return el("td", { class: "proof " + cls, "data-proof": i.restoreProof },
    i.restoreProof === "ok" ? "" : el("span", { "aria-hidden": "true" }, "⚠ "), text,
    t ? el("div", { class: "muted" }, t.recoveryJob) : "");
}

function renderRecoveries(runs) {
  const rows = runs.map((h) => {
    const failed = h.result.status === "FAIL";
    const running = h.result.status === "RUNNING";
    return el("tr", { class: failed ? "failed" : null, "data-recovery": String(h.id) },
      el("td", {}, String(h.id)),
      el("td", {}, h.job.name),
      el("td", {}, h.trigger),
      el("td", { class: "path" }, h.backup.map((b) => `${b.jobName} ${b.fileName}`).join(", ") || "-"),
      el("td", {}, h.time.start),
      el("td", {}, h.time.elapsed),
      el("td", { class: failed ? "error" : running ? "status Processing" : "ok" }, h.result.status),
      el("td", { class: h.result.verify.status === "mismatch" ? "error" : null }, h.result.verify.status),
      el("td", { class: failed ? "error" : null }, h.result.description));
  });
  fill($("recoveries").tBodies[0], rows, "No restores yet.", 9);
}

function renderHistory(history) {
  const rows = history.map((h) => {
    const failed = h.result.status === "FAIL";
    const missed = h.result.status === "MISSED" || h.result.status === "SKIPPED";
    const running = h.result.status === "RUNNING";
    return el("tr", { class: failed ? "failed" : missed ? "missed" : null, "data-history": String(h.id) },
      el("td", {}, String(h.id)),
      el("td", {}, h.job.name),
      el("td", {}, h.run.trigger),
      el("td", {}, h.run.kind),
      el("td", {}, h.time.start),
      el("td", {}, h.time.elapsed),
      el("td", { class: failed ? "error" : missed ? "warn" : running ? "status Processing" : "ok" }, h.result.status),
      el("td", { class: failed ? "error" : null }, h.result.description));
  });
  fill($("history").tBodies[0], rows, "No runs yet.", 8);
  const missed = history.filter((h) => h.run.state === "missed");
  $("missed").replaceChildren(...(missed.length
    ? missed.map((h) => el("li", { class: "warn" }, `${h.job.name}: ${h.result.description}`))
    : [el("li", { class: "muted" }, "None.")]));
}

function renderPartitions(parts, jobs) {
  const rows = parts.map((p) => {
    const covering = jobs.filter((j) => j.job.info.partition === p.letter).map((j) => j.job.info.name);
    return el("tr", {},
      el("td", { class: "path" }, p.letter),
      el("td", {}, p.size.formatted),
      el("td", {}, `${p.used.formatted} (${p.usage}%)`),
      el("td", {}, covering.join(", ") || el("span", { class: "muted" }, "not backed up")));
  });
  fill($("partitions").tBodies[0], rows, "No partitions found.", 4);
}

function renderRepositories(repos) {
  const rows = repos.map((r) => el("tr", {},
    el("td", { class: "path" }, r.remotePath),
    el("td", {}, r.type),
    el("td", {}, r.freeFormatted),
    el("td", {}, r.usage === null ? "-" : `${r.usage}%`)));
  fill($("repositories").tBodies[0], rows, "No repositories registered.", 4);
}

// The restore point browser: one directory per request, directories first, paged.
const PAGE = 50;
const browse = { job: null, root: "/", path: "/", page: 1, search: "", selected: new Set() };

async function openBrowser(job, partition) {
  Object.assign(browse, { job, root: partition, path: partition, page: 1, search: "" });
  browse.selected.clear();
  $("browser").hidden = false;
  $("browser-job").textContent = job;
  $("browser-error").textContent = "";
  try {
    const imgs = await api("GET", `/api/backups/${encodeURIComponent(job)}/images`);
    $("browser-point").replaceChildren(...imgs.data.map((x) =>
      el("option", { value: x.image.name }, `${x.image.createdAt} · ${x.image.type} · ${x.image.size.formatted}`)));
    if (!imgs.data.length) {
      $("browser-error").textContent = "This job has no restore points yet.";
      $("files").tBodies[0].replaceChildren();
      return;
    }
    await loadDir();
    $("browser-point").focus();
  } catch (e) {
    if (e.message !== "unauthorized") $("browser-error").textContent = e.message;
  }
}

function crumbs() {
  const rel = browse.path === browse.root ? "" : browse.path.slice(browse.root.replace(/\/$/, "").length + 1);
  const parts = rel ? rel.split("/") : [];
  const items = [el("li", {}, el("button", { type: "button", onclick: () => go(browse.root) }, browse.root))];
  let at = browse.root.replace(/\/$/, "");
  for (const p of parts) {
    at = at + "/" + p;
    const target = at;
    items.push(el("li", {}, el("button", { type: "button", onclick: () => go(target) }, p)));
  }
  $("browser-crumbs").replaceChildren(...items);
}

function go(path) {
  Object.assign(browse, { path, page: 1, search: "" });
  $("browser-query").value = "";
  loadDir();
}

async function loadDir() {
  const point = $("browser-point").value;
  const q = new URLSearchParams({ path: browse.path, page: String(browse.page), limit: String(PAGE) });
  if (browse.search) q.set("search", browse.search);
  $("browser-error").textContent = "";
  try {
    const r = await api("GET", `/api/backups/${encodeURIComponent(browse.job)}/images/${encodeURIComponent(point)}/files?${q}`);
    crumbs();
    const rows = r.data.map((f) => {
      const dir = f.type === "dir";
      const name = dir
        ? el("button", { type: "button", class: "linkish", onclick: () => go(f.path) }, f.name + "/")
        : el("a", { href: "#", class: "download", onclick: (ev) => { ev.preventDefault(); download([f.path]); } }, f.name);
      const box = el("input", { type: "checkbox", "aria-label": "Select " + f.name, checked: browse.selected.has(f.path),
        onchange: (ev) => { ev.target.checked ? browse.selected.add(f.path) : browse.selected.delete(f.path); $("browser-download").disabled = !browse.selected.size; } });
      return el("tr", { "data-path": f.path, "data-type": f.type },
        el("td", {}, box),
        el("td", { class: "path" }, name, f.linkTarget ? el("span", { class: "muted" }, " → " + f.linkTarget) : ""),
        el("td", {}, dir ? "" : f.size.formatted),
        el("td", {}, f.mtime),
        el("td", {}, f.mode),
        el("td", {}, `${f.owner ?? f.uid}:${f.group ?? f.gid}`),
        el("td", { class: "muted" }, f.writtenIn));
    });
    fill($("files").tBodies[0], rows, browse.search ? "Nothing matches." : "This folder is empty.", 7);
    const p = r.pagination;
    $("browser-page").textContent = p ? `Page ${p.currentPage} of ${Math.max(p.totalPages, 1)} · ${p.totalItems} entries` : "";
    $("browser-prev").disabled = !p || !p.hasPreviousPage;
    $("browser-next").disabled = !p || !p.hasNextPage;
  } catch (e) {
    if (e.message !== "unauthorized") $("browser-error").textContent = e.message;
  }
}

// The restore dialog: registers a recovery job that starts now, then follows its progress.
let jobsByName = new Map();
let restoreTimer = null;
let restoreId = null;

function openRestore() {
  const job = jobsByName.get(browse.job);
  if (!job) return;
  $("restore").hidden = false;
  $("restore-job").textContent = browse.job;
  $("restore-point").replaceChildren(...[...$("browser-point").options].map((o) =>
    el("option", { value: o.value, selected: o.selected }, o.textContent)));
  const chosen = browse.selected.size ? [...browse.selected] : browse.path === browse.root ? [] : [browse.path];
  $("restore-paths").value = chosen.join("\n");
  if (!$("restore-target").value) $("restore-target").value = "/srv/restore/" + browse.job;
  $("restore-error").textContent = "";
  $("restore-progress").hidden = true;
  $("restore-start").disabled = false;
  $("restore-target").focus();
}

async function startRestore(ev) {
  ev.preventDefault();
  const job = jobsByName.get(browse.job);
  const paths = $("restore-paths").value.split("\n").map((x) => x.trim()).filter(Boolean);
  const part = { sourcePartition: job.job.info.partition, targetPartition: $("restore-target").value.trim(),
    backupJob: browse.job, backupFile: $("restore-point").value, overwritePolicy: $("restore-policy").value };
  if (paths.length) part.paths = paths;
  $("restore-error").textContent = "";
  $("restore-start").disabled = true;
  try {
    const r = await api("POST", "/api/recoveries", {
      center: 1, source: 1, target: 1, repository: { id: Number(job.repository.id) }, mode: "full",
      autoStart: "use", verify: $("restore-verify").checked ? "use" : "not use", jobList: [part] });
    restoreId = r.data.id;
    $("restore-progress").hidden = false;
    $("restore-stop").hidden = false;
    followRestore();
  } catch (e) {
    $("restore-start").disabled = false;
    if (e.message !== "unauthorized") $("restore-error").textContent = e.message;
  }
}

async function followRestore() {
  clearTimeout(restoreTimer);
  if (restoreId === null) return;
  try {
    const m = await api("GET", `/api/recoveries/monitoring/job/${restoreId}`);
    const p = m.data.job.details[0].progressInfo;
    const pct = parseInt(p.percent, 10) || 0;
    const bar = $("restore-progress").querySelector(".bar");
    bar.setAttribute("aria-valuenow", String(pct));
    bar.firstElementChild.style.width = pct + "%";
    const done = ["Complete", "Error", "Canceled"].includes(p.status);
    $("restore-status").textContent = done
      ? `${p.status}: ${p.message}`
      : `${p.status} ${p.percent} · ${size(p.bytes.done)} of ${size(p.bytes.total)} · ${p.files.done} of ${p.files.total} files · ${p.rate} · ETA ${p.eta}`;
    $("restore-status").className = p.status === "Complete" ? "ok" : done ? "error" : "";
    if (done) {
      $("restore-stop").hidden = true;
      $("restore-start").disabled = false;
      restoreId = null;
      refresh();
      return;
    }
  } catch (e) {
    if (e.message === "unauthorized") return;
    $("restore-error").textContent = e.message;
  }
  restoreTimer = setTimeout(followRestore, 500);
}

async function stopRestore() {
  if (restoreId === null) return;
  try {
    await api("PUT", `/api/recoveries/${restoreId}`, { center: 1, status: "stop" });
  } catch (e) {
    if (e.message !== "unauthorized") $("restore-error").textContent = e.message;
  }
}

// A signed, single-use link for the selection (a folder or several paths come as a tar).
async function downloadLink(paths) {
  const point = $("browser-point").value;
  const one = paths.length === 1 && document.querySelector(`#files tr[data-path="${CSS.escape(paths[0])}"]`)?.dataset.type === "file";
  const r = await api("POST", `/api/backups/${encodeURIComponent(browse.job)}/images/${encodeURIComponent(point)}/download-url`,
    one ? { paths } : { paths, format: "tar" });
  return r.data.url;
}

async function download(paths) {
  try {
    const url = await downloadLink(paths);
    const a = el("a", { href: url, download: "" });
    document.body.append(a);
    a.click();
    a.remove();
  } catch (e) {
    if (e.message !== "unauthorized") $("browser-error").textContent = e.message;
  }
}

async function refresh() {
  clearTimeout(timer);
  let busy = false;
  try {
    const [jobs, history, parts, repos, server, recoveries] = await Promise.all([
      api("GET", "/api/backups?detail=true&sort=asc"),
      api("GET", "/api/backups/histories?page=1&limit=25"),
      api("GET", "/api/servers/1/partitions"),
      api("GET", "/api/zdms/repositories"),
      api("GET", "/api/servers/1"),
      api("GET", "/api/recoveries/histories?page=1&limit=15"),
    ]);
    const monitor = jobs.data.length ? (await api("GET", "/api/backups/monitoring/system/1")).data : null;
    $("server").textContent = server.data.name ? "· " + server.data.name : "";
    renderRunning(monitor);
    renderJobs(jobs.data);
    renderHistory(history.data);
    renderRecoveries(recoveries.data);
    renderPartitions(parts.data, jobs.data);
    renderRepositories(repos.data);
    busy = jobs.data.some((j) => ACTIVE.includes(j.job.info.status.current));
    $("updated").textContent = "Updated " + new Date().toLocaleTimeString();
  } catch (e) {
    if (e.message === "unauthorized") return;
    notice("Could not load the status: " + e.message);
  }
  timer = setTimeout(refresh, busy ? 1000 : 5000);
}

function start() {
  $("login").hidden = true;
  $("dashboard").hidden = false;
  $("session").hidden = false;
  $("who").textContent = sessionStorage.getItem("zdm-user") || "";
  refresh();
}

$("login-form").addEventListener("submit", login);
$("browser-point").addEventListener("change", () => { browse.page = 1; loadDir(); });
$("browser-search").addEventListener("submit", (ev) => { ev.preventDefault(); browse.search = $("browser-query").value.trim(); browse.page = 1; loadDir(); });
$("browser-prev").addEventListener("click", () => { browse.page--; loadDir(); });
$("browser-next").addEventListener("click", () => { browse.page++; loadDir(); });
$("browser-download").addEventListener("click", () => download([...browse.selected]));
$("browser-close").addEventListener("click", () => { $("browser").hidden = true; });
$("browser-restore").addEventListener("click", openRestore);
$("restore-form").addEventListener("submit", startRestore);
$("restore-stop").addEventListener("click", stopRestore);
$("restore-close").addEventListener("click", () => { $("restore").hidden = true; });
$("logout").addEventListener("click", () => logout());
if (token()) start(); else showLogin();
