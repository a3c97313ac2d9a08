// Console: the usage chart — units per day (stacked by endpoint), cumulative line against the quota, 80%/100% marks. Plain SVG.

const NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#2f6fde', '#12a594', '#d98a00', '#8e4ec6', '#e5484d', '#6b7385'];
const [W, H, PAD] = [720, 240, 36];

function s(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function daysOf(startIso, endIso) {
  const days = [];
  for (let t = Date.parse(startIso); t < Date.parse(endIso); t += 86_400_000)
    days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/** `usage` = GET /admin/accounts/{id}/usage/daily; `period` = 'current' | 'previous'. */
export function usageChart(usage, period) {
  const days = daysOf(usage[period].start, usage[period].end);
  const endpoints = [...new Set(usage.days.map((d) => d.endpoint))].sort();
  const units = new Map(usage.days.map((d) => [`${d.day} ${d.endpoint}`, d.units]));
  const perDay = days.map((day) => endpoints.map((e) => units.get(`${day} ${e}`) ?? 0));
  let running = 0;
  const cumulative = perDay.map((row) => (running += row.reduce((a, b) => a + b, 0)));
  const quota = usage.quota;
  const top = Math.max(1, running, quota ?? 0) * 1.05;
  const y = (v) => H - PAD - (v / top) * (H - 2 * PAD);
  const step = (W - 2 * PAD) / days.length;
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': `usage per day, ${period} period`,
    'data-chart': period,
  });
  svg.append(s('line', { x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, stroke: '#8893a7' }));
  perDay.forEach((row, i) => {
    let base = 0;
    row.forEach((v, j) => {
      if (v === 0) return;
      const bar = s('rect', {
        x: PAD + i * step + 1,
        y: y(base + v),
        width: Math.max(1, step - 2),
        height: y(base) - y(base + v),
        fill: COLORS[j % COLORS.length],
      });
      bar.append(s('title', {}, `${days[i]} ${endpoints[j]}: ${v} units`));
      svg.append(bar);
      base += v;
    });
  });
  // The cumulative line stops at today: the rest of the period has not happened yet.
  const today = new Date().toISOString().slice(0, 10);
  const points = cumulative
    .filter((_, i) => days[i] <= today)
    .map((v, i) => `${PAD + (i + 0.5) * step},${y(v)}`)
    .join(' ');
  svg.append(
    s('polyline', {
      points,
      fill: 'none',
      stroke: '#1d2330',
      'stroke-width': 2,
      'data-series': 'cumulative',
    }),
  );
  if (quota) {
    for (const [ratio, color, label] of [
      [1, '#b42318', 'quota'],
      [0.8, '#d98a00', '80%'],
    ]) {
      svg.append(
        s('line', {
          x1: PAD,
          x2: W - PAD,
          y1: y(quota * ratio),
          y2: y(quota * ratio),
          stroke: color,
          'stroke-dasharray': '6 4',
          'data-threshold': label,
        }),
      );
      svg.append(
        s(
          'text',
          { x: W - PAD, y: y(quota * ratio) - 4, 'text-anchor': 'end', 'font-size': 11, fill: color },
          `${label} ${Math.round(quota * ratio)}`,
        ),
      );
    }
  }
  svg.append(s('text', { x: PAD, y: H - 8, 'font-size': 11, fill: '#6b7385' }, days[0] ?? ''));
  svg.append(
    s(
      'text',
      { x: W - PAD, y: H - 8, 'font-size': 11, 'text-anchor': 'end', fill: '#6b7385' },
      days.at(-1) ?? '',
    ),
  );
  svg.append(
    s(
      'text',
      { x: PAD, y: 14, 'font-size': 11, fill: '#6b7385' },
      `${running} units this period (bars: per day by endpoint, line: cumulative)`,
    ),
  );
  const legend = document.createElement('div');
  legend.className = 'legend';
  endpoints.forEach((e, j) => {
    const item = document.createElement('span');
    item.className = 'legend-item';
    item.textContent = `■ ${e}`;
    item.style.color = COLORS[j % COLORS.length];
    legend.append(item);
  });
  const box = document.createElement('div');
  box.append(svg, legend);
  return box;
}
