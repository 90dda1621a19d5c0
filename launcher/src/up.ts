import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';

import { formatDoctor, runDoctor } from './doctor';
import { engineMessage, statusCode } from './engine';
import { UserError, errorText } from './errors';
import {
  baseUrl,
  checkNotebooksStat,
  createOptions,
  MOUNT_TARGETS,
  runsWarning,
  serverUrl,
  type UpOptions
} from './options';
import type { Progress } from './progress';
import type { Remote } from './remote';
import { remoteMounts } from './remotepaths';
import { lastLogLines } from './streams';
import { forgetServer, readServer, recordServer } from './registry';
import { endTunnel, startTunnelProcess } from './tunnel';

/** What `up` reports once the server answers. */
export interface UpResult {
  id: string;
  name: string;
  url: string;
  port: number;
  token: string;
  /** For a host over SSH: that host, and the local port of the tunnel `url` is on. */
  host?: string;
  tunnelPort?: number;
  /** Seconds from the start of `up` until /api/status answered. */
  readySeconds: number;
  doctor?: unknown;
}

/** Lines of the container's log shown when it fails to start. */
const LOG_LINES = 30;

/** Listen on host:port for a moment: free (the port it got) or the error. */
function probePort(host: string, port: number): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const got = typeof address === 'object' && address !== null ? address.port : port;
      server.close(() => done(got));
    });
  });
}

function portBusy(port: number, host: string): UserError {
  return new UserError(
    `Port ${port} on ${host} is in use. Choose another with --port, or --port 0 for any free one.`
  );
}

/** The port Jupyter will use: the one asked for if free, or any free one for 0. */
export async function choosePort(host: string, port: number): Promise<number> {
  try {
    return await probePort(host, port);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw portBusy(port, host);
    }
    if (code === 'EADDRNOTAVAIL') {
      throw new UserError(`${host} is not an address of this machine (--bind).`);
    }
    throw error;
  }
}

/** The engine's start error turned into what to do, or undefined when it is none of the known ones. */
export function startError(error: unknown, opts: UpOptions): UserError | undefined {
  const message = engineMessage(error);
  if (/could not select device driver/i.test(message)) {
    return new UserError(
      `The Docker engine cannot give this container GPUs (--gpus ${opts.gpus}): the NVIDIA runtime is missing.\n` +
        `  engine: ${message.trim()}\n` +
        'Install the NVIDIA Container Toolkit on this machine and restart Docker ' +
        '(https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html), ' +
        'or start without GPUs: yolo-lab up --gpus none'
    );
  }
  if (/port is already allocated|address already in use/i.test(message)) {
    return portBusy(opts.port, opts.bind);
  }
  if (/no such file or directory/i.test(message) && /mount|bind/i.test(message)) {
    return new UserError(`A mount path is missing on the engine's machine: ${message.trim()}`);
  }
  if (/executable file not found|exec: "jupyter"/i.test(message)) {
    return new UserError(
      `The image ${opts.image} has no jupyter command: is it a yolo-lab image? Build one with \`yolo-lab build\`.\n  engine: ${message.trim()}`
    );
  }
  return undefined;
}

async function removeQuietly(container: Docker.Container): Promise<void> {
  try {
    await container.remove({ force: true });
  } catch (error) {
    if (statusCode(error) !== 404) {
      process.stderr.write(
        `warning: could not remove container ${container.id.slice(0, 12)}: ${errorText(error)}\n`
      );
    }
  }
}

/** A notebooks folder the container's user cannot write is refused up front (see checkNotebooksStat). */
function checkNotebooks(opts: UpOptions): void {
  checkNotebooksStat(opts, statSync(opts.notebooks));
}

/**
 * Create the runs folder if missing, owned by the container's user when
 * root runs the launcher (so the container can write there); warn when an
 * existing folder will likely refuse that user.
 */
function prepareRuns(opts: UpOptions, progress: Progress): void {
  const [uid, gid] = opts.user.split(':').map(Number);
  const callerIsRoot = process.getuid?.() === 0;
  if (!existsSync(opts.runs)) {
    mkdirSync(opts.runs, { recursive: true });
    if (callerIsRoot && uid !== 0) chownSync(opts.runs, uid, gid);
    return;
  }
  const st = statSync(opts.runs);
  if (!st.isDirectory()) {
    throw new UserError(`The --runs path ${opts.runs} is not a folder.`);
  }
  const warning = runsWarning(opts, st);
  if (warning !== undefined) progress.note(warning);
}

