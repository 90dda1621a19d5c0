/**
 * The chart labels in the user's language.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { DEFAULT_CHART_LABELS, type IChartLabels } from './chart';

/** Every chart label through the translator. */
export function chartLabels(trans: TranslationBundle): IChartLabels {
  const labels = { ...DEFAULT_CHART_LABELS };
  for (const key of Object.keys(labels) as Array<keyof IChartLabels>) {
    labels[key] = trans.__(labels[key]);
  }
  return labels;
}
