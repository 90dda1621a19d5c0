import { ClassModel, IClassView, type IReply } from '../classroom/model';
import { ClassSection, shareText, trainingText } from '../classroom/section';
import type { IClassTraining } from '../classroom/model';

async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 2000) {
      throw new Error(`not true in 2 s: ${condition}`);
    }
    await new Promise(done => setTimeout(done, 5));
  }
}

function training(over: Partial<IClassTraining> = {}): IClassTraining {
  return {
    name: 'exp3',
    run: '/runs/train/exp3',
    status: 'running',
    started: 1,
    detached: false,
    epoch: 1,
    epochs: 10,
    batch: 3,
    batches: 8,
    imgs_per_s: 12.34,
    gpu_mem_bytes: 1.5 * 2 ** 30,
    gpu_util_pct: 80,
    updated: 2,
    ...over
  };
}

function view(): IClassView {
  return {
    hub: 'http://127.0.0.1:8000',
    time: 1700000000,
    students: [
      {
        name: 'alice',
        admin: false,
        me: false,
        server: 'ready',
        last_activity: null,
        started: null,
        gpu_share: 0.25,
        trainings: [training(), training({ name: 'exp4', epoch: null })],
        error: null
      },
      {
        name: 'bob',
        admin: false,
        me: false,
        server: 'stopped',
        last_activity: null,
        started: null,
        gpu_share: null,
        trainings: [],
        error: null
      },
      {
        name: 'teacher',
        admin: true,
        me: true,
        server: 'ready',
        last_activity: null,
        started: null,
        gpu_share: 0.5,
        trainings: [],
        error: null
      }
    ]
  };
}

function rows(section: ClassSection): string[][] {
  return Array.from(section.node.querySelectorAll('tbody tr')).map(tr =>
    Array.from(tr.children).map(cell => cell.textContent ?? '')
  );
}

describe('the Class section', () => {
  it("shows a teacher every user's server and each training's speed and GPU memory", async () => {
    const asked: string[] = [];
    const model = new ClassModel({
      request: async path => {
        asked.push(path);
        return { status: 200, body: view() };
      },
      isShown: () => true,
      intervalMs: 60000
    });
    let opened = 0;
    const section = new ClassSection(model, undefined, {
      onOpen: () => opened++
    });
    await until(() => model.role === 'teacher');
    expect(asked).toEqual(['class']);
    section.node
      .querySelector<HTMLButtonElement>('.yl-ClassSection-open')
      ?.click();
    expect(opened).toBe(1);
    expect(rows(section)).toEqual([
      ['alice', 'running', 'exp3 · epoch 2/10', '12.3', '1.5 GiB'],
      ['exp4 · running', '12.3', '1.5 GiB'],
      ['bob', 'stopped', '—', '', ''],
      ['teacher teacher', 'running', '—', '', '']
    ]);
    const summary = section.node.querySelector('.yl-ClassSection-summary');
    expect(summary?.textContent).toMatch(
      /^3 users · 2 servers running · 2 trainings · read at /
    );
    // The teacher's own share, from their own row.
    expect(section.node.textContent).toContain('Your GPU share: 50 %');
    model.dispose();
    section.dispose();
  });

  it('a student (the Hub refuses the list) sees their own share, read once', async () => {
    const asked: string[] = [];
    const model = new ClassModel({
      request: async (path): Promise<IReply> => {
        asked.push(path);
        return path === 'class'
          ? { status: 403, body: { message: 'Only the class teachers' } }
          : {
              status: 200,
              body: { user: 'bob', gpu_share: 0.25, trainings: [], time: 1 }
            };
      },
      isShown: () => true,
      intervalMs: 20
    });
    const section = new ClassSection(model);
    await until(() => model.role === 'student');
    expect(model.share).toBe(0.25);
    expect(section.node.querySelector('table')).toBeNull();
    expect(section.node.querySelector('button')).toBeNull();
    expect(section.node.textContent).toContain('Your GPU share: 25 %');
    expect(section.node.textContent).not.toContain('Only the class teachers');
    await new Promise(done => setTimeout(done, 100));
    expect(asked).toEqual(['class', 'activity']);
    model.dispose();
    section.dispose();
  });

  it('says why the class could not be read, and keeps the last view', async () => {
    let reply: IReply = { status: 200, body: view() };
    const model = new ClassModel({
      request: async () => reply,
      isShown: () => true,
      intervalMs: 60000
    });
    const section = new ClassSection(model);
    await until(() => model.role === 'teacher');
    reply = {
      status: 502,
      body: { message: "The Hub's API at http://x did not answer." }
    };
    await model.refresh();
    await until(() => model.error !== '');
    const alert = section.node.querySelector('[role="alert"]');
    expect(alert?.textContent).toBe(
      "The Hub's API at http://x did not answer."
    );
    expect(rows(section)[0][0]).toBe('alice');
    model.dispose();
    section.dispose();
  });

  it('reads nothing while it is not shown', async () => {
    let asked = 0;
    const model = new ClassModel({
      request: async () => {
        asked++;
        return { status: 200, body: view() };
      },
      isShown: () => false,
      intervalMs: 10
    });
    await new Promise(done => setTimeout(done, 100));
    expect(asked).toBe(0);
    expect(model.role).toBe('unknown');
    model.dispose();
  });

  it('words a share and a training without epochs yet', () => {
    expect(shareText(0.25)).toBe('25 %');
    expect(shareText(1)).toBe('100 %');
    expect(trainingText(training({ epoch: null, status: 'starting' }))).toBe(
      'exp3 · starting'
    );
  });
});
