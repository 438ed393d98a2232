// The charts (uPlot): events appended per second, and each projection's lag in events and in seconds, over
// the samples the page has kept. Each figure's caption says its latest values in words too.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Series } from './history.ts';
import type { View } from './monitor.ts';

const HEIGHT = 160;

const color = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';

/** Lag never goes below zero; an empty or flat series still gets a scale from 0. */
const fromZero: uPlot.Scale['range'] = (_u, _min, max) => [0, Math.max(1, max * 1.1)];

/** At least the last minute: a page just opened shows its first samples on a readable time axis. */
const recent: uPlot.Scale['range'] = (_u, min, max) => {
  const end = Number.isFinite(max) ? max : Date.now() / 1000;
  return [Math.min(Number.isFinite(min) ? min : end, end - 60), end];
};

const time = (): uPlot.Scale => ({ time: true, range: recent });

function useChart(options: () => Omit<uPlot.Options, 'width' | 'height'>, data: uPlot.AlignedData, redrawOn: unknown) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  useEffect(() => {
    const element = box.current!;
    const chart = new uPlot({ ...options(), width: element.clientWidth || 300, height: HEIGHT }, data, element);
    plot.current = chart;
    const resized = new ResizeObserver(() => chart.setSize({ width: element.clientWidth, height: HEIGHT }));
    resized.observe(element);
    return () => {
      resized.disconnect();
      chart.destroy();
    };
  }, []);
  useEffect(() => plot.current?.setData(data), [redrawOn]);
  return box;
}

const axis = (): uPlot.Axis => ({
  stroke: color('--muted'),
  grid: { stroke: color('--grid'), width: 1 },
  ticks: { stroke: color('--grid') },
});

export function HeadChart({ series, view }: { series: Series; view: View }) {
  const box = useChart(
    () => ({
      scales: { x: time(), y: { range: fromZero } },
      legend: { live: false },
      axes: [axis(), axis()],
      series: [{}, { label: 'events/s', stroke: color('--accent'), width: 2, fill: color('--accent-fill'), points: { show: false } }],
    }),
    series.data(),
    view.log,
  );
  const latest = series.latest(0);
  return (
    <figure class="chart">
      <figcaption>Events appended per second{latest !== undefined && <span class="now">: {Math.round(latest)} now</span>}</figcaption>
      <div
        ref={box}
        role="img"
        aria-label={`Events appended per second over the last 15 minutes; ${latest === undefined ? 'no sample yet' : `${Math.round(latest)} now`}`}
      />
    </figure>
  );
}

export function LagChart({ name, series, view }: { name: string; series: Series | undefined; view: View }) {
  const box = useChart(
    () => ({
      scales: { x: time(), events: { range: fromZero }, seconds: { range: fromZero } },
      legend: { live: false },
      axes: [axis(), { ...axis(), scale: 'events' }, { ...axis(), scale: 'seconds', side: 1, grid: { show: false } }],
      series: [
        {},
        { label: 'events behind', scale: 'events', stroke: color('--accent'), width: 2, points: { show: false } },
        { label: 'seconds behind', scale: 'seconds', stroke: color('--warn'), width: 2, dash: [6, 4], points: { show: false } },
      ],
    }),
    series?.data() ?? [[], [], []],
    view.log,
  );
  const events = series?.latest(0);
  const secs = series?.latest(1);
  const summary = events === undefined ? 'no sample yet' : `${events} event${events === 1 ? '' : 's'} and ${secs?.toFixed(1)} s behind now`;
  return (
    <figure class="chart">
      <figcaption>
        Lag of {name}
        <span class="now">: {summary}</span>
      </figcaption>
      <div ref={box} role="img" aria-label={`Lag of ${name} over the last 15 minutes; ${summary}`} />
    </figure>
  );
}
