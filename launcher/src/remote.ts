/**
 * A Docker engine on another machine, over SSH. One ssh2 connection per
 * command carries everything: the engine's API (each request on its own
 * `docker system dial-stdio` channel, as the docker CLI does for ssh://
 * hosts), the mount-path checks (SFTP, the protocol scp uses: no shell
 * quoting of paths) and the tunnels to Jupyter (direct-tcpip channels behind
 * a listener on this machine's 127.0.0.1). No Docker TCP port is opened
 * anywhere, and keys never leave this machine (the agent signs, or ssh2 does
 * with the key file). The host named in the URL is read through OpenSSH's
 * own parser of the SSH config first (`ssh -G`): aliases, HostName, User,
 * Port, IdentityFile, known_hosts files and HostKeyAlias apply as for `ssh`.
 *
 * The parts, by job: sshtarget.ts reads the URL, sshconfig.ts the SSH config,
 * sshlogin.ts logs in (keys, host key, refusals), sshtunnel.ts forwards a
 * local port; this module is the connection the commands use.
 */
import { Agent } from 'node:http';
import type { Duplex } from 'node:stream';

import Docker from 'dockerode';
import type { Client, SFTPWrapper } from 'ssh2';

import { UserError } from './errors';
import { sshCommand } from './sshconfig';
import { login } from './sshlogin';
import type { SshTarget } from './sshtarget';
import { Tunnel } from './sshtunnel';

/** The engine's answer to a ping, or what went wrong there. */
interface DialResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

/**
 * An SSH connection to the engine's machine. Whoever opens it closes it
 * (`close()`); a command that ends without closing it would hang on the socket.
 */
export class Remote {
  private constructor(
    readonly target: SshTarget,
    private readonly _conn: Client
  ) {}

  /**
   * Read the SSH config for the target (`ssh -G`), log in, check the host
   * key against known_hosts, and check that Docker answers there; every
   * failure a UserError saying what to do.
   */
  static async open(
    named: SshTarget,
    identity: string | undefined,
    env: NodeJS.ProcessEnv = process.env
  ): Promise<Remote> {
    const { target, conn } = await login(named, identity, env);
    // From here a lost connection is reported through onClose(): an
    // 'error' without a listener would end the process with a stack trace.
    conn.on('error', () => undefined);
    const remote = new Remote(target, conn);
    try {
      await remote._checkEngine();
    } catch (error) {
      remote.close();
      throw error;
    }
    return remote;
  }

  /** Run `docker system dial-stdio` and send one request through it, keeping what it printed. */
  private _dial(request: string): Promise<DialResult> {
    return new Promise((done, fail) => {
      this._conn.exec('docker system dial-stdio', (error, channel) => {
        if (error) return fail(error);
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        let exitCode: number | null = null;
        channel.on('data', (chunk: Buffer) => out.push(chunk));
        channel.stderr.on('data', (chunk: Buffer) => err.push(chunk));
        channel.on('exit', (code: number | null) => (exitCode = code));
        channel.on('close', () =>
          done({
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(err).toString('utf8').trim(),
            exitCode
          })
        );
        channel.end(request);
      });
    });
  }

  /** Docker answers a ping through dial-stdio there, or the error says what to install or fix. */
  private async _checkEngine(): Promise<void> {
    const result = await this._dial('GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n');
    if (/^HTTP\/1\.[01] 200/.test(result.stdout)) return;
    const host = this.target.host;
    const said = result.stderr || result.stdout.split('\r\n')[0] || `exit ${result.exitCode}`;
    if (result.exitCode === 127 || /command not found/i.test(result.stderr)) {
      throw new UserError(
        `Docker is not installed on ${host}, or \`docker\` is not on the PATH of SSH commands there ` +
          `(docker system dial-stdio: ${said}).\n` +
          `Install Docker on ${host} (https://docs.docker.com/engine/install/), or fix PATH for ` +
          `non-interactive logins; \`${sshCommand(this.target)} docker version\` must work.`
      );
    }
    if (/permission denied/i.test(said)) {
      throw new UserError(
        `${this.target.user} may not use Docker on ${host} (${said}).\n` +
          `Add the user to the docker group there (sudo usermod -aG docker ${this.target.user}), or log in as one who may.`
      );
    }
    if (/Cannot connect to the Docker daemon|daemon running|docker\.sock/i.test(said)) {
      throw new UserError(
        `The Docker engine is not running on ${host} (${said}).\n` +
          'Start it there (sudo systemctl start docker).'
      );
    }
    throw new UserError(`Docker on ${host} did not answer through SSH (docker system dial-stdio: ${said}).`);
  }

