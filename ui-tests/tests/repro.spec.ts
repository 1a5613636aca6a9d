import { expect, test } from '@jupyterlab/galata';

import {
  activeCellId,
  badge,
  openNotebook,
  openSidebar,
  screenshot,
  startRecording,
  waitForKernelIdle
} from './helpers';

test.use({ autoGoto: true });

test.describe('Reproducibility sidebar and badges (real kernel)', () => {
  test('out-of-order run: the flag, the badge, and clicking lands on the cell', async ({
    page,
    tmpPath
  }) => {
    await openNotebook(page, tmpPath, 'order.ipynb', [
      { id: 'use-x', source: 'y = x + 1\ny' },
      { id: 'define-x', source: 'x = 1' }
    ]);
    await startRecording(page);
    const panel = await openSidebar(page);

    await page.notebook.runCell(1);
    await page.notebook.runCell(0);

    const group = panel.locator('.jp-repro-group[data-kind="out-of-order"]');
    await expect(group).toBeVisible();
    await expect(group.locator('.jp-repro-message').first()).toContainText(
      'below it'
    );
    await expect(badge(page, 'use-x')).toBeVisible();
    await expect(badge(page, 'use-x')).toHaveAttribute(
      'data-kinds',
      /out-of-order/
    );
    await expect(badge(page, 'use-x')).toHaveAttribute(
      'data-severity',
      'error'
    );
    // The timeline shows the order cells really ran in.
    const steps = panel.locator('.jp-repro-timeline .jp-repro-step');
    await expect(steps).toHaveCount(2);
    await expect(steps.nth(0)).toHaveAttribute('data-cell-id', 'define-x');
    await expect(steps.nth(1)).toHaveAttribute('data-cell-id', 'use-x');
    await screenshot(page, 'out-of-order');

    // Clicking a cell named by the flag selects that cell.
    await group
      .locator('.jp-repro-cellLink[data-cell-id="define-x"]')
      .first()
      .click();
    await expect.poll(() => activeCellId(page)).toBe('define-x');
    await group
      .locator('.jp-repro-cellLink[data-cell-id="use-x"]')
      .first()
      .click();
    await expect.poll(() => activeCellId(page)).toBe('use-x');

    // The badge is a keyboard-reachable button that opens the panel on its cell.
    await badge(page, 'use-x').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => activeCellId(page)).toBe('use-x');

    // Fixing the order (run top to bottom after moving the definition up) clears it.
    await page.notebook.setCell(0, 'code', 'x = 1');
    await page.notebook.setCell(1, 'code', 'y = x + 1\ny');
    await page.notebook.runCell(0);
    await page.notebook.runCell(1);
    await expect(badge(page, 'use-x')).toHaveCount(0);
  });

  test('editing a cell after it ran flags edited-since-run', async ({
    page,
    tmpPath
  }) => {
    await openNotebook(page, tmpPath, 'edit.ipynb', [
      { id: 'first', source: 'a = 1' },
      { id: 'second', source: 'b = a * 2' }
    ]);
    await startRecording(page);
    const panel = await openSidebar(page);
    await page.notebook.runCell(0);
    await page.notebook.runCell(1);
    await expect(badge(page, 'second')).toHaveCount(0);

    await page.notebook.setCell(1, 'code', 'b = a * 3');
    const group = panel.locator(
      '.jp-repro-group[data-kind="edited-since-run"]'
    );
    await expect(group).toBeVisible();
    await expect(badge(page, 'second')).toHaveAttribute(
      'data-kinds',
      /edited-since-run/
    );
    await screenshot(page, 'edited-since-run');

    // Saved with the notebook: reopened, it shows the last flags before any recorder runs.
    await page.notebook.save();
    await page.notebook.close();
    await page.kernel.shutdownAll();
    await page.evaluate(async path => {
      await (window as any).jupyterapp.commands.execute('docmanager:open', {
        path
      });
    }, `${tmpPath}/edit.ipynb`);
    await openSidebar(page);
    await expect(panel.locator('.jp-repro-title')).toHaveText('edit.ipynb');
    await expect(panel.locator('.jp-repro-notice')).toContainText(
      'saved with the notebook'
    );
    await expect(group).toBeVisible();
    await expect(badge(page, 'second')).toHaveAttribute(
      'data-kinds',
      /edited-since-run/
    );
    await expect(panel.locator('.jp-repro-state')).toHaveAttribute(
      'data-state',
      'not-loaded'
    );
    await screenshot(page, 'reopened-saved-flags');
  });

  test('reading a CSV flags unsnapshotted-data until Snapshot', async ({
    page,
    tmpPath
  }) => {
    await page.contents.uploadContent(
      'a,b\n1,2\n3,4\n',
      'text',
      `${tmpPath}/data.csv`
    );
    await openNotebook(page, tmpPath, 'data.ipynb', [
      {
        id: 'read',
        source: "rows = open('data.csv').read().splitlines()\nlen(rows)"
      }
    ]);
    await startRecording(page);
    const panel = await openSidebar(page);
    await page.notebook.runCell(0);

    const group = panel.locator(
      '.jp-repro-group[data-kind="unsnapshotted-data"]'
    );
    await expect(group).toBeVisible();
    await expect(badge(page, 'read')).toHaveAttribute(
      'data-kinds',
      /unsnapshotted-data/
    );
    const input = panel.locator('.jp-repro-input[data-path$="data.csv"]');
    await expect(input).toHaveAttribute('data-preserved', 'false');
    await screenshot(page, 'unsnapshotted-data');

    await input.getByRole('button', { name: /Snapshot/ }).click();
    await expect(input).toHaveAttribute('data-preserved', 'true');
    await expect(group).toHaveCount(0);
    await expect(badge(page, 'read')).toHaveCount(0);
    await screenshot(page, 'snapshotted');

    // Dark theme: the panel and badges take their colours from the theme.
    await page.notebook.runCell(0);
    await page.notebook.addCell('code', "extra = open('data.csv').read()");
    await page.theme.setDarkTheme();
    await page.contents.uploadContent(
      'a,b\n9,9\n',
      'text',
      `${tmpPath}/more.csv`
    );
    await page.notebook.setCell(1, 'code', "extra = open('more.csv').read()");
    await page.notebook.runCell(1);
    await expect(
      panel.locator('.jp-repro-input[data-path$="more.csv"]')
    ).toHaveAttribute('data-preserved', 'false');
    const background = await panel.evaluate(
      node => getComputedStyle(node).backgroundColor
    );
    expect(background).not.toBe('rgb(255, 255, 255)');
    await screenshot(page, 'dark-theme');
    await page.theme.setLightTheme();
  });
});

