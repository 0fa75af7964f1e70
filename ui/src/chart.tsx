/**
 * One uPlot chart: a resource's cluster total against each role's allocation over the last hour. The
 * numbers are also in the overview's tables, for screen readers (the canvas is labelled, not read).
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Series } from './series.js';

const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#db2777', '#0891b2'];

export function ResourceChart(props: { name: string; series: Series; version: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const roles = props.series.roles();
  const shape = roles.join(',');
  useEffect(() => {
    if (!box.current) return;
    const width = Math.max(280, box.current.clientWidth);
    plot.current = new uPlot(
      {
        width,
        height: 180,
        title: props.name,
        scales: {
          // One sample is a zero-wide range, which uPlot widens to years: show the minute around it.
          x: { time: true, range: (_u, min, max) => (min === max ? [min - 60, max + 60] : [min, max]) },
          y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
        },
        axes: [{ stroke: 'currentColor' }, { stroke: 'currentColor' }],
        series: [
          {},
          { label: 'total', stroke: '#6b7280', width: 2, dash: [6, 4] },
          ...roles.map((role, i) => ({
            label: `${role} allocated`,
            stroke: PALETTE[i % PALETTE.length] ?? '#2563eb',
            width: 2,
          })),
        ],
      },
      props.series.columns(props.name, roles) as uPlot.AlignedData,
      box.current,
    );
    return () => plot.current?.destroy();
  }, [props.name, shape]);
  useEffect(() => {
    plot.current?.setData(props.series.columns(props.name, roles) as uPlot.AlignedData);
  }, [props.version]);
  return (
    <figure class="chart">
      <div ref={box} role="img" aria-label={`${props.name}: cluster total and allocation per role, last hour`} />
    </figure>
  );
}
