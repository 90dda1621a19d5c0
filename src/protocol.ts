/**
 * The yolo-lab comm protocol, as seen from the browser.
 *
 * The only definition of the messages is protocol/yolo_lab.schema.json; their
 * types are generated from it (protocol.generated.ts) and describe what the
 * schema guarantees once a message has passed validation, so the rest of the
 * extension can use them without casts.
 * The schema validator (ajv) is loaded lazily from ./validator, so it stays out
 * of the JavaScript fetched at JupyterLab start.
 */

import type {
  DoctorReport,
  DoctorRequest,
  Error as ErrorMessage,
  Finding,
  Hello,
  Message,
  Report,
  TelemetrySubscribe,
  TelemetryUnsubscribe
} from './protocol.generated';
import { PROTOCOL_VERSION } from './protocol.generated';
import type { ISchemaCheck } from './validator';

export {
  COMM_TARGET,
  PROTOCOL_VERSION,
  RUN_MIME,
  TELEMETRY_MIME
} from './protocol.generated';
export type { Message, MessageType } from './protocol.generated';
export type { ISchemaCheck };

/** Severity of a doctor finding. */
export type Severity = Finding['severity'];

/** One problem found by the doctor, with its cause and its fix. */
export type IFinding = Finding;

/** The environment report of the kernel-side doctor. */
export type IDoctorReport = Report;

/** A GPU as the kernel process sees it (after CUDA_VISIBLE_DEVICES). */
export type IGpu = Report['gpus'][number];

/** Either side introduces itself when the comm opens. */
export type IHelloMessage = Hello;

/** The browser asks the kernel for a doctor report. */
export type IDoctorRequestMessage = DoctorRequest;

/** The kernel answers a doctor request. */
export type IDoctorReportMessage = DoctorReport;

/** Something could not be served or understood. */
export type IErrorMessage = ErrorMessage;

/** Codes of protocol errors, shared with the kernel side. */
export type ErrorCode = ErrorMessage['code'];

/** The browser starts listening to the kernel's telemetry sampler. */
export type ITelemetrySubscribeMessage = TelemetrySubscribe;

/** The browser stops listening. */
export type ITelemetryUnsubscribeMessage = TelemetryUnsubscribe;

/** The outcome of parsing one incoming message. */
export type ParseResult =
  | { ok: true; message: Message }
  | { ok: false; code: ErrorCode; reason: string };

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
