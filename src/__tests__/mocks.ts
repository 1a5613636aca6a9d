/**
 * The one mock of the kernel side that every spec uses: a kernel with its `repro` comms and a session
 * context around it (what `KernelConnector` talks to), and a transport (what `ReproModel` talks to).
 */
import { ISessionContext } from '@jupyterlab/apputils';
import { PromiseDelegate } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';

import { Repro } from '../tokens';

/**
 * A comm whose other end the test plays.
 */
export class FakeComm {
  constructor(
    readonly targetName: string,
    private readonly _closesOnOpen = false
  ) {}
  isDisposed = false;
  opened: any = null;
  sent: any[] = [];
  onMsg: (msg: any) => void = () => undefined;
  onClose: (msg: any) => void = () => undefined;

  open(data: any): void {
    this.opened = data;
    if (this._closesOnOpen) {
      // A kernel without the recorder has no `repro` target: it closes the comm at once.
      queueMicrotask(() => this.kernelCloses());
    }
  }

  send(data: any): void {
    this.sent.push(data);
  }

  close(): void {
    this.onClose({});
    this.isDisposed = true;
  }

  /** The kernel sends a comm message. */
  receive(data: any): void {
    this.onMsg({ content: { comm_id: 'x', data } });
  }

  /** The kernel closes the comm. */
  kernelCloses(): void {
    this.isDisposed = true;
    this.onClose({ content: { comm_id: 'x', data: {} } });
  }
}

/**
 * A kernel that records what it is asked to execute and the comms opened to it. With
 * `recorder: false` it plays a kernel where the recorder is not loaded (every `repro` comm is closed).
 */
export class FakeKernel {
  constructor(options: { recorder?: boolean } = {}) {
    this._recorder = options.recorder ?? true;
  }
  status = 'idle';
  isDisposed = false;
  comms: FakeComm[] = [];
  executed: any[] = [];
  executeReply: any = { content: { status: 'ok' } };

  createComm(target: string): FakeComm {
    const comm = new FakeComm(target, !this._recorder);
    this.comms.push(comm);
    return comm;
  }

  requestExecute(content: any): { done: Promise<any> } {
    this.executed.push(content);
    return { done: Promise.resolve(this.executeReply) };
  }

  /** The code of each execute request, in order. */
  get executedCode(): string[] {
    return this.executed.map(content => content.code);
  }

  get lastComm(): FakeComm {
    return this.comms[this.comms.length - 1];
  }

  private _recorder: boolean;
}

/**
 * The session context of a notebook: its kernel, the signals the connector follows, and `ready`.
 */
export class FakeSessionContext {
  constructor(kernel: FakeKernel = new FakeKernel()) {
    this.session = { kernel };
  }
  session: { kernel: FakeKernel | null };
  kernelChanged = new Signal<any, any>(this);
  statusChanged = new Signal<any, string>(this);
  connectionStatusChanged = new Signal<any, string>(this);
  iopubMessage = new Signal<any, any>(this);
  readyDelegate = new PromiseDelegate<void>();
  get ready(): Promise<void> {
    return this.readyDelegate.promise;
  }
  get kernel(): FakeKernel {
    return this.session.kernel!;
  }
  /** Typed as JupyterLab's, for the code under test. */
  get asSessionContext(): ISessionContext {
    return this as unknown as ISessionContext;
  }
}

/**
 * A transport that records requests and answers them from a table; the test drives state and pushes.
 */
export class FakeTransport implements Repro.ITransport {
  constructor(state: Repro.ConnectionState = 'connected') {
    this.state = state;
  }
  state: Repro.ConnectionState;
  stateChanged: Signal<Repro.ITransport, Repro.ConnectionState> = new Signal(
    this
  );
  messageReceived: Signal<Repro.ITransport, Repro.Push | Repro.IReply> =
    new Signal(this);
  requests: Repro.Request[] = [];
  replies: { [type: string]: Partial<Repro.IReply> | Error } = {};
  startRecording = jest.fn(async () => {
    this.setState('connected');
  });
  isDisposed = false;

  request(message: Repro.Request): Promise<Repro.IReply> {
    this.requests.push(message);
    const reply = this.replies[message.type] ?? {};
    if (reply instanceof Error) {
      return Promise.reject(reply);
    }
    return Promise.resolve({
      type: `${message.type}-reply`,
      success: true,
      ...reply
    });
  }

  setState(state: Repro.ConnectionState): void {
    this.state = state;
    this.stateChanged.emit(state);
  }

  push(message: Repro.Push | Repro.IReply): void {
    this.messageReceived.emit(message);
  }

  dispose(): void {
    this.isDisposed = true;
  }
}

/** Let queued promise callbacks and timers of zero delay run. */
export const tick = (): Promise<unknown> =>
  new Promise(resolve => setTimeout(resolve, 0));
