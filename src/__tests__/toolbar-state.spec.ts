/**
 * Toolbar state: Train disabled (with the reason as its tooltip) while the
 * form is invalid, Stop enabled only while the current notebook has a run
 * going, and the running mark on the tabs of notebooks whose run is going.
 *
 * A real controller and command registry; the transport follows a notebook
 * source that never has a kernel, so no Jupyter server is needed.
 */
import { ServerConnection } from '@jupyterlab/services';
import { CommandRegistry } from '@lumino/commands';
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import { Panel, Widget } from '@lumino/widgets';
import { EnvironmentClient } from '../environment/client';
import type { IKernelTarget } from '../tokens';
import { addTrainingCommands } from '../training/commands';
import { TrainingController } from '../training/controller';
import { DEFAULT_FORM, type ITrainForm } from '../training/form';
import { RunRegistry } from '../training/registry';
import { RUNNING_CLASS, RunningMarks } from '../training/runningMark';
import { TrainSection } from '../training/section';
import type { INotebookCells, IRuns, OutputBundles } from '../training/tokens';
import type { IRunStopResultMessage, IRunSummary } from '../training/types';
import { KernelTransport } from '../transport';

const TRAIN = 'yolo-lab:train';
const STOP = 'yolo-lab:stop-training';
const RUN_A = '/work/runs/train/exp';
const RUN_B = '/work/runs/train/exp2';

/** A notebook source that never has a session: the transport stays idle. */
class Source {
  current = null;
  currentChanged = new Signal<this, void>(this);
}

/** A transport whose kernel is on another server (without connecting). */
class ServerTransport extends KernelTransport {
  get target(): IKernelTarget {
    return { kind: 'server', url: 'http://gpu-box:8888/' };
  }
}

/** The notebook side: which notebook is current, and its form. */
class Notebooks implements INotebookCells {
  current: Widget | null = null;
  formChanged = new Signal<this, ITrainForm | null>(this);
  cells: string[] = [];
  loadForm(): ITrainForm | null {
    return this.current ? { ...DEFAULT_FORM, data: 'data.yaml' } : null;
  }
  saveForm(): void {
    // Kept in the notebook's metadata in JupyterLab; not needed here.
  }
  async insert(code: string): Promise<OutputBundles> {
    this.cells.push(code);
    return [];
  }
  /** Make `notebook` current, as the tracker does (its form is loaded). */
  show(notebook: Widget | null): void {
    this.current = notebook;
    this.formChanged.emit(this.loadForm());
  }
}

/** Runs whose state the test sets; the registry is the real one. */
class Runs implements IRuns {
  readonly registry = new RunRegistry();
  readonly activeChanged: Signal<IRuns, void> = new Signal<IRuns, void>(this);
  stopped: string[] = [];
  listen(): IDisposable {
    return new DisposableDelegate(() => undefined);
  }
  async stop(run: string): Promise<IRunStopResultMessage> {
    this.stopped.push(run);
    return { v: 1, type: 'run_stop_result', run } as IRunStopResultMessage;
  }
  async list(): Promise<IRunSummary[]> {
    return [];
  }
  active(): string[] {
    return [...this._active];
  }
  setActive(...runs: string[]): void {
    this._active = runs;
    this.activeChanged.emit();
  }
  private _active: string[] = [];
}

/** A notebook panel showing the views of `runs` in its outputs. */
function notebook(
  runs: Runs,
  name: string,
  ...shown: string[]
): { panel: Panel; views: IDisposable[] } {
  const panel = new Panel();
  panel.title.label = name;
  panel.title.caption = `Name: ${name}\nPath: ${name}`;
  const output = new Panel();
  panel.addWidget(output);
  const views = shown.map(run => {
    const view = new Widget();
    output.addWidget(view);
    return runs.registry.add(run, view);
  });
  return { panel, views };
}

interface ISetup {
  commands: CommandRegistry;
  controller: TrainingController;
  notebooks: Notebooks;
  runs: Runs;
  changed: string[];
  shown: number;
  dispose(): void;
}

function setup(server = false): ISetup {
  const source = new Source();
  const transport = server
    ? new ServerTransport(source, '0.0.0-test')
    : new KernelTransport(source, '0.0.0-test');
  const environment = new EnvironmentClient(transport);
  const runs = new Runs();
  const notebooks = new Notebooks();
  const controller = new TrainingController({
    transport,
    runs,
    notebooks,
    environment: environment.model,
    openView: () => undefined
  });
  const commands = new CommandRegistry();
  const result: ISetup = {
    commands,
    controller,
    notebooks,
    runs,
    changed: [],
    shown: 0,
    dispose: () => {
      controller.dispose();
      environment.dispose();
      transport.dispose();
      commands.commandChanged.disconnect(record);
    }
  };
  const record = (_: unknown, args: CommandRegistry.ICommandChangedArgs) => {
    if (args.id) {
      result.changed.push(args.id);
    }
  };
  commands.commandChanged.connect(record);
  addTrainingCommands(commands, controller, {
    trans: { __: (s: string, ...a: unknown[]) => fill(s, a) } as any,
    showPanel: () => result.shown++
  });
  return result;
}

