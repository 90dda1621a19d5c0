import type Docker from 'dockerode';

import { execIn } from './streams';

/** The command in the image that prints the doctor report (the wheel's `yolo-lab-doctor` script, yolo_lab.environment:main). */
export const DOCTOR_COMMAND = ['yolo-lab-doctor', '--json'];

/** The parts of the doctor report (protocol schema's `report`) the launcher prints. */
export interface DoctorReport {
  python?: { version?: string };
  torch?: {
    installed?: boolean;
    version?: string | null;
    cuda_build?: string | null;
    cuda_available?: boolean;
  };
  driver?: { version?: string | null };
  gpus?: { index?: number; name?: string }[];
  system?: {
    in_container?: boolean;
    container_kind?: string | null;
    shm_total_bytes?: number | null;
    cpu_count?: number;
  };
  yolov5?: { available?: boolean; version?: string | null; source?: string | null };
  findings?: { id: string; severity: string; title: string; cause: string; fix: string }[];
}

/** Run the doctor inside the container; throws with its stderr when it fails. */
export async function runDoctor(docker: Docker, container: Docker.Container): Promise<DoctorReport> {
  const result = await execIn(docker, container, DOCTOR_COMMAND);
  if (result.exitCode !== 0) {
    throw new Error(
      `the doctor failed in the container (exit ${result.exitCode}): ${result.stderr.trim().slice(-800)}`
    );
  }
  return JSON.parse(result.stdout) as DoctorReport;
}

function gib(bytes: number | null | undefined): string {
  return typeof bytes === 'number' ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : 'unknown';
}

/** The report as a few lines for the terminal. */
export function formatDoctor(report: DoctorReport): string[] {
  const t = report.torch ?? {};
  const gpus = report.gpus ?? [];
  const sys = report.system ?? {};
  const y5 = report.yolov5 ?? {};
  const lines = [
    `python ${report.python?.version ?? '?'}, torch ${t.installed ? `${t.version} (CUDA build ${t.cuda_build ?? 'none'})` : 'missing'}, ` +
      `driver ${report.driver?.version ?? 'none'}`,
    `GPUs: ${gpus.length === 0 ? 'none' : gpus.map(g => `${g.index}: ${g.name}`).join(', ')}; ` +
      `CUDA usable: ${t.cuda_available ? 'yes' : 'no'}`,
    `container: ${sys.in_container ? (sys.container_kind ?? 'yes') : 'no'}; /dev/shm ${gib(sys.shm_total_bytes)}; CPUs ${sys.cpu_count ?? '?'}`,
    `YOLOv5: ${y5.available ? `${y5.version ?? ''} (${y5.source ?? 'installed'})` : 'not importable'}`
  ];
  for (const f of report.findings ?? []) {
    lines.push(`[${f.severity}] ${f.title}: ${f.cause}`);
    lines.push(`    fix: ${f.fix}`);
  }
  if ((report.findings ?? []).length === 0) {
    lines.push('no findings');
  }
  return lines;
}
