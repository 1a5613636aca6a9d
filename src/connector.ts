import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { PromiseDelegate, UUID } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';

import { COMM_TARGET, PROTOCOL_VERSION, Repro } from './tokens';

/**
 * The code that loads the recorder in a kernel and starts recording (run silently).
 */
export const START_CODE = '%load_ext repro_kernel\n%repro start';

/**
 * What the panel says when it started recording again in a restarted kernel.
 */
export const RESUMED_NOTICE =
  'The kernel restarted: recording goes on from its first cell, in a new session.';

/**
 * Code a user may run by hand that makes the `repro` comm target appear.
 */
const LOADS_RECORDER = /%load_ext\s+repro_kernel|%repro\s+start/;

/**
 * How long a request waits for its reply, by type; verify replays a whole session.
 */
const REPLY_TIMEOUT_MS: { [type: string]: number } = {
  verify: 30 * 60 * 1000,
  export: 5 * 60 * 1000,
  default: 60 * 1000
};

interface IPending {
  resolve: (reply: Repro.IReply) => void;
  reject: (reason: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The one owner of kernel traffic for a notebook: it opens the `repro` comm, follows kernel
 * changes and restarts, re-opens the comm, and matches replies to requests.
 */
export class KernelConnector implements Repro.ITransport {
  constructor(options: KernelConnector.IOptions) {
    this._sessionContext = options.sessionContext;
    this._notebookPath = options.notebookPath;
    this._sessionContext.kernelChanged.connect(this._onKernelChanged, this);
    this._sessionContext.statusChanged.connect(this._onStatusChanged, this);
    this._sessionContext.connectionStatusChanged.connect(
      this._onConnectionStatusChanged,
      this
    );
    this._sessionContext.iopubMessage.connect(this._onIOPub, this);
    void this._sessionContext.ready.then(() => {
      if (!this._isDisposed && this._state === 'no-kernel') {
        void this.connect();
      }
    });
  }

  get state(): Repro.ConnectionState {
    return this._state;
  }

  get stateChanged(): ISignal<Repro.ITransport, Repro.ConnectionState> {
    return this._stateChanged;
  }

  get messageReceived(): ISignal<Repro.ITransport, Repro.Push | Repro.IReply> {
    return this._messageReceived;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._dropComm('the notebook was closed');
    Signal.clearData(this);
  }

  /**
   * Open the comm and send `hello`; resolves with the state the handshake ends in.
   */
  connect(): Promise<Repro.ConnectionState> {
    this._dropComm('reconnecting');
    const kernel = this._sessionContext.session?.kernel;
    if (!kernel || kernel.isDisposed || kernel.status === 'dead') {
      this._setState('no-kernel');
      return Promise.resolve(this._state);
    }
    const generation = ++this._generation;
    const handshake = new PromiseDelegate<Repro.ConnectionState>();
    this._handshake = handshake;
    this._setState('connecting');

    let comm: Kernel.IComm;
    try {
      comm = kernel.createComm(COMM_TARGET);
    } catch (reason) {
      this._setState('no-kernel');
      handshake.resolve(this._state);
      return handshake.promise;
    }
    this._comm = comm;
    comm.onMsg = msg => {
      if (generation === this._generation) {
        this._onCommMessage(msg);
      }
    };
    comm.onClose = () => {
      if (generation !== this._generation) {
        return;
      }
      // Closed before the handshake: the kernel has no `repro` target.
      const next: Repro.ConnectionState =
        this._state === 'connecting' ? 'not-loaded' : 'no-kernel';
      this._comm = null;
      this._setState(next);
      handshake.resolve(next);
      this._rejectAll('the kernel closed the repro comm');
    };

    const requestId = UUID.uuid4();
    this._pending.set(requestId, {
      resolve: reply => {
        if (generation !== this._generation) {
          return;
        }
        this._setState('connected');
        this._messageReceived.emit(reply);
        handshake.resolve('connected');
      },
      reject: () => {
        handshake.resolve(this._state);
      },
      // No timeout: the kernel answers once it is idle, after a long cell maybe.
      timer: undefined
    });
    // `accept`: this frontend applies deltas (one small push per run of cells, model.ts).
    const hello: Repro.Request & { request_id: string; accept: string[] } = {
      type: 'hello',
      version: PROTOCOL_VERSION,
      notebook: this._notebookPath(),
      request_id: requestId,
      accept: ['delta']
    };
    try {
      comm.open(hello as any);
    } catch (reason) {
      this._pending.delete(requestId);
      this._comm = null;
      this._setState('no-kernel');
      handshake.resolve(this._state);
    }
    return handshake.promise;
  }

  request(message: Repro.Request): Promise<Repro.IReply> {
    const comm = this._comm;
    if (this._state !== 'connected' || !comm) {
      return Promise.reject(
        new Error('Not connected to a recording kernel: start recording first.')
      );
    }
    const requestId = UUID.uuid4();
    return new Promise<Repro.IReply>((resolve, reject) => {
      const timeout =
        REPLY_TIMEOUT_MS[message.type] ?? REPLY_TIMEOUT_MS.default;
      const timer = setTimeout(() => {
        this._pending.delete(requestId);
        reject(
          new Error(
            `The kernel did not answer "${message.type}" in ${Math.round(timeout / 1000)} s: is it busy?`
          )
        );
      }, timeout);
      this._pending.set(requestId, {
        timer,
        reject,
        resolve: reply => {
          if (reply.success === false) {
            reject(new Error(reply.error || `${message.type} failed`));
          } else {
            resolve(reply);
          }
        }
      });
      try {
        comm.send({ ...message, request_id: requestId } as any);
      } catch (reason) {
        clearTimeout(timer);
        this._pending.delete(requestId);
        reject(reason instanceof Error ? reason : new Error(String(reason)));
      }
    });
  }

  /**
   * Load the recorder in the kernel, start recording, and reconnect.
   */
  async startRecording(): Promise<void> {
    const kernel = this._sessionContext.session?.kernel;
    if (!kernel) {
      throw new Error('This notebook has no kernel: select one first.');
    }
    const future = kernel.requestExecute({
      code: START_CODE,
      silent: true,
      store_history: false,
      stop_on_error: true
    });
    const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
    if (reply.content.status === 'error') {
      const { ename, evalue } = reply.content;
      throw new Error(
        ename === 'ModuleNotFoundError'
          ? "The kernel cannot import repro_kernel: pip install jupyter-repro in the kernel's environment."
          : `Starting the recorder failed: ${ename}: ${evalue}`
      );
    }
    const state = await this.connect();
    if (state !== 'connected') {
      throw new Error(
        'The recorder started but did not answer on the repro comm: restart the kernel and try again.'
      );
    }
  }

  private _onCommMessage(msg: KernelMessage.ICommMsgMsg): void {
    const data = msg.content.data as unknown as Repro.Push | Repro.IReply;
    if (!data || typeof data !== 'object' || typeof data.type !== 'string') {
      return;
    }
    const status = (data as { status?: Repro.IStatus }).status;
    if (status && typeof status.recording === 'boolean') {
      this._recording = status.recording;
    }
    // A delta (model.ts) carries the recording state in its counters.
    const counters = (data as { counters?: { recording?: unknown } }).counters;
    if (counters && typeof counters.recording === 'boolean') {
      this._recording = counters.recording;
    }
    const requestId = (data as Repro.IReply).request_id;
    if (data.type.endsWith('-reply') && requestId) {
      const pending = this._pending.get(requestId);
      if (pending) {
        this._pending.delete(requestId);
        clearTimeout(pending.timer);
        pending.resolve(data as Repro.IReply);
      }
      return;
    }
    this._messageReceived.emit(data);
  }

  private _onKernelChanged(
    sender: ISessionContext,
    change: { newValue: Kernel.IKernelConnection | null }
  ): void {
    this._dropComm('the kernel changed');
    if (change.newValue) {
      void this.connect();
    } else {
      this._setState('no-kernel');
    }
  }

  private _onStatusChanged(
    sender: ISessionContext,
    status: Kernel.Status
  ): void {
    switch (status) {
      case 'restarting':
      case 'autorestarting':
      case 'dead':
      case 'terminating': {
        const wasRecording = this._recording && this._comm !== null;
        this._dropComm('the kernel restarted');
        this._setState('no-kernel');
        this._reconnectWhenIdle = status !== 'dead';
        // A restart may be told twice (by the session context, then by the kernel).
        if (status === 'dead' || status === 'terminating') {
          this._resumePending = false;
        } else if (wasRecording) {
          this._resumePending = true;
        }
        break;
      }
      case 'idle':
        if (this._resumePending) {
          this._resumeRecording(); // an automatic restart keeps its connection
        }
        if (this._reconnectWhenIdle && !this._resuming) {
          this._reconnectWhenIdle = false;
          void this.connect();
        }
        break;
      default:
        break;
    }
  }

  /**
   * A restart reconnects the kernel's socket before JupyterLab runs any cell (Restart Kernel and
   * Run All): the start code sent now is queued ahead of them, so the new session starts with the
   * first cell.
   */
  private _onConnectionStatusChanged(
    sender: ISessionContext,
    status: Kernel.ConnectionStatus
  ): void {
    if (status === 'connected' && this._resumePending) {
      this._resumeRecording();
    }
  }

  /**
   * A notebook that was recording goes on recording in its restarted kernel (Restart Kernel and Run
   * All is the fix the out-of-order flag recommends), and the panel says so.
   */
  private _resumeRecording(): void {
    const kernel = this._sessionContext.session?.kernel;
    this._resumePending = false;
    this._recording = false;
    if (!kernel || kernel.isDisposed) {
      return;
    }
    let future: Kernel.IShellFuture<
      KernelMessage.IExecuteRequestMsg,
      KernelMessage.IExecuteReplyMsg
    >;
    try {
      future = kernel.requestExecute({
        code: START_CODE,
        silent: true,
        store_history: false,
        stop_on_error: false
      });
    } catch {
      return;
    }
    // The comm opens once the restarted kernel has answered: a comm opened while the restart is
    // still under way would be bound to a subshell of the old kernel, which the new one rejects.
    this._reconnectWhenIdle = false;
    this._resuming = true;
    const connect = () => {
      this._resuming = false;
      if (!this._isDisposed) {
        void this.connect();
      }
    };
    void future.done.then(reply => {
      if (reply?.content?.status === 'ok') {
        this._messageReceived.emit({ type: 'notice', text: RESUMED_NOTICE });
      }
      connect();
    }, connect);
  }

  /**
   * Reconnect after the user loads the recorder by hand in a cell.
   */
  private _onIOPub(sender: ISessionContext, msg: KernelMessage.IMessage): void {
    if (
      this._state === 'not-loaded' &&
      msg.header.msg_type === 'execute_input' &&
      LOADS_RECORDER.test(
        (msg as KernelMessage.IExecuteInputMsg).content.code ?? ''
      )
    ) {
      this._reconnectWhenIdle = true;
    }
  }

  private _dropComm(reason: string): void {
    this._generation++;
    const comm = this._comm;
    this._comm = null;
    this._rejectAll(reason);
    this._handshake?.resolve(this._state);
    this._handshake = null;
    if (comm && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // The kernel is gone already.
      }
    }
  }

  private _rejectAll(reason: string): void {
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const entry of pending) {
      clearTimeout(entry.timer);
      entry.reject(new Error(`Request lost: ${reason}.`));
    }
  }

  private _setState(state: Repro.ConnectionState): void {
    if (this._state !== state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  private _sessionContext: ISessionContext;
  private _notebookPath: () => string;
  private _state: Repro.ConnectionState = 'no-kernel';
  private _comm: Kernel.IComm | null = null;
  private _generation = 0;
  private _handshake: PromiseDelegate<Repro.ConnectionState> | null = null;
  private _pending = new Map<string, IPending>();
  private _reconnectWhenIdle = false;
  private _recording = false;
  private _resumePending = false;
  private _resuming = false;
  private _isDisposed = false;
  private _stateChanged = new Signal<Repro.ITransport, Repro.ConnectionState>(
    this
  );
  private _messageReceived = new Signal<
    Repro.ITransport,
    Repro.Push | Repro.IReply
  >(this);
}

export namespace KernelConnector {
  export interface IOptions {
    sessionContext: ISessionContext;
    /**
     * The notebook's path, sent in `hello`.
     */
    notebookPath: () => string;
  }
}
