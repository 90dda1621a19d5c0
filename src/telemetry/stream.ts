/**
 * A bounded store of telemetry samples with the gaps between samplers.
 *
 * Charts never keep their own copies: they read series from here, and the
 * store forgets what is older than its window or beyond its point budget, so
 * memory stays bounded however long a kernel streams. It keeps data only:
 * decimation and SVG paths are made while drawing (charts/decimate.ts).
 */
import type { IPoints } from '../charts/decimate';
import { seriesFor, type Axis, type ISeriesKey } from './metrics';
import type { ITelemetrySample } from './types';

/** A kept point in time: a sample, or a gap (null) drawn as a break. */
export interface IEntry {
  t: number;
  sample: ITelemetrySample | null;
}

/** Points of one series of a telemetry chart. */
export interface ISeries extends IPoints {
  name: string;
  axis: Axis;
}

/** Options of a stream buffer. */
export interface IStreamOptions {
  /** Seconds of history kept (and shown). */
  windowS: number;
  /** Hard bound on entries, whatever the window. */
  maxPoints?: number;
}

/** Points of the given series for some entries. */
export function pointsOf(entries: IEntry[], keys: ISeriesKey[]): ISeries[] {
  return keys.map(key => ({
    name: key.name,
    axis: key.metric.axis,
    x: entries.map(e => e.t),
    y: entries.map(e => (e.sample ? key.metric.value(e.sample, key.gpu) : null))
  }));
}

/**
 * Samples of one or more samplers, oldest first, with gap markers.
 */
export class StreamBuffer {
  constructor(options: IStreamOptions) {
    this._windowS = options.windowS;
    this._maxPoints = options.maxPoints ?? 20000;
  }

  /** Seconds of history kept. */
  get windowS(): number {
    return this._windowS;
  }
  set windowS(value: number) {
    this._windowS = value;
    this._trim();
  }

  /** The bound on kept entries. */
  get maxPoints(): number {
    return this._maxPoints;
  }

  /** Entries kept, gaps included (read-only view). */
  get entries(): readonly IEntry[] {
    return this._entries;
  }

  /** The most recent sample, if any. */
  get last(): ITelemetrySample | null {
    return this._last;
  }

  /** The greatest GPU count seen in the kept samples. */
  get gpuCount(): number {
    let n = 0;
    for (const [count, samples] of this._gpuCounts) {
      if (samples > 0 && count > n) {
        n = count;
      }
    }
    return n;
  }

  /** The sampler whose samples came last. */
  get samplerId(): string | null {
    return this._samplerId;
  }

  /**
   * Append samples; returns the entries really added, gaps included (older or
   * repeated timestamps of the same sampler are dropped, so a history replay
   * or a display update may overlap what is kept).
   *
   * A new sampler id (a restarted kernel), or a silence longer than three
   * intervals, puts a gap before the next sample.
   */
  append(
    samples: ITelemetrySample[],
    samplerId: string,
    intervalS: number
  ): IEntry[] {
    const added: IEntry[] = [];
    for (const sample of samples) {
      const prev = this._last;
      const sameSampler = samplerId === this._samplerId;
      if (prev && sameSampler && sample.t <= prev.t) {
        continue;
      }
      const newSampler = this._samplerId !== null && !sameSampler;
      const silence = prev !== null && sample.t - prev.t > 3 * intervalS;
      if (prev && (newSampler || silence)) {
        const gap = {
          t: (prev.t + Math.max(sample.t, prev.t)) / 2,
          sample: null
        };
        this._push(gap);
        added.push(gap);
      }
      this._samplerId = samplerId;
      const entry = { t: sample.t, sample };
      this._push(entry);
      added.push(entry);
      this._last = sample;
    }
    this._trim();
    return added;
  }

  /** Forget everything. */
  clear(): void {
    this._entries = [];
    this._samplerId = null;
    this._last = null;
    this._gpuCounts.clear();
    this._columns = null;
  }

  /**
   * The series of the given metrics over everything kept (copies: the
   * buffer's own columns change with each append).
   *
   * The columns of the last metrics asked for are kept in step with the
   * entries, so a chart redrawn at each update does not rebuild them.
   */
  series(metricIds: string[]): ISeries[] {
    const keys = seriesFor(metricIds, this.gpuCount);
    const id = keys.map(k => k.name).join('\n');
    if (this._columns?.id !== id) {
      this._columns = { id, keys, series: pointsOf(this._entries, keys) };
    }
    return this._columns.series.map(s => ({
      ...s,
      x: s.x.slice(),
      y: s.y.slice()
    }));
  }

  /**
   * The kept samples as CSV: one row per sample, one column per series of
   * the given metrics, time as ISO 8601 and epoch seconds. Gaps are left out.
   */
  toCSV(metricIds: string[]): string {
    const keys = seriesFor(metricIds, this.gpuCount);
    const header = ['time', 'epoch_s', ...keys.map(k => k.name)];
    const rows = [header.map(csvCell).join(',')];
    for (const { t, sample } of this._entries) {
      if (!sample) {
        continue;
      }
      const values = keys.map(k => {
        const v = k.metric.value(sample, k.gpu);
        return v === null ? '' : String(Number(v.toPrecision(6)));
      });
      rows.push(
        [new Date(t * 1000).toISOString(), String(t), ...values]
          .map(csvCell)
          .join(',')
      );
    }
    return rows.join('\n') + '\n';
  }

  private _push(entry: IEntry): void {
    this._entries.push(entry);
    const { sample } = entry;
    if (sample) {
      const n = sample.gpus.length;
      this._gpuCounts.set(n, (this._gpuCounts.get(n) ?? 0) + 1);
    }
    if (this._columns) {
      const { keys, series } = this._columns;
      keys.forEach((key, i) => {
        series[i].x.push(entry.t);
        series[i].y.push(sample ? key.metric.value(sample, key.gpu) : null);
      });
    }
  }

  /** Forget what is older than the window or beyond the point budget. */
  private _trim(): void {
    const entries = this._entries;
    const n = entries.length;
    let drop = 0;
    if (this._last) {
      const cutoff = this._last.t - this._windowS;
      while (drop < n && entries[drop].t < cutoff) {
        drop++;
      }
    }
    drop = Math.max(drop, n - this._maxPoints);
    // A gap at the very start separates nothing.
    while (drop < n && entries[drop].sample === null) {
      drop++;
    }
    if (drop === 0) {
      return;
    }
    for (let i = 0; i < drop; i++) {
      const { sample } = entries[i];
      if (sample) {
        const count = sample.gpus.length;
        this._gpuCounts.set(count, (this._gpuCounts.get(count) ?? 1) - 1);
      }
    }
    entries.splice(0, drop);
    for (const s of this._columns?.series ?? []) {
      s.x.splice(0, drop);
      s.y.splice(0, drop);
    }
  }

  private _entries: IEntry[] = [];
  private _samplerId: string | null = null;
  private _last: ITelemetrySample | null = null;
  /** Kept samples by their GPU count. */
  private _gpuCounts = new Map<number, number>();
  private _columns: {
    id: string;
    keys: ISeriesKey[];
    series: ISeries[];
  } | null = null;
  private _windowS: number;
  private _maxPoints: number;
}

function csvCell(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
