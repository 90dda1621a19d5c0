import type Docker from 'dockerode';
import { PassThrough, Writable } from 'node:stream';

/** A Writable that keeps what it receives. */
class Collector extends Writable {
  private readonly _chunks: Buffer[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._chunks.push(chunk);
    callback();
  }

  text(): string {
    return Buffer.concat(this._chunks).toString('utf8');
  }
}

/**
 * The last `lines` lines of a container's output. Without a TTY the
 * engine multiplexes stdout and stderr in one stream: demultiplexed here
 * (docker-modem's demuxStream) and interleaved back as text.
 */
export async function lastLogLines(
  docker: Docker,
  container: Docker.Container,
  lines: number
): Promise<string> {
  const raw = (await container.logs({
    stdout: true,
    stderr: true,
    follow: false,
    tail: lines
  })) as unknown as Buffer;
  const both = new Collector();
  const source = new PassThrough();
  docker.modem.demuxStream(source, both, both);
  source.end(raw);
  await new Promise<void>(done => source.on('end', done));
  return both.text().trimEnd();
}

/** What a command run with `docker exec` printed, and its exit status. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

/** Run a command in a running container and collect its output. */
export async function execIn(
  docker: Docker,
  container: Docker.Container,
  cmd: string[]
): Promise<ExecResult> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: false });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new Collector();
  const err = new Collector();
  docker.modem.demuxStream(stream, out, err);
  await new Promise<void>((done, fail) => {
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', fail);
  });
  const info = await exec.inspect();
  return { stdout: out.text(), stderr: err.text(), exitCode: info.ExitCode };
}
