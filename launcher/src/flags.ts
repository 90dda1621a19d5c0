/**
 * Every command's options, declared once: type, default, yolo-lab.json key
 * and help. argv.ts reads command lines against these declarations and
 * writes the help from them; options.ts checks yolo-lab.json with them.
 */
import type { CommandSpec, GroupSpec } from './argv';

/** The image `up` starts and `build` tags when neither flag nor config names one. */
export const DEFAULT_IMAGE = 'yolo-lab:latest';
/** Shared memory for DataLoader workers when --ipc host is not chosen (Docker's own default is 64 MB). */
export const DEFAULT_SHM = '8g';
/** The variable the dummy authenticator's shared password is read from (never a command-line flag). */
export const PASSWORD_ENV = 'YOLO_LAB_HUB_PASSWORD';

/** A port number as yolo-lab.json and the flags take it. */
const PORT = { type: 'integer', arg: 'N', min: 0, max: 65535 } as const;

/** The engine a command talks to: every command but `classroom` takes these. */
const ENGINE = {
  host: {
    type: 'string',
    arg: 'ssh://...',
    config: 'host',
    help:
      'the engine of a GPU server, over SSH: ssh://USER@HOST[:PORT] (else "host" in yolo-lab.json, else ' +
      'DOCKER_HOST, else the local socket). HOST may be a Host alias of ~/.ssh/config (read with `ssh -G`; ' +
      'its HostName, User, Port, IdentityFile apply; YOLO_LAB_SSH_CONFIG=FILE reads FILE instead); the ' +
      "URL's user and port win over it"
  },
  identity: {
    type: 'string',
    arg: 'FILE',
    config: 'identity',
    help: 'SSH key to log in with besides the agent (or YOLO_LAB_SSH_KEY)'
  }
} as const;

/** Said by the commands that take a container's NAME. */
const ONE_NAME =
  'NAME may be left out when exactly one yolo-lab container runs (`yolo-lab status` lists them).';

export const UP = {
  name: 'up',
  summary: 'start it, wait until it answers, check it, print the URL',
  options: {
    image: {
      type: 'string',
      arg: 'NAME',
      config: 'image',
      default: DEFAULT_IMAGE,
      help: 'the image to start'
    },
    gpus: {
      type: 'string',
      arg: 'all|none|N|IDS',
      config: 'gpus',
      default: 'all',
      help: 'GPUs: all, none, a count, or ids like 0,1 or GPU-<uuid>'
    },
    'shm-size': {
      type: 'string',
      arg: 'SIZE',
      config: 'shm',
      default: DEFAULT_SHM,
      help: 'shared memory for DataLoader workers'
    },
    ipc: {
      type: 'string',
      arg: 'host',
      config: 'ipc',
      choices: ['host'],
      help: "share the host's IPC namespace instead of --shm-size"
    },
    notebooks: {
      type: 'string',
      arg: 'PATH',
      config: 'notebooks',
      help:
        'the folder JupyterLab opens on (default: the current one), mounted at /workspace: every notebook ' +
        'saved there stays on this machine'
    },
    code: {
      type: 'string',
      arg: 'PATH',
      config: 'code',
      help: 'a YOLOv5 checkout, mounted read-only at /opt/yolov5 (train() uses it)'
    },
    'code-rw': {
      type: 'boolean',
      config: 'codeWritable',
      help: 'mount --code writable, to edit it from JupyterLab'
    },
    datasets: {
      type: 'string',
      arg: 'PATH',
      config: 'datasets',
      help: 'datasets, mounted read-only at /datasets'
    },
    'datasets-rw': {
      type: 'boolean',
      config: 'datasetsWritable',
      help: 'mount --datasets writable'
    },
    runs: {
      type: 'string',
      arg: 'PATH',
      config: 'runs',
      default: 'runs',
      help: 'where runs are written, mounted at /runs, created if missing'
    },
    port: {
      ...PORT,
      config: 'port',
      default: 0,
      what: 'a port number from 0 (any free port) to 65535',
      help: 'port on the host; 0: any free one'
    },
    bind: {
      type: 'string',
      arg: 'ADDRESS',
      config: 'bind',
      default: '127.0.0.1',
      help: 'host address to listen on'
    },
    network: {
      type: 'string',
      arg: 'bridge|host',
      config: 'network',
      choices: ['bridge', 'host'],
      default: 'bridge',
      help: "bridge publishes the port on --bind; host shares the host's network"
    },
    user: {
      type: 'string',
      arg: 'UID:GID',
      config: 'user',
      help: 'user in the container (default: yours; 1000:1000 when run as root)'
    },
    'server-only': {
      type: 'boolean',
      config: 'serverOnly',
      help: 'a Jupyter server for kernels, without the JupyterLab UI'
    },
    'allow-origin': {
      type: 'string',
      arg: 'ORIGIN',
      config: 'allowOrigin',
      help:
        "let a JupyterLab page on ORIGIN use the server's kernels (e.g. http://127.0.0.1:8888 for the " +
        "yolo-lab panel's server mode)"
    },
    workdir: {
      type: 'string',
      arg: 'PATH',
      config: 'workdir',
      default: '/workspace',
      help: "Jupyter's root folder in the container"
    },
    name: {
      type: 'string',
      arg: 'NAME',
      config: 'name',
      help: 'container name (default yolo-lab-<port>-<random>)'
    },
    timeout: {
      type: 'integer',
      arg: 'SECONDS',
      min: 1,
      config: 'timeoutS',
      default: 120,
      what: 'a whole number of seconds, at least 1',
      help: 'how long to wait for Jupyter'
    },
    config: { type: 'string', arg: 'FILE', help: 'options as JSON (default ./yolo-lab.json if present)' },
    json: { type: 'boolean', help: 'print the result as JSON on stdout' },
    ...ENGINE
  },
  notes: [
    "With --host the paths are that host's, Jupyter listens on its 127.0.0.1, and the URL printed is a " +
      "tunnel on this machine's 127.0.0.1."
  ]
} as const satisfies CommandSpec;

