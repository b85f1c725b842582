// rollsafe dashboard: plain JavaScript, no build step, no third-party code.
// Reads /api/v1 with the token kept in this tab (sessionStorage) and polls for live updates.
// Every value from the server is put in the page as text (never as HTML).
"use strict";

const POLL_MS = 2000;
const SIGNALS_MS = 5000;
const TOKEN_KEY = "rollsafe.token";
const SVG = "http://www.w3.org/2000/svg";
const PAGE = 20; // rows a page in the runs history and the audit trail

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  who: null,
  fleet: [],
  runs: [],
  audit: { events: [], total: 0 },
  auditQuery: { target: "", action: "", range: "", offset: 0 },
  history: { runs: [], total: 0 },
  runsQuery: { target: "", state: "", range: "", offset: 0 },
  breaker: null,
  range: "auto", // the target view's time range: auto (around the upgrade), 15m, 1h, 6h, 24h, custom
  custom: null, // {since, until} when range is "custom"
  selected: null, // {kind: "target"|"run", id}
  signalsAt: 0,
  timer: null,
};

// ------------------------------------------------------------------ helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function when(t) {
  if (t === null || t === undefined) return "";
  const d = new Date(t * 1000);
  return d.toISOString().replace("T", " ").slice(0, 19) + "Z";
}

function clock(t) {
  return new Date(t * 1000).toISOString().slice(11, 19);
}

function badge(text) {
  return h("span", { class: `badge state-${text}` }, text.replace("_", " "));
}

function can(role) {
  const ranks = { viewer: 0, operator: 1, admin: 2 };
  return state.who && ranks[state.who.role] >= ranks[role];
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: {
      Authorization: `Bearer ${state.token}`,
      ...(options.body ? { "Content-Type": "application/json" } : {}),
    },
  });
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  if (response.status === 401) {
    signOut("Your token was not accepted.");
    throw new Error("unauthorized");
  }
  if (!response.ok) {
    throw new Error((data && data.error) || `HTTP ${response.status}`);
  }
  return data;
}

function query(filters, limit) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value !== "" && value !== null) params.set(key, String(value));
  params.set("limit", String(limit));
  return params.toString();
}

function pager(box, page, filters, onChange) {
  // "rows a-b of n" with previous/next; the server bounds the page size.
  const first = page.total ? filters.offset + 1 : 0;
  const last = Math.min(filters.offset + PAGE, page.total);
  const move = (offset) => { filters.offset = offset; onChange(); };
  box.replaceChildren(
    h("button", { type: "button", class: "prev", disabled: filters.offset === 0, onclick: () => move(Math.max(0, filters.offset - PAGE)) }, "‹ newer"),
    h("span", { class: "dim page-info" }, `${first}-${last} of ${page.total}`),
    h("button", { type: "button", class: "next", disabled: last >= page.total, onclick: () => move(filters.offset + PAGE) }, "older ›"),
  );
}

function bindFilter(formId, filters) {
  document.getElementById(formId).addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    for (const key of Object.keys(filters)) if (key !== "offset") filters[key] = String(form.get(key) || "").trim();
    filters.offset = 0;
    poll();
  });
}

function fill(tbody, rows, empty) {
  tbody.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { class: "empty" }, empty))]));
}

// ------------------------------------------------------------------ sign in

function signOut(message) {
  state.token = "";
  state.who = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(state.timer);
  document.getElementById("app").hidden = true;
  document.getElementById("signout").hidden = true;
  document.getElementById("who").textContent = "";
  document.getElementById("signin").hidden = false;
  document.getElementById("signin-error").textContent = message || "";
  setLive("signed out", false);
}