/** The translation bundle's %1 placeholders, as nullTranslator fills them. */
function fill(text: string, args: unknown[]): string {
  return text.replace(/%(\d)/g, (_, i) => String(args[Number(i) - 1]));
}

describe('the Train button', () => {
  it('is disabled with the reason as its tooltip while the form is invalid', () => {
    const s = setup();
    const a = notebook(s.runs, 'a.ipynb');
    s.notebooks.show(a.panel);
    expect(s.controller.form.valid).toBe(true);
    expect(s.commands.isEnabled(TRAIN)).toBe(true);
    expect(s.commands.caption(TRAIN)).toMatch(/^Train YOLOv5/);

    s.changed.length = 0;
    s.controller.form.set('batchSize', 'abc');
    // The toolbar buttons and the palette are told to read it again.
    expect(s.changed).toContain(TRAIN);
    expect(s.commands.isEnabled(TRAIN)).toBe(false);
    expect(s.commands.caption(TRAIN)).toMatch(/^Cannot train yet: /);
    expect(s.commands.caption(TRAIN)).toMatch(/is not a number/);
    // Both errors are said, in the order of the form's fields.
    s.controller.form.set('epochs', '0');
    expect(s.controller.form.messages).toHaveLength(2);
    const caption = s.commands.caption(TRAIN);
    for (const message of s.controller.form.messages) {
      expect(caption).toContain(message);
    }

    s.changed.length = 0;
    s.controller.form.set('batchSize', '8');
    s.controller.form.set('epochs', '3');
    expect(s.changed).toContain(TRAIN);
    expect(s.commands.isEnabled(TRAIN)).toBe(true);
    expect(s.commands.caption(TRAIN)).toMatch(/^Train YOLOv5/);
    s.dispose();
  });

  it('run directly while invalid, it still refuses and writes no cell', async () => {
    const s = setup();
    s.notebooks.show(notebook(s.runs, 'a.ipynb').panel);
    s.controller.form.set('imgsz', 'big');
    expect(s.commands.isEnabled(TRAIN)).toBe(false);
    await s.commands.execute(TRAIN);
    expect(s.notebooks.cells).toEqual([]);
    expect(s.shown).toBe(1);
    s.dispose();
  });

  it('is disabled without a notebook, and says to open one', () => {
    const s = setup();
    s.notebooks.show(notebook(s.runs, 'a.ipynb').panel);
    expect(s.commands.isEnabled(TRAIN)).toBe(true);
    s.changed.length = 0;
    s.notebooks.show(null);
    s.controller.form.set('data', 'data.yaml');
    expect(s.changed).toContain(TRAIN);
    expect(s.controller.form.valid).toBe(true);
    expect(s.commands.isEnabled(TRAIN)).toBe(false);
    expect(s.commands.caption(TRAIN)).toMatch(/Open a notebook first/);
    s.dispose();
  });
});

