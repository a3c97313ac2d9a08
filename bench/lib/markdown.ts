// A report → bench/results/latest.md: the main table, fixed rate, hot-path shape, targets, profile.

import type { MeteringPhase } from './metering.js';
import { burstMarkdown } from './burst.js';
import type { Report } from './report.js';
import type { UsageFlushRun } from './usage-flush.js';
import { int, ms, spreadPct } from './stats.js';

const list = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([c, n]) => `${c} ${n}`)
    .join(', ') || 'nothing';

export function markdown(report: Report): string {
  const lines: string[] = [];
  const m = report.machine;
  const s = report.setup;
  lines.push(`# Tollgate bench — ${report.date}`, '');
  lines.push(
    `${m.nproc} cores · ${m.cpu} · ${m.memTotalMiB} MiB · Linux ${m.kernel} · Node ${m.node} · Redis ${m.redis} · ${m.psql} · ${m.h2load} · ${m.wrk}`,
    '',
  );
  lines.push(
    `Servers on core 0, load tools on core 1; ${s.runs}. gRPC: ${s.grpcLoad}; HTTP: ${s.httpLoad}. ${s.keys}. RLS: ${s.rls}.`,
    '',
  );
  if (s.only)
    lines.push(
      `**BENCH_ROWS=${(s.only as string[]).join(',')}**: only these rows; skipped: ${report.skipped.join(', ')}.`,
      '',
    );
  const wrong = Object.entries(report.spot).filter(([, x]) => x.got !== x.expected);
  const spot = Object.entries(report.spot)
    .map(([k, x]) => `${k} ${x.got}`)
    .join(', ');
  lines.push(
    wrong.length === 0
      ? `Spot checks before the runs (grpc-status·CheckResponse code | RLS overall_code), all as expected: ${spot}.`
      : `**Unexpected spot-check answers**: ${wrong.map(([k, x]) => `${k} ${x.got} (expected ${x.expected})`).join(', ')}.`,
    '',
  );

  lines.push(
    '| Path | decisions/s | spread of runs | CPU steal ms/s | p50 ms | p90 ms | p99 ms | Redis cmds sent / decision | Redis reads / decision | server CPU µs / decision | Redis CPU µs / decision | heap B / decision | vs ceiling |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  const byId = new Map(report.rows.map((r) => [r.id, r]));
  for (const r of report.rows) {
    const redis = r.kind === 'tollgate' || r.id.includes('rlflex');
    const ceiling = r.ceiling ? byId.get(r.ceiling) : undefined;
    const vs = !r.ceiling ? '100%' : ceiling ? `${Math.round((100 * r.rps) / ceiling.rps)}%` : '–';
    lines.push(
      `| ${r.label} | ${int(r.rps)} | ${spreadPct(r.runs.map((x) => x.rps))} | ${(r.stealMsPerSecond ?? 0).toFixed(1)} | ${ms(r.p50Us)} | ${ms(r.p90Us)} | ${ms(r.p99Us)} | ${redis ? r.redisCommandsPerDecision.toFixed(3) : '–'} | ${redis ? r.redisReadsPerDecision.toFixed(3) : '–'} | ${r.serverCpuUsPerDecision.toFixed(1)} | ${redis ? r.redisCpuUsPerDecision.toFixed(1) : '–'} | ${r.heapBytesPerDecision === undefined ? '–' : int(r.heapBytesPerDecision)} | ${vs} |`,
    );
  }
  lines.push(
    '',
    `Spread of runs: (max − min) ÷ median of the row's decisions/s over its runs; a wide one says the machine's speed moved during the row, and so do the ratios built on it (the targets list each round's ratio). CPU steal: time the hypervisor gave these virtual CPUs to another guest during the row's runs (/proc/stat), per second, summed over both cores: every process here stalled for it at once, and no process's own CPU time shows it. Redis columns: INFO commandstats and INFO stats deltas of the private Redis over each row's runs, **all connections** (Tollgate's background work included): commands clients sent (${report.redisShape.scriptOnlyCommands.join(', ') || 'nothing'} were seen only inside scripts under MONITOR and are left out; INFO is left out), and read events (≈ round trips: one read can carry a pipelined batch). CPU columns: user + system time from /proc over the row's runs, divided by its decisions: the process serving the row (Tollgate, or the reference server) and the private Redis (all clients, so Tollgate's background work is in its rows' figure). They do not depend on which core the scheduler gave Redis, unlike decisions/s on 2 shared cores. Heap column: bytes the serving process's V8 heap allocated over the row's runs (heap growth between garbage collections, from V8's GC profiler: bench/lib/heap-probe.ts), divided by its decisions; like CPU per decision it hardly moves with the machine's speed. Per connection: below.`,
  );

  const f = report.fixedRate;
  if (f) {
    lines.push(
      '',
      `**Fixed rate, ${f.offered} decisions/s offered for ${f.seconds} s** (gRPC: ${f.grpcClient}; HTTP: ${f.httpClient}; keys / descriptor values rotate per request). Each row ran ${f.runs[0]?.p99s.length ?? 0} times, round-robin over the rows; shown: the run with the median p99, errors of all runs:`,
      '',
    );
    lines.push(
      '| Path | achieved/s | p50 ms | p90 ms | p99 ms | p99 of each run, ms | server event-loop delay p99 / max of each run, ms | key-cache misses of each run | Postgres CPU of each run, ms/s | CPU steal of each run, ms/s | errors |',
      '|---|---:|---:|---:|---:|---|---|---|---|---|---:|',
    );
    for (const { label, result: x, p99s, loopDelays, keyMisses, postgresCpu, steal } of f.runs)
      lines.push(
        `| ${label} | ${int(x.achievedRate)} | ${ms(x.p50)} | ${ms(x.p90)} | ${ms(x.p99)} | ${p99s.map(ms).join(', ')} | ${loopDelays.map((d) => `${ms(d.p99)} / ${ms(d.max)}`).join(', ')} | ${keyMisses.map((n) => (n === null ? '–' : int(n))).join(', ')} | ${(postgresCpu ?? []).map((c) => c.toFixed(1)).join(', ')} | ${(steal ?? []).map((c) => c.toFixed(1)).join(', ')} | ${x.errors} |`,
      );
    lines.push(
      '',
      "The event-loop delay is the serving process's own (heap-probe.ts, 1 ms resolution, on only during these runs): a p99 the client saw well above it came from outside the server's event loop, such as the load client, Redis and Postgres sharing the other core. A key-cache miss is a decision that waited on a Postgres key load, which the event loop does not see either. Postgres CPU is every postgres process's, per second of the run: Postgres shares the two cores here, and what it does during a Tollgate row (the usage flush's transactions) takes a core from the server or the load client. On a shared core a socket write that wakes a backend can run that backend before the write returns, so the server's event loop may be billed for it too.",
      '',
      "The floor rows are the no-op servers of the main table that count each call in Redis first (one batched INCR): their p99 beside the no-op reference is what one Redis round trip on these shared cores adds to the tail by itself. The HTTP floor with the books is that server also keeping usage as Tollgate does, for accounts of its own: the same batched script call records each call's usage, and Tollgate's own usage flusher, in the server's process and thread, takes it from a Redis of its own, writes it into Postgres and acks it every flush interval (bench/servers/books.ts). Its p99 is what the round trip and the books together add on these cores, with no key, policy or headers.",
      '',
      "The diagnostic row is a second Tollgate replica on the same core, Postgres and keys, with a Redis of its own and USAGE_FLUSH_MS at an hour, so no usage flush touches its usage during the section: its p99 beside the first replica's is what the flush's background work (take and ack scripts in Redis, the Postgres transactions on the shared cores) adds to the tail.",
    );
  }

  const rs = report.redisShape;
  lines.push('', '**Hot-path shape**', '');
  lines.push(`Redis per connection (${rs.note}):`, '');
  lines.push(
    '| Row | decisions: Tollgate (load tool) | decision connection: commands / decision | other commands on it | inside the script / decision | other connections, commands/s |',
    '|---|---:|---|---:|---|---|',
  );
  for (const x of rs.rows) {
    lines.push(
      `| ${x.row} | ${int(x.decisions)} (${int(x.loadRequests)}) | ${x.decisionConnection}: **${x.commandsPerDecision.toFixed(3)}** (${list(x.perDecision)}) | ${x.otherCommands} | ${list(x.insideScriptsPerDecision)} | ${list(x.otherConnectionsPerSecond)} |`,
    );
  }
  lines.push(`| idle (no load, ${rs.idle.seconds} s) | – | – | – | – | ${list(rs.idle.perSecond)} |`);
  lines.push(
    '',
    '- Background Redis traffic, commands per second (not per decision) that tollgate-background sent (usage flusher take/ack scripts, SCAN, credits), and in brackets the commands its scripts ran:',
  );
  for (const x of rs.rows)
    if (x.decisionConnection === 'tollgate-decisions')
      lines.push(
        `  - during ${x.row}: ${list(x.backgroundPerSecond)} (inside: ${list(x.backgroundScriptsPerSecond)})`,
      );
  lines.push(
    `  - idle: ${list(rs.idle.backgroundPerSecond)} (inside: ${list(rs.idle.backgroundScriptsPerSecond)})`,
  );

  const pg = report.postgres;
  lines.push(
    `- Postgres on the decision path (Tollgate /metrics over the steady-state runs): **${pg.keyMisses} key-cache misses** (a decision waited on Postgres) in ${int(pg.decisions)} decisions; ${int(pg.keyLoads)} key loads in all (misses + refresh-ahead renewals of keys past their TTL (45-60 s, spread), which answer from the cache while their load runs in the background, up to 100 hashes per query; ${int(pg.keyHits)} cache hits).`,
  );
  lines.push(
    `- All of Tollgate's Postgres work (pg_stat_database.xact_commit of the bench database): ${int(pg.busy.transactions)} transactions in ${pg.busy.seconds.toFixed(0)} s of runs = **${pg.busy.perSecond.toFixed(1)}/s**${pg.idle ? `; idle right after, ${int(pg.idle.transactions)} in ${pg.idle.seconds.toFixed(0)} s = **${pg.idle.perSecond.toFixed(1)}/s** (key loads while idle: ${pg.idle.keyLoads})` : ''} — ${pg.transactionsPerDecision.toFixed(5)} per decision if it were charged to the decisions.`,
  );
  const d = s.grpcKeyDistribution;
  if (d)
    lines.push(
      `- gRPC key distribution (allowed calls per key in the first gRPC allow run, from the usage counters): ${d.keysUsed}/${d.keys} keys used, min ${d.min} · p10 ${d.p10} · median ${d.median} · p90 ${d.p90} · max ${d.max} decisions per key — h2load sends in bursts that read the body file at the same moment, so runs of consecutive decisions share a key (${s.grpcKeyRotation}). HTTP: wrk rotates the keys round-robin per request (every key equally).`,
    );
  const mk = report.millionKeys;
  if (mk)
    lines.push(
      `- 1,000,000-key run (${mk.keySpace}): ${int(mk.rps)} decisions/s, p99 ${ms(mk.p99Us)} ms; ${int(mk.distinctUnknownKeysSent)} distinct unknown keys in ${int(mk.unknownRequests)} unknown-key requests; Postgres ${mk.postgresPerDecision.toFixed(3)} queries per decision (${mk.postgresPerUnknownRequest.toFixed(3)} per unknown-key request; without a key filter the floor is one per distinct unknown key = ${(mk.distinctUnknownKeysSent / mk.unknownRequests).toFixed(3)})${mk.postgresKeyLookups !== undefined ? `; ${int(mk.postgresKeyLookups)} Postgres key lookups, **${int(mk.unknownKeyLookups ?? 0)} of them for unknown keys = ${((mk.keyLookupsPerDistinctUnknownKey ?? 0) * 100).toFixed(2)} % of distinct unknown keys** (${int(mk.keyFilterRefused ?? 0)} refused by the key filter, each after its 100 ms wait for a notification in flight)` : ''}; Redis ${mk.redisCommandsPerDecision.toFixed(3)} per decision.`,
    );
  const mem = report.memory;
  if (mem) {
    const few =
      mem.cacheEntriesAfter - mem.cacheEntriesBefore < 50_000
        ? ' — too few keys for a figure above the noise; use the default BENCH_MEMORY_KEYS=100000'
        : '';
    lines.push(
      `- Sidecar memory with ${int(mem.cacheEntriesAfter)} cached keys (was ${int(mem.cacheEntriesBefore)}; ${int(mem.keysWarmed)} keys warmed, ${int(mem.keyLoadsDuringWarm)} key loads; ${mem.cacheEntriesNote}): RSS ${mem.rssBeforeMiB.toFixed(0)} → **${mem.rssAfterMiB.toFixed(0)} MiB**, V8 heap used ${mem.heapUsedBeforeMiB.toFixed(0)} → ${mem.heapUsedAfterMiB.toFixed(0)} MiB, both after ${(mem.settleMs / 1000).toFixed(0)} s idle: ≈ ${int(mem.rssBytesPerCachedKey)} bytes RSS / ${int(mem.heapBytesPerCachedKey)} bytes heap per cached key (RSS noise ±${int(mem.rssSpreadKiB)} KiB)${few}. Cold lookups ran at ${int(mem.coldLookupsPerSecond)}/s.`,
    );
  }
  for (const f of report.usageFlush ?? [])
    lines.push(
      `- Usage flush with **${int(f.accounts)} active accounts** (all with new usage since the last flush): **${f.scriptCalls} background script calls = ${f.scriptCallsPerAccount.toFixed(3)} per account per flush interval** (take + ack, many accounts per call; before: 2 per account plus a SCAN of every key), commands ${Object.entries(
        f.commands,
      )
        .map(([c, n]) => `${c} ${int(n)}`)
        .join(
          ', ',
        )}; ${int(f.flushMs)} ms for the flush (Postgres writes included), Redis CPU ${f.redisCpuMs.toFixed(1)} ms${flushesMeasured(f)}. Per account and flush: ${flushCost(f)}. A process's first flush, and one every 60 s, also scans: ${Object.entries(
        f.fullScanCommands,
      )
        .map(([c, n]) => `${c} ${int(n)}`)
        .join(', ')}.`,
    );
  const metered = report.metering;
  if (metered) {
    const phase = (p: MeteringPhase) =>
      `${p.scriptCallsPerOp.toFixed(2)} script calls, Redis CPU **${p.redisCpuUs.toFixed(1)} µs**, ${p.wallUs.toFixed(1)} µs wall`;
    lines.push(
      `- Metered calls (${int(metered.operations)} each, one limit + quota + credits, Tollgate's store in the bench process on a redis-server of its own): a decision without a reservation ${phase(metered.plain)}; **with a reservation** ${phase(metered.reserved)} (${(metered.reserved.redisCpuUs / metered.plain.redisCpuUs).toFixed(2)}× the Redis CPU, still one round trip); **a settle** ${phase(metered.settle)}.`,
    );
  }
  const cost = report.scriptCost;
  if (cost) {
    const us = (n: number, ratio: number) => `${n.toFixed(2)} µs (${ratio.toFixed(2)}×)`;
    lines.push(
      `- decide.lua in isolation (Redis CPU per decision on a redis-server of its own, ${int(cost.decisionsPerRound)} decisions per round, ${cost.rounds} rounds alternating, medians; in brackets the median over the rounds of each round's ratio to rate-limiter-flexible's consume(), one script call per decision, pipelined: **${cost.rlflex.toFixed(2)} µs**): /check and Check shape (one fixed window, usage) batches of ${cost.batch} **${us(cost.check.batch, cost.ratio.check.batch)}**, one per call ${us(cost.check.single, cost.ratio.check.single)} (its Redis commands alone, in a Function with no logic: ${us(cost.check.singleFloor, cost.ratio.check.singleFloor)}; as an EVALSHA script ${us(cost.check.singleScript, cost.ratio.check.singleScript)}); RLS shape (counters only) batches of ${cost.batch} **${us(cost.rls.batch, cost.ratio.rls.batch)}**, one per call ${us(cost.rls.single, cost.ratio.rls.single)} (its commands alone ${us(cost.rls.singleFloor, cost.ratio.rls.singleFloor)}; as a script ${us(cost.rls.singleScript, cost.ratio.rls.singleScript)}). decide.lua runs as a Redis Function (FCALL), as the store sends it.`,
    );
  }
  const rp = report.redisPerAccount;
  lines.push(
    `- Redis bytes per active account (MEMORY USAGE, median of 100): allow tier ${int(rp.allow.bytes)} B (${rp.allow.keys.join(', ')}), deny tier ${int(rp.deny.bytes)} B (${rp.deny.keys.join(', ')}); INFO used_memory delta over the ${int(2 * Number(s.keysPerPath))} warmed accounts: ${int(rp.usedMemoryDeltaPerAccount)} B/account; per RLS descriptor counter (${int(2 * Number(s.keysPerPath))} values): ${int(rp.usedMemoryDeltaPerRlsCounter)} B.`,
  );
  if (report.skipped.length > 0) lines.push(`- Skipped (BENCH_ROWS): ${report.skipped.join(', ')}.`);
  if (report.burst) lines.push('', ...burstMarkdown(report.burst));

  lines.push('', '**Targets**', '', '| Target | Measured | |', '|---|---|---|');
  for (const t of report.targets)
    lines.push(`| ${t.target} | ${t.value} | ${t.met ? 'met' : '**missed**'} |`);
  if (report.profile) {
    lines.push(
      '',
      `**CPU profile of Tollgate** (node --cpu-prof, one gRPC allow + one HTTP allow run, ${report.profile.totalMs} ms busy): self time by area — ${report.profile.byArea
        .slice(0, 8)
        .map((a) => `${a.area} ${a.pct}%`)
        .join(', ')}`,
      '',
    );
    lines.push('| Function | Where | self % |', '|---|---|---:|');
    for (const t of report.profile.top) lines.push(`| ${t.fn} | ${t.where} | ${t.pct} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** Which flushes the figures are of: the median of several after warm-up, or a single one. */
function flushesMeasured(f: UsageFlushRun): string {
  if (f.flushes <= 1) return ' (one flush)';
  return ` (medians of ${f.flushes} flushes after ${f.warmUpFlushes} unmeasured ones)`;
}

/** One flush's cost per account: Node and Postgres CPU, and the bytes it left in Postgres's tables. */
function flushCost(f: UsageFlushRun): string {
  const us = (ms: number) => ((ms * 1000) / f.accounts).toFixed(1);
  return `Node CPU ${us(f.nodeCpuMs)} µs, Postgres CPU ${us(f.postgresCpuMs)} µs (all postgres processes), **${int(f.postgresBytes / f.accounts)} bytes** added to usage_batches, usage_monthly, usage_daily, outbox and credit_ledger (with indexes): nothing removes usage_batches or delivered outbox rows yet`;
}
