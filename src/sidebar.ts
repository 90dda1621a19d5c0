/**
 * The yolo-lab sidebar: one panel on the right, each feature adding its
 * section at its rank.
 */
import type { ITranslator } from '@jupyterlab/translation';
import { SidePanel } from '@jupyterlab/ui-components';
import { Token } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';
import { yoloLabIcon } from './icons';

/** The id of the sidebar panel (kept: the layout restorer knows it). */
export const SIDEBAR_ID = 'yolo-lab-panel';

/** The sidebar, to which features add their sections. */
export interface ISidebar {
  /** The panel's id, to activate it. */
  readonly id: string;
  /** Add a section; lower ranks sit higher. */
  addSection(section: Widget, rank: number): void;
  /** Add a button to the panel's toolbar. */
  addButton(name: string, button: Widget): void;
}

/** The sidebar token. Provided by `yolo-lab:panel`. */
export const ISidebar = new Token<ISidebar>(
  'yolo-lab:ISidebar',
  'The yolo-lab sidebar; features add their sections to it.'
);

/**
 * The yolo-lab side panel, its sections kept in rank order.
 */
export class Sidebar extends SidePanel implements ISidebar {
  constructor(translator: ITranslator) {
    super({ translator });
    const trans = translator.load('yolo_lab');
    this.id = SIDEBAR_ID;
    this.title.icon = yoloLabIcon;
    this.title.caption = trans.__('yolo-lab: GPU environment');
    this.node.setAttribute('aria-label', trans.__('yolo-lab panel'));
    this.addClass('yl-Panel');
    const heading = document.createElement('h2');
    heading.className = 'yl-Panel-title';
    heading.textContent = trans.__('yolo-lab');
    this.header.addWidget(new Widget({ node: heading }));
  }

  addSection(section: Widget, rank: number): void {
    const index = this._ranks.findIndex(r => r > rank);
    const at = index === -1 ? this._ranks.length : index;
    this._ranks.splice(at, 0, rank);
    this.content.insertWidget(at, section);
  }

  addButton(name: string, button: Widget): void {
    this.toolbar.addItem(name, button);
  }

  private _ranks: number[] = [];
}