async function signIn(token) {
  state.token = token;
  try {
    state.who = await api("/api/v1/whoami");
  } catch (error) {
    if (error.message !== "unauthorized") signOut(error.message);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  document.getElementById("signin").hidden = true;
  document.getElementById("app").hidden = false;
  document.getElementById("signout").hidden = false;
  document.getElementById("who").textContent = `${state.who.name} (${state.who.role})`;
  route();
  poll();
}

function setLive(text, ok) {
  const live = document.getElementById("live");
  live.textContent = text;
  live.className = ok ? "live ok" : "live down";
}

// ------------------------------------------------------------------ polling

async function poll() {
  clearTimeout(state.timer);
  try {
    const [fleet, runs, history, audit, breaker] = await Promise.all([
      api("/api/v1/fleet"),
      api("/api/v1/runs?open=true&limit=100"),
      api(`/api/v1/views/runs?${query(state.runsQuery, PAGE)}`),
      api(`/api/v1/views/audit?${query(state.auditQuery, PAGE)}`),
      api("/api/v1/breaker"),
    ]);
    state.fleet = fleet.targets;
    state.runs = runs;
    state.history = history;
    state.audit = audit;
    state.breaker = breaker;
    renderFleet();
    renderRuns();
    renderAudit();
    renderBreaker();
    await refreshDetail(false);
    if (Date.now() - (state.rolloutsAt || 0) > SIGNALS_MS) {
      state.rolloutsAt = Date.now();
      renderRollouts(await api("/api/v1/rollouts"));
    }
    setLive(`live · ${clock(fleet.now)}`, true);
  } catch (error) {
    if (error.message === "unauthorized") return;
    setLive(`offline: ${error.message}`, false);
  }
  state.timer = setTimeout(poll, POLL_MS);
}

// ------------------------------------------------------------------ fleet

function evidenceLine(target) {
  // The worst decision; among equals a rule's over the detector's own, then the newest.
  if (!target.decisions.length) return "no decision yet";
  const weight = (d) => [rank(d.severity), d.rule.startsWith("blind:") ? 0 : 1, d.time];
  const better = (a, b) => {
    const [x, y] = [weight(a), weight(b)];
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] > y[i] ? a : b;
    return a;
  };
  const shown = target.decisions.reduce(better);
  return `${shown.rule}: ${shown.summary}`;
}

function rank(severity) {
  return { ok: 0, warning: 1, critical: 2 }[severity] || 0;
}

function renderFleet() {
  const rows = state.fleet.map((t) => {
    const run = t.open_run || t.last_run;
    const selected = state.selected && state.selected.kind === "target" && state.selected.id === t.id;
    return h(
      "tr",
      {
        class: selected ? "selected clickable" : "clickable",
        "data-target": t.id,
        onclick: () => select("target", t.id),
      },
      h("td", {}, h("strong", {}, t.id), t.address ? h("div", { class: "dim" }, t.address) : null),
      h("td", {}, badge(t.state)),
      h("td", { class: "evidence" }, evidenceLine(t)),
      h(
        "td",
        {},
        run
          ? h("a", { href: `#run=${run.id}`, onclick: (e) => e.stopPropagation() }, run.state.replace("_", " "))
          : "",
      ),
    );
  });
  fill(document.querySelector("#fleet tbody"), rows, "no targets");
}

// ------------------------------------------------------------------ runs

function approvalControls(run) {
  if (run.state !== "awaiting_approval" || run.approval.decision || !can("operator")) return null;
  const reason = h("input", { class: "reason", placeholder: "reason (required to reject)", "data-run": run.id });
  const decide = async (verdict) => {
    try {
      await api(`/api/v1/runs/${encodeURIComponent(run.id)}/${verdict}`, {
        method: "POST",
        body: JSON.stringify({ reason: reason.value, via: "dashboard" }),
      });
      await poll();
    } catch (error) {
      alertBox(error.message);
    }
  };
  return h(
    "span",
    { class: "decide" },
    reason,
    h("button", { type: "button", class: "approve", "data-action": "approve", "data-run": run.id, onclick: () => decide("approve") }, "Approve"),
    h("button", { type: "button", class: "reject", "data-action": "reject", "data-run": run.id, onclick: () => decide("reject") }, "Reject"),
  );
}

function runRow(run) {
  const deadline = run.state === "awaiting_approval" && run.approval.deadline
    ? h("div", { class: "dim" }, `${run.approval.mode.replace("_", " ")} until ${when(run.approval.deadline)}`)
    : null;
  return h(
    "tr",
    { "data-run": run.id, class: "clickable", onclick: () => select("run", run.id) },
    h("td", {}, h("strong", {}, run.target), h("div", { class: "dim mono" }, run.id)),
    h("td", {}, badge(run.state), deadline),
    h("td", { class: "evidence" }, run.reason, run.error ? h("div", { class: "error" }, run.error) : null),
    h("td", { class: "dim" }, when(run.created_at), h("div", {}, `by ${run.actor}`)),
  );
}

function runRows(run) {
  // The approval controls get a row of their own under the run: side by side they squeezed
  // the reason column to one letter per line in the fleet-wide column.
  const controls = approvalControls(run);
  if (!controls) return [runRow(run)];
  return [runRow(run), h("tr", { class: "controls-row", "data-controls-for": run.id },
    h("td", { colspan: 4, onclick: (e) => e.stopPropagation() }, controls))];
}

function renderRuns() {
  const open = state.runs.filter((r) => !["succeeded", "failed", "rejected", "blocked", "dry_run"].includes(r.state));
  fill(document.querySelector("#open-runs tbody"), open.flatMap(runRows), "no open run");
  fill(document.querySelector("#past-runs tbody"), state.history.runs.map(runRow), "no run matches");
  pager(document.getElementById("runs-pager"), state.history, state.runsQuery, poll);
}

// ------------------------------------------------------------------ audit and rollouts

