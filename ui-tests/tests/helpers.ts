import { IJupyterLabPageFixture, expect } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

export const SIDEBAR_ID = 'jp-repro-sidebar';

/**
 * Where screenshots go: scripts/test-ui.sh keeps them as artifacts.
 */
export const SCREENSHOTS = path.resolve(__dirname, '..', 'screenshots');

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
  const panel = await openSidebar(page);
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

export async function screenshot(
  page: IJupyterLabPageFixture,
  name: string
): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}