/** Wait until Jupyter answers /api/status with the token, watching the container meanwhile. */
async function waitForServer(
  docker: Docker,
  container: Docker.Container,
  base: string,
  token: string,
  timeoutS: number
): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  let lastCheck = 0;
  for (;;) {
    try {
      const response = await fetch(`${base}/api/status`, {
        headers: { Authorization: `token ${token}` },
        signal: AbortSignal.timeout(2000)
      });
      if (response.ok) {
        return;
      }
    } catch {
      // Not listening yet.
    }
    // The container's state decides whether waiting longer can help.
    if (Date.now() - lastCheck >= 200) {
      lastCheck = Date.now();
      const state = (await container.inspect()).State;
      if (!state.Running) {
        const lines = await lastLogLines(docker, container, LOG_LINES);
        throw new UserError(
          `The container exited during start (exit code ${state.ExitCode}${state.OOMKilled ? ', killed: out of memory' : ''}). ` +
            `Its last log lines:\n${indent(lines)}`
        );
      }
    }
    if (Date.now() > deadline) {
      const lines = await lastLogLines(docker, container, LOG_LINES);
      throw new UserError(
        `Jupyter did not answer at ${base} within ${timeoutS} s (--timeout). Its last log lines:\n${indent(lines)}`
      );
    }
    await new Promise(done => setTimeout(done, 100));
  }
}

function indent(text: string): string {
  return text.length === 0
    ? '    (no output)'
    : text
        .split('\n')
        .map(line => `    ${line}`)
        .join('\n');
}

/** For `up --host`: the SSH connection, and how the tunnel process logs in again. */
export interface RemoteUp {
  remote: Remote;
  /** ssh://user@host:port */
  host: string;
  identity?: string;
  /** --user was passed; else the SSH user's uid:gid there. */
  userGiven: boolean;
}

/**
 * Start JupyterLab (or a Jupyter server) with yolo-lab in a container.
 * On any failure after the container exists, the container is removed.
 * With `remoteUp`, the container runs on that host: mount paths checked
 * there, a free port found there, and the URL is a tunnel to it held by a
 * background process (removed with the container on failure).
 */

