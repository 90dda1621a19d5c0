/**
 * One training run as the browser knows it: its events (history from the run
 * folder, then live ones), its status and what the view derives from them.
 * No DOM here.
 */
import { ISignal, Signal } from '@lumino/signaling';
import type {
  IBatchEvent,
  IEpochEvent,
  IRunEvent,
  IRunEventsMessage,
  IRunStatus,
  IRunSummaryEvent,
  IRunVerdict,
  ITelemetryEvent
} from './types';
import { summarizeRun, type IRunSummaryFigures } from './summarize';

/** Most per-batch points kept; older ones are thinned by half when exceeded. */
export const MAX_BATCH_POINTS = 20000;

/** Where a run is, for the progress line. */
export interface IProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  /** Seconds left, or null until it can be estimated. */
  etaS: number | null;
}

/** Thin an array to half its length, keeping the last item. */
function halve<T>(items: T[]): T[] {
  const kept = items.filter((_, i) => i % 2 === 0);
  if (kept[kept.length - 1] !== items[items.length - 1]) {
    kept.push(items[items.length - 1]);
  }
  return kept;
}

/** A run's error: what failed and what to do; for DDP, which rank and its traceback. */
export interface IRunError {
  code: string;
  message: string;
  fix: string;
  rank?: number | null;
  traceback?: string | null;
}

/** The AMP a run trained with (its `amp` event). */
export interface IRunAmp {
  /** Whether AMP is on. */
  enabled: boolean;
  /** What the run asked: true or false forced it, null left it automatic. */
  requested: boolean | null;
  /** Why it is on or off (the offline check, the device, the run's amp). */
  reason: string;
}

/**
 * The events of one run, as they arrive.
 */
export class RunModel {
  constructor(run: string) {
    this.run = run;
  }

  /** The run folder (the run's id). */
  readonly run: string;

  /** Emits after each change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get status(): IRunStatus {
    return this._status;
  }

  /** True once a history arrived (from any kernel). */
  get loaded(): boolean {
    return this._loaded;
  }

  get batches(): readonly IBatchEvent[] {
    return this._batches;
  }

  get epochs(): readonly IEpochEvent[] {
    return this._epochs;
  }

  get telemetry(): readonly ITelemetryEvent[] {
    return this._telemetry;
  }

  /** The advisor's latest verdicts: why the run is slow and what to change. */
  get advice(): IRunVerdict[] {
    return this._advice;
  }

  /**
   * The effective AMP state the run reported, or null before it did; with
   * what was asked (null: automatic).
   */
  get amp(): IRunAmp | null {
    return this._amp;
  }

  /** The last 'start' event (parameters, YOLOv5 used). */
  get start(): IRunEvent | null {
    return this._start;
  }

  /** The batch size YOLOv5's autobatch chose, once it did. */
  get autobatch(): number | null {
    return this._autobatch;
  }

  /** What the run noted along the way (no telemetry, say), oldest first. */
  get notices(): readonly string[] {
    return this._notices;
  }

  /** The final validation of a run that ended normally. */
  get summary(): IRunSummaryEvent | null {
    return this._summary;
  }

  /** The last 'end' event. */
  get end(): IRunEvent | null {
    return this._end;
  }

  /** The last 'error' event (code, message, fix; the rank and traceback of a DDP rank). */
  get error(): IRunError | null {
    return this._error;
  }

  /** Paths of last.pt and best.pt as known so far. */
  get weights(): { last: string | null; best: string | null } {
    return {
      last: (this._end?.last as string) ?? this._status.last ?? this._lastSaved,
      best: (this._end?.best as string) ?? this._status.best ?? null
    };
  }

  /** True while the run may still produce events. */
  get active(): boolean {
    const s = this._status.status;
    return s === 'pending' || s === 'starting' || s === 'running';
  }

  /**
   * Seconds the run ran so far: each start to the last event before the
   * next start, summed; null before any event.
   */
  get timeS(): number | null {
    if (this._sessionStart === null || this._sessionLast === null) {
      return null;
    }
    return this._pastS + (this._sessionLast - this._sessionStart);
  }

  /**
   * The summary table's figures; computed again only after a change (a
   * finished run's view asks on each render, the run no longer changes).
   */
  summaryTable(): IRunSummaryFigures {
    if (this._summaryFigures?.revision !== this._revision) {
      this._summaryFigures = {
        revision: this._revision,
        figures: summarizeRun({
          batches: this._batches,
          epochs: this._epochs,
          summary: this._summary,
          weights: this.weights,
          timeS: this.timeS
        })
      };
    }
    return this._summaryFigures.figures;
  }

  /** Apply one run_events message. */
  add(message: IRunEventsMessage): void {
    if (message.run !== this.run) {
      return;
    }
    if (message.history) {
      this._reset();
      this._loaded = true;
    }
    this._status = { ...message.status };
    for (const event of message.events) {
      this._addEvent(event);
    }
    this._revision++;
    this._changed.emit();
  }