  /**
   * A dockerode client whose requests each go through their own
   * `docker system dial-stdio` channel on this connection (one login for
   * all of them; docker-modem's own ssh mode logs in for every request).
   */
  docker(): Docker {
    const agent = new Agent({ keepAlive: false });
    const conn = this._conn;
    // http.Agent waits for the callback when createConnection returns nothing.
    (
      agent as unknown as {
        createConnection: (
          options: unknown,
          callback: (error: Error | null, socket?: Duplex) => void
        ) => void;
      }
    ).createConnection = (_options, callback) => {
      conn.exec('docker system dial-stdio', (error, channel) => {
        if (error) {
          callback(error);
          return;
        }
        callback(null, channel);
      });
    };
    return new Docker({ protocol: 'http', host: 'docker', port: 80, agent } as Docker.DockerOptions);
  }

  /** An SFTP session on this connection, for the mount paths. */
  sftp(): Promise<SFTPWrapper> {
    return new Promise((done, fail) =>
      this._conn.sftp((error, sftp) => {
        if (error) {
          fail(
            new UserError(
              `The SSH server of ${this.target.host} offers no SFTP (${error.message}), which yolo-lab uses to ` +
                'check the mount paths there. Enable the sftp Subsystem in its sshd_config.'
            )
          );
        } else {
          done(sftp);
        }
      })
    );
  }

  /** Run a fixed command there (never one built from user input) and return its stdout. */
  run(command: string): Promise<string> {
    return new Promise((done, fail) => {
      this._conn.exec(command, (error, channel) => {
        if (error) return fail(error);
        let out = '';
        let err = '';
        let exitCode: number | null = null;
        channel.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
        channel.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
        channel.on('exit', (code: number | null) => (exitCode = code));
        channel.on('close', () =>
          exitCode === 0
            ? done(out)
            : fail(
                new Error(`\`${command}\` on ${this.target.host} failed (exit ${exitCode}): ${err.trim()}`)
              )
        );
      });
    });
  }

  /**
   * A free port on the remote's `host` (127.0.0.1), found the way `up`
   * finds one locally: the remote sshd listens on it for a moment
   * (port 0: any free one) and lets go.
   */
  freePort(host: string, port: number): Promise<number> {
    return new Promise((done, fail) => {
      this._conn.forwardIn(host, port, (error, bound) => {
        if (error) {
          fail(
            new UserError(
              port === 0
                ? `The SSH server of ${this.target.host} would not lend a port on its ${host} (${error.message}); ` +
                    'pass a free port there with --port N.'
                : `Port ${port} on ${host} of ${this.target.host} is in use (or the SSH server there forbids ` +
                    'forwarding). Choose another with --port, or --port 0 for any free one.'
            )
          );
          return;
        }
        const chosen = port === 0 ? bound : port;
        this._conn.unforwardIn(host, chosen, () => done(chosen));
      });
    });
  }

  /**
   * Listen on this machine's 127.0.0.1:`localPort` (0: any free port) and
   * carry each connection to `remoteHost:remotePort` as seen from the remote.
   */
  tunnel(remoteHost: string, remotePort: number, localPort: number): Promise<Tunnel> {
    return Tunnel.open(this._conn, this.target.host, { host: remoteHost, port: remotePort }, localPort);
  }

  /** Called once when the connection ends (the laptop slept, the host went away, close()). */
  onClose(callback: () => void): void {
    let called = false;
    const once = (): void => {
      if (!called) {
        called = true;
        callback();
      }
    };
    this._conn.once('close', once);
    this._conn.once('end', once);
  }

  /** End the connection (and every channel on it). */
  close(): void {
    this._conn.end();
  }
}
