// troupe console: the small script behind the server-rendered pages. It
// calls the /v2 API through /api/v2 (the session's CSRF token in a header),
// follows live changes with server-sent events and streams logs.
'use strict';

const csrf = document.body.dataset.csrf || '';
const loadedAt = Date.now();

function $(sel, root) { return (root || document).querySelector(sel); }
function $$(sel, root) { return Array.from((root || document).querySelectorAll(sel)); }

// flash shows an error message at the top of the page.
function flash(msg) {
    const el = $('#flash');
    el.textContent = msg;
    el.hidden = !msg;
    if (msg) el.scrollIntoView({ block: 'nearest' });
}

// api calls the /v2 API and returns the JSON "data", or throws an Error
// with the API's message.
async function api(method, path, body, type) {
    const init = { method, headers: { 'X-CSRF-Token': csrf } };
    if (body !== undefined) {
        init.body = body;
        init.headers['Content-Type'] = type || 'application/json';
    }
    let res;
    try {
        res = await fetch('/api/v2' + path, init);
    } catch (e) {
        throw new Error('troupe did not answer: ' + e.message);
    }
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
    if (!res.ok) {
        const msg = json && json.error ? json.error.message + ' (' + json.error.type + ')' : res.status + ' ' + res.statusText;
        throw new Error(msg);
    }
    return json && json.data !== undefined ? json.data : json;
}

// confirmed asks the user through the page's dialog; resolves to a boolean.
function confirmed(question) {
    if (!question) return Promise.resolve(true);
    let dlg = $('#confirm');
    if (!dlg) {
        dlg = document.createElement('dialog');
        dlg.id = 'confirm';
        dlg.innerHTML = '<p></p><form method="dialog"><button value="no" id="confirm-no">Cancel</button> <button value="yes" id="confirm-yes" class="danger">Yes</button></form>';
        document.body.appendChild(dlg);
    }
    $('p', dlg).textContent = question;
    dlg.returnValue = '';
    dlg.showModal();
    return new Promise((resolve) => dlg.addEventListener('close', () => resolve(dlg.returnValue === 'yes'), { once: true }));
}

function fmtMillis(ms) {
    if (ms < 1000) return ms + ' ms';
    const s = ms / 1000;
    if (s < 60) return s.toFixed(1) + ' s';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + Math.floor(s % 60) + 's';
    return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
}

function fmtTime(iso) {
    return iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '';
}

function setStatus(el, status) {
    el.textContent = status;
    el.className = 'status s-' + status.toLowerCase();
}

const terminal = new Set(['SUCCEEDED', 'FAILED', 'TIMED-OUT', 'ABORTED']);

// Durations of live runs count up between updates.
function tickDurations() {
    for (const el of $$('[data-running]')) {
        el.textContent = fmtMillis(Number(el.dataset.ms) + Date.now() - Number(el.dataset.since || loadedAt));
    }
}

function setDuration(el, run) {
    el.dataset.ms = run.stats.durationMillis;
    el.dataset.since = Date.now();
    if (terminal.has(run.status)) delete el.dataset.running; else el.dataset.running = '';
    el.textContent = fmtMillis(run.stats.durationMillis);
}

