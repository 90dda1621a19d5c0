/**
 * The telemetry feature's token.
 */
import { Token } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import type { TelemetryModel } from './model';

/** Telemetry of the transport's kernel. Provided by `yolo-lab:telemetry`. */
export interface ITelemetry {
  /** The samples, fed while someone listens. */
  readonly model: TelemetryModel;
  /** Listen to the kernel's telemetry until the handle is disposed. */
  listen(): IDisposable;
}

/** The telemetry token. */
export const ITelemetry = new Token<ITelemetry>(
  'yolo-lab:ITelemetry',
  'Live GPU (or CPU) telemetry of the kernel yolo-lab is connected to.'
);