export const CONNECT = {
  name: 'connect',
  summary:
    'reopen the SSH tunnel to a container on a GPU server (after the laptop slept) and print its URL; ' +
    '--attach keeps it in this terminal',
  args: { synopsis: '[NAME]', max: 1, noun: 'container name' },
  options: {
    ...ENGINE,
    port: { ...PORT, help: "the tunnel's port here (default: the one it had, if free, else any free one)" },
    attach: { type: 'boolean', help: 'hold the tunnel in this process until it ends' },
    json: { type: 'boolean', help: 'print the URL as JSON on stdout' }
  },
  notes: [ONE_NAME]
} as const satisfies CommandSpec;

export const DOWN = {
  name: 'down',
  summary:
    'stop the trainings inside (last.pt saved), then stop and remove the named containers (default: all ' +
    'the launcher started); refuses one holding files written outside its mounts unless --force',
  args: { synopsis: '[NAME...]' },
  options: {
    ...ENGINE,
    force: { type: 'boolean', help: 'remove them even when files written outside their mounts would be lost' }
  }
} as const satisfies CommandSpec;

export const STATUS = {
  name: 'status',
  summary: 'list the containers the launcher started, with their URLs',
  options: { ...ENGINE, json: { type: 'boolean', help: 'print them as JSON on stdout' } }
} as const satisfies CommandSpec;

export const LOGS = {
  name: 'logs',
  summary: "print a container's output (Jupyter's log), following it",
  args: { synopsis: '[NAME]', max: 1, noun: 'container name' },
  options: {
    ...ENGINE,
    'no-follow': { type: 'boolean', help: 'print what is there and stop' },
    tail: { type: 'integer', arg: 'N', min: 0, help: 'only the last N lines' }
  },
  notes: [ONE_NAME]
} as const satisfies CommandSpec;

export const DOCTOR = {
  name: 'doctor',
  summary: 'check the environment inside a running container',
  args: { synopsis: '[NAME]', max: 1, noun: 'container name' },
  options: { ...ENGINE, json: { type: 'boolean', help: 'print the report as JSON on stdout' } },
  notes: [ONE_NAME]
} as const satisfies CommandSpec;

export const SHELL = {
  name: 'shell',
  summary:
    "a shell (bash, else sh) in a running container, as its user, in its working folder; exits with the shell's " +
    "exit code. Piped stdin works: echo 'nvidia-smi; exit' | yolo-lab shell NAME",
  args: {
    synopsis: '[NAME]',
    max: 1,
    noun: 'container name',
    hint: "To run a command, use: yolo-lab exec NAME -- CMD, or pipe it in: echo 'CMD' | yolo-lab shell NAME"
  },
  options: ENGINE,
  notes: [ONE_NAME]
} as const satisfies CommandSpec;

export const EXEC = {
  name: 'exec',
  summary:
    'run one command in a running container (e.g. nvidia-smi, a training script), as its user; exits with ' +
    'its exit code. The flags go before --; everything after it is the command, untouched',
  args: { synopsis: '[NAME] -- CMD [ARGS...]', max: 1, noun: 'container name before --' },
  options: ENGINE,
  notes: [ONE_NAME]
} as const satisfies CommandSpec;

export const BUILD = {
  name: 'build',
  summary: 'build the image from docker/ (needs dist/yolo_lab-*.whl)',
  options: {
    tag: { type: 'string', arg: 'NAME', config: 'image', default: DEFAULT_IMAGE, help: 'the image to build' },
    'base-image': {
      type: 'string',
      arg: 'IMAGE',
      help: "the PyTorch-CUDA image to build on (docker/Dockerfile's BASE_IMAGE)"
    },
    'build-arg': {
      type: 'string',
      arg: 'K=V',
      multiple: true,
      help: 'a build argument of docker/Dockerfile'
    },
    network: {
      type: 'string',
      arg: 'NAME',
      help: "the build steps' network: host lets them reach indexes served on this machine's 127.0.0.1"
    },
    'ca-cert': { type: 'string', arg: 'FILE', help: 'a CA bundle pip trusts during the build only' },
    'no-cache': { type: 'boolean', help: 'build every step again' },
    repo: {
      type: 'string',
      arg: 'PATH',
      help: "the yolo-lab checkout holding docker/ and dist/ (default: the launcher's own)"
    },
    config: { type: 'string', arg: 'FILE', help: 'options as JSON (default ./yolo-lab.json if present)' },
    ...ENGINE
  }
} as const satisfies CommandSpec;