// Runs list: each row follows its run; on the first page, a new run
// reloads the rows (at most once a second).
function runsList(table) {
    let es = null, busy = false, again = false;
    function connect() {
        if (es) es.close();
        if (!table.dataset.live && !('first' in table.dataset)) return;
        const q = new URLSearchParams({ ids: table.dataset.live });
        if ('first' in table.dataset) q.set('new', '1');
        es = new EventSource('/events/runs?' + q);
        es.addEventListener('run', (ev) => {
            const run = JSON.parse(ev.data);
            const row = document.getElementById('run-' + run.id);
            if (!row) return;
            setStatus($('[data-field=status]', row), run.status);
            $('[data-field=statusMessage]', row).textContent = run.statusMessage || '';
            setDuration($('[data-field=duration]', row), run);
        });
        es.addEventListener('gone', (ev) => {
            const row = document.getElementById('run-' + JSON.parse(ev.data).id);
            if (row) row.classList.add('gone');
        });
        es.addEventListener('new', refresh);
    }
    async function refresh() {
        if (busy) { again = true; return; }
        busy = true;
        try {
            const res = await fetch(location.href);
            if (res.ok) {
                const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
                const fresh = doc.getElementById('runs');
                if (fresh) {
                    table.tBodies[0].replaceWith(document.adoptNode(fresh.tBodies[0]));
                    table.dataset.live = fresh.dataset.live;
                    $('#runs-total').textContent = doc.getElementById('runs-total').textContent;
                    for (const el of $$('[data-running]', table)) el.dataset.since = Date.now();
                    connect();
                }
            }
        } finally {
            setTimeout(() => { busy = false; if (again) { again = false; refresh(); } }, 1000);
        }
    }
    connect();
}

// Log viewer: streams the log, filters it by the search box, follows the
// end while "follow" is checked.
function logViewer(pre) {
    const search = $('#log-search'), follow = $('#log-follow'), state = $('#log-state');
    let text = '', ctrl = null;
    function show() {
        const q = search.value.toLowerCase();
        pre.textContent = q ? text.split('\n').filter((l) => l.toLowerCase().includes(q)).join('\n') : text;
        if (follow.checked) pre.scrollTop = pre.scrollHeight;
    }
    search.addEventListener('input', show);
    async function stream() {
        if (ctrl) ctrl.abort();
        ctrl = new AbortController();
        const mine = ctrl;
        text = '';
        show();
        state.textContent = 'streaming…';
        try {
            const res = await fetch(pre.dataset.src, { signal: mine.signal });
            if (!res.ok) throw new Error('the log could not be read (' + res.status + ')');
            const reader = res.body.getReader();
            const dec = new TextDecoder();
            for (;;) {
                const { value, done } = await reader.read();
                if (done) break;
                text += dec.decode(value, { stream: true });
                show();
            }
            state.textContent = 'end of log';
        } catch (e) {
            if (mine.signal.aborted) return;
            state.textContent = e.message;
        }
    }
    stream();
    return { restart: stream };
}

// Run page: live status, log and operations.
function runPage(box) {
    const id = box.dataset.run;
    const log = logViewer($('#log'));
    let wasTerminal = box.dataset.terminal === 'true';
    const es = new EventSource('/events/runs/' + id);
    es.addEventListener('run', (ev) => {
        const run = JSON.parse(ev.data);
        setStatus($('#status'), run.status);
        $('#status-message').textContent = run.statusMessage || '';
        $('#finished').textContent = fmtTime(run.finishedAt);
        $('#exit-code').textContent = run.exitCode == null ? '' : run.exitCode;
        setDuration($('#duration'), run);
        $('#stats').textContent = JSON.stringify(run.stats, null, 2);
        $('#options').textContent = JSON.stringify(run.options, null, 2);
        const link = $('#build-link');
        link.textContent = run.buildNumber;
        link.href = '/builds/' + run.buildId;
        const isTerminal = terminal.has(run.status);
        if (wasTerminal && !isTerminal) log.restart(); // resurrected: a new stream
        wasTerminal = isTerminal;
        box.dataset.terminal = isTerminal;
    });
    es.addEventListener('gone', () => { es.close(); flash('This run was deleted.'); });

    const path = '/actor-runs/' + id;
    const ops = {
        'abort': () => api('POST', path + '/abort'),
        'abort-graceful': () => api('POST', path + '/abort?gracefully=true'),
        'reboot': () => api('POST', path + '/reboot'),
        'delete': async () => { await api('DELETE', path); location.assign('/runs'); },
        'resurrect': (f) => api('POST', path + '/resurrect?' + params(f, ['build', 'memory', 'timeout'])),
        'metamorph': (f) => {
            const p = new URLSearchParams({ targetActorId: f.target.value });
            if (f.build.value) p.set('build', f.build.value);
            return api('POST', path + '/metamorph?' + p, checkJSON(f.input.value, 'Input'));
        },
        'status-message': (f) => api('PUT', path, JSON.stringify({
            statusMessage: f.message.value, isStatusMessageTerminal: f.terminal.checked,
        })),
    };
    bindOps(ops);
}

