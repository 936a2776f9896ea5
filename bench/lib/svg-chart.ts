/**
 * Hand-written SVG charts (no dependency). The line chart: throughput against
 * connections, x on a log2 scale, one polyline per server. Solid lines for
 * skein, dashed for the baselines; the legend names each series. The bar
 * chart: one group per x label (skein against node:http per load generator and depth).
 */

export interface Series {
  readonly label: string;
  readonly color: string;
  readonly dashed: boolean;
  /** [connections, requests per second] */
  readonly points: ReadonlyArray<readonly [number, number]>;
}

const W = 780;
const H = 420;
const M = { left: 80, right: 250, top: 48, bottom: 56 };

function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const fmt = (n: number) => (n >= 1000 ? `${Math.round(n / 1000)}k` : String(Math.round(n)));

const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;

/**
 * What both charts share: the document, titles, the y axis with its grid
 * (from 0 to a round number above `maxY`) and the axis lines. Returns the
 * lines so far and the y scale; the caller adds its marks, legend and `</svg>`.
 */
function frame(title: string, subtitle: string, maxY: number, yLabel: string): { out: string[]; y: (v: number) => number } {
  const step = niceStep(Math.max(1, maxY), 5);
  const top = Math.ceil(Math.max(1, maxY) / step) * step;
  const y = (v: number) => M.top + PLOT_H - (v / top) * PLOT_H;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="20" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="${M.left}" y="36" fill="#555">${escape(subtitle)}</text>`,
  ];
  for (let v = 0; v <= top + step / 2; v += step) {
    out.push(`<line x1="${M.left}" x2="${M.left + PLOT_W}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 8}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${M.left + PLOT_W}" y1="${M.top + PLOT_H}" y2="${M.top + PLOT_H}" stroke="#333"/>`);
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + PLOT_H}" stroke="#333"/>`);
  out.push(`<text transform="translate(18 ${M.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`);
  return { out, y };
}

/** Where the legend's entry `i` goes: its mark starts at `x`, its text is centred on `y`. */
function legendAt(i: number): { x: number; y: number } {
  return { x: M.left + PLOT_W + 16, y: M.top + 10 + i * 22 };
}

/** Renders the chart as a standalone SVG document. */
export function throughputChart(title: string, subtitle: string, series: readonly Series[]): string {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const { out, y } = frame(title, subtitle, Math.max(...series.flatMap((s) => s.points.map((p) => p[1]))), 'requests per second (median of rounds)');
  const lx0 = Math.log2(xs[0] ?? 1);
  const lx1 = Math.log2(xs[xs.length - 1] ?? 2);
  const x = (c: number) => M.left + (lx1 === lx0 ? PLOT_W / 2 : ((Math.log2(c) - lx0) / (lx1 - lx0)) * PLOT_W);
  for (const c of xs) {
    out.push(`<line x1="${x(c)}" x2="${x(c)}" y1="${M.top + PLOT_H}" y2="${M.top + PLOT_H + 5}" stroke="#333"/>`);
    out.push(`<text x="${x(c)}" y="${M.top + PLOT_H + 18}" text-anchor="middle">${c}</text>`);
  }
  out.push(`<text x="${M.left + PLOT_W / 2}" y="${H - 14}" text-anchor="middle">connections (log scale)</text>`);
  series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2.5"${dash} points="${pts.map(([c, v]) => `${x(c).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`);
    for (const [c, v] of pts) out.push(`<circle cx="${x(c).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
    const at = legendAt(i);
    out.push(`<line x1="${at.x}" x2="${at.x + 28}" y1="${at.y}" y2="${at.y}" stroke="${s.color}" stroke-width="2.5"${dash}/>`);
    out.push(`<text x="${at.x + 34}" y="${at.y + 4}">${escape(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface BarGroup {
  /** Under the group; `\n` starts a new line. */
  readonly label: string;
  /** Shown above the group (a ratio, say). */
  readonly note?: string;
  /** One value per series, in the order of the legend. */
  readonly values: readonly number[];
}

/** Renders a grouped bar chart (one group per x label, one bar per series) as a standalone SVG document. */
export function barChart(title: string, subtitle: string, legend: ReadonlyArray<{ label: string; color: string }>, groups: readonly BarGroup[], yLabel: string): string {
  const { out, y } = frame(title, subtitle, Math.max(...groups.flatMap((g) => g.values)), yLabel);
  const groupW = PLOT_W / Math.max(1, groups.length);
  const barW = Math.min(48, (groupW * 0.7) / Math.max(1, legend.length));
  groups.forEach((g, i) => {
    const center = M.left + groupW * (i + 0.5);
    const left = center - (barW * legend.length) / 2;
    g.values.forEach((v, k) => {
      out.push(`<rect x="${(left + k * barW).toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(M.top + PLOT_H - y(v)).toFixed(1)}" fill="${legend[k]?.color ?? '#888'}"/>`);
    });
    if (g.note) out.push(`<text x="${center}" y="${(y(Math.max(...g.values)) - 6).toFixed(1)}" text-anchor="middle" font-weight="bold">${escape(g.note)}</text>`);
    // A label's lines (split at \n) stack under its group.
    g.label.split('\n').forEach((line, k) => out.push(`<text x="${center}" y="${M.top + PLOT_H + 18 + k * 15}" text-anchor="middle">${escape(line)}</text>`));
  });
  legend.forEach((s, i) => {
    const at = legendAt(i);
    out.push(`<rect x="${at.x}" y="${at.y - 7}" width="28" height="14" fill="${s.color}"/>`);
    out.push(`<text x="${at.x + 34}" y="${at.y + 4}">${escape(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
