import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';

import { kindLabel, kindLabels } from '../labels';
import { IBadgeEntry, flagsByCell } from '../model';
import { IReproModel, IReproTracker } from '../tokens';

export const BADGE_CLASS = 'jp-repro-badge';
const FLAGGED_CELL_CLASS = 'jp-repro-flagged';

/**
 * Draws a badge on each cell the kernel flags, keyed by cell id.
 *
 * Every cell widget of a notebook exists even when windowing keeps it out of the DOM, so
 * walking `notebook.widgets` after each change covers moved, added, deleted and virtualized
 * cells alike; a per-cell key skips cells whose badge did not change.
 */
export class CellBadges implements IDisposable {
  constructor(options: CellBadges.IOptions) {
    this._panel = options.panel;
    this._model = options.model;
    this._tracker = options.tracker;
    this._trans = options.trans;
    this._onActivate = options.onActivate;
    this._labels = kindLabels(options.trans);
    this._model.flagsChanged.connect(this._schedule, this);
    this._tracker.settingsChanged.connect(this._schedule, this);
    this._panel.content.modelChanged.connect(this._onNotebookModel, this);
    this._onNotebookModel();
    this._schedule();
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
    for (const cell of this._panel.content.widgets) {
      this._clear(cell);
    }
  }

  /**
   * Redraw now (tests call this; changes call it once the current task is done).
   */
  update(): void {
    this._scheduled = false;
    if (this._isDisposed) {
      return;
    }
    const settings = this._tracker.settings;
    const byCell = settings.showBadges
      ? flagsByCell(this._model.flags, settings.minimumSeverity)
      : new Map<string, IBadgeEntry[]>();
    for (const cell of this._panel.content.widgets) {
      const entries = cell.model ? byCell.get(cell.model.id) : undefined;
      if (entries && entries.length) {
        this._draw(cell, entries);
      } else {
        this._clear(cell);
      }
    }
  }

  private _schedule(): void {
    // A microtask, not the next animation frame: the badges then paint in the same frame as
    // the message that changed them, and a burst of changes in one task still draws once.
    if (!this._scheduled && !this._isDisposed) {
      this._scheduled = true;
      queueMicrotask(() => this.update());
    }
  }

  private _onNotebookModel(): void {
    const model = this._panel.content.model;
    if (model && model !== this._watched) {
      this._watched?.cells.changed.disconnect(this._schedule, this);
      model.cells.changed.connect(this._schedule, this);
      this._watched = model;
    }
  }

  private _draw(cell: Cell, entries: IBadgeEntry[]): void {
    const key = JSON.stringify(entries);
    const drawn = this._drawn.get(cell);
    if (drawn && drawn.key === key && drawn.node.parentNode === cell.node) {
      return;
    }
    const node = drawn?.node ?? this._createNode(cell);
    const worst = entries.some(e => e.severity === 'error')
      ? 'error'
      : entries.some(e => e.severity === 'warning')
        ? 'warning'
        : 'info';
    const first = kindLabel(this._labels, entries[0].kind);
    const label =
      entries.length > 1
        ? `${first.short} +${entries.length - 1}`
        : first.short;
    const description = entries
      .map(
        e => `${kindLabel(this._labels, e.kind).title}: ${e.message} ${e.fix}`
      )
      .join('\n');
    node.textContent = label;
    node.dataset.severity = worst;
    node.dataset.kinds = entries.map(e => e.kind).join(' ');
    node.dataset.cellId = cell.model.id;
    node.title = description;
    node.setAttribute(
      'aria-label',
      this._trans.__('Reproducibility: %1', description)
    );
    if (node.parentNode !== cell.node) {
      cell.node.appendChild(node);
    }
    cell.addClass(FLAGGED_CELL_CLASS);
    this._drawn.set(cell, { key, node });
  }

  private _createNode(cell: Cell): HTMLButtonElement {
    const node = document.createElement('button');
    node.className = BADGE_CLASS;
    node.type = 'button';
    node.addEventListener('click', event => {
      event.stopPropagation();
      if (cell.model) {
        this._onActivate(cell.model.id);
      }
    });
    return node;
  }

  private _clear(cell: Cell): void {
    const drawn = this._drawn.get(cell);
    if (drawn) {
      drawn.node.remove();
      this._drawn.delete(cell);
      cell.removeClass(FLAGGED_CELL_CLASS);
    }
  }

  private _panel: NotebookPanel;
  private _model: IReproModel;
  private _tracker: IReproTracker;
  private _trans: TranslationBundle;
  private _labels: ReturnType<typeof kindLabels>;
  private _onActivate: (cellId: string) => void;
  private _watched: NotebookPanel['content']['model'] = null;
  private _drawn = new WeakMap<Cell, { key: string; node: HTMLElement }>();
  private _scheduled = false;
  private _isDisposed = false;
}

export namespace CellBadges {
  export interface IOptions {
    panel: NotebookPanel;
    model: IReproModel;
    tracker: IReproTracker;
    trans: TranslationBundle;
    /**
     * Called when a badge is clicked, with its cell's id.
     */
    onActivate: (cellId: string) => void;
  }
}
