import { KernelConnector, START_CODE } from '../connector';
import { Repro } from '../tokens';
import { FakeKernel, FakeSessionContext, tick } from './mocks';

function setup() {
  const context = new FakeSessionContext();
  const connector = new KernelConnector({
    sessionContext: context.asSessionContext,
    notebookPath: () => 'work/analysis.ipynb'
  });
  const states: Repro.ConnectionState[] = [];
  const messages: any[] = [];
  connector.stateChanged.connect((_, state) => states.push(state));
  connector.messageReceived.connect((_, message) => messages.push(message));
  return { context, connector, states, messages };
}

/** Answer the hello of the comm most recently opened. */
function answerHello(kernel: FakeKernel, status: Partial<Repro.IStatus> = {}) {
  const comm = kernel.lastComm;
  comm.receive({
    type: 'hello-reply',
    request_id: comm.opened.request_id,
    success: true,
    version: 1,
    status: { recording: true, ...status }
  });
}

describe('KernelConnector', () => {
  it('opens the repro comm with hello once the session is ready', async () => {
    const { context, connector, states, messages } = setup();
    expect(connector.state).toBe('no-kernel');
    context.readyDelegate.resolve();
    await tick();
    const comm = context.kernel.lastComm;
    expect(comm.targetName).toBe('repro');
    expect(comm.opened).toMatchObject({
      type: 'hello',
      version: 1,
      notebook: 'work/analysis.ipynb',
      accept: ['delta']
    });
    expect(typeof comm.opened.request_id).toBe('string');
    expect(connector.state).toBe('connecting');

    answerHello(context.kernel, { session_id: 's1' });
    expect(connector.state).toBe('connected');
    expect(states).toEqual(['connecting', 'connected']);
    expect(messages[0]).toMatchObject({
      type: 'hello-reply',
      status: { session_id: 's1' }
    });
    connector.dispose();
  });

  it('reports not-loaded when the kernel closes the comm at once', async () => {
    const { connector, context } = setup();
    const handshake = connector.connect();
    context.kernel.lastComm.kernelCloses();
    expect(await handshake).toBe('not-loaded');
    expect(connector.state).toBe('not-loaded');
    await expect(connector.request({ type: 'status' })).rejects.toThrow(
      /start recording/
    );
    connector.dispose();
  });

  it('matches replies to requests by request_id and relays pushes', async () => {
    const { connector, context, messages } = setup();
    void connector.connect();
    answerHello(context.kernel);
    const comm = context.kernel.lastComm;

    const exported = connector.request({ type: 'export' });
    const status = connector.request({ type: 'status' });
    const [exportMsg, statusMsg] = comm.sent;
    expect(exportMsg.type).toBe('export');
    expect(exportMsg.request_id).not.toBe(statusMsg.request_id);

    // Replies may come in any order.
    comm.receive({
      type: 'status-reply',
      request_id: statusMsg.request_id,
      success: true,
      status: { recording: true, executions: 2 }
    });
    comm.receive({
      type: 'export-reply',
      request_id: exportMsg.request_id,
      success: true,
      directory: '/w/analysis.repro'
    });
    expect((await exported).directory).toBe('/w/analysis.repro');
    expect((await status).status?.executions).toBe(2);

    comm.receive({ type: 'flags', flags: [], cells: {} });
    expect(messages[messages.length - 1]).toEqual({
      type: 'flags',
      flags: [],
      cells: {}
    });
    // Replies are not relayed as pushes.
    expect(messages.filter(m => m.type === 'export-reply')).toEqual([]);
    connector.dispose();
  });

  it('rejects a failed reply with its one-line error', async () => {
    const { connector, context } = setup();
    void connector.connect();
    answerHello(context.kernel);
    const comm = context.kernel.lastComm;
    const snapshot = connector.request({ type: 'snapshot', paths: ['x'] });
    comm.receive({
      type: 'snapshot-reply',
      request_id: comm.sent[0].request_id,
      success: false,
      error: 'x: no such file; check the path'
    });
    await expect(snapshot).rejects.toThrow('x: no such file; check the path');
    connector.dispose();
  });

  it('follows a restart: drops the comm, then reopens it when idle', async () => {
    const { connector, context, states } = setup();
    void connector.connect();
    answerHello(context.kernel, { recording: false });
    const first = context.kernel.lastComm;
    const pending = connector.request({ type: 'status' });

    context.statusChanged.emit('restarting');
    expect(connector.state).toBe('no-kernel');
    await expect(pending).rejects.toThrow(/restarted/);
    // The old comm's late messages are ignored.
    first.receive({ type: 'flags', flags: [{ kind: 'stale' }], cells: {} });

    context.statusChanged.emit('starting');
    expect(context.kernel.comms).toHaveLength(1);
    context.statusChanged.emit('idle');
    expect(context.kernel.comms).toHaveLength(2);
    // The restarted kernel has not loaded the recorder.
    context.kernel.lastComm.kernelCloses();
    expect(connector.state).toBe('not-loaded');
    expect(states).toEqual([
      'connecting',
      'connected',
      'no-kernel',
      'connecting',
      'not-loaded'
    ]);
    // Later idles do not keep knocking.
    context.statusChanged.emit('idle');
    expect(context.kernel.comms).toHaveLength(2);
    connector.dispose();
  });

  it('goes on recording in a restarted kernel, before any cell, and says so', async () => {
    const { connector, context, messages } = setup();
    void connector.connect();
    answerHello(context.kernel, { recording: true });
    expect(context.kernel.executedCode).toEqual([]);

    context.statusChanged.emit('restarting');
    context.statusChanged.emit('restarting'); // the session context, then the kernel
    expect(context.kernel.executedCode).toEqual([]);
    // Sent once the restarted kernel's socket is back, before JupyterLab runs any cell.
    context.connectionStatusChanged.emit('connecting');
    expect(context.kernel.executedCode).toEqual([]);
    context.connectionStatusChanged.emit('connected');
    expect(context.kernel.executedCode).toEqual([START_CODE]);
    expect(context.kernel.executed[0]).toMatchObject({
      silent: true,
      store_history: false
    });
    await tick();
    expect(messages).toContainEqual({
      type: 'notice',
      text: expect.stringMatching(/restarted: recording goes on/)
    });
    // The comm reopens once the restarted kernel answered the start code, not before.
    expect(context.kernel.comms).toHaveLength(2);
    context.statusChanged.emit('starting');
    context.statusChanged.emit('idle');
    expect(context.kernel.executedCode).toEqual([START_CODE]); // once
    expect(context.kernel.comms).toHaveLength(2);
    answerHello(context.kernel, { recording: true });
    expect(connector.state).toBe('connected');
    connector.dispose();
  });

  it('does not start recording in a restarted kernel that was not recording', async () => {
    const { connector, context, messages } = setup();
    void connector.connect();
    answerHello(context.kernel, { recording: true });
    // The user stopped recording: the status push says so.
    context.kernel.lastComm.receive({
      type: 'status',
      status: { recording: false }
    });
    context.statusChanged.emit('restarting');
    context.connectionStatusChanged.emit('connected');
    context.statusChanged.emit('idle');
    await tick();
    expect(context.kernel.executedCode).toEqual([]);
    expect(messages.filter(m => m.type === 'notice')).toEqual([]);
    connector.dispose();
  });

  it('says nothing when the restarted kernel fails to start recording', async () => {
    const { connector, context, messages } = setup();
    void connector.connect();
    answerHello(context.kernel, { recording: true });
    context.kernel.executeReply = {
      content: { status: 'error', ename: 'ModuleNotFoundError', evalue: 'x' }
    };
    context.statusChanged.emit('autorestarting');
    // An automatic restart keeps its socket: the start code goes when the kernel is idle.
    context.statusChanged.emit('idle');
    await tick();
    expect(context.kernel.executedCode).toEqual([START_CODE]);
    expect(messages.filter(m => m.type === 'notice')).toEqual([]);
    connector.dispose();
  });

  it('follows a kernel change', async () => {
    const { connector, context } = setup();
    void connector.connect();
    answerHello(context.kernel);
    const newKernel = new FakeKernel();
    context.session.kernel = newKernel;
    context.kernelChanged.emit({ newValue: newKernel });
    expect(connector.state).toBe('connecting');
    expect(newKernel.comms).toHaveLength(1);
    answerHello(newKernel);
    expect(connector.state).toBe('connected');

    context.session.kernel = null;
    context.kernelChanged.emit({ newValue: null });
    expect(connector.state).toBe('no-kernel');
    connector.dispose();
  });

  it('starts recording silently and reconnects', async () => {
    const { connector, context } = setup();
    const handshake = connector.connect();
    context.kernel.lastComm.kernelCloses();
    await handshake;

    const started = connector.startRecording();
    await tick();
    expect(context.kernel.executed).toEqual([
      expect.objectContaining({
        code: START_CODE,
        silent: true,
        store_history: false
      })
    ]);
    expect(context.kernel.comms).toHaveLength(2);
    answerHello(context.kernel);
    await started;
    expect(connector.state).toBe('connected');
    connector.dispose();
  });

  it('says what to install when the kernel lacks repro_kernel', async () => {
    const { connector, context } = setup();
    context.kernel.executeReply = {
      content: {
        status: 'error',
        ename: 'ModuleNotFoundError',
        evalue: "No module named 'repro_kernel'"
      }
    };
    await expect(connector.startRecording()).rejects.toThrow(
      /pip install jupyter-repro/
    );
    expect(context.kernel.comms).toHaveLength(0);
    connector.dispose();
  });

  it('fails start when the comm still closes after loading', async () => {
    const { connector, context } = setup();
    const started = connector.startRecording();
    await tick();
    context.kernel.lastComm.kernelCloses();
    await expect(started).rejects.toThrow(/did not answer/);
  });

  it('reconnects after the user loads the recorder in a cell', async () => {
    const { connector, context } = setup();
    const handshake = connector.connect();
    context.kernel.lastComm.kernelCloses();
    await handshake;

    const executeInput = (code: string) =>
      context.iopubMessage.emit({
        header: { msg_type: 'execute_input' },
        content: { code }
      });
    executeInput('x = 1');
    context.statusChanged.emit('idle');
    expect(context.kernel.comms).toHaveLength(1);

    executeInput('%load_ext repro_kernel\n%repro start');
    context.statusChanged.emit('busy');
    context.statusChanged.emit('idle');
    expect(context.kernel.comms).toHaveLength(2);
    answerHello(context.kernel);
    expect(connector.state).toBe('connected');
    connector.dispose();
  });

  it('closes its comm and rejects requests when disposed', async () => {
    const { connector, context } = setup();
    void connector.connect();
    answerHello(context.kernel);
    const pending = connector.request({ type: 'status' });
    connector.dispose();
    await expect(pending).rejects.toThrow(/closed/);
    expect(context.kernel.lastComm.isDisposed).toBe(true);
  });
});
