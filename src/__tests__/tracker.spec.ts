import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Signal } from '@lumino/signaling';

import { START_CODE } from '../connector';
import { ReproTracker } from '../tracker/tracker';
import { FakeKernel, FakeSessionContext, tick } from './mocks';

/**
 * Just enough of a notebook panel and its kernel for the tracker: the kernel has no recorder
 * (it closes every `repro` comm) and records what it is asked to execute.
 */
function fakePanel(id: string) {
  const kernel = new FakeKernel({ recorder: false });
  const sessionContext = new FakeSessionContext(kernel);
  const panel = {
    id,
    isDisposed: false,
    sessionContext,
    context: {
      path: `${id}.ipynb`,
      ready: new Promise(() => undefined),
      saveState: new Signal<any, string>({})
    },
    model: null,
    disposed: new Signal<any, void>({})
  };
  return {
    panel: panel as unknown as NotebookPanel,
    ready: sessionContext.readyDelegate,
    sessionContext,
    kernel
  };
}

function fakeNotebooks() {
  const notebooks = {
    currentWidget: null as NotebookPanel | null,
    widgetAdded: new Signal<any, NotebookPanel>({}),
    currentChanged: new Signal<any, NotebookPanel | null>({}),
    forEach: () => undefined
  };
  return notebooks;
}

describe('ReproTracker', () => {
  it('keeps one model per notebook and follows the current one', async () => {
    const notebooks = fakeNotebooks();
    const tracker = new ReproTracker(notebooks as unknown as INotebookTracker);
    const a = fakePanel('a');
    const b = fakePanel('b');
    notebooks.widgetAdded.emit(a.panel);
    notebooks.widgetAdded.emit(b.panel);
    const modelA = tracker.modelFor(a.panel);
    expect(modelA).not.toBeNull();
    expect(tracker.modelFor(a.panel)).toBe(modelA);
    expect(tracker.modelFor(b.panel)).not.toBe(modelA);

    const current: any[] = [];
    tracker.currentChanged.connect((_, model) => current.push(model));
    notebooks.currentWidget = b.panel;
    notebooks.currentChanged.emit(b.panel);
    expect(current).toEqual([tracker.modelFor(b.panel)]);
    expect(tracker.currentModel).toBe(tracker.modelFor(b.panel));

    (a.panel as any).disposed.emit();
    expect(modelA!.isDisposed).toBe(true);
  });

  it('does not start recording unless autoStart is set', async () => {
    const notebooks = fakeNotebooks();
    new ReproTracker(notebooks as unknown as INotebookTracker);
    const a = fakePanel('a');
    notebooks.widgetAdded.emit(a.panel);
    a.ready.resolve();
    await tick();
    expect(a.kernel.executedCode).toEqual([]);
  });

  it('with autoStart, starts once per kernel that lacks the recorder', async () => {
    const notebooks = fakeNotebooks();
    const tracker = new ReproTracker(notebooks as unknown as INotebookTracker);
    tracker.updateSettings({ autoStart: true });
    const a = fakePanel('a');
    notebooks.widgetAdded.emit(a.panel);
    a.ready.resolve();
    await tick();
    // The fake kernel never loads the recorder: one attempt, no loop.
    expect(a.kernel.executedCode).toEqual([START_CODE]);
    expect(tracker.modelFor(a.panel)!.lastError).toMatch(/did not answer/);

    // A restarted kernel gets one more attempt.
    a.sessionContext.statusChanged.emit('restarting');
    a.sessionContext.statusChanged.emit('idle');
    await tick();
    expect(a.kernel.executedCode).toEqual([START_CODE, START_CODE]);
  });
});
