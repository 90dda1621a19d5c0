/**
 * `yolo-lab up --host ssh://...` against a real sshd (Debian's
 * openssh-server, started here on a free port of 127.0.0.1 with its own
 * host key and authorized_keys) in front of the real local engine: the
 * remote is this machine, so every test proves the URL goes through the
 * tunnel (another port, dead once the tunnel is). The commands run with a
 * HOME of their own (the laptop: ~/.ssh/known_hosts, the records) and an
 * SSH config of their own (YOLO_LAB_SSH_CONFIG: `ssh -G` reads only it, never
 * this machine's ~/.ssh/config).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync
} from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import Docker from 'dockerode';

import { LABEL } from '../src/engine';
import { readServer, recordedServers, stateDir } from '../src/registry';
import { resolveSshTarget } from '../src/sshconfig';
import { parseSshTarget } from '../src/sshtarget';
import type { UpResult } from '../src/up';
import { BASE_IMAGE, CLI, explain, HOST_NET, IMAGE, IMAGE_UID, workDir, yoloLab, type Run } from './helpers';
import { KernelClient } from './kernel';

const SSHD = '/usr/sbin/sshd';
const skip =
  !existsSync(SSHD) || process.getuid?.() !== 0
    ? 'needs root and Debian openssh-server (scripts/test-launcher.sh installs it)'
    : false;

const docker = new Docker();
const work = workDir('yolo-lab-remote-test-');
const sshDir = join(work, 'sshd');
/** The laptop's HOME: ~/.ssh/known_hosts, and the server records under ~/.local/share. */
const laptop = join(work, 'laptop');
const keys = join(work, 'keys');
const agentSocket = join(work, 'agent.sock');
/** The laptop's SSH config (as ~/.ssh/config), read by `ssh -F` through YOLO_LAB_SSH_CONFIG. */
const sshConfig = join(laptop, '.ssh', 'config');

let sshdPort = 0;
let sshd: ChildProcess | undefined;
let agent: ChildProcess | undefined;
let sshdLog = '';
const HOST = (): string => `ssh://root@127.0.0.1:${sshdPort}`;
/** Host networking and no GPUs: this engine has neither a bridge nor the NVIDIA runtime. */
const UP_FLAGS = [...HOST_NET, '--image', IMAGE];
/** The container names this file starts (the engine is shared: nothing else is touched). */
const ourNames: string[] = [];

/** The commands' environment: the laptop's HOME, no engine or key from this shell; `extra` on top. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env, HOME: laptop };
  for (const name of [
    'SSH_AUTH_SOCK',
    'DOCKER_HOST',
    'YOLO_LAB_SSH_KEY',
    'YOLO_LAB_SSH_CONFIG',
    'YOLO_LAB_STATE_DIR',
    'XDG_DATA_HOME'
  ]) {
    delete base[name];
  }
  return {
    ...base,
    XDG_DATA_HOME: join(laptop, '.local', 'share'),
    YOLO_LAB_SSH_CONFIG: sshConfig,
    ...extra
  };
}
const withAgent = (): NodeJS.ProcessEnv => env({ SSH_AUTH_SOCK: agentSocket });
/** No local engine to fall back on: a command that ignored --host would fail. */
const NO_LOCAL_ENGINE = { DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
const laptopState = (): string => stateDir(env());

function explainSsh(run: Run): string {
  return explain(run, `\nsshd: ${sshdLog.slice(-2000)}`);
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise(done => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(done => setTimeout(done, 50));
  }
}

function keygen(file: string, comment: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  return readFileSync(`${file}.pub`, 'utf8').trim();
}

/** Pids of tunnel processes (`yolo-lab connect NAME --attach`) still running, for `name` if given. */
function tunnelProcesses(name?: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (
        args.includes(CLI) &&
        args.includes('connect') &&
        args.includes('--attach') &&
        (name === undefined || args.includes(name))
      ) {
        pids.push(Number(entry));
      }
    } catch {
      // Ended meanwhile.
    }
  }
  return pids;
}

