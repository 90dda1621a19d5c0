/**
 * `yolo-lab classroom init` and the Hub it configures, for real: the
 * configuration written here starts the real JupyterHub (pip) with the real
 * configurable-http-proxy (npm) and DockerSpawner on this Docker engine (host
 * networking: it has no bridge). Two students log in with the test
 * authenticator's shared password, each gets a yolo-lab container of their
 * own, trains in it through the Hub's proxy, and neither can read the
 * other's files or reach the other's server. The GPU policies are checked on
 * the configuration itself: this engine has no NVIDIA runtime.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import dns from 'node:dns';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import Docker from 'dockerode';
import { chromium } from 'playwright-core';

import { explain, IMAGE, workDir, yoloLab } from './helpers';
import { KernelClient } from './kernel';

const docker = new Docker();
/** The venv with jupyterhub and dockerspawner (scripts/setup.sh): $YOLO_LAB_PYTHON's, else the repository's. */
const VENV_BIN = process.env.YOLO_LAB_PYTHON
  ? dirname(process.env.YOLO_LAB_PYTHON)
  : join(__dirname, '..', '..', '..', '.venv', 'bin');
const PROXY = join(__dirname, '..', '..', 'node_modules', '.bin', 'configurable-http-proxy');
const PASSWORD = randomBytes(12).toString('hex');
/** The teachers' password (the test authenticator wants 32 characters or more). */
const ADMIN_PASSWORD = randomBytes(20).toString('hex');
/** Debian's Chromium, as the UI tests use it (scripts/setup.sh --tests). */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SERVICE_TOKEN = randomBytes(24).toString('hex');
/**
 * carol's "server": answers every request 200 and writes down its method,
 * path and headers in her folder (/workspace/requests.jsonl).
 */
const RECORDER = [
  'import http.server, json, os, urllib.parse',
  'url = urllib.parse.urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])',
  'class H(http.server.BaseHTTPRequestHandler):',
  '    def answer(self):',
  '        with open("/workspace/requests.jsonl", "a") as f:',
  '            f.write(json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers)}) + "\\n")',
  '        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")',
  '    do_GET = do_POST = do_PUT = do_DELETE = answer',
  'http.server.ThreadingHTTPServer((url.hostname, url.port), H).serve_forever()'
].join('\n');
/** Container names of this run only: a real class on this machine is never touched. */
const PREFIX = `yolo-lab-class-test-${randomBytes(3).toString('hex')}`;

const work = workDir('yolo-lab-classroom-test-');
const hubDir = join(work, 'hub');
const studentsDir = join(work, 'students');
const runsDir = join(work, 'runs');
/** A host folder a student's links point at: its owner and contents must never change. */
const hostDir = join(work, 'host-secrets');
const datasetsDir = join(work, 'datasets');
const courseDir = join(work, 'course');

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    // A failed assertion in the probe ends the wait; a refused connection does not.
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${hubLog.slice(-4000)}`);
    await new Promise(done => setTimeout(done, 250));
  }
}

/** Whether a process runs (a zombie waiting for its parent does not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

let hub: ChildProcess | undefined;
let hubLog = '';
/** Processes a Hub started that may outlive it (its class service), ended by their pid. */
const orphans: number[] = [];
let origin = '';

/** Start the class Hub from hubDir (test_config.py) and wait until its API answers. */
async function startHub(): Promise<void> {
  hub = spawn(join(VENV_BIN, 'jupyterhub'), ['-f', 'test_config.py'], {
    cwd: hubDir,
    env: {
      ...process.env,
      PATH: `${VENV_BIN}:${process.env.PATH}`,
      YOLO_LAB_HUB_PASSWORD: PASSWORD,
      YOLO_LAB_HUB_PASSWORD_ADMIN: ADMIN_PASSWORD,
      CLASSROOM_TEST_TOKEN: SERVICE_TOKEN
    },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  hub.stdout!.on('data', chunk => (hubLog += chunk));
  hub.stderr!.on('data', chunk => (hubLog += chunk));
  await until('the Hub', 60_000, async () => {
    assert.equal(hub!.exitCode, null, `the Hub exited:\n${hubLog}`);
    const response = await fetch(`${origin}/hub/api/`).catch(() => undefined);
    return response?.status === 200 ? true : undefined;
  });
}

/** The pids of the processes whose parent is `pid`. */
function children(pid: number): number[] {
  return readdirSync('/proc')
    .filter(entry => /^\d+$/.test(entry))
    .filter(entry => {
      try {
        return Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The class's name: the Hub at class.test, each user's server at <name>.class.test (--domain). */
const DOMAIN = 'class.test';
let port = 0;

/** Where `name`'s server is: a host of its own. */
function userOrigin(name: string): string {
  return `http://${name}.${DOMAIN}:${port}`;
}

// class.test and its subdomains are this machine, for this process (fetch and
// ws look names up through dns.lookup) as for Chromium (--host-resolver-rules).
const lookup = dns.lookup;
(dns as { lookup: unknown }).lookup = (host: string, options: unknown, callback?: unknown) => {
  const done = (typeof options === 'function' ? options : callback) as (...a: unknown[]) => void;
  const opts = (typeof options === 'object' && options) || {};
  if (host === DOMAIN || host.endsWith(`.${DOMAIN}`)) {
    if ((opts as { all?: boolean }).all) return done(null, [{ address: '127.0.0.1', family: 4 }]);
    return done(null, '127.0.0.1', 4);
  }
  return (lookup as (...a: unknown[]) => void)(host, options, callback);
};

