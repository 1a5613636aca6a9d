import { ICodeCellModel } from '@jupyterlab/cells';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { Debouncer } from '@lumino/polling';
import { Signal } from '@lumino/signaling';

import { IReproModel, METADATA_KEY, Repro } from '../tokens';

/**
 * How long the notebook must stay unchanged before its cells are sent to the kernel.
 */
const NOTEBOOK_DEBOUNCE_MS = 300;

/**
 * How long flags must stay unchanged before they are copied into the metadata.
 */
const METADATA_DEBOUNCE_MS = 500;

/**
 * The cells of a notebook model, as the `notebook` message carries them.
 */
export function notebookCells(model: INotebookModel): Repro.INotebookCell[] {
  const cells: Repro.INotebookCell[] = [];
  for (let i = 0; i < model.cells.length; i++) {
    const cell = model.cells.get(i);
    cells.push({
      id: cell.id,
      cell_type: cell.type,
      source: cell.sharedModel.getSource(),
      execution_count:
        cell.type === 'code'
          ? ((cell as ICodeCellModel).executionCount ?? null)
          : null
    });
  }
  return cells;
}

/**
 * What of the saved state is compared to decide whether the metadata needs writing.
 */
function comparable(saved: Repro.ISavedState | undefined | null): string {
  if (!saved) {
    return '';
  }
  return JSON.stringify([saved.status, saved.flags, saved.cells]);
}

/**
 * Keeps a notebook and its model in step: sends the cells to the kernel on open and on each
 * change (debounced), shows the saved copy until the kernel speaks, and saves the last known
 * flags in `metadata.repro`.
 */
export class NotebookSync implements IDisposable {
  constructor(panel: NotebookPanel, model: IReproModel) {
    this._panel = panel;
    this._model = model;
    this._sendDebouncer = new Debouncer(
      () => this._sendNotebook(),
      NOTEBOOK_DEBOUNCE_MS
    );
    this._saveDebouncer = new Debouncer(
      () => this._saveMetadata(),
      METADATA_DEBOUNCE_MS
    );
    model.changed.connect(this._onModelChanged, this);
    model.flagsChanged.connect(this._onFlagsChanged, this);
    // A save right after a push must not miss it: flush before the file is written.
    panel.context.saveState.connect(this._onSaveState, this);
    void panel.context.ready.then(() => {
      if (this._isDisposed || !panel.model) {
        return;
      }
      const saved = panel.model.getMetadata(METADATA_KEY) as
        Repro.ISavedState | undefined;
      if (saved) {
        model.loadSaved(saved);
      }
      panel.model.contentChanged.connect(this._onContentChanged, this);
      this._sendNotebook();
    });
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._sendDebouncer.dispose();
    this._saveDebouncer.dispose();
    Signal.clearData(this);
  }

  private _onContentChanged(): void {
    void this._sendDebouncer.invoke();
  }

  private _onModelChanged(): void {
    const state = this._model.state;
    if (state === 'connected' && this._lastState !== 'connected') {
      this._sendNotebook();
    }
    this._lastState = state;
  }

  private _onFlagsChanged(): void {
    void this._saveDebouncer.invoke();
  }

  private _onSaveState(sender: unknown, state: string): void {
    if (state === 'started') {
      void this._saveDebouncer.stop();
      this._saveMetadata();
    }
  }

  private _sendNotebook(): void {
    const notebook = this._panel.model;
    if (this._isDisposed || !notebook || this._model.state !== 'connected') {
      return;
    }
    void this._model.sendNotebook(notebookCells(notebook));
  }

  /**
   * Copy the kernel's last word into the metadata, once this session has recorded something,
   * so opening a notebook never marks it dirty.
   */
  private _saveMetadata(): void {
    const notebook = this._panel.model;
    const model = this._model;
    if (
      this._isDisposed ||
      !notebook ||
      model.fromSavedCopy ||
      model.state !== 'connected' ||
      !model.status?.executions
    ) {
      return;
    }
    const saved = model.toSaved();
    const current = notebook.getMetadata(METADATA_KEY) as
      Repro.ISavedState | undefined;
    if (comparable(saved) !== comparable(current)) {
      notebook.setMetadata(METADATA_KEY, saved);
    }
  }

  private _panel: NotebookPanel;
  private _model: IReproModel;
  private _lastState: Repro.ConnectionState | null = null;
  private _sendDebouncer: Debouncer;
  private _saveDebouncer: Debouncer;
  private _isDisposed = false;
}
