/** Running the real `yolo-lab` command and looking at the real engine, for the tests and the benchmark. */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Docker from 'dockerode';

import { LABEL } from '../src/engine';

/** The image's user (docker/Dockerfile), which up runs as when the caller is root. */
export const IMAGE_UID = 1000;

/**
 * Where the commands run unless a test says otherwise: a folder of the
 * container user's own, as a user's project folder is (up mounts it as
 * JupyterLab's root).
 */
export const PROJECT = mkdtempSync(join(tmpdir(), 'yolo-lab-project-'));
if (process.getuid?.() === 0) chownSync(PROJECT, IMAGE_UID, IMAGE_UID);

/** A test's own temporary folder, which the container's user can enter (mode 755). */
export function workDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** Host networking and no GPU: this engine has no bridge (daemon.json "bridge": "none") and no NVIDIA runtime. */
export const HOST_NET = ['--network', 'host', '--gpus', 'none'];

/** The compiled CLI (lib/src/cli.js). */
export const CLI = join(__dirname, '..', 'src', 'cli.js');
/** The image under test: built by scripts/test-launcher.sh. */
export const IMAGE = process.env.YOLO_LAB_IMAGE ?? 'yolo-lab:latest';
/** An image without Jupyter (the local base), for a container that exits during start. */
export const BASE_IMAGE = process.env.YOLO_LAB_BASE_IMAGE ?? 'yolo-lab-base:bookworm';

/** What a finished command printed. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A command's output for an assertion's message, so a failure explains itself (`more`: what else helps). */
export function explain(run: Run, more = ''): string {
  return `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}${more}`;
}

/** A running command: a promise of its end, and of its first output. */
export type Running = Promise<Run> & { firstOutput: Promise<void>; child: ChildProcess };

/**
 * Run the yolo-lab command to its end. Its stdin is empty (/dev/null), or
 * `input` through a pipe that then closes.
 */
export function yoloLab(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number; input?: string } = {}
): Running {
  let outputSeen: () => void = () => undefined;
  const firstOutput = new Promise<void>(done => (outputSeen = done));
  let started: ChildProcess | undefined;
  const finished = new Promise<Run>((done, fail) => {
    const child = (started = spawn(process.execPath, [CLI, ...args], {
      env: options.env ?? process.env,
      cwd: options.cwd ?? PROJECT,
      uid: options.uid,
      gid: options.gid,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']
    }));
    if (options.input !== undefined) child.stdin!.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', chunk => {
      stdout += chunk;
      outputSeen();
    });
    child.stderr!.on('data', chunk => {
      stderr += chunk;
      outputSeen();
    });
    child.on('error', fail);
    child.on('close', code => {
      outputSeen();
      done({ code, stdout, stderr });
    });
  });
  return Object.assign(finished, { firstOutput, child: started! });
}

/**
 * Run the yolo-lab command on a terminal of its own: util-linux `script`
 * gives it a pseudo-terminal as stdin and stdout, and types `input` there.
 * `prelude` is shell code run on that terminal first (`stty cols 100`).
 * Output is the terminal's (echo included, lines ending in CR).
 */
export function yoloLabInTerminal(args: string[], input: string, prelude = ''): Running {
  const quoted = [process.execPath, CLI, ...args].map(a => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const line = `${prelude}\nexec ${quoted}`;
  let started: ChildProcess | undefined;
  const finished = new Promise<Run>((done, fail) => {
    // -e: script exits with the command's exit code; -q: no banner; no typescript file kept.
    const child = (started = spawn('script', ['-qec', line, '/dev/null'], {
      cwd: PROJECT,
      stdio: ['pipe', 'pipe', 'pipe']
    }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', chunk => (stdout += chunk));
    child.stderr.on('data', chunk => (stderr += chunk));
    child.stdin.end(input);
    child.on('error', fail);
    child.on('close', code => done({ code, stdout, stderr }));
  });
  return Object.assign(finished, { firstOutput: finished.then(() => undefined), child: started! });
}

/** The containers the launcher made (running or not). */
export async function launcherContainers(docker: Docker): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [LABEL.launcher] } });
}