function renderAudit() {
  const rows = state.audit.events.map((e) =>
    h(
      "tr",
      { "data-seq": e.seq },
      h("td", { class: "dim mono" }, `#${e.seq}`),
      h("td", { class: "dim" }, when(e.time)),
      h("td", { class: "mono" }, e.action),
      h("td", {}, e.actor),
      h("td", {}, e.target || ""),
      h("td", { class: "evidence" }, e.reason || e.result || ""),
    ),
  );
  fill(document.querySelector("#audit tbody"), rows, "no audit event matches");
  pager(document.getElementById("audit-pager"), state.audit, state.auditQuery, poll);
}

// ------------------------------------------------------------------ breaker

function renderBreaker() {
  const b = state.breaker;
  const box = document.getElementById("breaker");
  if (!b) return;
  const typing = document.activeElement;
  if (typing && typing.id === "breaker-reason" && typing.value) return; // keep a reason being typed
  const lines = [h("p", {}, badge(b.open ? "tripped" : "closed"),
    b.open ? h("span", {}, ` since ${when(b.tripped_at)}: ${b.targets.length} of ${b.fleet_size} targets critical within ${b.window_s}s (${b.targets.join(", ")}); automatic rollbacks are held`)
      : h("span", { class: "dim" }, " automatic rollbacks may run"))];
  if (b.reset_at) lines.push(h("p", { class: "dim", id: "breaker-last-reset" }, `last reset ${when(b.reset_at)} by ${b.reset_by}: ${b.reset_reason}`));
  if (b.open && can("operator")) {
    const reason = h("input", { class: "reason", id: "breaker-reason", placeholder: "what did you check? (required)" });
    lines.push(h("div", { class: "controls" }, reason, h("button", {
      type: "button", "data-action": "breaker-reset",
      onclick: async () => {
        if (!reason.value.trim()) return alertBox("Give a reason for the reset.");
        try {
          await api("/api/v1/breaker/reset", { method: "POST", body: JSON.stringify({ reason: reason.value }) });
          reason.blur();
          await poll();
        } catch (error) {
          alertBox(error.message);
        }
      },
    }, "Reset breaker")));
  }
  box.replaceChildren(...lines);
}

function renderRollouts(data) {
  const box = document.getElementById("rollouts");
  if (!data.available || !data.rollouts.length) {
    box.replaceChildren(h("p", { class: "empty", id: "no-rollouts" }, "No rollouts: none has been started on this controller."));
    return;
  }
  box.replaceChildren(
    ...data.rollouts.slice().reverse().slice(0, 5).map(({ rollout, targets }) => {
      const waves = (rollout.spec && rollout.spec.waves) || [];
      const byWave = {};
      for (const t of targets) (byWave[t.wave] = byWave[t.wave] || []).push(t);
      const logOf = (index) => (rollout.wave_log || []).find((w) => w.index === index);
      return h(
        "div",
        { class: "rollout", "data-rollout": rollout.id },
        h("div", {},
          h("strong", {}, rollout.id), " ", badge(rollout.state),
          h("span", { class: "dim" }, ` plan ${rollout.plan} · wave ${Math.min(rollout.wave + 1, rollout.waves)}/${rollout.waves} · opened ${when(rollout.created_at)} by ${rollout.actor}`),
          rollout.halt_reason ? h("div", { class: "error" }, rollout.halt_reason) : null),
        h(
          "div",
          { class: "waves" },
          waves.map((wave) => {
            const log = logOf(wave.index);
            return h(
              "div",
              { class: "wave" },
              h("div", { class: "dim" }, `wave ${wave.index + 1} · ${wave.size} · bake ${wave.bake}s${log && log.outcome ? ` · ${log.outcome}` : ""}`),
              (byWave[wave.index] || []).map((t) =>
                h("span", { class: `chip state-${t.state}`, title: `${t.state}${t.failure ? `: ${t.failure}` : ""}` }, t.target)),
            );
          }),
        ),
      );
    }),
  );
}

// ------------------------------------------------------------------ detail: target or run

function select(kind, id) {
  location.hash = `${kind}=${encodeURIComponent(id)}`;
}

function route() {
  const match = /^#(target|run)=(.+)$/.exec(location.hash);
  state.selected = match ? { kind: match[1], id: decodeURIComponent(match[2]) } : null;
  state.signalsAt = 0;
  refreshDetail(true);
  renderFleet();
}

