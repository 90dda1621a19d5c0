/**
 * An autotune's results as the panel reads them: whether it ended, its
 * winner as the form's values, what the panel says of it. Its notebook
 * output (the table, autotuneView.ts) loads with the first one shown.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import type { ISchemaCheck } from '../protocol';
import {
  AUTOTUNE_MIME,
  type AutotuneDisplay,
  type AutotuneSettings,
  type FormFix
} from '../protocol.generated';

export { AUTOTUNE_MIME };

/** An autotune's output data (definitions/autotune_display). */
export type IAutotune = AutotuneDisplay;

/** Options of the autotune output. */
export interface IAutotuneViewOptions {
  /** The schema check of the output's data. */
  check: () => Promise<ISchemaCheck>;
  /** Put the winner's values in the training form (absent: no button). */
  applyForm?: (form: FormFix) => void;
  trans?: TranslationBundle;
}

/** Whether the search is over (a winner, if any, is final). */
export function autotuneEnded(data: IAutotune): boolean {
  return data.ended !== 'running';
}

/**
 * The winner as the training form's values, to put in the form: AMP only
 * when the search compared it on and off (on the CPU it tries off alone,
 * which says nothing against the form's automatic choice). Null: no winner.
 */
export function autotuneFormValues(data: IAutotune): FormFix | null {
  if (!data.form) {
    return null;
  }
  if ((data.space?.amp?.length ?? 0) > 1) {
    return data.form;
  }
  const rest = { ...data.form };
  delete rest.amp;
  return rest;
}

/**
 * The autotune data among a cell's output bundles (the last one: updates
 * replace it in place), or null.
 */
export function findAutotune(
  outputs: ReadonlyArray<Readonly<Record<string, unknown>>>
): IAutotune | null {
  for (let i = outputs.length - 1; i >= 0; i--) {
    const data = outputs[i][AUTOTUNE_MIME];
    if (typeof data === 'object' && data !== null) {
      return data as IAutotune;
    }
  }
  return null;
}

/**
 * What the panel says when an autotune it started ends: the winner now in
 * the form, or why the form was left as it was.
 */
export function autotuneOutcome(
  trans: TranslationBundle,
  result: IAutotune | null,
  applied: boolean
): string {
  if (!result) {
    return trans.__('Autotune showed no table: see the cell for why.');
  }
  const w = result.winner;
  if (!w) {
    return trans.__('Autotune measured no setting: see the table’s errors.');
  }
  const settings = settingsText(trans, w);
  const gain = result.speedup
    ? trans.__(' (%1× the defaults)', result.speedup.toFixed(2))
    : '';
  return applied
    ? trans.__('Autotune: the form now holds %1%2.', settings, gain)
    : trans.__(
        'Autotune found %1%2; another notebook is open now, so its form was left as it was: use "Apply to the form" under the table.',
        settings,
        gain
      );
}

export function settingsText(
  trans: TranslationBundle,
  s: AutotuneSettings
): string {
  return trans.__(
    'batch %1, %2 workers, cache %3, AMP %4',
    s.batch_size,
    s.workers,
    s.cache ?? 'none',
    s.amp ? trans.__('on') : trans.__('off')
  );
}
