import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { badgesPlugin } from './badges';
import { sidebarPlugin } from './sidebar';
import { trackerPlugin } from './tracker';

export * from './tokens';

const plugins: JupyterFrontEndPlugin<any>[] = [
  trackerPlugin,
  sidebarPlugin,
  badgesPlugin
];

export default plugins;
