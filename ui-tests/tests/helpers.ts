import { IJupyterLabPageFixture, expect, galata } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

export const SIDEBAR_ID = 'jp-repro-sidebar';

/**
 * Where screenshots go: scripts/test-ui.sh keeps them as artifacts.
 */
export const SCREENSHOTS = path.resolve(__dirname, '..', 'screenshots');

/**
 * Galata's default settings with the notebook's windowing mode set ('full' detaches cells out of view).
 */
export function windowingSettings(windowingMode: string): Record<string, any> {
  return {
    ...galata.DEFAULT_SETTINGS,
    '@jupyterlab/notebook-extension:tracker': {
      ...((galata.DEFAULT_SETTINGS as any)[
        '@jupyterlab/notebook-extension:tracker'
      ] ?? {}),
      windowingMode
    }
  };
}

export interface ICellSpec {
  id: string;
  source: string;
  cell_type?: 'code' | 'markdown';
}

/**
 * An nbformat 4.5 notebook with fixed cell ids, so tests can name cells.
 */
export function notebookJSON(cells: ICellSpec[]): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: {
        name: 'python3',
        display_name: 'Python 3',
        language: 'python'
      },
      language_info: { name: 'python' }
    },
    cells: cells.map(cell =>
      (cell.cell_type ?? 'code') === 'code'
        ? {
            id: cell.id,
            cell_type: 'code',
            metadata: {},
            execution_count: null,
            outputs: [],
            source: cell.source
          }
        : {
            id: cell.id,
            cell_type: 'markdown',
            metadata: {},
            source: cell.source
          }
    )
  });
}

/**
 * Upload a notebook into the test's folder, open it and wait for its kernel.
 */
export async function openNotebook(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  name: string,
  cells: ICellSpec[]
): Promise<void> {
  await page.contents.uploadContent(
    notebookJSON(cells),
    'text',
    `${tmpPath}/${name}`
  );
  await page.filebrowser.refresh();
  await page.notebook.openByPath(`${tmpPath}/${name}`);
  await page.notebook.activate(name);
  await waitForKernelIdle(page);
}

export async function waitForKernelIdle(
  page: IJupyterLabPageFixture
): Promise<void> {
  await page.waitForFunction(() => {
    const widget = (window as any).jupyterapp.shell.currentWidget;
    return widget?.sessionContext?.session?.kernel?.status === 'idle';
  });
}

/**
 * Restart the current notebook's kernel (as Kernel > Restart Kernel does, without the dialog) and wait
 * until the restarted kernel is idle.
 */
export async function restartKernel(
  page: IJupyterLabPageFixture
): Promise<void> {
  await page.evaluate(async () => {
    const app = (window as any).jupyterapp;
    await app.shell.currentWidget.sessionContext.restartKernel();
  });
  await waitForKernelIdle(page);
}

export function sidebar(page: IJupyterLabPageFixture): Locator {
  return page.locator(`#${SIDEBAR_ID}`);
}

export async function openSidebar(
  page: IJupyterLabPageFixture
): Promise<Locator> {
  await page.sidebar.openTab(SIDEBAR_ID);
  const panel = sidebar(page);
  await expect(panel).toBeVisible();
  return panel;
}

/**
 * Start recording from the panel's button, as a user would.
 */
export async function startRecording(
  page: IJupyterLabPageFixture
): Promise<void> {
  await startRecordingIn(await openSidebar(page));
}

/**
 * Press Start recording in an open panel (JupyterLab or Notebook 7) and wait until it records.
 */
export async function startRecordingIn(panel: Locator): Promise<void> {
  await expect(panel.locator('.jp-repro-state')).toHaveAttribute(
    'data-state',
    'not-loaded'
  );
  await panel.getByRole('button', { name: 'Start recording' }).click();
  await expect(panel.locator('.jp-repro-state')).toHaveAttribute(
    'data-recording',
    'true'
  );
}

/**
 * The badge on a notebook cell, found by the cell's id.
 */
export function badge(page: IJupyterLabPageFixture, cellId: string): Locator {
  return page.locator(`.jp-repro-badge[data-cell-id="${cellId}"]`);
}

/**
 * The id of the notebook's active cell.
 */
export async function activeCellId(
  page: IJupyterLabPageFixture
): Promise<string> {
  return page.evaluate(() => {
    const app = (window as any).jupyterapp;
    const panel = app.shell.currentWidget;
    return panel.content.activeCell.model.id as string;
  });
}

