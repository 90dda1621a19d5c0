/**
 * Where a run's points sit on the run figure's epoch axis.
 *
 * Every point sits at the end of the work it measures, in epochs done:
 * batch `b` (0-based) of `B` in epoch `e` at `e + (b + 1) / B`, an epoch's
 * figures (mAP, validation losses) at `e + 1`, so the last batch of an epoch
 * and its mAP share an x, and "epoch N" (1-based, as people and YOLOv5's log
 * count) spans x in (N - 1, N]. yolo_lab.compare.plot_runs places them the
 * same way. Telemetry, timed by the clock and not by the batches, is placed
 * by linear interpolation between the ends of the batches around it;
 * samples before the first batch or after the last one (setup, the final
 * validation) have no place on that axis and are left out.
 */
import type { IBatchEvent, IEpochEvent } from './types';

/** Where a batch sits on the epoch axis: its end, in epochs done. */
export function batchPosition(
  b: Pick<IBatchEvent, 'epoch' | 'batch' | 'batches'>
): number {
  return b.epoch + (b.batch + 1) / (b.batches || 1);
}

/** Where an epoch's figures sit on the epoch axis: the epoch's end. */
export function epochPosition(e: Pick<IEpochEvent, 'epoch'>): number {
  return e.epoch + 1;
}

/**
 * A run's clock read in epochs, from its batches (in time order): for a
 * time, the batch in progress (the first to end at or after it) and the
 * place on the epoch axis interpolated between the batch ends around it.
 */
export interface IEpochClock {
  /**
   * The place of time `t` (seconds) on the epoch axis; null before the first
   * batch's end, after the last one's, or across a resume (where the
   * positions step back).
   */
  position(t: number): number | null;
  /**
   * The epoch (1-based) running at time `t`: that of the batch in progress,
   * or of the last batch after it (its validation); null before any batch.
   */
  epoch(t: number): number | null;
}

/** The epoch clock of batches with end times `t` and positions `x`. */
export function epochClock(
  batches: readonly Pick<IBatchEvent, 't' | 'epoch' | 'batch' | 'batches'>[]
): IEpochClock {
  const n = batches.length;
  /** The first batch ending at or after t (n if none). */
  const next = (t: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (batches[mid].t < t) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  };
  return {
    position: t => {
      const i = next(t);
      if (i >= n || (i === 0 && batches[0].t !== t)) {
        return null;
      }
      const after = batchPosition(batches[i]);
      if (batches[i].t === t) {
        return after;
      }
      const before = batchPosition(batches[i - 1]);
      if (after < before) {
        return null;
      }
      const t0 = batches[i - 1].t;
      return before + ((after - before) * (t - t0)) / (batches[i].t - t0);
    },
    epoch: t => {
      if (n === 0 || t < batches[0].t) {
        return null;
      }
      return batches[Math.min(next(t), n - 1)].epoch + 1;
    }
  };
}
