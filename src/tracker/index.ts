import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { IReproSettings, IReproTracker, PLUGIN_ID } from '../tokens';
import { DEFAULT_SETTINGS, ReproTracker } from './tracker';

/**
 * Provides the per-notebook reproducibility state and holds the extension's settings.
 */
export const trackerPlugin: JupyterFrontEndPlugin<IReproTracker> = {
  id: PLUGIN_ID,
  description: 'Connects each notebook to its kernel recorder.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry],
  provides: IReproTracker,
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    settingRegistry: ISettingRegistry | null
  ): IReproTracker => {
    const tracker = new ReproTracker(notebooks);
    if (settingRegistry) {
      void settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = () =>
            tracker.updateSettings({
              ...DEFAULT_SETTINGS,
              ...(settings.composite as Partial<IReproSettings>)
            });
          settings.changed.connect(apply);
          apply();
        })
        .catch(reason =>
          console.error('jupyter-repro: cannot load settings.', reason)
        );
    }
    return tracker;
  }
};

export { ReproTracker } from './tracker';
export { NotebookSync, notebookCells } from './sync';
