/**
 * The launcher against the real Docker engine (scripts/test-launcher.sh
 * starts it and builds the images). Nothing is fabricated: even the GPU
 * request really fails, because this engine has no NVIDIA runtime.
 */
import assert from 'node:assert/strict';
import {
  chownSync,
  rmSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  statSync,
  writeFileSync,
  mkdirSync,
  chmodSync
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import Docker from 'dockerode';

import { LABEL } from '../src/engine';
import { recordedServers, stateDir } from '../src/registry';
import type { UpResult } from '../src/up';
import { lastLogLines } from '../src/streams';
import {
  explain,
  HOST_NET,
  IMAGE,
  IMAGE_UID,
  BASE_IMAGE,
  launcherContainers,
  PROJECT,
  yoloLab,
  workDir,
  yoloLabInTerminal
} from './helpers';
import { KernelClient } from './kernel';

const docker = new Docker();
const work = workDir('yolo-lab-launcher-test-');

async function assertNoContainerLeft(): Promise<void> {
  // This file's containers only (their mounts are its folders): a container
  // of the user's, or of another test run on the same engine, is not ours.
  const mine = (source: string): boolean =>
    [work, PROJECT].some(dir => source === dir || source.startsWith(`${dir}/`));
  const left = (await launcherContainers(docker)).filter(c => (c.Mounts ?? []).some(m => mine(m.Source)));
  assert.deepEqual(
    left.map(c => `${c.Names[0]} ${c.State}`),
    [],
    'a failed start must leave no container behind'
  );
}

before(async () => {
  await docker.ping();
  await docker
    .getImage(IMAGE)
    .inspect()
    .catch(() => {
      throw new Error(`the image ${IMAGE} is missing: run bash scripts/test-launcher.sh (it builds it)`);
    });
  await assertNoContainerLeft();
});

/** A notebook saved through the Contents API, as JupyterLab saves one. */
async function saveNotebook(origin: string, token: string, path: string): Promise<Response> {
  return fetch(`${origin}/api/contents/${path}`, {
    method: 'PUT',
    headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      type: 'notebook',
      format: 'json',
      content: { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }
    })
  });
}

