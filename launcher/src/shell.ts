/**
 * `yolo-lab shell` and `yolo-lab exec`: a shell or one command in a running
 * container, through the engine's exec API (no sshd, no published port),
 * attached to this terminal, as the user the container runs as.
 */
import type Docker from 'dockerode';

import { containerName, engineMessage, pickContainer, statusCode } from './engine';
import { UserError } from './errors';

/** bash when the image has it, else sh; not a login shell, whose /etc/profile would reset PATH. */
export const SHELL_COMMAND = ['sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash; fi; exec sh'];

/** The terminal the command is attached to (this process's, unless a caller says otherwise). */
export interface Terminal {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  stderr: NodeJS.WritableStream;
}

/** The running launcher container named (or the only one running), inspected. */
export async function runningContainer(
  docker: Docker,
  name: string | undefined,
  usage: string
): Promise<Docker.ContainerInspectInfo> {
  const info = await pickContainer(docker, name, usage);
  if (info.State !== 'running') {
    const shown = containerName(info);
    throw new UserError(
      `${shown} is not running (${info.Status}). Start a new one with \`yolo-lab up\` ` +
        `(\`yolo-lab down ${shown}\` removes this one).`
    );
  }
  return docker.getContainer(info.Id).inspect();
}

/** Everything written so far has left this process (a pipe may still hold some). */
function flushed(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise(done => stream.write('', () => done()));
}

/** The exec's exit code, once the engine has recorded it (it can lag the end of the stream). */
async function exitCodeOf(exec: Docker.Exec): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null) return info.ExitCode;
    if (Date.now() > deadline) {
      throw new Error(`the engine reports no exit code for exec ${info.ID.slice(0, 12)}`);
    }
    await new Promise(done => setTimeout(done, 50));
  }
}

/**
 * Run `cmd` in the container attached to the terminal and return its exit
 * code. With a TTY on stdin: an engine TTY, stdin in raw mode (Ctrl-C and
 * Ctrl-D reach the command), resized with the window, restored at the end.
 * Without one: stdout and stderr kept apart (demultiplexed) and stdin
 * forwarded until its EOF, which closes the command's stdin.
 */
export async function attach(
  docker: Docker,
  info: Docker.ContainerInspectInfo,
  cmd: string[],
  term: Terminal = process
): Promise<number> {
  const tty = term.stdin.isTTY === true;
  const size = (): { w: number; h: number } | undefined => {
    const { isTTY, columns: w, rows: h } = term.stdout;
    return isTTY && w && h ? { w, h } : undefined;
  };
  const initial = tty ? size() : undefined;
  const container = docker.getContainer(info.Id);
  let exec: Docker.Exec;
  try {
    exec = await container.exec({
      Cmd: cmd,
      // Said explicitly, so `up --user` is who runs it whatever the engine's default.
      User: info.Config.User || undefined,
      WorkingDir: info.Config.WorkingDir || undefined,
      Env: tty ? [`TERM=${process.env.TERM || 'xterm'}`] : undefined,
      // The size from the first byte (engine API 1.42+; older ones get the resize below).
      ConsoleSize: initial ? [initial.h, initial.w] : undefined,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: tty
    });
  } catch (error) {
    if (statusCode(error) === 409) {
      throw new UserError(
        `${info.Name.replace(/^\//, '')} is not running (${engineMessage(error).trim()}). ` +
          'Start a new one with `yolo-lab up`.'
      );
    }
    throw error;
  }
  const stream = await exec.start({ hijack: true, stdin: true, Tty: tty });
  const ended = new Promise<void>((done, fail) => {
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', fail);
  });

  // One resize request at a time, the latest size last: two in flight reach
  // the engine in either order (`stty cols 120 rows 50` is two SIGWINCHes),
  // and the older size could win.
  let sending = false;
  let again = false;
  const resize = (): void => {
    if (sending) {
      again = true;
      return;
    }
    const now = size();
    if (!now) return;
    sending = true;
    // A resize racing the command's end is refused by the engine: nothing to do then.
    void exec
      .resize(now)
      .catch(() => undefined)
      .then(() => {
        sending = false;
        if (again) {
          again = false;
          resize();
        }
      });
  };
  if (tty) {
    term.stdin.setRawMode?.(true);
    stream.pipe(term.stdout, { end: false });
    resize();
    // Node reads the new size on SIGWINCH, then emits 'resize' (a handler of
    // our own on the signal could run before it and read the old size).
    term.stdout.on('resize', resize);
  } else {
    docker.modem.demuxStream(stream, term.stdout, term.stderr);
  }
  // pipe() ends the engine stream at stdin's EOF: the command reads EOF too.
  term.stdin.pipe(stream);
  try {
    await ended;
  } finally {
    term.stdin.unpipe(stream);
    term.stdin.pause();
    if (tty) {
      term.stdout.removeListener('resize', resize);
      term.stdin.setRawMode?.(false);
    }
  }
  await flushed(term.stdout);
  return exitCodeOf(exec);
}

/** `yolo-lab shell [NAME]`: an interactive shell in the container, in its working folder. */
export async function shell(
  docker: Docker,
  name: string | undefined,
  term: Terminal = process
): Promise<number> {
  const info = await runningContainer(docker, name, 'yolo-lab shell NAME');
  return attach(docker, info, SHELL_COMMAND, term);
}

/** `yolo-lab exec [NAME] -- CMD [ARGS...]`: one command in the container; its exit code. */
export async function execCommand(
  docker: Docker,
  name: string | undefined,
  cmd: string[],
  term: Terminal = process
): Promise<number> {
  const info = await runningContainer(docker, name, `yolo-lab exec NAME -- ${cmd.join(' ')}`);
  return attach(docker, info, cmd, term);
}
