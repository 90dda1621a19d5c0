/**
 * The yolo-lab sidebar: one panel on the right, each feature adding its
 * section at its rank.
 */
import type { IStateDB } from '@jupyterlab/statedb';
import type { ITranslator } from '@jupyterlab/translation';
import { SidePanel } from '@jupyterlab/ui-components';
import { Token } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';
import type { Message } from '@lumino/messaging';
import { AccordionPanel, Widget } from '@lumino/widgets';
import { yoloLabIcon } from './icons';

/**
 * Each section's share of the panel's height: the training form gets the
 * most (its buttons stay in view), the telemetry chart enough to read, the
 * kernel picker and the environment's summary line little.
 */
export const SECTION_SIZES = {
  kernel: 1,
  environment: 1.5,
  telemetry: 3,
  training: 5,
  classroom: 2
};

/** Where the closed sections are remembered (JupyterLab's state database). */
export const SECTIONS_STATE_KEY = 'yolo-lab:panel-sections';

/** What keyboard focus can land on, in document order. */
const FOCUSABLE =
  'input:not([disabled]), select:not([disabled]), button:not([disabled]), summary, [tabindex="0"]';

/** The id of the sidebar panel (kept: the layout restorer knows it). */
export const SIDEBAR_ID = 'yolo-lab-panel';

/** The sidebar, to which features add their sections. */
export interface ISidebar {
  /** The panel's id, to activate it. */
  readonly id: string;
  /** Whether the panel is shown now. */
  readonly isVisible: boolean;
  /**
   * Add a section; lower ranks sit higher. `size` is its share of the
   * panel's height against the other sections' (default 1); the section's
   * `id` names it in the remembered open/closed state.
   */
  addSection(section: Widget, rank: number, size?: number): void;
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
    // A named region: a name alone is not allowed on a plain div.
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', trans.__('yolo-lab panel'));
    this.addClass('yl-Panel');
    const heading = document.createElement('h2');
    heading.className = 'yl-Panel-title';
    heading.textContent = trans.__('yolo-lab');
    this.header.addWidget(new Widget({ node: heading }));
    this._accordion?.expansionToggled.connect(this._onToggled, this);
  }

  addSection(section: Widget, rank: number, size = 1): void {
    const index = this._ranks.findIndex(r => r > rank);
    const at = index === -1 ? this._ranks.length : index;
    this._ranks.splice(at, 0, rank);
    this._sizes.splice(at, 0, size);
    this.content.insertWidget(at, section);
    const accordion = this._accordion;
    if (accordion) {
      accordion.setRelativeSizes(this._sizes);
      if (section.id && this._collapsed.has(section.id)) {
        accordion.collapse(at);
      }
    }
  }

  /**
   * Activated (its tab, a command): keyboard focus goes into the panel, to
   * its first section's first control, unless it is there already.
   */
  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    const focus = (): void => {
      if (this.isVisible && !this.node.contains(document.activeElement)) {
        const first = this.content.node.querySelector<HTMLElement>(FOCUSABLE);
        (first ?? this.node).focus();
      }
    };
    focus();
    // The command palette, closing after the command that opened the
    // panel, gives focus back to the notebook: take it once more.
    requestAnimationFrame(focus);
  }

  addButton(name: string, button: Widget): void {
    this.toolbar.addItem(name, button);
  }

  /** The ids of the sections the user closed. */
  get collapsed(): string[] {
    return [...this._collapsed];
  }

  /** Emits when the user opens or closes a section. */
  get collapsedChanged(): ISignal<this, string[]> {
    return this._collapsedChanged;
  }

  /** Close the sections with these ids (a saved state), now and when added. */
  restoreCollapsed(ids: readonly string[]): void {
    this._collapsed = new Set(ids);
    const accordion = this._accordion;
    accordion?.widgets.forEach((widget, i) => {
      const closed = widget.id !== '' && this._collapsed.has(widget.id);
      if (closed && !widget.isHidden) {
        accordion.collapse(i);
      } else if (!closed && widget.isHidden) {
        accordion.expand(i);
      }
    });
  }

  private get _accordion(): AccordionPanel | null {
    return this.content instanceof AccordionPanel ? this.content : null;
  }

  private _onToggled(accordion: AccordionPanel, index: number): void {
    const widget = accordion.widgets[index];
    if (!widget?.id) {
      return;
    }
    if (widget.isHidden) {
      this._collapsed.add(widget.id);
    } else {
      this._collapsed.delete(widget.id);
    }
    this._collapsedChanged.emit(this.collapsed);
  }

  private _sizes: number[] = [];
  private _collapsed = new Set<string>();
  private _collapsedChanged = new Signal<this, string[]>(this);
  private _ranks: number[] = [];
}

/** Restore the closed sections from `state` and save each change there. */
export function rememberSections(
  sidebar: Sidebar,
  state: IStateDB | null
): void {
  if (!state) {
    return;
  }
  void state
    .fetch(SECTIONS_STATE_KEY)
    .then(value => {
      const saved = (value as { collapsed?: unknown } | undefined)?.collapsed;
      if (Array.isArray(saved)) {
        sidebar.restoreCollapsed(
          saved.filter((id): id is string => typeof id === 'string')
        );
      }
    })
    .catch(reason =>
      console.warn('yolo-lab: the panel sections were not restored', reason)
    )
    .then(() =>
      sidebar.collapsedChanged.connect((_, collapsed) => {
        void state.save(SECTIONS_STATE_KEY, { collapsed });
      })
    );
}
