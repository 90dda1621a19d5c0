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

/**
 * Batches left out of the images/s median at a run's start (cuDNN's
 * autotuning, the first DataLoader fill), as yolo_lab.compare.WARMUP.
 */
export const WARMUP_BATCHES = 2;

/** YOLOv5's fitness: the weights of mAP@0.5 and mAP@0.5:0.95 (utils/metrics.py). */
const FITNESS = { map50: 0.1, map: 0.9 };

/**
 * A run's figures for its summary table. Epochs count from 0, as the events
 * do (people read `bestEpoch + 1`); a figure the run has not measured is null.
 */
export interface IRunSummaryFigures {
  /**
   * The epoch best.pt holds: the highest fitness (the epoch event's, else
   * YOLOv5's 0.1 × mAP@0.5 + 0.9 × mAP@0.5:0.95), the later one on a tie as
   * YOLOv5 saves it; null before an epoch with mAP.
   */
  bestEpoch: number | null;
  /** mAP@0.5 and mAP@0.5:0.95 of that epoch (the best.pt row, not each maximum). */
  bestMap50: number | null;
  bestMap: number | null;
  /** Epochs done, and planned (null when no event said). */
  epochsDone: number;
  epochsPlanned: number | null;
  /** The final validation (of best.pt) of a run that finished. */
  final: {
    precision: number;
    recall: number;
    map50: number;
    map: number;
  } | null;
  /**
   * Seconds the run ran: from each start to the last event before the next
   * (a resume's pause left out).
   */
  timeS: number | null;
  /** Median images/s of the batches, the first WARMUP_BATCHES left out. */
  imgsPerS: number | null;
  /** Weights paths, as the summary, end event, status or saves said. */
  weights: { best: string | null; last: string | null };
}

/** The plain data the summary figures come from (a `RunModel` gives it). */
export interface IRunSummaryInput {
  batches: readonly Pick<IBatchEvent, 'imgs_per_s'>[];
  epochs: readonly Pick<IEpochEvent, 'epoch' | 'epochs' | 'map50' | 'map'>[];
  summary: IRunSummaryEvent | null;
  weights: { best: string | null; last: string | null };
  timeS: number | null;
}

/** The median of the finite numbers above 0 in `values`; null without any. */
export function median(
  values: Iterable<number | null | undefined>
): number | null {
  const kept: number[] = [];
  for (const v of values) {
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) {
      kept.push(v);
    }
  }
  if (!kept.length) {
    return null;
  }
  kept.sort((a, b) => a - b);
  const mid = kept.length >> 1;
  return kept.length % 2 ? kept[mid] : (kept[mid - 1] + kept[mid]) / 2;
}

/** A run's summary figures from its events (pure; see IRunSummaryFigures). */
export function summarizeRun(run: IRunSummaryInput): IRunSummaryFigures {
  let best: IRunSummaryInput['epochs'][number] | null = null;
  let bestFitness = -Infinity;
  for (const e of run.epochs) {
    if (typeof e.map50 !== 'number' && typeof e.map !== 'number') {
      continue;
    }
    const given = (e as { fitness?: unknown }).fitness;
    const fitness =
      typeof given === 'number'
        ? given
        : FITNESS.map50 * (e.map50 ?? 0) + FITNESS.map * (e.map ?? 0);
    if (fitness >= bestFitness) {
      best = e;
      bestFitness = fitness;
    }
  }
  const last = run.epochs[run.epochs.length - 1];
  const measured =
    run.batches.length > WARMUP_BATCHES
      ? run.batches.slice(WARMUP_BATCHES)
      : run.batches;
  const summary = run.summary;
  return {
    bestEpoch: best ? best.epoch : null,
    bestMap50: best?.map50 ?? null,
    bestMap: best?.map ?? null,
    epochsDone: run.epochs.length,
    epochsPlanned: last?.epochs ?? null,
    final: summary
      ? {
          precision: summary.precision,
          recall: summary.recall,
          map50: summary.map50,
          map: summary.map
        }
      : null,
    timeS: run.timeS,
    imgsPerS: median(measured.map(b => b.imgs_per_s)),
    weights: {
      best: run.weights.best ?? summary?.best ?? null,
      last: run.weights.last ?? summary?.last ?? null
    }
  };
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
    return s === 'starting' || s === 'running';
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