export const CLASSROOM_INIT = {
  name: 'classroom init',
  summary: 'write jupyterhub_config.py: JupyterHub with DockerSpawner, one yolo-lab container per student',
  options: {
    out: { type: 'string', arg: 'DIR', help: 'where to write it (default: the current folder)' },
    force: { type: 'boolean', help: 'replace an existing one (kept as jupyterhub_config.py.bak)' },
    image: { type: 'string', arg: 'NAME', default: DEFAULT_IMAGE, help: "the students' image" },
    students: {
      type: 'string',
      arg: 'a,b,...',
      help: 'the user names allowed in (the order gives --gpus each its GPUs)'
    },
    admins: { type: 'string', arg: 't,...', help: 'teachers (Hub admins)' },
    'students-dir': {
      type: 'string',
      arg: 'DIR',
      default: '/srv/yolo-lab/students',
      help: 'one folder per student for notebooks'
    },
    'runs-dir': {
      type: 'string',
      arg: 'DIR',
      default: '/srv/yolo-lab/runs',
      help: 'one folder per student for trainings'
    },
    datasets: { type: 'string', arg: 'DIR', help: 'shared datasets, read-only at /datasets' },
    notebooks: {
      type: 'string',
      arg: 'DIR',
      help: "course notebooks, copied into each new student's folder once"
    },
    gpus: {
      type: 'string',
      arg: 'none|each|round-robin|shared',
      choices: ['none', 'each', 'round-robin', 'shared'],
      default: 'none',
      help:
        'none; each: one GPU per student (--gpu-ids, one per student); round-robin: student n on GPU n mod ' +
        'count; shared: all on the same GPU(s) with --mem-fraction each'
    },
    'gpu-ids': { type: 'string', arg: '0,1|GPU-..|MIG-..', help: 'the GPUs to hand out (nvidia-smi -L)' },
    'mem-fraction': { type: 'string', arg: 'F', help: "each student's share of a GPU's memory (0 < F <= 1)" },
    'shm-size': { type: 'string', arg: 'SIZE', default: DEFAULT_SHM, help: '/dev/shm per container' },
    'mem-limit': {
      type: 'string',
      arg: 'SIZE',
      help: "memory per student (default: 3/4 of this machine's, shared by the students)"
    },
    cpus: {
      type: 'string',
      arg: 'N',
      help: "CPU cores per student (default: this machine's, shared by the students)"
    },
    'pids-limit': {
      type: 'integer',
      arg: 'N',
      min: 64,
      default: 2048,
      what: 'a number of processes, 64 or more',
      help: 'processes and threads per student'
    },
    ip: {
      type: 'string',
      arg: 'ADDRESS',
      default: '127.0.0.1',
      help: "the Hub's address (127.0.0.1: put a TLS proxy in front)"
    },
    port: { ...PORT, min: 1, default: 8000, what: 'a port number', help: "the Hub's port" },
    domain: {
      type: 'string',
      arg: 'NAME',
      help:
        "the class's address, each user on a subdomain of it (alice.NAME): needs a DNS wildcard *.NAME and a " +
        'certificate for it (README)'
    },
    'single-origin': {
      type: 'boolean',
      help:
        'instead of --domain: the Hub and every server on one origin, only for users who trust each other ' +
        "(JupyterHub's docs: cookie tossing)"
    },
    auth: {
      type: 'string',
      arg: 'placeholder|dummy',
      default: 'placeholder',
      help:
        `placeholder: choose a real authenticator in the file; dummy: one shared password from ` +
        `$${PASSWORD_ENV}, for tests only`
    }
  }
} as const satisfies CommandSpec;

export const CLASSROOM = {
  name: 'classroom',
  summary:
    'write a JupyterHub configuration for a class: one yolo-lab container per student (DockerSpawner); ' +
    '`yolo-lab classroom --help` lists its options',
  commands: { init: CLASSROOM_INIT }
} as const satisfies GroupSpec;

/** The commands, in the order `yolo-lab help` lists them. */
export const COMMANDS = {
  up: UP,
  connect: CONNECT,
  down: DOWN,
  status: STATUS,
  logs: LOGS,
  doctor: DOCTOR,
  shell: SHELL,
  exec: EXEC,
  build: BUILD,
  classroom: CLASSROOM
} as const;

export const OVERVIEW_TITLE = 'yolo-lab: JupyterLab with yolo-lab and YOLOv5 in a PyTorch-CUDA container';

export const OVERVIEW_NOTES = [
  ONE_NAME,
  'The engine is --host (ssh://...; every command but classroom takes it, with --identity), else "host" in ' +
    './yolo-lab.json, else DOCKER_HOST, else the local socket.',
  '`yolo-lab COMMAND --help` shows the options of one command.'
] as const;