export async function up(
  docker: Docker,
  opts: UpOptions,
  progress: Progress,
  onReady?: (url: string) => void,
  remoteUp?: RemoteUp
): Promise<UpResult> {
  const started = Date.now();

  progress.step(`checking the image ${opts.image}`);
  try {
    await docker.getImage(opts.image).inspect();
  } catch (error) {
    if (statusCode(error) === 404) {
      throw new UserError(
        `The image ${opts.image} is not in this Docker engine. Build it with \`yolo-lab build\` ` +
          '(needs the wheel from `bash scripts/setup.sh`), or name another with --image.'
      );
    }
    throw error;
  }

  if (opts.network === 'bridge') {
    try {
      await docker.getNetwork('bridge').inspect();
    } catch (error) {
      if (statusCode(error) === 404) {
        throw new UserError(
          'This Docker engine has no bridge network (daemon.json "bridge": "none"), so no port can be published.\n' +
            `Run with --network host: Jupyter then listens on ${opts.bind} of this machine directly.`
        );
      }
      throw error;
    }
  }

  if (remoteUp !== undefined) {
    // The paths are the remote's: checked there, before anything is created.
    progress.step(`checking the mount paths on ${remoteUp.remote.target.host}`);
    opts = await remoteMounts(remoteUp.remote, opts, remoteUp.userGiven, progress);
  } else {
    checkNotebooks(opts);
    progress.note(`notebooks: ${opts.notebooks} -> ${opts.workdir}`);
    prepareRuns(opts, progress);
    progress.note(`runs: ${opts.runs} -> /runs`);
    if (opts.code !== undefined) {
      progress.note(`code: ${opts.code} -> ${MOUNT_TARGETS.code}${opts.codeWritable ? '' : ' (read-only)'}`);
    }
    if (opts.datasets !== undefined)
      progress.note(`datasets: ${opts.datasets} -> /datasets${opts.datasetsWritable ? '' : ' (read-only)'}`);
  }

  const port =
    remoteUp !== undefined
      ? await remoteUp.remote.freePort(opts.bind, opts.port)
      : await choosePort(opts.bind, opts.port);
  const resolved: UpOptions = { ...opts, port };
  const token = randomBytes(24).toString('hex');
  const name = opts.name ?? `yolo-lab-${port}-${randomBytes(3).toString('hex')}`;
  if (
    remoteUp === undefined &&
    opts.bind !== '127.0.0.1' &&
    opts.bind !== '::1' &&
    opts.bind !== 'localhost'
  ) {
    progress.note(`warning: Jupyter will be reachable from other machines on ${opts.bind} (token required)`);
  }

  progress.step(
    `starting ${name}: GPUs ${opts.gpus}, ${opts.ipcHost ? 'IPC host' : `shm ${opts.shm}`}, user ${opts.user}, network ${opts.network}`
  );
  // Ctrl-C from here on removes the container, even one still being created.
  let created: Docker.Container | undefined;
  let interrupted = false;
  // The removal a Ctrl-C started: what the start, failing because of it,
  // waits for instead of reporting (or removing again).
  let removal: Promise<void> | undefined;
  const endOurTunnel = (): void => {
    if (remoteUp !== undefined) {
      // From a signal handler: the tunnel only just started, and the
      // process exits right after; no waiting for it here.
      void endTunnel(readServer(name));
      forgetServer(name);
    }
  };
  const cleanup = (): void => {
    interrupted = true;
    endOurTunnel();
    if (created !== undefined) {
      removal = removeQuietly(created);
      void removal.finally(() => process.exit(130));
    }
  };
  process.once('SIGINT', cleanup);
  process.once('SIGTERM', cleanup);
  let container: Docker.Container;
  try {
    container = created = await docker.createContainer(createOptions(resolved, token, name));
  } catch (error) {
    process.removeListener('SIGINT', cleanup);
    process.removeListener('SIGTERM', cleanup);
    throw error;
  }
  if (interrupted) {
    await removeQuietly(container);
    process.exit(130);
  }
  try {
    try {
      await container.start();
    } catch (error) {
      throw (
        startError(error, resolved) ??
        new UserError(`The container did not start: ${engineMessage(error).trim()}`)
      );
    }
    let base = baseUrl(opts.bind, port);
    let url = serverUrl(opts.bind, port, token, opts.serverOnly);
    let tunnelPort: number | undefined;
    if (remoteUp !== undefined) {
      // Jupyter listens on the remote's 127.0.0.1: reached through the tunnel
      // process, which outlives this command (`down` ends it).
      progress.step(`opening the SSH tunnel to ${opts.bind}:${port} on ${remoteUp.remote.target.host}`);
      const record = await startTunnelProcess(remoteUp.host, remoteUp.identity, name, 0);
      tunnelPort = record.tunnel!.port;
      base = baseUrl('127.0.0.1', tunnelPort);
      url = record.url;
      progress.note(`127.0.0.1:${tunnelPort} here -> ${opts.bind}:${port} on ${remoteUp.remote.target.host}`);
    }
    progress.step(`waiting for Jupyter at ${base}`);
    await waitForServer(docker, container, base, token, opts.timeoutS);
    const readySeconds = (Date.now() - started) / 1000;
    progress.note(`answered after ${readySeconds.toFixed(1)} s`);
    // Usable from here on: the doctor below takes seconds (it imports torch
    // and YOLOv5), and need not hold up opening JupyterLab.
    onReady?.(url);

    progress.step('checking the environment inside the container (yolo-lab doctor)');
    let doctor: unknown;
    try {
      const report = await runDoctor(docker, container);
      doctor = report;
      for (const line of formatDoctor(report)) progress.note(line);
    } catch (error) {
      progress.note(`warning: ${errorText(error)}`);
    }

    // Over SSH the tunnel process recorded the server (its pid with it).
    const notRecorded =
      remoteUp !== undefined
        ? null
        : recordServer({
            name,
            url,
            token,
            serverOnly: opts.serverOnly,
            image: opts.image,
            started: Date.now() / 1000
          });
    if (notRecorded !== null) {
      progress.note(`warning: the panel will not list this server (${notRecorded})`);
    }
    progress.step(`ready in ${progress.elapsed()} s: ${url}`);
    const hostFlag = remoteUp !== undefined ? ` --host ${remoteUp.host}` : '';
    progress.note(`stop it with: yolo-lab down${hostFlag} ${name}`);
    if (remoteUp !== undefined) {
      progress.note(`after the laptop slept, reopen the tunnel with: yolo-lab connect${hostFlag} ${name}`);
    }
    return {
      id: container.id,
      name,
      url,
      port,
      token,
      readySeconds,
      doctor,
      ...(remoteUp !== undefined ? { host: remoteUp.host, tunnelPort } : {})
    };
  } catch (error) {
    if (interrupted) {
      // The container went away because of the Ctrl-C (the wait saw it
      // stop, its logs were gone): not an error of the start.
      await removal;
      process.exit(130);
    }
    endOurTunnel();
    await removeQuietly(container);
    throw error;
  } finally {
    process.removeListener('SIGINT', cleanup);
    process.removeListener('SIGTERM', cleanup);
  }
}