/**
 * After a failed (or finished) command: no container named `name`, no
 * record and no tunnel process for it. By name: the engine is shared, and
 * other work may run launcher containers of its own meanwhile.
 */
async function assertNothingLeft(name: string): Promise<void> {
  const left = await docker.listContainers({ all: true, filters: { name: [`^/${name}$`] } });
  assert.deepEqual(
    left.map(c => c.Names[0]),
    [],
    'no container left behind'
  );
  assert.deepEqual(recordedServers(laptopState()), [], 'no record left behind');
  assert.deepEqual(tunnelProcesses(name), [], 'no tunnel process left behind');
}

before(async () => {
  if (skip) return;
  mkdirSync(sshDir);
  mkdirSync(keys);
  mkdirSync(join(laptop, '.ssh'), { recursive: true });
  const hostKey = keygen(join(sshDir, 'host_ed25519'), 'yolo-lab-test-host');
  const user = keygen(join(keys, 'id_user'), 'user');
  keygen(join(keys, 'id_wrong'), 'not-authorized');
  const noDocker = keygen(join(keys, 'id_nodocker'), 'no-docker');
  // The second key logs in with a PATH where no docker is: a host without Docker.
  writeFileSync(join(sshDir, 'authorized_keys'), `${user}\nenvironment="PATH=/nonexistent" ${noDocker}\n`);
  sshdPort = await freePort();
  writeFileSync(
    join(sshDir, 'sshd_config'),
    [
      `Port ${sshdPort}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(sshDir, 'host_ed25519')}`,
      `PidFile ${join(sshDir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(sshDir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'PermitUserEnvironment yes',
      'AllowTcpForwarding yes',
      'UsePAM no',
      // The test's files live under /tmp (mode 1777), which StrictModes refuses.
      'StrictModes no',
      'Subsystem sftp /usr/lib/openssh/sftp-server',
      ''
    ].join('\n')
  );
  mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege separation folder
  sshd = spawn(SSHD, ['-D', '-e', '-f', join(sshDir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe']
  });
  sshd.stderr!.on('data', chunk => (sshdLog += chunk));
  await waitFor('sshd to listen', () => listening(sshdPort));
  const [type, blob] = hostKey.split(' ');
  writeFileSync(join(laptop, '.ssh', 'known_hosts'), `[127.0.0.1]:${sshdPort} ${type} ${blob}\n`);
  // Aliases as a user writes them: one direct, one behind a jump host.
  writeFileSync(
    sshConfig,
    [
      'Host gpu-box',
      '  HostName 127.0.0.1',
      `  Port ${sshdPort}`,
      '  User root',
      `  IdentityFile ${join(keys, 'id_user')}`,
      'Host gpu-behind-jump',
      '  HostName 127.0.0.1',
      `  Port ${sshdPort}`,
      '  User root',
      // ssh -G resolves no names: the jump host needs not exist.
      '  ProxyJump me@bastion.invalid:2200',
      'Host gpu-by-command',
      '  HostName 127.0.0.1',
      `  ProxyCommand nc %h ${sshdPort}`,
      ''
    ].join('\n')
  );
  agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
  await waitFor('ssh-agent', () => existsSync(agentSocket));
  execFileSync('ssh-add', ['-q', join(keys, 'id_user')], { env: withAgent(), stdio: 'ignore' });
});

after(async () => {
  // Whatever a failed test left: only what this file started, by name and pid.
  for (const name of ourNames) {
    for (const pid of tunnelProcesses(name)) process.kill(pid, 'SIGTERM');
    await docker
      .getContainer(name)
      .remove({ force: true })
      .catch(() => undefined);
  }
  sshd?.kill('SIGTERM');
  agent?.kill('SIGTERM');
});

describe(
  'yolo-lab up --host ssh://...: a tunnel, a kernel through it, connect, status, down',
  { skip },
  () => {
    const notebooks = join(work, 'notebooks');
    const runs = join(work, 'runs'); // created over SFTP by up
    let run: Run;
    let result: UpResult;
    let kernel: KernelClient | undefined;

    const urlPort = (): number => Number(new URL(result.url).port);
    const base = (): string => new URL(result.url).origin;

    before(async () => {
      mkdirSync(notebooks);
      chownSync(notebooks, IMAGE_UID, IMAGE_UID);
      run = await yoloLab(
        [
          'up',
          '--json',
          '--host',
          HOST(),
          ...HOST_NET,
          '--image',
          IMAGE,
          '--notebooks',
          notebooks,
          '--runs',
          runs
        ],
        { env: withAgent() }
      );
      assert.equal(run.code, 0, explainSsh(run));
      result = JSON.parse(run.stdout);
    });

    after(async () => {
      await kernel?.shutdown().catch(() => undefined);
    });

    test("the URL is a tunnel on this machine's 127.0.0.1, at another port than Jupyter's; the token is needed", async () => {
      assert.match(result.url, /^http:\/\/127\.0\.0\.1:\d+\/lab\?token=[0-9a-f]{48}$/);
      const info = await docker.getContainer(result.id).inspect();
      assert.equal(
        Number(info.Config.Labels[LABEL.port]),
        result.port,
        "result.port is Jupyter's on the remote"
      );
      assert.notEqual(urlPort(), result.port, 'the URL goes through the tunnel, not to Jupyter directly');
      assert.equal(urlPort(), result.tunnelPort);
      const ok = await fetch(`${base()}/api/status`, { headers: { Authorization: `token ${result.token}` } });
      assert.equal(ok.status, 200);
      const refused = await fetch(`${base()}/api/status`);
      assert.ok([401, 403].includes(refused.status), `without the token: HTTP ${refused.status}`);
      assert.match(run.stderr, /checking the mount paths on 127\.0\.0\.1/);
      assert.match(run.stderr, /container: docker/, 'the doctor ran inside, over SSH');
      assert.equal(
        statSync(runs).uid,
        IMAGE_UID,
        'up made the runs folder there (SFTP) for the container user'
      );
    });

    test('the server is recorded for the panel with the tunnelled URL and the tunnel process', () => {
      const record = readServer(result.name, laptopState());
      assert.ok(record, 'recorded');
      assert.equal(record.url, result.url);
      assert.equal(record.token, result.token);
      assert.equal(record.host, HOST());
      assert.equal(record.tunnel?.port, urlPort());
      assert.deepEqual(
        tunnelProcesses(result.name),
        [record.tunnel!.pid],
        'one tunnel process, the recorded one'
      );
    });

    test('a kernel through the tunnel runs in the container, torch and yolo-lab inside, and trains YOLOv5', async () => {
      // The websocket of the kernel channels goes through the tunnel too.
      kernel = await KernelClient.start(base(), result.token);
      const reply = await kernel.execute(
        [
          'import torch, yolo_lab',
          "print('in_container', yolo_lab.doctor().data['system']['in_container'])",
          "print('sum', int(torch.arange(10).sum()))",
          "open('/runs/through-the-tunnel.txt', 'w').write('written on the remote')"
        ].join('\n'),
        120_000
      );
      assert.equal(reply.status, 'ok', JSON.stringify(reply));
      assert.equal(reply.stdout, 'in_container True\nsum 45\n');
      assert.equal(readFileSync(join(runs, 'through-the-tunnel.txt'), 'utf8'), 'written on the remote');
      // Training there, as a notebook would: one epoch on tiny data, on the CPU (no GPU here).
      const trained = await kernel.execute(
        [
          'from yolo_lab import train',
          'from yolo_lab.shapes import make_shapes_dataset',
          "data = make_shapes_dataset('/runs/shapes', train=16, val=8, image_size=64)",
          "run = train(data, device='cpu', batch_size=8, epochs=1, imgsz=64, workers=0, project='/runs', name='remote-e2e')",
          "print('status', run.wait())",
          "print(open(run.log).read()[-3000:] if run.status != 'finished' else '', end='')"
        ].join('\n'),
        600_000
      );
      assert.equal(trained.status, 'ok', JSON.stringify(trained));
      assert.equal(trained.stdout, 'status finished\n', trained.stdout);
      // On the remote host, in the folder up mounted at /runs, the container user's.
      const weights = join(runs, 'remote-e2e', 'weights', 'last.pt');
      assert.ok(statSync(weights).size > 100_000, 'weights on the remote host');
      assert.equal(statSync(weights).uid, IMAGE_UID, 'owned by the container user (up ran as root there)');
      assert.equal(statSync(join(runs, 'remote-e2e')).uid, IMAGE_UID);
      const csv = readFileSync(join(runs, 'remote-e2e', 'results.csv'), 'utf8')
        .trim()
        .split('\n');
      assert.equal(csv.length, 2, 'a header and one epoch');
    });

    test('exec and shell --host: a command in the container on the remote host, its exit code passed through', async () => {
      const over = { env: { ...withAgent(), ...NO_LOCAL_ENGINE } };
      const ok = await yoloLab(
        [
          'exec',
          '--host',
          HOST(),
          result.name,
          '--',
          'python',
          '-c',
          "import os; print('uid', os.getuid(), os.getcwd()); print(open('/runs/through-the-tunnel.txt').read())"
        ],
        over
      );
      assert.equal(ok.code, 0, explainSsh(ok));
      assert.equal(ok.stdout, 'uid 1000 /workspace\nwritten on the remote\n');
      const failed = await yoloLab(
        [
          'exec',
          result.name,
          '--identity',
          join(keys, 'id_user'),
          '--host',
          HOST(),
          '--',
          'python',
          '-c',
          "import sys; print('to stderr', file=sys.stderr); sys.exit(7)"
        ],
        { env: { ...env(), ...NO_LOCAL_ENGINE } }
      );
      assert.equal(failed.code, 7, explainSsh(failed));
      assert.equal(failed.stderr, 'to stderr\n');
      const shell = await yoloLab(['shell', '--host', HOST(), result.name], {
        ...over,
        input: 'echo in $(pwd) as $(id -u)\nexit 3\n'
      });
      assert.equal(shell.code, 3, explainSsh(shell));
      assert.equal(shell.stdout, 'in /workspace as 1000\n');
    });

    test('an alias of the SSH config (HostName, Port, User, IdentityFile) works with no --identity and no agent', async () => {
      const status = await yoloLab(['status', '--json', '--host', 'ssh://gpu-box'], {
        env: { ...env(), ...NO_LOCAL_ENGINE }
      });
      assert.equal(status.code, 0, explainSsh(status));
      const mine = (JSON.parse(status.stdout) as { name: string; url: string }[]).find(
        e => e.name === result.name
      );
      assert.equal(mine?.url, result.url);
      const exec = await yoloLab(['exec', '--host', 'ssh://gpu-box', result.name, '--', 'true'], {
        env: { ...env(), ...NO_LOCAL_ENGINE }
      });
      assert.equal(exec.code, 0, explainSsh(exec));
      // The URL's user and port win over the alias's, as with ssh -l and -p.
      const wrongPort = await freePort();
      const refused = await yoloLab(['status', '--host', `ssh://gpu-box:${wrongPort}`], { env: env() });
      assert.equal(refused.code, 2, explainSsh(refused));
      assert.match(
        refused.stderr,
        new RegExp(`Nothing accepts SSH connections at 127\\.0\\.0\\.1:${wrongPort} .*gpu-box`)
      );
    });

    test('status, logs and doctor reach the remote host by --host, DOCKER_HOST and yolo-lab.json', async () => {
      const status = await yoloLab(['status', '--json', '--host', HOST()], { env: withAgent() });
      assert.equal(status.code, 0, explainSsh(status));
      const mine = (JSON.parse(status.stdout) as { name: string; url: string; tunnel: string }[]).find(
        e => e.name === result.name
      );
      assert.deepEqual({ url: mine?.url, tunnel: mine?.tunnel }, { url: result.url, tunnel: 'open' });
      const logs = await yoloLab(['logs', result.name, '--no-follow', '--tail', '100'], {
        env: { ...withAgent(), DOCKER_HOST: HOST() }
      });
      assert.equal(logs.code, 0, explainSsh(logs));
      assert.match(logs.stdout + logs.stderr, /Jupyter Server .* is running at/);
      const project = join(work, 'project-with-config');
      mkdirSync(project);
      writeFileSync(join(project, 'yolo-lab.json'), JSON.stringify({ host: HOST() }));
      const doctor = await yoloLab(['doctor', result.name, '--json'], { env: withAgent(), cwd: project });
      assert.equal(doctor.code, 0, explainSsh(doctor));
      assert.equal(JSON.parse(doctor.stdout).system.in_container, true);
    });

    test('connect reopens the tunnel once it ended (the laptop slept), at the same URL', async () => {
      const record = readServer(result.name, laptopState())!;
      process.kill(record.tunnel!.pid, 'SIGKILL'); // as a lost connection would, without tidying up
      await waitFor('the tunnel to close', async () => !(await listening(urlPort())));
      const closed = await yoloLab(['status', '--host', HOST()], { env: withAgent() });
      assert.match(
        closed.stdout,
        new RegExp(`tunnel closed: yolo-lab connect --host ${HOST()} ${result.name}`)
      );
      // No --host: the record knows where the container is.
      const connect = await yoloLab(['connect', result.name], { env: withAgent() });
      assert.equal(connect.code, 0, explainSsh(connect));
      assert.equal(connect.stdout.trim(), result.url);
      const ok = await fetch(`${base()}/api/status`, { headers: { Authorization: `token ${result.token}` } });
      assert.equal(ok.status, 200);
      const again = await yoloLab(['connect', result.name], { env: withAgent() });
      assert.match(again.stderr, /the tunnel is open/, explainSsh(again));
      assert.equal(tunnelProcesses(result.name).length, 1, 'still one tunnel process');
    });

    test('down removes the container, ends the tunnel and forgets the server', async () => {
      const tunnelPid = readServer(result.name, laptopState())!.tunnel!.pid;
      // Through the reopened tunnel (the kernel's channels died with the first one).
      await kernel?.shutdown().catch(() => undefined);
      kernel = undefined;
      const run = await yoloLab(['down', '--host', HOST(), result.name], { env: withAgent() });
      assert.equal(run.code, 0, explainSsh(run));
      await waitFor('the tunnel process to end', () => !tunnelProcesses().includes(tunnelPid));
      assert.equal(await listening(urlPort()), false, 'the tunnel port is closed');
      await assertNothingLeft(result.name);
    });
  }
);

