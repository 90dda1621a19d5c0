import type Docker from 'dockerode';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { UserError } from './errors';
import type { Progress } from './progress';

/** What `yolo-lab build` builds. */
export interface BuildOptions {
  tag: string;
  /** The repository holding docker/ and dist/ (the launcher's own checkout by default). */
  repo: string;
  baseImage?: string;
  buildArgs: Record<string, string>;
  /** "host" lets build steps reach indexes served on this machine's 127.0.0.1. */
  network?: string;
  /** A CA bundle pip trusts during the build only. */
  caCert?: string;
  noCache: boolean;
}

/** The repository root, two levels above the compiled lib/src/. */
export function defaultRepo(): string {
  return resolve(__dirname, '..', '..', '..');
}

/**
 * A build context holding only what the Dockerfile copies: docker/, the
 * newest yolo-lab wheel in dist/, and the optional CA bundle. Sending the
 * whole repository would ship node_modules and the venv to the engine.
 */
function buildContext(opts: BuildOptions): { dir: string; wheel: string } {
  const dockerDir = join(opts.repo, 'docker');
  if (!existsSync(join(dockerDir, 'Dockerfile'))) {
    throw new UserError(`No docker/Dockerfile under ${opts.repo}: pass the yolo-lab checkout with --repo.`);
  }
  const distDir = join(opts.repo, 'dist');
  const wheels = existsSync(distDir)
    ? readdirSync(distDir)
        .filter(f => /^yolo_lab-.*\.whl$/.test(f))
        .sort()
    : [];
  if (wheels.length === 0) {
    throw new UserError(
      `No yolo-lab wheel in ${distDir}. Build it first: bash scripts/setup.sh (it writes dist/yolo_lab-*.whl).`
    );
  }
  const wheel = wheels[wheels.length - 1];
  if (opts.caCert !== undefined && !existsSync(opts.caCert)) {
    throw new UserError(`The CA bundle ${opts.caCert} (--ca-cert) does not exist.`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'yolo-lab-build-'));
  cpSync(dockerDir, join(dir, 'docker'), {
    recursive: true,
    filter: src => !src.endsWith(join('build-ca', 'ca.pem'))
  });
  cpSync(join(distDir, wheel), join(dir, 'dist', wheel));
  if (opts.caCert !== undefined) {
    copyFileSync(opts.caCert, join(dir, 'docker', 'build-ca', 'ca.pem'));
  }
  return { dir, wheel };
}

/** Files of a context folder, relative, for dockerode's tar packing. */
function listFiles(dir: string, prefix = ''): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...listFiles(dir, rel));
    else files.push(rel);
  }
  return files;
}

interface BuildEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/** Build the image from docker/Dockerfile; progress lines stream to stderr. */
export async function build(docker: Docker, opts: BuildOptions, progress: Progress): Promise<void> {
  const { dir, wheel } = buildContext(opts);
  try {
    const buildargs: Record<string, string> = { ...opts.buildArgs };
    if (opts.baseImage !== undefined) buildargs.BASE_IMAGE = opts.baseImage;
    progress.step(
      `building ${opts.tag} from docker/Dockerfile with ${wheel}${opts.baseImage ? ` on ${opts.baseImage}` : ''}`
    );
    const stream = await docker.buildImage(
      { context: dir, src: listFiles(dir) },
      {
        t: opts.tag,
        dockerfile: 'docker/Dockerfile',
        buildargs,
        networkmode: opts.network,
        nocache: opts.noCache,
        rm: true,
        forcerm: true
      }
    );
    const failure = await new Promise<string | undefined>((done, fail) => {
      let error: string | undefined;
      docker.modem.followProgress(
        stream,
        (err: Error | null) => (err ? fail(err) : done(error)),
        (event: BuildEvent) => {
          if (event.error) {
            error = event.errorDetail?.message ?? event.error;
          } else if (event.stream) {
            process.stderr.write(event.stream);
          } else if (event.status) {
            process.stderr.write(`${event.status}\n`);
          }
        }
      );
    });
    if (failure !== undefined) {
      let hint = '';
      if (
        /pull access denied|not found|manifest unknown|no such host|dial tcp/i.test(failure) &&
        opts.baseImage === undefined
      ) {
        hint = '\nThe default base image comes from Docker Hub; offline, pass a local one with --base-image.';
      } else if (/CERTIFICATE_VERIFY_FAILED/.test(failure)) {
        hint = "\npip does not trust this network's TLS proxy: pass its CA bundle with --ca-cert.";
      }
      throw new UserError(`The image build failed: ${failure.trim()}${hint}`);
    }
    progress.step(`built ${opts.tag} in ${progress.elapsed()} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
