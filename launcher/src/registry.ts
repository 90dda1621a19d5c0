/**
 * The servers `yolo-lab up` started, written where a JupyterLab on the same
 * machine finds them (the yolo-lab server extension lists them in the panel,
 * so a container's URL and token need no copying). One file per container,
 * readable by this user only: it holds the token, as Jupyter's own runtime
 * files do. `down` removes it.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** A started server, as the panel needs it. */
export interface IServerRecord {
  name: string;
  url: string;
  token: string;
  serverOnly: boolean;
  image: string;
  started: number;
  /** For a container on a host over SSH: that host (ssh://user@host:port). */
  host?: string;
  /**
   * The tunnel `url` goes through: the background process holding it
   * (`yolo-lab connect NAME --attach`, ended by `down`; pid 0 once it
   * ended), the local port `url` is on, and Jupyter's port on the remote's
   * 127.0.0.1.
   */
  tunnel?: { pid: number; port: number; remotePort: number };
}

/** Where the records live: $YOLO_LAB_STATE_DIR, else $XDG_DATA_HOME/yolo-lab/servers. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.YOLO_LAB_STATE_DIR) return env.YOLO_LAB_STATE_DIR;
  const data = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(data, 'yolo-lab', 'servers');
}

/** Remember a server that answers. Never fails `up`: returns the error text instead. */
export function recordServer(record: IServerRecord, dir = stateDir()): string | null {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, `${record.name}.json`), JSON.stringify(record, null, 1) + '\n', {
      mode: 0o600
    });
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The record of a server, if there is one. */
export function readServer(name: string, dir = stateDir()): IServerRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as IServerRecord;
  } catch {
    return undefined;
  }
}

/** Forget a server (its container is gone). */
export function forgetServer(name: string, dir = stateDir()): void {
  rmSync(join(dir, `${name}.json`), { force: true });
}

/** Names of the recorded servers. */
export function recordedServers(dir = stateDir()): string[] {
  try {
    return readdirSync(dir)
      .filter(f => f.endsWith('.json'))
      .map(f => f.slice(0, -'.json'.length));
  } catch {
    return [];
  }
}
