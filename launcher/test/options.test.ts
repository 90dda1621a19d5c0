/** The container the launcher asks for, from the options (no engine needed). */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { LABEL } from '../src/engine';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { commandHelp, HelpRequest, overviewHelp, parseCommand } from '../src/argv';
import { execArgs, shellArgs, upOptions } from '../src/commandline';
import { COMMANDS, LOGS, OVERVIEW_NOTES, OVERVIEW_TITLE, UP } from '../src/flags';
import { parseSshG } from '../src/sshconfig';
import {
  baseUrl,
  checkConfig,
  checkoutDir,
  createOptions,
  gpuRequests,
  jupyterCommand,
  loadConfig,
  parseSize,
  serverUrl,
  type UpOptions
} from '../src/options';

const base: UpOptions = {
  image: 'yolo-lab:latest',
  gpus: 'all',
  shm: '8g',
  ipcHost: false,
  notebooks: '/home/me/project',
  runs: '/tmp/runs',
  datasetsWritable: false,
  codeWritable: false,
  port: 8899,
  bind: '127.0.0.1',
  network: 'bridge',
  user: '1000:1000',
  serverOnly: false,
  workdir: '/workspace',
  timeoutS: 60
};

test('--gpus: all, a count, ids and UUIDs become NVIDIA device requests; none asks for nothing', () => {
  assert.deepEqual(gpuRequests('all'), [{ Driver: 'nvidia', Count: -1, Capabilities: [['gpu']] }]);
  assert.deepEqual(gpuRequests('2'), [{ Driver: 'nvidia', Count: 2, Capabilities: [['gpu']] }]);
  assert.deepEqual(gpuRequests('0,1'), [
    { Driver: 'nvidia', DeviceIDs: ['0', '1'], Capabilities: [['gpu']] }
  ]);
  assert.deepEqual(gpuRequests('"device=GPU-3f2a,1"')[0].DeviceIDs, ['GPU-3f2a', '1']);
  assert.deepEqual(gpuRequests('none'), []);
  assert.deepEqual(gpuRequests('0'), []);
  assert.throws(() => gpuRequests('lots'), /Cannot read --gpus "lots"/);
});

test('sizes read like docker --shm-size', () => {
  assert.equal(parseSize('8g'), 8 * 2 ** 30);
  assert.equal(parseSize('512m'), 512 * 2 ** 20);
  assert.equal(parseSize('1.5G'), 1.5 * 2 ** 30);
  assert.equal(parseSize('4096'), 4096);
  assert.throws(() => parseSize('big'), /use a number with k, m or g/);
});

test('secure defaults: published on 127.0.0.1 only, token in the environment, no privileges, no socket', () => {
  const options = createOptions({ ...base, code: '/src/yolov5', datasets: '/data' }, 'secret', 'yl');
  const host = options.HostConfig!;
  assert.deepEqual(host.PortBindings, { '8899/tcp': [{ HostIp: '127.0.0.1', HostPort: '8899' }] });
  assert.equal(host.Privileged, false);
  assert.equal(host.PidMode, undefined);
  assert.deepEqual(host.CapDrop, ['ALL']);
  assert.ok(host.SecurityOpt!.includes('no-new-privileges'));
  assert.equal(host.ShmSize, 8 * 2 ** 30);
  assert.ok(options.Env!.includes('JUPYTER_TOKEN=secret'));
  assert.ok(!options.Cmd!.join(' ').includes('secret'), 'the token must not be on the command line');
  const mounts = host.Mounts!.map(m => [m.Source, m.Target, m.ReadOnly]);
  assert.deepEqual(mounts, [
    ['/home/me/project', '/workspace', false],
    ['/tmp/runs', '/runs', false],
    ['/src/yolov5', '/opt/yolov5', true],
    ['/data', '/datasets', true]
  ]);
  assert.ok(options.Env!.includes('YOLO_LAB_YOLOV5_DIR=/opt/yolov5'), 'train() finds the mounted code');
  assert.ok(!JSON.stringify(options).includes('docker.sock'));
  assert.equal(options.Labels![LABEL.launcher], '1');
  assert.equal(options.User, '1000:1000');
});

test('host network: Jupyter itself binds the chosen address; --ipc host replaces the shm size', () => {
  const options = createOptions({ ...base, network: 'host', ipcHost: true }, 't', 'yl');
  assert.ok(options.Cmd!.includes('--ip=127.0.0.1'));
  assert.ok(options.Cmd!.includes('--ServerApp.port_retries=0'));
  assert.equal(options.HostConfig!.PortBindings, undefined);
  assert.equal(options.HostConfig!.IpcMode, 'host');
  assert.equal(options.HostConfig!.ShmSize, undefined);
});

