/**
 * The run view's summary: an ended run's figures as a table (best epoch,
 * mAP, the final validation, time, images/s, weights).
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { el } from '../dom';
import { formatDuration } from '../format';
import type { IRunSummaryFigures } from './summarize';

/** One row: its label, its value, and the weights file it names, if any. */
type Row = [string, Node | string, string?];

/** The rows of the table, in order. */
function summaryRows(
  figures: IRunSummaryFigures,
  trans: TranslationBundle
): Row[] {
  const fixed = (v: number | null, digits: number): string =>
    v === null ? '–' : v.toFixed(digits);
  const rows: Row[] = [];
  if (figures.bestEpoch !== null) {
    rows.push([
      trans.__('best epoch'),
      figures.epochsPlanned
        ? trans.__('%1 of %2', figures.bestEpoch + 1, figures.epochsPlanned)
        : String(figures.bestEpoch + 1)
    ]);
    rows.push([trans.__('mAP@0.5'), fixed(figures.bestMap50, 3)]);
    rows.push([trans.__('mAP@0.5:0.95'), fixed(figures.bestMap, 3)]);
  }
  const final = figures.final;
  if (final) {
    rows.push([
      trans.__('final validation'),
      trans.__(
        'P %1 · R %2 · mAP@0.5 %3 · mAP@0.5:0.95 %4',
        final.precision.toFixed(3),
        final.recall.toFixed(3),
        final.map50.toFixed(3),
        final.map.toFixed(3)
      )
    ]);
  }
  if (figures.timeS !== null) {
    rows.push([trans.__('time'), formatDuration(figures.timeS)]);
  }
  if (figures.imgsPerS !== null) {
    rows.push([
      trans.__('images/s'),
      trans.__('%1 (median)', figures.imgsPerS.toFixed(1))
    ]);
  }
  for (const [label, path] of [
    ['best.pt', figures.weights.best],
    ['last.pt', figures.weights.last]
  ] as const) {
    if (path) {
      rows.push([label, el('code', '', path), label]);
    }
  }
  return rows;
}

/**
 * The table's caption and body for an ended run of `status` (finished,
 * stopped, failed...).
 */
export function summaryContent(
  figures: IRunSummaryFigures,
  status: string,
  trans: TranslationBundle
): HTMLElement[] {
  const body = el('tbody');
  for (const [label, value, weight] of summaryRows(figures, trans)) {
    const th = el('th', '', label);
    th.scope = 'row';
    const tr = el('tr', weight ? 'yl-RunWeight' : '', th, el('td', '', value));
    if (weight) {
      // As the running view's weights list: found the same way.
      tr.dataset.weight = weight;
    }
    body.append(tr);
  }
  return [
    el(
      'caption',
      '',
      status === 'finished'
        ? trans.__('Run summary')
        : trans.__('Run summary (%1)', status)
    ),
    body
  ];
}
