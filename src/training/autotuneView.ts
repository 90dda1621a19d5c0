/**
 * An autotune's notebook output (MIME application/vnd.yolo-lab.autotune+json):
 * the probes as a table that fills in while the search runs, the fastest
 * settings, and a button that puts them in the training form. Loaded with
 * the first autotune output (plugin.ts), not with the page.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { el } from '../dom';
import type { AutotuneRow, AutotuneSettings } from '../protocol.generated';
import { applyButton } from './applyButton';
import {
  AUTOTUNE_MIME,
  autotuneEnded,
  autotuneFormValues,
  type IAutotune,
  type IAutotuneViewOptions,
  settingsText
} from './autotune';

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
