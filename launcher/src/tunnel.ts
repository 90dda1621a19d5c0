/**
 * The tunnel to a container on a host over SSH, kept by a small background
 * process: `yolo-lab connect NAME --attach`, started detached by `up` and
 * `connect`, recorded (pid and local port) in the server's record so that
 * `status` reports it and `down` ends it. It ends by itself when the SSH
 * connection does (the laptop slept); `yolo-lab connect NAME` opens a new
 * one, on the same local port when it is free, so the URL stays.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Engine } from './engine';
import { containerName, LABEL, pickContainer } from './engine';
import { UserError } from './errors';
import { baseUrl, serverUrl } from './options';
import { readServer, recordServer, stateDir, type IServerRecord } from './registry';

/** Jupyter's port on the remote, its token and mode, from the container. */
async function jupyterOf(
  engine: Engine,
  name: string | undefined
): Promise<{
  name: string;
  remotePort: number;
  remoteHost: string;
  token: string;
  serverOnly: boolean;
  image: string;
}> {
  const info = await pickContainer(engine.docker, name, 'yolo-lab connect NAME');
  const shownName = containerName(info);
  if (info.State !== 'running') {
    throw new UserError(
      `${shownName} is not running (${info.Status}): nothing to connect to. Start a new one with \`yolo-lab up --host ${engine.host}\`.`
    );
  }
  const inspected = await engine.docker.getContainer(info.Id).inspect();
  const entry = (inspected.Config.Env ?? []).find(e => e.startsWith('JUPYTER_TOKEN='));
  const bind = info.Labels[LABEL.host] ?? '127.0.0.1';
  return {
    name: shownName,
    remotePort: Number(info.Labels[LABEL.port]),
    remoteHost: bind === '0.0.0.0' ? '127.0.0.1' : bind === '::' ? '::1' : bind,
    token: entry ? entry.slice('JUPYTER_TOKEN='.length) : '',
    serverOnly: info.Labels[LABEL.mode] === 'server',
    image: info.Image
  };
}

