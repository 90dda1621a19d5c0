import { nullTranslator } from '@jupyterlab/translation';
import { DisposableDelegate } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import type { ISchemaCheck } from '../protocol';
import type { IRuns } from '../training/tokens';
import { RunRegistry } from '../training/registry';
import {
  RUN_MIME,
  type IRunEvent,
  type IRunEventsMessage,
  type IRunStatus,
  type RunListener
} from '../training/types';
import { deviceText, slurmText } from '../training/runLines';
import { RunView } from '../training/view';

const RUN = '/runs/train/exp';
const T0 = 1_764_000_000;

/** Runs that hand each view's listener to the test. */
function fakeRuns(): IRuns & { send(message: IRunEventsMessage): void } {
  const listeners = new Set<RunListener>();
  const runs = {
    listen: (_run: string, listener: RunListener) => {
      listeners.add(listener);
      return new DisposableDelegate(() => listeners.delete(listener));
    },
    stop: async () => ({}) as any,
    list: async () => [],
    active: () => [],
    activeChanged: new Signal<IRuns, void>({} as IRuns),
    registry: new RunRegistry(),
    send: (message: IRunEventsMessage) => listeners.forEach(l => l(message))
  };
  return runs;
}

async function view(runs: IRuns): Promise<RunView> {
  const check = (() => true) as ISchemaCheck;
  const v = new RunView({
    runs,
    check: async () => check,
    resume: async () => undefined
  });
  await v.renderModel({
    data: { [RUN_MIME]: { v: 1, run: RUN, name: 'exp', status: 'running' } }
  } as any);
  return v;
}

function message(
  events: IRunEvent[],
  status: IRunStatus,
  history = false
): IRunEventsMessage {
  return { v: 1, type: 'run_events', run: RUN, history, status, events };
}

function epoch(k: number, map50: number, map: number): IRunEvent {
  return {
    t: T0 + 10 * k + 9,
    kind: 'epoch',
    epoch: k,
    epochs: 2,
    precision: 0.5,
    recall: 0.5,
    map50,
    map,
    epoch_time_s: 10
  };
}

describe('RunView x axis toggle', () => {
  it('offers time and epoch as pressed buttons, and new views start with the last choice', async () => {
    const runs = fakeRuns();
    const first = await view(runs);
    const group = first.node.querySelector('[role="group"]')!;
    expect(group.getAttribute('aria-label')).toBe('x axis');
    const buttons = Array.from(
      group.querySelectorAll<HTMLButtonElement>('button')
    );
    expect(buttons.map(b => [b.textContent, b.type])).toEqual([
      ['time', 'button'],
      ['epoch', 'button']
    ]);
    // Epochs until someone chooses.
    expect(first.axis).toBe('epoch');
    expect(buttons.map(b => b.getAttribute('aria-pressed'))).toEqual([
      'false',
      'true'
    ]);
    buttons[0].click();
    expect(first.axis).toBe('time');
    expect(buttons.map(b => b.getAttribute('aria-pressed'))).toEqual([
      'true',
      'false'
    ]);
    const second = await view(runs);
    expect(second.axis).toBe('time');
    // Each view keeps its own.
    second.node
      .querySelector<HTMLButtonElement>('[data-axis="epoch"]')!
      .click();
    expect(second.axis).toBe('epoch');
    expect(first.axis).toBe('time');
    first.dispose();
    second.dispose();
  });
});

