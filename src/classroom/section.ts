/**
 * The Class section of the sidebar under JupyterHub: a teacher sees every
 * student's server and what each trains (images/s, GPU memory); everyone
 * sees their own share of the GPU.
 */
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import { el } from '../dom';
import { formatBytes } from '../format';
import type { ClassModel, IClassMember, IClassTraining } from './model';

/** The words for one training's progress, e.g. "exp3 · epoch 2/10". */
export function trainingText(
  t: IClassTraining,
  trans: TranslationBundle = nullTranslator.load('yolo_lab')
): string {
  if (t.epoch === null || t.epochs === null) {
    return trans.__('%1 · %2', t.name, t.status);
  }
  return trans.__('%1 · epoch %2/%3', t.name, t.epoch + 1, t.epochs);
}

/** The words for a share of each GPU's memory, e.g. "25 %". */
export function shareText(share: number): string {
  return `${Math.round(share * 100)} %`;
}

/** Options of a Class view. */
export interface IClassSectionOptions {
  /** Open the class in a main-area tab (a teacher's button); none: no button. */
  onOpen?: () => void;
}

/**
 * The Class section: re-renders when the model changes, reads only while
 * it is shown.
 */
export class ClassSection extends Widget {
  constructor(
    model: ClassModel,
    trans?: TranslationBundle,
    options: IClassSectionOptions = {}
  ) {
    super();
    this._model = model;
    this._trans = trans ?? nullTranslator.load('yolo_lab');
    this._onOpen = options.onOpen ?? null;
    this.addClass('yl-ClassSection');
    model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.changed.disconnect(this._render, this);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this._model.refresh();
  }

  private _render(): void {
    const trans = this._trans;
    const model = this._model;
    const parts: Node[] = [];
    if (model.role === 'unknown' && !model.error) {
      parts.push(el('p', 'yl-ClassSection-note', trans.__('Asking the Hub…')));
    }
    if (model.role !== 'unknown') {
      parts.push(this._share(model.share));
    }
    if (model.error) {
      const error = el('p', 'yl-ClassSection-error', model.error);
      error.setAttribute('role', 'alert');
      parts.push(error);
    }
    const view = model.view;
    if (model.role === 'teacher' && view) {
      const running = view.students.filter(s => s.server === 'ready').length;
      const trainings = view.students.reduce(
        (n, s) => n + s.trainings.length,
        0
      );
      parts.push(
        el(
          'p',
          'yl-ClassSection-summary',
          trans._n('%1 user', '%1 users', view.students.length),
          ' · ',
          trans._n('%1 server running', '%1 servers running', running),
          ' · ',
          trans._n('%1 training', '%1 trainings', trainings),
          ' · ',
          trans.__(
            'read at %1',
            new Date(view.time * 1000).toLocaleTimeString()
          )
        ),
        this._table(view.students)
      );
      if (this._onOpen) {
        const open = el(
          'button',
          'jp-Button jp-mod-styled jp-mod-reject yl-ClassSection-open',
          trans.__('Open the class in a tab')
        );
        open.type = 'button';
        open.addEventListener('click', () => this._onOpen?.());
        parts.push(open);
      }
    }
    this.node.replaceChildren(...parts);
  }

  private _share(share: number | null): HTMLElement {
    const trans = this._trans;
    if (share === null) {
      return el(
        'p',
        'yl-ClassSection-share',
        trans.__(
          'GPU share: none set; your trainings may use all the memory of the GPUs this server sees.'
        )
      );
    }
    return el(
      'p',
      'yl-ClassSection-share',
      el('strong', '', trans.__('Your GPU share: %1', shareText(share))),
      ' ',
      trans.__(
        "of each GPU's memory, set by your class's Hub. A training that needs more stops with CUDA out of memory: lower the batch size or the image size."
      )
    );
  }

  private _table(students: IClassMember[]): HTMLTableElement {
    const trans = this._trans;
    const head = el(
      'tr',
      '',
      ...[
        trans.__('User'),
        trans.__('Server'),
        trans.__('Training'),
        trans.__('Images/s'),
        trans.__('GPU memory')
      ].map(text => {
        const th = el('th', '', text);
        th.scope = 'col';
        return th;
      })
    );
    const rows: HTMLTableRowElement[] = [];
    for (const s of students) {
      const who = el('th', '', s.name);
      who.scope = 'row';
      if (s.admin) {
        who.append(' ', el('span', 'yl-ClassSection-tag', trans.__('teacher')));
      }
      const server = s.error
        ? el(
            'td',
            'yl-ClassSection-error',
            trans.__('%1: %2', s.server, s.error)
          )
        : el('td', '', this._serverText(s.server));
      const trainings = s.trainings.length ? s.trainings : [null];
      trainings.forEach((t, i) => {
        const row = el('tr', 'yl-ClassSection-row');
        row.dataset.user = s.name;
        if (i === 0) {
          who.rowSpan = trainings.length;
          server.rowSpan = trainings.length;
          row.append(who, server);
        }
        if (t === null) {
          row.append(el('td', 'yl-ClassSection-none', '—'), el('td'), el('td'));
        } else {
          row.append(
            el('td', '', trainingText(t, trans)),
            el(
              'td',
              'yl-ClassSection-number',
              t.imgs_per_s === null ? '—' : t.imgs_per_s.toFixed(1)
            ),
            el(
              'td',
              'yl-ClassSection-number',
              t.gpu_mem_bytes === null ? '—' : formatBytes(t.gpu_mem_bytes)
            )
          );
        }
        rows.push(row);
      });
    }
    const table = el(
      'table',
      'yl-ClassSection-table',
      el('thead', '', head),
      el('tbody', '', ...rows)
    );
    table.setAttribute('aria-label', trans.__('The class'));
    return table;
  }

  private _serverText(state: string): string {
    const trans = this._trans;
    switch (state) {
      case 'ready':
        return trans.__('running');
      case 'stopped':
        return trans.__('stopped');
      case 'spawn':
        return trans.__('starting');
      case 'stop':
        return trans.__('stopping');
      default:
        return state;
    }
  }

  private _model: ClassModel;
  private _trans: TranslationBundle;
  private _onOpen: (() => void) | null;
}
