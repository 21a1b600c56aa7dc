// The media page's analytics chart: views (bars) and watch time (line) per UTC day, with uPlot.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

function draw(box) {
  const data = JSON.parse(document.getElementById(box.dataset.source).textContent);
  const days = data.days.map((d) => Date.parse(`${d.day}T00:00:00Z`) / 1000);
  const views = data.days.map((d) => d.views);
  const minutes = data.days.map((d) => Math.round((d.watchSeconds / 60) * 10) / 10);
  const width = () => Math.max(280, box.clientWidth);
  const plot = new uPlot(
    {
      width: width(),
      height: 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: { x: { time: true }, views: { range: (u, min, max) => [0, Math.max(1, max)] }, min: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [
        {},
        { scale: 'views', label: 'Views' },
        { scale: 'min', side: 1, label: 'Watch time (min)', grid: { show: false } },
      ],
      series: [
        {},
        { label: 'Views', scale: 'views', stroke: '#0b5cad', fill: 'rgba(11,92,173,0.25)', paths: uPlot.paths.bars({ size: [0.6, 40] }) },
        { label: 'Watch time (min)', scale: 'min', stroke: '#b42318', width: 2 },
      ],
    },
    [days, views, minutes],
    box,
  );
  // The box does not grow with the chart (overflow: hidden), so its width is the room there is.
  new ResizeObserver(() => {
    if (Math.abs(plot.width - width()) > 1) plot.setSize({ width: width(), height: 220 });
  }).observe(box);
}

document.querySelectorAll('[data-chart]').forEach(draw);
