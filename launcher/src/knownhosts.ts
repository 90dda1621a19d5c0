/**
 * known_hosts as OpenSSH reads it (sshd(8), SSH_KNOWN_HOSTS FILE FORMAT):
 * `[@marker] patterns keytype base64-key [comment]`, the patterns plain
 * (with `*`, `?` and `!` negation) or hashed by `ssh-keygen -H`. A key on
 * an `@revoked` line that names the host is refused even where another line
 * accepts it. `@cert-authority` lines are not read: yolo-lab does not check
 * host certificates, so a host known only through its CA is refused as
 * unknown (the user can add its key with one `ssh` login).
 */
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

/** Where a host's key is looked up: the host and port, or the SSH config's HostKeyAlias. */
export interface KnownHostsTarget {
  host: string;
  port: number;
  hostKeyAlias?: string;
}

/** The keys known_hosts files record for one host (raw key blobs). */
export interface HostKeys {
  /** Keys on unmarked lines: the host's keys. */
  accepted: Buffer[];
  /** Keys on `@revoked` lines: never accepted for this host. */
  revoked: Buffer[];
}

/** What the files say of the key a host showed. */
export type HostKeyVerdict = 'ok' | 'unknown' | 'changed' | 'revoked';

/** The known_hosts name of a target: its HostKeyAlias, else host, or [host]:port off port 22. */
export function knownHostsName(target: KnownHostsTarget): string {
  if (target.hostKeyAlias !== undefined) return target.hostKeyAlias;
  return target.port === 22 ? target.host : `[${target.host}]:${target.port}`;
}

/** OpenSSH's wildcard match: `*` any run of characters, `?` one; host names without case. */
function wildcardMatches(pattern: string, name: string): boolean {
  const source = pattern
    .toLowerCase()
    .split('')
    .map(c => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, 's').test(name.toLowerCase());
}

/**
 * Whether the comma-separated patterns of one line name the host: a hashed
 * entry by its HMAC-SHA1, a plain one by wildcard; any matching `!pattern`
 * rules the line out, as in OpenSSH's match_hostname().
 */
export function hostPatternsMatch(field: string, name: string): boolean {
  let matched = false;
  for (const entry of field.split(',')) {
    if (entry.startsWith('|1|')) {
      const [salt, hash] = entry.slice(3).split('|');
      if (salt === undefined || hash === undefined) continue;
      const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
      if (mac === hash) matched = true;
    } else if (entry.startsWith('!')) {
      if (wildcardMatches(entry.slice(1), name)) return false;
    } else if (wildcardMatches(entry, name)) {
      matched = true;
    }
  }
  return matched;
}

/** The keys for `name` in known_hosts text: accepted ones, and revoked ones. */
export function parseKnownHosts(text: string, name: string, into?: HostKeys): HostKeys {
  const keys = into ?? { accepted: [], revoked: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0].startsWith('@') ? fields.shift() : undefined;
    const [patterns, , blob] = fields;
    if (patterns === undefined || blob === undefined) continue;
    if (marker !== undefined && marker !== '@revoked') continue; // @cert-authority: not read
    if (!hostPatternsMatch(patterns, name)) continue;
    (marker === '@revoked' ? keys.revoked : keys.accepted).push(Buffer.from(blob, 'base64'));
  }
  return keys;
}

/** The keys known_hosts files record for the target; missing files are passed over. */
export function knownHostKeys(target: KnownHostsTarget, files: string[]): HostKeys {
  const name = knownHostsName(target);
  const keys: HostKeys = { accepted: [], revoked: [] };
  for (const file of files) {
    if (existsSync(file)) parseKnownHosts(readFileSync(file, 'utf8'), name, keys);
  }
  return keys;
}

/** Whether the key a host showed is accepted: a revoked key never is, whatever else lists it. */
export function hostKeyVerdict(known: HostKeys, key: Buffer): HostKeyVerdict {
  if (known.revoked.some(k => k.equals(key))) return 'revoked';
  if (known.accepted.some(k => k.equals(key))) return 'ok';
  return known.accepted.length === 0 ? 'unknown' : 'changed';
}
