import type Docker from 'dockerode';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

import { allCommands, configValueProblem, type ConfigOf, type OptionSpec } from './argv';
import { LABEL } from './engine';
import { UserError } from './errors';
import { COMMANDS, type UP } from './flags';

/**
 * Container paths the mounts land on. The notebooks folder lands on
 * --workdir (/workspace), JupyterLab's root; the code stays out of it, so
 * that the engine makes no mount point in the user's folder.
 */
export const MOUNT_TARGETS = {
  code: '/opt/yolov5',
  datasets: '/datasets',
  runs: '/runs'
} as const;

/** What `up` starts, after flags, the config file and defaults are merged. */
export interface UpOptions {
  image: string;
  /** "all", "none", a count, or device ids/UUIDs separated by commas. */
  gpus: string;
  /** A size ("8g", "512m", bytes) or "host" for --ipc host. */
  shm: string;
  ipcHost: boolean;
  /** The host folder JupyterLab's root (--workdir) is: notebooks saved there stay. */
  notebooks: string;
  /** Host paths, absolute once resolved; code and datasets must exist. */
  code?: string;
  /** The code mount is read-only unless asked: notebooks live elsewhere. */
  codeWritable: boolean;
  datasets?: string;
  datasetsWritable: boolean;
  runs: string;
  /** 0: any free port. */
  port: number;
  /** Host address Jupyter is reachable on; 127.0.0.1 unless the user asks. */
  bind: string;
  network: 'bridge' | 'host';
  /** "uid:gid" in the container. */
  user: string;
  serverOnly: boolean;
  /** An origin whose pages may use the server (CORS), e.g. the host JupyterLab. */
  allowOrigin?: string;
  workdir: string;
  name?: string;
  timeoutS: number;
}

/** The config file's keys (yolo-lab.json): the options' own names, camelCase, typed as the flags. */
export type ConfigFile = ConfigOf<typeof UP.options>;

/** Each key yolo-lab.json may hold: an option of the commands that read it. */
const CONFIG_KEYS: ReadonlyMap<string, OptionSpec> = new Map(
  allCommands(COMMANDS).flatMap(spec =>
    Object.values(spec.options).flatMap(o => (o.config !== undefined ? [[o.config, o] as const] : []))
  )
);

/**
 * Check each key and value of a config file: a known key, the JSON type the
 * flag takes ("false" in quotes is a string, not false).
 */
export function checkConfig(config: Record<string, unknown>, file: string): ConfigFile {
  for (const [key, value] of Object.entries(config)) {
    const option = CONFIG_KEYS.get(key);
    if (option === undefined) {
      const known = [...CONFIG_KEYS.keys()].sort().join(', ');
      throw new UserError(`Config file ${file}: unknown key "${key}". The keys are: ${known}.`);
    }
    const problem = configValueProblem(option, value);
    if (problem !== undefined) {
      throw new UserError(`Config file ${file}: "${key}" must be ${problem}, not ${JSON.stringify(value)}.`);
    }
  }
  return config as ConfigFile;
}

