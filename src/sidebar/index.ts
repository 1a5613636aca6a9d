import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { PageConfig, PathExt, URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { reproIcon } from '../icons';
import { CommandIDs, IReproTracker } from '../tokens';
import { ReproSidebar, SIDEBAR_ID } from './widget';

/**
 * Where the sidebar sits among the left panels (file browser 100, running 200, ...).
 */
const SIDEBAR_RANK = 650;

/**
 * JupyterLab's file browser command; Notebook 7's notebook page has no file browser, so no such command.
 */
const GO_TO_PATH = 'filebrowser:go-to-path';

/**
 * Select a cell by id in a notebook and scroll it into view.
 */
export async function goToCell(
  panel: NotebookPanel,
  cellId: string
): Promise<boolean> {
  const notebook = panel.content;
  const cells = notebook.model?.cells;
  if (!cells) {
    return false;
  }
  let index = -1;
  for (let i = 0; i < cells.length; i++) {
    if (cells.get(i).id === cellId) {
      index = i;
      break;
    }
  }
  if (index < 0) {
    return false;
  }
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  await notebook.scrollToItem(index, 'center');
  notebook.activeCell?.node.focus();
  return true;
}

/**
 * A path the file browser understands: relative to the server root when it lies inside it.
 */
function browserPath(directory: string): string | null {
  const root = PageConfig.getOption('serverRoot').replace(/\\/g, '/');
  const path = directory.replace(/\\/g, '/');
  if (!path.startsWith('/') && !/^[A-Za-z]:/.test(path)) {
    return path;
  }
  if (root && (path === root || path.startsWith(root.replace(/\/?$/, '/')))) {
    return PathExt.relative(root, path);
  }
  return null;
}

/**
 * The "Reproducibility" left sidebar and the commands behind its buttons.
 */
export const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-repro:sidebar',
  description: 'The Reproducibility sidebar.',
  autoStart: true,
  requires: [IReproTracker, INotebookTracker],
  optional: [ILayoutRestorer, ICommandPalette, ITranslator, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    tracker: IReproTracker,
    notebooks: INotebookTracker,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    labShell: ILabShell | null
  ) => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyter_repro');
    const { commands } = app;
    const category = trans.__('Reproducibility');
    const hasModel = () => tracker.currentModel !== null;
    const isLive = () => tracker.currentModel?.state === 'connected';

    const fail = (title: string) => (reason: unknown) =>
      void showErrorMessage(title, reason as Error);

    commands.addCommand(CommandIDs.openPanel, {
      label: trans.__('Show Reproducibility Panel'),
      icon: reproIcon,
      execute: () => app.shell.activateById(SIDEBAR_ID)
    });
    commands.addCommand(CommandIDs.start, {
      label: trans.__('Start Recording'),
      isEnabled: hasModel,
      execute: async () => {
        await tracker.currentModel?.start();
      }
    });
    // Export works from the saved notebook (its slice follows the saved outputs), so save
    // first: the export then matches what the user sees.
    const saveFirst = async () => {
      const panel = tracker.currentPanel;
      if (panel?.context.model.dirty && !panel.context.model.readOnly) {
        await panel.context.save();
      }
    };
    commands.addCommand(CommandIDs.exportSession, {
      label: trans.__('Export Replay Folder'),
      isEnabled: isLive,
      execute: async () => {
        await saveFirst();
        return tracker.currentModel?.exportSession();
      }
    });
    commands.addCommand(CommandIDs.verify, {
      label: trans.__('Restart and Verify in a Fresh Kernel'),
      isEnabled: isLive,
      execute: async () => {
        await saveFirst();
        return tracker.currentModel?.verify();
      }
    });
    commands.addCommand(CommandIDs.snapshot, {
      label: trans.__('Snapshot Data Inputs'),
      isEnabled: isLive,
      execute: async args => {
        const model = tracker.currentModel;
        const paths =
          (args.paths as string[] | undefined) ??
          (model?.status?.inputs ?? [])
            .filter(input => !input.preserved)
            .map(input => input.path);
        await model?.snapshot(paths);
      }
    });
    commands.addCommand(CommandIDs.goToCell, {
      label: trans.__('Go to Flagged Cell'),
      execute: async args => {
        const panelId = args.notebook as string | undefined;
        const panel =
          (panelId ? notebooks.find(p => p.id === panelId) : null) ??
          notebooks.currentWidget;
        if (!panel || !args.cellId) {
          return false;
        }
        if (args.reveal) {
          app.shell.activateById(SIDEBAR_ID);
        }
        app.shell.activateById(panel.id);
        return goToCell(panel, args.cellId as string);
      }
    });

    const sidebar = new ReproSidebar({
      tracker,
      translator,
      actions: {
        onStart: () =>
          void commands
            .execute(CommandIDs.start)
            .catch(fail(trans.__('Cannot start recording'))),
        onStop: () => void tracker.currentModel?.stop(),
        onExport: () => void commands.execute(CommandIDs.exportSession),
        onVerify: () => void commands.execute(CommandIDs.verify),
        onSnapshot: paths =>
          void commands.execute(CommandIDs.snapshot, { paths }),
        onGoToCell: cellId =>
          void commands.execute(CommandIDs.goToCell, { cellId }),
        displayPath: directory => browserPath(directory) ?? directory,
        onOpenDirectory: directory => {
          const path = browserPath(directory);
          if (path === null) {
            return;
          }
          if (commands.hasCommand(GO_TO_PATH)) {
            void commands.execute(GO_TO_PATH, {
              path: path.endsWith('/') ? path : `${path}/`
            });
          } else {
            // Notebook 7: its file browser is the tree page, opened in a new tab as Notebook does.
            window.open(
              URLExt.join(
                PageConfig.getBaseUrl(),
                'tree',
                URLExt.encodeParts(path)
              ),
              '_blank'
            );
          }
        }
      }
    });
    app.shell.add(sidebar, 'left', { rank: SIDEBAR_RANK });
    restorer?.add(sidebar, SIDEBAR_ID);

    if (palette) {
      for (const command of [
        CommandIDs.openPanel,
        CommandIDs.start,
        CommandIDs.exportSession,
        CommandIDs.verify,
        CommandIDs.snapshot
      ]) {
        palette.addItem({ command, category });
      }
    }
    // Commands' enabled state follows the current notebook's connection.
    const refreshCommands = () => commands.notifyCommandChanged();
    tracker.currentChanged.connect(refreshCommands);
    labShell?.currentChanged.connect(refreshCommands);
  }
};

export { ReproSidebar } from './widget';