async function refreshDetail(force) {
  const sel = state.selected;
  const title = document.getElementById("detail-title");
  const box = document.getElementById("detail");
  if (!sel || !state.who) {
    title.textContent = "Select a target or a run";
    box.replaceChildren(h("p", { class: "empty" }, "Click a target to see its signals around the upgrade, or a run to see its timeline."));
    return;
  }
  try {
    if (sel.kind === "target") {
      if (!force && Date.now() - state.signalsAt < SIGNALS_MS) {
        renderTargetHeader(sel.id);
        return;
      }
      if (box.querySelector("#range-bar input:focus")) return; // a custom range being typed
      state.signalsAt = Date.now();
      const id = encodeURIComponent(sel.id);
      const judged = await api(`/api/v1/targets/${id}/judged?${rangeParams()}`);
      const [signals, points] = await Promise.all([
        api(`/api/v1/targets/${id}/signals?since=${judged.since}&until=${judged.until}`),
        api(`/api/v1/targets/${id}/restore-points`),
      ]);
      if (state.selected !== sel) return;
      title.textContent = `Target ${sel.id}`;
      box.replaceChildren(
        h("div", { id: "target-head" }),
        rangeBar(judged),
        h("h3", {}, "What the rules judged"),
        renderJudged(judged),
        h("h3", {}, "Probe values"),
        renderSignals(signals),
        renderRestorePoints(points),
      );
      renderTargetHeader(sel.id);
    } else {
      const report = await api(`/api/v1/runs/${encodeURIComponent(sel.id)}`);
      if (state.selected !== sel) return;
      title.textContent = `Run ${sel.id}`;
      box.replaceChildren(renderRun(report));
    }
  } catch (error) {
    if (error.message !== "unauthorized") box.replaceChildren(h("p", { class: "error" }, error.message));
  }
}

function renderTargetHeader(id) {
  const head = document.getElementById("target-head");
  const target = state.fleet.find((t) => t.id === id);
  if (!head || !target) return;
  const controls = [];
  if (can("operator") && !target.open_run) {
    const reason = h("input", { class: "reason", placeholder: "why roll back now?", id: "rollback-reason" });
    // A quarantined target (or an open breaker) needs a forced rollback: audited as forced.
    const force = h("input", { type: "checkbox", id: "rollback-force" });
    controls.push(
      reason,
      h("label", { title: "Go past a quarantine or an open fleet breaker (audited as forced)" },
        force, " force"),
      h("button", {
        type: "button", class: "reject", "data-action": "rollback",
        onclick: async () => {
          if (!reason.value.trim()) return alertBox("Give a reason for the rollback.");
          try {
            const run = await api(`/api/v1/targets/${encodeURIComponent(id)}/rollback`, {
              method: "POST", body: JSON.stringify({ reason: reason.value, force: force.checked }),
            });
            select("run", run.id);
          } catch (error) {
            alertBox(error.message);
          }
        },
      }, "Roll back now"),
    );
  }
  if (can("admin") && target.quarantined) {
    controls.push(h("button", {
      type: "button", "data-action": "release",
      onclick: async () => {
        const why = window.prompt("Why is it safe to act on this target again?");
        if (!why) return;
        try {
          await api(`/api/v1/targets/${encodeURIComponent(id)}/release`, { method: "POST", body: JSON.stringify({ reason: why }) });
          await poll();
        } catch (error) {
          alertBox(error.message);
        }
      },
    }, "Release quarantine"));
  }
  head.replaceChildren(...[
    h("p", {}, badge(target.state), " ", target.quarantine_reason ? h("span", { class: "error" }, `quarantined: ${target.quarantine_reason}`) : ""),
    h("table", { class: "decisions" }, h("tbody", {}, target.decisions.map((d) => {
      // A decision made before the verified rollback ended judged the version rolled back.
      const before = target.state === "recovered" && target.last_run && d.time <= target.last_run.updated_at;
      return h("tr", { class: before ? "superseded" : null },
        h("td", {}, badge(d.severity)), h("td", { class: "mono" }, d.rule),
        h("td", { class: "evidence" }, d.summary, before ? h("div", { class: "dim" }, "before the rollback: answered by it") : null),
        h("td", { class: "dim" }, when(d.time)));
    }))),
    controls.length ? h("div", { class: "controls" }, controls) : null,
    target.open_run ? h("p", {}, "Open run: ", h("a", { href: `#run=${target.open_run.id}` }, target.open_run.id), " ", approvalControls(target.open_run)) : null,
  ].filter(Boolean));
}

