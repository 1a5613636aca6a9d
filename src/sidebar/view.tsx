import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { kindLabel, kindLabels } from '../labels';
import { groupFlags, timelinePager } from '../model';
import { IReproModel, IReproSettings, Repro } from '../tokens';

/**
 * How a cell is named in the panel: its position, its execution count, its first line.
 */
export interface ICellInfo {
  index: number;
  executionCount: number | null;
  preview: string;
}

export interface IReproViewProps {
  model: IReproModel | null;
  notebookName: string | null;
  settings: IReproSettings;
  trans: TranslationBundle;
  cellInfo: (cellId: string) => ICellInfo | null;
  onStart: () => void;
  onStop: () => void;
  onExport: () => void;
  onVerify: () => void;
  onSnapshot: (paths: string[]) => void;
  onGoToCell: (cellId: string) => void;
  onOpenDirectory: (directory: string) => void;
  /**
   * How to show a kernel-side path (relative to the server root when inside it).
   */
  displayPath: (path: string) => string;
}

/**
 * How many timeline rows show at first, and how many more each "Show older" adds.
 */
const TIMELINE_ROWS = 50;
const TIMELINE_PAGE = 200;

/**
 * How many cells a flag names before "+N more".
 */
const FLAG_CELLS = 12;

function shortHash(hash: string | null | undefined): string {
  if (!hash) {
    return '—';
  }
  const hex = hash.includes(':') ? hash.split(':')[1] : hash;
  return hex.slice(0, 10);
}

function formatTime(epochSeconds: number | null | undefined): string {
  if (!epochSeconds) {
    return '—';
  }
  const date = new Date(epochSeconds * 1000);
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleString(undefined, {
        dateStyle: 'medium',
        timeStyle: 'short'
      });
}

/**
 * Kernel messages quote names and commands in backticks; show those as code.
 */
function Text(props: { text: string }): JSX.Element {
  const parts = props.text.split('`');
  return (
    <>
      {parts.map((part, i) =>
        i % 2 === 1 && i < parts.length - 1 ? (
          <code key={i}>{part}</code>
        ) : (
          <React.Fragment key={i}>{part}</React.Fragment>
        )
      )}
    </>
  );
}

function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) {
    return '';
  }
  return seconds < 1
    ? `${Math.round(seconds * 1000)} ms`
    : `${seconds.toFixed(1)} s`;
}