/** Read yolo-lab.json (or the named file); a missing default file is an empty config. */
export function loadConfig(
  path: string | undefined,
  cwd = process.cwd()
): { config: ConfigFile; dir: string } {
  const file = resolve(cwd, path ?? 'yolo-lab.json');
  if (!existsSync(file)) {
    if (path !== undefined) {
      throw new UserError(`Config file ${file} does not exist.`);
    }
    return { config: {}, dir: cwd };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UserError(`Config file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UserError(`Config file ${file} must hold a JSON object.`);
  }
  // Relative paths in the file are relative to the file, not to where the command runs.
  return { config: checkConfig(parsed as Record<string, unknown>, file), dir: resolve(file, '..') };
}

/** Bytes in "8g", "512m", "1024k", "1073741824". */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (!match) {
    throw new UserError(`Cannot read the size "${text}": use a number with k, m or g (for example 8g).`);
  }
  const scale: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  return Math.round(parseFloat(match[1]) * scale[match[2].toLowerCase()]);
}

/**
 * Docker DeviceRequests for --gpus: "all", "none", a count, or device ids
 * (indexes or GPU-/MIG- UUIDs, comma separated, optionally after "device=").
 */
export function gpuRequests(gpus: string): Docker.DeviceRequest[] {
  const text = gpus.trim();
  const base = { Driver: 'nvidia', Capabilities: [['gpu']] };
  if (text === '' || text === 'none' || text === '0') {
    return [];
  }
  if (text === 'all') {
    return [{ ...base, Count: -1 }];
  }
  if (/^[1-9]\d*$/.test(text)) {
    return [{ ...base, Count: Number(text) }];
  }
  const ids = text
    .replace(/^"?device=/, '')
    .replace(/"$/, '')
    .split(',')
    .map(s => s.trim())
    .filter(s => s.length > 0);
  if (ids.length > 0 && ids.every(id => /^(\d+|(GPU|MIG)-[0-9A-Za-z/-]+)$/.test(id))) {
    return [{ ...base, DeviceIDs: ids }];
  }
  throw new UserError(
    `Cannot read --gpus "${gpus}": use all, none, a count (2), or device ids (0,1 or GPU-<uuid>).`
  );
}

/** An existing host folder for a mount, made absolute; a clear error when it is missing. */
export function existingDir(path: string, flag: string, base: string): string {
  const abs = isAbsolute(path) ? path : resolve(base, path);
  if (!existsSync(abs)) {
    throw new UserError(`The ${flag} path ${abs} does not exist. Create it or pass the right path.`);
  }
  if (!statSync(abs).isDirectory()) {
    throw new UserError(`The ${flag} path ${abs} is not a folder.`);
  }
  return abs;
}

/** The jupyter command line the container runs. */
export function jupyterCommand(opts: UpOptions, listenIp: string): string[] {
  const cmd = [
    'jupyter',
    opts.serverOnly ? 'server' : 'lab',
    '--no-browser',
    `--ip=${listenIp}`,
    `--port=${opts.port}`,
    // The port was checked free; retrying another would leave the URL wrong.
    '--ServerApp.port_retries=0',
    `--ServerApp.root_dir=${opts.workdir}`
  ];
  if (opts.serverOnly) {
    // JupyterLab installs itself as a server extension, so `jupyter server`
    // would still serve /lab: only kernels and the REST API are wanted.
    cmd.push('--ServerApp.jpserver_extensions=jupyterlab=False');
  }
  if (opts.allowOrigin !== undefined) {
    cmd.push(`--ServerApp.allow_origin=${opts.allowOrigin}`);
  }
  if (opts.user.split(':')[0] === '0') {
    cmd.push('--allow-root');
  }
  return cmd;
}

/**
 * The container to create: token in the environment (not on a command line
 * that `ps` shows), no privileges, no host PID namespace, no Docker socket,
 * only the mounts the user named.
 */
export function createOptions(opts: UpOptions, token: string, name: string): Docker.ContainerCreateOptions {
  const mounts: Docker.MountSettings[] = [
    { Type: 'bind', Source: opts.notebooks, Target: opts.workdir, ReadOnly: false },
    { Type: 'bind', Source: opts.runs, Target: MOUNT_TARGETS.runs, ReadOnly: false }
  ];
  if (opts.code !== undefined) {
    mounts.push({
      Type: 'bind',
      Source: opts.code,
      Target: MOUNT_TARGETS.code,
      ReadOnly: !opts.codeWritable
    });
  }
  if (opts.datasets !== undefined) {
    mounts.push({
      Type: 'bind',
      Source: opts.datasets,
      Target: MOUNT_TARGETS.datasets,
      ReadOnly: !opts.datasetsWritable
    });
  }
  // In its own network namespace Jupyter must listen on all of the
  // container's addresses; the published port is bound to opts.bind on the
  // host, which is what limits who can reach it.
  const listenIp = opts.network === 'host' ? opts.bind : '0.0.0.0';
  const portKey = `${opts.port}/tcp`;
  const hostConfig: Docker.HostConfig = {
    Mounts: mounts,
    NetworkMode: opts.network,
    DeviceRequests: gpuRequests(opts.gpus),
    Privileged: false,
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    // Reaps the kernels' children: Jupyter is not an init process.
    Init: true
  };
  if (opts.ipcHost) {
    hostConfig.IpcMode = 'host';
  } else {
    hostConfig.ShmSize = parseSize(opts.shm);
  }
  if (opts.network === 'bridge') {
    hostConfig.PortBindings = { [portKey]: [{ HostIp: opts.bind, HostPort: String(opts.port) }] };
  }
  return {
    name,
    Image: opts.image,
    Cmd: jupyterCommand(opts, listenIp),
    User: opts.user,
    // No WorkingDir: the engine would create a mistyped --workdir, empty and
    // owned by root; Jupyter's root_dir check names it instead.
    Env: [
      `JUPYTER_TOKEN=${token}`,
      'HOME=/tmp',
      'PYTHONUNBUFFERED=1',
      // train() and the doctor use the mounted checkout without being told.
      ...(opts.code !== undefined ? [`YOLO_LAB_YOLOV5_DIR=${MOUNT_TARGETS.code}`] : [])
    ],
    Labels: {
      [LABEL.launcher]: '1',
      [LABEL.port]: String(opts.port),
      [LABEL.mode]: opts.serverOnly ? 'server' : 'lab',
      [LABEL.network]: opts.network,
      [LABEL.host]: opts.bind
    },
    ExposedPorts: opts.network === 'bridge' ? { [portKey]: {} } : undefined,
    Tty: false,
    HostConfig: hostConfig
  };
}

/** The server's base URL on the host: an IPv6 address in brackets, 0.0.0.0 as loopback. */
export function baseUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

/** The URL to open, token included. */
export function serverUrl(host: string, port: number, token: string, serverOnly: boolean): string {
  return `${baseUrl(host, port)}/${serverOnly ? '' : 'lab'}?token=${token}`;
}

/** A --code folder that is a YOLOv5 checkout (train.py), reported by `up`, not by the first training. */
export function checkoutDir(path: string, base: string): string {
  const abs = existingDir(path, '--code', base);
  if (!existsSync(resolve(abs, 'train.py'))) {
    throw new UserError(
      `The --code path ${abs} is not a YOLOv5 checkout (it has no train.py). ` +
        "Pass the folder of a clone of ultralytics/yolov5, or leave --code out to use the image's yolov5 package."
    );
  }
  return abs;
}

/** Whether uid:gid may write a folder with these owner, group and mode bits. */
export function writableBy(
  st: { uid: number; gid: number; mode: number },
  uid: number,
  gid: number
): boolean {
  return (
    uid === 0 ||
    (st.uid === uid && (st.mode & 0o200) !== 0) ||
    (st.gid === gid && (st.mode & 0o020) !== 0) ||
    (st.mode & 0o002) !== 0
  );
}

/**
 * The notebooks folder must be writable by the container's user, or every
 * save fails with "Permission denied" inside JupyterLab: refused up front.
 * `where` names the machine the folder is on (" on gpu-box"), or nothing here.
 */
export function checkNotebooksStat(
  opts: UpOptions,
  st: { uid: number; gid: number; mode: number },
  where = ''
): void {
  const [uid, gid] = opts.user.split(':').map(Number);
  if (!writableBy(st, uid, gid)) {
    throw new UserError(
      `The notebooks folder ${opts.notebooks}${where} belongs to uid ${st.uid}, and the container would run as ` +
        `${opts.user}, which cannot save there. Pass --user ${st.uid}:${st.gid} (files then stay yours), ` +
        '--notebooks a folder that user can write, or chown the folder.'
    );
  }
}

/** The warning for an existing runs folder the container's user will likely not write. */
export function runsWarning(
  opts: UpOptions,
  st: { uid: number; gid: number; mode: number },
  where = ''
): string | undefined {
  const [uid, gid] = opts.user.split(':').map(Number);
  if (writableBy(st, uid, gid)) return undefined;
  return (
    `warning: ${opts.runs}${where} belongs to uid ${st.uid}; the container runs as ${opts.user} and may not write there ` +
    `(pass --user ${st.uid}:${st.gid}, or chown the folder)`
  );
}