function renderRun(report) {
  const run = report.run;
  const facts = [
    ["target", h("a", { href: `#target=${run.target}` }, run.target)],
    ["state", badge(run.state)],
    ["trigger", run.trigger],
    ["opened by", run.actor],
    ["why", run.reason],
    ["approval", `${run.approval.mode}${run.approval.decision ? `: ${run.approval.decision} by ${run.approval.decided_by}` : ""}${run.approval.deadline ? ` (deadline ${when(run.approval.deadline)})` : ""}`],
    ["restore point", run.restore_point || ""],
    ["error", run.error ? h("span", { class: "error" }, run.error) : ""],
  ];
  const evidence = run.evidence && run.evidence.evidence ? run.evidence.evidence : run.evidence;
  return h(
    "div",
    {},
    h("table", { class: "facts" }, h("tbody", {}, facts.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v))))),
    approvalControls(run),
    h("h3", {}, "Evidence that triggered it"),
    evidence && Object.keys(evidence).length
      ? h("table", { class: "facts" }, h("tbody", {}, Object.entries(evidence).map(([k, v]) =>
          h("tr", {}, h("th", {}, k), h("td", { class: "mono" }, typeof v === "object" ? JSON.stringify(v) : String(v))))))
      : h("p", { class: "empty" }, run.trigger.startsWith("manual") ? "none (a person asked)" : "none recorded with the run"),
    h("h3", {}, "Timeline"),
    renderTimeline(report),
  );
}

// The phase an audit action belongs to; driver steps come from the step records instead.
const PHASES = [
  [/^run\.opened$/, "opened"],
  [/^run\.state\.prechecking$/, "prechecks"],
  [/^run\.(state\.awaiting_approval|approved|rejected|approval\.)/, "approval"],
  [/^run\.state\.executing$/, "execute"],
  [/^run\.state\.verifying$/, "verify"],
  [/^run\.(succeeded|failed|blocked|dry_run)$/, "end"],
];

function phaseOf(action) {
  for (const [pattern, name] of PHASES) if (pattern.test(action)) return name;
  return "other";
}

function renderTimeline(report) {
  const rows = report.audit
    .filter((e) => !e.action.startsWith("run.step."))
    .map((e) => ({ time: e.time, phase: phaseOf(e.action), node:
      [h("span", { class: "mono" }, e.action), " ", h("span", {}, e.actor), e.reason ? h("span", { class: "dim" }, ` · ${e.reason}`) : ""] }));
  for (const step of report.steps) {
    const took = step.finished_at ? ` · ${(step.finished_at - step.started_at).toFixed(1)}s` : "";
    rows.push({ time: step.started_at, phase: `step ${step.index}`, step: step.key, node: [
      h("span", { class: "mono step-key" }, step.key), " ", badge(step.state),
      h("span", { class: "dim" }, ` attempt ${step.attempt}${took}${step.finished_at ? ` · ended ${clock(step.finished_at)}` : ""}`),
      step.output ? h("div", { class: "evidence dim" }, step.output) : null] });
  }
  rows.sort((a, b) => a.time - b.time);
  if (!rows.length) return h("p", { class: "empty" }, "nothing happened yet");
  return h("ol", { class: "timeline" }, rows.map((r) =>
    h("li", { "data-phase": r.phase, "data-step": r.step || null },
      h("span", { class: "dim" }, clock(r.time)), " ", h("span", { class: "phase" }, r.phase), " ", r.node)));
}

// ------------------------------------------------------------------ time range

function rangeParams() {
  if (state.range === "custom" && state.custom) return `since=${state.custom.since}&until=${state.custom.until}`;
  if (state.range === "auto" || state.range === "custom") return "";
  return `range=${state.range}`;
}

