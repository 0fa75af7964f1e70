/**
 * The web UI's budgets, measured in Debian's Chromium (playwright-core):
 *
 * - initial JavaScript (and CSS) that index.html loads, gzipped (budget: JS ≤ 200 KB);
 * - first render with 1,000 tasks on a local cluster (budget ≤ 1 s): 1,000 short tasks run through a
 *   batch framework on 10 agents first, then a fresh page loads /ui/tasks and is timed from navigation
 *   start to the moment the table shows all 1,000 (SUBSCRIBE's SUBSCRIBED, then the pages of GET_TASKS),
 *   and to its first rows (the first page); the overview likewise, to its task count. Median of 5 loads;
 * - the tasks page at 10,000 tasks: the same page fed GET_TASKS pages of 10,000 tasks (the browser's
 *   requests answered by the bench, as the master would: launching 10,000 real tasks here would take
 *   minutes), timed likewise, then scrolled to the end (rows drawn stay bounded: virtualised).
 *
 * Writes bench/results/ui.json. `--tasks` changes the 1,000.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { ensureUiBuilt, UI_DIST } from '../local/ui.js';
import { launchBrowser } from '../test/support/browser.js';
import {
  benchCluster,
  measureThroughput,
  THROUGHPUT_AGENT_RESOURCES,
  THROUGHPUT_AGENTS,
} from './support/throughput.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const LOADS = 5;
const RESULTS = join(import.meta.dirname, 'results', 'ui.json');

/** The files index.html loads before the first render, gzipped (level 9, as a CDN or server would). */
function initialSizes(): { js_gzip_bytes: number; css_gzip_bytes: number; files: Record<string, number> } {
  const html = readFileSync(join(UI_DIST, 'index.html'), 'utf8');
  const paths = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1] ?? '');
  const files: Record<string, number> = {};
  for (const path of paths) files[path] = gzipSync(readFileSync(join(UI_DIST, path)), { level: 9 }).length;
  const sum = (ext: string) =>
    Object.entries(files)
      .filter(([path]) => path.endsWith(ext))
      .reduce((total, [, bytes]) => total + bytes, 0);
  return { js_gzip_bytes: sum('.js'), css_gzip_bytes: sum('.css'), files };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

/**
 * Loads `url` in a fresh page; ms from navigation start until `ready` (an expression run in the page)
 * holds, checked at every animation frame in the page itself, so the time is the frame's, not a
 * poll's from outside.
 */
async function timedLoad(
  browser: Browser,
  url: string,
  ready: string,
  prepare?: (page: Page) => Promise<unknown>,
): Promise<number> {
  // The page's CSP forbids eval, which a predicate given as a string needs: the bench's own check only.
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
  try {
    await prepare?.(page);
    await page.goto(url, { waitUntil: 'commit' });
    const handle = await page.waitForFunction(`(${ready}) && performance.now()`, undefined, {
      polling: 'raf',
      timeout: 60_000,
    });
    return Math.round((await handle.jsonValue()) as number);
  } finally {
    await page.close();
  }
}

/** The tasks page says it shows all `count` tasks (and no more pages are loading). */
const allTasks = (count: number) =>
  `[...document.querySelectorAll('[role=status]')].some((e) => e.textContent === '${count} of ${count} tasks')`;

/** The first task row of the tasks page is drawn. */
const firstRow = `document.querySelector('table[aria-label="Tasks"] tbody tr.selectable') !== null`;

function syntheticTask(i: number) {
  return {
    name: `synthetic-${i}`,
    task_id: { value: `synthetic-${i}` },
    framework_id: { value: 'bench-framework' },
    agent_id: { value: `agent-${i % 100}` },
    state: i % 10 === 0 ? 'TASK_RUNNING' : 'TASK_FINISHED',
    resources: [
      { name: 'cpus', type: 'SCALAR', scalar: { value: 0.1 } },
      { name: 'mem', type: 'SCALAR', scalar: { value: 16 } },
    ],
    statuses: [{ state: 'TASK_FINISHED', timestamp: 1765000000 + i }],
  };
}