test('server-only starts jupyter server; root gets --allow-root, others do not', () => {
  const server = jupyterCommand({ ...base, serverOnly: true }, '127.0.0.1');
  assert.equal(server[1], 'server');
  assert.ok(server.includes('--ServerApp.jpserver_extensions=jupyterlab=False'));
  assert.ok(!jupyterCommand(base, '127.0.0.1').some(a => a.includes('jpserver_extensions')));
  assert.ok(!jupyterCommand(base, '127.0.0.1').includes('--allow-root'));
  assert.ok(jupyterCommand({ ...base, user: '0:0' }, '127.0.0.1').includes('--allow-root'));
  assert.equal(serverUrl('127.0.0.1', 9000, 'abc', false), 'http://127.0.0.1:9000/lab?token=abc');
  assert.equal(serverUrl('::1', 9000, 'abc', true), 'http://[::1]:9000/?token=abc');
});

test('--allow-origin lets one page origin use the server, never everyone', () => {
  const cmd = jupyterCommand(
    { ...base, serverOnly: true, allowOrigin: 'http://127.0.0.1:8888' },
    '127.0.0.1'
  );
  assert.ok(cmd.includes('--ServerApp.allow_origin=http://127.0.0.1:8888'));
  assert.ok(!jupyterCommand(base, '127.0.0.1').some(a => a.includes('allow_origin')));
});

test('config values are type-checked: "false" in quotes, "x" seconds and unknown keys are refused', () => {
  const file = '/x/yolo-lab.json';
  assert.throws(
    () => checkConfig({ datasetsWritable: 'false' }, file),
    /"datasetsWritable" must be true or false \(without quotes\), not "false"/
  );
  assert.throws(() => checkConfig({ timeoutS: 'x' }, file), /"timeoutS" must be a whole number of seconds/);
  assert.throws(() => checkConfig({ timeoutS: 0 }, file), /at least 1/);
  assert.throws(() => checkConfig({ port: 70000 }, file), /"port" must be a port number/);
  assert.throws(() => checkConfig({ gpu: 'all' }, file), /unknown key "gpu". The keys are: .*gpus/);
  assert.deepEqual(checkConfig({ datasetsWritable: true, timeoutS: 30, gpus: '0' }, file), {
    datasetsWritable: true,
    timeoutS: 30,
    gpus: '0'
  });
  // Through the file reader, as `up --config` reads it.
  const dir = mkdtempSync(join(tmpdir(), 'yolo-lab-config-'));
  writeFileSync(join(dir, 'yolo-lab.json'), JSON.stringify({ datasetsWritable: 'false' }));
  assert.throws(() => loadConfig(join(dir, 'yolo-lab.json')), /must be true or false/);
});

test('--bind ::1 gives bracketed URLs for the readiness check and the user', () => {
  assert.equal(baseUrl('::1', 8899), 'http://[::1]:8899');
  assert.equal(baseUrl('0.0.0.0', 8899), 'http://127.0.0.1:8899');
  assert.equal(baseUrl('::', 8899), 'http://[::1]:8899');
  assert.equal(serverUrl('::1', 8899, 'tok', false), 'http://[::1]:8899/lab?token=tok');
});

test('--code must be a YOLOv5 checkout: up says so before creating anything', () => {
  const dir = mkdtempSync(join(tmpdir(), 'yolo-lab-code-'));
  const notCheckout = join(dir, 'notes');
  mkdirSync(notCheckout);
  assert.throws(() => checkoutDir(notCheckout, dir), /is not a YOLOv5 checkout \(it has no train.py\)/);
  assert.throws(() => upOptions(['--code', notCheckout]), /not a YOLOv5 checkout/);
  const checkout = join(dir, 'yolov5');
  mkdirSync(checkout);
  writeFileSync(join(checkout, 'train.py'), '');
  assert.equal(checkoutDir(checkout, dir), checkout);
  assert.equal(upOptions(['--code', checkout]).opts.code, checkout);
});