/** Whether `pid` is a tunnel process of ours for `name` (not a pid reused by something else). */
export function tunnelAlive(record: IServerRecord | undefined): boolean {
  const pid = record?.tunnel?.pid ?? 0;
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const proc = `/proc/${pid}/cmdline`;
  if (existsSync('/proc/self/cmdline')) {
    try {
      const args = readFileSync(proc, 'utf8').split('\0');
      return args.includes('connect') && args.includes(record!.name) && args.includes('--attach');
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * End the tunnel process of a record, if it runs, and wait until it has
 * exited (SIGKILL after `graceMs`).
 */
export async function endTunnel(record: IServerRecord | undefined, graceMs = 10_000): Promise<void> {
  if (record === undefined || !tunnelAlive(record)) return;
  const pid = record.tunnel!.pid;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // Gone meanwhile.
  }
  // Until it has exited: on its way out it rewrites the record (pid 0), and a
  // caller that forgets or replaces the record must come after that write.
  const deadline = Date.now() + graceMs;
  while (tunnelAlive(record)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
      return;
    }
    await new Promise(done => setTimeout(done, 50));
  }
}

/** The URL a recorded tunnel serves. */
function tunnelledUrl(port: number, token: string, serverOnly: boolean): string {
  return serverUrl('127.0.0.1', port, token, serverOnly);
}

/**
 * `yolo-lab connect NAME --attach`: hold the tunnel to the container in
 * this process until the SSH connection ends or a signal comes. Records the
 * server (tunnelled URL, this pid); `onReady` gets the URL once listening.
 */
export async function holdTunnel(
  engine: Engine,
  name: string | undefined,
  localPort: number,
  onReady: (url: string, record: IServerRecord) => void
): Promise<void> {
  const remote = engine.remote!;
  const j = await jupyterOf(engine, name);
  let tunnel;
  try {
    tunnel = await remote.tunnel(j.remoteHost, j.remotePort, localPort);
  } catch (error) {
    if ((error as { code?: string }).code === 'EADDRINUSE') {
      throw new UserError(
        `Port ${localPort} on 127.0.0.1 is in use here. Choose another with --port, or --port 0.`
      );
    }
    throw error;
  }
  const url = tunnelledUrl(tunnel.port, j.token, j.serverOnly);
  const previous = readServer(j.name);
  const record: IServerRecord = {
    name: j.name,
    url,
    token: j.token,
    serverOnly: j.serverOnly,
    image: previous?.image ?? j.image,
    started: previous?.started ?? Date.now() / 1000,
    host: engine.host,
    tunnel: { pid: process.pid, port: tunnel.port, remotePort: j.remotePort }
  };
  const notRecorded = recordServer(record);
  if (notRecorded !== null)
    process.stderr.write(`warning: the panel will not list this server (${notRecorded})\n`);
  onReady(url, record);
  await new Promise<void>(done => {
    remote.onClose(done);
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
  await tunnel.close();
  engine.close();
  // The record stays (the URL is the one `connect` reopens); only the pid goes, unless down removed it.
  const now = readServer(j.name);
  if (now?.tunnel?.pid === process.pid) {
    recordServer({ ...now, tunnel: { ...now.tunnel, pid: 0 } });
  }
}

/**
 * Start the tunnel process for `name` in the background and wait until it
 * listens: its record (with the tunnelled URL), or its error.
 */
export async function startTunnelProcess(
  host: string,
  identity: string | undefined,
  name: string,
  localPort: number
): Promise<IServerRecord> {
  const dir = stateDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const log = openSync(join(dir, `${name}.tunnel.log`), 'a', 0o600);
  const args = [
    join(__dirname, 'cli.js'),
    'connect',
    name,
    '--attach',
    '--host',
    host,
    '--port',
    String(localPort),
    ...(identity !== undefined ? ['--identity', identity] : [])
  ];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', log, log, 'ipc'],
    env: process.env
  });
  closeSync(log);
  try {
    return await new Promise<IServerRecord>((done, fail) => {
      child.once('message', (message: { record?: IServerRecord; error?: string }) => {
        if (message.record !== undefined) done(message.record);
        else fail(new UserError(message.error ?? 'the tunnel process failed'));
      });
      child.once('exit', code =>
        fail(
          new UserError(
            `The tunnel process ended (exit ${code}); its log: ${join(dir, `${name}.tunnel.log`)}`
          )
        )
      );
      child.once('error', fail);
    });
  } catch (error) {
    child.kill('SIGTERM');
    throw error;
  } finally {
    child.removeAllListeners('exit');
    if (child.connected) child.disconnect();
    child.unref();
  }
}

/**
 * `yolo-lab connect NAME`: the recorded tunnel if it still runs and answers,
 * else a new background one (on the recorded local port when free).
 */
export async function connectTunnel(
  engine: Engine,
  identity: string | undefined,
  name: string | undefined,
  localPort: number | undefined
): Promise<{ url: string; reopened: boolean }> {
  const j = await jupyterOf(engine, name);
  const record = readServer(j.name);
  if (
    record !== undefined &&
    tunnelAlive(record) &&
    (localPort === undefined || localPort === record.tunnel?.port)
  ) {
    if (await answers(record.tunnel!.port, j.token)) return { url: record.url, reopened: false };
    await endTunnel(record);
  }
  const port = localPort ?? record?.tunnel?.port ?? 0;
  let opened: IServerRecord;
  try {
    opened = await startTunnelProcess(engine.host!, identity, j.name, port);
  } catch (error) {
    // The old local port was taken meanwhile: any free one (the URL changes, the record with it).
    if (localPort === undefined && port !== 0 && /in use here/.test(String((error as Error).message))) {
      opened = await startTunnelProcess(engine.host!, identity, j.name, 0);
    } else {
      throw error;
    }
  }
  return { url: opened.url, reopened: true };
}

/** Whether Jupyter answers through the local port with the token. */
export async function answers(port: number, token: string): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl('127.0.0.1', port)}/api/status`, {
      headers: { Authorization: `token ${token}` },
      signal: AbortSignal.timeout(5000)
    });
    return response.ok;
  } catch {
    return false;
  }
}
