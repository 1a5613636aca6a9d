import { expect, test } from '@jupyterlab/galata';

import {
  openNotebook,
  openSidebar,
  sidebar,
  startRecording,
  waitForKernelIdle
} from './helpers';

test.use({ autoGoto: true });

test.describe('The panel timeline of a long session (real kernel)', () => {
  test('pages back past 500 executions, a page at a time', async ({
    page,
    tmpPath
  }) => {
    await openNotebook(page, tmpPath, 'long.ipynb', [
      // One cell that runs 650 recorded executions in the kernel (each a cell of its own to the
      // recorder), so that the session is long without 650 round trips from the browser.
      {
        id: 'many',
        source:
          'ip = get_ipython()\nfor n in range(650):\n    ip.run_cell(f"x = {n}", store_history=True)'
      }
    ]);
    await startRecording(page);
    let panel = await openSidebar(page);
    await page.notebook.runCell(0, true);
    const count = () => panel.locator('.jp-repro-timeline .jp-repro-count');
    // The nested executions are recorded, the cell that ran them is not.
    await expect(count()).toHaveText('650', { timeout: 60_000 });
    const steps = () => panel.locator('.jp-repro-timeline .jp-repro-step');
    await expect(steps()).toHaveCount(50);
    await expect(steps().last().locator('.jp-repro-seq')).toHaveText('650');

    // Reopened, the notebook's panel gets the latest 500 with the hello reply (its kernel kept running);
    // older ones come from the kernel, a page at a time.
    await page.notebook.save();
    await page.notebook.close(true);
    await page.evaluate(async path => {
      await (window as any).jupyterapp.commands.execute('docmanager:open', {
        path
      });
    }, `${tmpPath}/long.ipynb`);
    await waitForKernelIdle(page);
    panel = sidebar(page);
    await expect(panel).toBeVisible();
    await expect(count()).toHaveText('650', { timeout: 60_000 });
    await expect(steps()).toHaveCount(50);
    const older = panel.locator('.jp-repro-olderButton');
    await older.click();
    await expect(steps()).toHaveCount(250);
    await older.click();
    await expect(steps()).toHaveCount(450);
    await older.click();
    await expect(steps()).toHaveCount(650);
    await expect(steps().first().locator('.jp-repro-seq')).toHaveText('1');
    await expect(older).toHaveCount(0);
  });
});
