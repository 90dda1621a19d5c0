/**
 * The run view's lines of text: the progress line (epoch, batch, ETA,
 * images/s, mAP), the details line (device, DDP, batch, AMP, image size,
 * notices), the problem (what failed, what to do, the traceback) and the
 * weights of a running run.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { el } from '../dom';
import { formatDuration } from '../format';
import type { IRunError, RunModel } from './model';
import type { IRunDisplay, IRunStatus } from './types';

/** What failed in a run, and what to do. */
export interface IRunProblem {
  message: string;
  fix: string;
}

/** Where the run is: epoch, batch, ETA, the last images/s and mAP@0.5. */
export function progressText(
  model: RunModel,
  trans: TranslationBundle
): string {
  const progress = model.progress();
  const parts: string[] = [];
  if (progress) {
    parts.push(
      trans.__('epoch %1/%2', progress.epoch + 1, progress.epochs),
      trans.__('batch %1/%2', progress.batch + 1, progress.batches)
    );
    if (progress.etaS !== null) {
      parts.push(trans.__('ETA %1', formatDuration(progress.etaS)));
    }
  }
  const last = model.batches[model.batches.length - 1];
  if (last?.imgs_per_s) {
    parts.push(trans.__('%1 img/s', last.imgs_per_s.toFixed(1)));
  }
  const epoch = model.epochs[model.epochs.length - 1];
  if (epoch?.map50 !== null && epoch?.map50 !== undefined) {
    parts.push(trans.__('mAP@0.5 %1', epoch.map50.toFixed(3)));
  }
  return parts.join(' · ');
}

/**
 * Where a run on Slurm is: its job waiting in the queue and why, or the
 * nodes it runs on and the time left; null for a run on this machine.
 */
export function slurmText(
  status: IRunStatus,
  trans: TranslationBundle
): string | null {
  const slurm = status.slurm;
  if (!slurm) {
    return null;
  }
  const job = slurm.job
    ? trans.__('Slurm job %1', slurm.job)
    : trans.__('Slurm job (submitting)');
  const parts = [job];
  if (status.status === 'pending') {
    parts.push(
      slurm.reason
        ? trans.__('waiting in the queue (%1)', slurm.reason)
        : trans.__('waiting in the queue')
    );
  } else if (slurm.nodes?.length) {
    parts.push(trans.__('on %1', slurm.nodes.join(', ')));
    if (typeof slurm.time_left_s === 'number') {
      parts.push(trans.__('%1 left', formatDuration(slurm.time_left_s)));
    }
  }
  if (slurm.restarts) {
    parts.push(trans._n('requeued once', 'requeued %1 times', slurm.restarts));
  }
  if (slurm.error) {
    parts.push(trans.__('Slurm does not answer: %1', slurm.error));
  }
  return parts.join(' · ');
}

/**
 * A run's device for people: "cpu", "cuda:0", or a DDP run's
 * "cuda:0, cuda:1" (the spec holds ["cpu"] or CUDA indices; older runs
 * held the names themselves).
 */
export function deviceText(device: unknown): string {
  if (!Array.isArray(device)) {
    return String(device);
  }
  return device
    .map(d => (typeof d === 'number' ? `cuda:${d}` : String(d)))
    .join(', ');
}

/**
 * How the run trains: device, DDP, batch size (and autobatch's), AMP,
 * image size, and the run's notices.
 */
export function detailText(
  model: RunModel,
  display: IRunDisplay,
  trans: TranslationBundle
): string {
  const params = (model.start?.params ?? display.params ?? {}) as Record<
    string,
    unknown
  >;
  const details: string[] = [];
  const slurm = slurmText(model.status, trans);
  if (slurm) {
    details.push(slurm);
  }
  if (params.device !== undefined) {
    details.push(trans.__('device %1', deviceText(params.device)));
  }
  const world = Number(model.start?.world_size ?? 1);
  if (world > 1) {
    // CPU DDP is yolo-lab's own (gloo, gradients averaged per parameter);
    // it must never read as GPU DDP.
    details.push(
      model.start?.ddp === 'cpu-gloo'
        ? trans.__('DDP on the CPU: %1 processes (gloo; not GPU DDP)', world)
        : trans.__('DDP: %1 GPUs', world)
    );
  }
  if (params.batch_size !== undefined) {
    details.push(
      model.autobatch !== null
        ? trans.__(
            'batch %1 → %2 (autobatch)',
            params.batch_size,
            model.autobatch
          )
        : trans.__('batch %1', params.batch_size)
    );
  }
  if (model.amp) {
    const { enabled, requested, reason } = model.amp;
    const state = enabled ? trans.__('on') : trans.__('off');
    details.push(
      requested === null
        ? trans.__('AMP automatic: %1 (%2)', state, reason)
        : trans.__('AMP %1 (%2)', state, reason)
    );
  }
  if (params.imgsz !== undefined) {
    details.push(trans.__('%1 px', params.imgsz));
  }
  for (const notice of model.notices) {
    details.push(notice);
  }
  return details.join(' · ');
}

/**
 * What failed: the run's error, or the message of a failed run or of one
 * whose status is unknown; null otherwise.
 */
export function runProblem(
  model: RunModel,
  status: string
): IRunProblem | null {
  if (model.error) {
    return model.error;
  }
  if ((status === 'failed' || status === 'unknown') && model.status.message) {
    return { message: model.status.message, fix: model.status.fix ?? '' };
  }
  return null;
}

/** The problem box's content: the message, what to do, the traceback. */
export function problemNodes(
  problem: IRunProblem,
  error: IRunError | null,
  trans: TranslationBundle
): HTMLElement[] {
  const nodes: HTMLElement[] = [
    el('div', 'yl-RunProblemText', problem.message),
    el(
      'div',
      'yl-RunProblemFix',
      problem.fix ? trans.__('What to do: %1', problem.fix) : ''
    )
  ];
  const traceback = error?.traceback;
  if (traceback) {
    const details = el('details', 'yl-RunTraceback');
    const rank = error?.rank;
    details.append(
      el(
        'summary',
        '',
        typeof rank === 'number'
          ? trans.__('Traceback of rank %1', rank)
          : trans.__('Traceback')
      ),
      el('pre', '', traceback)
    );
    nodes.push(details);
  }
  return nodes;
}

/** A running run's weights: last.pt (after each epoch), then best.pt. */
export function weightItems(weights: {
  last: string | null;
  best: string | null;
}): HTMLLIElement[] {
  const items: HTMLLIElement[] = [];
  for (const [label, path] of [
    ['last.pt', weights.last],
    ['best.pt', weights.best]
  ] as const) {
    if (path) {
      const li = el('li', 'yl-RunWeight');
      li.dataset.weight = label;
      li.append(el('strong', '', `${label}: `), el('code', '', path));
      items.push(li);
    }
  }
  return items;
}
