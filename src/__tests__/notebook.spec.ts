import { Context } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { NBTestUtils } from '@jupyterlab/notebook/lib/testutils';
import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { BADGE_CLASS, CellBadges } from '../badges/badges';
import { ReproModel } from '../model';
import { IReproSettings, IReproTracker, METADATA_KEY, Repro } from '../tokens';
import { NotebookSync, notebookCells } from '../tracker/sync';
import { FakeTransport } from './mocks';

class FakeTracker {
  settings: IReproSettings = {
    showBadges: true,
    minimumSeverity: 'info',
    autoStart: false
  };
  settingsChanged = new Signal<IReproTracker, IReproSettings>(this as any);
  set(settings: Partial<IReproSettings>) {
    this.settings = { ...this.settings, ...settings };
    this.settingsChanged.emit(this.settings);
  }
}

const wait = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

function badgeOf(panel: NotebookPanel, index: number): HTMLElement | null {
  return panel.content.widgets[index].node.querySelector(`.${BADGE_CLASS}`);
}

/** Badges on all cell widgets, in the DOM or kept out of it by windowing. */
function allBadges(panel: NotebookPanel): HTMLElement[] {
  return panel.content.widgets
    .map(cell => cell.node.querySelector(`.${BADGE_CLASS}`) as HTMLElement)
    .filter(node => node !== null);
}

function flagOn(
  cellIds: string[],
  kind = 'out-of-order',
  severity: Repro.Severity = 'error'
): Repro.IFlag {
  return {
    kind,
    severity,
    cells: cellIds,
    message: `${kind} here`,
    fix: 'Restart and run all.'
  };
}

// Yjs warns on each cell NBTestUtils.populateNotebook writes before the document attaches.
const warn = console.warn;
beforeAll(() => {
  jest.spyOn(console, 'warn').mockImplementation((...args: any[]) => {
    if (!String(args[0]).startsWith('Invalid access')) {
      warn(...args);
    }
  });
});
afterAll(() => jest.restoreAllMocks());

