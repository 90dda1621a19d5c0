/**
 * `yolo-lab classroom init`: a JupyterHub configuration for a class on one
 * GPU server, one yolo-lab container per student (DockerSpawner).
 *
 * The configuration is a real Python file, templates/jupyterhub_config.py,
 * commented for the teacher who reads it; this module only fills in its
 * settings block (between the two marker lines) from the command's options,
 * checked here so a mistake is named before the Hub ever starts.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync
} from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

import { parseCommand, settings } from './argv';
import { UserError } from './errors';
import { CLASSROOM_INIT, PASSWORD_ENV } from './flags';
import { parseSize } from './options';

/** How the students share the server's GPUs. */
export type GpuPolicy = 'none' | 'each' | 'round-robin' | 'shared';

/** Everything the settings block of jupyterhub_config.py holds. */
export interface ClassroomSettings {
  image: string;
  hubIp: string;
  hubPort: number;
  /** The students' address with a subdomain per user (https://class.example.edu), or null: one origin. */
  subdomainHost: string | null;
  students: string[];
  admins: string[];
  studentsDir: string;
  runsDir: string;
  datasetsDir: string | null;
  notebooksDir: string | null;
  gpuPolicy: GpuPolicy;
  gpuIds: string[];
  memFraction: number | null;
  shmSize: string;
  /** Each student's container: memory (a Docker size), CPU cores, processes. */
  memLimit: string;
  cpuLimit: number;
  pidsLimit: number;
  firstUid: number;
  auth: 'placeholder' | 'dummy';
  passwordEnv: string;
}

/** The file `classroom init` writes in --out. */
export const CONFIG_NAME = 'jupyterhub_config.py';
/** The template: launcher/templates/, from lib/src/ (compiled) and src/ alike. */
export const TEMPLATE = join(__dirname, '..', '..', 'templates', CONFIG_NAME);
/** Written beside it and loaded by it: safe student folders and the class service. */
export const HELPER_NAME = 'yolo_lab_class.py';
/** The relays in and out of each student's container (it has no network). */
export const RELAY_NAME = 'yolo_lab_relay.py';
const templateFile = (name: string): string => join(__dirname, '..', '..', 'templates', name);

const BEGIN = '# ---- settings: written by `yolo-lab classroom init`; change them here ----';
const END = '# ---- end of settings ----';

/** A Python literal for a string, number, list of strings or null (JSON's escapes are Python's). */
function py(value: string | number | string[] | null): string {
  if (value === null) return 'None';
  if (Array.isArray(value)) return `[${value.map(v => JSON.stringify(v)).join(', ')}]`;
  return JSON.stringify(value);
}