/** GET_TASKS pages (Mantle's `get_tasks`) of a cluster holding `count` tasks, by cursor ('' for the first). */
function taskPages(count: number): (call: string) => string {
  const tasks = Array.from({ length: count }, (_, i) => syntheticTask(i));
  return (call) => {
    const { get_tasks: query } = JSON.parse(call) as { get_tasks: { limit: number; cursor?: string } };
    const from = Number(query.cursor ?? 0);
    const to = Math.min(count, from + query.limit);
    const page = { tasks: tasks.slice(from, to), completed_tasks: [], unreachable_tasks: [], pending_tasks: [] };
    const cursor = to < count ? { next_cursor: String(to) } : {};
    return JSON.stringify({ type: 'GET_TASKS', get_tasks: { ...page, ...cursor } });
  };
}

async function tenThousand(browser: Browser, url: string): Promise<Record<string, number>> {
  const answer = taskPages(10_000);
  // The stream itself is the cluster's (SUBSCRIBE leaves the tasks out); the task pages are the bench's.
  const fake = async (page: Page) =>
    page.route('**/api/v1', async (route) => {
      const call = route.request().postData() ?? '';
      if (call.includes('"GET_TASKS"')) {
        await route.fulfill({ status: 200, contentType: 'application/json', body: answer(call) });
      } else await route.continue();
    });
  const loads: number[] = [];
  const firstRows: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    loads.push(await timedLoad(browser, `${url}/ui/tasks`, allTasks(10_000), fake));
    firstRows.push(await timedLoad(browser, `${url}/ui/tasks`, firstRow, fake));
  }
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await fake(page);
  await page.goto(`${url}/ui/tasks`);
  await page.getByText('10000 of 10000 tasks').waitFor();
  // Run in the page (a string: this file is compiled without the DOM's types).
  const scrolled = (await page.evaluate(`(async () => {
    const box = document.querySelector('.table-scroll');
    if (!box) return { ms: NaN, rows: NaN };
    const start = performance.now();
    box.scrollTop = box.scrollHeight;
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    return { ms: performance.now() - start, rows: document.querySelectorAll('.table-scroll tbody tr').length };
  })()`)) as { ms: number; rows: number };
  await page.getByRole('cell', { name: 'synthetic-0', exact: true }).first().waitFor();
  await page.close();
  return {
    first_render_ms_median: median(loads),
    first_rows_ms_median: median(firstRows),
    scroll_to_end_ms: Math.round(scrolled.ms),
    rows_in_dom: scrolled.rows,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { tasks: { type: 'string', default: '1000' } } });
  const count = Number(values.tasks);
  await ensureUiBuilt(console.log);
  const sizes = initialSizes();
  console.log(`initial JS ${sizes.js_gzip_bytes} B gzipped, CSS ${sizes.css_gzip_bytes} B`);
  const cluster = await benchCluster(THROUGHPUT_AGENTS, 'mesos', THROUGHPUT_AGENT_RESOURCES);
  const browser = await launchBrowser();
  try {
    const run = await measureThroughput(cluster.url, count, { prefix: 'ui', label: 'tasks' });
    const tasksPage: number[] = [];
    const tasksFirstRows: number[] = [];
    const overview: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      tasksFirstRows.push(await timedLoad(browser, `${cluster.url}/ui/tasks`, firstRow));
      tasksPage.push(await timedLoad(browser, `${cluster.url}/ui/tasks`, allTasks(count)));
      overview.push(
        await timedLoad(
          browser,
          `${cluster.url}/`,
          `[...document.querySelectorAll('.card .big')].some((e) => e.textContent === '${count}')`,
        ),
      );
    }
    const result = {
      benchmark: 'ui',
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, load: loadavg().map((l) => Math.round(l * 100) / 100) },
      browser: 'Debian Chromium (headless), playwright-core',
      initial: { ...sizes, js_budget_gzip_bytes: 200 * 1024 },
      first_render: {
        tasks: count,
        finished: run.finished,
        tasks_page_ms: { median: median(tasksPage), loads: tasksPage },
        tasks_page_first_rows_ms: { median: median(tasksFirstRows), loads: tasksFirstRows },
        overview_ms: { median: median(overview), loads: overview },
        budget_ms: 1000,
      },
      tasks_page_10000_synthetic: await tenThousand(browser, cluster.url),
    };
    mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await browser.close();
    await cluster.stopAndRemove();
  }
}

await main();
