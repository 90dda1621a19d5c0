#!/usr/bin/env node
import { resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';

import { build, defaultRepo } from './build';
import { classroomCommand } from './classroom';
import { doctor, down, logs, status } from './commands';
import { connect, sshAddress, type EngineTarget } from './engine';
import { UserError, errorText } from './errors';
import {
  checkoutDir,
  DEFAULT_IMAGE,
  DEFAULT_SHM,
  existingDir,
  loadConfig,
  type ConfigFile,
  type UpOptions
} from './options';
import { Progress } from './progress';
import { readServer } from './registry';
import { execCommand, shell } from './shell';
import { connectTunnel, holdTunnel } from './tunnel';
import { up } from './up';

const USAGE = `yolo-lab: JupyterLab with yolo-lab and YOLOv5 in a PyTorch-CUDA container

  yolo-lab up [options]        start it, wait until it answers, check it, print the URL
      --image NAME             image (default: "image" in yolo-lab.json, else ${DEFAULT_IMAGE})
      --gpus all|none|N|IDS    GPUs: all, none, a count, or ids like 0,1 or GPU-<uuid> (default all)
      --shm-size SIZE          shared memory for DataLoader workers (default ${DEFAULT_SHM})
      --ipc host               share the host's IPC namespace instead of --shm-size
      --notebooks PATH         the folder JupyterLab opens on (default: the current one), mounted
                               at /workspace: every notebook saved there stays on this machine
      --code PATH              a YOLOv5 checkout, mounted read-only at /opt/yolov5 (train() uses it;
                               --code-rw: writable, to edit it from JupyterLab)
      --datasets PATH          datasets, mounted read-only at /datasets (--datasets-rw: writable)
      --runs PATH              where runs are written, mounted at /runs (default ./runs, created)
      --port N                 port on the host (default 0: any free port)
      --bind ADDRESS           host address to listen on (default 127.0.0.1)
      --network bridge|host    bridge publishes the port on --bind (default); host shares the host's network
      --user UID:GID           user in the container (default: yours; 1000:1000 when run as root)
      --server-only            a Jupyter server for kernels, without the JupyterLab UI
      --allow-origin ORIGIN    let a JupyterLab page on ORIGIN use the server's kernels
                               (e.g. http://127.0.0.1:8888 for the yolo-lab panel's server mode)
      --workdir PATH           Jupyter's root folder in the container (default /workspace)
      --name NAME              container name (default yolo-lab-<port>-<random>)
      --timeout SECONDS        how long to wait for Jupyter (default 120)
      --config FILE            options as JSON (default ./yolo-lab.json if present)
      --json                   print the result as JSON on stdout
      --host ssh://USER@HOST[:PORT]
                               run it on a GPU server over SSH (also: "host" in yolo-lab.json, or
                               DOCKER_HOST=ssh://...): paths are that host's, Jupyter listens on its
                               127.0.0.1, and the URL printed is a tunnel on this machine's 127.0.0.1.
                               HOST may be a Host alias of ~/.ssh/config (read with \`ssh -G\`; its
                               HostName, User, Port, IdentityFile apply; YOLO_LAB_SSH_CONFIG=FILE
                               reads FILE instead); the URL's user and port win over it
      --identity FILE          SSH key to log in with besides the agent (or YOLO_LAB_SSH_KEY)
  yolo-lab connect [NAME] [--host ssh://...] [--port N] [--attach]
                               reopen the SSH tunnel to a container on a GPU server (after the laptop
                               slept) and print its URL; --attach keeps it in this terminal
  yolo-lab down [--force] [NAME...]
                               stop the trainings inside (last.pt saved), then stop and remove the
                               named containers (default: all the launcher started); refuses one
                               holding files written outside its mounts unless --force
  yolo-lab status [--json]     list the containers the launcher started, with their URLs
  yolo-lab logs [NAME] [--no-follow] [--tail N]
  yolo-lab doctor [NAME] [--json]   check the environment inside a running container
  yolo-lab shell [--host ssh://...] [--identity FILE] [NAME]
                               a shell (bash, else sh) in a running container, as its user, in its
                               working folder; exits with the shell's exit code. Piped stdin works:
                               echo 'nvidia-smi; exit' | yolo-lab shell NAME
  yolo-lab exec [--host ssh://...] [--identity FILE] [NAME] -- CMD [ARGS...]
                               run one command in a running container (e.g. nvidia-smi, a training
                               script), as its user; exits with its exit code. The flags go before
                               --; everything after it is the command, untouched
      NAME may be left out when exactly one yolo-lab container runs (\`yolo-lab status\` lists them).
  yolo-lab build [--tag NAME] [--base-image IMAGE] [--build-arg K=V ...] [--network host]
                 [--ca-cert FILE] [--no-cache] [--repo PATH]
                               build the image from docker/ (needs dist/yolo_lab-*.whl)
  yolo-lab classroom init [options]
                               write a JupyterHub configuration for a class: one yolo-lab container
                               per student (DockerSpawner); \`yolo-lab classroom --help\` lists its options

The engine is --host (ssh://...; status, down, logs, doctor, shell, exec, build and connect take it
too, with --identity), else "host" in ./yolo-lab.json, else DOCKER_HOST, else the local socket.`;

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

function intOption(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new UserError(`${flag} needs a whole number of at least ${min}, not "${value}".`);
  }
  return Number(value);
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

/** --host and --identity, on every command that talks to an engine. */
const ENGINE_FLAGS = {
  host: { type: 'string' },
  identity: { type: 'string' }
} as const;

/**
 * The engine a command talks to: --host, else "host" in the config file
 * (./yolo-lab.json unless given), else DOCKER_HOST; a key file relative to
 * where it was named.
 */
function engineTarget(
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

/** The engine flags of a command line, as engineTarget() takes them. */
interface EngineFlags {
  host: string | undefined;
  identity: string | undefined;
}

/** `shell [--host ssh://...] [--identity FILE] [NAME]`: at most one name. */
export function shellArgs(args: string[]): { name: string | undefined } & EngineFlags {
  const { values, positionals } = parseArgs({
    args,
    options: ENGINE_FLAGS,
    allowPositionals: true,
    strict: true
  });
  if (positionals.length > 1) {
    throw new UserError(
      `shell takes one container name, not ${positionals.length} (${positionals.join(' ')}). ` +
        "To run a command, use: yolo-lab exec NAME -- CMD, or pipe it in: echo 'CMD' | yolo-lab shell NAME"
    );
  }
  return { name: positionals[0], host: values.host, identity: values.identity };
}

const EXEC_USAGE = 'Usage: yolo-lab exec [--host ssh://...] [--identity FILE] [NAME] -- CMD [ARGS...]';

/**
 * `exec [--host ssh://...] [--identity FILE] [NAME] -- CMD [ARGS...]`: the
 * flags and the name before `--`, in any order; everything after it is the
 * command, untouched (its own flags, another `--`).
 */
export function execArgs(args: string[]): { name: string | undefined; cmd: string[] } & EngineFlags {
  const dash = args.indexOf('--');
  const before = dash === -1 ? args : args.slice(0, dash);
  const cmd = dash === -1 ? [] : args.slice(dash + 1);
  const { tokens } = parseArgs({
    args: before,
    options: ENGINE_FLAGS,
    allowPositionals: true,
    strict: false,
    tokens: true
  });
  const flags: EngineFlags = { host: undefined, identity: undefined };
  const names: string[] = [];
  for (const token of tokens) {
    // Without --, what follows the name is the command the user meant.
    const engineFlag = token.kind === 'option' && (token.name === 'host' || token.name === 'identity');
    if (dash === -1 && names.length > 0 && !engineFlag) {
      throw new UserError(
        `Put -- between the container and the command: yolo-lab exec ${before.slice(0, token.index).join(' ')} ` +
          `-- ${before.slice(token.index).join(' ')}`
      );
    }
    if (token.kind === 'positional') {
      names.push(token.value);
    } else if (token.kind === 'option') {
      if (token.name !== 'host' && token.name !== 'identity') {
        throw new UserError(`exec takes no option ${token.rawName}. ${EXEC_USAGE}`);
      }
      if (token.value === undefined || token.value === '') {
        throw new UserError(`${token.rawName} needs a value. ${EXEC_USAGE}`);
      }
      flags[token.name] = token.value;
    }
  }
  if (names.length > 1) {
    throw new UserError(
      `exec takes one container name before --, not ${names.length} (${names.join(' ')}). ${EXEC_USAGE}`
    );
  }
  if (cmd.length === 0) {
    throw new UserError(
      `exec needs a command after --, for example: yolo-lab exec ${names[0] ?? 'NAME'} -- nvidia-smi ` +
        `(for a shell: yolo-lab shell${names[0] ? ` ${names[0]}` : ''}).`
    );
  }
  return { name: names[0], cmd, ...flags };
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
  const { values } = parseArgs({
    args,
    options: {
      ...ENGINE_FLAGS,
      image: { type: 'string' },
      gpus: { type: 'string' },
      'shm-size': { type: 'string' },
      ipc: { type: 'string' },
      notebooks: { type: 'string' },
      code: { type: 'string' },
      datasets: { type: 'string' },
      'datasets-rw': { type: 'boolean' },
      'code-rw': { type: 'boolean' },
      runs: { type: 'string' },
      port: { type: 'string' },
      bind: { type: 'string' },
      network: { type: 'string' },
      user: { type: 'string' },
      'server-only': { type: 'boolean' },
      'allow-origin': { type: 'string' },
      workdir: { type: 'string' },
      name: { type: 'string' },
      timeout: { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean' }
    },
    strict: true
  });
  const loaded = loadConfig(values.config);
  const { config, dir } = loaded;
  const target = engineTarget(values, loaded);
  const remote = sshAddress(target) !== undefined;
  const cwd = process.cwd();
  const ipc = values.ipc ?? config.ipc;
  if (ipc !== undefined && ipc !== 'host') {
    throw new UserError(`--ipc takes only "host", not "${ipc}".`);
  }
  if (ipc === 'host' && values['shm-size'] !== undefined) {
    throw new UserError(
      'Use either --ipc host or --shm-size: with the host IPC namespace the host /dev/shm is used.'
    );
  }
  const network = values.network ?? config.network ?? 'bridge';
  if (network !== 'bridge' && network !== 'host') {
    throw new UserError(`--network takes bridge or host, not "${network}".`);
  }
  const user = values.user ?? config.user ?? callerUser();
  if (!/^\d+(:\d+)?$/.test(user)) {
    throw new UserError(`--user takes numeric UID:GID (like 1000:1000), not "${user}".`);
  }
  // Paths from flags are relative to where the command runs, from the config file to the file.
  const path = (
    flag: string | undefined,
    fromConfig: string | undefined,
    name: string
  ): string | undefined => {
    if (remote) return flag ?? fromConfig;
    if (flag !== undefined) return existingDir(flag, name, cwd);
    if (fromConfig !== undefined) return existingDir(fromConfig, name, dir);
    return undefined;
  };
  const runs = remote
    ? (values.runs ?? config.runs ?? 'runs')
    : values.runs !== undefined
      ? resolvePath(cwd, values.runs)
      : resolvePath(dir, config.runs ?? 'runs');
  // The notebooks: the flag's folder, the config's, or the one up runs in
  // (on a remote host: the SSH user's home there).
  const notebooks = path(values.notebooks, config.notebooks, '--notebooks') ?? (remote ? '.' : cwd);
  const opts: UpOptions = {
    image: values.image ?? config.image ?? DEFAULT_IMAGE,
    notebooks,
    gpus: values.gpus ?? config.gpus ?? 'all',
    shm: values['shm-size'] ?? config.shm ?? DEFAULT_SHM,
    ipcHost: ipc === 'host',
    code: remote
      ? (values.code ?? config.code)
      : values.code !== undefined
        ? checkoutDir(values.code, cwd)
        : config.code !== undefined
          ? checkoutDir(config.code, dir)
          : undefined,
    codeWritable: values['code-rw'] ?? config.codeWritable ?? false,
    datasets: path(values.datasets, config.datasets, '--datasets'),
    datasetsWritable: values['datasets-rw'] ?? config.datasetsWritable ?? false,
    runs,
    port: intOption(values.port, '--port', 0) ?? config.port ?? 0,
    bind: values.bind ?? config.bind ?? '127.0.0.1',
    network,
    user: user.includes(':') ? user : `${user}:${user}`,
    serverOnly: values['server-only'] ?? config.serverOnly ?? false,
    allowOrigin: checkOrigin(values['allow-origin'] ?? config.allowOrigin),
    workdir: values.workdir ?? config.workdir ?? '/workspace',
    name: values.name ?? config.name,
    timeoutS: intOption(values.timeout, '--timeout', 1) ?? config.timeoutS ?? 120
  };
  const userGiven = values.user !== undefined || config.user !== undefined;
  return { opts, json: values.json ?? false, target, remote, userGiven };
}

/**
 * `connect [NAME]`: reopen the tunnel to a container on a host over SSH.
 * --attach holds it in this process (what the background tunnel process
 * runs; spawned with an IPC channel, it reports its record or its error there).
 */
async function connectCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...ENGINE_FLAGS,
      attach: { type: 'boolean' },
      port: { type: 'string' },
      json: { type: 'boolean' }
    },
    allowPositionals: true
  });
  if (positionals.length > 1) {
    throw new UserError(
      `connect takes one container name, not ${positionals.length} (${positionals.join(' ')}).`
    );
  }
  const name = positionals[0];
  let target = engineTarget(values);
  // After the laptop slept, the record knows where the container is.
  const recorded = name !== undefined ? readServer(name) : undefined;
  if (sshAddress(target) === undefined && recorded?.host !== undefined) {
    target = { ...target, host: recorded.host };
  }
  if (sshAddress(target) === undefined) {
    throw new UserError(
      'connect opens a tunnel to a container on a GPU server: pass --host ssh://user@host ' +
        '(a local container needs none: `yolo-lab status` shows its URL).'
    );
  }
  const localPort = intOption(values.port, '--port', 0);
  if (values.attach) {
    try {
      const engine = await connect(target);
      await holdTunnel(engine, name, localPort ?? recorded?.tunnel?.port ?? 0, (url, record) => {
        if (process.connected) process.send!({ record });
        else process.stdout.write(`${url}\n`);
      });
    } catch (error) {
      if (process.connected) process.send!({ error: errorText(error) });
      throw error;
    }
    return 0;
  }
  const progress = new Progress();
  const engine = await connect(target);
  const { url, reopened } = await connectTunnel(engine, target.identity, name, localPort);
  engine.close();
  progress.step(reopened ? `tunnel opened: ${url}` : `the tunnel is open: ${url}`);
  process.stdout.write(values.json ? `${JSON.stringify({ url, reopened })}\n` : `${url}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up': {
      const { opts, json, target, userGiven } = upOptions(rest);
      const engine = await connect(target);
      // The URL goes to stdout as soon as Jupyter answers; --json prints everything at the end.
      const result = await up(
        engine.docker,
        opts,
        new Progress(),
        json ? undefined : url => process.stdout.write(`${url}\n`),
        engine.remote !== undefined
          ? { remote: engine.remote, host: engine.host!, identity: target.identity, userGiven }
          : undefined
      );
      engine.close();
      if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
      return 0;
    }
    case 'down': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { ...ENGINE_FLAGS, force: { type: 'boolean' } },
        allowPositionals: true
      });
      const engine = await connect(engineTarget(values));
      await down(engine.docker, positionals, new Progress(), values.force ?? false);
      engine.close();
      return 0;
    }
    case 'status': {
      const { values } = parseArgs({ args: rest, options: { ...ENGINE_FLAGS, json: { type: 'boolean' } } });
      const engine = await connect(engineTarget(values));
      const entries = await status(engine.docker, engine.remote !== undefined);
      engine.close();
      if (values.json) {
        process.stdout.write(`${JSON.stringify(entries)}\n`);
      } else if (entries.length === 0) {
        process.stdout.write('no yolo-lab containers\n');
      } else {
        for (const e of entries) {
          const reopen =
            e.tunnel === 'closed' && e.state === 'running'
              ? `\n  tunnel closed: yolo-lab connect --host ${engine.host} ${e.name}`
              : '';
          process.stdout.write(
            `${e.name}  ${e.state}  ${e.status}  ${e.image}${e.url ? `\n  ${e.url}` : ''}${reopen}\n`
          );
        }
      }
      return 0;
    }
    case 'logs': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { ...ENGINE_FLAGS, 'no-follow': { type: 'boolean' }, tail: { type: 'string' } },
        allowPositionals: true
      });
      const engine = await connect(engineTarget(values));
      await logs(engine.docker, positionals[0], !values['no-follow'], intOption(values.tail, '--tail', 0));
      engine.close();
      return 0;
    }
    case 'doctor': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { ...ENGINE_FLAGS, json: { type: 'boolean' } },
        allowPositionals: true
      });
      const engine = await connect(engineTarget(values));
      const report = await doctor(engine.docker, positionals[0], values.json ?? false);
      engine.close();
      if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      return 0;
    }
    case 'shell': {
      const { name, ...flags } = shellArgs(rest);
      const engine = await connect(engineTarget(flags));
      try {
        return await shell(engine.docker, name);
      } finally {
        engine.close();
      }
    }
    case 'exec': {
      const { name, cmd, ...flags } = execArgs(rest);
      const engine = await connect(engineTarget(flags));
      try {
        return await execCommand(engine.docker, name, cmd);
      } finally {
        engine.close();
      }
    }
    case 'build': {
      const { values } = parseArgs({
        args: rest,
        options: {
          ...ENGINE_FLAGS,
          tag: { type: 'string' },
          'base-image': { type: 'string' },
          'build-arg': { type: 'string', multiple: true },
          network: { type: 'string' },
          'ca-cert': { type: 'string' },
          'no-cache': { type: 'boolean' },
          repo: { type: 'string' },
          config: { type: 'string' }
        }
      });
      const buildArgs: Record<string, string> = {};
      for (const pair of values['build-arg'] ?? []) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new UserError(`--build-arg takes KEY=VALUE, not "${pair}".`);
        buildArgs[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      const loaded = loadConfig(values.config);
      const { config } = loaded;
      const engine = await connect(engineTarget(values, loaded));
      await build(
        engine.docker,
        {
          tag: values.tag ?? config.image ?? DEFAULT_IMAGE,
          repo: values.repo ?? defaultRepo(),
          baseImage: values['base-image'],
          buildArgs,
          network: values.network,
          caCert: values['ca-cert'],
          noCache: values['no-cache'] ?? false
        },
        new Progress()
      );
      engine.close();
      return 0;
    }
    case 'connect':
      return connectCommand(rest);
    case 'classroom':
      return classroomCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`);
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    code => process.exit(code),
    (error: unknown) => {
      if (error instanceof UserError) {
        process.stderr.write(`yolo-lab: ${error.message}\n`);
        process.exit(error.exitCode);
      }
      // parseArgs' own errors (unknown flag, missing value) are usage errors too.
      const code = (error as { code?: string } | null)?.code;
      if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
        process.stderr.write(`yolo-lab: ${errorText(error)}\nRun \`yolo-lab help\` for the options.\n`);
        process.exit(2);
      }
      process.stderr.write(
        `yolo-lab: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`
      );
      process.exit(1);
    }
  );
}
