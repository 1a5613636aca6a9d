import { ISignal, Signal } from '@lumino/signaling';

import { IReproModel, PROTOCOL_VERSION, Repro } from './tokens';

/**
 * The version of the `delta` push this frontend applies (docs/contracts.md, "Deltas"); the connector
 * asks for deltas in `hello` with `accept: ['delta']`.
 */
export const DELTA_VERSION = 1;

/**
 * A flag as a delta names it: with the id the kernel gave it (kind, cells, message).
 */
export interface IDeltaFlag extends Repro.IFlag {
  id: string;
}

/**
 * One `delta` push: what changed since the previous one (every field but `type`, `delta_version` and
 * `seq` is optional). `flags.reset` / `cells.reset`: the full state follows (after `hello` or a
 * `flags` request); else `upsert`/`remove` change the flags held, `order` is their order, and
 * `cells.changed` gives the kinds of the cells whose kinds changed (`[]`: none any more).
 */
export interface IDelta {
  type: 'delta';
  delta_version: number;
  seq: number;
  records?: Repro.ITimelineEntry[];
  dropped?: number;
  counters?: {
    recording: boolean;
    session_id: string | null;
    executions: number;
    faults: number;
  };
  inputs?: Repro.IDataInput[];
  status?: Repro.IStatus;
  flags?: {
    reset: boolean;
    upsert: IDeltaFlag[];
    remove: string[];
    order: string[];
  };
  cells?: { reset: boolean; changed: { [cellId: string]: string[] } };
}

/**
 * A page of the timeline, the reply to `{type: 'timeline', before?, limit}`.
 */
export interface ITimelinePage extends Repro.IReply {
  entries: Repro.ITimelineEntry[];
  executions: number;
  more: boolean;
}

/**
 * What the panel's timeline pages through (the model implements it).
 */
export interface ITimelinePager {
  /**
   * Whether the kernel holds executions older than the first one held here.
   */
  readonly hasOlderTimeline: boolean;
  /**
   * Fetch the `limit` executions before the first one held here.
   */
  loadOlderTimeline(limit?: number): Promise<void>;
}

/**
 * The model as a pager, when it is one.
 */
export function timelinePager(model: unknown): ITimelinePager | null {
  return model &&
    typeof (model as ITimelinePager).loadOlderTimeline === 'function'
    ? (model as ITimelinePager)
    : null;
}

/**
 * The state of one notebook's recording, as the kernel reports it.
 *
 * It only stores and relays what the kernel says: every flag comes from the kernel's analysis
 * engine, and nothing here decides whether a session reproduces.
 */
export class ReproModel implements IReproModel, ITimelinePager {
  constructor(transport: Repro.ITransport) {
    this._transport = transport;
    this._state = transport.state;
    transport.stateChanged.connect(this._onStateChanged, this);
    transport.messageReceived.connect(this._onMessage, this);
  }

  get changed(): ISignal<IReproModel, void> {
    return this._changed;
  }

  get flagsChanged(): ISignal<IReproModel, void> {
    return this._flagsChanged;
  }

  get state(): Repro.ConnectionState {
    return this._state;
  }

  get status(): Repro.IStatus | null {
    return this._status;
  }

  get flags(): ReadonlyArray<Repro.IFlag> {
    return this._flags;
  }

  get cellKinds(): Readonly<{ [cellId: string]: string[] }> {
    return this._cellKinds;
  }

  get timeline(): ReadonlyArray<Repro.ITimelineEntry> {
    return this._timeline;
  }

  get hasOlderTimeline(): boolean {
    if (this._noOlder || !this._status) {
      return false;
    }
    const first = this._timeline[0]?.seq;
    return (
      (this._status.executions ?? 0) > this._timeline.length && first !== 1
    );
  }

  /**
   * Page the timeline back: the kernel keeps every execution, the model the ones shown.
   */
  async loadOlderTimeline(limit = 200): Promise<void> {
    if (this._state !== 'connected' || !this.hasOlderTimeline) {
      return;
    }
    const before = this._timeline[0]?.seq;
    await this._run('timeline', async () => {
      const reply = (await this._transport.request({
        type: 'timeline',
        limit,
        ...(before !== undefined ? { before } : {})
      } as unknown as Repro.Request)) as ITimelinePage;
      const older = (reply.entries ?? []).filter(
        entry => before === undefined || entry.seq < before
      );
      this._timeline = older.concat(this._timeline);
      this._noOlder = !reply.more;
    });
  }

  get fromSavedCopy(): boolean {
    return this._fromSavedCopy;
  }

  get savedAt(): number | null {
    return this._fromSavedCopy ? this._savedAt : null;
  }

