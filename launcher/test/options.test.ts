/** The container the launcher asks for, from the options (no engine needed). */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { LABEL } from '../src/engine';
import {
  createOptions,
  gpuRequests,
  jupyterCommand,
  parseSize,
  serverUrl,
  type UpOptions
} from '../src/options';

const base: UpOptions = {
  image: 'yolo-lab:latest',
  gpus: 'all',
  shm: '8g',
  ipcHost: false,
  runs: '/tmp/runs',
  datasetsWritable: false,
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
    ['/tmp/runs', '/runs', false],
    ['/src/yolov5', '/workspace/yolov5', false],
    ['/data', '/datasets', true]
  ]);
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
