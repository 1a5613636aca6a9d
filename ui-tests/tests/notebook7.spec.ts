import { expect, galata, test } from '@jupyterlab/galata';
import { Page } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

import {
  SCREENSHOTS,
  SIDEBAR_ID,
  notebookJSON,
  startRecordingIn
} from './helpers';

// Notebook 7 is served by the same server as JupyterLab (the `notebook` server extension):
// /notebooks/<path> is its notebook page. galata's page fixture drives /lab only, so this test
// takes a plain Playwright page from the browser context and keeps galata's tmpPath fixture.
test.describe('Notebook 7', () => {
  test.afterEach(async ({ request, tmpPath }) => {
    // The plain page is not tracked by galata's fixtures: shut its kernel down here.
    const sessions = await (await request.get('/api/sessions')).json();
    for (const session of sessions) {
      if (session.path.startsWith(`${tmpPath}/`)) {
        await request.delete(`/api/sessions/${session.id}`);
      }
    }
  });

  test('the sidebar and badges work on the notebook page', async ({
    context,
    request,
    tmpPath
  }) => {
    const notebookPath = `${tmpPath}/order.ipynb`;
    await galata.newContentsHelper(request).uploadContent(
      notebookJSON([
        { id: 'use-x', source: 'y = x + 1\ny' },
        { id: 'define-x', source: 'x = 1' }
      ]),
      'text',
      notebookPath
    );

    const page: Page = await context.newPage();
    await page.goto(`/notebooks/${notebookPath}`);
    // The server config exposes Notebook 7's application as `window.jupyterapp`.
    await page.waitForFunction(() => {
      const app = (window as any).jupyterapp;
      const widget = app?.shell.currentWidget;
      return widget?.sessionContext?.session?.kernel?.status === 'idle';
    });
    expect(await page.evaluate(() => (window as any).jupyterapp.name)).toBe(
      'Jupyter Notebook'
    );

    // Notebook 7 lists each left panel under View → Left Sidebar (`application:toggle-panel`).
    await page.getByRole('menuitem', { name: 'View' }).click();
    await page.locator('.lm-Menu-item', { hasText: 'Left Sidebar' }).hover();
    await page
      .locator('.lm-Menu-item', { hasText: 'Show Reproducibility' })
      .click();
    const panel = page.locator(`#${SIDEBAR_ID}`);
    await expect(panel).toBeVisible();

    await startRecordingIn(panel);

    // Run the definition (cell 2), then its use (cell 1), as a user would: Ctrl+Enter in each.
    const cells = page.locator('.jp-Notebook .jp-Cell');
    const runCell = async (index: number, count: number) => {
      await cells.nth(index).locator('.jp-InputArea-editor').click();
      await page.keyboard.press('Control+Enter');
      await expect(cells.nth(index).locator('.jp-InputPrompt')).toHaveText(
        `[${count}]:`
      );
    };
    await runCell(1, 1);
    await runCell(0, 2);

    const group = panel.locator('.jp-repro-group[data-kind="out-of-order"]');
    await expect(group).toBeVisible();
    await expect(group.locator('.jp-repro-message').first()).toContainText(
      'below it'
    );
    const badge = cells.nth(0).locator('.jp-repro-badge[data-cell-id="use-x"]');
    await expect(badge).toBeVisible();
    await expect(badge).toHaveAttribute('data-kinds', /out-of-order/);
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'notebook7.png') });

    // The badge reveals the collapsed panel and selects its cell, as in JupyterLab.
    await cells.nth(1).locator('.jp-InputPrompt').click();
    await expect(cells.nth(1)).toHaveClass(/jp-mod-active/);
    await page
      .getByRole('button', { name: 'Collapse left side panel' })
      .click();
    await expect(panel).toBeHidden();
    await badge.click();
    await expect(panel).toBeVisible();
    await expect(cells.nth(0)).toHaveClass(/jp-mod-active/);

    // The notebook page has no file browser (no `filebrowser:go-to-path`): the export's folder
    // opens in Notebook's tree page, in a new tab.
    await panel.getByRole('button', { name: 'Export' }).click();
    const directory = panel.locator('.jp-repro-directory');
    await expect(directory).toHaveText(`${tmpPath}/order.repro`);
    const [tree] = await Promise.all([
      context.waitForEvent('page'),
      directory.click()
    ]);
    await tree.waitForLoadState('domcontentloaded');
    expect(new URL(tree.url()).pathname).toBe(`/tree/${tmpPath}/order.repro`);
    await expect(tree.getByText('manifest.json')).toBeVisible();
    await tree.close();
  });
});