  get lastError(): string | null {
    return this._lastError;
  }

  get notice(): string | null {
    return this._notice;
  }

  get exportDirectory(): string | null {
    return this._exportDirectory;
  }

  get verifyResult(): Repro.IVerifyResult | null {
    return this._verifyResult;
  }

  get busy(): ReadonlySet<string> {
    return this._busy;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  /**
   * Start recording: load the extension in the kernel when it is not loaded, else send `start`.
   */
  async start(): Promise<void> {
    await this._run('start', async () => {
      if (this._state === 'connected') {
        const reply = await this._transport.request({ type: 'start' });
        this._setStatus(reply.status);
      } else {
        await this._transport.startRecording();
      }
    });
  }

  async stop(): Promise<void> {
    await this._run('stop', async () => {
      const reply = await this._transport.request({ type: 'stop' });
      this._setStatus(reply.status);
    });
  }

  /**
   * Ask the kernel to write the replay folder; resolves with its path.
   */
  async exportSession(): Promise<string | null> {
    return this._run('export', async () => {
      const reply = await this._transport.request({ type: 'export' });
      this._exportDirectory = reply.directory ?? null;
      return this._exportDirectory;
    });
  }

  /**
   * Export the session as it is now and replay it in a fresh kernel (the kernel runs
   * `jupyter repro verify`); the result names the folder it verified.
   */
  async verify(): Promise<Repro.IVerifyResult | null> {
    this._verifyResult = null;
    return this._run('verify', async () => {
      const reply = await this._transport.request({ type: 'verify' });
      this._verifyResult = reply.result ?? null;
      if (this._verifyResult?.folder) {
        this._exportDirectory = this._verifyResult.folder;
      }
      return this._verifyResult;
    });
  }

  async snapshot(paths: string[]): Promise<void> {
    if (paths.length === 0) {
      return;
    }
    await this._run('snapshot', async () => {
      await this._transport.request({ type: 'snapshot', paths });
      const reply = await this._transport.request({ type: 'status' });
      this._setStatus(reply.status);
    });
  }

  /**
   * Tell the kernel the notebook's current cells; it re-analyses and pushes `flags`.
   * Skipped when nothing changed since the last send.
   */
  async sendNotebook(cells: Repro.INotebookCell[]): Promise<void> {
    if (this._state !== 'connected') {
      return;
    }
    const serialized = JSON.stringify(cells);
    if (serialized === this._lastNotebook) {
      return;
    }
    this._lastNotebook = serialized;
    try {
      await this._transport.request({ type: 'notebook', cells });
    } catch (reason) {
      this._lastNotebook = null;
      this._setError(reason);
      this._changed.emit();
    }
  }

  /**
   * Show the compact copy saved in the notebook until the kernel speaks.
   */
  loadSaved(saved: Repro.ISavedState): void {
    if (!saved || saved.version !== 1 || this._state === 'connected') {
      return;
    }
    this._status = saved.status ?? null;
    this._timeline = [];
    this._flags = Array.isArray(saved.flags) ? saved.flags : [];
    this._cellKinds = saved.cells ?? {};
    this._fromSavedCopy = true;
    this._savedAt = typeof saved.saved_at === 'number' ? saved.saved_at : null;
    this._flagsChanged.emit();
    this._changed.emit();
  }

  /**
   * The compact copy to keep in `metadata.repro`: no timeline, no journal path.
   */
  toSaved(): Repro.ISavedState {
    let status: Repro.IStatus | null = null;
    if (this._status) {
      // The timeline grows with the session and the journal path is machine-specific.
      status = { ...this._status };
      delete status.timeline;
      delete status.journal;
    }
    return {
      version: 1,
      saved_at: Date.now() / 1000,
      status,
      flags: [...this._flags],
      cells: { ...this._cellKinds }
    };
  }

  private async _run<T>(
    action: string,
    work: () => Promise<T>
  ): Promise<T | null> {
    this._busy.add(action);
    this._lastError = null;
    this._notice = null;
    this._changed.emit();
    try {
      return await work();
    } catch (reason) {
      this._setError(reason);
      return null;
    } finally {
      this._busy.delete(action);
      if (!this._isDisposed) {
        this._changed.emit();
      }
    }
  }

  private _setError(reason: unknown): void {
    this._lastError =
      reason instanceof Error ? reason.message : String(reason ?? 'failed');
  }

  private _setStatus(status: Repro.IStatus | undefined | null): void {
    if (!status) {
      return;
    }
    const sameSession =
      this._status?.session_id && this._status.session_id === status.session_id;
    this._status = status;
    if (!sameSession) {
      this._noOlder = false;
    }
    this._timeline = mergeTimeline(
      sameSession ? this._timeline : [],
      status.timeline ?? []
    );
  }

  private _onStateChanged(
    sender: Repro.ITransport,
    state: Repro.ConnectionState
  ): void {
    const wasConnected = this._state === 'connected';
    this._state = state;
    if (state !== 'connected') {
      this._lastNotebook = null;
    }
    if (wasConnected && state !== 'connected') {
      // The kernel that recorded is gone (restart, change, shutdown): what it reported no
      // longer describes this kernel. The saved copy in the notebook still has it.
      this._status = null;
      this._timeline = [];
      this._flags = [];
      this._flagsById = new Map();
      this._noOlder = false;
      this._cellKinds = {};
      this._verifyResult = null;
      this._flagsChanged.emit();
    }
    this._changed.emit();
  }

  private _onMessage(
    sender: Repro.ITransport,
    message: Repro.Push | Repro.IReply
  ): void {
    switch (message.type) {
      case 'hello-reply': {
        const reply = message as Repro.IReply;
        if (reply.version !== undefined && reply.version !== PROTOCOL_VERSION) {
          this._lastError = `The kernel speaks repro protocol ${reply.version}, this extension ${PROTOCOL_VERSION}: update jupyter-repro so both match.`;
        }
        this._setStatus(reply.status);
        break;
      }
      case 'status':
        this._setStatus((message as { status: Repro.IStatus }).status);
        break;
      case 'notice':
        this._notice = (message as { text?: string }).text ?? null;
        break;
      case 'flags': {
        const payload = message as Repro.IFlagsPayload;
        this._flags = Array.isArray(payload.flags) ? payload.flags : [];
        this._cellKinds = payload.cells ?? {};
        this._fromSavedCopy = false;
        this._flagsChanged.emit();
        break;
      }
      case 'delta':
        if (!this._applyDelta(message as unknown as IDelta)) {
          return;
        }
        break;
      case 'record': {
        // The status push that follows each record carries the timeline too.
        const entry = (message as { entry?: Repro.ITimelineEntry }).entry;
        if (!entry) {
          return;
        }
        this._timeline = mergeTimeline(this._timeline, [entry]);
        break;
      }
      default:
        return;
    }
    this._changed.emit();
  }

  private async _refillTimeline(count: number): Promise<void> {
    try {
      const reply = (await this._transport.request({
        type: 'timeline',
        limit: Math.min(1000, count)
      } as unknown as Repro.Request)) as ITimelinePage;
      const entries = reply.entries ?? [];
      if (entries.length && !this._isDisposed) {
        // Entries that came in later deltas meanwhile are kept.
        const lastSeq = entries[entries.length - 1].seq;
        const later = this._timeline.filter(entry => entry.seq > lastSeq);
        this._timeline = mergeTimeline(this._timeline, entries).concat(later);
        this._changed.emit();
      }
    } catch (reason) {
      this._setError(reason);
    }
  }

  /**
   * Apply one delta; returns whether anything changed.
   */
  private _applyDelta(delta: IDelta): boolean {
    if (delta.delta_version !== DELTA_VERSION) {
      this._lastError = `The kernel sends repro deltas of version ${delta.delta_version}, this extension applies ${DELTA_VERSION}: update jupyter-repro so both match.`;
      return true;
    }
    let changed = false;
    if (delta.status) {
      this._setStatus({ ...delta.status, timeline: undefined });
      changed = true;
    }
    if (delta.counters && this._status) {
      if (
        delta.counters.session_id &&
        delta.counters.session_id !== this._status.session_id
      ) {
        this._timeline = [];
        this._noOlder = false;
      }
      this._status = { ...this._status, ...delta.counters };
      changed = true;
    }
    if (delta.inputs && this._status) {
      this._status = { ...this._status, inputs: delta.inputs };
      changed = true;
    }
    if (delta.records?.length) {
      this._timeline = mergeTimeline(this._timeline, delta.records);
      changed = true;
    }
    if (delta.dropped) {
      // More cells ran than one delta carries: fetch the ones it left out.
      void this._refillTimeline(delta.dropped + (delta.records?.length ?? 0));
    }
    let flagsChanged = false;
    if (delta.flags) {
      const held = delta.flags.reset
        ? new Map<string, IDeltaFlag>()
        : this._flagsById;
      for (const id of delta.flags.remove) {
        held.delete(id);
      }
      for (const flag of delta.flags.upsert) {
        held.set(flag.id, flag);
      }
      this._flagsById = new Map(
        delta.flags.order
          .filter(id => held.has(id))
          .map(id => [id, held.get(id)!] as [string, IDeltaFlag])
      );
      this._flags = [...this._flagsById.values()];
      flagsChanged = true;
    }
    if (delta.cells) {
      const kinds = delta.cells.reset ? {} : { ...this._cellKinds };
      for (const [cellId, cellKinds] of Object.entries(delta.cells.changed)) {
        if (cellKinds.length) {
          kinds[cellId] = cellKinds;
        } else {
          delete kinds[cellId];
        }
      }
      this._cellKinds = kinds;
      flagsChanged = true;
    }
    if (flagsChanged) {
      this._fromSavedCopy = false;
      this._flagsChanged.emit();
    }
    return changed || flagsChanged;
  }

  private _transport: Repro.ITransport;
  private _state: Repro.ConnectionState;
  private _status: Repro.IStatus | null = null;
  private _timeline: Repro.ITimelineEntry[] = [];
  private _flags: Repro.IFlag[] = [];
  private _flagsById = new Map<string, IDeltaFlag>();
  private _noOlder = false;
  private _cellKinds: { [cellId: string]: string[] } = {};
  private _fromSavedCopy = false;
  private _savedAt: number | null = null;
  private _lastError: string | null = null;
  private _notice: string | null = null;
  private _exportDirectory: string | null = null;
  private _verifyResult: Repro.IVerifyResult | null = null;
  private _busy = new Set<string>();
  private _lastNotebook: string | null = null;
  private _isDisposed = false;
  private _changed = new Signal<IReproModel, void>(this);
  private _flagsChanged = new Signal<IReproModel, void>(this);
}

/**
 * The most timeline entries the model keeps (the journal has them all).
 */
const TIMELINE_KEPT = 5000;

/**
 * Merge a newer stretch of the timeline (the kernel pushes only the latest entries) into what
 * the model holds: entries are ordered by `seq`, the newer copy of an entry wins.
 */
export function mergeTimeline(
  held: ReadonlyArray<Repro.ITimelineEntry>,
  newer: ReadonlyArray<Repro.ITimelineEntry>
): Repro.ITimelineEntry[] {
  if (!newer.length) {
    return [...held];
  }
  const first = newer[0].seq;
  const kept = held.filter(entry => entry.seq < first);
  const merged = kept.concat(newer);
  return merged.length > TIMELINE_KEPT
    ? merged.slice(merged.length - TIMELINE_KEPT)
    : merged;
}

const SEVERITY_RANK: { [severity: string]: number } = {
  info: 0,
  warning: 1,
  error: 2
};

/**
 * Whether a flag's severity is at least `minimum` (a display filter the user sets).
 */
export function atLeast(
  severity: Repro.Severity | string,
  minimum: Repro.Severity
): boolean {
  return (SEVERITY_RANK[severity] ?? 0) >= SEVERITY_RANK[minimum];
}

/**
 * One badge entry: a flag the kernel raised on a cell.
 */
export interface IBadgeEntry {
  kind: string;
  severity: Repro.Severity;
  message: string;
  fix: string;
}

/**
 * Index the kernel's flags by the cells they name, keeping those at least `minimum`.
 */
export function flagsByCell(
  flags: ReadonlyArray<Repro.IFlag>,
  minimum: Repro.Severity
): Map<string, IBadgeEntry[]> {
  const byCell = new Map<string, IBadgeEntry[]>();
  for (const flag of flags) {
    if (!atLeast(flag.severity, minimum)) {
      continue;
    }
    for (const cellId of flag.cells ?? []) {
      let entries = byCell.get(cellId);
      if (!entries) {
        entries = [];
        byCell.set(cellId, entries);
      }
      if (!entries.some(entry => entry.kind === flag.kind)) {
        entries.push({
          kind: flag.kind,
          severity: flag.severity,
          message: flag.message,
          fix: flag.fix
        });
      }
    }
  }
  return byCell;
}

/**
 * Group flags by kind, most severe kinds first, keeping those at least `minimum`.
 */
export function groupFlags(
  flags: ReadonlyArray<Repro.IFlag>,
  minimum: Repro.Severity
): { kind: string; severity: Repro.Severity; flags: Repro.IFlag[] }[] {
  const groups = new Map<
    string,
    { kind: string; severity: Repro.Severity; flags: Repro.IFlag[] }
  >();
  for (const flag of flags) {
    if (!atLeast(flag.severity, minimum)) {
      continue;
    }
    let group = groups.get(flag.kind);
    if (!group) {
      group = { kind: flag.kind, severity: flag.severity, flags: [] };
      groups.set(flag.kind, group);
    }
    if (SEVERITY_RANK[flag.severity] > SEVERITY_RANK[group.severity]) {
      group.severity = flag.severity;
    }
    group.flags.push(flag);
  }
  return [...groups.values()].sort(
    (a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]
  );
}
