/**
 * The training form's defaults as the panel shows them, with a real
 * controller, environment model and section: AMP automatic (train()'s
 * None) with On and Off to force it, and the device that follows the
 * kernel's first GPU until the user picks one.
 *
 * The transport follows a notebook source that never has a kernel; the
 * doctor's report is handed to the environment model as its client would.
 */
import { ServerConnection } from '@jupyterlab/services';
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import { EnvironmentModel } from '../environment/model';
import { TrainingController } from '../training/controller';
import { formFromMetadata, type ITrainForm } from '../training/form';
import { RunRegistry } from '../training/registry';
import { TrainSection } from '../training/section';
import type { INotebookCells, IRuns, OutputBundles } from '../training/tokens';
import type { IRunStopResultMessage } from '../training/types';
import { KernelTransport } from '../transport';
import { makeReport } from './fixtures';

/** A notebook source that never has a session: the transport stays idle. */
class Source {
  current = null;
  currentChanged = new Signal<this, void>(this);
}

/** One notebook whose form metadata is kept as JupyterLab keeps it (JSON). */
class Notebook implements INotebookCells {
  current: Widget | null = new Widget();
  formChanged = new Signal<this, ITrainForm | null>(this);
  metadata: unknown = { data: 'shapes/data.yaml' };
  cells: string[] = [];
  loadForm(): ITrainForm | null {
    return formFromMetadata(this.metadata);
  }
  saveForm(form: ITrainForm): void {
    this.metadata = JSON.parse(JSON.stringify(form));
  }
  async insert(code: string): Promise<OutputBundles> {
    this.cells.push(code);
    return [];
  }
  /** Another notebook with `metadata` becomes current. */
  open(metadata: unknown): void {
    this.metadata = metadata;
    this.formChanged.emit(this.loadForm());
  }
}

class Runs implements IRuns {
  readonly registry = new RunRegistry();
  readonly activeChanged: Signal<IRuns, void> = new Signal<IRuns, void>(this);
  listen(): IDisposable {
    return new DisposableDelegate(() => undefined);
  }
  async stop(run: string): Promise<IRunStopResultMessage> {
    return { v: 1, type: 'run_stop_result', run } as IRunStopResultMessage;
  }
  async list(): Promise<[]> {
    return [];
  }
  active(): string[] {
    return [];
  }
}

function setup(): {
  controller: TrainingController;
  environment: EnvironmentModel;
  notebook: Notebook;
  section: TrainSection;
  dispose(): void;
} {
  const transport = new KernelTransport(new Source(), '0.0.0-test');
  const environment = new EnvironmentModel();
  const notebook = new Notebook();
  const controller = new TrainingController({
    transport,
    runs: new Runs(),
    notebooks: notebook,
    environment,
    openView: () => undefined
  });
  const section = new TrainSection({
    controller,
    selectedFile: () => null,
    listDetached: async () => [],
    serverSettings: ServerConnection.makeSettings()
  });
  // In the page: a click on a checkbox fires its change event only there.
  Widget.attach(section, document.body);
  return {
    controller,
    environment,
    notebook,
    section,
    dispose: () => {
      section.dispose();
      controller.dispose();
      environment.dispose();
      transport.dispose();
    }
  };
}

/** The doctor reports the GPUs `indices` (fabricated: this machine has none). */
function report(environment: EnvironmentModel, ...indices: number[]): void {
  const epoch = environment.attach('python3', 'a.ipynb');
  environment.reported(epoch, {
    ...makeReport(),
    gpus: indices.map(index => ({
      index,
      name: 'NVIDIA H100 80GB HBM3',
      memory_total_bytes: 80 * 2 ** 30,
      compute_capability: '9.0'
    }))
  });
}

function ampSelect(section: TrainSection): HTMLSelectElement {
  return section.node.querySelector<HTMLSelectElement>('select[name="amp"]')!;
}

function choose(select: HTMLSelectElement, value: string): void {
  select.value = value;
  select.dispatchEvent(new Event('change'));
}

function checkedDevices(section: TrainSection): string[] {
  return Array.from(
    section.node.querySelectorAll<HTMLInputElement>('input[name="device"]')
  )
    .filter(box => box.checked)
    .map(box => box.value);
}

