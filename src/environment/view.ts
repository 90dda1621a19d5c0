/**
 * The yolo-lab sidebar content: what the attached kernel sees, and what to fix.
 */
import {
  nullTranslator,
  type ITranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import type { EnvironmentModel, IEnvironmentState } from './model';
import type { IDoctorReport, IFinding } from '../protocol';
import { el } from '../dom';
import { formatBytes } from '../format';

/**
 * Shows the environment model: the connection phase, the findings and the
 * environment table of the attached kernel.
 */
export class EnvironmentView extends Widget {
  constructor(model: EnvironmentModel, translator?: ITranslator | null) {
    super();
    this._model = model;
    this._trans = (translator ?? nullTranslator).load('yolo_lab');
    this.addClass('yl-EnvironmentView');
    this.node.setAttribute('aria-live', 'polite');
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
    const state = this._model.state;
    this.node.dataset.phase = state.phase;
    this.node.dataset.generatedAt = String(state.report?.generated_at ?? '');
    const report = state.report;
    if (!report) {
      const parts = [this._header(state), this._status(state)];
      this.node.replaceChildren(
        ...parts.filter((p): p is HTMLElement => p !== null)
      );
      return;
    }
    // A report: one summary line; the rest (findings with their fixes, the
    // versions, the GPUs) behind it, open by default only for an error.
    const findings = this._model.findings;
    const worst = findings[0] ?? null;
    if (this._open === null || this._worst !== (worst?.severity ?? null)) {
      this._open = worst?.severity === 'error';
    }
    this._worst = worst?.severity ?? null;
    const details = el(
      'details',
      'yl-EnvDetails',
      el('summary', 'yl-EnvSummary', this._summary(state, report, worst)),
      this._header(state),
      this._status(state),
      this._findings(findings),
      this._environment(report)
    );
    details.open = this._open;
    details.addEventListener('toggle', () => (this._open = details.open));
    this.node.replaceChildren(details);
  }

  /** Kernel · GPUs · the worst finding (or that there is none). */
  private _summary(
    state: IEnvironmentState,
    report: IDoctorReport,
    worst: IFinding | null
  ): HTMLElement {
    const trans = this._trans;
    const gpus = report.gpus;
    const gpuText =
      gpus.length === 0
        ? trans.__('no GPU')
        : gpus.length === 1
          ? gpus[0].name
          : trans.__(
              '%1 GPUs (%2)',
              gpus.length,
              [...new Set(gpus.map(g => g.name))].join(', ')
            );
    const line = el(
      'span',
      `yl-EnvSummary-text yl-mod-${worst?.severity ?? 'ok'}`,
      el('span', 'yl-Value', state.kernelName ?? trans.__('kernel')),
      ' · ',
      el('span', 'yl-EnvSummary-gpus', gpuText),
      ' · ',
      worst
        ? el(
            'span',
            'yl-EnvSummary-worst',
            el('span', 'yl-Severity', worst.severity),
            ' ',
            worst.title,
            findings(trans, this._model.findings.length)
          )
        : el('span', 'yl-EnvSummary-worst', trans.__('no problems found'))
    );
    return line;
  }

  private _header(state: IEnvironmentState): HTMLElement {
    const trans = this._trans;
    return el(
      'div',
      'yl-Header',
      el(
        'div',
        'yl-Header-kernel',
        el('span', 'yl-Label', trans.__('Kernel')),
        ' ',
        el('span', 'yl-Value', state.kernelName ?? trans.__('none'))
      ),
      state.notebookPath
        ? el(
            'div',
            'yl-Header-path',
            el('span', 'yl-Label', trans.__('Notebook')),
            ' ',
            el('span', 'yl-Value', state.notebookPath)
          )
        : null,
      state.report
        ? el(
            'div',
            'yl-Header-checked',
            el('span', 'yl-Label', trans.__('Checked')),
            ' ',
            el(
              'span',
              'yl-Value',
              new Date(state.report.generated_at * 1000).toLocaleTimeString()
            )
          )
        : null
    );
  }

  private _status(state: IEnvironmentState): HTMLElement | null {
    const trans = this._trans;
    let text: string | null = null;
    switch (state.phase) {
      case 'no-kernel':
        text = trans.__(
          'No kernel attached. Open a notebook and start a Python kernel to check its environment.'
        );
        break;
      case 'connecting':
        text = trans.__('Connecting to the kernel…');
        break;
      case 'connected':
        text = trans.__('Connected. Press refresh to check the environment.');
        break;
      case 'checking':
        text = trans.__('Checking the environment in the kernel…');
        break;
      case 'restarting':
        text = trans.__(
          'The kernel is restarting; the check runs again when it is back.'
        );
        break;
      case 'ready':
        return null;
      default:
        text = state.message;
    }
    const problem =
      state.phase === 'error' ||
      state.phase === 'missing-package' ||
      state.phase === 'unsupported-kernel';
    return el(
      'div',
      `yl-Status${problem ? ' jp-mod-error' : ''}`,
      el('p', 'yl-Status-text', text ?? ''),
      state.fix ? el('pre', 'yl-Fix', el('code', '', state.fix)) : null
    );
  }

  private _findings(findings: IFinding[]): HTMLElement {
    const trans = this._trans;
    if (findings.length === 0) {
      return el(
        'div',
        'yl-Findings',
        el(
          'p',
          'yl-Finding yl-mod-ok',
          trans.__('No problems found: training can use the GPU.')
        )
      );
    }
    const list = el('ul', 'yl-Findings');
    list.setAttribute('aria-label', trans.__('Findings'));
    for (const finding of findings) {
      const item = el(
        'li',
        `yl-Finding yl-mod-${finding.severity}`,
        el(
          'div',
          'yl-Finding-title',
          el('span', 'yl-Severity', finding.severity),
          ' ',
          finding.title
        ),
        el('div', 'yl-Finding-cause', finding.cause),
        el('pre', 'yl-Fix', el('code', '', finding.fix))
      );
      item.dataset.findingId = finding.id;
      list.append(item);
    }
    return list;
  }

  private _environment(report: IDoctorReport): HTMLElement {
    const trans = this._trans;
    const t = report.torch;
    const d = report.driver;
    const s = report.system;
    const y = report.yolov5;
    const rows: Array<[string, string]> = [
      [trans.__('Python'), report.python.version],
      [
        trans.__('torch'),
        t.installed ? (t.version ?? '?') : trans.__('not installed')
      ],
      [
        trans.__('CUDA build'),
        t.cuda_build ?? trans.__('none (CPU-only build)')
      ],
      [trans.__('cuDNN'), t.cudnn === null ? '—' : String(t.cudnn)],
      [
        trans.__('CUDA available'),
        t.cuda_available ? trans.__('yes') : trans.__('no')
      ],
      [
        trans.__('NVIDIA driver'),
        d.version
          ? `${d.version}${d.cuda_driver_version ? ` (CUDA ${d.cuda_driver_version})` : ''}`
          : trans.__('not found')
      ],
      [
        trans.__('CUDA_VISIBLE_DEVICES'),
        report.cuda_visible_devices ?? trans.__('unset')
      ],
      [trans.__('CPUs'), String(s.cpu_count)],
      [trans.__('RAM'), formatBytes(s.ram_total_bytes)],
      [trans.__('/dev/shm'), formatBytes(s.shm_total_bytes)],
      [
        trans.__('Container'),
        s.in_container ? (s.container_kind ?? trans.__('yes')) : trans.__('no')
      ],
      [
        trans.__('YOLOv5'),
        y.available
          ? `${y.version ?? ''} ${y.source === 'checkout' ? trans.__('checkout') : trans.__('package')} ${y.location ?? ''}`.trim()
          : trans.__('not available')
      ]
    ];
    const table = el('table', 'yl-EnvTable');
    table.setAttribute('aria-label', trans.__('Environment'));
    for (const [key, value] of rows) {
      const row = el('tr', '', el('th', '', key), el('td', '', value));
      row.dataset.key = key;
      table.append(row);
    }
    const gpus = el('div', 'yl-Gpus');
    gpus.append(el('h3', 'yl-Heading', trans.__('GPUs visible to the kernel')));
    if (report.gpus.length === 0) {
      gpus.append(el('p', 'yl-Empty', trans.__('none')));
    } else {
      const list = el('ul', 'yl-GpuList');
      for (const gpu of report.gpus) {
        list.append(
          el(
            'li',
            'yl-Gpu',
            `cuda:${gpu.index} ${gpu.name} · ${formatBytes(gpu.memory_total_bytes)}` +
              (gpu.compute_capability ? ` · sm ${gpu.compute_capability}` : '')
          )
        );
      }
      gpus.append(list);
    }
    return el(
      'div',
      'yl-Environment',
      el('h3', 'yl-Heading', trans.__('Environment')),
      table,
      gpus
    );
  }

  /** Whether the details are open (null: not decided yet). */
  private _open: boolean | null = null;
  private _worst: string | null = null;
  private _model: EnvironmentModel;
  private _trans: TranslationBundle;
}

/** " (+N more)" after the worst finding when there are others. */
function findings(trans: TranslationBundle, count: number): string {
  return count > 1 ? trans.__(' (+%1 more)', count - 1) : '';
}