function basename(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/**
 * A button naming a cell; activating it selects the cell in the notebook.
 */
function CellLink(props: {
  cellId: string | null;
  executionCount?: number | null;
  info: IReproViewProps['cellInfo'];
  trans: TranslationBundle;
  onGoToCell: (cellId: string) => void;
}): JSX.Element {
  const { cellId, trans } = props;
  const info = cellId ? props.info(cellId) : null;
  if (!cellId || !info) {
    return (
      <span
        className="jp-repro-cellLink jp-mod-missing"
        title={trans.__('This cell is no longer in the notebook')}
      >
        {trans.__('deleted cell')}
      </span>
    );
  }
  const count = props.executionCount ?? info.executionCount;
  const label =
    count === null || count === undefined
      ? trans.__('Cell %1', info.index + 1)
      : trans.__('Cell %1 [%2]', info.index + 1, count);
  return (
    <button
      type="button"
      className="jp-repro-cellLink"
      data-cell-id={cellId}
      title={info.preview}
      aria-label={trans.__('Go to %1: %2', label, info.preview)}
      onClick={() => props.onGoToCell(cellId)}
    >
      {label}
    </button>
  );
}

function StatusSection(props: IReproViewProps): JSX.Element {
  const { model, trans } = props;
  const state = model?.state ?? 'no-kernel';
  const status = model?.status ?? null;
  const recording = state === 'connected' && !!status?.recording;
  const starting = model?.busy.has('start') ?? false;

  let summary: string;
  if (model?.fromSavedCopy && state !== 'connected') {
    summary = trans.__(
      'Not connected: showing the state saved with the notebook'
    );
  } else if (state === 'no-kernel') {
    summary = trans.__('No kernel');
  } else if (state === 'connecting') {
    summary = trans.__('Connecting to the kernel…');
  } else if (state === 'not-loaded') {
    summary = trans.__(
      'Not recording: the recorder is not loaded in this kernel'
    );
  } else if (recording) {
    summary = trans.__('Recording');
  } else {
    summary = trans.__('Not recording');
  }
  const git = status?.git;
  const canStart =
    !recording && (state === 'not-loaded' || state === 'connected');

  return (
    <section
      className="jp-repro-section jp-repro-status"
      aria-labelledby="jp-repro-status-title"
    >
      <h3 id="jp-repro-status-title" className="jp-repro-title">
        {props.notebookName ?? trans.__('No notebook')}
      </h3>
      <div
        className="jp-repro-state"
        data-state={state}
        data-recording={recording ? 'true' : 'false'}
        role="status"
      >
        <span className="jp-repro-dot" aria-hidden="true" />
        {summary}
      </div>
      <div className="jp-repro-buttons">
        {canStart && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-accept jp-repro-start"
            disabled={starting}
            onClick={props.onStart}
          >
            {starting ? trans.__('Starting…') : trans.__('Start recording')}
          </button>
        )}
        {recording && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-repro-stop"
            disabled={model?.busy.has('stop')}
            onClick={props.onStop}
          >
            {trans.__('Stop recording')}
          </button>
        )}
      </div>
      {status && (
        <dl className="jp-repro-facts">
          <dt>{trans.__('Since')}</dt>
          <dd>{formatTime(status.started_at)}</dd>
          <dt>{trans.__('Executions')}</dt>
          <dd className="jp-repro-executions">{status.executions ?? 0}</dd>
          <dt>{trans.__('Kernel')}</dt>
          <dd>
            {status.kernel
              ? `Python ${status.kernel.python ?? '?'} · ipykernel ${status.kernel.ipykernel ?? '?'}`
              : '—'}
          </dd>
          <dt>{trans.__('Environment')}</dt>
          <dd title={status.environment_fingerprint ?? ''}>
            <code>{shortHash(status.environment_fingerprint)}</code>
          </dd>
          {!!status.faults && (
            <>
              <dt>{trans.__('Recorder')}</dt>
              <dd>
                <span className="jp-repro-tag" data-severity="warning">
                  {trans.__('%1 faults', status.faults)}
                </span>{' '}
                {trans.__('see %repro status')}
              </dd>
            </>
          )}
          <dt>{trans.__('Git')}</dt>
          <dd>
            {git ? (
              <>
                <code>{(git.commit ?? '—').slice(0, 10)}</code>
                {git.branch ? ` ${git.branch}` : ''}
                {git.dirty ? (
                  <span className="jp-repro-tag" data-severity="warning">
                    {trans.__('dirty')}
                  </span>
                ) : null}
              </>
            ) : (
              trans.__('not a git repository')
            )}
          </dd>
        </dl>
      )}
    </section>
  );
}

