/**
 * The Training section's runs: the live detached runs (from the Jupyter
 * server, whatever their folder) and the runs of the form's runs folder
 * (through the kernel), each with Open, and Stop for a detached one.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { el } from '../dom';
import type { TrainingController } from './controller';
import type { IDetachedRun } from './detached';
import type { IRunSummary } from './types';

/** Options of the runs list. */
export interface IRunsListOptions {
  controller: TrainingController;
  trans: TranslationBundle;
  /** The live detached runs. */
  listDetached: () => Promise<IDetachedRun[]>;
  /** Stop a detached run. */
  stopDetached: (run: string) => Promise<void>;
  /** Run an action of the section, saying why it failed. */
  act: (action: () => Promise<void>) => Promise<void>;
  /** The section's message line, shown in the list's head. */
  message: HTMLElement;
}

/** The list's head (title, Refresh, the message) and the list (`node`). */
export class RunsList {
  constructor(options: IRunsListOptions) {
    this._options = options;
    const trans = options.trans;
    const refresh = el(
      'button',
      'jp-Button jp-mod-minimal yl-RunsRefresh',
      trans.__('Refresh')
    );
    refresh.type = 'button';
    refresh.addEventListener('click', () => void this.refresh());
    this.head.append(
      el('h3', 'yl-SectionTitle', trans.__('Runs')),
      refresh,
      options.message
    );
  }

  /** The title, the Refresh button and the section's message line. */
  readonly head = el('div', 'yl-RunsHead');
  /** The runs. */
  readonly node = el('ul', 'yl-Runs');

  /** List the runs again. */
  async refresh(): Promise<void> {
    const { controller, trans } = this._options;
    const [local, detached] = await Promise.all([
      controller.listRuns().then(
        runs => ({ runs, error: null }),
        (reason: unknown) => ({
          runs: [] as IRunSummary[],
          error: String(reason)
        })
      ),
      // Without the server extension there are no detached runs to show.
      this._options.listDetached().catch(() => [] as IDetachedRun[])
    ]);
    const live = new Set(detached.map(run => run.run));
    const runs: IRunSummary[] = [
      ...detached,
      ...local.runs.filter(run => !live.has(run.run))
    ];
    if (!runs.length) {
      this.node.replaceChildren(
        el(
          'li',
          'yl-RunsEmpty',
          local.error ??
            trans.__('No runs in %1 yet.', controller.form.form.project)
        )
      );
      return;
    }
    this.node.replaceChildren(
      ...runs.map(run => this._item(run, live.has(run.run)))
    );
  }

  private _item(run: IRunSummary, detached: boolean): HTMLLIElement {
    const { controller, trans, act } = this._options;
    const li = el('li', 'yl-RunItem');
    li.dataset.run = run.run;
    li.dataset.status = run.status;
    li.dataset.detached = String(detached);
    const metric =
      run.map50 !== null && run.map50 !== undefined
        ? ` · ${trans.__('mAP@0.5 %1', run.map50.toFixed(3))}`
        : '';
    const progress =
      run.epochs !== null && run.epochs !== undefined
        ? trans.__('%1/%2 epochs', run.epochs_done, run.epochs)
        : trans.__('%1 epoch(s)', run.epochs_done);
    const kept = detached ? ` · ${trans.__('detached')}` : '';
    const open = el(
      'button',
      'jp-Button jp-mod-minimal yl-RunOpen',
      trans.__('Open')
    );
    open.type = 'button';
    open.title = trans.__('Show %1', run.run);
    open.setAttribute('aria-label', trans.__('Open %1', run.name));
    open.addEventListener(
      'click',
      () => void act(() => controller.open(run.run))
    );
    li.append(
      el('span', 'yl-RunName', run.name),
      el('span', 'yl-RunMeta', ` ${run.status} · ${progress}${metric}${kept}`),
      open
    );
    if (detached) {
      const stop = el(
        'button',
        'jp-Button jp-mod-minimal yl-RunStop',
        trans.__('Stop')
      );
      stop.type = 'button';
      stop.title = trans.__(
        'Stop %1 after its current batch (last.pt is saved)',
        run.name
      );
      stop.setAttribute('aria-label', trans.__('Stop %1', run.name));
      stop.addEventListener(
        'click',
        () =>
          void act(async () => {
            await this._options.stopDetached(run.run);
            await this.refresh();
          })
      );
      li.append(stop);
    }
    return li;
  }

  private _options: IRunsListOptions;
}
