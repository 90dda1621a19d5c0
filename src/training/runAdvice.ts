/**
 * The run view's advice: the advisor's verdicts on why the run is slow, each
 * with what it saw, the fix, the gain, and a button that applies the fix to
 * the training form.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { el } from '../dom';
import type { FormFix } from '../protocol.generated';
import { applyButton } from './applyButton';
import type { IRunVerdict } from './types';

/**
 * The list items of `advice`; without `apply`, the fix is shown as text
 * only.
 */
export function verdictItems(
  advice: readonly IRunVerdict[],
  trans: TranslationBundle,
  apply?: (form: FormFix) => void
): HTMLLIElement[] {
  return advice.map(verdict => {
    const li = el('li', 'yl-RunVerdict');
    li.dataset.code = verdict.code;
    li.append(
      el('strong', 'yl-VerdictTitle', verdictTitle(verdict.code, trans)),
      el(
        'span',
        'yl-VerdictText',
        ' ' +
          trans.__(
            'Saw: %1. Fix: %2. Expect: %3.',
            verdict.saw,
            verdict.fix,
            verdict.gain
          )
      )
    );
    if (verdict.form && apply) {
      li.append(
        applyButton(
          trans,
          'jp-mod-minimal yl-VerdictApply',
          verdict.form,
          apply
        )
      );
    }
    return li;
  });
}

/** A verdict's title: what limits the run, in a few words. */
function verdictTitle(code: string, trans: TranslationBundle): string {
  switch (code) {
    case 'data_bound':
      return trans.__('Waiting for data.');
    case 'shared_memory':
      return trans.__('Shared memory is small.');
    case 'cpu_bound':
      return trans.__('Computing on the CPU.');
    case 'gpu_bound':
      return trans.__('The GPU is the limit.');
    case 'throttled':
      return trans.__('The GPU is slowed down (heat or power).');
    case 'shared_gpu':
      return trans.__('Another process uses this GPU.');
    default:
      return `${code}.`;
  }
}
