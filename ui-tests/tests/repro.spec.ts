import { expect, test } from '@jupyterlab/galata';

import {
  ICellSpec,
  activateCell,
  activeCellId,
  badge,
  badgesOnCells,
  cellIdBySource,
  cellIds,
  expectFlagged,
  openNotebook,
  openSidebar,
  readTextFile,
  restartKernel,
  runCellById,
  runCommand,
  screenshot,
  startRecording,
  waitForKernelIdle,
  windowingSettings
} from './helpers';

test.use({ autoGoto: true });

// Cells run with `inplace` (Ctrl+Enter): Shift+Enter on the last cell would add an empty cell
// and shift every index after it.
test.describe('Reproducibility sidebar and badges (real kernel)', () => {
  test('out-of-order run: the flag, the badge, moving the selection, and moving cells', async ({
    page,
    tmpPath
  }) => {
    await openNotebook(page, tmpPath, 'order.ipynb', [
      { id: 'use-x', source: 'y = x + 1\ny' },
      { id: 'note', source: 'The definition is below.', cell_type: 'markdown' },
      { id: 'define-x', source: 'x = 1' }
    ]);
    await startRecording(page);
    const panel = await openSidebar(page);

    await page.notebook.runCell(2, true);
    await page.notebook.runCell(0, true);

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

    // A cell named by the flag, clicked or activated with Enter, takes the selection from
    // whichever cell had it.
    const cellLink = (cellId: string) =>
      group.locator(`.jp-repro-cellLink[data-cell-id="${cellId}"]`).first();
    await activateCell(page, 'define-x');
    await cellLink('use-x').click();
    await expect.poll(() => activeCellId(page)).toBe('use-x');
    await cellLink('define-x').click();
    await expect.poll(() => activeCellId(page)).toBe('define-x');
    await activateCell(page, 'define-x');
    await cellLink('use-x').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => activeCellId(page)).toBe('use-x');

    // The badge is a button: clicked, or Enter on it, it reveals the panel and selects its
    // cell. (Focus alone makes the cell active in JupyterLab, so what Enter adds is shown by
    // the panel coming back and the focus moving from the badge to the cell.)
    const focusIsOnCell = (cellId: string) =>
      page.evaluate(id => {
        const app = (window as any).jupyterapp;
        const notebook = app.shell.currentWidget.content;
        const cell = notebook.widgets.find((c: any) => c.model.id === id);
        return document.activeElement === cell?.node;
      }, cellId);
    await activateCell(page, 'define-x');
    await page.sidebar.close('left');
    await expect(panel).toBeHidden();
    await badge(page, 'use-x').click();
    await expect(panel).toBeVisible();
    await expect.poll(() => activeCellId(page)).toBe('use-x');
    await expect.poll(() => focusIsOnCell('use-x')).toBe(true);

    await activateCell(page, 'define-x');
    await page.sidebar.close('left');
    await expect(panel).toBeHidden();
    await badge(page, 'use-x').focus();
    await expect(badge(page, 'use-x')).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(panel).toBeVisible();
    await expect.poll(() => activeCellId(page)).toBe('use-x');
    await expect.poll(() => focusIsOnCell('use-x')).toBe(true);

    // Moving the flagged cell one down (still above the definition) carries its badge along:
    // the badge sits on the moved cell's node.
    await activateCell(page, 'use-x');
    await runCommand(page, 'notebook:move-cell-down');
    await expect
      .poll(() => cellIds(page))
      .toEqual(['note', 'use-x', 'define-x']);
    await expect
      .poll(() => badgesOnCells(page))
      .toEqual([
        ['note', null],
        ['use-x', 'use-x'],
        ['define-x', 'define-x']
      ]);
    await expect(group).toBeVisible();

    // Moving it below the definition fixes the order: the flag and every badge go.
    await runCommand(page, 'notebook:move-cell-down');
    await expect
      .poll(() => cellIds(page))
      .toEqual(['note', 'define-x', 'use-x']);
    await expect(group).toHaveCount(0);
    await expect(panel.locator('.jp-repro-group')).toHaveCount(0);
    await expect(page.locator('.jp-repro-badge')).toHaveCount(0);
    await expect
      .poll(() => badgesOnCells(page))
      .toEqual([
        ['note', null],
        ['define-x', null],
        ['use-x', null]
      ]);
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
    await page.notebook.runCell(0, true);
    await page.notebook.runCell(1, true);
    await expect(panel.locator('.jp-repro-executions')).toHaveText('2');
    await expect(badge(page, 'second')).toHaveCount(0);

    await page.notebook.setCell(1, 'code', 'b = a * 3');
    const group = await expectFlagged(
      page,
      panel,
      'edited-since-run',
      'second'
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
    await page.notebook.runCell(0, true);

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

    // Dark theme: the panel and badges take their colours from the theme. A second cell reads
    // the snapshotted data.csv (no flag), a third a new file (flagged).
    await page.contents.uploadContent(
      'a,b\n9,9\n',
      'text',
      `${tmpPath}/more.csv`
    );
    await page.notebook.addCell('code', "extra = open('data.csv').read()");
    await page.notebook.addCell('code', "more = open('more.csv').read()");
    await page.notebook.runCell(1, true);
    await page.notebook.runCell(2, true);
    // Found by source, not by index: the point is that the data.csv cell itself ran.
    const extraId = (await cellIdBySource(
      page,
      "extra = open('data.csv').read()"
    ))!;
    const moreId = (await cellIdBySource(
      page,
      "more = open('more.csv').read()"
    ))!;
    expect(await cellIds(page)).toEqual(['read', extraId, moreId]);
    await page.theme.setDarkTheme();

    const steps = panel.locator('.jp-repro-timeline .jp-repro-step');
    await expect(steps).toHaveCount(3);
    await expect(steps.nth(1)).toHaveAttribute('data-cell-id', extraId);
    await expect(steps.nth(1).locator('.jp-repro-tag')).toHaveText('data');
    await expect(steps.nth(2)).toHaveAttribute('data-cell-id', moreId);
    await expect(input).toHaveAttribute('data-preserved', 'true');
    await expect(
      panel.locator('.jp-repro-input[data-path$="more.csv"]')
    ).toHaveAttribute('data-preserved', 'false');
    await expect(group).toBeVisible();
    await expect(
      group.locator(`.jp-repro-cellLink[data-cell-id="${moreId}"]`)
    ).toBeVisible();
    await expect(badge(page, moreId)).toHaveAttribute(
      'data-kinds',
      /unsnapshotted-data/
    );
    await expect(badge(page, extraId)).toHaveCount(0);
    await expect(badge(page, 'read')).toHaveCount(0);
    const background = await panel.evaluate(
      node => getComputedStyle(node).backgroundColor
    );
    expect(background).not.toBe('rgb(255, 255, 255)');
    await screenshot(page, 'dark-theme');
    await page.theme.setLightTheme();
  });
});

