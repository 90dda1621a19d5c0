import Docker from 'dockerode';

import { UserError, errorText } from './errors';
import { Remote } from './remote';
import { isSshAddress, parseSshTarget } from './sshtarget';

/** Labels on every container the launcher starts; status and down find them by these. */
export const LABEL = {
  launcher: 'org.yolo-lab.launcher',
  port: 'org.yolo-lab.port',
  mode: 'org.yolo-lab.mode',
  network: 'org.yolo-lab.network',
  host: 'org.yolo-lab.host'
} as const;

/** Where the engine is reached, as the user would name it. */
export function engineAddress(): string {
  const host = process.env.DOCKER_HOST;
  return host && host.length > 0 ? host : 'unix:///var/run/docker.sock';
}

/** A system error code (ENOENT, EACCES, ...) on a Node error, if any. */
function systemCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The engine error turned into what to do, for failures to reach it at
 * all: no engine listening, or a socket this user may not open.
 */
export function engineUnreachable(error: unknown): UserError | undefined {
  const address = engineAddress();
  switch (systemCode(error)) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new UserError(
        `The Docker engine is not running (nothing answers at ${address}).\n` +
          'Start it (sudo systemctl start docker, or sudo dockerd &), or point DOCKER_HOST at a running engine.'
      );
    case 'EACCES':
    case 'EPERM':
      return new UserError(
        `Permission denied on the Docker socket (${address}).\n` +
          'Add yourself to the docker group (sudo usermod -aG docker $USER, then log in again), ' +
          'run as a user who may use Docker, or use rootless Docker.'
      );
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENOTFOUND':
      return new UserError(
        `The Docker engine at ${address} cannot be reached (${errorText(error)}).\n` +
          'Check DOCKER_HOST and that the engine runs there.'
      );
    default:
      return undefined;
  }
}

/** Which engine a command talks to, as the user named it. */
export interface EngineTarget {
  /** ssh://user@host[:port] (--host, or "host" in yolo-lab.json); else DOCKER_HOST, else the local socket. */
  host?: string;
  /** A private key file for SSH (--identity, or YOLO_LAB_SSH_KEY), besides the agent. */
  identity?: string;
}

/** An engine that answered: the client, and for a host over SSH the connection (tunnels, paths). */
export interface Engine {
  docker: Docker;
  remote?: Remote;
  /** ssh://user@host:port for a remote engine. */
  host?: string;
  /** Ends the SSH connection, if any. */
  close(): void;
}

/** The SSH address the target names (flag or config, else an ssh:// DOCKER_HOST), if any. */
export function sshAddress(target: EngineTarget, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (target.host !== undefined && target.host !== '') {
    if (!isSshAddress(target.host)) {
      throw new UserError(
        `--host takes ssh://user@host[:port], not "${target.host}" (for another local engine, set DOCKER_HOST).`
      );
    }
    return target.host;
  }
  return isSshAddress(env.DOCKER_HOST) ? env.DOCKER_HOST : undefined;
}

/**
 * The engine the target names, after a ping that proves it answers: over
 * SSH (logged in with the agent or the key, Docker checked there), or
 * DOCKER_HOST, or the local socket.
 */
export async function connect(target: EngineTarget = {}): Promise<Engine> {
  const ssh = sshAddress(target);
  if (ssh !== undefined) {
    const parsed = parseSshTarget(ssh);
    const remote = await Remote.open(parsed, target.identity ?? (process.env.YOLO_LAB_SSH_KEY || undefined));
    return { docker: remote.docker(), remote, host: parsed.address, close: () => remote.close() };
  }
  return { docker: await connectLocal(), close: () => undefined };
}

/** A dockerode client for DOCKER_HOST (or the local socket), after a ping that proves it answers. */
async function connectLocal(): Promise<Docker> {
  let docker: Docker;
  try {
    docker = new Docker();
  } catch (error) {
    throw new UserError(`DOCKER_HOST is not usable (${errorText(error)}).`);
  }
  try {
    await docker.ping();
  } catch (error) {
    throw (
      engineUnreachable(error) ??
      new UserError(`The Docker engine at ${engineAddress()} failed: ${errorText(error)}`)
    );
  }
  return docker;
}

/** The HTTP status of a dockerode error (404 for a missing image or container). */
export function statusCode(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** The engine's own message inside a dockerode error. */
export function engineMessage(error: unknown): string {
  const json = (error as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') {
    return json.message;
  }
  return errorText(error);
}

/** Containers this launcher started (running or not), newest first. */
export async function launcherContainers(docker: Docker, all = true): Promise<Docker.ContainerInfo[]> {
  const list = await docker.listContainers({ all, filters: { label: [LABEL.launcher] } });
  return list.sort((a, b) => b.Created - a.Created);
}

/**
 * The one container named by `name` (or the only running one), among the
 * launcher's. When that is not one container, the error lists the running
 * ones and, given `usage` ("yolo-lab shell NAME"), says what to type.
 */
export async function pickContainer(
  docker: Docker,
  name: string | undefined,
  usage?: string
): Promise<Docker.ContainerInfo> {
  const all = await launcherContainers(docker);
  const running = all.filter(c => c.State === 'running');
  const names = running.map(containerName);
  const typeOne =
    usage !== undefined && names.length > 0 ? ` For example: \`${usage.replace('NAME', names[0])}\`` : '';
  if (name !== undefined) {
    const wanted = name.replace(/^\//, '');
    if (wanted.trim() === '') {
      // Every id starts with '': an empty name would pick whichever container came first.
      throw new UserError(
        `An empty container name names no container. ` +
          (names.length === 0
            ? 'None is running; start one with `yolo-lab up`.'
            : `Running: ${names.join(', ')}.${typeOne}`)
      );
    }
    // As docker does: a whole name first, then an id prefix that fits one container only.
    const named = all.find(c => c.Names.some(n => n.replace(/^\//, '') === wanted));
    if (named) return named;
    const byId = all.filter(c => c.Id.startsWith(wanted));
    if (byId.length > 1) {
      const runningOne = byId.find(c => c.State === 'running');
      const candidates = byId.map(c => `${containerName(c)} (${c.Id.slice(0, 12)}, ${c.State})`);
      throw new UserError(
        `${name} is the start of the id of ${byId.length} yolo-lab containers: ${candidates.join(', ')}. ` +
          'Give its whole name, or more of its id.' +
          (usage !== undefined && runningOne !== undefined
            ? ` For example: \`${usage.replace('NAME', containerName(runningOne))}\``
            : '')
      );
    }
    if (byId.length === 0) {
      throw new UserError(
        names.length === 0
          ? `No yolo-lab container named ${name}, and none is running. Start one with \`yolo-lab up\`.`
          : `No yolo-lab container named ${name}. Running: ${names.join(', ')}.${typeOne}`
      );
    }
    return byId[0];
  }
  if (running.length === 1) {
    return running[0];
  }
  if (running.length === 0) {
    const stopped = all.map(containerName);
    throw new UserError(
      'No yolo-lab container is running. Start one with `yolo-lab up`.' +
        (stopped.length > 0 ? ` (Stopped: ${stopped.join(', ')}; \`yolo-lab down\` removes them.)` : '')
    );
  }
  throw new UserError(
    `${running.length} yolo-lab containers are running: ${names.join(', ')}. Name one.${typeOne}`
  );
}

/** A container's name without the leading slash. */
export function containerName(info: Docker.ContainerInfo): string {
  return (info.Names[0] ?? info.Id.slice(0, 12)).replace(/^\//, '');
}
