import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';

import { formatDoctor, runDoctor } from './doctor';
import { execIn } from './streams';
import { LABEL, containerName, launcherContainers, pickContainer, statusCode } from './engine';
import { UserError } from './errors';
import { serverUrl } from './options';
import type { Progress } from './progress';
import { forgetServer, readServer } from './registry';
import { endTunnel, tunnelAlive } from './tunnel';

/** One launcher container as `status` shows it. */
export interface StatusEntry {
  name: string;
  id: string;
  state: string;
  status: string;
  image: string;
  url: string | null;
  /**
   * On a host over SSH: whether the tunnel `url` goes through is open here
   * (closed: `yolo-lab connect NAME` reopens it; `url` is then null).
   */
  tunnel?: 'open' | 'closed';
}

/** The token a container was started with (from its environment). */
async function tokenOf(docker: Docker, id: string): Promise<string | null> {
  const info = await docker.getContainer(id).inspect();
  const entry = (info.Config.Env ?? []).find(e => e.startsWith('JUPYTER_TOKEN='));
  return entry ? entry.slice('JUPYTER_TOKEN='.length) : null;
}

/**
 * The launcher's containers, with the URL of the running ones. On a host
 * over SSH (`remote`), the URL is the tunnelled one on this machine, from
 * the record the tunnel process keeps.
 */
export async function status(docker: Docker, remote = false): Promise<StatusEntry[]> {
  const entries: StatusEntry[] = [];
  for (const info of await launcherContainers(docker)) {
    let url: string | null = null;
    let tunnel: 'open' | 'closed' | undefined;
    if (remote) {
      const record = readServer(containerName(info));
      tunnel = info.State === 'running' && tunnelAlive(record) ? 'open' : 'closed';
      url = tunnel === 'open' ? record!.url : null;
    } else if (info.State === 'running') {
      const token = await tokenOf(docker, info.Id);
      const port = Number(info.Labels[LABEL.port]);
      if (token && port > 0) {
        url = serverUrl(
          info.Labels[LABEL.host] ?? '127.0.0.1',
          port,
          token,
          info.Labels[LABEL.mode] === 'server'
        );
      }
    }
    entries.push({
      name: containerName(info),
      id: info.Id.slice(0, 12),
      state: info.State,
      status: info.Status,
      image: info.Image,
      url,
      ...(tunnel !== undefined ? { tunnel } : {})
    });
  }
  return entries;
}

/**
 * Paths the container wrote outside its mounts since it started: what
 * `down` would lose. From the engine's diff of the container's own layer,
 * files only (a changed folder is listed through what changed in it),
 * without what every server writes (/tmp is HOME, runtime files, /run),
 * and without the mount points themselves: the engine creates those the
 * image lacks (/opt/yolov5 for --code), and what is in them is on the host.
 */
export async function unsavedFiles(container: Docker.Container, mounts: string[] = []): Promise<string[]> {
  const changes = ((await container.changes()) ?? []) as { Path: string; Kind: number }[];
  // /usr/sbin/docker-init is the engine's own init (--init), copied in at start.
  const ignored = /^\/(tmp|run|var\/run|var\/tmp|dev|proc|sys)(\/|$)|^\/usr\/sbin\/docker-init$/;
  // Leaves first (a folder listed only because something in it changed is
  // not itself news), then what every container writes is left out.
  const paths = changes.filter(c => c.Kind !== 2).map(c => c.Path);
  const leaves = paths.filter(p => !paths.some(other => other.startsWith(`${p}/`)));
  const mounted = (p: string): boolean => mounts.some(m => p === m || p.startsWith(`${m}/`));
  return leaves.filter(p => !ignored.test(p) && !mounted(p)).sort();
}

/** The folders whose runs `down` stops first: /runs and JupyterLab's root. */
function runRoots(info: Docker.ContainerInspectInfo): string[] {
  const roots = ['/runs'];
  for (const mount of info.Mounts ?? []) {
    if (mount.Destination !== '/runs' && mount.RW) roots.push(mount.Destination);
  }
  return roots;
}

