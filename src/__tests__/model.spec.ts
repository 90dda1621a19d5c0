import {
  EnvironmentModel,
  IEnvironmentState,
  INSTALL_COMMAND
} from '../environment/model';
import { FINDINGS, makeReport } from './fixtures';

describe('EnvironmentModel', () => {
  let model: EnvironmentModel;
  let phases: string[];

  beforeEach(() => {
    model = new EnvironmentModel();
    phases = [];
    model.changed.connect((_, state: IEnvironmentState) =>
      phases.push(state.phase)
    );
  });

  afterEach(() => model.dispose());

  it('starts with no kernel', () => {
    expect(model.state.phase).toBe('no-kernel');
    expect(model.state.report).toBeNull();
  });

  it('goes connecting → checking → ready for one kernel', () => {
    const epoch = model.attach('Python 3 (ipykernel)', 'demo.ipynb');
    model.checking(epoch);
    model.reported(epoch, makeReport(FINDINGS));
    expect(phases).toEqual(['connecting', 'checking', 'ready']);
    expect(model.state.kernelName).toBe('Python 3 (ipykernel)');
    expect(model.state.notebookPath).toBe('demo.ipynb');
    expect(model.state.report?.torch.version).toBe('2.14.1+cu128');
  });

  it('drops the report on restart and ignores a late reply of the old kernel', () => {
    const first = model.attach('Python 3', 'a.ipynb');
    model.reported(first, makeReport());
    const restarting = model.restarting();
    expect(model.state.phase).toBe('restarting');
    expect(model.state.report).toBeNull();
    expect(model.state.kernelName).toBe('Python 3');
    // A reply to a request sent before the restart arrives late.
    model.reported(first, makeReport(FINDINGS));
    expect(model.state.phase).toBe('restarting');
    expect(model.state.report).toBeNull();
    expect(restarting).toBeGreaterThan(first);
    // The restarted kernel is attached again and answers.
    const second = model.attach('Python 3', 'a.ipynb');
    model.reported(second, makeReport(FINDINGS));
    expect(model.state.phase).toBe('ready');
    expect(model.state.report?.findings).toHaveLength(3);
  });

  it('shows the new kernel after a kernel change, never the old report', () => {
    const first = model.attach('Python 3', 'a.ipynb');
    model.reported(first, makeReport(FINDINGS));
    const second = model.attach('Other', 'b.ipynb');
    expect(model.state.report).toBeNull();
    model.reported(first, makeReport(FINDINGS));
    expect(model.state.report).toBeNull();
    model.reported(second, makeReport());
    expect(model.state.kernelName).toBe('Other');
    expect(model.state.report?.findings).toEqual([]);
  });

  it('keeps the report of the same kernel while checking again', () => {
    const epoch = model.attach('Python 3', 'a.ipynb');
    model.reported(epoch, makeReport(FINDINGS));
    model.checking(epoch);
    expect(model.state.phase).toBe('checking');
    expect(model.state.report).not.toBeNull();
  });

  it('says how to install the kernel package when it is missing', () => {
    const epoch = model.attach('Python 3', 'a.ipynb');
    model.missingPackage(
      epoch,
      "ModuleNotFoundError: No module named 'yolo_lab'"
    );
    expect(model.state.phase).toBe('missing-package');
    expect(model.state.fix).toBe(INSTALL_COMMAND);
    expect(model.state.message).toContain('No module named');
  });

  it('reports a non-Python kernel', () => {
    const epoch = model.attach('R', 'a.ipynb');
    model.unsupportedKernel(epoch, 'R');
    expect(model.state.phase).toBe('unsupported-kernel');
    expect(model.state.message).toContain('R');
  });

  it('detaches when the notebook has no kernel', () => {
    const epoch = model.attach('Python 3', 'a.ipynb');
    model.reported(epoch, makeReport());
    model.detach('a.ipynb');
    expect(model.state).toMatchObject({
      phase: 'no-kernel',
      kernelName: null,
      report: null,
      notebookPath: 'a.ipynb'
    });
  });

  it('orders findings errors first', () => {
    const epoch = model.attach('Python 3', null);
    model.reported(epoch, makeReport(FINDINGS));
    expect(model.findings.map(f => f.severity)).toEqual([
      'error',
      'warning',
      'info'
    ]);
  });
});