test.describe('Reproducibility sidebar across a kernel restart', () => {
  // Galata's kernel tracking answers a restart with 201; JupyterLab expects 200.
  test.use({ kernels: null });

  test.afterEach(async ({ page }) => {
    await page.kernel.shutdownAll();
  });

  test('the panel follows a kernel restart and exports the session', async ({
    page,
    tmpPath
  }) => {
    await openNotebook(page, tmpPath, 'restart.ipynb', [
      { id: 'seed', source: 'import random\nrandom.seed(1)' },
      { id: 'draw', source: 'value = random.random()\nvalue' }
    ]);
    await startRecording(page);
    const panel = await openSidebar(page);
    await page.notebook.runCell(0);
    await page.notebook.runCell(1);
    await expect(panel.locator('.jp-repro-executions')).toHaveText('2');

    // Export writes the replay folder beside the notebook and says where.
    await panel.getByRole('button', { name: 'Export' }).click();
    const directory = panel.locator('.jp-repro-directory');
    await expect(directory).toBeVisible();
    const written = (await directory.textContent())!.trim();
    expect(written).toBe(`${tmpPath}/restart.repro`);
    expect(
      await page.contents.directoryExists(`${tmpPath}/restart.repro`)
    ).toBe(true);
    await screenshot(page, 'exported');

    // Restart and verify: a fresh kernel replays the export, step by step.
    await panel.getByRole('button', { name: 'Restart and verify' }).click();
    const verify = panel.locator('.jp-repro-verify');
    await expect(verify).toBeVisible({ timeout: 90000 });
    await expect(verify).toHaveAttribute('data-ok', 'true');
    await expect(verify.locator('.jp-repro-verifyStep')).toHaveCount(2);
    await expect(
      verify.locator('.jp-repro-verifyStep[data-outcome="reproduced"]')
    ).toHaveCount(2);
    await screenshot(page, 'verified');
    // The path opens in the file browser.
    await directory.click();
    await expect(page.locator('.jp-BreadCrumbs')).toContainText(
      'restart.repro'
    );
    await openSidebar(page);

    // Restart: the new kernel has no recorder; the panel says so and offers to start.
    await page.evaluate(async () => {
      const app = (window as any).jupyterapp;
      await app.shell.currentWidget.sessionContext.restartKernel();
    });
    await waitForKernelIdle(page);
    await expect(panel.locator('.jp-repro-state')).toHaveAttribute(
      'data-state',
      'not-loaded'
    );
    await expect(
      panel.getByRole('button', { name: 'Start recording' })
    ).toBeVisible();
    await screenshot(page, 'after-restart');

    await panel.getByRole('button', { name: 'Start recording' }).click();
    await expect(panel.locator('.jp-repro-state')).toHaveAttribute(
      'data-recording',
      'true'
    );
    await expect(panel.locator('.jp-repro-executions')).toHaveText('0');
  });
});