function api(path: string, token: string, init: RequestInit = {}): Promise<Response> {
  const user = /^\/user\/([^/]+)\//.exec(path);
  return fetch(`${user ? userOrigin(user[1]) : origin}${path}`, {
    ...init,
    headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' }
  });
}

/** Log in through the Hub's REST API with the shared password; returns the user's token. */
async function login(name: string, password: string): Promise<Response> {
  return fetch(`${origin}/hub/api/users/${name}/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ auth: { username: name, password }, note: 'classroom test', expires_in: 3600 })
  });
}

async function startServer(name: string, token: string): Promise<void> {
  const started = await api(`/hub/api/users/${name}/server`, token, { method: 'POST' });
  assert.ok(
    [201, 202].includes(started.status),
    `${started.status} ${await started.text()}\n${hubLog.slice(-4000)}`
  );
  await until(`${name}'s server`, 120_000, async () => {
    const user = (await (await api(`/hub/api/users/${name}`, token)).json()) as {
      servers?: Record<string, { ready: boolean }>;
    };
    return user.servers?.['']?.ready ? true : undefined;
  });
}

async function stopServer(name: string, token: string): Promise<void> {
  const stopped = await api(`/hub/api/users/${name}/server`, token, { method: 'DELETE' });
  assert.ok([202, 204].includes(stopped.status), `${stopped.status} ${await stopped.text()}`);
  await until(`${name}'s server to stop`, 60_000, async () => {
    const user = (await (await api(`/hub/api/users/${name}`, token)).json()) as {
      servers?: Record<string, unknown>;
    };
    return user.servers?.[''] === undefined ? true : undefined;
  });
}

/** What carol's planted server was sent (RECORDER), oldest first. */
function recorded(name: string): { method: string; path: string; headers: Record<string, string> }[] {
  const file = join(studentsDir, name, 'requests.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(line => line.trim())
    .map(line => JSON.parse(line));
}

/** Start `name`'s server when it must be refused; returns what the Hub says of the failure. */
async function refusedStart(name: string, token: string): Promise<string> {
  const started = await api(`/hub/api/users/${name}/server`, token, { method: 'POST' });
  const said = await started.text();
  if (started.status >= 400) return said;
  // Still pending: the progress stream ends with the failure and its message.
  const progress = await api(`/hub/api/users/${name}/server/progress`, token);
  return await progress.text();
}

/** A folder's owner, mode and entries with their contents. */
function snapshot(dir: string): string {
  const st = statSync(dir);
  const entries = readdirSync(dir)
    .sort()
    .map(e => `${e}=${readFileSync(join(dir, e), 'utf8')}`);
  return JSON.stringify([st.uid, st.mode & 0o7777, entries]);
}

/**
 * Log in as the teacher in Chromium, open JupyterLab's yolo-lab panel and
 * wait for the Class section to show `user`'s row with `training`.
 */
async function teacherPanelShows(user: string, training: RegExp, token: string): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: bash scripts/setup.sh --tests installs Debian's chromium`);
  }
  // No "Jupyter news?" toast over the panel: the teacher's setting, by the REST API.
  const quiet = await api(
    '/user/teacher/lab/api/settings/@jupyterlab/apputils-extension:notification',
    token,
    { method: 'PUT', body: JSON.stringify({ raw: '{"fetchNews": "false"}' }) }
  );
  assert.equal(quiet.status, 204, await quiet.text());
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', `--host-resolver-rules=MAP ${DOMAIN} 127.0.0.1, MAP *.${DOMAIN} 127.0.0.1`]
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${origin}/hub/login`);
    await page.getByLabel('Username').fill('teacher');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/hub\/(home|spawn)|\/user\/teacher\//);
    await page.goto(`${userOrigin('teacher')}/user/teacher/lab`);
    await page.getByRole('tab', { name: /yolo-lab: GPU environment/ }).click({ timeout: 120_000 });
    const table = page.getByRole('table', { name: 'The class' });
    const row = table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: user }) });
    await row.getByText(training).waitFor({ timeout: 60_000 });
    const cells = await row.getByRole('cell').allTextContents();
    const speed = Number(cells[cells.length - 2]);
    assert.ok(speed > 0, `images/s in the teacher's panel: ${cells.join(' | ')}`);
    // The same class in a main-area tab, where the table has room.
    await page.getByRole('button', { name: 'Open the class in a tab' }).click();
    const tab = page.locator('#yl-class-tab');
    await tab
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: user }) })
      .getByText(training)
      .waitFor({ timeout: 30_000 });
    // YOLO_LAB_CLASS_SHOT=FILE.png keeps a picture of the tab (for the README).
    if (process.env.YOLO_LAB_CLASS_SHOT) {
      await tab.screenshot({ path: process.env.YOLO_LAB_CLASS_SHOT });
    }
  } finally {
    await browser.close();
  }
}

/** `yolo-lab classroom init --out OUT ...ARGS`. */
function classroomInit(out: string, ...args: string[]): ReturnType<typeof yoloLab> {
  return yoloLab(['classroom', 'init', '--out', out, ...args]);
}

async function classContainers(): Promise<Docker.ContainerInfo[]> {
  const all = await docker.listContainers({ all: true, filters: { label: ['yolo-lab.classroom=1'] } });
  return all.filter(c => c.Names.some(n => n.startsWith(`/${PREFIX}-`)));
}