  /** Progress of the run, from the last batch and the epoch times. */
  progress(): IProgress | null {
    const last = this._batches[this._batches.length - 1];
    if (!last) {
      return null;
    }
    const epochs = last.epochs || 1;
    const batches = last.batches || 1;
    const doneBatches = last.epoch * batches + last.batch + 1;
    const totalBatches = epochs * batches;
    let etaS: number | null = null;
    const lastEpoch = this._epochs[this._epochs.length - 1];
    if (lastEpoch?.epoch_time_s) {
      // Whole epochs (validation included) at the last epoch's pace.
      etaS = ((totalBatches - doneBatches) / batches) * lastEpoch.epoch_time_s;
    } else {
      const first = this._batches.find(b => b.epoch === last.epoch);
      if (first && last.t > first.t && last.batch > first.batch) {
        const perBatch = (last.t - first.t) / (last.batch - first.batch);
        etaS = perBatch * (totalBatches - doneBatches);
      }
    }
    return {
      epoch: last.epoch,
      epochs,
      batch: last.batch,
      batches,
      etaS: this.active ? etaS : null
    };
  }

  private _reset(): void {
    this._batches = [];
    this._epochs = [];
    this._telemetry = [];
    this._amp = null;
    this._start = null;
    this._end = null;
    this._error = null;
    this._lastSaved = null;
    this._autobatch = null;
    this._notices = [];
    this._summary = null;
    this._advice = [];
    this._sessionStart = null;
    this._sessionLast = null;
    this._pastS = 0;
  }

  private _addEvent(event: IRunEvent): void {
    if (typeof event.t === 'number') {
      if (event.kind === 'start' || this._sessionStart === null) {
        if (this._sessionStart !== null && this._sessionLast !== null) {
          this._pastS += this._sessionLast - this._sessionStart;
        }
        this._sessionStart = event.t;
      }
      this._sessionLast = event.t;
    }
    switch (event.kind) {
      case 'batch':
        this._batches.push(event as IBatchEvent);
        if (this._batches.length > MAX_BATCH_POINTS) {
          this._batches = halve(this._batches);
        }
        break;
      case 'epoch':
        this._epochs.push(event as IEpochEvent);
        break;
      case 'telemetry':
        this._telemetry.push(event as ITelemetryEvent);
        if (this._telemetry.length > MAX_BATCH_POINTS) {
          this._telemetry = halve(this._telemetry);
        }
        break;
      case 'amp':
        this._amp = {
          enabled: event.enabled as boolean,
          requested:
            typeof event.requested === 'boolean' ? event.requested : null,
          reason: event.reason as string
        };
        break;
      case 'start':
        this._start = event;
        // A resumed run starts again: its earlier end no longer holds.
        this._end = null;
        this._error = null;
        this._summary = null;
        break;
      case 'saved':
        this._lastSaved = event.last as string;
        break;
      case 'error':
        this._error = {
          code: event.code as string,
          message: event.message as string,
          fix: event.fix as string,
          rank: typeof event.rank === 'number' ? event.rank : null,
          traceback:
            typeof event.traceback === 'string' ? event.traceback : null
        };
        break;
      case 'end':
        this._end = event;
        break;
      case 'autobatch':
        this._autobatch = event.batch_size as number;
        break;
      case 'notice':
        this._notices.push(String(event.message));
        break;
      case 'hung':
        // The supervisor's report; each rank's stack is in the event and the log.
        this._notices.push(String(event.message));
        break;
      case 'summary':
        this._summary = event as IRunSummaryEvent;
        break;
      case 'advice':
        this._advice = (event.verdicts as IRunVerdict[]) ?? [];
        break;
      default:
        break;
    }
  }

  private _changed = new Signal<this, void>(this);
  private _status: IRunStatus = {};
  private _loaded = false;
  private _batches: IBatchEvent[] = [];
  private _epochs: IEpochEvent[] = [];
  private _telemetry: ITelemetryEvent[] = [];
  private _amp: IRunAmp | null = null;
  private _advice: IRunVerdict[] = [];
  private _start: IRunEvent | null = null;
  private _end: IRunEvent | null = null;
  private _error: IRunError | null = null;
  private _lastSaved: string | null = null;
  private _autobatch: number | null = null;
  private _notices: string[] = [];
  private _summary: IRunSummaryEvent | null = null;
  /** Counts the messages applied: what the memoized figures are of. */
  private _revision = 0;
  private _summaryFigures: {
    revision: number;
    figures: IRunSummaryFigures;
  } | null = null;
  /** The current session's first and last event times, and past sessions' seconds. */
  private _sessionStart: number | null = null;
  private _sessionLast: number | null = null;
  private _pastS = 0;
}
