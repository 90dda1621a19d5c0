/**
 * Logging in to a GPU server: the keys to offer (--identity, the agent, the
 * SSH config's or ssh's default key files), the host key checked against
 * known_hosts, and every refusal turned into what to do about it.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { Client, utils, type AgentAuthMethod, type PublicKeyAuthMethod } from 'ssh2';

import { UserError, errorText } from './errors';
import { hostKeyVerdict, knownHostKeys, knownHostsName, type HostKeyVerdict } from './knownhosts';
import { resolveSshTarget, sshCommand } from './sshconfig';
import type { SshTarget } from './sshtarget';

/** The default key files ssh itself tries, in its order. */
const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

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

/**
 * Read the SSH config for the target (`ssh -G`), log in, and check the host
 * key against known_hosts; every failure a UserError saying what to do.
 * Returns the target as the SSH config made it, and the open connection.
 */
export async function login(
  named: SshTarget,
  identity: string | undefined,
  env: NodeJS.ProcessEnv
): Promise<{ target: SshTarget; conn: Client }> {
  const target = resolveSshTarget(named, env);
  const creds = credentials(target, identity, env);
  const known = knownHostKeys(target, knownHostsFiles(target));
  let hostKey: HostKeyVerdict = 'ok';
  const conn = new Client();
  await new Promise<void>((done, fail) => {
    conn.once('ready', () => done());
    conn.once('error', (error: Error & { level?: string; code?: string }) => {
      fail(loginError(target, creds, hostKey, error));
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
  return { target, conn };
}

/** What a failed login means and what to do: the host key's verdict first, then the server's refusal, then the network's. */
function loginError(
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