/** The settings block, the template's own comments kept on each line. */
export function renderConfig(template: string, s: ClassroomSettings): string {
  const start = template.indexOf(BEGIN);
  const end = template.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${TEMPLATE} has no settings block`);
  const values: Record<string, string> = {
    IMAGE: py(s.image),
    HUB_IP: py(s.hubIp),
    HUB_PORT: py(s.hubPort),
    SUBDOMAIN_HOST: s.subdomainHost === null ? 'None' : py(s.subdomainHost),
    STUDENTS: py(s.students),
    ADMINS: py(s.admins),
    STUDENTS_DIR: py(s.studentsDir),
    RUNS_DIR: py(s.runsDir),
    DATASETS_DIR: py(s.datasetsDir),
    NOTEBOOKS_DIR: py(s.notebooksDir),
    GPU_POLICY: py(s.gpuPolicy),
    GPU_IDS: py(s.gpuIds),
    MEM_FRACTION: s.memFraction === null ? 'None' : String(s.memFraction),
    SHM_SIZE: py(s.shmSize),
    // JupyterHub's byte sizes take K, M, G, T in capitals.
    MEM_LIMIT: py(s.memLimit.toUpperCase()),
    CPU_LIMIT: s.cpuLimit.toFixed(1),
    PIDS_LIMIT: py(s.pidsLimit),
    FIRST_UID: py(s.firstUid),
    AUTH: py(s.auth),
    PASSWORD_ENV: py(s.passwordEnv)
  };
  const seen = new Set<string>();
  const block = template
    .slice(start, end)
    .split('\n')
    .map(line => {
      const m = /^([A-Z_]+) = .*?(\s+#.*)?$/.exec(line);
      if (!m || !(m[1] in values)) return line;
      seen.add(m[1]);
      return `${m[1]} = ${values[m[1]]}${m[2] ?? ''}`;
    })
    .join('\n');
  const missing = Object.keys(values).filter(k => !seen.has(k));
  if (missing.length > 0) throw new Error(`${TEMPLATE} lacks the settings ${missing.join(', ')}`);
  return template.slice(0, start) + block + template.slice(end);
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map(s => s.trim())
    .filter(s => s.length > 0);
}

function names(value: string | undefined, flag: string): string[] {
  const found = list(value);
  for (const name of found) {
    // JupyterHub lower-cases the names people log in with.
    if (!/^[a-z0-9][a-z0-9._@-]*$/.test(name)) {
      throw new UserError(`${flag}: "${name}" is not a user name (lower-case letters, digits, . _ @ -).`);
    }
  }
  if (new Set(found).size !== found.length) throw new UserError(`${flag} names someone twice.`);
  return found;
}

function absolute(path: string | undefined, base: string): string | null {
  if (path === undefined) return null;
  return isAbsolute(path) ? path : resolve(base, path);
}

function folder(path: string | undefined, flag: string, base: string): string | null {
  const abs = absolute(path, base);
  if (abs !== null && !(existsSync(abs) && statSync(abs).isDirectory())) {
    throw new UserError(`${flag} ${abs} is not a folder on this machine.`);
  }
  return abs;
}

/**
 * `--domain`: a name (https://NAME) or a URL with its scheme and port; one of
 * it and `--single-origin` must be given, so a class never ends up on one
 * origin without the teacher choosing it.
 */
export function subdomains(domain: string | undefined, singleOrigin: boolean): string | null {
  if (domain !== undefined && singleOrigin) {
    throw new UserError('--domain and --single-origin exclude each other: choose one.');
  }
  if (domain === undefined) {
    if (singleOrigin) return null;
    throw new UserError(
      "Name the class's address: --domain class.example.edu gives each user an origin of their own " +
        '(alice.class.example.edu; a DNS wildcard and a wildcard certificate, see the README). ' +
        '--single-origin puts the Hub and every server on one origin, for users who trust each other only.'
    );
  }
  const url = /^https?:\/\//.test(domain) ? domain : `https://${domain}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(`--domain ${domain} is not a host name.`);
  }
  if (
    parsed.pathname !== '/' ||
    parsed.search ||
    !/^[a-z0-9.-]+$/.test(parsed.hostname) ||
    !parsed.hostname.includes('.')
  ) {
    throw new UserError(`--domain ${domain} is not a host name with a dot (class.example.edu).`);
  }
  return `${parsed.protocol}//${parsed.host}`;
}

/** Students assumed when none are listed, to size the default limits. */
const DEFAULT_CLASS_SIZE = 10;

/**
 * Each student's share of this machine: 3/4 of its memory and all its cores
 * divided among the students (at least 2 GiB and 1 core), unless named.
 */
export function limits(
  values: { 'mem-limit'?: string; cpus?: string; 'pids-limit': number },
  students: number,
  machine = { memBytes: totalmem(), cores: cpus().length }
): { memLimit: string; cpuLimit: number; pidsLimit: number } {
  const n = students > 0 ? students : DEFAULT_CLASS_SIZE;
  let memLimit = values['mem-limit'];
  if (memLimit === undefined) {
    memLimit = `${Math.max(2, Math.floor((machine.memBytes * 0.75) / n / 2 ** 30))}g`;
  } else if (parseSize(memLimit) < 2 ** 30) {
    throw new UserError(`--mem-limit ${memLimit} is under 1 GiB: YOLOv5 and JupyterLab need more (try 4g).`);
  }
  const cpuLimit =
    values.cpus === undefined ? Math.max(1, Math.floor(machine.cores / n)) : Number(values.cpus);
  if (!(cpuLimit > 0) || !/^\d*\.?\d+$/.test(values.cpus ?? '1')) {
    throw new UserError(`--cpus takes a number of CPU cores (for example 2 or 0.5), not "${values.cpus}".`);
  }
  return { memLimit, cpuLimit, pidsLimit: values['pids-limit'] };
}

