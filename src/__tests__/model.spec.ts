import { ReproModel, flagsByCell, groupFlags } from '../model';
import { Repro } from '../tokens';
import { FakeTransport } from './mocks';

const outOfOrder: Repro.IFlag = {
  kind: 'out-of-order',
  severity: 'error',
  cells: ['b', 'a'],
  message: 'Cell 2 ran before cell 1.',
  fix: 'Restart and run all.'
};
const unseeded: Repro.IFlag = {
  kind: 'unseeded-randomness',
  severity: 'warning',
  cells: ['c'],
  message: 'Randomness drawn with no seed.',
  fix: 'Call %repro seed 0 first.'
};
const drift: Repro.IFlag = {
  kind: 'environment-drift',
  severity: 'info',
  cells: [],
  message: 'numpy changed since the session started.',
  fix: 'Pin numpy.'
};

const status: Repro.IStatus = {
  recording: true,
  session_id: 'abc',
  started_at: 1763800000,
  executions: 3,
  journal: '/tmp/.repro/journal.sqlite',
  timeline: [
    {
      seq: 1,
      cell_id: 'a',
      execution_count: 1,
      duration_s: 0.01,
      status: 'ok',
      random: false,
      data: false
    }
  ],
  inputs: [
    {
      path: 'data.csv',
      hash: 'blake3:ff',
      size: 3,
      preserved: false,
      changed: false
    }
  ]
};

