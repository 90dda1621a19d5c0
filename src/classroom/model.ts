/**
 * The class seen from the panel, when this JupyterLab is a JupyterHub
 * server: a teacher's view of every student's server and training, and a
 * student's share of the GPU.
 *
 * Everything comes from yolo-lab's server extension (GET /yolo-lab/class
 * and /yolo-lab/activity, yolo_lab/server/classroom.py), which asks the Hub with
 * this server's own token: the browser never holds a Hub token.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

/** How often a teacher's view is read while it is shown. */
export const CLASS_POLL_MS = 10000;

/** One training running in a server, from its run folder's latest events. */
export interface IClassTraining {
  name: string;
  run: string;
  status: string;
  started: number | null;
  detached: boolean;
  epoch: number | null;
  epochs: number | null;
  batch: number | null;
  batches: number | null;
  imgs_per_s: number | null;
  gpu_mem_bytes: number | null;
  gpu_util_pct: number | null;
  updated: number | null;
}

/** One user of the Hub and their server. */
export interface IClassMember {
  name: string;
  admin: boolean;
  me: boolean;
  /** "ready", "stopped", or the Hub's pending action ("spawn", "stop"). */
  server: string;
  last_activity: string | null;
  started: string | null;
  gpu_share: number | null;
  trainings: IClassTraining[];
  /** Why the server's activity could not be read (it runs). */
  error: string | null;
}

/** GET /yolo-lab/class. */
export interface IClassView {
  students: IClassMember[];
  hub: string;
  time: number;
}

/** GET /yolo-lab/activity: this server's own. */
export interface IActivity {
  user: string | null;
  gpu_share: number | null;
  trainings: IClassTraining[];
  time: number;
}

/** A reply: the HTTP status and the JSON body (null without one). */
export interface IReply {
  status: number;
  body: unknown;
}

/** Asks the server extension: `class` or `activity`. */
export type ClassRequest = (path: 'class' | 'activity') => Promise<IReply>;

/** Who this user is in the class, as far as the Hub says. */
export type ClassRole = 'unknown' | 'teacher' | 'student';

/** Options of the class model. */
export interface IClassModelOptions {
  request: ClassRequest;
  /** Whether the view is shown now (no reads while it is not). */
  isShown: () => boolean;
  /** Milliseconds between a teacher's reads (default {@link CLASS_POLL_MS}). */
  intervalMs?: number;
}

function message(reply: IReply): string {
  const body = reply.body as { message?: unknown } | null;
  return typeof body?.message === 'string' && body.message
    ? body.message
    : `HTTP ${reply.status}`;
}

/**
 * The class, read while shown: a teacher's view every interval; a
 * student (the Hub refuses them the list of users) reads their own share
 * once.
 */
export class ClassModel {
  constructor(options: IClassModelOptions) {
    this._request = options.request;
    const interval = options.intervalMs ?? CLASS_POLL_MS;
    this._poll = new Poll({
      factory: () => this._read(),
      frequency: { interval, backoff: true, max: 6 * interval },
      standby: () => !options.isShown() || document.hidden,
      name: 'yolo-lab:class'
    });
  }

  /** Emits when anything shown changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get role(): ClassRole {
    return this._role;
  }

  /** This user's share of each GPU's memory (0-1), null when none is set. */
  get share(): number | null {
    return this._share;
  }

  /** The teacher's view at the last read that worked. */
  get view(): IClassView | null {
    return this._view;
  }

  /** Why the last read failed ('' when it worked). */
  get error(): string {
    return this._error;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /** Read now (the section was opened). */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  dispose(): void {
    if (this._poll.isDisposed) {
      return;
    }
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _read(): Promise<void> {
    if (this._role === 'student') {
      return;
    }
    let reply: IReply;
    try {
      reply = await this._request('class');
    } catch (reason) {
      this._set({ error: `the server did not answer: ${String(reason)}` });
      throw reason;
    }
    if (reply.status === 200) {
      const view = reply.body as IClassView;
      const me = view.students.find(s => s.me);
      this._set({
        role: 'teacher',
        view,
        share: me?.gpu_share ?? null,
        error: ''
      });
      return;
    }
    if (reply.status === 403) {
      // Not a teacher: the Hub will not list the class for this server.
      await this._readOwn();
      this._poll.stop();
      return;
    }
    this._set({ error: message(reply) });
    throw new Error(message(reply));
  }

  private async _readOwn(): Promise<void> {
    const reply = await this._request('activity').catch((reason): IReply => ({
      status: 0,
      body: { message: String(reason) }
    }));
    const own = reply.status === 200 ? (reply.body as IActivity) : null;
    this._set({
      role: 'student',
      share: own?.gpu_share ?? null,
      error: own ? '' : message(reply)
    });
  }

  private _set(next: {
    role?: ClassRole;
    view?: IClassView | null;
    share?: number | null;
    error?: string;
  }): void {
    if (this.isDisposed) {
      return;
    }
    this._role = next.role ?? this._role;
    this._view = next.view !== undefined ? next.view : this._view;
    this._share = next.share !== undefined ? next.share : this._share;
    this._error = next.error ?? this._error;
    this._changed.emit();
  }

  private _request: ClassRequest;
  private _poll: Poll;
  private _role: ClassRole = 'unknown';
  private _share: number | null = null;
  private _view: IClassView | null = null;
  private _error = '';
  private _changed = new Signal<this, void>(this);
}