/**
 * The ids of the current notebook's cells, in notebook order.
 */
export async function cellIds(page: IJupyterLabPageFixture): Promise<string[]> {
  return page.evaluate(() => {
    const app = (window as any).jupyterapp;
    const cells = app.shell.currentWidget.content.model.cells;
    const ids: string[] = [];
    for (let i = 0; i < cells.length; i++) {
      ids.push(cells.get(i).id);
    }
    return ids;
  });
}

/**
 * The id of the current notebook's first cell with this exact source, or null.
 */
export async function cellIdBySource(
  page: IJupyterLabPageFixture,
  source: string
): Promise<string | null> {
  return page.evaluate(text => {
    const app = (window as any).jupyterapp;
    const cells = app.shell.currentWidget.content.model.cells;
    for (let i = 0; i < cells.length; i++) {
      if (cells.get(i).sharedModel.getSource() === text) {
        return cells.get(i).id as string;
      }
    }
    return null;
  }, source);
}

/**
 * Make a cell of the current notebook the active (and only selected) one, by id, without
 * scrolling or clicking: the starting point for checks that something else moves the selection.
 */
export async function activateCell(
  page: IJupyterLabPageFixture,
  cellId: string
): Promise<void> {
  await page.evaluate(id => {
    const app = (window as any).jupyterapp;
    const notebook = app.shell.currentWidget.content;
    const index = notebook.widgets.findIndex(
      (cell: any) => cell.model.id === id
    );
    if (index < 0) {
      throw new Error(`no cell ${id}`);
    }
    notebook.deselectAll();
    notebook.activeCellIndex = index;
  }, cellId);
  await expect.poll(() => activeCellId(page)).toBe(cellId);
}

/**
 * Run a notebook command (e.g. `notebook:move-cell-down`) on the current notebook.
 */
export async function runCommand(
  page: IJupyterLabPageFixture,
  command: string
): Promise<void> {
  await page.evaluate(async id => {
    await (window as any).jupyterapp.commands.execute(id);
  }, command);
}

/**
 * Run one cell by id through the notebook's own run command (so the execute request carries
 * the cell id), without galata's scrolling; resolves once the kernel has answered.
 */
export async function runCellById(
  page: IJupyterLabPageFixture,
  cellId: string
): Promise<void> {
  await activateCell(page, cellId);
  await page.evaluate(async () => {
    await (window as any).jupyterapp.commands.execute('notebook:run-cell');
  });
  await expect
    .poll(() =>
      page.evaluate(id => {
        const app = (window as any).jupyterapp;
        const notebook = app.shell.currentWidget.content;
        const cell = notebook.widgets.find((c: any) => c.model.id === id);
        return cell?.model.executionCount ?? null;
      }, cellId)
    )
    .not.toBeNull();
}

/**
 * For each cell widget in notebook order: its id and the cell id of the badge inside its node.
 */
export async function badgesOnCells(
  page: IJupyterLabPageFixture
): Promise<[string, string | null][]> {
  return page.evaluate(() => {
    const app = (window as any).jupyterapp;
    return app.shell.currentWidget.content.widgets.map((cell: any) => {
      const node = cell.node.querySelector(
        '.jp-repro-badge'
      ) as HTMLElement | null;
      return [cell.model.id, node ? (node.dataset.cellId ?? '') : null];
    });
  });
}

/**
 * A text file's content, read through the server's contents API.
 */
export async function readTextFile(
  page: IJupyterLabPageFixture,
  filePath: string
): Promise<string> {
  const response = await page.request.get(
    `/api/contents/${filePath.split('/').map(encodeURIComponent).join('/')}?type=file&format=text&content=1`
  );
  expect(response.status()).toBe(200);
  return (await response.json()).content as string;
}

export async function screenshot(
  page: IJupyterLabPageFixture,
  name: string
): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/**
 * Waits until the sidebar shows a `kind` group and the cell `cellId` carries a badge of that kind;
 * returns the group.
 */
export async function expectFlagged(
  page: IJupyterLabPageFixture,
  panel: Locator,
  kind: string,
  cellId: string
): Promise<Locator> {
  const group = panel.locator(`.jp-repro-group[data-kind="${kind}"]`);
  await expect(group).toBeVisible();
  await expect(badge(page, cellId)).toHaveAttribute(
    'data-kinds',
    new RegExp(kind)
  );
  return group;
}
