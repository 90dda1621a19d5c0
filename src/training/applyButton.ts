/**
 * "Apply to the form": the button a speed verdict and autotune's winner
 * both show, titled with the values it sets.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { el } from '../dom';
import type { FormFix } from '../protocol.generated';

/** A button that sets `fix` in the training form through `apply`. */
export function applyButton(
  trans: TranslationBundle,
  className: string,
  fix: FormFix,
  apply: (fix: FormFix) => void
): HTMLButtonElement {
  const button = el(
    'button',
    `jp-Button ${className}`,
    trans.__('Apply to the form')
  );
  button.type = 'button';
  button.title = trans.__(
    'Set %1 in the training form',
    Object.entries(fix)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(', ')
  );
  button.addEventListener('click', () => apply(fix));
  return button;
}