test.describe('Reproducibility sidebar in a long, virtualized notebook', () => {
  // 'full' windowing: cells outside the view are detached from the DOM.
  test.use({ mockSettings: windowingSettings('full') });

  test('clicking a flag scrolls a cell far down into view and selects it', async ({
    page,
    tmpPath
  }) => {
    const CELLS = 120;
    const TARGET = 100;
    const DEFINER = 110;
    const cells: ICellSpec[] = [];
    for (let i = 0; i < CELLS; i++) {
      cells.push(
        i === TARGET
          ? { id: `c${i}`, source: 'total = later + 1' }
          : i === DEFINER
            ? { id: `c${i}`, source: 'later = 41' }
            : {
                id: `c${i}`,
                source: `### Step ${i}\n\nNotes on step ${i}.`,
                cell_type: 'markdown'
              }
      );
    }
    await openNotebook(page, tmpPath, 'long.ipynb', cells);
    await startRecording(page);
    const panel = await openSidebar(page);
    await runCellById(page, `c${DEFINER}`);
    await runCellById(page, `c${TARGET}`);

    const group = panel.locator('.jp-repro-group[data-kind="out-of-order"]');
    await expect(group).toBeVisible();
    const link = group
      .locator(`.jp-repro-cellLink[data-cell-id="c${TARGET}"]`)
      .first();
    await expect(link).toHaveText(`Cell ${TARGET + 1} [2]`);

    // Back to the top: the target is out of view (detached, windowing is on).
    await page.evaluate(async () => {
      const notebook = (window as any).jupyterapp.shell.currentWidget.content;
      notebook.deselectAll();
      notebook.activeCellIndex = 0;
      await notebook.scrollToItem(0, 'start');
    });
    const cellNode = (index: number) =>
      page.locator(
        `.jp-NotebookPanel .jp-Cell[data-windowed-list-index="${index}"]`
      );
    await expect(cellNode(0)).toBeInViewport();
    await expect(cellNode(TARGET)).not.toBeInViewport();
    await expect(badge(page, `c${TARGET}`)).not.toBeInViewport();
    const attached = await page.evaluate(
      () =>
        (
          window as any
        ).jupyterapp.shell.currentWidget.content.node.querySelectorAll(
          '.jp-Cell'
        ).length
    );
    expect(attached).toBeLessThan(CELLS);

    await link.click();
    await expect.poll(() => activeCellId(page)).toBe(`c${TARGET}`);
    await expect(cellNode(TARGET)).toBeInViewport();
    await expect(cellNode(TARGET)).toHaveClass(/jp-mod-active/);
    await expect(badge(page, `c${TARGET}`)).toBeInViewport();
    await expect(badge(page, `c${TARGET}`)).toHaveAttribute(
      'data-kinds',
      /out-of-order/
    );
    await expect(cellNode(0)).not.toBeInViewport();
    await screenshot(page, 'scrolled-to-cell');
  });
});

