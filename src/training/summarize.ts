/**
 * A run's summary figures from its events: the epoch best.pt holds and its
 * mAPs, the final validation, time, median images/s, weights. Pure; the
 * run model gives the events, the run view shows the figures as a table.
 */
import type { IBatchEvent, IEpochEvent, IRunSummaryEvent } from './types';

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