test(
  'an ssh:// alias resolves through OpenSSH (ssh -F YOLO_LAB_SSH_CONFIG -G); the URL wins',
  { skip },
  () => {
    const alias = resolveSshTarget(parseSshTarget('ssh://gpu-box'), env());
    assert.deepEqual(
      { host: alias.host, port: alias.port, user: alias.user, address: alias.address },
      { host: '127.0.0.1', port: sshdPort, user: 'root', address: 'ssh://gpu-box' }
    );
    assert.equal(alias.identityFiles?.[0], join(keys, 'id_user'));
    assert.match(alias.knownHostsFiles?.[0] ?? '', /\/\.ssh\/known_hosts$/);
    assert.equal(alias.configFile, sshConfig);
    const given = resolveSshTarget(parseSshTarget('ssh://someone@gpu-box:2200'), env());
    assert.deepEqual([given.host, given.port, given.user], ['127.0.0.1', 2200, 'someone']);
    // A name the config does not know is itself: ssh's defaults (port 22, the keys in ~/.ssh).
    const plain = resolveSshTarget(parseSshTarget('ssh://me@other-box'), env());
    assert.deepEqual([plain.host, plain.port, plain.user], ['other-box', 22, 'me']);
    assert.ok(plain.identityFiles?.some(f => f.endsWith('/.ssh/id_ed25519')));
    // No ssh on the PATH: the URL as given.
    const noSsh = resolveSshTarget(parseSshTarget('ssh://gpu-box'), env({ PATH: join(work, 'no-bin') }));
    assert.deepEqual([noSsh.host, noSsh.port, noSsh.identityFiles], ['gpu-box', 22, undefined]);
    assert.throws(
      () =>
        resolveSshTarget(parseSshTarget('ssh://gpu-box'), env({ YOLO_LAB_SSH_CONFIG: join(work, 'nope') })),
      /could not read the SSH configuration for gpu-box: .*nope.*named by YOLO_LAB_SSH_CONFIG/s
    );
  }
);