describe('yolo-lab classroom init: the file and its checks', () => {
  test('writes a commented jupyterhub_config.py and refuses to replace it without --force', async () => {
    const out = join(work, 'init');
    const first = await classroomInit(
      out,
      '--students',
      'ann,ben',
      '--gpus',
      'none',
      '--domain',
      'class.example.edu'
    );
    assert.equal(first.code, 0, explain(first));
    const file = join(out, 'jupyterhub_config.py');
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^STUDENTS = \["ann", "ben"\]/m);
    assert.match(text, /^SUBDOMAIN_HOST = "https:\/\/class\.example\.edu"/m, 'each user on a subdomain');
    assert.match(text, /raise SystemExit\("jupyterhub_config.py: choose an authenticator/);
    assert.ok(
      existsSync(join(out, 'yolo_lab_class.py')) && existsSync(join(out, 'yolo_lab_relay.py')),
      'the folders, the class service and the relays it loads, beside it'
    );
    writeFileSync(file, text + '# the teacher edited this\n');
    const again = await classroomInit(out, '--single-origin');
    assert.equal(again.code, 2, explain(again));
    assert.match(again.stderr, /exists: nothing was written\. Pass --force/);
    assert.match(readFileSync(file, 'utf8'), /the teacher edited this/, 'nothing lost');
    const forced = await classroomInit(out, '--force', '--single-origin');
    assert.equal(forced.code, 0, explain(forced));
    assert.match(readFileSync(file, 'utf8'), /^SUBDOMAIN_HOST = None/m, 'one origin, as asked');
    assert.match(readFileSync(`${file}.bak`, 'utf8'), /the teacher edited this/, 'the old one kept as .bak');
  });

  test('names a GPU plan that cannot work before the Hub ever starts', async () => {
    for (const [args, message] of [
      [['--gpus', 'each', '--gpu-ids', '0', '--students', 'a,b'], /2 students, 1 GPUs/],
      [['--gpus', 'shared'], /--mem-fraction 0\.2/],
      [['--gpus', 'round-robin'], /--gpu-ids/],
      [['--gpus', 'shared', '--mem-fraction', '1.5'], /0 < F <= 1/],
      [['--gpu-ids', 'cuda:0', '--gpus', 'each'], /neither a GPU index nor/],
      [['--auth', 'github'], /set up in the file/],
      [['--mem-limit', '512m'], /under 1 GiB/],
      [['--cpus', 'two'], /number of CPU cores/]
    ] as const) {
      const run = await classroomInit(join(work, 'refused'), '--single-origin', ...args);
      assert.equal(run.code, 2, explain(run));
      assert.match(run.stderr, message);
    }
    // Where the students' browsers go: chosen, never left to a default.
    for (const [args, message] of [
      [[], /--domain class\.example\.edu gives each user an origin of their own/],
      [['--domain', 'class.example.edu', '--single-origin'], /exclude each other/],
      [['--domain', 'localhost'], /not a host name with a dot/],
      [['--domain', 'https://class.example.edu/hub'], /not a host name/]
    ] as const) {
      const run = await classroomInit(join(work, 'refused'), ...args);
      assert.equal(run.code, 2, explain(run));
      assert.match(run.stderr, message);
    }
    assert.ok(!existsSync(join(work, 'refused', 'jupyterhub_config.py')));
  });

  test('each GPU policy becomes the DeviceRequests and share the file says (no NVIDIA runtime here)', async () => {
    const plans: Record<string, unknown> = {};
    for (const [policy, extra] of [
      ['each', ['--gpu-ids', '0,MIG-5c9b1a2e-0001']],
      ['round-robin', ['--gpu-ids', '0,1']],
      ['shared', ['--gpu-ids', '1', '--mem-fraction', '0.25']]
    ] as const) {
      const out = join(work, `gpus-${policy}`);
      const run = await classroomInit(
        out,
        '--students',
        'ann,ben',
        '--gpus',
        policy,
        '--single-origin',
        ...extra
      );
      assert.equal(run.code, 0, explain(run));
      // The file as the Hub loads it (get_config gives a traitlets Config),
      // then its gpu_plan for the first student, the second, and a teacher
      // (not in STUDENTS) whose Hub user id is 3.
      const python = spawnSync(
        join(VENV_BIN, 'python'),
        [
          '-c',
          [
            'import json, sys',
            'from traitlets.config import Config',
            "ns = {'get_config': Config, '__file__': sys.argv[1]}",
            "src = open(sys.argv[1]).read().replace('raise SystemExit', 'pass  #')",
            "exec(compile(src, sys.argv[1], 'exec'), ns)",
            'plans = []',
            'for index in (0, 1, None):',
            '    try: plans.append(ns["gpu_plan"](index, 3))',
            '    except ValueError as e: plans.append(str(e))',
            'print(json.dumps(plans))'
          ].join('\n'),
          join(out, 'jupyterhub_config.py')
        ],
        { encoding: 'utf8' }
      );
      assert.equal(python.status, 0, python.stderr);
      plans[policy] = JSON.parse(python.stdout);
    }
    const gpu = (ids: string[]) => [{ Driver: 'nvidia', Capabilities: [['gpu']], DeviceIDs: ids }];
    const each = plans.each as unknown[];
    assert.deepEqual(each.slice(0, 2), [
      [gpu(['0']), {}],
      [gpu(['MIG-5c9b1a2e-0001']), {}]
    ]);
    assert.match(String(each[2]), /not one of them/, 'a user outside STUDENTS gets no GPU under "each"');
    assert.deepEqual(plans['round-robin'], [
      [gpu(['0']), {}],
      [gpu(['1']), {}],
      [gpu(['1']), {}]
    ]);
    const share = { YOLO_LAB_GPU_MEMORY_FRACTION: '0.25' };
    assert.deepEqual(plans.shared, [
      [gpu(['1']), share],
      [gpu(['1']), share],
      [gpu(['1']), share]
    ]);
  });
});

describe('the class Hub: two students, each in a yolo-lab container of their own', () => {
  const tokens: Record<string, string> = {};

  before(async () => {
    await docker.ping();
    await docker.getImage(IMAGE).inspect();
    for (const tool of [join(VENV_BIN, 'jupyterhub'), PROXY]) {
      if (!existsSync(tool)) {
        throw new Error(
          `${tool} is missing: bash scripts/setup.sh installs jupyterhub and dockerspawner; npm ci in launcher/ the proxy`
        );
      }
    }
    for (const dir of [studentsDir, runsDir, datasetsDir, courseDir, hostDir])
      mkdirSync(dir, { mode: 0o755 });
    writeFileSync(join(hostDir, 'secret.txt'), "the host's\n", { mode: 0o600 });
    writeFileSync(join(datasetsDir, 'classes.txt'), 'circle\nsquare\n');
    const notebook = { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 };
    writeFileSync(join(courseDir, 'lesson1.ipynb'), JSON.stringify(notebook));
    port = await freePort();
    const [hubApi, proxyApi] = [await freePort(), await freePort()];
    origin = `http://${DOMAIN}:${port}`;
    const init = await classroomInit(
      hubDir,
      '--image',
      IMAGE,
      '--students',
      'alice,bob,carol',
      '--admins',
      'teacher',
      '--students-dir',
      studentsDir,
      '--runs-dir',
      runsDir,
      '--mem-limit',
      '6g',
      '--cpus',
      '1.5',
      '--datasets',
      datasetsDir,
      '--notebooks',
      courseDir,
      '--shm-size',
      '1g',
      '--port',
      String(port),
      '--domain',
      `http://${DOMAIN}:${port}`,
      '--auth',
      'dummy'
    );
    assert.equal(init.code, 0, explain(init));
    // The generated file unchanged, loaded by a test file that adds what a
    // test needs: free ports, the proxy from launcher/node_modules, an admin
    // service token (from the environment), this run's container names, and
    // carol's server replaced by one that records every request it gets (no
    // token that opens another server may ever be among them).
    writeFileSync(
      join(hubDir, 'test_config.py'),
      [
        'import os',
        'load_subconfig("jupyterhub_config.py")  # noqa: F821',
        'c = get_config()  # noqa: F821',
        `c.JupyterHub.hub_port = ${hubApi}`,
        `c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:${proxyApi}"`,
        `c.ConfigurableHTTPProxy.command = [${JSON.stringify(PROXY)}]`,
        'c.JupyterHub.services.append({"name": "classroom-test", "api_token": os.environ["CLASSROOM_TEST_TOKEN"]})',
        'c.JupyterHub.load_roles.append({"name": "classroom-test", "scopes": ["admin:users", "admin:servers", "read:tokens"], "services": ["classroom-test"]})',
        `c.DockerSpawner.name_template = "${PREFIX}-{username}"`,
        'prepare = c.Spawner.pre_spawn_hook',
        'def recording_for_carol(spawner):',
        '    prepare(spawner)',
        '    if spawner.user.name == "carol":',
        `        spawner.cmd = ["python", "-c", ${JSON.stringify(RECORDER)}]`,
        'c.Spawner.pre_spawn_hook = recording_for_carol',
        ''
      ].join('\n')
    );
    await startHub();
  });

  after(async () => {
    // Stop the servers, then the Hub (it stops its proxy); whatever
    // survives is ended by its pid, and the containers removed.
    for (const name of ['alice', 'bob', 'carol', 'teacher']) {
      await api(`/hub/api/users/${name}/server`, SERVICE_TOKEN, { method: 'DELETE' }).catch(() => undefined);
    }
    const proxyPidFile = join(hubDir, 'jupyterhub-proxy.pid');
    const proxyPid = existsSync(proxyPidFile) ? Number(readFileSync(proxyPidFile, 'utf8').trim()) : undefined;
    if (hub?.pid !== undefined && hub.exitCode === null) {
      const exited = new Promise(done => hub!.once('exit', done));
      hub.kill('SIGTERM');
      await Promise.race([exited, new Promise(done => setTimeout(done, 30_000))]);
      if (hub.exitCode === null && hub.signalCode === null) hub.kill('SIGKILL');
    }
    // Only the proxy this Hub started: its pid file, and its command line says so.
    const ours = (pid: number): boolean => {
      try {
        return alive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('configurable-http-proxy');
      } catch {
        return false;
      }
    };
    if (proxyPid !== undefined && ours(proxyPid)) process.kill(proxyPid, 'SIGTERM');
    for (const pid of orphans) if (alive(pid)) process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 50 && proxyPid !== undefined && alive(proxyPid); i++) {
      await new Promise(done => setTimeout(done, 100));
    }
    for (const c of await classContainers()) await docker.getContainer(c.Id).remove({ force: true });
    assert.deepEqual(await classContainers(), [], 'no student container left');
    assert.ok(proxyPid === undefined || !alive(proxyPid), 'the proxy ended');
    rmSync(work, { recursive: true, force: true });
  });

  test('alice and bob log in through the Hub API with the shared password; a wrong one is refused', async () => {
    for (const name of ['alice', 'bob', 'carol']) {
      const response = await login(name, PASSWORD);
      const body = await response.text();
      assert.equal(response.status, 201, body);
      tokens[name] = (JSON.parse(body) as { token: string }).token;
    }
    assert.equal((await login('alice', 'not-the-password')).status, 403);
    assert.equal((await login('mallory', PASSWORD)).status, 403, 'only the listed students');
  });

  test('each server runs in a yolo-lab container of its own, unprivileged, as its student, on 127.0.0.1', async () => {
    await Promise.all(['alice', 'bob'].map(name => startServer(name, tokens[name])));
    const uids = new Set<string>();
    for (const name of ['alice', 'bob']) {
      const info = await docker.getContainer(`${PREFIX}-${name}`).inspect();
      assert.equal(info.Config.Image, IMAGE);
      assert.equal(info.State.Running, true);
      assert.equal(info.HostConfig.Privileged, false);
      assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
      assert.deepEqual(info.HostConfig.SecurityOpt, ['no-new-privileges']);
      assert.equal(info.HostConfig.ShmSize, 2 ** 30);
      // No network: a loopback of its own; the relays are the only way in and out.
      assert.equal(info.HostConfig.NetworkMode, 'none');
      // The class's share of the machine per student (--mem-limit 6g --cpus 1.5, pids 2048).
      assert.equal(info.HostConfig.Memory, 6 * 2 ** 30);
      assert.equal((info.HostConfig.CpuQuota ?? 0) / (info.HostConfig.CpuPeriod ?? 1), 1.5);
      assert.equal(info.HostConfig.PidsLimit, 2048);
      assert.equal(info.HostConfig.AutoRemove, true);
      const user = info.Config.User;
      assert.match(user, /^2\d{4}:2\d{4}$/, "a uid of the student's own, not root");
      uids.add(user);
      const env = info.Config.Env ?? [];
      assert.ok(
        env.some(e => e.startsWith(`JUPYTERHUB_SERVICE_URL=http://127.0.0.1:`)),
        'the server listens on 127.0.0.1 only'
      );
      const mounts = Object.fromEntries(info.Mounts.map(m => [m.Destination, m]));
      assert.equal(mounts['/workspace'].Source, join(studentsDir, name));
      assert.equal(mounts['/workspace'].RW, true);
      // Each mounted folder sits directly under a folder only root may change:
      // the student cannot swap it for a link to the host.
      assert.equal(mounts['/runs'].Source, join(runsDir, name));
      assert.equal(mounts['/datasets'].Source, datasetsDir);
      assert.equal(mounts['/datasets'].RW, false, 'the datasets read-only');
      // The relays' sockets: the Hub's read-only, the server's the student's own.
      assert.equal(mounts['/run/yolo-lab/hub'].Source, join(hubDir, 'sockets', 'hub', name));
      assert.equal(mounts['/run/yolo-lab/hub'].RW, false);
      assert.equal(mounts['/run/yolo-lab/server'].Source, join(hubDir, 'sockets', 'server', name));
      assert.equal(mounts['/opt/yolo-lab-class/yolo_lab_relay.py'].RW, false);
      assert.deepEqual(Object.keys(mounts).sort(), [
        '/datasets',
        '/opt/yolo-lab-class/yolo_lab_relay.py',
        '/run/yolo-lab/hub',
        '/run/yolo-lab/server',
        '/runs',
        '/workspace'
      ]);
    }
    assert.equal(uids.size, 2, 'alice and bob run as different uids');
  });

  test("the course notebooks were copied into each new student's folder, which only they can read", () => {
    for (const name of ['alice', 'bob']) {
      const folder = join(studentsDir, name);
      const stat = statSync(folder);
      assert.equal(stat.mode & 0o777, 0o700);
      assert.ok(stat.uid >= 20000);
      assert.equal(statSync(join(folder, 'lesson1.ipynb')).uid, stat.uid, "the copy is the student's");
    }
    assert.notEqual(statSync(join(studentsDir, 'alice')).uid, statSync(join(studentsDir, 'bob')).uid);
  });

  test("each trains YOLOv5 in their own container through the Hub proxy; neither sees the other's files", async () => {
    const kernels = await Promise.all(
      ['alice', 'bob'].map(name => KernelClient.start(`${userOrigin(name)}/user/${name}`, tokens[name]))
    );
    try {
      const replies = await Promise.all(
        kernels.map((kernel, i) =>
          kernel.execute(
            [
              'import os, socket',
              "open('/workspace/mine.txt', 'w').write(os.environ['JUPYTERHUB_USER'])",
              "print('user', os.environ['JUPYTERHUB_USER'], os.getuid(), socket.gethostname() != '')",
              "print('datasets', open('/datasets/classes.txt').read().split(), os.access('/datasets', os.W_OK))",
              `other = ${JSON.stringify(join(studentsDir, i === 0 ? 'bob' : 'alice'))}`,
              "print('other', os.path.exists(other), other in open('/proc/self/mountinfo').read())",
              'from yolo_lab import train',
              'from yolo_lab.shapes import make_shapes_dataset',
              "data = make_shapes_dataset('/runs/shapes', train=16, val=8, image_size=64)",
              "run = train(data, device='cpu', batch_size=8, epochs=1, imgsz=64, workers=0, project='/runs', name='e2e')",
              "print('status', run.wait())",
              "print(open(run.log).read()[-3000:] if run.status != 'finished' else '')"
            ].join('\n'),
            300_000
          )
        )
      );
      for (const [i, name] of ['alice', 'bob'].entries()) {
        const reply = replies[i];
        assert.equal(reply.status, 'ok', JSON.stringify(reply));
        assert.match(reply.stdout, new RegExp(`^user ${name} 2\\d{4} True$`, 'm'));
        assert.match(reply.stdout, /^datasets \['circle', 'square'\] False$/m);
        // Only the student's own folder is mounted: the other's path does not exist in there.
        assert.match(reply.stdout, /^other False False$/m, reply.stdout);
        assert.match(reply.stdout, /^status finished$/m, reply.stdout);
        const folder = join(studentsDir, name);
        assert.equal(readFileSync(join(folder, 'mine.txt'), 'utf8'), name);
        assert.ok(
          statSync(join(runsDir, name, 'e2e', 'weights', 'last.pt')).size > 100_000,
          'weights on the host'
        );
        assert.equal(statSync(join(runsDir, name, 'e2e')).uid, statSync(folder).uid);
      }
    } finally {
      await Promise.all(kernels.map(k => k.shutdown()));
    }
  });

  test("carol's planted server answers the Hub and records every request it gets", async () => {
    await startServer('carol', tokens.carol);
    const seen = recorded('carol');
    assert.ok(seen.length >= 1, "the Hub's own check reached the recorder");
  });

  test("the teacher's view comes from the class service; a student's may not read it", async () => {
    const response = await login('teacher', ADMIN_PASSWORD);
    assert.equal(response.status, 201, await response.clone().text());
    tokens.teacher = ((await response.json()) as { token: string }).token;
    await startServer('teacher', tokens.teacher);
    type Row = {
      name: string;
      admin: boolean;
      me: boolean;
      server: string;
      trainings: Training[];
      error: string | null;
    };
    type Training = { name: string; status: string; epochs: number; imgs_per_s: number | null };
    const classView = async (): Promise<Record<string, Row>> => {
      const got = await api('/user/teacher/yolo-lab/class', tokens.teacher);
      const body = await got.text();
      assert.equal(got.status, 200, body);
      return Object.fromEntries((JSON.parse(body) as { students: Row[] }).students.map(r => [r.name, r]));
    };
    const alice = await KernelClient.start(`${userOrigin('alice')}/user/alice`, tokens.alice);
    try {
      const started = await alice.execute(
        [
          'from yolo_lab import train',
          'from yolo_lab.shapes import make_shapes_dataset',
          "data = make_shapes_dataset('/runs/shapes', train=16, val=8, image_size=64)",
          "run = train(data, device='cpu', batch_size=8, epochs=300, imgsz=64, workers=0, project='/runs', name='live')",
          "print('started', run.status)"
        ].join('\n')
      );
      assert.equal(started.status, 'ok', JSON.stringify(started));
      // The teacher's view, as the panel reads it: alice's training with its speed.
      // Her 'live' run, not a report from before it started (her finished
      // 'e2e' run may still be in the last one, up to 10 s old).
      const rows = await until("alice's training in the teacher's view", 180_000, async () => {
        const got = await classView();
        const live = got.alice?.trainings.find(t => t.name === 'live');
        return (live?.imgs_per_s ?? 0) > 0 ? got : undefined;
      });
      assert.deepEqual(Object.keys(rows).sort(), ['alice', 'bob', 'carol', 'teacher']);
      assert.match(rows.carol.error ?? '', /not reported yet/, "carol's recorder reports nothing");
      const live = rows.alice.trainings[0];
      assert.equal(rows.alice.trainings.length, 1);
      assert.equal(live.name, 'live');
      assert.equal(live.status, 'running');
      assert.equal(live.epochs, 300);
      assert.equal(rows.alice.error, null);
      assert.equal(rows.bob.server, 'ready');
      assert.deepEqual(rows.bob.trainings, [], "bob's finished run is not a running training");
      assert.ok(rows.teacher.admin && rows.teacher.me && !rows.alice.admin);

      // The same figures in the teacher's JupyterLab, in the panel's Class section.
      await teacherPanelShows('alice', /live · epoch \d+\/300/, tokens.teacher);

      // A student's server may not list the class; nor reach the teacher's.
      const refused = await api('/user/bob/yolo-lab/class', tokens.bob);
      assert.equal(refused.status, 403);
      assert.match(((await refused.json()) as { message: string }).message, /teachers/);
      assert.equal((await api('/user/teacher/yolo-lab/class', tokens.alice)).status, 403);
      // Each student sees their own trainings (and share: none under GPU_POLICY none).
      const own = (await (await api('/user/alice/yolo-lab/activity', tokens.alice)).json()) as {
        gpu_share: number | null;
        trainings: Training[];
      };
      assert.equal(own.gpu_share, null);
      assert.deepEqual(
        own.trainings.map(t => t.name),
        ['live']
      );

      const stopped = await alice.execute("run.stop(); print('status', run.wait())", 120_000);
      assert.match(stopped.stdout, /^status stopped$/m, JSON.stringify(stopped));
      // Gone at alice's server's next report (every 10 s).
      await until('the stopped training to leave the view', 60_000, async () =>
        (await classView()).alice.trainings.length === 0 ? true : undefined
      );
    } finally {
      await alice.shutdown();
    }
  });

  test("alice cannot reach bob's server with her token, through the proxy or on its port", async () => {
    const own = await api('/user/alice/api/status', tokens.alice);
    assert.equal(own.status, 200, await own.text());
    // Each server on an origin of its own (--domain): asked on the Hub's, the
    // Hub sends the browser to the user's subdomain, never serving it there.
    let hubUrl = new URL(`${origin}/user/alice/api/status`);
    for (let hop = 0; hop < 4 && hubUrl.host !== `alice.${DOMAIN}:${port}`; hop++) {
      const answer = await fetch(hubUrl, {
        headers: { Authorization: `token ${tokens.alice}` },
        redirect: 'manual'
      });
      assert.ok(
        [301, 302, 303].includes(answer.status),
        `${hubUrl}: ${answer.status} ${await answer.text()}`
      );
      hubUrl = new URL(answer.headers.get('location') ?? '', hubUrl);
    }
    assert.equal(hubUrl.host, `alice.${DOMAIN}:${port}`, "the Hub's host sends alice to her own");
    const other = await api('/user/bob/api/status', tokens.alice);
    assert.equal(other.status, 403, await other.text());
    const contents = await api('/user/bob/api/contents/mine.txt', tokens.alice);
    assert.equal(contents.status, 403);
    const bob = await docker.getContainer(`${PREFIX}-bob`).inspect();
    const url = (bob.Config.Env ?? []).find(e => e.startsWith('JUPYTERHUB_SERVICE_URL='))!.split('=')[1];
    const direct = await fetch(`${url.replace(/\/$/, '')}/api/contents/mine.txt`, {
      headers: { Authorization: `token ${tokens.alice}` }
    });
    assert.equal(direct.status, 403, "not even on the port the Hub relays to bob's server");
    const start = await api('/hub/api/users/bob/server', tokens.alice, { method: 'DELETE' });
    assert.ok([403, 404].includes(start.status), `alice may not stop bob's server: ${start.status}`);
  });

  test("a student's code reaches nothing of the host's network, and nothing reaches a port she opens", async () => {
    // A service of the host's on its loopback, which records who connects.
    let connections = 0;
    const hostService = createServer(socket => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>(done => hostService.listen(0, '127.0.0.1', done));
    const hostPort = (hostService.address() as { port: number }).port;
    const bob = await docker.getContainer(`${PREFIX}-bob`).inspect();
    const bobUrl = (bob.Config.Env ?? []).find(e => e.startsWith('JUPYTERHUB_SERVICE_URL='))!.split('=')[1];
    const bobPort = Number(new URL(bobUrl).port);
    // Ports free on the host; she listens on the first one free in her own
    // namespace too (her kernel's own ports are there: one of them took the
    // single port this test used to give her, on a loaded run, 2026-12-08).
    const candidates: number[] = [];
    for (let i = 0; i < 8; i++) {
      candidates.push(await freePort());
    }
    const alice = await KernelClient.start(`${userOrigin('alice')}/user/alice`, tokens.alice);
    try {
      const reply = await alice.execute(
        [
          'import json, os, socket, subprocess, sys, urllib.error, urllib.request',
          'def reach(port):',
          '    try:',
          "        socket.create_connection(('127.0.0.1', port), timeout=5).close()",
          "        return 'open'",
          '    except OSError as e:',
          '        return type(e).__name__',
          "out = {'interfaces': sorted(os.listdir('/sys/class/net'))}",
          `out['host_service'] = reach(${hostPort})`,
          `out['bob'] = reach(${bobPort})`,
          `out['hub_public'] = reach(${port})`,
          '# The Hub API is there for her server, and asks for a token as on the host.',
          'try:',
          "    urllib.request.urlopen(os.environ['JUPYTERHUB_API_URL'] + '/users', timeout=10)",
          "    out['hub_api'] = 'open'",
          'except urllib.error.HTTPError as e:',
          "    out['hub_api'] = e.code",
          `for port in ${JSON.stringify(candidates)}:`,
          '    listener = socket.socket()',
          '    try:',
          "        listener.bind(('0.0.0.0', port))",
          '        break',
          '    except OSError:',
          '        listener.close()',
          'listener.listen()',
          "out['listen_port'] = port",
          '# Two gloo ranks on her own loopback: DDP inside still works.',
          "script = '/tmp/ddp.py'",
          'open(script, "w").write("import torch, torch.distributed as d\\nd.init_process_group(\'gloo\')\\nt = torch.ones(1) * (d.get_rank() + 1)\\nd.all_reduce(t)\\nimport os\\nos.write(1, f\'sum {t.item()}\\\\n\'.encode())\\n")',
          "ddp = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc-per-node', '2', '--master-addr', '127.0.0.1', '--master-port', '29533', script], capture_output=True, text=True, timeout=240)",
          "out['ddp'] = [line for line in ddp.stdout.splitlines() if line.startswith('sum')] or ddp.stderr[-1500:]",
          'print(json.dumps(out))'
        ].join('\n'),
        300_000
      );
      assert.equal(reply.status, 'ok', JSON.stringify(reply));
      const out = JSON.parse(reply.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
      assert.deepEqual(out.interfaces, ['lo'], 'a loopback and nothing else');
      assert.equal(out.host_service, 'ConnectionRefusedError', "the host's loopback is not hers");
      assert.equal(out.bob, 'ConnectionRefusedError', "bob's server is not on her loopback");
      assert.equal(out.hub_public, 'ConnectionRefusedError', "nor the Hub's public port");
      assert.equal(out.hub_api, 403, 'the Hub API through her relay, not without a token');
      assert.deepEqual(out.ddp, ['sum 3.0', 'sum 3.0']);
      assert.equal(connections, 0, 'nothing of hers reached the host service');
      // What she opens (on every interface she has) is not on the host's.
      const listenPort = out.listen_port as number;
      assert.ok(candidates.includes(listenPort), `she listens on ${listenPort}`);
      const reached = await new Promise<boolean>(done => {
        const probe = connect(listenPort, '127.0.0.1');
        probe.once('connect', () => (probe.destroy(), done(true)));
        probe.once('error', () => done(false));
      });
      assert.equal(reached, false, `port ${listenPort} she listens on is not the host's`);
    } finally {
      await alice.shutdown();
      hostService.close();
    }
  });

  test("alice's notebook survives her server being stopped and started; the course is copied only once", async () => {
    const saved = await api('/user/alice/api/contents/saved.ipynb', tokens.alice, {
      method: 'PUT',
      body: JSON.stringify({
        type: 'notebook',
        format: 'json',
        content: { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }
      })
    });
    assert.equal(saved.status, 201, await saved.text());
    const removed = await api('/user/alice/api/contents/lesson1.ipynb', tokens.alice, { method: 'DELETE' });
    assert.equal(removed.status, 204);
    const before = (await docker.getContainer(`${PREFIX}-alice`).inspect()).Id;
    await stopServer('alice', tokens.alice);
    // The Hub has stopped it; the engine removes it (AutoRemove) a moment later.
    await until('the stopped container to be removed', 60_000, async () =>
      (await classContainers()).some(c => c.Id === before) ? undefined : true
    );
    await startServer('alice', tokens.alice);
    const after = (await docker.getContainer(`${PREFIX}-alice`).inspect()).Id;
    assert.notEqual(after, before, 'a new container');
    const again = await api('/user/alice/api/contents/saved.ipynb', tokens.alice);
    assert.equal(again.status, 200, await again.text());
    assert.ok(
      !readdirSync(join(studentsDir, 'alice')).includes('lesson1.ipynb'),
      'a deleted lesson is not copied back'
    );
  });

  test("no request that reached a student's server carried a token that opens another server", async () => {
    const seen = recorded('carol');
    assert.ok(seen.length >= 1);
    const tokensSeen = new Set<string>();
    for (const request of seen) {
      for (const [key, value] of Object.entries(request.headers)) {
        const auth = /^(?:token|bearer)\s+(\S+)$/i.exec(value);
        if (key.toLowerCase() === 'authorization' && auth) tokensSeen.add(auth[1]);
      }
      const query = new URL(request.path, 'http://x').searchParams.get('token');
      if (query) tokensSeen.add(query);
    }
    for (const token of tokensSeen) {
      const owner = await api('/hub/api/user', token);
      if (owner.status !== 200) continue;
      const body = (await owner.json()) as { name: string; kind?: string };
      assert.equal(
        body.name,
        'carol',
        `a token of ${body.kind ?? 'user'} ${body.name} reached carol's server`
      );
    }
  });

  test("a student's links never reach the host: not her runs, not a lesson, not a folder planted in her place", async () => {
    const before = snapshot(hostDir);
    // alice, in her container: /runs cannot be moved; her workspace's own
    // runs folder becomes a link to the host folder, a lesson still to come a
    // dangling link into it, and she asks for the course again.
    const alice = await KernelClient.start(`${userOrigin('alice')}/user/alice`, tokens.alice);
    try {
      const reply = await alice.execute(
        [
          'import os, shutil',
          'tried = []',
          "for attempt in (lambda: os.rmdir('/runs'), lambda: os.rename('/runs', '/runs.old')):",
          '    try:',
          '        attempt(); tried.append("done")',
          '    except OSError as e:',
          '        tried.append(type(e).__name__)',
          "shutil.rmtree('/workspace/runs', ignore_errors=True)",
          `os.symlink(${JSON.stringify(hostDir)}, '/workspace/runs')`,
          `os.symlink(${JSON.stringify(join(hostDir, 'planted.ipynb'))}, '/workspace/lesson2.ipynb')`,
          "os.remove('/workspace/.yolo-lab-course-copied')",
          "print('tried', tried)"
        ].join('\n')
      );
      assert.equal(reply.status, 'ok', JSON.stringify(reply));
      assert.match(reply.stdout, /^tried \['\w+', '\w+'\]$/m);
      assert.doesNotMatch(reply.stdout, /done/, '/runs stays where it is');
    } finally {
      await alice.shutdown();
    }
    writeFileSync(
      join(courseDir, 'lesson2.ipynb'),
      JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 })
    );
    await stopServer('alice', tokens.alice);
    await startServer('alice', tokens.alice);
    assert.equal(snapshot(hostDir), before, "the host folder's owner, mode and contents are unchanged");
    const mounts = Object.fromEntries(
      (await docker.getContainer(`${PREFIX}-alice`).inspect()).Mounts.map(m => [m.Destination, m.Source])
    );
    assert.equal(mounts['/runs'], join(runsDir, 'alice'));
    assert.equal(mounts['/workspace'], join(studentsDir, 'alice'));

    // The only way a mounted folder could be a link is for root to put one
    // there: bob's server then does not start, and he is told why.
    await stopServer('bob', tokens.bob);
    renameSync(join(runsDir, 'bob'), join(work, 'bob-runs-moved'));
    symlinkSync(hostDir, join(runsDir, 'bob'));
    const said = await refusedStart('bob', tokens.bob);
    assert.match(said, /is a link or a file, not a folder: nothing was changed/, said);
    assert.equal(snapshot(hostDir), before);
    assert.equal(statSync(hostDir).uid, 0);
  });

  test('a Hub that dies and starts again reaches the servers still running, through new relays', async () => {
    const before = (await docker.getContainer(`${PREFIX}-alice`).inspect()).Id;
    // Killed, it stops nothing: the containers keep running; its relays are gone.
    orphans.push(
      ...children(hub!.pid!).filter(
        pid => !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('configurable-http-proxy')
      )
    );
    const exited = new Promise(done => hub!.once('exit', done));
    hub!.kill('SIGKILL');
    await exited;
    assert.equal((await docker.getContainer(`${PREFIX}-alice`).inspect()).State.Running, true);
    await startHub();
    const status = await until("alice's server through the new Hub", 60_000, async () => {
      const got = await api('/user/alice/api/status', tokens.alice);
      return got.status === 200 ? got.status : undefined;
    });
    assert.equal(status, 200);
    assert.equal(
      (await docker.getContainer(`${PREFIX}-alice`).inspect()).Id,
      before,
      'the same server, not a new one'
    );
    // Her server reaches the new Hub's API too: the Hub checks her token through it.
    const kernel = await KernelClient.start(`${userOrigin('alice')}/user/alice`, tokens.alice);
    await kernel.shutdown();
  });
});
