import { ICodeCellModel } from '@jupyterlab/cells';
import { Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, SidePanel } from '@jupyterlab/ui-components';
import { Message, MessageLoop } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import { Panel, Widget } from '@lumino/widgets';
import * as React from 'react';
import { flushSync } from 'react-dom';

import { reproIcon } from '../icons';
import { IReproModel, IReproTracker } from '../tokens';
import { ICellInfo, IReproViewProps, ReproView } from './view';

export const SIDEBAR_ID = 'jp-repro-sidebar';

/**
 * The actions the view triggers, provided by the plugin (they go through commands).
 */
export type SidebarActions = Pick<
  IReproViewProps,
  | 'onStart'
  | 'onStop'
  | 'onExport'
  | 'onVerify'
  | 'onSnapshot'
  | 'onGoToCell'
  | 'onOpenDirectory'
  | 'displayPath'
>;

/**
 * Renders the current notebook's model, right after each change (see `_refresh`).
 */
class ReproBody extends ReactWidget {
  constructor(
    private _tracker: IReproTracker,
    private _trans: TranslationBundle,
    private _actions: SidebarActions
  ) {
    super();
    this.addClass('jp-repro-body');
    _tracker.currentChanged.connect(this._onCurrentChanged, this);
    _tracker.settingsChanged.connect(this._refresh, this);
    // A cell's execution count arrives with its execute reply, which may come after the kernel's update
    // of the panel: the labels ("Cell 3 [2]") are drawn again when a cell of this notebook finishes.
    NotebookActions.executed.connect(this._onExecuted, this);
    this._follow(_tracker.currentModel);
  }

  private _onExecuted(sender: unknown, args: { notebook: Notebook }): void {
    if (args.notebook === this._tracker.currentPanel?.content) {
      this._refresh();
    }
  }

  dispose(): void {
    Signal.clearData(this);
    super.dispose();
  }

  protected onBeforeShow(msg: Message): void {
    super.onBeforeShow(msg);
    this.update();
  }

  /**
   * Commit the React tree synchronously: a root's render would otherwise wait for React's
   * scheduler, behind whatever else the page is busy with.
   */
  protected onUpdateRequest(msg: Message): void {
    flushSync(() => super.onUpdateRequest(msg));
  }

  protected render(): JSX.Element {
    const panel = this._tracker.currentPanel;
    return (
      <ReproView
        model={this._model}
        notebookName={panel ? panel.context.localPath.split('/').pop()! : null}
        settings={this._tracker.settings}
        trans={this._trans}
        cellInfo={this._cellInfo}
        {...this._actions}
      />
    );
  }

  private _onCurrentChanged(
    sender: IReproTracker,
    model: IReproModel | null
  ): void {
    this._follow(model);
  }

  private _follow(model: IReproModel | null): void {
    const panel = this._tracker.currentPanel;
    if (panel !== this._panel) {
      this._panel?.model?.contentChanged.disconnect(this._onContent, this);
      this._panel?.model?.cells.changed.disconnect(this._onCells, this);
      this._panel = panel;
      this._cellIndex = null;
      panel?.model?.contentChanged.connect(this._onContent, this);
      panel?.model?.cells.changed.connect(this._onCells, this);
    }
    if (model === this._model) {
      return;
    }
    this._model?.changed.disconnect(this._refresh, this);
    this._model = model;
    model?.changed.connect(this._refresh, this);
    this._refresh();
  }

  /**
   * Edits only invalidate the cell index; adding, moving or deleting cells renumbers them.
   */
  private _onContent(): void {
    this._cellIndex = null;
  }

  private _onCells(): void {
    this._cellIndex = null;
    this._refresh();
  }

  private _refresh(): void {
    // A hidden panel renders when it is shown again. A visible one renders once the current
    // task is done rather than on the next animation frame, so it paints in the frame the
    // kernel's message arrived in; a burst of changes in one task still renders once.
    if (!this.isVisible || this._scheduled) {
      return;
    }
    this._scheduled = true;
    queueMicrotask(() => {
      this._scheduled = false;
      if (!this.isDisposed) {
        MessageLoop.sendMessage(this, Widget.Msg.UpdateRequest);
      }
    });
  }

  /**
   * Look up a cell of the current notebook by id; the index is built once per change.
   */
  private _cellInfo = (cellId: string): ICellInfo | null => {
    const cells = this._panel?.model?.cells;
    if (!cells) {
      return null;
    }
    if (!this._cellIndex) {
      const index = new Map<string, ICellInfo>();
      for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        const source = cell.sharedModel.getSource();
        index.set(cell.id, {
          index: i,
          executionCount:
            cell.type === 'code'
              ? ((cell as ICodeCellModel).executionCount ?? null)
              : null,
          preview: source.split('\n', 1)[0].slice(0, 80)
        });
      }
      this._cellIndex = index;
    }
    return this._cellIndex.get(cellId) ?? null;
  };

  private _model: IReproModel | null = null;
  private _panel: NotebookPanel | null = null;
  private _cellIndex: Map<string, ICellInfo> | null = null;
  private _scheduled = false;
}

/**
 * The left sidebar: a SidePanel hosting the React view.
 */
export class ReproSidebar extends SidePanel {
  constructor(options: ReproSidebar.IOptions) {
    const trans = options.translator.load('jupyter_repro');
    // A plain Panel as content: one section, no accordion title bar.
    super({ content: new Panel(), translator: options.translator });
    this.id = SIDEBAR_ID;
    const title = new Widget({ node: document.createElement('h2') });
    title.node.textContent = trans.__('Reproducibility');
    title.addClass('jp-repro-panelTitle');
    this.header.addWidget(title);
    this.addClass('jp-repro-sidebar');
    this.title.icon = reproIcon;
    this.title.caption = trans.__('Reproducibility');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', trans.__('Reproducibility'));
    this.body = new ReproBody(options.tracker, trans, options.actions);
    this.addWidget(this.body);
  }

  readonly body: ReactWidget;
}

export namespace ReproSidebar {
  export interface IOptions {
    tracker: IReproTracker;
    translator: ITranslator;
    actions: SidebarActions;
  }
}