describe('ReproModel', () => {
  let transport: FakeTransport;
  let model: ReproModel;

  beforeEach(() => {
    transport = new FakeTransport();
    model = new ReproModel(transport);
  });

  afterEach(() => {
    model.dispose();
  });

  it('shows the flags the kernel pushes, exactly as sent', () => {
    const emitted = jest.fn();
    model.flagsChanged.connect(emitted);
    transport.push({
      type: 'flags',
      flags: [outOfOrder, unseeded],
      cells: {
        a: ['out-of-order'],
        b: ['out-of-order'],
        c: ['unseeded-randomness']
      }
    });
    expect(emitted).toHaveBeenCalledTimes(1);
    expect(model.flags).toEqual([outOfOrder, unseeded]);
    expect(model.cellKinds.c).toEqual(['unseeded-randomness']);
    transport.push({ type: 'flags', flags: [], cells: {} });
    expect(model.flags).toEqual([]);
    expect(emitted).toHaveBeenCalledTimes(2);
  });

  it('takes the status from the hello reply and from status pushes', () => {
    transport.push({
      type: 'hello-reply',
      success: true,
      version: 1,
      status
    });
    expect(model.status?.session_id).toBe('abc');
    expect(model.timeline).toHaveLength(1);
    expect(model.lastError).toBeNull();
    transport.push({
      type: 'status',
      status: { ...status, executions: 4 }
    });
    expect(model.status?.executions).toBe(4);
  });

  it('merges the short timeline pushes into the full one it got first', () => {
    const entry = (seq: number) => ({
      seq,
      cell_id: `c${seq}`,
      execution_count: seq,
      duration_s: 0,
      status: 'ok',
      random: false,
      data: false
    });
    const range = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => entry(from + i));
    transport.push({
      type: 'hello-reply',
      success: true,
      version: 1,
      status: { ...status, executions: 100, timeline: range(1, 100) }
    });
    transport.push({
      type: 'record',
      entry: entry(101),
      executions: 101
    } as any);
    expect(model.timeline.map(e => e.seq)).toEqual(
      range(1, 101).map(e => e.seq)
    );
    // The push after a cell carries only the latest entries.
    transport.push({
      type: 'status',
      status: { ...status, executions: 102, timeline: range(53, 102) }
    });
    expect(model.timeline).toHaveLength(102);
    expect(model.timeline[101].seq).toBe(102);
    // A new session starts a new timeline.
    transport.push({
      type: 'status',
      status: {
        ...status,
        session_id: 'new',
        executions: 1,
        timeline: range(1, 1)
      }
    });
    expect(model.timeline.map(e => e.seq)).toEqual([1]);
  });

  it('reports a protocol version mismatch', () => {
    transport.push({ type: 'hello-reply', success: true, version: 2, status });
    expect(model.lastError).toMatch(/protocol 2/);
  });

  it('shows a notice until the next action', async () => {
    transport.push({ type: 'notice', text: 'recording goes on' });
    expect(model.notice).toBe('recording goes on');
    transport.replies.stop = { status: { recording: false } };
    await model.stop();
    expect(model.notice).toBeNull();
  });

  it('follows the connection state', () => {
    const changed = jest.fn();
    model.changed.connect(changed);
    transport.setState('not-loaded');
    expect(model.state).toBe('not-loaded');
    expect(changed).toHaveBeenCalled();
  });

  it('forgets what a kernel reported once that kernel is gone', () => {
    transport.push({ type: 'hello-reply', success: true, version: 1, status });
    transport.push({ type: 'flags', flags: [outOfOrder], cells: {} });
    const flagsChanged = jest.fn();
    model.flagsChanged.connect(flagsChanged);
    transport.setState('no-kernel');
    expect(model.status).toBeNull();
    expect(model.flags).toEqual([]);
    expect(model.timeline).toEqual([]);
    expect(flagsChanged).toHaveBeenCalledTimes(1);
  });

  it('starts through the transport when the recorder is not loaded', async () => {
    transport.setState('not-loaded');
    await model.start();
    expect(transport.startRecording).toHaveBeenCalledTimes(1);
    expect(transport.requests).toEqual([]);
    expect(model.state).toBe('connected');
  });

  it('sends start when connected but not recording', async () => {
    transport.replies.start = { status: { ...status, recording: true } };
    await model.start();
    expect(transport.startRecording).not.toHaveBeenCalled();
    expect(transport.requests).toEqual([{ type: 'start' }]);
    expect(model.status?.recording).toBe(true);
    expect(model.busy.size).toBe(0);
  });

  it('keeps the export directory; verify exports afresh and names its folder', async () => {
    transport.replies.export = { directory: '/work/nb.repro' };
    const report = {
      folder: '/work/nb-2.repro',
      reproduced: false,
      counts: { reproduced: 1, differs: 1 },
      steps: [
        { index: 1, label: 'In[1] cell 1', outcome: 'reproduced' },
        {
          index: 2,
          label: 'In[2] cell 2',
          outcome: 'differs',
          detail: 'output differs'
        }
      ]
    };
    transport.replies.verify = { result: report };
    expect(await model.exportSession()).toBe('/work/nb.repro');
    expect(model.exportDirectory).toBe('/work/nb.repro');
    expect(await model.verify()).toEqual(report);
    expect(model.verifyResult).toEqual(report);
    // The kernel exports the session as it is now, not an older folder.
    expect(transport.requests[1]).toEqual({ type: 'verify' });
    expect(model.exportDirectory).toBe('/work/nb-2.repro');
  });

  it('shows a failed action as an error and clears its busy mark', async () => {
    transport.replies.export = new Error('cannot write nb.repro: read-only');
    const busyDuring: boolean[] = [];
    model.changed.connect(() => busyDuring.push(model.busy.has('export')));
    expect(await model.exportSession()).toBeNull();
    expect(model.lastError).toBe('cannot write nb.repro: read-only');
    expect(busyDuring[0]).toBe(true);
    expect(model.busy.has('export')).toBe(false);
  });

  it('snapshots then refreshes the status', async () => {
    transport.replies.status = {
      status: {
        ...status,
        inputs: [{ ...status.inputs![0], preserved: true }]
      }
    };
    await model.snapshot(['data.csv']);
    expect(transport.requests).toEqual([
      { type: 'snapshot', paths: ['data.csv'] },
      { type: 'status' }
    ]);
    expect(model.status?.inputs?.[0].preserved).toBe(true);
    await model.snapshot([]);
    expect(transport.requests).toHaveLength(2);
  });

  it('sends the notebook only when connected and only when it changed', async () => {
    const cells: Repro.INotebookCell[] = [
      { id: 'a', cell_type: 'code', source: 'x = 1', execution_count: 1 }
    ];
    await model.sendNotebook(cells);
    await model.sendNotebook([...cells]);
    expect(transport.requests).toHaveLength(1);
    await model.sendNotebook([{ ...cells[0], source: 'x = 2' }]);
    expect(transport.requests).toHaveLength(2);

    transport.setState('no-kernel');
    await model.sendNotebook([{ ...cells[0], source: 'x = 3' }]);
    expect(transport.requests).toHaveLength(2);

    // A reconnected kernel gets the cells again, even unchanged.
    transport.setState('connected');
    await model.sendNotebook([{ ...cells[0], source: 'x = 2' }]);
    expect(transport.requests).toHaveLength(3);
  });

  it('shows the saved copy until the kernel pushes flags', () => {
    transport.setState('no-kernel');
    model.loadSaved({
      version: 1,
      saved_at: 1763800000,
      status,
      flags: [outOfOrder],
      cells: { a: ['out-of-order'] }
    });
    expect(model.fromSavedCopy).toBe(true);
    expect(model.savedAt).toBe(1763800000);
    expect(model.flags).toEqual([outOfOrder]);
    transport.setState('connected');
    transport.push({ type: 'flags', flags: [], cells: {} });
    expect(model.fromSavedCopy).toBe(false);
    expect(model.savedAt).toBeNull();
    expect(model.flags).toEqual([]);
  });

  it('ignores a saved copy of an unknown version or once live', () => {
    transport.setState('no-kernel');
    model.loadSaved({ version: 99, flags: [outOfOrder] } as any);
    expect(model.flags).toEqual([]);
    transport.setState('connected');
    model.loadSaved({
      version: 1,
      saved_at: 1,
      status: null,
      flags: [outOfOrder],
      cells: {}
    });
    expect(model.fromSavedCopy).toBe(false);
    expect(model.flags).toEqual([]);
  });

  it('saves a compact copy without the timeline or the journal path', () => {
    transport.push({ type: 'hello-reply', success: true, version: 1, status });
    transport.push({
      type: 'flags',
      flags: [outOfOrder],
      cells: { a: ['out-of-order'] }
    });
    const saved = model.toSaved();
    expect(saved.version).toBe(1);
    expect(saved.flags).toEqual([outOfOrder]);
    expect(saved.cells).toEqual({ a: ['out-of-order'] });
    expect(saved.status?.session_id).toBe('abc');
    expect(saved.status).not.toHaveProperty('timeline');
    expect(saved.status).not.toHaveProperty('journal');
    // The model's own status is untouched.
    expect(model.status?.timeline).toHaveLength(1);
  });
});

describe('display filters', () => {
  it('indexes flags by cell, keeping those at least the minimum severity', () => {
    const all = flagsByCell([outOfOrder, unseeded, drift], 'info');
    expect([...all.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(all.get('a')?.[0]).toMatchObject({
      kind: 'out-of-order',
      severity: 'error',
      fix: 'Restart and run all.'
    });
    const errors = flagsByCell([outOfOrder, unseeded], 'error');
    expect([...errors.keys()].sort()).toEqual(['a', 'b']);
  });

  it('lists a kind once per cell', () => {
    const twice = flagsByCell(
      [outOfOrder, { ...outOfOrder, cells: ['a'] }],
      'info'
    );
    expect(twice.get('a')).toHaveLength(1);
  });

  it('groups by kind, most severe first', () => {
    const groups = groupFlags(
      [drift, unseeded, outOfOrder, { ...unseeded, cells: ['d'] }],
      'info'
    );
    expect(groups.map(g => g.kind)).toEqual([
      'out-of-order',
      'unseeded-randomness',
      'environment-drift'
    ]);
    expect(groups[1].flags).toHaveLength(2);
    expect(groupFlags([drift], 'warning')).toEqual([]);
  });
});
