#!/usr/bin/env node
/**
 * The `yolo-lab` command: each command's line read against its declaration
 * (flags.ts), then run; help and usage errors come from the same table.
 */
import {
  groupHelp,
  commandHelp,
  HelpRequest,
  overviewHelp,
  parseCommand,
  settings,
  type GroupSpec
} from './argv';
import { build, defaultRepo } from './build';
import { classroomInit } from './classroom';
import { engineTarget, execArgs, shellArgs, upOptions } from './commandline';
import { doctor, down, logs, status } from './commands';
import { connect, sshAddress } from './engine';
import { UserError, errorText } from './errors';
import {
  BUILD,
  COMMANDS,
  CONNECT,
  DOCTOR,
  DOWN,
  LOGS,
  OVERVIEW_NOTES,
  OVERVIEW_TITLE,
  STATUS
} from './flags';
import { loadConfig } from './options';
import { Progress } from './progress';
import { readServer } from './registry';
import { execCommand, shell } from './shell';
import { connectTunnel, holdTunnel } from './tunnel';
import { up } from './up';

/** A command's run: its arguments in, its exit status out. */
type Runner = (args: string[]) => Promise<number> | number;

/** Each command's name as typed: "up", "classroom init". */
type CommandName = {
  [K in keyof typeof COMMANDS]: (typeof COMMANDS)[K] extends GroupSpec
    ? `${K} ${keyof (typeof COMMANDS)[K]['commands'] & string}`
    : K;
}[keyof typeof COMMANDS];

async function runUp(args: string[]): Promise<number> {
  const { opts, json, target, userGiven } = upOptions(args);
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

/**
 * `connect [NAME]`: reopen the tunnel to a container on a host over SSH.
 * --attach holds it in this process (what the background tunnel process
 * runs; spawned with an IPC channel, it reports its record or its error there).
 */
async function runConnect(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(CONNECT, args);
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
  const localPort = values.port;
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

async function runDown(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(DOWN, args);
  const engine = await connect(engineTarget(values));
  await down(engine.docker, positionals, new Progress(), values.force ?? false);
  engine.close();
  return 0;
}

async function runStatus(args: string[]): Promise<number> {
  const { values } = parseCommand(STATUS, args);
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

async function runLogs(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(LOGS, args);
  const engine = await connect(engineTarget(values));
  await logs(engine.docker, positionals[0], !values['no-follow'], values.tail);
  engine.close();
  return 0;
}

async function runDoctor(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(DOCTOR, args);
  const engine = await connect(engineTarget(values));
  const report = await doctor(engine.docker, positionals[0], values.json ?? false);
  engine.close();
  if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  return 0;
}

async function runShell(args: string[]): Promise<number> {
  const { name, ...flags } = shellArgs(args);
  const engine = await connect(engineTarget(flags));
  try {
    return await shell(engine.docker, name);
  } finally {
    engine.close();
  }
}

async function runExec(args: string[]): Promise<number> {
  const { name, cmd, ...flags } = execArgs(args);
  const engine = await connect(engineTarget(flags));
  try {
    return await execCommand(engine.docker, name, cmd);
  } finally {
    engine.close();
  }
}

async function runBuild(args: string[]): Promise<number> {
  const { values } = parseCommand(BUILD, args);
  const buildArgs: Record<string, string> = {};
  for (const pair of values['build-arg'] ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UserError(`--build-arg takes KEY=VALUE, not "${pair}".`);
    buildArgs[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const loaded = loadConfig(values.config);
  const s = settings(BUILD.options, values, loaded.config);
  const engine = await connect(engineTarget(values, loaded));
  await build(
    engine.docker,
    {
      tag: s.tag,
      repo: s.repo ?? defaultRepo(),
      baseImage: s['base-image'],
      buildArgs,
      network: s.network,
      caCert: s['ca-cert'],
      noCache: s['no-cache']
    },
    new Progress()
  );
  engine.close();
  return 0;
}

const RUN: Record<CommandName, Runner> = {
  up: runUp,
  connect: runConnect,
  down: runDown,
  status: runStatus,
  logs: runLogs,
  doctor: runDoctor,
  shell: runShell,
  exec: runExec,
  build: runBuild,
  'classroom init': classroomInit
};

const overview = (): string => overviewHelp(OVERVIEW_TITLE, COMMANDS, OVERVIEW_NOTES);

/** `yolo-lab help [COMMAND]`: the overview, or one command's (or group's) help. */
function helpText(topic: string | undefined): string {
  if (topic === undefined) return overview();
  if (!Object.hasOwn(COMMANDS, topic)) throw new UserError(`Unknown command "${topic}".\n\n${overview()}`);
  const spec = COMMANDS[topic as keyof typeof COMMANDS];
  return 'commands' in spec ? groupHelp(spec) : commandHelp(spec);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${helpText(rest[0])}\n`);
    return command === undefined ? 2 : 0;
  }
  if (!Object.hasOwn(COMMANDS, command)) {
    process.stderr.write(`Unknown command "${command}".\n\n${overview()}\n`);
    return 2;
  }
  const spec = COMMANDS[command as keyof typeof COMMANDS];
  if (!('commands' in spec)) return RUN[command as CommandName](rest);
  const [sub, ...subArgs] = rest;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    process.stdout.write(`${groupHelp(spec)}\n`);
    return sub === undefined ? 2 : 0;
  }
  if (!Object.hasOwn(spec.commands, sub)) {
    throw new UserError(`Unknown ${command} command "${sub}".\n\n${groupHelp(spec)}`);
  }
  return RUN[`${command} ${sub}` as CommandName](subArgs);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    code => process.exit(code),
    (error: unknown) => {
      if (error instanceof HelpRequest) {
        process.stdout.write(`${error.text}\n`);
        process.exit(0);
      }
      if (error instanceof UserError) {
        process.stderr.write(`yolo-lab: ${error.message}\n`);
        process.exit(error.exitCode);
      }
      process.stderr.write(
        `yolo-lab: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`
      );
      process.exit(1);
    }
  );
}
