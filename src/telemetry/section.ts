/**
 * The telemetry section of the sidebar: a chart of the attached kernel that
 * listens only while it is visible, so a closed sidebar costs the kernel
 * nothing.
 */
import type { IDisposable } from '@lumino/disposable';
import type { Message } from '@lumino/messaging';
import { PanelLayout, Widget } from '@lumino/widgets';
import type { ITelemetry } from './tokens';
import { IChartLabels, TelemetryChart } from './chart';

/**
 * A telemetry chart in the sidebar, subscribed while shown.
 */
export class TelemetrySection extends Widget {
  constructor(telemetry: ITelemetry, labels?: IChartLabels) {
    super();
    this.addClass('yl-TelemetrySection');
    this._telemetry = telemetry;
    this.chart = new TelemetryChart(telemetry.model, labels);
    const layout = new PanelLayout();
    layout.addWidget(this.chart);
    this.layout = layout;
  }

  /** The chart shown. */
  readonly chart: TelemetryChart;

  dispose(): void {
    this._stopListening();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._startListening();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this._startListening();
    }
  }

  protected onBeforeHide(msg: Message): void {
    super.onBeforeHide(msg);
    this._stopListening();
  }

  protected onBeforeDetach(msg: Message): void {
    this._stopListening();
    super.onBeforeDetach(msg);
  }

  private _startListening(): void {
    if (!this._listening) {
      this._listening = this._telemetry.listen();
    }
  }

  private _stopListening(): void {
    this._listening?.dispose();
    this._listening = null;
  }

  private _telemetry: ITelemetry;
  private _listening: IDisposable | null = null;
}
