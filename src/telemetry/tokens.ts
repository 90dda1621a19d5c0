/**
 * The telemetry feature's token.
 */
import { Token } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import type { ISignal } from '@lumino/signaling';
import type { TelemetryModel } from './model';
import type { ITelemetryBatch } from './types';

/** Options of a telemetry listener. */
export interface IListenOptions {
  /**
   * A passive listener takes the sampler as it is: it does not impose the
   * panel's sampling interval (a `yolo_lab.monitor()` output, whose call
   * chose the interval, listens passively).
   */
  passive?: boolean;
}

/** Telemetry of the transport's kernel. Provided by `yolo-lab:telemetry`. */
export interface ITelemetry {
  /** The samples, fed while someone listens. */
  readonly model: TelemetryModel;
  /** Every batch from the kernel's sampler, as it arrives. */
  readonly batchReceived: ISignal<ITelemetry, ITelemetryBatch>;
  /** Listen to the kernel's telemetry until the handle is disposed. */
  listen(options?: IListenOptions): IDisposable;
}

/** The telemetry token. */
export const ITelemetry = new Token<ITelemetry>(
  'yolo-lab:ITelemetry',
  'Live GPU (or CPU) telemetry of the kernel yolo-lab is connected to.'
);
