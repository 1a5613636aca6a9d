import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import { KernelConnector } from '../connector';
import { ReproModel } from '../model';
import { IReproModel, IReproSettings, IReproTracker } from '../tokens';
import { NotebookSync } from './sync';

export const DEFAULT_SETTINGS: IReproSettings = {
  showBadges: true,
  minimumSeverity: 'info',
  autoStart: false
};

interface IEntry {
  model: IReproModel;
  connector: KernelConnector;
  sync: NotebookSync;
  autoStarted: boolean;
}

/**
 * One model (and one kernel connector) per open notebook; follows the current notebook.
 */
export class ReproTracker implements IReproTracker {
  constructor(notebooks: INotebookTracker) {
    this._notebooks = notebooks;
    notebooks.widgetAdded.connect((_, panel) => this.modelFor(panel), this);
    notebooks.currentChanged.connect(this._onCurrentChanged, this);
    notebooks.forEach(panel => this.modelFor(panel));
  }

  get currentPanel(): NotebookPanel | null {
    return this._notebooks.currentWidget;
  }

  get currentModel(): IReproModel | null {
    const panel = this._notebooks.currentWidget;
    return panel ? this.modelFor(panel) : null;
  }

  get currentChanged(): ISignal<IReproTracker, IReproModel | null> {
    return this._currentChanged;
  }

  get settings(): IReproSettings {
    return this._settings;
  }

  get settingsChanged(): ISignal<IReproTracker, IReproSettings> {
    return this._settingsChanged;
  }

  updateSettings(settings: Partial<IReproSettings>): void {
    this._settings = { ...this._settings, ...settings };
    this._settingsChanged.emit(this._settings);
    if (this._settings.autoStart) {
      this._entries.forEach(entry => this._maybeAutoStart(entry));
    }
  }

  /**
   * The model of a notebook panel, created on first use and disposed with the panel.
   */
  modelFor(panel: NotebookPanel): IReproModel | null {
    if (panel.isDisposed) {
      return null;
    }
    const existing = this._entries.get(panel);
    if (existing) {
      return existing.model;
    }
    const connector = new KernelConnector({
      sessionContext: panel.sessionContext,
      notebookPath: () => panel.context.path
    });
    const model = new ReproModel(connector);
    const sync = new NotebookSync(panel, model);
    const entry: IEntry = { model, connector, sync, autoStarted: false };
    this._entries.set(panel, entry);
    connector.stateChanged.connect((_, state) => {
      if (state === 'no-kernel') {
        // A restarted or new kernel may be auto-started once more.
        entry.autoStarted = false;
      }
      this._maybeAutoStart(entry);
    }, this);
    panel.disposed.connect(() => {
      this._entries.delete(panel);
      sync.dispose();
      model.dispose();
      connector.dispose();
    }, this);
    return model;
  }

  private _maybeAutoStart(entry: IEntry): void {
    if (
      this._settings.autoStart &&
      !entry.autoStarted &&
      entry.connector.state === 'not-loaded'
    ) {
      entry.autoStarted = true;
      void entry.model.start();
    }
  }

  private _onCurrentChanged(
    sender: INotebookTracker,
    panel: NotebookPanel | null
  ): void {
    this._currentChanged.emit(panel ? this.modelFor(panel) : null);
  }

  private _notebooks: INotebookTracker;
  private _entries = new Map<NotebookPanel, IEntry>();
  private _settings: IReproSettings = { ...DEFAULT_SETTINGS };
  private _currentChanged = new Signal<IReproTracker, IReproModel | null>(this);
  private _settingsChanged = new Signal<IReproTracker, IReproSettings>(this);
}