/**
 * Stop and remove the named launcher containers, or all of them.
 *
 * A container that holds files written outside its mounts is refused (they
 * would be lost) unless `force`; before a running one goes, its trainings
 * are stopped (last.pt saved) by `python -m yolo_lab stop-runs` inside.
 */
export async function down(
  docker: Docker,
  names: string[],
  progress: Progress,
  force = false
): Promise<string[]> {
  const targets =
    names.length > 0
      ? await Promise.all(names.map(n => pickContainer(docker, n)))
      : await launcherContainers(docker);
  if (targets.length === 0) {
    progress.step('no yolo-lab container to stop');
    return [];
  }
  if (!force) {
    for (const info of targets) {
      const unsaved = await unsavedFiles(
        docker.getContainer(info.Id),
        (info.Mounts ?? []).map(m => m.Destination)
      );
      if (unsaved.length > 0) {
        const name = containerName(info);
        const shown = unsaved.slice(0, 20).map(p => `  ${p}`);
        if (unsaved.length > 20) shown.push(`  ... and ${unsaved.length - 20} more`);
        throw new UserError(
          `${name} holds ${unsaved.length} file(s) written outside its mounts, which down would delete:\n` +
            `${shown.join('\n')}\n` +
            `Copy what you need out (docker cp ${name}:PATH .), then run yolo-lab down --force ${name}.`
        );
      }
    }
  }
  const removed: string[] = [];
  for (const info of targets) {
    const name = containerName(info);
    progress.step(`stopping ${name}`);
    const container = docker.getContainer(info.Id);
    try {
      if (info.State === 'running') {
        const roots = runRoots(await container.inspect());
        const stopped = await execIn(docker, container, [
          'python',
          '-m',
          'yolo_lab',
          'stop-runs',
          ...roots,
          '--wait',
          '120',
          '--json'
        ]).catch(() => null);
        if (stopped !== null && stopped.exitCode === 0) {
          const runs = JSON.parse(stopped.stdout || '[]') as { run: string; status: string }[];
          for (const r of runs) progress.note(`training ${r.run}: ${r.status} (last.pt saved)`);
        } else if (stopped !== null) {
          progress.note(`warning: the trainings did not all stop: ${stopped.stdout}${stopped.stderr}`.trim());
        }
        // Jupyter shuts its kernels down on SIGTERM; 10 s is Docker's own grace period.
        await container.stop({ t: 10 });
      }
      await container.remove({ force: true });
    } catch (error) {
      if (statusCode(error) !== 404 && statusCode(error) !== 304) throw error;
    }
    // A tunnel to it (a container on a host over SSH) ends with it.
    await endTunnel(readServer(name));
    forgetServer(name);
    removed.push(name);
  }
  return removed;
}

/** Follow (or print) a launcher container's output, demultiplexed to stdout and stderr. */
export async function logs(
  docker: Docker,
  name: string | undefined,
  follow: boolean,
  tail: number | undefined
): Promise<void> {
  const info = await pickContainer(docker, name);
  const container = docker.getContainer(info.Id);
  const base = { stdout: true, stderr: true, ...(tail !== undefined ? { tail } : {}) };
  let stream: NodeJS.ReadableStream;
  if (follow) {
    stream = await container.logs({ ...base, follow: true });
  } else {
    const pass = new PassThrough();
    pass.end(await container.logs({ ...base, follow: false }));
    stream = pass;
  }
  // Without a TTY the engine multiplexes stdout and stderr into one stream.
  docker.modem.demuxStream(stream, process.stdout, process.stderr);
  await new Promise<void>((done, fail) => {
    stream.on('end', done);
    stream.on('error', fail);
  });
}

/** Run the doctor in a running launcher container and print its report. */
export async function doctor(docker: Docker, name: string | undefined, json: boolean): Promise<unknown> {
  const info = await pickContainer(docker, name);
  if (info.State !== 'running') {
    throw new UserError(`${containerName(info)} is not running (${info.Status}).`);
  }
  const report = await runDoctor(docker, docker.getContainer(info.Id));
  if (!json) {
    process.stdout.write(
      `${containerName(info)}\n${formatDoctor(report)
        .map(l => `  ${l}`)
        .join('\n')}\n`
    );
  }
  return report;
}
