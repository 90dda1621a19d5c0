/**
 * An autotune's notebook output (MIME application/vnd.yolo-lab.autotune+json):
 * the probes as a table that fills in while the search runs, the fastest
 * settings, and a button that puts them in the training form.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { el } from '../dom';
import { applyButton } from './applyButton';
import type { ISchemaCheck } from '../protocol';
import {
  AUTOTUNE_MIME,
  type AutotuneDisplay,
  type AutotuneRow,
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

/** The autotune output: a table of probes and the winner. */
export class AutotuneView extends Widget implements IRenderMime.IRenderer {
  constructor(options: IAutotuneViewOptions) {
    super();
    this._options = options;
    this._trans = options.trans ?? nullTranslator.load('yolo_lab');
    this.addClass('yl-AutotuneView');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[AUTOTUNE_MIME];
    const check = await this._options.check();
    if (!check(data)) {
      this.node.replaceChildren(
        el(
          'p',
          'yl-Problem',
          this._trans.__(
            'This autotune output does not match the protocol schema; re-run the cell with the same yolo-lab version in the kernel and in JupyterLab.'
          )
        )
      );
      return;
    }
    this._render(data as unknown as IAutotune);
  }

  private _render(data: IAutotune): void {
    const trans = this._trans;
    const amp = data.device !== 'cpu' || (data.space?.amp?.length ?? 0) > 1;
    const heads = [
      '#',
      trans.__('batch'),
      trans.__('workers'),
      trans.__('cache'),
      ...(amp ? [trans.__('AMP')] : []),
      trans.__('images/s'),
      trans.__('vs defaults'),
      trans.__('seconds')
    ];
    const winner = bestRow(data.rows);
    const base = data.defaults_imgs_per_s ?? null;
    const knobs = (s: AutotuneSettings): string[] => [
      String(s.batch_size),
      String(s.workers),
      s.cache ?? 'none',
      ...(amp ? [s.amp ? trans.__('on') : trans.__('off')] : [])
    ];
    const rows = data.rows.map(row => {
      const ips = measured(row) ? row.imgs_per_s : null;
      const tr = el('tr');
      if (row === winner) {
        tr.classList.add('yl-mod-fastest');
      }
      if (sameSettings(row.settings, data.defaults)) {
        tr.classList.add('yl-mod-defaults');
      }
      const cells = [
        String(row.probe),
        ...knobs(row.settings),
        ips !== null ? ips.toFixed(1) : (row.error ?? '-'),
        ips !== null && base ? `${(ips / base).toFixed(2)}×` : '',
        row.seconds.toFixed(0)
      ];
      tr.append(...cells.map(text => el('td', '', text)));
      return tr;
    });
    if (data.probing) {
      const tr = el('tr', 'yl-Autotune-pending');
      const cells = [
        String(data.rows.length + 1),
        ...knobs(data.probing),
        trans.__('probing…'),
        '',
        ''
      ];
      tr.append(...cells.map(text => el('td', '', text)));
      rows.push(tr);
    }
    const table = el(
      'table',
      'yl-AutotuneTable',
      el('thead', '', el('tr', '', ...heads.map(h => el('th', '', h)))),
      el('tbody', '', ...rows)
    );
    table.setAttribute(
      'aria-label',
      trans.__('Autotune probes on %1', data.device)
    );
    const title = el(
      'p',
      'yl-AutotuneTitle',
      trans.__(
        'Autotune on %1 at image size %2: %3 probes in %4 s (budget %5 s), %6.',
        data.device,
        data.imgsz,
        data.rows.length,
        Math.round(data.seconds),
        Math.round(data.budget_s),
        data.ended
      )
    );
    const summary = el('p', 'yl-AutotuneSummary', this._headline(data));
    const children: Node[] = [title, table, summary];
    const apply = this._options.applyForm;
    const form = autotuneFormValues(data);
    if (apply && form && autotuneEnded(data)) {
      children.push(
        applyButton(
          trans,
          'jp-mod-styled jp-mod-accept yl-AutotuneApply',
          form,
          apply
        )
      );
    }
    this.node.replaceChildren(...children);
  }

  private _headline(data: IAutotune): string {
    const trans = this._trans;
    const w = data.winner;
    if (!w) {
      return autotuneEnded(data)
        ? trans.__('No probe was measured: see the rows’ errors.')
        : trans.__('Probing: the table fills in as each probe ends.');
    }
    const settings = settingsText(trans, w);
    const speed = (data.imgs_per_s ?? 0).toFixed(1);
    const lead = autotuneEnded(data)
      ? trans.__('Fastest: %1, %2 images/s', settings, speed)
      : trans.__('Fastest so far: %1, %2 images/s', settings, speed);
    return data.speedup
      ? trans.__('%1 (%2× the defaults).', lead, data.speedup.toFixed(2))
      : `${lead}.`;
  }

  private _options: IAutotuneViewOptions;
  private _trans: TranslationBundle;
}

function measured(
  row: AutotuneRow
): row is AutotuneRow & { imgs_per_s: number } {
  return typeof row.imgs_per_s === 'number' && row.imgs_per_s > 0 && !row.error;
}

function bestRow(rows: AutotuneRow[]): AutotuneRow | null {
  let best: AutotuneRow | null = null;
  for (const row of rows) {
    if (measured(row) && (!best || row.imgs_per_s! > best.imgs_per_s!)) {
      best = row;
    }
  }
  return best;
}

function sameSettings(a: AutotuneSettings, b: AutotuneSettings): boolean {
  return (
    a.batch_size === b.batch_size &&
    a.workers === b.workers &&
    (a.cache ?? null) === (b.cache ?? null) &&
    a.amp === b.amp
  );
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

function settingsText(trans: TranslationBundle, s: AutotuneSettings): string {
  return trans.__(
    'batch %1, %2 workers, cache %3, AMP %4',
    s.batch_size,
    s.workers,
    s.cache ?? 'none',
    s.amp ? trans.__('on') : trans.__('off')
  );
}