describe('the Stop button', () => {
  it('is enabled only while the current notebook has a run going', async () => {
    const s = setup();
    const a = notebook(s.runs, 'a.ipynb', RUN_A);
    const b = notebook(s.runs, 'b.ipynb', RUN_B);
    s.notebooks.show(a.panel);
    expect(s.controller.canStop).toBe(false);
    expect(s.commands.isEnabled(STOP)).toBe(false);
    expect(s.commands.caption(STOP)).toMatch(/No training of this notebook/);

    // Another notebook's run does not enable Stop here.
    s.runs.setActive(RUN_B);
    expect(s.commands.isEnabled(STOP)).toBe(false);

    s.changed.length = 0;
    s.runs.setActive(RUN_A, RUN_B);
    expect(s.changed).toContain(STOP);
    expect(s.commands.isEnabled(STOP)).toBe(true);
    expect(s.commands.caption(STOP)).toMatch(/^Stop the running training/);
    await s.commands.execute(STOP);
    expect(s.runs.stopped).toEqual([RUN_A]);

    // The current notebook changes: b's run is going too.
    s.changed.length = 0;
    s.notebooks.show(b.panel);
    expect(s.changed).toContain(STOP);
    s.runs.setActive(RUN_A);
    expect(s.commands.isEnabled(STOP)).toBe(false);

    // a's run view goes (its output was cleared): nothing to stop in a.
    s.notebooks.show(a.panel);
    expect(s.commands.isEnabled(STOP)).toBe(true);
    s.changed.length = 0;
    a.views[0].dispose();
    expect(s.changed).toContain(STOP);
    expect(s.commands.isEnabled(STOP)).toBe(false);
    s.dispose();
  });

  it("the panel's own Stop follows it, with the reason as its tooltip", () => {
    const s = setup();
    const a = notebook(s.runs, 'a.ipynb', RUN_A);
    s.notebooks.show(a.panel);
    const section = new TrainSection({
      controller: s.controller,
      selectedFile: () => null,
      listDetached: async () => [],
      serverSettings: ServerConnection.makeSettings()
    });
    const stop =
      section.node.querySelector<HTMLButtonElement>('.yl-StopTraining')!;
    expect(stop.disabled).toBe(true);
    expect(stop.title).toMatch(/No training of this notebook/);
    s.runs.setActive(RUN_A);
    expect(stop.disabled).toBe(false);
    expect(stop.title).toMatch(/^Stop the running training/);
    s.runs.setActive();
    expect(stop.disabled).toBe(true);
    // Once the section is gone it no longer listens.
    section.dispose();
    s.runs.setActive(RUN_A);
    expect(stop.disabled).toBe(true);
    s.dispose();
  });

  it('on another server: enabled while any followed run is going', () => {
    const s = setup(true);
    expect(s.controller.where).toBe('server');
    const view = new Widget();
    s.runs.registry.add(RUN_A, view);
    expect(s.commands.isEnabled(STOP)).toBe(false);
    s.runs.setActive(RUN_A);
    expect(s.commands.isEnabled(STOP)).toBe(true);
    s.runs.setActive();
    expect(s.commands.isEnabled(STOP)).toBe(false);
    s.dispose();
  });
});

describe('the running mark', () => {
  const HINT = 'Training: a run is going';

  function marks(runs: Runs, panels: Widget[]): RunningMarks {
    return new RunningMarks({
      panels: { forEach: fn => panels.forEach(fn) },
      runs
    });
  }

  it('marks the tab of a notebook while its run is going', () => {
    const runs = new Runs();
    const a = notebook(runs, 'a.ipynb', RUN_A);
    const b = notebook(runs, 'b.ipynb', RUN_B);
    a.panel.title.className = 'jp-NotebookPanel-tab';
    const m = marks(runs, [a.panel, b.panel]);
    expect(m.isMarked(a.panel)).toBe(false);

    runs.setActive(RUN_A);
    expect(m.isMarked(a.panel)).toBe(true);
    expect(m.isMarked(b.panel)).toBe(false);
    expect(a.panel.title.className.split(' ')).toEqual([
      'jp-NotebookPanel-tab',
      RUNNING_CLASS
    ]);
    expect(a.panel.title.caption).toBe(`Name: a.ipynb\nPath: a.ipynb\n${HINT}`);
    expect(b.panel.title.className).not.toContain(RUNNING_CLASS);

    // JupyterLab rewrites the caption on save: the line comes back.
    a.panel.title.caption = 'Name: a.ipynb\nPath: a.ipynb\nLast Saved: now';
    expect(a.panel.title.caption).toBe(
      `Name: a.ipynb\nPath: a.ipynb\nLast Saved: now\n${HINT}`
    );

    // The run ends: the mark goes, the caption is the document's again.
    runs.setActive();
    expect(m.isMarked(a.panel)).toBe(false);
    expect(a.panel.title.className).toBe('jp-NotebookPanel-tab');
    expect(a.panel.title.caption).toBe(
      'Name: a.ipynb\nPath: a.ipynb\nLast Saved: now'
    );
    // Unmarked titles are left alone.
    a.panel.title.caption = 'Name: a.ipynb';
    expect(a.panel.title.caption).toBe('Name: a.ipynb');
    m.dispose();
  });

  it('unmarks when the run view goes, and on dispose', () => {
    const runs = new Runs();
    const a = notebook(runs, 'a.ipynb', RUN_A);
    const b = notebook(runs, 'b.ipynb', RUN_B);
    b.panel.title.caption = '';
    const m = marks(runs, [a.panel, b.panel]);
    runs.setActive(RUN_A, RUN_B);
    expect(m.isMarked(a.panel) && m.isMarked(b.panel)).toBe(true);
    expect(b.panel.title.caption).toBe(HINT);

    a.views[0].dispose();
    expect(m.isMarked(a.panel)).toBe(false);
    expect(a.panel.title.className).not.toContain(RUNNING_CLASS);

    m.dispose();
    expect(m.isMarked(b.panel)).toBe(false);
    expect(b.panel.title.className).not.toContain(RUNNING_CLASS);
    expect(b.panel.title.caption).toBe('');
    // Disposed: it follows the runs no more.
    runs.setActive(RUN_B);
    expect(b.panel.title.className).not.toContain(RUNNING_CLASS);
  });
});