test('exec [NAME] -- CMD: everything after -- is the command, untouched; a missing one is a usage error', () => {
  assert.deepEqual(execArgs(['lab', '--', 'sh', '-c', 'exit 3']), {
    name: 'lab',
    cmd: ['sh', '-c', 'exit 3'],
    host: undefined,
    identity: undefined
  });
  assert.deepEqual(execArgs(['--', 'nvidia-smi', '--', '-q']), {
    name: undefined,
    cmd: ['nvidia-smi', '--', '-q'],
    host: undefined,
    identity: undefined
  });
  assert.throws(
    () => execArgs(['lab']),
    /exec needs a command after --, for example: yolo-lab exec lab -- nvidia-smi/
  );
  assert.throws(() => execArgs(['lab', '--']), /exec needs a command after --/);
  assert.throws(() => execArgs([]), /yolo-lab exec NAME -- nvidia-smi/);
  assert.throws(
    () => execArgs(['lab', 'nvidia-smi', '-q']),
    /Put -- between .*: yolo-lab exec lab -- nvidia-smi -q/
  );
  assert.throws(() => execArgs(['a', 'b', '--', 'id']), /one container name before --, not 2/);
  assert.throws(() => execArgs(['--user', '0', '--', 'id']), /exec takes no option --user/);
  assert.throws(() => execArgs(['lab', '--host']), /--host needs a value/);
  assert.throws(
    () => execArgs(['lab']),
    (error: unknown) => (error as { exitCode?: number }).exitCode === 2,
    'a usage error (exit 2)'
  );
});

test('exec --host/--identity: flags before --, in any order; after -- even those are the command', () => {
  const remote = { host: 'ssh://me@gpu-box:2222', identity: 'keys/id_gpu' };
  assert.deepEqual(
    execArgs(['--host', 'ssh://me@gpu-box:2222', '--identity', 'keys/id_gpu', 'lab', '--', 'nvidia-smi']),
    { name: 'lab', cmd: ['nvidia-smi'], ...remote }
  );
  assert.deepEqual(
    execArgs([
      'lab',
      '--host=ssh://me@gpu-box:2222',
      '--identity=keys/id_gpu',
      '--',
      'python',
      '-c',
      'print(1)'
    ]),
    { name: 'lab', cmd: ['python', '-c', 'print(1)'], ...remote }
  );
  assert.deepEqual(execArgs(['--host', 'ssh://gpu-box', '--', 'env', '--host', 'x', '--', '--identity']), {
    name: undefined,
    cmd: ['env', '--host', 'x', '--', '--identity'],
    host: 'ssh://gpu-box',
    identity: undefined
  });
  // Without --: the flags are still flags; what follows the name is the command meant.
  assert.throws(
    () => execArgs(['--host', 'ssh://gpu-box', 'lab', 'nvidia-smi', '-q']),
    /Put -- between .*: yolo-lab exec --host ssh:\/\/gpu-box lab -- nvidia-smi -q/
  );
  assert.throws(
    () => execArgs(['lab', '--identity', 'k']),
    /exec needs a command after --, for example: yolo-lab exec lab -- nvidia-smi/
  );
  assert.throws(
    () => execArgs(['--identity', 'k', '--gpus', '1', 'lab', '--', 'id']),
    /exec takes no option --gpus/
  );
});