describe('a notebook with the recorder', () => {
  let context: Context<INotebookModel>;
  let panel: NotebookPanel;
  let transport: FakeTransport;
  let model: ReproModel;
  let tracker: FakeTracker;

  beforeEach(async () => {
    context = await NBTestUtils.createMockContext(false);
    panel = NBTestUtils.createNotebookPanel(context);
    NBTestUtils.populateNotebook(panel.content);
    Widget.attach(panel, document.body);
    transport = new FakeTransport('no-kernel');
    model = new ReproModel(transport);
    tracker = new FakeTracker();
  });

  afterEach(() => {
    model.dispose();
    panel.dispose();
    context.dispose();
  });

  describe('CellBadges', () => {
    let badges: CellBadges;
    const activated: string[] = [];

    beforeEach(() => {
      badges = new CellBadges({
        panel,
        model,
        tracker: tracker as unknown as IReproTracker,
        trans: nullTranslator.load('jupyter_repro'),
        onActivate: id => activated.push(id)
      });
    });

    afterEach(() => badges.dispose());

    it('draws a badge on exactly the flagged cells, keyed by id', () => {
      const cells = panel.content.widgets;
      expect(cells.length).toBeGreaterThan(3);
      transport.push({
        type: 'flags',
        flags: [flagOn([cells[1].model.id, cells[3].model.id])],
        cells: {}
      });
      badges.update();
      expect(badgeOf(panel, 0)).toBeNull();
      const badge = badgeOf(panel, 1)!;
      expect(badge.textContent).toBe('order');
      expect(badge.dataset.severity).toBe('error');
      expect(badge.title).toContain('out-of-order here');
      expect(badge.getAttribute('aria-label')).toContain(
        'Restart and run all.'
      );
      expect(badgeOf(panel, 3)).not.toBeNull();

      badge.click();
      expect(activated).toEqual([cells[1].model.id]);
    });

    it('sums up several kinds and shows the worst severity', () => {
      const id = panel.content.widgets[0].model.id;
      transport.push({
        type: 'flags',
        flags: [
          flagOn([id], 'unseeded-randomness', 'warning'),
          flagOn([id], 'stale', 'error')
        ],
        cells: {}
      });
      badges.update();
      const badge = badgeOf(panel, 0)!;
      expect(badge.textContent).toBe('random +1');
      expect(badge.dataset.severity).toBe('error');
      expect(badge.dataset.kinds).toBe('unseeded-randomness stale');
    });

    it('follows the cell when it moves and forgets it when deleted', () => {
      const shared = panel.content.model!.sharedModel;
      const id = panel.content.widgets[1].model.id;
      transport.push({ type: 'flags', flags: [flagOn([id])], cells: {} });
      badges.update();

      shared.moveCell(1, 4);
      badges.update();
      const moved = panel.content.widgets.findIndex(c => c.model.id === id);
      expect(moved).toBe(4);
      expect(badgeOf(panel, moved)).not.toBeNull();
      expect(allBadges(panel)).toHaveLength(1);

      shared.deleteCell(moved);
      badges.update();
      expect(allBadges(panel)).toHaveLength(0);
    });

    it('clears badges when the kernel clears the flag', () => {
      const id = panel.content.widgets[2].model.id;
      transport.push({ type: 'flags', flags: [flagOn([id])], cells: {} });
      badges.update();
      expect(badgeOf(panel, 2)).not.toBeNull();
      transport.push({ type: 'flags', flags: [], cells: {} });
      badges.update();
      expect(badgeOf(panel, 2)).toBeNull();
      expect(panel.content.widgets[2].hasClass('jp-repro-flagged')).toBe(false);
    });

    it('obeys the showBadges and minimumSeverity settings', () => {
      const id = panel.content.widgets[0].model.id;
      transport.push({
        type: 'flags',
        flags: [flagOn([id], 'unseeded-randomness', 'warning')],
        cells: {}
      });
      badges.update();
      expect(badgeOf(panel, 0)).not.toBeNull();
      tracker.set({ minimumSeverity: 'error' });
      badges.update();
      expect(badgeOf(panel, 0)).toBeNull();
      tracker.set({ minimumSeverity: 'info', showBadges: false });
      badges.update();
      expect(badgeOf(panel, 0)).toBeNull();
    });

    it('redraws once, right after the task that pushed flags', async () => {
      const id = panel.content.widgets[0].model.id;
      const update = jest.spyOn(badges, 'update');
      transport.push({ type: 'flags', flags: [flagOn([id])], cells: {} });
      tracker.set({ minimumSeverity: 'info' });
      expect(badgeOf(panel, 0)).toBeNull();
      await Promise.resolve();
      expect(update).toHaveBeenCalledTimes(1);
      expect(badgeOf(panel, 0)).not.toBeNull();
    });
  });

  describe('NotebookSync', () => {
    it('lists cells with ids, types, sources and execution counts', () => {
      const cells = notebookCells(panel.content.model!);
      expect(cells).toHaveLength(panel.content.widgets.length);
      const first = panel.content.widgets[0].model;
      expect(cells[0]).toEqual({
        id: first.id,
        cell_type: first.type,
        source: first.sharedModel.getSource(),
        execution_count:
          first.type === 'code' ? ((first as any).executionCount ?? null) : null
      });
    });

    it('shows the saved copy on open, before any kernel speaks', async () => {
      const saved: Repro.ISavedState = {
        version: 1,
        saved_at: 1763800000,
        status: { recording: true, executions: 3 },
        flags: [flagOn(['some-cell'])],
        cells: { 'some-cell': ['out-of-order'] }
      };
      panel.content.model!.setMetadata(METADATA_KEY, saved);
      const sync = new NotebookSync(panel, model);
      await context.ready;
      await wait(0);
      expect(model.fromSavedCopy).toBe(true);
      expect(model.flags).toEqual(saved.flags);
      sync.dispose();
    });

    it('sends the cells on connect and again after an edit', async () => {
      const sync = new NotebookSync(panel, model);
      await context.ready;
      transport.setState('connected');
      expect(transport.requests.map(r => r.type)).toEqual(['notebook']);
      const first = transport.requests[0] as { cells: Repro.INotebookCell[] };
      expect(first.cells).toHaveLength(panel.content.widgets.length);

      panel.content.model!.cells.get(0).sharedModel.setSource('edited = 1');
      await wait(400);
      expect(transport.requests).toHaveLength(2);
      const second = transport.requests[1] as { cells: Repro.INotebookCell[] };
      expect(second.cells[0].source).toBe('edited = 1');
      sync.dispose();
    });

    it('copies live flags into metadata.repro once something ran', async () => {
      const sync = new NotebookSync(panel, model);
      await context.ready;
      transport.setState('connected');
      const notebook = panel.content.model!;
      const flags = [flagOn([notebook.cells.get(0).id])];

      // Nothing recorded yet: opening must not dirty the notebook.
      transport.push({
        type: 'status',
        status: { recording: true, executions: 0 }
      });
      transport.push({ type: 'flags', flags, cells: {} });
      await wait(600);
      expect(notebook.getMetadata(METADATA_KEY)).toBeUndefined();

      transport.push({
        type: 'status',
        status: { recording: true, executions: 2, journal: '/x/journal.sqlite' }
      });
      transport.push({ type: 'flags', flags, cells: {} });
      await wait(600);
      const saved = notebook.getMetadata(METADATA_KEY) as Repro.ISavedState;
      expect(saved.version).toBe(1);
      expect(saved.flags).toEqual(flags);
      expect(saved.status?.executions).toBe(2);
      expect(saved.status).not.toHaveProperty('journal');
      sync.dispose();
    });

    it('writes the latest flags into a save that follows at once', async () => {
      const sync = new NotebookSync(panel, model);
      await context.ready;
      transport.setState('connected');
      const notebook = panel.content.model!;
      transport.push({
        type: 'status',
        status: { recording: true, executions: 1 }
      });
      const flags = [flagOn([notebook.cells.get(1).id], 'edited-since-run')];
      transport.push({ type: 'flags', flags, cells: {} });
      await context.save();
      const saved = notebook.getMetadata(METADATA_KEY) as Repro.ISavedState;
      expect(saved.flags).toEqual(flags);
      sync.dispose();
    });
  });
});
