/**
 * Telemetry shapes: the generated types of protocol/yolo_lab.schema.json,
 * under the names the telemetry code uses.
 */
import type {
  TelemetryBatch,
  TelemetryDisplay,
  TelemetryNotice,
  TelemetrySample,
  TelemetrySource as Source
} from '../protocol.generated';

export { TELEMETRY_MIME } from '../protocol.generated';

/** Where samples come from: NVML (GPUs) or psutil (CPU and RAM only). */
export type TelemetrySource = Source;

/** One GPU in a sample. */
export type IGpuSample = TelemetrySample['gpus'][number];

/** One sample of the machine, the kernel's process tree and its GPUs. */
export type ITelemetrySample = TelemetrySample;

/** Samples pushed by the kernel (message `telemetry_batch`). */
export type ITelemetryBatch = TelemetryBatch;

/** Something changed in the sampler (message `telemetry_notice`). */
export type ITelemetryNotice = TelemetryNotice;

/** The data of a `yolo_lab.monitor()` output (definitions/telemetry_display). */
export type ITelemetryDisplay = TelemetryDisplay;