/** Run a command in a container as root (to plant what a user's session could leave). */
async function execAsRoot(id: string, cmd: string[]): Promise<void> {
  const exec = await docker
    .getContainer(id)
    .exec({ Cmd: cmd, User: '0:0', AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>(done => {
    stream.on('end', done);
    stream.on('close', done);
    stream.resume();
  });
}

describe('yolo-lab up, a kernel inside, yolo-lab down', () => {
  const runs = join(work, 'runs'); // not created: up creates it
  const datasets = join(work, 'datasets');
  const notebooks = join(work, 'notebooks');
  let result: UpResult & { doctor: { system: { in_container: boolean } } };
  let base = '';
  let kernel: KernelClient | undefined;

  before(async () => {
    mkdirSync(datasets);
    writeFileSync(join(datasets, 'hello.txt'), 'a dataset file');
    mkdirSync(notebooks);
    chownSync(notebooks, IMAGE_UID, IMAGE_UID); // the user's own project folder
    const run = await yoloLab([
      'up',
      '--json',
      ...HOST_NET,
      '--notebooks',
      notebooks,
      '--runs',
      runs,
      '--datasets',
      datasets,
      '--image',
      IMAGE
    ]);
    assert.equal(run.code, 0, explain(run));
    result = JSON.parse(run.stdout);
    base = new URL(result.url).origin;
    assert.match(run.stderr, /==> waiting for Jupyter/);
    assert.match(run.stderr, /container: docker/, 'up prints the doctor findings from inside');
  });

  after(async () => {
    await kernel?.shutdown().catch(() => undefined);
  });

  test('the URL is on 127.0.0.1 with a token; the API answers with it and refuses without', async () => {
    assert.match(result.url, /^http:\/\/127\.0\.0\.1:\d+\/lab\?token=[0-9a-f]{48}$/);
    const ok = await fetch(`${base}/api/status`, { headers: { Authorization: `token ${result.token}` } });
    assert.equal(ok.status, 200);
    const refused = await fetch(`${base}/api/status`);
    assert.ok([401, 403].includes(refused.status), `without the token: HTTP ${refused.status}`);
    const lab = await fetch(result.url);
    assert.equal(lab.status, 200, 'the JupyterLab page opens with the URL printed');
    assert.match(await lab.text(), /yolo-lab/, 'the page config lists the yolo-lab extension');
  });

  test('the server is recorded for the panel, readable by this user only', () => {
    const file = join(stateDir(), `${result.name}.json`);
    const record = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(record.url, result.url);
    assert.equal(record.token, result.token);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  test('Jupyter listens on 127.0.0.1 only, not on every address of the machine', () => {
    // Host networking shares the host's sockets: read them from /proc.
    const hexPort = result.port.toString(16).toUpperCase().padStart(4, '0');
    const listening = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .slice(1)
      .map(line => line.trim().split(/\s+/))
      .filter(f => f.length > 3 && f[1].endsWith(`:${hexPort}`) && f[3] === '0A')
      .map(f => f[1]);
    assert.deepEqual(listening, [`0100007F:${hexPort}`]);
  });

  test('the container runs unprivileged, as the image user, with a large /dev/shm and no Docker socket', async () => {
    const info = await docker.getContainer(result.id).inspect();
    assert.equal(info.HostConfig.Privileged, false);
    assert.ok(!info.HostConfig.PidMode, 'no host PID namespace');
    assert.equal(info.Config.User, '1000:1000');
    assert.equal(info.HostConfig.ShmSize, 8 * 2 ** 30);
    assert.ok(!info.Mounts.some(m => m.Source.includes('docker.sock')));
    assert.ok(!info.Config.Cmd.join(' ').includes(result.token), 'the token is not on the command line');
    // torch.load unpickles only in the training subprocess (its own run's
    // checkpoints), never in every kernel of the image.
    assert.ok(
      !(info.Config.Env ?? []).some((e: string) => e.startsWith('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=')),
      'no image-wide TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
    );
    assert.equal(info.Config.Labels[LABEL.launcher], '1');
    assert.equal(statSync(runs).uid, 1000, 'up created the runs folder for the container user');
  });

  test('status lists it with its URL', async () => {
    const run = await yoloLab(['status', '--json']);
    assert.equal(run.code, 0, explain(run));
    const entries = JSON.parse(run.stdout) as { name: string; state: string; url: string }[];
    const mine = entries.find(e => e.name === result.name);
    assert.equal(mine?.state, 'running');
    assert.equal(mine?.url, result.url);
  });

  test('a kernel inside runs the doctor and finds itself in a container', async () => {
    kernel = await KernelClient.start(base, result.token);
    const reply = await kernel.execute(
      [
        'import json, yolo_lab',
        'r = yolo_lab.doctor().data',
        "print(json.dumps({'in_container': r['system']['in_container'], 'kind': r['system']['container_kind'],",
        "                  'shm': r['system']['shm_total_bytes'], 'yolov5': r['yolov5']['available']}))"
      ].join('\n')
    );
    assert.equal(reply.status, 'ok', JSON.stringify(reply));
    const seen = JSON.parse(reply.stdout.trim().split('\n').pop()!);
    assert.deepEqual(seen, { in_container: true, kind: 'docker', shm: 8 * 2 ** 30, yolov5: true });
  });

  test('the kernel reads the datasets mount, cannot write it, and writes to /runs', async () => {
    const reply = await kernel!.execute(
      [
        "print(open('/datasets/hello.txt').read())",
        "open('/runs/from-the-kernel.txt', 'w').write('kept on the host')",
        'try:',
        "    open('/datasets/new.txt', 'w')",
        'except OSError as e:',
        "    print('read-only', e.errno)"
      ].join('\n')
    );
    assert.equal(reply.status, 'ok', JSON.stringify(reply));
    assert.equal(reply.stdout, 'a dataset file\nread-only 30\n');
  });

  test('yolo-lab doctor reports on the running container', async () => {
    const run = await yoloLab(['doctor', result.name, '--json']);
    assert.equal(run.code, 0, explain(run));
    assert.equal(JSON.parse(run.stdout).system.in_container, true);
  });

  test('yolo-lab logs prints the server log, demultiplexed', async () => {
    const run = await yoloLab(['logs', result.name, '--no-follow', '--tail', '200']);
    assert.equal(run.code, 0, explain(run));
    assert.match(run.stdout + run.stderr, /Jupyter Server .* is running at/);
    assert.doesNotMatch(
      run.stdout + run.stderr,
      /[\u0001\u0002]\u0000\u0000\u0000/,
      'no multiplexing headers left'
    );
  });

  test('yolo-lab exec runs one command as the container user, in its folder, and exits with its code', async () => {
    const uid = (await docker.getContainer(result.id).inspect()).Config.User.split(':')[0];
    const id = await yoloLab(['exec', result.name, '--', 'sh', '-c', 'id -u; pwd; echo to-stderr >&2']);
    assert.equal(id.code, 0, explain(id));
    assert.equal(id.stdout, `${uid}\n/workspace\n`, 'stdout alone, demultiplexed');
    assert.equal(id.stderr, 'to-stderr\n');
    const three = await yoloLab(['exec', result.name, '--', 'sh', '-c', 'exit 3']);
    assert.equal(three.code, 3, explain(three));
    // Its stdin is this one's: what is piped in reaches it, and its EOF too.
    const cat = await yoloLab(['exec', result.name, '--', 'wc', '-l'], { input: 'a\nb\n' });
    assert.equal(cat.stdout.trim(), '2', explain(cat));
  });

  test('yolo-lab shell reads commands piped in, as the container user, and exits with their code', async () => {
    const run = await yoloLab(['shell', result.name], { input: 'id -un; echo $0; exit 5\n' });
    assert.equal(run.code, 5, explain(run));
    assert.equal(run.stdout, 'yolo\nbash\n', 'the image user, in bash');
    // No exit: the end of the input ends the shell, with the last command's status.
    const eof = await yoloLab(['shell', result.name], { input: 'false\n' });
    assert.equal(eof.code, 1, explain(eof));
  });

  test('yolo-lab shell and exec without a name use the only running container', async () => {
    const run = await yoloLab(['shell'], { input: 'echo "$JUPYTER_TOKEN"\n' });
    assert.equal(run.code, 0, explain(run));
    assert.equal(run.stdout, `${result.token}\n`);
    const exec = await yoloLab(['exec', '--', 'printenv', 'JUPYTER_TOKEN']);
    assert.equal(exec.stdout, `${result.token}\n`, explain(exec));
  });

  test(
    'yolo-lab shell on a terminal: a TTY in the container, sized like this one and resized with it',
    { skip: !existsSync('/usr/bin/script') && 'needs script (util-linux) for a pseudo-terminal' },
    async () => {
      // The shell inside asks for the resize (a file in the notebooks mount) once it saw the first size.
      const flag = join(notebooks, '.resize-now');
      const prelude =
        'stty cols 100 rows 40; ' +
        `(for i in $(seq 300); do [ -e ${flag} ] && break; sleep 0.1; done; stty cols 120 rows 50 </dev/tty) &`;
      const input =
        'w() { for i in $(seq 100); do [ "$(stty size)" = "$1" ] && break; sleep 0.1; done; echo "size $(stty size)"; }; ' +
        "tty; id -u; w '40 100'; touch /workspace/.resize-now; w '50 120'; exit 7\n";
      try {
        const run = await yoloLabInTerminal(['shell', result.name], input, prelude);
        assert.equal(run.code, 7, explain(run));
        assert.match(run.stdout, /^\/dev\/pts\/\d+\r*$/m, 'the shell has a terminal');
        assert.match(run.stdout, /^1000\r*$/m);
        assert.match(run.stdout, /^size 40 100\r*$/m, 'the terminal size at the start');
        assert.match(run.stdout, /^size 50 120\r*$/m, 'the new size after SIGWINCH');
      } finally {
        rmSync(flag, { force: true });
      }
    }
  );

  test('exec without a command, or with an unknown name, says what to type', async () => {
    const bare = await yoloLab(['exec', result.name]);
    assert.equal(bare.code, 2, explain(bare));
    assert.match(
      bare.stderr,
      new RegExp(`exec needs a command after --, for example: yolo-lab exec ${result.name} -- nvidia-smi`)
    );
    const dash = await yoloLab(['exec', result.name, '--']);
    assert.equal(dash.code, 2, explain(dash));
    assert.match(dash.stderr, /exec needs a command after --/);
    const unknown = await yoloLab(['exec', 'no-such-lab', '--', 'id']);
    assert.equal(unknown.code, 2, explain(unknown));
    assert.match(
      unknown.stderr,
      new RegExp(
        `No yolo-lab container named no-such-lab\\. Running: ${result.name}\\. ` +
          `For example: \`yolo-lab exec ${result.name} -- id\``
      )
    );
  });

  test('shell and exec refuse a stopped container and say to start one with up', async () => {
    const name = `yolo-lab-test-stopped-${process.pid}`;
    const stopped = await docker.createContainer({
      name,
      Image: IMAGE,
      Cmd: ['true'],
      Labels: { [LABEL.launcher]: '1' }
    });
    try {
      await stopped.start();
      await stopped.wait();
      for (const args of [
        ['shell', name],
        ['exec', name, '--', 'id']
      ]) {
        const run = await yoloLab(args);
        assert.equal(run.code, 2, explain(run));
        assert.match(
          run.stderr,
          new RegExp(`${name} is not running \\(Exited \\(0\\).*\\)\\. Start a new one with \`yolo-lab up\``)
        );
      }
      // A stopped one does not count: the running one is still the only choice.
      const run = await yoloLab(['exec', '--', 'true']);
      assert.equal(run.code, 0, explain(run));
    } finally {
      await stopped.remove({ force: true });
    }
  });

  test('exec refuses an empty name and an id prefix of several containers, and lists them', async () => {
    const empty = await yoloLab(['exec', '', '--', 'id']);
    assert.equal(empty.code, 2, explain(empty));
    assert.equal(empty.stdout, '', 'nothing ran');
    assert.match(
      empty.stderr,
      new RegExp(
        `An empty container name names no container\\. Running: ${result.name}\\. ` +
          `For example: \`yolo-lab exec ${result.name} -- id\``
      )
    );
    // Launcher containers (created, never started) until two ids share their first
    // character: 16 hex digits, so at most 16 more than the running one.
    const made: Docker.Container[] = [];
    const ours = new Map<string, string>([[result.id, result.name]]);
    try {
      let pair: string[] | undefined;
      while (pair === undefined) {
        const name = `yolo-lab-test-prefix-${process.pid}-${made.length}`;
        const created = await docker.createContainer({
          name,
          Image: IMAGE,
          Cmd: ['true'],
          Labels: { [LABEL.launcher]: '1' }
        });
        made.push(created);
        ours.set(created.id, name);
        pair = [...ours.keys()].filter(id => id[0] === created.id[0]);
        if (pair.length < 2) pair = undefined;
      }
      const prefix = pair[0][0];
      const run = await yoloLab(['exec', prefix, '--', 'id']);
      assert.equal(run.code, 2, explain(run));
      assert.equal(run.stdout, '', 'nothing ran');
      assert.match(
        run.stderr,
        new RegExp(`^yolo-lab: ${prefix} is the start of the id of \\d+ yolo-lab containers: `)
      );
      for (const id of pair) {
        assert.ok(
          run.stderr.includes(`${ours.get(id)} (${id.slice(0, 12)}, `),
          `${ours.get(id)} is listed: ${run.stderr}`
        );
      }
      assert.match(run.stderr, /Give its whole name, or more of its id\./);
      // An id prefix that fits one container still names it, as docker's do.
      const unique = await yoloLab(['exec', result.id.slice(0, 12), '--', 'printenv', 'JUPYTER_TOKEN']);
      assert.equal(unique.stdout, `${result.token}\n`, explain(unique));
    } finally {
      await Promise.all(made.map(c => c.remove({ force: true })));
    }
  });

  test('a short YOLOv5 training inside, started as a notebook would, writes weights and results to /runs', async () => {
    const reply = await kernel!.execute(
      [
        'from yolo_lab import train',
        'from yolo_lab.shapes import make_shapes_dataset',
        "data = make_shapes_dataset('/runs/shapes', train=16, val=8, image_size=64)",
        "run = train(data, device='cpu', batch_size=8, epochs=1, imgsz=64, workers=0, project='/runs', name='e2e')",
        "print('status', run.wait())",
        "print(run.info.get('message'))",
        "print(open(run.log).read()[-3000:] if run.status != 'finished' else '')"
      ].join('\n'),
      600_000
    );
    assert.equal(reply.status, 'ok', JSON.stringify(reply));
    assert.match(reply.stdout, /^status finished\n/, reply.stdout);
  });

  test('a notebook saved in JupyterLab lands in the host folder up was given', async () => {
    const saved = await saveNotebook(base, result.token, 'saved.ipynb');
    assert.equal(saved.status, 201, await saved.text());
    assert.equal(statSync(join(notebooks, 'saved.ipynb')).uid, IMAGE_UID, "the file is the user's");
  });

  test('a long training is running when down comes', async () => {
    const reply = await kernel!.execute(
      [
        'import time',
        "long = train(data, device='cpu', batch_size=8, epochs=300, imgsz=64, workers=0, project='/runs', name='long')",
        // Owned by the Jupyter server in the container, not by this kernel.
        "kept = train(data, device='cpu', batch_size=8, epochs=300, imgsz=64, workers=0, project='/runs', name='kept', detach=True)",
        "while not (long.events('batch') and kept.events('batch')): time.sleep(0.2)",
        "print('training', long.status, kept.status, kept.info['owner']['kind'])"
      ].join('\n'),
      300_000
    );
    assert.equal(reply.status, 'ok', JSON.stringify(reply));
    assert.match(reply.stdout, /training running running jupyter-server/);
  });

  test('down refuses a container holding files written outside its mounts, and names them', async () => {
    await execAsRoot(result.id, ['sh', '-c', 'mkdir -p /srv/work && echo notes > /srv/work/lost.txt']);
    const refused = await yoloLab(['down', result.name]);
    assert.notEqual(refused.code, 0, explain(refused));
    assert.match(refused.stderr, /\/srv\/work\/lost\.txt/);
    assert.match(refused.stderr, /down --force/);
    const info = await docker.getContainer(result.id).inspect();
    assert.equal(info.State.Running, true, 'nothing was stopped');
    await execAsRoot(result.id, ['rm', '-r', '/srv/work']);
  });

  test('yolo-lab down removes it and ends a following `logs`; what the kernel wrote stays on the host', async () => {
    const following = yoloLab(['logs', result.name]);
    // Wait for the follower to have the log open: its first line arrives.
    await following.firstOutput;
    const run = await yoloLab(['down', result.name]);
    assert.equal(run.code, 0, explain(run));
    assert.match(run.stderr, /training \/runs\/long: stopped/, 'down stopped the training first');
    assert.match(run.stderr, /training \/runs\/kept: stopped/, 'and the detached one');
    assert.ok(!recordedServers().includes(result.name), 'down forgets the server');
    const logs = await following;
    assert.equal(logs.code, 0, explain(logs));
    assert.match(
      logs.stdout + logs.stderr,
      /Shutting down \d+ kernel|Shutting down/i,
      'the follower saw the server stop'
    );
    kernel = undefined;
    await assertNoContainerLeft();
    assert.equal(readFileSync(join(runs, 'from-the-kernel.txt'), 'utf8'), 'kept on the host');
    assert.equal(statSync(join(runs, 'from-the-kernel.txt')).uid, 1000);
    assert.ok(statSync(join(runs, 'e2e', 'weights', 'last.pt')).size > 100_000, 'weights on the host');
    const csv = readFileSync(join(runs, 'e2e', 'results.csv'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(csv.length, 2, 'a header and one epoch');
    // The long training was stopped cleanly: last.pt saved, the status final.
    const longStatus = JSON.parse(readFileSync(join(runs, 'long', 'yolo_lab_run.json'), 'utf8'));
    assert.equal(longStatus.status, 'stopped');
    assert.ok(statSync(join(runs, 'long', 'weights', 'last.pt')).size > 100_000);
    const keptStatus = JSON.parse(readFileSync(join(runs, 'kept', 'yolo_lab_run.json'), 'utf8'));
    assert.equal(keptStatus.status, 'stopped');
    assert.equal(keptStatus.detached, true);
    assert.ok(statSync(join(runs, 'kept', 'weights', 'last.pt')).size > 100_000);
    // The notebook outlived the container.
    assert.ok(statSync(join(notebooks, 'saved.ipynb')).size > 0);
  });
});

test('another uid saves and renames notebooks, and owns them on the host; the code mount is read-only', async () => {
  const folder = join(work, 'uid1234');
  mkdirSync(folder);
  chownSync(folder, 1234, 1234);
  // A stand-in checkout: up checks for train.py only.
  const checkout = join(work, 'checkout');
  mkdirSync(checkout);
  writeFileSync(join(checkout, 'train.py'), '# a YOLOv5 checkout stands here\n');
  const run = await yoloLab([
    'up',
    '--json',
    ...HOST_NET,
    '--user',
    '1234:1234',
    '--notebooks',
    folder,
    '--runs',
    join(folder, 'runs'),
    '--code',
    checkout,
    '--image',
    IMAGE
  ]);
  assert.equal(run.code, 0, explain(run));
  const result = JSON.parse(run.stdout) as UpResult;
  try {
    const origin = new URL(result.url).origin;
    const saved = await saveNotebook(origin, result.token, 'Untitled.ipynb');
    assert.equal(saved.status, 201, await saved.text());
    const renamed = await fetch(`${origin}/api/contents/Untitled.ipynb`, {
      method: 'PATCH',
      headers: { Authorization: `token ${result.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ path: 'mine.ipynb' })
    });
    assert.equal(renamed.status, 200, await renamed.text());
    assert.equal(statSync(join(folder, 'mine.ipynb')).uid, 1234);
    const id = await yoloLab(['exec', result.name, '--', 'id', '-u']);
    assert.equal(id.stdout, '1234\n', `exec runs as the --user of up: ${explain(id)}`);
    // Notebooks live in /workspace: the code needs no write access (--code-rw gives it).
    const touch = await yoloLab(['exec', result.name, '--', 'touch', '/opt/yolov5/new.py']);
    assert.notEqual(touch.code, 0, explain(touch));
    assert.match(touch.stderr, /Read-only file system/);
    assert.match(run.stderr, /code: .*checkout -> \/opt\/yolov5 \(read-only\)/);
  } finally {
    const down = await yoloLab(['down', result.name]);
    assert.equal(down.code, 0, explain(down));
  }
  await assertNoContainerLeft();
});

test('a notebooks folder the container user cannot write is refused before anything starts', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'yolo-lab-root-owned-'));
  chmodSync(folder, 0o755); // root's, and the container runs as the image user
  const run = await yoloLab(['up', ...HOST_NET, '--notebooks', folder, '--image', IMAGE]);
  assert.notEqual(run.code, 0, explain(run));
  assert.match(run.stderr, /cannot save there\. Pass --user 0:0/);
  await assertNoContainerLeft();
});

test('--server-only: a Jupyter server for kernels, without the JupyterLab page', async () => {
  const run = await yoloLab([
    'up',
    '--json',
    '--server-only',
    ...HOST_NET,
    '--image',
    IMAGE,
    '--runs',
    join(work, 'server-runs')
  ]);
  assert.equal(run.code, 0, explain(run));
  const result = JSON.parse(run.stdout) as { name: string; url: string; token: string };
  try {
    assert.match(result.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    const origin = new URL(result.url).origin;
    const headers = { Authorization: `token ${result.token}` };
    assert.equal((await fetch(`${origin}/api/status`, { headers })).status, 200);
    assert.equal((await fetch(`${origin}/lab`, { headers })).status, 404);
    const kernel = await KernelClient.start(origin, result.token);
    const reply = await kernel.execute('import yolo_lab; print(yolo_lab.__version__)');
    await kernel.shutdown();
    assert.equal(reply.status, 'ok', JSON.stringify(reply));
  } finally {
    await yoloLab(['down', result.name]);
  }
  await assertNoContainerLeft();
});

test('the image trains YOLOv5 with no network at all (font, pip, weights and datasets stay local)', async () => {
  const runs = join(work, 'offline-runs');
  mkdirSync(runs);
  chownSync(runs, 1000, 1000);
  const script =
    'python -m yolo_lab.shapes /runs/shapes --train 16 --val 8 --size 64 >/dev/null && ' +
    "yolov5 train --data /runs/shapes/data.yaml --cfg yolov5n.yaml --weights '' --epochs 1 --imgsz 64 " +
    '--batch-size 8 --device cpu --workers 0 --project /runs --name offline';
  const container = await docker.createContainer({
    Image: IMAGE,
    Cmd: ['sh', '-c', script],
    User: '1000:1000',
    // YOLOv5 7.0 torch.loads its own checkpoints in full; the image no longer
    // allows that to every process (yolo-lab's runner sets it for its runs),
    // so YOLOv5's own command gets it here, as the README says.
    Env: ['TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1'],
    HostConfig: { NetworkMode: 'none', Mounts: [{ Type: 'bind', Source: runs, Target: '/runs' }] }
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const log = await lastLogLines(docker, container, 400);
    assert.equal(StatusCode, 0, log);
    assert.doesNotMatch(
      log,
      /Traceback|Downloading|Errno|ConnectionError|not (a )?writable/i,
      'nothing failed, tried the network or lacked a writable home'
    );
  } finally {
    await container.remove({ force: true });
  }
  assert.ok(statSync(join(runs, 'offline', 'weights', 'last.pt')).size > 100_000);
  assert.equal(
    readFileSync(join(runs, 'offline', 'results.csv'), 'utf8')
      .trim()
      .split('\n').length,
    2
  );
});

describe('errors a user can act on, each for real; no container is left behind', () => {
  test('engine not running: DOCKER_HOST names a socket nothing listens on', async () => {
    const env = { ...process.env, DOCKER_HOST: `unix://${join(work, 'no-engine.sock')}` };
    const run = await yoloLab(['up', ...HOST_NET], { env });
    assert.equal(run.code, 2, explain(run));
    assert.match(
      run.stderr,
      /The Docker engine is not running \(nothing answers at unix:\/\/.*no-engine\.sock\)/
    );
    assert.match(run.stderr, /Start it/);
  });

  test(
    'socket not permitted: a user outside the docker group',
    { skip: process.getuid?.() !== 0 && 'needs root to run the command as another user' },
    async () => {
      const run = await yoloLab(['status'], { uid: 65534, gid: 65534, cwd: work });
      assert.equal(run.code, 2, explain(run));
      assert.match(run.stderr, /Permission denied on the Docker socket/);
      assert.match(run.stderr, /usermod -aG docker/);
    }
  );

  test('image missing: says how to build it', async () => {
    const run = await yoloLab([
      'up',
      ...HOST_NET,
      '--image',
      'yolo-lab-test-missing:none',
      '--runs',
      join(work, 'r1')
    ]);
    assert.equal(run.code, 2, explain(run));
    assert.match(
      run.stderr,
      /The image yolo-lab-test-missing:none is not in this Docker engine\. Build it with `yolo-lab build`/
    );
    await assertNoContainerLeft();
  });

  test('mount path missing: names the flag and the path', async () => {
    const missing = join(work, 'no-such-datasets');
    const run = await yoloLab(['up', ...HOST_NET, '--image', IMAGE, '--datasets', missing]);
    assert.equal(run.code, 2, explain(run));
    assert.match(run.stderr, new RegExp(`The --datasets path ${missing} does not exist`));
    await assertNoContainerLeft();
  });

  test('port in use on 127.0.0.1', async () => {
    const server: Server = createServer();
    await new Promise<void>(done => server.listen(0, '127.0.0.1', done));
    const port = (server.address() as { port: number }).port;
    try {
      const run = await yoloLab([
        'up',
        ...HOST_NET,
        '--image',
        IMAGE,
        '--port',
        String(port),
        '--runs',
        join(work, 'r2')
      ]);
      assert.equal(run.code, 2, explain(run));
      assert.match(
        run.stderr,
        new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is in use\\. Choose another with --port`)
      );
    } finally {
      server.close();
    }
    await assertNoContainerLeft();
  });

  test('GPU request without the NVIDIA runtime: the fix, and the created container removed', async () => {
    const before = (await docker.listContainers({ all: true })).length;
    const run = await yoloLab([
      'up',
      '--network',
      'host',
      '--gpus',
      'all',
      '--image',
      IMAGE,
      '--runs',
      join(work, 'r3')
    ]);
    assert.equal(run.code, 2, explain(run));
    assert.match(run.stderr, /could not select device driver "nvidia"/);
    assert.match(run.stderr, /Install the NVIDIA Container Toolkit/);
    assert.match(run.stderr, /yolo-lab up --gpus none/);
    assert.match(run.stderr, /==> starting /, 'the container was really created before start failed');
    assert.equal((await docker.listContainers({ all: true })).length, before);
    await assertNoContainerLeft();
  });

  test('no bridge network on this engine: says to use --network host', async () => {
    const run = await yoloLab(['up', '--gpus', 'none', '--image', IMAGE, '--runs', join(work, 'r4')]);
    assert.equal(run.code, 2, explain(run));
    assert.match(run.stderr, /no bridge network.*\n.*--network host/);
    await assertNoContainerLeft();
  });

  test('a container that exits during start: its last log lines, then removed', async () => {
    // Port 1 is free on the host, but the container's user, without
    // capabilities, may not listen below 1024: Jupyter exits.
    const run = await yoloLab([
      'up',
      ...HOST_NET,
      '--image',
      IMAGE,
      '--port',
      '1',
      '--runs',
      join(work, 'r5')
    ]);
    assert.equal(run.code, 2, explain(run));
    assert.match(
      run.stderr,
      /The container exited during start \(exit code [1-9]\d*\)\. Its last log lines:/
    );
    assert.match(run.stderr, /Permission denied|port 1\b/, 'the log names the cause');
    await assertNoContainerLeft();
  });

  test('Ctrl-C while waiting for Jupyter removes the container', async () => {
    const running = yoloLab(['up', ...HOST_NET, '--image', IMAGE, '--runs', join(work, 'r7')]);
    let stderr = '';
    running.child.stderr!.on('data', chunk => (stderr += chunk));
    // Interrupt once the container exists: the launcher says it is waiting.
    await new Promise<void>(done => {
      const check = (): void => {
        if (stderr.includes('==> waiting for Jupyter')) done();
        else running.child.stderr!.once('data', check);
      };
      check();
    });
    running.child.kill('SIGINT');
    const run = await running;
    assert.equal(run.code, 130, explain(run));
    await assertNoContainerLeft();
  });

  test('build without the wheel says how to make it', async () => {
    const repo = join(work, 'repo-without-wheel');
    mkdirSync(join(repo, 'docker'), { recursive: true });
    writeFileSync(join(repo, 'docker', 'Dockerfile'), 'FROM scratch\n');
    const run = await yoloLab(['build', '--repo', repo, '--tag', 'yolo-lab-test-never:built']);
    assert.equal(run.code, 2, explain(run));
    assert.match(run.stderr, /No yolo-lab wheel in .*dist\. Build it first: bash scripts\/setup\.sh/);
  });

  test('an image without Jupyter exits during start too, and is removed', async () => {
    const run = await yoloLab(['up', ...HOST_NET, '--image', BASE_IMAGE, '--runs', join(work, 'r6')]);
    assert.equal(run.code, 2, explain(run));
    assert.match(run.stderr, /exited during start[\s\S]*jupyter/);
    await assertNoContainerLeft();
  });
});