function FlagsSection(props: IReproViewProps): JSX.Element {
  const { model, trans, settings } = props;
  const labels = kindLabels(trans);
  const groups = model ? groupFlags(model.flags, settings.minimumSeverity) : [];
  const total = groups.reduce((n, g) => n + g.flags.length, 0);
  return (
    <section
      className="jp-repro-section jp-repro-flags"
      aria-labelledby="jp-repro-flags-title"
    >
      <h3 id="jp-repro-flags-title" className="jp-repro-heading">
        {trans.__('Flags')}
        <span
          className="jp-repro-count"
          aria-label={trans.__('%1 flags', total)}
        >
          {total}
        </span>
      </h3>
      {model?.fromSavedCopy && (
        <p className="jp-repro-notice">
          {trans.__(
            'Last known flags, saved with the notebook (%1). Start recording to refresh them.',
            formatTime(model.savedAt)
          )}
        </p>
      )}
      {total === 0 ? (
        <p className="jp-repro-empty">
          {model?.status || model?.fromSavedCopy
            ? trans.__('No flags.')
            : trans.__(
                'Start recording to see what would stop this notebook from reproducing.'
              )}
        </p>
      ) : (
        groups.map(group => {
          const label = kindLabel(labels, group.kind);
          return (
            <details
              key={group.kind}
              className="jp-repro-group"
              data-kind={group.kind}
              data-severity={group.severity}
              open
            >
              <summary>
                <span className="jp-repro-severity" aria-hidden="true" />
                <span className="jp-repro-groupTitle">{label.title}</span>
                <span
                  className="jp-repro-count"
                  aria-label={trans.__('%1 flags', group.flags.length)}
                >
                  {group.flags.length}
                </span>
              </summary>
              <ul className="jp-repro-flagList">
                {group.flags.map((flag, i) => (
                  <li
                    key={i}
                    className="jp-repro-flag"
                    data-kind={flag.kind}
                    data-severity={flag.severity}
                  >
                    <div className="jp-repro-message">
                      <Text text={flag.message} />
                    </div>
                    {flag.fix && (
                      <div className="jp-repro-fix">
                        <Text text={flag.fix} />
                      </div>
                    )}
                    {flag.cells.length > 0 && (
                      <div className="jp-repro-cells">
                        {flag.cells.slice(0, FLAG_CELLS).map(cellId => (
                          <CellLink
                            key={cellId}
                            cellId={cellId}
                            info={props.cellInfo}
                            trans={trans}
                            onGoToCell={props.onGoToCell}
                          />
                        ))}
                        {flag.cells.length > FLAG_CELLS && (
                          <span className="jp-repro-more">
                            {trans.__(
                              '+%1 more',
                              flag.cells.length - FLAG_CELLS
                            )}
                          </span>
                        )}
                      </div>
                    )}
                  </li>
                ))}
              </ul>
            </details>
          );
        })
      )}
    </section>
  );
}

function InputsSection(props: IReproViewProps): JSX.Element | null {
  const { model, trans } = props;
  const inputs = model?.status?.inputs ?? [];
  if (!inputs.length) {
    return null;
  }
  const live = model?.state === 'connected';
  const unpreserved = inputs.filter(i => !i.preserved).map(i => i.path);
  const busy = model?.busy.has('snapshot') ?? false;
  return (
    <section
      className="jp-repro-section jp-repro-inputs"
      aria-labelledby="jp-repro-inputs-title"
    >
      <h3 id="jp-repro-inputs-title" className="jp-repro-heading">
        {trans.__('Data inputs')}
        <span className="jp-repro-count">{inputs.length}</span>
      </h3>
      <ul className="jp-repro-inputList">
        {inputs.map(input => (
          <li
            key={input.path}
            className="jp-repro-input"
            data-path={input.path}
            data-preserved={input.preserved ? 'true' : 'false'}
          >
            <span className="jp-repro-path" title={input.path}>
              {basename(input.path)}
            </span>
            <code className="jp-repro-hash" title={input.hash ?? ''}>
              {shortHash(input.hash)}
            </code>
            {input.changed && (
              <span className="jp-repro-tag" data-severity="error">
                {trans.__('changed')}
              </span>
            )}
            {input.preserved ? (
              <span className="jp-repro-tag" data-severity="ok">
                {trans.__('snapshotted')}
              </span>
            ) : (
              <button
                type="button"
                className="jp-Button jp-mod-styled jp-repro-snapshot"
                disabled={!live || busy}
                aria-label={trans.__('Snapshot %1', input.path)}
                onClick={() => props.onSnapshot([input.path])}
              >
                {trans.__('Snapshot')}
              </button>
            )}
          </li>
        ))}
      </ul>
      {unpreserved.length > 1 && (
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-repro-snapshotAll"
          disabled={!live || busy}
          onClick={() => props.onSnapshot(unpreserved)}
        >
          {trans.__('Snapshot all (%1)', unpreserved.length)}
        </button>
      )}
    </section>
  );
}

