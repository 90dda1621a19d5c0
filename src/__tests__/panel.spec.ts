import { Widget } from '@lumino/widgets';
import { EnvironmentModel } from '../environment/model';
import { EnvironmentView } from '../environment/view';
import { formatBytes, formatBytesOf } from '../format';
import { FINDINGS, makeReport } from './fixtures';

describe('EnvironmentView', () => {
  let model: EnvironmentModel;
  let view: EnvironmentView;

  beforeEach(() => {
    model = new EnvironmentModel();
    view = new EnvironmentView(model);
    Widget.attach(view, document.body);
  });

  afterEach(() => {
    view.dispose();
    model.dispose();
  });

  it('tells the user when no kernel is attached', () => {
    expect(view.node.dataset.phase).toBe('no-kernel');
    expect(view.node.textContent).toContain('No kernel attached');
  });

  it('renders findings with severity, cause and fix, errors first', () => {
    const epoch = model.attach('Python 3 (ipykernel)', 'demo.ipynb');
    model.reported(epoch, makeReport(FINDINGS));
    const items = Array.from(view.node.querySelectorAll('li.yl-Finding'));
    expect(items.map(i => (i as HTMLElement).dataset.findingId)).toEqual([
      'no_gpu',
      'shm_small',
      'yolov5_missing'
    ]);
    const first = items[0];
    expect(first.classList).toContain('yl-mod-error');
    expect(first.querySelector('.yl-Finding-title')!.textContent).toContain(
      'No GPU visible to this kernel'
    );
    expect(first.querySelector('.yl-Finding-cause')!.textContent).toBe(
      'The container was started without GPU access.'
    );
    expect(first.querySelector('.yl-Fix')!.textContent).toBe(
      'docker run --gpus all ...'
    );
    expect(items[1].classList).toContain('yl-mod-warning');
  });

  it('shows text from the kernel as text, never as HTML', () => {
    const epoch = model.attach('Python 3', null);
    model.reported(epoch, makeReport(FINDINGS));
    expect(view.node.querySelector('not')).toBeNull();
    expect(view.node.textContent).toContain('YOLOv5 <not> installed');
  });

  it('renders the environment table', () => {
    const epoch = model.attach('Python 3', null);
    model.reported(epoch, makeReport());
    const row = (key: string): string =>
      view.node.querySelector(`tr[data-key="${key}"] td`)!.textContent!;
    expect(row('torch')).toBe('2.14.1+cu128');
    expect(row('CUDA build')).toBe('12.8');
    expect(row('/dev/shm')).toBe('64 MiB');
    expect(row('Container')).toBe('docker');
    expect(view.node.querySelector('.yl-Gpus')!.textContent).toContain('none');
    expect(view.node.textContent).toContain('No problems found');
  });

  it('lists visible GPUs with memory and compute capability', () => {
    const report = makeReport();
    report.gpus = [
      {
        index: 0,
        name: 'NVIDIA H100 80GB HBM3',
        memory_total_bytes: 80 * 2 ** 30,
        compute_capability: '9.0'
      }
    ];
    const epoch = model.attach('Python 3', null);
    model.reported(epoch, report);
    expect(view.node.querySelector('.yl-Gpu')!.textContent).toBe(
      'cuda:0 NVIDIA H100 80GB HBM3 · 80.0 GiB · sm 9.0'
    );
  });

  it('shows the install command when the kernel lacks yolo_lab', () => {
    const epoch = model.attach('Python 3', null);
    model.missingPackage(
      epoch,
      "ModuleNotFoundError: No module named 'yolo_lab'"
    );
    expect(view.node.querySelector('.yl-Status')!.classList).toContain(
      'jp-mod-error'
    );
    expect(view.node.querySelector('.yl-Fix')!.textContent).toBe(
      '%pip install yolo-lab'
    );
  });

  it('clears the findings while the kernel restarts', () => {
    const epoch = model.attach('Python 3', null);
    model.reported(epoch, makeReport(FINDINGS));
    model.restarting();
    expect(view.node.querySelectorAll('li.yl-Finding')).toHaveLength(0);
    expect(view.node.textContent).toContain('restarting');
  });
});

describe('formatBytes', () => {
  it('formats GiB and MiB', () => {
    expect(formatBytes(null)).toBe('unknown');
    expect(formatBytes(2 ** 30)).toBe('1.0 GiB');
    expect(formatBytes(512 * 2 ** 20)).toBe('512 MiB');
  });

  it('formats a part of a whole in GiB, the part alone without a whole', () => {
    expect(formatBytesOf(12.34 * 2 ** 30, 80 * 2 ** 30)).toBe('12.3/80.0 GiB');
    expect(formatBytesOf(512 * 2 ** 20, null)).toBe('512 MiB');
    expect(formatBytesOf(null, 2 ** 30)).toBe('–');
  });
});
