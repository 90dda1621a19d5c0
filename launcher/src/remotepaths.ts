/**
 * The mount paths of `up --host`: paths on the remote host, checked there
 * before the container is created, with the rules and messages of a local
 * `up`. They are read over SFTP on the same SSH connection (structured
 * stat/mkdir/chown, no shell and no quoting of user paths), as the SSH user
 * sees them; relative paths are relative to that user's home there, as
 * with scp. The default user in the container is the SSH user's uid:gid
 * (the image user when that is root), as locally.
 */
import { posix } from 'node:path';

import type { SFTPWrapper, Stats } from 'ssh2';

import { UserError } from './errors';
import { checkNotebooksStat, MOUNT_TARGETS, runsWarning, type UpOptions } from './options';
import type { Progress } from './progress';
import type { Remote } from './remote';

/** The image's non-root user (docker/Dockerfile), used when the SSH user is root. */
const IMAGE_USER = '1000:1000';

function stat(sftp: SFTPWrapper, path: string): Promise<Stats | undefined> {
  return new Promise((done, fail) =>
    sftp.stat(path, (error, stats) => {
      if (!error) done(stats);
      else if ((error as { code?: unknown }).code === 2)
        done(undefined); // SSH_FX_NO_SUCH_FILE
      else fail(error);
    })
  );
}

function call(run: (cb: (error: Error | null | undefined) => void) => void): Promise<void> {
  return new Promise((done, fail) => run(error => (error ? fail(error) : done())));
}

/**
 * The options with every mount path made absolute on the remote and
 * checked there; the runs folder created (owned by the container's user
 * when the SSH user is root). `userGiven`: --user was passed (else the SSH
 * user's own uid:gid).
 */
export async function remoteMounts(
  remote: Remote,
  opts: UpOptions,
  userGiven: boolean,
  progress: Progress
): Promise<UpOptions> {
  const host = remote.target.host;
  const where = ` on ${host}`;
  const [sshUid, sshGid] = (await remote.run('id -u; id -g')).trim().split(/\s+/).map(Number);
  const user = userGiven ? opts.user : sshUid === 0 ? IMAGE_USER : `${sshUid}:${sshGid}`;
  const sftp = await remote.sftp();
  try {
    const home = await new Promise<string>((done, fail) =>
      sftp.realpath('.', (error, path) => (error ? fail(error) : done(path)))
    );
    const abs = (path: string): string => posix.resolve(home, path);
    const dir = async (path: string, flag: string): Promise<string> => {
      const full = abs(path);
      const st = await stat(sftp, full);
      if (st === undefined) {
        throw new UserError(
          `The ${flag} path ${full} does not exist${where}. Create it there or pass the right path.`
        );
      }
      if (!st.isDirectory()) throw new UserError(`The ${flag} path ${full}${where} is not a folder.`);
      return full;
    };
    const resolved: UpOptions = {
      ...opts,
      user,
      notebooks: await dir(opts.notebooks, '--notebooks'),
      code: opts.code !== undefined ? await dir(opts.code, '--code') : undefined,
      datasets: opts.datasets !== undefined ? await dir(opts.datasets, '--datasets') : undefined,
      runs: abs(opts.runs)
    };
    if (
      resolved.code !== undefined &&
      (await stat(sftp, posix.join(resolved.code, 'train.py'))) === undefined
    ) {
      throw new UserError(
        `The --code path ${resolved.code}${where} is not a YOLOv5 checkout (it has no train.py). ` +
          "Pass the folder of a clone of ultralytics/yolov5 there, or leave --code out to use the image's yolov5 package."
      );
    }
    checkNotebooksStat(resolved, (await stat(sftp, resolved.notebooks))!, where);
    const runs = await stat(sftp, resolved.runs);
    if (runs === undefined) {
      const [uid, gid] = user.split(':').map(Number);
      await call(cb => sftp.mkdir(resolved.runs, cb));
      if (sshUid === 0 && uid !== 0) await call(cb => sftp.chown(resolved.runs, uid, gid, cb));
    } else if (!runs.isDirectory()) {
      throw new UserError(`The --runs path ${resolved.runs}${where} is not a folder.`);
    } else {
      const warning = runsWarning(resolved, runs, where);
      if (warning !== undefined) progress.note(warning);
    }
    progress.note(`notebooks: ${resolved.notebooks}${where} -> ${resolved.workdir}`);
    progress.note(`runs: ${resolved.runs}${where} -> ${MOUNT_TARGETS.runs}`);
    if (resolved.code !== undefined) {
      progress.note(
        `code: ${resolved.code}${where} -> ${MOUNT_TARGETS.code}${resolved.codeWritable ? '' : ' (read-only)'}`
      );
    }
    if (resolved.datasets !== undefined) {
      progress.note(
        `datasets: ${resolved.datasets}${where} -> ${MOUNT_TARGETS.datasets}${resolved.datasetsWritable ? '' : ' (read-only)'}`
      );
    }
    return resolved;
  } finally {
    sftp.end();
  }
}
