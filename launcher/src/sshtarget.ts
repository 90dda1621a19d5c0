/**
 * A GPU server named the way the engine address names it: ssh://user@host[:port],
 * the host an address or a Host alias of the SSH config (sshconfig.ts reads that).
 */
import { userInfo } from 'node:os';

import { UserError } from './errors';

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
