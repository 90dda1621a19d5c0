/**
 * known_hosts parsing and the host-key verdict, without root or sshd (the
 * logins against a real sshd are in remote.test.ts): keys made and names
 * hashed by OpenSSH's own ssh-keygen.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { hostKeyVerdict, hostPatternsMatch, knownHostKeys, parseKnownHosts } from '../src/knownhosts';
import { parseSshTarget } from '../src/sshtarget';

const dir = mkdtempSync(join(tmpdir(), 'yolo-lab-known-hosts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A new ed25519 key from ssh-keygen: its type and base64 blob as a known_hosts line holds them. */
function newKey(name: string): { line: string; blob: Buffer } {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  const [type, blob] = readFileSync(`${file}.pub`, 'utf8').trim().split(' ');
  return { line: `${type} ${blob}`, blob: Buffer.from(blob, 'base64') };
}

const host = newKey('host');
const other = newKey('other');

test('ssh:// addresses', () => {
  assert.deepEqual(parseSshTarget('ssh://me@gpu-box'), {
    user: 'me',
    host: 'gpu-box',
    port: 22,
    address: 'ssh://me@gpu-box',
    name: 'gpu-box',
    userGiven: true,
    portGiven: false
  });
  // No user in the URL: the SSH config's, else this one; the address keeps it out.
  assert.equal(parseSshTarget('ssh://gpu-box').address, 'ssh://gpu-box');
  assert.equal(parseSshTarget('ssh://gpu-box').userGiven, false);
  assert.equal(parseSshTarget('ssh://me@[::1]:2222').address, 'ssh://me@[::1]:2222');
  assert.throws(() => parseSshTarget('ssh://me:secret@gpu-box'), /Put no password in --host/);
  assert.throws(() => parseSshTarget('tcp://gpu-box:2375'), /--host takes ssh:\/\/user@host\[:port\]/);
});

test('known_hosts entries, plain and hashed by ssh-keygen -H, by name and port', () => {
  const file = join(dir, 'known_hosts');
  writeFileSync(file, `gpu-box,10.1.2.3 ${host.line}\n[gpu-box]:2222 ${host.line}\n`);
  execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
  assert.doesNotMatch(readFileSync(file, 'utf8'), /gpu-box/, 'the names are hashed now');
  const keysOf = (url: string): Buffer[] => knownHostKeys(parseSshTarget(url), [file]).accepted;
  assert.deepEqual(keysOf('ssh://me@gpu-box'), [host.blob]);
  assert.deepEqual(keysOf('ssh://me@gpu-box:2222'), [host.blob]);
  assert.deepEqual(keysOf('ssh://me@gpu-box:2200'), []);
  assert.deepEqual(keysOf('ssh://me@other-box'), []);
  // A HostKeyAlias is the name looked up, whatever the host and port.
  assert.deepEqual(
    knownHostKeys({ host: 'elsewhere', port: 2200, hostKeyAlias: 'gpu-box' }, [file]).accepted,
    [host.blob]
  );
  assert.deepEqual(knownHostKeys(parseSshTarget('ssh://gpu-box'), [join(dir, 'missing')]), {
    accepted: [],
    revoked: []
  });
});

test('host patterns: wildcards, negation, no case', () => {
  assert.equal(hostPatternsMatch('*.lab.example', 'gpu1.lab.example'), true);
  assert.equal(hostPatternsMatch('gpu?.lab.example', 'GPU7.lab.example'), true);
  assert.equal(hostPatternsMatch('gpu?.lab.example', 'gpu10.lab.example'), false);
  assert.equal(hostPatternsMatch('*.lab.example,!gpu9.lab.example', 'gpu9.lab.example'), false);
  assert.equal(
    hostPatternsMatch('!gpu9.lab.example', 'gpu1.lab.example'),
    false,
    'a negation alone names nothing'
  );
  assert.equal(hostPatternsMatch('gpu.box', 'gpuxbox'), false, 'a dot is a dot');
  assert.equal(hostPatternsMatch('[gpu-box]:2222', '[gpu-box]:2222'), true);
});

test('a changed key is refused as changed, an unlisted host as unknown', () => {
  const known = parseKnownHosts(`gpu-box ${host.line}\n`, 'gpu-box');
  assert.equal(hostKeyVerdict(known, host.blob), 'ok');
  assert.equal(hostKeyVerdict(known, other.blob), 'changed');
  assert.equal(hostKeyVerdict(parseKnownHosts(`gpu-box ${host.line}\n`, 'other-box'), host.blob), 'unknown');
});

test('a key on an @revoked line is refused even where another line accepts it', () => {
  const text = [
    '# the lab machines',
    `gpu-box ${host.line}`,
    `*.lab.example ${other.line}`,
    `@revoked * ${host.line}`,
    `@cert-authority *.lab.example ${other.line}`,
    ''
  ].join('\n');
  const known = parseKnownHosts(text, 'gpu-box');
  assert.deepEqual(known, { accepted: [host.blob], revoked: [host.blob] });
  assert.equal(hostKeyVerdict(known, host.blob), 'revoked');
  // Revoked for the hosts its line names only; the other key stays good where it is listed.
  const lab = parseKnownHosts(text, 'gpu1.lab.example');
  assert.deepEqual(lab.accepted, [other.blob], '@cert-authority lines are not host keys');
  assert.equal(hostKeyVerdict(lab, other.blob), 'ok');
  assert.equal(hostKeyVerdict(lab, host.blob), 'revoked');
  const narrow = parseKnownHosts(`gpu-box ${host.line}\n@revoked other-box ${host.line}\n`, 'gpu-box');
  assert.equal(hostKeyVerdict(narrow, host.blob), 'ok', 'a revocation for another host does not apply');
  // Hashed names on a revoked line, as ssh-keygen -H leaves them.
  const file = join(dir, 'revoked_hashed');
  writeFileSync(file, `gpu-box ${host.line}\n`);
  execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
  const hashedLine = readFileSync(file, 'utf8').trim();
  assert.doesNotMatch(hashedLine, /gpu-box/);
  assert.equal(hostKeyVerdict(knownHostKeys({ host: 'gpu-box', port: 22 }, [file]), host.blob), 'ok');
  writeFileSync(file, `${hashedLine}\n@revoked ${hashedLine}\n`);
  assert.equal(hostKeyVerdict(knownHostKeys({ host: 'gpu-box', port: 22 }, [file]), host.blob), 'revoked');
});