function localInput(t) {
  // datetime-local wants local wall time without a zone.
  const d = new Date(t * 1000 - new Date(t * 1000).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

function rangeBar(judged) {
  const choose = (range) => { state.range = range; if (range !== "custom") state.custom = null; refreshDetail(true); };
  const from = h("input", { type: "datetime-local", name: "since", value: localInput(judged.since) });
  const to = h("input", { type: "datetime-local", name: "until", value: localInput(judged.until) });
  const apply = h("button", { type: "button", "data-range-apply": true, onclick: () => {
    const since = new Date(from.value).getTime() / 1000, until = new Date(to.value).getTime() / 1000;
    if (!(since < until)) return alertBox("The custom range needs a start before its end.");
    state.range = "custom";
    state.custom = { since, until };
    refreshDetail(true);
  } }, "show");
  return h("div", { id: "range-bar", class: "controls" },
    h("button", { type: "button", "data-range": "auto", class: state.range === "auto" ? "on" : "off", onclick: () => choose("auto") }, "around the upgrade"),
    ["15m", "1h", "6h", "24h"].map((r) => h("button", { type: "button", "data-range": r, class: state.range === r ? "on" : "off", onclick: () => choose(r) }, `last ${r}`)),
    h("span", { class: state.range === "custom" ? "custom on" : "custom" }, "custom ", from, " – ", to, " ", apply),
    h("span", { class: "dim", id: "range-shown" }, `${when(judged.since)} → ${when(judged.until)}`));
}

// ------------------------------------------------------------------ restore points

function renderRestorePoints(data) {
  const points = data.restore_points.slice(0, 10);
  const upgrades = data.upgrades.slice(0, 10);
  return h("div", { id: "restore-points" },
    h("h3", {}, "Restore points"),
    h("table", {}, h("tbody", {}, points.length ? points.map((p) =>
      h("tr", { "data-point": p.id },
        h("td", { class: "mono" }, p.id), h("td", { class: "dim" }, when(p.created_at)), h("td", {}, p.label || ""),
        h("td", {}, p.restored_by.length ? p.restored_by.map((r) => h("div", {}, "restored by ", h("a", { href: `#run=${r.id}` }, r.id), " ", badge(r.state))) : h("span", { class: "dim" }, "never restored")))) :
      h("tr", {}, h("td", { class: "empty" }, "no restore point")))),
    h("h3", {}, "Upgrades"),
    h("table", {}, h("tbody", {}, upgrades.length ? upgrades.map((u) =>
      h("tr", { "data-upgrade": u.seq },
        h("td", { class: "dim" }, when(u.time)), h("td", { class: "mono" }, u.action),
        h("td", { class: "version" }, `${u.before || "?"} → ${u.after || "?"}`,
          u.packages.slice(0, 5).map((p) => h("div", { class: "dim package" }, `${p.name} ${p.old || "(new)"} → ${p.new || "(removed)"}`)),
          u.packages_total > 5 ? h("div", { class: "dim" }, `and ${u.packages_total - 5} more`) : null),
        h("td", {}, u.actor), h("td", { class: "evidence" }, u.note || ""))) :
      h("tr", {}, h("td", { class: "empty" }, "no upgrade recorded")))));
}

// ------------------------------------------------------------------ judged charts

function renderJudged(data) {
  const box = h("div", { class: "charts judged" });
  if (!data.rules.length) {
    box.append(h("p", { class: "empty" }, "No rule decided on this target in this range."));
    return box;
  }
  // A rule with no number of its own and no warning or worse has nothing to show.
  const telling = data.rules.filter((r) => r.points.length || data.decisions.some((d) => d.rule === r.rule && d.severity !== "ok"));
  for (const rule of telling) box.append(judgedChart(rule, data));
  box.append(h("p", { class: "dim legend" },
    h("span", { class: "key judged" }, "— judged value"), " ",
    h("span", { class: "key threshold" }, "— — limit"), " ",
    h("span", { class: "key band" }, "▒ baseline → limit band"), " ",
    h("span", { class: "key upgrade" }, "| upgrade"), " ",
    h("span", { class: "key run" }, "▭ rollback run")));
  return box;
}

function stepPath(points, key, x, y, t1) {
  const usable = points.filter((p) => p[key] !== null && p[key] !== undefined);
  if (!usable.length) return "";
  let d = `M${x(usable[0].time).toFixed(1)},${y(usable[0][key]).toFixed(1)}`;
  for (let i = 1; i < usable.length; i++) {
    d += ` H${x(usable[i].time).toFixed(1)} V${y(usable[i][key]).toFixed(1)}`;
  }
  return d + ` H${x(t1).toFixed(1)}`; // the last outcome holds until the rule decides again
}

function judgedChart(rule, data) {
  const W = 720, H = 170, L = 48, R = 12, T = 14, B = 24;
  const t0 = data.since, t1 = Math.max(data.until, t0 + 1);
  const pts = rule.points;
  const values = pts.flatMap((p) => [p.value, p.limit, p.baseline]).filter((v) => v !== null && v !== undefined);
  let lo = values.length ? Math.min(...values) : 0, hi = values.length ? Math.max(...values) : 1;
  if (lo === hi) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.1;
  lo -= pad; hi += pad;
  const x = (t) => L + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart judged-chart", role: "img", "data-rule": rule.rule, "data-kind": rule.kind, "aria-label": `${rule.rule} judged ${rule.quantity || ""}` });
  svg.append(s("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "plot" }));
  for (const run of data.runs) {
    const a = x(run.start), b = x(run.end === null ? t1 : run.end);
    svg.append(s("rect", { x: a, y: T, width: Math.max(b - a, 2), height: H - T - B, class: `run-span run-${run.state}`, "data-run": run.id }, s("title", {}, `rollback run ${run.id}: ${run.state}, ${when(run.start)} → ${run.end ? when(run.end) : "open"}`)));
    svg.append(s("line", { x1: a, x2: a, y1: T, y2: H - B, class: "run-start" }));
    if (run.end !== null) svg.append(s("line", { x1: b, x2: b, y1: T, y2: H - B, class: "run-end" }));
  }
  if (pts.length) {
    for (const v of [lo + pad, (lo + hi) / 2, hi - pad]) svg.append(s("text", { x: L - 4, y: y(v) + 4, class: "axis", "text-anchor": "end" }, fmt(v)));
  }
  for (const [t, anchor] of [[t0, "start"], [(t0 + t1) / 2, "middle"], [t1, "end"]]) {
    svg.append(s("text", { x: x(t), y: H - 6, class: "axis", "text-anchor": anchor }, clock(t)));
  }
  // The band: from the baseline up to the limit the rule allows, as each decision saw them.
  const banded = pts.filter((p) => p.baseline !== null && p.limit !== null);
  banded.forEach((p, i) => {
    const end = i + 1 < banded.length ? banded[i + 1].time : t1;
    svg.append(s("rect", { x: x(p.time), y: y(p.limit), width: Math.max(x(end) - x(p.time), 1), height: Math.max(y(p.baseline) - y(p.limit), 1), class: "band" }));
  });
  const baseline = stepPath(pts, "baseline", x, y, t1);
  if (baseline) svg.append(s("path", { d: baseline, class: "baseline" }));
  const limit = stepPath(pts, "limit", x, y, t1);
  if (limit) {
    svg.append(s("path", { d: limit, class: "limit threshold" }, s("title", {}, `limit ${rule.op || ""} ${fmt(pts[pts.length - 1].limit)}`)));
    svg.append(s("text", { x: L + 4, y: y(pts[pts.length - 1].limit) - 4, class: "threshold-label" }, `limit ${fmt(pts[pts.length - 1].limit)}`));
  }
  const judged = stepPath(pts, "value", x, y, t1);
  if (judged) svg.append(s("path", { d: judged, class: "judged series" }));
  for (const p of pts) svg.append(s("circle", { cx: x(p.time), cy: y(p.value), r: 3, class: `point sev-${p.severity}` }, s("title", {}, `${when(p.time)} ${fmt(p.value)} → ${p.severity}`)));
  for (const mark of data.marks) {
    svg.append(s("line", { x1: x(mark.time), x2: x(mark.time), y1: T, y2: H - B, class: `mark mark-${mark.name}` }));
    svg.append(s("text", { x: x(mark.time) + 3, y: H - B - 4, class: `mark-label mark-${mark.name}` }, mark.name));
  }
  for (const d of data.decisions.filter((d) => d.rule === rule.rule && d.severity !== "ok")) {
    const cx = x(d.time);
    svg.append(s("path", { d: `M${cx - 5},${T} L${cx + 5},${T} L${cx},${T + 8} Z`, class: `decision sev-${d.severity}` }, s("title", {}, `${when(d.time)} ${d.rule} → ${d.severity}: ${d.summary}`)));
  }
  const last = pts[pts.length - 1];
  return h("figure", { "data-rule": rule.rule },
    h("figcaption", {}, h("strong", {}, rule.rule), h("span", { class: "dim" }, ` · ${rule.kind}`),
      rule.quantity ? ` · ${rule.quantity}` : h("span", { class: "dim" }, " · decisions only (no number of its own)"),
      last ? h("span", { class: "dim" }, ` · last ${fmt(last.value)}${last.limit !== null ? ` vs limit ${fmt(last.limit)}` : ""}${last.baseline !== null ? ` (baseline ${fmt(last.baseline)})` : ""}`) : ""),
    svg);
}

// ------------------------------------------------------------------ charts

function chartField(source, thresholds, points) {
  const t = thresholds.find((x) => x.source === source && x.value !== null);
  if (t) return t.field;
  if (points.some((p) => p.value !== null)) return "value";
  if (points.some((p) => p.latency !== null)) return "latency";
  return "status";
}

function renderSignals(data) {
  const box = h("div", { class: "charts" });
  if (!data.series.length) {
    box.append(h("p", { class: "empty" }, "No observations in this window."));
    return box;
  }
  for (const series of data.series) {
    // One chart per field a rule compares (status, latency ...), else the most telling one.
    const fields = [...new Set(data.thresholds
      .filter((t) => t.source === series.source && t.value !== null)
      .map((t) => t.field))];
    if (!fields.length) fields.push(chartField(series.source, data.thresholds, series.points));
    for (const field of fields) box.append(chart(series, field, data));
  }
  box.append(h("p", { class: "dim legend" },
    h("span", { class: "key threshold" }, "— — rule threshold"), " ",
    h("span", { class: "key upgrade" }, "| upgrade / rollback"), " ",
    h("span", { class: "key critical" }, "▼ decision (colour = severity)"), " ",
    h("span", { class: "key error" }, "× probe error")));
  return box;
}

function chart(series, field, data) {
  const W = 720, H = 170, L = 48, R = 12, T = 14, B = 24;
  const t0 = data.since, t1 = Math.max(data.until, t0 + 1);
  const points = series.points.filter((p) => p[field] !== null && p[field] !== undefined && !p.error);
  const errors = series.points.filter((p) => p.error);
  const lines = data.thresholds.filter((x) => x.source === series.source && x.field === field && x.value !== null);
  const notes = data.thresholds.filter((x) => x.source === series.source && x.value === null);
  const values = points.map((p) => p[field]).concat(lines.map((x) => x.value));
  let lo = values.length ? Math.min(...values) : 0, hi = values.length ? Math.max(...values) : 1;
  if (lo === hi) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.1;
  lo -= pad; hi += pad;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "data-source": series.source, "data-field": field, "aria-label": `${series.source} ${field}` });
  svg.append(s("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "plot" }));
  for (const v of [lo + pad, (lo + hi) / 2, hi - pad]) {
    svg.append(s("text", { x: L - 4, y: y(v) + 4, class: "axis", "text-anchor": "end" }, fmt(v)));
  }
  for (const [t, anchor] of [[t0, "start"], [(t0 + t1) / 2, "middle"], [t1, "end"]]) {
    svg.append(s("text", { x: x(t), y: H - 6, class: "axis", "text-anchor": anchor }, clock(t)));
  }
  for (const mark of data.marks) {
    if (mark.time < t0 || mark.time > t1) continue;
    svg.append(s("line", { x1: x(mark.time), x2: x(mark.time), y1: T, y2: H - B, class: `mark mark-${mark.name}` }));
    svg.append(s("text", { x: x(mark.time) + 3, y: H - B - 4, class: `mark-label mark-${mark.name}` }, mark.name));
  }
  const labelled = {}; // rules at the same limit stack their labels instead of overprinting
  for (const line of lines) {
    svg.append(s("line", { x1: L, x2: W - R, y1: y(line.value), y2: y(line.value), class: `threshold sev-${line.severity}` }, s("title", {}, `${line.rule}: ${line.label}`)));
    const above = y(line.value) > T + 14;
    const nth = labelled[line.value] = (labelled[line.value] || 0) + 1;
    const dy = (above ? -4 : 12) + (nth - 1) * (above ? -11 : 11);
    svg.append(s("text", { x: L + 4, y: y(line.value) + dy, class: `threshold-label sev-${line.severity}` }, `${line.rule}: ${line.label}`));
  }
  if (points.length) {
    const path = points.map((p, i) => `${i ? "L" : "M"}${x(p.time).toFixed(1)},${y(p[field]).toFixed(1)}`).join(" ");
    svg.append(s("path", { d: path, class: "series" }));
    for (const line of lines) {
      for (const p of points) {
        if (breaches(p[field], line.op, line.value)) svg.append(s("circle", { cx: x(p.time), cy: y(p[field]), r: 2.5, class: `breach sev-${line.severity}` }));
      }
    }
  }
  for (const p of errors) {
    svg.append(s("text", { x: x(p.time), y: H - B - 3, class: "probe-error", "text-anchor": "middle" }, "×", s("title", {}, p.error)));
  }
  // A decision is marked on the charts of the signals its rule reads; composite rules on all.
  const mine = new Set(data.thresholds.filter((t) => t.source === series.source).map((t) => t.rule));
  const known = new Set(data.thresholds.map((t) => t.rule));
  for (const d of data.decisions) {
    const blind = d.rule.startsWith("blind:");
    if (blind ? d.rule.slice(6) !== series.source : !(mine.has(d.rule) || !known.has(d.rule))) continue;
    const cx = x(d.time);
    svg.append(s("path", { d: `M${cx - 5},${T} L${cx + 5},${T} L${cx},${T + 8} Z`, class: `decision sev-${d.severity}` }, s("title", {}, `${when(d.time)} ${d.rule} → ${d.severity}: ${d.summary}`)));
    svg.append(s("line", { x1: cx, x2: cx, y1: T + 8, y2: H - B, class: `decision-line sev-${d.severity}` }));
  }
  return h("figure", {},
    h("figcaption", {}, h("strong", {}, series.source), ` · ${field}`, notes.map((n) => h("span", { class: "dim" }, ` · ${n.rule}: ${n.label}`))),
    svg);
}

function breaches(v, op, limit) {
  switch (op) {
    case ">": return v > limit;
    case ">=": return v >= limit;
    case "<": return v < limit;
    case "<=": return v <= limit;
    case "==": return v === limit;
    case "!=": return v !== limit;
    default: return false;
  }
}

function fmt(v) {
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function alertBox(message) {
  const box = h("div", { class: "toast", role: "alert" }, message);
  document.body.append(box);
  setTimeout(() => box.remove(), 6000);
}

// ------------------------------------------------------------------ start

bindFilter("runs-filter", state.runsQuery);
bindFilter("audit-filter", state.auditQuery);

document.getElementById("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn(document.getElementById("token").value.trim());
});
document.getElementById("signout").addEventListener("click", () => signOut(""));
window.addEventListener("hashchange", route);
if (state.token) signIn(state.token);
else signOut("");
