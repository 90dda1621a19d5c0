/**
 * The SSH config as OpenSSH itself reads it: `ssh -G` prints what applies to
 * a host (aliases, HostName, User, Port, IdentityFile, known_hosts files,
 * HostKeyAlias), read here into the target yolo-lab connects to.
 */
import { execFileSync } from 'node:child_process';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';

import { UserError, errorText } from './errors';
import { knownHostsName } from './knownhosts';
import type { SshTarget } from './sshtarget';

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
export function sshWithConfig(target: SshTarget): string {
  return target.configFile !== undefined ? `ssh -F ${target.configFile}` : 'ssh';
}

/** How `ssh` itself would be told to reach the target (the URL's name, user and port), for messages. */
export function sshCommand(target: SshTarget): string {
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