/** The settings from the command's arguments, every mistake named. */
export function classroomSettings(
  args: string[],
  cwd: string
): { settings: ClassroomSettings; out: string; force: boolean } {
  const { values } = parseCommand(CLASSROOM_INIT, args);
  const s = settings(CLASSROOM_INIT.options, values);
  const policy = s.gpus;
  const gpuIds = list(s['gpu-ids']);
  for (const id of gpuIds) {
    if (!/^(\d+|(GPU|MIG)-[0-9A-Za-z/-]+)$/.test(id)) {
      throw new UserError(`--gpu-ids: "${id}" is neither a GPU index nor a GPU-/MIG- UUID (nvidia-smi -L).`);
    }
  }
  const students = names(s.students, '--students');
  if ((policy === 'each' || policy === 'round-robin') && gpuIds.length === 0) {
    throw new UserError(
      `--gpus ${policy} hands out the GPUs named by --gpu-ids (for example --gpu-ids 0,1).`
    );
  }
  if (policy === 'each' && students.length > gpuIds.length) {
    throw new UserError(
      `--gpus each gives every student a GPU of their own: ${students.length} students, ` +
        `${gpuIds.length} GPUs. Name more GPUs (MIG slices count), or use round-robin or shared.`
    );
  }
  if (policy === 'each' && students.length === 0) {
    throw new UserError('--gpus each hands out GPUs in the order of --students: name the students.');
  }
  let memFraction: number | null = null;
  if (s['mem-fraction'] !== undefined) {
    memFraction = Number(s['mem-fraction']);
    if (!/^\d*\.?\d+$/.test(s['mem-fraction']) || !(memFraction > 0 && memFraction <= 1)) {
      throw new UserError(
        `--mem-fraction takes a share of a GPU's memory, 0 < F <= 1, not "${s['mem-fraction']}".`
      );
    }
  } else if (policy === 'shared') {
    throw new UserError(
      "--gpus shared needs each student's share of the GPU memory: --mem-fraction 0.2 lets five students train at once."
    );
  }
  const shmSize = s['shm-size'];
  parseSize(shmSize);
  const { memLimit, cpuLimit, pidsLimit } = limits(s, students.length);
  const subdomainHost = subdomains(s.domain, s['single-origin']);
  const auth = s.auth;
  if (auth !== 'placeholder' && auth !== 'dummy') {
    throw new UserError(
      `--auth takes placeholder or dummy, not "${auth}". Real authenticators (GitHub, GitLab, LTI, ` +
        'NativeAuthenticator) are set up in the file: see its "Who may log in" part.'
    );
  }
  return {
    out: absolute(s.out, cwd) ?? cwd,
    force: s.force,
    settings: {
      image: s.image,
      hubIp: s.ip,
      hubPort: s.port,
      subdomainHost,
      students,
      admins: names(s.admins, '--admins'),
      studentsDir: resolve(cwd, s['students-dir']),
      runsDir: resolve(cwd, s['runs-dir']),
      datasetsDir: folder(s.datasets, '--datasets', cwd),
      notebooksDir: folder(s.notebooks, '--notebooks', cwd),
      gpuPolicy: policy,
      gpuIds,
      memFraction,
      shmSize,
      memLimit,
      cpuLimit,
      pidsLimit,
      firstUid: 20000,
      auth,
      passwordEnv: PASSWORD_ENV
    }
  };
}

/**
 * Write the configuration; an existing one is kept unless `force`, and then
 * moved to jupyterhub_config.py.bak first. Returns the file written.
 */
export function writeClassroomConfig(out: string, settings: ClassroomSettings, force: boolean): string {
  const file = join(out, CONFIG_NAME);
  const text = renderConfig(readFileSync(TEMPLATE, 'utf8'), settings);
  mkdirSync(out, { recursive: true });
  if (existsSync(file)) {
    if (!force) {
      throw new UserError(
        `${file} exists: nothing was written. Pass --force to replace it (the old one is kept as .bak).`
      );
    }
    copyFileSync(file, `${file}.bak`);
  }
  // Written whole, then renamed: a reader never sees half a file. The
  // helper is this version's, always (the teacher's settings are in the config).
  for (const [target, content] of [
    [join(out, HELPER_NAME), readFileSync(templateFile(HELPER_NAME), 'utf8')],
    [join(out, RELAY_NAME), readFileSync(templateFile(RELAY_NAME), 'utf8')],
    [file, text]
  ]) {
    const partial = `${target}.partial`;
    writeFileSync(partial, content, { mode: 0o644 });
    renameSync(partial, target);
  }
  return file;
}

/** `yolo-lab classroom init`: the CLI's entry; returns the exit status. */
export function classroomInit(args: string[]): number {
  const { settings, out, force } = classroomSettings(args, process.cwd());
  const file = writeClassroomConfig(out, settings, force);
  process.stderr.write(
    [
      `==> wrote ${file}`,
      `    read it (README.md, "A class on one GPU server"), ${settings.auth === 'placeholder' ? 'choose an authenticator in it, ' : ''}then start the Hub from ${out}:`,
      '    jupyterhub -f jupyterhub_config.py'
    ].join('\n') + '\n'
  );
  process.stdout.write(`${file}\n`);
  return 0;
}
