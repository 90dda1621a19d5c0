/**
 * What a command line asks for: its flags (read against flags.ts) and
 * yolo-lab.json merged into what the command does, and the engine it talks to.
 */
import { resolve as resolvePath } from 'node:path';

import { parseCommand, settings, type Token } from './argv';
import { sshAddress, type EngineTarget } from './engine';
import { UserError } from './errors';
import { EXEC, SHELL, UP } from './flags';
import { checkoutDir, existingDir, loadConfig, type ConfigFile, type UpOptions } from './options';

/** An origin ("http://127.0.0.1:8888"): scheme, host and port only, never "*". */
function checkOrigin(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UserError(`--allow-origin takes an origin like http://127.0.0.1:8888, not "${value}".`);
  }
  if (!/^https?:$/.test(url.protocol) || url.origin !== value.replace(/\/$/, '')) {
    throw new UserError(
      `--allow-origin takes an origin like http://127.0.0.1:8888 (scheme, host, port), not "${value}".`
    );
  }
  return url.origin;
}

/** The image's non-root user (docker/Dockerfile), used when the caller is root. */
const IMAGE_USER = '1000:1000';

/** The caller's uid:gid, so files in /runs belong to them; never root by default. */
function callerUser(): string {
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  if (uid === undefined || gid === undefined || uid === 0) return IMAGE_USER;
  return `${uid}:${gid}`;
}

/** The engine flags of a command line, as engineTarget() takes them. */
interface EngineFlags {
  host: string | undefined;
  identity: string | undefined;
}

/**
 * The engine a command talks to: --host, else "host" in the config file
 * (./yolo-lab.json unless given), else DOCKER_HOST; a key file relative to
 * where it was named.
 */
export function engineTarget(
  values: { host?: string; identity?: string },
  loaded: { config: ConfigFile; dir: string } = loadConfig(undefined)
): EngineTarget {
  const { config, dir } = loaded;
  const identity =
    values.identity !== undefined
      ? resolvePath(process.cwd(), values.identity)
      : config.identity !== undefined
        ? resolvePath(dir, config.identity)
        : undefined;
  return { host: values.host ?? config.host, identity };
}

/** `shell [--host ssh://...] [--identity FILE] [NAME]`: at most one name. */
export function shellArgs(args: string[]): { name: string | undefined } & EngineFlags {
  const { values, positionals } = parseCommand(SHELL, args);
  return { name: positionals[0], host: values.host, identity: values.identity };
}

/**
 * `exec [--host ssh://...] [--identity FILE] [NAME] -- CMD [ARGS...]`: the
 * flags and the name before `--`, in any order; everything after it is the
 * command, untouched (its own flags, another `--`).
 */
export function execArgs(args: string[]): { name: string | undefined; cmd: string[] } & EngineFlags {
  const dash = args.indexOf('--');
  const before = dash === -1 ? args : args.slice(0, dash);
  const cmd = dash === -1 ? [] : args.slice(dash + 1);
  let named = false;
  // Without --, what follows the name is the command the user meant.
  const followsName = (token: Token): void => {
    const engineFlag = token.kind === 'option' && Object.hasOwn(EXEC.options, token.name);
    if (dash === -1 && named && !engineFlag) {
      throw new UserError(
        `Put -- between the container and the command: yolo-lab exec ${before.slice(0, token.index).join(' ')} ` +
          `-- ${before.slice(token.index).join(' ')}`
      );
    }
    named ||= token.kind === 'positional';
  };
  const { values, positionals } = parseCommand(EXEC, before, followsName);
  if (cmd.length === 0) {
    throw new UserError(
      `exec needs a command after --, for example: yolo-lab exec ${positionals[0] ?? 'NAME'} -- nvidia-smi ` +
        `(for a shell: yolo-lab shell${positionals[0] ? ` ${positionals[0]}` : ''}).`
    );
  }
  return { name: positionals[0], cmd, host: values.host, identity: values.identity };
}

/**
 * Flags and yolo-lab.json merged into what `up` starts, and where. For a
 * host over SSH the paths are that host's: kept as given here, checked
 * there (remotepaths.ts); `userGiven` says whether --user was passed.
 */
export function upOptions(args: string[]): {
  opts: UpOptions;
  json: boolean;
  target: EngineTarget;
  remote: boolean;
  userGiven: boolean;
} {
  const { values } = parseCommand(UP, args);
  const loaded = loadConfig(values.config);
  const { config, dir } = loaded;
  const s = settings(UP.options, values, config);
  const target = engineTarget(values, loaded);
  const remote = sshAddress(target) !== undefined;
  const cwd = process.cwd();
  if (s.ipc === 'host' && values['shm-size'] !== undefined) {
    throw new UserError(
      'Use either --ipc host or --shm-size: with the host IPC namespace the host /dev/shm is used.'
    );
  }
  const user = s.user ?? callerUser();
  if (!/^\d+(:\d+)?$/.test(user)) {
    throw new UserError(`--user takes numeric UID:GID (like 1000:1000), not "${user}".`);
  }
  // A path from a flag is relative to where the command runs; from the
  // config file (or a default), to the file. A remote host's are checked there.
  const local = (
    name: 'notebooks' | 'code' | 'datasets' | 'runs',
    check: (path: string, base: string) => string
  ): string | undefined => {
    const path = s[name];
    return path === undefined || remote ? path : check(path, values[name] !== undefined ? cwd : dir);
  };
  const opts: UpOptions = {
    image: s.image,
    // Without one: the folder up runs in (on a remote host: the SSH user's home there).
    notebooks: local('notebooks', (p, base) => existingDir(p, '--notebooks', base)) ?? (remote ? '.' : cwd),
    gpus: s.gpus,
    shm: s['shm-size'],
    ipcHost: s.ipc === 'host',
    code: local('code', checkoutDir),
    codeWritable: s['code-rw'],
    datasets: local('datasets', (p, base) => existingDir(p, '--datasets', base)),
    datasetsWritable: s['datasets-rw'],
    runs: local('runs', (p, base) => resolvePath(base, p))!,
    port: s.port,
    bind: s.bind,
    network: s.network,
    user: user.includes(':') ? user : `${user}:${user}`,
    serverOnly: s['server-only'],
    allowOrigin: checkOrigin(s['allow-origin']),
    workdir: s.workdir,
    name: s.name,
    timeoutS: s.timeout
  };
  return { opts, json: values.json ?? false, target, remote, userGiven: s.user !== undefined };
}
