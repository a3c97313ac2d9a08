// `tollgate serve` (built, from dist/) plus a fault the test asks for through TRIGGER, once listening:
// `rejection` = a promise rejected with no handler; `exception` = an exception thrown from a timer.

const dist = new URL('../../dist/', import.meta.url);
const { loadConfig } = await import(new URL('config.js', dist).href);
const { serve } = await import(new URL('serve.js', dist).href);

await serve(loadConfig());
if (process.env.TRIGGER === 'rejection') {
  void Promise.reject(new Error('test: a rejection nobody handles'));
  setTimeout(() => process.stdout.write('still alive after the rejection\n'), 300);
}
if (process.env.TRIGGER === 'exception')
  setTimeout(() => {
    throw new Error('test: an exception nobody catches');
  }, 100);