describe('over SSH, errors a user can act on, each for real; nothing is left behind', { skip }, () => {
  /** A name of its own for each start, to look for what it left. */
  let count = 0;
  let name = '';
  const upArgs = (host: string): string[] => {
    name = `yolo-lab-remote-test-${process.pid}-${++count}`;
    ourNames.push(name);
    return ['up', '--name', name, '--host', host, ...UP_FLAGS, '--notebooks', work];
  };

  test('a key the host refuses: says which keys were tried and what to do', async () => {
    const run = await yoloLab([...upArgs(HOST()), '--identity', join(keys, 'id_wrong')], { env: env() });
    assert.equal(run.code, 2, explainSsh(run));
    assert.match(run.stderr, /127\.0\.0\.1 refused the login of root: tried the key .*id_wrong/);
    assert.match(run.stderr, new RegExp(`ssh-copy-id -p ${sshdPort} root@127\\.0\\.0\\.1`));
    assert.match(run.stderr, /--identity FILE/);
    await assertNothingLeft(name);
  });

  test('a host where nothing listens: connection refused, check the address', async () => {
    const port = await freePort();
    const run = await yoloLab(upArgs(`ssh://root@127.0.0.1:${port}`), { env: withAgent() });
    assert.equal(run.code, 2, explainSsh(run));
    assert.match(
      run.stderr,
      new RegExp(`Nothing accepts SSH connections at 127\\.0\\.0\\.1:${port} \\(connection refused\\)`)
    );
    await assertNothingLeft(name);
  });

  test('a host without Docker on the PATH: install Docker there or fix PATH', async () => {
    const run = await yoloLab([...upArgs(HOST()), '--identity', join(keys, 'id_nodocker')], { env: env() });
    assert.equal(run.code, 2, explainSsh(run));
    assert.match(run.stderr, /Docker is not installed on 127\.0\.0\.1, or `docker` is not on the PATH/);
    assert.match(run.stderr, /docker system dial-stdio: [\s\S]*docker: command not found/);
    assert.match(run.stderr, /Install Docker on 127\.0\.0\.1/);
    await assertNothingLeft(name);
  });

  test('an alias behind ProxyJump or ProxyCommand: refused before connecting, with the hop to open by hand', async () => {
    const run = await yoloLab(upArgs('ssh://gpu-behind-jump'), { env: withAgent() });
    assert.equal(run.code, 2, explainSsh(run));
    assert.match(
      run.stderr,
      /reaches gpu-behind-jump through a jump host \(ProxyJump me@bastion\.invalid:2200\)/
    );
    assert.match(run.stderr, /ssh2/);
    assert.match(run.stderr, new RegExp(`ssh -F \\S+ -N -L 2222:localhost:${sshdPort} gpu-behind-jump`));
    assert.match(run.stderr, /--host ssh:\/\/127\.0\.0\.1:2222/);
    await assertNothingLeft(name);
    const command = await yoloLab(['status', '--host', 'ssh://gpu-by-command'], { env: withAgent() });
    assert.equal(command.code, 2, explainSsh(command));
    assert.match(command.stderr, new RegExp(`\\(ProxyCommand nc %h ${sshdPort}\\)`));
  });

  test('a host whose key is not in known_hosts is refused', async () => {
    const stranger = join(work, 'stranger');
    mkdirSync(stranger);
    const run = await yoloLab(upArgs(HOST()), { env: { ...withAgent(), HOME: stranger } });
    assert.equal(run.code, 2, explainSsh(run));
    assert.match(
      run.stderr,
      new RegExp(`The host key of \\[127\\.0\\.0\\.1\\]:${sshdPort} is not in ~/\\.ssh/known_hosts`)
    );
    await assertNothingLeft(name);
  });

  /** A laptop HOME of its own whose known_hosts holds `lines` (`KEY` stands for the host's real key). */
  function laptopWith(label: string, lines: string[]): NodeJS.ProcessEnv {
    const home = join(work, label);
    mkdirSync(join(home, '.ssh'), { recursive: true });
    const real = readFileSync(join(laptop, '.ssh', 'known_hosts'), 'utf8')
      .trim()
      .split(' ')
      .slice(1)
      .join(' ');
    writeFileSync(
      join(home, '.ssh', 'known_hosts'),
      lines.map(l => l.replace('KEY', real)).join('\n') + '\n'
    );
    return { ...withAgent(), HOME: home };
  }

  test('a host whose key differs from the one in known_hosts is refused (changed, not unknown)', async () => {
    const other = keygen(join(keys, 'other_host'), 'another-host').split(' ').slice(0, 2).join(' ');
    const run = await yoloLab(upArgs(HOST()), {
      env: laptopWith('changed', [`[127.0.0.1]:${sshdPort} ${other}`])
    });
    assert.equal(run.code, 2, explainSsh(run));
    assert.match(
      run.stderr,
      new RegExp(
        `The host key of \\[127\\.0\\.0\\.1\\]:${sshdPort} differs from the one in ~/\\.ssh/known_hosts`
      )
    );
    assert.match(run.stderr, /ssh-keygen -R/);
    await assertNothingLeft(name);
  });

  test('a host key marked @revoked is refused even where another line lists it', async () => {
    const run = await yoloLab(upArgs(HOST()), {
      env: laptopWith('revoked', [`[127.0.0.1]:${sshdPort} KEY`, '@revoked * KEY'])
    });
    assert.equal(run.code, 2, explainSsh(run));
    assert.match(
      run.stderr,
      new RegExp(`The host key of \\[127\\.0\\.0\\.1\\]:${sshdPort} is marked @revoked`)
    );
    await assertNothingLeft(name);
    // The same file without the @revoked line logs in: the refusal came from that line alone.
    const accepted = await yoloLab(['status', '--host', HOST()], {
      env: laptopWith('not-revoked', [`[127.0.0.1]:${sshdPort} KEY`])
    });
    assert.equal(accepted.code, 0, explainSsh(accepted));
  });

  test('a mount path missing on the remote host is named before anything is created', async () => {
    const missing = join(work, 'no-such-datasets');
    const run = await yoloLab([...upArgs(HOST()), '--datasets', missing], { env: withAgent() });
    assert.equal(run.code, 2, explainSsh(run));
    assert.match(run.stderr, new RegExp(`The --datasets path ${missing} does not exist on 127\\.0\\.0\\.1`));
    await assertNothingLeft(name);
  });

  test('build sends the context over the same SSH connection, with progress', async () => {
    const repo = join(work, 'tiny-repo');
    mkdirSync(join(repo, 'docker'), { recursive: true });
    mkdirSync(join(repo, 'dist'));
    writeFileSync(
      join(repo, 'docker', 'Dockerfile'),
      'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY dist/ /tmp/dist/\n'
    );
    writeFileSync(join(repo, 'dist', 'yolo_lab-0.0.0-py3-none-any.whl'), 'not a real wheel');
    const tag = 'yolo-lab-test-remote:built';
    const run = await yoloLab(
      ['build', '--host', HOST(), '--repo', repo, '--tag', tag, '--base-image', BASE_IMAGE],
      { env: withAgent() }
    );
    try {
      assert.equal(run.code, 0, explainSsh(run));
      assert.match(run.stderr, /Step 3\/3 : COPY dist\/ \/tmp\/dist\//);
      assert.match(run.stderr, /built yolo-lab-test-remote:built/);
      await docker.getImage(tag).inspect();
    } finally {
      await docker
        .getImage(tag)
        .remove()
        .catch(() => undefined);
    }
  });
});