function params(form, names) {
    const p = new URLSearchParams();
    for (const n of names) if (form[n].value !== '') p.set(n, form[n].value);
    return p;
}

function checkJSON(text, what) {
    try { JSON.parse(text); } catch (e) { throw new Error(what + ' is not valid JSON: ' + e.message); }
    return text;
}

// bindOps wires buttons and forms with data-op to the operations in ops;
// data-confirm asks first. A failure is shown as a message.
function bindOps(ops) {
    async function run(el, name, form) {
        flash('');
        const btn = form ? $('button', form) : el;
        if (!(await confirmed((form ? $('[data-confirm]', form) : el)?.dataset.confirm))) return;
        btn.disabled = true;
        try {
            await ops[name](form, el);
        } catch (e) {
            flash(e.message);
        } finally {
            btn.disabled = false;
        }
    }
    for (const el of $$('button[data-op]')) {
        if (ops[el.dataset.op]) el.addEventListener('click', () => run(el, el.dataset.op));
    }
    for (const f of $$('form[data-op]')) {
        if (ops[f.dataset.op]) f.addEventListener('submit', (ev) => { ev.preventDefault(); run(f, f.dataset.op, f); });
    }
}

// Build page and actor page: build, build again, abort a build, new version.
const buildOps = {
    'build': async (_, el) => {
        const b = await api('POST', '/actors/' + el.dataset.actor + '/builds?version=' + encodeURIComponent(el.dataset.version));
        location.assign('/builds/' + b.id);
    },
    'build-abort': (_, el) => api('POST', '/actor-builds/' + el.dataset.build + '/abort'),
    'new-version': async (f) => {
        const files = JSON.parse(checkJSON(f.sourceFiles.value, 'SOURCE_FILES'));
        const actor = f.dataset.actor;
        await api('POST', '/actors/' + actor + '/versions', JSON.stringify({
            versionNumber: f.versionNumber.value, sourceType: 'SOURCE_FILES', sourceFiles: files,
            buildTag: f.buildTag.value || undefined,
        }));
        if (!f.build.checked) { location.reload(); return; }
        const b = await api('POST', '/actors/' + actor + '/builds?version=' + encodeURIComponent(f.versionNumber.value));
        location.assign('/builds/' + b.id);
    },
};

function buildPage(box) {
    logViewer($('#log'));
    const es = new EventSource('/events/builds/' + box.dataset.build);
    es.addEventListener('build', (ev) => {
        const b = JSON.parse(ev.data);
        setStatus($('#status'), b.status);
        $('#finished').textContent = fmtTime(b.finishedAt);
    });
}

// Start form: the input from the schema's fields (or raw JSON), then start.
function startForm(f) {
    bindOps({
        'start': async () => {
            let body;
            if (f.useRaw && f.useRaw.checked) {
                body = checkJSON(f.raw.value, 'The raw input');
            } else {
                const input = {};
                for (const label of $$('.field', f)) {
                    const name = label.dataset.field, type = label.dataset.type;
                    const el = f.elements['in.' + name];
                    if (type === 'boolean') { input[name] = el.checked; continue; }
                    const v = el.value;
                    if (v === '') continue;
                    if (type === 'integer' || type === 'number') {
                        const n = Number(v);
                        if (!Number.isFinite(n) || (type === 'integer' && !Number.isInteger(n))) {
                            throw new Error((label.firstElementChild.textContent || name).trim() + ' must be ' + (type === 'integer' ? 'a whole number' : 'a number'));
                        }
                        input[name] = n;
                    } else if ((type === 'array' || type === 'object') && el.tagName === 'TEXTAREA') {
                        input[name] = JSON.parse(checkJSON(v, name));
                    } else {
                        input[name] = v;
                    }
                }
                body = JSON.stringify(input);
            }
            const run = await api('POST', '/actors/' + f.dataset.actor + '/runs?' + params(f, ['build', 'memory', 'timeout']), body);
            location.assign('/runs/' + run.id);
        },
    });
}

