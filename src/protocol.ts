/**
 * The yolo-lab comm protocol, as seen from the browser.
 *
 * The only definition of the messages is protocol/yolo_lab.schema.json; the
 * interfaces below describe what that schema guarantees once a message has
 * passed validation, so the rest of the extension can use them without casts.
 * The schema validator (ajv) is loaded lazily from ./validator, so it stays out
 * of the JavaScript fetched at JupyterLab start.
 */

import type { ITelemetryBatch, ITelemetryNotice } from './telemetry/types';
import type {
  IRunEventsMessage,
  IRunRequestMessage,
  IRunsListMessage,
  IRunStopResultMessage
} from './training/types';

/** Name of the comm target registered by the Python package. */
export const COMM_TARGET = 'yolo_lab';

/** Major protocol version this build speaks. */
export const PROTOCOL_VERSION = 1;

/** Severity of a doctor finding. */
export type Severity = 'error' | 'warning' | 'info';

/** One problem found by the doctor, with its cause and its fix. */
export interface IFinding {
  id: string;
  severity: Severity;
  title: string;
  cause: string;
  fix: string;
}

/** A GPU as the kernel process sees it (after CUDA_VISIBLE_DEVICES). */
export interface IGpu {
  index: number;
  name: string;
  memory_total_bytes: number | null;
  compute_capability: string | null;
  uuid?: string | null;
}

/** The environment report of the kernel-side doctor. */
export interface IDoctorReport {
  generated_at: number;
  workers: number;
  python: { version: string; executable: string };
  torch: {
    installed: boolean;
    version: string | null;
    cuda_build: string | null;
    cudnn: number | null;
    cuda_available: boolean;
    device_count: number;
    error: string | null;
  };
  driver: {
    nvml: boolean;
    version: string | null;
    cuda_driver_version: string | null;
    nvidia_device_present: boolean;
    error: string | null;
  };
  gpus: IGpu[];
  cuda_visible_devices: string | null;
  system: {
    cpu_count: number;
    ram_total_bytes: number | null;
    shm_total_bytes: number | null;
    in_container: boolean;
    container_kind: string | null;
    platform: string;
  };
  yolov5: {
    available: boolean;
    version: string | null;
    location: string | null;
    source: 'package' | 'checkout' | null;
    error: string | null;
  };
  findings: IFinding[];
}

/** Either side introduces itself when the comm opens. */
export interface IHelloMessage {
  v: 1;
  type: 'hello';
  side: 'frontend' | 'kernel';
  version: string;
}

/** The browser asks the kernel for a doctor report. */
export interface IDoctorRequestMessage {
  v: 1;
  type: 'doctor_request';
  id: string;
  workers?: number;
}

/** The kernel answers a doctor request. */
export interface IDoctorReportMessage {
  v: 1;
  type: 'doctor_report';
  id: string | null;
  report: IDoctorReport;
}

/** Codes of protocol errors, shared with the kernel side. */
export type ErrorCode =
  'bad_message' | 'unsupported_version' | 'unknown_type' | 'internal';

/** Something could not be served or understood. */
export interface IErrorMessage {
  v: 1;
  type: 'error';
  id?: string | null;
  code: ErrorCode;
  message: string;
}

/** Every message of protocol version 1. */
export type Message =
  | IHelloMessage
  | IDoctorRequestMessage
  | IDoctorReportMessage
  | IErrorMessage
  | ITelemetrySubscribeMessage
  | ITelemetryUnsubscribeMessage
  | ITelemetryBatch
  | ITelemetryNotice
  | IRunRequestMessage
  | IRunEventsMessage
  | IRunsListMessage
  | IRunStopResultMessage;

/** The browser starts listening to the kernel's telemetry sampler. */
export interface ITelemetrySubscribeMessage {
  v: 1;
  type: 'telemetry_subscribe';
  id: string;
  interval_s?: number;
}

/** The browser stops listening. */
export interface ITelemetryUnsubscribeMessage {
  v: 1;
  type: 'telemetry_unsubscribe';
  id?: string | null;
}

/** The outcome of parsing one incoming message. */
export type ParseResult =
  | { ok: true; message: Message }
  | { ok: false; code: ErrorCode; reason: string };

/** A compiled schema check: true when the value is a valid message. */
export interface ISchemaCheck {
  (value: unknown): boolean;
  errors?: Array<{ instancePath: string; message?: string }> | null;
}

/**
 * Parse a message received over the comm.
 *
 * The major version is checked before the schema so that a newer kernel
 * package gets a message naming the version mismatch rather than a list of
 * schema errors.
 */
export function parseMessage(data: unknown, check: ISchemaCheck): ParseResult {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, code: 'bad_message', reason: 'not a JSON object' };
  }
  const v = (data as { v?: unknown }).v;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    return {
      ok: false,
      code: 'bad_message',
      reason: 'missing or non-integer protocol version "v"'
    };
  }
  if (v !== PROTOCOL_VERSION) {
    return {
      ok: false,
      code: 'unsupported_version',
      reason:
        `protocol version ${v} is not supported (this extension speaks ` +
        `version ${PROTOCOL_VERSION}); install the same yolo-lab version in ` +
        'the kernel and in JupyterLab'
    };
  }
  if (!check(data)) {
    const details = (check.errors ?? [])
      .map(e => `${e.instancePath || '/'} ${e.message ?? ''}`.trim())
      .join('; ');
    return {
      ok: false,
      code: 'bad_message',
      reason: `does not match the protocol schema: ${details}`
    };
  }
  return { ok: true, message: data as Message };
}

/** Load the schema validator (a separate chunk, fetched on first use). */
export async function loadSchemaCheck(): Promise<ISchemaCheck> {
  const { schemaCheck } = await import('./validator');
  return schemaCheck();
}

const definitionChecks = new Map<string, Promise<ISchemaCheck>>();

/**
 * The check of one schema definition (a separate chunk, on first use),
 * compiled once per page and shared by every caller.
 */
export function loadDefinitionCheck(name: string): Promise<ISchemaCheck> {
  let check = definitionChecks.get(name);
  if (!check) {
    check = import('./validator').then(({ definitionCheck }) =>
      definitionCheck(name)
    );
    definitionChecks.set(name, check);
  }
  return check;
}
