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
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';

import Docker from 'dockerode';
import {
  Client,
  utils,
  type AgentAuthMethod,
  type ClientChannel,
  type PublicKeyAuthMethod,
  type SFTPWrapper
} from 'ssh2';

import { UserError, errorText } from './errors';
import { hostKeyVerdict, knownHostKeys, knownHostsName, type HostKeyVerdict } from './knownhosts';

/** The default key files ssh itself tries, in its order. */
const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

/** A host named as ssh://user@host[:port] (host: an address, or a Host alias of the SSH config). */
export interface SshTarget {
  /** Who logs in: the URL's user, else the SSH config's User, else this user. */
  user: string;
  /** Where the connection goes: the SSH config's HostName for an alias, else the URL's host. */
  host: string;
  port: number;
  /** The address as the user can type it again (user and port only when the URL gave them). */
  address: string;
  /** The host as the URL names it (an alias of the SSH config, or the host itself). */
  name: string;
  /** Whether the URL named the user and the port: they win over the SSH config, as `ssh -l`/`-p` do. */
  userGiven: boolean;
  portGiven: boolean;
  /** Read from the SSH config by resolveSshTarget(): the name its host key is recorded under. */
  hostKeyAlias?: string;
  /** Read from the SSH config: the key files to try (missing ones are passed over), instead of DEFAULT_KEYS. */
  identityFiles?: string[];
  /** Read from the SSH config: the known_hosts files (UserKnownHostsFile, then GlobalKnownHostsFile). */
  knownHostsFiles?: string[];
  /** The SSH config file named by YOLO_LAB_SSH_CONFIG, when that was read instead of ~/.ssh/config. */
  configFile?: string;
}

/** Whether an engine address (--host, DOCKER_HOST, yolo-lab.json "host") is an SSH one. */
export function isSshAddress(text: string | undefined): text is string {
  return text !== undefined && /^ssh:\/\//i.test(text);
}

/** ssh://user@host[:port] read into its parts; the user defaults to this one, the port to 22. */
export function parseSshTarget(text: string): SshTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UserError(`--host takes ssh://user@host[:port], not "${text}".`);
  }
  if (url.protocol !== 'ssh:' || url.hostname === '' || (url.pathname !== '' && url.pathname !== '/')) {
    throw new UserError(`--host takes ssh://user@host[:port], not "${text}".`);
  }
  if (url.password !== '') {
    throw new UserError(
      'Put no password in --host: yolo-lab logs in with your SSH agent or key (--identity FILE).'
    );
  }
  const given = decodeURIComponent(url.username);
  const user = given || userInfo().username;
  const port = url.port === '' ? 22 : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    user,
    host,
    port,
    address: `ssh://${given ? `${given}@` : ''}${shownHost}${url.port === '' ? '' : `:${port}`}`,
    name: host,
    userGiven: given !== '',
    portGiven: url.port !== ''
  };
}

/** What `ssh -G` prints about a host, the parts yolo-lab uses ("none" read as unset). */
export interface SshConfig {
  hostname?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  userKnownHostsFiles: string[];
  globalKnownHostsFiles: string[];
  hostKeyAlias?: string;
  proxyJump?: string;
  proxyCommand?: string;
}

/** The output of `ssh -G HOST` (one "keyword value" a line, keywords in lower case) read. */
export function parseSshG(text: string): SshConfig {
  const config: SshConfig = { identityFiles: [], userKnownHostsFiles: [], globalKnownHostsFiles: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const space = line.search(/\s/);
    if (space <= 0) continue;
    const key = line.slice(0, space).toLowerCase();
    const value = line.slice(space).trim();
    if (value === '') continue;
    const none = value.toLowerCase() === 'none';
    switch (key) {
      case 'hostname':
        config.hostname = value;
        break;
      case 'user':
        config.user = value;
        break;
      case 'port':
        if (/^\d+$/.test(value)) config.port = Number(value);
        break;
      case 'identityfile':
        config.identityFiles.push(value);
        break;
      case 'userknownhostsfile':
        config.userKnownHostsFiles.push(...value.split(/\s+/).filter(f => f.toLowerCase() !== 'none'));
        break;
      case 'globalknownhostsfile':
        config.globalKnownHostsFiles.push(...value.split(/\s+/).filter(f => f.toLowerCase() !== 'none'));
        break;
      case 'hostkeyalias':
        if (!none) config.hostKeyAlias = value;
        break;
      case 'proxyjump':
        if (!none) config.proxyJump = value;
        break;
      case 'proxycommand':
        if (!none) config.proxyCommand = value;
        break;
    }
  }
  return config;
}