// Tasks, schedules and webhooks: create, run, enable, test, delete.
function boxData(sel, key) { const el = $(sel); return el ? el.dataset[key] : ''; }
const automationOps = {
    'task-create': async (f) => {
        const input = JSON.parse(checkJSON(f.input.value || '{}', 'Input'));
        const t = await api('POST', '/actor-tasks', JSON.stringify({ actId: f.actId.value, name: f.name.value, input }));
        location.assign('/tasks/' + t.id);
    },
    'task-run': async () => {
        const run = await api('POST', '/actor-tasks/' + boxData('#task', 'task') + '/runs');
        location.assign('/runs/' + run.id);
    },
    'task-delete': async () => { await api('DELETE', '/actor-tasks/' + boxData('#task', 'task')); location.assign('/tasks'); },
    'schedule-create': async (f) => {
        const action = { type: f.type.value };
        if (action.type === 'RUN_ACTOR_TASK') action.actorTaskId = f.taskId.value; else action.actorId = f.actorId.value;
        const body = { cronExpression: f.cron.value, timezone: f.timezone.value, isEnabled: f.enabled.checked, actions: [action] };
        if (f.name.value) body.name = f.name.value;
        const s = await api('POST', '/schedules', JSON.stringify(body));
        location.assign('/schedules/' + s.id);
    },
    'schedule-enable': async (_, el) => {
        await api('PUT', '/schedules/' + boxData('#schedule', 'schedule'), JSON.stringify({ isEnabled: el.dataset.enabled === 'true' }));
        location.reload();
    },
    'schedule-delete': async () => { await api('DELETE', '/schedules/' + boxData('#schedule', 'schedule')); location.assign('/schedules'); },
    'webhook-create': async (f) => {
        const eventTypes = $$('input[name=eventTypes]:checked', f).map((el) => el.value);
        const condition = {};
        if (f.taskId.value) condition.actorTaskId = f.taskId.value; else if (f.actorId.value) condition.actorId = f.actorId.value;
        const body = { eventTypes, condition, requestUrl: f.requestUrl.value };
        if (f.payloadTemplate.value) body.payloadTemplate = f.payloadTemplate.value;
        const w = await api('POST', '/webhooks', JSON.stringify(body));
        location.assign('/webhooks/' + w.id);
    },
    'webhook-test': async () => { await api('POST', '/webhooks/' + boxData('#webhook', 'webhook') + '/test'); location.reload(); },
    'webhook-delete': async () => { await api('DELETE', '/webhooks/' + boxData('#webhook', 'webhook')); location.assign('/webhooks'); },
};

document.addEventListener('DOMContentLoaded', () => {
    const back = $('[data-back]');
    if (back) back.addEventListener('click', (ev) => { ev.preventDefault(); history.back(); });
    const runs = $('#runs');
    if (runs) runsList(runs);
    const run = $('#run');
    if (run) runPage(run);
    const build = $('#build');
    if (build) buildPage(build);
    if ($('#build') || $('#versions')) bindOps(buildOps);
    const start = $('#start-form');
    if (start) startForm(start);
    if ($('#task-form') || $('#task') || $('#schedule-form') || $('#schedule') || $('#webhook-form') || $('#webhook')) bindOps(automationOps);
    setInterval(tickDurations, 1000);
});
