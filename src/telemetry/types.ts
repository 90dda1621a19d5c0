/**
 * Telemetry shapes, as protocol/yolo_lab.schema.json defines them.
 */

/** Where samples come from: NVML (GPUs) or psutil (CPU and RAM only). */
export type TelemetrySource = 'nvml' | 'psutil';

/** One GPU in a sample. */
export interface IGpuSample {
  index: number;
  util_pct: number | null;
  mem_used_bytes: number | null;
  mem_total_bytes: number | null;
  temp_c: number | null;
  power_w: number | null;
  proc_mem_bytes: number | null;
}

/** One telemetry sample of the kernel's machine and process tree. */
export interface ITelemetrySample {
  t: number;
  cpu_pct: number | null;
  ram_used_bytes: number | null;
  ram_total_bytes: number | null;
  proc_cpu_pct: number | null;
  proc_rss_bytes: number | null;
  gpus: IGpuSample[];
}

/** A batch of samples from the kernel (comm message `telemetry_batch`). */
export interface ITelemetryBatch {
  v: 1;
  type: 'telemetry_batch';
  sampler_id: string;
  source: TelemetrySource;
  interval_s: number;
  history: boolean;
  samples: ITelemetrySample[];
}

/** Something to tell the user (comm message `telemetry_notice`). */
export interface ITelemetryNotice {
  v: 1;
  type: 'telemetry_notice';
  sampler_id: string;
  level: 'info' | 'warning' | 'error';
  code: 'nvml_lost' | 'nvml_unavailable' | 'sampler_error';
  message: string;
}

/** MIME type of the inline monitor output. */
export const TELEMETRY_MIME = 'application/vnd.yolo-lab.telemetry+json';

/** The data of a `yolo_lab.monitor()` output (definitions/telemetry_display). */
export interface ITelemetryDisplay {
  v: 1;
  sampler_id: string;
  source: TelemetrySource;
  interval_s: number;
  window_s: number;
  live: boolean;
  notice?: string | null;
  samples: ITelemetrySample[];
}