/**
 * A path from the SSH config as this process reads it: `~` and `%d` are the
 * home ($HOME, as for the default keys), `%u` this user, `%h` `%p` `%r` the
 * host, port and remote user, `%%` a percent sign. ssh -G expands `~` in
 * known_hosts files with the home of the passwd entry: that one is read as
 * $HOME too (the same folder, unless HOME was pointed elsewhere).
 */
function configPath(path: string, target: SshTarget): string {
  const home = homedir();
  let passwdHome: string | undefined;
  try {
    passwdHome = userInfo().homedir;
  } catch {
    passwdHome = undefined;
  }
  if (passwdHome !== undefined && passwdHome !== home && passwdHome !== '/') {
    if (path === passwdHome) return home;
    if (path.startsWith(`${passwdHome}/`)) return `${home}${path.slice(passwdHome.length)}`;
  }
  const tokens: Record<string, string> = {
    '%': '%',
    d: home,
    u: userInfo().username,
    h: target.host,
    p: String(target.port),
    r: target.user
  };
  const expanded = path.replace(/%(.)/g, (all, token: string) => tokens[token] ?? all);
  return expanded === '~' ? home : expanded.startsWith('~/') ? join(home, expanded.slice(2)) : expanded;
}

/** `ssh` with the config file of YOLO_LAB_SSH_CONFIG, as a user would type it. */
function sshWithConfig(target: SshTarget): string {
  return target.configFile !== undefined ? `ssh -F ${target.configFile}` : 'ssh';
}

/** How `ssh` itself would be told to reach the target (the URL's name, user and port), for messages. */
function sshCommand(target: SshTarget): string {
  return (
    `${sshWithConfig(target)} ${target.portGiven ? `-p ${target.port} ` : ''}` +
    `${target.userGiven ? `${target.user}@` : ''}${target.name}`
  );
}

/**
 * The target as OpenSSH reads it from the SSH config: `ssh -G` (with -p and
 * -l when the URL names the port and user, so that they win) prints the
 * HostName, User, Port, IdentityFile, known_hosts files and HostKeyAlias
 * that apply. The config is ~/.ssh/config and /etc/ssh/ssh_config, or only
 * the file YOLO_LAB_SSH_CONFIG names (`ssh -F`). Without an `ssh` command
 * here the URL is used as given. A ProxyJump or ProxyCommand is refused:
 * ssh2 cannot follow them, and the error says how to open the hop.
 */
export function resolveSshTarget(target: SshTarget, env: NodeJS.ProcessEnv = process.env): SshTarget {
  const configFile = env.YOLO_LAB_SSH_CONFIG || undefined;
  const args = [
    ...(configFile !== undefined ? ['-F', configFile] : []),
    '-G',
    ...(target.portGiven ? ['-p', String(target.port)] : []),
    ...(target.userGiven ? ['-l', target.user] : []),
    '--',
    target.name
  ];
  let output: string;
  try {
    output = execFileSync('ssh', args, {
      encoding: 'utf8',
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 15_000
    });
  } catch (error) {
    const failed = error as { code?: string; stderr?: string };
    // No OpenSSH client on this machine: the URL as given, the default keys and known_hosts.
    if (failed.code === 'ENOENT') return target;
    const said = (failed.stderr ?? '')
      .split(/\r?\n/)
      .filter(line => line.trim() !== '' && !/^usage:/.test(line) && !/^\s/.test(line))
      .join(' ');
    throw new UserError(
      `\`ssh ${args.join(' ')}\` could not read the SSH configuration for ${target.name}: ` +
        `${said || errorText(error)}\nFix ${configFile ?? '~/.ssh/config'}` +
        `${configFile !== undefined ? ' (named by YOLO_LAB_SSH_CONFIG)' : ''}, then run this again.`
    );
  }
  const config = parseSshG(output);
  const resolved: SshTarget = {
    ...target,
    host: config.hostname ?? target.host,
    user: config.user ?? target.user,
    port: config.port ?? target.port,
    hostKeyAlias: config.hostKeyAlias,
    configFile
  };
  const proxy =
    config.proxyJump !== undefined
      ? `ProxyJump ${config.proxyJump}`
      : config.proxyCommand !== undefined
        ? `ProxyCommand ${config.proxyCommand}`
        : undefined;
  if (proxy !== undefined) throw proxyError(resolved, proxy);
  // Those that do not exist are passed over when the keys are read, as ssh does.
  resolved.identityFiles = config.identityFiles.map(f => configPath(f, resolved));
  resolved.knownHostsFiles = [...config.userKnownHostsFiles, ...config.globalKnownHostsFiles].map(f =>
    configPath(f, resolved)
  );
  return resolved;
}

