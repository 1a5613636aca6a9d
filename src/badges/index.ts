import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { CommandIDs, IReproTracker } from '../tokens';
import { CellBadges } from './badges';

/**
 * Adds reproducibility badges to the cells of each notebook.
 */
export const badgesPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-repro:badges',
  description: 'Shows a badge on each cell the kernel flags.',
  autoStart: true,
  requires: [IReproTracker],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: IReproTracker,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyter_repro');
    const extension: DocumentRegistry.IWidgetExtension<
      NotebookPanel,
      INotebookModel
    > = {
      createNew: (panel: NotebookPanel): IDisposable => {
        const model = tracker.modelFor(panel);
        if (!model) {
          return new DisposableDelegate(() => undefined);
        }
        const badges = new CellBadges({
          panel,
          model,
          tracker,
          trans,
          onActivate: cellId =>
            void app.commands.execute(CommandIDs.goToCell, {
              cellId,
              reveal: true
            })
        });
        panel.disposed.connect(() => badges.dispose());
        return badges;
      }
    };
    app.docRegistry.addWidgetExtension('Notebook', extension);
  }
};

export { CellBadges } from './badges';
