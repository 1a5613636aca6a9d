import { NotebookPanel } from '@jupyterlab/notebook';
import { Token } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';
import { ISignal } from '@lumino/signaling';

/**
 * The plugin id prefix; settings live under `jupyter-repro:plugin`.
 */
export const PLUGIN_ID = 'jupyter-repro:plugin';

/**
 * The comm target the kernel registers (docs/contracts.md).
 */
export const COMM_TARGET = 'repro';

/**
 * The comm protocol version this frontend speaks.
 */
export const PROTOCOL_VERSION = 1;

/**
 * The notebook metadata key holding the compact copy of the last known state.
 */
export const METADATA_KEY = 'repro';

/**
 * Command ids.
 */
export namespace CommandIDs {
  export const openPanel = 'repro:open-panel';
  export const start = 'repro:start';
  export const exportSession = 'repro:export';
  export const verify = 'repro:verify';
  export const snapshot = 'repro:snapshot';
  export const goToCell = 'repro:go-to-cell';
}

/**
 * Message, record and flag types, mirroring docs/contracts.md.
 */
export namespace Repro {
  export type Severity = 'error' | 'warning' | 'info';

  export type FlagKind =
    | 'out-of-order'
    | 'stale'
    | 'edited-since-run'
    | 'never-run'
    | 'hidden-state'
    | 'unsnapshotted-data'
    | 'changed-data'
    | 'network-input'
    | 'unseeded-randomness'
    | 'environment-drift'
    | 'absolute-path'
    | 'nondeterministic-gpu'
    | 'nondeterministic-output'
    | 'secret';

  /**
   * One finding of the kernel's analysis engine.
   */
  export interface IFlag {
    kind: FlagKind | string;
    severity: Severity;
    cells: string[];
    message: string;
    fix: string;
    details?: { [key: string]: any };
  }

  export interface IFileAccess {
    path: string;
    rel?: string | null;
    size?: number | null;
    mtime?: number | null;
    hash?: string | null;
    error?: string | null;
  }

  /**
   * One execution, as the recorder journals it (CellRecord schema_version 1).
   */
  export interface ICellRecord {
    schema_version: number;
    session_id: string;
    seq: number;
    execution_count: number | null;
    cell_id: string | null;
    code: string;
    code_hash: string;
    started_at: number;
    duration_s: number;
    status: 'ok' | 'error';
    error: string | null;
    output_hash?: string | null;
    defined?: string[];
    used?: string[];
    files_read?: IFileAccess[];
    files_written?: IFileAccess[];
    random?: { [key: string]: any };
    [key: string]: any;
  }

  export interface ITimelineEntry {
    seq: number;
    cell_id: string | null;
    execution_count: number | null;
    duration_s: number;
    status: 'ok' | 'error' | string;
    random: boolean;
    data: boolean;
  }

  export interface IDataInput {
    path: string;
    hash: string | null;
    size: number | null;
    preserved: boolean;
    changed: boolean;
  }

  export interface IGitState {
    commit: string | null;
    branch: string | null;
    dirty: boolean;
  }

  /**
   * The recording state the kernel reports.
   */
  export interface IStatus {
    recording: boolean;
    session_id?: string | null;
    started_at?: number | null;
    notebook?: string | null;
    executions?: number;
    kernel?: { python?: string; ipython?: string; ipykernel?: string };
    environment_fingerprint?: string | null;
    git?: IGitState | null;
    journal?: string | null;
    inputs?: IDataInput[];
    timeline?: ITimelineEntry[];
    /**
     * Recorder faults so far (the cells themselves were untouched).
     */
    faults?: number;
  }

  /**
   * The payload of a `flags` push: the flags and, per cell id, the kinds that name it.
   */
  export interface IFlagsPayload {
    flags: IFlag[];
    cells: { [cellId: string]: string[] };
  }

  export interface INotebookCell {
    id: string;
    cell_type: string;
    source: string;
    execution_count: number | null;
  }

  /**
   * One step of a verify report (`jupyter repro verify --json`).
   */
  export interface IVerifyStep {
    index?: number;
    label?: string;
    /**
     * `reproduced`, `differs`, `nondeterministic` (an output that cannot be the
     * same twice differed), `error` or `not-run`.
     */
    outcome?: string;
    compared?: string;
    detail?: string;
    seconds?: number;
    cell_id?: string | null;
    [key: string]: any;
  }

  export interface IVerifyResult {
    folder?: string;
    reproduced?: boolean;
    exit_code?: number;
    counts?: { [outcome: string]: number };
    steps?: IVerifyStep[];
    problems?: string[];
    warnings?: string[];
    /**
     * Where the replay ran: `fresh` is true when it ran in a new environment
     * built from the export's pins (`--fresh-env`).
     */
    environment?: { fresh?: boolean; python?: string; [key: string]: any };
    [key: string]: any;
  }

  export interface ISnapshot {
    path: string;
    hash: string;
    size: number;
  }

