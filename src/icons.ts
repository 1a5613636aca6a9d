import { LabIcon } from '@jupyterlab/ui-components';

const REPRO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 4a8 8 0 0 0-7.4 5H2l3.5 4L9 9H6.8A6 6 0 1 1 6 12H4a8 8 0 1 0 8-8z"/>
    <path d="M11 7h2v5.4l3.3 2-1 1.7L11 13.6z"/>
  </g>
</svg>`;

export const reproIcon = new LabIcon({
  name: 'jupyter-repro:repro',
  svgstr: REPRO_SVG
});
