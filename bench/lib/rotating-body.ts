// A gRPC body file h2load reads with pread() at every request (-d): a worker thread rewrites one
// value's bytes in place (same length) every ~0.2 ms, so consecutive requests carry the next value
// of the list — API keys for ext_authz, descriptor values for RLS.

import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

const ROTATOR = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { file, offset, values, control } = workerData;
const fd = fs.openSync(file, 'r+');
const state = new Int32Array(control); // [0] stop flag, [1] rotations
const nap = new Int32Array(new SharedArrayBuffer(4));
const bufs = values.map((v) => Buffer.from(v));
let i = 0;
while (Atomics.load(state, 0) === 0) {
  i = (i + 1) % bufs.length;
  fs.writeSync(fd, bufs[i], 0, bufs[i].length, offset);
  Atomics.add(state, 1, 1);
  Atomics.wait(nap, 0, 0, 0.2);
}
fs.closeSync(fd);
`;

export class RotatingBody {
  readonly file: string;
  private readonly offset: number;
  private readonly values: string[];
  private worker: Worker | undefined;
  private control = new SharedArrayBuffer(8);
  rotations = 0;

  /** `build(value)` must embed the value's bytes once, at the same offset for every value. */
  constructor(file: string, values: string[], build: (value: string) => Buffer) {
    const first = values[0]!;
    const body = build(first);
    this.offset = body.indexOf(Buffer.from(first));
    if (this.offset < 0 || values.some((v) => Buffer.byteLength(v) !== Buffer.byteLength(first)))
      throw new Error('values must have one byte length');
    this.values = values;
    this.file = file;
    writeFileSync(file, body);
  }

  start(): void {
    this.control = new SharedArrayBuffer(8);
    this.worker = new Worker(ROTATOR, {
      eval: true,
      workerData: { file: this.file, offset: this.offset, values: this.values, control: this.control },
    });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    const state = new Int32Array(this.control);
    Atomics.store(state, 0, 1);
    await new Promise((resolve) => worker.once('exit', resolve));
    this.rotations += Atomics.load(state, 1);
  }

  /** Runs `fn` while the values rotate. */
  async during<T>(fn: () => Promise<T>): Promise<T> {
    this.start();
    try {
      return await fn();
    } finally {
      await this.stop();
    }
  }
}
