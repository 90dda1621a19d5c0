/**
 * A notebook output whose view's code is fetched on first use.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Panel, Widget } from '@lumino/widgets';

/** A widget that renders MIME models (a run view, an autotune table). */
export type MimeView = Widget & IRenderMime.IRenderer;

/**
 * Renders with a view made by `make`, which may import its module: a run's
 * view and its figures are in few notebooks, so their code stays out of the
 * page load and comes with the first output that needs it.
 */
export class LazyRenderer extends Panel implements IRenderMime.IRenderer {
  constructor(private readonly _make: () => Promise<MimeView>) {
    super();
    this.addClass('yl-LazyRenderer');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this._view ??= this._make();
    const view = await this._view;
    if (this.isDisposed) {
      view.dispose();
      return;
    }
    if (view.parent !== this) {
      this.addWidget(view);
    }
    return view.renderModel(model);
  }

  private _view: Promise<MimeView> | null = null;
}
