import { TranslationBundle } from '@jupyterlab/translation';

/**
 * Short, translated names of the kernel's flag kinds, for badges and group headings.
 */
export function kindLabels(trans: TranslationBundle): {
  [kind: string]: { short: string; title: string };
} {
  return {
    'out-of-order': {
      short: trans.__('order'),
      title: trans.__('Out-of-order execution')
    },
    stale: { short: trans.__('stale'), title: trans.__('Stale cells') },
    'edited-since-run': {
      short: trans.__('edited'),
      title: trans.__('Edited since run')
    },
    'never-run': {
      short: trans.__('not run'),
      title: trans.__('Never run')
    },
    'hidden-state': {
      short: trans.__('hidden'),
      title: trans.__('Hidden state')
    },
    'unsnapshotted-data': {
      short: trans.__('data'),
      title: trans.__('Unsnapshotted data')
    },
    'changed-data': {
      short: trans.__('data changed'),
      title: trans.__('Changed data')
    },
    'network-input': {
      short: trans.__('network'),
      title: trans.__('Network input')
    },
    'unseeded-randomness': {
      short: trans.__('random'),
      title: trans.__('Unseeded randomness')
    },
    'environment-drift': {
      short: trans.__('env'),
      title: trans.__('Environment drift')
    },
    'absolute-path': {
      short: trans.__('path'),
      title: trans.__('Absolute paths')
    },
    'nondeterministic-gpu': {
      short: trans.__('gpu'),
      title: trans.__('Nondeterministic GPU')
    },
    'nondeterministic-output': {
      short: trans.__('volatile'),
      title: trans.__('Outputs that cannot repeat')
    },
    secret: {
      short: trans.__('secret'),
      title: trans.__('Secrets in code or outputs')
    }
  };
}

/**
 * The label of a kind, falling back to the kind itself for kinds added later.
 */
export function kindLabel(
  labels: ReturnType<typeof kindLabels>,
  kind: string
): { short: string; title: string } {
  return labels[kind] ?? { short: kind, title: kind };
}