  /**
   * Requests from the frontend; `request_id` is added by the connector.
   */
  export type Request =
    | { type: 'hello'; version: number; notebook: string; accept?: string[] }
    | { type: 'timeline'; before?: number; limit: number }
    | { type: 'status' }
    | { type: 'start'; notebook?: string }
    | { type: 'stop' }
    | { type: 'notebook'; cells: INotebookCell[] }
    | { type: 'snapshot'; paths: string[] }
    | { type: 'export'; mode?: string }
    | { type: 'verify'; directory?: string };

  /**
   * Every reply: `{type: "<type>-reply", request_id, success, error?}` plus data.
   */
  export interface IReply {
    type: string;
    request_id?: string | null;
    success: boolean;
    error?: string;
    version?: number;
    status?: IStatus;
    snapshots?: ISnapshot[];
    directory?: string;
    result?: IVerifyResult | null;
    [key: string]: any;
  }

  /**
   * Messages the kernel pushes without a request.
   */
  export type Push =
    | { type: 'record'; record?: ICellRecord; entry?: ITimelineEntry }
    | ({ type: 'flags' } & IFlagsPayload)
    | { type: 'status'; status: IStatus }
    | { type: 'notice'; text: string }
    | { type: 'delta'; delta_version: number; seq: number; [key: string]: any };

  /**
   * Where the frontend stands with the kernel.
   *
   * - `no-kernel`: no kernel, or it is dead or restarting;
   * - `connecting`: the comm is being opened;
   * - `not-loaded`: the kernel closed the comm: the extension is not loaded there;
   * - `connected`: the handshake succeeded.
   */
  export type ConnectionState =
    'no-kernel' | 'connecting' | 'not-loaded' | 'connected';

  /**
   * The kernel transport a model talks through (the connector implements it; tests mock it).
   */
  export interface ITransport extends IDisposable {
    readonly state: ConnectionState;
    readonly stateChanged: ISignal<ITransport, ConnectionState>;
    /**
     * Emits each message the kernel pushes, and the hello reply.
     */
    readonly messageReceived: ISignal<ITransport, Push | IReply>;
    /**
     * Send a request and resolve with its reply (rejects on a failed reply or a lost comm).
     */
    request(message: Request): Promise<IReply>;
    /**
     * Load the extension in the kernel, start recording and reconnect.
     */
    startRecording(): Promise<void>;
  }

  /**
   * The compact copy of the last known state, kept in `metadata.repro`.
   */
  export interface ISavedState {
    version: number;
    saved_at: number;
    status: IStatus | null;
    flags: IFlag[];
    cells: { [cellId: string]: string[] };
  }

  /**
   * What the sidebar shows about the last export or verify.
   */
  export interface IActionState {
    running: boolean;
    error: string | null;
  }
}

/**
 * The per-notebook state the sidebar and badges display. It holds no DOM.
 */
export interface IReproModel extends IDisposable {
  readonly state: Repro.ConnectionState;
  readonly status: Repro.IStatus | null;
  readonly flags: ReadonlyArray<Repro.IFlag>;
  readonly cellKinds: Readonly<{ [cellId: string]: string[] }>;
  readonly timeline: ReadonlyArray<Repro.ITimelineEntry>;
  /**
   * Whether the kernel holds executions older than the first in `timeline`; `loadOlderTimeline` fetches them.
   */
  readonly hasOlderTimeline: boolean;
  loadOlderTimeline(limit?: number): Promise<void>;
  /**
   * True while the flags shown come from the saved notebook, not from a live kernel.
   */
  readonly fromSavedCopy: boolean;
  /**
   * When the saved copy shown was written (epoch seconds), while `fromSavedCopy`.
   */
  readonly savedAt: number | null;
  readonly lastError: string | null;
  /**
   * A one-line note from the frontend itself (e.g. recording resumed after a restart).
   */
  readonly notice: string | null;
  readonly exportDirectory: string | null;
  readonly verifyResult: Repro.IVerifyResult | null;
  readonly busy: ReadonlySet<string>;
  /**
   * Emits on any change.
   */
  readonly changed: ISignal<IReproModel, void>;
  /**
   * Emits when flags or per-cell kinds change.
   */
  readonly flagsChanged: ISignal<IReproModel, void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  exportSession(): Promise<string | null>;
  verify(): Promise<Repro.IVerifyResult | null>;
  snapshot(paths: string[]): Promise<void>;
  sendNotebook(cells: Repro.INotebookCell[]): Promise<void>;
  loadSaved(saved: Repro.ISavedState): void;
  toSaved(): Repro.ISavedState;
}

/**
 * Tracks one model per open notebook, and the current one.
 */
export interface IReproTracker {
  readonly currentModel: IReproModel | null;
  readonly currentPanel: NotebookPanel | null;
  readonly currentChanged: ISignal<IReproTracker, IReproModel | null>;
  modelFor(panel: NotebookPanel): IReproModel | null;
  /**
   * Emits when a display setting changes.
   */
  readonly settingsChanged: ISignal<IReproTracker, IReproSettings>;
  readonly settings: IReproSettings;
}

export interface IReproSettings {
  showBadges: boolean;
  minimumSeverity: Repro.Severity;
  autoStart: boolean;
}

export const IReproTracker = new Token<IReproTracker>(
  'jupyter-repro:IReproTracker',
  'The reproducibility state of each open notebook.'
);