describe('the AMP control', () => {
  it('is Automatic by default, with On and Off to force it; the cell says which', async () => {
    const s = setup();
    const select = ampSelect(s.section);
    expect(select.getAttribute('aria-label')).toBe('AMP');
    expect(select.getAttribute('aria-describedby')).toBeTruthy();
    expect(Array.from(select.options).map(o => o.textContent)).toEqual([
      'Automatic',
      'On',
      'Off'
    ]);
    expect(select.selectedOptions[0].textContent).toBe('Automatic');
    await s.controller.insertCell();
    expect(s.notebook.cells.pop()).toContain('    amp=None,\n');

    // Forced off: the cell and the saved form say so.
    choose(select, 'off');
    expect(s.controller.form.form.amp).toBe(false);
    expect(s.notebook.metadata).toMatchObject({ amp: false });
    await s.controller.insertCell();
    expect(s.notebook.cells.pop()).toContain('    amp=False,\n');

    // Forced on needs a GPU: on the CPU it is refused, as train() would.
    choose(select, 'on');
    expect(s.controller.form.errors.amp).toContain('needs a CUDA device');
    report(s.environment, 0);
    s.controller.form.set('devices', ['cuda:0']);
    expect(s.controller.form.valid).toBe(true);
    await s.controller.insertCell();
    expect(s.notebook.cells.pop()).toContain('    amp=True,\n');

    // Back to automatic: saved as null, read back as automatic.
    choose(ampSelect(s.section), 'auto');
    expect(s.notebook.metadata).toMatchObject({ amp: null });
    s.notebook.open(s.notebook.metadata);
    expect(ampSelect(s.section).value).toBe('auto');
    // A form saved when AMP was a checkbox keeps its value, forced.
    s.notebook.open({ data: 'shapes/data.yaml', amp: false });
    expect(ampSelect(s.section).value).toBe('off');
    s.notebook.open({ data: 'shapes/data.yaml', amp: true });
    expect(ampSelect(s.section).value).toBe('on');
    s.dispose();
  });
});

describe('the device', () => {
  it('is the first GPU the doctor reports until the user picks one', async () => {
    const s = setup();
    expect(checkedDevices(s.section)).toEqual(['cpu']);
    report(s.environment, 0, 1);
    expect(checkedDevices(s.section)).toEqual(['cuda:0']);
    await s.controller.insertCell();
    expect(s.notebook.cells.pop()).toContain('    device="cuda:0",\n');
    // A kernel without GPUs: the CPU.
    report(s.environment);
    expect(checkedDevices(s.section)).toEqual(['cpu']);
    s.dispose();
  });

  it("keeps the user's choice: picked in the panel, or saved in the notebook", () => {
    const s = setup();
    report(s.environment, 0, 1);
    // The user picks the second GPU alone.
    const box = (value: string): HTMLInputElement =>
      s.section.node.querySelector<HTMLInputElement>(
        `input[name="device"][value="${value}"]`
      )!;
    box('cuda:1').click();
    box('cuda:0').click();
    expect(s.controller.form.form.devices).toEqual(['cuda:1']);
    expect(s.notebook.metadata).toMatchObject({
      devices: ['cuda:1'],
      devicesChosen: true
    });
    // Another report (a restart) leaves it.
    report(s.environment, 0, 1);
    expect(checkedDevices(s.section)).toEqual(['cuda:1']);
    // A notebook saved with the CPU picked keeps it on a GPU kernel.
    s.notebook.open({ data: 'd.yaml', devices: ['cpu'], devicesChosen: true });
    expect(checkedDevices(s.section)).toEqual(['cpu']);
    // One saved before the device was picked follows the kernel.
    s.notebook.open({ data: 'd.yaml', devices: ['cpu'], devicesChosen: false });
    expect(checkedDevices(s.section)).toEqual(['cuda:0']);
    s.dispose();
  });
});

describe('trusting a weights file', () => {
  function trustBox(section: TrainSection): HTMLInputElement {
    return section.node.querySelector<HTMLInputElement>(
      'input[name="trustWeights"]'
    )!;
  }
  function typeWeights(section: TrainSection, path: string): void {
    const input = section.node.querySelector<HTMLInputElement>(
      'input[name="weights"]'
    )!;
    input.value = path;
    input.dispatchEvent(new Event('input'));
  }

  it('is offered with a weights file, off by default, and given to one file only', async () => {
    const s = setup();
    const box = trustBox(s.section);
    const row = box.closest<HTMLElement>('.yl-FormRow')!;
    expect(box.getAttribute('aria-label')).toBe('Trust this weights file');
    expect(row.hidden).toBe(true); // no weights: nothing to trust

    typeWeights(s.section, 'theirs.pt');
    expect(row.hidden).toBe(false);
    expect(box.checked).toBe(false);
    await s.controller.insertCell();
    expect(s.notebook.cells.pop()).not.toContain('trust_weights');

    box.click();
    expect(s.controller.form.form.trustWeights).toBe(true);
    expect(s.notebook.metadata).toMatchObject({ trustWeights: true });
    await s.controller.insertCell();
    expect(s.notebook.cells.pop()).toContain(
      '    weights="theirs.pt",\n    trust_weights=True,\n'
    );

    // Another file is not trusted because the first one was.
    typeWeights(s.section, 'other.pt');
    expect(box.checked).toBe(false);
    expect(s.controller.form.form.trustWeights).toBe(false);
    await s.controller.insertCell();
    expect(s.notebook.cells.pop()).not.toContain('trust_weights');

    // A saved form with a non-boolean value is not trust.
    s.notebook.open({ data: 'x.yaml', weights: 'a.pt', trustWeights: 'yes' });
    expect(trustBox(s.section).checked).toBe(false);
    s.dispose();
  });
});
