// A process that keeps running small multi-statement transactions, as the usage flusher does, through
// Tollgate's own Sql seam (dist/) while the test cuts its Postgres connections away and back.
// Each second it prints "alive <ok> <failed>"; a failed transaction is an error, never a crash.
// Env: DATABASE_URL.

const { PostgresSql } = await import(new URL('../../dist/db/postgres-sql.js', import.meta.url).href);
const sql = new PostgresSql(process.env.DATABASE_URL, { max: 4, connectTimeoutSec: 1 });
let ok = 0;
let failed = 0;
setInterval(() => process.stdout.write(`alive ${ok} ${failed}\n`), 1000);

async function worker() {
  for (;;) {
    try {
      await sql.transaction(async (tx) => {
        await tx.query('select 1');
        await tx.query('select $1::int as n', [2]);
        await tx.query('select pg_sleep(0.001)');
      });
      ok++;
    } catch {
      failed++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}
for (let i = 0; i < 8; i++) void worker();