/** The hop through a jump host that yolo-lab cannot make, and how to make it by hand. */
function proxyError(target: SshTarget, proxy: string): UserError {
  const local = 2222;
  const login = target.userGiven || target.user !== userInfo().username ? `${target.user}@` : '';
  const flags = `${target.userGiven ? `-l ${target.user} ` : ''}${target.portGiven ? `-p ${target.port} ` : ''}`;
  return new UserError(
    `Your SSH config reaches ${target.name} through a jump host (${proxy}); yolo-lab's SSH library ` +
      '(ssh2) connects only directly and cannot follow ProxyJump or ProxyCommand.\n' +
      `Open the hop yourself, in another terminal (any free port for ${local}; sshd on ${target.name} ` +
      'must accept connections on its localhost):\n' +
      `  ${sshWithConfig(target)} -N -L ${local}:localhost:${target.port} ${flags}${target.name}\n` +
      `then use --host ssh://${login}127.0.0.1:${local}. Its host key is looked up as ` +
      `[127.0.0.1]:${local} then: log in once with \`ssh -p ${local} ${target.user}@127.0.0.1\` and check ` +
      `the fingerprint, or add a Host entry (HostName 127.0.0.1, Port ${local}, User ${target.user}, ` +
      `HostKeyAlias ${knownHostsName(target)}) that reuses the key known for ${target.name}, and use ` +
      '--host ssh://THAT-ENTRY.'
  );
}

/** A home-relative path as the user would write it. */
function shown(path: string): string {
  const home = homedir();
  return path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}

/** Where yolo-lab looks for host keys: the SSH config's files, else the user's known_hosts, then the system's. */
function knownHostsFiles(target: SshTarget): string[] {
  return target.knownHostsFiles ?? [join(homedir(), '.ssh', 'known_hosts'), '/etc/ssh/ssh_known_hosts'];
}

/** The ways to log in that were tried, for the message when all are refused. */
interface Credentials {
  methods: (PublicKeyAuthMethod | AgentAuthMethod)[];
  tried: string[];
  skipped: string[];
}

/**
 * The key named with --identity (or YOLO_LAB_SSH_KEY), then the agent
 * (SSH_AUTH_SOCK); without --identity, the SSH config's IdentityFile ones
 * (which are ssh's defaults when it names none), else the default key files.
 * A key protected by a passphrase must be in the agent: yolo-lab never asks.
 */
