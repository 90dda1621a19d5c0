#!/usr/bin/env node
import { resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';

import { build, defaultRepo } from './build';
import { doctor, down, logs, status } from './commands';
import { connect } from './engine';
import { UserError, errorText } from './errors';
import { checkoutDir, DEFAULT_IMAGE, DEFAULT_SHM, existingDir, loadConfig, type UpOptions } from './options';
import { Progress } from './progress';
import { execCommand, shell } from './shell';
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
  yolo-lab down [--force] [NAME...]
                               stop the trainings inside (last.pt saved), then stop and remove the
                               named containers (default: all the launcher started); refuses one
                               holding files written outside its mounts unless --force
  yolo-lab status [--json]     list the containers the launcher started, with their URLs
  yolo-lab logs [NAME] [--no-follow] [--tail N]
  yolo-lab doctor [NAME] [--json]   check the environment inside a running container
  yolo-lab shell [NAME]        a shell (bash, else sh) in a running container, as its user, in its
                               working folder; exits with the shell's exit code. Piped stdin works:
                               echo 'nvidia-smi; exit' | yolo-lab shell NAME
  yolo-lab exec [NAME] -- CMD [ARGS...]
                               run one command in a running container (e.g. nvidia-smi, a training
                               script), as its user; exits with its exit code
      NAME may be left out when exactly one yolo-lab container runs (\`yolo-lab status\` lists them).
  yolo-lab build [--tag NAME] [--base-image IMAGE] [--build-arg K=V ...] [--network host]
                 [--ca-cert FILE] [--no-cache] [--repo PATH]
                               build the image from docker/ (needs dist/yolo_lab-*.whl)

The engine is DOCKER_HOST, or the local socket.`;

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

/** `shell [NAME]`: at most one name, no flags. */
export function shellArgs(args: string[]): { name: string | undefined } {
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true, strict: true });
  if (positionals.length > 1) {
    throw new UserError(
      `shell takes one container name, not ${positionals.length} (${positionals.join(' ')}). ` +
        "To run a command, use: yolo-lab exec NAME -- CMD, or pipe it in: echo 'CMD' | yolo-lab shell NAME"
    );
  }
  return { name: positionals[0] };
}

/** `exec [NAME] -- CMD [ARGS...]`: everything after `--` is the command, untouched. */
export function execArgs(args: string[]): { name: string | undefined; cmd: string[] } {
  const dash = args.indexOf('--');
  const before = dash === -1 ? args : args.slice(0, dash);
  const cmd = dash === -1 ? [] : args.slice(dash + 1);
  if (dash === -1 && before.length > 1) {
    throw new UserError(
      `Put -- between the container and the command: yolo-lab exec ${before[0]} -- ${before.slice(1).join(' ')}`
    );
  }
  const flag = before.find(a => a.startsWith('-'));
  if (flag !== undefined) {
    throw new UserError(`exec takes no option ${flag}. Usage: yolo-lab exec [NAME] -- CMD [ARGS...]`);
  }
  if (before.length > 1) {
    throw new UserError(
      `exec takes one container name before --, not ${before.length} (${before.join(' ')}). ` +
        'Usage: yolo-lab exec [NAME] -- CMD [ARGS...]'
    );
  }
  if (cmd.length === 0) {
    throw new UserError(
      `exec needs a command after --, for example: yolo-lab exec ${before[0] ?? 'NAME'} -- nvidia-smi ` +
        `(for a shell: yolo-lab shell${before[0] ? ` ${before[0]}` : ''}).`
    );
  }
  return { name: before[0], cmd };
}

/** Flags and yolo-lab.json merged into what `up` starts. */
export function upOptions(args: string[]): { opts: UpOptions; json: boolean } {
  const { values } = parseArgs({
    args,
    options: {
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
  const { config, dir } = loadConfig(values.config);
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
    if (flag !== undefined) return existingDir(flag, name, cwd);
    if (fromConfig !== undefined) return existingDir(fromConfig, name, dir);
    return undefined;
  };
  const runs =
    values.runs !== undefined ? resolvePath(cwd, values.runs) : resolvePath(dir, config.runs ?? 'runs');
  // The notebooks: the flag's folder, the config's, or the one up runs in.
  const notebooks = path(values.notebooks, config.notebooks, '--notebooks') ?? cwd;
  const opts: UpOptions = {
    image: values.image ?? config.image ?? DEFAULT_IMAGE,
    notebooks,
    gpus: values.gpus ?? config.gpus ?? 'all',
    shm: values['shm-size'] ?? config.shm ?? DEFAULT_SHM,
    ipcHost: ipc === 'host',
    code:
      values.code !== undefined
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
  return { opts, json: values.json ?? false };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up': {
      const { opts, json } = upOptions(rest);
      const docker = await connect();
      // The URL goes to stdout as soon as Jupyter answers; --json prints everything at the end.
      const result = await up(
        docker,
        opts,
        new Progress(),
        json ? undefined : url => process.stdout.write(`${url}\n`)
      );
      if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
      return 0;
    }
    case 'down': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { force: { type: 'boolean' } },
        allowPositionals: true
      });
      const docker = await connect();
      await down(docker, positionals, new Progress(), values.force ?? false);
      return 0;
    }
    case 'status': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } } });
      const docker = await connect();
      const entries = await status(docker);
      if (values.json) {
        process.stdout.write(`${JSON.stringify(entries)}\n`);
      } else if (entries.length === 0) {
        process.stdout.write('no yolo-lab containers\n');
      } else {
        for (const e of entries) {
          process.stdout.write(
            `${e.name}  ${e.state}  ${e.status}  ${e.image}${e.url ? `\n  ${e.url}` : ''}\n`
          );
        }
      }
      return 0;
    }
    case 'logs': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { 'no-follow': { type: 'boolean' }, tail: { type: 'string' } },
        allowPositionals: true
      });
      const docker = await connect();
      await logs(docker, positionals[0], !values['no-follow'], intOption(values.tail, '--tail', 0));
      return 0;
    }
    case 'doctor': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { json: { type: 'boolean' } },
        allowPositionals: true
      });
      const docker = await connect();
      const report = await doctor(docker, positionals[0], values.json ?? false);
      if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      return 0;
    }
    case 'shell': {
      const { name } = shellArgs(rest);
      return shell(await connect(), name);
    }
    case 'exec': {
      const { name, cmd } = execArgs(rest);
      return execCommand(await connect(), name, cmd);
    }
    case 'build': {
      const { values } = parseArgs({
        args: rest,
        options: {
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
      const { config } = loadConfig(values.config);
      const docker = await connect();
      await build(
        docker,
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
      return 0;
    }
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
