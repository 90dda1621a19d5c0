/**
 * The telemetry shown by one or more charts: a bounded stream of samples,
 * the source, the notice to show, and whether the view is paused.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { DEFAULT_METRICS } from './metrics';
import { IEntry, StreamBuffer } from './stream';
import type {
  ITelemetryBatch,
  ITelemetryDisplay,
  ITelemetryNotice,
  TelemetrySource
} from './types';

/** What changed in a telemetry model. */
export type TelemetryChange =
  /** New points at the end: charts extend their traces. */
  | { kind: 'append'; entries: IEntry[] }
  /** Everything may differ (metrics, window, clear, resume): redraw. */
  | { kind: 'reset' }
  /** Source, notice, pause or live flag changed. */
  | { kind: 'state' };

/** Options of a telemetry model. */
export interface ITelemetryModelOptions {
  windowS?: number;
  metrics?: string[];
}

/** Default seconds shown. */
export const DEFAULT_WINDOW_S = 300;

/**
 * Telemetry state shared by the charts that show it.
 */
export class TelemetryModel {
  constructor(options: ITelemetryModelOptions = {}) {
    this.buffer = new StreamBuffer({
      windowS: options.windowS ?? DEFAULT_WINDOW_S
    });
    this._metrics = options.metrics ?? [...DEFAULT_METRICS];
  }

  /** The samples kept. */
  readonly buffer: StreamBuffer;

  /** Emitted on every change. */
  get changed(): ISignal<this, TelemetryChange> {
    return this._changed;
  }

  /** Metric ids shown. */
  get metrics(): string[] {
    return this._metrics;
  }
  set metrics(value: string[]) {
    this._metrics = [...value];
    this._changed.emit({ kind: 'reset' });
  }

  /** Seconds shown. */
  get windowS(): number {
    return this.buffer.windowS;
  }
  set windowS(value: number) {
    if (value !== this.buffer.windowS) {
      this.buffer.windowS = value;
      this._changed.emit({ kind: 'reset' });
    }
  }

  /** Sampling interval of the data, seconds. */
  get intervalS(): number {
    return this._intervalS;
  }

  /** Where the samples come from (null before the first). */
  get source(): TelemetrySource | null {
    return this._source;
  }

  /** The last notice from the kernel (e.g. NVML lost), if any. */
  get notice(): string | null {
    return this._notice;
  }

  /** Whether new data still arrives (false for a saved, finished output). */
  get live(): boolean {
    return this._live;
  }

  /**
   * Whether charts hold still. Data keeps arriving meanwhile; resuming
   * redraws with everything kept.
   */
  get paused(): boolean {
    return this._paused;
  }
  set paused(value: boolean) {
    if (value === this._paused) {
      return;
    }
    this._paused = value;
    this._changed.emit({ kind: 'state' });
    if (!value) {
      this._changed.emit({ kind: 'reset' });
    }
  }

  /** Take a batch from the kernel. */
  addBatch(batch: ITelemetryBatch): void {
    this._intervalS = batch.interval_s;
    this._setSource(batch.source);
    this._append(
      this.buffer.append(batch.samples, batch.sampler_id, batch.interval_s)
    );
  }

  /** Take a notice from the kernel. */
  addNotice(notice: ITelemetryNotice): void {
    this._notice = notice.message;
    this._changed.emit({ kind: 'state' });
  }

  /** Take the data of a monitor output (the whole window, or an update of it). */
  setDisplay(data: ITelemetryDisplay): void {
    this._intervalS = data.interval_s;
    const stateChanged =
      data.source !== this._source ||
      (data.notice ?? null) !== this._notice ||
      data.live !== this._live;
    this._source = data.source;
    this._notice = data.notice ?? null;
    this._live = data.live;
    if (data.window_s !== this.buffer.windowS) {
      this.buffer.windowS = data.window_s;
    }
    if (stateChanged) {
      this._changed.emit({ kind: 'state' });
    }
    this._append(
      this.buffer.append(data.samples, data.sampler_id, data.interval_s)
    );
  }

  /** Forget all samples (another kernel is followed). */
  clear(): void {
    this.buffer.clear();
    this._source = null;
    this._notice = null;
    this._changed.emit({ kind: 'reset' });
  }

  /** Dispose of the model. */
  dispose(): void {
    Signal.clearData(this);
  }

  private _setSource(source: TelemetrySource): void {
    if (source !== this._source) {
      this._source = source;
      if (source === 'nvml') {
        this._notice = null;
      }
      this._changed.emit({ kind: 'state' });
    }
  }

  private _append(entries: IEntry[]): void {
    if (entries.length > 0) {
      this._changed.emit({ kind: 'append', entries });
    }
  }

  private _metrics: string[];
  private _intervalS = 1;
  private _source: TelemetrySource | null = null;
  private _notice: string | null = null;
  private _live = true;
  private _paused = false;
  private _changed = new Signal<this, TelemetryChange>(this);
}