test.describe('Reproducibility sidebar across a kernel restart', () => {
  // Galata's kernel tracking answers a restart with 201; JupyterLab expects 200.
  test.use({ kernels: null });

  test.afterEach(async ({ page }) => {
    await page.kernel.shutdownAll();
  });

  test('the panel exports the session, then follows a kernel restart', async ({
    page,
    tmpPath
  }) => {
    await openNotebook(page, tmpPath, 'restart.ipynb', [
      { id: 'seed', source: 'import random\nrandom.seed(1)' },
      { id: 'draw', source: 'value = random.random()\nvalue' }
    ]);
    await startRecording(page);
    const panel = await openSidebar(page);
    await page.notebook.runCell(0, true);
    await page.notebook.runCell(1, true);
    await expect(panel.locator('.jp-repro-executions')).toHaveText('2');

    // Export writes the replay folder beside the notebook and says where.
    await panel.getByRole('button', { name: 'Export' }).click();
    const directory = panel.locator('.jp-repro-directory');
    await expect(directory).toBeVisible();
    const written = (await directory.textContent())!.trim();
    expect(written).toBe(`${tmpPath}/restart.repro`);
    const manifestPath = `${tmpPath}/restart.repro/manifest.json`;
    await expect.poll(() => page.contents.fileExists(manifestPath)).toBe(true);
    const manifest = JSON.parse(await readTextFile(page, manifestPath));
    expect(manifest.notebook.name).toBe('restart.ipynb');
    expect(manifest.steps.map((step: any) => step.cell_id)).toEqual([
      'seed',
      'draw'
    ]);
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
    // What was checked, as the command line says it: the sidebar's verify runs in the kernel's environment.
    await expect(verify.locator('.jp-repro-verifyChecked')).toHaveText(
      'Checked: seal, inputs, pinned packages; fresh environment: no'
    );
    await screenshot(page, 'verified');
    // The path opens in the file browser, which lists the manifest.
    await directory.click();
    await expect(page.locator('.jp-BreadCrumbs')).toContainText(
      'restart.repro'
    );
    await expect
      .poll(() => page.filebrowser.isFileListedInBrowser('manifest.json'))
      .toBe(true);
    await openSidebar(page);

    // Something for the restart to clear: an edit flags the cell that ran.
    await page.notebook.setCell(1, 'code', 'value = random.random() * 2');
    const edited = await expectFlagged(page, panel, 'edited-since-run', 'draw');
    const steps = panel.locator('.jp-repro-timeline .jp-repro-step');
    await expect(steps).toHaveCount(2);

    // Restart: what the old kernel reported no longer describes this kernel, so the panel
    // drops it (flags, badges, timeline, verify report, facts). The notebook was recording, so
    // the panel starts recording again in the restarted kernel, before any cell, and says so.
    await restartKernel(page);
    await expect(panel.locator('.jp-repro-state')).toHaveAttribute(
      'data-recording',
      'true'
    );
    await expect(panel.locator('.jp-repro-resumed')).toContainText(
      'recording goes on from its first cell'
    );
    await expect(panel.locator('.jp-repro-group')).toHaveCount(0);
    await expect(page.locator('.jp-repro-badge')).toHaveCount(0);
    await expect(panel.locator('.jp-repro-timeline')).toHaveCount(0);
    await expect(verify).toHaveCount(0);
    await expect(panel.locator('.jp-repro-executions')).toHaveText('0');
    await screenshot(page, 'after-restart');

    // Kernel > Restart Kernel and Run All Cells (the fix the out-of-order flag recommends):
    // every cell is recorded, from the first, in a session of its own.
    await page.evaluate(() => {
      void (window as any).jupyterapp.commands.execute(
        'notebook:restart-run-all'
      );
    });
    await page.locator('.jp-Dialog .jp-mod-accept').click();
    await expect(panel.locator('.jp-repro-executions')).toHaveText('2', {
      timeout: 60000
    });
    await expect(steps).toHaveCount(2);
    await expect(steps.nth(0)).toHaveAttribute('data-cell-id', 'seed');
    await expect(steps.nth(0).locator('.jp-repro-seq')).toHaveText('1');
    await expect(steps.nth(1)).toHaveAttribute('data-cell-id', 'draw');
    await expect(panel.locator('.jp-repro-resumed')).toBeVisible();
    await waitForKernelIdle(page);

    // Stopped, then restarted: the panel does not start recording by itself any more.
    await panel.getByRole('button', { name: 'Stop recording' }).click();
    await expect(panel.locator('.jp-repro-state')).toHaveAttribute(
      'data-recording',
      'false'
    );
    await restartKernel(page);
    await expect(panel.locator('.jp-repro-state')).toHaveAttribute(
      'data-state',
      'not-loaded'
    );
    await expect(panel.locator('.jp-repro-resumed')).toHaveCount(0);
    await expect(
      panel.getByRole('button', { name: 'Start recording' })
    ).toBeVisible();

    // Recording again: a new session, its timeline starts empty and follows the new kernel.
    await panel.getByRole('button', { name: 'Start recording' }).click();
    await expect(panel.locator('.jp-repro-state')).toHaveAttribute(
      'data-recording',
      'true'
    );
    await expect(panel.locator('.jp-repro-executions')).toHaveText('0');
    await expect(panel.locator('.jp-repro-timeline')).toHaveCount(0);
    await page.notebook.runCell(0, true);
    await expect(panel.locator('.jp-repro-executions')).toHaveText('1');
    await expect(steps).toHaveCount(1);
    await expect(steps.nth(0)).toHaveAttribute('data-cell-id', 'seed');
    await expect(steps.nth(0).locator('.jp-repro-seq')).toHaveText('1');
  });
});