function TimelineSection(props: IReproViewProps): JSX.Element | null {
  const { model, trans } = props;
  const [shown, setShown] = React.useState(TIMELINE_ROWS);
  const timeline = model?.timeline ?? [];
  if (!timeline.length) {
    return null;
  }
  // Paged: the latest rows, and older ones a page at a time (from the model, then from the kernel,
  // which keeps every execution), so that a long session never puts thousands of rows in the DOM.
  const rows = timeline.slice(-shown);
  const executions = model?.status?.executions ?? timeline.length;
  const pager = timelinePager(model);
  const older = timeline.length - rows.length;
  const canLoad = older > 0 || !!pager?.hasOlderTimeline;
  const showOlder = (): void => {
    setShown(shown + TIMELINE_PAGE);
    if (older < TIMELINE_PAGE && pager?.hasOlderTimeline) {
      void pager.loadOlderTimeline(TIMELINE_PAGE);
    }
  };
  return (
    <section
      className="jp-repro-section jp-repro-timeline"
      aria-labelledby="jp-repro-timeline-title"
    >
      <h3 id="jp-repro-timeline-title" className="jp-repro-heading">
        {trans.__('Execution order')}
        <span className="jp-repro-count">{executions}</span>
      </h3>
      {executions > rows.length && (
        <p className="jp-repro-empty jp-repro-timelineRange">
          {trans.__('The last %1 of %2 executions.', rows.length, executions)}
        </p>
      )}
      {canLoad && (
        <button
          type="button"
          className="jp-repro-linkButton jp-repro-olderButton"
          disabled={model?.busy.has('timeline')}
          onClick={showOlder}
        >
          {trans.__('Show %1 older', TIMELINE_PAGE)}
        </button>
      )}
      <ol className="jp-repro-steps">
        {rows.map(entry => (
          <li
            key={entry.seq}
            className="jp-repro-step"
            data-status={entry.status}
            data-cell-id={entry.cell_id ?? ''}
          >
            <span className="jp-repro-seq">{entry.seq}</span>
            <CellLink
              cellId={entry.cell_id}
              executionCount={entry.execution_count}
              info={props.cellInfo}
              trans={trans}
              onGoToCell={props.onGoToCell}
            />
            <span className="jp-repro-duration">
              {formatDuration(entry.duration_s)}
            </span>
            {entry.random && (
              <span
                className="jp-repro-tag"
                data-severity="info"
                title={trans.__('drew randomness')}
              >
                {trans.__('random')}
              </span>
            )}
            {entry.data && (
              <span
                className="jp-repro-tag"
                data-severity="info"
                title={trans.__('read data files')}
              >
                {trans.__('data')}
              </span>
            )}
            {entry.status === 'error' && (
              <span className="jp-repro-tag" data-severity="error">
                {trans.__('error')}
              </span>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

function VerifyResult(props: {
  result: Repro.IVerifyResult;
  trans: TranslationBundle;
  info: IReproViewProps['cellInfo'];
  onGoToCell: (cellId: string) => void;
}): JSX.Element {
  const { result, trans } = props;
  const ok = result.reproduced;
  const steps = Array.isArray(result.steps) ? result.steps : [];
  const counts = Object.entries(result.counts ?? {})
    .map(([outcome, n]) => `${n} ${outcome}`)
    .join(' · ');
  return (
    <div className="jp-repro-verify" data-ok={String(ok)}>
      <div className="jp-repro-verifySummary" role="status">
        {ok === true
          ? trans.__('Reproduced: every step matched.')
          : ok === false
            ? trans.__('Not reproduced.')
            : trans.__('Verify finished.')}
        {counts && <span className="jp-repro-counts"> {counts}</span>}
      </div>
      <div className="jp-repro-verifyChecked">
        {trans.__(
          'Checked: seal, inputs, pinned packages; fresh environment: %1',
          result.environment?.fresh ? trans.__('yes') : trans.__('no')
        )}
      </div>
      {(result.problems ?? []).map((problem, i) => (
        <div key={i} className="jp-repro-error">
          <Text text={problem} />
        </div>
      ))}
      {steps.length > 0 && (
        <ol className="jp-repro-steps">
          {steps.map((step, i) => {
            const outcome = step.outcome ?? '';
            return (
              <li
                key={i}
                className="jp-repro-step jp-repro-verifyStep"
                data-outcome={outcome}
              >
                <span className="jp-repro-seq">{step.index ?? i + 1}</span>
                {step.cell_id ? (
                  <CellLink
                    cellId={step.cell_id}
                    info={props.info}
                    trans={trans}
                    onGoToCell={props.onGoToCell}
                  />
                ) : (
                  <span className="jp-repro-label">{step.label}</span>
                )}
                <span
                  className="jp-repro-tag"
                  data-severity={
                    outcome === 'reproduced'
                      ? 'ok'
                      : outcome === 'nondeterministic'
                        ? 'info'
                        : 'error'
                  }
                >
                  {outcome}
                </span>
                {step.detail && (
                  <span className="jp-repro-fix">
                    <Text text={step.detail} />
                  </span>
                )}
              </li>
            );
          })}
        </ol>
      )}
    </div>
  );
}

function ActionsSection(props: IReproViewProps): JSX.Element | null {
  const { model, trans } = props;
  if (!model) {
    return null;
  }
  const live = model.state === 'connected';
  const exporting = model.busy.has('export');
  const verifying = model.busy.has('verify');
  return (
    <section
      className="jp-repro-section jp-repro-actions"
      aria-labelledby="jp-repro-actions-title"
    >
      <h3 id="jp-repro-actions-title" className="jp-repro-heading">
        {trans.__('Replay')}
      </h3>
      <div className="jp-repro-buttons">
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-repro-export"
          disabled={!live || exporting}
          onClick={props.onExport}
        >
          {exporting ? trans.__('Exporting…') : trans.__('Export')}
        </button>
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-repro-verifyButton"
          disabled={!live || verifying}
          title={trans.__(
            'Replay the export in a fresh kernel and compare each step'
          )}
          onClick={props.onVerify}
        >
          {verifying ? trans.__('Verifying…') : trans.__('Restart and verify')}
        </button>
      </div>
      {model.exportDirectory && (
        <p className="jp-repro-exported">
          {trans.__('Exported to')}{' '}
          <button
            type="button"
            className="jp-repro-linkButton jp-repro-directory"
            title={trans.__('Show in the file browser')}
            onClick={() => props.onOpenDirectory(model.exportDirectory!)}
          >
            {props.displayPath(model.exportDirectory)}
          </button>
        </p>
      )}
      {model.verifyResult && (
        <VerifyResult
          result={model.verifyResult}
          trans={trans}
          info={props.cellInfo}
          onGoToCell={props.onGoToCell}
        />
      )}
    </section>
  );
}

/**
 * The sidebar's content: what the kernel reports about the current notebook.
 */
export function ReproView(props: IReproViewProps): JSX.Element {
  const { model, trans } = props;
  if (!model) {
    return (
      <div className="jp-repro-view">
        <p className="jp-repro-empty">
          {trans.__(
            'Open a notebook to see what would stop it from reproducing.'
          )}
        </p>
      </div>
    );
  }
  return (
    <div className="jp-repro-view">
      <StatusSection {...props} />
      {model?.notice && (
        <div className="jp-repro-notice jp-repro-resumed" role="status">
          {model.notice}
        </div>
      )}
      {model?.lastError && (
        <div className="jp-repro-error" role="alert">
          {model.lastError}
        </div>
      )}
      <FlagsSection {...props} />
      <InputsSection {...props} />
      <TimelineSection {...props} />
      <ActionsSection {...props} />
    </div>
  );
}
