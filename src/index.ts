import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { SidePanel } from '@jupyterlab/ui-components';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-repro:plugin',
  description: 'Reproducibility sidebar',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const panel = new SidePanel();
    panel.id = 'jp-repro-sidebar';
    panel.title.caption = 'Reproducibility';
    panel.title.label = 'Repro';
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, panel.id);
  }
};

export default plugin;
