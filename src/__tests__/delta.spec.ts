import { IDelta, IDeltaFlag, ReproModel, timelinePager } from '../model';
import { Repro } from '../tokens';
import { FakeTransport, tick } from './mocks';

const flag = (id: string, cells: string[], kind = 'stale'): IDeltaFlag => ({
  id,
  kind,
  severity: 'warning',
  cells,
  message: `message of ${id}`,
  fix: 'fix it'
});

const entry = (seq: number): Repro.ITimelineEntry => ({
  seq,
  cell_id: `c${seq % 3}`,
  execution_count: seq,
  duration_s: 0.001,
  status: 'ok',
  random: false,
  data: false
});

const range = (from: number, to: number): Repro.ITimelineEntry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i));

const status: Repro.IStatus = {
  recording: true,
  session_id: 's1',
  started_at: 1763800000,
  executions: 0,
  timeline: [],
  inputs: []
};

let seq = 0;
const delta = (fields: Partial<IDelta>): IDelta => ({
  type: 'delta',
  delta_version: 1,
  seq: ++seq,
  ...fields
});

describe('ReproModel deltas', () => {
  let transport: FakeTransport;
  let model: ReproModel;

  beforeEach(() => {
    transport = new FakeTransport();
    model = new ReproModel(transport);
    transport.push({
      type: 'hello-reply',
      success: true,
      version: 1,
      delta: 1,
      status
    });
  });

  afterEach(() => {
    model.dispose();
  });

  it('applies flag upserts, removals and order, and per-cell kinds', () => {
    const emitted = jest.fn();
    model.flagsChanged.connect(emitted);
    transport.push(
      delta({
        flags: {
          reset: true,
          upsert: [flag('f1', ['a']), flag('f2', ['b'], 'never-run')],
          remove: [],
          order: ['f1', 'f2']
        },
        cells: { reset: true, changed: { a: ['stale'], b: ['never-run'] } }
      }) as any
    );
    expect(model.flags.map(f => (f as IDeltaFlag).id)).toEqual(['f1', 'f2']);
    expect(model.cellKinds).toEqual({ a: ['stale'], b: ['never-run'] });
    // f1 goes, f3 comes first, f2 stays: only what changed travels.
    transport.push(
      delta({
        flags: {
          reset: false,
          upsert: [flag('f3', ['c'])],
          remove: ['f1'],
          order: ['f3', 'f2']
        },
        cells: { reset: false, changed: { a: [], c: ['stale'] } }
      }) as any
    );
    expect(model.flags.map(f => (f as IDeltaFlag).id)).toEqual(['f3', 'f2']);
    expect(model.flags[1].message).toBe('message of f2');
    expect(model.cellKinds).toEqual({ b: ['never-run'], c: ['stale'] });
    expect(emitted).toHaveBeenCalledTimes(2);
    // A reset replaces everything.
    transport.push(
      delta({
        flags: { reset: true, upsert: [], remove: [], order: [] },
        cells: { reset: true, changed: {} }
      }) as any
    );
    expect(model.flags).toEqual([]);
    expect(model.cellKinds).toEqual({});
  });

  it('appends timeline entries and updates the counters and inputs', () => {
    const changed = jest.fn();
    model.changed.connect(changed);
    transport.push(
      delta({
        records: range(1, 3),
        counters: {
          recording: true,
          session_id: 's1',
          executions: 3,
          faults: 0
        },
        inputs: [
          {
            path: 'd.csv',
            hash: 'blake3:aa',
            size: 3,
            preserved: false,
            changed: false
          }
        ]
      }) as any
    );
    expect(model.timeline.map(e => e.seq)).toEqual([1, 2, 3]);
    expect(model.status?.executions).toBe(3);
    expect(model.status?.inputs?.[0].path).toBe('d.csv');
    transport.push(delta({ records: range(4, 5) }) as any);
    expect(model.timeline.map(e => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(changed).toHaveBeenCalledTimes(2);
    // A delta with nothing the model shows changes nothing.
    transport.push(delta({}) as any);
    expect(changed).toHaveBeenCalledTimes(2);
  });

  it('fetches the entries a delta left out', async () => {
    transport.replies.timeline = {
      entries: range(1, 120),
      executions: 120,
      more: false
    };
    transport.push(delta({ records: range(71, 120), dropped: 70 }) as any);
    await tick();
    expect(transport.requests).toContainEqual({ type: 'timeline', limit: 120 });
    expect(model.timeline.map(e => e.seq)).toEqual(
      range(1, 120).map(e => e.seq)
    );
  });

  it('refuses a delta version it does not know', () => {
    transport.push({
      ...delta({ records: range(1, 2) }),
      delta_version: 9
    } as any);
    expect(model.timeline).toEqual([]);
    expect(model.lastError).toContain('version 9');
  });

  it('pages the timeline back past what it holds', async () => {
    transport.push(
      delta({
        records: range(9951, 10000),
        counters: {
          recording: true,
          session_id: 's1',
          executions: 10000,
          faults: 0
        }
      }) as any
    );
    const pager = timelinePager(model)!;
    expect(pager.hasOlderTimeline).toBe(true);
    transport.replies.timeline = {
      entries: range(9751, 9950),
      executions: 10000,
      more: true
    };
    await pager.loadOlderTimeline(200);
    expect(transport.requests).toContainEqual({
      type: 'timeline',
      limit: 200,
      before: 9951
    });
    expect(model.timeline).toHaveLength(250);
    expect(model.timeline[0].seq).toBe(9751);
    expect(pager.hasOlderTimeline).toBe(true);
    transport.replies.timeline = {
      entries: range(1, 9750).slice(-200),
      executions: 10000,
      more: false
    };
    await pager.loadOlderTimeline(200);
    expect(model.timeline).toHaveLength(450);
    expect(pager.hasOlderTimeline).toBe(false);
  });

  it('starts a new timeline for a new session', () => {
    transport.push(delta({ records: range(1, 5) }) as any);
    transport.push(
      delta({
        counters: {
          recording: true,
          session_id: 's2',
          executions: 1,
          faults: 0
        },
        records: [entry(1)]
      }) as any
    );
    expect(model.timeline.map(e => e.seq)).toEqual([1]);
  });
});