describe('RunView summary', () => {
  it('lists the weights while the run runs, and a table once it has ended', async () => {
    const runs = fakeRuns();
    const v = await view(runs);
    const table = v.node.querySelector('table.yl-RunSummary') as HTMLElement;
    runs.send(
      message(
        [
          { t: T0, kind: 'start' },
          epoch(0, 0.4, 0.2),
          { t: T0 + 9.5, kind: 'saved', epoch: 0, last: '/w/last.pt' }
        ],
        { status: 'running' },
        true
      )
    );
    expect(table.hidden).toBe(true);
    expect(
      v.node.querySelectorAll('li.yl-RunWeight[data-weight="last.pt"]')
    ).toHaveLength(1);

    runs.send(
      message(
        [
          epoch(1, 0.6, 0.3),
          {
            t: T0 + 25,
            kind: 'summary',
            epoch: 1,
            last: '/w/last.pt',
            best: '/w/best.pt',
            precision: 0.7,
            recall: 0.6,
            map50: 0.61,
            map: 0.31
          },
          { t: T0 + 30, kind: 'end' }
        ],
        { status: 'finished', last: '/w/last.pt', best: '/w/best.pt' }
      )
    );
    expect(table.hidden).toBe(false);
    expect(table.querySelector('caption')?.textContent).toBe('Run summary');
    const rows = Array.from(table.querySelectorAll('tbody tr')).map(tr => [
      tr.querySelector('th')?.getAttribute('scope'),
      tr.querySelector('th')?.textContent,
      tr.querySelector('td')?.textContent
    ]);
    expect(rows).toEqual([
      ['row', 'best epoch', '2 of 2'],
      ['row', 'mAP@0.5', '0.600'],
      ['row', 'mAP@0.5:0.95', '0.300'],
      [
        'row',
        'final validation',
        'P 0.700 · R 0.600 · mAP@0.5 0.610 · mAP@0.5:0.95 0.310'
      ],
      ['row', 'time', '30 s'],
      ['row', 'best.pt', '/w/best.pt'],
      ['row', 'last.pt', '/w/last.pt']
    ]);
    // The weights once, in the table, found as the list's were.
    expect(v.node.querySelectorAll('.yl-RunWeight')).toHaveLength(2);
    expect(
      v.node.querySelector('.yl-RunWeight[data-weight="best.pt"]')?.tagName
    ).toBe('TR');
    expect(v.node.querySelector('.yl-RunProgress')?.textContent).not.toContain(
      'final ('
    );

    // A status message that changes none of it: the table is not rebuilt.
    const body = table.querySelector('tbody');
    runs.send(
      message([], {
        status: 'finished',
        last: '/w/last.pt',
        best: '/w/best.pt'
      })
    );
    expect(table.querySelector('tbody')).toBe(body);
    // One that does (a stopped run's caption says so).
    runs.send(message([], { status: 'stopped' }));
    expect(table.querySelector('tbody')).not.toBe(body);
    expect(table.querySelector('caption')?.textContent).toBe(
      'Run summary (stopped)'
    );
    v.dispose();
  });
});

describe('RunView AMP', () => {
  function amp(requested: boolean | null, enabled: boolean): IRunEvent {
    return {
      t: T0 + 1,
      kind: 'amp',
      enabled,
      requested,
      reason: enabled
        ? 'offline check passed'
        : 'YOLOv5 uses AMP on CUDA devices only'
    };
  }

  it('says whether AMP was left automatic or forced', async () => {
    const cases: Array<[boolean | null, boolean, string]> = [
      [null, true, 'AMP automatic: on (offline check passed)'],
      [
        null,
        false,
        'AMP automatic: off (YOLOv5 uses AMP on CUDA devices only)'
      ],
      [true, true, 'AMP on (offline check passed)'],
      [false, false, 'AMP off (YOLOv5 uses AMP on CUDA devices only)']
    ];
    for (const [requested, enabled, text] of cases) {
      const runs = fakeRuns();
      const v = await view(runs);
      runs.send(
        message(
          [
            { t: T0, kind: 'start', params: { amp: requested } },
            amp(requested, enabled)
          ],
          { status: 'running' },
          true
        )
      );
      const detail = v.node.querySelector('.yl-RunDetail')!.textContent ?? '';
      expect(detail).toContain(text);
      if (requested !== null) {
        expect(detail).not.toContain('automatic');
      }
      v.dispose();
    }
  });
});

describe('a run on Slurm for people', () => {
  it('says pending with the reason, then where it runs and the time left', () => {
    const trans = nullTranslator.load('yolo_lab');
    expect(slurmText({ status: 'running' }, trans)).toBeNull();
    expect(
      slurmText(
        {
          status: 'pending',
          slurm: { job: '47', reason: 'Resources', nodes: [] }
        },
        trans
      )
    ).toBe('Slurm job 47 · waiting in the queue (Resources)');
    expect(
      slurmText(
        {
          status: 'running',
          slurm: {
            job: '47',
            nodes: ['node1', 'node2'],
            time_left_s: 540,
            restarts: 1
          }
        },
        trans
      )
    ).toBe('Slurm job 47 · on node1, node2 · 9 min 00 s left · requeued once');
  });
});

describe('a run device for people', () => {
  it('shows the read device (format 3) and older names alike', () => {
    expect(deviceText(['cpu'])).toBe('cpu');
    expect(deviceText([0, 2])).toBe('cuda:0, cuda:2');
    expect(deviceText('cuda:1')).toBe('cuda:1');
    expect(deviceText(['cuda:0', 'cuda:1'])).toBe('cuda:0, cuda:1');
  });
});
