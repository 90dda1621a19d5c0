/**
 * Test data: a report of the shape the kernel sends, and a way to get real
 * messages from the Python package.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import type { IDoctorReport, IFinding, Message } from '../protocol';

/** The repository root. */
export const ROOT = path.resolve(__dirname, '..', '..');

/** The Python that has yolo_lab importable (CI puts the venv first on PATH). */
export const PYTHON = process.env.YOLO_LAB_PYTHON ?? 'python';

/**
 * Messages produced by the real Python package: a real doctor report of this
 * machine and the kernel's answers to malformed requests.
 */
/**
 * Run a generator's `--check` (in a process of its own: generators use
 * prettier's dynamic imports) and expect it to say its file is current.
 */
export function expectGenerated(script: string): void {
  const result = spawnSync('node', [script, '--check'], {
    cwd: ROOT,
    encoding: 'utf-8',
    timeout: 60_000
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
}

export function pythonExamples(): { messages: Message[]; display: unknown } {
  const result = spawnSync(PYTHON, ['-m', 'yolo_lab._examples'], {
    cwd: ROOT,
    encoding: 'utf-8',
    env: { ...process.env, PYTHONPATH: ROOT },
    timeout: 120_000
  });
  if (result.status !== 0) {
    throw new Error(
      `could not run ${PYTHON} -m yolo_lab._examples: ` +
        `${result.error ?? ''} ${result.stderr}`
    );
  }
  return JSON.parse(result.stdout);
}

/** A hand-written report in the schema's shape, for model and view tests. */
export function makeReport(findings: IFinding[] = []): IDoctorReport {
  return {
    generated_at: 1764000000,
    workers: 8,
    python: { version: '3.11.7', executable: '/opt/venv/bin/python' },
    torch: {
      installed: true,
      version: '2.14.1+cu128',
      cuda_build: '12.8',
      cudnn: 91002,
      cuda_available: false,
      device_count: 0,
      error: null
    },
    driver: {
      nvml: false,
      version: null,
      cuda_driver_version: null,
      nvidia_device_present: false,
      error: 'NVML Shared Library Not Found'
    },
    gpus: [],
    cuda_visible_devices: null,
    system: {
      cpu_count: 2,
      ram_total_bytes: 24 * 2 ** 30,
      shm_total_bytes: 64 * 2 ** 20,
      in_container: true,
      container_kind: 'docker',
      platform: 'Linux-6.1-x86_64'
    },
    yolov5: {
      available: false,
      version: null,
      location: null,
      source: null,
      error: 'No module named yolov5'
    },
    findings
  };
}

/** Findings as the kernel words them, in mixed severity order. */
export const FINDINGS: IFinding[] = [
  {
    id: 'shm_small',
    severity: 'warning',
    title: '/dev/shm is 64 MiB',
    cause: 'DataLoader workers share batches through /dev/shm.',
    fix: 'docker run --shm-size=8g ... (or --ipc=host)'
  },
  {
    id: 'no_gpu',
    severity: 'error',
    title: 'No GPU visible to this kernel',
    cause: 'The container was started without GPU access.',
    fix: 'docker run --gpus all ...'
  },
  {
    id: 'yolov5_missing',
    severity: 'info',
    title: 'YOLOv5 <not> installed',
    cause: 'import yolov5 failed',
    fix: 'pip install yolov5'
  }
];