test('shell [NAME]: one name at most; --host and --identity', () => {
  assert.deepEqual(shellArgs([]), { name: undefined, host: undefined, identity: undefined });
  assert.deepEqual(shellArgs(['lab']), { name: 'lab', host: undefined, identity: undefined });
  assert.deepEqual(shellArgs(['lab', '--host', 'ssh://gpu-box', '--identity', 'k']), {
    name: 'lab',
    host: 'ssh://gpu-box',
    identity: 'k'
  });
  assert.deepEqual(shellArgs(['--host=ssh://me@gpu-box:2222']), {
    name: undefined,
    host: 'ssh://me@gpu-box:2222',
    identity: undefined
  });
  assert.throws(() => shellArgs(['--host']), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' });
  assert.throws(
    () => shellArgs(['lab', 'nvidia-smi']),
    /shell takes one container name, not 2.*yolo-lab exec NAME -- CMD/
  );
  assert.throws(() => shellArgs(['--root']), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
});

test('ssh -G output: what OpenSSH makes of the SSH config, read; "none" is unset', () => {
  const output = [
    'host gpu-box',
    'user alice',
    'hostname 10.0.0.7',
    'port 2222',
    'identitiesonly no',
    'identityfile ~/.ssh/id_gpu',
    'identityfile /keys/with space',
    'globalknownhostsfile /etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2',
    'userknownhostsfile /home/alice/.ssh/known_hosts /home/alice/.ssh/known_hosts2',
    'hostkeyalias gpu-box.lab',
    'proxycommand none',
    'forwardagent no',
    ''
  ].join('\n');
  assert.deepEqual(parseSshG(output), {
    hostname: '10.0.0.7',
    user: 'alice',
    port: 2222,
    identityFiles: ['~/.ssh/id_gpu', '/keys/with space'],
    userKnownHostsFiles: ['/home/alice/.ssh/known_hosts', '/home/alice/.ssh/known_hosts2'],
    globalKnownHostsFiles: ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'],
    hostKeyAlias: 'gpu-box.lab'
  });
  const jumped = parseSshG('hostname 10.0.0.7\nproxyjump me@bastion:2200,other\n');
  assert.equal(jumped.proxyJump, 'me@bastion:2200,other');
  assert.equal(parseSshG('proxycommand ssh -W %h:%p bastion\n').proxyCommand, 'ssh -W %h:%p bastion');
  assert.equal(parseSshG('userknownhostsfile none\n').userKnownHostsFiles.length, 0);
});

test('one declaration per command: the parsing, its errors and --help come from flags.ts', () => {
  const usage = (code: string, message: RegExp) => (error: unknown) =>
    (error as { code?: string }).code === code &&
    (error as { exitCode?: number }).exitCode === 2 &&
    message.test((error as Error).message);
  assert.throws(
    () => upOptions(['--gpu', '1']),
    usage(
      'ERR_PARSE_ARGS_UNKNOWN_OPTION',
      /^up takes no option --gpu \(did you mean --gpus\?\)\.\nUsage: yolo-lab up/
    )
  );
  assert.throws(
    () => upOptions(['--port', 'x']),
    usage('ERR_PARSE_ARGS_INVALID_OPTION_VALUE', /--port needs a port number/)
  );
  assert.throws(
    () => upOptions(['--timeout', '0']),
    /--timeout needs a whole number of seconds, at least 1, not "0"/
  );
  assert.throws(() => upOptions(['--network', 'nat']), /--network takes bridge or host, not "nat"/);
  assert.throws(() => upOptions(['--json=yes']), /--json takes no value/);
  assert.throws(() => upOptions(['--image', '--json']), /--image needs a value \(NAME\)/);
  assert.throws(
    () => upOptions(['lab']),
    usage('ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL', /up takes no arguments/)
  );
  assert.throws(() => parseCommand(LOGS, ['a', 'b']), /logs takes one container name, not 2 \(a b\)/);
  assert.deepEqual(parseCommand(LOGS, ['--tail', '20', '--no-follow', 'lab']), {
    values: { tail: 20, 'no-follow': true },
    positionals: ['lab']
  });
  // --help (or -h) anywhere: the command's own help, every option in it with its default.
  for (const args of [['--help'], ['--gpus', '0', '-h']]) {
    assert.throws(
      () => upOptions(args),
      (error: unknown) => {
        const text = (error as HelpRequest).text;
        return (
          error instanceof HelpRequest &&
          text === commandHelp(UP) &&
          Object.keys(UP.options).every(name => text.includes(`--${name}`)) &&
          /--shm-size SIZE +shared memory for DataLoader workers \(default 8g\)/.test(text)
        );
      }
    );
  }
  const overview = overviewHelp(OVERVIEW_TITLE, COMMANDS, OVERVIEW_NOTES);
  for (const name of [
    'up',
    'connect',
    'down',
    'status',
    'logs',
    'doctor',
    'shell',
    'exec',
    'build',
    'classroom init'
  ]) {
    assert.match(overview, new RegExp(`^  yolo-lab ${name} `, 'm'));
  }
});

test('yolo-lab.json: the same options under their camelCase keys, typed as the flags; a flag wins', () => {
  const dir = mkdtempSync(join(tmpdir(), 'yolo-lab-config-'));
  const file = join(dir, 'class.json');
  writeFileSync(
    file,
    JSON.stringify({ gpus: '0', shm: '2g', port: 9000, codeWritable: true, network: 'host' })
  );
  const { opts } = upOptions(['--config', file, '--port', '9001']);
  assert.equal(opts.gpus, '0');
  assert.equal(opts.shm, '2g');
  assert.equal(opts.port, 9001, 'the flag wins');
  assert.equal(opts.codeWritable, true);
  assert.equal(opts.network, 'host');
  assert.equal(opts.runs, join(dir, 'runs'), "the default runs folder is the config file's");
  assert.equal(opts.timeoutS, 120);
  assert.throws(() => checkConfig({ network: 'nat' }, file), /"network" must be bridge or host, not "nat"/);
  assert.throws(() => checkConfig({ serverOnly: 1 }, file), /"serverOnly" must be true or false/);
});
