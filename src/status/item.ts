/**
 * The status bar item: shows the status model's text; a click (or Enter,
 * Space) opens the yolo-lab panel.
 */
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { yoloLabIcon } from '../icons';
import { el } from '../dom';
import type { StatusModel } from './model';

/** Options of the status item. */
export interface IStatusItemOptions {
  /** Open the yolo-lab panel. */
  onClick: () => void;
  /** The user's language (English without one). */
  trans?: TranslationBundle;
}

/**
 * The kernel's GPU use and the current run's epoch, in the status bar.
 */
export class StatusItem extends Widget {
  constructor(model: StatusModel, options: IStatusItemOptions) {
    super();
    this._model = model;
    this._trans = options.trans ?? nullTranslator.load('yolo_lab');
    this.addClass('yl-StatusItem');
    // The status bar's own look for clickable items.
    this.addClass('jp-mod-highlighted');
    this.node.setAttribute('role', 'button');
    this.node.tabIndex = 0;
    const icon = el('span', 'yl-StatusItem-icon');
    icon.setAttribute('aria-hidden', 'true');
    yoloLabIcon.element({ container: icon, height: '14px', width: '14px' });
    this._text = el('span', 'jp-StatusBar-TextItem yl-StatusItem-text');
    this.node.append(icon, this._text);
    this.node.addEventListener('click', options.onClick);
    this.node.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        options.onClick();
      }
    });
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

  private _render(): void {
    const model = this._model;
    this._text.textContent = model.text;
    this.node.title = model.tooltip;
    this.node.setAttribute(
      'aria-label',
      this._trans.__('yolo-lab: %1. Open the yolo-lab panel.', model.text)
    );
    this.node.classList.toggle('jp-mod-running', model.run !== null);
  }

  private _model: StatusModel;
  private _trans: TranslationBundle;
  private _text: HTMLSpanElement;
}