function credentials(target: SshTarget, identity: string | undefined, env: NodeJS.ProcessEnv): Credentials {
  const creds: Credentials = { methods: [], tried: [], skipped: [] };
  const addKey = (file: string, named: boolean): void => {
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (error) {
      if (named) throw new UserError(`Cannot read the SSH key ${file} (--identity): ${errorText(error)}`);
      return;
    }
    const parsed = utils.parseKey(data);
    if (parsed instanceof Error) {
      const locked = /passphrase|encrypted/i.test(parsed.message);
      if (named) {
        throw new UserError(
          locked
            ? `The SSH key ${file} is protected by a passphrase: add it to your agent (ssh-add ${file}) and run again.`
            : `The file ${file} (--identity) is not an SSH private key: ${parsed.message}`
        );
      }
      creds.skipped.push(`${shown(file)} (${locked ? 'has a passphrase: ssh-add it' : 'unreadable'})`);
      return;
    }
    creds.methods.push({ type: 'publickey', username: target.user, key: data });
    creds.tried.push(`the key ${shown(file)}`);
  };
  if (identity !== undefined) {
    addKey(identity, true);
  }
  const agent = env.SSH_AUTH_SOCK;
  if (agent !== undefined && agent !== '') {
    creds.methods.push({ type: 'agent', username: target.user, agent });
    creds.tried.push(`the keys in your SSH agent (SSH_AUTH_SOCK=${agent})`);
  }
  const files = target.identityFiles ?? DEFAULT_KEYS.map(name => join(homedir(), '.ssh', name));
  if (identity === undefined) {
    for (const file of files) addKey(file, false);
  }
  if (creds.methods.length === 0) {
    const looked = files.length > 0 ? files.map(shown).join(', ') : 'key file';
    throw new UserError(
      `No SSH key to log in to ${target.host} with: no agent (SSH_AUTH_SOCK is unset) and no usable ` +
        `${looked}${creds.skipped.length > 0 ? ` (${creds.skipped.join('; ')})` : ''}.\n` +
        'Start ssh-agent and ssh-add your key, or name the key with --identity FILE (or YOLO_LAB_SSH_KEY).'
    );
  }
  return creds;
}

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
    const target = resolveSshTarget(named, env);
    const creds = credentials(target, identity, env);
    const known = knownHostKeys(target, knownHostsFiles(target));
    let hostKey: HostKeyVerdict = 'ok';
    const conn = new Client();
    await new Promise<void>((done, fail) => {
      conn.once('ready', () => done());
      conn.once('error', (error: Error & { level?: string; code?: string }) => {
        fail(Remote._loginError(target, creds, hostKey, error));
      });
      conn.connect({
        host: target.host,
        port: target.port,
        username: target.user,
        authHandler: creds.methods,
        hostVerifier: (key: Buffer) => {
          hostKey = hostKeyVerdict(known, key);
          return hostKey === 'ok';
        },
        readyTimeout: 20_000,
        // A laptop that sleeps loses the connection: noticed within a minute.
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4
      });
    });
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

  private static _loginError(
    target: SshTarget,
    creds: Credentials,
    hostKey: HostKeyVerdict,
    error: Error & { level?: string; code?: string }
  ): UserError {
    const where = `${target.host}:${target.port}`;
    const knownHosts = shown(knownHostsFiles(target)[0] ?? join(homedir(), '.ssh', 'known_hosts'));
    if (hostKey === 'unknown') {
      return new UserError(
        `The host key of ${knownHostsName(target)} is not in ${knownHosts}, so yolo-lab cannot tell ` +
          `it is the machine you mean. Log in once with \`${sshCommand(target)}\`, check the fingerprint ` +
          'it shows and accept it, then run this again.'
      );
    }
    if (hostKey === 'revoked') {
      return new UserError(
        `The host key of ${knownHostsName(target)} is marked @revoked in your known_hosts files: refused ` +
          '(a revoked key may be in the hands of someone else, whatever other lines list it). Ask the ' +
          "host's administrator to give it a new key, check that key's fingerprint, and put it in known_hosts."
      );
    }
    if (hostKey === 'changed') {
      return new UserError(
        `The host key of ${knownHostsName(target)} differs from the one in ${knownHosts}: refused ` +
          '(the machine was reinstalled, or someone is in between). Ask its administrator for the new ' +
          `fingerprint; once it checks out, remove the old entry (ssh-keygen -R '${knownHostsName(target)}').`
      );
    }
    if (error.level === 'client-authentication') {
      return new UserError(
        `${target.host} refused the login of ${target.user}: tried ${creds.tried.join(', ')}` +
          `${creds.skipped.length > 0 ? `; skipped ${creds.skipped.join(', ')}` : ''}.\n` +
          `Add your public key to ~${target.user}/.ssh/authorized_keys there ` +
          `(ssh-copy-id ${target.port === 22 ? '' : `-p ${target.port} `}${target.user}@${target.host}), ` +
          'or name the right key with --identity FILE (or YOLO_LAB_SSH_KEY), or ssh-add it to your agent.'
      );
    }
    switch (error.code) {
      case 'ECONNREFUSED':
        return new UserError(
          `Nothing accepts SSH connections at ${where} (connection refused). ` +
            `Check the host and port in ${target.address}` +
            `${target.name !== target.host ? ` (your SSH config makes ${target.name} ${where})` : ''}, ` +
            'and that sshd runs there.'
        );
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return new UserError(
          `The host name ${target.host} is not known here (${error.code}). Check ${target.address}.`
        );
      case 'ETIMEDOUT':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return new UserError(
          `${where} cannot be reached (${error.code}): check the address, the VPN, and the firewall.`
        );
    }
    if (/timed out/i.test(error.message)) {
      return new UserError(`${where} did not complete an SSH login within 20 s: is it an SSH server?`);
    }
    return new UserError(`SSH to ${target.address} failed: ${error.message}`);
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
    const server = createServer(socket => this._forward(socket, remoteHost, remotePort));
    return new Promise((done, fail) => {
      server.once('error', fail);
      server.listen({ host: '127.0.0.1', port: localPort, exclusive: true }, () => {
        server.removeListener('error', fail);
        done(new Tunnel(server));
      });
    });
  }

  private _forward(socket: Socket, remoteHost: string, remotePort: number): void {
    socket.on('error', () => undefined);
    this._conn.forwardOut('127.0.0.1', socket.remotePort ?? 0, remoteHost, remotePort, (error, channel) => {
      if (error) {
        process.stderr.write(
          `yolo-lab: the tunnel to ${remoteHost}:${remotePort} on ${this.target.host} failed: ${error.message}` +
            `${/prohibited/i.test(error.message) ? ' (AllowTcpForwarding is off in its sshd_config)' : ''}\n`
        );
        socket.destroy();
        return;
      }
      const end = (): void => {
        socket.destroy();
        (channel as ClientChannel).destroy();
      };
      channel.on('error', end);
      channel.on('close', end);
      socket.on('close', end);
      socket.pipe(channel).pipe(socket);
    });
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

/** A listener on this machine's 127.0.0.1 that forwards to the remote. */
export class Tunnel {
  constructor(private readonly _server: Server) {}

  /** The local port the tunnel listens on. */
  get port(): number {
    const address = this._server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** Stop listening (open connections go with the SSH connection). */
  close(): Promise<void> {
    return new Promise(done => this._server.close(() => done()));
  }
}
